# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 1: thin pools made by the kernel, read by our tools.  One boot
# builds twelve pools (metadata disk mN, data disk dN each); then, per pool, our
# thin_check passes, our thin_dump agrees with the kernel's status and with
# what every thin device reads in the kernel, thin_dump -m dumps a held
# metadata snapshot, and thin_rmap agrees with the dump.

POOLS="empty scattered chain many deleted held released bs384 bs1024 full txid
grown"
vm_begin
for p in $POOLS; do
	case $p in
	grown) vm_new_disk "m-$p" "$p.meta" 8M ;;
	*) vm_new_disk "m-$p" "$p.meta" 4M ;;
	esac
	case $p in
	full) vm_new_disk "d-$p" "$p.data" 2M ;;
	*) vm_new_disk "d-$p" "$p.data" 64M ;;
	esac
done
vm_new_disk held-copy held.copy 4M

cat >job.sh <<'JOB'
set -x
for p in empty scattered chain many deleted held released txid; do
	pool_create "$p" "m-$p" "d-$p" 128 || exit 1
done
pool_create bs384 m-bs384 d-bs384 384 || exit 1
pool_create bs1024 m-bs1024 d-bs1024 1024 || exit 1
pool_create full m-full d-full 128 error_if_no_space || exit 1

record_pool empty empty

# One device, scattered writes (first and last blocks, partial pool blocks).
thin_create scattered 1 s1 131072
put s1 1 1 0-15 100 777 2000-2047 5000 9999-10010 16383
put s1 1 2 101 5000-5002
record scattered s1
record_pool scattered scattered

# Snapshot of a snapshot of a snapshot, writes at every level.
thin_create chain 1 c1 65536
put c1 1 1 0-63 500-520 8191
thin_snap chain 2 1 c1
thin_activate chain 2 c2 65536
put c1 1 2 10-20
put c2 2 1 30-40 600
thin_snap chain 3 2 c2
thin_activate chain 3 c3 65536
put c3 3 1 0-5 35
put c2 2 2 36
thin_snap chain 4 3 c3
thin_activate chain 4 c4 65536
put c4 4 1 1000-1010 37
put c1 1 3 2000 38
record chain c1 c2 c3 c4
record_pool chain chain

# Fifty devices.
i=1
while [ $i -le 50 ]; do
	thin_create many $i t$i 8192 || exit 1
	a=$((i * 13 % 1000))
	put t$i $i 1 $a-$((a + i % 5)) $((i * 17)) || exit 1
	i=$((i + 1))
done
record many $(i=1; while [ $i -le 50 ]; do echo t$i; i=$((i + 1)); done)
record_pool many many

# Deleted devices, one of them the origin of a surviving snapshot.
for i in 1 2 3 4 5 6; do
	thin_create deleted $i x$i 16384
	put x$i $i 1 $((i * 10))-$((i * 10 + 40))
done
thin_snap deleted 7 3 x3
thin_activate deleted 7 x7 16384
put x7 7 1 0-3
thin_delete deleted 2 x2
thin_delete deleted 4 x4
thin_delete deleted 3 x3
record deleted x1 x5 x6 x7
record_pool deleted deleted

# A held metadata snapshot, then more writes.
thin_create held 1 h1 32768
put h1 1 1 0-99
thin_snap held 2 1 h1
thin_activate held 2 h2 32768
put h2 2 1 50-59
dmsetup message held 0 reserve_metadata_snap
dmsetup status held >/out/held-at-reserve.status
copy_disk m-held held-copy
put h1 1 2 0-9 200
put h2 2 2 60
thin_create held 3 h3 32768
put h3 3 1 0-31
record held h1 h2 h3
record_pool held held

# A metadata snapshot reserved, then released (its trees given back).
thin_create released 1 r1 32768
put r1 1 1 0-99
thin_snap released 2 1 r1
dmsetup message released 0 reserve_metadata_snap
put r1 1 2 0-50
thin_delete released 2
dmsetup message released 0 release_metadata_snap
put r1 1 3 60-70
record released r1
record_pool released released

# Data block sizes 384 (not a power of two) and 1024 sectors.
for p in bs384 bs1024; do
	thin_create $p 1 ${p}a 131072
	put ${p}a 1 1 0-10 47-49 96 1000-1100 16383
	thin_snap $p 2 1 ${p}a
	thin_activate $p 2 ${p}b 131072
	put ${p}b 2 1 5 48 1050
	put ${p}a 1 2 49
	record $p ${p}a ${p}b
	record_pool $p $p
done

# Out of data space: 32 blocks of 64 KiB, 4 MiB written.
thin_create full 1 f1 32768
put f1 1 1 0-1023 && echo "write beyond the data space succeeded"
record full f1
record_pool full full

# Grown: data from 64 to 128 blocks of 512 KiB, metadata (a linear device
# on the disk) from 2 to 8 MiB, while in use, as lvextend does.
dmsetup create grown-meta --table "0 4096 linear $(disk m-grown) 0" &&
	dmsetup mknodes grown-meta || exit 1
dmsetup create grown --table \
	"0 65536 thin-pool /dev/mapper/grown-meta $(disk d-grown) 1024 0 0" &&
	dmsetup mknodes grown || exit 1
thin_create grown 1 g1 102400 || exit 1
put g1 1 1 $(seq -s ' ' 0 128 7552)
record_pool grown-before grown
dmsetup suspend g1
dmsetup suspend grown
dmsetup load grown-meta --table "0 16384 linear $(disk m-grown) 0"
dmsetup resume grown-meta
dmsetup load grown --table \
	"0 131072 thin-pool /dev/mapper/grown-meta $(disk d-grown) 1024 0 0"
dmsetup resume grown
dmsetup resume g1
put g1 1 2 $(seq -s ' ' 7680 128 12672)
record grown g1
record_pool grown grown

# set_transaction_id.
thin_create txid 1 y1 8192
put y1 1 1 3
dmsetup message txid 0 "set_transaction_id 0 1"
thin_create txid 2 y2 8192
dmsetup message txid 0 "set_transaction_id 1 42"
record txid y1 y2
record_pool txid txid

teardown
JOB

if ! vm_run job.sh guest; then
	fail "the guest job did not complete"
	return 0
fi

ids_many=$(seq 1 50 | xargs)
for p in $POOLS; do
	case $p in
	empty) ids= ;;
	scattered | full) ids=1 ;;
	chain) ids="1 2 3 4" ;;
	many) ids=$ids_many ;;
	deleted) ids="1 5 6 7" ;;
	held) ids="1 2 3" ;;
	released | grown) ids=1 ;;
	bs384 | bs1024 | txid) ids="1 2" ;;
	esac
	check_thin_pool "$p" "$p.meta" "$p.data" "guest/$p" "$ids"
done

# The kernel returned what was written (so the comparisons above are not
# between two empty devices).
g=guest
expect_runs "scattered s1" $g/scattered/s1.scan "0 15 pat 1 0 1" \
	"100 100 pat 1 100 1" "101 101 pat 1 101 2" "5000 5002 pat 1 5000 2" \
	"16383 16383 pat 1 16383 1"
expect_runs "chain c1" $g/chain/c1.scan "10 20 pat 1 10 2" "2000 2000 pat 1 2000 3"
expect_runs "chain c2" $g/chain/c2.scan "30 35 pat 2 30 1" "36 36 pat 2 36 2"
expect_runs "chain c3" $g/chain/c3.scan "0 5 pat 3 0 1" "6 29 pat 1 6 1"
expect_runs "chain c4" $g/chain/c4.scan "1000 1010 pat 4 1000 1" "37 37 pat 4 37 1"
expect_runs "many t50" $g/many/t50.scan "650 650 pat 50 650 1" "850 850 pat 50 850 1"
expect_runs "deleted x7" $g/deleted/x7.scan "0 3 pat 7 0 1" "30 70 pat 3 30 1"
expect_runs "held h1" $g/held/h1.scan "0 9 pat 1 0 2" "10 99 pat 1 10 1"
expect_runs "held h2" $g/held/h2.scan "50 59 pat 2 50 1" "60 60 pat 2 60 2"
expect_runs "bs384 a" $g/bs384/bs384a.scan "47 48 pat 1 47 1" "49 49 pat 1 49 2"
expect_runs "bs384 b" $g/bs384/bs384b.scan "48 48 pat 2 48 1" "49 49 pat 1 49 1"
expect_runs "bs1024 b" $g/bs1024/bs1024b.scan "1050 1050 pat 2 1050 1"
expect_runs "full f1" $g/full/f1.scan "0 511 pat 1 0 1" "512 4095 zero"

# Pool-specific facts.
check "grown: 60 of 64 data blocks used before growing" \
	test "$(awk '{print $6}' guest/grown-before/pool-status)" = 60/64
check "grown: 100 of 128 data blocks used, 2048 metadata blocks after" \
	test "$(awk '{print $6, $5}' guest/grown/pool-status | sed 's|/[0-9]* [0-9]*/| |')" = "100 2048"
expect_runs "grown g1" guest/grown/g1.scan "7552 7552 pat 1 7552 1" "7680 7680 pat 1 7680 2" \
	"12672 12672 pat 1 12672 2"
expect_runs "released r1" guest/released/r1.scan "0 50 pat 1 0 2" "51 59 pat 1 51 1" \
	"60 70 pat 1 60 3"
check "full: the kernel reports out_of_data_space" \
	grep -q ' out_of_data_space ' guest/full/pool-status
check "full: every data block is mapped" \
	test "$(awk '{print $6}' guest/full/pool-status)" = 32/32
check "txid: transaction id 42" \
	test "$(awk '{print $4}' guest/txid/pool-status)" = 42
check "bs384: data block size 384 in the dump" \
	grep -q 'data_block_size="384"' bs384.host/dump.xml
# The held snapshot is the pool as it was at reserve_metadata_snap: our dump
# of a raw copy taken then must equal our thin_dump -m of the final metadata,
# devices and mappings (the copy's superblock has no data space map, so the
# 0.9 form prints nr_data_blocks="0" for it, as Debian's thin_dump does).
if "$TS_BIN/thin_dump" --compat=0.9 -o held.copy.xml held.copy 2>held.copy.err; then
	check "held: thin_dump -m = dump of the metadata copied at reserve time" \
		diff <(tail -n +2 held.copy.xml) <(tail -n +2 held.host/snap.xml)
	check "held: the copy's superblock line differs only in nr_data_blocks" \
		diff <(head -1 held.copy.xml) \
		<(head -1 held.host/snap.xml | sed 's/nr_data_blocks="0"/nr_data_blocks="1024"/')
else
	fail "held: thin_dump of the copy: $(head -3 held.copy.err)"
fi
