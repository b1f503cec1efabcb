/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * md_edit.h - test-only editing of thin-pool metadata images.
 *
 * Enough of a transaction manager to make test images with shared
 * subtrees the way the kernel does (FORMATS.md A.10.3): read and write
 * blocks, adjust reference counts of 0..2 in either space map (bitmap,
 * index entry, nr_allocated), find free blocks, and write block 0 last.
 * Counts that would reach 3 (overflow trees) are refused.  Header-only so
 * each test tool stays a single translation unit.
 */
#ifndef THINSNAP_TEST_MD_EDIT_H
#define THINSNAP_TEST_MD_EDIT_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "block_validator.h"
#include "btree.h"
#include "endian_le.h"
#include "space_map.h"
#include "thin_superblock.h"

#define MD_BLK 4096u

struct md_img {
	int fd;
	struct thin_superblock sb;
};

static inline int md_read(struct md_img *m, uint64_t b, void *buf)
{
	return pread(m->fd, buf, MD_BLK, (off_t)(b * MD_BLK)) == MD_BLK ? 0 : -EIO;
}

static inline int md_write(struct md_img *m, uint64_t b, const void *buf)
{
	return pwrite(m->fd, buf, MD_BLK, (off_t)(b * MD_BLK)) == MD_BLK ? 0 : -EIO;
}

static inline int md_open(struct md_img *m, const char *path)
{
	uint8_t blk[MD_BLK];
	m->fd = open(path, O_RDWR);
	if (m->fd < 0 || md_read(m, 0, blk))
		return -EIO;
	return thin_sb_check(blk, 0, &m->sb) == SBP_NONE ? 0 : -EILSEQ;
}

/* Location of the index entry for bitmap i: block and byte offset. */
static inline int md_index_entry(struct md_img *m, bool data, uint64_t i,
			  uint64_t *where, unsigned *off, enum block_kind *k)
{
	if (!data) {
		*where = m->sb.metadata_sm.bitmap_root;
		*off = 16 + 16 * (unsigned)i;
		*k = BK_INDEX;
		return 0;
	}
	uint8_t blk[MD_BLK];
	uint64_t b = m->sb.data_sm.bitmap_root;
	for (int depth = 0; depth < 8; depth++) {
		struct btree_node n;
		if (md_read(m, b, blk))
			return -EIO;
		btree_node_decode(&n, blk, b);
		unsigned j = 0;
		while (j + 1 < n.nr_entries && btree_node_key(&n, j + 1) <= i)
			j++;
		if (btree_node_is_leaf(&n)) {
			if (!n.nr_entries || btree_node_key(&n, j) != i)
				return -ENOENT;
			*where = b;
			*off = (unsigned)(btree_node_value(&n, j) - blk);
			*k = BK_BTREE_NODE;
			return 0;
		}
		b = btree_node_value64(&n, j);
	}
	return -ELOOP;
}

static inline struct sm_root *md_root(struct md_img *m, bool data)
{
	return data ? &m->sb.data_sm : &m->sb.metadata_sm;
}

/* Add delta (+1 or -1) to a block's count; the result must be 0..2. */
static inline int md_adjust(struct md_img *m, bool data, uint64_t b, int delta)
{
	uint8_t ib[MD_BLK], bb[MD_BLK];
	uint64_t iw;
	unsigned off;
	enum block_kind k;
	struct sm_index_entry e;
	uint64_t i = b / SM_ENTRIES_PER_BITMAP;
	unsigned j = (unsigned)(b % SM_ENTRIES_PER_BITMAP);

	if (md_index_entry(m, data, i, &iw, &off, &k) || md_read(m, iw, ib))
		return -EIO;
	sm_index_entry_decode(&e, ib + off);
	if (md_read(m, e.blocknr, bb))
		return -EIO;
	int v = (int)sm_bitmap_get(bb + SM_BITMAP_HEADER, j) + delta;
	if (v < 0 || v > 2)
		return -ERANGE;
	sm_bitmap_set(bb + SM_BITMAP_HEADER, j, (unsigned)v);
	block_seal(BK_BITMAP, bb, e.blocknr);
	if (v == 0 && delta < 0) {
		e.nr_free++;
		md_root(m, data)->nr_allocated--;
		if (j < e.none_free_before)
			e.none_free_before = j;
	} else if (v == 1 && delta > 0) {
		e.nr_free--;
		md_root(m, data)->nr_allocated++;
	}
	sm_index_entry_encode(&e, ib + off);
	block_seal(k, ib, iw);
	return md_write(m, e.blocknr, bb) || md_write(m, iw, ib) ? -EIO : 0;
}

static inline int md_count(struct md_img *m, bool data, uint64_t b, unsigned *v)
{
	uint8_t ib[MD_BLK], bb[MD_BLK];
	uint64_t iw;
	unsigned off;
	enum block_kind k;
	struct sm_index_entry e;
	if (md_index_entry(m, data, b / SM_ENTRIES_PER_BITMAP, &iw, &off, &k) ||
	    md_read(m, iw, ib))
		return -EIO;
	sm_index_entry_decode(&e, ib + off);
	if (md_read(m, e.blocknr, bb))
		return -EIO;
	*v = sm_bitmap_get(bb + SM_BITMAP_HEADER, (unsigned)(b % SM_ENTRIES_PER_BITMAP));
	return 0;
}

/* Allocate the lowest free block (count 0 -> 1); never block 0. */
static inline int md_alloc(struct md_img *m, bool data, uint64_t *out)
{
	uint64_t nr = md_root(m, data)->nr_blocks;
	for (uint64_t b = data ? 0 : 1; b < nr; b++) {
		unsigned v;
		if (md_count(m, data, b, &v))
			return -EIO;
		if (!v) {
			*out = b;
			return md_adjust(m, data, b, +1);
		}
	}
	return -ENOSPC;
}

/* Write block 0 last, after everything else is durable. */
static inline int md_commit(struct md_img *m)
{
	uint8_t blk[MD_BLK];
	if (fsync(m->fd))
		return -EIO;
	m->sb.blocknr = 0;
	thin_sb_encode(&m->sb, blk);
	if (md_write(m, 0, blk) || fsync(m->fd))
		return -EIO;
	return 0;
}

#endif
