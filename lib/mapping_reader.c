// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Walking a pool's trees: device lists and mapping leaves in key order.
 */
#include "mapping_reader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "block_validator.h"
#include "thin_types.h"

static int damage(struct mapping_reader *mr, int err, uint64_t lo, uint64_t hi,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int damage(struct mapping_reader *mr, int err, uint64_t lo, uint64_t hi,
		  const char *fmt, ...)
{
	char msg[192];
	int n = snprintf(msg, sizeof(msg), "%s: ", mr->desc);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return mr->ops->damage(mr->ctx, err, msg, lo, hi);
}

int mapping_reader_init(struct mapping_reader *mr, struct bdev *dev,
			uint64_t md_nr, const struct mapping_reader_ops *ops,
			void *ctx)
{
	*mr = (struct mapping_reader){ .dev = dev, .md_nr = md_nr, .ops = ops,
				       .ctx = ctx };
	mr->buf = bdev_alloc_buf(MAPPING_READER_BATCH);
	if (!mr->buf)
		return -ENOMEM;
	btree_walker_init(&mr->w, dev, md_nr);
	return 0;
}

void mapping_reader_release(struct mapping_reader *mr)
{
	btree_walker_release(&mr->w);
	bdev_free_buf(mr->buf);
	mr->buf = NULL;
}

void mapping_reader_describe(struct mapping_reader *mr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(mr->desc, sizeof(mr->desc), fmt, ap);
	va_end(ap);
}

/* ---- leaves ---- */

static const char *verdict_str(enum block_verdict v)
{
	return v == BV_BAD_CSUM ? "bad checksum"
				: "block number field does not match its location";
}

static int check_leaf(struct mapping_reader *mr,
		      const struct mapping_reader_pending *ref,
		      const uint8_t *blk, int err, enum block_verdict v)
{
	struct btree_node n;
	enum btree_problem p;
	unsigned bad;
	unsigned long long b = ref->block;

	if (err)
		return damage(mr, err < 0 ? err : -EIO, ref->lo, ref->hi,
			      "leaf %llu cannot be read", b);
	if (v != BV_OK)
		return damage(mr, -EILSEQ, ref->lo, ref->hi, "leaf %llu: %s", b,
			      verdict_str(v));
	btree_node_decode(&n, blk, ref->block);
	p = btree_node_check_header(&n, THIN_MAPPING_VALUE_SIZE);
	if (btree_problem_is_fatal(p) || !btree_node_is_leaf(&n) ||
	    (p = btree_node_check_keys(&n, ref->lo, ref->hi, &bad)) != BP_NONE)
		return damage(mr, -EILSEQ, ref->lo, ref->hi, "leaf %llu: %s", b,
			      btree_node_is_leaf(&n)
				      ? btree_problem_str(p)
				      : "expected a leaf, found an internal node");
	return mr->ops->leaf(mr->ctx, &n);
}

int mapping_reader_flush(struct mapping_reader *mr)
{
	uint64_t blocks[MAPPING_READER_BATCH];
	void *bufs[MAPPING_READER_BATCH];
	int errs[MAPPING_READER_BATCH];
	enum block_verdict v[MAPPING_READER_BATCH];
	unsigned n = mr->npend;

	mr->npend = 0;
	if (!n)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		blocks[i] = mr->pend[i].block;
		bufs[i] = mr->buf + (size_t)i * MD_BLOCK_SIZE;
	}
	bdev_read_scatter(mr->dev, blocks, n, bufs, errs);
	block_validate_many(BK_BTREE_NODE, (const void *const *)bufs, blocks, n, v);
	for (unsigned i = 0; i < n; i++) {
		int r = check_leaf(mr, &mr->pend[i], bufs[i], errs[i], v[i]);
		if (r)
			return r;
	}
	return 0;
}

int mapping_reader_queue(struct mapping_reader *mr, uint64_t block,
			 uint64_t lo, uint64_t hi)
{
	mr->pend[mr->npend++] = (struct mapping_reader_pending){ block, lo, hi };
	return mr->npend == MAPPING_READER_BATCH ? mapping_reader_flush(mr) : 0;
}

static int leaf_ptr(struct mapping_reader *mr, uint64_t block, uint64_t lo,
		    uint64_t hi)
{
	if (mr->ops->leaf_ptr)
		return mr->ops->leaf_ptr(mr->ctx, block, lo, hi);
	return mapping_reader_queue(mr, block, lo, hi);
}

/* ---- walking ---- */

static int on_leaf_ptr(void *ctx, const struct btree_pos *pos)
{
	return leaf_ptr(ctx, pos->block, pos->lo, pos->hi);
}

static int on_problem(void *ctx, const struct btree_pos *pos,
		      enum btree_problem p, uint64_t detail)
{
	struct mapping_reader *mr = ctx;
	if (!btree_problem_is_fatal(p))
		return 0;
	int err = p == BP_IO && (int64_t)detail < 0 ? (int)(int64_t)detail
						    : -EILSEQ;
	return damage(mr, err, pos->lo, pos->hi, "block %llu: %s",
		      (unsigned long long)pos->block, btree_problem_str(p));
}

static int on_enter(void *ctx, const struct btree_pos *pos)
{
	struct mapping_reader *mr = ctx;
	(void)pos;
	if (++mr->visits > mr->md_nr) {
		damage(mr, -EILSEQ, 1, 0,
		       "nodes are reached more often than the metadata has blocks");
		return -EILSEQ;
	}
	return BTREE_WALK_VISIT;
}

static int list_leaf(struct mapping_reader *mr, const struct btree_node *n)
{
	for (unsigned i = 0; i < n->nr_entries; i++) {
		struct thin_dev dd = { .id = btree_node_key(n, i) };
		if (mr->details)
			thin_details_decode(&dd.details, btree_node_value(n, i));
		else
			dd.root = btree_node_value64(n, i);
		int r = thin_dev_list_push(mr->list, &dd);
		if (r)
			return r;
	}
	return 0;
}

static int on_node(void *ctx, const struct btree_node *n,
		   const struct btree_pos *pos)
{
	struct mapping_reader *mr = ctx;
	if (!btree_node_is_leaf(n))
		return 0;
	if (mr->listing)
		return list_leaf(mr, n);
	return damage(mr, -EILSEQ, pos->lo, pos->hi,
		      "leaf %llu is at depth %u, above the other leaves",
		      (unsigned long long)pos->block, pos->depth);
}

static const struct btree_walk_ops reader_ops = {
	.enter = on_enter,
	.node = on_node,
	.problem = on_problem,
	.leaf_ptr = on_leaf_ptr,
};

static int walk(struct mapping_reader *mr, uint64_t root, uint32_t vs,
		int leaf_depth)
{
	mr->visits = 0;
	mr->w.leaf_value_size = vs;
	mr->w.leaf_depth = leaf_depth;
	mr->w.ops = &reader_ops;
	mr->w.ctx = mr;
	return btree_walk(&mr->w, root, 0, UINT64_MAX);
}

int mapping_reader_list(struct mapping_reader *mr, uint64_t root, bool details,
			struct thin_dev_list *out)
{
	mr->listing = true;
	mr->details = details;
	mr->list = out;
	int r = walk(mr, root,
		     details ? THIN_DETAILS_VALUE_SIZE : THIN_MAPPING_VALUE_SIZE, 0);
	mr->listing = false;
	return r;
}

int mapping_reader_leaves(struct mapping_reader *mr, uint64_t root)
{
	unsigned height;
	uint32_t entries;
	uint64_t where;
	int r;

	mr->npend = 0;
	mr->w.leaf_value_size = THIN_MAPPING_VALUE_SIZE;
	enum btree_problem p = btree_height(&mr->w, root, &height, &entries, &where);
	if (p != BP_NONE)
		return damage(mr, -EILSEQ, 0, UINT64_MAX, "block %llu: %s",
			      (unsigned long long)where, btree_problem_str(p));
	if (height == 1)
		/* an empty tree has no leaf worth sharing or reading */
		r = entries ? leaf_ptr(mr, root, 0, UINT64_MAX) : 0;
	else
		r = walk(mr, root, THIN_MAPPING_VALUE_SIZE, (int)height - 1);
	return r ? r : mapping_reader_flush(mr);
}
