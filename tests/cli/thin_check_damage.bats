#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# thin_check on metadata the test damages itself.  Every case expects exit
# 64 (no crash, no hang: thin_check runs under `timeout 20`), a message
# naming the damaged block (found from the superblock and by walking the
# trees, never hard-coded), and the image unchanged by the check.

load helpers

bats_require_minimum_version 1.5.0

# damaged ARGS... IMG: the check fails with 64 and leaves IMG alone
damaged() {
	check_ro 64 "$@"
}

# ERE-escape a fixed string
re() {
	sed 's/[][{}().|*+?^$\\]/\\&/g' <<<"$1"
}

# "(entry I of block P, keys LO..HI)" as an ERE with HI left open
pos_re() {
	echo "\\(entry $1 of block $2, keys $3\\.\\.[0-9]+\\)"
}

# leaf_of IMG DEV: "LEAF PARENT" for the first leaf of device DEV
leaf_of() {
	local img=$1 leaf parent
	leaf=$(btree_first_leaf "$img" "$(dev_root "$img" "$2")") || return 1
	parent=$(btree_parent_of "$img" "$(dev_root "$img" "$2")" "$leaf") || return 1
	echo "$leaf ${parent% *}"
}

# ---------------------------------------------------------------------------
# superblock

@test "superblock: a flipped byte is a bad checksum" {
	local img off
	img=$(mkimg one-device.xml)
	for off in 0 $((0x13)) $((0x30)) $((0x148)) 1000; do
		flip_byte "$img" "$off"
		damaged "$img"
		[ -z "$output" ]
		has_line "$stderr" 'bad checksum in superblock'
		damaged -q "$img"
		[ -z "$output$stderr" ]
		flip_byte "$img" "$off"
	done
	check_ro 0 -q "$img"
}

@test "superblock: bad magic (valid checksum)" {
	local img
	img=$(mkimg one-device.xml)
	sb_set "$img" magic 27022011
	damaged "$img"
	has_line "$stderr" 'bad magic number in superblock'
}

@test "superblock: blocknr not 0 (valid checksum)" {
	local img
	img=$(mkimg one-device.xml)
	sb_set "$img" blocknr 5
	damaged "$img"
	has_line "$stderr" "superblock's block number field does not match its location"
}

@test "superblock: unknown incompat flags, bad version, bad data block size" {
	local img
	img=$(mkimg one-device.xml)
	sb_set "$img" incompat_flags 1
	damaged "$img"
	has_line "$stderr" 'superblock has unknown incompatible feature flags'
	sb_set "$img" incompat_flags 0
	sb_set "$img" version 3
	damaged "$img"
	has_line "$stderr" 'unsupported superblock version'
	sb_set "$img" version 2
	sb_set "$img" data_block_size 100
	damaged "$img"
	has_line "$stderr" 'superblock has an invalid data block size'
	sb_set "$img" data_block_size 128
	check_ro 0 "$img"
}

@test "superblock: details root 0 is reported as the root" {
	local img
	img=$(mkimg one-device.xml)
	sb_poke "$img" device_details_root 0
	fix_csum "$img" 0 "$TS_SALT_SB"
	damaged "$img"
	has_line "$stderr" 'device details tree: block 0 \(root\): points to block 0, the superblock'
	has_line "$stderr" 'device 0 is in the mapping tree but not in the device details tree'
	# the null pointer is not counted as a reference to the superblock
	lacks_line "$stderr" 'metadata block 0: .*'
	damaged --skip-mappings "$img"
	has_line "$stderr" 'device details tree: block 0 \(root\): points to block 0, the superblock'
}

@test "superblock: mapping root beyond the metadata device" {
	local img n
	img=$(mkimg snapshots.xml)
	n=$(sb_get "$img" metadata_sm_nr_blocks)
	sb_set "$img" data_mapping_root $((n + 3))
	damaged "$img"
	has_line "$stderr" "top-level mapping tree: block $((n + 3)) \(root\): points beyond the end of the metadata device"
	has_line "$stderr" 'device 1 is in the device details tree but not in the mapping tree'
}

# ---------------------------------------------------------------------------
# btree nodes: checksums

@test "internal node of a bottom-level tree (large-device): bad checksum" {
	local img r c
	img=$(mkimg large-device.xml)
	r=$(dev_root "$img" 7)
	[ "$(node_get "$img" "$r" flags)" = "$TS_NODE_INTERNAL" ]
	c=$(node_val64 "$img" "$r" 0)
	[ "$(node_get "$img" "$c" flags)" = "$TS_NODE_INTERNAL" ]
	flip_byte "$img" $((c * 4096 + 1000))
	damaged "$img"
	has_line "$stderr" "mapping tree of device 7: block $c $(pos_re 0 "$r" 0): bad checksum"
	# its leaves are unreachable now: leaks, reported but not the cause
	has_line "$stderr" '[0-9]+ metadata blocks have leaked'
	damaged --ignore-non-fatal-errors "$img"
	damaged -q "$img"
	[ -z "$output$stderr" ]
}

@test "internal root of a bottom-level tree (large-device): bad checksum" {
	local img r
	img=$(mkimg large-device.xml)
	r=$(dev_root "$img" 7)
	flip_byte "$img" $((r * 4096 + 40))
	damaged "$img"
	# each device's tree is walked from its own root
	has_line "$stderr" "mapping tree of device 7: block $r \\(root\\): bad checksum"
}

@test "internal root of the top-level mapping tree (many-devices): bad checksum" {
	local img m
	img=$(mkimg many-devices.xml)
	m=$(sb_get "$img" data_mapping_root)
	[ "$(node_get "$img" "$m" flags)" = "$TS_NODE_INTERNAL" ]
	flip_byte "$img" $((m * 4096 + 3000))
	damaged "$img"
	has_line "$stderr" "top-level mapping tree: block $m \(root\): bad checksum"
	has_line "$stderr" 'device 0 is in the device details tree but not in the mapping tree'
}

@test "top-level mapping leaf under an internal node (many-devices): bad checksum" {
	local img m c k
	img=$(mkimg many-devices.xml)
	m=$(sb_get "$img" data_mapping_root)
	c=$(node_val64 "$img" "$m" 1)
	k=$(node_key "$img" "$m" 1)
	[ "$(node_get "$img" "$c" flags)" = "$TS_NODE_LEAF" ]
	flip_byte "$img" $((c * 4096 + 500))
	damaged "$img"
	has_line "$stderr" "top-level mapping tree: block $c $(pos_re 1 "$m" "$k"): bad checksum"
	has_line "$stderr" "device $k is in the device details tree but not in the mapping tree"
}

@test "internal root and a leaf of the device details tree (many-devices)" {
	local img d c k
	img=$(mkimg many-devices.xml)
	d=$(sb_get "$img" device_details_root)
	[ "$(node_get "$img" "$d" flags)" = "$TS_NODE_INTERNAL" ]
	c=$(node_val64 "$img" "$d" 2)
	k=$(node_key "$img" "$d" 2)
	flip_byte "$img" $((c * 4096 + 77))
	damaged "$img"
	has_line "$stderr" "device details tree: block $c $(pos_re 2 "$d" "$k"): bad checksum"
	has_line "$stderr" "device $k is in the mapping tree but not in the device details tree"
	damaged --skip-mappings "$img"
	has_line "$stderr" "device details tree: block $c $(pos_re 2 "$d" "$k"): bad checksum"
	flip_byte "$img" $((d * 4096 + 77))
	damaged "$img"
	has_line "$stderr" "device details tree: block $d \(root\): bad checksum"
}

@test "leaf of a bottom-level tree: bad checksum" {
	local img leaf parent
	img=$(mkimg one-device.xml)
	read -r leaf parent <<<"$(leaf_of "$img" 0)"
	[ "$(node_get "$img" "$leaf" flags)" = "$TS_NODE_LEAF" ]
	flip_byte "$img" $((leaf * 4096 + 300))
	damaged "$img"
	has_line "$stderr" "mapping tree of device 0: block $leaf $(pos_re 0 "$parent" 0): bad checksum"
	has_line "$stderr" '[0-9]+ data blocks have leaked'
}

@test "leaf of one device among several: only that device is reported" {
	local img top dev root leaf parent
	img=$(mkimg snapshots.xml)
	top=$(sb_get "$img" data_mapping_root)
	dev=$(node_key "$img" "$top" 1)
	read -r leaf parent <<<"$(leaf_of "$img" "$dev")"
	flip_byte "$img" $((leaf * 4096 + 64))
	damaged "$img"
	has_line "$stderr" "mapping tree of device $dev: block $leaf $(pos_re 0 "$parent" 0): bad checksum"
	[ "$(grep -c 'bad checksum' <<<"$stderr")" = 1 ]
}

@test "blocknr field of a leaf does not match its location" {
	local img leaf parent
	img=$(mkimg one-device.xml)
	read -r leaf parent <<<"$(leaf_of "$img" 0)"
	put_le64 "$img" $((leaf * 4096 + 8)) $((leaf + 1))
	fix_csum "$img" "$leaf" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "mapping tree of device 0: block $leaf $(pos_re 0 "$parent" 0): block number field does not match its location \(it says $((leaf + 1))\)"
}

# ---------------------------------------------------------------------------
# space maps

@test "data space-map bitmap: bad checksum" {
	local img bm
	img=$(mkimg one-device.xml)
	read -r bm _ <<<"$(sm_locate "$img" data 0)"
	flip_byte "$img" $((bm * 4096 + 2000))
	damaged "$img"
	has_line "$stderr" "data space map: bitmap 0 at block $bm: bad checksum"
	damaged --ignore-non-fatal-errors "$img"
}

@test "data space-map bitmap 3 of 9 (large-device): bad checksum" {
	local img bm
	img=$(mkimg large-device.xml)
	read -r bm _ <<<"$(sm_locate "$img" data $((3 * 16320)))"
	flip_byte "$img" $((bm * 4096 + 16))
	damaged "$img"
	has_line "$stderr" "data space map: bitmap 3 at block $bm: bad checksum"
	lacks_line "$stderr" 'data space map: bitmap [^3] .*'
}

@test "metadata space-map bitmap: bad checksum" {
	local img bm
	img=$(mkimg many-devices.xml)
	read -r bm _ <<<"$(sm_locate "$img" metadata 0)"
	flip_byte "$img" $((bm * 4096 + 17))
	damaged "$img"
	has_line "$stderr" "metadata space map: bitmap 0 at block $bm: bad checksum"
}

@test "metadata space-map index block: bad checksum" {
	local img ib
	img=$(mkimg one-device.xml)
	ib=$(sb_get "$img" metadata_sm_bitmap_root)
	flip_byte "$img" $((ib * 4096 + 20))
	damaged "$img"
	has_line "$stderr" "metadata space map: index block $ib: bad checksum"
	damaged --ignore-non-fatal-errors -q "$img"
	[ -z "$output$stderr" ]
}

@test "data space-map index tree root: bad checksum" {
	local img r
	img=$(mkimg large-device.xml)
	r=$(sb_get "$img" data_sm_bitmap_root)
	flip_byte "$img" $((r * 4096 + 100))
	damaged "$img"
	has_line "$stderr" "data space map index tree: block $r \(root\): bad checksum"
	has_line "$stderr" 'data space map: no index entry for bitmap 0'
}

@test "space-map overflow tree roots: bad checksum" {
	local img r which
	for which in data metadata; do
		img=$(mkimg snapshots.xml)
		r=$(sb_get "$img" "${which}_sm_ref_count_root")
		flip_byte "$img" $((r * 4096 + 100))
		damaged "$img"
		has_line "$stderr" "$which space map overflow tree: block $r \(root\): bad checksum"
	done
}

@test "data space map: count 3 in the bitmap without an overflow entry" {
	local img b
	img=$(mkimg one-device.xml)
	b=$(($(node_val64 "$img" "$(btree_first_leaf "$img" "$(dev_root "$img" 0)")" 0) >> 24))
	sm_set "$img" data "$b" 3
	damaged --ignore-non-fatal-errors "$img"
	has_line "$stderr" "data space map: block $b has count 3\+ in its bitmap but no overflow entry"
}

# ---------------------------------------------------------------------------
# loops

@test "loop: an internal node pointing to itself" {
	local img r c
	img=$(mkimg large-device.xml)
	r=$(dev_root "$img" 7)
	c=$(node_val64 "$img" "$r" 0)
	put_le64 "$img" "$(node_val_off "$img" "$c" 0)" "$c"
	fix_csum "$img" "$c" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "mapping tree of device 7: block $c $(pos_re 0 "$c" 0): .*loop.*"
}

@test "loop: an internal node pointing to its parent" {
	local img r c
	img=$(mkimg large-device.xml)
	r=$(dev_root "$img" 7)
	c=$(node_val64 "$img" "$r" 0)
	put_le64 "$img" "$(node_val_off "$img" "$c" 5)" "$r"
	fix_csum "$img" "$c" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "mapping tree of device 7: block $r $(pos_re 5 "$c" "$(node_key "$img" "$c" 5)"): .*loop.*"
}

@test "loop: the top-level root pointing to itself (many-devices)" {
	local img m
	img=$(mkimg many-devices.xml)
	m=$(sb_get "$img" data_mapping_root)
	put_le64 "$img" "$(node_val_off "$img" "$m" 1)" "$m"
	fix_csum "$img" "$m" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "top-level mapping tree: block $m $(pos_re 1 "$m" "$(node_key "$img" "$m" 1)"): .*loop.*"
}

@test "loop: the details root pointing to itself (many-devices)" {
	local img d
	img=$(mkimg many-devices.xml)
	d=$(sb_get "$img" device_details_root)
	put_le64 "$img" "$(node_val_off "$img" "$d" 3)" "$d"
	fix_csum "$img" "$d" "$TS_SALT_NODE"
	damaged --skip-mappings "$img"
	has_line "$stderr" "device details tree: block $d $(pos_re 3 "$d" "$(node_key "$img" "$d" 3)"): .*loop.*"
}

@test "a device's root pointing at the details tree: one block, two kinds" {
	local img top d dev
	img=$(mkimg snapshots.xml)
	top=$(sb_get "$img" data_mapping_root)
	d=$(sb_get "$img" device_details_root)
	dev=$(node_key "$img" "$top" 2)
	put_le64 "$img" "$(node_val_off "$img" "$top" 2)" "$d"
	fix_csum "$img" "$top" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "mapping tree of device $dev: block $d is also used as device details tree"
}

# ---------------------------------------------------------------------------
# truncation

@test "truncated to half its size: truncated" {
	local img n
	img=$(mkimg large-device.xml)
	n=$(sb_get "$img" metadata_sm_nr_blocks)
	truncate -s $((n * 4096 / 2)) "$img"
	damaged "$img"
	has_line "$stderr" "metadata space map describes $n blocks, but the metadata device has only $((n / 2)) \(truncated\?\)"
	damaged -q "$img"
	[ -z "$output$stderr" ]
}

@test "truncated below its used blocks: children beyond the end" {
	local img n r i c k want=0
	img=$(mkimg large-device.xml)
	n=$(sb_get "$img" metadata_sm_nr_blocks)
	truncate -s $((n * 4096 / 4)) "$img"
	damaged "$img"
	has_line "$stderr" "metadata space map describes $n blocks, but the metadata device has only $((n / 4)) \(truncated\?\)"
	r=$(dev_root "$img" 7)
	for ((i = 0; i < $(node_get "$img" "$r" nr_entries); i++)); do
		c=$(node_val64 "$img" "$r" "$i")
		k=$(node_key "$img" "$r" "$i")
		((c >= n / 4)) || continue
		want=$((want + 1))
		has_line "$stderr" "mapping tree of device 7: block $c $(pos_re "$i" "$r" "$k"): points beyond the end of the metadata device"
	done
	((want > 0))
}

@test "truncated to a few blocks and a partial block" {
	local img d
	img=$(mkimg one-device.xml)
	d=$(sb_get "$img" device_details_root)
	truncate -s $((d * 4096 + 100)) "$img"
	damaged "$img"
	has_line "$stderr" "metadata space map describes [0-9]+ blocks, but the metadata device has only $d \(truncated\?\)"
	has_line "$stderr" "device details tree: block $d \(root\): points beyond the end of the metadata device"
}

@test "metadata space map larger than the file: truncated" {
	local img size n
	img=$(mkimg one-device.xml)
	size=$(($(stat -c %s "$img") / 4096))
	n=$((size * 2))
	sb_set "$img" metadata_sm_nr_blocks "$n"
	damaged "$img"
	has_line "$stderr" "metadata space map describes $n blocks, but the metadata device has only $size \(truncated\?\)"
}

# ---------------------------------------------------------------------------
# node headers and keys

@test "leaf nr_entries 100000: nr_entries greater than max_entries" {
	local img leaf parent
	img=$(mkimg one-device.xml)
	read -r leaf parent <<<"$(leaf_of "$img" 0)"
	put_le32 "$img" $((leaf * 4096 + 16)) 100000
	fix_csum "$img" "$leaf" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "mapping tree of device 0: block $leaf $(pos_re 0 "$parent" 0): nr_entries greater than max_entries"
}

@test "leaf max_entries 4000: too large for the value size" {
	local img leaf parent
	img=$(mkimg one-device.xml)
	read -r leaf parent <<<"$(leaf_of "$img" 0)"
	put_le32 "$img" $((leaf * 4096 + 20)) 4000
	fix_csum "$img" "$leaf" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "mapping tree of device 0: block $leaf $(pos_re 0 "$parent" 0): max_entries too large for the value size"
}

@test "internal node max_entries 4000 (large-device)" {
	local img r c
	img=$(mkimg large-device.xml)
	r=$(dev_root "$img" 7)
	c=$(node_val64 "$img" "$r" 1)
	put_le32 "$img" $((c * 4096 + 20)) 4000
	fix_csum "$img" "$c" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "mapping tree of device 7: block $c $(pos_re 1 "$r" "$(node_key "$img" "$r" 1)"): max_entries too large for the value size"
}

@test "leaf keys out of order" {
	local img leaf parent k1 k2
	img=$(mkimg one-device.xml)
	read -r leaf parent <<<"$(leaf_of "$img" 0)"
	k1=$(node_key "$img" "$leaf" 1)
	k2=$(node_key "$img" "$leaf" 2)
	put_le64 "$img" $((leaf * 4096 + 32 + 8)) "$k2"
	put_le64 "$img" $((leaf * 4096 + 32 + 16)) "$k1"
	fix_csum "$img" "$leaf" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "mapping tree of device 0: block $leaf $(pos_re 0 "$parent" 0): keys are not strictly increasing \(entry 2\)"
}

@test "leaf with a duplicated key" {
	local img leaf k
	img=$(mkimg one-device.xml)
	read -r leaf _ <<<"$(leaf_of "$img" 0)"
	k=$(node_key "$img" "$leaf" 4)
	put_le64 "$img" $((leaf * 4096 + 32 + 8 * 5)) "$k"
	fix_csum "$img" "$leaf" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "mapping tree of device 0: block $leaf .*: keys are not strictly increasing \(entry 5\)"
}

@test "leaf key below the range its parent gives" {
	local img r c lo
	img=$(mkimg one-device.xml)
	r=$(dev_root "$img" 0)
	c=$(node_val64 "$img" "$r" 1)
	lo=$(node_key "$img" "$r" 1)
	[ "$(node_key "$img" "$c" 0)" -ge "$lo" ]
	put_le64 "$img" $((c * 4096 + 32)) $((lo - 1))
	fix_csum "$img" "$c" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "mapping tree of device 0: block $c $(pos_re 1 "$r" "$lo"): key outside the range given by the parent \(entry 0\)"
}

@test "leaf with the wrong value size" {
	local img leaf parent
	img=$(mkimg one-device.xml)
	read -r leaf parent <<<"$(leaf_of "$img" 0)"
	put_le32 "$img" $((leaf * 4096 + 24)) 16
	put_le32 "$img" $((leaf * 4096 + 20)) 168
	fix_csum "$img" "$leaf" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "mapping tree of device 0: block $leaf $(pos_re 0 "$parent" 0): unexpected value size"
}

@test "node flags neither internal nor leaf" {
	local img leaf parent f
	img=$(mkimg one-device.xml)
	read -r leaf parent <<<"$(leaf_of "$img" 0)"
	for f in 0 3 4; do
		put_le32 "$img" $((leaf * 4096 + 4)) "$f"
		fix_csum "$img" "$leaf" "$TS_SALT_NODE"
		damaged "$img"
		has_line "$stderr" "mapping tree of device 0: block $leaf $(pos_re 0 "$parent" 0): bad node flags .*"
	done
}

@test "internal node with no entries" {
	local img r c
	img=$(mkimg large-device.xml)
	r=$(dev_root "$img" 7)
	c=$(node_val64 "$img" "$r" 2)
	put_le32 "$img" $((c * 4096 + 16)) 0
	fix_csum "$img" "$c" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "mapping tree of device 7: block $c $(pos_re 2 "$r" "$(node_key "$img" "$r" 2)"): internal node has no entries"
}

@test "max_entries not a multiple of 3 in an empty leaf: not fatal" {
	local img m
	img=$(mkimg empty-pool.xml)
	m=$(sb_get "$img" data_mapping_root)
	[ "$(node_get "$img" "$m" nr_entries)" = 0 ]
	put_le32 "$img" $((m * 4096 + 20)) 251
	fix_csum "$img" "$m" "$TS_SALT_NODE"
	check_ro 0 --ignore-non-fatal-errors "$img"
	has_line "$stderr" "warning: top-level mapping tree: block $m \(root\): max_entries is not the value writers use"
	[ "$output" = "$(expected_check_stdout "$img")" ]
}

# ---------------------------------------------------------------------------
# mappings and device details

@test "a mapping to a data block beyond nr_data_blocks" {
	local img leaf nd k off v
	img=$(mkimg one-device.xml)
	read -r leaf _ <<<"$(leaf_of "$img" 0)"
	nd=$(sb_get "$img" data_sm_nr_blocks)
	k=$(node_key "$img" "$leaf" 3)
	off=$(node_val_off "$img" "$leaf" 3)
	v=$(get_le64 "$img" "$off")
	put_le64 "$img" "$off" $((((nd + 5) << 24) | (v & 0xffffff)))
	fix_csum "$img" "$leaf" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "mapping tree of device 0: block $k is mapped to data block $((nd + 5)), beyond the end of the data device \($nd blocks\)"
	damaged --ignore-non-fatal-errors "$img"
}

@test "a mapping to data block nr_data_blocks (one past the end)" {
	local img leaf dev top nd k off v
	img=$(mkimg snapshots.xml)
	top=$(sb_get "$img" data_mapping_root)
	dev=$(node_key "$img" "$top" 3)
	leaf=$(btree_first_leaf "$img" "$(dev_root "$img" "$dev")")
	nd=$(sb_get "$img" data_sm_nr_blocks)
	k=$(node_key "$img" "$leaf" 0)
	off=$(node_val_off "$img" "$leaf" 0)
	v=$(get_le64 "$img" "$off")
	put_le64 "$img" "$off" $(((nd << 24) | (v & 0xffffff)))
	fix_csum "$img" "$leaf" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "(metadata snapshot: )?mapping tree of device [0-9]+: block $k is mapped to data block $nd, beyond the end of the data device \($nd blocks\)"
}

@test "device ids differ between the details tree and the mapping tree" {
	local img d n last
	img=$(mkimg snapshots.xml)
	d=$(sb_get "$img" device_details_root)
	n=$(node_get "$img" "$d" nr_entries)
	last=$(node_key "$img" "$d" $((n - 1)))
	put_le64 "$img" $((d * 4096 + 32 + 8 * (n - 1))) $((last + 100))
	fix_csum "$img" "$d" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "device $((last + 100)) is in the device details tree but not in the mapping tree"
	has_line "$stderr" "device $last is in the mapping tree but not in the device details tree"
	damaged --skip-mappings "$img"
	has_line "$stderr" "device $last is in the mapping tree but not in the device details tree"
}

@test "mapped_blocks in the details differs from the mapping count" {
	local img d off mb
	img=$(mkimg one-device.xml)
	d=$(sb_get "$img" device_details_root)
	off=$(node_val_off "$img" "$d" 0)
	mb=$(get_le64 "$img" "$off")
	put_le64 "$img" "$off" $((mb + 1))
	fix_csum "$img" "$d" "$TS_SALT_NODE"
	damaged "$img"
	has_line "$stderr" "device 0: mapped_blocks is $((mb + 1)) in the device details, but its mapping tree has $mb mappings"
}
