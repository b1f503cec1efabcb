#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# snap_merge_offline on stores made with snap_restore over patterned data
# (tests/tools/fill_pattern): the origin afterwards reads as the snapshot
# did (tests/tools/snap_view), the merged store is left empty as the
# kernel leaves it, other snapshots keep their views, every refusal is
# explained, and an interruption at any write is finished by a rerun.

load helpers
load snap_merge

bats_require_minimum_version 1.5.0

setup() {
	d=$BATS_TEST_TMPDIR
}

@test "no exceptions: nothing to do, nothing written" {
	"$FILL" "$d/origin" 1048576 1
	store cow 8 64 2 </dev/null
	sha=$(sha_of "$d/cow")
	merge 0 --origin "$d/origin" --cow "$d/cow" --no-other-snapshots
	[ "$output" = "merged 0 chunks (0 bytes) in 0 runs from $d/cow into $d/origin" ]
	[ "$(sha_of "$d/cow")" = "$sha" ]
	[ "$(sha_of "$d/origin")" = "$(cd "$d" && "$FILL" o2 1048576 1 && sha_of o2)" ]
}

@test "one exception; the store is left as the kernel leaves it" {
	"$FILL" "$d/origin" 1048576 1
	echo 7 | snap_alloc 8 | store cow 8 64 2
	views
	emptied cow 8 1
	merge 0 --origin "$d/origin" --cow "$d/cow" --no-other-snapshots
	[ "$output" = "merged 1 chunks (4096 bytes) in 1 runs from $d/cow into $d/origin" ]
	views_kept
	same_file "$d/cow" "$d/cow.want"
	run_prog "$SC" 0 "$d/cow"
	[ "$output" = "16/512 16, 0 exceptions" ]
	# a second run finds nothing left
	merge 0 --origin "$d/origin" --cow "$d/cow" --no-other-snapshots
	[ "$output" = "merged 0 chunks (0 bytes) in 0 runs from $d/cow into $d/origin" ]
	same_file "$d/origin" "$d/cow.view"
}

@test "runs and scattered chunks over several metadata areas" {
	# chunk 8: 256 exceptions an area; 700 exceptions end in area 2
	"$FILL" "$d/origin" $((3000 * 4096)) 1
	{ seq 100 399; seq 1000 7 2800; seq 2900 2999; } | snap_alloc 8 | store cow 8 2000 2
	[ "$(wc -l <"$d/cow.xml")" = 660 ]
	views
	emptied cow 8 3
	merge 0 --origin "$d/origin" --cow "$d/cow" --no-other-snapshots
	# the first run breaks where the COW chunks skip area 1 (chunk 258)
	[ "$output" = "merged 658 chunks (2695168 bytes) in 261 runs from $d/cow into $d/origin" ]
	views_kept
	same_file "$d/cow" "$d/cow.want"
}

@test "chunk sizes 8 to 1024 sectors, origin not a multiple of the chunk size" {
	for cs in 8 32 128 1024; do
		rm -f "$d"/origin "$d"/cow*
		# the last origin chunk is partial (2 KiB of it exist)
		last=19
		"$FILL" "$d/origin" $((last * cs * 512 + 2048)) "$cs"
		printf '%s\n' 3 4 5 $last 0 11 | snap_alloc "$cs" | store cow "$cs" 40 7
		views
		emptied cow "$cs" 1
		merge 0 --origin "$d/origin" --cow "$d/cow" --no-other-snapshots --verify
		[ "$output" = "merged 6 chunks ($((5 * cs * 512 + 2048)) bytes) in 4 runs from $d/cow into $d/origin" ]
		views_kept
		same_file "$d/cow" "$d/cow.want"
	done
}

@test "a store from an old kernel: two exceptions for one origin chunk, out of order" {
	# the kernel's lookup uses the earlier one; merged backwards, it is
	# written last; such stores are merged one run at a time
	"$FILL" "$d/origin" 1048576 1
	# snap_restore refuses such a store: mk_cow writes it, and its header
	# and area go over patterned data
	printf '%s\n' '5 9' '6 10' '7 4' '5 2' '8 3' '6 11' |
		"$TS_BUILD/tests/mk_cow" "$d/meta" 8 64
	"$FILL" "$d/cow" $((64 * 4096)) 2
	dd if="$d/meta" of="$d/cow" bs=4096 count=2 conv=notrunc status=none
	printf '%s\n' '1 2' | store s1 4 128 3
	views
	merge 0 --origin "$d/origin" --cow "$d/cow" --other "$d/s1"
	[ "${lines[0]}" = "merged 6 chunks (24576 bytes) in 5 runs from $d/cow into $d/origin" ]
	[ "$stderr" = "warning: $d/cow: area 0, entry 3: origin chunk 5 already has an exception (area 0, entry 0); the kernel reads area 0, entry 0
warning: $d/cow: area 0, entry 5: origin chunk 6 already has an exception (area 0, entry 1); the kernel reads area 0, entry 1" ]
	views_kept
	"$SC" "$d/cow"
}

@test "repeated origin chunks where the snapshot reads a later one: refused, merged after snap_repair" {
	# bucket list: 5..6 -> 10..11 before 6 -> 20, so the snapshot reads
	# origin chunk 6 from entry 2; any merge would leave entry 0's data
	"$FILL" "$d/origin" 1048576 1
	printf '%s\n' '6 20' '5 10' '6 11' | "$TS_BUILD/tests/mk_cow" "$d/meta" 8 64
	"$FILL" "$d/cow" $((64 * 4096)) 2
	dd if="$d/meta" of="$d/cow" bs=4096 count=2 conv=notrunc status=none
	views
	local o c
	o=$(sha_of "$d/origin") c=$(sha_of "$d/cow")
	merge 64 --no-other-snapshots --origin "$d/origin" --cow "$d/cow"
	[ "$output" = "" ]
	[ "$stderr" = "warning: $d/cow: area 0, entry 2: origin chunk 6 already has an exception (area 0, entry 0); the kernel reads area 0, entry 2
$d/cow: the snapshot reads origin chunk 6 from area 0, entry 2, but a merge (ours or the kernel's) would leave the data of the earlier area 0, entry 0 for that chunk; repair the store with snap_repair -o first and merge the repaired copy" ]
	[ "$(sha_of "$d/origin")" = "$o" ]
	[ "$(sha_of "$d/cow")" = "$c" ]
	# repaired to another file, the store merges into what the snapshot read
	truncate -s $((64 * 4096)) "$d/rep"
	run -0 "$TS_BIN/snap_repair" -i "$d/cow" -o "$d/rep"
	merge 0 --no-other-snapshots --origin "$d/origin" --cow "$d/rep"
	same_file "$d/origin" "$d/cow.view"
}

@test "another snapshot with larger chunks: exact exceptions added, views kept" {
	"$FILL" "$d/origin" $((1024 * 1024 + 2048)) 1
	{ seq 10 29; echo 3; echo 100; seq 200 255; echo 256; echo 5; } | snap_alloc 8 | store cow 8 512 2
	printf '6 2\n101 3\n' | store s1 16 256 3
	views
	merge 0 --origin "$d/origin" --cow "$d/cow" --other "$d/s1"
	[ "${lines[1]}" = "$d/s1: added 40 exceptions (321536 bytes) preserving the origin" ]
	views_kept
	# the kernel's order: runs from the last exception backwards (5; 200-256
	# with the partial last chunk; 100; 3; 10-29), each run's chunks of s1
	# upwards, allocated from s1's next free chunk
	run_to "$SD" 0 "$d/s1.dump" "$d/s1"
	[ "$(cat "$d/s1.dump")" = "<snapshot_store version=\"1\" valid=\"1\" chunk_size=\"16\" nr_chunks=\"256\">
  <exception old_chunk=\"6\" new_chunk=\"2\"/>
  <exception old_chunk=\"101\" new_chunk=\"3\"/>
  <exception old_chunk=\"2\" new_chunk=\"4\"/>
  <exception old_chunk=\"100\" new_chunk=\"5\"/>
  <exception_run old_begin=\"102\" new_begin=\"6\" length=\"27\"/>
  <exception old_chunk=\"50\" new_chunk=\"33\"/>
  <exception old_chunk=\"1\" new_chunk=\"34\"/>
  <exception old_chunk=\"5\" new_chunk=\"35\"/>
  <exception_run old_begin=\"7\" new_begin=\"36\" length=\"8\"/>
</snapshot_store>" ]
}

@test "two other snapshots, smaller and larger chunks, over several areas" {
	"$FILL" "$d/origin" $((2048 * 16 * 512)) 1
	{ seq 0 2 600; seq 700 1300; } | snap_alloc 16 | store cow 16 2048 2
	seq 0 5 4000 | snap_alloc 8 | store s1 8 8192 3
	seq 3 9 400 | snap_alloc 64 | store s2 64 1024 4
	views
	merge 0 --origin "$d/origin" --cow "$d/cow" --other "$d/s1" --other "$d/s2"
	views_kept
	# s1 (8 sectors) gets both halves of every merged 16-sector chunk it
	# lacked; s2 (64 sectors) every 64-sector chunk touched once
	[ "$(grep -c . <<<"$output")" = 3 ]
	n1=$("$SC" "$d/s1" | sed 's/.*, //')
	n2=$("$SC" "$d/s2" | sed 's/.*, //')
	want1=$( { seq 0 5 4000; for c in $(seq 0 2 600) $(seq 700 1300); do echo $((2 * c)); echo $((2 * c + 1)); done; } | sort -un | wc -l)
	want2=$( { seq 3 9 400; for c in $(seq 0 2 600) $(seq 700 1300); do echo $((c / 4)); done; } | sort -un | wc -l)
	[ "$n1" = "$want1 exceptions" ]
	[ "$n2" = "$want2 exceptions" ]
}

@test "an invalidated other snapshot is ignored, as the kernel does" {
	"$FILL" "$d/origin" 1048576 1
	seq 1 10 | snap_alloc 8 | store cow 8 64 2
	store s1 8 64 3 0 </dev/null
	sha=$(sha_of "$d/s1")
	merge 0 -v --origin "$d/origin" --cow "$d/cow" --other "$d/s1"
	[ "${lines[1]}" = "$d/s1: invalidated snapshot, ignored" ]
	[ "$stderr" = "$d/origin: O_DIRECT
$d/cow: O_DIRECT
$d/s1: O_DIRECT
$d/s1: the snapshot was invalidated; ignored, as the kernel does" ]
	[ "$(sha_of "$d/s1")" = "$sha" ]
	# said only with -v
	seq 1 10 | snap_alloc 8 | store cow 8 64 2
	merge 0 --origin "$d/origin" --cow "$d/cow" --other "$d/s1"
	[ -z "$stderr" ]
}

@test "a progress line on a terminal only" {
	command -v script >/dev/null 2>&1 || skip "no script(1)"
	"$FILL" "$d/origin" 1048576 1
	seq 1 100 | snap_alloc 8 | store cow 8 256 2
	script -qec "$SM --origin $d/origin --cow $d/cow --no-other-snapshots" /dev/null >"$d/tty"
	grep -q 'merging 100.0%.*MiB/s  ETA 0:00' "$d/tty"
	grep -q "^merged 100 chunks (409600 bytes) in 1 runs" "$d/tty"
	seq 1 100 | snap_alloc 8 | store cow 8 256 2
	merge 0 --origin "$d/origin" --cow "$d/cow" --no-other-snapshots
	[ -z "$stderr" ]
}

@test "--dry-run reports and writes nothing" {
	"$FILL" "$d/origin" 1048576 1
	{ seq 1 10; seq 20 2 30; } | snap_alloc 8 | store cow 8 64 2
	printf '0 2\n' | store s1 16 64 3
	sha=$(sha_of "$d/origin")$(sha_of "$d/cow")$(sha_of "$d/s1")
	merge 0 --dry-run --origin "$d/origin" --cow "$d/cow" --other "$d/s1"
	[ "$output" = "would merge 16 chunks (65536 bytes) in 7 runs from $d/cow into $d/origin
$d/s1: would add 11 exceptions (90112 bytes) preserving the origin" ]
	[ "$(sha_of "$d/origin")$(sha_of "$d/cow")$(sha_of "$d/s1")" = "$sha" ]
}

@test "interrupted at every write, a rerun gives the uninterrupted result" {
	kill_reference
	for ((n = 0; n < 1000; n++)); do
		kill_inputs
		rc=0
		kill_at "$n" "$d" "$want" || rc=$?
		[ "$rc" != 1 ] || break # done before write n+1: every point was tried
		[ "$rc" = 0 ]
	done
	# the writes of this scenario (87 with 4 MiB pieces): the hook works
	((n > 80))
}

@test "refused: no word on other snapshots, contradicting options" {
	merge 2 --origin "$d/o" --cow "$d/c"
	[ "${stderr%%$'\n'*}" = "snap_merge_offline: neither --other nor --no-other-snapshots was given: offline, the other snapshots of the origin cannot be found, and merging would corrupt them; name the COW of each with --other, or state that there are none with --no-other-snapshots" ]
	merge 2 --origin "$d/o" --cow "$d/c" --other "$d/s" --no-other-snapshots
	[ "${stderr%%$'\n'*}" = "snap_merge_offline: --other and --no-other-snapshots contradict each other" ]
	merge 2 --cow "$d/c" --no-other-snapshots
	[ "${stderr%%$'\n'*}" = "snap_merge_offline: both --origin and --cow are needed" ]
	merge 2 --bogus
	[ "${stderr%%$'\n'*}" = "snap_merge_offline: unrecognized option '--bogus'" ]
}

@test "refused: invalid, unformatted and damaged stores, nothing written" {
	"$FILL" "$d/origin" 1048576 1
	sha=$(sha_of "$d/origin")
	store cow 8 64 2 0 </dev/null
	merge 64 --origin "$d/origin" --cow "$d/cow" --no-other-snapshots
	[ "$stderr" = "$d/cow: the snapshot was invalidated (valid = 0 in the header): its data is incomplete, it cannot be used or merged
$d/cow: refusing to merge: the store is not usable (see above)" ]
	truncate -s 1M "$d/z"
	merge 64 --origin "$d/origin" --cow "$d/z" --no-other-snapshots
	[ "$stderr" = "$d/z is not formatted (magic 0): it holds no snapshot to merge" ]
	seq 1 3 | snap_alloc 8 | store cow 8 64 2
	merge 64 --origin "$d/origin" --cow "$d/cow" --other "$d/z"
	[ "$stderr" = "$d/z is not formatted (magic 0): the kernel formats it with the chunk size of its table when the snapshot is first activated; activate it once, then merge" ]
	put_le64 "$d/cow" $((4096 + 8)) 1
	merge 64 --origin "$d/origin" --cow "$d/cow" --no-other-snapshots
	[ "$stderr" = "$d/cow: area 0, entry 0: COW chunk 1 is a metadata area (the device has 64 chunks)
$d/cow: refusing to merge: the store is not usable (see above)" ]
	[ "$(sha_of "$d/origin")" = "$sha" ]
}

@test "refused: origin too short, the same file twice, an other store that would overflow" {
	"$FILL" "$d/origin" $((100 * 4096)) 1
	sha=$(sha_of "$d/origin")
	printf '%s\n' 5 100 | snap_alloc 8 | store cow 8 64 2
	merge 64 --origin "$d/origin" --cow "$d/cow" --no-other-snapshots
	[ "$stderr" = "$d/origin is shorter than the exceptions need: it has 800 sectors, origin chunk 100 of $d/cow starts at sector 800" ]
	printf '%s\n' 5 60 | snap_alloc 8 | store cow 8 64 2
	merge 64 --origin "$d/origin" --cow "$d/cow" --other "$d/cow"
	[ "$stderr" = "snap_merge_offline: '$d/cow' and '$d/cow' are the same file" ]
	ln "$d/cow" "$d/hard"
	merge 64 --origin "$d/origin" --cow "$d/cow" --other "$d/hard"
	[ "$stderr" = "snap_merge_offline: '$d/cow' and '$d/hard' are the same file" ]
	ln -s "$d/origin" "$d/sym"
	merge 64 --origin "$d/origin" --cow "$d/sym" --no-other-snapshots
	[ "$stderr" = "snap_merge_offline: '$d/origin' and '$d/sym' are the same file" ]
	# a store of 4 chunks: header, area, two data chunks; one is used
	printf '0 2\n' | store s1 8 4 3
	shas=$(sha_of "$d/cow")$(sha_of "$d/s1")
	merge 64 --origin "$d/origin" --cow "$d/cow" --other "$d/s1"
	[ "$stderr" = "$d/s1 would overflow: the merge needs 2 new exceptions there, the store has room for 1; nothing was written" ]
	[ "$(sha_of "$d/origin")" = "$sha" ]
	[ "$(sha_of "$d/cow")$(sha_of "$d/s1")" = "$shas" ]
	merge 64 --origin "$d/origin" --cow "$d/missing" --no-other-snapshots
	[ "$stderr" = "Couldn't find '$d/missing'" ]
}

# loop FILE [SECTOR_SIZE]: attach FILE to a loop device (echo its path);
# the test is skipped where that is not possible (not root, no losetup)
loop() {
	[ "$(id -u)" = 0 ] && command -v losetup >/dev/null 2>&1 || return 1
	losetup -f --show ${2:+--sector-size "$2"} "$1" 2>/dev/null
}

teardown() {
	local l
	for l in ${loops:-}; do losetup -d "$l" 2>/dev/null || true; done
}

@test "refused on block devices: in use, chunk smaller than the logical block" {
	"$FILL" "$d/origin" 1048576 1
	seq 1 3 | snap_alloc 8 | store cow 8 64 2
	lo=$(loop "$d/cow") || skip "no loop devices here"
	loops=$lo
	# another process holds the COW exclusively
	python3 -c 'import os, sys, time; os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL); time.sleep(5)' "$lo" &
	holder=$!
	sleep 0.5
	merge 64 --origin "$d/origin" --cow "$lo" --no-other-snapshots
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	[ "$stderr" = "snap_merge_offline: '$lo' is in use: deactivate the snapshot and its origin first" ]
	# 2 KiB chunks on a device with 4 KiB logical blocks
	seq 1 3 | snap_alloc 4 | store c4 4 64 3
	lo4=$(loop "$d/c4" 4096) || skip "no loop devices with 4 KiB sectors here"
	loops="$lo $lo4"
	merge 64 --origin "$d/origin" --cow "$lo4" --no-other-snapshots
	[ "$stderr" = "$lo4: chunk size 4 sectors is not a multiple of the logical block size of $lo4 (4096 bytes)" ]
	merge 0 --origin "$d/origin" --cow "$lo" --no-other-snapshots --dry-run
}

@test "-h, -V" {
	merge 0 -V
	[ "$output" = "1.0.0" ]
	merge 0 -h
	[ "${lines[0]}" = "Usage: snap_merge_offline [options] --origin <dev> --cow <dev>" ]
}
