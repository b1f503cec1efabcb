// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fill_pattern FILE BYTES SEED
 *
 * Test helper: create (or overwrite) FILE with BYTES bytes of
 * deterministic data: every 8-byte word is a hash of SEED and its offset,
 * so any two chunks of any two files made with different seeds differ.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: fill_pattern FILE BYTES SEED\n");
		return 1;
	}
	uint64_t bytes = strtoull(argv[2], NULL, 10), seed = strtoull(argv[3], NULL, 10);
	FILE *f = fopen(argv[1], "wb");
	static uint64_t buf[8192];
	if (!f)
		return 1;
	for (uint64_t off = 0; off < bytes;) {
		size_t n = 0;
		for (; n < 8192 && off + n * 8 < bytes; n++)
			buf[n] = mix(seed * 0x100000001b3ull ^ ((off >> 3) + n));
		size_t len = bytes - off < n * 8 ? (size_t)(bytes - off) : n * 8;
		if (fwrite(buf, 1, len, f) != len)
			return 1;
		off += len;
	}
	return fclose(f) ? 1 : 0;
}
