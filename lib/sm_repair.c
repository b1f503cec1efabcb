// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Leak repair of a space map: clear leaked bitmap entries, update hints.
 */
#include "sm_repair.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "endian_le.h"

#define BATCH 64u
#define WORDS (SM_BITMAP_BYTES / 8u)
/* Every entry's even bit (the high-order bit of its value). */
#define EVEN_BITS 0x5555555555555555ull

struct bitmap_fix {
	uint32_t freed;
	uint32_t used;		/* non-zero entries after the fix */
	uint32_t first_free;	/* first zero entry after the fix */
};

static unsigned entries_in(const struct sm_repair *r, uint64_t i)
{
	uint64_t left = r->root->nr_blocks - i * SM_ENTRIES_PER_BITMAP;
	return left < SM_ENTRIES_PER_BITMAP ? (unsigned)left
					    : SM_ENTRIES_PER_BITMAP;
}

/*
 * Clear, in word dw, the entries whose value is 1 on disk and 0 computed
 * (stored bit pairs 0b10 and 0b00).  -EILSEQ if any other entry differs.
 */
static int fix_word(uint64_t *dw, uint64_t cw, uint32_t *freed)
{
	uint64_t diff = *dw ^ cw;
	uint64_t differ = (diff | (diff >> 1)) & EVEN_BITS;
	/* disk 0b10: even bit clear, odd bit set; computed 0b00 */
	uint64_t leak = ~*dw & (*dw >> 1) & ~cw & ~(cw >> 1) & EVEN_BITS;
	if (differ != leak)
		return -EILSEQ;
	*dw &= ~(leak << 1);
	*freed += (uint32_t)__builtin_popcountll(leak);
	return 0;
}

/* Repair a bitmap body in place against the computed segment. */
static int fix_body(uint8_t *body, const uint8_t *seg, unsigned n_i,
		    struct bitmap_fix *f)
{
	memset(f, 0, sizeof(*f));
	f->first_free = SM_ENTRIES_PER_BITMAP;
	for (unsigned w = 0; w < WORDS; w++) {
		unsigned start = 32 * w;
		unsigned n = start >= n_i ? 0 : (n_i - start > 32 ? 32 : n_i - start);
		uint64_t mask = n >= 32 ? ~0ull : (1ull << (2 * n)) - 1;
		uint64_t dw = le64_load(body + 8 * w);
		uint64_t cw = seg ? le64_load(seg + 8 * w) : 0;
		if (dw & ~mask)
			return -EILSEQ; /* entries past the end of the map */
		if (dw != cw) {
			if (fix_word(&dw, cw, &f->freed))
				return -EILSEQ;
			le64_store(body + 8 * w, dw);
		}
		uint64_t used = (dw | (dw >> 1)) & EVEN_BITS;
		f->used += (uint32_t)__builtin_popcountll(used);
		if (f->first_free == SM_ENTRIES_PER_BITMAP && used != EVEN_BITS)
			f->first_free = start + (unsigned)__builtin_ctzll(~used & EVEN_BITS) / 2;
	}
	return 0;
}

/* Check a bitmap block read from `where` and repair it in place. */
static int fix_bitmap(const struct sm_repair *r, uint64_t i, uint8_t *blk,
		      uint64_t where, struct bitmap_fix *f)
{
	if (block_validate(BK_BITMAP, blk, where) != BV_OK)
		return -EILSEQ;
	return fix_body(blk + SM_BITMAP_HEADER, refcount_segment(r->computed, i),
			entries_in(r, i), f);
}

static int add_change(struct sm_repair *r, uint64_t i,
		      const struct bitmap_fix *f)
{
	if ((r->nr_changes & (r->nr_changes - 1)) == 0) {
		uint64_t cap = r->nr_changes ? 2 * r->nr_changes : 1;
		struct sm_repair_change *n = realloc(r->changes, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		r->changes = n;
	}
	struct sm_repair_change *c = &r->changes[r->nr_changes++];
	c->bitmap = i;
	c->entry.blocknr = r->index[i].blocknr;
	c->entry.nr_free = SM_ENTRIES_PER_BITMAP - f->used;
	c->entry.none_free_before = f->first_free;
	c->freed = f->freed;
	return 0;
}

static int plan_batch(struct bdev *dev, struct sm_repair *r, uint64_t first,
		      unsigned k, uint8_t *buf)
{
	uint64_t blocks[BATCH] = { 0 };
	void *bufs[BATCH] = { 0 };
	int errs[BATCH];

	for (unsigned j = 0; j < k; j++) {
		blocks[j] = r->index[first + j].blocknr;
		bufs[j] = buf + (size_t)j * MD_BLOCK_SIZE;
	}
	bdev_read_scatter(dev, blocks, k, bufs, errs);
	for (unsigned j = 0; j < k; j++) {
		struct bitmap_fix f;
		if (errs[j])
			return errs[j];
		int e = fix_bitmap(r, first + j, bufs[j], blocks[j], &f);
		if (e)
			return e;
		r->allocated += f.used;
		r->freed += f.freed;
		if (f.freed && (e = add_change(r, first + j, &f)))
			return e;
	}
	return 0;
}

int sm_repair_plan(struct bdev *dev, struct sm_repair *r)
{
	uint64_t nr = sm_nr_bitmaps(r->root->nr_blocks);
	uint8_t *buf = bdev_alloc_buf(BATCH);
	int e = 0;

	r->changes = NULL;
	r->nr_changes = r->freed = r->allocated = 0;
	if (!buf)
		return -ENOMEM;
	for (uint64_t i = 0; i < nr && !e; i += BATCH)
		e = plan_batch(dev, r, i, nr - i < BATCH ? (unsigned)(nr - i) : BATCH,
			       buf);
	bdev_free_buf(buf);
	return e;
}

struct change_ref {
	uint64_t block;
	uint64_t pos; /* in r->changes */
};

static int cmp_change_ref(const void *a, const void *b)
{
	const struct change_ref *x = a, *y = b;
	if (x->block != y->block)
		return x->block < y->block ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Patch changes [from, to) of refs into the index block in blk. */
static int patch_index_block(const struct sm_repair *r, uint8_t *blk,
			     const struct change_ref *refs, uint64_t from,
			     uint64_t to)
{
	for (uint64_t k = from; k < to; k++) {
		const struct sm_repair_change *c = &r->changes[refs[k].pos];
		uint32_t off = r->loc[c->bitmap].offset;
		struct sm_index_entry old;
		if (off < SM_BITMAP_HEADER || off > MD_BLOCK_SIZE - SM_INDEX_ENTRY_SIZE)
			return -EILSEQ;
		sm_index_entry_decode(&old, blk + off);
		if (old.blocknr != c->entry.blocknr)
			return -EILSEQ;
		sm_index_entry_encode(&c->entry, blk + off);
	}
	return 0;
}

static int write_index_block(struct bdev *dev, const struct sm_repair *r,
			     const struct change_ref *refs, uint64_t from,
			     uint64_t to, uint8_t *blk)
{
	uint64_t b = refs[from].block;
	int e = bdev_read(dev, b, 1, blk);
	if (e)
		return e;
	if (block_validate(r->index_kind, blk, b) != BV_OK)
		return -EILSEQ;
	e = patch_index_block(r, blk, refs, from, to);
	if (e)
		return e;
	block_seal(r->index_kind, blk, b);
	return bdev_write(dev, b, 1, blk);
}

int sm_repair_index(struct bdev *dev, const struct sm_repair *r)
{
	struct change_ref *refs;
	uint8_t *blk;
	int e = 0;

	if (!r->nr_changes)
		return 0;
	refs = calloc(r->nr_changes, sizeof(*refs));
	blk = bdev_alloc_buf(1);
	if (!refs || !blk) {
		free(refs);
		bdev_free_buf(blk);
		return -ENOMEM;
	}
	for (uint64_t k = 0; k < r->nr_changes; k++) {
		refs[k].block = r->loc[r->changes[k].bitmap].block;
		refs[k].pos = k;
	}
	qsort(refs, r->nr_changes, sizeof(*refs), cmp_change_ref);
	for (uint64_t from = 0, to; from < r->nr_changes && !e; from = to) {
		for (to = from + 1; to < r->nr_changes && refs[to].block == refs[from].block;)
			to++;
		e = write_index_block(dev, r, refs, from, to, blk);
	}
	free(refs);
	bdev_free_buf(blk);
	return e;
}

int sm_repair_bitmaps(struct bdev *dev, const struct sm_repair *r)
{
	uint8_t *blk = bdev_alloc_buf(1);
	int e = 0;

	if (!blk)
		return -ENOMEM;
	for (uint64_t k = 0; k < r->nr_changes && !e; k++) {
		const struct sm_repair_change *c = &r->changes[k];
		struct bitmap_fix f;
		e = bdev_read(dev, c->entry.blocknr, 1, blk);
		if (!e)
			e = fix_bitmap(r, c->bitmap, blk, c->entry.blocknr, &f);
		if (!e && f.freed != c->freed)
			e = -EILSEQ; /* changed since the plan */
		if (e)
			break;
		block_seal(BK_BITMAP, blk, c->entry.blocknr);
		e = bdev_write(dev, c->entry.blocknr, 1, blk);
	}
	bdev_free_buf(blk);
	return e;
}

void sm_repair_release(struct sm_repair *r)
{
	free(r->changes);
	r->changes = NULL;
	r->nr_changes = 0;
}
