# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 35: persistent stores with several exceptions for one origin
# chunk (as very old kernels could write), made on the host with mk_cow.
# The kernel activates each store, and what each repeated chunk reads
# through the snapshot says which exception its lookup returns:
#   earlier: no run to join, or a run placed after the earlier entry: the
#            earlier exception is read;
#   joins:   a later exception that continues a run placed before the
#            earlier one (also after a precede-join) is read instead;
#   bucket:  across the 256-chunk boundary runs cannot join (the kernel's
#            hash groups 256 chunks), so there the earlier one is read;
#            the same shape inside one group reads the later one.
# Every COW chunk holds its own pattern block (tag 50, block = COW chunk),
# so a read names the exception it came from.  Checked: each snapshot reads
# what the hand-written kernel rule predicts; snap_repair keeps exactly the
# exceptions the kernel reads (its store predicts the same reads); and the
# kernel reading the repaired store returns the same data for every chunk.
# Also recorded: the kernel's own merge of the "joins" store leaves the
# earliest repeat in the origin (not what the snapshot read), so our
# snap_merge_offline refuses that store and writes nothing; merging our
# repaired store instead gives the origin what the snapshot read.

MK_COW=${TS_BIN%/bin}/tests/mk_cow
CHUNK=8            # sectors: one 4 KiB pattern block per chunk
ORIGIN_BLOCKS=1024 # 4 groups of 256 chunks
COW_CHUNKS=128     # area 0 at chunk 1, the next one (258) past the end

# The stores: "OLD NEW" pairs in on-disk order.
pairs_earlier='6 20
6 11
7 30
40 60
41 62
40 61'
pairs_joins='6 20
5 10
6 11
106 70
105 51
104 50
106 52'
pairs_bucket='256 21
255 10
256 11
254 91
253 80
254 81
512 45
511 34
512 35'
# What the kernel must read for each origin chunk with an exception
# ("OLD NEW 1", the map pattern predict takes).
want_earlier='6 20 1
7 30 1
40 60 1
41 62 1'
want_joins='5 10 1
6 11 1
104 50 1
105 51 1
106 52 1'
want_bucket='253 80 1
254 81 1
255 10 1
256 21 1
511 34 1
512 45 1'

rm -f origin && truncate -s $((ORIGIN_BLOCKS * 4096)) origin
"$PATTERN" write origin 1 1 "0-$((ORIGIN_BLOCKS - 1))"
vm_begin
vm_disk o-dup origin
for s in earlier joins bucket; do
	rm -f "$s.cow" "$s.meta" "$s.rep"
	truncate -s $((COW_CHUNKS * 4096)) "$s.cow"
	"$PATTERN" write "$s.cow" 50 1 "0-$((COW_CHUNKS - 1))"
	eval "printf '%s\n' \"\$pairs_$s\"" | "$MK_COW" "$s.meta" $CHUNK $COW_CHUNKS
	dd if="$s.meta" of="$s.cow" bs=4096 count=2 conv=notrunc status=none
	eval "printf '%s\n' \"\$want_$s\"" >"$s.want"
	# our repair, to a zeroed device of the same size
	truncate -s $((COW_CHUNKS * 4096)) "$s.rep"
	if ! "$TS_BIN/snap_repair" -i "$s.cow" -o "$s.rep" >"$s.report" 2>"$s.err"; then
		fail "$s: snap_repair: $(head -3 "$s.err")"
	fi
	vm_disk "c-$s" "$s.cow"
	vm_disk "r-$s" "$s.rep"
done
# The kernel merges a copy of the "joins" store into a copy of the origin;
# our snap_merge_offline merges other copies on the host.
cp origin mrg.origin && cp joins.cow mrg.cow
cp origin ours.origin && cp joins.cow ours.cow
vm_disk o-mrg mrg.origin
vm_disk c-mrg mrg.cow

cat >job.sh <<'JOB'
set -x
origin_create dup o-dup || exit 1
for s in earlier joins bucket; do
	snap_create "$s" dup o-dup "c-$s" 8 || exit 1
	snap_create "$s-rep" dup o-dup "r-$s" 8 || exit 1
done
record dup dup earlier earlier-rep joins joins-rep bucket bucket-rep
origin_create mrg o-mrg || exit 1
snap_create mrg-s mrg o-mrg c-mrg 8 || exit 1
merge_start mrg o-mrg mrg-s c-mrg 8 || exit 1
merge_wait mrg || exit 1
record mrg mrg
teardown
JOB

if ! vm_run job.sh guest; then
	fail "the guest job did not complete"
	return 0
fi

# map_of STORE: "OLD NEW LEN" of every exception snap_dump lists.
map_of() {
	"$TS_BIN/snap_dump" "$1" 2>"$1.dump.err" | awk '
	function attr(name) {
		if (match($0, " " name "=\"[^\"]*\""))
			return substr($0, RSTART + length(name) + 3,
				      RLENGTH - length(name) - 4)
		return ""
	}
	/<exception / { print attr("old_chunk"), attr("new_chunk"), 1 }
	/<exception_run / { print attr("old_begin"), attr("new_begin"), attr("length") }'
}

"$PATTERN" scan origin >origin.scan
check "the origin reads in the kernel what its image holds" \
	"$PATTERN" compare origin.scan guest/dup/dup.scan "origin"
for s in earlier joins bucket; do
	"$PATTERN" predict "$s.cow" $CHUNK $ORIGIN_BLOCKS origin <"$s.want" >"$s.rule"
	check "$s: the kernel reads each repeated chunk from the exception the rule names" \
		"$PATTERN" compare "$s.rule" "guest/dup/$s.scan" "$s snapshot"
	check "$s: our repaired store passes snap_check" "$TS_BIN/snap_check" -q "$s.rep"
	map_of "$s.rep" | awk '{for (i = 0; i < $3; i++) print $1 + i, $2 + i, 1}' |
		sort -n >"$s.kept"
	check "$s: snap_repair keeps exactly the exceptions the kernel reads" \
		diff "$s.want" "$s.kept"
	"$PATTERN" predict "$s.rep" $CHUNK $ORIGIN_BLOCKS origin <"$s.kept" >"$s.ours"
	check "$s: what our repaired store predicts is what the kernel read from the original" \
		"$PATTERN" compare "$s.ours" "guest/dup/$s.scan" "$s snapshot (our prediction)"
	check "$s: the kernel reads the repaired store exactly as the original, chunk by chunk" \
		"$PATTERN" compare "guest/dup/$s.scan" "guest/dup/$s-rep.scan" "$s repaired snapshot"
	kept=$(wc -l <"$s.want")
	dropped=$(($(eval "printf '%s\n' \"\$pairs_$s\"" | wc -l) - kept))
	check "$s: the repair reports $kept kept and $dropped dropped" \
		grep -qx "kept $kept exceptions, dropped $dropped" "$s.report"
done

# The report names the entry the kernel reads, and why.
check "joins: the report says the later entry wins" \
	grep -qx "dropped area 0, entry 0, old_chunk 6, new_chunk 20: the kernel reads origin chunk 6 from area 0, entry 2, which is kept (a later entry wins when it joins a run the kernel placed first)" joins.report
check "bucket: the report says the earlier entry wins across the boundary" \
	grep -qx "dropped area 0, entry 2, old_chunk 256, new_chunk 11: the kernel reads origin chunk 256 from area 0, entry 0, which is kept (the earlier entry wins)" bucket.report
# The reads are not vacuous: the chunks read COW data, not the origin.
expect_runs "joins snapshot" guest/dup/joins.scan "5 6 pat 50 10 1" "104 106 pat 50 50 1"
expect_runs "bucket snapshot" guest/dup/bucket.scan "256 256 pat 50 21 1" "255 255 pat 50 10 1"

# The kernel's merge of the "joins" store copies the exceptions from the
# last to the first, so the earliest repeat lands last: origin chunks 6 and
# 106 end up with COW chunks 20 and 70, not the 11 and 52 the snapshot read.
expect_runs "the origin merged by the kernel" guest/mrg/mrg.scan \
	"5 5 pat 50 10 1" "6 6 pat 50 20 1" "104 105 pat 50 50 1" "106 106 pat 50 70 1"
# So snap_merge_offline refuses that store, and writes nothing.
sum_before=$(cat ours.origin ours.cow | sha256sum)
if out=$("$TS_BIN/snap_merge_offline" --no-other-snapshots --origin ours.origin \
	--cow ours.cow 2>&1); then
	fail "snap_merge_offline merged the joins store, whose merge cannot give what the snapshot read: $out"
else
	check "snap_merge_offline refuses the joins store: it names origin chunk 6" \
		grep -q "the snapshot reads origin chunk 6 from area 0, entry 2, but a merge (ours or the kernel's) would leave the data of the earlier area 0, entry 0" <<<"$out"
	check "the refused merge wrote nothing" test "$(cat ours.origin ours.cow | sha256sum)" = "$sum_before"
fi
# Repaired first, the store merges into what the snapshot read.
cp origin rep.origin && cp joins.rep rep.cow
if out=$("$TS_BIN/snap_merge_offline" --no-other-snapshots --origin rep.origin \
	--cow rep.cow 2>&1); then
	"$PATTERN" scan rep.origin >rep.origin.scan
	check "merging our repaired joins store gives the origin what the snapshot read" \
		"$PATTERN" compare guest/dup/joins.scan rep.origin.scan "origin merged after snap_repair"
else
	fail "snap_merge_offline on the repaired joins store: $out"
fi
