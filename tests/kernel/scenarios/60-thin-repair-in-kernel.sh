# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 2 after repair: the kernel makes two pools (first boot); on the
# host their metadata is damaged and repaired by our tools; a second boot
# activates the repaired metadata.
#   rp: thin 1, its snapshot 2 and thin 3.  The superblock is zeroed
#       (md_damage) and our thin_repair rebuilds the metadata into a new
#       image from the trees it finds (--data-block-size only).
#   lk: thin 1 and its snapshot 2.  Leaked data and metadata blocks are
#       made as the kernel allocates (mk_leaks) and our
#       thin_check --auto-repair frees them in place.
# The kernel must activate the repaired pools with every device reading what
# it read before; then it writes more (over blocks thin 1 still shares with
# its snapshot, which must break the sharing: the snapshot must keep its
# data) and our checks of scenario 1 must pass on the result.

DAMAGE=$TESTS_TOP/build/tests/md_damage LEAKS=$TESTS_TOP/build/tests/mk_leaks
for t in "$DAMAGE" "$LEAKS"; do
	[ -x "$t" ] || { fail "$t is missing (make all)"; return 0; }
done
SIZE=16384 # sectors of each thin device (2048 blocks of 4 KiB)
vm_begin
vm_new_disk m-rp rp.meta 4M
vm_new_disk d-rp rp.data 64M
vm_new_disk m-lk lk.meta 4M
vm_new_disk d-lk lk.data 32M
cat >job.sh <<JOB
set -x
pool_create rp m-rp d-rp 128 || exit 1
thin_create rp 1 rp-1 $SIZE || exit 1
put rp-1 1 1 0-99 500-520 1000 2047
thin_snap rp 2 1 rp-1 || exit 1
thin_activate rp 2 rp-2 $SIZE || exit 1
put rp-1 1 2 10-19 1000
put rp-2 2 1 50-60 700
thin_create rp 3 rp-3 $SIZE || exit 1
put rp-3 3 1 0-40 1500-1600
record rp rp-1 rp-2 rp-3
record_pool rp rp
pool_create lk m-lk d-lk 128 || exit 1
thin_create lk 1 lk-1 $SIZE || exit 1
put lk-1 1 1 0-300
thin_snap lk 2 1 lk-1 || exit 1
thin_activate lk 2 lk-2 $SIZE || exit 1
put lk-1 1 2 100-120
record lk lk-1 lk-2
record_pool lk lk
teardown
JOB
if ! vm_run job.sh guest; then
	fail "the first guest job did not complete"
	return 0
fi

# rp: superblock zeroed, repaired into a new image.
cp rp.meta rp.damaged
"$DAMAGE" rp.damaged zero sb >/dev/null || { fail "md_damage rp.damaged zero sb failed"; return 0; }
check "rp: our thin_check fails (64) on the zeroed superblock" \
	expect_exit 64 "$TS_BIN/thin_check" rp.damaged
rm -f rp.fixed && truncate -s 4M rp.fixed
check "rp: thin_repair --data-block-size 128 rebuilds it" \
	"$TS_BIN/thin_repair" -i rp.damaged -o rp.fixed --data-block-size 128
check "rp: our thin_check passes on the repaired metadata" "$TS_BIN/thin_check" rp.fixed
check "rp: Debian's thin_check passes on it" /usr/sbin/thin_check -q rp.fixed
"$TS_BIN/thin_dump" --compat=0.9 -o rp.orig.xml rp.meta 2>/dev/null && parse_dump rp.orig.xml rp.orig.d
"$TS_BIN/thin_dump" --compat=0.9 -o rp.fixed.xml rp.fixed 2>/dev/null && parse_dump rp.fixed.xml rp.fixed.d
for id in 1 2 3; do
	check "rp: device $id: the repaired mappings = the kernel's" \
		cmp rp.orig.d/map.$id rp.fixed.d/map.$id
done

# lk: leaks made as the kernel allocates, repaired in place.
cp lk.meta lk.orig
if ! dl=$("$LEAKS" lk.meta data 0 5) || ! ml=$("$LEAKS" lk.meta metadata 0 3); then
	fail "mk_leaks on lk.meta failed"
	return 0
fi
check "lk: our thin_check reports the leaks (64)" expect_exit 64 "$TS_BIN/thin_check" lk.meta
leak_lines() {
	local b
	for b in $dl; do echo "data block $b: reference count 1 in the space map, but nothing references it"; done
	echo "5 data blocks have leaked"
	for b in $ml; do echo "metadata block $b: reference count 1 in the space map, but nothing references it"; done
	echo "3 metadata blocks have leaked"
}
leak_lines >lk.leaks.want
grep -e 'nothing references it' -e 'have leaked' .last_stderr >lk.leaks.got
check "lk: ... naming the leaked data blocks [$dl] and metadata blocks [$ml]" \
	diff lk.leaks.want lk.leaks.got
check "lk: thin_check --auto-repair exits 0" "$TS_BIN/thin_check" --auto-repair lk.meta
check "lk: our thin_check then passes" "$TS_BIN/thin_check" lk.meta
check "lk: Debian's thin_check passes" /usr/sbin/thin_check -q lk.meta
"$TS_BIN/thin_dump" -o lk.orig.xml lk.orig 2>&1
"$TS_BIN/thin_dump" -o lk.repaired.xml lk.meta 2>&1
check "lk: the repaired metadata dumps as before the leaks" cmp lk.orig.xml lk.repaired.xml
check "lk: thin_check's free metadata count is the original's again" \
	test "$("$TS_BIN/thin_check" lk.orig 2>/dev/null | grep FREE)" = "$("$TS_BIN/thin_check" lk.meta 2>/dev/null | grep FREE)"

vm_begin
vm_disk m-rp rp.fixed
vm_disk d-rp rp.data
vm_disk m-lk lk.meta
vm_disk d-lk lk.data
cat >job2.sh <<JOB
set -x
pool_create rp m-rp d-rp 128 || exit 1
for i in 1 2 3; do thin_activate rp \$i rp-\$i $SIZE || exit 1; done
record rp-rep rp-1 rp-2 rp-3
record_pool rp-rep rp
put rp-1 1 3 0-30 500-510 2047
put rp-3 3 2 20-60
thin_create rp 4 rp-4 $SIZE || exit 1
put rp-4 4 1 0-63
record rp-post rp-1 rp-2 rp-3 rp-4
record_pool rp-post rp
pool_create lk m-lk d-lk 128 || exit 1
for i in 1 2; do thin_activate lk \$i lk-\$i $SIZE || exit 1; done
record lk-rep lk-1 lk-2
record_pool lk-rep lk
put lk-1 1 3 0-20 290-310
put lk-2 2 1 400-420
record lk-post lk-1 lk-2
record_pool lk-post lk
teardown
JOB
if ! vm_run job2.sh guest2; then
	fail "the second guest job (repaired metadata) did not complete"
	return 0
fi
check "rp: the kernel activates the repaired pool read-write" grep -q ' rw ' guest2/rp-rep/pool-status
for n in rp-1 rp-2 rp-3; do
	check "rp: $n reads after the repair what it read before" \
		"$PATTERN" compare guest/rp/$n.scan guest2/rp-rep/$n.scan "rp repaired $n"
done
check "rp: the snapshot rp-2 still reads its data after the kernel wrote to shared blocks of rp-1" \
	"$PATTERN" compare guest/rp/rp-2.scan guest2/rp-post/rp-2.scan "rp snapshot after writes"
expect_runs "rp: rp-1" guest2/rp-post/rp-1.scan "0 30 pat 1 0 3" "500 510 pat 1 500 3" "2047 2047 pat 1 2047 3"
check_thin_pool rp rp.fixed rp.data guest2/rp-post "1 2 3 4"

check "lk: the kernel activates the repaired pool read-write" grep -q ' rw ' guest2/lk-rep/pool-status
used() { awk '{print $6}' "$1" | cut -d/ -f1; }
check "lk: data used $(used guest2/lk-rep/pool-status) (kernel, after repair) = before the leaks" \
	test "$(used guest2/lk-rep/pool-status)" = "$(used guest/lk/pool-status)"
for n in lk-1 lk-2; do
	check "lk: $n reads after the leak repair what it read before" \
		"$PATTERN" compare guest/lk/$n.scan guest2/lk-rep/$n.scan "lk repaired $n"
done
check_thin_pool lk lk.meta lk.data guest2/lk-post "1 2"
