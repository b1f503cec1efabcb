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

# zero_chunk FILE CHUNK_SECTORS CHUNK: the chunk is all zeros
zero_chunk() {
	[ "$(chunk_sha "$1" "$2" "$3")" = "$(head -c $(($2 * 512)) /dev/zero | sha256sum | cut -d' ' -f1)" ]
}

@test "repeated origin chunks: a later exception that continues a run the kernel placed first is kept" {
	# bucket list: 5..6 -> 10..11 before 6->20; 104..106 -> 50..52 (a
	# precede-join, then a continue) before 106->70
	printf '6 20\n5 10\n6 11\n106 70\n105 51\n104 50\n106 52\n' | cow j 16 128
	printf '5 10\n6 11\n105 51\n104 50\n106 52\n' | kept j 16 128
	repair_to j 16
	[ "$output" = "dropped area 0, entry 0, old_chunk 6, new_chunk 20: the kernel reads origin chunk 6 from area 0, entry 2, which is kept (a later entry wins when it joins a run the kernel placed first)
dropped area 0, entry 3, old_chunk 106, new_chunk 70: the kernel reads origin chunk 106 from area 0, entry 6, which is kept (a later entry wins when it joins a run the kernel placed first)
kept 5 exceptions, dropped 2" ]
	zero_chunk "$d/j.out" 16 20
	zero_chunk "$d/j.out" 16 70
	# snap_check names the entry the kernel reads
	run_prog "$SC" 64 "$d/j"
	[ "$stderr" = "area 0, entry 1: COW chunks are not in increasing order (a kernel older than 3.13 wrote this store)
area 0, entry 2: origin chunk 6 already has an exception (area 0, entry 0); the kernel reads area 0, entry 2
area 0, entry 6: origin chunk 106 already has an exception (area 0, entry 3); the kernel reads area 0, entry 6" ]
}

@test "repeated origin chunks: runs do not join across a 256-chunk group, so there the earlier one stays" {
	printf '256 21\n255 10\n256 11\n254 91\n253 80\n254 81\n' | cow g 16 128
	printf '256 21\n255 10\n253 80\n254 81\n' | kept g 16 128
	repair_to g 16
	[ "$output" = "dropped area 0, entry 2, old_chunk 256, new_chunk 11: the kernel reads origin chunk 256 from area 0, entry 0, which is kept (the earlier entry wins)
dropped area 0, entry 3, old_chunk 254, new_chunk 91: the kernel reads origin chunk 254 from area 0, entry 5, which is kept (a later entry wins when it joins a run the kernel placed first)
kept 4 exceptions, dropped 2" ]
	zero_chunk "$d/g.out" 16 11
	zero_chunk "$d/g.out" 16 91
}

@test "repeated origin chunks: the one the kernel reads is unusable or dropped itself" {
	# the kernel reads 6 from 6->64 (continuing 5->63), past the end of
	# 64 chunks: without it, it would read 6->20, which is kept
	printf '6 20\n5 63\n6 64\n6 30\n' | cow u 16 64
	printf '6 20\n5 63\n' | kept u 16 64
	repair_to u 16
	[ "$output" = "dropped area 0, entry 2, old_chunk 6, new_chunk 64: the COW chunk lies beyond the end of the COW device (64 chunks)
dropped area 0, entry 3, old_chunk 6, new_chunk 30: the kernel reads origin chunk 6 from area 0, entry 2, whose COW chunk is unusable; area 0, entry 0 is chosen instead
kept 2 exceptions, dropped 2" ]
	# the kernel reads 6 from 6->20, whose COW chunk 3->20 holds: 6 has none
	printf '3 20\n6 20\n6 21\n' | cow s 16 64
	printf '3 20\n' | kept s 16 64
	repair_to s 16
	[ "$output" = "dropped area 0, entry 1, old_chunk 6, new_chunk 20: the COW chunk is also used by area 0, entry 0, which is kept (the earlier entry wins)
dropped area 0, entry 2, old_chunk 6, new_chunk 21: the kernel reads origin chunk 6 from area 0, entry 1, which is dropped too (the earlier entry wins)
kept 1 exceptions, dropped 2" ]
}

# rerun_pairs: 1-sector chunks (E = 32): 5->50 and 5->60, 32 others, then
# 6->70 and 6->61; the kernel reads 6 from 6->61, which continues 5->60.
# Once area 0 is rewritten without 5->60, the rest of the old list would
# make a rerun keep 6->70.
rerun_pairs() {
	printf '5 50\n5 60\n'
	for ((i = 0; i < 32; i++)); do echo "$((100 + i)) $((2 + i))"; done
	printf '6 70\n6 61\n'
}

@test "--in-place refused where an interrupted run could change which repeat the kernel reads; -o works" {
	rerun_pairs | cow ip 1 200
	cp "$d/ip" "$d/ip.in"
	run_prog "$SR" 64 --in-place -i "$d/ip.in"
	[ -z "$output" ]
	[ "$stderr" = "$d/ip.in: not repaired in place: the store has several exceptions for some origin chunks, and were the repair interrupted, the kernel could then read other ones than it does now; repair it to another device with -o" ]
	rerun_pairs | awk 'NR != 2 && NR != 35' | kept ip 1 200
	repair_to ip 1
	[ "$output" = "dropped area 0, entry 1, old_chunk 5, new_chunk 60: the kernel reads origin chunk 5 from area 0, entry 0, which is kept (the earlier entry wins)
dropped area 1, entry 2, old_chunk 6, new_chunk 70: the kernel reads origin chunk 6 from area 1, entry 3, which is kept (a later entry wins when it joins a run the kernel placed first)
kept 34 exceptions, dropped 2" ]
	# repeats where the earlier entry wins are repaired in place
	printf '7 40\n7 41\n' | cat - <(rerun_pairs | sed -n '3,34p') | cow ok 1 200
	printf '7 40\n' | cat - <(rerun_pairs | sed -n '3,34p') | kept ok 1 200
	cp "$d/ok" "$d/ok.out"
	run_prog "$SR" 0 -q -i "$d/ok.out" --in-place
	repaired ok 1
}

@test "-o copies exactly the kept data chunks: large chunks, runs and scattered, nothing else" {
	# 1024-sector chunks (512 KiB): E = 32768, data chunks 2..39
	{ seq_pairs 0 12 1024; printf '50 20\n51 21\n52 22\n90 30\n91 5000\n92 39\n93 20\n94 25\n94 26\n'; } |
		cow big 1024 40
	{ seq_pairs 0 12 1024; printf '50 20\n51 21\n52 22\n90 30\n92 39\n94 25\n'; } | kept big 1024 40
	repair_to big 1024 -q
	# the expected image: the output's header and area, the input's kept
	# chunks, zeros everywhere else
	truncate -s $((40 * 1024 * 512)) "$d/big.exp"
	dd if="$d/big.out" of="$d/big.exp" bs=$((1024 * 512)) count=2 conv=notrunc status=none
	for c in $(awk '{print $2}' "$d/big.pairs"); do
		dd if="$d/big" of="$d/big.exp" bs=$((1024 * 512)) skip="$c" seek="$c" count=1 \
			conv=notrunc status=none
	done
	same_file "$d/big.exp" "$d/big.out"
	zero_chunk "$d/big.out" 1024 26
}

@test "--in-place with repeats the earlier entry wins, killed before each write: a rerun finishes the same" {
	# 1-sector chunks: 72 exceptions over three areas, two repeats of 7
	{ printf '7 150\n7 151\n'; seq_pairs 100 70 1; printf '7 152\n'; } | cow kr 1 200
	{ printf '7 150\n'; seq_pairs 100 70 1; } | kept kr 1 200
	n=0
	while :; do
		cp "$d/kr" "$d/kr.out"
		rc=0
		THINSNAP_FAIL_AFTER_WRITES=$n "$SR" -q --in-place -i "$d/kr.out" || rc=$?
		[ $rc = 0 ] && break
		[ $rc = 137 ]
		"$SR" -q --in-place -i "$d/kr.out"
		repaired kr 1
		n=$((n + 1))
		[ $n -lt 10 ]
	done
	repaired kr 1
	[ $n = 3 ]
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

@test "8000 exceptions for one origin chunk: refused rather than replayed for ever; snap_check names no reader" {
	awk 'BEGIN { for (k = 0; k < 8000; k++) print 5, 1000 + 2 * k }' | "$MK_COW" "$d/many" 1 8300
	truncate -s $((8300 * 512)) "$d/many.out"
	run_prog "$SR" 64 -o "$d/many.out" -i "$d/many"
	[ -z "$output" ]
	[ "$stderr" = "$d/many: so many exceptions repeat the same origin chunks that which of them the kernel reads cannot be worked out in reasonable time" ]
	[ "$(sha_of "$d/many.out")" = "$(head -c $((8300 * 512)) /dev/zero | sha256sum | cut -d' ' -f1)" ]
	run_prog "$SC" 64 "$d/many"
	grep -qx "area 0, entry 1: origin chunk 5 already has an exception (area 0, entry 0)" <<<"$stderr"
	refute grep -q "the kernel reads" <<<"$stderr"
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
