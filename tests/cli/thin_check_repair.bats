#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# thin_check --auto-repair and --clear-needs-check-flag: leaked blocks
# (on-disk count 1, computed 0) in either space map are freed in place,
# touching only the bitmaps that held them, the index entries of those
# bitmaps and nr_allocated in block 0; bad reference counts are never
# touched; healthy metadata stays byte-identical; an interruption at any
# write (THINSNAP_FAIL_AFTER_WRITES, lib/block_io.c) leaves metadata both
# checkers accept apart from leaks, and a rerun ends with the same bytes
# as an uninterrupted repair.
#
# Leaks are made by build/tests/mk_leaks, the way the kernel allocates a
# block (bitmap entry 0 -> 1, nr_free - 1, none_free_before moved past it
# when it pointed at it, nr_allocated + 1) or in the bitmap alone.

load helpers

bats_require_minimum_version 1.5.0

TC=$TS_BIN/thin_check
: "${TS_BUILD:=$BATS_TEST_DIRNAME/../../build}"
MK_LEAKS=$TS_BUILD/tests/mk_leaks
ENTRIES=16320

# idx_loc IMG data|metadata I: "BLOCK OFFSET SALT" of index entry I
idx_loc() {
	local img=$1 ib loc
	case $2 in
	metadata)
		ib=$(sb_get "$img" metadata_sm_bitmap_root) || return 1
		echo "$ib $((ib * 4096 + 16 + 16 * $3)) $TS_SALT_INDEX"
		;;
	data)
		loc=$(btree_lookup "$img" "$(sb_get "$img" data_sm_bitmap_root)" "$3") || return 1
		# shellcheck disable=SC2086
		set -- ${loc}
		echo "$1 $(node_val_off "$img" "$1" "$2") $TS_SALT_NODE"
		;;
	esac
}

# idx_get IMG MAP I blocknr|nr_free|none_free_before
idx_get() {
	local loc
	loc=$(idx_loc "$1" "$2" "$3") || return 1
	# shellcheck disable=SC2086
	set -- "$1" "$4" ${loc}
	case $2 in
	blocknr) get_le64 "$1" "$4" ;;
	nr_free) get_le32 "$1" $(($4 + 8)) ;;
	none_free_before) get_le32 "$1" $(($4 + 12)) ;;
	esac
}

# leak IMG data|metadata FROM COUNT [--bitmap-only]: COUNT leaks from the
# first free block at or after FROM; echo the leaked blocks
leak() {
	"$MK_LEAKS" "$@"
}

# block_of IMG BLOCK: the 4 KiB block BLOCK of IMG on stdout
block_of() {
	dd if="$1" bs=4096 skip="$2" count=1 status=none
}

# same_blocks A B BLOCK...: those blocks are identical in images A and B
same_blocks() {
	local a=$1 b=$2 blk
	shift 2
	for blk in "$@"; do
		cmp <(block_of "$a" "$blk") <(block_of "$b" "$blk") || {
			echo "block $blk differs between $a and $b" >&2
			return 1
		}
	done
}

# sorted LIST...: the numbers, sorted, unique, on one line
sorted() {
	printf '%s\n' "$@" | sort -nu | tr '\n' ' ' | sed 's/ $//'
}

# bitmap_stats IMG BLOCK: "USED FIRST_FREE" of a bitmap block (all 16320
# entries; FIRST_FREE is 16320 when none is free)
bitmap_stats() {
	od -An -v -tu1 -j $(($2 * 4096 + 16)) -N 4080 -- "$1" | awk '
		BEGIN { n = 0; ff = -1 }
		{ for (i = 1; i <= NF; i++) for (k = 0; k < 4; k++) {
			if (int($i / 4 ^ k) % 4) used++
			else if (ff < 0) ff = n
			n++ } }
		END { print used + 0, (ff < 0 ? n : ff) }'
}

# changed_blocks A B: the 4 KiB blocks in which files A and B differ
changed_blocks() {
	cmp -l -- "$1" "$2" | awk '{ print int(($1 - 1) / 4096) }' | sort -nu | tr '\n' ' ' | sed 's/ $//'
}

# An index entry must describe its bitmap exactly (the kernel's nr_free
# convention), as the repair writes it.
entry_is_exact() {
	local img=$1 map=$2 i=$3 bm stats
	bm=$(idx_get "$img" "$map" "$i" blocknr) || return 1
	read -r -a stats <<<"$(bitmap_stats "$img" "$bm")"
	[ "$(idx_get "$img" "$map" "$i" nr_free)" = $((ENTRIES - stats[0])) ] || {
		echo "$map entry $i: nr_free $(idx_get "$img" "$map" "$i" nr_free), used ${stats[0]}" >&2
		return 1
	}
	[ "$(idx_get "$img" "$map" "$i" none_free_before)" = "${stats[1]}" ] || {
		echo "$map entry $i: none_free_before $(idx_get "$img" "$map" "$i" none_free_before), first free ${stats[1]}" >&2
		return 1
	}
}

# two_bitmap_img [FLAGS [NR_DATA_BLOCKS]]: a pool with two metadata
# bitmaps (80 MiB of metadata: 20480 blocks) and by default three data
# bitmaps (40000 data blocks); blocks 0..99 are mapped.
two_bitmap_img() {
	local xml=$BATS_TEST_TMPDIR/two-bitmaps.xml flags=${1:-0} nr=${2:-40000}
	cat >"$xml" <<-EOF
	<superblock uuid="" time="1" transaction="3" flags="$flags" version="2" data_block_size="128" nr_data_blocks="$nr">
	  <device dev_id="0" mapped_blocks="100" transaction="0" creation_time="0" snap_time="0">
	    <range_mapping origin_begin="0" data_begin="0" length="100" time="0"/>
	  </device>
	</superblock>
	EOF
	mkimg "$xml" 80M
}

# 16 leaks across the boundary of bitmaps 0 and 1 of MAP (16312..16327,
# all free in two_bitmap_img).
leak_across_boundary() {
	[ "$(leak "$1" "$2" $((ENTRIES - 8)) 16)" = "$(seq -s ' ' $((ENTRIES - 8)) $((ENTRIES + 7)))" ]
}

# Debian's thin_check accepts IMG; extra arguments go before it.
debian_accepts() {
	run -0 "$DEB_BIN/thin_check" -q "$@"
}

# checks_clean IMG [MAP...]: our check passes with no leak lines, nothing
# repaired, and no hint warnings for the space maps named
checks_clean() {
	local img=$1 map
	shift
	check_ro 0 "$img"
	lacks_line "$stderr" '.*(leaked|reference count|repaired).*'
	for map in "$@"; do
		lacks_line "$stderr" "warning: $map space map.*"
	done
}

# repair_16 XML MAP: 16 leaks in MAP of a fixture, then --auto-repair must
# write only block 0, the bitmap and its index block (the metadata index
# block, or the data index tree leaf), bring the bitmap back to the
# original bytes, leave an exact index entry and nr_allocated, and pass
# both checkers; a second repair writes nothing.
repair_16() {
	local xml=$1 map=$2 other=data img orig leaky bm ib
	[ "$map" = metadata ] || other=metadata
	img=$(mkimg "$xml")
	orig=$BATS_TEST_TMPDIR/orig.img leaky=$BATS_TEST_TMPDIR/leaky.img
	cp "$img" "$orig"
	leak "$img" "$map" 0 16
	cp "$img" "$leaky"
	check_ro 64 "$img"
	has_line "$stderr" "16 $map blocks have leaked"
	run -0 --separate-stderr "$TC" --auto-repair "$img"
	has_line "$stderr" "16 $map blocks have leaked"
	has_line "$stderr" "$map space map: repaired 16 leaked blocks"
	lacks_line "$stderr" "$other space map: repaired.*"
	# METADATA_FREE_BLOCKS is that of the repaired metadata
	[ "$output" = "$(expected_check_stdout "$img")" ]
	bm=$(idx_get "$img" "$map" 0 blocknr)
	ib=$(idx_loc "$img" "$map" 0 | cut -d' ' -f1)
	[ "$(changed_blocks "$leaky" "$img")" = "$(sorted 0 "$bm" "$ib")" ]
	same_blocks "$img" "$orig" "$bm"
	entry_is_exact "$img" "$map" 0
	[ "$(sb_get "$img" "${map}_sm_nr_allocated")" = "$(bitmap_stats "$img" "$bm" | cut -d' ' -f1)" ]
	checks_clean "$img" "$map"
	debian_accepts "$img"
	check_ro 0 --auto-repair "$img"
	lacks_line "$stderr" '.*repaired.*'
}

@test "16 leaked data blocks: --auto-repair frees them, a second check passes" {
	repair_16 one-device.xml data
}

@test "16 leaked metadata blocks: --auto-repair frees them, a second check passes" {
	repair_16 many-devices.xml metadata
}

@test "Debian's thin_check reports metadata leaks (status 1) that ours repairs" {
	local img
	img=$(mkimg many-devices.xml)
	leak "$img" metadata 0 16
	run -1 "$DEB_BIN/thin_check" -q "$img"
	run -0 "$TC" -q --auto-repair "$img"
	debian_accepts "$img"
}

@test "data index tree with two leaves: each leaf holding a changed entry is rewritten" {
	local img leaky l0 l1 bm0 bm1 k=200
	img=$(two_bitmap_img 0 5000000)
	l0=$(idx_loc "$img" data 0 | cut -d' ' -f1)
	l1=$(idx_loc "$img" data "$k" | cut -d' ' -f1)
	[ "$l0" != "$l1" ]
	leak "$img" data 200 8
	leak "$img" data $((k * ENTRIES)) 8
	leaky=$BATS_TEST_TMPDIR/leaky.img
	cp "$img" "$leaky"
	run -0 --separate-stderr "$TC" --auto-repair "$img"
	has_line "$stderr" 'data space map: repaired 16 leaked blocks'
	bm0=$(idx_get "$img" data 0 blocknr)
	bm1=$(idx_get "$img" data "$k" blocknr)
	[ "$(changed_blocks "$leaky" "$img")" = "$(sorted 0 "$l0" "$l1" "$bm0" "$bm1")" ]
	entry_is_exact "$img" data 0
	entry_is_exact "$img" data "$k"
	checks_clean "$img" data
	debian_accepts "$img"
	interrupt_each_write "$leaky" 5 --auto-repair
}

@test "leaks in the bitmaps alone (hints untouched) are repaired too" {
	local img orig
	img=$(mkimg snapshots.xml)
	orig=$BATS_TEST_TMPDIR/orig.img
	cp "$img" "$orig"
	leak "$img" data 0 16 --bitmap-only
	leak "$img" metadata 0 16 --bitmap-only
	run -0 --separate-stderr "$TC" --auto-repair "$img"
	has_line "$stderr" 'data space map: repaired 16 leaked blocks'
	has_line "$stderr" 'metadata space map: repaired 16 leaked blocks'
	same_blocks "$img" "$orig" "$(idx_get "$img" data 0 blocknr)" "$(idx_get "$img" metadata 0 blocknr)"
	entry_is_exact "$img" data 0
	entry_is_exact "$img" metadata 0
	checks_clean "$img" data metadata
	debian_accepts "$img"
}

@test "leaks across a bitmap boundary in both maps (second bitmap blocks)" {
	local img orig leaky i bitmaps
	img=$(two_bitmap_img)
	orig=$BATS_TEST_TMPDIR/orig.img leaky=$BATS_TEST_TMPDIR/leaky.img
	cp "$img" "$orig"
	leak_across_boundary "$img" data
	leak_across_boundary "$img" metadata
	cp "$img" "$leaky"
	check_ro 64 "$img"
	has_line "$stderr" '16 data blocks have leaked'
	has_line "$stderr" '16 metadata blocks have leaked'
	run -0 --separate-stderr "$TC" --auto-repair "$img"
	has_line "$stderr" 'data space map: repaired 16 leaked blocks'
	has_line "$stderr" 'metadata space map: repaired 16 leaked blocks'
	# written: block 0, the metadata index block, the data index leaf and
	# bitmaps 0 and 1 of each map, which are the original ones again
	bitmaps="$(idx_get "$img" data 0 blocknr) $(idx_get "$img" data 1 blocknr)
		$(idx_get "$img" metadata 0 blocknr) $(idx_get "$img" metadata 1 blocknr)"
	# shellcheck disable=SC2086
	[ "$(changed_blocks "$leaky" "$img")" = "$(sorted 0 \
		"$(sb_get "$img" metadata_sm_bitmap_root)" \
		"$(idx_loc "$img" data 0 | cut -d' ' -f1)" $bitmaps)" ]
	# shellcheck disable=SC2086
	same_blocks "$img" "$orig" $bitmaps
	for i in 0 1; do
		entry_is_exact "$img" data "$i"
		entry_is_exact "$img" metadata "$i"
	done
	# data bitmap 2's entry keeps Debian's values
	[ "$(idx_get "$img" data 2 nr_free)" = "$(idx_get "$orig" data 2 nr_free)" ]
	checks_clean "$img" data
	debian_accepts "$img"
}

@test "leaks that moved none_free_before: it comes back to the first free block" {
	local img m d
	img=$(mkimg one-device.xml)
	# from the first free block on, so the hints follow the leaks
	m=$(leak "$img" metadata 0 16 | cut -d' ' -f1)
	d=$(leak "$img" data 0 16 | cut -d' ' -f1)
	[ "$(idx_get "$img" data 0 none_free_before)" = $((d + 16)) ]
	[ "$(idx_get "$img" metadata 0 none_free_before)" != "$m" ]
	run -0 --separate-stderr "$TC" --auto-repair "$img"
	[ "$(idx_get "$img" metadata 0 none_free_before)" = "$m" ]
	[ "$(idx_get "$img" data 0 none_free_before)" = "$d" ]
	entry_is_exact "$img" metadata 0
	entry_is_exact "$img" data 0
	checks_clean "$img" data metadata
	debian_accepts "$img"
}

@test "--clear-needs-check-flag repairs leaks on a needs_check pool and clears the flag" {
	local img
	img=$(mkimg needs-check.xml)
	[ "$(sb_get "$img" flags)" = 1 ]
	leak "$img" data 0 16
	leak "$img" metadata 0 16
	run -0 --separate-stderr "$TC" --clear-needs-check-flag "$img"
	has_line "$stderr" 'data space map: repaired 16 leaked blocks'
	has_line "$stderr" 'metadata space map: repaired 16 leaked blocks'
	[ "$(sb_get "$img" flags)" = 0 ]
	csum_ok "$img" 0 "$TS_SALT_SB"
	checks_clean "$img" data metadata
	lacks_line "$stderr" '.*needs_check.*'
	debian_accepts "$img"
}

@test "--auto-repair clears needs_check after repairing leaks; -q is silent" {
	local img
	img=$(mkimg needs-check.xml)
	leak "$img" data 0 16
	run -0 --separate-stderr "$TC" -q --auto-repair "$img"
	[ -z "$output$stderr" ]
	[ "$(sb_get "$img" flags)" = 0 ]
	checks_clean "$img" data
}

@test "without --auto-repair or --clear-needs-check-flag leaks are only reported" {
	local img orig
	img=$(mkimg needs-check.xml)
	leak "$img" data 0 16
	check_ro 64 "$img"
	check_ro 0 --ignore-non-fatal-errors "$img"
	lacks_line "$stderr" '.*repaired.*'
	# the limited checks do not read the space maps: nothing is repaired,
	# and the limited check passing clears the flag only
	orig=$BATS_TEST_TMPDIR/orig.img
	cp "$img" "$orig"
	run -0 --separate-stderr "$TC" --clear-needs-check-flag --skip-mappings "$img"
	lacks_line "$stderr" '.*repaired.*'
	[ "$(sb_get "$img" flags)" = 0 ]
	cmp <(tail -c +9 "$img") <(tail -c +9 "$orig")
}

@test "bad reference counts: --auto-repair refuses, exit 64, file unchanged" {
	local img leaf m
	img=$(mkimg needs-check.xml)
	leak "$img" data 0 16
	# a mapped data block counted 2 (wrong count >= 2)
	leaf=$(btree_first_leaf "$img" "$(dev_root "$img" 0)")
	m=$(($(node_val64 "$img" "$leaf" 0) >> 24))
	sm_set "$img" data "$m" 2
	check_ro 64 --auto-repair "$img"
	has_line "$stderr" "data block $m: reference count 2 in the space map, 1 computed from the trees"
	has_line "$stderr" '1 data blocks have bad reference counts'
	has_line "$stderr" '16 data blocks have leaked'
	lacks_line "$stderr" '.*repaired.*'
	check_ro 64 --clear-needs-check-flag "$img"
	check_ro 64 -q --auto-repair "$img"
	[ -z "$output$stderr" ]
	# count too low: the same mapped block free in the space map
	sm_set "$img" data "$m" 0
	check_ro 64 --auto-repair "$img"
	has_line "$stderr" "data block $m: reference count 0 in the space map, 1 computed from the trees"
	lacks_line "$stderr" '.*repaired.*'
}

@test "an unreferenced block counted 2 is a bad count, not a leak: left alone" {
	local img b
	img=$(mkimg one-device.xml)
	b=$(md_free_block "$img")
	sm_set "$img" metadata "$b" 2
	check_ro 64 --auto-repair "$img"
	has_line "$stderr" "metadata block $b: reference count 2 in the space map, 0 computed from the trees"
	has_line "$stderr" '1 metadata blocks have bad reference counts'
	lacks_line "$stderr" '.*have leaked'
	check_ro 64 --ignore-non-fatal-errors "$img"
}

@test "leaks behind a damaged node are not repaired" {
	local img leaf
	img=$(mkimg large-device.xml)
	leaf=$(btree_first_leaf "$img" "$(dev_root "$img" 7)")
	flip_byte "$img" $((leaf * 4096 + 300))
	check_ro 64 --auto-repair "$img"
	has_line "$stderr" '[0-9]+ data blocks have leaked'
	lacks_line "$stderr" '.*repaired.*'
	check_ro 64 --clear-needs-check-flag --ignore-non-fatal-errors "$img"
}

@test "other non-fatal problems stay: leaks repaired, exit 64 unless ignored" {
	local img loc orig
	img=$(mkimg needs-check.xml)
	leak "$img" data 0 4
	# mapped_blocks of device 0 off by one (non-fatal, not repaired)
	loc=$(btree_lookup "$img" "$(sb_get "$img" device_details_root)" 0)
	# shellcheck disable=SC2086
	set -- $loc
	local off
	off=$(node_val_off "$img" "$1" "$2")
	put_le64 "$img" "$off" $(($(get_le64 "$img" "$off") + 1))
	fix_csum "$img" "$1" "$TS_SALT_NODE"
	orig=$BATS_TEST_TMPDIR/orig.img
	cp "$img" "$orig"
	run -64 --separate-stderr "$TC" --auto-repair "$img"
	has_line "$stderr" 'data space map: repaired 4 leaked blocks'
	has_line "$stderr" 'device 0: mapped_blocks is .*'
	[ "$(sb_get "$img" flags)" = 1 ]
	cp "$orig" "$img"
	run -0 --separate-stderr "$TC" --clear-needs-check-flag --ignore-non-fatal-errors "$img"
	has_line "$stderr" 'data space map: repaired 4 leaked blocks'
	[ "$(sb_get "$img" flags)" = 0 ]
	check_ro 0 --ignore-non-fatal-errors "$img"
	lacks_line "$stderr" '.*leaked.*'
}

@test "healthy metadata stays byte-identical under --auto-repair and --clear-needs-check-flag" {
	local name img
	for name in empty-pool one-device snapshots many-devices large-device runs-singles; do
		img=$(mkimg "$name.xml")
		check_ro 0 --auto-repair "$img"
		lacks_line "$stderr" '.*repaired.*'
		check_ro 0 --clear-needs-check-flag "$img"
	done
	img=$(two_bitmap_img)
	check_ro 0 --auto-repair "$img"
}

# interrupt_each_write BASE NWRITES OPT: the repair of BASE (not changed)
# by thin_check OPT makes exactly NWRITES writes; interrupted before each
# of them in turn, it leaves metadata both checkers accept apart from the
# leaks, and a rerun ends with the bytes of an uninterrupted repair.
interrupt_each_write() {
	local base=$1 nwrites=$2 opt=$3 ref work n
	ref=$BATS_TEST_TMPDIR/ref.img work=$BATS_TEST_TMPDIR/work.img
	cp "$base" "$ref"
	run -0 --separate-stderr "$TC" "$opt" "$ref"
	[ "$(sb_get "$ref" flags)" = 0 ]
	# exactly nwrites writes: the hook at nwrites is never reached
	cp "$base" "$work"
	THINSNAP_FAIL_AFTER_WRITES=$nwrites run -0 "$TC" -q "$opt" "$work"
	same_file "$work" "$ref"
	for ((n = 0; n < nwrites; n++)); do
		cp "$base" "$work"
		THINSNAP_FAIL_AFTER_WRITES=$n run -137 "$TC" -q "$opt" "$work"
		# accepted by both checkers, apart from the leaks
		check_ro 0 --ignore-non-fatal-errors "$work"
		lacks_line "$stderr" '.*bad reference counts.*'
		debian_accepts --ignore-non-fatal-errors "$work"
		# the rerun finishes the job, with the same bytes
		run -0 "$TC" -q "$opt" "$work"
		same_file "$work" "$ref" || {
			echo "interrupted after $n writes: result differs" >&2
			return 1
		}
	done
	checks_clean "$ref" data
	debian_accepts "$ref"
}

# Leaks in both maps across bitmap boundaries.  Writes: metadata index
# block, data index leaf, block 0 (nr_allocated), two data and two
# metadata bitmaps, and block 0 again when needs_check is cleared.
boundary_leaks_img() {
	local img
	img=$(two_bitmap_img "$1") || return 1
	leak_across_boundary "$img" data || return 1
	leak_across_boundary "$img" metadata || return 1
	echo "$img"
}

@test "crash safety: --clear-needs-check-flag interrupted at each of its 8 writes" {
	local base
	base=$(boundary_leaks_img 1)
	interrupt_each_write "$base" 8 --clear-needs-check-flag
}

@test "crash safety: --auto-repair interrupted at each of its 7 writes" {
	local base
	base=$(boundary_leaks_img 0)
	interrupt_each_write "$base" 7 --auto-repair
}

@test "THINSNAP_FAIL_AFTER_WRITES=0 stops before the first write: file unchanged" {
	local img sha
	img=$(mkimg one-device.xml)
	leak "$img" data 0 1
	sha=$(sha_of "$img")
	THINSNAP_FAIL_AFTER_WRITES=0 run -137 "$TC" -q --auto-repair "$img"
	[ "$(sha_of "$img")" = "$sha" ]
	# without writes to make, the hook never fires
	THINSNAP_FAIL_AFTER_WRITES=0 run -64 "$TC" -q "$img"
}
