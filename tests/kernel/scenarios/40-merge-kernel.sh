# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 4, the kernel's half: the kernel merges a snapshot into its
# origin (snapshot-merge, as lvm2 does), with another snapshot of the same
# origin alive or not.  Afterwards the origin must read what the snapshot
# read, the other snapshot must read what it read before, our snap_check
# must accept the emptied store with the figures the kernel shows and no
# exceptions, and the other snapshot's store must list exactly the chunks
# the merge made it preserve (FORMATS.md B.11).  Our snap_merge_offline's
# half (the same merge on copies, compared byte for byte) comes with it.

GROUPS_="8:64 64:8 16:16 512:-" # merged snapshot chunk : other snapshot chunk
S_BLOCKS="10-19 100 2000 5 10 500-510 2001-2003"
vm_begin
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
