// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for crc32c.c: the FORMATS.md B.1 vectors, the hardware and
 * table implementations against each other, the three-way interleaved
 * variant and incremental use.
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

/* Deterministic pseudo-random bytes (xorshift64*). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void rng_fill(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(rng_next() >> 56);
}

/* Bit-at-a-time reference CRC-32C (no inversion), independent of lib. */
static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return crc;
}

static int cpu_has_sse42(void)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
#else
	return 0;
#endif
}

/* Run fn once with each implementation, restoring the default after. */
static void both_impls(void (*fn)(void))
{
	crc32c_force_software(1);
	assert_string_equal(crc32c_impl(), "table");
	fn();
	crc32c_force_software(0);
	if (cpu_has_sse42())
		assert_string_equal(crc32c_impl(), "sse4.2");
	else
		assert_string_equal(crc32c_impl(), "table");
	fn();
}

static void check_123456789(void)
{
	static const char s[] = "123456789";
	assert_int_equal(~crc32c_raw(0xffffffffu, s, 9), 0xE3069283u);
	assert_int_equal(crc32c_raw(0xffffffffu, s, 9), ~0xE3069283u);
}

static void test_check_value(void **state)
{
	(void)state;
	assert_int_equal(crc_ref(0xffffffffu, (const uint8_t *)"123456789", 9),
			 ~0xE3069283u);
	both_impls(check_123456789);
}

static void check_zeros_4092(void)
{
	uint8_t *z = calloc(1, 4092);
	assert_non_null(z);
	assert_int_equal(crc32c_raw(0xffffffffu, z, 4092), 0x58CDA791u);
	/* Same from an odd address. */
	uint8_t *z2 = calloc(1, 4093);
	assert_non_null(z2);
	assert_int_equal(crc32c_raw(0xffffffffu, z2 + 1, 4092), 0x58CDA791u);
	free(z2);
	free(z);
}

static void test_zeros_4092(void **state)
{
	(void)state;
	uint8_t z[4092] = { 0 };
	assert_int_equal(crc_ref(0xffffffffu, z, sizeof(z)), 0x58CDA791u);
	both_impls(check_zeros_4092);
}

static void check_salted_zero_block(void)
{
	uint8_t *blk = bdev_alloc_buf(1);
	assert_non_null(blk);
	memset(blk, 0, MD_BLOCK_SIZE);
	assert_int_equal(block_csum(BK_SUPERBLOCK, blk), 0x58CFD397u);
	assert_int_equal(block_csum(BK_BTREE_NODE, blk), 0x58CC7E82u);
	assert_int_equal(block_csum(BK_INDEX, blk), 0x58CFD54Fu);
	assert_int_equal(block_csum(BK_BITMAP, blk), 0x58CE0B1Au);
	/* Bytes 0..3 are not covered. */
	memset(blk, 0xa5, 4);
	assert_int_equal(block_csum(BK_SUPERBLOCK, blk), 0x58CFD397u);
	assert_int_equal(block_csum(BK_BTREE_NODE, blk), 0x58CC7E82u);
	assert_int_equal(block_csum(BK_INDEX, blk), 0x58CFD54Fu);
	assert_int_equal(block_csum(BK_BITMAP, blk), 0x58CE0B1Au);
	bdev_free_buf(blk);
}

static void test_salted_zero_block(void **state)
{
	(void)state;
	assert_int_equal(block_salt(BK_SUPERBLOCK), 160774u);
	assert_int_equal(block_salt(BK_BTREE_NODE), 121107u);
	assert_int_equal(block_salt(BK_BITMAP), 240779u);
	assert_int_equal(block_salt(BK_INDEX), 160478u);
	both_impls(check_salted_zero_block);
}

static void test_empty_buffer(void **state)
{
	(void)state;
	static const uint8_t b[1] = { 0 };
	crc32c_force_software(1);
	assert_int_equal(crc32c_raw(0xffffffffu, b, 0), 0xffffffffu);
	assert_int_equal(crc32c_raw(0x12345678u, b, 0), 0x12345678u);
	crc32c_force_software(0);
	assert_int_equal(crc32c_raw(0xffffffffu, b, 0), 0xffffffffu);
	assert_int_equal(crc32c_raw(0x12345678u, b, 0), 0x12345678u);
}

/* hw and sw agree with each other and with the bitwise reference. */
static void test_hw_sw_agree(void **state)
{
	(void)state;
	enum { MAXLEN = 9000 };
	uint8_t *buf = malloc(MAXLEN + 16);
	assert_non_null(buf);
	rng_fill(buf, MAXLEN + 16);

	for (size_t len = 0; len <= 300; len++) {
		for (unsigned off = 0; off < 16; off++) {
			uint32_t seed = (uint32_t)rng_next();
			uint32_t want = crc_ref(seed, buf + off, len);
			crc32c_force_software(1);
			uint32_t sw = crc32c_raw(seed, buf + off, len);
			crc32c_force_software(0);
			uint32_t hw = crc32c_raw(seed, buf + off, len);
			assert_int_equal(sw, want);
			assert_int_equal(hw, want);
		}
	}
	static const size_t big[] = { 511, 512, 513, 1023, 4092, 4095,
				      4096, 4097, 8191, 8192, MAXLEN };
	for (size_t k = 0; k < sizeof(big) / sizeof(big[0]); k++) {
		for (unsigned off = 0; off < 16; off++) {
			size_t len = big[k];
			uint32_t want = crc_ref(0xffffffffu, buf + off, len);
			crc32c_force_software(1);
			assert_int_equal(crc32c_raw(0xffffffffu, buf + off, len),
					 want);
			crc32c_force_software(0);
			assert_int_equal(crc32c_raw(0xffffffffu, buf + off, len),
					 want);
		}
	}
	free(buf);
}

static void check_x3(void)
{
	enum { MAXLEN = 4200 };
	uint8_t *a = malloc(MAXLEN + 8), *b = malloc(MAXLEN + 8),
		*c = malloc(MAXLEN + 8);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	rng_fill(a, MAXLEN + 8);
	rng_fill(b, MAXLEN + 8);
	rng_fill(c, MAXLEN + 8);

	static const size_t lens[] = { 0,  1,  2,  7,	8,    9,    15,
				       16, 17, 63, 64, 100, 4092, 4095,
				       4096, MAXLEN };
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		for (unsigned off = 0; off < 8; off++) {
			size_t len = lens[k];
			/* Different alignments for the three buffers. */
			const void *bufs[3] = { a + off, b + (off + 3) % 8,
						c + (off + 5) % 8 };
			uint32_t out[3] = { 0, 0, 0 };
			crc32c_raw_x3(bufs, len, out);
			for (int i = 0; i < 3; i++) {
				assert_int_equal(
					out[i],
					crc32c_raw(0xffffffffu, bufs[i], len));
				assert_int_equal(
					out[i],
					crc_ref(0xffffffffu, bufs[i], len));
			}
		}
	}
	/* Three identical buffers give three identical results. */
	const void *same[3] = { a, a, a };
	uint32_t o[3];
	crc32c_raw_x3(same, 4092, o);
	assert_int_equal(o[0], o[1]);
	assert_int_equal(o[1], o[2]);
	free(a);
	free(b);
	free(c);
}

static void test_x3(void **state)
{
	(void)state;
	both_impls(check_x3);
}

static void check_incremental(void)
{
	enum { LEN = 5000 };
	uint8_t *buf = malloc(LEN + 8);
	assert_non_null(buf);
	rng_fill(buf, LEN + 8);
	for (unsigned off = 0; off < 8; off += 3) {
		const uint8_t *p = buf + off;
		uint32_t whole = crc32c_raw(0xffffffffu, p, LEN);
		for (size_t split = 0; split <= LEN; split += 37) {
			uint32_t c = crc32c_raw(0xffffffffu, p, split);
			c = crc32c_raw(c, p + split, LEN - split);
			assert_int_equal(c, whole);
		}
		/* Byte by byte for a short prefix. */
		uint32_t c = 0xffffffffu;
		for (size_t i = 0; i < 100; i++)
			c = crc32c_raw(c, p + i, 1);
		assert_int_equal(c, crc32c_raw(0xffffffffu, p, 100));
		/* Three pieces. */
		c = crc32c_raw(0xffffffffu, p, 3);
		c = crc32c_raw(c, p + 3, 1001);
		c = crc32c_raw(c, p + 1004, LEN - 1004);
		assert_int_equal(c, whole);
	}
	/* "123456789" in two pieces. */
	uint32_t c = crc32c_raw(0xffffffffu, "1234", 4);
	c = crc32c_raw(c, "56789", 5);
	assert_int_equal(~c, 0xE3069283u);
	free(buf);
}

static void test_incremental(void **state)
{
	(void)state;
	both_impls(check_incremental);
}

/* Mixing implementations in one incremental computation. */
static void test_incremental_mixed(void **state)
{
	(void)state;
	uint8_t buf[1000];
	rng_fill(buf, sizeof(buf));
	crc32c_force_software(0);
	uint32_t whole = crc32c_raw(0xffffffffu, buf, sizeof(buf));
	crc32c_force_software(1);
	uint32_t c = crc32c_raw(0xffffffffu, buf, 333);
	crc32c_force_software(0);
	c = crc32c_raw(c, buf + 333, sizeof(buf) - 333);
	assert_int_equal(c, whole);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_zeros_4092),
		cmocka_unit_test(test_salted_zero_block),
		cmocka_unit_test(test_empty_buffer),
		cmocka_unit_test(test_hw_sw_agree),
		cmocka_unit_test(test_x3),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_incremental_mixed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
