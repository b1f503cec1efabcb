// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thin_dump: stream devices and mappings, in key order, to an emitter.
 *
 * Mapping leaves are collected through the walker's leaf-pointer mode and
 * read in batches, so each batch becomes a few large reads.  With
 * shared_defs, two extra passes over the internal nodes find leaves that
 * several devices share and group them into chains (runs of shared
 * leaves that always appear together, in the same order); each chain is
 * printed once as a <def> named after its first leaf and referenced from
 * every device that contains it.
 */
#include "thin_dump.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_validator.h"
#include "mapping_reader.h"
#include "thin_devices.h"
#include "thin_superblock.h"
#include "u64_util.h"

#define LINK_UNSET UINT64_MAX
#define LINK_CONFLICT (UINT64_MAX - 1)
#define LINK_EDGE (UINT64_MAX - 2) /* start or end of a device */

enum dump_mode { M_DETAILS, M_ROOTS, M_COUNT, M_LINK, M_EMIT };

struct link {
	uint64_t leaf;	/* key; LINK_UNSET = empty slot */
	uint64_t succ, pred;
	uint64_t chain_len; /* > 0 for the first leaf of a chain */
};

struct link_map {
	struct link *slots;
	uint64_t cap, used;
};

struct dumper {
	struct bdev *dev;
	const struct thin_dump_opts *o;
	const struct dump_emitter *e;
	struct reporter *rep;
	struct thin_superblock live, roots;
	uint64_t md_nr;
	struct mapping_reader mr;
	enum dump_mode mode;
	bool damaged;
	bool in_def;		/* emitting a <def> */

	struct thin_dev_list details, tops;
	uint8_t *occ;
	struct link_map links;
	uint64_t prev_leaf;
	uint64_t skip_left;

	struct dump_run run;
	bool have_run;
	bool have_last;
	uint64_t last_origin;
};

/* ---- shared-leaf links ---------------------------------------------- */

static struct link *link_find(const struct link_map *m, uint64_t leaf)
{
	if (!m->cap)
		return NULL;
	uint64_t i = u64_hash(leaf) & (m->cap - 1);
	while (m->slots[i].leaf != LINK_UNSET) {
		if (m->slots[i].leaf == leaf)
			return &m->slots[i];
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

static int link_grow(struct link_map *m)
{
	struct link_map n = { .cap = m->cap ? m->cap * 2 : 1024 };
	n.slots = malloc(n.cap * sizeof(*n.slots));
	if (!n.slots)
		return -ENOMEM;
	for (uint64_t i = 0; i < n.cap; i++)
		n.slots[i].leaf = LINK_UNSET;
	for (uint64_t i = 0; i < m->cap; i++) {
		if (m->slots[i].leaf == LINK_UNSET)
			continue;
		uint64_t j = u64_hash(m->slots[i].leaf) & (n.cap - 1);
		while (n.slots[j].leaf != LINK_UNSET)
			j = (j + 1) & (n.cap - 1);
		n.slots[j] = m->slots[i];
	}
	n.used = m->used;
	free(m->slots);
	*m = n;
	return 0;
}

static struct link *link_get(struct link_map *m, uint64_t leaf)
{
	struct link *l = link_find(m, leaf);
	if (l)
		return l;
	if ((m->used + 1) * 2 > m->cap && link_grow(m))
		return NULL;
	uint64_t i = u64_hash(leaf) & (m->cap - 1);
	while (m->slots[i].leaf != LINK_UNSET)
		i = (i + 1) & (m->cap - 1);
	m->slots[i] = (struct link){ leaf, LINK_UNSET, LINK_UNSET, 0 };
	m->used++;
	return &m->slots[i];
}

static void link_set(uint64_t *field, uint64_t v)
{
	if (*field == LINK_UNSET)
		*field = v;
	else if (*field != v)
		*field = LINK_CONFLICT;
}

static bool shared(const struct dumper *d, uint64_t leaf)
{
	return leaf < d->md_nr && d->occ[leaf] >= 2;
}

/* Record that `leaf` follows `prev` (LINK_EDGE: device boundary). */
static int note_link(struct dumper *d, uint64_t prev, uint64_t leaf)
{
	struct link *l;
	if (prev != LINK_EDGE && shared(d, prev)) {
		if (!(l = link_get(&d->links, prev)))
			return -ENOMEM;
		link_set(&l->succ, leaf);
	}
	if (leaf != LINK_EDGE && shared(d, leaf)) {
		if (!(l = link_get(&d->links, leaf)))
			return -ENOMEM;
		link_set(&l->pred, prev);
	}
	return 0;
}

/* The next leaf of a chain after l, or 0 if the chain ends at l. */
static uint64_t chain_next(const struct dumper *d, const struct link *l)
{
	uint64_t s = l->succ;
	if (s >= LINK_EDGE || !shared(d, s))
		return 0;
	const struct link *n = link_find(&d->links, s);
	return n && n->pred == l->leaf ? s : 0;
}

static bool chain_head(const struct dumper *d, const struct link *l)
{
	if (l->pred >= LINK_EDGE || !shared(d, l->pred))
		return true;
	const struct link *p = link_find(&d->links, l->pred);
	return !p || chain_next(d, p) != l->leaf;
}

/* Mark chain heads with their length; return them sorted. */
static int find_chains(struct dumper *d, uint64_t **heads, size_t *nr)
{
	uint64_t *h = malloc((d->links.used + 1) * sizeof(*h));
	size_t n = 0;
	if (!h)
		return -ENOMEM;
	for (uint64_t i = 0; i < d->links.cap; i++) {
		struct link *l = &d->links.slots[i];
		if (l->leaf == LINK_UNSET || !chain_head(d, l))
			continue;
		uint64_t len = 1;
		for (const struct link *x = l; chain_next(d, x) && len <= d->links.used;
		     len++)
			x = link_find(&d->links, chain_next(d, x));
		l->chain_len = len;
		h[n++] = l->leaf;
	}
	qsort(h, n, sizeof(*h), u64_cmp);
	*heads = h;
	*nr = n;
	return 0;
}

/* ---- mappings ------------------------------------------------------- */

static int flush_run(struct dumper *d)
{
	if (!d->have_run)
		return 0;
	d->have_run = false;
	return d->e->run(d->e->ctx, &d->run);
}

static void damage(struct dumper *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void damage(struct dumper *d, const char *fmt, ...)
{
	va_list ap;
	d->damaged = true;
	/* The counting passes walk the same trees again: report once. */
	if (d->o->repair && (d->mode == M_COUNT || d->mode == M_LINK))
		return;
	va_start(ap, fmt);
	vreport(d->rep, d->o->repair ? REPORT_WARNING : REPORT_FATAL, fmt, ap);
	va_end(ap);
}

/* With repair: the keys [lo, hi] of the tree being emitted are left out. */
static void lost(const struct dumper *d, uint64_t lo, uint64_t hi)
{
	if (!d->o->lost || d->mode != M_EMIT)
		return;
	if (d->in_def)	/* a shared leaf's keys are not known: lo > hi */
		d->o->lost(d->o->lost_ctx, d->mr.desc, 1, 0);
	else
		d->o->lost(d->o->lost_ctx, d->mr.desc, lo, hi);
}

static int add_mapping(struct dumper *d, uint64_t origin, uint64_t v)
{
	uint64_t data = block_time_block(v);
	uint32_t time = block_time_time(v);
	struct dump_run *r = &d->run;

	if (d->have_last && origin <= d->last_origin) {
		damage(d, "%s: mapping of block %llu is out of order", d->mr.desc,
		       (unsigned long long)origin);
		return d->o->repair ? 0 : -EILSEQ;
	}
	d->have_last = true;
	d->last_origin = origin;
	if (d->have_run && origin == r->origin_begin + r->length &&
	    data == r->data_begin + r->length && time == r->time) {
		r->length++;
		return 0;
	}
	int ret = flush_run(d);
	*r = (struct dump_run){ origin, data, 1, time };
	d->have_run = true;
	return ret;
}

static int on_leaf(void *ctx, const struct btree_node *n)
{
	struct dumper *d = ctx;
	for (unsigned i = 0; i < n->nr_entries; i++) {
		int r = add_mapping(d, btree_node_key(n, i),
				    btree_node_value64(n, i));
		if (r)
			return r;
	}
	return 0;
}

static int on_damage(void *ctx, int err, const char *msg, uint64_t lo,
		     uint64_t hi)
{
	struct dumper *d = ctx;
	(void)err;
	damage(d, "%s", msg);
	if (lo <= hi)
		lost(d, lo, hi);
	return d->o->repair ? 0 : -EILSEQ;
}

/* A leaf of the device being emitted, in key order. */
static int device_leaf(struct dumper *d, uint64_t block, uint64_t lo,
		       uint64_t hi)
{
	int r;
	if (d->skip_left) {
		d->skip_left--;
		return 0;
	}
	if (d->o->shared_defs && shared(d, block)) {
		const struct link *l = link_find(&d->links, block);
		if (l && l->chain_len) {
			if ((r = mapping_reader_flush(&d->mr)) ||
			    (r = flush_run(d)))
				return r;
			d->skip_left = l->chain_len - 1;
			d->have_last = false;
			return d->e->ref(d->e->ctx, block);
		}
	}
	return mapping_reader_queue(&d->mr, block, lo, hi);
}

static int on_leaf_ptr(void *ctx, uint64_t b, uint64_t lo, uint64_t hi)
{
	struct dumper *d = ctx;
	switch (d->mode) {
	case M_COUNT:
		if (d->occ[b] < 255)
			d->occ[b]++;
		return 0;
	case M_LINK: {
		int r = note_link(d, d->prev_leaf, b);
		d->prev_leaf = b;
		return r;
	}
	default:
		return device_leaf(d, b, lo, hi);
	}
}

static const struct mapping_reader_ops dump_ops = {
	.leaf_ptr = on_leaf_ptr,
	.leaf = on_leaf,
	.damage = on_damage,
};

static int for_each_device(struct dumper *d, enum dump_mode mode)
{
	d->mode = mode;
	for (size_t i = 0; i < d->tops.n; i++) {
		mapping_reader_describe(&d->mr, "mapping tree of device %llu",
					(unsigned long long)d->tops.v[i].id);
		d->prev_leaf = LINK_EDGE;
		int r = mapping_reader_leaves(&d->mr, d->tops.v[i].root);
		if (!r && mode == M_LINK)
			r = note_link(d, d->prev_leaf, LINK_EDGE);
		if (r)
			return r;
	}
	return 0;
}

static int emit_defs(struct dumper *d)
{
	uint64_t *heads = NULL;
	size_t nr = 0;
	int r = find_chains(d, &heads, &nr);
	d->mode = M_EMIT;
	d->in_def = true;
	for (size_t i = 0; !r && i < nr; i++) {
		const struct link *l = link_find(&d->links, heads[i]);
		mapping_reader_describe(&d->mr, "shared leaves from %llu",
					(unsigned long long)heads[i]);
		d->have_last = false;
		uint64_t len = l->chain_len;
		r = d->e->begin_def(d->e->ctx, heads[i]);
		for (uint64_t k = 0; !r && k < len; k++) {
			r = mapping_reader_queue(&d->mr, l->leaf, 0, UINT64_MAX);
			l = link_find(&d->links, chain_next(d, l));
			if (!l)
				break;
		}
		if (!r && !(r = mapping_reader_flush(&d->mr)) && !(r = flush_run(d)))
			r = d->e->end_def(d->e->ctx);
	}
	free(heads);
	d->in_def = false;
	return r;
}

static bool selected(const struct dumper *d, uint64_t id)
{
	if (!d->o->dev_ids)
		return true;
	for (size_t i = 0; i < d->o->nr_dev_ids; i++)
		if (d->o->dev_ids[i] == id)
			return true;
	return false;
}

/*
 * Keep the selected devices present in both trees, in id order; details
 * come from the details tree, roots from the top-level mapping tree.
 */
static int select_devices(struct dumper *d)
{
	size_t n = 0;
	for (size_t i = 0; i < d->tops.n; i++) {
		struct thin_dev *t = &d->tops.v[i];
		const struct thin_dev *det = thin_dev_list_find(&d->details, t->id);
		if (!det) {
			damage(d, "device %llu is in the mapping tree but not in the device details tree",
			       (unsigned long long)t->id);
			if (!d->o->repair)
				return -EILSEQ;
			continue;
		}
		if (!selected(d, t->id))
			continue;
		t->details = det->details;
		d->tops.v[n++] = *t;
	}
	d->tops.n = n;
	for (size_t i = 0; i < d->details.n; i++)
		if (!thin_dev_list_find(&d->tops, d->details.v[i].id) &&
		    selected(d, d->details.v[i].id))
			damage(d, "device %llu is in the device details tree but not in the mapping tree",
			       (unsigned long long)d->details.v[i].id);
	for (size_t i = 0; i < d->o->nr_dev_ids; i++)
		if (!thin_dev_list_find(&d->tops, d->o->dev_ids[i])) {
			report(d->rep, REPORT_FATAL, "no device with id %llu",
			       (unsigned long long)d->o->dev_ids[i]);
			return -ENOENT;
		}
	return d->damaged && !d->o->repair ? -EILSEQ : 0;
}

static int emit_devices(struct dumper *d)
{
	for (size_t i = 0; i < d->tops.n; i++) {
		const struct thin_dev *t = &d->tops.v[i];
		int r = d->e->begin_device(d->e->ctx, t->id, &t->details);
		if (r)
			return r;
		if (!d->o->skip_mappings) {
			mapping_reader_describe(&d->mr, "mapping tree of device %llu",
						(unsigned long long)t->id);
			d->mode = M_EMIT;
			d->skip_left = 0;
			d->have_last = false;
			if ((r = mapping_reader_leaves(&d->mr, t->root)) ||
			    (r = flush_run(d)))
				return r;
		}
		if ((r = d->e->end_device(d->e->ctx)))
			return r;
	}
	return 0;
}

static void fill_superblock(const struct dumper *d, struct dump_superblock *s)
{
	const struct thin_dump_opts *o = d->o;
	const struct thin_superblock *sb = &d->roots;
	if (o->given_sb) {
		*s = *o->given_sb;
		return;
	}
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 16 && sb->uuid[i]; i++) {
		char ch = (char)sb->uuid[i];
		s->uuid[i] = ch >= 0x20 && ch < 0x7f ? ch : '?';
	}
	s->time = sb->time;
	s->transaction = sb->trans_id;
	s->flags = sb->flags;
	s->version = sb->version;
	s->data_block_size = sb->data_block_size;
	s->nr_data_blocks = d->live.data_sm.nr_blocks;
	if (o->metadata_snap && o->snap_nr_data_blocks_zero)
		s->nr_data_blocks = 0;
	if (!o->metadata_snap)
		s->metadata_snap = d->live.metadata_snap;
	if (o->sb.override_transaction && o->sb.transaction > s->transaction)
		s->transaction = o->sb.transaction;
	if (o->sb.override_nr_data_blocks && o->sb.nr_data_blocks > s->nr_data_blocks)
		s->nr_data_blocks = o->sb.nr_data_blocks;
	if (o->sb.override_data_block_size)
		s->data_block_size = (uint32_t)o->sb.data_block_size;
}

static int read_sb(struct dumper *d, uint64_t where, struct thin_superblock *sb)
{
	enum thin_sb_problem p;
	int r = thin_sb_read(d->dev, where, sb, &p);
	if (r && r != -ENOMEM)
		report(d->rep, REPORT_FATAL, "superblock at block %llu cannot be read",
		       (unsigned long long)where);
	if (r || p == SBP_NONE)
		return r;
	if (where)
		report(d->rep, REPORT_FATAL, "metadata snapshot at block %llu: %s",
		       (unsigned long long)where, thin_sb_problem_str(p));
	else
		report(d->rep, REPORT_FATAL, "%s", thin_sb_problem_str(p));
	return -EILSEQ;
}

static int open_roots(struct dumper *d)
{
	const struct thin_dump_opts *o = d->o;
	int r = o->given_sb ? 0 : read_sb(d, 0, &d->live);
	if (r)
		return r;
	if (o->given_sb)
		d->live.metadata_sm.nr_blocks = SM_METADATA_MAX_BLOCKS;
	d->md_nr = d->live.metadata_sm.nr_blocks < d->dev->nr_blocks
			   ? d->live.metadata_sm.nr_blocks : d->dev->nr_blocks;
	d->roots = d->live;
	if (o->metadata_snap && !o->given_sb) {
		uint64_t s = o->snap_block ? o->snap_block : d->live.metadata_snap;
		if (!s) {
			report(d->rep, REPORT_FATAL,
			       "no metadata snapshot is held (superblock field metadata_snap is 0)");
			return -ENOENT;
		}
		if (s >= d->md_nr) {
			report(d->rep, REPORT_FATAL,
			       "metadata snapshot block %llu is outside the metadata device",
			       (unsigned long long)s);
			return -ERANGE;
		}
		if ((r = read_sb(d, s, &d->roots)))
			return r;
	}
	if (o->override_details_root)
		d->roots.device_details_root = o->details_root;
	if (o->override_mapping_root)
		d->roots.data_mapping_root = o->mapping_root;
	return 0;
}

static int list_devices(struct dumper *d)
{
	int r;
	mapping_reader_describe(&d->mr, "device details tree");
	d->mode = M_DETAILS;
	if ((r = mapping_reader_list(&d->mr, d->roots.device_details_root, true,
				     &d->details)))
		return r;
	mapping_reader_describe(&d->mr, "top-level mapping tree");
	d->mode = M_ROOTS;
	if ((r = mapping_reader_list(&d->mr, d->roots.data_mapping_root, false,
				     &d->tops)))
		return r;
	if (d->damaged && !d->o->repair)
		return -EILSEQ;
	return select_devices(d);
}

static int run(struct dumper *d)
{
	struct dump_superblock s;
	int r;

	if ((r = open_roots(d)))
		return r;
	if ((r = mapping_reader_init(&d->mr, d->dev, d->md_nr, &dump_ops, d)))
		return r;
	if ((r = list_devices(d)))
		return r;
	bool defs = d->o->shared_defs && !d->o->skip_mappings;
	if (defs) {
		d->occ = calloc(d->md_nr, 1);
		if (!d->occ)
			return -ENOMEM;
		if ((r = for_each_device(d, M_COUNT)) ||
		    (r = for_each_device(d, M_LINK)))
			return r;
	}
	fill_superblock(d, &s);
	if ((r = d->e->begin_superblock(d->e->ctx, &s)))
		return r;
	if (defs && (r = emit_defs(d)))
		return r;
	if ((r = emit_devices(d)))
		return r;
	return d->e->end_superblock(d->e->ctx);
}

int thin_dump(struct bdev *dev, const struct thin_dump_opts *opts,
	      const struct dump_emitter *e, struct reporter *rep)
{
	struct dumper d = { .dev = dev, .o = opts, .e = e, .rep = rep };
	int r = run(&d);
	mapping_reader_release(&d.mr);
	thin_dev_list_release(&d.details);
	thin_dev_list_release(&d.tops);
	free(d.occ);
	free(d.links.slots);
	return r;
}
