# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 5, the rollback: our static snap_merge_offline runs inside the
# guest on real block devices, as an initramfs rollback would, after the
# kernel made a snapshot and wrote to it and to its origin.  The snapshot
# and origin devices are removed first; then the merge runs on
#   lin: linear device-mapper devices over the disks (lvm2's -real and -cow
#        devices), chunk size 8;
#   raw: the virtio disks themselves, chunk size 64.
# Then the kernel activates the origin: it must read what the snapshot read,
# and the emptied store must come up as a snapshot with 0 exceptions.
# While the devices are still in use, the tool must refuse (exit 64) and
# leave both disks untouched.

if [ ! -x "$STATIC_THINSNAP" ]; then
	fail "no static thinsnap at $STATIC_THINSNAP (make static)"
	return 0
fi
CASES="lin:8 raw:64"
O_BLOCKS="10-19 100 2000" S_BLOCKS="5 10 500-510"
vm_begin
for c in $CASES; do
	n=${c%:*}
	rm -f "$n.origin" && truncate -s 8M "$n.origin"
	"$PATTERN" write "$n.origin" 1 1 0-2047
	vm_disk "o-$n" "$n.origin"
	vm_new_disk "c-$n" "$n.cow" 4M
done

{
	echo "set -x"
	for c in $CASES; do
		n=${c%:*} k=${c#*:}
		if [ "$n" = lin ]; then
			o=/dev/mapper/$n-real s=/dev/mapper/$n-cow
		else
			o="\$(disk o-$n)" s="\$(disk c-$n)"
		fi
		cat <<JOB
origin_create $n o-$n || exit 1
snap_create $n-s $n o-$n c-$n $k || exit 1
put $n 1 2 $O_BLOCKS
put $n-s 101 1 $S_BLOCKS
record $n-pre $n $n-s
sync
sha1sum \$(disk o-$n) \$(disk c-$n) | cut -d' ' -f1 >/out/$n.sum.before
snap_merge_offline --no-other-snapshots --origin \$(disk o-$n) --cow \$(disk c-$n) >/out/$n.busy.out 2>&1
echo \$? >/out/$n.busy.rc
sha1sum \$(disk o-$n) \$(disk c-$n) | cut -d' ' -f1 >/out/$n.sum.after
dmsetup remove $n-s && dmsetup remove $n || exit 1
JOB
		[ "$n" = lin ] && cat <<JOB
dmsetup create $n-real --table "0 \$(sectors \$(disk o-$n)) linear \$(disk o-$n) 0" || exit 1
dmsetup create $n-cow --table "0 \$(sectors \$(disk c-$n)) linear \$(disk c-$n) 0" || exit 1
dmsetup mknodes
JOB
		cat <<JOB
snap_merge_offline --verify --no-other-snapshots --origin $o --cow $s >/out/$n.out 2>&1
echo \$? >/out/$n.rc
JOB
		[ "$n" = lin ] && echo "dmsetup remove $n-real && dmsetup remove $n-cow || exit 1"
		cat <<JOB
origin_create $n o-$n || exit 1
snap_create $n-s $n o-$n c-$n $k || exit 1
record $n-post $n $n-s
teardown
JOB
	done
} >job.sh

if ! vm_run job.sh guest; then
	fail "the guest job did not complete"
	return 0
fi

for c in $CASES; do
	n=${c%:*} k=${c#*:}
	pre=guest/$n-pre post=guest/$n-post
	check "$n: snap_merge_offline refuses devices the kernel holds (exit 64)" \
		test "$(cat guest/$n.busy.rc)" = 64
	check "$n: ... saying the device is in use [$(head -1 guest/$n.busy.out)]" \
		grep -qi 'in use\|busy' guest/$n.busy.out
	check "$n: ... and both disks are unchanged" cmp guest/$n.sum.before guest/$n.sum.after
	check "$n: static snap_merge_offline exits 0 in the guest [$(cat guest/$n.out)]" \
		test "$(cat guest/$n.rc)" = 0
	nchunks=$(chunks_of "$k" $O_BLOCKS $S_BLOCKS | wc -l)
	check "$n: it merged the $nchunks chunks that have exceptions" \
		grep -q "^merged $nchunks chunks ($((nchunks * k * 512)) bytes) in [0-9]* runs from " guest/$n.out
	check "$n: the origin reads in the kernel what the snapshot read" \
		"$PATTERN" compare $pre/$n-s.scan $post/$n.scan "$n rolled-back origin"
	"$PATTERN" scan "$n.origin" >"$n.origin.scan"
	check "$n: the origin disk holds what the snapshot read" \
		"$PATTERN" compare $pre/$n-s.scan "$n.origin.scan" "$n origin disk"
	st=$(cut -d' ' -f4- $post/$n-s.status)
	check "$n: the kernel activates the emptied store with 0 exceptions [$st]" \
		sh -c "echo '$st' | awk '{split(\$1, a, \"/\"); exit !(a[1] == \$2)}'"
	check "$n: the snapshot on the emptied store reads the rolled-back origin" \
		"$PATTERN" compare $pre/$n-s.scan $post/$n-s.scan "$n emptied snapshot"
	if out=$("$TS_BIN/snap_check" --origin "$n.origin" --chunk-size "$k" "$n.cow" 2>&1); then
		check "$n: snap_check on the emptied store [$out] = status [$st], 0 exceptions" \
			test "$out" = "$st, 0 exceptions"
	else
		fail "$n: snap_check on the emptied store: $out"
	fi
done
