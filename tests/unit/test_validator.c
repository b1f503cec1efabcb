// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for block_validator.c and thin_superblock.c: sealing and
 * validating blocks of every kind, the FORMATS.md B.2 superblock vector,
 * superblock checks, encode/decode and the XML sniffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "block_io.h"
#include "block_validator.h"
#include "crc32c.h"
#include "endian_le.h"
#include "thin_superblock.h"

static const enum block_kind kinds[4] = { BK_SUPERBLOCK, BK_BTREE_NODE,
					  BK_BITMAP, BK_INDEX };

static uint8_t *new_block(void)
{
	uint8_t *b = bdev_alloc_buf(1);
	assert_non_null(b);
	memset(b, 0, MD_BLOCK_SIZE);
	return b;
}

/* A block with some content in every part of it. */
static void fill_pattern(uint8_t *b, unsigned seed)
{
	for (unsigned i = 0; i < MD_BLOCK_SIZE; i++)
		b[i] = (uint8_t)(i * 31u + seed * 7u + (i >> 8));
}

static void test_seal_validate(void **state)
{
	(void)state;
	uint8_t *b = new_block();
	for (int k = 0; k < 4; k++) {
		fill_pattern(b, (unsigned)k);
		block_seal(kinds[k], b, 1234567);
		assert_int_equal(le64_load(b + 8), 1234567);
		assert_int_equal(le32_load(b), block_csum(kinds[k], b));
		assert_int_equal(block_validate(kinds[k], b, 1234567), BV_OK);
		/* All-zero block sealed at 0. */
		memset(b, 0, MD_BLOCK_SIZE);
		block_seal(kinds[k], b, 0);
		assert_int_equal(block_validate(kinds[k], b, 0), BV_OK);
	}
	/* The B.1 vectors via block_seal: zero block sealed at 0. */
	block_seal(BK_SUPERBLOCK, b, 0);
	assert_int_equal(le32_load(b), 0x58CFD397u);
	block_seal(BK_BTREE_NODE, b, 0);
	assert_int_equal(le32_load(b), 0x58CC7E82u);
	block_seal(BK_INDEX, b, 0);
	assert_int_equal(le32_load(b), 0x58CFD54Fu);
	block_seal(BK_BITMAP, b, 0);
	assert_int_equal(le32_load(b), 0x58CE0B1Au);
	bdev_free_buf(b);
}

static void test_flip_any_byte(void **state)
{
	(void)state;
	uint8_t *b = new_block();
	fill_pattern(b, 3);
	block_seal(BK_BTREE_NODE, b, 77);
	for (unsigned i = 4; i < MD_BLOCK_SIZE; i++) {
		uint8_t save = b[i];
		for (unsigned bit = 0; bit < 8; bit += 3) {
			b[i] = save ^ (uint8_t)(1u << bit);
			assert_int_equal(block_validate(BK_BTREE_NODE, b, 77),
					 BV_BAD_CSUM);
		}
		b[i] = save;
	}
	assert_int_equal(block_validate(BK_BTREE_NODE, b, 77), BV_OK);
	/* Also with the table implementation. */
	crc32c_force_software(1);
	for (unsigned i = 4; i < MD_BLOCK_SIZE; i += 7) {
		b[i] ^= 0x80;
		assert_int_equal(block_validate(BK_BTREE_NODE, b, 77),
				 BV_BAD_CSUM);
		b[i] ^= 0x80;
	}
	assert_int_equal(block_validate(BK_BTREE_NODE, b, 77), BV_OK);
	crc32c_force_software(0);
	bdev_free_buf(b);
}

static void test_bad_blocknr(void **state)
{
	(void)state;
	uint8_t *b = new_block();
	for (int k = 0; k < 4; k++) {
		fill_pattern(b, 9);
		block_seal(kinds[k], b, 5);
		assert_int_equal(block_validate(kinds[k], b, 5), BV_OK);
		assert_int_equal(block_validate(kinds[k], b, 6),
				 BV_BAD_BLOCKNR);
		assert_int_equal(block_validate(kinds[k], b, 0),
				 BV_BAD_BLOCKNR);
		assert_int_equal(block_validate(kinds[k], b, UINT64_MAX),
				 BV_BAD_BLOCKNR);
		assert_int_equal(block_validate(kinds[k], b, 5ull << 32),
				 BV_BAD_BLOCKNR);
		/* Garbled and misplaced: reported as garbled. */
		b[100] ^= 1;
		assert_int_equal(block_validate(kinds[k], b, 6), BV_BAD_CSUM);
	}
	bdev_free_buf(b);
}

static void test_csum_field_corrupt(void **state)
{
	(void)state;
	uint8_t *b = new_block();
	fill_pattern(b, 1);
	block_seal(BK_BITMAP, b, 42);
	for (unsigned i = 0; i < 4; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(block_validate(BK_BITMAP, b, 42),
					 BV_BAD_CSUM);
			b[i] ^= (uint8_t)(1u << bit);
		}
	}
	le32_store(b, 0);
	assert_int_equal(block_validate(BK_BITMAP, b, 42), BV_BAD_CSUM);
	le32_store(b, block_csum(BK_BITMAP, b));
	assert_int_equal(block_validate(BK_BITMAP, b, 42), BV_OK);
	bdev_free_buf(b);
}

static void test_kinds_salts(void **state)
{
	(void)state;
	uint8_t *b = new_block();
	for (int k = 0; k < 4; k++) {
		fill_pattern(b, 5);
		block_seal(kinds[k], b, 10);
		for (int o = 0; o < 4; o++) {
			enum block_verdict want = o == k ? BV_OK : BV_BAD_CSUM;
			assert_int_equal(block_validate(kinds[o], b, 10), want);
		}
		/* csum differs between kinds by exactly the salts. */
		for (int o = 0; o < 4; o++)
			assert_int_equal(block_csum(kinds[o], b) ^
						 block_csum(kinds[k], b),
					 block_salt(kinds[o]) ^
						 block_salt(kinds[k]));
		assert_non_null(block_kind_name(kinds[k]));
	}
	bdev_free_buf(b);
}

static void check_x3_mixed(void)
{
	uint8_t *blk[6];
	uint64_t loc[6] = { 3, 4, 5, 6, 7, 8 };
	for (int i = 0; i < 6; i++) {
		blk[i] = new_block();
		fill_pattern(blk[i], (unsigned)i);
		block_seal(BK_BTREE_NODE, blk[i], loc[i]);
	}
	blk[1][2000] ^= 0x10;			/* bad checksum */
	block_seal(BK_BITMAP, blk[3], loc[3]);	/* wrong kind */
	block_seal(BK_BTREE_NODE, blk[4], 99);	/* wrong location */

	/* Every triple (with repetition) of the six blocks. */
	for (int i = 0; i < 6; i++)
		for (int j = 0; j < 6; j++)
			for (int k = 0; k < 6; k++) {
				const void *b3[3] = { blk[i], blk[j], blk[k] };
				uint64_t w3[3] = { loc[i], loc[j], loc[k] };
				enum block_verdict out[3] = { 7, 7, 7 };
				block_validate_x3(BK_BTREE_NODE, b3, w3, out);
				for (int t = 0; t < 3; t++)
					assert_int_equal(
						out[t],
						block_validate(BK_BTREE_NODE,
							       b3[t], w3[t]));
			}
	const void *b3[3] = { blk[0], blk[1], blk[4] };
	uint64_t w3[3] = { loc[0], loc[1], loc[4] };
	enum block_verdict out[3];
	block_validate_x3(BK_BTREE_NODE, b3, w3, out);
	assert_int_equal(out[0], BV_OK);
	assert_int_equal(out[1], BV_BAD_CSUM);
	assert_int_equal(out[2], BV_BAD_BLOCKNR);
	for (int i = 0; i < 6; i++)
		bdev_free_buf(blk[i]);
}

static void test_validate_x3(void **state)
{
	(void)state;
	crc32c_force_software(1);
	check_x3_mixed();
	crc32c_force_software(0);
	check_x3_mixed();
}

static void check_validate_many(void)
{
	enum { N = 8 };
	uint8_t *blk[N];
	const void *cblk[N];
	uint64_t loc[N];
	for (int i = 0; i < N; i++) {
		blk[i] = new_block();
		fill_pattern(blk[i], (unsigned)i + 20);
		loc[i] = 100 + (uint64_t)i;
		block_seal(BK_INDEX, blk[i], loc[i]);
		cblk[i] = blk[i];
	}
	blk[2][10] ^= 1;			/* bad checksum */
	block_seal(BK_INDEX, blk[4], 7);	/* misplaced */
	block_seal(BK_BITMAP, blk[6], loc[6]);	/* wrong kind */
	blk[7][4095] ^= 0x80;			/* last, single path */
	for (unsigned n = 0; n <= N; n++) {
		for (unsigned start = 0; start + n <= N; start++) {
			enum block_verdict out[N];
			for (unsigned i = 0; i < N; i++)
				out[i] = (enum block_verdict)99;
			block_validate_many(BK_INDEX, cblk + start, loc + start,
					    n, out);
			for (unsigned i = 0; i < n; i++)
				assert_int_equal(out[i],
						 block_validate(BK_INDEX,
								cblk[start + i],
								loc[start + i]));
			for (unsigned i = n; i < N; i++)
				assert_int_equal(out[i], 99); /* untouched */
		}
	}
	enum block_verdict all[N];
	block_validate_many(BK_INDEX, cblk, loc, N, all);
	static const enum block_verdict want[N] = {
		BV_OK, BV_OK,	     BV_BAD_CSUM, BV_OK,
		BV_BAD_BLOCKNR, BV_OK, BV_BAD_CSUM, BV_BAD_CSUM,
	};
	for (int i = 0; i < N; i++)
		assert_int_equal(all[i], want[i]);
	for (int i = 0; i < N; i++)
		bdev_free_buf(blk[i]);
}

static void test_validate_many(void **state)
{
	(void)state;
	crc32c_force_software(1);
	check_validate_many();
	crc32c_force_software(0);
	check_validate_many();
}

/* The fresh superblock of FORMATS.md B.2. */
static void b2_superblock(struct thin_superblock *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->blocknr = 0;
	sb->magic = THIN_SUPERBLOCK_MAGIC;
	sb->version = 2;
	sb->data_sm.nr_blocks = 4096;
	sb->data_sm.nr_allocated = 0;
	sb->data_sm.bitmap_root = 10;
	sb->data_sm.ref_count_root = 5;
	sb->metadata_sm.nr_blocks = 2048;
	sb->metadata_sm.nr_allocated = 9;
	sb->metadata_sm.bitmap_root = 11;
	sb->metadata_sm.ref_count_root = 2;
	sb->data_mapping_root = 6;
	sb->device_details_root = 7;
	sb->data_block_size = 128;
	sb->metadata_block_size = 8;
	sb->metadata_nr_blocks = 2048;
}

static void test_b2_vector(void **state)
{
	(void)state;
	struct thin_superblock sb, got;
	uint8_t *b = new_block();
	memset(b, 0xee, MD_BLOCK_SIZE); /* encode must zero it */
	b2_superblock(&sb);
	thin_sb_encode(&sb, b);

	static const uint8_t csum[4] = { 0x8d, 0x66, 0xd8, 0x9d };
	static const uint8_t magic[8] = { 0xba, 0x52, 0x9c, 0x01, 0, 0, 0, 0 };
	assert_memory_equal(b, csum, 4);
	assert_int_equal(le32_load(b), 0x9DD8668Du);
	assert_memory_equal(b + 0x20, magic, 8);
	assert_int_equal(le64_load(b + 0x20), 27022010u);
	assert_int_equal(le32_load(b + 0x28), 2);
	assert_int_equal(le64_load(b + 0x40), 4096);
	assert_int_equal(le64_load(b + 0x48), 0);
	assert_int_equal(le64_load(b + 0x50), 10);
	assert_int_equal(le64_load(b + 0x58), 5);
	assert_int_equal(le64_load(b + 0xc0), 2048);
	assert_int_equal(le64_load(b + 0xc8), 9);
	assert_int_equal(le64_load(b + 0xd0), 11);
	assert_int_equal(le64_load(b + 0xd8), 2);
	assert_int_equal(le64_load(b + 0x140), 6);
	assert_int_equal(le64_load(b + 0x148), 7);
	assert_int_equal(le32_load(b + 0x150), 128);
	assert_int_equal(le32_load(b + 0x154), 8);
	assert_int_equal(le64_load(b + 0x158), 2048);

	/* "All bytes of block 0 are zero except" the ones listed. */
	static const struct {
		unsigned off, len;
	} listed[] = { { 0x000, 4 }, { 0x020, 8 }, { 0x028, 4 },
		       { 0x040, 32 }, { 0x0c0, 32 }, { 0x140, 16 },
		       { 0x150, 8 }, { 0x158, 8 } };
	for (unsigned i = 0; i < MD_BLOCK_SIZE; i++) {
		int in = 0;
		for (size_t k = 0; k < sizeof(listed) / sizeof(listed[0]); k++)
			if (i >= listed[k].off &&
			    i < listed[k].off + listed[k].len)
				in = 1;
		if (!in && b[i] != 0)
			fail_msg("byte 0x%x is 0x%02x, want 0", i, b[i]);
	}

	/* Built by hand, independently of thin_sb_encode. */
	uint8_t *h = new_block();
	memcpy(h + 0x20, magic, 8);
	le32_store(h + 0x28, 2);
	le64_store(h + 0x40, 4096);
	le64_store(h + 0x50, 10);
	le64_store(h + 0x58, 5);
	le64_store(h + 0xc0, 2048);
	le64_store(h + 0xc8, 9);
	le64_store(h + 0xd0, 11);
	le64_store(h + 0xd8, 2);
	le64_store(h + 0x140, 6);
	le64_store(h + 0x148, 7);
	le32_store(h + 0x150, 128);
	le32_store(h + 0x154, 8);
	le64_store(h + 0x158, 2048);
	assert_int_equal(block_csum(BK_SUPERBLOCK, h), 0x9DD8668Du);
	block_seal(BK_SUPERBLOCK, h, 0);
	assert_memory_equal(h, b, MD_BLOCK_SIZE);
	crc32c_force_software(1);
	assert_int_equal(block_csum(BK_SUPERBLOCK, h), 0x9DD8668Du);
	crc32c_force_software(0);

	assert_int_equal(thin_sb_check(b, 0, &got), SBP_NONE);
	assert_int_equal(got.csum, 0x9DD8668Du);
	assert_int_equal(got.magic, THIN_SUPERBLOCK_MAGIC);
	assert_int_equal(got.data_sm.bitmap_root, 10);
	assert_int_equal(got.metadata_sm.nr_allocated, 9);
	bdev_free_buf(h);
	bdev_free_buf(b);
}

/* Apply an edit to the B.2 superblock, re-encode (re-seal) at `at`. */
static enum thin_sb_problem check_edited(void (*edit)(struct thin_superblock *),
					 uint64_t at, uint64_t where)
{
	struct thin_superblock sb, got;
	uint8_t *b = new_block();
	b2_superblock(&sb);
	if (edit)
		edit(&sb);
	sb.blocknr = at;
	thin_sb_encode(&sb, b);
	enum thin_sb_problem p = thin_sb_check(b, where, &got);
	assert_non_null(thin_sb_problem_str(p));
	bdev_free_buf(b);
	return p;
}

static void edit_magic(struct thin_superblock *sb)
{
	sb->magic = 27022011;
}

static void edit_magic_zero(struct thin_superblock *sb)
{
	sb->magic = 0;
}

static void edit_version3(struct thin_superblock *sb)
{
	sb->version = 3;
}

static void edit_version0(struct thin_superblock *sb)
{
	sb->version = 0;
}

static void edit_version1(struct thin_superblock *sb)
{
	sb->version = 1;
}

static void edit_incompat(struct thin_superblock *sb)
{
	sb->incompat_flags = 1;
}

static void edit_incompat_high(struct thin_superblock *sb)
{
	sb->incompat_flags = 0x80000000u;
}

static void edit_dbs64(struct thin_superblock *sb)
{
	sb->data_block_size = 64;
}

static void edit_dbs200(struct thin_superblock *sb)
{
	sb->data_block_size = 200;
}

static void edit_dbs0(struct thin_superblock *sb)
{
	sb->data_block_size = 0;
}

static void edit_dbs_too_big(struct thin_superblock *sb)
{
	sb->data_block_size = THIN_MAX_DATA_BLOCK_SIZE + 128;
}

static void edit_dbs_max(struct thin_superblock *sb)
{
	sb->data_block_size = THIN_MAX_DATA_BLOCK_SIZE;
}

static void edit_dbs_384(struct thin_superblock *sb)
{
	sb->data_block_size = 384; /* multiple of 128, not a power of two */
}

static void edit_flags(struct thin_superblock *sb)
{
	sb->flags = THIN_FLAG_NEEDS_CHECK;
}

static void edit_md_too_big(struct thin_superblock *sb)
{
	sb->metadata_sm.nr_blocks = SM_METADATA_MAX_BLOCKS + 1;
}

static void edit_md_max(struct thin_superblock *sb)
{
	sb->metadata_sm.nr_blocks = SM_METADATA_MAX_BLOCKS;
}

static void test_sb_check(void **state)
{
	(void)state;
	assert_int_equal(check_edited(NULL, 0, 0), SBP_NONE);
	assert_int_equal(check_edited(edit_magic, 0, 0), SBP_MAGIC);
	assert_int_equal(check_edited(edit_magic_zero, 0, 0), SBP_MAGIC);
	assert_int_equal(check_edited(edit_version3, 0, 0), SBP_VERSION);
	assert_int_equal(check_edited(edit_version0, 0, 0), SBP_VERSION);
	assert_int_equal(check_edited(edit_version1, 0, 0), SBP_NONE);
	assert_int_equal(check_edited(edit_incompat, 0, 0), SBP_INCOMPAT);
	assert_int_equal(check_edited(edit_incompat_high, 0, 0),
			 SBP_INCOMPAT);
	assert_int_equal(check_edited(edit_dbs64, 0, 0), SBP_DATA_BLOCK_SIZE);
	assert_int_equal(check_edited(edit_dbs200, 0, 0), SBP_DATA_BLOCK_SIZE);
	assert_int_equal(check_edited(edit_dbs0, 0, 0), SBP_DATA_BLOCK_SIZE);
	assert_int_equal(check_edited(edit_dbs_too_big, 0, 0),
			 SBP_DATA_BLOCK_SIZE);
	assert_int_equal(check_edited(edit_dbs_max, 0, 0), SBP_NONE);
	assert_int_equal(check_edited(edit_dbs_384, 0, 0), SBP_NONE);
	assert_int_equal(check_edited(edit_flags, 0, 0), SBP_NONE);
	assert_int_equal(check_edited(NULL, 1, 0), SBP_BLOCKNR);
	assert_int_equal(check_edited(NULL, 1, 1), SBP_NONE);
	assert_int_equal(check_edited(edit_md_max, 0, 0), SBP_NONE);
	assert_int_equal(check_edited(edit_md_too_big, 0, 0),
			 SBP_METADATA_SIZE);
	/* A metadata-snapshot copy is not checked for the sm size. */
	assert_int_equal(check_edited(edit_md_too_big, 50, 50), SBP_NONE);

	/* Garbled: SBP_CSUM, whatever else is wrong. */
	struct thin_superblock sb, got;
	uint8_t *b = new_block();
	b2_superblock(&sb);
	thin_sb_encode(&sb, b);
	b[0x150] ^= 1;
	assert_int_equal(thin_sb_check(b, 0, &got), SBP_CSUM);
	b[0x150] ^= 1;
	b[4000] = 1; /* tail bytes are covered too */
	assert_int_equal(thin_sb_check(b, 0, &got), SBP_CSUM);
	b[4000] = 0;
	assert_int_equal(thin_sb_check(b, 0, &got), SBP_NONE);
	b[1] ^= 0xff;
	assert_int_equal(thin_sb_check(b, 0, &got), SBP_CSUM);
	/* An all-zero block (unformatted device). */
	memset(b, 0, MD_BLOCK_SIZE);
	assert_int_equal(thin_sb_check(b, 0, &got), SBP_CSUM);
	/* Sealed as a B-tree node. */
	b2_superblock(&sb);
	thin_sb_encode(&sb, b);
	block_seal(BK_BTREE_NODE, b, 0);
	assert_int_equal(thin_sb_check(b, 0, &got), SBP_CSUM);
	bdev_free_buf(b);
}

static void test_sb_roundtrip(void **state)
{
	(void)state;
	struct thin_superblock sb, got;
	uint8_t *b = new_block();
	memset(&sb, 0, sizeof(sb));
	sb.flags = 0x01020305u;
	sb.blocknr = 0x1122334455667788ull;
	for (int i = 0; i < 16; i++)
		sb.uuid[i] = (uint8_t)(0xa0 + i);
	sb.magic = 0x0102030405060708ull;
	sb.version = 0x11121314u;
	sb.time = 0x21222324u;
	sb.trans_id = 0x3132333435363738ull;
	sb.metadata_snap = 0x4142434445464748ull;
	sb.data_sm.nr_blocks = 0x5152535455565758ull;
	sb.data_sm.nr_allocated = 0x6162636465666768ull;
	sb.data_sm.bitmap_root = 0x7172737475767778ull;
	sb.data_sm.ref_count_root = 0x8182838485868788ull;
	sb.metadata_sm.nr_blocks = 0x9192939495969798ull;
	sb.metadata_sm.nr_allocated = 0xa1a2a3a4a5a6a7a8ull;
	sb.metadata_sm.bitmap_root = 0xb1b2b3b4b5b6b7b8ull;
	sb.metadata_sm.ref_count_root = 0xc1c2c3c4c5c6c7c8ull;
	sb.data_mapping_root = 0xd1d2d3d4d5d6d7d8ull;
	sb.device_details_root = 0xe1e2e3e4e5e6e7e8ull;
	sb.data_block_size = 0xf1f2f3f4u;
	sb.metadata_block_size = 0x01f2f3f5u;
	sb.metadata_nr_blocks = 0x0203040506070809ull;
	sb.compat_flags = 0x12131415u;
	sb.compat_ro_flags = 0x23242526u;
	sb.incompat_flags = 0x34353637u;
	thin_sb_encode(&sb, b);
	memset(&got, 0x5a, sizeof(got));
	thin_sb_decode(&got, b);

	assert_int_equal(got.csum, block_csum(BK_SUPERBLOCK, b));
	assert_int_equal(block_validate(BK_SUPERBLOCK, b, sb.blocknr), BV_OK);
	assert_int_equal(got.flags, sb.flags);
	assert_int_equal(got.blocknr, sb.blocknr);
	assert_memory_equal(got.uuid, sb.uuid, 16);
	assert_int_equal(got.magic, sb.magic);
	assert_int_equal(got.version, sb.version);
	assert_int_equal(got.time, sb.time);
	assert_int_equal(got.trans_id, sb.trans_id);
	assert_int_equal(got.metadata_snap, sb.metadata_snap);
	assert_int_equal(got.data_sm.nr_blocks, sb.data_sm.nr_blocks);
	assert_int_equal(got.data_sm.nr_allocated, sb.data_sm.nr_allocated);
	assert_int_equal(got.data_sm.bitmap_root, sb.data_sm.bitmap_root);
	assert_int_equal(got.data_sm.ref_count_root,
			 sb.data_sm.ref_count_root);
	assert_int_equal(got.metadata_sm.nr_blocks, sb.metadata_sm.nr_blocks);
	assert_int_equal(got.metadata_sm.nr_allocated,
			 sb.metadata_sm.nr_allocated);
	assert_int_equal(got.metadata_sm.bitmap_root,
			 sb.metadata_sm.bitmap_root);
	assert_int_equal(got.metadata_sm.ref_count_root,
			 sb.metadata_sm.ref_count_root);
	assert_int_equal(got.data_mapping_root, sb.data_mapping_root);
	assert_int_equal(got.device_details_root, sb.device_details_root);
	assert_int_equal(got.data_block_size, sb.data_block_size);
	assert_int_equal(got.metadata_block_size, sb.metadata_block_size);
	assert_int_equal(got.metadata_nr_blocks, sb.metadata_nr_blocks);
	assert_int_equal(got.compat_flags, sb.compat_flags);
	assert_int_equal(got.compat_ro_flags, sb.compat_ro_flags);
	assert_int_equal(got.incompat_flags, sb.incompat_flags);

	/* Exact offsets (FORMATS.md A.3). */
	assert_int_equal(le32_load(b + 0x004), sb.flags);
	assert_int_equal(le64_load(b + 0x008), sb.blocknr);
	assert_memory_equal(b + 0x010, sb.uuid, 16);
	assert_int_equal(le64_load(b + 0x020), sb.magic);
	assert_int_equal(le32_load(b + 0x028), sb.version);
	assert_int_equal(le32_load(b + 0x02c), sb.time);
	assert_int_equal(le64_load(b + 0x030), sb.trans_id);
	assert_int_equal(le64_load(b + 0x038), sb.metadata_snap);
	assert_int_equal(le64_load(b + 0x040), sb.data_sm.nr_blocks);
	assert_int_equal(le64_load(b + 0x058), sb.data_sm.ref_count_root);
	assert_int_equal(le64_load(b + 0x0c0), sb.metadata_sm.nr_blocks);
	assert_int_equal(le64_load(b + 0x0d8), sb.metadata_sm.ref_count_root);
	assert_int_equal(le64_load(b + 0x140), sb.data_mapping_root);
	assert_int_equal(le64_load(b + 0x148), sb.device_details_root);
	assert_int_equal(le32_load(b + 0x150), sb.data_block_size);
	assert_int_equal(le32_load(b + 0x154), sb.metadata_block_size);
	assert_int_equal(le64_load(b + 0x158), sb.metadata_nr_blocks);
	assert_int_equal(le32_load(b + 0x160), sb.compat_flags);
	assert_int_equal(le32_load(b + 0x164), sb.compat_ro_flags);
	assert_int_equal(le32_load(b + 0x168), sb.incompat_flags);
	/* The 96 unused bytes of each sm root, and the tail, are zero. */
	for (unsigned i = 0x060; i < 0x0c0; i++)
		assert_int_equal(b[i], 0);
	for (unsigned i = 0x0e0; i < 0x140; i++)
		assert_int_equal(b[i], 0);
	for (unsigned i = 0x16c; i < MD_BLOCK_SIZE; i++)
		assert_int_equal(b[i], 0);

	/* decode(encode(decode(b))) gives the same bytes. */
	uint8_t *b2 = new_block();
	thin_sb_encode(&got, b2);
	assert_memory_equal(b, b2, MD_BLOCK_SIZE);
	bdev_free_buf(b2);
	bdev_free_buf(b);
}

static int xml(const char *s)
{
	return thin_looks_like_xml(s, (unsigned)strlen(s));
}

static void test_looks_like_xml(void **state)
{
	(void)state;
	assert_true(xml("<superblock uuid=\"\" time=\"0\">"));
	assert_true(xml("<superblock"));
	assert_true(xml("<?xml version=\"1.0\"?>\n<superblock>"));
	assert_true(xml("<?xml"));
	assert_true(xml("   <superblock"));
	assert_true(xml("\n\t\r <?xml version"));
	assert_true(xml("\xef\xbb\xbf<?xml version"));
	assert_true(xml("\xef\xbb\xbf  \n<superblock"));
	assert_true(xml("<!-- comment -->\n<superblock"));

	assert_false(xml(""));
	assert_false(xml("   "));
	assert_false(xml("<superbloc"));
	assert_false(xml("<?xm"));
	assert_false(xml("superblock"));
	assert_false(xml("<html>"));
	assert_false(xml("x<superblock"));
	assert_false(xml("\xef\xbb"));

	uint8_t *z = new_block();
	assert_false(thin_looks_like_xml(z, MD_BLOCK_SIZE));
	assert_false(thin_looks_like_xml(z, 0));
	/* A real superblock is not XML. */
	struct thin_superblock sb;
	b2_superblock(&sb);
	thin_sb_encode(&sb, z);
	assert_false(thin_looks_like_xml(z, MD_BLOCK_SIZE));
	/* Length is honoured: the text beyond len is not looked at. */
	memcpy(z, "<superblock", 11);
	assert_true(thin_looks_like_xml(z, 11));
	assert_false(thin_looks_like_xml(z, 10));
	bdev_free_buf(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_validate),
		cmocka_unit_test(test_flip_any_byte),
		cmocka_unit_test(test_bad_blocknr),
		cmocka_unit_test(test_csum_field_corrupt),
		cmocka_unit_test(test_kinds_salts),
		cmocka_unit_test(test_validate_x3),
		cmocka_unit_test(test_validate_many),
		cmocka_unit_test(test_b2_vector),
		cmocka_unit_test(test_sb_check),
		cmocka_unit_test(test_sb_roundtrip),
		cmocka_unit_test(test_looks_like_xml),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
