#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# snap_repair: every kind of damage snap_check finds, repaired to -o and
# in place; the result passes snap_check, its dump is exactly the expected
# exception list, kept data chunks are byte-identical, the input of -i/-o
# is unchanged, and an in-place repair killed before any write leaves a
# store that a rerun finishes.

load helpers

bats_require_minimum_version 1.5.0

SR=$TS_BIN/snap_repair
SC=$TS_BIN/snap_check
SD=$TS_BIN/snap_dump
: "${TS_BUILD:=$BATS_TEST_DIRNAME/../../build}"
MK_COW=$TS_BUILD/tests/mk_cow
FILL=$TS_BUILD/tests/fill_pattern

setup() {
	d=$BATS_TEST_TMPDIR
}

# cow NAME CHUNK NR_CHUNKS [VALID] < pairs: a store in $d/NAME whose data
# chunks (everything but the header and the areas) hold a pattern
cow() {
	local cs=$2 n=$3 e=$(($2 * 512 / 16)) a
	"$MK_COW" "$d/$1.meta" "$cs" "$n" ${4:+"$4"}
	"$FILL" "$d/$1" $((n * cs * 512)) 7
	for ((a = 0; a < n; a = a ? a + e + 1 : 1)); do
		dd if="$d/$1.meta" of="$d/$1" bs=$((cs * 512)) skip=$a seek=$a count=1 \
			conv=notrunc status=none
	done
}

# expect NAME CHUNK NR_CHUNKS < pairs: the XML of a clean store with these
# exceptions, in $d/NAME.want
expect() {
	"$MK_COW" "$d/$1.clean" "$2" "$3"
	"$SD" "$d/$1.clean" >"$d/$1.want"
}

# chunk_sha FILE CHUNK_SECTORS CHUNK
chunk_sha() {
	dd if="$1" bs=$(($2 * 512)) skip="$3" count=1 status=none | sha256sum | cut -d' ' -f1
}

# same_data A B CHUNK_SECTORS WANT_FILE: the data chunks of every
# exception in WANT_FILE's pairs are identical in A and B
same_data() {
	local old new
	while read -r old new; do
		[ "$(chunk_sha "$1" "$3" "$new")" = "$(chunk_sha "$2" "$3" "$new")" ] || {
			echo "COW chunk $new differs" >&2
			return 1
		}
	done <"$4"
}

# repaired NAME CHUNK: the repaired $d/NAME.out passes snap_check and dumps
# exactly as $d/NAME.want; kept data chunks equal the input's
repaired() {
	"$SC" "$d/$1.out"
	"$SD" "$d/$1.out" | same_file - "$d/$1.want"
	same_data "$d/$1" "$d/$1.out" "$2" "$d/$1.pairs"
}

# repair_to NAME CHUNK [OPTS...]: snap_repair -o onto a zeroed file of the
# same size; stdout in $output
repair_to() {
	local name=$1 cs=$2
	shift 2
	rm -f "$d/$name.out"
	truncate -s "$(stat -c %s "$d/$name")" "$d/$name.out"
	run_prog "$SR" 0 "$@" -o "$d/$name.out" -i "$d/$name"
	[ -z "$stderr" ]
	repaired "$name" "$cs"
}

# kept NAME CHUNK NR_CHUNKS < pairs: the exceptions the repair must keep
kept() {
	cat >"$d/$1.pairs"
	expect "$1" "$2" "$3" <"$d/$1.pairs"
}

@test "COW chunks on a metadata area or past the end are dropped and listed" {
	printf '0 2\n1 514\n2 3\n3 1\n4 5000\n5 4\n' | cow a 16 1024
	printf '0 2\n2 3\n5 4\n' | kept a 16 1024
	repair_to a 16
	[ "$output" = "dropped area 0, entry 1, old_chunk 1, new_chunk 514: the COW chunk is metadata area 1
dropped area 0, entry 3, old_chunk 3, new_chunk 1: the COW chunk is metadata area 0
dropped area 0, entry 4, old_chunk 4, new_chunk 5000: the COW chunk lies beyond the end of the COW device (1024 chunks)
kept 3 exceptions, dropped 3" ]
	# only the kept chunks are copied: a dropped one stays zero in the output
	[ "$(chunk_sha "$d/a.out" 16 5)" = "$(head -c 8192 /dev/zero | sha256sum | cut -d' ' -f1)" ]
}

@test "collisions: the earlier of two exceptions for one COW or origin chunk is kept" {
	printf '0 2\n1 3\n2 2\n7 4\n7 5\n8 6\n' | cow c 16 64
	printf '0 2\n1 3\n7 4\n8 6\n' | kept c 16 64
	repair_to c 16
	[ "$output" = "dropped area 0, entry 2, old_chunk 2, new_chunk 2: the COW chunk is also used by area 0, entry 0, which is kept (the earlier entry wins)
dropped area 0, entry 4, old_chunk 7, new_chunk 5: the kernel reads origin chunk 7 from area 0, entry 3, which is kept (the earlier entry wins)
kept 4 exceptions, dropped 2" ]
}

@test "several areas: later exceptions move up into the freed entries, data chunks stay" {
	# chunk 1 sector: E = 32; 100 exceptions over areas 0-3, two bad in area 0
	seq_pairs 0 100 1 | awk 'NR == 3 { $2 = 1 } NR == 40 { $2 = 99999 } { print }' | cow m 1 200
	seq_pairs 0 100 1 | awk 'NR != 3 && NR != 40' | kept m 1 200
	repair_to m 1 -q
	[ -z "$output" ]
	[ "$(grep -c '<exception' "$d/m.want")" -gt 2 ]
}

@test "out-of-order COW chunks and bytes after the terminator: all kept, tail cleared" {
	printf '0 3\n1 2\n' | cow r 16 64
	put_le64 "$d/r" $((16 * 512 + 48)) 77
	printf '0 3\n1 2\n' | kept r 16 64
	repair_to r 16
	[ "$output" = "kept 2 exceptions, dropped 0" ]
	run_prog "$SC" 0 "$d/r.out"
	[ "$stderr" = "area 0, entry 1: COW chunks are not in increasing order (a kernel older than 3.13 wrote this store)" ]
}

@test "a full area with no room for the next one: the last exception goes" {
	seq_pairs 0 512 16 | cow t 16 514
	seq_pairs 0 511 16 | kept t 16 514
	repair_to t 16
	[ "$output" = "the list of exceptions runs past the end of the device: read up to there
dropped area 0, entry 511, old_chunk 511, new_chunk 513: no room on the device for the metadata area after a full one
kept 511 exceptions, dropped 1" ]
}

@test "a store cut inside an area: what is on the device is kept, room judged on the output" {
	# E = 32; area 1 at chunk 34; the file ends 10 entries into it, so
	# their data chunks (35..) are gone; the output has room for area 1
	seq_pairs 0 50 1 | cow cut 1 100
	truncate -s $((34 * 512 + 10 * 16 + 5)) "$d/cut"
	seq_pairs 0 32 1 | kept cut 1 100
	rm -f "$d/cut.out"
	truncate -s $((100 * 512)) "$d/cut.out"
	run_prog "$SR" 0 -o "$d/cut.out" -i "$d/cut"
	[ "${lines[0]}" = "the list of exceptions runs past the end of the device: read up to there" ]
	[ "${lines[1]}" = "dropped area 1, entry 0, old_chunk 32, new_chunk 35: the COW chunk lies beyond the end of the COW device (34 chunks)" ]
	[ "${lines[10]}" = "dropped area 1, entry 9, old_chunk 41, new_chunk 44: the COW chunk lies beyond the end of the COW device (34 chunks)" ]
	[ "${lines[11]}" = "kept 32 exceptions, dropped 10" ]
	[ ${#lines[@]} = 12 ]
	repaired cut 1
}

@test "damaged header: refused without --chunk-size, recovered with it" {
	for how in magic version chunk zero; do
		seq_pairs 5 20 16 | cow h 16 64
		case $how in
		magic) put_le32 "$d/h" 0 0x12345678 ;;
		version) put_le32 "$d/h" 8 2 ;;
		chunk) put_le32 "$d/h" 12 24 ;;
		zero) put_le64 "$d/h" 0 0; put_le64 "$d/h" 8 0 ;;
		esac
		truncate -s $((64 * 8192)) "$d/h.out"
		run_prog "$SR" 64 -o "$d/h.out" -i "$d/h"
		[ -z "$output" ]
		if [ $how = zero ]; then
			[ "$stderr" = "$d/h: the header chunk is zeroed (an unformatted store): if the store held exceptions, give its chunk size with --chunk-size" ]
		else
			[ "$stderr" = "$d/h: the header chunk is damaged: give the store's chunk size with --chunk-size" ]
		fi
		seq_pairs 5 20 16 | kept h 16 64
		repair_to h 16 --chunk-size 16
		[ "${lines[0]}" = "header: $([ $how = zero ] && echo zeroed || echo damaged); rewritten with chunk size 16 sectors" ]
		[ "${lines[1]}" = "kept 20 exceptions, dropped 0" ]
	done
}

@test "--chunk-size that disagrees with a good header; an invalidated store" {
	seq_pairs 0 3 16 | cow s 16 64
	truncate -s $((64 * 8192)) "$d/s.out"
	run_prog "$SR" 64 --chunk-size 32 -o "$d/s.out" -i "$d/s"
	[ "$stderr" = "$d/s: the header says the chunk size is 16 sectors, --chunk-size says 32" ]
	seq_pairs 0 10 16 | cow inv 16 64 0
	truncate -s $((64 * 8192)) "$d/inv.out"
	run_prog "$SR" 64 -o "$d/inv.out" -i "$d/inv"
	[ "$stderr" = "$d/inv: the snapshot was invalidated (valid = 0 in the header): its exceptions may be incomplete, so it is not repaired (--force-invalid salvages them anyway)" ]
	[ -z "$output" ]
	[ "$(sha_of "$d/inv.out")" = "$(head -c $((64 * 8192)) /dev/zero | sha256sum | cut -d' ' -f1)" ]
	seq_pairs 0 10 16 | kept inv 16 64
	repair_to inv 16 --force-invalid
	[ "$output" = "header: valid = 0 (forced); rewritten with valid = 1
kept 10 exceptions, dropped 0" ]
}

# damaged_m NAME: 100 exceptions over 4 areas of 1-sector chunks, two bad
damaged_m() {
	seq_pairs 0 100 1 | awk 'NR == 3 { $2 = 1 } NR == 40 { $2 = 3 } { print }' | cow "$1" 1 200
	seq_pairs 0 100 1 | awk 'NR != 3 && NR != 40' | kept "$1" 1 200
}

@test "--in-place: same store as -o, data untouched; a second run writes nothing" {
	damaged_m p
	cp "$d/p" "$d/p.out"
	run_prog "$SR" 0 -q -i "$d/p.out" --in-place
	[ -z "$output" ] && [ -z "$stderr" ]
	repaired p 1
	# every data chunk, dropped ones too, is as it was
	for c in 2 3 4 5 40 41 99 150 199; do
		[ "$(chunk_sha "$d/p" 1 $c)" = "$(chunk_sha "$d/p.out" 1 $c)" ]
	done
	run_prog "$SR" 0 --in-place -i "$d/p.out"
	[ "$output" = "kept 98 exceptions, dropped 0" ]
}

# area_pairs FILE CHUNK: "OLD NEW" of every entry up to the terminator,
# read from the areas as the kernel reads them
area_pairs() {
	local e=$(($2 * 512 / 16)) a=0
	while :; do
		od -An -v -t u8 -w16 -j $(((1 + a * (e + 1)) * $2 * 512)) -N $(($2 * 512)) "$1" |
			awk '$2 == 0 { exit 1 } { print $1, $2 }' || return 0
		a=$((a + 1))
	done
}

@test "--in-place killed before each write: every kept exception survives, a rerun finishes" {
	damaged_m k
	for hdr in good damaged; do
		n=0
		while :; do
			cp "$d/k" "$d/k.out"
			opts=()
			if [ $hdr = damaged ]; then
				put_le32 "$d/k.out" 0 0x12345678
				opts=(--chunk-size 1)
			fi
			rc=0
			THINSNAP_FAIL_AFTER_WRITES=$n "$SR" -q "${opts[@]}" --in-place -i "$d/k.out" || rc=$?
			[ $rc = 0 ] && break
			[ $rc = 137 ]
			if [ $hdr = good ]; then
				# the kernel reads it: every kept exception is there
				[ "$(get_le32 "$d/k.out" 0)" = $((0x70416e53)) ]
				area_pairs "$d/k.out" 1 | sort >"$d/k.now"
				sort "$d/k.pairs" | comm -23 - "$d/k.now" | refute grep -q .
			else
				refute "$SC" -q "$d/k.out"
			fi
			"$SR" -q "${opts[@]}" --in-place -i "$d/k.out"
			repaired k 1
			n=$((n + 1))
			[ $n -lt 20 ]
		done
		repaired k 1
		# four areas rewritten (and the header when it was damaged)
		[ $n = $([ $hdr = good ] && echo 4 || echo 5) ]
	done
}

@test "usage, -q, same file, missing files, too small an output" {
	printf '0 2\n' | cow u 16 64
	run_prog "$SR" 2 -i "$d/u"
	[[ "$stderr" == *"No output file provided (or --in-place)."* ]]
	run_prog "$SR" 2 -o "$d/x" --in-place -i "$d/u"
	[[ "$stderr" == *"--in-place and --output cannot be combined"* ]]
	run_prog "$SR" 2 --chunk-size 24 --in-place -i "$d/u"
	run_prog "$SR" 2 -q --chunk-size 0 --in-place -i "$d/u"
	[ -z "$stderr" ]
	run_prog "$SR" 64 -o "$d/u" -i "$d/u"
	[ "$stderr" = "'$d/u' and '$d/u' are the same file: use --in-place to repair a store where it is" ]
	run_prog "$SR" 64 -o "$d/u.out" -i "$d/none"
	truncate -s 8192 "$d/small"
	run_prog "$SR" 64 -o "$d/small" -i "$d/u"
	[ "$stderr" = "$d/small is too small: it has 8192 bytes, the repaired store needs 24576" ]
	[ "$(sha_of "$d/small")" = "$(head -c 8192 /dev/zero | sha256sum | cut -d' ' -f1)" ]
	run_prog "$SR" 64 -q -o "$d/small" -i "$d/u"
	[ -z "$output" ] && [ -z "$stderr" ]
}
