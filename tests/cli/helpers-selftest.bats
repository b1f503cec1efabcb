#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Self-test of tests/cli/helpers.bash.  Needs Debian's thin-provisioning-tools
# only for the mkimg/superblock tests.

load helpers

setup() {
	f=$BATS_TEST_TMPDIR/f.bin
	head -c 64 /dev/zero >"$f"
}

@test "defaults of TS_BIN, DEB_BIN, TS_XML" {
	# the runner may export TS_BIN for another build: check the defaults
	# in a clean environment
	run env -u TS_BIN -u DEB_BIN -u TS_XML bash -c \
		'BATS_TEST_DIRNAME=$1; . "$1/helpers.bash"; echo "$TS_BIN"; echo "$DEB_BIN"; echo "$TS_XML"' \
		_ "$BATS_TEST_DIRNAME"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$BATS_TEST_DIRNAME/../../build/bin" ]
	[ "${lines[1]}" = /usr/sbin ]
	[ -f "${lines[2]}/one-device.xml" ]
}

@test "sha_of" {
	printf abc >"$BATS_TEST_TMPDIR/abc"
	[ "$(sha_of "$BATS_TEST_TMPDIR/abc")" = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad ]
}

@test "put_le32 / get_le32 round trip and byte order" {
	put_le32 "$f" 5 0x12345678
	[ "$(get_le32 "$f" 5)" = 305419896 ]
	[ "$(od -An -tx1 -j 4 -N 6 "$f" | tr -d ' ')" = 007856341200 ]
	put_le32 "$f" 0x10 4294967295
	[ "$(get_le32 "$f" 16)" = 4294967295 ]
	[ "$(stat -c %s "$f")" = 64 ]
}

@test "put_le64 / get_le64 round trip and byte order" {
	put_le64 "$f" 8 0x0102030405060708
	[ "$(od -An -tx1 -j 8 -N 8 "$f" | tr -d ' ')" = 0807060504030201 ]
	[ "$(get_le64 "$f" 8)" = 72623859790382856 ]
	put_le64 "$f" 24 18446744073709551615
	[ "$(get_le64 "$f" 24)" = 18446744073709551615 ]
	put_le64 "$f" 24 9223372036854775808
	[ "$(get_le64 "$f" 24)" = 9223372036854775808 ]
	put_le64 "$f" 56 0010   # decimal, not octal
	[ "$(get_le64 "$f" 56)" = 10 ]
	[ "$(stat -c %s "$f")" = 64 ]
	# neighbours untouched
	[ "$(get_le64 "$f" 0)" = 0 ]
	[ "$(get_le64 "$f" 16)" = 0 ]
}

@test "put_le* reject out-of-range and malformed values" {
	run put_le32 "$f" 0 4294967296
	[ "$status" -ne 0 ]
	run put_le64 "$f" 0 18446744073709551616
	[ "$status" -ne 0 ]
	run put_le64 "$f" 0 -1
	[ "$status" -ne 0 ]
	run put_le64 "$f" 0 12abc
	[ "$status" -ne 0 ]
	run get_le64 "$f" 60
	[ "$status" -ne 0 ]
	[ "$(sha_of "$f")" = "$(head -c 64 /dev/zero | sha256sum | cut -d' ' -f1)" ]
}

@test "flip_byte changes exactly one byte, twice restores it" {
	cp "$f" "$f.orig"
	put_byte "$f" 7 0x5a
	cp "$f" "$f.before"
	flip_byte "$f" 7
	[ "$(cmp -l "$f.before" "$f" | tr -s " " | sed "s/^ //")" = "8 132 245" ]
	flip_byte "$f" 40
	[ "$(cmp -l "$f.before" "$f" | wc -l)" = 2 ]
	[ "$(get_byte "$f" 40)" = 255 ]
	flip_byte "$f" 7
	flip_byte "$f" 40
	cmp "$f.before" "$f"
	run flip_byte "$f" 64
	[ "$status" -ne 0 ]
	[ "$(stat -c %s "$f")" = 64 ]
}

@test "crc32c_raw and block_csum match FORMATS.md B.1" {
	printf 123456789 >"$BATS_TEST_TMPDIR/v"
	# standard crc32c 0xE3069283 = raw xor 0xFFFFFFFF
	[ "$(crc32c_raw "$BATS_TEST_TMPDIR/v" 0 9)" = $((0xE3069283 ^ 0xFFFFFFFF)) ]
	head -c 8192 /dev/zero >"$BATS_TEST_TMPDIR/z"
	[ "$(crc32c_raw "$BATS_TEST_TMPDIR/z" 4 4092)" = $((0x58CDA791)) ]
	[ "$(block_csum "$BATS_TEST_TMPDIR/z" 1 "$TS_SALT_SB")" = $((0x58CFD397)) ]
	[ "$(block_csum "$BATS_TEST_TMPDIR/z" 1 "$TS_SALT_NODE")" = $((0x58CC7E82)) ]
	[ "$(block_csum "$BATS_TEST_TMPDIR/z" 1 "$TS_SALT_INDEX")" = $((0x58CFD54F)) ]
	[ "$(block_csum "$BATS_TEST_TMPDIR/z" 1 "$TS_SALT_BITMAP")" = $((0x58CE0B1A)) ]
}

@test "fresh kernel superblock of FORMATS.md B.2 gets checksum 0x9DD8668D" {
	sb=$BATS_TEST_TMPDIR/sb
	head -c 4096 /dev/zero >"$sb"
	sb_poke "$sb" magic 27022010
	sb_poke "$sb" version 2
	sb_poke "$sb" data_sm_nr_blocks 4096
	sb_poke "$sb" data_sm_nr_allocated 0
	sb_poke "$sb" data_sm_bitmap_root 10
	sb_poke "$sb" data_sm_ref_count_root 5
	sb_poke "$sb" metadata_sm_nr_blocks 2048
	sb_poke "$sb" metadata_sm_nr_allocated 9
	sb_poke "$sb" metadata_sm_bitmap_root 11
	sb_poke "$sb" metadata_sm_ref_count_root 2
	sb_poke "$sb" data_mapping_root 6
	sb_poke "$sb" device_details_root 7
	sb_poke "$sb" data_block_size 128
	sb_poke "$sb" metadata_block_size 8
	sb_poke "$sb" metadata_nr_blocks 2048
	fix_csum "$sb" 0 "$TS_SALT_SB"
	[ "$(get_le32 "$sb" 0)" = $((0x9DD8668D)) ]
	[ "$(od -An -tx1 -N 4 "$sb" | tr -d ' ')" = 8d66d89d ]
	csum_ok "$sb" 0 "$TS_SALT_SB"
}

@test "sb_off offsets follow FORMATS.md A.3" {
	[ "$(sb_off csum)" = "0 4" ]
	[ "$(sb_off flags)" = "4 4" ]
	[ "$(sb_off time)" = "$((0x2c)) 4" ]
	[ "$(sb_off trans_id)" = "$((0x30)) 8" ]
	[ "$(sb_off metadata_snap)" = "$((0x38)) 8" ]
	[ "$(sb_off data_sm_nr_blocks)" = "$((0x40)) 8" ]
	[ "$(sb_off metadata_sm_bitmap_root)" = "$((0xd0)) 8" ]
	[ "$(sb_off data_mapping_root)" = "$((0x140)) 8" ]
	[ "$(sb_off device_details_root)" = "$((0x148)) 8" ]
	[ "$(sb_off data_block_size)" = "$((0x150)) 4" ]
	[ "$(sb_off metadata_nr_blocks)" = "$((0x158)) 8" ]
	[ "$(sb_off incompat_flags)" = "$((0x168)) 4" ]
	run sb_off nonsense
	[ "$status" -ne 0 ]
}

@test "mkimg + sb_get on a Debian-restored fixture" {
	img=$(mkimg one-device.xml)
	[ "$img" = "$BATS_TEST_TMPDIR/one-device.img" ]
	[ "$(stat -c %s "$img")" = 8388608 ]
	img2=$(mkimg "$TS_XML/one-device.xml" 4M)
	[ "$img2" = "$BATS_TEST_TMPDIR/one-device.1.img" ]
	[ "$(stat -c %s "$img2")" = 4194304 ]
	[ "$(sb_get "$img" magic)" = 27022010 ]
	[ "$(sb_get "$img" version)" = 2 ]
	[ "$(sb_get "$img" time)" = 3 ]
	[ "$(sb_get "$img" trans_id)" = 5 ]
	[ "$(sb_get "$img" flags)" = 0 ]
	[ "$(sb_get "$img" data_block_size)" = 128 ]
	[ "$(sb_get "$img" data_sm_nr_blocks)" = 4096 ]
	[ "$(sb_get "$img" metadata_sm_nr_blocks)" = 2048 ]
	csum_ok "$img" 0 "$TS_SALT_SB"
	# the details root is a btree node with a valid checksum
	det=$(sb_get "$img" device_details_root)
	csum_ok "$img" "$det" "$TS_SALT_NODE"
	[ "$(node_get "$img" "$det" blocknr)" = "$det" ]
	[ "$(node_get "$img" "$det" value_size)" = 24 ]
	[ "$(node_get "$img" "$det" nr_entries)" = 1 ]
}

@test "mkimg fails loudly on bad XML" {
	printf '<superblock>\n' >"$BATS_TEST_TMPDIR/bad.xml"
	run mkimg "$BATS_TEST_TMPDIR/bad.xml"
	[ "$status" -ne 0 ]
	[[ $output == *"thin_restore"*failed* ]]
	run mkimg no-such-fixture.xml
	[ "$status" -ne 0 ]
}

@test "sb_set keeps the checksum valid, sb_poke does not" {
	img=$(mkimg empty-pool.xml)
	sb_set "$img" flags 1
	[ "$(sb_get "$img" flags)" = 1 ]
	csum_ok "$img" 0 "$TS_SALT_SB"
	"$DEB_BIN/thin_check" -q "$img"
	[[ $("$DEB_BIN/thin_dump" "$img") == *'flags="1"'* ]]
	sb_poke "$img" time 7
	run csum_ok "$img" 0 "$TS_SALT_SB"
	[ "$status" -ne 0 ]
	run "$DEB_BIN/thin_check" -q "$img"
	[ "$status" -ne 0 ]
}

@test "large-device.xml: bottom-level tree of device 7 has 3 levels" {
	img=$(mkimg large-device.xml)
	top=$(sb_get "$img" data_mapping_root)
	[ "$(node_get "$img" "$top" flags)" = "$TS_NODE_LEAF" ]
	[ "$(node_key "$img" "$top" 0)" = 7 ]
	root=$(node_val64 "$img" "$top" 0)
	[ "$(node_get "$img" "$root" flags)" = "$TS_NODE_INTERNAL" ]
	mid=$(node_val64 "$img" "$root" 0)
	[ "$(node_get "$img" "$mid" flags)" = "$TS_NODE_INTERNAL" ]
	leaf=$(node_val64 "$img" "$mid" 0)
	[ "$(node_get "$img" "$leaf" flags)" = "$TS_NODE_LEAF" ]
	[ "$(node_get "$img" "$leaf" max_entries)" = 252 ]
	csum_ok "$img" "$leaf" "$TS_SALT_NODE"
}

@test "many-devices.xml: details and top-level mapping trees have internal roots" {
	img=$(mkimg many-devices.xml)
	top=$(sb_get "$img" data_mapping_root)
	det=$(sb_get "$img" device_details_root)
	[ "$(node_get "$img" "$top" flags)" = "$TS_NODE_INTERNAL" ]
	[ "$(node_get "$img" "$det" flags)" = "$TS_NODE_INTERNAL" ]
	[ "$(node_get "$img" "$det" max_entries)" = 252 ]
	leaf=$(node_val64 "$img" "$det" 0)
	[ "$(node_get "$img" "$leaf" value_size)" = 24 ]
	[ "$(node_get "$img" "$leaf" max_entries)" = 126 ]
}
