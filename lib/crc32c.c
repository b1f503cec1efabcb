// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CRC-32C: slicing-by-8 tables for any CPU, the SSE4.2 crc32 instruction
 * on x86-64 when cpuid says it is there.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#include "endian_le.h"

#define CRC32C_POLY 0x82f63b78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int force_sw;

static void table_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
		table[0][i] = c;
	}
	for (unsigned i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^
				      table[0][table[t - 1][i] & 0xff];
}

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	pthread_once(&table_once, table_init);
	while (len && ((uintptr_t)p & 7)) {
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		uint32_t lo = le32_load(p) ^ crc;
		uint32_t hi = le32_load(p + 4);
		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		      table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
		      table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
		      table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__)
#include <cpuid.h>

__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;
	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	while (len >= 8) {
		c = __builtin_ia32_crc32di(c, le64_load(p));
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

__attribute__((target("sse4.2"))) static void
crc32c_hw_x3(const uint8_t *a, const uint8_t *b, const uint8_t *c, size_t len,
	     uint32_t out[3])
{
	uint64_t ca = 0xffffffffu, cb = 0xffffffffu, cc = 0xffffffffu;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		ca = __builtin_ia32_crc32di(ca, le64_load(a + i));
		cb = __builtin_ia32_crc32di(cb, le64_load(b + i));
		cc = __builtin_ia32_crc32di(cc, le64_load(c + i));
	}
	for (; i < len; i++) {
		ca = __builtin_ia32_crc32qi((uint32_t)ca, a[i]);
		cb = __builtin_ia32_crc32qi((uint32_t)cb, b[i]);
		cc = __builtin_ia32_crc32qi((uint32_t)cc, c[i]);
	}
	out[0] = (uint32_t)ca;
	out[1] = (uint32_t)cb;
	out[2] = (uint32_t)cc;
}

static int have_sse42(void)
{
	static int cached = -1;
	if (cached < 0) {
		unsigned eax, ebx, ecx = 0, edx;
		cached = __get_cpuid(1, &eax, &ebx, &ecx, &edx) &&
			 (ecx & bit_SSE4_2);
	}
	return cached && !force_sw;
}
#else
static int have_sse42(void)
{
	return 0;
}
#endif

uint32_t crc32c_raw(uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__)
	if (have_sse42())
		return crc32c_hw(crc, buf, len);
#endif
	return crc32c_sw(crc, buf, len);
}

void crc32c_raw_x3(const void *const buf[3], size_t len, uint32_t out[3])
{
#if defined(__x86_64__)
	if (have_sse42()) {
		crc32c_hw_x3(buf[0], buf[1], buf[2], len, out);
		return;
	}
#endif
	for (int i = 0; i < 3; i++)
		out[i] = crc32c_sw(0xffffffffu, buf[i], len);
}

const char *crc32c_impl(void)
{
	return have_sse42() ? "sse4.2" : "table";
}

void crc32c_force_software(int on)
{
	force_sw = on;
}
