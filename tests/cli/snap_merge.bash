# SPDX-License-Identifier: GPL-2.0-or-later
#
# Helpers for the snap_merge_offline tests (load snap_merge, after
# helpers): stores made with snap_restore over patterned data
# (tests/tools/fill_pattern) in $d, and what the snapshots read
# (tests/tools/snap_view) before and after a merge.

SM=$TS_BIN/snap_merge_offline
SR=$TS_BIN/snap_restore
SD=$TS_BIN/snap_dump
SC=$TS_BIN/snap_check
: "${TS_BUILD:=$BATS_TEST_DIRNAME/../../build}"
FILL=$TS_BUILD/tests/fill_pattern
VIEW=$TS_BUILD/tests/snap_view

# store NAME CHUNK NR_CHUNKS SEED [VALID] < pairs: patterned file $d/NAME
# holding a store with those exceptions (written by snap_restore)
store() {
	"$FILL" "$d/$1" $(($2 * 512 * $3)) "$4"
	{
		echo "<snapshot_store version=\"1\" valid=\"${5:-1}\" chunk_size=\"$2\" nr_chunks=\"$3\">"
		awk '{ printf "  <exception old_chunk=\"%s\" new_chunk=\"%s\"/>\n", $1, $2 }'
		echo "</snapshot_store>"
	} >"$d/$1.xml"
	"$SR" -i "$d/$1.xml" -o "$d/$1"
}

# emptied NAME CHUNK AREAS: the bytes the store NAME must have after the
# merge: as before, with metadata areas 0..AREAS-1 zeroed
emptied() {
	local e=$(($2 * 512 / 16)) a
	cp "$d/$1" "$d/$1.want"
	for ((a = 0; a < $3; a++)); do
		dd if=/dev/zero of="$d/$1.want" bs=$(($2 * 512)) seek=$((1 + a * (e + 1))) \
			count=1 conv=notrunc status=none
	done
}

# merge WANT ARGS...: snap_merge_offline ARGS ($output, $lines, $stderr),
# expecting status WANT
merge() {
	local want=$1
	shift
	run "-$want" --separate-stderr timeout 60 "$SM" "$@"
}

# views: remember what the snapshots of $d/origin read ($d/cow and each
# $d/s*), to compare after the merge
views() {
	local s
	"$VIEW" "$d/origin" "$d/cow" "$d/cow.view"
	for s in "$d"/s?; do
		[ -e "$s" ] && "$VIEW" "$d/origin" "$s" "$s.view"
	done
	return 0
}

# views_kept [DIR]: the origin (DIR/origin, default $d/origin) now reads as
# the merged snapshot did, and every other snapshot (DIR/s*) still reads
# as before
views_kept() {
	local s dir=${1:-$d}
	same_file "$dir/origin" "$d/cow.view"
	for s in "$d"/s?; do
		[ -e "$s" ] || continue
		"$VIEW" "$dir/origin" "$dir/${s##*/}" "$s.after"
		same_file "$s.view" "$s.after"
		"$SC" -q "$dir/${s##*/}"
	done
}

# kill_inputs [DIR]: the stores of the interruption tests in $d (and
# copies in DIR): 1-sector chunks, so 32 exceptions an area and many
# areas; an other store s1 with 2-sector chunks (64 an area)
kill_inputs() {
	rm -f "$d"/origin "$d"/cow "$d"/s1
	"$FILL" "$d/origin" $((300 * 512)) 1
	{ seq 10 49; seq 60 3 150; seq 200 260; } | snap_alloc 1 | store cow 1 600 2
	seq 0 7 140 | snap_alloc 2 | store s1 2 600 3
	[ -z "${1:-}" ] || cp "$d/origin" "$d/cow" "$d/s1" "$1/"
}

# kill_reference: commits every 8 KiB merged from now on
# (THINSNAP_MERGE_BATCH, for tests: many batches, some over two areas);
# the uninterrupted merge of kill_inputs' stores in $d, checked against
# the views; $want is set to the shas of its origin, cow and s1
kill_reference() {
	export THINSNAP_MERGE_BATCH=8192
	kill_inputs
	views
	merge 0 -q --origin "$d/origin" --cow "$d/cow" --other "$d/s1"
	views_kept
	want=$(sha_of "$d/origin")$(sha_of "$d/cow")$(sha_of "$d/s1")
}

# kill_at N DIR WANT: merge DIR/cow (other store DIR/s1) into DIR/origin,
# killed instead of its write N+1 (THINSNAP_FAIL_AFTER_WRITES).  Status 1
# when the merge finished before that write.  Killed, both stores must
# pass snap_check and a rerun must leave the three files with WANT (their
# shas after an uninterrupted merge): status 0, else 2 with the reason.
kill_at() {
	local n=$1 dir=$2 rc=0
	THINSNAP_FAIL_AFTER_WRITES=$n timeout 60 "$SM" -q --origin "$dir/origin" \
		--cow "$dir/cow" --other "$dir/s1" 2>/dev/null || rc=$?
	[ "$rc" != 0 ] || return 1
	[ "$rc" = 137 ] || { echo "write $n: status $rc instead of a kill" >&2; return 2; }
	"$SC" -q "$dir/cow" && "$SC" -q "$dir/s1" ||
		{ echo "a store is not valid after a kill at write $n" >&2; return 2; }
	timeout 60 "$SM" -q --origin "$dir/origin" --cow "$dir/cow" --other "$dir/s1" ||
		{ echo "the rerun after a kill at write $n failed" >&2; return 2; }
	[ "$(sha_of "$dir/origin")$(sha_of "$dir/cow")$(sha_of "$dir/s1")" = "$3" ] ||
		{ echo "different result after a kill at write $n" >&2; return 2; }
}
