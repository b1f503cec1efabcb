# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 4, the kernel's half: the kernel merges a snapshot into its
# origin (snapshot-merge, as lvm2 does), with another snapshot of the same
# origin alive or not.  Afterwards the origin must read what the snapshot
# read, the other snapshot must read what it read before, our snap_check
# must accept the emptied store with the figures the kernel shows and no
# exceptions, and the other snapshot's store must list exactly the chunks
# the merge made it preserve (FORMATS.md B.11).
#
# Our half: before the kernel merges, the guest copies the origin and both
# stores onto the disk "copies"; on the host our snap_merge_offline merges
# the copies.  Its origin must equal the kernel's byte for byte (and its
# stores the kernel's), and a second boot must activate our emptied store
# as a snapshot of our merged origin (reading the origin, 0 exceptions) and
# the other snapshot, with the exceptions we added, reading what it read
# before the merge.

GROUPS_="8:64 64:8 16:16 512:-" # merged snapshot chunk : other snapshot chunk
S_BLOCKS="10-19 100 2000 5 10 500-510 2001-2003"
vm_begin
vm_new_disk copies copies.img 64M # 16 MiB per group: origin, store, other
for gr in $GROUPS_; do
	k=${gr%:*} j=${gr#*:}
	rm -f "m$k.origin" && truncate -s 8M "m$k.origin"
	"$PATTERN" write "m$k.origin" 1 1 0-2047
	vm_disk "o-m$k" "m$k.origin"
	vm_new_disk "c-m$k" "m$k.cow" 4M
	[ "$j" != - ] && vm_new_disk "c-m$k-t" "m$k-t.cow" 4M
done

{
	echo "set -x"
	at=0
	for gr in $GROUPS_; do
		k=${gr%:*} j=${gr#*:}
		cat <<JOB
origin_create m$k o-m$k || exit 1
snap_create m$k-s m$k o-m$k c-m$k $k || exit 1
put m$k 1 2 10-19 100 2000
put m$k-s 101 1 5 10 500-510
JOB
		t=
		[ "$j" != - ] && t=m$k-t && echo "snap_create m$k-t m$k o-m$k c-m$k-t $j || exit 1"
		cat <<JOB
put m$k 1 3 2001-2003
record m$k-pre m$k m$k-s $t
sync
copy_disk_at o-m$k copies $at || exit 1
copy_disk_at c-m$k copies $((at + 8)) || exit 1
JOB
		[ "$j" != - ] && echo "copy_disk_at c-m$k-t copies $((at + 12)) || exit 1"
		at=$((at + 16))
		cat <<JOB
merge_start m$k o-m$k m$k-s c-m$k $k || exit 1
merge_wait m$k || exit 1
record m$k-post m$k $t
JOB
	done
	echo teardown
} >job.sh

if ! vm_run job.sh guest; then
	fail "the guest job did not complete"
	return 0
fi

for gr in $GROUPS_; do
	k=${gr%:*} j=${gr#*:}
	pre=guest/m$k-pre post=guest/m$k-post
	check "chunk $k: the kernel's merge finished (snapshot-merge status $(cut -d' ' -f4- $post/m$k.status))" \
		grep -q ' snapshot-merge ' $post/m$k.status
	"$PATTERN" scan "m$k.origin" >"m$k.origin.scan"
	check "chunk $k: after the merge the origin image holds what the snapshot read" \
		"$PATTERN" compare $pre/m$k-s.scan "m$k.origin.scan" "chunk $k merged origin"
	check "chunk $k: the merged origin reads in the kernel what the snapshot read" \
		"$PATTERN" compare $pre/m$k-s.scan $post/m$k.scan "chunk $k merged origin (kernel)"
	# The emptied store: our figures are the kernel's, no exceptions left.
	if out=$("$TS_BIN/snap_check" --origin "m$k.origin" --chunk-size "$k" "m$k.cow" 2>&1); then
		st=$(cut -d' ' -f4- $post/m$k.status)
		check "chunk $k: snap_check on the merged store [$out] = status [$st], 0 exceptions" \
			test "$out" = "$st, 0 exceptions"
	else
		fail "chunk $k: snap_check on the merged store: $out"
	fi
	check "chunk $k: snap_dump of the merged store lists no exception" \
		sh -c "! '$TS_BIN/snap_dump' m$k.cow | grep -q '<exception'"
	[ "$j" = - ] && continue
	check "chunk $k: the other snapshot (chunk $j) reads after the merge what it read before" \
		"$PATTERN" compare $pre/m$k-t.scan $post/m$k-t.scan "chunk $k other snapshot"
	# It preserved every chunk of its own that the merge wrote over.
	merged=$(chunks_of "$k" $S_BLOCKS | awk -v p=$((k / 8)) '{printf "%d-%d ", $1 * p, ($1 + 1) * p - 1}')
	check_snapshot "chunk $k other (chunk $j)" "m$k.origin" "m$k-t.cow" "$j" $post "m$k-t" \
		2001-2003 $merged
done

# Our half: snap_merge_offline on the copies taken before the kernel merged.
vm_begin
at=0
for gr in $GROUPS_; do
	k=${gr%:*} j=${gr#*:}
	dd if=copies.img of="r$k.origin" bs=1M skip=$at count=8 status=none
	dd if=copies.img of="r$k.cow" bs=1M skip=$((at + 8)) count=4 status=none
	others=(--no-other-snapshots)
	if [ "$j" != - ]; then
		dd if=copies.img of="r$k-t.cow" bs=1M skip=$((at + 12)) count=4 status=none
		others=(--other "r$k-t.cow")
	fi
	at=$((at + 16))
	check "chunk $k: the copy of the origin taken before the merge reads what the origin read" \
		sh -c "'$PATTERN' scan r$k.origin >r$k.origin.pre.scan &&
			'$PATTERN' compare guest/m$k-pre/m$k.scan r$k.origin.pre.scan 'chunk $k origin copy'"
	if ! out=$("$TS_BIN/snap_merge_offline" --verify --origin "r$k.origin" --cow "r$k.cow" \
		"${others[@]}" 2>&1); then
		fail "chunk $k: snap_merge_offline: $out"
		continue
	fi
	pass "chunk $k: snap_merge_offline: $(echo "$out" | tr '\n' ';')"
	same_image "chunk $k: our merged origin = the kernel's merged origin" \
		"m$k.origin" "r$k.origin"
	same_image "chunk $k: our emptied store = the kernel's emptied store" \
		"m$k.cow" "r$k.cow"
	[ "$j" != - ] && same_image "chunk $k: our other store (chunk $j) = the kernel's" \
		"m$k-t.cow" "r$k-t.cow"
	vm_disk "o-r$k" "r$k.origin"
	vm_disk "c-r$k" "r$k.cow"
	[ "$j" != - ] && vm_disk "c-r$k-t" "r$k-t.cow"
done

{
	echo "set -x"
	for gr in $GROUPS_; do
		k=${gr%:*} j=${gr#*:}
		t=
		echo "origin_create r$k o-r$k || exit 1"
		echo "snap_create r$k-s r$k o-r$k c-r$k $k || exit 1"
		[ "$j" != - ] && t=r$k-t && echo "snap_create r$k-t r$k o-r$k c-r$k-t $j || exit 1"
		echo "record r$k r$k r$k-s $t"
	done
	echo teardown
} >job2.sh

if ! vm_run job2.sh guest2; then
	fail "the second guest job (our merged stores) did not complete"
	return 0
fi

for gr in $GROUPS_; do
	k=${gr%:*} j=${gr#*:}
	pre=guest/m$k-pre g=guest2/r$k
	[ -e "$g/r$k.scan" ] || { fail "chunk $k: no record of our merged origin from the guest"; continue; }
	check "chunk $k: our merged origin reads in the kernel what the snapshot read" \
		"$PATTERN" compare $pre/m$k-s.scan $g/r$k.scan "chunk $k our merged origin (kernel)"
	st=$(cut -d' ' -f4- $g/r$k-s.status)
	check "chunk $k: the kernel activates our emptied store with 0 exceptions [$st]" \
		sh -c "echo '$st' | awk '{split(\$1, a, \"/\"); exit !(a[1] == \$2)}'"
	check "chunk $k: the snapshot on our emptied store reads the merged origin" \
		"$PATTERN" compare $pre/m$k-s.scan $g/r$k-s.scan "chunk $k our emptied snapshot"
	[ "$j" = - ] && continue
	check "chunk $k: the other snapshot (chunk $j) on our store reads what it read before the merge" \
		"$PATTERN" compare $pre/m$k-t.scan $g/r$k-t.scan "chunk $k our other snapshot"
	st=$(cut -d' ' -f4- $g/r$k-t.status)
	check "chunk $k: the kernel's figures for our other store [$st] = after its own merge" \
		test "$st" = "$(cut -d' ' -f4- guest/m$k-post/m$k-t.status)"
done
