// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thin_check: walk everything, recount everything, compare.
 */
#include "thin_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "block_validator.h"
#include "btree_walk.h"
#include "refcount.h"
#include "sm_check.h"
#include "sm_repair.h"
#include "thin_devices.h"
#include "thin_types.h"

#define PROBLEM_CAP	 200u
#define MAPPING_CAP	 10u

enum md_kind {
	K_FREE,
	K_SUPERBLOCK,
	K_DETAILS,
	K_TOP,
	K_BOTTOM,
	K_DINDEX,
	K_DOVERFLOW,
	K_MOVERFLOW,
	K_DBITMAP,
	K_MBITMAP,
	K_MINDEX,
};

static const char *const kind_names[] = {
	[K_FREE] = "free",
	[K_SUPERBLOCK] = "superblock",
	[K_DETAILS] = "device details tree",
	[K_TOP] = "top-level mapping tree",
	[K_BOTTOM] = "device mapping tree",
	[K_DINDEX] = "data space map index tree",
	[K_DOVERFLOW] = "data space map overflow tree",
	[K_MOVERFLOW] = "metadata space map overflow tree",
	[K_DBITMAP] = "data space map bitmap",
	[K_MBITMAP] = "metadata space map bitmap",
	[K_MINDEX] = "metadata space map index",
};

struct ovf_vec {
	struct sm_overflow_entry *v;
	uint64_t n, cap;
};

struct checker {
	struct bdev *dev;
	struct reporter *rep;
	const struct thin_check_opts *opts;
	struct thin_check_result *res;
	struct thin_superblock sb;
	uint64_t md_nr;
	uint64_t data_nr;
	struct btree_walker w;
	uint8_t *kind;
	uint32_t *subtree;
	struct refcount md_counts;
	struct refcount data_counts;

	/* the walk in progress */
	enum md_kind cur;
	char desc[96];
	/* first visit of each child entered at a depth, then of each node */
	bool child_first[BTREE_MAX_DEPTH + 1][BTREE_MAX_CHILDREN];
	bool node_first[BTREE_MAX_DEPTH + 1];
	uint64_t acc[BTREE_MAX_DEPTH + 1];
	uint64_t total;
	uint64_t cur_dev;
	uint64_t visits;
	unsigned long walk_problems;
	unsigned long shown_problems;
	struct thin_dev_list *list;
	struct ovf_vec *ovf;
	uint64_t late_times;
	uint64_t bad_mappings;
	bool oom;		/* a count could not be recorded */
	unsigned long fatal_at_start;	/* the reporter's count on entry */

	/* data space map index */
	struct sm_index_entry *dindex;
	struct sm_index_loc *dloc;	/* where each entry is stored */
	uint8_t *dindex_valid;
	uint64_t nr_dbitmaps;
	struct ovf_vec dovf, movf;
};

static void fatal_capped(struct checker *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fatal_capped(struct checker *c, const char *fmt, ...)
{
	va_list ap;
	c->walk_problems++;
	if (c->shown_problems++ >= PROBLEM_CAP) {
		c->rep->counts[REPORT_FATAL]++;
		return;
	}
	va_start(ap, fmt);
	vreport(c->rep, REPORT_FATAL, fmt, ap);
	va_end(ap);
}

static int ovf_push(struct ovf_vec *v, uint64_t b, uint32_t count)
{
	if (v->n == v->cap &&
	    array_reserve((void **)&v->v, &v->cap, v->n + 1, sizeof(*v->v), 256))
		return -ENOMEM;
	v->v[v->n].block = b;
	v->v[v->n++].count = count;
	return 0;
}

/* Count one pointer to a metadata block (ignored when 0 or past the end:
 * the walk reports those). */
static void md_ref(struct checker *c, uint64_t b)
{
	if (b && b < c->md_nr && refcount_inc(&c->md_counts, b) == -ENOMEM)
		c->oom = true;
}

/* 1: first visit; 0: seen before as the same kind; -1: kind conflict. */
static int md_visit(struct checker *c, uint64_t b, enum md_kind k)
{
	if (c->kind[b] == K_FREE) {
		c->kind[b] = (uint8_t)k;
		return 1;
	}
	if (c->kind[b] == k)
		return 0;
	fatal_capped(c, "%s: block %llu is also used as %s", c->desc,
		     (unsigned long long)b, kind_names[c->kind[b]]);
	return -1;
}

static void describe_pos(const struct btree_pos *pos, char *buf, size_t len)
{
	if (pos->parent == BTREE_POS_NO_PARENT)
		snprintf(buf, len, "root");
	else
		snprintf(buf, len, "entry %u of block %llu, keys %llu..%llu",
			 pos->index, (unsigned long long)pos->parent,
			 (unsigned long long)pos->lo,
			 (unsigned long long)pos->hi);
}

static int on_problem(void *ctx, const struct btree_pos *pos,
		      enum btree_problem p, uint64_t detail)
{
	struct checker *c = ctx;
	char where[96], extra[64] = "";

	describe_pos(pos, where, sizeof(where));
	if (p == BP_BLOCKNR)
		snprintf(extra, sizeof(extra), " (it says %llu)",
			 (unsigned long long)detail);
	else if (p == BP_KEY_ORDER || p == BP_KEY_RANGE)
		snprintf(extra, sizeof(extra), " (entry %llu)",
			 (unsigned long long)detail);
	else if (p == BP_IO && (int64_t)detail == -ERANGE)
		snprintf(extra, sizeof(extra), " (beyond the end of the device)");
	if (!btree_problem_is_fatal(p)) {
		report(c->rep, REPORT_WARNING, "%s: block %llu (%s): %s%s",
		       c->desc, (unsigned long long)pos->block, where,
		       btree_problem_str(p), extra);
		return 0;
	}
	fatal_capped(c, "%s: block %llu (%s): %s%s", c->desc,
		     (unsigned long long)pos->block, where, btree_problem_str(p),
		     extra);
	return 0;
}

static int on_enter(void *ctx, const struct btree_pos *pos)
{
	struct checker *c = ctx;
	unsigned d = pos->depth;

	if (d > 0 && c->node_first[d - 1])
		md_ref(c, pos->block);
	int v = md_visit(c, pos->block, c->cur);
	if (v < 0)
		return BTREE_WALK_SKIP;
	c->child_first[d][pos->index] = v;
	if (v || c->cur == K_TOP || c->cur == K_DETAILS) {
		if (++c->visits > c->md_nr) {
			fatal_capped(c, "%s: nodes are reached more often than the metadata has blocks (shared nodes forming a cycle)",
				     c->desc);
			return -ELOOP;
		}
		return BTREE_WALK_VISIT;
	}
	if (c->cur == K_BOTTOM) {
		if (d > 0)
			c->acc[d - 1] += c->subtree[pos->block];
		else
			c->total = c->subtree[pos->block];
	}
	return BTREE_WALK_SKIP;
}

static void check_mapping(struct checker *c, uint64_t vblock, uint64_t v)
{
	uint64_t db = block_time_block(v);
	if (block_time_time(v) > c->sb.time)
		c->late_times++;
	if (db < c->data_nr) {
		if (refcount_inc(&c->data_counts, db) == -ENOMEM)
			c->oom = true;
		return;
	}
	if (c->bad_mappings++ < MAPPING_CAP)
		report(c->rep, REPORT_FATAL,
		       "%s: block %llu is mapped to data block %llu, beyond the end of the data device (%llu blocks)",
		       c->desc, (unsigned long long)vblock,
		       (unsigned long long)db, (unsigned long long)c->data_nr);
	else
		c->rep->counts[REPORT_FATAL]++;
}

static int leaf_entries(struct checker *c, const struct btree_node *n,
			const struct btree_pos *pos)
{
	int r = 0;
	for (unsigned i = 0; i < n->nr_entries && !r; i++) {
		uint64_t key = btree_node_key(n, i);
		struct thin_dev e = { .id = key };
		switch (c->cur) {
		case K_BOTTOM:
			check_mapping(c, key, btree_node_value64(n, i));
			break;
		case K_TOP:
			e.root = btree_node_value64(n, i);
			if (c->node_first[pos->depth])
				md_ref(c, e.root);
			r = thin_dev_list_push(c->list, &e);
			break;
		case K_DETAILS:
			thin_details_decode(&e.details, btree_node_value(n, i));
			r = thin_dev_list_push(c->list, &e);
			break;
		case K_DOVERFLOW:
		case K_MOVERFLOW:
			r = ovf_push(c->ovf, key, le32_load(btree_node_value(n, i)));
			break;
		case K_DINDEX:
			if (key >= c->nr_dbitmaps) {
				fatal_capped(c, "%s: entry for bitmap %llu, but the map has only %llu bitmaps",
					     c->desc, (unsigned long long)key,
					     (unsigned long long)c->nr_dbitmaps);
				break;
			}
			sm_index_entry_decode(&c->dindex[key], btree_node_value(n, i));
			c->dloc[key].block = pos->block;
			c->dloc[key].offset = (uint32_t)(btree_node_value(n, i) - n->raw);
			c->dindex_valid[key] = 1;
			break;
		default:
			break;
		}
	}
	return r;
}

static int on_node(void *ctx, const struct btree_node *n,
		   const struct btree_pos *pos)
{
	struct checker *c = ctx;
	c->node_first[pos->depth] = c->child_first[pos->depth][pos->index];
	if (!btree_node_is_leaf(n)) {
		c->acc[pos->depth] = 0;
		return 0;
	}
	c->acc[pos->depth] = n->nr_entries;
	return leaf_entries(c, n, pos);
}

static int on_leave(void *ctx, const struct btree_pos *pos)
{
	struct checker *c = ctx;
	unsigned d = pos->depth;
	if (c->cur != K_BOTTOM)
		return 0;
	c->subtree[pos->block] = c->acc[d] > UINT32_MAX ? UINT32_MAX
							: (uint32_t)c->acc[d];
	if (d > 0)
		c->acc[d - 1] += c->acc[d];
	else
		c->total = c->acc[d];
	return 0;
}

static const struct btree_walk_ops check_ops = {
	.enter = on_enter,
	.node = on_node,
	.leave = on_leave,
	.problem = on_problem,
};

/*
 * Walk one tree whose root reference has already been counted (or is
 * not to be: the caller decides).  Returns 0 or -ENOMEM.
 */
static int walk_tree(struct checker *c, enum md_kind k, uint64_t root,
		     uint32_t value_size)
{
	c->cur = k;
	c->visits = 0;
	c->total = 0;
	c->w.leaf_value_size = value_size;
	c->w.leaf_depth = 0;
	c->w.ops = &check_ops;
	c->w.ctx = c;
	int r = btree_walk(&c->w, root, 0, UINT64_MAX);
	return r == -ELOOP ? 0 : r;
}

static int walk_root(struct checker *c, enum md_kind k, uint64_t root,
		     uint32_t value_size, const char *desc)
{
	snprintf(c->desc, sizeof(c->desc), "%s", desc);
	md_ref(c, root);
	return walk_tree(c, k, root, value_size);
}

/* Details ids and top-level ids must be the same sets. */
static void compare_devices(struct checker *c, const struct thin_dev_list *details,
			    const struct thin_dev_list *roots, const char *which)
{
	size_t i = 0, j = 0;
	while (i < details->n || j < roots->n) {
		uint64_t a = i < details->n ? details->v[i].id : UINT64_MAX;
		uint64_t b = j < roots->n ? roots->v[j].id : UINT64_MAX;
		if (i < details->n && (j >= roots->n || a < b)) {
			fatal_capped(c, "%sdevice %llu is in the device details tree but not in the mapping tree",
				     which, (unsigned long long)a);
			i++;
		} else if (j < roots->n && (i >= details->n || b < a)) {
			fatal_capped(c, "%sdevice %llu is in the mapping tree but not in the device details tree",
				     which, (unsigned long long)b);
			j++;
		} else {
			i++;
			j++;
		}
	}
}

static int walk_mappings(struct checker *c, const struct thin_dev_list *details,
			 const struct thin_dev_list *roots, const char *which)
{
	for (size_t i = 0; i < roots->n; i++) {
		const struct thin_dev *e = &roots->v[i];
		unsigned long before = c->walk_problems;
		snprintf(c->desc, sizeof(c->desc), "%smapping tree of device %llu",
			 which, (unsigned long long)e->id);
		c->late_times = 0;
		int r = walk_tree(c, K_BOTTOM, e->root, THIN_MAPPING_VALUE_SIZE);
		if (r)
			return r;
		if (c->late_times)
			report(c->rep, REPORT_WARNING,
			       "%s: %llu mappings have a time later than the superblock's (%u)",
			       c->desc, (unsigned long long)c->late_times,
			       c->sb.time);
		const struct thin_dev *d = thin_dev_list_find(details, e->id);
		if (!d || c->walk_problems != before)
			continue;
		if (d->details.mapped_blocks != c->total)
			report(c->rep, REPORT_NONFATAL,
			       "%sdevice %llu: mapped_blocks is %llu in the device details, but its mapping tree has %llu mappings",
			       which, (unsigned long long)e->id,
			       (unsigned long long)d->details.mapped_blocks,
			       (unsigned long long)c->total);
	}
	return 0;
}

static void check_device_times(struct checker *c, const struct thin_dev_list *details,
			       const char *which)
{
	for (size_t i = 0; i < details->n; i++) {
		const struct thin_details *d = &details->v[i].details;
		if (d->creation_time > c->sb.time || d->snapshotted_time > c->sb.time)
			report(c->rep, REPORT_WARNING,
			       "%sdevice %llu: creation time %u / snapshot time %u later than the superblock's time %u",
			       which, (unsigned long long)details->v[i].id,
			       d->creation_time, d->snapshotted_time, c->sb.time);
	}
}

struct tree_set {
	struct thin_dev_list details, roots;
};

static void tree_set_release(struct tree_set *t)
{
	thin_dev_list_release(&t->details);
	thin_dev_list_release(&t->roots);
}

static int walk_device_trees(struct checker *c, uint64_t details_root,
			     uint64_t mapping_root, struct tree_set *t,
			     const char *which)
{
	char desc[96];
	int r;
	snprintf(desc, sizeof(desc), "%sdevice details tree", which);
	c->list = &t->details;
	r = walk_root(c, K_DETAILS, details_root, THIN_DETAILS_VALUE_SIZE, desc);
	if (r)
		return r;
	snprintf(desc, sizeof(desc), "%stop-level mapping tree", which);
	c->list = &t->roots;
	r = walk_root(c, K_TOP, mapping_root, THIN_MAPPING_VALUE_SIZE, desc);
	if (r)
		return r;
	compare_devices(c, &t->details, &t->roots, which);
	check_device_times(c, &t->details, which);
	return 0;
}

/* Read and check a superblock copy at `where`; 0 if usable. */
static int read_sb_copy(struct checker *c, uint64_t where,
			struct thin_superblock *sb)
{
	enum thin_sb_problem p;
	int r = where == 0 || where >= c->md_nr ? -ERANGE
						: thin_sb_read(c->dev, where, sb, &p);
	if (r == -ENOMEM)
		return r;
	if (r) {
		report(c->rep, REPORT_FATAL,
		       "metadata snapshot: superblock copy at block %llu is outside the metadata device",
		       (unsigned long long)where);
		return -ERANGE;
	}
	if (p == SBP_NONE)
		return 0;
	report(c->rep, REPORT_FATAL,
	       "metadata snapshot: superblock copy at block %llu: %s",
	       (unsigned long long)where, thin_sb_problem_str(p));
	return -EILSEQ;
}

static int check_metadata_snap(struct checker *c)
{
	struct thin_superblock snap;
	struct tree_set t = { 0 };
	uint64_t s = c->sb.metadata_snap;
	int r;

	if (read_sb_copy(c, s, &snap))
		return 0;
	md_ref(c, s);
	if (md_visit(c, s, K_SUPERBLOCK) < 0)
		return 0;
	r = walk_device_trees(c, snap.device_details_root,
			      snap.data_mapping_root, &t, "metadata snapshot: ");
	if (!r)
		r = walk_mappings(c, &t.details, &t.roots, "metadata snapshot: ");
	tree_set_release(&t);
	return r;
}

/* The data space map's index tree and both overflow trees. */
static int walk_space_map_trees(struct checker *c)
{
	int r;
	c->nr_dbitmaps = sm_nr_bitmaps(c->data_nr);
	c->dindex = calloc(c->nr_dbitmaps + 1, sizeof(*c->dindex));
	c->dloc = calloc(c->nr_dbitmaps + 1, sizeof(*c->dloc));
	c->dindex_valid = calloc(c->nr_dbitmaps + 1, 1);
	if (!c->dindex || !c->dloc || !c->dindex_valid)
		return -ENOMEM;
	r = walk_root(c, K_DINDEX, c->sb.data_sm.bitmap_root, SM_INDEX_ENTRY_SIZE,
		      "data space map index tree");
	if (r)
		return r;
	c->ovf = &c->dovf;
	r = walk_root(c, K_DOVERFLOW, c->sb.data_sm.ref_count_root,
		      SM_OVERFLOW_VALUE_SIZE, "data space map overflow tree");
	if (r)
		return r;
	c->ovf = &c->movf;
	return walk_root(c, K_MOVERFLOW, c->sb.metadata_sm.ref_count_root,
			 SM_OVERFLOW_VALUE_SIZE, "metadata space map overflow tree");
}

/* Validate the index entries' bitmap pointers and count them. */
static void count_bitmaps(struct checker *c, const char *name,
			  struct sm_index_entry *idx, uint8_t *valid,
			  uint64_t nr, enum md_kind k)
{
	snprintf(c->desc, sizeof(c->desc), "%s space map", name);
	for (uint64_t i = 0; i < nr; i++) {
		uint64_t b = idx[i].blocknr;
		if (!valid[i]) {
			fatal_capped(c, "%s space map: no index entry for bitmap %llu",
				     name, (unsigned long long)i);
			continue;
		}
		if (b == 0 || b >= c->md_nr) {
			fatal_capped(c, "%s space map: index entry %llu points to block %llu, outside the metadata device",
				     name, (unsigned long long)i, (unsigned long long)b);
			valid[i] = 0;
			continue;
		}
		md_ref(c, b);
		if (md_visit(c, b, k) != 1)
			valid[i] = 0;
	}
}

static int read_metadata_index(struct checker *c, struct sm_index_entry *idx,
			       uint8_t *valid, uint64_t nr)
{
	uint64_t b = c->sb.metadata_sm.bitmap_root;
	uint8_t *buf;
	const char *why = NULL;

	snprintf(c->desc, sizeof(c->desc), "metadata space map");
	if (b == 0 || b >= c->md_nr) {
		fatal_capped(c, "metadata space map: index block %llu is outside the metadata device",
			     (unsigned long long)b);
		return 0;
	}
	md_ref(c, b);
	if (md_visit(c, b, K_MINDEX) < 0)
		return 0;
	buf = bdev_alloc_buf(1);
	if (!buf)
		return -ENOMEM;
	if (bdev_read(c->dev, b, 1, buf))
		why = "cannot be read";
	else if (block_validate(BK_INDEX, buf, b) == BV_BAD_CSUM)
		why = "bad checksum";
	else if (block_validate(BK_INDEX, buf, b) == BV_BAD_BLOCKNR)
		why = "block number field does not match its location";
	if (why) {
		fatal_capped(c, "metadata space map: index block %llu: %s",
			     (unsigned long long)b, why);
	} else {
		for (uint64_t i = 0; i < nr; i++) {
			sm_index_entry_decode(&idx[i], buf + 16 + 16 * i);
			valid[i] = 1;
		}
	}
	bdev_free_buf(buf);
	return 0;
}

static int check_one_map(struct checker *c, const char *name,
			 const struct sm_root *root, struct sm_index_entry *idx,
			 uint8_t *valid, struct ovf_vec *ovf,
			 const struct refcount *computed, uint64_t *leaked,
			 uint64_t *bad)
{
	struct sm_check_input in = {
		.name = name, .root = root, .index = idx, .index_valid = valid,
		.ovf = ovf->v, .nr_ovf = ovf->n, .computed = computed,
		.md_nr_blocks = c->md_nr,
	};
	struct sm_check_result res;
	int r = sm_check_counts(c->dev, &in, c->rep, &res);
	*leaked = res.leaked;
	*bad = res.bad;
	return r;
}

/* Plan, or leave the plan empty for a map without leaks. */
static int plan_map(struct checker *c, struct sm_repair *m, uint64_t leaked)
{
	int r = leaked ? sm_repair_plan(c->dev, m) : 0;
	if (!r && m->freed != leaked)
		r = -EILSEQ; /* the plan disagrees with the check */
	return r;
}

/* The ordered writes of thin_check.h; returns 0 or -errno. */
static int write_repair(struct checker *c, struct sm_repair *maps)
{
	uint64_t alloc[2] = { c->sb.data_sm.nr_allocated,
			      c->sb.metadata_sm.nr_allocated };
	int r = 0;
	for (int k = 0; k < 2 && !r; k++)
		r = sm_repair_index(c->dev, &maps[k]);
	if (!r)
		r = bdev_sync(c->dev);
	for (int k = 0; k < 2; k++)
		if (maps[k].freed)
			alloc[k] = maps[k].allocated;
	if (!r)
		r = thin_sb_set_nr_allocated(c->dev, alloc[0], alloc[1]);
	for (int k = 0; k < 2 && !r; k++)
		r = sm_repair_bitmaps(c->dev, &maps[k]);
	if (!r)
		r = bdev_sync(c->dev);
	if (!r) {
		c->res->data_repaired = maps[0].freed;
		c->res->metadata_repaired = maps[1].freed;
		c->res->metadata_free = c->md_nr - alloc[1];
	}
	return r;
}

static void repair_leaks(struct checker *c, const struct sm_index_entry *midx,
			 const struct sm_root *mroot)
{
	struct thin_check_result *res = c->res;
	struct sm_index_loc mloc[SM_METADATA_MAX_BITMAPS];
	struct sm_repair maps[2] = {
		{ .root = &c->sb.data_sm, .index = c->dindex, .loc = c->dloc,
		  .index_kind = BK_BTREE_NODE, .computed = &c->data_counts },
		{ .root = mroot, .index = midx, .loc = mloc,
		  .index_kind = BK_INDEX, .computed = &c->md_counts },
	};
	int r;

	if (!(res->data_leaked || res->metadata_leaked) || res->data_bad ||
	    res->metadata_bad || c->oom ||
	    c->rep->counts[REPORT_FATAL] != c->fatal_at_start)
		return;
	for (uint64_t i = 0; i < sm_nr_bitmaps(mroot->nr_blocks); i++) {
		mloc[i].block = mroot->bitmap_root;
		mloc[i].offset = SM_BITMAP_HEADER + SM_INDEX_ENTRY_SIZE * (uint32_t)i;
	}
	r = plan_map(c, &maps[0], res->data_leaked);
	if (!r)
		r = plan_map(c, &maps[1], res->metadata_leaked);
	if (!r)
		r = write_repair(c, maps);
	res->repair_error = r;
	sm_repair_release(&maps[0]);
	sm_repair_release(&maps[1]);
}

static int check_space_maps(struct checker *c)
{
	uint64_t nr_m = sm_nr_bitmaps(c->md_nr);
	struct sm_index_entry midx[SM_METADATA_MAX_BITMAPS];
	uint8_t mvalid[SM_METADATA_MAX_BITMAPS] = { 0 };
	struct sm_root mroot = c->sb.metadata_sm;
	unsigned long nonfatal = c->rep->counts[REPORT_NONFATAL];
	int r;

	r = walk_space_map_trees(c);
	if (r)
		return r;
	r = read_metadata_index(c, midx, mvalid, nr_m);
	if (r)
		return r;
	count_bitmaps(c, "data", c->dindex, c->dindex_valid, c->nr_dbitmaps,
		      K_DBITMAP);
	count_bitmaps(c, "metadata", midx, mvalid, nr_m, K_MBITMAP);

	r = check_one_map(c, "data", &c->sb.data_sm, c->dindex, c->dindex_valid,
			  &c->dovf, &c->data_counts, &c->res->data_leaked,
			  &c->res->data_bad);
	if (r)
		return r;
	mroot.nr_blocks = c->md_nr;
	r = check_one_map(c, "metadata", &mroot, midx, mvalid, &c->movf,
			  &c->md_counts, &c->res->metadata_leaked,
			  &c->res->metadata_bad);
	c->res->space_maps_checked = true;
	/* sm_check's only non-fatal findings are the leak lines */
	c->res->leak_findings = c->rep->counts[REPORT_NONFATAL] - nonfatal;
	if (!r && c->opts->repair_leaks)
		repair_leaks(c, midx, &mroot);
	return r;
}

/* Superblock fields that the rest of the check relies on. */
static bool check_sizes(struct checker *c)
{
	const struct thin_superblock *sb = &c->sb;
	c->md_nr = sb->metadata_sm.nr_blocks;
	if (c->md_nr > c->dev->nr_blocks) {
		report(c->rep, REPORT_FATAL,
		       "metadata space map describes %llu blocks, but the metadata device has only %llu (truncated?)",
		       (unsigned long long)c->md_nr,
		       (unsigned long long)c->dev->nr_blocks);
		c->md_nr = c->dev->nr_blocks;
	}
	c->data_nr = sb->data_sm.nr_blocks;
	if (sm_nr_bitmaps(c->data_nr) > c->md_nr ||
	    c->data_nr > THIN_MAX_DATA_BLOCK + 1) {
		report(c->rep, REPORT_FATAL,
		       "data space map claims %llu blocks, more than %llu metadata blocks can describe",
		       (unsigned long long)c->data_nr,
		       (unsigned long long)c->md_nr);
		return false;
	}
	if (c->md_nr < 2) {
		report(c->rep, REPORT_FATAL,
		       "metadata space map describes %llu blocks: too small to hold a pool",
		       (unsigned long long)c->md_nr);
		return false;
	}
	return true;
}

static int read_superblock(struct checker *c)
{
	enum thin_sb_problem p;
	int r = thin_sb_read(c->dev, 0, &c->sb, &p);
	if (r || p == SBP_NONE)
		return r;
	report(c->rep, REPORT_FATAL, "%s", thin_sb_problem_str(p));
	return -EILSEQ;
}

static void sb_warnings(struct checker *c)
{
	const struct thin_superblock *sb = &c->sb;
	if (sb->flags & THIN_FLAG_NEEDS_CHECK)
		report(c->rep, REPORT_WARNING,
		       "superblock has the needs_check flag set");
	if (sb->version != THIN_VERSION)
		report(c->rep, REPORT_WARNING, "superblock version is %u", sb->version);
	if (sb->time > THIN_MAX_TIME)
		report(c->rep, REPORT_WARNING,
		       "superblock time %u does not fit in 24 bits", sb->time);
}

static int alloc_tracking(struct checker *c)
{
	c->kind = calloc(c->md_nr, 1);
	c->subtree = calloc(c->md_nr, sizeof(*c->subtree));
	if (!c->kind || !c->subtree)
		return -ENOMEM;
	if (refcount_init(&c->md_counts, c->md_nr) ||
	    refcount_init(&c->data_counts, c->data_nr))
		return -ENOMEM;
	btree_walker_init(&c->w, c->dev, c->md_nr);
	return 0;
}

static void release(struct checker *c)
{
	btree_walker_release(&c->w);
	free(c->kind);
	free(c->subtree);
	refcount_release(&c->md_counts);
	refcount_release(&c->data_counts);
	free(c->dindex);
	free(c->dloc);
	free(c->dindex_valid);
	free(c->dovf.v);
	free(c->movf.v);
}

static int check_trees(struct checker *c)
{
	const struct thin_check_opts *o = c->opts;
	struct thin_superblock roots = c->sb;
	struct tree_set t = { 0 };
	const char *which = "";
	int r;

	/* the superblock's own reference (md_ref ignores null pointers) */
	if (refcount_inc(&c->md_counts, 0))
		return -ENOMEM;
	c->kind[0] = K_SUPERBLOCK;
	if (o->metadata_snap) {
		if (!c->sb.metadata_snap) {
			report(c->rep, REPORT_FATAL,
			       "no metadata snapshot is held (superblock field metadata_snap is 0)");
			return 0;
		}
		if (read_sb_copy(c, c->sb.metadata_snap, &roots))
			return 0;
		which = "metadata snapshot: ";
	}
	if (o->override_details_root)
		roots.device_details_root = o->details_root;
	if (o->override_mapping_root)
		roots.data_mapping_root = o->mapping_root;

	report(c->rep, REPORT_INFO, "examining devices tree");
	r = walk_device_trees(c, roots.device_details_root,
			      roots.data_mapping_root, &t, which);
	c->res->nr_devices = t.details.n;
	if (r || o->skip_mappings)
		goto out;
	report(c->rep, REPORT_INFO, "examining mapping tree");
	r = walk_mappings(c, &t.details, &t.roots, which);
	if (r || o->metadata_snap)
		goto out;
	if (c->sb.metadata_snap) {
		r = check_metadata_snap(c);
		if (r)
			goto out;
	}
	if (c->walk_problems > PROBLEM_CAP)
		report(c->rep, REPORT_FATAL, "... and %lu more problems",
		       c->walk_problems - PROBLEM_CAP);
	report(c->rep, REPORT_INFO, "checking space map counts");
	r = check_space_maps(c);
out:
	tree_set_release(&t);
	return r;
}

int thin_check(struct bdev *dev, const struct thin_check_opts *opts,
	       struct reporter *rep, struct thin_check_result *res)
{
	struct checker c = { .dev = dev, .rep = rep, .opts = opts, .res = res,
			     .fatal_at_start = rep->counts[REPORT_FATAL] };
	int r;

	memset(res, 0, sizeof(*res));
	report(rep, REPORT_INFO, "examining superblock");
	r = read_superblock(&c);
	if (r)
		return r == -EILSEQ ? 0 : r;
	res->sb_ok = true;
	res->sb = c.sb;
	res->metadata_free = c.sb.metadata_sm.nr_blocks >= c.sb.metadata_sm.nr_allocated
		? c.sb.metadata_sm.nr_blocks - c.sb.metadata_sm.nr_allocated : 0;
	sb_warnings(&c);
	if (opts->super_block_only || !check_sizes(&c))
		return 0;
	r = alloc_tracking(&c);
	if (!r)
		r = check_trees(&c);
	if (!r && c.oom)
		r = -ENOMEM;
	release(&c);
	return r;
}
