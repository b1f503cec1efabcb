// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mk_cow FILE CHUNK_SECTORS NR_CHUNKS [VALID]
 *
 * Test helper: write a persistent exception store (FORMATS.md B.3-B.5)
 * of NR_CHUNKS chunks with the exceptions read from stdin, one
 * "OLD NEW" pair per line, in order: header chunk, then each metadata
 * area filled in turn, zeros elsewhere.  The new chunks are written as
 * given, so tests can make any store, good or damaged.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endian_le.h"

static int fail(const char *msg)
{
	fprintf(stderr, "mk_cow: %s\n", msg);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5)
		return fail("usage: mk_cow FILE CHUNK_SECTORS NR_CHUNKS [VALID] < pairs");
	uint64_t cs = strtoull(argv[2], NULL, 10), n = strtoull(argv[3], NULL, 10);
	uint32_t valid = argc == 5 ? (uint32_t)strtoul(argv[4], NULL, 10) : 1;
	uint64_t cb = cs * 512, per_area = cb / 16;
	FILE *f = fopen(argv[1], "w+b");
	if (!f || !cs || !n)
		return fail("bad arguments or cannot create the file");
	uint8_t *chunk = calloc(1, cb);
	if (!chunk || fseeko(f, (off_t)(n * cb) - 1, SEEK_SET) || fputc(0, f) == EOF)
		return fail("cannot size the file");
	le32_store(chunk, 0x70416e53u);
	le32_store(chunk + 4, valid);
	le32_store(chunk + 8, 1);
	le32_store(chunk + 12, (uint32_t)cs);
	if (fseeko(f, 0, SEEK_SET) || fwrite(chunk, 16, 1, f) != 1)
		return fail("write failed");
	uint64_t k = 0, old, new_chunk;
	while (scanf("%" SCNu64 " %" SCNu64, &old, &new_chunk) == 2) {
		uint64_t area = k / per_area, i = k % per_area;
		uint64_t off = (1 + area * (per_area + 1)) * cb + i * 16;
		uint8_t e[16];
		le64_store(e, old);
		le64_store(e + 8, new_chunk);
		if (off + 16 > n * cb)
			return fail("exceptions do not fit on the device");
		if (fseeko(f, (off_t)off, SEEK_SET) || fwrite(e, 16, 1, f) != 1)
			return fail("write failed");
		k++;
	}
	free(chunk);
	return fclose(f) ? fail("close failed") : 0;
}
