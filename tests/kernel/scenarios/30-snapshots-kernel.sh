# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 3: dm-snapshot persistent stores written by the kernel.  Each
# origin disk starts as generation 1 of the pattern (device tag 1); the
# guest takes snapshots, writes to the origins (generations 2, 3) and to the
# snapshots (tags 100+), and records what every device reads.  Then our
# snap_check must pass with the figures of dmsetup status, snap_dump must
# list exactly the chunks the kernel copied, and exceptions + origin must
# predict what each snapshot read; the store the kernel invalidated must be
# reported as such, and a full PO store (valid, "Overflow") must pass.

ORIGIN_BLOCKS=2048 # 8 MiB origins
vm_begin
for o in k8 k16 k64 k512 two three over po areas; do
	rm -f "$o.origin" && truncate -s $((ORIGIN_BLOCKS * 4096)) "$o.origin"
	"$PATTERN" write "$o.origin" 1 1 "0-$((ORIGIN_BLOCKS - 1))"
	vm_disk "o-$o" "$o.origin"
done
# An origin whose size is not a multiple of the chunk size (2049 blocks).
rm -f odd.origin && truncate -s $((2049 * 4096)) odd.origin
"$PATTERN" write odd.origin 1 1 0-2048
vm_disk o-odd odd.origin
for c in k8 k16 k64 k512 two-a two-b three-a three-b three-c areas odd; do
	vm_new_disk "c-$c" "$c.cow" 4M
done
vm_new_disk c-over over.cow 64K
vm_new_disk c-po po.cow 64K

cat >job.sh <<'JOB'
set -x
# One snapshot per chunk size: origin and snapshot writes.
for k in 8 16 64 512; do
	origin_create k$k o-k$k || exit 1
	snap_create k$k-s k$k o-k$k c-k$k $k || exit 1
	put k$k 1 2 10-19 100 2000
	put k$k-s 101 1 5 10 500-510
	record k$k k$k k$k-s
done

# Two snapshots of one origin, chunk sizes 16 and 32.
origin_create two o-two || exit 1
snap_create two-a two o-two c-two-a 16 || exit 1
put two 1 2 0-9
snap_create two-b two o-two c-two-b 32 || exit 1
put two 1 3 5-15 300
put two-b 102 1 400
record two two two-a two-b

# Three snapshots, chunk sizes 8, 64, 128.
origin_create three o-three || exit 1
snap_create three-a three o-three c-three-a 8 || exit 1
put three 1 2 0-3
snap_create three-b three o-three c-three-b 64 || exit 1
put three 1 3 2-40
snap_create three-c three o-three c-three-c 128 || exit 1
put three 1 4 30-70 1000
put three-a 101 1 1500
put three-c 103 1 1600-1601
record three three three-a three-b three-c

# A store that overflows: 16 chunks of 4 KiB, 100 chunks written.
origin_create over o-over || exit 1
snap_create over-s over o-over c-over 8 || exit 1
put over 1 2 0-99
record over over over-s

# The same store with overflow allowed (PO), filled through the snapshot:
# the kernel keeps it valid and says Overflow.
origin_create po o-po || exit 1
snap_create po-s po o-po c-po 8 PO || exit 1
put po-s 104 1 0-99 && echo "writes beyond the COW space succeeded"
record po po po-s

# The last chunk of this origin is partial: 1 of 8 blocks.
origin_create odd o-odd || exit 1
snap_create odd-s odd o-odd c-odd 64 || exit 1
put odd 1 2 2040 2048
put odd-s 105 1 2047
record odd odd odd-s

# More exceptions than one metadata area holds (256 for 4 KiB chunks).
origin_create areas o-areas || exit 1
snap_create areas-s areas o-areas c-areas 8 || exit 1
put areas 1 2 0-599
record areas areas areas-s

teardown
JOB

if ! vm_run job.sh guest; then
	fail "the guest job did not complete"
	return 0
fi

# The origins read in the kernel what their images hold afterwards.
for o in k8 k16 k64 k512 two three over po areas odd; do
	"$PATTERN" scan "$o.origin" >"$o.origin.scan"
	check "origin $o reads in the kernel what its image holds" \
		"$PATTERN" compare "$o.origin.scan" "guest/$o/$o.scan" "origin $o"
done

for k in 8 16 64 512; do
	check_snapshot "chunk $k" k$k.origin k$k.cow $k guest/k$k k$k-s \
		10-19 100 2000 5 10 500-510
done
check_snapshot "two a" two.origin two-a.cow 16 guest/two two-a 0-9 5-15 300
check_snapshot "two b" two.origin two-b.cow 32 guest/two two-b 5-15 300 400
check_snapshot "three a" three.origin three-a.cow 8 guest/three three-a \
	0-3 2-40 30-70 1000 1500
check_snapshot "three b" three.origin three-b.cow 64 guest/three three-b \
	2-40 30-70 1000
check_snapshot "three c" three.origin three-c.cow 128 guest/three three-c \
	30-70 1000 1600-1601
check "over: the kernel invalidated the overflowed snapshot" \
	test "$(cut -d' ' -f4- guest/over/over-s.status)" = Invalid
check_snapshot "over" over.origin over.cow 8 guest/over over-s
check "po: the kernel reports Overflow for the full PO snapshot" \
	test "$(cut -d' ' -f4- guest/po/po-s.status)" = Overflow
check_snapshot "po" po.origin po.cow 8 guest/po po-s 0-13
expect_runs "po snapshot" guest/po/po-s.scan "0 13 pat 104 0 1" "14 2047 pat 1 14 1"
check_snapshot "odd" odd.origin odd.cow 64 guest/odd odd-s 2040 2048 2047
expect_runs "odd snapshot" guest/odd/odd-s.scan "2047 2047 pat 105 2047 1" \
	"2048 2048 pat 1 2048 1"
check_snapshot "areas" areas.origin areas.cow 8 guest/areas areas-s 0-599
check "areas: the store spans three metadata areas" \
	test "$(awk '{print $4}' guest/areas/areas-s.status | cut -d/ -f1)" -gt $((258 * 8))

# The snapshots read the old data (so the comparisons are not vacuous).
expect_runs "chunk 8 snapshot" guest/k8/k8-s.scan "0 4 pat 1 0 1" "5 5 pat 101 5 1" \
	"10 10 pat 101 10 1" "11 499 pat 1 11 1"
expect_runs "chunk 512 snapshot" guest/k512/k512-s.scan "6 9 pat 1 6 1" \
	"10 10 pat 101 10 1"
expect_runs "chunk 512 origin" guest/k512/k512.scan "10 19 pat 1 10 2"
expect_runs "three b" guest/three/three-b.scan "0 3 pat 1 0 2" "4 2047 pat 1 4 1"
expect_runs "three c" guest/three/three-c.scan "0 1 pat 1 0 2" "2 40 pat 1 2 3" \
	"1600 1601 pat 103 1600 1"
expect_runs "areas snapshot" guest/areas/areas-s.scan "0 2047 pat 1 0 1"
