// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * md_tag IMAGE
 *
 * Test helper for the fuzz targets (tests/fuzz/fuzz_thin_md.c): replace
 * the checksum of every intact metadata block of IMAGE with a tag saying
 * its kind (1 superblock, 2 btree node, 3 bitmap, 4 index), so that the
 * target can seal the block again after the fuzzer has changed it.
 * Prints how many blocks of each kind were tagged.
 */
#include <stdio.h>

#include "block_io.h"
#include "block_validator.h"
#include "endian_le.h"

int main(int argc, char **argv)
{
	static const enum block_kind kinds[] = { BK_SUPERBLOCK, BK_BTREE_NODE,
						 BK_BITMAP, BK_INDEX };
	unsigned long tagged[4] = { 0 };
	static unsigned char blk[MD_BLOCK_SIZE];
	if (argc != 2) {
		fprintf(stderr, "usage: md_tag IMAGE\n");
		return 1;
	}
	FILE *f = fopen(argv[1], "r+b");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	for (long b = 0; fread(blk, MD_BLOCK_SIZE, 1, f) == 1; b++) {
		for (unsigned k = 0; k < 4; k++) {
			if (block_validate(kinds[k], blk, (uint64_t)b) != BV_OK)
				continue;
			le32_store(blk, k + 1);
			if (fseek(f, b * (long)MD_BLOCK_SIZE, SEEK_SET) ||
			    fwrite(blk, MD_BLOCK_SIZE, 1, f) != 1 ||
			    fseek(f, (b + 1) * (long)MD_BLOCK_SIZE, SEEK_SET)) {
				perror(argv[1]);
				return 1;
			}
			tagged[k]++;
			break;
		}
	}
	if (fclose(f)) {
		perror(argv[1]);
		return 1;
	}
	printf("%lu superblock, %lu node, %lu bitmap, %lu index\n", tagged[0],
	       tagged[1], tagged[2], tagged[3]);
	return 0;
}
