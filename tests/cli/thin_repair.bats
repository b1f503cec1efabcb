# SPDX-License-Identifier: GPL-2.0-or-later
#
# thin_repair and thin_dump --repair (COMPAT.md "thin_repair -i DEV -o DEV",
# issue 6).  Damage is made with build/tests/md_damage: zeroed or flipped
# blocks of a given kind, older transactions left behind on the device
# (`graft`: another pool's trees copied to free blocks, as the kernel leaves
# freed blocks untouched; `new-transaction`: the device-tree roots moved as
# the kernel's next commit moves them, the old ones sharing the mapping
# trees) and stale superblock roots (`set-roots`).
#
# For every repair: the exit status, what comes back compared as a whole
# dump with what the test expects, the repaired metadata accepted by our
# thin_check and by Debian's, the input unchanged (sha256), and where
# Debian's thin_repair succeeds on the same input, the same mappings.

load helpers

bats_require_minimum_version 1.5.0

REPAIR=$TS_BIN/thin_repair
TD=$TS_BIN/thin_dump
TC=$TS_BIN/thin_check
: "${TS_BUILD:=$BATS_TEST_DIRNAME/../../build}"
DAMAGE=$TS_BUILD/tests/md_damage
MK_THIN_SNAP=$TS_BUILD/tests/mk_thin_snap
MK_SNAP=$TS_BUILD/tests/mk_metadata_snap

setup() {
	d=$BATS_TEST_TMPDIR
	out=$d/out.img
	truncate -s 8M "$out"
}

# rep WANT IN [OPTION...]: thin_repair -i IN -o $out OPTION...; exit status
# WANT, nothing on stdout, stderr in $stderr, IN unchanged.
rep() {
	local want=$1 in=$2 sha rc=0
	shift 2
	sha=$(sha_of "$in")
	timeout 60 "$REPAIR" -i "$in" -o "$out" "$@" >"$d/rep.stdout" 2>"$d/rep.stderr" || rc=$?
	stderr=$(<"$d/rep.stderr")
	[ "$(sha_of "$in")" = "$sha" ] || { echo "the input was modified" >&2; return 1; }
	[ ! -s "$d/rep.stdout" ] || { echo "output on stdout" >&2; return 1; }
	[ "$rc" = "$want" ] || { echo "thin_repair $*: exit $rc, expected $want: $stderr" >&2; return 1; }
}

# dump IMG FILE: our thin_dump of IMG into FILE (must succeed)
dump() {
	"$TD" "$1" >"$2"
}

# checks_pass IMG: our thin_check and Debian's both accept IMG
checks_pass() {
	"$TC" -q "$1" || { echo "thin_check rejects $1" >&2; return 1; }
	"$DEB_BIN/thin_check" -q "$1" || { echo "Debian's thin_check rejects $1" >&2; return 1; }
}

# repaired_is WANT_XML: $out dumps exactly to WANT_XML and passes both checks
repaired_is() {
	dump "$out" "$d/got.xml"
	same_file "$d/got.xml" "$1"
	checks_pass "$out"
}

# deb_repair IN [OPTION...]: Debian's thin_repair succeeds on IN; its
# result's mappings (every device in full) go to $d/deb-blocks
deb_repair() {
	local in=$1
	shift
	# (Debian's copies shared leaves: give it room)
	truncate -s 64M "$d/deb.img"
	"$DEB_BIN/thin_repair" -i "$in" -o "$d/deb.img" "$@"
	xml_blocks <("$TD" --compat=0.9 "$d/deb.img") >"$d/deb-blocks"
}

# deb_same_mappings IN [OPTION...]: Debian's thin_repair succeeds on IN and
# its result has exactly the mappings of ours ($out)
deb_same_mappings() {
	deb_repair "$@"
	xml_blocks <("$TD" --compat=0.9 "$out") >"$d/our-blocks"
	same_file "$d/deb-blocks" "$d/our-blocks"
}

# norm_defs XML: def names (block numbers of the shared leaves, which differ
# between pools) renamed D1, D2, ... in order of appearance
norm_defs() {
	awk '{
		if (match($0, /(def|ref) name="[0-9]+"/)) {
			s = substr($0, RSTART, RLENGTH); n = s; sub(/.*name="/, "", n); sub(/"/, "", n)
			if (!(n in id)) id[n] = "D" (++k)
			sub(/name="[0-9]+"/, "name=\"" id[n] "\"", s)
			$0 = substr($0, 1, RSTART - 1) s substr($0, RSTART + RLENGTH)
		}
		print
	}' "$1"
}

# superblock line with nr_data_blocks replaced: sb_line_nr XML N
with_nr_data_blocks() {
	sed "1s/nr_data_blocks=\"[0-9]*\"/nr_data_blocks=\"$2\"/" "$1"
}

# highest mapped data block + 1 in a dump
data_end() {
	xml_blocks "$1" | awk '$3 + 1 > m { m = $3 + 1 } END { print m + 0 }'
}

# xmlfile NAME LINE...: write an XML file from lines, echo its path
xmlfile() {
	local f=$d/$1
	shift
	printf '%s\n' "$@" >"$f"
	echo "$f"
}

# leaf_range IMG ROOT KEY: "LEAF LO HI", the leaf holding KEY and the key
# range its parent gives it (HI inclusive)
leaf_range() {
	local img=$1 b=$2 key=$3 lo=0 hi=18446744073709551615 i n max keys
	while [ "$(node_get "$img" "$b" flags)" != "$TS_NODE_LEAF" ]; do
		mapfile -t keys < <(node_keys "$img" "$b")
		n=${#keys[@]}
		i=0
		while ((i + 1 < n && keys[i + 1] <= key)); do i=$((i + 1)); done
		((keys[i] > lo)) && lo=${keys[i]}
		((i + 1 < n)) && hi=$((keys[i + 1] - 1))
		max=$(node_get "$img" "$b" max_entries)
		b=$(get_le64 "$img" $((b * TS_BLOCK_SIZE + 32 + 8 * max + 8 * i)))
	done
	echo "$b $lo $hi"
}

# ---------------------------------------------------------------------------
# healthy input, command line

@test "healthy metadata: the repair is the dump, report on stderr, -q silent" {
	local img
	img=$(mkimg snapshots.xml)
	dump "$img" "$d/orig.xml"
	rep 0 "$img"
	repaired_is "$d/orig.xml"
	has_line "$stderr" "repair: mapping root $(sb_get "$img" data_mapping_root), details root $(sb_get "$img" device_details_root) \(the superblock's; .*\)"
	has_line "$stderr" "repair: 4 devices, 1424 mappings recovered; transaction 4, time 3, data block size 128, 1024 data blocks"
	rep 0 "$img" -q
	[ -z "$stderr" ]
	repaired_is "$d/orig.xml"
	deb_same_mappings "$img"
	# thin_dump --repair prints the same view
	"$TD" --repair "$img" >"$d/r.xml" 2>/dev/null
	same_file "$d/r.xml" "$d/orig.xml"
}

@test "command line: lvconvert's empty argument, usage errors, same input and output" {
	local img
	img=$(mkimg one-device.xml)
	dump "$img" "$d/orig.xml"
	rep 0 "$img" ""
	repaired_is "$d/orig.xml"
	run -2 --separate-stderr "$REPAIR" "" -i "$img" -o "$out" extra
	has_line "$stderr" ".*unexpected argument 'extra'.*"
	run -2 --separate-stderr "$REPAIR" -o "$out"
	has_line "$stderr" '.*No input file provided.*'
	run -2 --separate-stderr "$REPAIR" -i "$img"
	has_line "$stderr" '.*No output file provided.*'
	run -2 --separate-stderr "$REPAIR" -i "$img" -o "$out" --data-block-size x
	run -0 "$REPAIR" -V
	[[ $output =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]
	local sha
	sha=$(sha_of "$img")
	run -64 --separate-stderr "$REPAIR" -i "$img" -o "$img"
	has_line "$stderr" '.*the input and the output are the same.*'
	[ "$(sha_of "$img")" = "$sha" ]
	# an output too small for the metadata: the message says how much is
	# needed, and block 0 stays zero
	truncate -s 81920 "$d/tiny.img"
	run -64 --separate-stderr "$REPAIR" -i "$(mkimg large-device.xml)" -o "$d/tiny.img"
	has_line "$stderr" "$d/tiny.img: the metadata needs [0-9]+ blocks \([0-9]+ bytes\), the output has room for 20"
	[ "$(od -An -v -tx1 -N 4096 "$d/tiny.img" | tr -d ' \n' | tr -d 0)" = "" ]
	truncate -s 40959 "$d/small.img"
	run -64 --separate-stderr "$REPAIR" -i "$img" -o "$d/small.img"
	[ "$stderr" = "Output file too small." ]
	run -64 --separate-stderr "$REPAIR" -i "$d/missing" -o "$out"
	[ "$stderr" = "Couldn't find input file '$d/missing'" ]
	# thin_dump: --salvage only with --repair, --repair alone
	run -2 "$TD" --salvage "$img"
	run -2 "$TD" --repair -m "$img"
}

# ---------------------------------------------------------------------------
# superblock

@test "zeroed superblock: data block size needed; then the original dump" {
	local img nr
	img=$(mkimg snapshots.xml)
	dump "$img" "$d/orig.xml"
	"$DAMAGE" "$img" zero sb >/dev/null
	rep 64 "$img"
	has_line "$stderr" 'bad checksum in superblock'
	has_line "$stderr" '.*data block size.*'
	# the output does not look like a pool
	[ "$(od -An -v -tx1 -N 4096 "$out" | tr -d ' \n' | tr -d 0)" = "" ]
	run -64 --separate-stderr "$TD" --repair "$img"
	[ -z "$output" ]
	has_line "$stderr" '.*data block size.*'
	# given the data block size: transaction = highest device transaction + 1,
	# nr_data_blocks = highest mapped block + 1, time = highest time
	rep 0 "$img" --data-block-size 128
	nr=$(data_end "$d/orig.xml")
	with_nr_data_blocks "$d/orig.xml" "$nr" >"$d/want.xml"
	repaired_is "$d/want.xml"
	has_line "$stderr" 'repair: mapping root [0-9]+, details root [0-9]+ \(found by scanning; .*\)'
	# the overrides win where they are larger
	rep 0 "$img" --data-block-size 128 --nr-data-blocks 1024 --transaction-id 2
	repaired_is "$d/orig.xml"
	rep 0 "$img" "" --data-block-size 128 --nr-data-blocks 1024 --transaction-id 9
	sed '1s/transaction="4"/transaction="9"/' "$d/orig.xml" >"$d/want9.xml"
	repaired_is "$d/want9.xml"
	# thin_dump --repair prints what thin_repair writes
	"$TD" --repair --data-block-size 128 --nr-data-blocks 1024 "$img" >"$d/r.xml" 2>/dev/null
	same_file "$d/r.xml" "$d/orig.xml"
	rep 64 "$img" --data-block-size 100
	has_line "$stderr" 'invalid data block size 100.*'
	# Debian's needs every field given; then the same mappings
	rep 0 "$img" --data-block-size 128 --nr-data-blocks 1024 --transaction-id 4
	deb_same_mappings "$img" --data-block-size 128 --nr-data-blocks 1024 --transaction-id 4
}

@test "flipped superblock: as zeroed" {
	local img
	img=$(mkimg one-device.xml)
	dump "$img" "$d/orig.xml"
	"$DAMAGE" "$img" flip sb >/dev/null
	rep 64 "$img"
	has_line "$stderr" '.*data block size.*'
	rep 0 "$img" --data-block-size "$(fixture_attr "$TS_XML/one-device.xml" data_block_size)" \
		--nr-data-blocks "$(fixture_attr "$TS_XML/one-device.xml" nr_data_blocks)" \
		--transaction-id "$(fixture_attr "$TS_XML/one-device.xml" transaction)"
	repaired_is "$d/orig.xml"
}

@test "stale superblock: roots of an older transaction that was overwritten" {
	local img old top det
	img=$(mkimg snapshots.xml)
	old=$(mkimg one-device.xml)
	dump "$img" "$d/orig.xml"
	dump "$old" "$d/old.xml"
	read -r top det <<<"$("$DAMAGE" "$img" graft "$old" 1500)"
	"$DAMAGE" "$img" set-roots "$top" "$det"
	# while the older trees are intact, the superblock is followed (upstream)
	rep 0 "$img"
	has_line "$stderr" "repair: mapping root $top, details root $det \(the superblock's; .*\)"
	dump "$out" "$d/got.xml"
	same_file <(tail -n +2 "$d/got.xml") <(tail -n +2 "$d/old.xml")
	checks_pass "$out"
	# once they are overwritten, the newest intact pair is used
	"$DAMAGE" "$img" zero block "$top" >/dev/null
	rep 0 "$img"
	has_line "$stderr" 'repair: mapping root [0-9]+, details root [0-9]+ \(found by scanning; .*\)'
	repaired_is "$d/orig.xml"
	lacks_line "$stderr" "repair: mapping root $top,.*"
}

# ---------------------------------------------------------------------------
# device trees

@test "broken details tree: no compatible roots; an older transaction is used if there is one" {
	local img old top det
	img=$(mkimg snapshots.xml)
	dump "$img" "$d/orig.xml"
	cp "$img" "$d/with-old.img"
	"$DAMAGE" "$img" zero details >/dev/null
	rep 64 "$img"
	[ "$stderr" = "no compatible roots found" ]
	run -64 --separate-stderr "$TD" --repair "$img"
	[ -z "$output" ]
	[ "$stderr" = "no compatible roots found" ]
	# an older transaction of the same pool (one device fewer) survives
	sed '/<device dev_id="4"/,/<\/device>/d' "$d/orig.xml" >"$d/older.xml"
	old=$(mkimg "$d/older.xml")
	dump "$old" "$d/older-dump.xml"
	read -r top det <<<"$("$DAMAGE" "$d/with-old.img" graft "$old" 1500)"
	"$DAMAGE" "$d/with-old.img" zero details >/dev/null
	rep 0 "$d/with-old.img"
	has_line "$stderr" "repair: mapping root $top, details root $det \(found by scanning; .*\)"
	# the older devices and mappings, the live superblock's fields
	dump "$out" "$d/got.xml"
	same_file <(tail -n +2 "$d/got.xml") <(tail -n +2 "$d/older-dump.xml")
	[ "$(head -n 1 "$d/got.xml")" = "$(head -n 1 "$d/orig.xml")" ]
	checks_pass "$out"
}

@test "corrupted metadata snapshot only: the live trees come back, the snapshot is dropped" {
	local img s
	img=$(mkimg snapshots.xml)
	dump "$img" "$d/orig.xml"
	s=$("$MK_SNAP" "$img")
	"$DAMAGE" "$img" flip snap >/dev/null
	run -64 "$TC" -q "$img"
	rep 0 "$img"
	repaired_is "$d/orig.xml"
	[ "$(sb_get "$out" metadata_snap)" = 0 ]
	deb_same_mappings "$img"
}

@test "device id reused after delete: the newer device comes back" {
	local img old top det
	xmlfile old.xml '<superblock uuid="" time="0" transaction="1" flags="0" version="2" data_block_size="128" nr_data_blocks="1000">' \
		'  <device dev_id="1" mapped_blocks="3" transaction="0" creation_time="0" snap_time="0">' \
		'    <range_mapping origin_begin="0" data_begin="100" length="3" time="0"/>' \
		'  </device>' '</superblock>' >/dev/null
	xmlfile new.xml '<superblock uuid="" time="0" transaction="6" flags="0" version="2" data_block_size="128" nr_data_blocks="1000">' \
		'  <device dev_id="1" mapped_blocks="2" transaction="5" creation_time="0" snap_time="0">' \
		'    <range_mapping origin_begin="10" data_begin="200" length="2" time="0"/>' \
		'  </device>' '</superblock>' >/dev/null
	img=$(mkimg "$d/new.xml")
	old=$(mkimg "$d/old.xml")
	dump "$img" "$d/new-dump.xml"
	read -r top det <<<"$("$DAMAGE" "$img" graft "$old" 1500)"
	# the superblock says which: the new one
	rep 0 "$img"
	repaired_is "$d/new-dump.xml"
	# without it, the higher device transaction wins
	"$DAMAGE" "$img" zero sb >/dev/null
	rep 0 "$img" --data-block-size 128 --nr-data-blocks 1000
	repaired_is "$d/new-dump.xml"
	lacks_line "$stderr" "repair: mapping root $top,.*"
	# Debian's 0.9.0 brings back the deleted device's old mappings instead
	deb_repair "$img" --data-block-size 128 --nr-data-blocks 1000 --transaction-id 6
	same_file "$d/deb-blocks" <(xml_blocks "$d/old.xml")
}

@test "a deleted snapshot stays deleted while the superblock is intact" {
	local img old
	xmlfile old.xml '<superblock uuid="" time="1" transaction="2" flags="0" version="2" data_block_size="128" nr_data_blocks="1000">' \
		'  <device dev_id="0" mapped_blocks="4" transaction="0" creation_time="0" snap_time="1">' \
		'    <range_mapping origin_begin="0" data_begin="100" length="4" time="0"/>' \
		'  </device>' \
		'  <device dev_id="1" mapped_blocks="4" transaction="1" creation_time="1" snap_time="1">' \
		'    <range_mapping origin_begin="0" data_begin="100" length="4" time="0"/>' \
		'  </device>' '</superblock>' >/dev/null
	xmlfile new.xml '<superblock uuid="" time="1" transaction="3" flags="0" version="2" data_block_size="128" nr_data_blocks="1000">' \
		'  <device dev_id="0" mapped_blocks="4" transaction="0" creation_time="0" snap_time="1">' \
		'    <range_mapping origin_begin="0" data_begin="100" length="4" time="0"/>' \
		'  </device>' '</superblock>' >/dev/null
	img=$(mkimg "$d/new.xml")
	old=$(mkimg "$d/old.xml")
	dump "$img" "$d/new-dump.xml"
	"$DAMAGE" "$img" graft "$old" 1500 >/dev/null
	# damage the data space map: thin_check fails, repair rebuilds it
	"$DAMAGE" "$img" flip bitmap data 0 >/dev/null
	run -64 "$TC" -q "$img"
	rep 0 "$img"
	repaired_is "$d/new-dump.xml"
	has_line "$stderr" 'repair: 1 devices, 4 mappings recovered; .*'
	deb_same_mappings "$img"
}

@test "empty roots from earlier transactions are never chosen" {
	local img empty det
	img=$(mkimg snapshots.xml)
	empty=$(mkimg empty-pool.xml)
	dump "$img" "$d/orig.xml"
	det=$(sb_get "$img" device_details_root)
	"$DAMAGE" "$img" graft "$empty" 1500 >/dev/null
	"$DAMAGE" "$img" graft "$empty" 1600 >/dev/null
	"$DAMAGE" "$img" zero sb >/dev/null
	rep 0 "$img" --data-block-size 128 --nr-data-blocks 1024
	repaired_is "$d/orig.xml"
	# Debian's 0.9.0 picks an empty pair here and loses every device
	deb_repair "$img" --data-block-size 128 --nr-data-blocks 1024 --transaction-id 4
	[ ! -s "$d/deb-blocks" ]
	# with the live details tree gone too, an empty pool is not offered
	"$DAMAGE" "$img" zero block "$det" >/dev/null
	rep 64 "$img" --data-block-size 128
	has_line "$stderr" 'no compatible roots found'
}

# ---------------------------------------------------------------------------
# shared subtrees

@test "a snapshot sharing an internal root: repaired with the leaves still shared" {
	local img
	img=$(mkimg large-device.xml)
	"$MK_THIN_SNAP" "$img" snap 8 7
	[ "$(dev_root "$img" 8)" = "$(dev_root "$img" 7)" ]
	[ "$(node_get "$img" "$(dev_root "$img" 7)" flags)" = "$TS_NODE_INTERNAL" ]
	dump "$img" "$d/orig.xml"
	grep -q '<def name=' "$d/orig.xml"
	"$DAMAGE" "$img" zero sb >/dev/null
	# the snapshot was made at transaction 9: the rebuilt transaction is 10
	rep 0 "$img" --data-block-size 128 --nr-data-blocks "$(fixture_attr "$TS_XML/large-device.xml" nr_data_blocks)"
	dump "$out" "$d/got.xml"
	same_file <(norm_defs "$d/got.xml") <(norm_defs "$d/orig.xml" | sed '1s/transaction="9"/transaction="10"/')
	checks_pass "$out"
	deb_same_mappings "$img" --data-block-size 128 --nr-data-blocks 131072 --transaction-id 10
	# shared, not copied: the very blocks thin_restore writes from the
	# repaired dump, whose <def>s hold the shared leaves
	grep -q '<def name=' "$d/got.xml"
	truncate -s 8M "$d/restored.img"
	"$TS_BIN/thin_restore" -i "$d/got.xml" -o "$d/restored.img"
	same_file "$d/restored.img" "$out"
}

@test "a snapshot sharing internal nodes and leaves" {
	local img last
	img=$(mkimg large-device.xml)
	dump "$img" "$d/pre.xml"
	last=$(xml_blocks "$d/pre.xml" | tail -n 1 | cut -d' ' -f2)
	"$MK_THIN_SNAP" "$img" snap 8 7
	"$MK_THIN_SNAP" "$img" write 7 "$last" >/dev/null
	"$MK_THIN_SNAP" "$img" snap 9 8
	dump "$img" "$d/orig.xml"
	"$DAMAGE" "$img" zero sb >/dev/null
	# the snapshot was made at transaction 9: the rebuilt transaction is 10
	rep 0 "$img" --data-block-size 128 --nr-data-blocks "$(fixture_attr "$TS_XML/large-device.xml" nr_data_blocks)"
	dump "$out" "$d/got.xml"
	same_file <(norm_defs "$d/got.xml") <(norm_defs "$d/orig.xml" | sed '1s/transaction="9"/transaction="10"/')
	checks_pass "$out"
	deb_same_mappings "$img" --data-block-size 128 --nr-data-blocks 131072 --transaction-id 10
	has_line "$stderr" 'repair: 3 devices, 300066 mappings recovered; .*'
}

# ---------------------------------------------------------------------------
# damaged mapping trees

@test "damaged leaf: upstream behaviour drops it; --salvage reports the exact range lost" {
	local img leaf lo hi
	img=$(mkimg large-device.xml)
	dump "$img" "$d/orig.xml"
	read -r leaf lo hi <<<"$(leaf_range "$img" "$(dev_root "$img" 7)" 5000)"
	[ "$("$DAMAGE" "$img" flip leaf 7 5000)" = "$leaf" ]
	# default: no complete pair, the superblock's trees without the leaf
	rep 0 "$img"
	has_line "$stderr" "warning: mapping tree of device 7: leaf $leaf: bad checksum"
	has_line "$stderr" "repair: mapping tree of device 7: virtual blocks $lo..$hi lost"
	has_line "$stderr" 'repair: 1 ranges lost'
	has_line "$stderr" 'repair: mapping root [0-9]+, details root [0-9]+ \(the superblock.s, damaged: .*\)'
	dump "$out" "$d/got.xml"
	xml_blocks "$d/orig.xml" | awk -v lo="$lo" -v hi="$hi" '!($2 >= lo && $2 <= hi)' >"$d/want-blocks"
	xml_blocks "$d/got.xml" >"$d/got-blocks"
	same_file "$d/got-blocks" "$d/want-blocks"
	checks_pass "$out"
	deb_same_mappings "$img"
	# --salvage: the same mappings, and the range it could not recover
	rep 0 "$img" --salvage
	has_line "$stderr" "repair: mapping tree of device 7: virtual blocks $lo..$hi lost"
	has_line "$stderr" 'repair: salvage: 0 ranges taken from older trees, 1 ranges lost'
	xml_blocks <("$TD" "$out") >"$d/salvaged-blocks"
	same_file "$d/salvaged-blocks" "$d/want-blocks"
	checks_pass "$out"
	"$TD" --repair --salvage "$img" >"$d/s.xml" 2>"$d/s.err"
	xml_blocks "$d/s.xml" >"$d/s-blocks"
	same_file "$d/s-blocks" "$d/want-blocks"
}

@test "--salvage takes a lost range from an older tree of the same device" {
	local img old leaf lo hi top det
	img=$(mkimg large-device.xml)
	old=$(mkimg large-device.xml)
	dump "$img" "$d/orig.xml"
	read -r top det <<<"$("$DAMAGE" "$img" graft "$old" 1200)"
	read -r leaf lo hi <<<"$(leaf_range "$img" "$(dev_root "$img" 7)" 5000)"
	"$DAMAGE" "$img" flip leaf 7 5000 >/dev/null
	# default: the older, complete generation is used (upstream)
	rep 0 "$img"
	has_line "$stderr" "repair: mapping root $top, details root $det \(found by scanning; .*\)"
	dump "$out" "$d/got.xml"
	same_file <(tail -n +2 "$d/got.xml") <(tail -n +2 "$d/orig.xml")
	# salvage: the newest tree, the gap filled from the older one
	rep 0 "$img" --salvage
	has_line "$stderr" "repair: mapping tree of device 7: virtual blocks $lo..$hi taken from an older tree \(root $(($(dev_root "$old" 7) + 1200))\)"
	has_line "$stderr" 'repair: salvage: 1 ranges taken from older trees, 0 ranges lost'
	xml_blocks <("$TD" "$out") >"$d/got-blocks"
	xml_blocks "$d/orig.xml" >"$d/want-blocks"
	same_file "$d/got-blocks" "$d/want-blocks"
	checks_pass "$out"
}

@test "damaged internal node with a zeroed superblock: no complete generation, no roots" {
	local img
	img=$(mkimg large-device.xml)
	"$DAMAGE" "$img" flip internal 7 >/dev/null
	"$DAMAGE" "$img" zero sb >/dev/null
	rep 64 "$img" --data-block-size 128
	[ "$(grep -v '^bad checksum in superblock$' <<<"$stderr")" = "no compatible roots found" ]
}

@test "damaged space maps only: bitmap and index blocks are rebuilt" {
	local img
	img=$(mkimg snapshots.xml)
	dump "$img" "$d/orig.xml"
	"$DAMAGE" "$img" zero bitmap metadata 0 >/dev/null
	"$DAMAGE" "$img" flip bitmap data 0 >/dev/null
	"$DAMAGE" "$img" zero index metadata >/dev/null
	"$DAMAGE" "$img" flip index data >/dev/null
	run -64 "$TC" -q "$img"
	rep 0 "$img"
	repaired_is "$d/orig.xml"
	deb_same_mappings "$img"
}

@test "damaged shared leaf: every device sharing it loses it, reported once as left out" {
	local img last leaf
	img=$(mkimg large-device.xml)
	dump "$img" "$d/pre.xml"
	last=$(xml_blocks "$d/pre.xml" | tail -n 1 | cut -d' ' -f2)
	"$MK_THIN_SNAP" "$img" snap 8 7
	leaf=$(btree_first_leaf "$img" "$(dev_root "$img" 8)")
	node_keys "$img" "$leaf" >"$d/leaf-keys"
	"$DAMAGE" "$img" flip block "$leaf" >/dev/null
	rep 0 "$img"
	has_line "$stderr" "warning: shared leaves from [0-9]+: leaf $leaf: bad checksum"
	has_line "$stderr" "repair: shared leaves from [0-9]+: left out"
	has_line "$stderr" 'repair: 1 ranges lost'
	has_line "$stderr" 'repair: 2 devices, 199792 mappings recovered; .*'
	deb_same_mappings "$img"
	dump "$out" "$d/got.xml"
	"$TD" --compat=0.9 "$out" >"$d/got09.xml"
	xml_blocks "$d/pre.xml" | awk 'NR == FNR { k[$1] = 1; next } !($2 in k)' "$d/leaf-keys" - |
		awk '{ print; $1 = 8; print }' | sort -k1,1n -k2,2n >"$d/want-blocks"
	xml_blocks "$d/got09.xml" | sort -k1,1n -k2,2n >"$d/got-blocks"
	same_file "$d/got-blocks" "$d/want-blocks"
	checks_pass "$out"
}

@test "--salvage with the superblock zeroed: the newest trees, damaged or not" {
	local img leaf lo hi
	img=$(mkimg large-device.xml)
	dump "$img" "$d/orig.xml"
	read -r leaf lo hi <<<"$(leaf_range "$img" "$(dev_root "$img" 7)" 70000)"
	"$DAMAGE" "$img" zero leaf 7 70000 >/dev/null
	"$DAMAGE" "$img" zero sb >/dev/null
	# upstream behaviour: no complete generation, nothing
	rep 64 "$img" --data-block-size 128
	has_line "$stderr" 'no compatible roots found'
	rep 0 "$img" --data-block-size 128 --salvage
	has_line "$stderr" "repair: mapping tree of device 7: virtual blocks $lo..$hi lost"
	xml_blocks "$d/orig.xml" | awk -v lo="$lo" -v hi="$hi" '!($2 >= lo && $2 <= hi)' >"$d/want-blocks"
	xml_blocks <("$TD" "$out") >"$d/got-blocks"
	same_file "$d/got-blocks" "$d/want-blocks"
	checks_pass "$out"
}

@test "--salvage: a device's last leaf lost: the range is open-ended" {
	local img leaf lo hi last
	img=$(mkimg large-device.xml)
	dump "$img" "$d/orig.xml"
	last=$(xml_blocks "$d/orig.xml" | tail -n 1 | cut -d' ' -f2)
	read -r leaf lo hi <<<"$(leaf_range "$img" "$(dev_root "$img" 7)" "$last")"
	[ "$hi" = 18446744073709551615 ]
	"$DAMAGE" "$img" zero leaf 7 "$last" >/dev/null
	rep 0 "$img" --salvage
	has_line "$stderr" "repair: mapping tree of device 7: virtual blocks from $lo on lost"
	xml_blocks "$d/orig.xml" | awk -v lo="$lo" '$2 < lo' >"$d/want-blocks"
	xml_blocks <("$TD" "$out") >"$d/got-blocks"
	same_file "$d/got-blocks" "$d/want-blocks"
	checks_pass "$out"
	# the default says the same
	rep 0 "$img"
	has_line "$stderr" "repair: mapping tree of device 7: virtual blocks from $lo on lost"
}

@test "kernel-like older transaction: its roots share the mapping trees with the live ones" {
	local img top det
	img=$(mkimg large-device.xml)
	dump "$img" "$d/before.xml"
	# the next commit moves the roots; then a snapshot changes them
	read -r top det <<<"$("$DAMAGE" "$img" new-transaction)"
	"$MK_THIN_SNAP" "$img" snap 8 7
	"$TC" -q "$img"
	[ "$(node_val64 "$img" "$top" 0)" = "$(dev_root "$img" 7)" ]
	dump "$img" "$d/orig.xml"
	cp "$img" "$d/stale.img"
	# superblock gone: the snapshot's transaction is the newer one
	"$DAMAGE" "$img" zero sb >/dev/null
	rep 0 "$img" --data-block-size 128 --nr-data-blocks 131072
	has_line "$stderr" "repair: mapping root $(sb_get "$d/stale.img" data_mapping_root), details root $(sb_get "$d/stale.img" device_details_root) \(found by scanning; .*\)"
	dump "$out" "$d/got.xml"
	same_file <(norm_defs "$d/got.xml") <(norm_defs "$d/orig.xml" | sed '1s/transaction="9"/transaction="10"/')
	checks_pass "$out"
	deb_same_mappings "$img" --data-block-size 128 --nr-data-blocks 131072 --transaction-id 10
	# a superblock pointing at the older roots, which are complete, is followed
	"$DAMAGE" "$d/stale.img" set-roots "$top" "$det"
	rep 0 "$d/stale.img"
	has_line "$stderr" "repair: mapping root $top, details root $det \(the superblock's; its trees are complete\)"
	dump "$out" "$d/got2.xml"
	same_file <(tail -n +2 "$d/got2.xml") <(tail -n +2 "$d/before.xml")
	checks_pass "$out"
}
