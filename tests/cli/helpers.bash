# SPDX-License-Identifier: GPL-2.0-or-later
#
# Helpers for the bats CLI tests.  Load with
#
#     load helpers            (from a .bats file in tests/cli)
#
# Everything here uses bash, dd, od, printf, truncate and sha256sum only.
# Offsets and values may be given in decimal or as 0x... hex; values are
# printed in decimal.  Integers are unsigned, little-endian, as on disk
# (FORMATS.md section 0).  All writes are conv=notrunc: they never change a
# file's size.
#
# Variables (set only when not already set):
#   TS_BIN    thinsnap binaries           default $BATS_TEST_DIRNAME/../../build/bin
#   DEB_BIN   reference tools (0.9.0)     default /usr/sbin
#   TS_XML    XML fixtures                default $BATS_TEST_DIRNAME/../xml
#   TS_TMP    scratch directory           default $BATS_TEST_TMPDIR
#
# Functions (see the comment above each one):
#   mkimg XML [SIZE]                    restore XML with Debian's thin_restore,
#                                       echo the image path
#   sha_of FILE                         sha256 of FILE (hex)
#   get_byte FILE OFF / put_byte FILE OFF VALUE
#   flip_byte FILE OFF                  xor 0xff into one byte
#   get_le32 FILE OFF / put_le32 FILE OFF VALUE
#   get_le64 FILE OFF / put_le64 FILE OFF VALUE
#   sb_off FIELD                        "OFFSET SIZE" of a superblock field
#   sb_get IMG FIELD                    read a superblock field
#   sb_set IMG FIELD VALUE              write a field and fix the checksum
#   sb_poke IMG FIELD VALUE             write a field, leave the checksum stale
#   crc32c_raw FILE OFF LEN             CRC-32C, seed ~0, no final inversion
#   block_csum FILE BLOCK SALT          checksum a 4 KiB metadata block should
#                                       carry (FORMATS.md A.2)
#   fix_csum FILE BLOCK SALT            store that checksum
#   csum_ok FILE BLOCK SALT             status 0 if the stored one matches
#   node_get IMG BLOCK FIELD            btree node header field (A.4.1)
#   node_key IMG BLOCK I                key I of a btree node
#   node_val64 IMG BLOCK I              value I of a node with 8-byte values
#
# Further sections below (each function documented where it is defined):
# B-tree walking and space-map editing (node_val_off, btree_lookup,
# btree_first_leaf, btree_parent_of, dev_root, sm_locate, sm_get, sm_set),
# output assertions (has_line, lacks_line, fixture_attr,
# expected_check_stdout), thin_check runners (check_ro, zero_block),
# snapshot stores (snap_alloc, seq_pairs) and a file system without
# O_DIRECT (ramfs_mount, ramfs_umount).

: "${TS_BIN:=${BATS_TEST_DIRNAME:-.}/../../build/bin}"
: "${DEB_BIN:=/usr/sbin}"
: "${TS_XML:=${BATS_TEST_DIRNAME:-.}/../xml}"
: "${TS_TMP:=${BATS_TEST_TMPDIR:-${BATS_TMPDIR:-/tmp}}}"

TS_BLOCK_SIZE=4096

# The constants below are for the tests that load this file.

# Checksum salts (FORMATS.md A.2, A.4.1, A.7)
TS_SALT_SB=160774        # superblock
# shellcheck disable=SC2034
TS_SALT_NODE=121107      # btree node
# shellcheck disable=SC2034
TS_SALT_INDEX=160478     # metadata space-map index block
# shellcheck disable=SC2034
TS_SALT_BITMAP=240779    # space-map bitmap block

# Btree node flags (A.4.1)
# shellcheck disable=SC2034
TS_NODE_INTERNAL=1
# shellcheck disable=SC2034
TS_NODE_LEAF=2

_ts_err() {
	echo "helpers: $*" >&2
	return 1
}

# _ts_num VALUE: normalise a non-negative integer (decimal or 0x hex, up to
# 2^64-1) to the form printf %x accepts; fails on anything else.
_ts_num() {
	local v=$1
	if [[ $v =~ ^0[xX]([0-9a-fA-F]+)$ ]]; then
		v=${BASH_REMATCH[1]}
		while [[ $v == 0?* ]]; do v=${v#0}; done
		((${#v} <= 16)) || { _ts_err "value out of range: $1"; return 1; }
		echo "0x$v"
	elif [[ $v =~ ^[0-9]+$ ]]; then
		while [[ $v == 0?* ]]; do v=${v#0}; done  # no octal
		# 20 digits: string comparison is numeric comparison
		# shellcheck disable=SC2071
		if ((${#v} > 20)) || { ((${#v} == 20)) && [[ $v > 18446744073709551615 ]]; }; then
			_ts_err "value out of range: $1"
			return 1
		fi
		echo "$v"
	else
		_ts_err "not a non-negative integer: '$1'"
		return 1
	fi
}

# _ts_off OFFSET: offset in decimal (must fit in a signed 64-bit shell int)
_ts_off() {
	local v
	v=$(_ts_num "$1") || return 1
	[[ $v == 0x* ]] && v=$((v))
	((${#v} < 19)) || { _ts_err "offset too large: $1"; return 1; }
	echo "$v"
}

# mkimg XML [SIZE]
# Restore XML with $DEB_BIN/thin_restore into a new image file of SIZE
# (truncate syntax, default 8M) under $TS_TMP and echo its path.  XML may
# be a path or a fixture name from $TS_XML (e.g. one-device.xml).  On
# failure prints thin_restore's output to stderr and returns 1, so
# `img=$(mkimg x.xml)` fails the test.
mkimg() {
	local xml=$1 size=${2:-8M} base img n=0 out
	[ $# -ge 1 ] || { _ts_err "usage: mkimg XML [SIZE]"; return 1; }
	if [ ! -f "$xml" ] && [ -f "$TS_XML/$xml" ]; then
		xml=$TS_XML/$xml
	fi
	[ -f "$xml" ] || { _ts_err "mkimg: no such XML file: $1"; return 1; }
	base=$(basename "$xml" .xml)
	img=$TS_TMP/$base.img
	while [ -e "$img" ]; do
		n=$((n + 1))
		img=$TS_TMP/$base.$n.img
	done
	truncate -s "$size" "$img" || { _ts_err "mkimg: truncate -s $size $img failed"; return 1; }
	if ! out=$("$DEB_BIN/thin_restore" -i "$xml" -o "$img" 2>&1); then
		printf '%s\n' "$out" >&2
		_ts_err "mkimg: $DEB_BIN/thin_restore -i $xml -o $img failed"
		return 1
	fi
	echo "$img"
}

# sha_of FILE: lower-case hex sha256 of FILE
sha_of() {
	local s
	s=$(sha256sum -- "$1") || return 1
	echo "${s%% *}"
}

# _ts_read FILE OFF LEN TYPE: od wrapper; fails on a short read
_ts_read() {
	local f=$1 off len=$3 type=$4 v
	off=$(_ts_off "$2") || return 1
	[ -f "$f" ] || { _ts_err "no such file: $f"; return 1; }
	v=$(od -An -v --endian=little -t "$type" -j "$off" -N "$len" -- "$f") || return 1
	v=${v//[[:space:]]/}
	if [ -z "$v" ] || (($(stat -c %s -- "$f") < off + len)); then
		_ts_err "read of $len bytes at $off is beyond the end of $f"
		return 1
	fi
	echo "$v"
}

# _ts_write FILE OFF HEXBYTES: write bytes given as hex pairs in file order
_ts_write() {
	local f=$1 off hex=$3 esc="" i
	off=$(_ts_off "$2") || return 1
	[ -f "$f" ] || { _ts_err "no such file: $f"; return 1; }
	for ((i = 0; i < ${#hex}; i += 2)); do
		esc+="\\x${hex:i:2}"
	done
	# shellcheck disable=SC2059
	printf "$esc" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# _ts_put_le FILE OFF VALUE NBYTES
_ts_put_le() {
	local f=$1 off=$2 n=$4 v hex le="" i
	v=$(_ts_num "$3") || return 1
	hex=$(printf "%0$((2 * n))x" "$v") || return 1
	((${#hex} == 2 * n)) || { _ts_err "value $3 does not fit in $n bytes"; return 1; }
	for ((i = n - 1; i >= 0; i--)); do
		le+=${hex:2*i:2}
	done
	_ts_write "$f" "$off" "$le"
}

# get_byte FILE OFFSET: byte value 0..255
get_byte() { _ts_read "$1" "$2" 1 u1; }

# put_byte FILE OFFSET VALUE (0..255)
put_byte() { _ts_put_le "$1" "$2" "$3" 1; }

# flip_byte FILE OFFSET: xor the byte at OFFSET with 0xff
flip_byte() {
	local v
	v=$(get_byte "$1" "$2") || return 1
	put_byte "$1" "$2" $((v ^ 0xff))
}

# get_le32 FILE OFFSET / get_le64 FILE OFFSET: unsigned decimal
get_le32() { _ts_read "$1" "$2" 4 u4; }
get_le64() { _ts_read "$1" "$2" 8 u8; }

# put_le32 FILE OFFSET VALUE / put_le64 FILE OFFSET VALUE
# VALUE: 0..2^32-1 / 0..2^64-1, decimal or 0x hex.
put_le32() { _ts_put_le "$1" "$2" "$3" 4; }
put_le64() { _ts_put_le "$1" "$2" "$3" 8; }

# sb_off FIELD: echo "OFFSET SIZE" (decimal) of a superblock field,
# FORMATS.md A.3 (block 0):
#   0x000 u32 csum                 0x040 ... data_sm_root (128-byte blob):
#   0x004 u32 flags (bit0 needs_check)   0x040 u64 data_sm_nr_blocks
#   0x008 u64 blocknr (must be 0)        0x048 u64 data_sm_nr_allocated
#   0x010 16B uuid (not settable)        0x050 u64 data_sm_bitmap_root (index tree root)
#   0x020 u64 magic (27022010)           0x058 u64 data_sm_ref_count_root
#   0x028 u32 version                    0x0C0 ... metadata_sm_root:
#   0x02C u32 time                       0x0C0 u64 metadata_sm_nr_blocks
#   0x030 u64 trans_id                   0x0C8 u64 metadata_sm_nr_allocated
#   0x038 u64 metadata_snap (held_root)  0x0D0 u64 metadata_sm_bitmap_root (index block)
#   0x140 u64 data_mapping_root          0x0D8 u64 metadata_sm_ref_count_root
#   0x148 u64 device_details_root        0x158 u64 metadata_nr_blocks
#   0x150 u32 data_block_size            0x160 u32 compat_flags
#   0x154 u32 metadata_block_size (8)    0x164 u32 compat_ro_flags
#                                        0x168 u32 incompat_flags
sb_off() {
	case $1 in
	csum) echo "0 4" ;;
	flags) echo "4 4" ;;
	blocknr) echo "8 8" ;;
	magic) echo "32 8" ;;
	version) echo "40 4" ;;
	time) echo "44 4" ;;
	trans_id | transaction) echo "48 8" ;;
	metadata_snap | held_root) echo "56 8" ;;
	data_sm_nr_blocks) echo "64 8" ;;
	data_sm_nr_allocated) echo "72 8" ;;
	data_sm_bitmap_root) echo "80 8" ;;
	data_sm_ref_count_root) echo "88 8" ;;
	metadata_sm_nr_blocks) echo "192 8" ;;
	metadata_sm_nr_allocated) echo "200 8" ;;
	metadata_sm_bitmap_root) echo "208 8" ;;
	metadata_sm_ref_count_root) echo "216 8" ;;
	data_mapping_root) echo "320 8" ;;
	device_details_root) echo "328 8" ;;
	data_block_size) echo "336 4" ;;
	metadata_block_size) echo "340 4" ;;
	metadata_nr_blocks) echo "344 8" ;;
	compat_flags) echo "352 4" ;;
	compat_ro_flags) echo "356 4" ;;
	incompat_flags) echo "360 4" ;;
	*) _ts_err "unknown superblock field: $1" ;;
	esac
}

# sb_get IMG FIELD: superblock field value (decimal)
sb_get() {
	local o
	o=$(sb_off "$2") || return 1
	# shellcheck disable=SC2086
	set -- "$1" ${o}
	if [ "$3" = 4 ]; then get_le32 "$1" "$2"; else get_le64 "$1" "$2"; fi
}

# sb_poke IMG FIELD VALUE: write a superblock field; checksum left stale
sb_poke() {
	local o img=$1 v=$3
	o=$(sb_off "$2") || return 1
	# shellcheck disable=SC2086
	set -- ${o}
	if [ "$2" = 4 ]; then put_le32 "$img" "$1" "$v"; else put_le64 "$img" "$1" "$v"; fi
}

# sb_set IMG FIELD VALUE: write a superblock field and recompute the
# superblock checksum, so the change is "valid" on disk
sb_set() {
	sb_poke "$@" && fix_csum "$1" 0 "$TS_SALT_SB"
}

# CRC-32C lookup table (reflected polynomial 0x82F63B78).  A literal rather
# than computed: bats runs a DEBUG trap on every shell command, which makes
# bash loops very slow inside tests.
_TS_CRC_T=(
	0x00000000 0xf26b8303 0xe13b70f7 0x1350f3f4 0xc79a971f 0x35f1141c 0x26a1e7e8 0xd4ca64eb
	0x8ad958cf 0x78b2dbcc 0x6be22838 0x9989ab3b 0x4d43cfd0 0xbf284cd3 0xac78bf27 0x5e133c24
	0x105ec76f 0xe235446c 0xf165b798 0x030e349b 0xd7c45070 0x25afd373 0x36ff2087 0xc494a384
	0x9a879fa0 0x68ec1ca3 0x7bbcef57 0x89d76c54 0x5d1d08bf 0xaf768bbc 0xbc267848 0x4e4dfb4b
	0x20bd8ede 0xd2d60ddd 0xc186fe29 0x33ed7d2a 0xe72719c1 0x154c9ac2 0x061c6936 0xf477ea35
	0xaa64d611 0x580f5512 0x4b5fa6e6 0xb93425e5 0x6dfe410e 0x9f95c20d 0x8cc531f9 0x7eaeb2fa
	0x30e349b1 0xc288cab2 0xd1d83946 0x23b3ba45 0xf779deae 0x05125dad 0x1642ae59 0xe4292d5a
	0xba3a117e 0x4851927d 0x5b016189 0xa96ae28a 0x7da08661 0x8fcb0562 0x9c9bf696 0x6ef07595
	0x417b1dbc 0xb3109ebf 0xa0406d4b 0x522bee48 0x86e18aa3 0x748a09a0 0x67dafa54 0x95b17957
	0xcba24573 0x39c9c670 0x2a993584 0xd8f2b687 0x0c38d26c 0xfe53516f 0xed03a29b 0x1f682198
	0x5125dad3 0xa34e59d0 0xb01eaa24 0x42752927 0x96bf4dcc 0x64d4cecf 0x77843d3b 0x85efbe38
	0xdbfc821c 0x2997011f 0x3ac7f2eb 0xc8ac71e8 0x1c661503 0xee0d9600 0xfd5d65f4 0x0f36e6f7
	0x61c69362 0x93ad1061 0x80fde395 0x72966096 0xa65c047d 0x5437877e 0x4767748a 0xb50cf789
	0xeb1fcbad 0x197448ae 0x0a24bb5a 0xf84f3859 0x2c855cb2 0xdeeedfb1 0xcdbe2c45 0x3fd5af46
	0x7198540d 0x83f3d70e 0x90a324fa 0x62c8a7f9 0xb602c312 0x44694011 0x5739b3e5 0xa55230e6
	0xfb410cc2 0x092a8fc1 0x1a7a7c35 0xe811ff36 0x3cdb9bdd 0xceb018de 0xdde0eb2a 0x2f8b6829
	0x82f63b78 0x709db87b 0x63cd4b8f 0x91a6c88c 0x456cac67 0xb7072f64 0xa457dc90 0x563c5f93
	0x082f63b7 0xfa44e0b4 0xe9141340 0x1b7f9043 0xcfb5f4a8 0x3dde77ab 0x2e8e845f 0xdce5075c
	0x92a8fc17 0x60c37f14 0x73938ce0 0x81f80fe3 0x55326b08 0xa759e80b 0xb4091bff 0x466298fc
	0x1871a4d8 0xea1a27db 0xf94ad42f 0x0b21572c 0xdfeb33c7 0x2d80b0c4 0x3ed04330 0xccbbc033
	0xa24bb5a6 0x502036a5 0x4370c551 0xb11b4652 0x65d122b9 0x97baa1ba 0x84ea524e 0x7681d14d
	0x2892ed69 0xdaf96e6a 0xc9a99d9e 0x3bc21e9d 0xef087a76 0x1d63f975 0x0e330a81 0xfc588982
	0xb21572c9 0x407ef1ca 0x532e023e 0xa145813d 0x758fe5d6 0x87e466d5 0x94b49521 0x66df1622
	0x38cc2a06 0xcaa7a905 0xd9f75af1 0x2b9cd9f2 0xff56bd19 0x0d3d3e1a 0x1e6dcdee 0xec064eed
	0xc38d26c4 0x31e6a5c7 0x22b65633 0xd0ddd530 0x0417b1db 0xf67c32d8 0xe52cc12c 0x1747422f
	0x49547e0b 0xbb3ffd08 0xa86f0efc 0x5a048dff 0x8ecee914 0x7ca56a17 0x6ff599e3 0x9d9e1ae0
	0xd3d3e1ab 0x21b862a8 0x32e8915c 0xc083125f 0x144976b4 0xe622f5b7 0xf5720643 0x07198540
	0x590ab964 0xab613a67 0xb831c993 0x4a5a4a90 0x9e902e7b 0x6cfbad78 0x7fab5e8c 0x8dc0dd8f
	0xe330a81a 0x115b2b19 0x020bd8ed 0xf0605bee 0x24aa3f05 0xd6c1bc06 0xc5914ff2 0x37faccf1
	0x69e9f0d5 0x9b8273d6 0x88d28022 0x7ab90321 0xae7367ca 0x5c18e4c9 0x4f48173d 0xbd23943e
	0xf36e6f75 0x0105ec76 0x12551f82 0xe03e9c81 0x34f4f86a 0xc69f7b69 0xd5cf889d 0x27a40b9e
	0x79b737ba 0x8bdcb4b9 0x988c474d 0x6ae7c44e 0xbe2da0a5 0x4c4623a6 0x5f16d052 0xad7d5351
)

# crc32c_raw FILE OFFSET LEN: CRC-32C (Castagnoli) of LEN bytes at OFFSET,
# register seeded with 0xFFFFFFFF and NOT inverted at the end (the standard
# crc32c is this value xor 0xFFFFFFFF).  Decimal.
crc32c_raw() {
	local f=$1 off len=$3 c=0xFFFFFFFF bytes expr
	off=$(_ts_off "$2") || return 1
	(($(stat -c %s -- "$f") >= off + len)) || { _ts_err "crc32c_raw: range beyond end of $f"; return 1; }
	bytes=$(od -An -v -tu1 -j "$off" -N "$len" -- "$f") || return 1
	# One arithmetic expression for all bytes (no shell loop, see above).
	# shellcheck disable=SC2086
	expr=$(printf 'c=_TS_CRC_T[(c^%s)&255]^(c>>8),' $bytes)
	: $((${expr%,}))
	echo $((c & 0xFFFFFFFF))
}

# block_csum FILE BLOCK SALT: the checksum metadata block BLOCK (4 KiB)
# should store at offset 0: crc32c_raw(bytes 4..4095) xor SALT.  Decimal.
block_csum() {
	local raw
	raw=$(crc32c_raw "$1" $(($2 * TS_BLOCK_SIZE + 4)) $((TS_BLOCK_SIZE - 4))) || return 1
	echo $((raw ^ $3))
}

# fix_csum FILE BLOCK SALT: store the correct checksum in block BLOCK
fix_csum() {
	local c
	c=$(block_csum "$@") || return 1
	put_le32 "$1" $(($2 * TS_BLOCK_SIZE)) "$c"
}

# csum_ok FILE BLOCK SALT: status 0 when the stored checksum is correct
csum_ok() {
	local want have
	want=$(block_csum "$@") || return 1
	have=$(get_le32 "$1" $(($2 * TS_BLOCK_SIZE))) || return 1
	[ "$want" = "$have" ]
}

# node_get IMG BLOCK FIELD: btree node header field (FORMATS.md A.4.1):
#   csum (+0, u32), flags (+4, u32: 1 internal, 2 leaf), blocknr (+8, u64),
#   nr_entries (+16, u32), max_entries (+20, u32), value_size (+24, u32)
node_get() {
	local base=$(($2 * TS_BLOCK_SIZE))
	case $3 in
	csum) get_le32 "$1" $((base + 0)) ;;
	flags) get_le32 "$1" $((base + 4)) ;;
	blocknr) get_le64 "$1" $((base + 8)) ;;
	nr_entries) get_le32 "$1" $((base + 16)) ;;
	max_entries) get_le32 "$1" $((base + 20)) ;;
	value_size) get_le32 "$1" $((base + 24)) ;;
	*) _ts_err "unknown node field: $3" ;;
	esac
}

# node_key IMG BLOCK I: key I (u64 at 32 + 8*I)
node_key() {
	get_le64 "$1" $(($2 * TS_BLOCK_SIZE + 32 + 8 * $3))
}

# node_val64 IMG BLOCK I: value I of a node whose values are 8 bytes
# (internal nodes: child block; mapping leaves: block_time) at
# 32 + 8*max_entries + 8*I
node_val64() {
	local max
	max=$(node_get "$1" "$2" max_entries) || return 1
	get_le64 "$1" $(($2 * TS_BLOCK_SIZE + 32 + 8 * max + 8 * $3))
}

# ---------------------------------------------------------------------------
# B-tree walking and space-map editing (added for the thin_check tests).
#
#   node_val_off IMG BLOCK I            byte offset in IMG of value I of a node
#   btree_lookup IMG ROOT KEY           "LEAF INDEX" of KEY in the tree at ROOT
#   btree_first_leaf IMG ROOT           leftmost leaf of the tree at ROOT
#   btree_parent_of IMG ROOT BLOCK      "PARENT INDEX" of BLOCK (an internal
#                                       node's child pointer to it)
#   dev_root IMG DEV                    bottom-level mapping root of device DEV
#   sm_locate IMG data|metadata B       "BITMAP_BLOCK ENTRY" of block B
#   sm_get IMG data|metadata B          2-bit bitmap value of block B (0..3)
#   sm_set IMG data|metadata B V        write it and reseal the bitmap (the
#                                       index entry's hints are left alone)

# node_val_off IMG BLOCK I: offset of value I (32 + 8*max + value_size*I)
node_val_off() {
	local max vs
	max=$(node_get "$1" "$2" max_entries) || return 1
	vs=$(node_get "$1" "$2" value_size) || return 1
	echo $(($2 * TS_BLOCK_SIZE + 32 + 8 * max + vs * $3))
}

# _ts_u64_le A B: status 0 if A <= B (canonical decimal strings up to 2^64-1)
_ts_u64_le() {
	if ((${#1} != ${#2})); then
		((${#1} < ${#2}))
	else
		[[ ! $1 > $2 ]]
	fi
}

# _ts_node_find IMG BLOCK KEY: index of the largest key <= KEY, or -1
_ts_node_find() {
	local n i k r=-1
	n=$(node_get "$1" "$2" nr_entries) || return 1
	for ((i = 0; i < n; i++)); do
		k=$(node_key "$1" "$2" "$i") || return 1
		_ts_u64_le "$k" "$3" || break
		r=$i
	done
	echo "$r"
}

# btree_lookup IMG ROOT KEY: echo "LEAF INDEX" of KEY; status 1 if absent
btree_lookup() {
	local img=$1 b=$2 key=$3 i depth
	for ((depth = 0; depth < 64; depth++)); do
		i=$(_ts_node_find "$img" "$b" "$key") || return 1
		((i >= 0)) || return 1
		if [ "$(node_get "$img" "$b" flags)" = "$TS_NODE_LEAF" ]; then
			[ "$(node_key "$img" "$b" "$i")" = "$key" ] || return 1
			echo "$b $i"
			return 0
		fi
		b=$(node_val64 "$img" "$b" "$i") || return 1
	done
	_ts_err "btree_lookup: tree at $2 too deep"
}

# btree_first_leaf IMG ROOT: follow value 0 down to a leaf
btree_first_leaf() {
	local img=$1 b=$2 depth
	for ((depth = 0; depth < 64; depth++)); do
		if [ "$(node_get "$img" "$b" flags)" = "$TS_NODE_LEAF" ]; then
			echo "$b"
			return 0
		fi
		b=$(node_val64 "$img" "$b" 0) || return 1
	done
	_ts_err "btree_first_leaf: tree at $2 too deep"
}

# btree_parent_of IMG ROOT BLOCK: "PARENT INDEX" of the internal-node entry
# pointing at BLOCK on the leftmost path from ROOT (BLOCK must be on it)
btree_parent_of() {
	local img=$1 b=$2 c depth
	for ((depth = 0; depth < 64; depth++)); do
		[ "$(node_get "$img" "$b" flags)" = "$TS_NODE_INTERNAL" ] || break
		c=$(node_val64 "$img" "$b" 0) || return 1
		if [ "$c" = "$3" ]; then
			echo "$b 0"
			return 0
		fi
		b=$c
	done
	_ts_err "btree_parent_of: block $3 is not on the leftmost path from $2"
}

# dev_root IMG DEV: the bottom-level root of thin device DEV
dev_root() {
	local loc
	loc=$(btree_lookup "$1" "$(sb_get "$1" data_mapping_root)" "$2") || {
		_ts_err "dev_root: no device $2"
		return 1
	}
	# shellcheck disable=SC2086
	node_val64 "$1" ${loc}
}

# sm_locate IMG data|metadata B: echo "BITMAP_BLOCK ENTRY" for block B
sm_locate() {
	local img=$1 which=$2 b=$3 i j bm loc
	i=$((b / 16320))
	j=$((b % 16320))
	case $which in
	metadata)
		bm=$(get_le64 "$img" $(($(sb_get "$img" metadata_sm_bitmap_root) * TS_BLOCK_SIZE + 16 + 16 * i))) || return 1
		;;
	data)
		loc=$(btree_lookup "$img" "$(sb_get "$img" data_sm_bitmap_root)" "$i") || {
			_ts_err "sm_locate: no index entry for data bitmap $i"
			return 1
		}
		# shellcheck disable=SC2086
		bm=$(get_le64 "$img" "$(node_val_off "$img" ${loc})") || return 1
		;;
	*) _ts_err "sm_locate: data or metadata, not '$which'"; return 1 ;;
	esac
	echo "$bm $j"
}

# sm_get IMG data|metadata B: bitmap value (0..3) of block B
sm_get() {
	local loc byte p
	loc=$(sm_locate "$@") || return 1
	# shellcheck disable=SC2086
	set -- "$1" ${loc}
	byte=$(get_byte "$1" $(($2 * TS_BLOCK_SIZE + 16 + $3 / 4))) || return 1
	p=$((2 * ($3 % 4)))
	echo $(((((byte >> p) & 1) << 1) | ((byte >> (p + 1)) & 1)))
}

# sm_set IMG data|metadata B V: set the bitmap value of B, reseal the bitmap
sm_set() {
	local img=$1 v=$4 loc byte p off
	loc=$(sm_locate "$1" "$2" "$3") || return 1
	# shellcheck disable=SC2086
	set -- ${loc}
	off=$(($1 * TS_BLOCK_SIZE + 16 + $2 / 4))
	p=$((2 * ($2 % 4)))
	byte=$(get_byte "$img" "$off") || return 1
	byte=$(((byte & ~(3 << p)) | (((v >> 1) & 1) << p) | ((v & 1) << (p + 1))))
	put_byte "$img" "$off" "$byte" && fix_csum "$img" "$1" "$TS_SALT_BITMAP"
}

# ---------------------------------------------------------------------------
# Assertions on command output (print what they saw when they fail).
#
#   has_line TEXT ERE           some line of TEXT matches ^(ERE)$
#   lacks_line TEXT ERE         no line of TEXT matches ^(ERE)$
#   fixture_attr XML ATTR       attribute ATTR of the <superblock> line
#   expected_check_stdout IMG   the two lines thin_check prints for IMG

has_line() {
	grep -Eq -- "^(${2})\$" <<<"$1" && return 0
	{
		echo "expected a line matching: ^(${2})\$"
		echo "in:"
		printf '%s\n' "$1" | head -n 60
	} >&2
	return 1
}

lacks_line() {
	grep -Eq -- "^(${2})\$" <<<"$1" || return 0
	{
		echo "expected no line matching: ^(${2})\$"
		echo "in:"
		printf '%s\n' "$1" | head -n 60
	} >&2
	return 1
}

# fixture_attr XML ATTR: ATTR="..." of the first (<superblock ...>) line
fixture_attr() {
	local xml=$1
	if [ ! -f "$xml" ] && [ -f "$TS_XML/$xml" ]; then
		xml=$TS_XML/$xml
	fi
	head -n 1 -- "$xml" | sed -n "s/.* $2=\"\\([^\"]*\\)\".*/\\1/p"
}

# expected_check_stdout IMG: TRANSACTION_ID from the superblock and
# METADATA_FREE_BLOCKS = metadata nr_blocks - nr_allocated (COMPAT.md)
expected_check_stdout() {
	local t n a
	t=$(sb_get "$1" trans_id) || return 1
	n=$(sb_get "$1" metadata_sm_nr_blocks) || return 1
	a=$(sb_get "$1" metadata_sm_nr_allocated) || return 1
	printf 'TRANSACTION_ID=%s\nMETADATA_FREE_BLOCKS=%s\n' "$t" $((n - a))
}

# ---------------------------------------------------------------------------
# Dump transformations and metadata-snapshot editing (added for the
# thin_dump tests).  The awk programs run under mawk too: numbers are
# printed with %.0f and stay below 2^53.
#
#   xml_expand_refs [FILE]      1.x dump -> the same dump with every
#                               <ref name="B"/> line replaced by the body of
#                               <def name="B"> and the defs removed; fails on
#                               a ref to an unknown def
#   xml_merge_runs [FILE]       merge each device's mapping lines into
#                               maximal runs (0.9.0 layout); other lines
#                               pass through and end a run
#   xml_blocks [FILE]           one line "DEV ORIGIN DATA TIME" per mapped
#                               block (refs must be expanded first)
#   xml_kinds DEV [FILE]        the element kinds inside device DEV, one per
#                               line: "ref B" for a ref, "map" for each
#                               group of consecutive mapping lines
#   node_keys IMG BLOCK         the keys of a btree node, one per line
#   md_free_block IMG           lowest free metadata block > 0 (first bitmap)
#   md_count_add IMG BLOCK D    add D to the metadata count of BLOCK (result
#                               1..2), keeping nr_free, none_free_before and
#                               nr_allocated as the kernel's sm_ll_inc does
#   shadow_top_leaf IMG         give the live superblock its own copy of the
#                               top-level mapping leaf (what the kernel does
#                               before changing a tree a held metadata
#                               snapshot shares); echo the copy's block
#   top_roots IMG               "DEV ROOT" per device from the top-level
#                               mapping tree
#   btree_find IMG ROOT KEY     btree_lookup with one od per node

xml_expand_refs() {
	awk '
	function attr(s, a,   i, r) {
		i = index(s, a "=\"")
		r = substr(s, i + length(a) + 2)
		return substr(r, 1, index(r, "\"") - 1)
	}
	/^  <def name="/ { cur = attr($0, "name"); defs[cur] = ""; known[cur] = 1; next }
	cur != "" && /^  <\/def>$/ { cur = ""; next }
	cur != "" { defs[cur] = defs[cur] $0 "\n"; next }
	/^    <ref name="/ {
		n = attr($0, "name")
		if (!(n in known)) { print "xml_expand_refs: ref to unknown def " n > "/dev/stderr"; bad = 1; exit 1 }
		printf "%s", defs[n]
		next
	}
	{ print }
	END { if (bad) exit 1 }
	' "$@"
}

xml_merge_runs() {
	awk '
	function attr(s, a,   i, r) {
		i = index(s, " " a "=\"")
		if (!i) return ""
		r = substr(s, i + length(a) + 3)
		return substr(r, 1, index(r, "\"") - 1)
	}
	function flush() {
		if (!have) return
		if (rl == 1)
			printf "    <single_mapping origin_block=\"%.0f\" data_block=\"%.0f\" time=\"%.0f\"/>\n", ro, rd, rt
		else
			printf "    <range_mapping origin_begin=\"%.0f\" data_begin=\"%.0f\" length=\"%.0f\" time=\"%.0f\"/>\n", ro, rd, rl, rt
		have = 0
	}
	/^ *<range_mapping / { o = attr($0, "origin_begin") + 0; d = attr($0, "data_begin") + 0; l = attr($0, "length") + 0; t = attr($0, "time") + 0 }
	/^ *<single_mapping / { o = attr($0, "origin_block") + 0; d = attr($0, "data_block") + 0; l = 1; t = attr($0, "time") + 0 }
	/^ *<(range|single)_mapping / {
		if (have && o == ro + rl && d == rd + rl && t == rt) { rl += l; next }
		flush(); ro = o; rd = d; rl = l; rt = t; have = 1
		next
	}
	{ flush(); print }
	END { flush() }
	' "$@"
}

xml_blocks() {
	awk '
	function attr(s, a,   i, r) {
		i = index(s, " " a "=\"")
		r = substr(s, i + length(a) + 3)
		return substr(r, 1, index(r, "\"") - 1)
	}
	/^  <device / { dev = attr($0, "dev_id"); next }
	/^ *<range_mapping / {
		o = attr($0, "origin_begin") + 0; d = attr($0, "data_begin") + 0; l = attr($0, "length") + 0; t = attr($0, "time")
		for (k = 0; k < l; k++) printf "%s %.0f %.0f %s\n", dev, o + k, d + k, t
		next
	}
	/^ *<single_mapping / { printf "%s %s %s %s\n", dev, attr($0, "origin_block"), attr($0, "data_block"), attr($0, "time") }
	' "$@"
}

xml_kinds() {
	local dev=$1
	shift
	awk -v dev="$dev" '
	index($0, "  <device dev_id=\"" dev "\" ") == 1 { in_dev = 1; last = ""; next }
	in_dev && /^  <\/device>$/ { exit }
	in_dev && /^    <(range|single)_mapping / { if (last != "map") print "map"; last = "map"; next }
	in_dev && /^    <ref name="[0-9]+"\/>$/ { s = $0; sub(/^    <ref name="/, "", s); sub(/"\/>$/, "", s); print "ref " s; last = "ref"; next }
	in_dev { print "other " $0; last = "other" }
	' "$@"
}

node_keys() {
	local n
	n=$(node_get "$1" "$2" nr_entries) || return 1
	((n > 0)) || return 0
	od -An -v -tu8 --endian=little -j $(($2 * TS_BLOCK_SIZE + 32)) -N $((8 * n)) -- "$1" | tr -s ' ' '\n' | grep -v '^$'
}

md_free_block() {
	local img=$1 ib bm
	ib=$(sb_get "$img" metadata_sm_bitmap_root) || return 1
	bm=$(get_le64 "$img" $((ib * TS_BLOCK_SIZE + 16))) || return 1
	od -An -v -tu1 -j $((bm * TS_BLOCK_SIZE + 16)) -N $((TS_BLOCK_SIZE - 16)) -- "$img" |
		awk '{ for (i = 1; i <= NF; i++) { for (k = 0; k < 4; k++) if (int($i / 4 ^ k) % 4 == 0 && n + k > 0) { print n + k; found = 1; exit } n += 4 } }
		END { if (!found) exit 1 }'
}

md_count_add() {
	local img=$1 b=$2 v nv ib off nf
	v=$(sm_get "$img" metadata "$b") || return 1
	nv=$((v + $3))
	((nv >= 1 && nv <= 2)) || { _ts_err "md_count_add: count of $b would be $nv"; return 1; }
	sm_set "$img" metadata "$b" "$nv" || return 1
	((v == 0)) || return 0
	ib=$(sb_get "$img" metadata_sm_bitmap_root) || return 1
	off=$((ib * TS_BLOCK_SIZE + 16 + 16 * (b / 16320)))
	nf=$(get_le32 "$img" $((off + 8))) || return 1
	put_le32 "$img" $((off + 8)) $((nf - 1)) || return 1
	if [ "$(get_le32 "$img" $((off + 12)))" = $((b % 16320)) ]; then
		put_le32 "$img" $((off + 12)) $((b % 16320 + 1)) || return 1
	fi
	fix_csum "$img" "$ib" "$TS_SALT_INDEX" || return 1
	sb_set "$img" metadata_sm_nr_allocated $(($(sb_get "$img" metadata_sm_nr_allocated) + 1))
}

shadow_top_leaf() {
	local img=$1 top f n i
	top=$(sb_get "$img" data_mapping_root) || return 1
	[ "$(node_get "$img" "$top" flags)" = "$TS_NODE_LEAF" ] ||
		{ _ts_err "shadow_top_leaf: the top-level tree is not a single leaf"; return 1; }
	f=$(md_free_block "$img") || { _ts_err "shadow_top_leaf: no free metadata block"; return 1; }
	dd if="$img" of="$img" bs=$TS_BLOCK_SIZE skip="$top" seek="$f" count=1 conv=notrunc status=none || return 1
	put_le64 "$img" $((f * TS_BLOCK_SIZE + 8)) "$f" || return 1
	fix_csum "$img" "$f" "$TS_SALT_NODE" || return 1
	md_count_add "$img" "$f" 1 || return 1
	md_count_add "$img" "$top" -1 || return 1
	n=$(node_get "$img" "$f" nr_entries) || return 1
	for ((i = 0; i < n; i++)); do
		md_count_add "$img" "$(node_val64 "$img" "$f" "$i")" 1 || return 1
	done
	sb_set "$img" data_mapping_root "$f" || return 1
	echo "$f"
}

# btree_find IMG ROOT KEY: like btree_lookup ("LEAF INDEX" of KEY, status 1
# if absent), but one od per node, so fast on full nodes
btree_find() {
	local img=$1 b=$2 key=$3 depth i max
	for ((depth = 0; depth < 64; depth++)); do
		i=$(node_keys "$img" "$b" | awk -v k="$key" '
			function le(a, c) { a = a ""; c = c ""; return length(a) != length(c) ? length(a) < length(c) : a <= c }
			le($1, k) { i = NR - 1; e = ($1 "" == k "") } END { print (i == "" ? -1 : i), e + 0 }') || return 1
		# shellcheck disable=SC2086
		set -- "$img" "$b" "$key" ${i}
		(($4 >= 0)) || return 1
		if [ "$(node_get "$img" "$b" flags)" = "$TS_NODE_LEAF" ]; then
			(($5 == 1)) || return 1
			echo "$b $4"
			return 0
		fi
		max=$(node_get "$img" "$b" max_entries) || return 1
		b=$(get_le64 "$img" $((b * TS_BLOCK_SIZE + 32 + 8 * max + 8 * $4))) || return 1
	done
	_ts_err "btree_find: tree at $2 too deep"
}

# top_roots IMG: "DEV ROOT" for every device, in key order, from the live
# top-level mapping tree (one od per node)
top_roots() {
	_ts_top_walk "$1" "$(sb_get "$1" data_mapping_root)" 0
}

_ts_top_walk() {
	local img=$1 b=$2 depth=$3 flags n max i keys vals
	((depth < 16)) || { _ts_err "top_roots: tree too deep"; return 1; }
	flags=$(node_get "$img" "$b" flags) || return 1
	n=$(node_get "$img" "$b" nr_entries) || return 1
	max=$(node_get "$img" "$b" max_entries) || return 1
	((n > 0)) || return 0
	read -r -a keys <<<"$(od -An -v -tu8 --endian=little -j $((b * TS_BLOCK_SIZE + 32)) -N $((8 * n)) -- "$img" | tr '\n' ' ')"
	read -r -a vals <<<"$(od -An -v -tu8 --endian=little -j $((b * TS_BLOCK_SIZE + 32 + 8 * max)) -N $((8 * n)) -- "$img" | tr '\n' ' ')"
	for ((i = 0; i < n; i++)); do
		if [ "$flags" = "$TS_NODE_LEAF" ]; then
			echo "${keys[i]} ${vals[i]}"
		else
			_ts_top_walk "$img" "${vals[i]}" $((depth + 1)) || return 1
		fi
	done
}

# check_ro STATUS ARGS...: run $TS_BIN/thin_check ARGS under `timeout 20`
# with bats' `run -STATUS --separate-stderr` ($output, $lines, $stderr),
# then fail unless the last argument (the input file) is unchanged.  A
# hang (124) or a crash (>= 128) fails the status check.
check_ro() {
	local want=$1 input sha
	shift
	input=${!#}
	sha=$(sha_of "$input") || return 1
	run "-$want" --separate-stderr timeout 20 "$TS_BIN/thin_check" "$@"
	[ "$(sha_of "$input")" = "$sha" ] || {
		echo "check_ro: thin_check $* modified $input" >&2
		return 1
	}
}

# zero_block IMG BLOCK: overwrite a 4 KiB block with zeros
zero_block() {
	dd if=/dev/zero of="$1" bs=4096 seek="$2" count=1 conv=notrunc status=none
}

# ---------------------------------------------------------------------------
# XML positions and def names (added for the thin_restore tests).
#
#   xml_canon_defs [FILE]       a 1.x dump with its def names replaced by
#                               d0, d1, ... in order of first appearance
#                               (in <def name=...> and <ref name=...>), so
#                               dumps whose shared leaves sit at other block
#                               numbers compare equal
#   xml_pos FILE TEXT [N]       "LINE:COLUMN" (1-based, in bytes) of the
#                               Nth (default first) occurrence of TEXT in
#                               FILE; status 1 if there is none
#   xml_end_pos FILE            "LINE:COLUMN" just past the last byte of
#                               FILE: where expat reports a document that
#                               ends too early

xml_canon_defs() {
	awk '
	/^ *<(def|ref) name="/ {
		i = index($0, "name=\"") + 6
		rest = substr($0, i)
		j = index(rest, "\"")
		n = substr(rest, 1, j - 1)
		if (!(n in canon)) canon[n] = "d" k++
		print substr($0, 1, i - 1) canon[n] substr(rest, j)
		next
	}
	{ print }
	' "$@"
}

xml_pos() {
	[ -f "$1" ] || { _ts_err "xml_pos: no such file: $1"; return 1; }
	awk -v t="$2" -v n="${3:-1}" '
	{
		s = $0; off = 0
		while ((i = index(s, t)) > 0) {
			if (++c == n) { print NR ":" (off + i); found = 1; exit }
			off += i; s = substr(s, i + 1)
		}
	}
	END { if (!found) exit 1 }
	' "$1" || { _ts_err "xml_pos: '$2' (occurrence ${3:-1}) not in $1"; return 1; }
}

xml_end_pos() {
	local n last
	[ -f "$1" ] || { _ts_err "xml_end_pos: no such file: $1"; return 1; }
	n=$(wc -l <"$1") || return 1
	if [ -s "$1" ] && [ "$(tail -c 1 -- "$1" | od -An -tx1 | tr -d ' ')" != 0a ]; then
		last=$(tail -n 1 -- "$1")
		echo "$((n + 1)):$((${#last} + 1))"
	else
		echo "$((n + 1)):1"
	fi
}

# ---------------------------------------------------------------------------
# Running a tool: exit status, stdout, stderr, and the input left unchanged.

# run_to PROG WANT OUT ARGS...: run PROG ARGS (timeout 60) with stdout in
# the file OUT and stderr in $stderr; expect exit status WANT and the input
# (the last argument, when it is a regular file) unchanged.
run_to() {
	local prog=$1 want=$2 out=$3 input sha="" rc=0
	shift 3
	input=${!#}
	if [ $# -gt 0 ] && [ -f "$input" ]; then
		sha=$(sha_of "$input")
	fi
	timeout 60 "$prog" "$@" >"$out" 2>"$BATS_TEST_TMPDIR/stderr" || rc=$?
	stderr=$(<"$BATS_TEST_TMPDIR/stderr")
	if [ -n "$sha" ] && [ "$(sha_of "$input")" != "$sha" ]; then
		echo "$prog $*: the input $input was modified" >&2
		return 1
	fi
	if [ "$rc" != "$want" ]; then
		echo "$prog $*: exit status $rc, expected $want" >&2
		echo "stderr: $stderr" >&2
		return 1
	fi
}

# run_prog PROG WANT ARGS...: bats `run` of PROG ARGS ($output, $lines,
# $stderr) expecting status WANT, input (the last argument) unchanged.
# $output loses trailing newlines: byte-exact comparisons use run_to.
run_prog() {
	local prog=$1 want=$2 input sha=""
	shift 2
	input=${!#}
	if [ $# -gt 0 ] && [ -f "$input" ]; then
		sha=$(sha_of "$input")
	fi
	run "-$want" --separate-stderr timeout 60 "$prog" "$@"
	if [ -n "$sha" ]; then
		[ "$(sha_of "$input")" = "$sha" ] || {
			echo "the input $input was modified" >&2
			return 1
		}
	fi
}

# refute CMD...: fail if CMD succeeds (a bare `! CMD` does not fail a bats
# test unless it is the last command)
refute() {
	if "$@"; then
		echo "expected to fail: $*" >&2
		return 1
	fi
}

# same_file A B: byte-identical, else show the start of the difference
same_file() {
	cmp -- "$1" "$2" && return 0
	diff -- "$1" "$2" | head -n 20 >&2
	return 1
}

# ---- snapshot stores --------------------------------------------------------

# snap_alloc CHUNK_SECTORS: read origin chunks, one a line, and print
# "OLD NEW" with the COW chunks allocated as the kernel does (FORMATS.md
# B.7: from chunk 2 up, skipping the metadata areas)
snap_alloc() {
	awk -v e=$(($1 * 512 / 16)) 'BEGIN { c = 2 }
		{ print $1, c; c++; if ((c - 1) % (e + 1) == 0) c++ }'
}

# seq_pairs FIRST_OLD COUNT CHUNK_SECTORS: COUNT origin-write exceptions
# for origin chunks FIRST_OLD.. allocated as the kernel does
seq_pairs() {
	seq "$1" $(($1 + $2 - 1)) | snap_alloc "$3"
}

# ---- a file system without O_DIRECT ----------------------------------------

# ramfs_mount DIR: mount a ramfs on DIR (made if missing).  ramfs refuses
# O_DIRECT when a file is opened (EINVAL), unlike tmpfs, so the tools'
# buffered fallback runs there.  A test that calls it must call
# ramfs_umount DIR from its teardown.  Skips the test when not root (only
# root can mount; the skip says so); fails it, saying why, when root cannot
# mount a ramfs or when this one takes O_DIRECT after all.
ramfs_mount() {
	local dir=$1 out
	[ "$(id -u)" = 0 ] || skip "not root: cannot mount a ramfs to test I/O without O_DIRECT"
	mkdir -p -- "$dir" || return 1
	out=$(mount -t ramfs -o mode=0755 none "$dir" 2>&1) || {
		_ts_err "ramfs_mount: 'mount -t ramfs none $dir' failed as root: $out"
		return 1
	}
	if dd if=/dev/zero of="$dir/.probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
		_ts_err "ramfs_mount: the ramfs on $dir accepts O_DIRECT: the buffered fallback would not be tested"
		return 1
	fi
	rm -f -- "$dir/.probe"
}

# ramfs_umount DIR: unmount the ramfs on DIR if there is one (lazily if a
# process still holds a file there); for teardown, so a failed test does
# not leave the mount behind.
ramfs_umount() {
	mountpoint -q -- "$1" 2>/dev/null || return 0
	umount -- "$1" 2>/dev/null || umount -l -- "$1"
}
