#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# snap_check on persistent exception stores written by tests/tools/mk_cow:
# the status figures the kernel would show, and every kind of damage of
# FORMATS.md B.14, each named with its area and entry.

load helpers

bats_require_minimum_version 1.5.0

SC=$TS_BIN/snap_check
: "${TS_BUILD:=$BATS_TEST_DIRNAME/../../build}"
MK_COW=$TS_BUILD/tests/mk_cow

setup() {
	d=$BATS_TEST_TMPDIR
}

# cow NAME CHUNK NR_CHUNKS [VALID] < pairs: a store in $d/NAME
cow() {
	"$MK_COW" "$d/$1" "$2" "$3" ${4:+"$4"}
}

# sc WANT ARGS...: snap_check with stdout in $output, stderr in $stderr
sc() { run_prog "$SC" "$@"; }

@test "the kernel's S1 store: 602 exceptions over two areas" {
	seq_pairs 128 602 16 | cow s1 16 2048
	sc 0 "$d/s1"
	[ "$output" = "9680/32768 48, 602 exceptions" ]
	[ -z "$stderr" ]
}

@test "an empty store, and one with three areas" {
	cow e 16 2048 </dev/null
	sc 0 "$d/e"
	[ "$output" = "32/32768 32, 0 exceptions" ]
	# chunk 8 (4 KiB): E = 256; 600 exceptions end in area 2
	seq_pairs 0 600 8 | cow three 8 4096
	sc 0 "$d/three"
	# next_free: 600 data chunks from 2 skipping areas 258 and 515 -> 604
	[ "$output" = "$((604 * 8))/$((4096 * 8)) $(((2 + 2) * 8)), 600 exceptions" ]
}

@test "unformatted store (magic 0): said so, exit 0, no figures" {
	truncate -s 1M "$d/z"
	sc 0 "$d/z"
	[ -z "$output" ]
	[ "$stderr" = "the store is not formatted (magic 0): the kernel formats it when the snapshot is first activated" ]
}

@test "bad magic, unknown version, bad chunk sizes" {
	cow m 16 64 </dev/null
	put_le32 "$d/m" 0 0x12345678
	sc 64 "$d/m"
	[ "$stderr" = 'bad magic 0x12345678 in the header chunk (a snapshot store has 0x70416e53, "SnAp")' ]
	cow v 16 64 </dev/null
	put_le32 "$d/v" 8 2
	sc 64 "$d/v"
	[ "$stderr" = "unknown store version 2 in the header chunk (only 1 exists)" ]
	for bad in 0 24; do
		cow c 16 64 </dev/null
		put_le32 "$d/c" 12 "$bad"
		sc 64 "$d/c"
		[ "$stderr" = "bad chunk size $bad sectors in the header chunk (must be a power of two up to 2097152)" ]
	done
	[ -z "$output" ]
}

@test "an invalidated snapshot (valid = 0) is refused plainly" {
	seq_pairs 0 10 16 | cow inv 16 64 0
	sc 64 "$d/inv"
	[ "$stderr" = "the snapshot was invalidated (valid = 0 in the header): its data is incomplete, it cannot be used or merged" ]
	[ -z "$output" ]
}

@test "--chunk-size: the expected chunk size" {
	seq_pairs 0 3 16 | cow s 16 64
	sc 0 --chunk-size 16 "$d/s"
	sc 64 --chunk-size 32 "$d/s"
	[ "$stderr" = "the header says the chunk size is 16 sectors, 32 was expected" ]
	sc 2 --chunk-size 0 "$d/s"
	sc 2 --chunk-size x "$d/s"
}

@test "a COW chunk that is a metadata area, or past the end" {
	printf '0 2\n1 514\n2 3\n' | cow a 16 1024
	sc 64 "$d/a"
	[ "$stderr" = "area 0, entry 1: COW chunk 514 is a metadata area (the device has 1024 chunks)
area 0, entry 2: COW chunks are not in increasing order (a kernel older than 3.13 wrote this store)" ]
	printf '0 2\n1 3\n2 1\n' | cow one 16 1024
	sc 64 "$d/one"
	[ "$stderr" = "area 0, entry 2: COW chunk 1 is a metadata area (the device has 1024 chunks)
area 0, entry 2: COW chunks are not in increasing order (a kernel older than 3.13 wrote this store)" ]
	printf '0 2\n1 5000\n' | cow b 16 1024
	sc 64 "$d/b"
	[ "$stderr" = "area 0, entry 1: COW chunk 5000 lies beyond the end of the COW device (the device has 1024 chunks)" ]
}

@test "two exceptions sharing a COW chunk; two for one origin chunk" {
	printf '0 2\n1 3\n2 2\n' | cow n 16 64
	sc 64 "$d/n"
	[ "$stderr" = "area 0, entry 2: COW chunks are not in increasing order (a kernel older than 3.13 wrote this store)
area 0, entry 2: COW chunk 2 is also used by area 0, entry 0" ]
	printf '7 2\n1 3\n7 4\n' | cow o 16 64
	sc 64 "$d/o"
	[ "$stderr" = "area 0, entry 2: origin chunk 7 already has an exception (area 0, entry 0); the kernel reads area 0, entry 0" ]
}

@test "origin chunks past the origin: --origin-size and --origin" {
	printf '0 2\n99 3\n100 4\n' | cow s 16 64
	# 1601 sectors: 101 chunks, the last one partial
	sc 0 --origin-size 1601 "$d/s"
	[ "$output" = "80/1024 32, 3 exceptions" ]
	sc 64 --origin-size 1600 "$d/s"
	[ "$stderr" = "area 0, entry 2: origin chunk 100 lies beyond the end of the origin (100 chunks)" ]
	truncate -s $((1616 * 512)) "$d/origin"
	sc 2 --origin "$d/origin" --origin-size 1600 "$d/s"
	sc 0 --origin "$d/origin" "$d/s"
	[ "$output" = "80/1024 32, 3 exceptions" ]
	truncate -s $((1584 * 512)) "$d/origin"
	sc 64 --origin "$d/origin" "$d/s"
	[ "$stderr" = "area 0, entry 1: origin chunk 99 lies beyond the end of the origin (99 chunks)
area 0, entry 2: origin chunk 100 lies beyond the end of the origin (99 chunks)" ]
}

@test "a full area with no room for the next one: truncated store" {
	# chunk 16: area 0 holds 512; the device ends before area 1 (chunk 514)
	seq_pairs 0 512 16 | cow t 16 514
	sc 64 "$d/t"
	[ "$stderr" = "metadata area 1 (chunk 514) lies beyond the end of the COW device (514 chunks), but the area before it is full" ]
}

@test "COW chunks out of order (old kernels): information only" {
	printf '0 3\n1 2\n' | cow r 16 64
	sc 0 "$d/r"
	[ "$output" = "64/1024 32, 2 exceptions" ]
	[ "$stderr" = "area 0, entry 1: COW chunks are not in increasing order (a kernel older than 3.13 wrote this store)" ]
}

@test "bytes after the terminator: a warning" {
	printf '0 2\n' | cow t 16 64
	put_le64 "$d/t" $((16 * 512 + 48)) 77
	sc 0 "$d/t"
	[ "$output" = "48/1024 32, 1 exceptions" ]
	[ "$stderr" = "warning: area 0 has non-zero bytes after its last exception" ]
}

@test "-q, usage, input errors; the store is never written" {
	seq_pairs 0 5 16 | cow s 16 64
	printf '0 2\n1 2\n' | cow bad 16 64
	sha=$(sha_of "$d/bad")
	sc 64 -q "$d/bad"
	[ -z "$output" ] && [ -z "$stderr" ]
	[ "$(sha_of "$d/bad")" = "$sha" ]
	sc 0 -q "$d/s"
	[ -z "$output" ]
	sc 2 "$d/s" "$d/s"
	sc 2
	[ "${stderr%%$'\n'*}" = "snap_check: No input file provided." ]
	sc 2 --bogus "$d/s"
	sc 2 --origin "$d/s" --origin-size 5 "$d/s"
	[ "${stderr%%$'\n'*}" = "snap_check: --origin and --origin-size cannot be combined" ]
	sc 64 "$d/missing"
	[ "$stderr" = "Couldn't find input file '$d/missing'" ]
	: >"$d/tiny"
	sc 64 "$d/tiny"
	[ "$stderr" = "COW device/file too small for a snapshot store header." ]
	sc 0 -V
	[ "$output" = "1.0.0" ]
	sc 0 -h
	[ "${lines[0]}" = "Usage: snap_check [options] {device|file}" ]
}
