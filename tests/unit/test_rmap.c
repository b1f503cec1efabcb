// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for thin_rmap.c: region parsing; small pools built block by
 * block in a temporary file (single leaves, multi-level trees, leaves and
 * whole trees shared between devices) compared with a straightforward
 * model of the reverse map; the memory bound (max_runs) forcing several
 * walks without changing the output; damage, a bad superblock and a
 * callback that stops the walk.
 */
#include <errno.h>
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
#include "endian_le.h"
#include "report.h"
#include "thin_rmap.h"
#include "thin_superblock.h"
#include "thin_types.h"

#define NR_BLOCKS  4096u
#define MAX_LEAF   252u
#define MAX_LEAVES 2048u
#define MAX_DEVS   8u
#define MAX_MAPS   (MAX_LEAVES * 16u)

/* ---- a pool modelled in memory and written to a temporary file ---- */

struct leaf {
	uint64_t block;
	unsigned n;
	uint64_t keys[MAX_LEAF];
	uint64_t data[MAX_LEAF];
};

struct pool {
	char path[64];
	int fd;
	struct bdev dev;
	uint8_t *img;		/* NR_BLOCKS blocks */
	uint64_t next_block;
	struct leaf leaves[MAX_LEAVES];
	unsigned nr_leaves;
	/* devices, ids increasing, with their leaves in key order */
	uint64_t ids[MAX_DEVS], roots[MAX_DEVS];
	unsigned dev_leaves[MAX_DEVS][MAX_LEAVES];
	unsigned nr_dev_leaves[MAX_DEVS];
	unsigned nr_devs;
};

static struct pool *the_pool;

static uint8_t *blk(struct pool *p, uint64_t b)
{
	assert_true(b < NR_BLOCKS);
	return p->img + b * MD_BLOCK_SIZE;
}

static uint64_t alloc_block(struct pool *p)
{
	assert_true(p->next_block < NR_BLOCKS);
	return p->next_block++;
}

static void node_init(uint8_t *b, uint32_t flags, unsigned nr)
{
	memset(b, 0, MD_BLOCK_SIZE);
	le32_store(b + 4, flags);
	le32_store(b + 16, nr);
	le32_store(b + 20, MAX_LEAF);
	le32_store(b + 24, 8);
}

static void node_set(uint8_t *b, unsigned i, uint64_t key, uint64_t val)
{
	le64_store(b + BTREE_HEADER_SIZE + 8 * i, key);
	le64_store(b + BTREE_HEADER_SIZE + 8 * MAX_LEAF + 8 * i, val);
}

static int setup_pool(void **state)
{
	(void)state;
	struct pool *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->img = calloc(NR_BLOCKS, MD_BLOCK_SIZE);
	assert_non_null(p->img);
	p->fd = -1;
	p->dev.fd = -1;
	p->next_block = 1;
	the_pool = p;
	return 0;
}

static int teardown_pool(void **state)
{
	(void)state;
	struct pool *p = the_pool;
	if (!p)
		return 0;
	if (p->dev.fd >= 0)
		bdev_close(&p->dev);
	if (p->fd >= 0) {
		close(p->fd);
		unlink(p->path);
	}
	free(p->img);
	free(p);
	the_pool = NULL;
	return 0;
}

/* A new leaf with n mappings (sealed when the pool is written). */
static unsigned add_leaf(struct pool *p, const uint64_t *keys,
			 const uint64_t *data, unsigned n)
{
	assert_true(p->nr_leaves < MAX_LEAVES && n <= MAX_LEAF);
	struct leaf *l = &p->leaves[p->nr_leaves];
	l->block = alloc_block(p);
	l->n = n;
	memcpy(l->keys, keys, n * sizeof(*keys));
	memcpy(l->data, data, n * sizeof(*data));
	uint8_t *b = blk(p, l->block);
	node_init(b, BTREE_NODE_LEAF, n);
	for (unsigned i = 0; i < n; i++)
		node_set(b, i, keys[i], block_time_pack(data[i], 0));
	return p->nr_leaves++;
}

/* Internal levels over the device's leaves, `fanout` children a node. */
static uint64_t build_tree(struct pool *p, unsigned dev, unsigned fanout)
{
	uint64_t level[MAX_LEAVES], keys[MAX_LEAVES];
	unsigned n = p->nr_dev_leaves[dev];
	for (unsigned i = 0; i < n; i++) {
		const struct leaf *l = &p->leaves[p->dev_leaves[dev][i]];
		level[i] = l->block;
		keys[i] = l->n ? l->keys[0] : 0;
	}
	if (!n) {
		/* an empty tree is an empty leaf */
		uint64_t b = alloc_block(p);
		node_init(blk(p, b), BTREE_NODE_LEAF, 0);
		return b;
	}
	while (n > 1) {
		unsigned m = 0;
		for (unsigned i = 0; i < n; i += fanout) {
			unsigned k = n - i < fanout ? n - i : fanout;
			uint64_t b = alloc_block(p);
			node_init(blk(p, b), BTREE_NODE_INTERNAL, k);
			for (unsigned j = 0; j < k; j++)
				node_set(blk(p, b), j, keys[i + j], level[i + j]);
			level[m] = b;
			keys[m] = keys[i];
			m++;
		}
		n = m;
	}
	return level[0];
}

static void add_device(struct pool *p, uint64_t id, const unsigned *leaves,
		       unsigned n, unsigned fanout)
{
	assert_true(p->nr_devs < MAX_DEVS);
	unsigned d = p->nr_devs++;
	p->ids[d] = id;
	if (n)
		memcpy(p->dev_leaves[d], leaves, n * sizeof(*leaves));
	p->nr_dev_leaves[d] = n;
	p->roots[d] = build_tree(p, d, fanout);
}

/* A device that shares the whole tree of device `of` (a snapshot). */
static void add_snapshot(struct pool *p, uint64_t id, unsigned of)
{
	unsigned d = p->nr_devs++;
	p->ids[d] = id;
	memcpy(p->dev_leaves[d], p->dev_leaves[of],
	       p->nr_dev_leaves[of] * sizeof(unsigned));
	p->nr_dev_leaves[d] = p->nr_dev_leaves[of];
	p->roots[d] = p->roots[of];
}

/* Top-level tree, superblock, seal every node, write the file, open it. */
static void write_pool(struct pool *p)
{
	uint64_t top = alloc_block(p);
	node_init(blk(p, top), BTREE_NODE_LEAF, p->nr_devs);
	for (unsigned d = 0; d < p->nr_devs; d++)
		node_set(blk(p, top), d, p->ids[d], p->roots[d]);
	uint64_t details = alloc_block(p);
	node_init(blk(p, details), BTREE_NODE_LEAF, 0);
	le32_store(blk(p, details) + 24, THIN_DETAILS_VALUE_SIZE);
	le32_store(blk(p, details) + 20, btree_max_entries(THIN_DETAILS_VALUE_SIZE));
	for (uint64_t b = 1; b < p->next_block; b++)
		block_seal(BK_BTREE_NODE, blk(p, b), b);

	struct thin_superblock sb = { 0 };
	sb.magic = THIN_SUPERBLOCK_MAGIC;
	sb.version = 2;
	sb.data_block_size = 128;
	sb.metadata_block_size = 8;
	sb.metadata_nr_blocks = NR_BLOCKS;
	sb.metadata_sm.nr_blocks = NR_BLOCKS;
	sb.data_sm.nr_blocks = 1ull << 30;
	sb.data_mapping_root = top;
	sb.device_details_root = details;
	thin_sb_encode(&sb, blk(p, 0));

	strcpy(p->path, "/tmp/thinsnap-test-rmap-XXXXXX");
	p->fd = mkstemp(p->path);
	assert_true(p->fd >= 0);
	assert_int_equal(pwrite(p->fd, p->img, (size_t)NR_BLOCKS * MD_BLOCK_SIZE, 0),
			 (ssize_t)NR_BLOCKS * MD_BLOCK_SIZE);
	assert_int_equal(bdev_open(&p->dev, p->path, 0), 0);
}

/* Flip a byte of a block in the file (after write_pool). */
static void corrupt(struct pool *p, uint64_t block, unsigned off)
{
	uint8_t c;
	off_t o = (off_t)(block * MD_BLOCK_SIZE + off);
	assert_int_equal(pread(p->fd, &c, 1, o), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(p->fd, &c, 1, o), 1);
}

/* ---- the model: runs straight from the mappings ---- */

struct runs {
	struct rmap_run *v;
	size_t n, cap;
};

static void runs_push(struct runs *r, const struct rmap_run *x)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		assert_non_null(r->v);
	}
	r->v[r->n++] = *x;
}

static bool in_any(const struct rmap_region *reg, size_t nr, uint64_t d)
{
	for (size_t i = 0; i < nr; i++)
		if (d >= reg[i].begin && d < reg[i].end)
			return true;
	return false;
}

static int cmp_run(const void *a, const void *b)
{
	const struct rmap_run *x = a, *y = b;
#define CMP(f)                                 \
	if (x->f != y->f)                      \
		return x->f < y->f ? -1 : 1;
	CMP(data_begin)
	CMP(data_end)
	CMP(dev_id)
	CMP(thin_begin)
#undef CMP
	return 0;
}

static void model(const struct pool *p, const struct rmap_region *reg,
		  size_t nr, struct runs *out)
{
	for (unsigned d = 0; d < p->nr_devs; d++) {
		struct rmap_run cur = { 0 };
		bool have = false;
		for (unsigned i = 0; i < p->nr_dev_leaves[d]; i++) {
			const struct leaf *l = &p->leaves[p->dev_leaves[d][i]];
			for (unsigned j = 0; j < l->n; j++) {
				uint64_t k = l->keys[j], v = l->data[j];
				if (!in_any(reg, nr, v))
					continue;
				uint64_t len = cur.data_end - cur.data_begin;
				if (have && v == cur.data_end &&
				    k == cur.thin_begin + len) {
					cur.data_end++;
					continue;
				}
				if (have)
					runs_push(out, &cur);
				cur = (struct rmap_run){ v, v + 1, p->ids[d], k };
				have = true;
			}
		}
		if (have)
			runs_push(out, &cur);
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_run);
}

/* ---- running thin_rmap ---- */

struct result {
	struct runs runs;
	int stop_after;		/* > 0: return 42 at that run */
	char msgs[8][160];
	unsigned nr_msgs;
	struct thin_rmap_stats st;
};

static int collect(void *ctx, const struct rmap_run *r)
{
	struct result *res = ctx;
	runs_push(&res->runs, r);
	if (res->stop_after && res->runs.n == (size_t)res->stop_after)
		return 42;
	return 0;
}

static void emit_msg(void *ctx, enum report_level level, const char *msg)
{
	struct result *res = ctx;
	assert_int_equal(level, REPORT_FATAL);
	if (res->nr_msgs < 8)
		snprintf(res->msgs[res->nr_msgs++], sizeof(res->msgs[0]), "%s",
			 msg);
}

static int rmap(struct pool *p, const struct rmap_region *reg, size_t nr,
		size_t max_runs, struct result *res)
{
	struct reporter rep = { .emit = emit_msg, .ctx = res };
	struct thin_rmap_opts o = { reg, nr, max_runs };
	return thin_rmap(&p->dev, &o, collect, res, &rep, &res->st);
}

static void result_release(struct result *res)
{
	free(res->runs.v);
	memset(res, 0, sizeof(*res));
}

static void expect_runs(const struct runs *got, const struct runs *want)
{
	if (got->n != want->n)
		fprintf(stderr, "got %zu runs, want %zu\n", got->n, want->n);
	assert_int_equal(got->n, want->n);
	for (size_t i = 0; i < got->n; i++) {
		if (cmp_run(&got->v[i], &want->v[i]))
			fprintf(stderr,
				"run %zu: got %llu..%llu dev %llu thin %llu, want %llu..%llu dev %llu thin %llu\n",
				i, (unsigned long long)got->v[i].data_begin,
				(unsigned long long)got->v[i].data_end,
				(unsigned long long)got->v[i].dev_id,
				(unsigned long long)got->v[i].thin_begin,
				(unsigned long long)want->v[i].data_begin,
				(unsigned long long)want->v[i].data_end,
				(unsigned long long)want->v[i].dev_id,
				(unsigned long long)want->v[i].thin_begin);
		assert_int_equal(cmp_run(&got->v[i], &want->v[i]), 0);
	}
}

/*
 * thin_rmap with several memory bounds against the model (tiny bounds,
 * which mean a walk for every run or two, only for small pools).
 */
static void check_against_model(struct pool *p, const struct rmap_region *reg,
				size_t nr)
{
	static const size_t bounds[] = { 0, 1000, 64, 13, 7, 3, 2, 1 };
	struct runs want = { 0 };
	model(p, reg, nr, &want);
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		if (want.n > 40 * bounds[i] && bounds[i] < 13)
			break;
		struct result res = { 0 };
		int r = rmap(p, reg, nr, bounds[i], &res);
		for (unsigned j = 0; j < res.nr_msgs; j++)
			fprintf(stderr, "unexpected: %s\n", res.msgs[j]);
		assert_int_equal(r, 0);
		assert_int_equal(res.nr_msgs, 0);
		expect_runs(&res.runs, &want);
		assert_int_equal(res.st.runs, want.n);
		assert_int_equal(res.st.devices, p->nr_devs);
		if (!bounds[i] || bounds[i] >= want.n)
			assert_int_equal(res.st.passes, 1);
		result_release(&res);
	}
	free(want.v);
}

/* ---- tests ---- */

static void test_parse_region(void **state)
{
	(void)state;
	struct rmap_region r;
	assert_int_equal(thin_rmap_parse_region("5..45", &r), RMAP_REGION_OK);
	assert_int_equal(r.begin, 5);
	assert_int_equal(r.end, 45);
	assert_int_equal(thin_rmap_parse_region("0..1", &r), RMAP_REGION_OK);
	assert_int_equal(r.begin, 0);
	assert_int_equal(r.end, 1);
	assert_int_equal(thin_rmap_parse_region("007..010", &r), RMAP_REGION_OK);
	assert_int_equal(r.begin, 7);
	assert_int_equal(r.end, 10);
	assert_int_equal(thin_rmap_parse_region("0..18446744073709551615", &r),
			 RMAP_REGION_OK);
	assert_true(r.end == UINT64_MAX);

	static const char *const bad[] = {
		"23,7890", "23..six", "89..", "89...99", "", "..5", "..",
		"5", " 5..9", "5..9 ", "+5..9", "-1..9", "5..-9", "5..9x",
		"1..2..3", "5..18446744073709551616", "0x5..9", "5. .9",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = (struct rmap_region){ 1, 2 };
		if (thin_rmap_parse_region(bad[i], &r) != RMAP_REGION_BADLY_FORMED)
			fail_msg("'%s' was not rejected as badly formed", bad[i]);
		assert_int_equal(r.begin, 1); /* untouched */
	}
	assert_int_equal(thin_rmap_parse_region("89..88", &r),
			 RMAP_REGION_END_LE_BEGIN);
	assert_int_equal(thin_rmap_parse_region("89..89", &r),
			 RMAP_REGION_END_LE_BEGIN);
	assert_int_equal(thin_rmap_parse_region(NULL, &r),
			 RMAP_REGION_BADLY_FORMED);
}

/* One device, one leaf: the runs of the COMPAT example and clipping. */
static void test_one_leaf(void **state)
{
	(void)state;
	struct pool *p = the_pool;
	/* thin 0,1 -> 10,11; thin 2 -> 20; thin 3,4,5 -> 12,13,14; thin 9 -> 15 */
	uint64_t k[] = { 0, 1, 2, 3, 4, 5, 9 };
	uint64_t v[] = { 10, 11, 20, 12, 13, 14, 15 };
	unsigned l = add_leaf(p, k, v, 7);
	add_device(p, 1, &l, 1, 100);
	write_pool(p);

	struct rmap_region all = { 0, 100 };
	struct result res = { 0 };
	assert_int_equal(rmap(p, &all, 1, 0, &res), 0);
	const struct rmap_run want[] = {
		{ 10, 12, 1, 0 }, { 12, 15, 1, 3 }, { 15, 16, 1, 9 },
		{ 20, 21, 1, 2 },
	};
	struct runs w = { (struct rmap_run *)want, 4, 4 };
	expect_runs(&res.runs, &w);
	assert_int_equal(res.st.passes, 1);
	result_release(&res);

	/* a region cuts a run at both ends */
	struct rmap_region mid = { 11, 14 };
	assert_int_equal(rmap(p, &mid, 1, 0, &res), 0);
	const struct rmap_run want2[] = { { 11, 12, 1, 1 }, { 12, 14, 1, 3 } };
	struct runs w2 = { (struct rmap_run *)want2, 2, 2 };
	expect_runs(&res.runs, &w2);
	result_release(&res);

	/* nothing mapped in the region */
	struct rmap_region none = { 30, 40 };
	assert_int_equal(rmap(p, &none, 1, 0, &res), 0);
	assert_int_equal(res.runs.n, 0);
	result_release(&res);

	check_against_model(p, &all, 1);
	check_against_model(p, &mid, 1);
}

/*
 * Regions are a set: unsorted, overlapping and touching regions give the
 * same runs as their union, and a run crossing from one region into a
 * touching one is not cut.
 */
static void test_region_union(void **state)
{
	(void)state;
	struct pool *p = the_pool;
	uint64_t k[40], v[40];
	for (unsigned i = 0; i < 40; i++)
		k[i] = i, v[i] = 100 + i;
	unsigned l = add_leaf(p, k, v, 40);
	add_device(p, 3, &l, 1, 100);
	write_pool(p);

	const struct rmap_region touching[] = { { 110, 120 }, { 100, 110 } };
	const struct rmap_region overlapping[] = { { 105, 120 }, { 100, 112 },
						   { 101, 103 } };
	const struct rmap_region gap[] = { { 125, 130 }, { 100, 103 },
					   { 105, 112 } };
	struct result res = { 0 };

	assert_int_equal(rmap(p, touching, 2, 0, &res), 0);
	assert_int_equal(res.runs.n, 1);
	assert_true(res.runs.v[0].data_begin == 100 && res.runs.v[0].data_end == 120 &&
		    res.runs.v[0].thin_begin == 0);
	result_release(&res);

	assert_int_equal(rmap(p, overlapping, 3, 0, &res), 0);
	assert_int_equal(res.runs.n, 1);
	assert_true(res.runs.v[0].data_begin == 100 && res.runs.v[0].data_end == 120);
	result_release(&res);

	assert_int_equal(rmap(p, gap, 3, 0, &res), 0);
	const struct rmap_run want[] = {
		{ 100, 103, 3, 0 }, { 105, 112, 3, 5 }, { 125, 130, 3, 25 },
	};
	struct runs w = { (struct rmap_run *)want, 3, 3 };
	expect_runs(&res.runs, &w);
	result_release(&res);

	check_against_model(p, touching, 2);
	check_against_model(p, overlapping, 3);
	check_against_model(p, gap, 3);
}

/*
 * A snapshot shares its origin's whole tree, a third device shares one
 * leaf: every device that maps a block is reported, sorted by device.
 */
static void test_shared(void **state)
{
	(void)state;
	struct pool *p = the_pool;
	uint64_t k1[] = { 0, 1, 2 }, v1[] = { 50, 51, 52 };
	uint64_t k2[] = { 3, 4 }, v2[] = { 53, 54 };
	uint64_t k3[] = { 0, 1 }, v3[] = { 70, 71 };
	unsigned a = add_leaf(p, k1, v1, 3);
	unsigned b = add_leaf(p, k2, v2, 2);
	unsigned c = add_leaf(p, k3, v3, 2);
	unsigned dev5[] = { a, b }, dev9[] = { c, b };
	add_device(p, 5, dev5, 2, 2);
	add_snapshot(p, 6, 0);
	add_device(p, 9, dev9, 2, 2);
	write_pool(p);

	struct rmap_region all = { 0, 1000 };
	struct result res = { 0 };
	assert_int_equal(rmap(p, &all, 1, 0, &res), 0);
	const struct rmap_run want[] = {
		{ 50, 55, 5, 0 }, { 50, 55, 6, 0 }, { 53, 55, 9, 3 },
		{ 70, 72, 9, 0 },
	};
	struct runs w = { (struct rmap_run *)want, 4, 4 };
	expect_runs(&res.runs, &w);
	result_release(&res);
	check_against_model(p, &all, 1);
}

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/*
 * Random pools: devices of up to a few thousand mappings in runs, leaves
 * of random size, trees of two or three levels (more leaves than one
 * batch of reads), some leaves shared; random regions.  With shared =
 * false every data block is mapped once, so every bound >= 2 is kept.
 */
static void random_pool(uint64_t seed, bool shared)
{
	struct pool *p = the_pool;
	static uint64_t keys[MAX_MAPS], data[MAX_MAPS];
	static uint64_t slots[MAX_MAPS];
	static unsigned leaves[MAX_LEAVES];
	unsigned nslots = MAX_MAPS / 4;

	rnd_state = seed;
	/* disjoint 16-block slots of data space, in random order */
	for (unsigned i = 0; i < nslots; i++)
		slots[i] = i;
	for (unsigned i = nslots - 1; i > 0; i--) {
		unsigned j = (unsigned)(rnd() % (i + 1));
		uint64_t t = slots[i];
		slots[i] = slots[j];
		slots[j] = t;
	}
	unsigned next_slot = 0;
	unsigned ndev = 2 + (unsigned)(rnd() % 4);
	uint64_t id = rnd() % 3;
	for (unsigned d = 0; d < ndev; d++) {
		unsigned n = 0, nl = 0;
		uint64_t thin = rnd() % 5, last = 0;
		unsigned target = 200 + (unsigned)(rnd() % 1000);
		while (n < target && next_slot < nslots) {
			uint64_t base = slots[next_slot++] * 16;
			unsigned len = 1 + (unsigned)(rnd() % 12);
			for (unsigned i = 0; i < len && n < target; i++) {
				keys[n] = thin++;
				data[n] = base + i;
				n++;
			}
			thin += rnd() % 3; /* 0: the next run follows on in thin blocks */
		}
		for (unsigned i = 0; i < n;) {
			unsigned sz = 1 + (unsigned)(rnd() % 8);
			if (sz > n - i)
				sz = n - i;
			if (shared && d > 0 && rnd() % 4 == 0) {
				/*
				 * Take the first leaf of an earlier device
				 * whose keys lie above ours so far; our
				 * mappings up to its last key are dropped.
				 */
				unsigned pd = (unsigned)(rnd() % d), j;
				for (j = 0; j < p->nr_dev_leaves[pd]; j++) {
					const struct leaf *l =
						&p->leaves[p->dev_leaves[pd][j]];
					if (!nl || l->keys[0] > last)
						break;
				}
				if (j < p->nr_dev_leaves[pd]) {
					unsigned x = p->dev_leaves[pd][j];
					const struct leaf *l = &p->leaves[x];
					leaves[nl++] = x;
					last = l->keys[l->n - 1];
					while (i < n && keys[i] <= last)
						i++;
					continue;
				}
			}
			leaves[nl++] = add_leaf(p, keys + i, data + i, sz);
			i += sz;
			last = keys[i - 1];
		}
		add_device(p, id, leaves, nl, 3 + (unsigned)(rnd() % 6));
		id += 1 + rnd() % 5;
	}
	if (shared)
		add_snapshot(p, id, 0);
	write_pool(p);
}

static void random_regions(const struct pool *p, struct rmap_region *reg,
			   size_t *nr)
{
	uint64_t hi = 0;
	for (unsigned i = 0; i < p->nr_leaves; i++)
		for (unsigned j = 0; j < p->leaves[i].n; j++)
			if (p->leaves[i].data[j] > hi)
				hi = p->leaves[i].data[j];
	*nr = 1 + rnd() % 4;
	for (size_t i = 0; i < *nr; i++) {
		uint64_t b = rnd() % (hi + 2);
		reg[i].begin = b;
		reg[i].end = b + 1 + rnd() % (hi / 2 + 2);
	}
}

static void test_random(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 12; seed++) {
		setup_pool(NULL);
		random_pool(seed * 0x9e3779b97f4a7c15ull, seed % 2 == 0);
		struct rmap_region all = { 0, UINT64_MAX };
		check_against_model(the_pool, &all, 1);
		for (int k = 0; k < 4; k++) {
			struct rmap_region reg[4];
			size_t nr;
			random_regions(the_pool, reg, &nr);
			check_against_model(the_pool, reg, nr);
		}
		teardown_pool(NULL);
	}
}

/*
 * Bounded memory: with distinct data blocks, no more than max_runs runs
 * are held, several walks are made, and the output does not change.
 */
static void test_memory_bound(void **state)
{
	(void)state;
	random_pool(77, false);
	struct rmap_region all = { 0, UINT64_MAX };
	struct result full = { 0 };
	assert_int_equal(rmap(the_pool, &all, 1, 0, &full), 0);
	assert_true(full.runs.n > 200);
	assert_int_equal(full.st.passes, 1);
	assert_int_equal(full.st.peak_runs, full.runs.n);
	static const size_t bounds[] = { 2, 5, 50, 333 };
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		struct result res = { 0 };
		assert_int_equal(rmap(the_pool, &all, 1, bounds[i], &res), 0);
		expect_runs(&res.runs, &full.runs);
		assert_true(res.st.peak_runs <= bounds[i]);
		assert_true(res.st.passes > 1);
		/* each walk reports at least a run */
		assert_true(res.st.passes <= full.runs.n);
		result_release(&res);
	}
	result_release(&full);
}

/* Every run starts at the same data block: the bound cannot hold. */
static void test_memory_bound_ties(void **state)
{
	(void)state;
	struct pool *p = the_pool;
	uint64_t k[] = { 0 }, v[] = { 9 };
	unsigned l = add_leaf(p, k, v, 1);
	add_device(p, 1, &l, 1, 10);
	for (uint64_t id = 2; id <= 6; id++)
		add_snapshot(p, id, 0);
	write_pool(p);
	struct rmap_region all = { 0, 100 };
	struct result res = { 0 };
	assert_int_equal(rmap(p, &all, 1, 2, &res), 0);
	assert_int_equal(res.runs.n, 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(res.runs.v[i].dev_id, i + 1);
	assert_int_equal(res.st.passes, 1);
	result_release(&res);
	check_against_model(p, &all, 1);
}

static void test_empty(void **state)
{
	(void)state;
	struct pool *p = the_pool;
	add_device(p, 0, NULL, 0, 10);
	write_pool(p);
	struct rmap_region all = { 0, 100 };
	struct result res = { 0 };
	assert_int_equal(rmap(p, &all, 1, 0, &res), 0);
	assert_int_equal(res.runs.n, 0);
	assert_int_equal(res.st.devices, 1);
	result_release(&res);
}

static void test_no_regions(void **state)
{
	(void)state;
	struct pool *p = the_pool;
	add_device(p, 0, NULL, 0, 10);
	write_pool(p);
	struct rmap_region bad = { 5, 5 };
	struct result res = { 0 };
	assert_int_equal(rmap(p, &bad, 0, 0, &res), -EINVAL);
	assert_int_equal(rmap(p, &bad, 1, 0, &res), -EINVAL);
	assert_int_equal(res.runs.n, 0);
	result_release(&res);
}

static void test_damaged_leaf(void **state)
{
	(void)state;
	struct pool *p = the_pool;
	uint64_t k1[] = { 0, 1 }, v1[] = { 10, 11 };
	uint64_t k2[] = { 5, 6 }, v2[] = { 20, 21 };
	unsigned ls[] = { add_leaf(p, k1, v1, 2), add_leaf(p, k2, v2, 2) };
	add_device(p, 4, ls, 2, 10);
	write_pool(p);
	uint64_t victim = p->leaves[ls[1]].block;
	corrupt(p, victim, 100);

	struct rmap_region all = { 0, 100 };
	struct result res = { 0 };
	assert_int_equal(rmap(p, &all, 1, 0, &res), -EILSEQ);
	assert_int_equal(res.runs.n, 0);
	assert_int_equal(res.nr_msgs, 1);
	char want[128];
	snprintf(want, sizeof(want),
		 "mapping tree of device 4: leaf %llu: bad checksum",
		 (unsigned long long)victim);
	assert_string_equal(res.msgs[0], want);
	result_release(&res);
}

static void test_damaged_internal(void **state)
{
	(void)state;
	struct pool *p = the_pool;
	uint64_t k1[] = { 0, 1 }, v1[] = { 10, 11 };
	uint64_t k2[] = { 5, 6 }, v2[] = { 20, 21 };
	unsigned ls[] = { add_leaf(p, k1, v1, 2), add_leaf(p, k2, v2, 2) };
	add_device(p, 4, ls, 2, 10);
	write_pool(p);
	corrupt(p, p->roots[0], 200);
	struct rmap_region all = { 0, 100 };
	struct result res = { 0 };
	assert_int_equal(rmap(p, &all, 1, 0, &res), -EILSEQ);
	assert_int_equal(res.runs.n, 0);
	assert_int_equal(res.nr_msgs, 1);
	assert_non_null(strstr(res.msgs[0], "mapping tree of device 4: block"));
	result_release(&res);
}

static void test_bad_superblock(void **state)
{
	(void)state;
	struct pool *p = the_pool;
	add_device(p, 0, NULL, 0, 10);
	write_pool(p);
	corrupt(p, 0, 50);
	struct rmap_region all = { 0, 100 };
	struct result res = { 0 };
	assert_int_equal(rmap(p, &all, 1, 0, &res), -EILSEQ);
	assert_int_equal(res.nr_msgs, 1);
	assert_string_equal(res.msgs[0], "bad checksum in superblock");
	result_release(&res);
}

static void test_callback_stops(void **state)
{
	(void)state;
	struct pool *p = the_pool;
	uint64_t k[] = { 0, 2, 4, 6 }, v[] = { 1, 3, 5, 7 };
	unsigned l = add_leaf(p, k, v, 4);
	add_device(p, 0, &l, 1, 10);
	write_pool(p);
	struct rmap_region all = { 0, 100 };
	struct result res = { .stop_after = 2 };
	assert_int_equal(rmap(p, &all, 1, 0, &res), 42);
	assert_int_equal(res.runs.n, 2);
	result_release(&res);
	/* also when the runs come from several walks */
	res.stop_after = 3;
	assert_int_equal(rmap(p, &all, 1, 2, &res), 42);
	assert_int_equal(res.runs.n, 3);
	result_release(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_region),
		cmocka_unit_test_setup_teardown(test_one_leaf, setup_pool, teardown_pool),
		cmocka_unit_test_setup_teardown(test_region_union, setup_pool, teardown_pool),
		cmocka_unit_test_setup_teardown(test_shared, setup_pool, teardown_pool),
		cmocka_unit_test_teardown(test_random, teardown_pool),
		cmocka_unit_test_setup_teardown(test_memory_bound, setup_pool, teardown_pool),
		cmocka_unit_test_setup_teardown(test_memory_bound_ties, setup_pool, teardown_pool),
		cmocka_unit_test_setup_teardown(test_empty, setup_pool, teardown_pool),
		cmocka_unit_test_setup_teardown(test_no_regions, setup_pool, teardown_pool),
		cmocka_unit_test_setup_teardown(test_damaged_leaf, setup_pool, teardown_pool),
		cmocka_unit_test_setup_teardown(test_damaged_internal, setup_pool, teardown_pool),
		cmocka_unit_test_setup_teardown(test_bad_superblock, setup_pool, teardown_pool),
		cmocka_unit_test_setup_teardown(test_callback_stops, setup_pool, teardown_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
