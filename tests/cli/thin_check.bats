#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# thin_check: options, messages and exit codes (docs COMPAT.md), the
# TRANSACTION_ID / METADATA_FREE_BLOCKS lines for every fixture, the
# needs_check flag, metadata snapshots, leaks and bad reference counts.
# Damaged metadata is in thin_check_damage.bats.
#
# Images are made by Debian's thin_restore ($DEB_BIN, mkimg); the metadata
# snapshot by build/tests/mk_metadata_snap.  Every read-only run checks that
# the input file is unchanged.

load helpers

bats_require_minimum_version 1.5.0

TC=$TS_BIN/thin_check
: "${TS_BUILD:=$BATS_TEST_DIRNAME/../../build}"
MK_SNAP=$TS_BUILD/tests/mk_metadata_snap

FIXTURES="big-block-size-1g big-block-size empty-pool high-transaction
large-device many-devices needs-check one-device runs-singles snapshots"

# Progress lines of a full check, in order.
PROGRESS=$'examining superblock\nexamining devices tree\nexamining mapping tree\nchecking space map counts'

USAGE_FIRST='Usage: thin_check [options] {device|file}'

# The progress lines must come in order (other lines may be between them).
progress_in_order() {
	local got
	got=$(grep -E '^(examining (superblock|devices tree|mapping tree)|checking space map counts)$' <<<"$1")
	[ "$got" = "$2" ] || {
		echo "progress lines: '$got', expected '$2'" >&2
		return 1
	}
}

# A usage error: exit 2, nothing on stdout, the message and the usage on
# stderr, nothing checked.
usage_error() {
	local msg=$1 img
	shift
	img=$(mkimg one-device.xml)
	check_ro 2 "$@" "$img"
	[ -z "$output" ]
	has_line "$stderr" "$msg"
	has_line "$stderr" "$(sed 's/[][{}().|*+?^$\\]/\\&/g' <<<"$USAGE_FIRST")"
	lacks_line "$stderr" 'examining superblock'
	# and -q silences it
	check_ro 2 -q "$@" "$img"
	[ -z "$output" ]
	[ -z "$stderr" ]
}

# A fixture checks clean: exit 0, both stdout lines, the progress lines,
# TRANSACTION_ID equal to the XML's transaction attribute.
fixture_passes() {
	local name=$1 img
	img=$(mkimg "$name.xml")
	check_ro 0 "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	[ "${lines[0]}" = "TRANSACTION_ID=$(fixture_attr "$name.xml" transaction)" ]
	[[ ${lines[1]} =~ ^METADATA_FREE_BLOCKS=[0-9]+$ ]]
	progress_in_order "$stderr" "$PROGRESS"
	# no fatal finding slipped through
	lacks_line "$stderr" '.*(bad checksum|bad reference counts|have leaked|beyond the end|loop).*'
}

# A data block that is free in the data space map: the highest one.
free_data_block() {
	local img=$1 b
	b=$(($(sb_get "$img" data_sm_nr_blocks) - 1))
	while [ "$(sm_get "$img" data "$b")" != 0 ]; do
		b=$((b - 1))
		((b >= 0)) || return 1
	done
	echo "$b"
}

# A free metadata block: the highest one below nr_blocks.
free_metadata_block() {
	local img=$1 b
	b=$(($(sb_get "$img" metadata_sm_nr_blocks) - 1))
	while [ "$(sm_get "$img" metadata "$b")" != 0 ]; do
		b=$((b - 1))
		((b > 0)) || return 1
	done
	echo "$b"
}

# The data block of the first mapping of device DEV.
first_mapped_data_block() {
	local img=$1 leaf
	leaf=$(btree_first_leaf "$img" "$(dev_root "$img" "$2")") || return 1
	echo $(($(node_val64 "$img" "$leaf" 0) >> 24))
}

# ---------------------------------------------------------------------------
# help, version, usage errors

@test "-h and --help print the usage on stdout and exit 0" {
	local opt
	for opt in -h --help; do
		run -0 --separate-stderr "$TC" "$opt"
		[ "${lines[0]}" = "$USAGE_FIRST" ]
		[ -z "$stderr" ]
		# every option is listed
		for o in '-q|--quiet' '-h|--help' '-V|--version' '-m|--metadata-snap' \
			--auto-repair --override-mapping-root --override-details-root \
			--clear-needs-check-flag --ignore-non-fatal-errors \
			--skip-mappings --super-block-only; do
			grep -qF -- "{$o}" <<<"$output"
		done
	done
}

@test "-V and --version print the bare version" {
	local want opt
	want=$(sed -n 's/^VERSION := *//p' "$BATS_TEST_DIRNAME/../../Makefile")
	[[ $want =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]
	for opt in -V --version; do
		run -0 --separate-stderr "$TC" "$opt"
		[ "$output" = "$want" ]
		[ -z "$stderr" ]
	done
}

@test "unknown long option: exit 2, usage on stderr" {
	usage_error "thin_check: unrecognized option '--bogus'" --bogus
}

@test "unknown short option: exit 2, usage on stderr" {
	usage_error "thin_check: unrecognized option '-x'" -x
}

@test "missing input: exit 2, usage on stderr" {
	run -2 --separate-stderr "$TC"
	[ -z "$output" ]
	has_line "$stderr" 'thin_check: No input file provided\.'
	has_line "$stderr" 'Usage: thin_check \[options\] \{device\|file\}'
	run -2 --separate-stderr "$TC" -q
	[ -z "$output" ]
	[ -z "$stderr" ]
	run -2 --separate-stderr "$TC" --quiet
	[ -z "$output$stderr" ]
}

@test "option missing its argument: exit 2" {
	run -2 --separate-stderr "$TC" --override-mapping-root
	[ -z "$output" ]
	has_line "$stderr" "thin_check: option '--override-mapping-root' requires an argument"
	run -2 --separate-stderr "$TC" -q --override-details-root
	[ -z "$output$stderr" ]
}

@test "non-numeric override value: exit 2" {
	local img
	img=$(mkimg one-device.xml)
	check_ro 2 --override-mapping-root 7x "$img"
	[ -z "$output" ]
	has_line "$stderr" "thin_check: invalid value '7x' for --override-mapping-root: .*"
	check_ro 2 --override-details-root -1 "$img"
	has_line "$stderr" "thin_check: invalid value '-1' for --override-details-root: .*"
}

@test "two inputs: exit 2" {
	local img
	img=$(mkimg one-device.xml)
	check_ro 2 "$img" "$img"
	[ -z "$output" ]
	has_line "$stderr" 'thin_check: only one input file may be given'
}

@test "--auto-repair conflicts with --ignore-non-fatal-errors" {
	usage_error 'thin_check: --auto-repair cannot be combined with --ignore-non-fatal-errors' \
		--auto-repair --ignore-non-fatal-errors
	usage_error 'thin_check: --auto-repair cannot be combined with --ignore-non-fatal-errors' \
		--ignore-non-fatal-errors --auto-repair
}

@test "--auto-repair conflicts with -m / --metadata-snap" {
	usage_error 'thin_check: --auto-repair cannot be combined with --metadata-snap' --auto-repair -m
	usage_error 'thin_check: --auto-repair cannot be combined with --metadata-snap' --metadata-snap --auto-repair
}

@test "--auto-repair conflicts with --override-mapping-root" {
	usage_error 'thin_check: --auto-repair cannot be combined with the root overrides' \
		--auto-repair --override-mapping-root 7
}

@test "--auto-repair conflicts with --override-details-root" {
	usage_error 'thin_check: --auto-repair cannot be combined with the root overrides' \
		--override-details-root 6 --auto-repair
}

@test "--auto-repair conflicts with --super-block-only" {
	usage_error 'thin_check: --auto-repair cannot be combined with --super-block-only' \
		--auto-repair --super-block-only
}

@test "--auto-repair conflicts with --skip-mappings" {
	usage_error 'thin_check: --auto-repair cannot be combined with --skip-mappings' \
		--skip-mappings --auto-repair
}

@test "--clear-needs-check-flag conflicts with -m / --metadata-snap" {
	usage_error 'thin_check: --clear-needs-check-flag cannot be combined with --metadata-snap' \
		--clear-needs-check-flag -m
	usage_error 'thin_check: --clear-needs-check-flag cannot be combined with --metadata-snap' \
		--metadata-snap --clear-needs-check-flag
}

@test "--clear-needs-check-flag conflicts with the root overrides" {
	usage_error 'thin_check: --clear-needs-check-flag cannot be combined with the root overrides' \
		--clear-needs-check-flag --override-mapping-root 7
	usage_error 'thin_check: --clear-needs-check-flag cannot be combined with the root overrides' \
		--override-details-root 6 --clear-needs-check-flag
}

@test "a conflict on needs-check metadata does not clear the flag" {
	local img sha
	img=$(mkimg needs-check.xml)
	sha=$(sha_of "$img")
	run -2 --separate-stderr "$TC" --clear-needs-check-flag -m "$img"
	has_line "$stderr" 'thin_check: --clear-needs-check-flag cannot be combined with --metadata-snap'
	run -2 --separate-stderr "$TC" --auto-repair --skip-mappings "$img"
	has_line "$stderr" 'thin_check: --auto-repair cannot be combined with --skip-mappings'
	[ "$(sha_of "$img")" = "$sha" ]
	[ "$(sb_get "$img" flags)" = 1 ]
}

@test "allowed combinations are accepted" {
	local img
	img=$(mkimg snapshots.xml)
	check_ro 0 --skip-mappings --ignore-non-fatal-errors "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	check_ro 0 --super-block-only --skip-mappings "$img"
	[ "$stderr" = "examining superblock" ]
	check_ro 0 --clear-needs-check-flag --ignore-non-fatal-errors --skip-mappings "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
}

# ---------------------------------------------------------------------------
# input checks

@test "missing file: Couldn't find input file" {
	run -64 --separate-stderr "$TC" "$BATS_TEST_TMPDIR/no-such-file"
	[ -z "$output" ]
	[ "$stderr" = "Couldn't find input file '$BATS_TEST_TMPDIR/no-such-file'" ]
	run -64 --separate-stderr "$TC" -q "$BATS_TEST_TMPDIR/no-such-file"
	[ -z "$output$stderr" ]
}

@test "directory: Not a block device or regular file" {
	mkdir "$BATS_TEST_TMPDIR/dir"
	run -64 --separate-stderr "$TC" "$BATS_TEST_TMPDIR/dir"
	[ -z "$output" ]
	[ "$stderr" = "Not a block device or regular file '$BATS_TEST_TMPDIR/dir'." ]
	run -64 --separate-stderr "$TC" --quiet "$BATS_TEST_TMPDIR/dir"
	[ -z "$output$stderr" ]
}

@test "character device: Not a block device or regular file" {
	run -64 --separate-stderr "$TC" /dev/null
	[ -z "$output" ]
	[ "$stderr" = "Not a block device or regular file '/dev/null'." ]
}

@test "files below 4096 bytes are too small" {
	local f=$BATS_TEST_TMPDIR/tiny size
	for size in 0 100 4095; do
		head -c "$size" /dev/zero >"$f"
		check_ro 64 "$f"
		[ -z "$output" ]
		[ "$stderr" = "Metadata device/file too small.  Is this binary metadata?" ]
		check_ro 64 -q "$f"
		[ -z "$output$stderr" ]
	done
}

@test "4096 zero bytes: bad checksum in superblock, not too small" {
	local f=$BATS_TEST_TMPDIR/zero
	head -c 4096 /dev/zero >"$f"
	check_ro 64 "$f"
	[ -z "$output" ]
	has_line "$stderr" 'bad checksum in superblock'
	lacks_line "$stderr" '.*too small.*'
}

@test "an XML fixture: This looks like XML" {
	local xml=$BATS_TEST_TMPDIR/large-device.xml
	cp "$TS_XML/large-device.xml" "$xml"
	(($(stat -c %s "$xml") >= 4096))
	check_ro 64 "$xml"
	[ -z "$output" ]
	[ "$stderr" = "This looks like XML.  This tool only supports the binary metadata format." ]
	check_ro 64 -q "$xml"
	[ -z "$output$stderr" ]
}

@test "a small XML fixture padded to 8 KiB, and one with a declaration: XML" {
	local xml=$BATS_TEST_TMPDIR/padded.xml
	cp "$TS_XML/one-device.xml" "$xml"
	head -c 8192 /dev/zero | tr '\0' '\n' >>"$xml"
	check_ro 64 "$xml"
	[ "$stderr" = "This looks like XML.  This tool only supports the binary metadata format." ]
	xml=$BATS_TEST_TMPDIR/decl.xml
	{ echo '<?xml version="1.0" encoding="UTF-8"?>'; cat "$TS_XML/runs-singles.xml"; } >"$xml"
	check_ro 64 "$xml"
	[ "$stderr" = "This looks like XML.  This tool only supports the binary metadata format." ]
}

@test "zeroed superblock: bad checksum in superblock, nothing on stdout" {
	local img
	img=$(mkimg one-device.xml)
	zero_block "$img" 0
	check_ro 64 "$img"
	[ -z "$output" ]
	has_line "$stderr" 'bad checksum in superblock'
	lacks_line "$stderr" 'examining devices tree'
	check_ro 64 -q "$img"
	[ -z "$output$stderr" ]
	# the other modes fail the same way
	check_ro 64 --super-block-only "$img"
	has_line "$stderr" 'bad checksum in superblock'
	check_ro 64 -m "$img"
	has_line "$stderr" 'bad checksum in superblock'
}

# ---------------------------------------------------------------------------
# every fixture passes, with the right stdout

@test "fixture big-block-size-1g passes" { fixture_passes big-block-size-1g; }
@test "fixture big-block-size passes" { fixture_passes big-block-size; }
@test "fixture empty-pool passes" { fixture_passes empty-pool; }
@test "fixture high-transaction passes (TRANSACTION_ID 2^64-1)" {
	fixture_passes high-transaction
	[ "${lines[0]}" = TRANSACTION_ID=18446744073709551615 ]
}
@test "fixture large-device passes" { fixture_passes large-device; }
@test "fixture many-devices passes" { fixture_passes many-devices; }
@test "fixture needs-check passes (read-only check ignores the flag)" {
	fixture_passes needs-check
	has_line "$stderr" '.*needs_check.*'
}
@test "fixture one-device passes" { fixture_passes one-device; }
@test "fixture runs-singles passes" { fixture_passes runs-singles; }
@test "fixture snapshots passes" { fixture_passes snapshots; }

@test "METADATA_FREE_BLOCKS comes from the superblock's metadata space-map root" {
	local img n a
	img=$(mkimg snapshots.xml)
	n=$(sb_get "$img" metadata_sm_nr_blocks)
	a=$(sb_get "$img" metadata_sm_nr_allocated)
	# a wrong nr_allocated is only a warning, and is what is printed
	sb_set "$img" metadata_sm_nr_allocated $((a + 5))
	check_ro 0 "$img"
	[ "$output" = "$(printf 'TRANSACTION_ID=%s\nMETADATA_FREE_BLOCKS=%s' \
		"$(fixture_attr snapshots.xml transaction)" $((n - a - 5)))" ]
	has_line "$stderr" "warning: metadata space map: nr_allocated is $((a + 5)), but [0-9]+ blocks are in use"
}

@test "space-map hint mismatches are warnings: nr_free and none_free_before" {
	local img ib nf
	img=$(mkimg one-device.xml)
	ib=$(sb_get "$img" metadata_sm_bitmap_root)
	nf=$(get_le32 "$img" $((ib * 4096 + 16 + 8)))
	put_le32 "$img" $((ib * 4096 + 16 + 8)) $((nf - 100))
	put_le32 "$img" $((ib * 4096 + 16 + 12)) 2000
	fix_csum "$img" "$ib" "$TS_SALT_INDEX"
	check_ro 0 "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	has_line "$stderr" "warning: metadata space map: index entry 0 \(bitmap at block [0-9]+\) says $((nf - 100)) blocks are free, the bitmap has [0-9]+"
	has_line "$stderr" "warning: metadata space map: index entry 0 says no block before 2000 is free, but block [0-9]+ is"
	check_ro 0 -q "$img"
	[ -z "$output$stderr" ]
}

@test "Debian's thin_check agrees that every fixture passes" {
	local name img
	for name in $FIXTURES; do
		img=$(mkimg "$name.xml")
		run -0 "$DEB_BIN/thin_check" -q "$img"
		check_ro 0 "$img"
		[ "$output" = "$(expected_check_stdout "$img")" ]
	done
}

# ---------------------------------------------------------------------------
# -q

@test "-q: silent on success" {
	local img
	img=$(mkimg many-devices.xml)
	check_ro 0 "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	progress_in_order "$stderr" "$PROGRESS"
	check_ro 0 -q "$img"
	[ -z "$output" ]
	[ -z "$stderr" ]
	check_ro 0 --quiet "$img"
	[ -z "$output$stderr" ]
	# options after the input are accepted too
	run -0 --separate-stderr "$TC" "$img" -q
	[ -z "$output$stderr" ]
}

@test "-q: silent on failure" {
	local img leaf
	img=$(mkimg one-device.xml)
	leaf=$(btree_first_leaf "$img" "$(dev_root "$img" 0)")
	flip_byte "$img" $((leaf * 4096 + 200))
	check_ro 64 "$img"
	has_line "$stderr" "mapping tree of device 0: block $leaf .*: bad checksum"
	check_ro 64 -q "$img"
	[ -z "$output" ]
	[ -z "$stderr" ]
	check_ro 64 --quiet --ignore-non-fatal-errors "$img"
	[ -z "$output$stderr" ]
}

@test "closed stdout: non-zero exit" {
	local img
	img=$(mkimg one-device.xml)
	run -0 --separate-stderr bash -c '"$1" "$2"' _ "$TC" "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	run --separate-stderr bash -c '"$1" "$2" >&-' _ "$TC" "$img"
	[ "$status" -ne 0 ]
	[ "$status" -lt 128 ]
}

# ---------------------------------------------------------------------------
# --super-block-only, --skip-mappings, --ignore-non-fatal-errors

@test "--super-block-only stops after the superblock" {
	local img leaf
	img=$(mkimg one-device.xml)
	check_ro 0 --super-block-only "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	[ "$stderr" = "examining superblock" ]
	# damage below the superblock is not looked at
	leaf=$(btree_first_leaf "$img" "$(dev_root "$img" 0)")
	flip_byte "$img" $((leaf * 4096 + 200))
	zero_block "$img" "$(sb_get "$img" device_details_root)"
	check_ro 0 --super-block-only "$img"
	[ "$stderr" = "examining superblock" ]
	check_ro 64 "$img"
}

@test "--super-block-only fails on a bad superblock" {
	local img
	img=$(mkimg one-device.xml)
	sb_set "$img" magic 12345
	check_ro 64 --super-block-only "$img"
	has_line "$stderr" 'bad magic number in superblock'
	flip_byte "$img" 50
	check_ro 64 --super-block-only "$img"
	[ -z "$output" ]
	has_line "$stderr" 'bad checksum in superblock'
}

@test "--skip-mappings prints only the first two progress lines" {
	local img
	img=$(mkimg snapshots.xml)
	check_ro 0 --skip-mappings "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	[ "$stderr" = $'examining superblock\nexamining devices tree' ]
}

@test "--skip-mappings ignores bottom-level damage but not device-tree damage" {
	local img leaf
	img=$(mkimg one-device.xml)
	leaf=$(btree_first_leaf "$img" "$(dev_root "$img" 0)")
	flip_byte "$img" $((leaf * 4096 + 200))
	check_ro 0 --skip-mappings "$img"
	[ "$stderr" = $'examining superblock\nexamining devices tree' ]
	flip_byte "$img" $(($(sb_get "$img" device_details_root) * 4096 + 100))
	check_ro 64 --skip-mappings "$img"
	has_line "$stderr" "device details tree: block $(sb_get "$img" device_details_root) \(root\): bad checksum"
	lacks_line "$stderr" 'examining mapping tree'
}

@test "--ignore-non-fatal-errors on healthy metadata" {
	local img
	img=$(mkimg runs-singles.xml)
	check_ro 0 --ignore-non-fatal-errors "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	progress_in_order "$stderr" "$PROGRESS"
}

# ---------------------------------------------------------------------------
# leaks and bad reference counts

@test "data leak: 1 data blocks have leaked (non-fatal)" {
	local img b sha
	img=$(mkimg one-device.xml)
	b=$(free_data_block "$img")
	sm_set "$img" data "$b" 1
	check_ro 64 "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	has_line "$stderr" "data block $b: reference count 1 in the space map, but nothing references it"
	has_line "$stderr" '1 data blocks have leaked'
	lacks_line "$stderr" '.*bad reference counts'
	check_ro 0 --ignore-non-fatal-errors "$img"
	has_line "$stderr" '1 data blocks have leaked'
	check_ro 64 -q "$img"
	[ -z "$output$stderr" ]
	check_ro 0 -q --ignore-non-fatal-errors "$img"
	[ -z "$output$stderr" ]
}

@test "data bad count: 1 data blocks have bad reference counts (fatal)" {
	local img b
	img=$(mkimg one-device.xml)
	b=$(first_mapped_data_block "$img" 0)
	[ "$(sm_get "$img" data "$b")" = 1 ]
	sm_set "$img" data "$b" 2
	check_ro 64 "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	has_line "$stderr" "data block $b: reference count 2 in the space map, 1 computed from the trees"
	has_line "$stderr" '1 data blocks have bad reference counts'
	lacks_line "$stderr" '.*have leaked'
	check_ro 64 --ignore-non-fatal-errors "$img"
	has_line "$stderr" '1 data blocks have bad reference counts'
}

@test "data count too low: a mapped block free in the space map is fatal" {
	local img b
	img=$(mkimg one-device.xml)
	b=$(first_mapped_data_block "$img" 0)
	[ "$(sm_get "$img" data "$b")" = 1 ]
	sm_set "$img" data "$b" 0
	check_ro 64 --ignore-non-fatal-errors "$img"
	has_line "$stderr" "data block $b: reference count 0 in the space map, 1 computed from the trees"
	has_line "$stderr" '1 data blocks have bad reference counts'
}

@test "metadata leak: 1 metadata blocks have leaked (non-fatal)" {
	local img b
	img=$(mkimg many-devices.xml)
	b=$(free_metadata_block "$img")
	sm_set "$img" metadata "$b" 1
	check_ro 64 "$img"
	has_line "$stderr" "metadata block $b: reference count 1 in the space map, but nothing references it"
	has_line "$stderr" '1 metadata blocks have leaked'
	check_ro 0 --ignore-non-fatal-errors "$img"
	has_line "$stderr" '1 metadata blocks have leaked'
	[ "$output" = "$(expected_check_stdout "$img")" ]
}

@test "metadata bad count: a tree node counted twice is fatal" {
	local img r
	img=$(mkimg one-device.xml)
	r=$(dev_root "$img" 0)
	sm_set "$img" metadata "$r" 2
	check_ro 64 --ignore-non-fatal-errors "$img"
	has_line "$stderr" "metadata block $r: reference count 2 in the space map, 1 computed from the trees"
	has_line "$stderr" '1 metadata blocks have bad reference counts'
}

# ---------------------------------------------------------------------------
# --clear-needs-check-flag and --auto-repair

@test "--clear-needs-check-flag clears the flag of healthy metadata" {
	local img orig
	img=$(mkimg needs-check.xml)
	orig=$BATS_TEST_TMPDIR/orig.img
	cp "$img" "$orig"
	[ "$(sb_get "$img" flags)" = 1 ]
	run -0 --separate-stderr "$TC" --clear-needs-check-flag "$img"
	[ "$output" = "$(expected_check_stdout "$orig")" ]
	[ "$(sb_get "$img" flags)" = 0 ]
	csum_ok "$img" 0 "$TS_SALT_SB"
	# nothing else changed: everything but bytes 0..7 (csum, flags)
	[ "$(stat -c %s "$img")" = "$(stat -c %s "$orig")" ]
	cmp <(tail -c +9 "$img") <(tail -c +9 "$orig")
	# and it checks clean, without the warning
	check_ro 0 "$img"
	lacks_line "$stderr" '.*needs_check.*'
	run -0 "$DEB_BIN/thin_check" -q "$img"
	# a second run changes nothing
	check_ro 0 --clear-needs-check-flag "$img"
}

@test "--clear-needs-check-flag -q clears the flag silently" {
	local img
	img=$(mkimg needs-check.xml)
	run -0 --separate-stderr "$TC" -q --clear-needs-check-flag "$img"
	[ -z "$output$stderr" ]
	[ "$(sb_get "$img" flags)" = 0 ]
}

@test "--clear-needs-check-flag leaves damaged metadata untouched" {
	local img leaf
	img=$(mkimg needs-check.xml)
	leaf=$(btree_first_leaf "$img" "$(dev_root "$img" 0)")
	flip_byte "$img" $((leaf * 4096 + 300))
	check_ro 64 --clear-needs-check-flag "$img"
	has_line "$stderr" "mapping tree of device 0: block $leaf .*: bad checksum"
	[ "$(sb_get "$img" flags)" = 1 ]
	check_ro 64 -q --clear-needs-check-flag "$img"
	[ -z "$output$stderr" ]
	[ "$(sb_get "$img" flags)" = 1 ]
}

@test "--clear-needs-check-flag with bad reference counts leaves the flag" {
	local img b
	img=$(mkimg needs-check.xml)
	b=$(first_mapped_data_block "$img" 0)
	sm_set "$img" data "$b" 2
	check_ro 64 --clear-needs-check-flag "$img"
	has_line "$stderr" '1 data blocks have bad reference counts'
	[ "$(sb_get "$img" flags)" = 1 ]
}

@test "--clear-needs-check-flag --super-block-only: the limited check decides" {
	local img leaf orig
	img=$(mkimg needs-check.xml)
	leaf=$(btree_first_leaf "$img" "$(dev_root "$img" 0)")
	flip_byte "$img" $((leaf * 4096 + 300))
	orig=$BATS_TEST_TMPDIR/orig.img
	cp "$img" "$orig"
	run -0 --separate-stderr "$TC" --clear-needs-check-flag --super-block-only "$img"
	[ "$(sb_get "$img" flags)" = 0 ]
	cmp <(tail -c +9 "$img") <(tail -c +9 "$orig")
}

@test "--clear-needs-check-flag on metadata without the flag writes nothing" {
	local img
	img=$(mkimg one-device.xml)
	check_ro 0 --clear-needs-check-flag "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
}

@test "--auto-repair: healthy metadata stays byte-identical" {
	local img
	img=$(mkimg snapshots.xml)
	check_ro 0 --auto-repair "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	progress_in_order "$stderr" "$PROGRESS"
}

@test "--auto-repair clears needs_check on healthy metadata" {
	local img orig
	img=$(mkimg needs-check.xml)
	orig=$BATS_TEST_TMPDIR/orig.img
	cp "$img" "$orig"
	run -0 --separate-stderr "$TC" --auto-repair "$img"
	[ "$(sb_get "$img" flags)" = 0 ]
	csum_ok "$img" 0 "$TS_SALT_SB"
	cmp <(tail -c +9 "$img") <(tail -c +9 "$orig")
}

@test "--auto-repair does not touch bad reference counts" {
	local img b
	img=$(mkimg needs-check.xml)
	b=$(first_mapped_data_block "$img" 0)
	sm_set "$img" data "$b" 2
	check_ro 64 --auto-repair "$img"
	has_line "$stderr" '1 data blocks have bad reference counts'
	[ "$(sb_get "$img" flags)" = 1 ]
}

# ---------------------------------------------------------------------------
# -m and the root overrides

@test "-m without a metadata snapshot is a fatal error" {
	local img opt
	img=$(mkimg one-device.xml)
	[ "$(sb_get "$img" metadata_snap)" = 0 ]
	for opt in -m --metadata-snap; do
		check_ro 64 "$opt" "$img"
		has_line "$stderr" 'no metadata snapshot is held .*'
		lacks_line "$stderr" 'examining mapping tree'
		check_ro 64 -q "$opt" "$img"
		[ -z "$output$stderr" ]
	done
}

@test "--override-details-root / --override-mapping-root with the right values pass" {
	local img d m
	img=$(mkimg many-devices.xml)
	d=$(sb_get "$img" device_details_root)
	m=$(sb_get "$img" data_mapping_root)
	check_ro 0 --override-details-root "$d" --override-mapping-root "$m" "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	progress_in_order "$stderr" "$PROGRESS"
	check_ro 0 --override-mapping-root "$m" "$img"
	check_ro 0 --override-details-root "$d" "$img"
}

@test "swapped root overrides are fatal" {
	local img d m
	img=$(mkimg one-device.xml)
	d=$(sb_get "$img" device_details_root)
	m=$(sb_get "$img" data_mapping_root)
	check_ro 64 --override-details-root "$m" --override-mapping-root "$d" "$img"
	has_line "$stderr" "device details tree: block $m \(root\): unexpected value size"
	has_line "$stderr" "top-level mapping tree: block $d \(root\): unexpected value size"
	check_ro 64 --ignore-non-fatal-errors --override-details-root "$m" --override-mapping-root "$d" "$img"
	check_ro 64 -q --override-details-root "$m" --override-mapping-root "$d" "$img"
	[ -z "$output$stderr" ]
}

@test "--override-mapping-root pointing at the details tree is fatal" {
	local img d
	img=$(mkimg snapshots.xml)
	d=$(sb_get "$img" device_details_root)
	check_ro 64 --override-mapping-root "$d" "$img"
	has_line "$stderr" "top-level mapping tree: block $d .*"
}

@test "--override-details-root beyond the metadata device is fatal" {
	local img n
	img=$(mkimg one-device.xml)
	n=$(sb_get "$img" metadata_sm_nr_blocks)
	check_ro 64 --override-details-root "$n" "$img"
	has_line "$stderr" "device details tree: block $n \(root\): points beyond the end of the metadata device"
	has_line "$stderr" 'device 0 is in the mapping tree but not in the device details tree'
}

# ---------------------------------------------------------------------------
# metadata snapshot (made as the kernel does, tests/tools/mk_metadata_snap.c)

# snap_img XML: restore, add a metadata snapshot, echo "IMG S"
snap_img() {
	local img s
	img=$(mkimg "$1") || return 1
	s=$("$MK_SNAP" "$img") || return 1
	echo "$img $s"
}

@test "mk_metadata_snap: the snapshot is laid out as the kernel does" {
	local img s orig a d m
	img=$(mkimg snapshots.xml)
	orig=$BATS_TEST_TMPDIR/orig.img
	cp "$img" "$orig"
	a=$(sb_get "$img" metadata_sm_nr_allocated)
	d=$(sb_get "$img" device_details_root)
	m=$(sb_get "$img" data_mapping_root)
	run -0 "$MK_SNAP" "$img"
	s=$output
	[ "$s" -gt 0 ]
	[ "$(sm_get "$orig" metadata "$s")" = 0 ]
	[ "$(sb_get "$img" metadata_snap)" = "$s" ]
	[ "$(sb_get "$img" metadata_sm_nr_allocated)" = $((a + 1)) ]
	[ "$(sm_get "$img" metadata "$s")" = 1 ]
	[ "$(sm_get "$img" metadata "$d")" = 2 ]
	[ "$(sm_get "$img" metadata "$m")" = 2 ]
	csum_ok "$img" 0 "$TS_SALT_SB"
	csum_ok "$img" "$s" "$TS_SALT_SB"
	# the copy: blocknr s, no space-map roots, no metadata_snap
	[ "$(get_le64 "$img" $((s * 4096 + 8)))" = "$s" ]
	[ "$(get_le64 "$img" $((s * 4096 + 56)))" = 0 ]
	[ "$(od -An -v -tx1 -j $((s * 4096 + 64)) -N 256 "$img" | tr -d ' \n' | tr -d 0)" = "" ]
	[ "$(get_le64 "$img" $((s * 4096 + 320)))" = "$m" ]
	[ "$(get_le64 "$img" $((s * 4096 + 328)))" = "$d" ]
	# a second one is refused
	run -1 "$MK_SNAP" "$img"
	# and the result checks clean, the free count one lower
	check_ro 0 "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	[ "${lines[1]}" = "METADATA_FREE_BLOCKS=$(($(sb_get "$orig" metadata_sm_nr_blocks) - a - 1))" ]
}

@test "metadata snapshot: Debian's thin_check, ours and -m pass; Debian's thin_dump -m works" {
	local name img s
	for name in one-device snapshots many-devices; do
		set -- $(snap_img "$name.xml")
		img=$1 s=$2
		run -0 "$DEB_BIN/thin_check" "$img"
		check_ro 0 "$img"
		[ "$output" = "$(expected_check_stdout "$img")" ]
		progress_in_order "$stderr" "$PROGRESS"
		lacks_line "$stderr" '.*(reference count|leaked|metadata snapshot).*'
		check_ro 0 -m "$img"
		[ "$output" = "$(expected_check_stdout "$img")" ]
		progress_in_order "$stderr" $'examining superblock\nexamining devices tree\nexamining mapping tree'
		check_ro 0 --metadata-snap -q "$img"
		[ -z "$output$stderr" ]
		# Debian's thin_dump reads the snapshot: the fixture, with
		# nr_data_blocks 0 (the copy has no space maps)
		run -0 --separate-stderr "$DEB_BIN/thin_dump" -m "$img"
		diff <(printf '%s\n' "$output") \
			<(sed '1s/nr_data_blocks="[0-9]*"/nr_data_blocks="0"/' "$TS_XML/$name.xml")
	done
}

@test "metadata snapshot: METADATA_FREE_BLOCKS drops by one" {
	local img before
	img=$(mkimg runs-singles.xml)
	run -0 --separate-stderr "$TC" "$img"
	before=${lines[1]#METADATA_FREE_BLOCKS=}
	"$MK_SNAP" "$img"
	check_ro 0 "$img"
	[ "${lines[1]}" = "METADATA_FREE_BLOCKS=$((before - 1))" ]
}

@test "metadata snapshot: a damaged copy is fatal, with and without -m" {
	local img s
	set -- $(snap_img one-device.xml)
	img=$1 s=$2
	flip_byte "$img" $((s * 4096 + 100))
	check_ro 64 "$img"
	has_line "$stderr" "metadata snapshot: superblock copy at block $s: bad checksum in superblock"
	check_ro 64 -m "$img"
	has_line "$stderr" "metadata snapshot: superblock copy at block $s: bad checksum in superblock"
}

@test "metadata snapshot: metadata_snap beyond the device is fatal" {
	local img s n
	set -- $(snap_img one-device.xml)
	img=$1 s=$2
	n=$(sb_get "$img" metadata_sm_nr_blocks)
	sb_set "$img" metadata_snap $((n + 10))
	check_ro 64 "$img"
	has_line "$stderr" "metadata snapshot: superblock copy at block $((n + 10)) is outside the metadata device"
	check_ro 64 -m "$img"
}

@test "metadata snapshot: its trees are walked (damage only it can reach)" {
	local img s leaf
	set -- $(snap_img one-device.xml)
	img=$1 s=$2
	# the snapshot now has its own details root: a damaged copy of it
	# is reachable only through the snapshot
	leaf=$(free_metadata_block "$img")
	dd if="$img" of="$img" bs=4096 skip="$(sb_get "$img" device_details_root)" \
		seek="$leaf" count=1 conv=notrunc status=none
	put_le64 "$img" $((s * 4096 + 328)) "$leaf"
	fix_csum "$img" "$s" "$TS_SALT_SB"
	# blocknr still says the original location
	check_ro 64 -m "$img"
	has_line "$stderr" "metadata snapshot: device details tree: block $leaf \(root\): block number field does not match its location \(it says $(sb_get "$img" device_details_root)\)"
	check_ro 64 "$img"
	has_line "$stderr" "metadata snapshot: device details tree: block $leaf \(root\): block number field does not match its location .*"
}

@test "metadata snapshot dropped without releasing it: leak and bad counts" {
	local img s d m
	set -- $(snap_img one-device.xml)
	img=$1 s=$2
	d=$(sb_get "$img" device_details_root)
	m=$(sb_get "$img" data_mapping_root)
	sb_set "$img" metadata_snap 0
	check_ro 64 "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	has_line "$stderr" "metadata block $s: reference count 1 in the space map, but nothing references it"
	has_line "$stderr" '1 metadata blocks have leaked'
	# the roots keep the snapshot's references: counts too high (fatal)
	has_line "$stderr" "metadata block $d: reference count 2 in the space map, 1 computed from the trees"
	has_line "$stderr" "metadata block $m: reference count 2 in the space map, 1 computed from the trees"
	has_line "$stderr" '2 metadata blocks have bad reference counts'
	check_ro 64 --ignore-non-fatal-errors "$img"
}

@test "metadata snapshot released but its block not freed: only a leak" {
	local img s d m
	set -- $(snap_img snapshots.xml)
	img=$1 s=$2
	d=$(sb_get "$img" device_details_root)
	m=$(sb_get "$img" data_mapping_root)
	sm_set "$img" metadata "$d" 1
	sm_set "$img" metadata "$m" 1
	sb_set "$img" metadata_snap 0
	check_ro 64 "$img"
	has_line "$stderr" "metadata block $s: reference count 1 in the space map, but nothing references it"
	has_line "$stderr" '1 metadata blocks have leaked'
	lacks_line "$stderr" '.*bad reference counts'
	check_ro 0 --ignore-non-fatal-errors "$img"
	[ "$output" = "$(expected_check_stdout "$img")" ]
	has_line "$stderr" '1 metadata blocks have leaked'
}

@test "-q also silences a bad option value (exit 2)" {
	img=$(mkimg one-device.xml)
	run "$TS_BIN/thin_check" -q --override-details-root abc "$img"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	run "$TS_BIN/thin_check" --override-details-root abc "$img"
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "thin_check: invalid value 'abc' for --override-details-root: expected an unsigned integer" ]
}

@test "-V and -h with stdout closed fail (exit 64)" {
	run bash -c '"$1" -V >&-' _ "$TS_BIN/thin_check"
	[ "$status" -eq 64 ]
	run bash -c '"$1" -h >&-' _ "$TS_BIN/thin_check"
	[ "$status" -eq 64 ]
	run bash -c '"$1" -V >&-' _ "$TS_BIN/thin_dump"
	[ "$status" -eq 64 ]
}
