// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Restore: dump events in, a pool out.
 */
#include "thin_restore.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_validator.h"
#include "btree.h"
#include "btree_builder.h"
#include "md_writer.h"
#include "refcount.h"
#include "sm_writer.h"
#include "thin_devices.h"
#include "thin_superblock.h"
#include "u64_util.h"

/* A <def>: leaves written once, spliced into every device that refs it. */
struct def {
	char *name;
	struct btree_child_list leaves;
	uint64_t nr_mappings;
	uint64_t first, last;	/* thin blocks it covers: [first, last] */
};

struct def_table {
	struct def *v;	/* open addressing on name; name NULL = empty */
	uint64_t cap, used;
};

struct id_set {
	uint64_t *v;	/* open addressing; UINT64_MAX = empty */
	uint64_t cap, used;
	bool has_max;	/* UINT64_MAX itself was added */
};

struct thin_restorer {
	struct bdev *dev;
	struct thin_restore_opts opts;
	struct md_writer mw;
	struct refcount data;
	struct thin_superblock sb;
	bool have_sb, ended, done;
	char err[256];

	struct thin_dev_list devs;
	struct id_set ids;
	struct id_set counted;	/* shared leaves whose data has been counted */
	struct def_table defs;

	/* the device or def being built */
	enum { IN_NONE, IN_DEVICE, IN_DEF } in;
	struct btree_builder b;
	struct thin_dev cur;
	struct def *cur_def;
	bool have_last;
	uint64_t last_origin;	/* last thin block mapped so far */
};

static int fail(struct thin_restorer *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct thin_restorer *r, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return code;
}

static const char *r_error(void *ctx)
{
	struct thin_restorer *r = ctx;
	return r->err;
}

/* ---- small tables ---------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

/* Add id; -EEXIST if it was there already. */
static int id_add(struct id_set *s, uint64_t id)
{
	if (id == UINT64_MAX) {
		if (s->has_max)
			return -EEXIST;
		s->has_max = true;
		return 0;
	}
	if ((s->used + 1) * 2 > s->cap) {
		struct id_set n = { .cap = s->cap ? s->cap * 2 : 256 };
		n.v = malloc(n.cap * sizeof(*n.v));
		if (!n.v)
			return -ENOMEM;
		memset(n.v, 0xff, n.cap * sizeof(*n.v));
		for (uint64_t i = 0; i < s->cap; i++) {
			if (s->v[i] == UINT64_MAX)
				continue;
			uint64_t j = u64_hash(s->v[i]) & (n.cap - 1);
			while (n.v[j] != UINT64_MAX)
				j = (j + 1) & (n.cap - 1);
			n.v[j] = s->v[i];
		}
		free(s->v);
		s->v = n.v;
		s->cap = n.cap;
	}
	uint64_t j = u64_hash(id) & (s->cap - 1);
	while (s->v[j] != UINT64_MAX) {
		if (s->v[j] == id)
			return -EEXIST;
		j = (j + 1) & (s->cap - 1);
	}
	s->v[j] = id;
	s->used++;
	return 0;
}

static struct def *def_slot(const struct def_table *t, const char *name)
{
	uint64_t j = hash_str(name) & (t->cap - 1);
	while (t->v[j].name && strcmp(t->v[j].name, name))
		j = (j + 1) & (t->cap - 1);
	return &t->v[j];
}

static struct def *def_find(const struct def_table *t, const char *name)
{
	if (!t->cap)
		return NULL;
	struct def *d = def_slot(t, name);
	return d->name ? d : NULL;
}

static int def_grow(struct def_table *t)
{
	struct def_table n = { .cap = t->cap ? t->cap * 2 : 64 };
	n.v = calloc(n.cap, sizeof(*n.v));
	if (!n.v)
		return -ENOMEM;
	for (uint64_t i = 0; i < t->cap; i++)
		if (t->v[i].name)
			*def_slot(&n, t->v[i].name) = t->v[i];
	n.used = t->used;
	free(t->v);
	*t = n;
	return 0;
}

/* ---- events ---------------------------------------------------------- */

static int r_begin_superblock(void *ctx, const struct dump_superblock *s)
{
	struct thin_restorer *r = ctx;
	struct thin_superblock *sb = &r->sb;
	const struct thin_restore_opts *o = &r->opts;

	if (r->have_sb)
		return fail(r, -EINVAL, "more than one superblock");
	r->have_sb = true;
	memset(sb, 0, sizeof(*sb));
	memcpy(sb->uuid, s->uuid, strnlen(s->uuid, 16));
	sb->magic = THIN_SUPERBLOCK_MAGIC;
	sb->version = THIN_VERSION;
	sb->time = s->time;
	sb->trans_id = o->sb.override_transaction ? o->sb.transaction : s->transaction;
	sb->flags = s->flags;
	uint64_t dbs = o->sb.override_data_block_size ? o->sb.data_block_size
						   : s->data_block_size;
	if (dbs < THIN_MIN_DATA_BLOCK_SIZE || dbs > THIN_MAX_DATA_BLOCK_SIZE ||
	    dbs % THIN_MIN_DATA_BLOCK_SIZE)
		return fail(r, -EINVAL,
			    "data_block_size %llu is not a multiple of 128 between 128 and 2097152",
			    (unsigned long long)dbs);
	sb->data_block_size = (uint32_t)dbs;
	sb->metadata_block_size = THIN_METADATA_BLOCK_SECTORS;
	sb->metadata_nr_blocks = r->mw.nr_blocks;
	uint64_t nr = o->sb.override_nr_data_blocks ? o->sb.nr_data_blocks
						 : s->nr_data_blocks;
	if (nr > THIN_MAX_DATA_BLOCK + 1)
		return fail(r, -EINVAL, "nr_data_blocks %llu exceeds 2^40",
			    (unsigned long long)nr);
	if (sm_nr_bitmaps(nr) >= r->mw.nr_blocks)
		return fail(r, -ENOSPC,
			    "nr_data_blocks %llu needs %llu space-map bitmaps, more than the output's %llu metadata blocks",
			    (unsigned long long)nr,
			    (unsigned long long)sm_nr_bitmaps(nr),
			    (unsigned long long)r->mw.nr_blocks);
	sb->data_sm.nr_blocks = nr;
	return refcount_init(&r->data, nr) ? fail(r, -ENOMEM, "out of memory")
					   : 0;
}

/* A mapping goes into a leaf of ours: its data block gains a reference. */
static int count_data(void *ctx, uint64_t key, const uint8_t *value)
{
	struct thin_restorer *r = ctx;
	(void)key;
	return refcount_inc(&r->data, block_time_block(le64_load(value)));
}

static void start_tree(struct thin_restorer *r)
{
	btree_builder_init(&r->b, &r->mw, THIN_MAPPING_VALUE_SIZE, false);
	r->b.copied = count_data;
	r->b.copied_ctx = r;
	r->have_last = false;
	r->last_origin = 0;
}

static int r_begin_device(void *ctx, uint64_t id, const struct thin_details *d)
{
	struct thin_restorer *r = ctx;
	if (r->in != IN_NONE)
		return fail(r, -EINVAL, "device inside a %s",
			    r->in == IN_DEVICE ? "device" : "def");
	int e = id_add(&r->ids, id);
	if (e == -EEXIST)
		return fail(r, -EINVAL, "duplicate dev_id %llu",
			    (unsigned long long)id);
	if (e)
		return fail(r, e, "out of memory");
	r->in = IN_DEVICE;
	r->cur = (struct thin_dev){ .id = id, .details = *d };
	start_tree(r);
	return 0;
}

/*
 * The data of a shared leaf counts once however many devices share it
 * (FORMATS.md A.10.2), and not at all if none does in the end.
 */
static int count_shared_leaves(struct thin_restorer *r)
{
	const struct btree_child_list *l = &r->b.leaves;
	uint8_t *blk = NULL;
	int e = 0;
	for (uint64_t i = 0; i < l->n && !e; i++) {
		if (!l->shared[i])
			continue;
		e = id_add(&r->counted, l->blocks[i]);
		if (e == -EEXIST) {
			e = 0; /* counted for an earlier device */
			continue;
		}
		if (e)
			break;
		if (!blk && !(blk = malloc(MD_BLOCK_SIZE)))
			return -ENOMEM;
		struct btree_node n;
		e = md_writer_read(&r->mw, l->blocks[i], blk);
		btree_node_decode(&n, blk, l->blocks[i]);
		for (uint32_t k = 0; k < n.nr_entries && !e; k++)
			e = count_data(r, 0, btree_node_value(&n, k));
	}
	free(blk);
	return e;
}

static int r_end_device(void *ctx)
{
	struct thin_restorer *r = ctx;
	int e = btree_builder_close_leaf(&r->b);
	if (!e)
		e = count_shared_leaves(r);
	if (!e)
		e = btree_builder_finish(&r->b, &r->cur.root);
	r->cur.details.mapped_blocks = r->b.nr_entries;
	btree_builder_release(&r->b);
	r->in = IN_NONE;
	if (!e)
		e = thin_dev_list_push(&r->devs, &r->cur);
	return e ? fail(r, e, "%s", strerror(-e)) : 0;
}

static int r_begin_def(void *ctx, const char *name)
{
	struct thin_restorer *r = ctx;
	if (r->in != IN_NONE)
		return fail(r, -EINVAL, "def inside a %s",
			    r->in == IN_DEVICE ? "device" : "def");
	if (def_find(&r->defs, name))
		return fail(r, -EINVAL, "duplicate def '%s'", name);
	if ((r->defs.used + 1) * 2 > r->defs.cap && def_grow(&r->defs))
		return fail(r, -ENOMEM, "out of memory");
	struct def *d = def_slot(&r->defs, name);
	d->name = strdup(name);
	if (!d->name)
		return fail(r, -ENOMEM, "out of memory");
	r->defs.used++;
	r->cur_def = d;
	r->in = IN_DEF;
	start_tree(r);
	return 0;
}

static int r_end_def(void *ctx)
{
	struct thin_restorer *r = ctx;
	struct def *d = r->cur_def;
	int e = btree_builder_close_leaf(&r->b);
	d->leaves = r->b.leaves;
	memset(&r->b.leaves, 0, sizeof(r->b.leaves));
	d->nr_mappings = r->b.nr_entries;
	d->first = d->leaves.n ? d->leaves.keys[0] : 0;
	d->last = r->last_origin;
	btree_builder_release(&r->b);
	r->in = IN_NONE;
	return e ? fail(r, e, "%s", strerror(-e)) : 0;
}

static int r_ref(void *ctx, const char *name)
{
	struct thin_restorer *r = ctx;
	const struct def *d = def_find(&r->defs, name);
	if (r->in != IN_DEVICE)
		return fail(r, -EINVAL, "ref outside a device");
	if (!d)
		return fail(r, -EINVAL, "ref to unknown def '%s'", name);
	if (!d->nr_mappings)
		return 0;
	if (r->have_last && d->first <= r->last_origin)
		return fail(r, -EINVAL,
			    "def '%s' starts at block %llu, overlapping or before earlier mappings of this device (which reach %llu)",
			    name, (unsigned long long)d->first,
			    (unsigned long long)r->last_origin);
	for (uint64_t i = 0; i < d->leaves.n; i++) {
		int e = btree_builder_add_leaf(&r->b, d->leaves.keys[i],
					       d->leaves.blocks[i],
					       d->leaves.counts[i]);
		if (e)
			return fail(r, e, "%s", strerror(-e));
	}
	r->have_last = true;
	r->last_origin = d->last;
	return 0;
}

static int r_run(void *ctx, const struct dump_run *run)
{
	struct thin_restorer *r = ctx;
	uint64_t nr = r->sb.data_sm.nr_blocks;
	if (r->in == IN_NONE)
		return fail(r, -EINVAL, "mapping outside a device or def");
	if (!run->length)
		return fail(r, -EINVAL, "mapping of length 0");
	if (run->length - 1 > UINT64_MAX - run->origin_begin)
		return fail(r, -EINVAL, "mapping runs past the largest block number");
	if (run->data_begin >= nr || run->length > nr - run->data_begin)
		return fail(r, -EINVAL,
			    "mapping to data blocks %llu..%llu, beyond the end of the data device (nr_data_blocks %llu)",
			    (unsigned long long)run->data_begin,
			    (unsigned long long)(run->data_begin + run->length - 1),
			    (unsigned long long)nr);
	if (run->time > THIN_MAX_TIME)
		return fail(r, -EINVAL, "mapping time %u does not fit in 24 bits",
			    run->time);
	if (r->have_last && run->origin_begin <= r->last_origin)
		return fail(r, -EINVAL,
			    "mapping of block %llu overlaps or comes before earlier mappings (which reach %llu)",
			    (unsigned long long)run->origin_begin,
			    (unsigned long long)r->last_origin);
	for (uint64_t k = 0; k < run->length; k++) {
		uint8_t v[8];
		le64_store(v, block_time_pack(run->data_begin + k, run->time));
		int e = btree_builder_add(&r->b, run->origin_begin + k, v);
		/* a def's data is counted when a device shares its leaves */
		if (!e && r->in == IN_DEVICE)
			e = refcount_inc(&r->data, run->data_begin + k);
		if (e)
			return fail(r, e, "%s", strerror(-e));
	}
	r->have_last = true;
	r->last_origin = run->origin_begin + (run->length - 1);
	return 0;
}

static int cmp_dev(const void *a, const void *b)
{
	const struct thin_dev *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

/* Details tree and top-level mapping tree, devices in id order. */
static int write_device_trees(struct thin_restorer *r)
{
	struct btree_builder det, top;
	int e = 0;
	if (r->devs.n)
		qsort(r->devs.v, r->devs.n, sizeof(*r->devs.v), cmp_dev);
	btree_builder_init(&det, &r->mw, THIN_DETAILS_VALUE_SIZE, false);
	btree_builder_init(&top, &r->mw, THIN_MAPPING_VALUE_SIZE, true);
	for (size_t i = 0; i < r->devs.n && !e; i++) {
		uint8_t v[THIN_DETAILS_VALUE_SIZE];
		thin_details_encode(&r->devs.v[i].details, v);
		e = btree_builder_add(&det, r->devs.v[i].id, v);
		le64_store(v, r->devs.v[i].root);
		if (!e)
			e = btree_builder_add(&top, r->devs.v[i].id, v);
	}
	if (!e)
		e = btree_builder_finish(&det, &r->sb.device_details_root);
	if (!e)
		e = btree_builder_finish(&top, &r->sb.data_mapping_root);
	if (!e)
		e = md_writer_ref(&r->mw, r->sb.device_details_root);
	if (!e)
		e = md_writer_ref(&r->mw, r->sb.data_mapping_root);
	btree_builder_release(&det);
	btree_builder_release(&top);
	return e;
}

static int write_superblock(struct thin_restorer *r)
{
	uint8_t *blk = bdev_alloc_buf(1);
	int e;
	if (!blk)
		return -ENOMEM;
	r->sb.blocknr = 0;
	thin_sb_encode(&r->sb, blk);
	e = bdev_write(r->dev, 0, 1, blk);
	if (!e)
		e = bdev_sync(r->dev);
	bdev_free_buf(blk);
	return e;
}

static int r_end_superblock(void *ctx)
{
	struct thin_restorer *r = ctx;
	if (r->in != IN_NONE)
		return fail(r, -EINVAL, "superblock ends inside a device or def");
	r->ended = true;
	return 0;
}

int thin_restorer_commit(struct thin_restorer *r)
{
	int e;
	if (!r->ended)
		return fail(r, -EINVAL, "the input ended before </superblock>");
	if ((e = write_device_trees(r)) ||
	    (e = sm_write_data(&r->mw, &r->data, &r->sb.data_sm)) ||
	    (e = md_writer_ref(&r->mw, 0)) ||
	    (e = sm_write_metadata(&r->mw, &r->sb.metadata_sm)))
		return fail(r, e, "%s", strerror(-e));
	if (md_writer_full(&r->mw))
		return fail(r, -ENOSPC,
			    "the metadata needs %llu blocks (%llu bytes), the output has room for %llu",
			    (unsigned long long)r->mw.next,
			    (unsigned long long)r->mw.next * MD_BLOCK_SIZE,
			    (unsigned long long)r->mw.nr_blocks);
	/* Everything else durable first, then the superblock (A.11.2). */
	if ((e = md_writer_flush(&r->mw)) || (e = write_superblock(r)))
		return fail(r, e, "writing the output failed: %s", strerror(-e));
	r->done = true;
	return 0;
}

/* A restorer takes def names as strings; the dump interface has numbers. */
static int r_begin_def_num(void *ctx, uint64_t name)
{
	char s[24];
	snprintf(s, sizeof(s), "%llu", (unsigned long long)name);
	return r_begin_def(ctx, s);
}

static int r_ref_num(void *ctx, uint64_t name)
{
	char s[24];
	snprintf(s, sizeof(s), "%llu", (unsigned long long)name);
	return r_ref(ctx, s);
}

int thin_restorer_create(struct thin_restorer **out, struct bdev *dev,
			 const struct thin_restore_opts *opts,
			 struct dump_emitter *e)
{
	struct thin_restorer *r = calloc(1, sizeof(*r));
	uint8_t *zero = bdev_alloc_buf(1);
	int err = -ENOMEM;
	if (!r || !zero)
		goto bad;
	r->dev = dev;
	r->opts = *opts;
	uint64_t nr = dev->nr_blocks < SM_METADATA_MAX_BLOCKS
			      ? dev->nr_blocks : SM_METADATA_MAX_BLOCKS;
	if ((err = md_writer_init(&r->mw, dev, nr)))
		goto bad;
	/* No valid-looking pool on the output until the new one is complete. */
	memset(zero, 0, MD_BLOCK_SIZE);
	if ((err = bdev_write(dev, 0, 1, zero)) || (err = bdev_sync(dev)))
		goto bad;
	bdev_free_buf(zero);
	*e = (struct dump_emitter){
		.begin_superblock = r_begin_superblock,
		.end_superblock = r_end_superblock,
		.begin_def = r_begin_def_num,
		.end_def = r_end_def,
		.begin_device = r_begin_device,
		.end_device = r_end_device,
		.ref = r_ref_num,
		.run = r_run,
		.error = r_error,
		.ctx = r,
	};
	*out = r;
	return 0;
bad:
	bdev_free_buf(zero);
	thin_restorer_destroy(r);
	return err;
}

void thin_restorer_destroy(struct thin_restorer *r)
{
	if (!r)
		return;
	md_writer_release(&r->mw);
	refcount_release(&r->data);
	thin_dev_list_release(&r->devs);
	free(r->ids.v);
	free(r->counted.v);
	for (uint64_t i = 0; i < r->defs.cap; i++) {
		free(r->defs.v[i].name);
		free(r->defs.v[i].leaves.keys);
		free(r->defs.v[i].leaves.blocks);
		free(r->defs.v[i].leaves.counts);
		free(r->defs.v[i].leaves.shared);
	}
	free(r->defs.v);
	btree_builder_release(&r->b);
	free(r);
}

const char *thin_restorer_error(const struct thin_restorer *r)
{
	return r->err;
}

uint64_t thin_restorer_blocks_needed(const struct thin_restorer *r)
{
	return r->mw.next;
}
