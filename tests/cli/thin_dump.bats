# SPDX-License-Identifier: GPL-2.0-or-later
#
# thin_dump (docs COMPAT.md, "thin_dump INPUT"): every fixture in both XML
# layouts and in human_readable form against Debian's outputs, leaves shared
# by snapshots (<def>/<ref>), the options, messages and exit codes, metadata
# snapshots, damaged leaves and a closed stdout.
#
# Images are made by Debian's thin_restore ($DEB_BIN, mkimg); shared
# subtrees by build/tests/mk_thin_snap, held metadata snapshots by
# build/tests/mk_metadata_snap.  Every run checks that the input file is
# unchanged.

load helpers

bats_require_minimum_version 1.5.0

TD=$TS_BIN/thin_dump
DEB_TD=$DEB_BIN/thin_dump
: "${TS_BUILD:=$BATS_TEST_DIRNAME/../../build}"
THINSNAP=$TS_BIN/../thinsnap
MK_THIN_SNAP=$TS_BUILD/tests/mk_thin_snap
MK_MD_SNAP=$TS_BUILD/tests/mk_metadata_snap

USAGE_FIRST='Usage: thin_dump [options] {device|file}'

setup() {
	d=$BATS_TEST_TMPDIR
}

# td WANT OUT ARGS... / deb WANT OUT ARGS...: thinsnap's / Debian's thin_dump
td() { run_to "$TD" "$@"; }
deb() { run_to "$DEB_TD" "$@"; }
# td_run WANT ARGS...: bats `run` of thin_dump, input unchanged
td_run() { run_prog "$TD" "$@"; }

# to_1x FILE: the 1.x layout of a 0.9.0 dump without shared leaves: no
# flags="0" on the first line, no newline after </superblock>.  FILE must
# end in "</superblock>\n".
to_1x() {
	if [ "$(tail -c 14 -- "$1")" != "</superblock>" ] ||
		[ "$(tail -c 1 -- "$1" | od -An -tx1 | tr -d ' ')" != 0a ]; then
		echo "to_1x: $1 does not end in </superblock> and a newline" >&2
		return 1
	fi
	sed '1s/ flags="0"//' -- "$1" | head -c -1
}

# no_mappings FILE: FILE without its mapping lines
no_mappings() {
	grep -v -E '^    <(range|single)_mapping ' -- "$1"
}

# select_devs "ID..." FILE: a 0.9.0 dump reduced to the listed devices
select_devs() {
	awk -v ids=" $1 " '
	/^  <device / { s = $0; sub(/^  <device dev_id="/, "", s); sub(/".*/, "", s); keep = index(ids, " " s " ") > 0 }
	/^  <device / || /^    / || /^  <\/device>$/ { if (keep) print; next }
	{ print }
	' "$2"
}

# def_names FILE: names of the <def>s in file order
def_names() {
	sed -n 's/^  <def name="\([0-9]*\)">$/\1/p' -- "$1"
}

# first_def_origin FILE B: origin of the first mapping inside <def name="B">
first_def_origin() {
	awk -v b="$2" '
	$0 == "  <def name=\"" b "\">" { in_def = 1; next }
	in_def && /_mapping / { s = $0; sub(/^[^"]*"/, "", s); sub(/".*/, "", s); print s; exit }
	' "$1"
}

# shared_consistent IMG: the 1.x dump (in $d/x.xml), with its refs
# expanded, has exactly the mappings of the 0.9.0 dump ($d/09.xml), which
# is byte for byte what Debian's thin_dump prints; the same holds for
# human_readable; Debian's thin_check accepts IMG.
shared_consistent() {
	local img=$1
	run -0 "$DEB_BIN/thin_check" "$img"
	td 0 "$d/x.xml" "$img"
	[ -z "$stderr" ]
	td 0 "$d/09.xml" --compat=0.9 "$img"
	[ -z "$stderr" ]
	deb 0 "$d/deb.xml" "$img"
	same_file "$d/09.xml" "$d/deb.xml"
	td 0 "$d/h.txt" -f human_readable "$img"
	deb 0 "$d/debh.txt" -f human_readable "$img"
	same_file "$d/h.txt" "$d/debh.txt"
	# the first line: 0.9.0's without flags="0"
	[ "$(head -n 1 "$d/x.xml")" = "$(head -n 1 "$d/09.xml" | sed 's/ flags="0"//')" ]
	# no newline at the end
	[ "$(tail -c 13 "$d/x.xml")" = "</superblock>" ]
	[ "$(tail -c 1 "$d/x.xml")" = ">" ]
	# expanded and merged into maximal runs: the same mappings
	xml_expand_refs "$d/x.xml" >"$d/x-expanded.xml"
	xml_merge_runs "$d/x-expanded.xml" | tail -n +2 >"$d/x-merged.xml"
	xml_merge_runs "$d/09.xml" | tail -n +2 >"$d/09-merged.xml"
	same_file "$d/x-merged.xml" "$d/09-merged.xml"
}

# expected_1x IMG XML: the 1.x dump of IMG, restored by Debian from XML
# (a 0.9.0 dump).  Debian's restore shares nothing but one empty leaf,
# the root of every device without mappings; an empty tree is not worth a
# <def>, so those devices print just their start and end tags and the
# output is to_1x of the XML.
expected_1x() {
	local xml=$2
	to_1x "$xml"
}

# fixture_dumps NAME: all outputs of the image restored from NAME.xml
fixture_dumps() {
	local name=$1 xml=$TS_XML/$1.xml img
	img=$(mkimg "$xml")
	# 0.9.0 layout: the fixture itself, which is what Debian prints
	td 0 "$d/09.xml" --compat=0.9 "$img"
	[ -z "$stderr" ]
	same_file "$d/09.xml" "$xml"
	deb 0 "$d/deb.xml" "$img"
	same_file "$d/deb.xml" "$d/09.xml"
	# human_readable, in both compat modes
	td 0 "$d/h.txt" -f human_readable "$img"
	[ -z "$stderr" ]
	same_file "$d/h.txt" "$TS_XML/$name.debian-human.txt"
	deb 0 "$d/debh.txt" -f human_readable "$img"
	same_file "$d/debh.txt" "$d/h.txt"
	td 0 "$d/h09.txt" --compat=0.9 --format=human_readable "$img"
	same_file "$d/h09.txt" "$d/h.txt"
	# 1.x layout (default, --compat=1.3, -f xml).  Debian's thin_restore
	# shares no leaf with mappings, but gives all devices without
	# mappings one empty leaf: that leaf becomes an empty <def>, and each
	# of those devices a <ref> to it.
	expected_1x "$img" "$xml" >"$d/want.xml"
	td 0 "$d/x.xml" "$img"
	[ -z "$stderr" ]
	same_file "$d/x.xml" "$d/want.xml"
	xml_expand_refs "$d/x.xml" | head -c -1 >"$d/x-expanded.xml"
	to_1x "$xml" >"$d/want-expanded.xml"
	same_file "$d/x-expanded.xml" "$d/want-expanded.xml"
	td 0 "$d/x13.xml" --compat=1.3 "$img"
	same_file "$d/x13.xml" "$d/want.xml"
	td 0 "$d/xf.xml" -f xml "$img"
	same_file "$d/xf.xml" "$d/want.xml"
	if [ ! -s "$d/shared-roots" ]; then
		refute grep -q '<def\|<ref' "$d/x.xml"
	fi
}

# three_devices: large-device.xml, then snap 8 7, a write to the last
# mapped block of 7 (its last leaf), snap 9 8.  Sets img, last (the
# vblock), first_leaf (first leaf of every device), last_leaf (the old last
# leaf, now shared by 8 and 9).
three_devices() {
	img=$(mkimg large-device.xml)
	td 0 "$d/pre09.xml" --compat=0.9 "$img"
	last=$(xml_blocks "$d/pre09.xml" | tail -n 1 | cut -d' ' -f2)
	"$MK_THIN_SNAP" "$img" snap 8 7
	"$MK_THIN_SNAP" "$img" write 7 "$last" >/dev/null
	"$MK_THIN_SNAP" "$img" snap 9 8
	first_leaf=$(btree_first_leaf "$img" "$(dev_root "$img" 8)")
	last_leaf=$(btree_find "$img" "$(dev_root "$img" 8)" "$last" | cut -d' ' -f1)
}

# ---------------------------------------------------------------------------
# fixtures: --compat=0.9 and human_readable equal Debian's outputs byte for
# byte; the default 1.x layout is the 0.9.0 one without flags="0" and
# without the final newline

@test "fixture big-block-size-1g: 0.9, human_readable and 1.x outputs" {
	fixture_dumps big-block-size-1g
}

@test "fixture big-block-size: 0.9, human_readable and 1.x outputs" {
	fixture_dumps big-block-size
}

@test "fixture empty-pool: 0.9, human_readable and 1.x outputs" {
	fixture_dumps empty-pool
	# a superblock without devices: start and end tag on separate lines
	[ "$(cat "$d/x.xml")" = '<superblock uuid="" time="0" transaction="0" version="2" data_block_size="128" nr_data_blocks="16384">
</superblock>' ]
}

@test "fixture high-transaction: 0.9, human_readable and 1.x outputs" {
	fixture_dumps high-transaction
	head -n 1 "$d/x.xml" | grep -qF 'transaction="18446744073709551615"'
}

@test "fixture large-device: 0.9, human_readable and 1.x outputs" {
	fixture_dumps large-device
}

@test "fixture many-devices: 0.9, human_readable and 1.x outputs" {
	fixture_dumps many-devices
}

@test "fixture needs-check: 0.9, human_readable and 1.x outputs" {
	fixture_dumps needs-check
}

@test "fixture one-device: 0.9, human_readable and 1.x outputs" {
	fixture_dumps one-device
}

@test "fixture runs-singles: 0.9, human_readable and 1.x outputs" {
	fixture_dumps runs-singles
}

@test "fixture snapshots: 0.9, human_readable and 1.x outputs" {
	fixture_dumps snapshots
}

@test "needs-check: flags=\"1\" is printed in the 1.x layout" {
	local img
	img=$(mkimg needs-check.xml)
	td 0 "$d/x.xml" "$img"
	[ "$(head -n 1 "$d/x.xml")" = '<superblock uuid="" time="3" transaction="5" flags="1" version="2" data_block_size="128" nr_data_blocks="4096">' ]
	# and flags="0" is never printed in it
	img=$(mkimg one-device.xml)
	td 0 "$d/y.xml" "$img"
	[ "$(head -n 1 "$d/y.xml")" = '<superblock uuid="" time="3" transaction="5" version="2" data_block_size="128" nr_data_blocks="4096">' ]
}

# ---------------------------------------------------------------------------
# shared leaves: <def> / <ref>

@test "shared leaves: snapshot, then a write to the origin's first leaf: one def, one ref per device" {
	local img fresh def k
	img=$(mkimg large-device.xml)
	"$MK_THIN_SNAP" "$img" snap 8 7
	fresh=$("$MK_THIN_SNAP" "$img" write 7 3)
	shared_consistent "$img"
	# exactly one def; each device: its own first leaf, then a ref to it
	[ "$(def_names "$d/x.xml" | wc -l)" = 1 ]
	def=$(def_names "$d/x.xml")
	[ "$(grep -c '^    <ref name=' "$d/x.xml")" = 2 ]
	[ "$(xml_kinds 7 "$d/x.xml")" = "map
ref $def" ]
	[ "$(xml_kinds 8 "$d/x.xml")" = "map
ref $def" ]
	# the def is named after the leaf that holds its first mapping, and
	# that leaf is in both trees, its first key being that mapping
	k=$(first_def_origin "$d/x.xml" "$def")
	[ "$(btree_find "$img" "$(dev_root "$img" 7)" "$k")" = "$def 0" ]
	[ "$(btree_find "$img" "$(dev_root "$img" 8)" "$k")" = "$def 0" ]
	[ "$(node_get "$img" "$def" flags)" = "$TS_NODE_LEAF" ]
	# the write is in device 7 only, with the snapshot's time
	xml_blocks "$d/x-expanded.xml" >"$d/blocks"
	grep -qx "7 3 $fresh 3" "$d/blocks"
	grep -qx '8 3 3 1' "$d/blocks"
	refute grep -q "^8 3 $fresh " "$d/blocks"
}

@test "shared leaves: snapshot without writes: both devices are one ref to one def" {
	local img root def
	img=$(mkimg large-device.xml)
	"$MK_THIN_SNAP" "$img" snap 8 7
	shared_consistent "$img"
	root=$(dev_root "$img" 7)
	[ "$(dev_root "$img" 8)" = "$root" ]
	def=$(btree_first_leaf "$img" "$root")
	[ "$(def_names "$d/x.xml")" = "$def" ]
	[ "$(xml_kinds 7 "$d/x.xml")" = "ref $def" ]
	[ "$(xml_kinds 8 "$d/x.xml")" = "ref $def" ]
	# the def holds every mapping of the origin, in maximal runs
	awk -v b="$def" '$0 == "  <def name=\"" b "\">" { p = 1; next } /^  <\/def>$/ { p = 0 } p' "$d/x.xml" >"$d/def-body"
	select_devs 7 "$d/09.xml" | grep -E '^    <(range|single)_mapping ' >"$d/dev7-body"
	same_file "$d/def-body" "$d/dev7-body"
}

@test "shared leaves: snapshot of a snapshot: three refs to the same def" {
	# mk_thin_snap cannot take `snap 9 8` right after `snap 8 7` (the
	# shared root's count would reach 3); a write to 7's last leaf first
	# unshares the roots, and 7, 8, 9 still share every other leaf.
	local img last first_leaf last_leaf
	three_devices
	shared_consistent "$img"
	[ "$(def_names "$d/x.xml" | tr '\n' ' ')" = "$first_leaf $last_leaf " ]
	((first_leaf < last_leaf))
	[ "$(grep -c "^    <ref name=\"$first_leaf\"/>\$" "$d/x.xml")" = 3 ]
	[ "$(xml_kinds 7 "$d/x.xml")" = "ref $first_leaf
map" ]
	[ "$(xml_kinds 8 "$d/x.xml")" = "ref $first_leaf
ref $last_leaf" ]
	[ "$(xml_kinds 9 "$d/x.xml")" = "ref $first_leaf
ref $last_leaf" ]
	# 8 and 9 are the pre-write device 7
	xml_blocks "$d/x-expanded.xml" >"$d/blocks"
	xml_blocks "$d/pre09.xml" | cut -d' ' -f2- >"$d/pre-blocks"
	for dev in 8 9; do
		grep "^$dev " "$d/blocks" | cut -d' ' -f2- >"$d/dev-blocks"
		same_file "$d/dev-blocks" "$d/pre-blocks"
	done
}

@test "shared leaves: a write in the middle of the chain makes two defs" {
	local img mid fresh a b ka kb
	img=$(mkimg large-device.xml)
	td 0 "$d/pre09.xml" --compat=0.9 "$img"
	# the mapped block nearest above the middle of the mapped range
	mid=$(xml_blocks "$d/pre09.xml" | awk 'NR == 1 { lo = $2 } { o[NR] = $2 } END { m = (lo + o[NR]) / 2; for (i = 1; i <= NR; i++) if (o[i] >= m) { print o[i]; exit } }')
	"$MK_THIN_SNAP" "$img" snap 8 7
	fresh=$("$MK_THIN_SNAP" "$img" write 7 "$mid")
	shared_consistent "$img"
	# two defs, in block order
	[ "$(def_names "$d/x.xml" | wc -l)" = 2 ]
	a=$(def_names "$d/x.xml" | sed -n 1p)
	b=$(def_names "$d/x.xml" | sed -n 2p)
	((a < b))
	# each device: [ref A] its own copy of the middle leaf [ref B]
	[ "$(xml_kinds 7 "$d/x.xml")" = "ref $a
map
ref $b" ]
	[ "$(xml_kinds 8 "$d/x.xml")" = "ref $a
map
ref $b" ]
	# A starts at the first leaf, B right after the written leaf
	[ "$a" = "$(btree_first_leaf "$img" "$(dev_root "$img" 7)")" ]
	[ "$a" = "$(btree_first_leaf "$img" "$(dev_root "$img" 8)")" ]
	kb=$(first_def_origin "$d/x.xml" "$b")
	((kb > mid))
	[ "$(btree_find "$img" "$(dev_root "$img" 7)" "$kb")" = "$b 0" ]
	[ "$(btree_find "$img" "$(dev_root "$img" 8)" "$kb")" = "$b 0" ]
	ka=$(first_def_origin "$d/x.xml" "$a")
	[ "$(btree_find "$img" "$(dev_root "$img" 7)" "$ka")" = "$a 0" ]
	# the written block is in 7's middle part, not in 8
	xml_blocks "$d/x-expanded.xml" >"$d/blocks"
	grep -qx "7 $mid $fresh 3" "$d/blocks"
	refute grep -q "^8 $mid $fresh " "$d/blocks"
}

@test "shared leaves: --skip-mappings prints no defs" {
	local img last first_leaf last_leaf
	three_devices
	td 0 "$d/09.xml" --compat=0.9 "$img"
	td 0 "$d/x.xml" --skip-mappings "$img"
	[ -z "$stderr" ]
	no_mappings "$d/09.xml" >"$d/09-skip.xml"
	to_1x "$d/09-skip.xml" >"$d/want.xml"
	same_file "$d/x.xml" "$d/want.xml"
}

# ---------------------------------------------------------------------------
# --dev-id

@test "--dev-id: one device" {
	local img
	img=$(mkimg snapshots.xml)
	select_devs 2 "$TS_XML/snapshots.xml" >"$d/want09.xml"
	[ "$(grep -c '^  <device ' "$d/want09.xml")" = 1 ]
	td 0 "$d/09.xml" --compat=0.9 --dev-id 2 "$img"
	same_file "$d/09.xml" "$d/want09.xml"
	deb 0 "$d/deb.xml" --dev-id 2 "$img"
	same_file "$d/deb.xml" "$d/want09.xml"
	td 0 "$d/x.xml" --dev-id 2 "$img"
	[ -z "$stderr" ]
	to_1x "$d/want09.xml" >"$d/want.xml"
	same_file "$d/x.xml" "$d/want.xml"
	td 0 "$d/x2.xml" --dev-id=2 "$img"
	same_file "$d/x2.xml" "$d/want.xml"
}

@test "--dev-id: two devices, printed in id order" {
	local img
	img=$(mkimg snapshots.xml)
	select_devs "1 3" "$TS_XML/snapshots.xml" >"$d/want09.xml"
	[ "$(sed -n 's/^  <device dev_id="\([0-9]*\)".*/\1/p' "$d/want09.xml" | tr '\n' ' ')" = "1 3 " ]
	td 0 "$d/09.xml" --compat=0.9 --dev-id 3 --dev-id 1 "$img"
	same_file "$d/09.xml" "$d/want09.xml"
	deb 0 "$d/deb.xml" --dev-id 3 --dev-id 1 "$img"
	same_file "$d/deb.xml" "$d/want09.xml"
	td 0 "$d/x.xml" --dev-id 3 --dev-id 1 "$img"
	to_1x "$d/want09.xml" >"$d/want.xml"
	same_file "$d/x.xml" "$d/want.xml"
	td 0 "$d/h.txt" -f human_readable --dev-id 1 --dev-id 3 "$img"
	deb 0 "$d/debh.txt" -f human_readable --dev-id 1 --dev-id 3 "$img"
	same_file "$d/h.txt" "$d/debh.txt"
}

@test "--dev-id of a device that does not exist: exit 64" {
	local img
	img=$(mkimg snapshots.xml)
	td_run 64 --dev-id 99 "$img"
	[ -z "$output" ]
	[ "$stderr" = "no device with id 99" ]
	td_run 64 --dev-id 1 --dev-id 5 "$img"
	[ -z "$output" ]
	[ "$stderr" = "no device with id 5" ]
	td_run 64 -q --dev-id 99 "$img"
	[ -z "$output$stderr" ]
	td_run 64 --compat=0.9 --dev-id 0 "$img"
	[ "$stderr" = "no device with id 0" ]
}

@test "--dev-id with shared leaves: a def only for leaves shared by the selected devices" {
	local img last first_leaf last_leaf dev
	three_devices
	# 7 alone: nothing shared, the plain layout
	td 0 "$d/x.xml" --dev-id 7 "$img"
	td 0 "$d/09.xml" --compat=0.9 --dev-id 7 "$img"
	deb 0 "$d/deb.xml" --dev-id 7 "$img"
	same_file "$d/09.xml" "$d/deb.xml"
	to_1x "$d/09.xml" >"$d/want.xml"
	same_file "$d/x.xml" "$d/want.xml"
	# 9 alone: likewise, although all its leaves are shared with 8
	td 0 "$d/x.xml" --dev-id 9 "$img"
	td 0 "$d/09.xml" --compat=0.9 --dev-id 9 "$img"
	to_1x "$d/09.xml" >"$d/want.xml"
	same_file "$d/x.xml" "$d/want.xml"
	# 8 and 9 share one tree: one def of all its leaves
	td 0 "$d/x.xml" --dev-id 9 --dev-id 8 "$img"
	[ "$(def_names "$d/x.xml")" = "$first_leaf" ]
	[ "$(xml_kinds 8 "$d/x.xml")" = "ref $first_leaf" ]
	[ "$(xml_kinds 9 "$d/x.xml")" = "ref $first_leaf" ]
	refute grep -q '<device dev_id="7"' "$d/x.xml"
	# 7 and 9 share all leaves but the last
	td 0 "$d/y.xml" --dev-id 7 --dev-id 9 "$img"
	[ "$(def_names "$d/y.xml")" = "$first_leaf" ]
	[ "$(xml_kinds 7 "$d/y.xml")" = "ref $first_leaf
map" ]
	[ "$(xml_kinds 9 "$d/y.xml")" = "ref $first_leaf
map" ]
	# the selected devices' mappings are complete
	td 0 "$d/09.xml" --compat=0.9 --dev-id 7 --dev-id 9 "$img"
	deb 0 "$d/deb.xml" --dev-id 7 --dev-id 9 "$img"
	same_file "$d/09.xml" "$d/deb.xml"
	xml_expand_refs "$d/y.xml" | xml_merge_runs | tail -n +2 >"$d/a"
	xml_merge_runs "$d/09.xml" | tail -n +2 >"$d/b"
	same_file "$d/a" "$d/b"
}

# ---------------------------------------------------------------------------
# --skip-mappings, -o

@test "--skip-mappings: only the device tags, each on its own line" {
	local img
	img=$(mkimg snapshots.xml)
	td 0 "$d/x.xml" --skip-mappings "$img"
	[ -z "$stderr" ]
	printf '%s\n' \
		'<superblock uuid="" time="3" transaction="4" version="2" data_block_size="128" nr_data_blocks="1024">' \
		'  <device dev_id="1" mapped_blocks="360" transaction="0" creation_time="0" snap_time="2">' \
		'  </device>' \
		'  <device dev_id="2" mapped_blocks="350" transaction="1" creation_time="1" snap_time="3">' \
		'  </device>' \
		'  <device dev_id="3" mapped_blocks="360" transaction="2" creation_time="2" snap_time="2">' \
		'  </device>' \
		'  <device dev_id="4" mapped_blocks="354" transaction="3" creation_time="3" snap_time="3">' \
		'  </device>' \
		'</superblock>' | head -c -1 >"$d/want.xml"
	same_file "$d/x.xml" "$d/want.xml"
	# 0.9.0 layout and human_readable equal Debian's
	td 0 "$d/09.xml" --compat=0.9 --skip-mappings "$img"
	deb 0 "$d/deb.xml" --skip-mappings "$img"
	same_file "$d/09.xml" "$d/deb.xml"
	no_mappings "$TS_XML/snapshots.xml" >"$d/want09.xml"
	same_file "$d/09.xml" "$d/want09.xml"
	td 0 "$d/h.txt" -f human_readable --skip-mappings "$img"
	deb 0 "$d/debh.txt" -f human_readable --skip-mappings "$img"
	same_file "$d/h.txt" "$d/debh.txt"
	# with --dev-id
	td 0 "$d/y.xml" --skip-mappings --dev-id 4 "$img"
	[ "$(cat "$d/y.xml")" = '<superblock uuid="" time="3" transaction="4" version="2" data_block_size="128" nr_data_blocks="1024">
  <device dev_id="4" mapped_blocks="354" transaction="3" creation_time="3" snap_time="3">
  </device>
</superblock>' ]
}

@test "-o FILE: the file holds exactly what stdout would, stdout stays empty" {
	local img args
	img=$(mkimg snapshots.xml)
	for args in "" "--compat=0.9" "-f human_readable" "--skip-mappings" "--dev-id 2"; do
		# shellcheck disable=SC2086
		td 0 "$d/stdout" $args "$img"
		# an existing, longer file is truncated
		head -c 100000 /dev/zero | tr '\0' x >"$d/out"
		# shellcheck disable=SC2086
		td 0 "$d/o-stdout" $args -o "$d/out" "$img"
		[ ! -s "$d/o-stdout" ]
		[ -z "$stderr" ]
		same_file "$d/out" "$d/stdout"
		# shellcheck disable=SC2086
		td 0 "$d/o-stdout" $args --output="$d/out2" "$img"
		[ ! -s "$d/o-stdout" ]
		same_file "$d/out2" "$d/stdout"
	done
	# shared leaves
	local last first_leaf last_leaf
	three_devices
	td 0 "$d/stdout" "$img"
	td 0 "$d/o-stdout" -o "$d/out" "$img"
	[ ! -s "$d/o-stdout" ]
	same_file "$d/out" "$d/stdout"
	grep -q '^  <def ' "$d/out"
}

@test "-o to a path that cannot be written: exit 64" {
	local img
	img=$(mkimg one-device.xml)
	td_run 64 -o "$d/no/such/dir/out.xml" "$img"
	[ -z "$output" ]
	has_line "$stderr" "Couldn't open output file '$d/no/such/dir/out\.xml': No such file or directory"
	[ ! -e "$d/no" ]
	td_run 64 -q -o "$d/no/such/dir/out.xml" "$img"
	[ -z "$output$stderr" ]
	# a write error: exit 64 with a message
	td_run 64 -o /dev/full "$img"
	[ -z "$output" ]
	has_line "$stderr" '.*write failed.*No space left on device.*'
}

# ---------------------------------------------------------------------------
# superblock overrides

@test "--transaction-id: the larger of the override and the superblock's" {
	local img mode
	img=$(mkimg snapshots.xml)
	for mode in --compat=1.3 --compat=0.9; do
		td 0 "$d/plain" "$mode" "$img"
		# smaller: no change at all
		td 0 "$d/x" "$mode" --transaction-id 3 "$img"
		same_file "$d/x" "$d/plain"
		td 0 "$d/x" "$mode" --transaction-id 4 "$img"
		same_file "$d/x" "$d/plain"
		td 0 "$d/x" "$mode" --transaction-id 0 "$img"
		same_file "$d/x" "$d/plain"
		# larger: only the superblock's transaction changes
		td 0 "$d/x" "$mode" --transaction-id 10 "$img"
		sed '1s/ transaction="4" / transaction="10" /' "$d/plain" >"$d/want"
		same_file "$d/x" "$d/want"
		td 0 "$d/x" "$mode" --transaction-id=18446744073709551615 "$img"
		sed '1s/ transaction="4" / transaction="18446744073709551615" /' "$d/plain" >"$d/want"
		same_file "$d/x" "$d/want"
	done
}

@test "--nr-data-blocks: the larger of the override and the superblock's" {
	local img mode
	img=$(mkimg snapshots.xml)
	for mode in --compat=1.3 --compat=0.9; do
		td 0 "$d/plain" "$mode" "$img"
		td 0 "$d/x" "$mode" --nr-data-blocks 5 "$img"
		same_file "$d/x" "$d/plain"
		td 0 "$d/x" "$mode" --nr-data-blocks 1024 "$img"
		same_file "$d/x" "$d/plain"
		td 0 "$d/x" "$mode" --nr-data-blocks 99999 "$img"
		sed '1s/ nr_data_blocks="1024"/ nr_data_blocks="99999"/' "$d/plain" >"$d/want"
		same_file "$d/x" "$d/want"
	done
	td 0 "$d/h" -f human_readable --nr-data-blocks 99999 "$img"
	[ "$(head -n 1 "$d/h")" = 'begin superblock: "", 3, 4, 0, 2, 128, 99999' ]
}

@test "--data-block-size: replaces the superblock's" {
	local img mode n
	img=$(mkimg snapshots.xml)
	for mode in --compat=1.3 --compat=0.9; do
		td 0 "$d/plain" "$mode" "$img"
		for n in 64 256 2097152; do
			td 0 "$d/x" "$mode" --data-block-size "$n" "$img"
			sed "1s/ data_block_size=\"128\"/ data_block_size=\"$n\"/" "$d/plain" >"$d/want"
			same_file "$d/x" "$d/want"
		done
	done
}

@test "all three overrides together" {
	local img
	img=$(mkimg one-device.xml)
	td 0 "$d/x" --transaction-id 7 --nr-data-blocks 5000 --data-block-size 256 "$img"
	[ "$(head -n 1 "$d/x")" = '<superblock uuid="" time="3" transaction="7" version="2" data_block_size="256" nr_data_blocks="5000">' ]
	td 0 "$d/plain" "$img"
	same_file <(tail -n +2 "$d/x") <(tail -n +2 "$d/plain")
}

@test "non-numeric override and --dev-id values: exit 2" {
	local img opt v
	img=$(mkimg one-device.xml)
	for opt in --transaction-id --nr-data-blocks --data-block-size --dev-id; do
		for v in abc 7x -1 '' 18446744073709551616; do
			td_run 2 "$opt" "$v" "$img"
			[ -z "$output" ]
			has_line "$stderr" "thin_dump: invalid value '$v' for $opt: .*"
		done
	done
	td_run 2 --metadata-snap=x "$img"
	[ -z "$output" ]
	has_line "$stderr" "thin_dump: invalid value 'x' for --metadata-snap: .*"
}

@test "-q silences the message about a non-numeric value" {
	local img opt
	img=$(mkimg one-device.xml)
	for opt in --transaction-id --nr-data-blocks --data-block-size --dev-id; do
		td_run 2 -q "$opt" x "$img"
		[ -z "$output$stderr" ]
	done
	td_run 2 -q --metadata-snap=x "$img"
	[ -z "$output$stderr" ]
}

# ---------------------------------------------------------------------------
# usage

@test "--format and --compat: bad values exit 2" {
	local img
	img=$(mkimg one-device.xml)
	td_run 2 --format bogus "$img"
	[ -z "$output" ]
	has_line "$stderr" "thin_dump: unknown format 'bogus'"
	has_line "$stderr" "$(sed 's/[][{}().|*+?^$\\]/\\&/g' <<<"$USAGE_FIRST")"
	td_run 2 -f custom "$img"
	[ -z "$output" ]
	td_run 2 -f XML "$img"
	[ -z "$output" ]
	td_run 2 --compat bogus "$img"
	[ -z "$output" ]
	has_line "$stderr" "thin_dump: --compat takes 1\.3 or 0\.9, not 'bogus'"
	td_run 2 --compat=1.0 "$img"
	[ -z "$output" ]
	td_run 2 -q --compat=0.8 "$img"
	[ -z "$output$stderr" ]
	td_run 2 -q -f bogus "$img"
	[ -z "$output$stderr" ]
}

@test "unknown options, missing arguments, two inputs: exit 2" {
	local img
	img=$(mkimg one-device.xml)
	td_run 2 --bogus "$img"
	[ -z "$output" ]
	has_line "$stderr" "thin_dump: unrecognized option '--bogus'"
	td_run 2 -x "$img"
	[ -z "$output" ]
	has_line "$stderr" "thin_dump: unrecognized option '-x'"
	td_run 2 "$img" -f
	[ -z "$output" ]
	has_line "$stderr" "thin_dump: option '-f' requires an argument"
	td_run 2 "$img" --dev-id
	has_line "$stderr" "thin_dump: option '--dev-id' requires an argument"
	td_run 2 "$img" "$img"
	[ -z "$output" ]
	has_line "$stderr" 'thin_dump: only one input file may be given'
	td_run 2 -q --bogus "$img"
	[ -z "$output$stderr" ]
}

@test "no input: exit 2" {
	run -2 --separate-stderr "$TD"
	[ -z "$output" ]
	has_line "$stderr" 'thin_dump: No input file provided\.'
	has_line "$stderr" "$(sed 's/[][{}().|*+?^$\\]/\\&/g' <<<"$USAGE_FIRST")"
	run -2 --separate-stderr "$TD" -q
	[ -z "$output$stderr" ]
	run -2 --separate-stderr "$TD" --compat=0.9 -f human_readable
	[ -z "$output" ]
}

@test "-h and --help: usage on stdout, exit 0" {
	local opt o
	for opt in -h --help; do
		run -0 --separate-stderr "$TD" "$opt"
		[ "${lines[0]}" = "$USAGE_FIRST" ]
		[ -z "$stderr" ]
		for o in '-h|--help' '-f|--format' '-r|--repair' '-m|--metadata-snap' \
			'-o|--output' '-q|--quiet' --dev-id --skip-mappings \
			--transaction-id --data-block-size --nr-data-blocks --compat \
			'-V|--version'; do
			grep -qF -- "{$o}" <<<"$output"
		done
	done
}

@test "-V and --version: exactly 1.0.0" {
	local opt
	for opt in -V --version; do
		td 0 "$d/v" "$opt"
		[ -z "$stderr" ]
		printf '1.0.0\n' >"$d/want"
		same_file "$d/v" "$d/want"
	done
}

# ---------------------------------------------------------------------------
# input checks

@test "missing input file: exit 64" {
	td_run 64 "$d/nonexistent.img"
	[ -z "$output" ]
	[ "$stderr" = "Couldn't find input file '$d/nonexistent.img'" ]
	td_run 64 -q "$d/nonexistent.img"
	[ -z "$output$stderr" ]
}

@test "XML input: exit 64" {
	local x=$d/input.xml
	cp "$TS_XML/many-devices.xml" "$x"
	td_run 64 "$x"
	[ -z "$output" ]
	[ "$stderr" = 'This looks like XML.  This tool only supports the binary metadata format.' ]
	td_run 64 --compat=0.9 -f human_readable "$x"
	[ "$stderr" = 'This looks like XML.  This tool only supports the binary metadata format.' ]
}

@test "tiny file and directory inputs: exit 64" {
	head -c 1000 /dev/zero >"$d/tiny"
	td_run 64 "$d/tiny"
	[ -z "$output" ]
	[ "$stderr" = 'Metadata device/file too small.  Is this binary metadata?' ]
	mkdir "$d/dir"
	td_run 64 "$d/dir"
	[ -z "$output" ]
	[ "$stderr" = "Not a block device or regular file '$d/dir'." ]
}

@test "zeroed superblock: exit 64, bad checksum in superblock" {
	local img
	img=$(mkimg one-device.xml)
	dd if=/dev/zero of="$img" bs=4096 count=1 conv=notrunc status=none
	td_run 64 "$img"
	[ -z "$output" ]
	[ "$stderr" = 'bad checksum in superblock' ]
	td_run 64 -r "$img"
	[ -z "$output" ]
	has_line "$stderr" 'bad checksum in superblock'
	td_run 64 -q "$img"
	[ -z "$output$stderr" ]
}

@test "multi-call: thinsnap thin_dump ... works like thin_dump" {
	local img last first_leaf last_leaf args
	three_devices
	for args in "" "--compat=0.9" "-f human_readable" "--dev-id 8 --skip-mappings"; do
		# shellcheck disable=SC2086
		td 0 "$d/a" $args "$img"
		# shellcheck disable=SC2086
		run_to "$THINSNAP" 0 "$d/b" thin_dump $args "$img"
		same_file "$d/a" "$d/b"
	done
	run_to "$THINSNAP" 0 "$d/v" thin_dump -V
	[ "$(cat "$d/v")" = 1.0.0 ]
	run_to "$THINSNAP" 64 "$d/e" thin_dump "$d/nonexistent"
	[ "$stderr" = "Couldn't find input file '$d/nonexistent'" ]
	run_to "$THINSNAP" 64 "$d/e" thin_dump --dev-id 1 "$img"
	[ "$stderr" = "no device with id 1" ]
	run_to "$THINSNAP" 2 "$d/e" thin_dump --bogus "$img"
	[ ! -s "$d/e" ]
	run_to "$THINSNAP" 0 "$d/h" thin_dump -h
	[ "$(head -n 1 "$d/h")" = "$USAGE_FIRST" ]
}

# ---------------------------------------------------------------------------
# metadata snapshots

# held_snapshot NAME DEV VBLOCK: restore NAME.xml, dump it ($d/pre*.xml),
# take a metadata snapshot (block in $snap), then change the live
# metadata the kernel's way: the live superblock gets its own top-level
# leaf, DEV's VBLOCK is remapped (data block in $fresh), transaction and
# time go up by one.  Sets img.
held_snapshot() {
	img=$(mkimg "$1.xml")
	td 0 "$d/pre.xml" "$img"
	td 0 "$d/pre09.xml" --compat=0.9 "$img"
	td 0 "$d/preh.txt" -f human_readable "$img"
	snap=$("$MK_MD_SNAP" "$img")
	[ "$(sb_get "$img" metadata_snap)" = "$snap" ]
	shadow_top_leaf "$img" >/dev/null
	fresh=$("$MK_THIN_SNAP" "$img" write "$2" "$3")
	sb_set "$img" transaction $(($(sb_get "$img" transaction) + 1))
	sb_set "$img" time $(($(sb_get "$img" time) + 1))
	run -0 "$DEB_BIN/thin_check" "$img"
}

@test "-m: the held snapshot's trees, not the live ones" {
	local img snap fresh
	held_snapshot one-device 0 5
	# the live metadata changed: new superblock values, the remapped block
	td 0 "$d/live.xml" "$img"
	[ "$(head -n 1 "$d/live.xml")" = "<superblock uuid=\"\" time=\"4\" transaction=\"6\" version=\"2\" data_block_size=\"128\" nr_data_blocks=\"4096\" metadata_snap=\"$snap\">" ]
	xml_blocks "$d/live.xml" | grep -qx "0 5 $fresh 3"
	xml_blocks "$d/pre.xml" >"$d/pre-blocks"
	refute grep -q "^0 5 $fresh " "$d/pre-blocks"
	refute cmp -s <(tail -n +2 "$d/live.xml") <(tail -n +2 "$d/pre.xml")
	# -m: exactly the dump from before the change; the superblock line
	# is the snapshot's (time 3, transaction 5)
	td 0 "$d/m.xml" -m "$img"
	[ -z "$stderr" ]
	same_file <(tail -n +2 "$d/m.xml") <(tail -n +2 "$d/pre.xml")
	head -n 1 "$d/m.xml" | grep -q '^<superblock uuid="" time="3" transaction="5" version="2" data_block_size="128" nr_data_blocks="[0-9]*">$'
	# --metadata-snap, --metadata-snap=BLOCK, -mBLOCK and -m BLOCK agree
	td 0 "$d/m2.xml" --metadata-snap "$img"
	same_file "$d/m2.xml" "$d/m.xml"
	td 0 "$d/m3.xml" --metadata-snap="$snap" "$img"
	same_file "$d/m3.xml" "$d/m.xml"
	td 0 "$d/m4.xml" -m"$snap" "$img"
	same_file "$d/m4.xml" "$d/m.xml"
	td 0 "$d/m5.xml" -m "$snap" "$img"
	same_file "$d/m5.xml" "$d/m.xml"
	# 0.9.0 layout: Debian's thin_dump -m byte for byte
	td 0 "$d/m09.xml" --compat=0.9 -m "$img"
	deb 0 "$d/debm.xml" -m "$img"
	same_file "$d/m09.xml" "$d/debm.xml"
	same_file <(tail -n +2 "$d/m09.xml") <(tail -n +2 "$d/pre09.xml")
	[ "$(head -n 1 "$d/m09.xml")" = '<superblock uuid="" time="3" transaction="5" flags="0" version="2" data_block_size="128" nr_data_blocks="0">' ]
	td 0 "$d/m09b.xml" --compat=0.9 --metadata-snap="$snap" "$img"
	same_file "$d/m09b.xml" "$d/debm.xml"
	# human_readable: the snapshot's mappings, Debian's bytes in both
	# compat modes (nr_data_blocks 0, as in the 0.9.0 XML)
	td 0 "$d/mh.txt" -f human_readable -m "$img"
	deb 0 "$d/debmh.txt" -f human_readable -m "$img"
	same_file "$d/mh.txt" "$d/debmh.txt"
	[ "$(head -n 1 "$d/mh.txt")" = 'begin superblock: "", 3, 5, 0, 2, 128, 0' ]
	same_file <(tail -n +2 "$d/mh.txt") <(tail -n +2 "$d/preh.txt")
	td 0 "$d/mh09.txt" --compat=0.9 -f human_readable -m "$img"
	same_file "$d/mh09.txt" "$d/debmh.txt"
	# and the live dump in 0.9.0 layout is still Debian's
	td 0 "$d/live09.xml" --compat=0.9 "$img"
	deb 0 "$d/deblive.xml" "$img"
	same_file "$d/live09.xml" "$d/deblive.xml"
}

@test "-m with --dev-id and --skip-mappings" {
	local img snap fresh
	held_snapshot one-device 0 5
	td 0 "$d/m.xml" -m --dev-id 0 "$img"
	same_file "$d/m.xml" "$d/pre.xml"
	td_run 64 -m --dev-id 1 "$img"
	[ "$stderr" = "no device with id 1" ]
	td 0 "$d/m09.xml" --compat=0.9 -m --dev-id 0 --skip-mappings "$img"
	deb 0 "$d/deb.xml" -m --dev-id 0 --skip-mappings "$img"
	same_file "$d/m09.xml" "$d/deb.xml"
	td 0 "$d/ms.xml" -m --skip-mappings "$img"
	same_file "$d/ms.xml" <(no_mappings "$d/pre.xml" | head -c -1)
}

@test "metadata_snap=\"S\" on the superblock line when a snapshot is held" {
	local img snap
	img=$(mkimg one-device.xml)
	td 0 "$d/pre.xml" "$img"
	snap=$("$MK_MD_SNAP" "$img")
	td 0 "$d/x.xml" "$img"
	[ -z "$stderr" ]
	[ "$(head -n 1 "$d/x.xml")" = "<superblock uuid=\"\" time=\"3\" transaction=\"5\" version=\"2\" data_block_size=\"128\" nr_data_blocks=\"4096\" metadata_snap=\"$snap\">" ]
	same_file <(tail -n +2 "$d/x.xml") <(tail -n +2 "$d/pre.xml")
	# not in the 0.9.0 layout, which stays Debian's
	td 0 "$d/09.xml" --compat=0.9 "$img"
	same_file "$d/09.xml" "$TS_XML/one-device.xml"
	deb 0 "$d/deb.xml" "$img"
	same_file "$d/deb.xml" "$d/09.xml"
	# the snapshot shares every tree: -m prints the same mappings
	td 0 "$d/m.xml" -m "$img"
	same_file <(tail -n +2 "$d/m.xml") <(tail -n +2 "$d/pre.xml")
}

@test "-m without a held snapshot: exit 64" {
	local img
	img=$(mkimg one-device.xml)
	td_run 64 -m "$img"
	[ -z "$output" ]
	[ "$stderr" = 'no metadata snapshot is held (superblock field metadata_snap is 0)' ]
	td_run 64 --metadata-snap --compat=0.9 "$img"
	[ "$stderr" = 'no metadata snapshot is held (superblock field metadata_snap is 0)' ]
	td_run 64 -q -m "$img"
	[ -z "$output$stderr" ]
}

@test "--metadata-snap=BLOCK that is not a snapshot: exit 64" {
	local img
	img=$(mkimg one-device.xml)
	# block 1 is not a superblock copy
	td_run 64 --metadata-snap=1 "$img"
	[ -z "$output" ]
	[ "$stderr" = 'metadata snapshot at block 1: bad checksum in superblock' ]
	# beyond the metadata device
	td_run 64 --metadata-snap=999999 "$img"
	[ -z "$output" ]
	[ "$stderr" = 'metadata snapshot block 999999 is outside the metadata device' ]
}

# ---------------------------------------------------------------------------
# damaged metadata

# damaged_leaf: one-device.xml with the third leaf of device 0 damaged
# (a key byte flipped: bad checksum).  Sets img, leaf, keys (its keys).
damaged_leaf() {
	local root
	img=$(mkimg one-device.xml)
	td 0 "$d/pre.xml" "$img"
	td 0 "$d/pre09.xml" --compat=0.9 "$img"
	root=$(dev_root "$img" 0)
	[ "$(node_get "$img" "$root" flags)" = "$TS_NODE_INTERNAL" ]
	leaf=$(node_val64 "$img" "$root" 2)
	[ "$(node_get "$img" "$leaf" flags)" = "$TS_NODE_LEAF" ]
	node_keys "$img" "$leaf" >"$d/leaf-keys"
	[ -s "$d/leaf-keys" ]
	flip_byte "$img" $((leaf * TS_BLOCK_SIZE + 100))
}

@test "damaged mapping leaf: exit 64, the message names the leaf" {
	local img leaf
	damaged_leaf
	td 64 "$d/x.xml" "$img"
	[ "$stderr" = "mapping tree of device 0: leaf $leaf: bad checksum" ]
	td 64 "$d/x.xml" --compat=0.9 "$img"
	[ "$stderr" = "mapping tree of device 0: leaf $leaf: bad checksum" ]
	td 64 "$d/x.txt" -f human_readable "$img"
	[ "$stderr" = "mapping tree of device 0: leaf $leaf: bad checksum" ]
	# --skip-mappings does not read the leaves
	td 0 "$d/s.xml" --skip-mappings "$img"
	[ -z "$stderr" ]
	# -q: nothing on stderr, same status
	td 64 "$d/q.xml" -q "$img"
	[ -z "$stderr" ]
}

@test "damaged mapping leaf with -r: exit 0, a warning, the leaf's mappings left out" {
	local img leaf mode
	damaged_leaf
	for mode in --compat=1.3 --compat=0.9; do
		td 0 "$d/r.xml" "$mode" -r "$img"
		# (-r also prints thin_repair's report: lines starting "repair: ")
		[ "$(grep -v '^repair: ' <<<"$stderr")" = "warning: mapping tree of device 0: leaf $leaf: bad checksum" ]
		# the same mappings as before, minus the leaf's keys
		xml_blocks "$d/pre09.xml" | awk 'NR == FNR { k[$1] = 1; next } !($2 in k)' "$d/leaf-keys" - >"$d/want-blocks"
		[ "$(wc -l <"$d/want-blocks")" -eq $(($(xml_blocks "$d/pre09.xml" | wc -l) - $(wc -l <"$d/leaf-keys"))) ]
		xml_blocks "$d/r.xml" >"$d/got-blocks"
		same_file "$d/got-blocks" "$d/want-blocks"
		# in maximal runs, everything else unchanged
		xml_merge_runs "$d/r.xml" >"$d/r-merged.xml"
		if [ "$mode" = --compat=0.9 ]; then
			same_file "$d/r-merged.xml" "$d/r.xml"
			same_file <(no_mappings "$d/r.xml") <(no_mappings "$d/pre09.xml")
		else
			same_file <(head -c -1 "$d/r-merged.xml") "$d/r.xml"
			same_file <(no_mappings "$d/r.xml") <(no_mappings "$d/pre.xml")
		fi
	done
	# 0.9.0 layout: what Debian's thin_dump -r prints
	td 0 "$d/r09.xml" --compat=0.9 -r "$img"
	deb 0 "$d/debr.xml" -r "$img"
	same_file "$d/r09.xml" "$d/debr.xml"
	# --repair is -r
	td 0 "$d/r2.xml" --repair "$img"
	td 0 "$d/r1.xml" -r "$img"
	same_file "$d/r2.xml" "$d/r1.xml"
	# -q -r: the same output, nothing on stderr
	td 0 "$d/rq.xml" -q -r "$img"
	[ -z "$stderr" ]
	same_file "$d/rq.xml" "$d/r1.xml"
}

@test "damaged internal node: exit 64; with -r its subtree is left out, as Debian does" {
	local img root node
	img=$(mkimg large-device.xml)
	td 0 "$d/pre09.xml" --compat=0.9 "$img"
	root=$(dev_root "$img" 7)
	[ "$(node_get "$img" "$root" flags)" = "$TS_NODE_INTERNAL" ]
	node=$(node_val64 "$img" "$root" 1)
	[ "$(node_get "$img" "$node" flags)" = "$TS_NODE_INTERNAL" ]
	flip_byte "$img" $((node * TS_BLOCK_SIZE + 100))
	td 64 "$d/x.xml" "$img"
	[ "$stderr" = "mapping tree of device 7: block $node: bad checksum" ]
	td 0 "$d/r09.xml" --compat=0.9 -r "$img"
	[ "$(grep -v '^repair: ' <<<"$stderr")" = "warning: mapping tree of device 7: block $node: bad checksum" ]
	deb 0 "$d/debr.xml" -r "$img"
	same_file "$d/r09.xml" "$d/debr.xml"
	# exactly the keys [key 1, key 2) of the root are gone
	xml_blocks "$d/pre09.xml" |
		awk -v lo="$(node_key "$img" "$root" 1)" -v hi="$(node_key "$img" "$root" 2)" '!($2 >= lo + 0 && $2 < hi + 0)' >"$d/want-blocks"
	xml_blocks "$d/r09.xml" >"$d/got-blocks"
	same_file "$d/got-blocks" "$d/want-blocks"
	td 0 "$d/r.xml" -r "$img"
	xml_blocks "$d/r.xml" >"$d/got1x-blocks"
	same_file "$d/got1x-blocks" "$d/want-blocks"
}

@test "damaged first leaf: exit 64, the message names it" {
	local img leaf
	img=$(mkimg one-device.xml)
	leaf=$(btree_first_leaf "$img" "$(dev_root "$img" 0)")
	flip_byte "$img" $((leaf * TS_BLOCK_SIZE + 100))
	td 64 "$d/x.xml" "$img"
	has_line "$stderr" "mapping tree of device 0: (block|leaf) $leaf: bad checksum"
}

@test "damaged first leaf with -r: only that leaf's mappings are left out" {
	local img leaf
	img=$(mkimg one-device.xml)
	td 0 "$d/pre09.xml" --compat=0.9 "$img"
	leaf=$(btree_first_leaf "$img" "$(dev_root "$img" 0)")
	node_keys "$img" "$leaf" >"$d/leaf-keys"
	flip_byte "$img" $((leaf * TS_BLOCK_SIZE + 100))
	td 0 "$d/r09.xml" --compat=0.9 -r "$img"
	has_line "$stderr" "warning: mapping tree of device 0: (block|leaf) $leaf: bad checksum"
	deb 0 "$d/debr.xml" -r "$img"
	same_file "$d/r09.xml" "$d/debr.xml"
	xml_blocks "$d/pre09.xml" | awk 'NR == FNR { k[$1] = 1; next } !($2 in k)' "$d/leaf-keys" - >"$d/want-blocks"
	xml_blocks "$d/r09.xml" >"$d/got-blocks"
	same_file "$d/got-blocks" "$d/want-blocks"
}

@test "damaged shared leaf: exit 64; with -r only the devices sharing it lose its mappings" {
	local img last first_leaf last_leaf
	three_devices
	td 0 "$d/pre09.xml" --compat=0.9 "$img"
	node_keys "$img" "$last_leaf" >"$d/leaf-keys"
	flip_byte "$img" $((last_leaf * TS_BLOCK_SIZE + 100))
	td 64 "$d/x.xml" "$img"
	has_line "$stderr" ".*leaf $last_leaf: bad checksum"
	td 0 "$d/r.xml" -r "$img"
	xml_blocks "$d/pre09.xml" |
		awk 'NR == FNR { k[$1] = 1; next } !(($1 == 8 || $1 == 9) && ($2 in k))' "$d/leaf-keys" - >"$d/want-blocks"
	xml_expand_refs "$d/r.xml" | xml_blocks >"$d/got-blocks"
	same_file "$d/got-blocks" "$d/want-blocks"
	td 0 "$d/r09.xml" --compat=0.9 -r "$img"
	xml_blocks "$d/r09.xml" >"$d/got09-blocks"
	same_file "$d/got09-blocks" "$d/want-blocks"
}

@test "damaged shared leaf with -r: a warning names the leaf" {
	local img last first_leaf last_leaf
	three_devices
	flip_byte "$img" $((last_leaf * TS_BLOCK_SIZE + 100))
	td 0 "$d/r.xml" -r "$img"
	has_line "$stderr" ".*leaf $last_leaf: bad checksum"
}

# ---------------------------------------------------------------------------
# closed stdout

@test "closed stdout pipe: ends quickly, non-zero status, nothing on stderr" {
	local img st
	img=$(mkimg large-device.xml)
	local sha
	sha=$(sha_of "$img")
	for args in "" "--compat=0.9" "-f human_readable"; do
		# shellcheck disable=SC2086
		st=$(
			env --default-signal=PIPE timeout 10 "$TD" $args "$img" 2>"$d/err" | head -n 1 >"$d/first"
			echo "${PIPESTATUS[0]}"
		)
		[ "$st" != 0 ]
		[ "$st" != 124 ] # not the timeout
		[ ! -s "$d/err" ] || { cat "$d/err" >&2; false; }
		[ -s "$d/first" ]
	done
	[ "$(sha_of "$img")" = "$sha" ]
}

@test "closed stdout pipe with SIGPIPE ignored: non-zero status, nothing on stderr" {
	local img st
	img=$(mkimg large-device.xml)
	st=$(
		env --ignore-signal=PIPE timeout 10 "$TD" "$img" 2>"$d/err" | head -n 1 >/dev/null
		echo "${PIPESTATUS[0]}"
	)
	[ "$st" != 0 ]
	[ "$st" != 124 ]
	[ ! -s "$d/err" ] || { cat "$d/err" >&2; false; }
}
