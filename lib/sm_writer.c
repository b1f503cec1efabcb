// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Space-map writing for new pools.
 */
#include "sm_writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block_validator.h"
#include "btree_builder.h"
#include "endian_le.h"

struct ovf_entry {
	uint64_t block;
	uint32_t count;
};

static int cmp_ovf(const void *a, const void *b)
{
	const struct ovf_entry *x = a, *y = b;
	return (x->block > y->block) - (x->block < y->block);
}

/* The overflow tree: every block whose count is 3 or more. */
static int write_overflow(struct md_writer *mw, const struct refcount *rc,
			  uint64_t *root)
{
	const struct refcount_overflow *o = &rc->ovf;
	struct ovf_entry *v = malloc((o->used + 1) * sizeof(*v));
	struct btree_builder b;
	uint64_t n = 0;
	int r = 0;

	if (!v)
		return -ENOMEM;
	for (uint64_t i = 0; i < o->cap; i++)
		if (o->keys[i] != UINT64_MAX && o->vals[i] >= 3)
			v[n++] = (struct ovf_entry){ o->keys[i], o->vals[i] };
	qsort(v, n, sizeof(*v), cmp_ovf);
	btree_builder_init(&b, mw, SM_OVERFLOW_VALUE_SIZE, false);
	for (uint64_t i = 0; i < n && !r; i++) {
		uint8_t val[4];
		le32_store(val, v[i].count);
		r = btree_builder_add(&b, v[i].block, val);
	}
	if (!r)
		r = btree_builder_finish(&b, root);
	btree_builder_release(&b);
	free(v);
	return r ? r : md_writer_ref(mw, *root);
}

/* Bitmap i of a map of nr_blocks entries, written at the next block. */
static void write_bitmap(struct md_writer *mw, const struct refcount *rc,
			 uint64_t i, struct sm_index_entry *e, uint64_t *used)
{
	const uint8_t *seg = refcount_segment(rc, i);
	uint8_t *blk = md_writer_new_block(mw, &e->blocknr);
	uint32_t nr_used = 0, first_free = SM_ENTRIES_PER_BITMAP;

	if (seg) {
		memcpy(blk + SM_BITMAP_HEADER, seg, SM_BITMAP_BYTES);
		for (unsigned w = 0; w < SM_BITMAP_BYTES / 8; w++) {
			uint64_t u = sm_word_used(le64_load(seg + 8 * w));
			nr_used += (uint32_t)__builtin_popcountll(u);
			uint64_t f = ~u & 0x5555555555555555ull;
			if (first_free == SM_ENTRIES_PER_BITMAP && f)
				first_free = 32 * w + (uint32_t)__builtin_ctzll(f) / 2;
		}
	} else {
		first_free = 0;
	}
	block_seal(BK_BITMAP, blk, e->blocknr);
	e->nr_free = SM_ENTRIES_PER_BITMAP - nr_used;
	e->none_free_before = first_free;
	*used += nr_used;
}

int sm_write_data(struct md_writer *mw, const struct refcount *counts,
		  struct sm_root *root)
{
	uint64_t nr = sm_nr_bitmaps(counts->nr_blocks);
	struct btree_builder b;
	int r;

	memset(root, 0, sizeof(*root));
	root->nr_blocks = counts->nr_blocks;
	btree_builder_init(&b, mw, SM_INDEX_ENTRY_SIZE, false);
	for (uint64_t i = 0; i < nr; i++) {
		struct sm_index_entry e;
		uint8_t val[SM_INDEX_ENTRY_SIZE];
		write_bitmap(mw, counts, i, &e, &root->nr_allocated);
		sm_index_entry_encode(&e, val);
		if ((r = md_writer_ref(mw, e.blocknr)) ||
		    (r = btree_builder_add(&b, i, val)))
			goto out;
	}
	if ((r = btree_builder_finish(&b, &root->bitmap_root)) ||
	    (r = md_writer_ref(mw, root->bitmap_root)))
		goto out;
	r = write_overflow(mw, counts, &root->ref_count_root);
out:
	btree_builder_release(&b);
	return r;
}

int sm_write_metadata(struct md_writer *mw, struct sm_root *root)
{
	uint64_t nr = sm_nr_bitmaps(mw->nr_blocks);
	struct sm_index_entry idx[SM_METADATA_MAX_BITMAPS];
	int r;

	memset(root, 0, sizeof(*root));
	root->nr_blocks = mw->nr_blocks;
	if (nr > SM_METADATA_MAX_BITMAPS)
		return -EFBIG;
	r = write_overflow(mw, &mw->counts, &root->ref_count_root);
	if (r)
		return r;
	/* The bitmaps and the index block come next: count them first, so
	 * the bitmaps describe themselves. */
	for (uint64_t k = 0; k <= nr; k++)
		if ((r = md_writer_ref(mw, mw->next + k)))
			return r;
	for (uint64_t i = 0; i < nr; i++)
		write_bitmap(mw, &mw->counts, i, &idx[i], &root->nr_allocated);
	uint8_t *blk = md_writer_new_block(mw, &root->bitmap_root);
	for (uint64_t i = 0; i < nr; i++)
		sm_index_entry_encode(&idx[i], blk + 16 + 16 * i);
	block_seal(BK_INDEX, blk, root->bitmap_root);
	return 0;
}
