#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Every tool on a ramfs, a file system that refuses O_DIRECT when a file is
# opened: each command runs once in an ordinary directory and once on the
# ramfs, on the same files, and must give the same exit status, the same
# output and the same bytes in every file.  (snap_merge_offline, the one
# tool that asks for O_DIRECT, has its own tests in
# snap_merge_offline_ramfs.bats.)  Needs root to mount the ramfs: skipped
# otherwise, and failed, with the reason, where root cannot mount one.

load helpers

bats_require_minimum_version 1.5.0

: "${TS_BUILD:=$BATS_TEST_DIRNAME/../../build}"
FILL=$TS_BUILD/tests/fill_pattern

setup() {
	d=$BATS_TEST_TMPDIR
	ram=$d/ram
	ramfs_mount "$ram"
	mkdir "$d/disk"
}

teardown() {
	ramfs_umount "$ram"
}

# in_both WANT TOOL ARGS...: $TS_BIN/TOOL ARGS (file names relative) in
# $d/disk and in $ram; both exit with WANT, print the same stdout and
# stderr ($output and $stderr: the ramfs run's), and leave the two
# directories with the same files, byte for byte
in_both() {
	local want=$1 tool=$TS_BIN/$2 where rc f
	shift 2
	for where in "$d/disk" "$ram"; do
		rc=0
		(cd "$where" && timeout 60 "$tool" "$@") >"$d/out.${where##*/}" \
			2>"$d/err.${where##*/}" || rc=$?
		[ "$rc" = "$want" ] || { echo "$tool $* in $where: status $rc, expected $want" >&2; return 1; }
	done
	same_file "$d/out.disk" "$d/out.ram"
	same_file "$d/err.disk" "$d/err.ram"
	output=$(<"$d/out.ram")
	stderr=$(<"$d/err.ram")
	[ "$(ls "$d/disk")" = "$(ls "$ram")" ]
	for f in "$d/disk"/*; do
		same_file "$f" "$ram/${f##*/}"
	done
}

# put NAME...: copy files from $d into both directories
put() {
	local f
	for f in "$@"; do
		cp "$d/$f" "$d/disk/$f"
		cp "$d/$f" "$ram/$f"
	done
}

@test "thin tools on ramfs: restore, check, dump, rmap, repair, clearing needs_check" {
	truncate -s 8M "$d/md" "$d/md2"
	cp "$TS_XML/snapshots.xml" "$d/in.xml"
	put md md2 in.xml
	in_both 0 thin_restore -i in.xml -o md
	in_both 0 thin_check md
	in_both 0 thin_dump -o out.xml md
	[ "$(grep -c '<device ' "$ram/out.xml")" = "$(grep -c '<device ' "$TS_XML/snapshots.xml")" ]
	in_both 0 thin_dump --format human_readable md
	in_both 0 thin_rmap --region 0..1024 md
	[ -n "$output" ]
	in_both 0 thin_repair -i md -o md2
	in_both 0 thin_check md2
	cp "$TS_XML/needs-check.xml" "$d/nc.xml"
	put nc.xml
	in_both 0 thin_restore -i nc.xml -o md
	in_both 0 thin_check --clear-needs-check-flag md
	[ "$(sb_get "$ram/md" flags)" = 0 ]
	# a damaged superblock: refused alike
	put_le64 "$d/disk/md" 32 0
	put_le64 "$ram/md" 32 0
	in_both 64 thin_check md
	[ -n "$stderr" ]
}

@test "snapshot tools on ramfs: restore, check, dump, repair to another file and in place" {
	"$FILL" "$d/cow" $((64 * 4096)) 2
	{
		echo '<snapshot_store version="1" valid="1" chunk_size="8" nr_chunks="64">'
		seq 1 20 | snap_alloc 8 | awk '{ printf "  <exception old_chunk=\"%s\" new_chunk=\"%s\"/>\n", $1, $2 }'
		echo '</snapshot_store>'
	} >"$d/cow.xml"
	truncate -s $((64 * 4096)) "$d/cow2"
	put cow cow.xml cow2
	in_both 0 snap_restore -i cow.xml -o cow
	in_both 0 snap_check cow
	[ "$output" = "176/512 16, 20 exceptions" ]
	in_both 0 snap_dump -o dump.xml cow
	# an exception on the metadata area: found, then repaired
	put_le64 "$d/disk/cow" $((4096 + 8)) 1
	put_le64 "$ram/cow" $((4096 + 8)) 1
	in_both 64 snap_check cow
	in_both 0 snap_repair -i cow -o cow2
	in_both 0 snap_check cow2
	in_both 0 snap_repair -i cow --in-place
	in_both 0 snap_check cow
	[ "$output" = "176/512 16, 19 exceptions" ]
}
