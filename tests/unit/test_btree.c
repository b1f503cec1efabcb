// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for btree.c and thin_types.h: the max_entries rule, the
 * FORMATS.md B.3 leaf, node header and key checks, block_time packing
 * and the device-details record.
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
#include "btree.h"
#include "endian_le.h"
#include "thin_types.h"

static uint8_t *new_block(void)
{
	uint8_t *b = bdev_alloc_buf(1);
	assert_non_null(b);
	memset(b, 0, MD_BLOCK_SIZE);
	return b;
}

static void put_header(uint8_t *b, uint32_t flags, uint32_t nr, uint32_t max,
		       uint32_t vs)
{
	le32_store(b + 4, flags);
	le32_store(b + 16, nr);
	le32_store(b + 20, max);
	le32_store(b + 24, vs);
}

/* A node decoded from a fresh block with the given header. */
static void make_node(struct btree_node *n, uint8_t *b, uint32_t flags,
		      uint32_t nr, uint32_t max, uint32_t vs)
{
	memset(b, 0, MD_BLOCK_SIZE);
	put_header(b, flags, nr, max, vs);
	for (uint32_t i = 0; i < nr && 32 + 8 * i + 8 <= MD_BLOCK_SIZE; i++)
		le64_store(b + 32 + 8 * i, 100 + 10 * (uint64_t)i);
	block_seal(BK_BTREE_NODE, b, 9);
	btree_node_decode(n, b, 9);
}

static void test_max_entries(void **state)
{
	(void)state;
	assert_int_equal(btree_max_entries(4), 336);
	assert_int_equal(btree_max_entries(8), 252);
	assert_int_equal(btree_max_entries(16), 168);
	assert_int_equal(btree_max_entries(24), 126);
	for (uint32_t vs = 1; vs <= 512; vs++) {
		uint32_t m = btree_max_entries(vs);
		assert_int_equal(m % 3, 0);
		assert_true(32 + (8 + vs) * m <= 4096);
		assert_true(32 + (8 + vs) * (m + 3) > 4096);
	}
	assert_true(BTREE_MAX_CHILDREN >= btree_max_entries(8));
}

/* FORMATS.md B.3: block 20 of T2, a bottom-level mapping leaf. */
static void build_b3(uint8_t *b)
{
	static const uint8_t head[48] = {
		0x92, 0x9c, 0x41, 0xd5, 0x02, 0x00, 0x00, 0x00, /* csum, LEAF */
		0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* blocknr 20 */
		0x03, 0x00, 0x00, 0x00, 0xfc, 0x00, 0x00, 0x00, /* nr, max */
		0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* vs, pad */
		0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* key 10 */
		0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* key 11 */
	};
	static const uint8_t key2[8] = { 0x0c };
	static const uint8_t vals[24] = {
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	};
	memset(b, 0, MD_BLOCK_SIZE);
	memcpy(b, head, sizeof(head));
	memcpy(b + 0x30, key2, sizeof(key2));
	memcpy(b + 0x800, vals, sizeof(vals));
}

static void test_b3_leaf(void **state)
{
	(void)state;
	uint8_t *b = new_block();
	struct btree_node n;
	build_b3(b);
	btree_node_decode(&n, b, 20);
	assert_ptr_equal(n.raw, b);
	assert_int_equal(n.blocknr, 20);
	assert_int_equal(n.flags, BTREE_NODE_LEAF);
	assert_true(btree_node_is_leaf(&n));
	assert_int_equal(n.nr_entries, 3);
	assert_int_equal(n.max_entries, 252);
	assert_int_equal(n.value_size, 8);
	assert_int_equal(btree_node_key(&n, 0), 10);
	assert_int_equal(btree_node_key(&n, 1), 11);
	assert_int_equal(btree_node_key(&n, 2), 12);
	assert_ptr_equal(btree_node_value(&n, 0), b + 0x800);
	assert_ptr_equal(btree_node_value(&n, 2), b + 0x810);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t v = btree_node_value64(&n, i);
		assert_int_equal(v, (uint64_t)i << 24);
		assert_int_equal(block_time_block(v), i);
		assert_int_equal(block_time_time(v), 0);
	}
	assert_int_equal(btree_node_check_header(&n, 8), BP_NONE);
	unsigned bad = 999;
	assert_int_equal(btree_node_check_keys(&n, 0, UINT64_MAX, &bad),
			 BP_NONE);
	assert_int_equal(btree_node_check_keys(&n, 10, 12, &bad), BP_NONE);
	/* The dump's checksum (92 9c 41 d5) is right for these bytes. */
	assert_int_equal(le32_load(b), 0xd5419c92u);
	assert_int_equal(block_csum(BK_BTREE_NODE, b), 0xd5419c92u);
	assert_int_equal(block_validate(BK_BTREE_NODE, b, 20), BV_OK);
	assert_int_equal(block_validate(BK_BTREE_NODE, b, 21), BV_BAD_BLOCKNR);
	/* Re-sealing at 20 keeps every byte but the checksum. */
	uint8_t *c = new_block();
	memcpy(c, b, MD_BLOCK_SIZE);
	block_seal(BK_BTREE_NODE, c, 20);
	assert_memory_equal(c + 4, b + 4, MD_BLOCK_SIZE - 4);
	assert_int_equal(block_validate(BK_BTREE_NODE, c, 20), BV_OK);
	bdev_free_buf(c);
	bdev_free_buf(b);
}

static void test_check_header(void **state)
{
	(void)state;
	uint8_t *b = new_block();
	struct btree_node n;

	make_node(&n, b, BTREE_NODE_LEAF, 3, 252, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_NONE);
	make_node(&n, b, BTREE_NODE_LEAF, 0, 252, 8); /* empty leaf: ok */
	assert_int_equal(btree_node_check_header(&n, 8), BP_NONE);
	make_node(&n, b, BTREE_NODE_LEAF, 252, 252, 8); /* full */
	assert_int_equal(btree_node_check_header(&n, 8), BP_NONE);
	make_node(&n, b, BTREE_NODE_LEAF, 5, 336, 4);
	assert_int_equal(btree_node_check_header(&n, 4), BP_NONE);
	make_node(&n, b, BTREE_NODE_LEAF, 5, 168, 16);
	assert_int_equal(btree_node_check_header(&n, 16), BP_NONE);
	make_node(&n, b, BTREE_NODE_LEAF, 5, 126, 24);
	assert_int_equal(btree_node_check_header(&n, 24), BP_NONE);

	/* Flags: exactly one of INTERNAL / LEAF. */
	make_node(&n, b, 0, 3, 252, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_FLAGS);
	make_node(&n, b, 3, 3, 252, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_FLAGS);
	make_node(&n, b, 4, 3, 252, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_FLAGS);
	make_node(&n, b, 0x80000002u, 3, 252, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_FLAGS);

	/* Leaf value size must be the tree's. */
	make_node(&n, b, BTREE_NODE_LEAF, 3, 126, 24);
	assert_int_equal(btree_node_check_header(&n, 8), BP_VALUE_SIZE);
	make_node(&n, b, BTREE_NODE_LEAF, 3, 252, 8);
	assert_int_equal(btree_node_check_header(&n, 24), BP_VALUE_SIZE);
	assert_int_equal(btree_node_check_header(&n, 4), BP_VALUE_SIZE);

	/* Internal nodes: value size 8 whatever the leaves use. */
	make_node(&n, b, BTREE_NODE_INTERNAL, 3, 252, 8);
	assert_false(btree_node_is_leaf(&n));
	assert_int_equal(btree_node_check_header(&n, 8), BP_NONE);
	assert_int_equal(btree_node_check_header(&n, 24), BP_NONE);
	assert_int_equal(btree_node_check_header(&n, 16), BP_NONE);
	assert_int_equal(btree_node_check_header(&n, 4), BP_NONE);
	make_node(&n, b, BTREE_NODE_INTERNAL, 3, 168, 16);
	assert_int_equal(btree_node_check_header(&n, 16), BP_VALUE_SIZE);
	assert_int_equal(btree_node_check_header(&n, 8), BP_VALUE_SIZE);
	make_node(&n, b, BTREE_NODE_INTERNAL, 3, 126, 24);
	assert_int_equal(btree_node_check_header(&n, 24), BP_VALUE_SIZE);

	/* max_entries that does not fit: 32 + 16 * 255 > 4096. */
	make_node(&n, b, BTREE_NODE_LEAF, 3, 255, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_MAX_ENTRIES);
	make_node(&n, b, BTREE_NODE_LEAF, 3, 0xffffffffu, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_MAX_ENTRIES);
	make_node(&n, b, BTREE_NODE_LEAF, 3, 128, 24); /* 32+32*128 > 4096 */
	assert_int_equal(btree_node_check_header(&n, 24), BP_MAX_ENTRIES);
	make_node(&n, b, BTREE_NODE_LEAF, 3, 127, 24); /* 32+32*127 = 4096 */
	assert_int_equal(btree_node_check_header(&n, 24), BP_MAX_RULE);
	make_node(&n, b, BTREE_NODE_LEAF, 3, 339, 4); /* 32+12*339 > 4096 */
	assert_int_equal(btree_node_check_header(&n, 4), BP_MAX_ENTRIES);
	make_node(&n, b, BTREE_NODE_INTERNAL, 3, 255, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_MAX_ENTRIES);
	/* 254 fits exactly (32 + 16 * 254 = 4096) but is not the rule. */
	make_node(&n, b, BTREE_NODE_LEAF, 3, 254, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_MAX_RULE);

	/* nr_entries > max_entries. */
	make_node(&n, b, BTREE_NODE_LEAF, 253, 252, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_NR_ENTRIES);
	make_node(&n, b, BTREE_NODE_INTERNAL, 253, 252, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_NR_ENTRIES);
	make_node(&n, b, BTREE_NODE_LEAF, 0xffffffffu, 252, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_NR_ENTRIES);

	/* Internal node with no entries. */
	make_node(&n, b, BTREE_NODE_INTERNAL, 0, 252, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_EMPTY_INTERNAL);

	/* Fits, but not what writers use: non-fatal. */
	make_node(&n, b, BTREE_NODE_LEAF, 3, 250, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_MAX_RULE);
	make_node(&n, b, BTREE_NODE_INTERNAL, 3, 250, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_MAX_RULE);
	make_node(&n, b, BTREE_NODE_LEAF, 3, 3, 8);
	assert_int_equal(btree_node_check_header(&n, 8), BP_MAX_RULE);
	assert_false(btree_problem_is_fatal(BP_MAX_RULE));
	assert_false(btree_problem_is_fatal(BP_NONE));

	static const enum btree_problem fatal[] = {
		BP_IO,		 BP_CSUM,      BP_BLOCKNR,     BP_FLAGS,
		BP_VALUE_SIZE,	 BP_MAX_ENTRIES, BP_NR_ENTRIES,
		BP_EMPTY_INTERNAL, BP_KEY_ORDER, BP_KEY_RANGE, BP_LOOP,
		BP_DEPTH,	 BP_CHILD_RANGE, BP_KIND,
	};
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		assert_true(btree_problem_is_fatal(fatal[i]));
		assert_non_null(btree_problem_str(fatal[i]));
	}
	assert_non_null(btree_problem_str(BP_MAX_RULE));
	bdev_free_buf(b);
}

static void set_keys(uint8_t *b, struct btree_node *n, const uint64_t *keys,
		     uint32_t nr)
{
	memset(b, 0, MD_BLOCK_SIZE);
	put_header(b, BTREE_NODE_LEAF, nr, 252, 8);
	for (uint32_t i = 0; i < nr; i++)
		le64_store(b + 32 + 8 * i, keys[i]);
	btree_node_decode(n, b, 1);
}

static void test_check_keys(void **state)
{
	(void)state;
	uint8_t *b = new_block();
	struct btree_node n;
	unsigned bad;

	static const uint64_t inc[] = { 0, 1, 5, 100, 1000, UINT64_MAX };
	set_keys(b, &n, inc, 6);
	assert_int_equal(btree_node_check_keys(&n, 0, UINT64_MAX, &bad),
			 BP_NONE);
	/* Empty node: nothing to check, whatever the range. */
	set_keys(b, &n, inc, 0);
	assert_int_equal(btree_node_check_keys(&n, 10, 5, &bad), BP_NONE);

	static const uint64_t eq[] = { 1, 2, 3, 3, 4 };
	bad = 999;
	set_keys(b, &n, eq, 5);
	assert_int_equal(btree_node_check_keys(&n, 0, UINT64_MAX, &bad),
			 BP_KEY_ORDER);
	assert_int_equal(bad, 3);

	static const uint64_t dec[] = { 10, 20, 15, 30 };
	bad = 999;
	set_keys(b, &n, dec, 4);
	assert_int_equal(btree_node_check_keys(&n, 0, UINT64_MAX, &bad),
			 BP_KEY_ORDER);
	assert_int_equal(bad, 2);

	static const uint64_t zz[] = { 0, 0 };
	bad = 999;
	set_keys(b, &n, zz, 2);
	assert_int_equal(btree_node_check_keys(&n, 0, UINT64_MAX, &bad),
			 BP_KEY_ORDER);
	assert_int_equal(bad, 1);

	static const uint64_t r[] = { 100, 150, 199 };
	set_keys(b, &n, r, 3);
	assert_int_equal(btree_node_check_keys(&n, 100, 199, &bad), BP_NONE);
	bad = 999;
	assert_int_equal(btree_node_check_keys(&n, 101, 199, &bad),
			 BP_KEY_RANGE);
	assert_int_equal(bad, 0);
	bad = 999;
	assert_int_equal(btree_node_check_keys(&n, 100, 198, &bad),
			 BP_KEY_RANGE);
	assert_int_equal(bad, 2);
	bad = 999;
	assert_int_equal(btree_node_check_keys(&n, 0, 149, &bad),
			 BP_KEY_RANGE);
	assert_int_equal(bad, 1);
	bad = 999;
	assert_int_equal(btree_node_check_keys(&n, 200, 300, &bad),
			 BP_KEY_RANGE);
	assert_int_equal(bad, 0);

	/* Stale bytes past nr_entries are ignored. */
	static const uint64_t stale[] = { 5, 6, 7, 1, 1 };
	set_keys(b, &n, stale, 5);
	le32_store(b + 16, 3);
	btree_node_decode(&n, b, 1);
	assert_int_equal(btree_node_check_keys(&n, 5, 7, &bad), BP_NONE);
	bdev_free_buf(b);
}

static void test_block_time(void **state)
{
	(void)state;
	uint64_t v = block_time_pack(0xFFFFFFFFFFull, 0xFFFFFFu);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(block_time_block(v), 0xFFFFFFFFFFull);
	assert_int_equal(block_time_time(v), 0xFFFFFFu);
	assert_int_equal(block_time_block(v), THIN_MAX_DATA_BLOCK);

	v = block_time_pack(0, 0);
	assert_int_equal(v, 0);
	v = block_time_pack(1, 0);
	assert_int_equal(v, 0x01000000u);
	v = block_time_pack(644, 3);
	assert_int_equal(v, (644ull << 24) | 3);
	assert_int_equal(block_time_block(v), 644);
	assert_int_equal(block_time_time(v), 3);

	/* Time is masked to 24 bits and does not spill into the block. */
	v = block_time_pack(5, 0x1000001u);
	assert_int_equal(block_time_block(v), 5);
	assert_int_equal(block_time_time(v), 1);
	v = block_time_pack(0, 0xFFFFFFFFu);
	assert_int_equal(block_time_block(v), 0);
	assert_int_equal(block_time_time(v), 0xFFFFFFu);

	for (uint64_t blk = 1; blk <= THIN_MAX_DATA_BLOCK; blk = blk * 3 + 1)
		for (uint32_t t = 0; t <= 0xFFFFFFu; t = t * 5 + 1) {
			v = block_time_pack(blk, t);
			assert_int_equal(block_time_block(v), blk);
			assert_int_equal(block_time_time(v), t);
		}
}

static void test_details(void **state)
{
	(void)state;
	uint8_t raw[THIN_DETAILS_VALUE_SIZE + 8];
	struct thin_details d = { 0x0102030405060708ull, 0x1112131415161718ull,
				  0x21222324u, 0x31323334u },
			    got;
	memset(raw, 0xcc, sizeof(raw));
	thin_details_encode(&d, raw);
	static const uint8_t want[24] = {
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,
		0x24, 0x23, 0x22, 0x21, 0x34, 0x33, 0x32, 0x31,
	};
	assert_memory_equal(raw, want, 24);
	for (unsigned i = 24; i < sizeof(raw); i++)
		assert_int_equal(raw[i], 0xcc); /* nothing past 24 bytes */
	assert_int_equal(le64_load(raw + 0), d.mapped_blocks);
	assert_int_equal(le64_load(raw + 8), d.transaction_id);
	assert_int_equal(le32_load(raw + 16), d.creation_time);
	assert_int_equal(le32_load(raw + 20), d.snapshotted_time);
	memset(&got, 0, sizeof(got));
	thin_details_decode(&got, raw);
	assert_int_equal(got.mapped_blocks, d.mapped_blocks);
	assert_int_equal(got.transaction_id, d.transaction_id);
	assert_int_equal(got.creation_time, d.creation_time);
	assert_int_equal(got.snapshotted_time, d.snapshotted_time);

	/* Unaligned, and the T3 record of dev 4: (645, 0, 4, 4). */
	struct thin_details d4 = { 645, 0, 4, 4 };
	thin_details_encode(&d4, raw + 3);
	thin_details_decode(&got, raw + 3);
	assert_int_equal(got.mapped_blocks, 645);
	assert_int_equal(got.transaction_id, 0);
	assert_int_equal(got.creation_time, 4);
	assert_int_equal(got.snapshotted_time, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max_entries),
		cmocka_unit_test(test_b3_leaf),
		cmocka_unit_test(test_check_header),
		cmocka_unit_test(test_check_keys),
		cmocka_unit_test(test_block_time),
		cmocka_unit_test(test_details),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
