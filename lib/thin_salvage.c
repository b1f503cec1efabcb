// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Salvage: intact leaves of damaged trees, older trees for the gaps.
 */
#include "thin_salvage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "btree.h"
#include "thin_devices.h"
#include "thin_types.h"

struct mapping {
	uint64_t origin, value;
};

struct mapping_list {
	struct mapping *v;
	size_t n;
	uint64_t cap;
};

struct salvager {
	struct bdev *in;
	const struct md_scan *s;
	const struct md_root_pair *chosen, *pairs;
	size_t nr_pairs;
	struct reporter *rep;
	uint8_t *blk;
	uint64_t dev_id;
	uint64_t budget;	/* nodes one device may still visit */
	uint64_t ranges_lost, ranges_borrowed;
};

static int push(struct mapping_list *l, uint64_t origin, uint64_t value)
{
	if (l->n == l->cap &&
	    array_reserve((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v), 1024))
		return -ENOMEM;
	l->v[l->n++] = (struct mapping){ origin, value };
	return 0;
}

/* The key range child k of node n covers, inside [lo, hi]. */
static void child_range(const struct btree_node *n, unsigned k, uint64_t lo,
			uint64_t hi, uint64_t *clo, uint64_t *chi)
{
	uint64_t key = btree_node_key(n, k);
	*clo = key > lo ? key : lo;
	*chi = hi;
	if (k + 1 < n->nr_entries && btree_node_key(n, k + 1) - 1 < hi)
		*chi = btree_node_key(n, k + 1) - 1;
}

static int read_leaf(struct salvager *g, uint64_t b, uint64_t lo, uint64_t hi,
		     struct mapping_list *out)
{
	struct btree_node n;
	int e = bdev_read(g->in, b, 1, g->blk);
	if (e)
		return e;
	btree_node_decode(&n, g->blk, b);
	for (unsigned k = 0; k < n.nr_entries; k++) {
		uint64_t key = btree_node_key(&n, k);
		if (key >= lo && key <= hi &&
		    (e = push(out, key, btree_node_value64(&n, k))))
			return e;
	}
	return 0;
}

/*
 * Mappings of the subtree at b within [lo, hi].  strict: fail (-EILSEQ)
 * on the first missing part; otherwise gaps go to fill_gap().
 */
static int walk(struct salvager *g, uint64_t b, uint64_t lo, uint64_t hi,
		bool strict, struct mapping_list *out, unsigned depth);

static int fill_gap(struct salvager *g, uint64_t lo, uint64_t hi,
		    struct mapping_list *out);

static int walk(struct salvager *g, uint64_t b, uint64_t lo, uint64_t hi,
		bool strict, struct mapping_list *out, unsigned depth)
{
	struct md_tree_info i = md_scan_info(g->s, b);
	const uint8_t *saved = md_scan_node(g->s, b);
	struct btree_node n;
	/* a damaged tree may loop: no device visits more nodes than exist */
	if (i.kind != MDK_BOTTOM || depth > BTREE_MAX_DEPTH || !g->budget)
		return strict ? -EILSEQ : fill_gap(g, lo, hi, out);
	g->budget--;
	if (!i.damaged && i.has_keys && (i.key_hi < lo || i.key_lo > hi))
		return 0; /* nothing of this subtree is in range */
	if (!saved)
		return read_leaf(g, b, lo, hi, out);
	btree_node_decode(&n, saved, b);
	if (btree_node_is_leaf(&n)) /* a leaf kept because it looked top-level */
		return read_leaf(g, b, lo, hi, out);
	for (unsigned k = 0; k < n.nr_entries; k++) {
		uint64_t clo, chi;
		child_range(&n, k, lo, hi, &clo, &chi);
		if (clo > chi || btree_node_key(&n, k) > hi)
			continue;
		int e = walk(g, btree_node_value64(&n, k), clo, chi, strict, out,
			     depth + 1);
		if (e)
			return e;
	}
	return 0;
}

static void report_range(struct salvager *g, uint64_t lo, uint64_t hi,
			 const char *what)
{
	if (hi == UINT64_MAX)
		report(g->rep, REPORT_INFO, "repair: mapping tree of device %llu: virtual blocks from %llu on %s",
		       (unsigned long long)g->dev_id, (unsigned long long)lo, what);
	else
		report(g->rep, REPORT_INFO, "repair: mapping tree of device %llu: virtual blocks %llu..%llu %s",
		       (unsigned long long)g->dev_id, (unsigned long long)lo,
		       (unsigned long long)hi, what);
}

/* The device's mapping root in an older top-level tree, 0 if none. */
static uint64_t older_root(struct salvager *g, uint64_t top)
{
	struct thin_dev_list l = { 0 };
	uint64_t root = 0;
	if (!md_scan_devices(g->s, top, &l)) {
		const struct thin_dev *d = thin_dev_list_find(&l, g->dev_id);
		root = d ? d->root : 0;
	}
	thin_dev_list_release(&l);
	return root;
}

static int fill_gap(struct salvager *g, uint64_t lo, uint64_t hi,
		    struct mapping_list *out)
{
	uint64_t current = older_root(g, g->chosen->top.root);
	for (size_t p = 0; p < g->nr_pairs; p++) {
		uint64_t top = g->pairs[p].top.root;
		if (top == g->chosen->top.root ||
		    (p && top == g->pairs[p - 1].top.root))
			continue;
		uint64_t root = older_root(g, top);
		if (!root || root == current)
			continue;
		size_t mark = out->n;
		int e = walk(g, root, lo, hi, true, out, 0);
		if (!e) {
			g->ranges_borrowed++;
			char what[64];
			snprintf(what, sizeof(what), "taken from an older tree (root %llu)",
				 (unsigned long long)root);
			report_range(g, lo, hi, what);
			return 0;
		}
		if (e != -EILSEQ)
			return e;
		out->n = mark;
	}
	g->ranges_lost++;
	report_range(g, lo, hi, "lost");
	return 0;
}

static int emit_device(struct salvager *g, const struct thin_dev *d,
		       const struct dump_emitter *e)
{
	struct mapping_list l = { 0 };
	struct thin_details det = d->details;
	g->dev_id = d->id;
	g->budget = 2 * md_scan_nr_nodes(g->s) + 1;
	int r = walk(g, d->root, 0, UINT64_MAX, false, &l, 0);
	det.mapped_blocks = l.n;
	if (!r)
		r = e->begin_device(e->ctx, d->id, &det);
	struct dump_run run = { 0 };
	for (size_t i = 0; i < l.n && !r; i++) {
		uint64_t data = block_time_block(l.v[i].value);
		uint32_t t = block_time_time(l.v[i].value);
		if (run.length && l.v[i].origin == run.origin_begin + run.length &&
		    data == run.data_begin + run.length && t == run.time) {
			run.length++;
			continue;
		}
		if (run.length)
			r = e->run(e->ctx, &run);
		run = (struct dump_run){ l.v[i].origin, data, 1, t };
	}
	if (!r && run.length)
		r = e->run(e->ctx, &run);
	if (!r)
		r = e->end_device(e->ctx);
	free(l.v);
	return r;
}

static int emit_all(struct salvager *g, const struct dump_superblock *sb,
		    const struct dump_emitter *e)
{
	struct thin_dev_list tops = { 0 }, dets = { 0 };
	int r = md_scan_devices(g->s, g->chosen->top.root, &tops);
	if (!r)
		r = md_scan_devices(g->s, g->chosen->details.root, &dets);
	if (!r)
		r = e->begin_superblock(e->ctx, sb);
	for (size_t i = 0; i < tops.n && !r; i++) {
		const struct thin_dev *det = thin_dev_list_find(&dets, tops.v[i].id);
		if (!det)
			continue;
		tops.v[i].details = det->details;
		r = emit_device(g, &tops.v[i], e);
	}
	if (!r)
		r = e->end_superblock(e->ctx);
	thin_dev_list_release(&tops);
	thin_dev_list_release(&dets);
	return r;
}

int thin_salvage_dump(struct bdev *in, const struct md_scan *s,
		      const struct md_root_pair *chosen,
		      const struct md_root_pair *pairs, size_t nr_pairs,
		      const struct dump_superblock *sb,
		      const struct dump_emitter *e, struct reporter *rep)
{
	struct salvager g = { .in = in, .s = s, .chosen = chosen, .pairs = pairs,
			      .nr_pairs = nr_pairs, .rep = rep };
	g.blk = bdev_alloc_buf(1);
	if (!g.blk)
		return -ENOMEM;
	int r = emit_all(&g, sb, e);
	bdev_free_buf(g.blk);
	if (!r)
		report(rep, REPORT_INFO,
		       "repair: salvage: %llu ranges taken from older trees, %llu ranges lost",
		       (unsigned long long)g.ranges_borrowed,
		       (unsigned long long)g.ranges_lost);
	return r;
}
