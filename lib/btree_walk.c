// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Key-ordered B-tree walk with one scattered read per node's children.
 */
#include "btree_walk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block_validator.h"
#include "u64_util.h"

void btree_walker_init(struct btree_walker *w, struct bdev *dev,
		       uint64_t nr_blocks)
{
	memset(w, 0, sizeof(*w));
	w->dev = dev;
	w->nr_blocks = nr_blocks;
}

void btree_walker_release(struct btree_walker *w)
{
	for (unsigned i = 0; i <= BTREE_MAX_DEPTH; i++) {
		bdev_free_buf(w->levels[i].buf);
		w->levels[i].buf = NULL;
		w->levels[i].cap = 0;
	}
}

static uint8_t *level_buf(struct btree_walker *w, unsigned depth, unsigned n)
{
	struct btree_walk_level *l = &w->levels[depth];
	if (l->cap < n) {
		unsigned cap = n < 16 ? 16 : BTREE_MAX_CHILDREN;
		bdev_free_buf(l->buf);
		l->buf = bdev_alloc_buf(cap);
		l->cap = l->buf ? cap : 0;
	}
	return l->buf;
}

static int problem(struct btree_walker *w, const struct btree_pos *pos,
		   enum btree_problem p, uint64_t detail)
{
	return w->ops->problem ? w->ops->problem(w->ctx, pos, p, detail) : -EIO;
}

static int enter(struct btree_walker *w, const struct btree_pos *pos)
{
	return w->ops->enter ? w->ops->enter(w->ctx, pos) : BTREE_WALK_VISIT;
}

static int descend(struct btree_walker *w, const struct btree_node *n,
		   const struct btree_pos *pos);

/* A block has been read; check it and hand it on. */
static int process(struct btree_walker *w, const uint8_t *blk,
		   enum block_verdict v, const struct btree_pos *pos)
{
	struct btree_node n;
	enum btree_problem p;
	unsigned bad;
	int r;

	if (v == BV_BAD_CSUM)
		return problem(w, pos, BP_CSUM, 0);
	if (v == BV_BAD_BLOCKNR)
		return problem(w, pos, BP_BLOCKNR, le64_load(blk + 8));
	btree_node_decode(&n, blk, pos->block);
	p = btree_node_check_header(&n, w->leaf_value_size);
	if (p != BP_NONE) {
		r = problem(w, pos, p, 0);
		if (r < 0 || btree_problem_is_fatal(p))
			return r;
	}
	p = btree_node_check_keys(&n, pos->lo, pos->hi, &bad);
	if (p != BP_NONE)
		return problem(w, pos, p, bad);

	w->path[pos->depth] = pos->block;
	r = w->ops->node ? w->ops->node(w->ctx, &n, pos) : 0;
	if (r < 0)
		return r;
	if (!btree_node_is_leaf(&n)) {
		r = descend(w, &n, pos);
		if (r < 0)
			return r;
	}
	return w->ops->leave ? w->ops->leave(w->ctx, pos) : 0;
}

static bool on_path(const struct btree_walker *w, unsigned depth, uint64_t b)
{
	for (unsigned i = 0; i <= depth; i++)
		if (w->path[i] == b)
			return true;
	return false;
}

static void child_pos(const struct btree_node *n, const struct btree_pos *pos,
		      unsigned i, struct btree_pos *c)
{
	c->block = btree_node_value64(n, i);
	c->parent = pos->block;
	c->lo = btree_node_key(n, i);
	c->hi = i + 1 < n->nr_entries ? btree_node_key(n, i + 1) - 1 : pos->hi;
	c->depth = pos->depth + 1;
	c->index = i;
}

/*
 * Ask the kernel to start reading the children of an internal node we
 * are about to process, so their reads overlap our work on the nodes
 * before them.  Runs of neighbouring blocks become one request each.
 */
static void prefetch_children(struct btree_walker *w, const uint8_t *blk)
{
	uint64_t c[BTREE_MAX_CHILDREN];
	struct btree_node n;
	btree_node_decode(&n, blk, 0);
	if (n.flags != BTREE_NODE_INTERNAL || n.value_size != 8 ||
	    n.nr_entries > n.max_entries ||
	    n.max_entries > (MD_BLOCK_SIZE - BTREE_HEADER_SIZE) / 16)
		return;
	for (unsigned i = 0; i < n.nr_entries; i++)
		c[i] = btree_node_value64(&n, i);
	qsort(c, n.nr_entries, sizeof(c[0]), u64_cmp);
	for (unsigned i = 0, start = 0; i < n.nr_entries; i++) {
		if (i + 1 < n.nr_entries && c[i + 1] <= c[i] + 1)
			continue;
		if (c[start] < w->nr_blocks)
			bdev_prefetch(w->dev, c[start], c[i] - c[start] + 1);
		start = i + 1;
	}
}

static int descend(struct btree_walker *w, const struct btree_node *n,
		   const struct btree_pos *pos)
{
	struct btree_pos cpos[BTREE_MAX_CHILDREN];
	uint64_t blocks[BTREE_MAX_CHILDREN];
	uint8_t *bufs[BTREE_MAX_CHILDREN];
	int errs[BTREE_MAX_CHILDREN];
	enum block_verdict v[BTREE_MAX_CHILDREN];
	unsigned nr = 0, depth = pos->depth + 1;
	int r;

	if (depth > BTREE_MAX_DEPTH - 1)
		return problem(w, pos, BP_DEPTH, depth);
	for (unsigned i = 0; i < n->nr_entries; i++) {
		struct btree_pos c;
		child_pos(n, pos, i, &c);
		if (c.block == 0)
			r = problem(w, &c, BP_NULL_CHILD, 0);
		else if (c.block >= w->nr_blocks)
			r = problem(w, &c, BP_CHILD_RANGE, c.block);
		else if (on_path(w, pos->depth, c.block))
			r = problem(w, &c, BP_LOOP, 0);
		else if (w->leaf_depth && (int)depth == w->leaf_depth)
			r = w->ops->leaf_ptr(w->ctx, &c);
		else if ((r = enter(w, &c)) == BTREE_WALK_VISIT)
			cpos[nr++] = c, r = 0;
		if (r < 0)
			return r;
	}
	if (!nr)
		return 0;

	uint8_t *base = level_buf(w, depth, nr);
	if (!base)
		return -ENOMEM;
	for (unsigned i = 0; i < nr; i++) {
		blocks[i] = cpos[i].block;
		bufs[i] = base + (size_t)i * MD_BLOCK_SIZE;
	}
	bdev_read_scatter(w->dev, blocks, nr, (void *const *)bufs, errs);
	block_validate_many(BK_BTREE_NODE, (const void *const *)bufs, blocks, nr, v);
	for (unsigned i = 0; i < nr; i++)
		if (!errs[i] && v[i] == BV_OK)
			prefetch_children(w, bufs[i]);
	for (unsigned i = 0; i < nr; i++) {
		if (errs[i])
			r = problem(w, &cpos[i], BP_IO, (uint64_t)errs[i]);
		else
			r = process(w, bufs[i], v[i], &cpos[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int btree_walk(struct btree_walker *w, uint64_t root, uint64_t lo,
	       uint64_t hi)
{
	struct btree_pos pos = { root, BTREE_POS_NO_PARENT, lo, hi, 0, 0 };
	int r;

	if (root == 0)
		return problem(w, &pos, BP_NULL_CHILD, 0);
	if (root >= w->nr_blocks)
		return problem(w, &pos, BP_CHILD_RANGE, root);
	r = enter(w, &pos);
	if (r <= 0)
		return r;
	uint8_t *buf = level_buf(w, 0, 1);
	if (!buf)
		return -ENOMEM;
	r = bdev_read(w->dev, root, 1, buf);
	if (r)
		return problem(w, &pos, BP_IO, (uint64_t)r);
	return process(w, buf, block_validate(BK_BTREE_NODE, buf, root), &pos);
}

/* Read and check one node for btree_height(). */
static enum btree_problem probe(struct btree_walker *w, uint64_t b,
				uint8_t *buf, struct btree_node *n)
{
	if (b == 0)
		return BP_NULL_CHILD;
	if (b >= w->nr_blocks)
		return BP_CHILD_RANGE;
	if (bdev_read(w->dev, b, 1, buf))
		return BP_IO;
	enum block_verdict v = block_validate(BK_BTREE_NODE, buf, b);
	if (v != BV_OK)
		return v == BV_BAD_CSUM ? BP_CSUM : BP_BLOCKNR;
	btree_node_decode(n, buf, b);
	enum btree_problem p = btree_node_check_header(n, w->leaf_value_size);
	return btree_problem_is_fatal(p) ? p : BP_NONE;
}

enum btree_problem btree_height(struct btree_walker *w, uint64_t root,
				unsigned *height, uint32_t *leaf_entries,
				uint64_t *where)
{
	uint8_t *buf = level_buf(w, 0, 2);
	struct btree_node n;
	enum btree_problem p;
	if (!buf)
		return BP_IO;
	*where = root;
	if ((p = probe(w, root, buf, &n)) != BP_NONE)
		return p;
	for (unsigned h = 1; h <= BTREE_MAX_DEPTH; h++) {
		if (btree_node_is_leaf(&n)) {
			*height = h;
			*leaf_entries = n.nr_entries;
			return BP_NONE;
		}
		/* first child that reads; the parent stays in buf */
		uint8_t *cbuf = buf + MD_BLOCK_SIZE;
		enum btree_problem first = BP_NONE;
		struct btree_node c;
		unsigned i = 0;
		for (; i < n.nr_entries; i++) {
			p = probe(w, btree_node_value64(&n, i), cbuf, &c);
			if (p == BP_NONE)
				break;
			if (first == BP_NONE) {
				first = p;
				*where = btree_node_value64(&n, i);
			}
		}
		if (i == n.nr_entries)
			return first;
		memcpy(buf, cbuf, MD_BLOCK_SIZE);
		btree_node_decode(&n, buf, c.blocknr);
	}
	*where = root;
	return BP_DEPTH;
}
