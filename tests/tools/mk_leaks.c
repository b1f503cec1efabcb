// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mk_leaks IMG data|metadata FROM COUNT [--bitmap-only]
 *
 * Test helper: make COUNT leaked blocks in a space map of thin-pool
 * metadata: the first COUNT blocks at or after FROM that are free (bitmap
 * entry 0; block 0 never) get count 1 with nothing referencing them.  By
 * default this is done as the kernel allocates a block: bitmap entry
 * 0 -> 1, the index entry's nr_free - 1, its none_free_before moved past
 * the block when it pointed at it, nr_allocated + 1, block 0 last.  With
 * --bitmap-only only the bitmap entries change (hints left stale).
 *
 * Prints the leaked blocks on stdout, one line, separated by spaces.
 * Fails (exit 1) when fewer than COUNT free blocks follow FROM.
 */
#include <stdio.h>
#include <stdlib.h>

#include "md_edit.h"

/* The index block (or leaf) holding block b's index entry, and the entry. */
struct entry_at {
	uint8_t blk[MD_BLK];
	uint64_t where;
	unsigned off;
	enum block_kind kind;
	struct sm_index_entry e;
};

static int load_entry(struct md_img *m, bool data, uint64_t b, struct entry_at *x)
{
	if (md_index_entry(m, data, b / SM_ENTRIES_PER_BITMAP, &x->where, &x->off,
			   &x->kind) ||
	    md_read(m, x->where, x->blk))
		return -EIO;
	sm_index_entry_decode(&x->e, x->blk + x->off);
	return 0;
}

/* Entry j of the bitmap holding b: 0 -> 1, nothing else. */
static int set_bitmap_entry(struct md_img *m, bool data, uint64_t b)
{
	struct entry_at x;
	uint8_t bb[MD_BLK];

	if (load_entry(m, data, b, &x) || md_read(m, x.e.blocknr, bb))
		return -EIO;
	sm_bitmap_set(bb + SM_BITMAP_HEADER, (unsigned)(b % SM_ENTRIES_PER_BITMAP), 1);
	block_seal(BK_BITMAP, bb, x.e.blocknr);
	return md_write(m, x.e.blocknr, bb);
}

/* The kernel moves none_free_before past a block it allocates there. */
static int move_hint(struct md_img *m, bool data, uint64_t b)
{
	struct entry_at x;
	unsigned j = (unsigned)(b % SM_ENTRIES_PER_BITMAP);

	if (load_entry(m, data, b, &x))
		return -EIO;
	if (x.e.none_free_before != j)
		return 0;
	x.e.none_free_before = j + 1;
	sm_index_entry_encode(&x.e, x.blk + x.off);
	block_seal(x.kind, x.blk, x.where);
	return md_write(m, x.where, x.blk);
}

static int leak(struct md_img *m, bool data, uint64_t b, bool bitmap_only)
{
	if (bitmap_only)
		return set_bitmap_entry(m, data, b);
	return md_adjust(m, data, b, +1) || move_hint(m, data, b) ? -EIO : 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: mk_leaks IMG data|metadata FROM COUNT [--bitmap-only]\n");
	return 1;
}

int main(int argc, char **argv)
{
	struct md_img m;
	bool data, bitmap_only = argc == 6 && !strcmp(argv[5], "--bitmap-only");
	uint64_t b, left;

	if ((argc != 5 && !bitmap_only) ||
	    (strcmp(argv[2], "data") && strcmp(argv[2], "metadata")))
		return usage();
	(void)md_alloc; /* an md_edit.h helper this tool does not need */
	data = !strcmp(argv[2], "data");
	b = strtoull(argv[3], NULL, 10);
	left = strtoull(argv[4], NULL, 10);
	if (md_open(&m, argv[1])) {
		fprintf(stderr, "mk_leaks: cannot open %s as thin metadata\n", argv[1]);
		return 1;
	}
	if (!data && b == 0)
		b = 1;
	for (const char *sep = ""; left && b < md_root(&m, data)->nr_blocks; b++) {
		unsigned v;
		if (md_count(&m, data, b, &v))
			return 1;
		if (v)
			continue;
		if (leak(&m, data, b, bitmap_only))
			return 1;
		printf("%s%llu", sep, (unsigned long long)b);
		sep = " ";
		left--;
	}
	printf("\n");
	if (left) {
		fprintf(stderr, "mk_leaks: not enough free blocks\n");
		return 1;
	}
	return bitmap_only || !md_commit(&m) ? 0 : 1;
}
