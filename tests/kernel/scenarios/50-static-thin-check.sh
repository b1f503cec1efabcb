# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 5, part one: our statically linked thin_check (make static) runs
# inside the guest on real block devices the way lvm2 runs it before it
# activates a pool: thin_check -q --clear-needs-check-flag DEVICE.
#   nc:    metadata from our thin_restore with needs_check set: the kernel
#          activates it read-only; after thin_check the flag is gone and the
#          kernel activates it read-write.
#   clean: a pool the kernel made earlier in the same boot: exit 0.
#   bad:   a copy of clean metadata with a damaged superblock checksum:
#          thin_check fails (64) and the kernel refuses it too.

if [ ! -x "$STATIC_THINSNAP" ]; then
	fail "no static thinsnap at $STATIC_THINSNAP (make static)"
	return 0
fi
xml=$TESTS_TOP/tests/xml/needs-check.xml
truncate -s 8M nc.meta
"$TS_BIN/thin_restore" -q -i "$xml" -o nc.meta || {
	fail "thin_restore of needs-check.xml failed"
	return 0
}
parse_dump "$xml" nc.xml.d
rm -f nc.data && truncate -s $((4096 * 65536)) nc.data
"$PATTERN" place nc.data 128 0 1 <nc.xml.d/map.0
map_blocks nc.xml.d/map.0 128 0 63 >nc.ranges
mkdir -p files/ranges && cp nc.ranges files/ranges/nc-0 && cp nc.ranges files/ranges/nc2-0
size=$(awk '$1 + $3 > m {m = $1 + $3} END {printf "%.0f\n", m * 128}' nc.xml.d/map.0)

vm_begin
vm_disk m-nc nc.meta
vm_disk d-nc nc.data
vm_new_disk m-clean clean.meta 4M
vm_new_disk d-clean clean.data 16M
vm_new_disk m-bad bad.meta 4M
vm_new_disk d-bad bad.data 16M
cat >job.sh <<JOB
set -x
# needs_check set: the kernel keeps the pool read-only.
pool_create nc m-nc d-nc 128 || exit 1
thin_activate nc 0 nc-0 $size || exit 1
record nc-ro nc-0
record_pool nc-ro nc
teardown
thin_check -q --clear-needs-check-flag \$(disk m-nc) >/out/nc.out 2>&1
echo \$? >/out/nc.rc
pool_create nc m-nc d-nc 128 || exit 1
thin_activate nc 0 nc2-0 $size || exit 1
thin_create nc 1 nc-1 8192 || exit 1
put nc-1 1 1 0-9
record nc nc2-0 nc-1
record_pool nc nc
teardown

# A pool the kernel made, checked before it is activated again.
pool_create clean m-clean d-clean 128 || exit 1
thin_create clean 1 k1 16384 || exit 1
put k1 1 1 0-40
teardown
copy_disk m-clean m-bad
thin_check -q --clear-needs-check-flag \$(disk m-clean) >/out/clean.out 2>&1
echo \$? >/out/clean.rc
pool_create clean m-clean d-clean 128 || exit 1
thin_activate clean 1 k1 16384 || exit 1
record clean k1
record_pool clean clean

# Damage the copy's superblock checksum.
printf '\\377' | dd of=\$(disk m-bad) bs=1 seek=1 conv=notrunc 2>/dev/null
sync
thin_check -q --clear-needs-check-flag \$(disk m-bad) >/out/bad.out 2>&1
echo \$? >/out/bad.rc
pool_create bad m-bad d-bad 128 >/out/bad-kernel.out 2>&1
echo \$? >/out/bad-kernel.rc
teardown
JOB

if ! vm_run job.sh guest files; then
	fail "the guest job did not complete"
	return 0
fi

check "nc: the kernel activates metadata with needs_check read-only" \
	grep -q ' ro .* needs_check ' guest/nc-ro/pool-status
check "nc: the read-only pool reads what the XML predicts" \
	sh -c "'$PATTERN' predict nc.data 128 nc.ranges <nc.xml.d/map.0 >nc.predicted &&
		'$PATTERN' compare nc.predicted guest/nc-ro/nc-0.scan 'nc device 0'"
check "nc: static thin_check -q --clear-needs-check-flag exits 0 in the guest" \
	test "$(cat guest/nc.rc)" = 0
check "nc: ... and prints nothing" test ! -s guest/nc.out
check "nc: then the kernel activates the pool read-write without needs_check" \
	grep -q ' rw .* - [0-9]* *$' guest/nc/pool-status
check "nc: flags 0 in the superblock afterwards" \
	test "$(od -An -t u4 -j 4 -N 4 nc.meta | tr -d ' ')" = 0
check_thin_pool nc nc.meta nc.data guest/nc "0 1"

check "clean: static thin_check -q --clear-needs-check-flag exits 0 on the kernel's pool" \
	test "$(cat guest/clean.rc)" = 0
check "clean: ... and prints nothing" test ! -s guest/clean.out
check_thin_pool clean clean.meta clean.data guest/clean 1
expect_runs "clean k1" guest/clean/k1.scan "0 40 pat 1 0 1"

check "bad: static thin_check exits 64 on a damaged superblock" \
	test "$(cat guest/bad.rc)" = 64
check "bad: the kernel refuses it too" test "$(cat guest/bad-kernel.rc)" != 0
