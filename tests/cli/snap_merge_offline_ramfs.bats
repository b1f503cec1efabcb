#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# snap_merge_offline where O_DIRECT is refused: ramfs refuses it when a
# file is opened (tmpfs takes it), so the copier runs on buffered
# descriptors plus fdatasync there.  Each merge with the origin, the COW or
# the other stores on a ramfs must leave every file byte for byte as the
# same merge of the same files in an ordinary directory (which uses
# O_DIRECT), print the same summary, and say with -v which files went
# buffered.  Needs root to mount the ramfs: skipped otherwise, and failed,
# with the reason, where root cannot mount one.

load helpers
load snap_merge

bats_require_minimum_version 1.5.0

setup() {
	d=$BATS_TEST_TMPDIR
	ram=$d/ram
	ramfs_mount "$ram"
	mkdir "$d/disk" "$d/ref"
}

teardown() {
	ramfs_umount "$ram"
	[ -z "${lo:-}" ] || losetup -d "$lo"
}

# inputs [OTHERS]: $d/origin (2000 chunks of 4 KiB and a 2 KiB partial
# one) and $d/cow (8-sector chunks: runs over two metadata areas,
# scattered chunks, the partial last chunk); with OTHERS=2 also $d/s1
# (16-sector chunks) and $d/s2 (4-sector chunks, so 2 KiB pieces that
# O_DIRECT cannot take even on ordinary files)
inputs() {
	"$FILL" "$d/origin" $((2000 * 4096 + 2048)) 1
	{ seq 100 399; seq 1000 7 1800; seq 1990 2000; } | snap_alloc 8 | store cow 8 2100 2
	if [ "${1:-0}" = 2 ]; then
		seq 0 9 900 | snap_alloc 16 | store s1 16 2048 3
		seq 3 11 2000 | snap_alloc 4 | store s2 4 8192 4
	fi
	views
}

# merge_both WHERE...: merge copies of $d/origin, $d/cow and the other
# stores made ($d/s1, $d/s2), the i-th placed where WHERE[i] says: "ram"
# (the ramfs) or "disk" ($d/disk, an ordinary directory); and the same
# merge of copies in $d/ref, all ordinary files.  Both with -v --verify.
# The reference used O_DIRECT on every file and its origin reads as the
# snapshot did; the other run names each ramfs file as buffered; both
# print the same summary and leave every file with the same bytes.
merge_both() {
	local where=("$@") names=(origin cow) opts=(--origin --cow) args=() refs=()
	local i s p r want_err="" ref_err="" ref_out
	for s in "$d"/s?; do
		[ -e "$s" ] || continue
		names+=("${s##*/}")
		opts+=(--other)
	done
	if [ ${#names[@]} = 2 ]; then
		args=(--no-other-snapshots)
		refs=(--no-other-snapshots)
	fi
	[ ${#where[@]} = ${#names[@]} ] || { echo "merge_both: ${#names[@]} places needed" >&2; return 1; }
	for i in "${!names[@]}"; do
		p=$d/${where[i]}/${names[i]}
		r=$d/ref/${names[i]}
		cp "$d/${names[i]}" "$p"
		cp "$d/${names[i]}" "$r"
		args+=("${opts[i]}" "$p")
		refs+=("${opts[i]}" "$r")
		if [ "${where[i]}" = ram ]; then
			want_err+="$p: O_DIRECT refused: buffered I/O and fdatasync"$'\n'
		else
			want_err+="$p: O_DIRECT"$'\n'
		fi
		ref_err+="$r: O_DIRECT"$'\n'
	done
	merge 0 -v --verify "${refs[@]}"
	[ "$stderr" = "${ref_err%$'\n'}" ] ||
		{ echo "the reference merge in $d/ref should use O_DIRECT; it said: $stderr" >&2; return 1; }
	views_kept "$d/ref"
	ref_out=$output
	for i in "${!names[@]}"; do
		ref_out=${ref_out//"$d/ref/${names[i]}"/"$d/${where[i]}/${names[i]}"}
	done
	merge 0 -v --verify "${args[@]}"
	[ "$stderr" = "${want_err%$'\n'}" ] ||
		{ echo "expected on stderr: ${want_err}got: $stderr" >&2; return 1; }
	[ "$output" = "$ref_out" ] ||
		{ echo "expected on stdout: $ref_out"$'\n'"got: $output" >&2; return 1; }
	for i in "${!names[@]}"; do
		same_file "$d/${where[i]}/${names[i]}" "$d/ref/${names[i]}"
	done
}

@test "origin and COW on ramfs: the same bytes as on ordinary files" {
	inputs
	merge_both ram ram
	[ "$output" = "merged 426 chunks (1742848 bytes) in 118 runs from $ram/cow into $ram/origin" ]
	emptied cow 8 2
	same_file "$ram/cow" "$d/cow.want"
	run_prog "$SC" 0 "$ram/cow"
	[ "$output" = "16/16800 16, 0 exceptions" ]
}

@test "only the origin on ramfs, the COW and two other stores on ordinary files" {
	inputs 2
	merge_both ram disk disk disk
	[ "${#lines[@]}" = 3 ]
}

@test "only the COW on ramfs" {
	inputs 2
	merge_both disk ram disk disk
}

@test "the --other stores on ramfs, origin and COW on ordinary files" {
	inputs 2
	merge_both disk disk ram ram
	[ "${#lines[@]}" = 3 ]
}

@test "everything on ramfs, one other store on ramfs and one not; --dry-run writes nothing there" {
	inputs 2
	cp "$d/origin" "$d/cow" "$d/s1" "$d/s2" "$ram/"
	merge 0 --dry-run --origin "$ram/origin" --cow "$ram/cow" --other "$ram/s1" --other "$ram/s2"
	[ "${lines[0]}" = "would merge 426 chunks (1742848 bytes) in 118 runs from $ram/cow into $ram/origin" ]
	for f in origin cow s1 s2; do
		same_file "$ram/$f" "$d/$f"
	done
	rm "$ram"/*
	merge_both ram ram ram ram
	rm -f "$ram"/* "$d"/disk/* "$d"/ref/*
	merge_both ram ram disk ram
}

@test "interrupted on ramfs: a rerun gives the uninterrupted result" {
	# the scenario of snap_merge_offline.bats's kill test (87 writes) on
	# the ramfs, killed at a sample of its writes; the uninterrupted merge
	# on ordinary files gives the result wanted
	kill_reference
	for n in 0 1 2 3 5 8 13 21 34 55 79 86; do
		kill_inputs "$ram"
		kill_at "$n" "$ram" "$want"
	done
}

# pieces_of BASE OUT PIECES...: OUT is BASE with each OFF:LEN piece of
# $d/src copied over it (what copy_pieces must make of it)
pieces_of() {
	local p
	cp "$1" "$2"
	for p in "${@:3}"; do
		dd if="$d/src" of="$2" bs=64K skip="${p%:*}" seek="${p%:*}" count="${p#*:}" \
			iflag=skip_bytes,count_bytes oflag=seek_bytes conv=notrunc status=none
	done
}

@test "the copier: pieces O_DIRECT refuses at I/O time go buffered too" {
	# a loop device with 8 KiB sectors takes O_DIRECT at open but refuses
	# (EINVAL) an I/O of 4 KiB pieces; the ramfs refuses it at open
	command -v losetup >/dev/null 2>&1 || skip "no losetup"
	"$FILL" "$d/src" $((4 << 20)) 1
	"$FILL" "$d/dst" $((4 << 20)) 2
	lo=$(losetup -f --show --sector-size 8192 "$d/src")
	pieces=(4096:4096 16384:8192 1048576:65536 12288:4096 5000:3000 2097152:1048576)
	cp "$d/dst" "$ram/dst"
	pieces_of "$d/dst" "$d/want" "${pieces[@]}"
	run_prog "$TS_BUILD/tests/copy_pieces" 0 "$lo" "$ram/dst" "${pieces[@]}"
	[ "$output" = "$lo: O_DIRECT refused by an I/O
$ram/dst: O_DIRECT refused at open" ]
	same_file "$ram/dst" "$d/want"
	# whole 8 KiB pieces: O_DIRECT all the way on both
	pieces=(8192:8192 2097152:1048576)
	cp "$d/dst" "$d/dst2"
	pieces_of "$d/dst" "$d/want2" "${pieces[@]}"
	run_prog "$TS_BUILD/tests/copy_pieces" 0 "$lo" "$d/dst2" "${pieces[@]}"
	[ "$output" = "$lo: O_DIRECT
$d/dst2: O_DIRECT" ]
	same_file "$d/dst2" "$d/want2"
	refute cmp -s "$d/dst2" "$d/dst"
}
