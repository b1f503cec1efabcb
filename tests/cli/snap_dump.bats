#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# snap_dump: the XML form of exception stores written by tests/tools/mk_cow.

load helpers

bats_require_minimum_version 1.5.0

SD=$TS_BIN/snap_dump
: "${TS_BUILD:=$BATS_TEST_DIRNAME/../../build}"
MK_COW=$TS_BUILD/tests/mk_cow

setup() {
	d=$BATS_TEST_TMPDIR
}

sd() { run_to "$SD" "$@"; }

@test "runs merge while origin and COW chunks both go up; areas break them" {
	# chunk 16: E = 512; COW chunks 2..513, then 515.. after area 1 at 514
	awk 'BEGIN { for (k = 0; k < 600; k++) print 128 + k, (k < 512 ? 2 + k : 3 + k) }' |
		"$MK_COW" "$d/s" 16 2048
	sd 0 "$d/x.xml" "$d/s"
	[ -z "$stderr" ]
	[ "$(cat "$d/x.xml")" = '<snapshot_store version="1" valid="1" chunk_size="16" nr_chunks="2048">
  <exception_run old_begin="128" new_begin="2" length="512"/>
  <exception_run old_begin="640" new_begin="515" length="88"/>
</snapshot_store>' ]
}

@test "singles, origin gaps, COW gaps and out-of-order chunks" {
	printf '5 2\n6 3\n9 4\n10 6\n0 7\n3 5\n' | "$MK_COW" "$d/s" 8 64
	sd 0 "$d/x.xml" "$d/s"
	[ "$(cat "$d/x.xml")" = '<snapshot_store version="1" valid="1" chunk_size="8" nr_chunks="64">
  <exception_run old_begin="5" new_begin="2" length="2"/>
  <exception old_chunk="9" new_chunk="4"/>
  <exception old_chunk="10" new_chunk="6"/>
  <exception old_chunk="0" new_chunk="7"/>
  <exception old_chunk="3" new_chunk="5"/>
</snapshot_store>' ]
}

@test "an empty store; an unformatted one; -o" {
	"$MK_COW" "$d/e" 32 100 </dev/null
	sd 0 "$d/x.xml" "$d/e"
	[ "$(cat "$d/x.xml")" = '<snapshot_store version="1" valid="1" chunk_size="32" nr_chunks="100">
</snapshot_store>' ]
	truncate -s 1M "$d/z"
	sd 0 "$d/z.xml" "$d/z"
	[ "$(cat "$d/z.xml")" = '<snapshot_store formatted="0" size="2048"/>' ]
	sd 0 "$d/empty-stdout" -o "$d/o.xml" "$d/e"
	[ ! -s "$d/empty-stdout" ]
	cmp "$d/o.xml" "$d/x.xml"
}

@test "an invalidated store: the header only, and it says why" {
	printf '0 2\n1 3\n' | "$MK_COW" "$d/inv" 16 64 0
	sd 0 "$d/x.xml" "$d/inv"
	[ "$(cat "$d/x.xml")" = '<snapshot_store version="1" valid="0" chunk_size="16" nr_chunks="64">
</snapshot_store>' ]
	[ "$stderr" = "the snapshot was invalidated (valid = 0 in the header): its data is incomplete, it cannot be used or merged" ]
}

@test "a damaged store is not dumped" {
	printf '0 2\n1 514\n' | "$MK_COW" "$d/bad" 16 1024
	sd 64 "$d/x.xml" "$d/bad"
	[ ! -s "$d/x.xml" ]
	[ "$stderr" = "area 0, entry 1: COW chunk 514 is a metadata area (the device has 1024 chunks)" ]
	"$MK_COW" "$d/m" 16 64 </dev/null
	put_le32 "$d/m" 0 7
	sd 64 "$d/x.xml" "$d/m"
	[ "$stderr" = 'bad magic 0x00000007 in the header chunk (a snapshot store has 0x70416e53, "SnAp")' ]
	sd 64 "$d/x.xml" -q "$d/m"
	[ -z "$stderr" ]
}

@test "usage and input errors" {
	sd 2 "$d/x" --bogus
	sd 2 "$d/x"
	[ "${stderr%%$'\n'*}" = "snap_dump: No input file provided." ]
	sd 64 "$d/x" "$d/missing"
	[ "$stderr" = "Couldn't find input file '$d/missing'" ]
	sd 0 "$d/v" -V
	[ "$(cat "$d/v")" = "1.0.0" ]
	sd 0 "$d/h" -h
	[ "$(head -1 "$d/h")" = "Usage: snap_dump [options] {device|file}" ]
}
