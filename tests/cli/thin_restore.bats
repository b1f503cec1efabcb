# SPDX-License-Identifier: GPL-2.0-or-later
#
# thin_restore (docs COMPAT.md, "thin_restore -i XML -o DEV"): every
# fixture restored and dumped back byte for byte and accepted by Debian's
# tools, 1.x dumps with <def>/<ref> restored with their leaves still shared,
# generated pools, every way the XML can be rejected (exact message with
# INPUT:LINE:COLUMN, status 64, block 0 of the output left all zero even
# when it held a valid pool), the options, the output's requirements, the
# order of the writes (block 0 zeroed first, superblock last) and the
# memory used for a large input.
#
# Expected positions are computed from the test's own XML with xml_pos
# (the start tag that is refused, or where expat stopped) and xml_end_pos
# (the end of a document that stops too early).  Columns are 1-based.

load helpers

bats_require_minimum_version 1.5.0

TR=$TS_BIN/thin_restore
TD=$TS_BIN/thin_dump
TC=$TS_BIN/thin_check
: "${TS_BUILD:=$BATS_TEST_DIRNAME/../../build}"
THINSNAP=$TS_BIN/../thinsnap
MK_THIN_SNAP=$TS_BUILD/tests/mk_thin_snap
TOP=$BATS_TEST_DIRNAME/../..

USAGE_FIRST='Usage: thin_restore [options]'

# A superblock line and a device line for the crafted inputs
SB='<superblock uuid="" time="1" transaction="2" flags="0" version="2" data_block_size="128" nr_data_blocks="100">'
DEV1='  <device dev_id="1" mapped_blocks="0" transaction="0" creation_time="0" snap_time="0">'
DEV2='  <device dev_id="2" mapped_blocks="0" transaction="0" creation_time="0" snap_time="0">'

setup() {
	d=$BATS_TEST_TMPDIR
	pid=
	loop=
}

teardown() {
	if [ -n "${loop:-}" ]; then
		losetup -d "$loop" 2>/dev/null || true
	fi
	# a restorer started in the background by this test (FIFO tests)
	if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
}

# restore WANT XML OUT [OPTION...]: run thin_restore -i XML -o OUT OPTION...
# (timeout 120) with stdout in $output and stderr in $stderr; expect exit
# status WANT, nothing on stdout and the input unchanged.
restore() {
	local want=$1 xml=$2 out=$3 sha=""
	shift 3
	if [ -f "$xml" ]; then
		sha=$(sha_of "$xml")
	fi
	run --separate-stderr timeout 120 "$TR" -i "$xml" -o "$out" "$@"
	if [ "$status" != "$want" ]; then
		echo "thin_restore -i $xml -o $out $*: exit status $status, expected $want" >&2
		echo "stderr: $stderr" >&2
		return 1
	fi
	if [ -n "$output" ]; then
		echo "thin_restore wrote to stdout: $output" >&2
		return 1
	fi
	if [ -n "$sha" ] && [ "$(sha_of "$xml")" != "$sha" ]; then
		echo "thin_restore modified its input $xml" >&2
		return 1
	fi
}

# tr_run WANT ARGS...: bats `run` of thin_restore ARGS ($output, $stderr),
# expecting status WANT
tr_run() {
	local want=$1
	shift
	run "-$want" --separate-stderr timeout 60 "$TR" "$@"
}

# new_out FILE [SIZE]: a fresh, all-zero output file (default 8M)
new_out() {
	rm -f -- "$1"
	truncate -s "${2:-8M}" -- "$1"
}

# block0_zero FILE: the first 4 KiB of FILE are all zero
block0_zero() {
	cmp -n 4096 -- "$1" /dev/zero || {
		echo "block 0 of $1 is not all zero" >&2
		return 1
	}
}

# valid_copy OUT: OUT (1 MiB) holds a valid pool (one-device.xml, restored
# by us once per test and checked by Debian's thin_check)
valid_copy() {
	if [ ! -f "$d/valid.img" ]; then
		new_out "$d/valid.img" 1M
		"$TR" -i "$TS_XML/one-device.xml" -o "$d/valid.img"
		"$DEB_BIN/thin_check" -q "$d/valid.img"
	fi
	cp -- "$d/valid.img" "$1"
	refute cmp -s -n 4096 -- "$1" /dev/zero
}

# reject XML POS MESSAGE [OPTION...]: restore XML onto a file holding a
# valid pool: status 64, stderr exactly "XML:POS: MESSAGE", nothing on
# stdout, block 0 all zero afterwards.  Then the same with -q: no message.
reject() {
	local xml=$1 pos=$2 msg=$3
	shift 3
	[ -n "$pos" ] || { echo "reject: no position" >&2; return 1; }
	valid_copy "$d/out.img"
	restore 64 "$xml" "$d/out.img" "$@"
	if [ "$stderr" != "$xml:$pos: $msg" ]; then
		echo "expected stderr: $xml:$pos: $msg" >&2
		echo "got:             $stderr" >&2
		return 1
	fi
	block0_zero "$d/out.img"
	valid_copy "$d/out.img"
	restore 64 "$xml" "$d/out.img" -q "$@"
	[ -z "$stderr" ] || { echo "-q: stderr not empty: $stderr" >&2; return 1; }
	block0_zero "$d/out.img"
}

# accept XML [OPTION...]: XML restores (status 0, no message) onto a fresh
# 1 MiB file $d/ok.img, which Debian's thin_check accepts
accept() {
	local xml=$1
	shift
	new_out "$d/ok.img" 1M
	restore 0 "$xml" "$d/ok.img" "$@"
	[ -z "$stderr" ] || { echo "stderr: $stderr" >&2; return 1; }
	run -0 "$DEB_BIN/thin_check" -q "$d/ok.img"
}

# nr_lt FILE: the number of '<' in FILE (for the position of the last one)
nr_lt() {
	tr -cd '<' <"$1" | wc -c
}

# gen_xml_bin: path of bench/gen_xml, built into the test's directory when
# bench/work/gen_xml is missing or older than its source
gen_xml_bin() {
	local src=$TOP/bench/gen_xml.c bin=$TOP/bench/work/gen_xml
	if [ -x "$bin" ] && ! [ "$src" -nt "$bin" ]; then
		echo "$bin"
		return 0
	fi
	bin=$BATS_TEST_TMPDIR/gen_xml
	if [ ! -x "$bin" ]; then
		command -v cc >/dev/null 2>&1 || return 1
		cc -O2 -o "$bin" "$src" || return 1
	fi
	echo "$bin"
}

# node_census IMG: one line "BLOCK FLAGS NR_ENTRIES MAX_ENTRIES VALUE_SIZE"
# per B-tree node of IMG: a block other than 0 with flags 1 or 2 that
# records its own location (in a freshly restored image no other block
# looks like that)
node_census() {
	od -An -v -tu4 -w4096 -- "$1" | awk '
	NR > 1 && ($2 == 1 || $2 == 2) && $3 == NR - 1 && $4 == 0 && $6 > 0 { print NR - 1, $2, $5, $6, $7 }'
}

# tree_roots IMG: the root of every B-tree in IMG, space-separated, with a
# space before and after each
tree_roots() {
	local f
	printf ' '
	for f in data_mapping_root device_details_root data_sm_bitmap_root \
		data_sm_ref_count_root metadata_sm_ref_count_root; do
		printf '%s ' "$(sb_get "$1" "$f")"
	done
	top_roots "$1" | cut -d' ' -f2 | tr '\n' ' '
}

# no_underfull IMG: every live node but the roots is at least a third full
# (blocks the metadata space map calls free may hold anything)
no_underfull() {
	local roots bad b live=""
	roots=$(tree_roots "$1") || return 1
	bad=$(node_census "$1" | awk -v roots="$roots" '!index(roots, " " $1 " ") && $3 * 3 < $4')
	for b in $(awk '{ print $1 }' <<<"$bad"); do
		[ "$(sm_get "$1" metadata "$b")" = 0 ] || live+="$(grep "^$b " <<<"$bad")"$'\n'
	done
	bad=${live%$'\n'}
	[ -z "$bad" ] || {
		echo "nodes under a third full (block flags nr max value_size):" >&2
		echo "$bad" >&2
		return 1
	}
}

# packed_leaves IMG DUMP09: IMG (restored from the 0.9.0 dump DUMP09) has
# exactly as many leaves with 8-byte values as packing every device's
# mappings 252 to a leaf needs (at least one leaf a device), plus the
# top-level tree's leaves
packed_leaves() {
	local want have
	want=$(awk '
	/^  <device / { i = index($0, "mapped_blocks=\""); s = substr($0, i + 15); n = substr(s, 1, index(s, "\"") - 1) + 0
		leaves += (n ? int((n + 251) / 252) : 1); devs++ }
	END { print leaves + (devs ? int((devs + 251) / 252) : 1) }' "$2")
	have=$(node_census "$1" | awk '$2 == 2 && $5 == 8' | wc -l)
	[ "$have" = "$want" ] || {
		echo "$1: $have mapping and top-level leaves, expected $want" >&2
		return 1
	}
}

# ---------------------------------------------------------------------------
# fixtures: our restore, dumped by us (--compat=0.9) and by Debian, gives the
# fixture back byte for byte; both thin_checks accept it; its 1.x dump is
# that of Debian's restore; an XML declaration changes nothing; and our own
# 1.x dump of it restores to the same pool contents.

fixture_round_trip() {
	local xml=$TS_XML/$1.xml deb
	new_out "$d/ours.img"
	restore 0 "$xml" "$d/ours.img"
	[ -z "$stderr" ]
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/ours.img"
	same_file "$d/09.xml" "$xml"
	run -0 "$DEB_BIN/thin_check" "$d/ours.img"
	"$DEB_BIN/thin_dump" "$d/ours.img" >"$d/deb.xml"
	same_file "$d/deb.xml" "$xml"
	run -0 "$TC" "$d/ours.img"
	# 1.x layout: the same as for Debian's restore of the same XML
	deb=$(mkimg "$xml")
	"$TD" -o "$d/x.xml" "$d/ours.img"
	"$TD" -o "$d/debx.xml" "$deb"
	same_file "$d/x.xml" "$d/debx.xml"
	# an XML declaration in front: the very same image
	{
		echo '<?xml version="1.0" encoding="UTF-8"?>'
		cat "$xml"
	} >"$d/decl.xml"
	new_out "$d/decl.img"
	restore 0 "$d/decl.xml" "$d/decl.img"
	[ -z "$stderr" ]
	[ "$(sha_of "$d/decl.img")" = "$(sha_of "$d/ours.img")" ]
	# the 1.x dump (no flags="0", no final newline) restores too
	new_out "$d/again.img"
	restore 0 "$d/x.xml" "$d/again.img"
	"$TD" --compat=0.9 -o "$d/again.xml" "$d/again.img"
	same_file "$d/again.xml" "$xml"
	run -0 "$DEB_BIN/thin_check" "$d/again.img"
}

@test "fixture big-block-size-1g: round trip" {
	fixture_round_trip big-block-size-1g
}

@test "fixture big-block-size: round trip" {
	fixture_round_trip big-block-size
}

@test "fixture empty-pool: round trip" {
	fixture_round_trip empty-pool
}

@test "fixture high-transaction: round trip" {
	fixture_round_trip high-transaction
}

@test "fixture large-device: round trip" {
	fixture_round_trip large-device
}

@test "fixture many-devices: round trip" {
	fixture_round_trip many-devices
}

@test "fixture needs-check: round trip (flags=\"1\" kept)" {
	fixture_round_trip needs-check
	[ "$(sb_get "$d/ours.img" flags)" = 1 ]
}

@test "fixture one-device: round trip" {
	fixture_round_trip one-device
}

@test "fixture runs-singles: round trip" {
	fixture_round_trip runs-singles
}

@test "fixture snapshots: round trip" {
	fixture_round_trip snapshots
}

@test "every fixture has a round-trip test" {
	local f n
	for f in "$TS_XML"/*.xml; do
		n=$(basename "$f" .xml)
		grep -qx "	fixture_round_trip $n" "$BATS_TEST_FILENAME" ||
			{ echo "no round-trip test for $n" >&2; return 1; }
	done
}

@test "restoring the same XML twice gives byte-identical images" {
	new_out "$d/a.img"
	new_out "$d/b.img"
	restore 0 "$TS_XML/snapshots.xml" "$d/a.img"
	restore 0 "$TS_XML/snapshots.xml" "$d/b.img"
	[ "$(sha_of "$d/a.img")" = "$(sha_of "$d/b.img")" ]
}

@test "packed trees: leaves full but the last of a device, every non-root node at least a third full" {
	local name gen
	for name in large-device many-devices snapshots runs-singles one-device empty-pool; do
		new_out "$d/p.img" 2M
		restore 0 "$TS_XML/$name.xml" "$d/p.img"
		no_underfull "$d/p.img"
		packed_leaves "$d/p.img" "$TS_XML/$name.xml"
	done
	gen=$(gen_xml_bin) || skip "cannot build bench/gen_xml.c (no cc?)"
	"$gen" --seed 4 --devices 3 --mappings 100000 --snapshots 2 -o "$d/g.xml"
	new_out "$d/g.img" 8M
	restore 0 "$d/g.xml" "$d/g.img"
	no_underfull "$d/g.img"
	packed_leaves "$d/g.img" "$d/g.xml"
}

@test "the written superblock: version 2, no metadata snapshot, metadata size from the output" {
	new_out "$d/o.img" 4M
	restore 0 "$TS_XML/snapshots.xml" "$d/o.img"
	[ "$(sb_get "$d/o.img" version)" = 2 ]
	[ "$(sb_get "$d/o.img" metadata_snap)" = 0 ]
	[ "$(sb_get "$d/o.img" metadata_nr_blocks)" = 1024 ]
	[ "$(sb_get "$d/o.img" metadata_sm_nr_blocks)" = 1024 ]
	[ "$(sb_get "$d/o.img" metadata_block_size)" = 8 ]
	[ "$(sb_get "$d/o.img" data_block_size)" = "$(fixture_attr snapshots.xml data_block_size)" ]
	[ "$(sb_get "$d/o.img" data_sm_nr_blocks)" = "$(fixture_attr snapshots.xml nr_data_blocks)" ]
	csum_ok "$d/o.img" 0 "$TS_SALT_SB"
	# version="1" and metadata_snap="N" in the XML change none of that
	sed '1s/version="2"/version="1" metadata_snap="5"/' "$TS_XML/snapshots.xml" >"$d/v1.xml"
	new_out "$d/v1.img" 4M
	restore 0 "$d/v1.xml" "$d/v1.img"
	[ "$(sha_of "$d/v1.img")" = "$(sha_of "$d/o.img")" ]
}

@test "an output larger than the metadata space map can address: metadata_nr_blocks is capped" {
	new_out "$d/huge.img" 20G || skip "cannot make a 20 GiB sparse file here"
	restore 0 "$TS_XML/one-device.xml" "$d/huge.img"
	# 255 bitmaps of 16320 blocks each
	[ "$(sb_get "$d/huge.img" metadata_nr_blocks)" = 4161600 ]
	[ "$(sb_get "$d/huge.img" metadata_sm_nr_blocks)" = 4161600 ]
	run -0 "$DEB_BIN/thin_check" -q "$d/huge.img"
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/huge.img"
	same_file "$d/09.xml" "$TS_XML/one-device.xml"
}

@test "extreme values: 24-bit dev_id, 64-bit keys and transactions, 32-bit times, 24-bit mapping times" {
	cat >"$d/x.xml" <<'EOF'
<superblock uuid="" time="4294967295" transaction="18446744073709551615" flags="0" version="2" data_block_size="2097152" nr_data_blocks="100">
  <device dev_id="16777215" mapped_blocks="3" transaction="18446744073709551615" creation_time="4294967295" snap_time="4294967295">
    <single_mapping origin_block="0" data_block="99" time="16777215"/>
    <range_mapping origin_begin="18446744073709551614" data_begin="0" length="2" time="0"/>
  </device>
</superblock>
EOF
	accept "$d/x.xml"
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/ok.img"
	same_file "$d/09.xml" "$d/x.xml"
	"$DEB_BIN/thin_dump" "$d/ok.img" >"$d/deb.xml"
	same_file "$d/deb.xml" "$d/x.xml"
}

@test "a 16-byte uuid is stored" {
	sed '1s/uuid=""/uuid="0123456789abcdef"/' "$TS_XML/one-device.xml" >"$d/u.xml"
	accept "$d/u.xml"
	"$TD" -o "$d/x.xml" "$d/ok.img"
	head -n 1 "$d/x.xml" | grep -qF 'uuid="0123456789abcdef"'
}

@test "mapped_blocks is recomputed: wrong counts in the XML are fixed" {
	sed 's/mapped_blocks="[0-9]*"/mapped_blocks="7"/' "$TS_XML/snapshots.xml" >"$d/wrong.xml"
	refute cmp -s "$d/wrong.xml" "$TS_XML/snapshots.xml"
	accept "$d/wrong.xml"
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/ok.img"
	same_file "$d/09.xml" "$TS_XML/snapshots.xml"
	run -0 "$TC" -q "$d/ok.img"
	# mapped_blocks is optional
	sed 's/ mapped_blocks="[0-9]*"//' "$TS_XML/snapshots.xml" >"$d/none.xml"
	accept "$d/none.xml"
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/ok.img"
	same_file "$d/09.xml" "$TS_XML/snapshots.xml"
}

@test "optional superblock attributes (uuid, flags, version) may be left out" {
	cat >"$d/x.xml" <<'EOF'
<superblock time="1" transaction="2" data_block_size="128" nr_data_blocks="100">
  <device dev_id="1" transaction="0" creation_time="0" snap_time="0">
    <single_mapping origin_block="0" data_block="0" time="0"/>
  </device>
</superblock>
EOF
	accept "$d/x.xml"
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/ok.img"
	[ "$(head -n 2 "$d/09.xml")" = '<superblock uuid="" time="1" transaction="2" flags="0" version="2" data_block_size="128" nr_data_blocks="100">
  <device dev_id="1" mapped_blocks="1" transaction="0" creation_time="0" snap_time="0">' ]
}

@test "numbers as character references, comments and processing instructions are accepted" {
	cat >"$d/x.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment before the document -->
<superblock uuid="" time="1" transaction="2" flags="0" version="2" data_block_size="128" nr_data_blocks="100">
  <!-- between devices -->
  <device dev_id="&#49;" mapped_blocks="0" transaction="0" creation_time="0" snap_time="0">
    <?some-pi data?>
    <single_mapping origin_block="0" data_block="0" time="0"/>
  </device>
</superblock>
<!-- and after it -->
EOF
	accept "$d/x.xml"
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/ok.img"
	grep -qF '<device dev_id="1" mapped_blocks="1" ' "$d/09.xml"
}

# ---------------------------------------------------------------------------
# shared leaves: a 1.x dump with <def>/<ref> restores with its leaves still
# shared

# shared_round_trip IMG: IMG's 1.x dump D1 restored by us into $d/r.img and
# dumped again (D2): D1 and D2 are the same up to def names; Debian's tools
# accept the result and see the pool's 0.9.0 dump; it takes under 0.6 of the
# metadata blocks of a restore of the 0.9.0 dump (sharing kept); a restore
# of D2 gives D2 exactly.
shared_round_trip() {
	local img=$1 a1x a09
	"$TD" -o "$d/d1.xml" "$img"
	"$TD" --compat=0.9 -o "$d/o09.xml" "$img"
	grep -q '^  <def name=' "$d/d1.xml"
	new_out "$d/r.img"
	restore 0 "$d/d1.xml" "$d/r.img"
	[ -z "$stderr" ]
	"$TD" -o "$d/d2.xml" "$d/r.img"
	xml_canon_defs "$d/d1.xml" >"$d/d1c.xml"
	xml_canon_defs "$d/d2.xml" >"$d/d2c.xml"
	same_file "$d/d1c.xml" "$d/d2c.xml"
	run -0 "$DEB_BIN/thin_check" "$d/r.img"
	run -0 "$TC" "$d/r.img"
	"$DEB_BIN/thin_dump" "$d/r.img" >"$d/deb.xml"
	same_file "$d/deb.xml" "$d/o09.xml"
	"$TD" --compat=0.9 -o "$d/r09dump.xml" "$d/r.img"
	same_file "$d/r09dump.xml" "$d/o09.xml"
	# the same pool from its 0.9.0 dump: every device in full
	new_out "$d/r09.img"
	restore 0 "$d/o09.xml" "$d/r09.img"
	"$TD" --compat=0.9 -o "$d/r09.xml" "$d/r09.img"
	same_file "$d/r09.xml" "$d/o09.xml"
	a1x=$(sb_get "$d/r.img" metadata_sm_nr_allocated)
	a09=$(sb_get "$d/r09.img" metadata_sm_nr_allocated)
	if ((a1x * 10 >= a09 * 6)); then
		echo "1.x restore: $a1x metadata blocks, 0.9 restore: $a09" >&2
		return 1
	fi
	no_underfull "$d/r.img"
	# restoring our own dump again: the same dump, def names included
	new_out "$d/r2.img"
	restore 0 "$d/d2.xml" "$d/r2.img"
	"$TD" -o "$d/d3.xml" "$d/r2.img"
	same_file "$d/d3.xml" "$d/d2.xml"
}

@test "shared leaves: snapshot, then a write to the origin: restored with the leaves shared" {
	local img
	img=$(mkimg large-device.xml)
	"$MK_THIN_SNAP" "$img" snap 8 7
	"$MK_THIN_SNAP" "$img" write 7 3 >/dev/null
	shared_round_trip "$img"
	[ "$(grep -c '^    <ref name=' "$d/d2.xml")" = 2 ]
}

@test "shared leaves: snapshot of a snapshot: restored with the leaves shared by all three" {
	local img
	img=$(mkimg large-device.xml)
	"$MK_THIN_SNAP" "$img" snap 8 7
	"$MK_THIN_SNAP" "$img" write 7 3 >/dev/null
	"$MK_THIN_SNAP" "$img" snap 9 8
	shared_round_trip "$img"
	[ "$(grep -c '^  <def name=' "$d/d2.xml")" = 2 ]
	[ "$(grep -c '^    <ref name=' "$d/d2.xml")" = 5 ]
}

@test "shared leaves: snapshot without writes: the devices share one tree of leaves" {
	local img
	img=$(mkimg large-device.xml)
	"$MK_THIN_SNAP" "$img" snap 8 7
	shared_round_trip "$img"
	[ "$(xml_kinds 7 "$d/d2.xml")" = "$(xml_kinds 8 "$d/d2.xml")" ]
}

@test "a def that no device refers to, and an empty def, are accepted" {
	cat >"$d/x.xml" <<EOF
$SB
  <def name="5">
    <range_mapping origin_begin="0" data_begin="0" length="3" time="0"/>
  </def>
  <def name="6">
  </def>
$DEV1
    <ref name="6"/>
    <single_mapping origin_block="7" data_block="7" time="0"/>
  </device>
</superblock>
EOF
	accept "$d/x.xml"
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/ok.img"
	[ "$(sed -n 2,4p "$d/09.xml")" = '  <device dev_id="1" mapped_blocks="1" transaction="0" creation_time="0" snap_time="0">
    <single_mapping origin_block="7" data_block="7" time="0"/>
  </device>' ]
}

@test "a def's mappings between a device's own: every block where it belongs" {
	cat >"$d/x.xml" <<EOF
$SB
  <def name="5">
    <range_mapping origin_begin="10" data_begin="0" length="5" time="0"/>
  </def>
$DEV1
    <single_mapping origin_block="9" data_block="50" time="0"/>
    <ref name="5"/>
    <single_mapping origin_block="15" data_block="51" time="1"/>
  </device>
$DEV2
    <ref name="5"/>
  </device>
</superblock>
EOF
	new_out "$d/o.img" 1M
	restore 0 "$d/x.xml" "$d/o.img"
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/o.img"
	xml_blocks "$d/09.xml" >"$d/blocks"
	[ "$(cat "$d/blocks")" = "1 9 50 0
1 10 0 0
1 11 1 0
1 12 2 0
1 13 3 0
1 14 4 0
1 15 51 1
2 10 0 0
2 11 1 0
2 12 2 0
2 13 3 0
2 14 4 0" ]
	grep -qF '<device dev_id="1" mapped_blocks="7" ' "$d/09.xml"
	grep -qF '<device dev_id="2" mapped_blocks="5" ' "$d/09.xml"
	run -0 "$TC" -q "$d/o.img"
}

@test "a small def or a few own mappings next to a ref: every non-root leaf at least a third full" {
	# the input of the previous test
	cat >"$d/x.xml" <<EOF
$SB
  <def name="5">
    <range_mapping origin_begin="10" data_begin="0" length="5" time="0"/>
  </def>
$DEV1
    <single_mapping origin_block="9" data_block="50" time="0"/>
    <ref name="5"/>
    <single_mapping origin_block="15" data_block="51" time="1"/>
  </device>
$DEV2
    <ref name="5"/>
  </device>
</superblock>
EOF
	accept "$d/x.xml"
	no_underfull "$d/ok.img"
}

# ---------------------------------------------------------------------------
# generated pools (bench/gen_xml): restored and dumped back byte for byte

gen_round_trip() {
	local gen
	gen=$(gen_xml_bin) || skip "cannot build bench/gen_xml.c (no cc?)"
	"$gen" --seed "$1" --devices 4 --mappings 30000 --snapshots 2 -o "$d/g.xml"
	new_out "$d/g.img" 16M
	restore 0 "$d/g.xml" "$d/g.img"
	[ -z "$stderr" ]
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/g.img"
	same_file "$d/09.xml" "$d/g.xml"
	run -0 "$DEB_BIN/thin_check" "$d/g.img"
	run -0 "$TC" -q "$d/g.img"
}

@test "generated pool, seed 1: round trip" {
	gen_round_trip 1
}

@test "generated pool, seed 2: round trip" {
	gen_round_trip 2
}

@test "generated pool, seed 3: round trip" {
	gen_round_trip 3
}

@test "memory: a 2M-mapping restore stays under 40 MiB peak RSS" {
	local gen rss
	[ -x /usr/bin/time ] || skip "/usr/bin/time is not installed"
	gen=$(gen_xml_bin) || skip "cannot build bench/gen_xml.c (no cc?)"
	"$gen" --seed 7 --devices 4 --mappings 2000000 --snapshots 2 -o "$d/big.xml"
	new_out "$d/big.img" 256M
	/usr/bin/time -f %M -o "$d/rss" "$TR" -i "$d/big.xml" -o "$d/big.img"
	rss=$(tail -n 1 "$d/rss")
	echo "peak RSS: $rss KiB" >&2
	((rss < 40 * 1024))
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/big.img"
	same_file "$d/09.xml" "$d/big.xml"
	run -0 "$DEB_BIN/thin_check" -q "$d/big.img"
}

# ---------------------------------------------------------------------------
# rejected XML: status 64, "INPUT:LINE:COLUMN: MESSAGE", block 0 all zero

@test "empty document, only a declaration, only a comment: no element found" {
	: >"$d/empty.xml"
	reject "$d/empty.xml" 1:1 "no element found"
	printf '<?xml version="1.0"?>\n' >"$d/decl.xml"
	reject "$d/decl.xml" 2:1 "no element found"
	printf '<!-- nothing -->\n  \n' >"$d/comment.xml"
	reject "$d/comment.xml" "$(xml_end_pos "$d/comment.xml")" "no element found"
	[ "$(xml_end_pos "$d/comment.xml")" = 3:1 ]
}

@test "a root element other than superblock: unknown element" {
	printf '<foo/>\n' >"$d/foo.xml"
	reject "$d/foo.xml" 1:1 "unknown element <foo>"
	cat >"$d/x.xml" <<EOF
<?xml version="1.0"?>
<superblocks>
$SB
</superblock>
</superblocks>
EOF
	reject "$d/x.xml" 2:1 "unknown element <superblocks>"
	cat >"$d/dev.xml" <<EOF
$DEV1
  </device>
EOF
	reject "$d/dev.xml" 1:3 "<device> outside the <superblock>"
}

@test "unknown elements inside the superblock, a device and a def" {
	cat >"$d/a.xml" <<EOF
$SB
  <foo/>
</superblock>
EOF
	reject "$d/a.xml" "$(xml_pos "$d/a.xml" '<foo')" "unknown element <foo>"
	[ "$(xml_pos "$d/a.xml" '<foo')" = 2:3 ]
	cat >"$d/b.xml" <<EOF
$SB
$DEV1
    <single_mapping origin_block="0" data_block="0" time="0"/>
    <mapping origin_block="1" data_block="1" time="0"/>
  </device>
</superblock>
EOF
	reject "$d/b.xml" "$(xml_pos "$d/b.xml" '<mapping')" "unknown element <mapping>"
	cat >"$d/c.xml" <<EOF
$SB
  <def name="3">
    <range origin_begin="0" data_begin="0" length="2" time="0"/>
  </def>
</superblock>
EOF
	reject "$d/c.xml" "$(xml_pos "$d/c.xml" '<range ')" "unknown element <range>"
}

@test "unknown attributes" {
	cat >"$d/a.xml" <<EOF
<superblock uuid="" time="1" transaction="2" colour="red" data_block_size="128" nr_data_blocks="100">
</superblock>
EOF
	reject "$d/a.xml" 1:1 "unknown attribute 'colour' in <superblock>"
	cat >"$d/b.xml" <<EOF
$SB
  <device dev_id="1" mapped_blocks="0" transaction="0" creation_time="0" snap_time="0" bar="x">
  </device>
</superblock>
EOF
	reject "$d/b.xml" "$(xml_pos "$d/b.xml" '<device')" "unknown attribute 'bar' in <device>"
	cat >"$d/c.xml" <<EOF
$SB
$DEV1
    <range_mapping origin_begin="0" data_begin="0" length="2" time="0" flags="1"/>
  </device>
</superblock>
EOF
	reject "$d/c.xml" "$(xml_pos "$d/c.xml" '<range_mapping')" "unknown attribute 'flags' in <range_mapping>"
	cat >"$d/d.xml" <<EOF
$SB
$DEV1
    <single_mapping origin_block="0" data_begin="0" time="0"/>
  </device>
</superblock>
EOF
	reject "$d/d.xml" "$(xml_pos "$d/d.xml" '<single_mapping')" "unknown attribute 'data_begin' in <single_mapping>"
	cat >"$d/e.xml" <<EOF
$SB
  <def name="1" size="2">
  </def>
</superblock>
EOF
	reject "$d/e.xml" "$(xml_pos "$d/e.xml" '<def')" "unknown attribute 'size' in <def>"
	cat >"$d/f.xml" <<EOF
$SB
  <def name="1">
  </def>
$DEV1
    <ref name="1" id="2"/>
  </device>
</superblock>
EOF
	reject "$d/f.xml" "$(xml_pos "$d/f.xml" '<ref')" "unknown attribute 'id' in <ref>"
}

@test "missing attributes" {
	cat >"$d/a.xml" <<EOF
<superblock uuid="" time="1" transaction="2" flags="0" version="2" data_block_size="128">
</superblock>
EOF
	reject "$d/a.xml" 1:1 "<superblock> is missing attribute 'nr_data_blocks'"
	cat >"$d/b.xml" <<EOF
$SB
  <device mapped_blocks="0" transaction="0" creation_time="0" snap_time="0">
  </device>
</superblock>
EOF
	reject "$d/b.xml" "$(xml_pos "$d/b.xml" '<device')" "<device> is missing attribute 'dev_id'"
	cat >"$d/c.xml" <<EOF
$SB
  <device dev_id="1" mapped_blocks="0" transaction="0" creation_time="0">
  </device>
</superblock>
EOF
	reject "$d/c.xml" "$(xml_pos "$d/c.xml" '<device')" "<device> is missing attribute 'snap_time'"
	cat >"$d/d.xml" <<EOF
$SB
$DEV1
    <range_mapping origin_begin="0" data_begin="0" time="0"/>
  </device>
</superblock>
EOF
	reject "$d/d.xml" "$(xml_pos "$d/d.xml" '<range_mapping')" "<range_mapping> is missing attribute 'length'"
	cat >"$d/e.xml" <<EOF
$SB
$DEV1
    <single_mapping origin_block="0" data_block="0"/>
  </device>
</superblock>
EOF
	reject "$d/e.xml" "$(xml_pos "$d/e.xml" '<single_mapping')" "<single_mapping> is missing attribute 'time'"
	cat >"$d/f.xml" <<EOF
$SB
  <def>
  </def>
</superblock>
EOF
	reject "$d/f.xml" "$(xml_pos "$d/f.xml" '<def')" "<def> is missing attribute 'name'"
	cat >"$d/g.xml" <<EOF
$SB
$DEV1
    <ref/>
  </device>
</superblock>
EOF
	reject "$d/g.xml" "$(xml_pos "$d/g.xml" '<ref')" "<ref> is missing attribute 'name'"
}

@test "attributes that are not numbers" {
	local v
	for v in x1 "" -1 +1 0x10 1.5 " 1" "1 "; do
		cat >"$d/a.xml" <<EOF
$SB
  <device dev_id="$v" mapped_blocks="0" transaction="0" creation_time="0" snap_time="0">
  </device>
</superblock>
EOF
		reject "$d/a.xml" 2:3 "attribute 'dev_id' of <device> is not a number: '$v'"
	done
	sed '1s/ time="[0-9]*"/ time="soon"/' "$TS_XML/one-device.xml" >"$d/b.xml"
	reject "$d/b.xml" 1:1 "attribute 'time' of <superblock> is not a number: 'soon'"
	cat >"$d/c.xml" <<EOF
$SB
$DEV1
    <range_mapping origin_begin="0" data_begin="zero" length="2" time="0"/>
  </device>
</superblock>
EOF
	reject "$d/c.xml" 3:5 "attribute 'data_begin' of <range_mapping> is not a number: 'zero'"
	cat >"$d/d.xml" <<EOF
$SB
  <def name="x">
  </def>
</superblock>
EOF
	reject "$d/d.xml" 2:3 "attribute 'name' of <def> is not a number: 'x'"
}

@test "numbers too large for their field" {
	cat >"$d/a.xml" <<EOF
$SB
  <device dev_id="18446744073709551616" mapped_blocks="0" transaction="0" creation_time="0" snap_time="0">
  </device>
</superblock>
EOF
	reject "$d/a.xml" 2:3 "attribute 'dev_id' of <device> is too large: '18446744073709551616'"
	cat >"$d/b.xml" <<EOF
$SB
  <device dev_id="1" mapped_blocks="0" transaction="0" creation_time="4294967296" snap_time="0">
  </device>
</superblock>
EOF
	reject "$d/b.xml" 2:3 "attribute 'creation_time' of <device> is too large: '4294967296'"
	sed '1s/time="1"/time="4294967296"/' "$d/b.xml" >"$d/c.xml"
	reject "$d/c.xml" 1:1 "attribute 'time' of <superblock> is too large: '4294967296'"
	sed '1s/data_block_size="128"/data_block_size="4294967424"/' "$TS_XML/one-device.xml" >"$d/e.xml"
	reject "$d/e.xml" 1:1 "attribute 'data_block_size' of <superblock> is too large: '4294967424'"
	cat >"$d/f.xml" <<EOF
$SB
$DEV1
    <single_mapping origin_block="0" data_block="0" time="4294967296"/>
  </device>
</superblock>
EOF
	reject "$d/f.xml" 3:5 "attribute 'time' of <single_mapping> is too large: '4294967296'"
	cat >"$d/g.xml" <<EOF
$SB
$DEV1
    <range_mapping origin_begin="99999999999999999999" data_begin="0" length="1" time="0"/>
  </device>
</superblock>
EOF
	reject "$d/g.xml" 3:5 "attribute 'origin_begin' of <range_mapping> is too large: '99999999999999999999'"
}

@test "mapping times must fit in 24 bits" {
	cat >"$d/a.xml" <<EOF
$SB
$DEV1
    <single_mapping origin_block="0" data_block="0" time="16777215"/>
    <range_mapping origin_begin="1" data_begin="1" length="3" time="16777216"/>
  </device>
</superblock>
EOF
	reject "$d/a.xml" "$(xml_pos "$d/a.xml" '<range_mapping')" "mapping time 16777216 does not fit in 24 bits"
	[ "$(xml_pos "$d/a.xml" '<range_mapping')" = 4:5 ]
	sed '/range_mapping/d' "$d/a.xml" >"$d/b.xml"
	accept "$d/b.xml"
}

@test "data_block_size: a multiple of 128 from 128 to 2097152" {
	local v
	for v in 0 64 127 130 192 1000 2097280 4194304; do
		sed "1s/data_block_size=\"128\"/data_block_size=\"$v\"/" "$TS_XML/one-device.xml" >"$d/a.xml"
		reject "$d/a.xml" 1:1 "data_block_size $v is not a multiple of 128 between 128 and 2097152"
	done
	# after a declaration the superblock is on line 2
	{
		echo '<?xml version="1.0"?>'
		cat "$d/a.xml"
	} >"$d/b.xml"
	reject "$d/b.xml" 2:1 "data_block_size 4194304 is not a multiple of 128 between 128 and 2097152"
	for v in 128 256 384 1048576 2097152; do
		sed "1s/data_block_size=\"128\"/data_block_size=\"$v\"/" "$TS_XML/one-device.xml" >"$d/a.xml"
		accept "$d/a.xml"
		[ "$(sb_get "$d/ok.img" data_block_size)" = "$v" ]
	done
}

@test "a superblock inside the superblock" {
	cat >"$d/a.xml" <<EOF
$SB
  $SB
  </superblock>
</superblock>
EOF
	reject "$d/a.xml" 2:3 "<superblock> inside <superblock>"
	cat >"$d/b.xml" <<EOF
$SB
$DEV1
    $SB
    </superblock>
  </device>
</superblock>
EOF
	reject "$d/b.xml" "$(xml_pos "$d/b.xml" '<superblock' 2)" "<superblock> inside <device>"
}

@test "a second superblock after the first: expat's junk-after-document error, status 64" {
	cat >"$d/a.xml" <<EOF
$SB
</superblock>
$SB
</superblock>
EOF
	valid_copy "$d/out.img"
	restore 64 "$d/a.xml" "$d/out.img"
	[ "$stderr" = "$d/a.xml:$(xml_pos "$d/a.xml" '<superblock' 2): junk after document element" ]
	[ "$(xml_pos "$d/a.xml" '<superblock' 2)" = 3:1 ]
}

@test "anything after </superblock> (second superblock, text, a cut tag): block 0 stays zero" {
	cat >"$d/a.xml" <<EOF
$SB
</superblock>
$SB
</superblock>
EOF
	reject "$d/a.xml" 3:1 "junk after document element"
	printf '%s\n</superblock>\nxyz\n' "$SB" >"$d/b.xml"
	reject "$d/b.xml" 3:1 "junk after document element"
	printf '%s\n</superblock>\n<' "$SB" >"$d/c.xml"
	reject "$d/c.xml" 3:1 "unclosed token"
}

@test "duplicate dev_id" {
	cat >"$d/a.xml" <<EOF
$SB
$DEV1
    <single_mapping origin_block="0" data_block="0" time="0"/>
  </device>
$DEV2
  </device>
$DEV1
  </device>
</superblock>
EOF
	reject "$d/a.xml" "$(xml_pos "$d/a.xml" '<device dev_id="1"' 2)" "duplicate dev_id 1"
	[ "$(xml_pos "$d/a.xml" '<device dev_id="1"' 2)" = 7:3 ]
}

@test "duplicate def" {
	cat >"$d/a.xml" <<EOF
$SB
  <def name="5">
  </def>
  <def name="5">
  </def>
</superblock>
EOF
	reject "$d/a.xml" "$(xml_pos "$d/a.xml" '<def' 2)" "duplicate def '5'"
}

@test "overlapping and out-of-order mappings in one device" {
	cat >"$d/a.xml" <<EOF
$SB
$DEV1
    <range_mapping origin_begin="0" data_begin="0" length="10" time="0"/>
    <single_mapping origin_block="5" data_block="20" time="0"/>
  </device>
</superblock>
EOF
	reject "$d/a.xml" "$(xml_pos "$d/a.xml" '<single_mapping')" "mapping of block 5 overlaps or comes before earlier mappings (which reach 9)"
	cat >"$d/b.xml" <<EOF
$SB
$DEV1
    <single_mapping origin_block="5" data_block="20" time="0"/>
    <single_mapping origin_block="4" data_block="21" time="0"/>
  </device>
</superblock>
EOF
	reject "$d/b.xml" "$(xml_pos "$d/b.xml" '<single_mapping' 2)" "mapping of block 4 overlaps or comes before earlier mappings (which reach 5)"
	sed 's/origin_block="4"/origin_block="5"/' "$d/b.xml" >"$d/c.xml"
	reject "$d/c.xml" 4:5 "mapping of block 5 overlaps or comes before earlier mappings (which reach 5)"
	cat >"$d/d.xml" <<EOF
$SB
$DEV1
    <range_mapping origin_begin="10" data_begin="0" length="10" time="0"/>
    <range_mapping origin_begin="5" data_begin="20" length="10" time="0"/>
  </device>
</superblock>
EOF
	reject "$d/d.xml" 4:5 "mapping of block 5 overlaps or comes before earlier mappings (which reach 19)"
	# the same blocks in two devices are fine
	cat >"$d/e.xml" <<EOF
$SB
$DEV1
    <range_mapping origin_begin="0" data_begin="0" length="10" time="0"/>
  </device>
$DEV2
    <range_mapping origin_begin="0" data_begin="10" length="10" time="0"/>
  </device>
</superblock>
EOF
	accept "$d/e.xml"
}

@test "overlapping mappings in a def, and a def that overlaps a device's mappings" {
	cat >"$d/a.xml" <<EOF
$SB
  <def name="5">
    <range_mapping origin_begin="10" data_begin="0" length="5" time="0"/>
    <single_mapping origin_block="12" data_block="20" time="0"/>
  </def>
</superblock>
EOF
	reject "$d/a.xml" 4:5 "mapping of block 12 overlaps or comes before earlier mappings (which reach 14)"
	cat >"$d/b.xml" <<EOF
$SB
  <def name="5">
    <range_mapping origin_begin="10" data_begin="0" length="5" time="0"/>
  </def>
$DEV1
    <single_mapping origin_block="10" data_block="50" time="0"/>
    <ref name="5"/>
  </device>
</superblock>
EOF
	reject "$d/b.xml" "$(xml_pos "$d/b.xml" '<ref')" "def '5' starts at block 10, overlapping or before earlier mappings of this device (which reach 10)"
	cat >"$d/c.xml" <<EOF
$SB
  <def name="5">
    <range_mapping origin_begin="10" data_begin="0" length="5" time="0"/>
  </def>
$DEV1
    <ref name="5"/>
    <single_mapping origin_block="14" data_block="51" time="0"/>
  </device>
</superblock>
EOF
	reject "$d/c.xml" "$(xml_pos "$d/c.xml" '<single_mapping')" "mapping of block 14 overlaps or comes before earlier mappings (which reach 14)"
	cat >"$d/d.xml" <<EOF
$SB
  <def name="5">
    <range_mapping origin_begin="10" data_begin="0" length="5" time="0"/>
  </def>
$DEV1
    <ref name="5"/>
    <ref name="5"/>
  </device>
</superblock>
EOF
	reject "$d/d.xml" "$(xml_pos "$d/d.xml" '<ref' 2)" "def '5' starts at block 10, overlapping or before earlier mappings of this device (which reach 14)"
}

@test "mappings beyond nr_data_blocks" {
	cat >"$d/a.xml" <<EOF
$SB
$DEV1
    <single_mapping origin_block="0" data_block="99" time="0"/>
    <single_mapping origin_block="1" data_block="100" time="0"/>
  </device>
</superblock>
EOF
	reject "$d/a.xml" 4:5 "mapping to data blocks 100..100, beyond the end of the data device (nr_data_blocks 100)"
	cat >"$d/b.xml" <<EOF
$SB
  <def name="1">
    <range_mapping origin_begin="5" data_begin="95" length="6" time="0"/>
  </def>
</superblock>
EOF
	reject "$d/b.xml" 3:5 "mapping to data blocks 95..100, beyond the end of the data device (nr_data_blocks 100)"
	sed 's/length="6"/length="5"/' "$d/b.xml" >"$d/c.xml"
	accept "$d/c.xml"
}

@test "mappings of length 0 or past the largest block number" {
	cat >"$d/a.xml" <<EOF
$SB
$DEV1
    <range_mapping origin_begin="5" data_begin="5" length="0" time="0"/>
  </device>
</superblock>
EOF
	reject "$d/a.xml" 3:5 "mapping of length 0"
	cat >"$d/b.xml" <<EOF
$SB
$DEV1
    <range_mapping origin_begin="18446744073709551615" data_begin="1" length="2" time="0"/>
  </device>
</superblock>
EOF
	reject "$d/b.xml" 3:5 "mapping runs past the largest block number"
}

@test "ref to an unknown def, or to a def that comes later" {
	cat >"$d/a.xml" <<EOF
$SB
$DEV1
    <ref name="5"/>
  </device>
</superblock>
EOF
	reject "$d/a.xml" 3:5 "ref to unknown def '5'"
	cat >"$d/b.xml" <<EOF
$SB
$DEV1
    <ref name="5"/>
  </device>
  <def name="5">
    <single_mapping origin_block="0" data_block="0" time="0"/>
  </def>
</superblock>
EOF
	reject "$d/b.xml" 3:5 "ref to unknown def '5'"
}

@test "elements in the wrong place: nesting of defs and devices" {
	cat >"$d/a.xml" <<EOF
$SB
  <def name="5">
    <def name="6">
    </def>
  </def>
</superblock>
EOF
	reject "$d/a.xml" "$(xml_pos "$d/a.xml" '<def name="6"')" "<def> inside <def>"
	cat >"$d/b.xml" <<EOF
$SB
  <def name="5">
  $DEV1
    </device>
  </def>
</superblock>
EOF
	reject "$d/b.xml" "$(xml_pos "$d/b.xml" '<device')" "<device> inside <def>"
	cat >"$d/c.xml" <<EOF
$SB
$DEV1
    <def name="5">
    </def>
  </device>
</superblock>
EOF
	reject "$d/c.xml" 3:5 "<def> inside <device>"
	cat >"$d/d.xml" <<EOF
$SB
$DEV1
  $DEV2
    </device>
  </device>
</superblock>
EOF
	reject "$d/d.xml" "$(xml_pos "$d/d.xml" '<device' 2)" "<device> inside <device>"
	cat >"$d/e.xml" <<EOF
$SB
  <def name="5">
    <ref name="5"/>
  </def>
</superblock>
EOF
	reject "$d/e.xml" 3:5 "<ref> inside <def>"
}

@test "mappings and refs outside a device" {
	cat >"$d/a.xml" <<EOF
$SB
  <single_mapping origin_block="1" data_block="1" time="0"/>
</superblock>
EOF
	reject "$d/a.xml" 2:3 "<single_mapping> inside <superblock>"
	cat >"$d/b.xml" <<EOF
$SB
$DEV1
  </device>
  <range_mapping origin_begin="1" data_begin="1" length="2" time="0"/>
</superblock>
EOF
	reject "$d/b.xml" 4:3 "<range_mapping> inside <superblock>"
	cat >"$d/c.xml" <<EOF
$SB
  <def name="5">
  </def>
  <ref name="5"/>
</superblock>
EOF
	reject "$d/c.xml" 4:3 "<ref> inside <superblock>"
}

@test "mappings and refs nested inside a mapping element" {
	cat >"$d/a.xml" <<EOF
$SB
$DEV1
    <single_mapping origin_block="1" data_block="1" time="0">
      <single_mapping origin_block="2" data_block="2" time="0"/>
    </single_mapping>
  </device>
</superblock>
EOF
	reject "$d/a.xml" 4:7 "<single_mapping> inside <single_mapping>"
}

@test "a truncated file: expat's message and position" {
	local xml=$TS_XML/large-device.xml n
	# cut in the middle of a tag
	n=$(($(stat -c %s "$xml") / 2))
	head -c "$n" "$xml" >"$d/cut.xml"
	[ "$(tail -c 1 "$d/cut.xml")" != ">" ]
	reject "$d/cut.xml" "$(xml_pos "$d/cut.xml" '<' "$(nr_lt "$d/cut.xml")")" "unclosed token"
	# cut inside an attribute value of the superblock
	head -c 40 "$xml" >"$d/cut2.xml"
	reject "$d/cut2.xml" 1:1 "unclosed token"
	# cut at the end of a line: the document just stops
	head -n 5000 "$xml" >"$d/cut3.xml"
	reject "$d/cut3.xml" 5001:1 "no element found"
	# ... and without the newline
	head -n 5000 "$xml" | head -c -1 >"$d/cut4.xml"
	reject "$d/cut4.xml" "$(xml_end_pos "$d/cut4.xml")" "no element found"
	[ "$(xml_end_pos "$d/cut4.xml")" = "5000:$(($(sed -n 5000p "$xml" | wc -c)))" ]
	# the whole file but the final tag
	head -n -1 "$xml" >"$d/cut5.xml"
	reject "$d/cut5.xml" "$(xml_end_pos "$d/cut5.xml")" "no element found"
}

@test "a mismatched end tag: expat's message, at the tag's name" {
	cat >"$d/a.xml" <<EOF
$SB
$DEV1
  </def>
</superblock>
EOF
	# expat points at the name, just after "</"
	reject "$d/a.xml" "$(xml_pos "$d/a.xml" 'def>')" "mismatched tag"
	[ "$(xml_pos "$d/a.xml" 'def>')" = 3:5 ]
}

@test "text between elements" {
	cat >"$d/a.xml" <<EOF
$SB
${DEV1}oops
  </device>
</superblock>
EOF
	reject "$d/a.xml" "$(xml_pos "$d/a.xml" oops)" "unexpected text 'oops'"
	# at most 20 characters of it
	cat >"$d/b.xml" <<EOF
$SB
  <def name="1">abcdefghijklmnopqrstuvwxyz</def>
</superblock>
EOF
	reject "$d/b.xml" "$(xml_pos "$d/b.xml" abc)" "unexpected text 'abcdefghijklmnopqrst'"
	# text on a line of its own: the position is where the text node
	# starts on that line (its leading blanks included)
	cat >"$d/c.xml" <<EOF
$SB
  hello
</superblock>
EOF
	reject "$d/c.xml" 2:1 "unexpected text 'hello'"
	# blanks, tabs and CRLF line ends are fine
	printf '%s\r\n\t<!-- x -->  \r\n</superblock>\r\n' "$SB" >"$d/d.xml"
	accept "$d/d.xml"
}

@test "uuid longer than 16 bytes" {
	sed '1s/uuid=""/uuid="0123456789abcdefg"/' "$TS_XML/one-device.xml" >"$d/a.xml"
	reject "$d/a.xml" 1:1 "uuid is longer than 16 bytes"
}

@test "nr_data_blocks beyond 2^40, or needing more bitmaps than the output has blocks" {
	sed '1s/nr_data_blocks="4096"/nr_data_blocks="1099511627777"/' "$TS_XML/one-device.xml" >"$d/a.xml"
	reject "$d/a.xml" 1:1 "nr_data_blocks 1099511627777 exceeds 2^40"
	# 200000000 blocks: 12255 bitmaps of 16320 entries; 1 MiB holds 256 blocks
	sed '1s/nr_data_blocks="4096"/nr_data_blocks="200000000"/' "$TS_XML/one-device.xml" >"$d/b.xml"
	reject "$d/b.xml" 1:1 "nr_data_blocks 200000000 needs 12255 space-map bitmaps, more than the output's 256 metadata blocks"
}

@test "metadata too large for the output: how many blocks it needs" {
	local need
	# what the pool takes when there is room
	new_out "$d/big.img"
	restore 0 "$TS_XML/large-device.xml" "$d/big.img"
	need=$(sb_get "$d/big.img" metadata_sm_nr_allocated)
	((need > 12))
	# 48 KiB: 12 blocks
	valid_copy "$d/out.img"
	truncate -s 48K "$d/out.img"
	restore 64 "$TS_XML/large-device.xml" "$d/out.img"
	[ "$stderr" = "$d/out.img: the metadata needs $need blocks ($((need * 4096)) bytes), the output has room for 12" ]
	block0_zero "$d/out.img"
	# the smallest output accepted, 40960 bytes, for a pool that needs 14
	new_out "$d/big.img"
	restore 0 "$TS_XML/one-device.xml" "$d/big.img"
	need=$(sb_get "$d/big.img" metadata_sm_nr_allocated)
	((need > 10))
	new_out "$d/small.img" 40960
	restore 64 "$TS_XML/one-device.xml" "$d/small.img"
	[ "$stderr" = "$d/small.img: the metadata needs $need blocks ($((need * 4096)) bytes), the output has room for 10" ]
	block0_zero "$d/small.img"
}

@test "a rejected restore onto a valid pool: neither thin_check accepts the output any more" {
	new_out "$d/out.img" 1M
	restore 0 "$TS_XML/snapshots.xml" "$d/out.img"
	run -0 "$DEB_BIN/thin_check" -q "$d/out.img"
	run -0 "$TC" -q "$d/out.img"
	sed '$d' "$TS_XML/snapshots.xml" >"$d/cut.xml"
	restore 64 "$d/cut.xml" "$d/out.img"
	[ "$stderr" = "$d/cut.xml:$(xml_end_pos "$d/cut.xml"): no element found" ]
	block0_zero "$d/out.img"
	run -64 "$TC" -q "$d/out.img"
	run ! "$DEB_BIN/thin_check" -q "$d/out.img"
	# and a good restore onto it afterwards works
	restore 0 "$TS_XML/snapshots.xml" "$d/out.img"
	run -0 "$DEB_BIN/thin_check" -q "$d/out.img"
}

# ---------------------------------------------------------------------------
# options

@test "--transaction-id, --data-block-size, --nr-data-blocks replace the XML's values" {
	local xml=$TS_XML/one-device.xml max first
	accept "$xml" --transaction-id 77 --data-block-size 256 --nr-data-blocks 5000
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/ok.img"
	[ "$(head -n 1 "$d/09.xml")" = '<superblock uuid="" time="3" transaction="77" flags="0" version="2" data_block_size="256" nr_data_blocks="5000">' ]
	[ "$(tail -n +2 "$d/09.xml")" = "$(tail -n +2 "$xml")" ]
	# smaller values replace larger ones too (not a maximum)
	[ "$(fixture_attr "$xml" transaction)" = 5 ]
	accept "$xml" --transaction-id 1
	[ "$(sb_get "$d/ok.img" trans_id)" = 1 ]
	# just enough for the highest mapped data block, and one less
	max=$(xml_blocks "$xml" | awk '$3 > m { m = $3 } END { print m }')
	accept "$xml" --nr-data-blocks $((max + 1))
	[ "$(sb_get "$d/ok.img" data_sm_nr_blocks)" = $((max + 1)) ]
	# the first mapping that reaches block max: "LINE:COLUMN FIRST LAST"
	first=$(awk -v nr="$max" '
		function attr(a,   i, r) { i = index($0, " " a "=\""); if (!i) return ""; r = substr($0, i + length(a) + 3); return substr(r, 1, index(r, "\"") - 1) }
		/<range_mapping / { b = attr("data_begin"); e = b + attr("length") - 1 }
		/<single_mapping / { b = attr("data_block"); e = b }
		/_mapping / && e >= nr { print NR ":" index($0, "<") " " b " " e; exit }
		' "$xml")
	# shellcheck disable=SC2086
	set -- $first
	reject "$xml" "$1" \
		"mapping to data blocks $2..$3, beyond the end of the data device (nr_data_blocks $max)" \
		--nr-data-blocks "$max"
	accept "$xml" --data-block-size=128 --transaction-id=0
	[ "$(sb_get "$d/ok.img" trans_id)" = 0 ]
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/ok.img"
	[ "$(tail -n +2 "$d/09.xml")" = "$(tail -n +2 "$xml")" ]
}

@test "overrides are checked like the XML's values" {
	local xml=$TS_XML/one-device.xml
	reject "$xml" 1:1 "data_block_size 100 is not a multiple of 128 between 128 and 2097152" --data-block-size 100
	reject "$xml" 1:1 "data_block_size 8589934592 is not a multiple of 128 between 128 and 2097152" --data-block-size 8589934592
	reject "$xml" "$(xml_pos "$xml" '<range_mapping')" "mapping to data blocks 100..109, beyond the end of the data device (nr_data_blocks 10)" --nr-data-blocks 10
	# a good override makes a bad XML value harmless
	sed '1s/data_block_size="128"/data_block_size="100"/' "$xml" >"$d/a.xml"
	accept "$d/a.xml" --data-block-size 384
	[ "$(sb_get "$d/ok.img" data_block_size)" = 384 ]
}

@test "bad override values: exit 2, the output untouched" {
	local opt v sha
	valid_copy "$d/out.img"
	sha=$(sha_of "$d/out.img")
	for opt in --transaction-id --data-block-size --nr-data-blocks; do
		for v in abc -1 "" 0x10 " 5" 18446744073709551616; do
			tr_run 2 -i "$TS_XML/one-device.xml" -o "$d/out.img" "$opt" "$v"
			[ "$stderr" = "thin_restore: invalid value '$v' for $opt: expected an unsigned integer" ]
			[ -z "$output" ]
			tr_run 2 -q -i "$TS_XML/one-device.xml" -o "$d/out.img" "$opt" "$v"
			[ -z "$stderr" ]
			[ -z "$output" ]
		done
	done
	[ "$(sha_of "$d/out.img")" = "$sha" ]
}

@test "-q: nothing on stdout or stderr, whether the restore works or not" {
	new_out "$d/o.img" 1M
	tr_run 0 -q -i "$TS_XML/one-device.xml" -o "$d/o.img"
	[ -z "$output" ] && [ -z "$stderr" ]
	tr_run 0 --quiet -i "$TS_XML/one-device.xml" -o "$d/o.img"
	[ -z "$output" ] && [ -z "$stderr" ]
	run -0 "$DEB_BIN/thin_check" -q "$d/o.img"
	tr_run 64 -q -i "$d/nope.xml" -o "$d/o.img"
	[ -z "$output" ] && [ -z "$stderr" ]
	tr_run 64 --quiet -i "$TS_XML/one-device.xml" -o "$d/nope.img"
	[ -z "$output" ] && [ -z "$stderr" ]
	new_out "$d/tiny.img" 4096
	tr_run 64 -q -i "$TS_XML/one-device.xml" -o "$d/tiny.img"
	[ -z "$output" ] && [ -z "$stderr" ]
	tr_run 2 -q -i "$TS_XML/one-device.xml"
	[ -z "$output" ] && [ -z "$stderr" ]
	tr_run 2 -q --nosuch
	[ -z "$output" ] && [ -z "$stderr" ]
}

@test "success: no output at all" {
	new_out "$d/o.img" 1M
	restore 0 "$TS_XML/snapshots.xml" "$d/o.img"
	[ -z "$stderr" ]
}

@test "long options and the --opt=value form" {
	new_out "$d/a.img" 1M
	new_out "$d/b.img" 1M
	tr_run 0 --input "$TS_XML/one-device.xml" --output "$d/a.img"
	tr_run 0 --input="$TS_XML/one-device.xml" --output="$d/b.img"
	[ "$(sha_of "$d/a.img")" = "$(sha_of "$d/b.img")" ]
	new_out "$d/b.img" 1M
	tr_run 0 -o "$d/b.img" -i "$TS_XML/one-device.xml"
	[ "$(sha_of "$d/a.img")" = "$(sha_of "$d/b.img")" ]
}

@test "output requirements: missing, too small, not a file" {
	local sha
	# missing: not created
	restore 64 "$TS_XML/one-device.xml" "$d/nope.img"
	[ "$stderr" = "Couldn't find output file '$d/nope.img'" ]
	[ ! -e "$d/nope.img" ]
	# under 40960 bytes: left as it was
	head -c 40959 /dev/urandom >"$d/small.img"
	sha=$(sha_of "$d/small.img")
	restore 64 "$TS_XML/empty-pool.xml" "$d/small.img"
	[ "$stderr" = "Output file too small." ]
	[ "$(sha_of "$d/small.img")" = "$sha" ]
	: >"$d/zero.img"
	restore 64 "$TS_XML/empty-pool.xml" "$d/zero.img"
	[ "$stderr" = "Output file too small." ]
	[ ! -s "$d/zero.img" ]
	# exactly 40960: enough for an empty pool
	new_out "$d/min.img" 40960
	restore 0 "$TS_XML/empty-pool.xml" "$d/min.img"
	[ "$(stat -c %s "$d/min.img")" = 40960 ]
	run -0 "$DEB_BIN/thin_check" -q "$d/min.img"
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/min.img"
	same_file "$d/09.xml" "$TS_XML/empty-pool.xml"
	# a directory
	mkdir "$d/dir"
	restore 64 "$TS_XML/one-device.xml" "$d/dir"
	[ "$stderr" = "Not a block device or regular file '$d/dir'." ]
}

@test "the output keeps its size" {
	new_out "$d/o.img" 3M
	restore 0 "$TS_XML/large-device.xml" "$d/o.img"
	[ "$(stat -c %s "$d/o.img")" = $((3 * 1024 * 1024)) ]
}

@test "input requirements: missing, a directory" {
	local sha
	valid_copy "$d/out.img"
	sha=$(sha_of "$d/out.img")
	restore 64 "$d/nope.xml" "$d/out.img"
	[ "$stderr" = "Couldn't find input file '$d/nope.xml'" ]
	[ "$(sha_of "$d/out.img")" = "$sha" ]
	# both missing: the input is named
	restore 64 "$d/nope.xml" "$d/nope.img"
	[ "$stderr" = "Couldn't find input file '$d/nope.xml'" ]
	# a directory opens but cannot be read: no position, block 0 zeroed
	mkdir "$d/dir.xml"
	restore 64 "$d/dir.xml" "$d/out.img"
	[ "$stderr" = "$d/dir.xml: read failed: Is a directory" ]
	block0_zero "$d/out.img"
}

@test "-h and --help: usage on stdout, exit 0" {
	local opt
	for opt in -h --help; do
		tr_run 0 "$opt"
		[ -z "$stderr" ]
		[ "${lines[0]}" = "$USAGE_FIRST" ]
		for o in '{-h|--help}' '{-i|--input} <input xml file>' '{-o|--output} <output device or file>' \
			'{-q|--quiet}' '{--transaction-id} <n>' '{--data-block-size} <sectors>' \
			'{--nr-data-blocks} <n>' '{-V|--version}'; do
			grep -qxF -- "  $o" <<<"$output" ||
				{ echo "usage lacks: $o" >&2; return 1; }
		done
	done
}

@test "-V and --version: exactly 1.0.0" {
	tr_run 0 -V
	[ "$output" = 1.0.0 ] && [ -z "$stderr" ]
	tr_run 0 --version
	[ "$output" = 1.0.0 ] && [ -z "$stderr" ]
}

@test "usage errors: exit 2, message and usage on stderr, the output untouched" {
	local sha
	valid_copy "$d/out.img"
	sha=$(sha_of "$d/out.img")
	tr_run 2 -o "$d/out.img"
	[ "${stderr%%$'\n'*}" = "thin_restore: No input file provided." ]
	has_line "$stderr" "Usage: thin_restore \\[options\\]"
	[ -z "$output" ]
	tr_run 2 -i "$TS_XML/one-device.xml"
	[ "${stderr%%$'\n'*}" = "thin_restore: No output file provided." ]
	has_line "$stderr" "Usage: thin_restore \\[options\\]"
	tr_run 2
	[ "${stderr%%$'\n'*}" = "thin_restore: No input file provided." ]
	tr_run 2 -i "$TS_XML/one-device.xml" -o "$d/out.img" --nosuch
	[ "${stderr%%$'\n'*}" = "thin_restore: unrecognized option '--nosuch'" ]
	tr_run 2 -i "$TS_XML/one-device.xml" -o "$d/out.img" -x
	[ "${stderr%%$'\n'*}" = "thin_restore: unrecognized option '-x'" ]
	tr_run 2 -o "$d/out.img" -i
	[ "${stderr%%$'\n'*}" = "thin_restore: option '-i' requires an argument" ]
	tr_run 2 -i "$TS_XML/one-device.xml" --output
	[ "${stderr%%$'\n'*}" = "thin_restore: option '--output' requires an argument" ]
	tr_run 2 -i "$TS_XML/one-device.xml" -o "$d/out.img" --transaction-id
	[ "${stderr%%$'\n'*}" = "thin_restore: option '--transaction-id' requires an argument" ]
	tr_run 2 -i "$TS_XML/one-device.xml" -o "$d/out.img" extra
	[ "${stderr%%$'\n'*}" = "thin_restore: unexpected argument 'extra'" ]
	[ -z "$output" ]
	[ "$(sha_of "$d/out.img")" = "$sha" ]
}

@test "multi-call: thinsnap thin_restore ... works like thin_restore" {
	new_out "$d/a.img" 1M
	new_out "$d/b.img" 1M
	restore 0 "$TS_XML/snapshots.xml" "$d/a.img"
	run -0 --separate-stderr "$THINSNAP" thin_restore -i "$TS_XML/snapshots.xml" -o "$d/b.img"
	[ -z "$output" ] && [ -z "$stderr" ]
	[ "$(sha_of "$d/a.img")" = "$(sha_of "$d/b.img")" ]
	run -0 "$THINSNAP" thin_restore -V
	[ "$output" = 1.0.0 ]
}

# ---------------------------------------------------------------------------
# crash safety: block 0 is zeroed (and synced) before anything else is
# written, the superblock written last, after everything else is synced

# out_events LOG OUT: the writes and syncs strace logged for the file OUT,
# one a line: "W LENGTH OFFSET" or "S"; "?" for a write of another kind
out_events() {
	local fd
	fd=$(sed -n "s|^openat(AT_FDCWD, \"$2\", [^)]*) = \\([0-9][0-9]*\\)\$|\\1|p" "$1" | tail -n 1)
	[ -n "$fd" ] || { echo "out_events: $2 not opened in $1" >&2; return 1; }
	awk -v fd="$fd" '
	index($0, "pwrite64(" fd ", ") == 1 {
		s = $0; sub(/\) *= *-?[0-9]+$/, "", s)
		n = split(s, a, ", ")
		print "W " a[n - 1] " " a[n]
		next
	}
	$0 ~ "^(fdatasync|fsync)\\(" fd "\\) += 0$" { print "S"; next }
	index($0, "(" fd ", ") && $0 ~ /^(write|writev|pwritev|pwritev2)\(/ { print "?" }
	' "$1"
}

need_strace() {
	command -v strace >/dev/null 2>&1 || skip "strace is not installed"
	strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here"
}

@test "write order: block 0 zeroed and synced first, the superblock written last after a sync" {
	local ev n
	need_strace
	valid_copy "$d/out.img"
	# LeakSanitizer cannot run under ptrace (make asan)
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	strace -o "$d/log" -e trace=openat,write,writev,pwrite64,pwritev,pwritev2,fdatasync,fsync \
		"$TR" -i "$TS_XML/snapshots.xml" -o "$d/out.img"
	out_events "$d/log" "$d/out.img" >"$d/ev"
	n=$(wc -l <"$d/ev")
	((n >= 6))
	refute grep -qx '?' "$d/ev"
	# first: 4096 zero bytes at offset 0, then a sync
	[ "$(sed -n 1p "$d/ev")" = "W 4096 0" ]
	[ "$(sed -n 2p "$d/ev")" = "S" ]
	grep -m 1 '^pwrite64(' "$d/log" | grep -qF '"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0'
	# last: a sync, the superblock, a sync
	[ "$(tail -n 3 "$d/ev" | tr '\n' ' ')" = "S W 4096 0 S " ]
	# nothing else touches block 0
	[ "$(grep -c ' 0$' "$d/ev")" = 2 ]
	ev=$(sed -n '3,$p' "$d/ev" | head -n -3)
	[ -n "$ev" ]
	# shellcheck disable=SC2016
	refute awk '$1 == "W" && $3 < 4096 { bad = 1 } END { exit !bad }' <<<"$ev"
	run -0 "$DEB_BIN/thin_check" -q "$d/out.img"
}

@test "write order: a rejected restore never writes block 0 after zeroing it" {
	need_strace
	valid_copy "$d/out.img"
	sed '$d' "$TS_XML/large-device.xml" >"$d/cut.xml"
	# LeakSanitizer cannot run under ptrace (make asan)
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	run -64 strace -o "$d/log" -e trace=openat,write,writev,pwrite64,pwritev,pwritev2,fdatasync,fsync \
		"$TR" -i "$d/cut.xml" -o "$d/out.img"
	out_events "$d/log" "$d/out.img" >"$d/ev"
	[ "$(sed -n 1p "$d/ev")" = "W 4096 0" ]
	[ "$(sed -n 2p "$d/ev")" = "S" ]
	[ "$(grep -c ' 0$' "$d/ev")" = 1 ]
	block0_zero "$d/out.img"
}

@test "interrupted restore (killed while reading its input): block 0 stays zero" {
	local i
	valid_copy "$d/out.img"
	mkfifo "$d/fifo"
	"$TR" -i "$d/fifo" -o "$d/out.img" 3>&- 2>"$d/err" &
	pid=$!
	exec 7>"$d/fifo"
	head -n 5000 "$TS_XML/large-device.xml" >&7
	# the restorer zeroes block 0 before it reads
	for ((i = 0; i < 200; i++)); do
		cmp -s -n 4096 "$d/out.img" /dev/zero && break
		sleep 0.05
	done
	block0_zero "$d/out.img"
	kill -0 "$pid"
	kill -KILL "$pid"
	wait "$pid" || true
	exec 7>&-
	block0_zero "$d/out.img"
	run ! "$DEB_BIN/thin_check" -q "$d/out.img"
}

@test "input that stops early (a pipe closed mid-document): status 64, block 0 zero" {
	local rc=0
	valid_copy "$d/out.img"
	mkfifo "$d/fifo"
	"$TR" -i "$d/fifo" -o "$d/out.img" 3>&- 2>"$d/err" &
	pid=$!
	head -n 5000 "$TS_XML/large-device.xml" >"$d/fifo"
	wait "$pid" || rc=$?
	[ "$rc" = 64 ]
	[ "$(cat "$d/err")" = "$d/fifo:5001:1: no element found" ]
	block0_zero "$d/out.img"
}

# ---------------------------------------------------------------------------
# bash completion (completions/thinsnap)

# comp_setup: source the completion file (without bash-completion's
# _filedir, so that file names come from compgen)
comp_setup() {
	unset -f _filedir 2>/dev/null || true
	# shellcheck disable=SC1091
	source "$TOP/completions/thinsnap"
	compfn=$(complete -p thin_restore | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
	[ -n "$compfn" ]
}

# comp_expect "CANDIDATES" WORD...: completing the command line WORD...
# (cursor at the end of the last word) offers exactly CANDIDATES, in any
# order
comp_expect() {
	local want=$1 got
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	"$compfn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
	# shellcheck disable=SC2086
	want=$(printf '%s\n' $want | sort | tr '\n' ' ')
	if [ "$got" != "$want" ]; then
		echo "completing: $*" >&2
		echo "expected:  [$want]" >&2
		echo "got:       [$got]" >&2
		return 1
	fi
}

@test "completion: registered for thin_restore, every option of -h offered" {
	local opts
	comp_setup
	[ "$(complete -p thin_restore)" = "complete -F $compfn thin_restore" ]
	# the options -h lists, long and short
	opts=$("$TR" -h | grep -oE -- '(--[a-z][a-z-]*|\{-[a-zA-Z]\|)' | tr -d '{|' | sort -u)
	[ "$opts" = "$(printf '%s\n' -h --help -V --version -q --quiet -i --input -o --output \
		--transaction-id --data-block-size --nr-data-blocks | sort -u)" ]
	comp_expect "$opts" thin_restore -
	comp_expect "$opts" thinsnap thin_restore -
	# shellcheck disable=SC2086
	comp_expect "$(printf '%s\n' $opts | grep -- '^--')" thin_restore --
	comp_expect "--input" thin_restore --i
	comp_expect "--output" thin_restore -i x.xml --o
	comp_expect "--transaction-id" thin_restore --t
	comp_expect "--data-block-size" thin_restore --d
	comp_expect "--nr-data-blocks" thin_restore --n
	comp_expect "--quiet" /usr/sbin/thin_restore --q
	comp_expect "--input" thinsnap thin_restore --i
	comp_expect "" thin_restore --nosuch
	comp_expect "" thin_restore --region
}

@test "completion: file names after -i/--input and -o/--output, nothing after the numbers" {
	comp_setup
	mkdir -p "$d/files/sub.d"
	touch "$d/files/pool.xml" "$d/files/pool2.xml" "$d/files/meta.img"
	cd "$d/files"
	comp_expect "pool.xml pool2.xml" thin_restore -i po
	comp_expect "pool.xml pool2.xml" thin_restore --input po
	comp_expect "pool.xml pool2.xml" thin_restore --input = po
	comp_expect "--input=pool.xml --input=pool2.xml" thin_restore --input=po
	comp_expect "meta.img" thin_restore -i pool.xml -o m
	comp_expect "meta.img" thin_restore -i pool.xml --output m
	comp_expect "meta.img" thin_restore --output = m
	comp_expect "meta.img" thinsnap thin_restore -o m
	comp_expect "sub.d" thin_restore -o s
	comp_expect "" thin_restore -i pool.xml -o meta.img --transaction-id ""
	comp_expect "" thin_restore --data-block-size ""
	comp_expect "" thin_restore --nr-data-blocks = ""
	comp_expect "" thin_restore --nr-data-blocks=1
}

# ---------------------------------------------------------------------------
# large inputs: read in pieces on several threads, with exactly the result
# of one pass (which is what a pipe gets: it cannot be read in pieces)

# big_xml SEED OUT: a generated dump of about 12 MB (pieces are 1 MiB)
big_xml() {
	local gen
	gen=$(gen_xml_bin) || skip "cannot build bench/gen_xml.c (no cc?)"
	"$gen" --seed "$1" --devices 3 --mappings 400000 --mean-run 2 \
		--snapshots 1 -o "$2"
	(($(stat -c %s "$2") > 8 * 1024 * 1024))
}

# insert_after XML OFFSET LINE: LINE goes in after the line holding byte
# OFFSET of XML
insert_after() {
	awk -v off="$2" -v ins="$3" '
	{ n += length($0) + 1; print; if (!done && n > off) { print ins; done = 1 } }
	' "$1" >"$1.new" && mv -- "$1.new" "$1"
}

# one_pass XML IMG: restore XML through a pipe (one pass) onto a new IMG;
# stderr (with the pipe's name replaced by XML's) in $one_err
one_pass() {
	new_out "$2" 64M
	one_err=$(timeout 120 "$TR" -i /dev/stdin -o "$2" <"$1" 2>&1 |
		sed "s|^/dev/stdin:|$1:|")
}

@test "a large dump read in pieces gives the bytes of one pass" {
	big_xml 11 "$d/big.xml"
	new_out "$d/pieces.img" 64M
	restore 0 "$d/big.xml" "$d/pieces.img"
	[ -z "$stderr" ]
	one_pass "$d/big.xml" "$d/one.img"
	[ -z "$one_err" ]
	same_file "$d/pieces.img" "$d/one.img"
	"$TD" --compat=0.9 -o "$d/09.xml" "$d/pieces.img"
	same_file "$d/09.xml" "$d/big.xml"
}

@test "a large 1.x dump whose shared leaves span pieces keeps them shared" {
	big_xml 12 "$d/big.xml"
	new_out "$d/a.img" 64M
	restore 0 "$d/big.xml" "$d/a.img"
	"$MK_THIN_SNAP" "$d/a.img" snap 10 1
	"$MK_THIN_SNAP" "$d/a.img" snap 11 2
	"$TD" -o "$d/defs.xml" "$d/a.img"
	# a <def> longer than a piece
	awk '/<def /{s=0} {s += length($0) + 1}
		/<\/def>/{if (s > 2.5 * 1024 * 1024) big=1} END{exit !big}' "$d/defs.xml"
	new_out "$d/pieces.img" 64M
	restore 0 "$d/defs.xml" "$d/pieces.img"
	one_pass "$d/defs.xml" "$d/one.img"
	same_file "$d/pieces.img" "$d/one.img"
	"$TD" -o "$d/again.xml" "$d/pieces.img"
	xml_canon_defs "$d/again.xml" >"$d/again-c.xml"
	xml_canon_defs "$d/defs.xml" >"$d/defs-c.xml"
	same_file "$d/again-c.xml" "$d/defs-c.xml"
}

@test "a comment across a cut between pieces reads as in one pass" {
	big_xml 13 "$d/big.xml"
	insert_after "$d/big.xml" $((4 * 1024 * 1024 - 2000)) '<!--'
	insert_after "$d/big.xml" $((4 * 1024 * 1024 + 2000)) '-->'
	new_out "$d/pieces.img" 64M
	restore 0 "$d/big.xml" "$d/pieces.img"
	one_pass "$d/big.xml" "$d/one.img"
	same_file "$d/pieces.img" "$d/one.img"
}

# late_reject XML POS MESSAGE: rejected with that message (see reject),
# and one pass says exactly the same
late_reject() {
	reject "$1" "$2" "$3"
	one_pass "$1" "$d/one.img"
	[ "$one_err" = "$1:$2: $3" ] || {
		echo "one pass said: $one_err" >&2
		return 1
	}
}

@test "errors deep in a large dump: same message and position as one pass" {
	big_xml 14 "$d/big.xml"
	cp "$d/big.xml" "$d/syntax.xml"
	insert_after "$d/syntax.xml" $((10 * 1024 * 1024 + 5)) \
		'    <single_mapping origin_block="1 data_block="2" time="0"/>'
	# expat stops at the 2, which starts where a name should
	late_reject "$d/syntax.xml" \
		"$(grep -n -- '"1 data_block' "$d/syntax.xml" | cut -d: -f1):49" \
		"not well-formed (invalid token)"
	cp "$d/big.xml" "$d/attr.xml"
	insert_after "$d/attr.xml" $((6 * 1024 * 1024)) \
		'    <single_mapping origin_block="1" data_block="2" time="0" foo="1"/>'
	late_reject "$d/attr.xml" \
		"$(xml_pos "$d/attr.xml" '<single_mapping origin_block="1" data_block="2" time="0" foo')" \
		"unknown attribute 'foo' in <single_mapping>"
	sed -i "s|\(<single_mapping .*foo=\"1\"/>\)|\1|" "$d/attr.xml"
	head -c $((7 * 1024 * 1024 + 77)) "$d/big.xml" >"$d/trunc.xml"
	# cut inside a start tag: expat points at its '<'
	local last
	last=$(tail -n 1 "$d/trunc.xml")
	[[ $last == *'<'* ]]
	late_reject "$d/trunc.xml" "$(($(wc -l <"$d/trunc.xml") + 1)):$(($(expr index "$last" '<')))" \
		"unclosed token"
	cp "$d/big.xml" "$d/junk.xml"
	echo '<x/>' >>"$d/junk.xml"
	late_reject "$d/junk.xml" "$(wc -l <"$d/junk.xml"):1" "junk after document element"
}

@test "structure errors deep in a large dump: same message as one pass" {
	big_xml 15 "$d/big.xml"
	# the first </device> after 5 MiB goes: the next <device> is inside it
	awk -v off=$((5 * 1024 * 1024)) '
	{ n += length($0) + 1 }
	!done && n > off && /<\/device>/ { done = 1; next }
	{ print }' "$d/big.xml" >"$d/nested.xml"
	local nth
	nth=$(awk -v off=$((5 * 1024 * 1024)) '{ n += length($0) + 1 }
		/<device / { c++ } n > off && /<\/device>/ { print c + 1; exit }' "$d/big.xml")
	late_reject "$d/nested.xml" "$(xml_pos "$d/nested.xml" '<device ' "$nth")" \
		"<device> inside <device>"
	# a stray </device> deep in a device: the mappings after it are outside
	cp "$d/big.xml" "$d/stray.xml"
	insert_after "$d/stray.xml" $((9 * 1024 * 1024)) '  </device> <!-- stray -->'
	local line
	line=$(grep -n -- '<!-- stray -->' "$d/stray.xml" | cut -d: -f1)
	late_reject "$d/stray.xml" "$((line + 1)):5" \
		"<$(sed -n "$((line + 1))s/^ *<\([a-z_]*\).*/\1/p" "$d/stray.xml")> inside <superblock>"
	# a mapping overlapping the one before it, deep in the file
	awk -v off=$((8 * 1024 * 1024)) '
	{ n += length($0) + 1; print }
	!done && n > off && /<single_mapping/ { print; done = 1 }' "$d/big.xml" >"$d/dup.xml"
	line=$(awk -v off=$((8 * 1024 * 1024)) '{ n += length($0) + 1 }
		n > off && /<single_mapping/ { print NR + 1; exit }' "$d/big.xml")
	local blk
	blk=$(sed -n "${line}s/.*origin_block=\"\([0-9]*\)\".*/\1/p" "$d/dup.xml")
	late_reject "$d/dup.xml" "$line:5" \
		"mapping of block $blk overlaps or comes before earlier mappings (which reach $blk)"
}

# ---------------------------------------------------------------------------
# a real block device (a loop device over a file of the test's)

# loop_on FILE: attach FILE to a free loop device, in $loop
loop_on() {
	command -v losetup >/dev/null 2>&1 || skip "losetup is not installed"
	loop=$(losetup -f --show -- "$1" 2>/dev/null) ||
		skip "no loop device can be attached here"
	[ -b "$loop" ]
}

@test "a block device held open exclusively (in use) is refused and left as it was" {
	valid_copy "$d/dev.img"
	truncate -s 4M "$d/dev.img"
	loop_on "$d/dev.img"
	local sha
	sha=$(sha_of "$d/dev.img")
	run --separate-stderr "$TS_BUILD/tests/hold_excl" "$loop" \
		"$TR" -i "$TS_XML/many-devices.xml" -o "$loop"
	[ "$status" -eq 64 ]
	[ "$stderr" = "Couldn't open '$loop' exclusively: it is in use" ]
	[ -z "$output" ]
	[ "$(sha_of "$d/dev.img")" = "$sha" ]
	# let go of, the same device takes the restore
	restore 0 "$TS_XML/many-devices.xml" "$loop"
	[ -z "$stderr" ]
	"$TD" --compat=0.9 -o "$d/back.xml" "$loop"
	same_file "$d/back.xml" "$TS_XML/many-devices.xml"
	run -0 "$DEB_BIN/thin_check" -q "$loop"
}
