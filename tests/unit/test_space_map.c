// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for space_map.h/.c and refcount.c: bitmap entry order
 * (FORMATS.md A.7.3), word masks, root blob and index entry layout
 * (A.7.1, A.7.2, B.4), and the in-memory reference counts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "endian_le.h"
#include "refcount.h"
#include "space_map.h"

/* The formula of FORMATS.md A.7.3, written independently. */
static unsigned spec_get(const uint8_t *body, unsigned j)
{
	unsigned byte = body[j / 4], p = 2 * (j % 4);
	return (((byte >> p) & 1) << 1) | ((byte >> (p + 1)) & 1);
}

static void test_bitmap_examples(void **state)
{
	(void)state;
	uint8_t body[8] = { 0x2a, 0x9f, 0x55, 0xdf, 0x02, 0x01, 0, 0 };

	/* 0x2A: three blocks with count 1 and one free block. */
	assert_int_equal(sm_bitmap_get(body, 0), 1);
	assert_int_equal(sm_bitmap_get(body, 1), 1);
	assert_int_equal(sm_bitmap_get(body, 2), 1);
	assert_int_equal(sm_bitmap_get(body, 3), 0);
	/* 0x9F: counts >=3, >=3, 2, 1. */
	assert_int_equal(sm_bitmap_get(body, 4), 3);
	assert_int_equal(sm_bitmap_get(body, 5), 3);
	assert_int_equal(sm_bitmap_get(body, 6), 2);
	assert_int_equal(sm_bitmap_get(body, 7), 1);
	/* 0x55 = 01010101: every pair has bit p set, p+1 clear: all 2. */
	for (unsigned j = 8; j < 12; j++)
		assert_int_equal(sm_bitmap_get(body, j), 2);
	/* 0xDF = 11011111: 3, 3, 2, 3. */
	assert_int_equal(sm_bitmap_get(body, 12), 3);
	assert_int_equal(sm_bitmap_get(body, 13), 3);
	assert_int_equal(sm_bitmap_get(body, 14), 2);
	assert_int_equal(sm_bitmap_get(body, 15), 3);
	/* The table's single-entry patterns: 0x02 is count 1, 0x01 is 2. */
	assert_int_equal(sm_bitmap_get(body, 16), 1);
	assert_int_equal(sm_bitmap_get(body, 20), 2);
	for (unsigned j = 17; j < 20; j++)
		assert_int_equal(sm_bitmap_get(body, j), 0);
	for (unsigned j = 0; j < 32; j++)
		assert_int_equal(sm_bitmap_get(body, j), spec_get(body, j));

	/* Building 0x2A and 0x9F with sm_bitmap_set. */
	uint8_t b[2] = { 0, 0 };
	sm_bitmap_set(b, 0, 1);
	sm_bitmap_set(b, 1, 1);
	sm_bitmap_set(b, 2, 1);
	sm_bitmap_set(b, 4, 3);
	sm_bitmap_set(b, 5, 3);
	sm_bitmap_set(b, 6, 2);
	sm_bitmap_set(b, 7, 1);
	assert_int_equal(b[0], 0x2a);
	assert_int_equal(b[1], 0x9f);
}

static void test_bitmap_set_get_all(void **state)
{
	(void)state;
	uint8_t *body = malloc(4080);
	assert_non_null(body);
	/* Every value at every position, on every background. */
	for (unsigned bg = 0; bg < 256; bg += 0x55) {
		memset(body, (int)bg, 4080);
		for (unsigned j = 0; j < 16320; j++) {
			unsigned before_prev = j ? sm_bitmap_get(body, j - 1) : 0;
			unsigned before_next =
				j + 1 < 16320 ? sm_bitmap_get(body, j + 1) : 0;
			for (unsigned v = 0; v < 4; v++) {
				sm_bitmap_set(body, j, v);
				assert_int_equal(sm_bitmap_get(body, j), v);
				assert_int_equal(spec_get(body, j), v);
				if (j)
					assert_int_equal(
						sm_bitmap_get(body, j - 1),
						before_prev);
				if (j + 1 < 16320)
					assert_int_equal(
						sm_bitmap_get(body, j + 1),
						before_next);
			}
			sm_bitmap_set(body, j, (j * 7) & 3);
		}
		for (unsigned j = 0; j < 16320; j++)
			assert_int_equal(sm_bitmap_get(body, j), (j * 7) & 3);
	}
	free(body);
}

static void test_word_masks(void **state)
{
	(void)state;
	uint8_t body[8] = { 0 };
	for (unsigned trial = 0; trial < 2000; trial++) {
		for (unsigned j = 0; j < 32; j++)
			sm_bitmap_set(body, j, (trial * 13 + j * j * 5 + j) & 3);
		if (trial == 0)
			memset(body, 0, 8);
		if (trial == 1)
			memset(body, 0xff, 8);
		uint64_t w = le64_load(body);
		uint64_t threes = sm_word_threes(w), used = sm_word_used(w);
		assert_int_equal(threes & ~0x5555555555555555ull, 0);
		assert_int_equal(used & ~0x5555555555555555ull, 0);
		for (unsigned j = 0; j < 32; j++) {
			unsigned v = sm_bitmap_get(body, j);
			/* Entry j of the word lives at bits 2j, 2j+1. */
			assert_int_equal((threes >> (2 * j)) & 1, v == 3);
			assert_int_equal((used >> (2 * j)) & 1, v != 0);
		}
	}
	/* The bytes of the A.7.3 / B.4 examples. */
	uint8_t ex[8] = { 0x2a, 0x9f, 0x55, 0xdf, 0, 0, 0, 0 };
	uint64_t w = le64_load(ex);
	/* 0x2A: entries 0..2 used; 0x9F: entries 4..7 used, 4,5 threes;
	 * 0x55: 8..11 used; 0xDF: 12..15 used, 12, 13, 15 threes. */
	assert_int_equal(sm_word_used(w), 0x55555515ull);
	assert_int_equal(sm_word_threes(w), (1ull << 8) | (1ull << 10) |
						    (1ull << 24) |
						    (1ull << 26) |
						    (1ull << 30));
	assert_int_equal(sm_word_used(0), 0);
	assert_int_equal(sm_word_threes(UINT64_MAX), 0x5555555555555555ull);
	assert_int_equal(sm_word_used(UINT64_MAX), 0x5555555555555555ull);
	assert_int_equal(sm_word_used(0xaaaaaaaaaaaaaaaaull),
			 0x5555555555555555ull);
	assert_int_equal(sm_word_threes(0xaaaaaaaaaaaaaaaaull), 0);
	assert_int_equal(sm_word_threes(0x5555555555555555ull), 0);
}

static void test_sm_root(void **state)
{
	(void)state;
	uint8_t raw[SM_ROOT_SIZE + 8];
	struct sm_root r = { 0x0102030405060708ull, 0x1112131415161718ull,
			     0x2122232425262728ull, 0x3132333435363738ull },
		       got;
	memset(raw, 0xcc, sizeof(raw));
	sm_root_encode(&r, raw);
	assert_int_equal(le64_load(raw + 0), r.nr_blocks);
	assert_int_equal(le64_load(raw + 8), r.nr_allocated);
	assert_int_equal(le64_load(raw + 16), r.bitmap_root);
	assert_int_equal(le64_load(raw + 24), r.ref_count_root);
	assert_int_equal(raw[0], 0x08);
	assert_int_equal(raw[7], 0x01);
	for (unsigned i = 32; i < SM_ROOT_SIZE; i++)
		assert_int_equal(raw[i], 0); /* the other 96 bytes are zero */
	for (unsigned i = SM_ROOT_SIZE; i < sizeof(raw); i++)
		assert_int_equal(raw[i], 0xcc);
	memset(&got, 0, sizeof(got));
	sm_root_decode(&got, raw);
	assert_int_equal(got.nr_blocks, r.nr_blocks);
	assert_int_equal(got.nr_allocated, r.nr_allocated);
	assert_int_equal(got.bitmap_root, r.bitmap_root);
	assert_int_equal(got.ref_count_root, r.ref_count_root);

	/* B.2 data sm root: 4096, 0, 10, 5. */
	static const uint8_t b2[32] = { 0x00, 0x10, 0, 0, 0, 0, 0, 0,
					0,    0,    0, 0, 0, 0, 0, 0,
					0x0a, 0,    0, 0, 0, 0, 0, 0,
					0x05, 0,    0, 0, 0, 0, 0, 0 };
	sm_root_decode(&got, b2);
	assert_int_equal(got.nr_blocks, 4096);
	assert_int_equal(got.nr_allocated, 0);
	assert_int_equal(got.bitmap_root, 10);
	assert_int_equal(got.ref_count_root, 5);

	assert_int_equal(sm_nr_bitmaps(0), 0);
	assert_int_equal(sm_nr_bitmaps(1), 1);
	assert_int_equal(sm_nr_bitmaps(16320), 1);
	assert_int_equal(sm_nr_bitmaps(16321), 2);
	assert_int_equal(sm_nr_bitmaps(65536), 5); /* T3: 5 data bitmaps */
	assert_int_equal(sm_nr_bitmaps(SM_METADATA_MAX_BLOCKS), 255);
	assert_int_equal(SM_METADATA_MAX_BLOCKS, 4161600);
	assert_int_equal(SM_ENTRIES_PER_BITMAP, SM_BITMAP_BYTES * 4);
	assert_int_equal(SM_BITMAP_HEADER + SM_BITMAP_BYTES, 4096);
	assert_int_equal(16 + SM_METADATA_MAX_BITMAPS * SM_INDEX_ENTRY_SIZE,
			 4096);
}

static void test_index_entry(void **state)
{
	(void)state;
	/* B.4, metadata index block 23: bitmap 18, nr_free 16310, nfb 1. */
	static const uint8_t b4[16] = { 0x12, 0, 0, 0, 0, 0, 0, 0,
					0xb6, 0x3f, 0, 0, 0x01, 0, 0, 0 };
	struct sm_index_entry e;
	memset(&e, 0xff, sizeof(e));
	sm_index_entry_decode(&e, b4);
	assert_int_equal(e.blocknr, 18);
	assert_int_equal(e.nr_free, 16310);
	assert_int_equal(e.none_free_before, 1);

	uint8_t raw[SM_INDEX_ENTRY_SIZE + 4];
	memset(raw, 0xcc, sizeof(raw));
	sm_index_entry_encode(&e, raw);
	assert_memory_equal(raw, b4, 16);
	for (unsigned i = 16; i < sizeof(raw); i++)
		assert_int_equal(raw[i], 0xcc);

	/* B.4, data index tree leaf: bitmap 17, nr_free 16317, nfb 3. */
	static const uint8_t b4d[16] = { 0x11, 0, 0, 0, 0, 0, 0, 0,
					 0xbd, 0x3f, 0, 0, 0x03, 0, 0, 0 };
	sm_index_entry_decode(&e, b4d);
	assert_int_equal(e.blocknr, 17);
	assert_int_equal(e.nr_free, 16317);
	assert_int_equal(e.none_free_before, 3);

	/* Exact offsets 0, 8, 12 with distinct bytes. */
	struct sm_index_entry x = { 0x0102030405060708ull, 0x11121314u,
				    0x21222324u },
			      y;
	sm_index_entry_encode(&x, raw + 1);
	assert_int_equal(le64_load(raw + 1), x.blocknr);
	assert_int_equal(le32_load(raw + 9), x.nr_free);
	assert_int_equal(le32_load(raw + 13), x.none_free_before);
	sm_index_entry_decode(&y, raw + 1);
	assert_int_equal(y.blocknr, x.blocknr);
	assert_int_equal(y.nr_free, x.nr_free);
	assert_int_equal(y.none_free_before, x.none_free_before);
}

static void test_refcount_basic(void **state)
{
	(void)state;
	struct refcount rc;
	assert_int_equal(refcount_init(&rc, 100000), 0);
	assert_int_equal(rc.nr_blocks, 100000);
	assert_int_equal(rc.nr_segments, 7);
	for (uint64_t i = 0; i < 8; i++)
		assert_null(refcount_segment(&rc, i));
	assert_int_equal(refcount_get(&rc, 0), 0);
	assert_int_equal(refcount_get(&rc, 99999), 0);

	/* Counts 1, 2, 3, 4 and 1000 (the last three in the overflow). */
	static const uint64_t blk[5] = { 5, 16319, 16320, 50000, 99999 };
	static const uint32_t cnt[5] = { 1, 2, 3, 4, 1000 };
	for (int k = 0; k < 5; k++) {
		for (uint32_t i = 0; i < cnt[k]; i++) {
			assert_int_equal(refcount_inc(&rc, blk[k]), 0);
			assert_int_equal(refcount_get(&rc, blk[k]), i + 1);
		}
	}
	for (int k = 0; k < 5; k++)
		assert_int_equal(refcount_get(&rc, blk[k]), cnt[k]);
	assert_int_equal(refcount_overflow_get(&rc, 16320), 3);
	assert_int_equal(refcount_overflow_get(&rc, 50000), 4);
	assert_int_equal(refcount_overflow_get(&rc, 99999), 1000);
	assert_int_equal(refcount_overflow_get(&rc, 5), 0);
	/* Neighbours untouched. */
	assert_int_equal(refcount_get(&rc, 4), 0);
	assert_int_equal(refcount_get(&rc, 6), 0);
	assert_int_equal(refcount_get(&rc, 16321), 0);
	assert_int_equal(refcount_get(&rc, 99998), 0);

	/* Segments: 0 (5, 16319), 1 (16320), 3 (50000), 6 (99999). */
	static const int touched[7] = { 1, 1, 0, 1, 0, 0, 1 };
	for (uint64_t s = 0; s < 7; s++) {
		const uint8_t *seg = refcount_segment(&rc, s);
		if (!touched[s]) {
			assert_null(seg);
			continue;
		}
		assert_non_null(seg);
		for (unsigned j = 0; j < SM_ENTRIES_PER_BITMAP; j++) {
			uint64_t b = s * SM_ENTRIES_PER_BITMAP + j;
			uint32_t c = refcount_get(&rc, b);
			assert_int_equal(sm_bitmap_get(seg, j), c < 3 ? c : 3);
		}
	}
	assert_null(refcount_segment(&rc, 7));
	assert_null(refcount_segment(&rc, UINT64_MAX));

	/* Past the end. */
	assert_int_equal(refcount_inc(&rc, 100000), -ERANGE);
	assert_int_equal(refcount_inc(&rc, UINT64_MAX), -ERANGE);
	assert_int_equal(refcount_set(&rc, 100000, 1), -ERANGE);
	assert_int_equal(refcount_get(&rc, 100000), 0);
	assert_int_equal(refcount_get(&rc, UINT64_MAX), 0);
	refcount_release(&rc);
}

static void test_refcount_set(void **state)
{
	(void)state;
	struct refcount rc;
	assert_int_equal(refcount_init(&rc, 40000), 0);
	static const uint32_t vals[] = { 1, 0, 2, 3, 7, 2, 100000, 1, 3, 0,
					 UINT32_MAX };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		assert_int_equal(refcount_set(&rc, 20000, vals[i]), 0);
		assert_int_equal(refcount_get(&rc, 20000), vals[i]);
		const uint8_t *seg = refcount_segment(&rc, 1);
		assert_non_null(seg);
		assert_int_equal(sm_bitmap_get(seg, 20000 - 16320),
				 vals[i] < 3 ? vals[i] : 3);
	}
	/* inc continues from a set value, through the overflow boundary. */
	assert_int_equal(refcount_set(&rc, 7, 2), 0);
	assert_int_equal(refcount_inc(&rc, 7), 0);
	assert_int_equal(refcount_get(&rc, 7), 3);
	assert_int_equal(refcount_inc(&rc, 7), 0);
	assert_int_equal(refcount_get(&rc, 7), 4);
	assert_int_equal(refcount_set(&rc, 7, 1), 0);
	assert_int_equal(refcount_get(&rc, 7), 1);
	assert_int_equal(refcount_inc(&rc, 7), 0);
	assert_int_equal(refcount_inc(&rc, 7), 0);
	assert_int_equal(refcount_get(&rc, 7), 3);
	assert_int_equal(refcount_set(&rc, 7, 50), 0);
	assert_int_equal(refcount_inc(&rc, 7), 0);
	assert_int_equal(refcount_get(&rc, 7), 51);
	assert_int_equal(refcount_get(&rc, 39999), 0);
	assert_int_equal(refcount_set(&rc, 39999, 5), 0);
	assert_int_equal(refcount_get(&rc, 39999), 5);
	refcount_release(&rc);
}

static void test_refcount_many_overflow(void **state)
{
	(void)state;
	struct refcount rc;
	enum { N = 10000, TIMES = 5 };
	assert_int_equal(refcount_init(&rc, 100000), 0);
	/* Interleaved: every block goes past 3 in the same pass. */
	for (int t = 0; t < TIMES; t++)
		for (uint64_t i = 0; i < N; i++)
			assert_int_equal(refcount_inc(&rc, i * 9 + 3), 0);
	assert_true(rc.ovf.cap >= 2 * N); /* the hash grew */
	assert_int_equal(rc.ovf.used, N);
	for (uint64_t i = 0; i < N; i++) {
		uint64_t b = i * 9 + 3;
		assert_int_equal(refcount_get(&rc, b), TIMES);
		assert_int_equal(refcount_overflow_get(&rc, b), TIMES);
		assert_int_equal(refcount_get(&rc, b + 1), 0);
	}
	/* Different counts per block, including some staying below 3. */
	for (uint64_t i = 0; i < N; i++)
		for (uint64_t k = 0; k < i % 7; k++)
			assert_int_equal(refcount_inc(&rc, i * 9 + 4), 0);
	for (uint64_t i = 0; i < N; i++) {
		assert_int_equal(refcount_get(&rc, i * 9 + 4), i % 7);
		assert_int_equal(refcount_get(&rc, i * 9 + 3), TIMES);
	}
	/* Segments agree with min(count, 3). */
	for (uint64_t s = 0; s < rc.nr_segments; s++) {
		const uint8_t *seg = refcount_segment(&rc, s);
		if (!seg)
			continue;
		for (unsigned j = 0; j < SM_ENTRIES_PER_BITMAP; j++) {
			uint64_t b = s * SM_ENTRIES_PER_BITMAP + j;
			uint32_t c = refcount_get(&rc, b);
			assert_int_equal(sm_bitmap_get(seg, j), c < 3 ? c : 3);
		}
	}
	/* Entries past nr_blocks in the last segment stay 0. */
	const uint8_t *last = refcount_segment(&rc, rc.nr_segments - 1);
	if (last)
		for (unsigned j = 100000 % SM_ENTRIES_PER_BITMAP;
		     j < SM_ENTRIES_PER_BITMAP; j++)
			assert_int_equal(sm_bitmap_get(last, j), 0);
	refcount_release(&rc);
}

static void test_refcount_sizes(void **state)
{
	(void)state;
	struct refcount rc;
	/* Zero blocks: nothing can be counted. */
	assert_int_equal(refcount_init(&rc, 0), 0);
	assert_int_equal(rc.nr_segments, 0);
	assert_null(refcount_segment(&rc, 0));
	assert_int_equal(refcount_inc(&rc, 0), -ERANGE);
	assert_int_equal(refcount_get(&rc, 0), 0);
	refcount_release(&rc);

	/* Exactly one bitmap, and one more block. */
	assert_int_equal(refcount_init(&rc, 16320), 0);
	assert_int_equal(rc.nr_segments, 1);
	assert_int_equal(refcount_inc(&rc, 16319), 0);
	assert_int_equal(refcount_inc(&rc, 16320), -ERANGE);
	refcount_release(&rc);
	assert_int_equal(refcount_init(&rc, 16321), 0);
	assert_int_equal(rc.nr_segments, 2);
	assert_int_equal(refcount_inc(&rc, 16320), 0);
	assert_null(refcount_segment(&rc, 0));
	assert_non_null(refcount_segment(&rc, 1));
	assert_int_equal(sm_bitmap_get(refcount_segment(&rc, 1), 0), 1);
	refcount_release(&rc);

	/* A large sparse device: memory follows use. */
	assert_int_equal(refcount_init(&rc, 1ull << 32), 0);
	assert_int_equal(refcount_inc(&rc, (1ull << 32) - 1), 0);
	assert_int_equal(refcount_get(&rc, (1ull << 32) - 1), 1);
	uint64_t last = sm_nr_bitmaps(1ull << 32) - 1;
	assert_non_null(refcount_segment(&rc, last));
	assert_null(refcount_segment(&rc, last - 1));
	refcount_release(&rc);
}

/* Increments at every position of a byte, from every starting value. */
static void test_refcount_inc_positions(void **state)
{
	(void)state;
	struct refcount rc;
	assert_int_equal(refcount_init(&rc, 3 * 16320), 0);
	/* First count in a segment, then the fast path on later ones. */
	for (uint64_t b = 16320; b < 16320 + 64; b++) {
		uint32_t want = (uint32_t)((b * 7) % 6);
		for (uint32_t i = 0; i < want; i++)
			assert_int_equal(refcount_inc(&rc, b), 0);
	}
	const uint8_t *seg = refcount_segment(&rc, 1);
	assert_non_null(seg);
	for (uint64_t b = 16320; b < 16320 + 64; b++) {
		uint32_t want = (uint32_t)((b * 7) % 6);
		assert_int_equal(refcount_get(&rc, b), want);
		assert_int_equal(sm_bitmap_get(seg, (unsigned)(b - 16320)),
				 want < 3 ? want : 3);
	}
	for (unsigned j = 64; j < SM_ENTRIES_PER_BITMAP; j++)
		assert_int_equal(sm_bitmap_get(seg, j), 0);
	assert_null(refcount_segment(&rc, 0));
	assert_null(refcount_segment(&rc, 2));

	/* Interleaved increments of the four entries sharing one byte. */
	for (int round = 0; round < 5; round++)
		for (uint64_t b = 40; b < 44; b++)
			if ((uint64_t)round <= b - 40 + 1)
				assert_int_equal(refcount_inc(&rc, b), 0);
	assert_int_equal(refcount_get(&rc, 40), 2);
	assert_int_equal(refcount_get(&rc, 41), 3);
	assert_int_equal(refcount_get(&rc, 42), 4);
	assert_int_equal(refcount_get(&rc, 43), 5);
	assert_int_equal(refcount_get(&rc, 39), 0);
	assert_int_equal(refcount_get(&rc, 44), 0);
	/* Byte 10 of segment 0: entries 40..43 are 2, 3, 3, 3. */
	assert_int_equal(refcount_segment(&rc, 0)[10], 0xfd);
	refcount_release(&rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bitmap_examples),
		cmocka_unit_test(test_bitmap_set_get_all),
		cmocka_unit_test(test_word_masks),
		cmocka_unit_test(test_sm_root),
		cmocka_unit_test(test_index_entry),
		cmocka_unit_test(test_refcount_basic),
		cmocka_unit_test(test_refcount_set),
		cmocka_unit_test(test_refcount_many_overflow),
		cmocka_unit_test(test_refcount_sizes),
		cmocka_unit_test(test_refcount_inc_positions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
