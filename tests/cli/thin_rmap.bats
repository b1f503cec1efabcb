#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# thin_rmap (docs COMPAT.md, "thin_rmap --region B..E"): the region forms
# and their messages, the output lines for single and several regions,
# runs cut by regions, Debian's thin_rmap on the fixtures, data blocks in
# leaves shared by snapshots (reported for every device, unlike upstream),
# input errors, damaged metadata, -q, a closed stdout and the multi-call
# binary.
#
# Images are made by Debian's thin_restore ($DEB_BIN, mkimg); shared
# subtrees by build/tests/mk_thin_snap.  Every run checks that the input
# file is unchanged.
#
# Debian's thin_rmap 0.9.0 prints the same lines but sorts them by data
# begin only, so runs of several devices that start at the same data block
# come in an arbitrary order; its output is compared after sorting it by
# thinsnap's full key (data begin, data end, device, thin begin).  Where no
# two runs start at the same block the comparison is byte for byte.

load helpers

bats_require_minimum_version 1.5.0

TR=$TS_BIN/thin_rmap
DEB_TR=$DEB_BIN/thin_rmap
TD=$TS_BIN/thin_dump
: "${TS_BUILD:=$BATS_TEST_DIRNAME/../../build}"
THINSNAP=$TS_BIN/../thinsnap
MK_THIN_SNAP=$TS_BUILD/tests/mk_thin_snap

USAGE_FIRST='Usage: thin_rmap [options] {device|file}'

setup() {
	d=$BATS_TEST_TMPDIR
}

# tr_to WANT OUT ARGS... / deb_to WANT OUT ARGS...: thinsnap's / Debian's
# thin_rmap
tr_to() { run_to "$TR" "$@"; }
deb_to() { run_to "$DEB_TR" "$@"; }
# tr_run WANT ARGS...: bats `run` of thin_rmap, input unchanged
tr_run() { run_prog "$TR" "$@"; }

# rmap_sort FILE: rmap lines sorted by (data begin, data end, device, thin
# begin), numerically
rmap_sort() {
	sed -E 's/^data ([0-9]+)\.\.([0-9]+) -> thin\(([0-9]+)\) ([0-9]+)\.\.([0-9]+)$/\1 \2 \3 \4 \5/' -- "$1" |
		sort -k1,1n -k2,2n -k3,3n -k4,4n |
		awk '{ printf "data %s..%s -> thin(%s) %s..%s\n", $1, $2, $3, $4, $5 }'
}

# rmap_blocks FILE: the blocks of rmap lines, "DEV DATA THIN" a line, sorted
rmap_blocks() {
	sed -E 's/^data ([0-9]+)\.\.([0-9]+) -> thin\(([0-9]+)\) ([0-9]+)\.\.([0-9]+)$/\1 \2 \3 \4/' -- "$1" |
		awk '{ for (b = $1; b < $2; b++) printf "%s %.0f %.0f\n", $3, b, $4 + b - $1 }' |
		LC_ALL=C sort
}

# rmap_model "B..E ..." DUMP: the reverse map computed from a --compat=0.9
# dump (every device's mappings in full) block by block: runs of blocks in
# any of the regions, data and thin blocks both consecutive, sorted.
rmap_model() {
	awk -v regs="$1" '
	function attr(name,   s) {
		if (!match($0, name "=\"[0-9]+\""))
			return -1
		s = substr($0, RSTART + length(name) + 2, RLENGTH - length(name) - 3)
		return s + 0
	}
	function inr(b,   i) {
		for (i = 1; i <= n; i++)
			if (b >= lo[i] && b < hi[i])
				return 1
		return 0
	}
	function flush() {
		if (len)
			printf "%.0f %.0f %.0f %.0f\n", db, db + len, dev, tb
		len = 0
	}
	function add(t, b) {
		if (!inr(b))
			return
		if (len && b == db + len && t == tb + len) {
			len++
			return
		}
		flush()
		db = b
		tb = t
		len = 1
	}
	BEGIN {
		n = split(regs, r, " ")
		for (i = 1; i <= n; i++) {
			split(r[i], be, /\.\./)
			lo[i] = be[1] + 0
			hi[i] = be[2] + 0
		}
	}
	/<device / { flush(); dev = attr("dev_id") }
	/<range_mapping / {
		o = attr("origin_begin"); b = attr("data_begin"); l = attr("length")
		for (k = 0; k < l; k++)
			add(o + k, b + k)
	}
	/<single_mapping / { add(attr("origin_block"), attr("data_block")) }
	/<\/device>/ { flush() }
	' "$2" | sort -k1,1n -k2,2n -k3,3n -k4,4n |
		awk '{ printf "data %s..%s -> thin(%s) %s..%.0f\n", $1, $2, $3, $4, $4 + $2 - $1 }'
}

# region_args "B..E ...": the --region options for a list of regions
region_args() {
	local r
	for r in $1; do
		printf -- '--region\n%s\n' "$r"
	done
}

# compare_with_debian IMG "B..E ..." [exact]: thinsnap's output for the
# regions equals Debian's after sorting (byte for byte with `exact`), and
# is sorted itself
compare_with_debian() {
	local img=$1 regs=$2 args
	mapfile -t args < <(region_args "$regs")
	tr_to 0 "$d/ours" "${args[@]}" "$img"
	[ -z "$stderr" ]
	deb_to 0 "$d/deb" "${args[@]}" "$img"
	rmap_sort "$d/deb" >"$d/deb-sorted"
	rmap_sort "$d/ours" >"$d/ours-sorted"
	same_file "$d/ours" "$d/ours-sorted"
	same_file "$d/ours" "$d/deb-sorted"
	if [ "${3-}" = exact ]; then
		same_file "$d/ours" "$d/deb"
	fi
}

# fixture_regions FIXTURE: region lists to try on a fixture, one a line
fixture_regions() {
	local n
	n=$(fixture_attr "$1.xml" nr_data_blocks)
	echo "0..$n"
	echo "0..18446744073709551615"
	echo "$((n / 3))..$((2 * n / 3))"
	echo "1..2"
	echo "$((n / 2))..$n 0..$((n / 4))"
	echo "10..$((n / 2)) $((n / 4))..$((3 * n / 4))"
	echo "$((n / 8))..$((n / 4)) $((n / 4))..$((n / 2))"
	echo "$((n - 1))..$n"
}

# fixture_vs_debian FIXTURE [exact]
fixture_vs_debian() {
	local img regs
	img=$(mkimg "$1.xml")
	while read -r regs; do
		compare_with_debian "$img" "$regs" "${2-}"
	done < <(fixture_regions "$1")
}

# ---------------------------------------------------------------------------
# output lines

@test "one-device: every run, exact lines, same bytes as Debian's" {
	local img
	img=$(mkimg one-device.xml)
	tr_to 0 "$d/out" --region 0..4096 "$img"
	[ -z "$stderr" ]
	cat >"$d/want" <<-'EOF'
	data 100..120 -> thin(0) 0..20
	data 1000..1900 -> thin(0) 100..1000
	data 2000..2001 -> thin(0) 1100..1101
	data 2001..2002 -> thin(0) 1102..1103
	data 2100..2101 -> thin(0) 1200..1201
	data 2102..2103 -> thin(0) 1201..1202
	data 2200..2202 -> thin(0) 1300..1302
	data 3000..3001 -> thin(0) 4294967295..4294967296
	data 4083..4093 -> thin(0) 5000..5010
	data 4093..4094 -> thin(0) 1002..1003
	data 4094..4095 -> thin(0) 1001..1002
	data 4095..4096 -> thin(0) 1000..1001
	EOF
	same_file "$d/out" "$d/want"
	deb_to 0 "$d/deb" --region 0..4096 "$img"
	same_file "$d/out" "$d/deb"
}

@test "one region cuts the runs that cross its ends" {
	local img
	img=$(mkimg one-device.xml)
	# 100..120 is one run (times differ, which rmap ignores)
	tr_run 0 --region 105..112 "$img"
	[ "$output" = 'data 105..112 -> thin(0) 5..12' ]
	tr_run 0 --region 1899..2001 "$img"
	[ "$output" = 'data 1899..1900 -> thin(0) 999..1000
data 2000..2001 -> thin(0) 1100..1101' ]
	tr_run 0 --region 4090..5000 "$img"
	[ "$output" = 'data 4090..4093 -> thin(0) 5007..5010
data 4093..4094 -> thin(0) 1002..1003
data 4094..4095 -> thin(0) 1001..1002
data 4095..4096 -> thin(0) 1000..1001' ]
	# nothing mapped: no output, success
	tr_run 0 --region 0..100 "$img"
	[ -z "$output$stderr" ]
	tr_run 0 --region 4096..100000 "$img"
	[ -z "$output$stderr" ]
	for regs in "105..112" "1899..2001" "4090..5000" "0..100"; do
		compare_with_debian "$img" "$regs" exact
	done
}

@test "several regions: sorted output, touching regions join, overlaps once" {
	local img
	img=$(mkimg one-device.xml)
	# given out of order: the output is still sorted by data block
	tr_run 0 --region 4093..4096 --region 100..103 --region 2000..2002 "$img"
	[ "$output" = 'data 100..103 -> thin(0) 0..3
data 2000..2001 -> thin(0) 1100..1101
data 2001..2002 -> thin(0) 1102..1103
data 4093..4094 -> thin(0) 1002..1003
data 4094..4095 -> thin(0) 1001..1002
data 4095..4096 -> thin(0) 1000..1001' ]
	# a gap between regions cuts a run
	tr_run 0 --region 100..103 --region 105..112 "$img"
	[ "$output" = 'data 100..103 -> thin(0) 0..3
data 105..112 -> thin(0) 5..12' ]
	# touching regions act as one
	tr_run 0 --region 100..105 --region 105..112 "$img"
	[ "$output" = 'data 100..112 -> thin(0) 0..12' ]
	# overlapping and repeated regions report each run once
	tr_run 0 --region 100..110 --region 105..112 --region 100..110 "$img"
	[ "$output" = 'data 100..112 -> thin(0) 0..12' ]
	tr_run 0 --region=100..112 --region 101..102 "$img"
	[ "$output" = 'data 100..112 -> thin(0) 0..12' ]
	for regs in "4093..4096 100..103 2000..2002" "100..103 105..112" \
		"100..105 105..112" "100..110 105..112 100..110"; do
		compare_with_debian "$img" "$regs" exact
	done
}

@test "several devices: runs sorted by data block, then device" {
	local img
	img=$(mkimg snapshots.xml)
	tr_run 0 --region 0..60 "$img"
	[ "$output" = 'data 0..10 -> thin(1) 0..10
data 0..10 -> thin(3) 0..10
data 0..50 -> thin(2) 0..50
data 5..50 -> thin(4) 5..50
data 20..60 -> thin(1) 20..60
data 20..60 -> thin(3) 20..60
data 55..60 -> thin(2) 55..60
data 55..60 -> thin(4) 55..60' ]
	# the data end comes before the device
	tr_run 0 --region 300..352 "$img"
	[ "${lines[0]}" = 'data 300..349 -> thin(3) 350..399' ]
	[ "${lines[1]}" = 'data 300..350 -> thin(1) 350..400' ]
	[ "${lines[2]}" = 'data 300..350 -> thin(2) 350..400' ]
	[ "${lines[3]}" = 'data 300..350 -> thin(4) 350..400' ]
}

# ---------------------------------------------------------------------------
# fixtures against Debian's thin_rmap

@test "fixture one-device: Debian's output, byte for byte" {
	fixture_vs_debian one-device exact
}

@test "fixture runs-singles: Debian's output, byte for byte" {
	fixture_vs_debian runs-singles exact
}

@test "fixture large-device: Debian's output, byte for byte" {
	fixture_vs_debian large-device exact
}

@test "fixture snapshots: Debian's runs (Debian orders equal data begins arbitrarily)" {
	fixture_vs_debian snapshots
}

@test "fixture many-devices: Debian's runs (Debian orders equal data begins arbitrarily)" {
	fixture_vs_debian many-devices
}

@test "fixtures: the output matches a model computed from thin_dump" {
	local f img n
	for f in one-device runs-singles snapshots many-devices large-device; do
		img=$(mkimg "$f.xml")
		n=$(fixture_attr "$f.xml" nr_data_blocks)
		run_to "$TD" 0 "$d/dump.xml" --compat=0.9 "$img"
		tr_to 0 "$d/ours" --region "0..$n" "$img"
		rmap_model "0..$n" "$d/dump.xml" >"$d/model"
		same_file "$d/ours" "$d/model"
		tr_to 0 "$d/ours" --region "$((n / 5))..$((n / 2))" --region "$((n - 7))..$n" "$img"
		rmap_model "$((n / 5))..$((n / 2)) $((n - 7))..$n" "$d/dump.xml" >"$d/model"
		same_file "$d/ours" "$d/model"
	done
}

# ---------------------------------------------------------------------------
# leaves shared by snapshots

# snap_image: large-device.xml, then `snap 8 7` (device 8 shares all of 7's
# tree) and a write to block 3 of device 7 (7 gets its own first leaf,
# every other leaf stays shared).  Sets img and fresh (the data block now
# behind thin block 3 of device 7).
snap_image() {
	img=$(mkimg large-device.xml)
	"$MK_THIN_SNAP" "$img" snap 8 7
	fresh=$("$MK_THIN_SNAP" "$img" write 7 3)
	[ -n "$fresh" ]
}

@test "shared leaves: blocks are reported for every device that maps them" {
	local img fresh n
	snap_image
	n=$(fixture_attr large-device.xml nr_data_blocks)
	tr_to 0 "$d/out" --region "0..$n" "$img"
	[ -z "$stderr" ]
	# the first leaves differ: block 3 only for 8, the fresh block for 7
	[ "$(head -n 3 "$d/out")" = 'data 0..3 -> thin(7) 0..3
data 0..29 -> thin(8) 0..29
data 4..29 -> thin(7) 4..29' ]
	grep -qx "data $fresh..$((fresh + 1)) -> thin(7) 3..4" "$d/out"
	# every run of device 7 outside its first leaf is there for 8 as well,
	# right after it
	grep -F 'thin(7)' "$d/out" | tail -n +4 | grep -vx "data $fresh\..*" |
		sed 's/thin(7)/thin(8)/' >"$d/want8"
	[ "$(wc -l <"$d/want8")" -gt 100 ]
	grep -F -x -f "$d/want8" "$d/out" >"$d/have8"
	same_file "$d/have8" "$d/want8"
	# the same as a model built from the full dump of both devices
	run_to "$TD" 0 "$d/dump.xml" --compat=0.9 "$img"
	rmap_model "0..$n" "$d/dump.xml" >"$d/model"
	same_file "$d/out" "$d/model"
	# and sorted by (data, device)
	rmap_sort "$d/out" >"$d/sorted"
	same_file "$d/out" "$d/sorted"
}

@test "shared leaves: Debian reports shared blocks for the first device only" {
	local img fresh n last
	snap_image
	n=$(fixture_attr large-device.xml nr_data_blocks)
	tr_to 0 "$d/out" --region "0..$n" "$img"
	deb_to 0 "$d/deb" --region "0..$n" "$img"
	# the last run of device 7 is in a shared leaf
	last=$(grep -F 'thin(7)' "$d/out" | awk '{ split($5, t, /\.\./); if (t[2] + 0 > m) { m = t[2] + 0; l = $0 } } END { print l }')
	grep -qxF "$last" "$d/out"
	grep -qxF "${last/thin(7)/thin(8)}" "$d/out"
	grep -qxF "$last" "$d/deb"
	refute grep -qxF "${last/thin(7)/thin(8)}" "$d/deb"
	# every block Debian reports, we report for the same device and thin
	# block (Debian's runs also end where a walk reaches a shared leaf)
	rmap_blocks "$d/deb" >"$d/deb-blocks"
	rmap_blocks "$d/out" >"$d/out-blocks"
	[ -s "$d/deb-blocks" ]
	[ -z "$(LC_ALL=C comm -23 "$d/deb-blocks" "$d/out-blocks")" ]
	[ "$(wc -l <"$d/out")" -gt "$(wc -l <"$d/deb")" ]
}

@test "shared leaves: the man page's example, a snapshot before and after a write" {
	local img fresh
	cat >"$d/ex.xml" <<-'EOF'
	<superblock uuid="" time="0" transaction="1" flags="0" version="2" data_block_size="128" nr_data_blocks="1024">
	  <device dev_id="1" mapped_blocks="10" transaction="0" creation_time="0" snap_time="0">
	    <range_mapping origin_begin="0" data_begin="100" length="10" time="0"/>
	  </device>
	</superblock>
	EOF
	img=$(mkimg "$d/ex.xml")
	"$MK_THIN_SNAP" "$img" snap 2 1
	# one leaf, shared by both devices: both are reported, Debian only 1
	tr_run 0 --region 100..110 "$img"
	[ "$output" = 'data 100..110 -> thin(1) 0..10
data 100..110 -> thin(2) 0..10' ]
	run -0 "$DEB_TR" --region 100..110 "$img"
	[ "$output" = 'data 100..110 -> thin(1) 0..10' ]
	# after a write each device has a leaf of its own: same as Debian
	fresh=$("$MK_THIN_SNAP" "$img" write 1 5)
	tr_run 0 --region 100..110 --region "$fresh..$((fresh + 1))" "$img"
	has_line "$output" "data $fresh\.\.$((fresh + 1)) -> thin\(1\) 5\.\.6"
	[ "$(grep -v "^data $fresh\." <<<"$output")" = 'data 100..105 -> thin(1) 0..5
data 100..110 -> thin(2) 0..10
data 106..110 -> thin(1) 6..10' ]
	compare_with_debian "$img" "100..110 $fresh..$((fresh + 1))" exact
}

@test "shared leaves: a region inside the shared part" {
	local img fresh out
	snap_image
	run_to "$TD" 0 "$d/dump.xml" --compat=0.9 "$img"
	tr_to 0 "$d/out" --region 29..46 --region 5000..5100 "$img"
	rmap_model "29..46 5000..5100" "$d/dump.xml" >"$d/model"
	same_file "$d/out" "$d/model"
	[ "$(head -n 2 "$d/out")" = 'data 29..46 -> thin(7) 40..57
data 29..46 -> thin(8) 40..57' ]
}

# ---------------------------------------------------------------------------
# regions: forms and messages

@test "badly formed regions: exit 2, a message, nothing on stdout" {
	local img r
	img=$(mkimg one-device.xml)
	for r in 23,7890 23..six 89.. 89...99 "" ..5 .. 5 " 5..9" "5..9 " +5..9 \
		-1..9 5..9x 1..2..3 0x5..9 5..18446744073709551616; do
		tr_run 2 --region "$r" "$img"
		[ -z "$output" ]
		[ "$stderr" = "thin_rmap: badly formed region '$r' (expected <begin>..<one-past-the-end>, for example 5..45)" ]
	done
}

@test "regions whose end is not after the begin: exit 2, end <= begin" {
	local img r
	img=$(mkimg one-device.xml)
	for r in 89..88 89..89 0..0 18446744073709551615..0; do
		tr_run 2 --region "$r" "$img"
		[ -z "$output" ]
		[ "$stderr" = "thin_rmap: badly formed region '$r' (end <= begin)" ]
	done
	# a bad region among good ones, before or after them
	tr_run 2 --region 0..10 --region 89..88 "$img"
	[ "$stderr" = "thin_rmap: badly formed region '89..88' (end <= begin)" ]
	tr_run 2 --region 23,7890 --region 0..10 "$img"
	has_line "$stderr" "thin_rmap: badly formed region '23,7890' .*"
	[ -z "$output" ]
}

@test "region numbers: leading zeros, the largest end" {
	local img
	img=$(mkimg one-device.xml)
	tr_run 0 --region 0105..00112 "$img"
	[ "$output" = 'data 105..112 -> thin(0) 5..12' ]
	tr_run 0 --region 4095..18446744073709551615 "$img"
	[ "$output" = 'data 4095..4096 -> thin(0) 1000..1001' ]
}

@test "-q silences the region messages" {
	local img r
	img=$(mkimg one-device.xml)
	for r in 23,7890 89..89; do
		tr_run 2 -q --region "$r" "$img"
		[ -z "$output$stderr" ]
		tr_run 2 --region "$r" --quiet "$img"
		[ -z "$output$stderr" ]
	done
}

# ---------------------------------------------------------------------------
# options

@test "no region: exit 2, No regions provided, usage on stderr" {
	local img
	img=$(mkimg one-device.xml)
	tr_run 2 "$img"
	[ -z "$output" ]
	[ "${stderr%%$'\n'*}" = 'thin_rmap: No regions provided.' ]
	grep -qxF "$USAGE_FIRST" <<<"$stderr"
	tr_run 2 -q "$img"
	[ -z "$output$stderr" ]
}

@test "no input, two inputs: exit 2" {
	local img
	img=$(mkimg one-device.xml)
	run -2 --separate-stderr "$TR" --region 0..10
	[ -z "$output" ]
	[ "${stderr%%$'\n'*}" = 'thin_rmap: No input file provided.' ]
	grep -qxF "$USAGE_FIRST" <<<"$stderr"
	tr_run 2 --region 0..10 "$img" "$img"
	[ -z "$output" ]
	has_line "$stderr" 'thin_rmap: only one input file may be given'
	run -2 --separate-stderr "$TR" -q --region 0..10
	[ -z "$output$stderr" ]
}

@test "unknown options and a missing --region argument: exit 2" {
	local img
	img=$(mkimg one-device.xml)
	tr_run 2 --bogus --region 0..10 "$img"
	[ -z "$output" ]
	has_line "$stderr" "thin_rmap: unrecognized option '--bogus'"
	grep -qxF "$USAGE_FIRST" <<<"$stderr"
	tr_run 2 -x --region 0..10 "$img"
	has_line "$stderr" "thin_rmap: unrecognized option '-x'"
	# -m is not a thin_rmap option
	tr_run 2 -m --region 0..10 "$img"
	[ -z "$output" ]
	run -2 --separate-stderr "$TR" "$img" --region
	[ -z "$output" ]
	has_line "$stderr" "thin_rmap: option '--region' requires an argument"
	tr_run 2 -q --bogus --region 0..10 "$img"
	[ -z "$output$stderr" ]
}

@test "-h and --help: usage on stdout, exit 0" {
	local opt
	for opt in -h --help; do
		run -0 --separate-stderr "$TR" "$opt"
		[ -z "$stderr" ]
		[ "$output" = "$USAGE_FIRST
Options:
  {-h|--help}
  {-V|--version}
  {-q|--quiet}
  {--region <block range>}*
Where:
  <block range> is of the form <begin>..<one-past-the-end>
  for example 5..45 denotes blocks 5 to 44 inclusive, but not block 45" ]
	done
}

@test "-V and --version: exactly 1.0.0" {
	local opt
	for opt in -V --version; do
		tr_to 0 "$d/v" "$opt"
		[ -z "$stderr" ]
		printf '1.0.0\n' >"$d/want"
		same_file "$d/v" "$d/want"
	done
}

@test "-q: the reverse map is still written, messages are not" {
	local img
	img=$(mkimg one-device.xml)
	tr_to 0 "$d/a" --region 0..4096 "$img"
	tr_to 0 "$d/b" -q --region 0..4096 "$img"
	[ -z "$stderr" ]
	same_file "$d/a" "$d/b"
}

@test "multi-call: thinsnap thin_rmap ... works like thin_rmap" {
	local img
	img=$(mkimg snapshots.xml)
	tr_to 0 "$d/a" --region 0..1000 "$img"
	run_to "$THINSNAP" 0 "$d/b" thin_rmap --region 0..1000 "$img"
	same_file "$d/a" "$d/b"
	run_to "$THINSNAP" 2 "$d/c" thin_rmap --region 5..5 "$img"
	[ "$stderr" = "thin_rmap: badly formed region '5..5' (end <= begin)" ]
}

# ---------------------------------------------------------------------------
# inputs

@test "missing input file: exit 64" {
	tr_run 64 --region 0..10 "$d/nonexistent.img"
	[ -z "$output" ]
	[ "$stderr" = "Couldn't find input file '$d/nonexistent.img'" ]
	tr_run 64 -q --region 0..10 "$d/nonexistent.img"
	[ -z "$output$stderr" ]
}

@test "XML input: exit 64" {
	local x=$d/input.xml
	cp "$TS_XML/large-device.xml" "$x"
	tr_run 64 --region 0..10 "$x"
	[ -z "$output" ]
	[ "$stderr" = 'This looks like XML.  This tool only supports the binary metadata format.' ]
	tr_run 64 -q --region 0..10 "$x"
	[ -z "$output$stderr" ]
}

@test "tiny file and directory inputs: exit 64" {
	head -c 1000 /dev/zero >"$d/tiny"
	tr_run 64 --region 0..10 "$d/tiny"
	[ -z "$output" ]
	[ "$stderr" = 'Metadata device/file too small.  Is this binary metadata?' ]
	mkdir "$d/dir"
	tr_run 64 --region 0..10 "$d/dir"
	[ -z "$output" ]
	[ "$stderr" = "Not a block device or regular file '$d/dir'." ]
}

@test "zeroed superblock: exit 64, bad checksum in superblock" {
	local img
	img=$(mkimg one-device.xml)
	dd if=/dev/zero of="$img" bs=4096 count=1 conv=notrunc status=none
	tr_run 64 --region 0..4096 "$img"
	[ -z "$output" ]
	[ "$stderr" = 'bad checksum in superblock' ]
	tr_run 64 -q --region 0..4096 "$img"
	[ -z "$output$stderr" ]
}

@test "damaged mapping leaf: exit 64, the message names the leaf, no output" {
	local img root leaf
	img=$(mkimg one-device.xml)
	root=$(dev_root "$img" 0)
	[ "$(node_get "$img" "$root" flags)" = "$TS_NODE_INTERNAL" ]
	leaf=$(node_val64 "$img" "$root" 2)
	flip_byte "$img" $((leaf * TS_BLOCK_SIZE + 100))
	# every leaf is read, whatever the region
	tr_run 64 --region 0..1 "$img"
	[ -z "$output" ]
	[ "$stderr" = "mapping tree of device 0: leaf $leaf: bad checksum" ]
	tr_run 64 -q --region 0..4096 "$img"
	[ -z "$output$stderr" ]
}

@test "damaged internal node: exit 64, the message names it" {
	local img root
	img=$(mkimg large-device.xml)
	root=$(dev_root "$img" 7)
	[ "$(node_get "$img" "$root" flags)" = "$TS_NODE_INTERNAL" ]
	flip_byte "$img" $((root * TS_BLOCK_SIZE + 200))
	tr_run 64 --region 0..131072 "$img"
	[ -z "$output" ]
	has_line "$stderr" "mapping tree of device 7: block $root: .*"
}

@test "closed stdout pipe: non-zero status, nothing on stderr" {
	local img st sig
	img=$(mkimg large-device.xml)
	for sig in --default-signal=PIPE --ignore-signal=PIPE; do
		st=$(
			env "$sig" timeout 10 "$TR" --region 0..131072 "$img" 2>"$d/err" | head -n 1 >"$d/first"
			echo "${PIPESTATUS[0]}"
		)
		[ "$st" != 0 ]
		[ "$st" != 124 ] # not the timeout
		[ ! -s "$d/err" ] || { cat "$d/err" >&2; false; }
		[ "$(cat "$d/first")" = 'data 0..29 -> thin(7) 0..29' ]
	done
}

@test "stdout that cannot be written: exit 64, write failed" {
	local img
	[ -w /dev/full ] || skip "no /dev/full"
	img=$(mkimg large-device.xml)
	# (bats captures stdout itself: redirect inside a shell)
	# shellcheck disable=SC2016
	run -64 --separate-stderr bash -c '"$0" --region 0..131072 "$1" >/dev/full' "$TR" "$img"
	[ "$stderr" = 'thin_rmap: write failed: No space left on device' ]
	# shellcheck disable=SC2016
	run -64 --separate-stderr bash -c '"$0" -q --region 0..131072 "$1" >/dev/full' "$TR" "$img"
	[ -z "$stderr" ]
}

# ---------------------------------------------------------------------------
# manual page and bash completion (docs.bats checks the other tools)

@test "man page: sections, exactly the options of -h, renders without warnings" {
	local page=$BATS_TEST_DIRNAME/../../man8/thin_rmap.8 want have sec
	[ "$(head -n 1 "$page")" = '.\" SPDX-License-Identifier: GPL-2.0-or-later' ]
	grep -q '^\.TH THIN_RMAP 8 ' "$page"
	for sec in NAME SYNOPSIS DESCRIPTION OPTIONS OUTPUT "DIFFERENCES FROM UPSTREAM" \
		"EXIT STATUS" SAFETY LIMITATIONS "SEE ALSO"; do
		grep -qE "^\.SH \"?$sec\"?\$" "$page" || { echo "no section $sec" >&2; return 1; }
	done
	want=$("$TR" -h | grep -oE -- '(--[a-z][a-z-]*|\{-[a-zA-Z]\|)' | tr -d '{|' | sort -u)
	have=$(sed 's/\\-/-/g; s/\\f[BIRP]//g' "$page" | awk '
		/^\.SH/ { in_opts = ($2 == "OPTIONS") }
		in_opts && tp { print; tp = 0; next }
		in_opts && /^\.TP/ { tp = 1 }' |
		grep -oE -- '(^|[^a-zA-Z-])--?[a-zA-Z][a-z-]*' | grep -oE -- '--?[a-zA-Z][a-z-]*' | sort -u)
	[ "$want" = "$have" ] || { diff <(echo "$want") <(echo "$have") >&2; return 1; }
	grep -qx '\.B thin_rmap' "$BATS_TEST_DIRNAME/../../man8/thinsnap.8"
	command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1 ||
		skip "man or groff is not installed"
	[ -z "$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)" ]
	[ -z "$(groff -man -Tutf8 -ww -z "$page" 2>&1)" ]
}

# complete_words WORD...: candidates for the last word in COMPREPLY
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_thinsnap "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
		"${COMP_WORDS[COMP_CWORD - 1]:-}"
}

# expect_reply "CANDIDATES" WORD...: exactly CANDIDATES, in order
expect_reply() {
	local want=$1
	shift
	complete_words "$@"
	[ "${COMPREPLY[*]}" = "$want" ] || {
		echo "completing $*: expected [$want], got [${COMPREPLY[*]}]" >&2
		return 1
	}
}

@test "bash completion: options, --region, file names" {
	unset -f _filedir 2>/dev/null || true
	# shellcheck disable=SC1091
	source "$BATS_TEST_DIRNAME/../../completions/thinsnap"
	[ "$(complete -p thin_rmap)" = "complete -F _thinsnap thin_rmap" ]
	expect_reply "-h --help -V --version -q --quiet --region" thin_rmap -
	expect_reply "--help --version --quiet --region" thin_rmap --
	expect_reply "--region" thin_rmap --r
	expect_reply "--region" thinsnap thin_rmap --re
	expect_reply "thin_rmap" thinsnap thin_rm
	# a region: nothing to offer but the dots after a number
	expect_reply "" thin_rmap --region ""
	expect_reply "12.." thin_rmap --region 12
	expect_reply "12.." thin_rmap --region 12.
	expect_reply "" thin_rmap --region 12..
	expect_reply "" thin_rmap --region 12..40
	expect_reply "12.." thin_rmap --region = 12
	expect_reply "--region=12.." thin_rmap --region=12
	# the input
	mkdir -p "$d/files"
	touch "$d/files/meta.img" "$d/files/other"
	cd "$d/files"
	expect_reply "meta.img" thin_rmap --region 0..10 me
	expect_reply "meta.img" thin_rmap -q --region=0..10 me
	expect_reply "meta.img" thinsnap thin_rmap --region 0..10 me
}
