#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# snap_restore: exact round trips with snap_dump (store -> XML -> store and
# XML -> store -> XML) and every rejection with its position and status.

load helpers

bats_require_minimum_version 1.5.0

SR=$TS_BIN/snap_restore
SD=$TS_BIN/snap_dump
: "${TS_BUILD:=$BATS_TEST_DIRNAME/../../build}"
MK_COW=$TS_BUILD/tests/mk_cow

setup() {
	d=$BATS_TEST_TMPDIR
}

# store_trip NAME: dump $d/NAME, restore it onto a zeroed file of the same
# size, and expect the same bytes and the same XML back
store_trip() {
	"$SD" "$d/$1" >"$d/$1.xml"
	truncate -s "$(stat -c %s "$d/$1")" "$d/$1.back"
	run_prog "$SR" 0 -o "$d/$1.back" -i "$d/$1.xml"
	[ -z "$output" ] && [ -z "$stderr" ]
	same_file "$d/$1" "$d/$1.back"
	"$SD" "$d/$1.back" | same_file - "$d/$1.xml"
}

# xml_trip XML SIZE: restore XML (a file) onto a new file of SIZE bytes
# and expect snap_dump to give XML back byte for byte
xml_trip() {
	rm -f "$d/out"
	truncate -s "$2" "$d/out"
	run_prog "$SR" 0 -o "$d/out" -i "$1"
	"$SD" "$d/out" | same_file - "$1"
}

# reject WANT_STDERR: restore $d/bad.xml onto a store, expect status 64,
# the message, and the output file unchanged
reject() {
	[ -f "$d/target" ] || seq_pairs 7 3 8 | "$MK_COW" "$d/target" 8 64
	run_prog "$SR" 64 -i "$d/bad.xml" -o "$d/target"
	[ -z "$output" ]
	if [ "$stderr" != "$1" ]; then
		echo "expected: $1" >&2
		echo "got:      $stderr" >&2
		return 1
	fi
}

@test "store -> XML -> store: one area, runs and singles, out-of-order chunks" {
	printf '5 2\n6 3\n9 4\n10 6\n0 7\n3 5\n' | "$MK_COW" "$d/a" 8 64
	store_trip a
	[ "$(sed -n 2p "$d/a.xml")" = '  <exception_run old_begin="5" new_begin="2" length="2"/>' ]
}

@test "store -> XML -> store: several metadata areas, a full last area" {
	# chunk 8: E = 256; 600 exceptions end in area 2
	seq_pairs 0 600 8 | "$MK_COW" "$d/three" 8 4096
	store_trip three
	[ "$(grep -c exception_run "$d/three.xml")" = 3 ]
	# exactly two full areas: area 2 exists and is empty
	seq_pairs 1000 512 8 | "$MK_COW" "$d/full" 8 1024
	store_trip full
	[ "$(get_le64 "$d/full.back" $((515 * 4096 + 8)))" = 0 ]
	"$TS_BIN/snap_check" "$d/full.back"
}

@test "store -> XML -> store: chunk sizes 1 to 1024 sectors, empty stores" {
	for cs in 1 8 128 1024; do
		seq_pairs 3 40 "$cs" | "$MK_COW" "$d/c$cs" "$cs" 64
		store_trip "c$cs"
		"$MK_COW" "$d/e$cs" "$cs" 8 </dev/null
		store_trip "e$cs"
	done
}

@test "store -> XML -> store: an invalidated store with an empty area" {
	"$MK_COW" "$d/inv" 16 64 0 </dev/null
	store_trip inv
	[ "$(cat "$d/inv.xml")" = '<snapshot_store version="1" valid="0" chunk_size="16" nr_chunks="64">
</snapshot_store>' ]
}

@test "XML -> store -> XML: runs across an area boundary, unformatted" {
	{
		echo '<snapshot_store version="1" valid="1" chunk_size="8" nr_chunks="2000">'
		echo '  <exception old_chunk="0" new_chunk="2"/>'
		echo '  <exception_run old_begin="7" new_begin="3" length="5"/>'
		echo '  <exception_run old_begin="100" new_begin="1544" length="255"/>'
		echo '</snapshot_store>'
	} >"$d/x.xml"
	xml_trip "$d/x.xml" $((2000 * 4096))
	# entries 6..260: the run goes on in area 1 (chunk 258)
	[ "$(get_le64 "$d/out" $((258 * 4096 + 4 * 16)))" = 354 ]
	"$TS_BIN/snap_check" "$d/out"
	echo '<snapshot_store formatted="0" size="2048"/>' >"$d/u.xml"
	seq_pairs 0 10 8 | "$MK_COW" "$d/out" 8 256
	run_prog "$SR" 0 -o "$d/out" -i "$d/u.xml"
	"$SD" "$d/out" | same_file - "$d/u.xml"
	[ "$(get_le32 "$d/out" 0)" = 0 ]
	# an invalidated store keeps no exceptions
	printf '%s\n' '<snapshot_store version="1" valid="0" chunk_size="8" nr_chunks="64">' \
		'</snapshot_store>' >"$d/i.xml"
	xml_trip "$d/i.xml" $((64 * 4096))
}

@test "the header is written last: a restore killed before it leaves no valid store" {
	seq_pairs 0 600 8 | "$MK_COW" "$d/s" 8 4096
	"$SD" "$d/s" >"$d/s.xml"
	# writes: header cleared, 3 areas, header; stop before the header
	for n in 1 2 3 4; do
		cp "$d/s" "$d/t"
		run -137 env THINSNAP_FAIL_AFTER_WRITES=$n "$SR" -i "$d/s.xml" -o "$d/t"
		[ "$(get_le32 "$d/t" 0)" = 0 ]
	done
	run_prog "$SR" 0 -o "$d/t" -i "$d/s.xml"
	same_file "$d/s" "$d/t"
}

@test "output too small: says how much is needed, writes nothing" {
	echo '<snapshot_store version="1" valid="1" chunk_size="16" nr_chunks="2048"></snapshot_store>' >"$d/bad.xml"
	truncate -s 1M "$d/target"
	reject "$d/target is too small: it has 1048576 bytes, the store needs 16777216 (2048 chunks of 16 sectors)"
	echo '<snapshot_store formatted="0" size="4096"/>' >"$d/bad.xml"
	reject "$d/target is too small: it has 1048576 bytes, the store needs 2097152"
}

@test "rejections: elements, attributes, numbers, chunk size, version" {
	h='<snapshot_store version="1" valid="1" chunk_size="8" nr_chunks="64">'
	printf '%s\n  <exceptions old_chunk="1" new_chunk="2"/>\n</snapshot_store>\n' "$h" >"$d/bad.xml"
	reject "$d/bad.xml:2:3: unknown element <exceptions>"
	printf '%s\n  <exception old_chunk="1" new_chunk="2" time="0"/>\n</snapshot_store>\n' "$h" >"$d/bad.xml"
	reject "$d/bad.xml:2:3: unknown attribute 'time' in <exception>"
	printf '%s\n  <exception_run old_begin="1" new_begin="2"/>\n</snapshot_store>\n' "$h" >"$d/bad.xml"
	reject "$d/bad.xml:2:3: <exception_run> is missing attribute 'length'"
	printf '%s\n  <exception old_chunk="x1" new_chunk="2"/>\n</snapshot_store>\n' "$h" >"$d/bad.xml"
	reject "$d/bad.xml:2:3: attribute 'old_chunk' of <exception> is not a number in range: 'x1'"
	printf '%s\n  <exception old_chunk="1" new_chunk="18446744073709551616"/>\n</snapshot_store>\n' "$h" >"$d/bad.xml"
	reject "$d/bad.xml:2:3: attribute 'new_chunk' of <exception> is not a number in range: '18446744073709551616'"
	echo '<snapshot_store version="1" valid="1" chunk_size="24" nr_chunks="64"/>' >"$d/bad.xml"
	reject "$d/bad.xml:1:1: chunk_size 24 is not a power of two up to 2097152 sectors"
	echo '<snapshot_store version="1" valid="1" chunk_size="0" nr_chunks="64"/>' >"$d/bad.xml"
	reject "$d/bad.xml:1:1: chunk_size 0 is not a power of two up to 2097152 sectors"
	echo '<snapshot_store version="2" valid="1" chunk_size="8" nr_chunks="64"/>' >"$d/bad.xml"
	reject "$d/bad.xml:1:1: unknown store version 2 (only 1 exists)"
	echo '<snapshot_store version="1" valid="2" chunk_size="8" nr_chunks="64"/>' >"$d/bad.xml"
	reject "$d/bad.xml:1:1: valid must be 0 or 1, not 2"
	echo '<snapshot_store version="1" chunk_size="8" nr_chunks="64"/>' >"$d/bad.xml"
	reject "$d/bad.xml:1:1: <snapshot_store> is missing attribute 'valid'"
	echo '<snapshot_store formatted="1" size="8"/>' >"$d/bad.xml"
	reject "$d/bad.xml:1:1: attribute 'formatted' of <snapshot_store> must be 0: '1'"
	printf '%s\n</snapshot_store>\n<snapshot_store/>\n' "$h" >"$d/bad.xml"
	reject "$d/bad.xml:3:1: junk after document element"
	printf '%s\n  text\n</snapshot_store>\n' "$h" >"$d/bad.xml"
	reject "$d/bad.xml:2:1: unexpected text 'text'"
	printf '%s\n  <exception old_chunk="1" new_chunk="2">\n<exception old_chunk="3" new_chunk="4"/></exception>\n</snapshot_store>\n' "$h" >"$d/bad.xml"
	reject "$d/bad.xml:3:1: <exception> inside <exception>"
	printf '<exception old_chunk="1" new_chunk="2"/>\n' >"$d/bad.xml"
	reject "$d/bad.xml:1:1: <exception> outside a formatted <snapshot_store>"
	printf '<snapshot_store formatted="0" size="8">\n<exception old_chunk="1" new_chunk="2"/>\n</snapshot_store>\n' >"$d/bad.xml"
	reject "$d/bad.xml:2:1: <exception> outside a formatted <snapshot_store>"
	printf '<snapshot_store version="1" valid="0" chunk_size="8" nr_chunks="64">\n<exception old_chunk="1" new_chunk="2"/>\n</snapshot_store>\n' >"$d/bad.xml"
	reject "$d/bad.xml:2:1: an invalidated store (valid=\"0\") has no exceptions"
	: >"$d/bad.xml"
	reject "$d/bad.xml:1:1: no element found"
}

@test "rejections: COW chunks on the header, an area, past the end; shared chunks; truncated" {
	h='<snapshot_store version="1" valid="1" chunk_size="8" nr_chunks="600">'
	t='</snapshot_store>'
	printf '%s\n<exception old_chunk="1" new_chunk="0"/>\n%s\n' "$h" "$t" >"$d/bad.xml"
	reject "$d/bad.xml:2:1: COW chunk 0 is the header chunk"
	printf '%s\n<exception old_chunk="1" new_chunk="1"/>\n%s\n' "$h" "$t" >"$d/bad.xml"
	reject "$d/bad.xml:2:1: COW chunk 1 is a metadata area"
	printf '%s\n<exception_run old_begin="1" new_begin="250" length="9"/>\n%s\n' "$h" "$t" >"$d/bad.xml"
	reject "$d/bad.xml:2:1: COW chunk 258 is a metadata area"
	printf '%s\n<exception_run old_begin="1" new_begin="590" length="20"/>\n%s\n' "$h" "$t" >"$d/bad.xml"
	reject "$d/bad.xml:2:1: COW chunk 600 lies past the end of the store (600 chunks)"
	printf '%s\n<exception_run old_begin="1" new_begin="2" length="0"/>\n%s\n' "$h" "$t" >"$d/bad.xml"
	reject "$d/bad.xml:2:1: bad run length 0"
	printf '%s\n<exception_run old_begin="10" new_begin="2" length="5"/>\n<exception old_chunk="3" new_chunk="20"/>\n<exception old_chunk="12" new_chunk="21"/>\n%s\n' "$h" "$t" >"$d/bad.xml"
	reject "$d/bad.xml:4:1: origin chunk 12 already has an exception (line 2)"
	printf '%s\n<exception old_chunk="3" new_chunk="20"/>\n<exception_run old_begin="10" new_begin="18" length="5"/>\n%s\n' "$h" "$t" >"$d/bad.xml"
	reject "$d/bad.xml:3:1: COW chunk 20 is already used by the exception at line 2"
	printf '%s\n<exception old_chunk="3" new_chunk="20"/>\n' "$h" >"$d/bad.xml"
	reject "$d/bad.xml:3:1: no element found"
	# 256 exceptions fill area 0; area 1 at chunk 258 must exist
	printf '%s\n<exception_run old_begin="0" new_begin="2" length="256"/>\n%s\n' \
		'<snapshot_store version="1" valid="1" chunk_size="8" nr_chunks="258">' "$t" >"$d/bad.xml"
	reject "$d/bad.xml: 256 exceptions fill 1 metadata areas; area 1 (chunk 258) would lie past the end of the store (258 chunks)"
}

@test "usage and input errors" {
	run_prog "$SR" 2 -i x
	[ "${stderr%%$'\n'*}" = "snap_restore: No output file provided." ]
	run_prog "$SR" 2 -o x
	[ "${stderr%%$'\n'*}" = "snap_restore: No input file provided." ]
	run_prog "$SR" 2 --bogus
	[ "${stderr%%$'\n'*}" = "snap_restore: unrecognized option '--bogus'" ]
	run_prog "$SR" 64 -i "$d/missing" -o "$d/x"
	[ "$stderr" = "Couldn't find input file '$d/missing'" ]
	echo '<snapshot_store formatted="0" size="8"/>' >"$d/u.xml"
	run_prog "$SR" 64 -o "$d/missing" -i "$d/u.xml"
	[ "$stderr" = "Couldn't find output file '$d/missing'" ]
	run_prog "$SR" 64 -q -i "$d/missing" -o "$d/x"
	[ -z "$stderr" ]
	run_prog "$SR" 0 -V
	[ "$output" = "1.0.0" ]
}
