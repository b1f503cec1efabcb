// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Scan a metadata device for intact B-tree nodes and the trees they form.
 *
 * Pass 1 reads the device in chunks and validates every block that
 * claims its own location.  Bottom-level leaves are summarised on the
 * spot; internal nodes, details leaves and leaves that might be
 * top-level (all values are block numbers) are kept whole.  Pass 2
 * resolves each kept node's kind and figures from its children,
 * memoised, so shared subtrees cost nothing extra.
 */
#include "md_scan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "block_validator.h"
#include "btree.h"
#include "thin_types.h"

#define SCAN_CHUNK 2048u /* blocks per read: 8 MiB */
#define NO_NODE 0u

enum state { ST_NEW, ST_BUSY, ST_DONE };

struct scan_node {
	struct md_tree_info info;
	uint32_t saved;		/* index + 1 into saved copies, 0: none */
	uint8_t state;
	bool internal, maybe_top, referenced;
	uint32_t value_size;
};

struct md_scan {
	struct bdev *dev;
	uint64_t nr_blocks;
	uint32_t *index;	/* block -> node + 1 (NO_NODE: not a node) */
	struct scan_node *nodes;
	uint64_t nr_nodes, cap_nodes;
	uint8_t **saved;
	uint64_t nr_saved, cap_saved;
};

/* ---- pass 1: read and summarise ------------------------------------- */

static int save_block(struct md_scan *s, const uint8_t *blk, uint32_t *slot)
{
	if (array_reserve((void **)&s->saved, &s->cap_saved, s->nr_saved + 1,
			  sizeof(*s->saved), 1024))
		return -ENOMEM;
	uint8_t *copy = malloc(MD_BLOCK_SIZE);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, blk, MD_BLOCK_SIZE);
	s->saved[s->nr_saved++] = copy;
	*slot = (uint32_t)s->nr_saved;
	return 0;
}

static void add_time(struct md_tree_info *i, uint32_t t, uint64_t count)
{
	if (t > i->age || !i->at_age) {
		i->age = t;
		i->at_age = count;
	} else if (t == i->age) {
		i->at_age += count;
	}
}

static void set_keys(struct md_tree_info *i, const struct btree_node *n)
{
	i->nr_keys = n->nr_entries;
	i->has_keys = n->nr_entries > 0;
	if (i->has_keys) {
		i->key_lo = btree_node_key(n, 0);
		i->key_hi = btree_node_key(n, n->nr_entries - 1);
	}
}

static void bottom_leaf_info(struct md_tree_info *i, const struct btree_node *n)
{
	i->kind = MDK_BOTTOM;
	set_keys(i, n);
	i->nr_mappings = n->nr_entries;
	for (unsigned k = 0; k < n->nr_entries; k++) {
		uint64_t v = btree_node_value64(n, k);
		uint64_t d = block_time_block(v) + 1;
		if (d > i->data_end)
			i->data_end = d;
		add_time(i, block_time_time(v), 1);
	}
}

static bool could_be_top(const struct md_scan *s, const struct btree_node *n)
{
	if (!n->nr_entries)
		return false;
	for (unsigned k = 0; k < n->nr_entries; k++) {
		uint64_t v = btree_node_value64(n, k);
		if (!v || v >= s->nr_blocks)
			return false;
	}
	return true;
}

/* A header we can use: a leaf of 8 or 24, or an internal node. */
static bool usable(const struct btree_node *n)
{
	uint32_t vs = n->flags == BTREE_NODE_LEAF ? n->value_size : 8;
	if (n->flags == BTREE_NODE_LEAF && vs != THIN_MAPPING_VALUE_SIZE &&
	    vs != THIN_DETAILS_VALUE_SIZE)
		return false;
	unsigned bad;
	return !btree_problem_is_fatal(btree_node_check_header(n, vs)) &&
	       btree_node_check_keys(n, 0, UINT64_MAX, &bad) == BP_NONE;
}

static int add_node(struct md_scan *s, const uint8_t *blk, uint64_t b)
{
	struct btree_node n;
	btree_node_decode(&n, blk, b);
	if (!usable(&n))
		return 0;
	if (array_reserve((void **)&s->nodes, &s->cap_nodes, s->nr_nodes + 1,
			  sizeof(*s->nodes), 1024))
		return -ENOMEM;
	struct scan_node *sn = &s->nodes[s->nr_nodes];
	memset(sn, 0, sizeof(*sn));
	sn->info.root = b;
	sn->internal = !btree_node_is_leaf(&n);
	sn->value_size = n.value_size;
	int r = 0;
	if (sn->internal || n.value_size == THIN_DETAILS_VALUE_SIZE) {
		r = save_block(s, blk, &sn->saved);
	} else {
		bottom_leaf_info(&sn->info, &n);
		sn->maybe_top = could_be_top(s, &n);
		if (sn->maybe_top)
			r = save_block(s, blk, &sn->saved);
	}
	if (r)
		return r;
	s->index[b] = (uint32_t)++s->nr_nodes;
	return 0;
}

static int scan_chunk(struct md_scan *s, uint8_t *buf, uint64_t first,
		      unsigned count)
{
	const void *blk[SCAN_CHUNK];
	uint64_t where[SCAN_CHUNK];
	enum block_verdict v[SCAN_CHUNK];
	unsigned n = 0;
	for (unsigned i = 0; i < count; i++) {
		const uint8_t *p = buf + (size_t)i * MD_BLOCK_SIZE;
		/* only blocks that claim to be here can be intact */
		if (le64_load(p + 8) != first + i)
			continue;
		blk[n] = p;
		where[n++] = first + i;
	}
	if (!n)
		return 0;
	block_validate_many(BK_BTREE_NODE, blk, where, n, v);
	for (unsigned i = 0; i < n; i++) {
		if (v[i] != BV_OK)
			continue;
		int r = add_node(s, blk[i], where[i]);
		if (r)
			return r;
	}
	return 0;
}

/* A chunk with unreadable blocks: read it block by block, zeroing those. */
static int read_readable(struct md_scan *s, uint8_t *buf, uint64_t first,
			 unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		uint8_t *p = buf + (size_t)i * MD_BLOCK_SIZE;
		int r = bdev_read(s->dev, first + i, 1, p);
		if (r == -ENOMEM)
			return r;
		if (r)
			memset(p, 0, MD_BLOCK_SIZE);
	}
	return 0;
}

static int read_all(struct md_scan *s)
{
	uint8_t *buf = bdev_alloc_buf(SCAN_CHUNK);
	int r = 0;
	if (!buf)
		return -ENOMEM;
	for (uint64_t b = 1; b < s->nr_blocks && !r; b += SCAN_CHUNK) {
		unsigned count = s->nr_blocks - b < SCAN_CHUNK
					 ? (unsigned)(s->nr_blocks - b) : SCAN_CHUNK;
		if (b + count < s->nr_blocks)
			bdev_prefetch(s->dev, b + count, SCAN_CHUNK);
		r = bdev_read(s->dev, b, count, buf);
		if (r && r != -ENOMEM)
			r = read_readable(s, buf, b, count);
		if (!r)
			r = scan_chunk(s, buf, b, count);
	}
	bdev_free_buf(buf);
	return r;
}

/* ---- pass 2: resolve kinds and subtree figures ------------------------ */

static struct scan_node *node_at(const struct md_scan *s, uint64_t b)
{
	if (b >= s->nr_blocks || s->index[b] == NO_NODE)
		return NULL;
	return &s->nodes[s->index[b] - 1];
}

static void merge(struct md_tree_info *p, const struct md_tree_info *c)
{
	p->nr_mappings += c->nr_mappings;
	if (c->data_end > p->data_end)
		p->data_end = c->data_end;
	if (c->at_age)
		add_time(p, c->age, c->at_age);
	else if (c->age > p->age)
		p->age = c->age;
	if (c->max_transaction > p->max_transaction)
		p->max_transaction = c->max_transaction;
	p->damaged |= c->damaged;
}

static const struct md_tree_info *resolve(struct md_scan *s, uint64_t b,
					  unsigned depth);

static void details_leaf_info(struct md_tree_info *i, const struct btree_node *n)
{
	i->kind = MDK_DETAILS;
	set_keys(i, n);
	for (unsigned k = 0; k < n->nr_entries; k++) {
		struct thin_details d;
		thin_details_decode(&d, btree_node_value(n, k));
		i->nr_mappings += d.mapped_blocks;
		if (d.transaction_id > i->max_transaction)
			i->max_transaction = d.transaction_id;
		uint32_t t = d.creation_time > d.snapshotted_time
				     ? d.creation_time : d.snapshotted_time;
		if (t > i->age)
			i->age = t;
	}
}

/* A leaf whose values might be mapping roots: is it the top level? */
static bool top_leaf_info(struct md_scan *s, struct md_tree_info *i,
			  const struct btree_node *n, unsigned depth)
{
	struct md_tree_info t = { .root = i->root, .kind = MDK_TOP };
	bool any = false;
	set_keys(&t, n);
	for (unsigned k = 0; k < n->nr_entries; k++) {
		const struct md_tree_info *c =
			resolve(s, btree_node_value64(n, k), depth + 1);
		if (!c || c->kind == MDK_NONE) {
			t.damaged = true;
			continue;
		}
		if (c->kind != MDK_BOTTOM)
			return false;
		any = true;
		merge(&t, c);
	}
	if (any)
		*i = t;
	return any;
}

static bool child_fits(const struct md_tree_info *c, const struct btree_node *n,
		       unsigned k)
{
	if (!c->has_keys)
		return true;
	if (c->key_lo < btree_node_key(n, k))
		return false;
	return k + 1 >= n->nr_entries || c->key_hi < btree_node_key(n, k + 1);
}

static void internal_info(struct md_scan *s, struct md_tree_info *i,
			  const struct btree_node *n, unsigned depth)
{
	enum md_kind kind = MDK_NONE;
	bool damaged = false;
	struct md_tree_info t = { .root = i->root };
	for (unsigned k = 0; k < n->nr_entries; k++) {
		uint64_t cb = btree_node_value64(n, k);
		const struct md_tree_info *c = resolve(s, cb, depth + 1);
		if (!c || c->kind == MDK_NONE || (kind && c->kind != kind) ||
		    !child_fits(c, n, k)) {
			damaged = true;
			continue;
		}
		kind = c->kind;
		if (c->has_keys && !t.has_keys) {
			t.has_keys = true;
			t.key_lo = c->key_lo;
		}
		if (c->has_keys)
			t.key_hi = c->key_hi;
		t.nr_keys += c->nr_keys;
		merge(&t, c);
		node_at(s, cb)->referenced = true;
	}
	t.kind = kind;
	t.damaged |= damaged;
	*i = t;
}

static const struct md_tree_info *resolve(struct md_scan *s, uint64_t b,
					  unsigned depth)
{
	struct scan_node *sn = node_at(s, b);
	if (!sn || depth > BTREE_MAX_DEPTH)
		return NULL;
	if (sn->state == ST_DONE)
		return &sn->info;
	if (sn->state == ST_BUSY)
		return NULL; /* a loop */
	sn->state = ST_BUSY;
	struct btree_node n;
	if (sn->saved)
		btree_node_decode(&n, s->saved[sn->saved - 1], b);
	if (sn->internal)
		internal_info(s, &sn->info, &n, depth);
	else if (sn->value_size == THIN_DETAILS_VALUE_SIZE)
		details_leaf_info(&sn->info, &n);
	else if (sn->maybe_top)
		top_leaf_info(s, &sn->info, &n, depth);
	/* otherwise (or if not top-level after all) a bottom-level leaf,
	 * summarised in pass 1 */
	sn->state = ST_DONE;
	return &sn->info;
}

int md_scan_run(struct md_scan **out, struct bdev *dev, uint64_t nr_blocks)
{
	struct md_scan *s = calloc(1, sizeof(*s));
	int r = -ENOMEM;
	if (!s)
		return r;
	s->dev = dev;
	s->nr_blocks = nr_blocks;
	s->index = calloc(nr_blocks ? nr_blocks : 1, sizeof(*s->index));
	if (s->index && !(r = read_all(s))) {
		for (uint64_t i = 0; i < s->nr_nodes; i++)
			resolve(s, s->nodes[i].info.root, 0);
		*out = s;
		return 0;
	}
	md_scan_free(s);
	return r;
}

void md_scan_free(struct md_scan *s)
{
	if (!s)
		return;
	for (uint64_t i = 0; i < s->nr_saved; i++)
		free(s->saved[i]);
	free(s->saved);
	free(s->nodes);
	free(s->index);
	free(s);
}

uint64_t md_scan_nr_blocks(const struct md_scan *s)
{
	return s->nr_blocks;
}

uint64_t md_scan_nr_nodes(const struct md_scan *s)
{
	return s->nr_nodes;
}

struct md_tree_info md_scan_info(const struct md_scan *s, uint64_t b)
{
	const struct scan_node *sn = node_at(s, b);
	struct md_tree_info none = { .root = b, .kind = MDK_NONE };
	return sn && sn->state == ST_DONE ? sn->info : none;
}

const uint8_t *md_scan_node(const struct md_scan *s, uint64_t b)
{
	const struct scan_node *sn = node_at(s, b);
	return sn && sn->saved ? s->saved[sn->saved - 1] : NULL;
}

/* ---- devices and pairs ------------------------------------------------ */

/* budget: nodes that may still be visited (damaged trees may loop) */
static int collect(const struct md_scan *s, uint64_t b, enum md_kind kind,
		   struct thin_dev_list *out, unsigned depth, uint64_t *budget)
{
	const struct scan_node *sn = node_at(s, b);
	if (!sn || sn->info.kind != kind || !sn->saved || depth > BTREE_MAX_DEPTH ||
	    !*budget)
		return 0;
	--*budget;
	struct btree_node n;
	btree_node_decode(&n, s->saved[sn->saved - 1], b);
	for (unsigned k = 0; k < n.nr_entries; k++) {
		struct thin_dev d = { .id = btree_node_key(&n, k) };
		int r;
		if (sn->internal) {
			r = collect(s, btree_node_value64(&n, k), kind, out,
				    depth + 1, budget);
		} else {
			if (kind == MDK_DETAILS)
				thin_details_decode(&d.details, btree_node_value(&n, k));
			else
				d.root = btree_node_value64(&n, k);
			r = thin_dev_list_push(out, &d);
		}
		if (r)
			return r;
	}
	return 0;
}

int md_scan_devices(const struct md_scan *s, uint64_t root,
		    struct thin_dev_list *out)
{
	const struct scan_node *sn = node_at(s, root);
	uint64_t budget = s->nr_nodes;
	if (!sn || (sn->info.kind != MDK_TOP && sn->info.kind != MDK_DETAILS))
		return 0;
	return collect(s, root, sn->info.kind, out, 0, &budget);
}

static bool same_ids(const struct md_scan *s, uint64_t a, uint64_t b, int *err)
{
	struct thin_dev_list x = { 0 }, y = { 0 };
	bool same = false;
	*err = md_scan_devices(s, a, &x);
	if (!*err)
		*err = md_scan_devices(s, b, &y);
	if (!*err && x.n == y.n) {
		same = true;
		for (size_t i = 0; i < x.n && same; i++)
			same = x.v[i].id == y.v[i].id;
	}
	thin_dev_list_release(&x);
	thin_dev_list_release(&y);
	return same;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return (a < b) - (a > b); /* larger first */
}

static int cmp_pair(const void *pa, const void *pb)
{
	const struct md_root_pair *a = pa, *b = pb;
	int c;
	if ((c = cmp_u64(a->time, b->time)) ||
	    (c = cmp_u64(a->details.max_transaction, b->details.max_transaction)) ||
	    (c = cmp_u64(a->top.age == a->time ? a->top.at_age : 0,
			 b->top.age == b->time ? b->top.at_age : 0)) ||
	    (c = cmp_u64(a->top.nr_mappings, b->top.nr_mappings)) ||
	    (c = cmp_u64(a->top.root, b->top.root)))
		return c;
	return cmp_u64(a->details.root, b->details.root);
}

static bool root_of(const struct scan_node *sn, enum md_kind kind,
		    bool allow_damaged)
{
	return sn->state == ST_DONE && sn->info.kind == kind && !sn->referenced &&
	       (allow_damaged || !sn->info.damaged);
}

static bool compatible(const struct md_tree_info *t, const struct md_tree_info *d,
		       bool allow_damaged)
{
	if (t->nr_keys != d->nr_keys || t->key_lo != d->key_lo ||
	    t->key_hi != d->key_hi)
		return false;
	return (allow_damaged && t->damaged) || t->nr_mappings == d->nr_mappings;
}

static int add_pair(struct md_root_pair **v, size_t *n, uint64_t *cap,
		    const struct md_tree_info *t, const struct md_tree_info *d)
{
	if (array_reserve((void **)v, cap, *n + 1, sizeof(**v), 1024))
		return -ENOMEM;
	struct md_root_pair *p = &(*v)[(*n)++];
	p->top = *t;
	p->details = *d;
	p->time = t->age > d->age ? t->age : d->age;
	return 0;
}

/* Indices of the nodes that are roots of `kind`. */
static int list_roots(const struct md_scan *s, enum md_kind kind,
		      bool allow_damaged, uint64_t **out, uint64_t *nr)
{
	uint64_t cap = 0;
	*out = NULL;
	*nr = 0;
	for (uint64_t i = 0; i < s->nr_nodes; i++) {
		if (!root_of(&s->nodes[i], kind, allow_damaged))
			continue;
		if (array_reserve((void **)out, &cap, *nr + 1, sizeof(**out), 1024))
			return -ENOMEM;
		(*out)[(*nr)++] = i;
	}
	return 0;
}

int md_scan_pairs(struct md_scan *s, bool allow_damaged,
		  struct md_root_pair **pairs, size_t *nr)
{
	struct md_root_pair *v = NULL;
	uint64_t *tops = NULL, *dets = NULL, nt = 0, nd = 0, cap = 0;
	size_t n = 0;
	int r = list_roots(s, MDK_TOP, allow_damaged, &tops, &nt);
	if (!r)
		r = list_roots(s, MDK_DETAILS, false, &dets, &nd);
	for (uint64_t i = 0; i < nt && !r; i++) {
		const struct md_tree_info *t = &s->nodes[tops[i]].info;
		for (uint64_t j = 0; j < nd && !r && t->nr_keys; j++) {
			const struct md_tree_info *d = &s->nodes[dets[j]].info;
			if (compatible(t, d, allow_damaged) &&
			    same_ids(s, t->root, d->root, &r) && !r)
				r = add_pair(&v, &n, &cap, t, d);
		}
	}
	free(tops);
	free(dets);
	if (r) {
		free(v);
		return r;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_pair);
	*pairs = v;
	*nr = n;
	return 0;
}
