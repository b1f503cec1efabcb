// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for btree_walk.c: small trees written to a temporary file
 * and walked; callback order, key ranges, problems (loops, pointers past
 * the end, bad checksums, misplaced blocks, bad keys), skipping through
 * enter(), leaf_depth mode, aborting, and btree_height().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "block_io.h"
#include "block_validator.h"
#include "btree.h"
#include "btree_walk.h"
#include "endian_le.h"
#include "thin_types.h"

#define NR_BLOCKS 300u

/* ---- a metadata image in a temporary file ---- */

struct img {
	char path[64];
	int fd;
	struct bdev dev;
	uint8_t *buf;
};

/*
 * The image of the running test.  Static, so that the teardown can still
 * remove the file when a failed assertion has left the test early.
 */
static struct img the_img = { .fd = -1 };

static void img_create(struct img *im)
{
	assert_int_equal(im->fd, -1);
	strcpy(im->path, "/tmp/thinsnap-test-walk-XXXXXX");
	im->fd = mkstemp(im->path);
	assert_true(im->fd >= 0);
	assert_int_equal(ftruncate(im->fd, (off_t)NR_BLOCKS * MD_BLOCK_SIZE),
			 0);
	im->buf = bdev_alloc_buf(1);
	assert_non_null(im->buf);
	im->dev.fd = -1;
}

static void img_put(struct img *im, uint64_t block, const void *blk)
{
	assert_int_equal(pwrite(im->fd, blk, MD_BLOCK_SIZE,
				(off_t)(block * MD_BLOCK_SIZE)),
			 MD_BLOCK_SIZE);
}

/* Fill a block with garbage (not a valid node of any kind). */
static void img_garbage(struct img *im, uint64_t block)
{
	memset(im->buf, 0xab, MD_BLOCK_SIZE);
	img_put(im, block, im->buf);
}

static void img_open(struct img *im)
{
	assert_int_equal(bdev_open(&im->dev, im->path, 0), 0);
	assert_int_equal(im->dev.nr_blocks, NR_BLOCKS);
}

static void img_destroy(struct img *im)
{
	if (im->fd < 0)
		return;
	if (im->dev.fd >= 0)
		bdev_close(&im->dev);
	close(im->fd);
	unlink(im->path);
	bdev_free_buf(im->buf);
	memset(im, 0, sizeof(*im));
	im->fd = -1;
}

static int teardown_img(void **state)
{
	(void)state;
	img_destroy(&the_img);
	return 0;
}

/* A leaf of mapping values (value size 8) sealed at `at`. */
static void put_leaf_at(struct img *im, uint64_t block, uint64_t at,
			const uint64_t *keys, unsigned nr)
{
	uint8_t *b = im->buf;
	memset(b, 0, MD_BLOCK_SIZE);
	le32_store(b + 4, BTREE_NODE_LEAF);
	le32_store(b + 16, nr);
	le32_store(b + 20, 252);
	le32_store(b + 24, 8);
	for (unsigned i = 0; i < nr; i++) {
		le64_store(b + 32 + 8 * i, keys[i]);
		le64_store(b + 32 + 8 * 252 + 8 * i, block_time_pack(i, 0));
	}
	block_seal(BK_BTREE_NODE, b, at);
	img_put(im, block, b);
}

static void put_leaf(struct img *im, uint64_t block, const uint64_t *keys,
		     unsigned nr)
{
	put_leaf_at(im, block, block, keys, nr);
}

static void put_internal(struct img *im, uint64_t block, const uint64_t *keys,
			 const uint64_t *children, unsigned nr)
{
	uint8_t *b = im->buf;
	memset(b, 0, MD_BLOCK_SIZE);
	le32_store(b + 4, BTREE_NODE_INTERNAL);
	le32_store(b + 16, nr);
	le32_store(b + 20, 252);
	le32_store(b + 24, 8);
	for (unsigned i = 0; i < nr; i++) {
		le64_store(b + 32 + 8 * i, keys[i]);
		le64_store(b + 32 + 8 * 252 + 8 * i, children[i]);
	}
	block_seal(BK_BTREE_NODE, b, block);
	img_put(im, block, b);
}

/* Flip one byte of a block on disk (after it was sealed). */
static void corrupt(struct img *im, uint64_t block, unsigned off)
{
	uint8_t c;
	assert_int_equal(pread(im->fd, &c, 1,
			       (off_t)(block * MD_BLOCK_SIZE + off)),
			 1);
	c ^= 0x40;
	assert_int_equal(pwrite(im->fd, &c, 1,
				(off_t)(block * MD_BLOCK_SIZE + off)),
			 1);
}

/* ---- recording callbacks ---- */

enum ev_type { EV_ENTER, EV_NODE, EV_LEAVE, EV_PROBLEM, EV_LEAF_PTR };

struct ev {
	enum ev_type type;
	struct btree_pos pos;
	enum btree_problem p;
	uint64_t detail;
	uint32_t nr_entries, flags; /* EV_NODE */
	uint64_t first_key;	    /* EV_NODE, if nr_entries */
};

struct rec {
	struct ev ev[1024];
	unsigned n;
	uint64_t skip[4]; /* enter() returns SKIP for these blocks */
	unsigned nr_skip;
	int problem_ret;  /* what problem() returns */
};

static struct ev *rec_add(struct rec *r, enum ev_type t,
			  const struct btree_pos *pos)
{
	assert_true(r->n < sizeof(r->ev) / sizeof(r->ev[0]));
	struct ev *e = &r->ev[r->n++];
	memset(e, 0, sizeof(*e));
	e->type = t;
	e->pos = *pos;
	return e;
}

static int cb_enter(void *ctx, const struct btree_pos *pos)
{
	struct rec *r = ctx;
	rec_add(r, EV_ENTER, pos);
	for (unsigned i = 0; i < r->nr_skip; i++)
		if (r->skip[i] == pos->block)
			return BTREE_WALK_SKIP;
	return BTREE_WALK_VISIT;
}

static int cb_node(void *ctx, const struct btree_node *n,
		   const struct btree_pos *pos)
{
	struct ev *e = rec_add(ctx, EV_NODE, pos);
	assert_int_equal(n->blocknr, pos->block);
	e->nr_entries = n->nr_entries;
	e->flags = n->flags;
	if (n->nr_entries)
		e->first_key = btree_node_key(n, 0);
	return 0;
}

static int cb_leave(void *ctx, const struct btree_pos *pos)
{
	rec_add(ctx, EV_LEAVE, pos);
	return 0;
}

static int cb_problem(void *ctx, const struct btree_pos *pos,
		      enum btree_problem p, uint64_t detail)
{
	struct rec *r = ctx;
	struct ev *e = rec_add(r, EV_PROBLEM, pos);
	e->p = p;
	e->detail = detail;
	return r->problem_ret;
}

static int cb_leaf_ptr(void *ctx, const struct btree_pos *pos)
{
	rec_add(ctx, EV_LEAF_PTR, pos);
	return 0;
}

static const struct btree_walk_ops rec_ops = {
	.enter = cb_enter,
	.node = cb_node,
	.leave = cb_leave,
	.problem = cb_problem,
	.leaf_ptr = cb_leaf_ptr,
};

static int walk(struct img *im, struct rec *r, uint64_t root, uint64_t lo,
		uint64_t hi, int leaf_depth)
{
	struct btree_walker w;
	btree_walker_init(&w, &im->dev, im->dev.nr_blocks);
	w.leaf_value_size = 8;
	w.leaf_depth = leaf_depth;
	w.ops = &rec_ops;
	w.ctx = r;
	int ret = btree_walk(&w, root, lo, hi);
	btree_walker_release(&w);
	return ret;
}

/* Index of the first event of a type for a block, or -1. */
static int find(const struct rec *r, enum ev_type t, uint64_t block)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->ev[i].type == t && r->ev[i].pos.block == block)
			return (int)i;
	return -1;
}

static unsigned count(const struct rec *r, enum ev_type t)
{
	unsigned c = 0;
	for (unsigned i = 0; i < r->n; i++)
		c += r->ev[i].type == t;
	return c;
}

/* The blocks node() saw, in order. */
static unsigned node_order(const struct rec *r, uint64_t *out, unsigned max)
{
	unsigned c = 0;
	for (unsigned i = 0; i < r->n && c < max; i++)
		if (r->ev[i].type == EV_NODE)
			out[c++] = r->ev[i].pos.block;
	return c;
}

static void assert_pos(const struct btree_pos *p, uint64_t block,
		       uint64_t parent, uint64_t lo, uint64_t hi,
		       unsigned depth, unsigned index)
{
	assert_int_equal(p->block, block);
	assert_int_equal(p->parent, parent);
	assert_int_equal(p->lo, lo);
	assert_int_equal(p->hi, hi);
	assert_int_equal(p->depth, depth);
	assert_int_equal(p->index, index);
}

/* ---- tree builders ---- */

/*
 * Root 1 (internal, keys 10/100/200) over leaves 7, 3, 5 (deliberately
 * not in block order): [10,99] [100,199] [200,hi].
 */
static const uint64_t two_keys[3] = { 10, 100, 200 };
static const uint64_t two_kids[3] = { 7, 3, 5 };

static void build_two_level(struct img *im)
{
	static const uint64_t k0[] = { 10, 50, 99 };
	static const uint64_t k1[] = { 100, 150, 199 };
	static const uint64_t k2[] = { 200, 5000 };
	put_internal(im, 1, two_keys, two_kids, 3);
	put_leaf(im, 7, k0, 3);
	put_leaf(im, 3, k1, 3);
	put_leaf(im, 5, k2, 2);
}

/* ---- tests ---- */

static void test_single_leaf(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	static const uint64_t keys[] = { 1, 2, 3 };
	img_create(im);
	put_leaf(im, 2, keys, 3);
	img_open(im);

	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 2, 0, UINT64_MAX, 0), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.ev[0].type, EV_ENTER);
	assert_int_equal(r.ev[1].type, EV_NODE);
	assert_int_equal(r.ev[2].type, EV_LEAVE);
	for (int i = 0; i < 3; i++)
		assert_pos(&r.ev[i].pos, 2, BTREE_POS_NO_PARENT, 0,
			   UINT64_MAX, 0, 0);
	assert_int_equal(r.ev[1].nr_entries, 3);
	assert_int_equal(r.ev[1].flags, BTREE_NODE_LEAF);
	assert_int_equal(r.ev[1].first_key, 1);

	/* Keys outside the range the caller gives. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 2, 2, 3, 0), 0);
	assert_int_equal(count(&r, EV_NODE), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 1);
	int i = find(&r, EV_PROBLEM, 2);
	assert_true(i >= 0);
	assert_int_equal(r.ev[i].p, BP_KEY_RANGE);
	assert_int_equal(r.ev[i].detail, 0);

	/* An empty tree is a single empty leaf. */
	put_leaf(im, 4, keys, 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 4, 0, UINT64_MAX, 0), 0);
	assert_int_equal(count(&r, EV_NODE), 1);
	assert_int_equal(count(&r, EV_PROBLEM), 0);
	assert_int_equal(r.ev[find(&r, EV_NODE, 4)].nr_entries, 0);
	img_destroy(im);
}

static void test_two_level(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	img_create(im);
	build_two_level(im);
	img_open(im);

	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 5000, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 0);
	assert_int_equal(count(&r, EV_ENTER), 4);
	assert_int_equal(count(&r, EV_NODE), 4);
	assert_int_equal(count(&r, EV_LEAVE), 4);

	/* node() in key order: root first, then the leaves. */
	uint64_t order[8];
	assert_int_equal(node_order(&r, order, 8), 4);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 7);
	assert_int_equal(order[2], 3);
	assert_int_equal(order[3], 5);

	/* The root. */
	assert_pos(&r.ev[0].pos, 1, BTREE_POS_NO_PARENT, 0, 5000, 0, 0);
	assert_int_equal(r.ev[0].type, EV_ENTER);
	int rn = find(&r, EV_NODE, 1);
	assert_int_equal(r.ev[rn].flags, BTREE_NODE_INTERNAL);
	assert_int_equal(r.ev[rn].nr_entries, 3);
	assert_pos(&r.ev[rn].pos, 1, BTREE_POS_NO_PARENT, 0, 5000, 0, 0);

	/* Children: ranges [key_i, key_i+1 - 1], last one up to 5000. */
	static const uint64_t lo[3] = { 10, 100, 200 };
	static const uint64_t hi[3] = { 99, 199, 5000 };
	int prev_leave = -1;
	for (unsigned c = 0; c < 3; c++) {
		int e = find(&r, EV_ENTER, two_kids[c]);
		int n = find(&r, EV_NODE, two_kids[c]);
		int l = find(&r, EV_LEAVE, two_kids[c]);
		assert_true(e >= 0 && n >= 0 && l >= 0);
		assert_true(rn < e && e < n && n < l);
		assert_true(prev_leave < n); /* depth first */
		prev_leave = l;
		assert_pos(&r.ev[e].pos, two_kids[c], 1, lo[c], hi[c], 1, c);
		assert_pos(&r.ev[n].pos, two_kids[c], 1, lo[c], hi[c], 1, c);
		assert_pos(&r.ev[l].pos, two_kids[c], 1, lo[c], hi[c], 1, c);
		assert_int_equal(r.ev[n].flags, BTREE_NODE_LEAF);
		assert_int_equal(r.ev[n].first_key, lo[c]);
	}
	/* leave() of the root comes last, after all of its children. */
	assert_int_equal(r.ev[r.n - 1].type, EV_LEAVE);
	assert_int_equal(r.ev[r.n - 1].pos.block, 1);

	/* Range inherited from the caller: last child up to UINT64_MAX. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, UINT64_MAX, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 0);
	int e = find(&r, EV_ENTER, 5);
	assert_pos(&r.ev[e].pos, 5, 1, 200, UINT64_MAX, 1, 2);

	/* A caller range the leaves break: key 5000 > hi 4999. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 4999, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 1);
	int p = find(&r, EV_PROBLEM, 5);
	assert_true(p >= 0);
	assert_int_equal(r.ev[p].p, BP_KEY_RANGE);
	assert_int_equal(r.ev[p].detail, 1);
	assert_int_equal(r.ev[p].pos.hi, 4999);
	assert_int_equal(find(&r, EV_NODE, 5), -1);
	assert_int_equal(count(&r, EV_NODE), 3);
	img_destroy(im);
}

/*
 * Three levels: root 1 (keys 0, 1000) over internal 2 (keys 0, 500) and
 * internal 3 (keys 1000, 2000); leaves 4, 5 under 2 and 6, 7 under 3.
 */
static void build_three_level(struct img *im)
{
	static const uint64_t rk[] = { 0, 1000 }, rc[] = { 2, 3 };
	static const uint64_t ak[] = { 0, 500 }, ac[] = { 4, 5 };
	static const uint64_t bk[] = { 1000, 2000 }, bc[] = { 6, 7 };
	static const uint64_t l4[] = { 0, 1 }, l5[] = { 500, 999 };
	static const uint64_t l6[] = { 1000 }, l7[] = { 2000, 3000 };
	put_internal(im, 1, rk, rc, 2);
	put_internal(im, 2, ak, ac, 2);
	put_internal(im, 3, bk, bc, 2);
	put_leaf(im, 4, l4, 2);
	put_leaf(im, 5, l5, 2);
	put_leaf(im, 6, l6, 1);
	put_leaf(im, 7, l7, 2);
}

static void test_three_level(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	img_create(im);
	build_three_level(im);
	img_open(im);

	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 9999, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 0);
	uint64_t order[16];
	assert_int_equal(node_order(&r, order, 16), 7);
	static const uint64_t want[7] = { 1, 2, 4, 5, 3, 6, 7 };
	for (int i = 0; i < 7; i++)
		assert_int_equal(order[i], want[i]);
	assert_pos(&r.ev[find(&r, EV_NODE, 2)].pos, 2, 1, 0, 999, 1, 0);
	assert_pos(&r.ev[find(&r, EV_NODE, 3)].pos, 3, 1, 1000, 9999, 1, 1);
	assert_pos(&r.ev[find(&r, EV_NODE, 4)].pos, 4, 2, 0, 499, 2, 0);
	assert_pos(&r.ev[find(&r, EV_NODE, 5)].pos, 5, 2, 500, 999, 2, 1);
	assert_pos(&r.ev[find(&r, EV_NODE, 6)].pos, 6, 3, 1000, 1999, 2, 0);
	assert_pos(&r.ev[find(&r, EV_NODE, 7)].pos, 7, 3, 2000, 9999, 2, 1);
	/* leave(2) after its leaves, before node(3). */
	assert_true(find(&r, EV_LEAVE, 5) < find(&r, EV_LEAVE, 2));
	assert_true(find(&r, EV_LEAVE, 2) < find(&r, EV_NODE, 3));
	assert_true(find(&r, EV_LEAVE, 7) < find(&r, EV_LEAVE, 3));
	assert_int_equal(r.ev[r.n - 1].type, EV_LEAVE);
	assert_int_equal(r.ev[r.n - 1].pos.block, 1);

	/* leaf_depth 2: nodes 1, 2, 3 read, leaves only as pointers. */
	img_garbage(im, 4);
	img_garbage(im, 5);
	img_garbage(im, 6);
	img_garbage(im, 7);
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 9999, 2), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 0);
	assert_int_equal(count(&r, EV_NODE), 3);
	assert_int_equal(count(&r, EV_LEAF_PTR), 4);
	assert_pos(&r.ev[find(&r, EV_LEAF_PTR, 5)].pos, 5, 2, 500, 999, 2, 1);
	assert_pos(&r.ev[find(&r, EV_LEAF_PTR, 7)].pos, 7, 3, 2000, 9999, 2,
		   1);
	img_destroy(im);
}

static void test_loop(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	static const uint64_t k[] = { 0, 100, 200 }, kids[] = { 2, 1, 3 };
	static const uint64_t l2[] = { 0, 5 }, l3[] = { 200 };
	img_create(im);
	put_internal(im, 1, k, kids, 3); /* child 1 is the root itself */
	put_leaf(im, 2, l2, 2);
	put_leaf(im, 3, l3, 1);
	img_open(im);

	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, UINT64_MAX, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 1);
	int p = find(&r, EV_PROBLEM, 1);
	assert_true(p >= 0);
	assert_int_equal(r.ev[p].p, BP_LOOP);
	assert_pos(&r.ev[p].pos, 1, 1, 100, 199, 1, 1);
	/* The siblings are still walked. */
	assert_true(find(&r, EV_NODE, 2) >= 0);
	assert_true(find(&r, EV_NODE, 3) >= 0);
	assert_int_equal(count(&r, EV_NODE), 3);

	/* A grandchild pointing back to the root. */
	static const uint64_t rk[] = { 0 }, rc[] = { 2 };
	static const uint64_t ak[] = { 0, 50 }, ac[] = { 3, 1 };
	put_internal(im, 1, rk, rc, 1);
	put_internal(im, 2, ak, ac, 2);
	put_leaf(im, 3, l2, 2);
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 1000, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 1);
	p = find(&r, EV_PROBLEM, 1);
	assert_true(p >= 0);
	assert_int_equal(r.ev[p].p, BP_LOOP);
	assert_pos(&r.ev[p].pos, 1, 2, 50, 1000, 2, 1);
	assert_int_equal(count(&r, EV_NODE), 3); /* 1, 2 and leaf 3 */

	/* A node pointing to itself. */
	static const uint64_t sk[] = { 0 }, sc[] = { 1 };
	put_internal(im, 1, sk, sc, 1);
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 1000, 0), 0);
	p = find(&r, EV_PROBLEM, 1);
	assert_true(p >= 0);
	assert_int_equal(r.ev[p].p, BP_LOOP);
	assert_pos(&r.ev[p].pos, 1, 1, 0, 1000, 1, 0);
	img_destroy(im);
}

static void test_child_range(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	static const uint64_t k[] = { 0, 100, 200 };
	static const uint64_t kids[] = { 2, NR_BLOCKS, 3 };
	static const uint64_t l2[] = { 0 }, l3[] = { 200 };
	img_create(im);
	put_internal(im, 1, k, kids, 3);
	put_leaf(im, 2, l2, 1);
	put_leaf(im, 3, l3, 1);
	img_open(im);

	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, UINT64_MAX, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 1);
	int p = find(&r, EV_PROBLEM, NR_BLOCKS);
	assert_true(p >= 0);
	assert_int_equal(r.ev[p].p, BP_CHILD_RANGE);
	assert_int_equal(r.ev[p].detail, NR_BLOCKS);
	assert_pos(&r.ev[p].pos, NR_BLOCKS, 1, 100, 199, 1, 1);
	assert_int_equal(count(&r, EV_NODE), 3);

	/* Far past the end, and the root itself past the end. */
	static const uint64_t kids2[] = { 2, UINT64_MAX - 1, 3 };
	put_internal(im, 1, k, kids2, 3);
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, UINT64_MAX, 0), 0);
	p = find(&r, EV_PROBLEM, UINT64_MAX - 1);
	assert_true(p >= 0);
	assert_int_equal(r.ev[p].p, BP_CHILD_RANGE);

	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1000, 0, UINT64_MAX, 0), 0);
	assert_int_equal(count(&r, EV_NODE), 0);
	p = find(&r, EV_PROBLEM, 1000);
	assert_true(p >= 0);
	assert_int_equal(r.ev[p].p, BP_CHILD_RANGE);
	img_destroy(im);
}

static void test_bad_csum_continues(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	img_create(im);
	build_two_level(im);
	corrupt(im, 7, 3000); /* first leaf */
	img_open(im);

	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 5000, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 1);
	int p = find(&r, EV_PROBLEM, 7);
	assert_true(p >= 0);
	assert_int_equal(r.ev[p].p, BP_CSUM);
	assert_pos(&r.ev[p].pos, 7, 1, 10, 99, 1, 0);
	assert_int_equal(find(&r, EV_NODE, 7), -1);
	assert_int_equal(find(&r, EV_LEAVE, 7), -1);
	assert_true(find(&r, EV_NODE, 3) > p);
	assert_true(find(&r, EV_NODE, 5) > p);
	assert_int_equal(r.ev[r.n - 1].type, EV_LEAVE);
	assert_int_equal(r.ev[r.n - 1].pos.block, 1);
	img_destroy(im);
}

/* Five children: validated three at a time and one by one. */
static void test_bad_csum_many(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	static const uint64_t k[] = { 0, 10, 20, 30, 40 };
	static const uint64_t kids[] = { 9, 8, 4, 6, 2 };
	img_create(im);
	put_internal(im, 1, k, kids, 5);
	for (unsigned i = 0; i < 5; i++)
		put_leaf(im, kids[i], &k[i], 1);
	corrupt(im, 8, 40);	/* in the first triple */
	corrupt(im, 2, 4095);	/* the last one */
	img_open(im);

	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 100, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 2);
	assert_int_equal(r.ev[find(&r, EV_PROBLEM, 8)].p, BP_CSUM);
	assert_int_equal(r.ev[find(&r, EV_PROBLEM, 2)].p, BP_CSUM);
	uint64_t order[8];
	assert_int_equal(node_order(&r, order, 8), 4);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 9);
	assert_int_equal(order[2], 4);
	assert_int_equal(order[3], 6);
	img_destroy(im);
}

static void test_bad_blocknr(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	static const uint64_t k1[] = { 100, 150, 199 };
	img_create(im);
	build_two_level(im);
	put_leaf_at(im, 3, 9, k1, 3); /* intact, but written for block 9 */
	img_open(im);

	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 5000, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 1);
	int p = find(&r, EV_PROBLEM, 3);
	assert_true(p >= 0);
	assert_int_equal(r.ev[p].p, BP_BLOCKNR);
	assert_int_equal(r.ev[p].detail, 9);
	assert_int_equal(count(&r, EV_NODE), 3);
	img_destroy(im);
}

static void test_bad_keys_and_header(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	static const uint64_t bad_range[] = { 100, 250 };  /* 250 > 199 */
	static const uint64_t bad_order[] = { 10, 60, 60 }; /* not increasing */
	img_create(im);
	build_two_level(im);
	put_leaf(im, 3, bad_range, 2);
	put_leaf(im, 7, bad_order, 3);
	img_open(im);

	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 5000, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 2);
	int p = find(&r, EV_PROBLEM, 3);
	assert_int_equal(r.ev[p].p, BP_KEY_RANGE);
	assert_int_equal(r.ev[p].detail, 1);
	p = find(&r, EV_PROBLEM, 7);
	assert_int_equal(r.ev[p].p, BP_KEY_ORDER);
	assert_int_equal(r.ev[p].detail, 2);
	assert_int_equal(count(&r, EV_NODE), 2); /* root and leaf 5 */

	/* Leaves of the wrong value size for the tree. */
	memset(im->buf, 0, MD_BLOCK_SIZE);
	le32_store(im->buf + 4, BTREE_NODE_LEAF);
	le32_store(im->buf + 16, 1);
	le32_store(im->buf + 20, 126);
	le32_store(im->buf + 24, 24);
	le64_store(im->buf + 32, 100);
	block_seal(BK_BTREE_NODE, im->buf, 3);
	img_put(im, 3, im->buf);
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 5000, 0), 0);
	p = find(&r, EV_PROBLEM, 3);
	assert_true(p >= 0);
	assert_int_equal(r.ev[p].p, BP_VALUE_SIZE);
	assert_int_equal(find(&r, EV_NODE, 3), -1);

	/* A non-fatal problem (max_entries 250) is reported; node read. */
	static const uint64_t k1[] = { 100, 150, 199 };
	put_leaf(im, 3, k1, 3);
	assert_int_equal(pread(im->fd, im->buf, MD_BLOCK_SIZE, 3 * 4096),
			 MD_BLOCK_SIZE);
	le32_store(im->buf + 20, 250);
	block_seal(BK_BTREE_NODE, im->buf, 3);
	img_put(im, 3, im->buf);
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 5000, 0), 0);
	p = find(&r, EV_PROBLEM, 3);
	assert_true(p >= 0);
	assert_int_equal(r.ev[p].p, BP_MAX_RULE);
	assert_true(find(&r, EV_NODE, 3) > p);
	img_destroy(im);
}

static void test_enter_skip(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	img_create(im);
	build_two_level(im);
	img_garbage(im, 3); /* the skipped block is never read */
	img_open(im);

	memset(&r, 0, sizeof(r));
	r.skip[r.nr_skip++] = 3;
	assert_int_equal(walk(im, &r, 1, 0, 5000, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 0);
	assert_true(find(&r, EV_ENTER, 3) >= 0);
	assert_int_equal(find(&r, EV_NODE, 3), -1);
	assert_int_equal(find(&r, EV_LEAVE, 3), -1);
	uint64_t order[8];
	assert_int_equal(node_order(&r, order, 8), 3);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 7);
	assert_int_equal(order[2], 5);

	/* Without the skip the garbage is found. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 5000, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 1);
	assert_int_equal(r.ev[find(&r, EV_PROBLEM, 3)].p, BP_CSUM);

	/* Skipping the root: nothing read at all. */
	img_garbage(im, 1);
	memset(&r, 0, sizeof(r));
	r.skip[r.nr_skip++] = 1;
	assert_int_equal(walk(im, &r, 1, 0, 5000, 0), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ev[0].type, EV_ENTER);

	/* Skipping every child: only the root is visited. */
	build_two_level(im);
	img_garbage(im, 7);
	img_garbage(im, 3);
	img_garbage(im, 5);
	memset(&r, 0, sizeof(r));
	r.skip[r.nr_skip++] = 7;
	r.skip[r.nr_skip++] = 3;
	r.skip[r.nr_skip++] = 5;
	assert_int_equal(walk(im, &r, 1, 0, 5000, 0), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 0);
	assert_int_equal(count(&r, EV_NODE), 1);
	assert_int_equal(count(&r, EV_LEAVE), 1);
	img_destroy(im);
}

static void test_leaf_depth(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	img_create(im);
	build_two_level(im);
	img_garbage(im, 7);
	img_garbage(im, 3);
	img_garbage(im, 5);
	img_open(im);

	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 5000, 1), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 0);
	assert_int_equal(count(&r, EV_NODE), 1);
	assert_int_equal(find(&r, EV_NODE, 1), 1);
	assert_int_equal(count(&r, EV_LEAF_PTR), 3);
	static const uint64_t lo[3] = { 10, 100, 200 };
	static const uint64_t hi[3] = { 99, 199, 5000 };
	unsigned c = 0;
	for (unsigned i = 0; i < r.n; i++) {
		if (r.ev[i].type != EV_LEAF_PTR)
			continue;
		/* In key order, with the ranges the parent gives. */
		assert_pos(&r.ev[i].pos, two_kids[c], 1, lo[c], hi[c], 1, c);
		c++;
	}
	assert_int_equal(c, 3);
	/* The root's leave() still comes, after the pointers. */
	assert_int_equal(r.ev[r.n - 1].type, EV_LEAVE);
	assert_int_equal(r.ev[r.n - 1].pos.block, 1);

	/* Pointers past the end are still problems in leaf_depth mode. */
	static const uint64_t kids[] = { 7, 1000, 5 };
	put_internal(im, 1, two_keys, kids, 3);
	memset(&r, 0, sizeof(r));
	assert_int_equal(walk(im, &r, 1, 0, 5000, 1), 0);
	assert_int_equal(count(&r, EV_LEAF_PTR), 2);
	assert_int_equal(r.ev[find(&r, EV_PROBLEM, 1000)].p, BP_CHILD_RANGE);
	img_destroy(im);
}

static void test_abort(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	img_create(im);
	build_two_level(im);
	corrupt(im, 7, 100);
	img_open(im);

	memset(&r, 0, sizeof(r));
	r.problem_ret = -42;
	assert_int_equal(walk(im, &r, 1, 0, 5000, 0), -42);
	assert_int_equal(count(&r, EV_PROBLEM), 1);
	assert_int_equal(find(&r, EV_NODE, 3), -1);
	assert_int_equal(find(&r, EV_NODE, 5), -1);
	assert_int_equal(r.ev[r.n - 1].type, EV_PROBLEM);
	img_destroy(im);
}

static void test_height(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct btree_walker w;
	unsigned h = 0;
	uint32_t entries = 0;
	uint64_t where = 0;
	static const uint64_t keys[] = { 1, 2, 3 };
	img_create(im);
	put_leaf(im, 20, keys, 3);
	build_two_level(im); /* root 1 */
	static const uint64_t rk[] = { 0, 1000 }, rc[] = { 10, 11 };
	static const uint64_t ak[] = { 0, 500 }, ac[] = { 20, 21 };
	put_internal(im, 12, rk, rc, 2); /* 3 levels: 12 -> 10 -> 20 */
	put_internal(im, 10, ak, ac, 2);
	img_garbage(im, 13);
	img_open(im);

	btree_walker_init(&w, &im->dev, im->dev.nr_blocks);
	w.leaf_value_size = 8;
	assert_int_equal(btree_height(&w, 20, &h, &entries, &where), BP_NONE);
	assert_int_equal(h, 1);
	assert_int_equal(entries, 3);
	assert_int_equal(btree_height(&w, 1, &h, &entries, &where), BP_NONE);
	assert_int_equal(h, 2);
	assert_int_equal(btree_height(&w, 12, &h, &entries, &where), BP_NONE);
	assert_int_equal(h, 3);

	assert_int_equal(btree_height(&w, 13, &h, &entries, &where), BP_CSUM);
	assert_int_equal(where, 13);
	assert_int_equal(btree_height(&w, NR_BLOCKS, &h, &entries, &where),
			 BP_CHILD_RANGE);
	assert_int_equal(where, NR_BLOCKS);
	btree_walker_release(&w);
	img_destroy(im);
}

/*
 * One walker used for several walks: a narrow tree, then a root with the
 * most children a node can hold (the per-level buffers must grow).
 */
static void test_wide_reused_walker(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	struct btree_walker w;
	uint64_t keys[252], kids[252];
	img_create(im);
	build_two_level(im);
	for (unsigned i = 0; i < 252; i++) {
		keys[i] = 1000 + 10 * (uint64_t)i;
		kids[i] = 299 - i; /* descending block numbers */
		uint64_t lk[2] = { keys[i], keys[i] + 9 };
		put_leaf(im, kids[i], lk, 2);
	}
	put_internal(im, 40, keys, kids, 252);
	img_open(im);

	btree_walker_init(&w, &im->dev, im->dev.nr_blocks);
	w.leaf_value_size = 8;
	w.ops = &rec_ops;
	w.ctx = &r;
	for (int round = 0; round < 2; round++) {
		memset(&r, 0, sizeof(r));
		assert_int_equal(btree_walk(&w, 1, 0, 5000), 0);
		assert_int_equal(count(&r, EV_PROBLEM), 0);
		assert_int_equal(count(&r, EV_NODE), 4);

		memset(&r, 0, sizeof(r));
		assert_int_equal(btree_walk(&w, 40, 1000, 4000), 0);
		assert_int_equal(count(&r, EV_PROBLEM), 0);
		assert_int_equal(count(&r, EV_NODE), 253);
		assert_int_equal(count(&r, EV_LEAVE), 253);
		unsigned c = 0;
		for (unsigned i = 0; i < r.n; i++) {
			if (r.ev[i].type != EV_NODE || r.ev[i].pos.depth != 1)
				continue;
			assert_int_equal(r.ev[i].pos.block, kids[c]);
			assert_int_equal(r.ev[i].pos.index, c);
			assert_int_equal(r.ev[i].pos.lo, keys[c]);
			assert_int_equal(r.ev[i].pos.hi,
					 c < 251 ? keys[c + 1] - 1 : 4000);
			assert_int_equal(r.ev[i].first_key, keys[c]);
			c++;
		}
		assert_int_equal(c, 252);
	}
	btree_walker_release(&w);
	img_destroy(im);
}

/*
 * Pointers below the walker's nr_blocks but past the end of the file
 * (a metadata size larger than the device): BP_IO with -errno.
 */
static void test_io_error(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	struct btree_walker w;
	static const uint64_t kids[] = { 7, 500, 5 };
	img_create(im);
	build_two_level(im);
	put_internal(im, 1, two_keys, kids, 3);
	img_open(im);

	btree_walker_init(&w, &im->dev, 1000);
	w.leaf_value_size = 8;
	w.ops = &rec_ops;
	w.ctx = &r;
	memset(&r, 0, sizeof(r));
	assert_int_equal(btree_walk(&w, 1, 0, 5000), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 1);
	int p = find(&r, EV_PROBLEM, 500);
	assert_true(p >= 0);
	assert_int_equal(r.ev[p].p, BP_IO);
	assert_true((int64_t)r.ev[p].detail < 0);
	assert_pos(&r.ev[p].pos, 500, 1, 100, 199, 1, 1);
	assert_int_equal(count(&r, EV_NODE), 3);

	/* The root itself unreadable. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(btree_walk(&w, 999, 0, 5000), 0);
	assert_int_equal(count(&r, EV_NODE), 0);
	p = find(&r, EV_PROBLEM, 999);
	assert_true(p >= 0);
	assert_int_equal(r.ev[p].p, BP_IO);
	assert_true((int64_t)r.ev[p].detail < 0);

	unsigned h;
	uint32_t entries;
	uint64_t where;
	assert_int_equal(btree_height(&w, 999, &h, &entries, &where), BP_IO);
	assert_int_equal(where, 999);
	btree_walker_release(&w);
	img_destroy(im);
}

/* A chain of single-child internal nodes deeper than BTREE_MAX_DEPTH. */
static void test_too_deep(void **state)
{
	(void)state;
	struct img *im = &the_img;
	struct rec r;
	struct btree_walker w;
	enum { CHAIN = BTREE_MAX_DEPTH + 10 };
	static const uint64_t key0[] = { 0 };
	img_create(im);
	for (uint64_t i = 1; i <= CHAIN; i++) {
		uint64_t child = i + 1;
		put_internal(im, i, key0, &child, 1);
	}
	put_leaf(im, CHAIN + 1, key0, 1);
	img_open(im);

	btree_walker_init(&w, &im->dev, im->dev.nr_blocks);
	w.leaf_value_size = 8;
	w.ops = &rec_ops;
	w.ctx = &r;
	memset(&r, 0, sizeof(r));
	assert_int_equal(btree_walk(&w, 1, 0, 100), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 1);
	int p = -1;
	for (unsigned i = 0; i < r.n; i++)
		if (r.ev[i].type == EV_PROBLEM)
			p = (int)i;
	assert_int_equal(r.ev[p].p, BP_DEPTH);
	assert_true(r.ev[p].pos.depth < BTREE_MAX_DEPTH);
	assert_true(count(&r, EV_NODE) <= BTREE_MAX_DEPTH);
	assert_true(count(&r, EV_NODE) >= BTREE_MAX_DEPTH - 1);
	assert_int_equal(find(&r, EV_NODE, CHAIN + 1), -1);
	/* Every node accepted is also left. */
	assert_int_equal(count(&r, EV_LEAVE), count(&r, EV_NODE));

	unsigned h = 0;
	uint32_t entries;
	uint64_t where;
	assert_int_equal(btree_height(&w, 1, &h, &entries, &where), BP_DEPTH);
	/* Just deep enough: starting further down the chain. */
	uint64_t start = CHAIN + 1 - (BTREE_MAX_DEPTH - 1);
	assert_int_equal(btree_height(&w, start, &h, &entries, &where), BP_NONE);
	assert_int_equal(h, BTREE_MAX_DEPTH);
	memset(&r, 0, sizeof(r));
	assert_int_equal(btree_walk(&w, start, 0, 100), 0);
	assert_int_equal(count(&r, EV_PROBLEM), 0);
	assert_int_equal(count(&r, EV_NODE), BTREE_MAX_DEPTH);
	btree_walker_release(&w);
	img_destroy(im);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_single_leaf, teardown_img),
		cmocka_unit_test_teardown(test_two_level, teardown_img),
		cmocka_unit_test_teardown(test_three_level, teardown_img),
		cmocka_unit_test_teardown(test_loop, teardown_img),
		cmocka_unit_test_teardown(test_child_range, teardown_img),
		cmocka_unit_test_teardown(test_bad_csum_continues, teardown_img),
		cmocka_unit_test_teardown(test_bad_csum_many, teardown_img),
		cmocka_unit_test_teardown(test_bad_blocknr, teardown_img),
		cmocka_unit_test_teardown(test_bad_keys_and_header, teardown_img),
		cmocka_unit_test_teardown(test_enter_skip, teardown_img),
		cmocka_unit_test_teardown(test_leaf_depth, teardown_img),
		cmocka_unit_test_teardown(test_abort, teardown_img),
		cmocka_unit_test_teardown(test_height, teardown_img),
		cmocka_unit_test_teardown(test_wide_reused_walker, teardown_img),
		cmocka_unit_test_teardown(test_io_error, teardown_img),
		cmocka_unit_test_teardown(test_too_deep, teardown_img),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
