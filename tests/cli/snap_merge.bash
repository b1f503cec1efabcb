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
