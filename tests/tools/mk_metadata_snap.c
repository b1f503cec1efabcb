// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mk_metadata_snap IMG
 *
 * Test helper: add a held metadata snapshot to thin-pool metadata the way
 * the kernel's reserve_metadata_snap does (FORMATS.md A.11.3, A.10.1), for
 * images written by thin_restore (no snapshot yet, every count below 3):
 *
 *   - pick the lowest block s > 0 that is free (bitmap entry 0) in the
 *     metadata space map;
 *   - write a copy of the superblock at s: both 128-byte space-map root
 *     fields zeroed, blocknr = s, metadata_snap = 0, sealed with the
 *     superblock salt;
 *   - increment the metadata counts of s (0 -> 1), data_mapping_root and
 *     device_details_root (1 -> 2), adjusting the bitmap blocks, the index
 *     entries (nr_free, none_free_before) and nr_allocated as the kernel's
 *     sm_ll_inc does;
 *   - last, set metadata_snap = s in block 0 and reseal it.
 *
 * Prints s on stdout.  Fails (exit 1, nothing written) when a snapshot is
 * already held, when no block is free, or when a count would reach 3
 * (that would need the overflow tree; not supported here).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block_validator.h"
#include "endian_le.h"
#include "space_map.h"
#include "thin_superblock.h"

#define BLK 4096u
#define MAX_DIRTY 8u

struct bitmap_buf {
	uint64_t index; /* which bitmap */
	uint8_t blk[BLK];
};

struct state {
	int fd;
	const char *path;
	uint8_t sb_blk[BLK];
	uint8_t index_blk[BLK];
	struct thin_superblock sb;
	struct sm_index_entry idx[SM_METADATA_MAX_BITMAPS];
	uint64_t nr_bitmaps;
	struct bitmap_buf bm[MAX_DIRTY];
	unsigned nr_bm;
	uint64_t nr_allocated;
};

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int die(const char *fmt, ...)
{
	va_list ap;
	fputs("mk_metadata_snap: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void read_block(struct state *s, uint64_t b, uint8_t *buf)
{
	ssize_t n = pread(s->fd, buf, BLK, (off_t)(b * BLK));
	if (n != (ssize_t)BLK)
		die("%s: cannot read block %" PRIu64, s->path, b);
}

static void write_block(struct state *s, uint64_t b, const uint8_t *buf)
{
	ssize_t n = pwrite(s->fd, buf, BLK, (off_t)(b * BLK));
	if (n != (ssize_t)BLK)
		die("%s: cannot write block %" PRIu64 ": %s", s->path, b,
		    strerror(errno));
}

/* The (cached) bitmap block holding the entry of metadata block b. */
static struct bitmap_buf *bitmap_for(struct state *s, uint64_t b)
{
	uint64_t i = b / SM_ENTRIES_PER_BITMAP;
	if (i >= s->nr_bitmaps)
		die("block %" PRIu64 " is beyond the metadata space map", b);
	for (unsigned k = 0; k < s->nr_bm; k++)
		if (s->bm[k].index == i)
			return &s->bm[k];
	if (s->nr_bm == MAX_DIRTY)
		die("too many bitmaps");
	struct bitmap_buf *bb = &s->bm[s->nr_bm++];
	bb->index = i;
	read_block(s, s->idx[i].blocknr, bb->blk);
	if (block_validate(BK_BITMAP, bb->blk, s->idx[i].blocknr) != BV_OK)
		die("metadata bitmap %" PRIu64 " at block %" PRIu64 " is damaged",
		    i, s->idx[i].blocknr);
	return bb;
}

static unsigned get_count(struct state *s, uint64_t b)
{
	struct bitmap_buf *bb = bitmap_for(s, b);
	return sm_bitmap_get(bb->blk + SM_BITMAP_HEADER,
			     (unsigned)(b % SM_ENTRIES_PER_BITMAP));
}

/* sm_ll_inc for counts below 3 (bitmap, index entry, nr_allocated). */
static void inc_count(struct state *s, uint64_t b)
{
	struct bitmap_buf *bb = bitmap_for(s, b);
	unsigned bit = (unsigned)(b % SM_ENTRIES_PER_BITMAP);
	unsigned v = sm_bitmap_get(bb->blk + SM_BITMAP_HEADER, bit);
	if (v >= 2)
		die("block %" PRIu64 " already has count %u; 3 needs the overflow tree",
		    b, v);
	sm_bitmap_set(bb->blk + SM_BITMAP_HEADER, bit, v + 1);
	if (v == 0) {
		struct sm_index_entry *e = &s->idx[bb->index];
		if (e->nr_free == 0)
			die("index entry %" PRIu64 " says no block is free", bb->index);
		e->nr_free--;
		if (e->none_free_before == bit)
			e->none_free_before = bit + 1;
		s->nr_allocated++;
	}
}

static uint64_t find_free(struct state *s)
{
	uint64_t nr = s->sb.metadata_sm.nr_blocks;
	for (uint64_t b = 1; b < nr; b++)
		if (get_count(s, b) == 0)
			return b;
	die("no free metadata block");
	return 0;
}

int main(int argc, char **argv)
{
	static struct state st;
	struct state *s = &st;
	uint8_t copy[BLK];

	if (argc != 2) {
		fprintf(stderr, "usage: mk_metadata_snap IMG\n");
		return 2;
	}
	s->path = argv[1];
	s->fd = open(s->path, O_RDWR);
	if (s->fd < 0)
		die("%s: %s", s->path, strerror(errno));

	read_block(s, 0, s->sb_blk);
	if (thin_sb_check(s->sb_blk, 0, &s->sb) != SBP_NONE)
		die("%s: the superblock is not valid", s->path);
	if (s->sb.metadata_snap)
		die("a metadata snapshot is already held (block %" PRIu64 ")",
		    s->sb.metadata_snap);

	uint64_t ib = s->sb.metadata_sm.bitmap_root;
	s->nr_bitmaps = sm_nr_bitmaps(s->sb.metadata_sm.nr_blocks);
	if (s->nr_bitmaps > SM_METADATA_MAX_BITMAPS)
		die("metadata space map too large");
	read_block(s, ib, s->index_blk);
	if (block_validate(BK_INDEX, s->index_blk, ib) != BV_OK)
		die("metadata index block %" PRIu64 " is damaged", ib);
	for (uint64_t i = 0; i < s->nr_bitmaps; i++)
		sm_index_entry_decode(&s->idx[i], s->index_blk + 16 + 16 * i);
	s->nr_allocated = s->sb.metadata_sm.nr_allocated;

	/* A.11.3 steps 2-4 */
	uint64_t snap = find_free(s);
	struct thin_superblock c = s->sb;
	memset(&c.data_sm, 0, sizeof(c.data_sm));
	memset(&c.metadata_sm, 0, sizeof(c.metadata_sm));
	c.blocknr = snap;
	c.metadata_snap = 0;
	thin_sb_encode(&c, copy); /* seals at c.blocknr */
	if (block_validate(BK_SUPERBLOCK, copy, snap) != BV_OK)
		die("sealing the copy failed");

	inc_count(s, snap);
	inc_count(s, s->sb.data_mapping_root);
	inc_count(s, s->sb.device_details_root);

	/* everything but block 0 first */
	write_block(s, snap, copy);
	for (unsigned k = 0; k < s->nr_bm; k++) {
		uint64_t where = s->idx[s->bm[k].index].blocknr;
		block_seal(BK_BITMAP, s->bm[k].blk, where);
		write_block(s, where, s->bm[k].blk);
	}
	for (uint64_t i = 0; i < s->nr_bitmaps; i++)
		sm_index_entry_encode(&s->idx[i], s->index_blk + 16 + 16 * i);
	block_seal(BK_INDEX, s->index_blk, ib);
	write_block(s, ib, s->index_blk);
	if (fsync(s->fd))
		die("fsync: %s", strerror(errno));

	/* A.11.3 step 5: only nr_allocated and metadata_snap change */
	le64_store(s->sb_blk + 0x0c8, s->nr_allocated);
	le64_store(s->sb_blk + 0x038, snap);
	block_seal(BK_SUPERBLOCK, s->sb_blk, 0);
	write_block(s, 0, s->sb_blk);
	if (fsync(s->fd) || close(s->fd))
		die("%s: %s", s->path, strerror(errno));
	printf("%" PRIu64 "\n", snap);
	return 0;
}
