// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Repair: choose the trees to keep, rebuild the superblock, stream.
 */
#include "thin_repair.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "md_scan.h"
#include "space_map.h"
#include "thin_salvage.h"
#include "thin_superblock.h"

enum source { FROM_SUPERBLOCK, FROM_SCAN, FROM_DAMAGED_SUPERBLOCK_TREES };

struct repair {
	struct bdev *in;
	const struct thin_repair_opts *o;
	struct reporter *rep;
	struct thin_superblock sb;
	bool sb_ok;
	uint64_t nr_blocks;	/* metadata blocks to scan */
	struct md_scan *scan;
	struct md_root_pair *pairs;
	size_t nr_pairs;
	const struct md_root_pair *chosen;
	struct md_root_pair sb_pair;	/* the superblock's, when complete */
	enum source source;
	struct dump_superblock out;
	uint64_t ranges_lost;	/* damaged subtrees left out */
};

/* ---- counting what goes out ------------------------------------------- */

struct def_count {
	uint64_t name, mappings;
};

/*
 * Counts devices and mappings on their way to the next emitter (none:
 * count only), and notes a device whose mappings differ in number from
 * its details' mapped_blocks.
 */
struct counter {
	const struct dump_emitter *next;
	uint64_t devices, mappings, data_end;
	uint64_t dev_expected, dev_count;
	bool in_def, mismatch;
	struct def_count *defs;
	size_t nr_defs;
};

static int c_begin_superblock(void *ctx, const struct dump_superblock *sb)
{
	struct counter *c = ctx;
	return c->next ? c->next->begin_superblock(c->next->ctx, sb) : 0;
}

static int c_end_superblock(void *ctx)
{
	struct counter *c = ctx;
	return c->next ? c->next->end_superblock(c->next->ctx) : 0;
}

static int c_begin_def(void *ctx, uint64_t name)
{
	struct counter *c = ctx;
	struct def_count *n = realloc(c->defs, (c->nr_defs + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	c->defs = n;
	c->defs[c->nr_defs++] = (struct def_count){ name, 0 };
	c->in_def = true;
	return c->next ? c->next->begin_def(c->next->ctx, name) : 0;
}

static int c_end_def(void *ctx)
{
	struct counter *c = ctx;
	c->in_def = false;
	return c->next ? c->next->end_def(c->next->ctx) : 0;
}

static int c_begin_device(void *ctx, uint64_t id, const struct thin_details *d)
{
	struct counter *c = ctx;
	c->devices++;
	c->dev_expected = d->mapped_blocks;
	c->dev_count = 0;
	return c->next ? c->next->begin_device(c->next->ctx, id, d) : 0;
}

static int c_end_device(void *ctx)
{
	struct counter *c = ctx;
	c->mismatch |= c->dev_count != c->dev_expected;
	return c->next ? c->next->end_device(c->next->ctx) : 0;
}

static int c_ref(void *ctx, uint64_t name)
{
	struct counter *c = ctx;
	for (size_t i = 0; i < c->nr_defs; i++)
		if (c->defs[i].name == name) {
			c->mappings += c->defs[i].mappings;
			c->dev_count += c->defs[i].mappings;
		}
	return c->next ? c->next->ref(c->next->ctx, name) : 0;
}

static int c_run(void *ctx, const struct dump_run *r)
{
	struct counter *c = ctx;
	if (c->in_def) {
		c->defs[c->nr_defs - 1].mappings += r->length;
	} else {
		c->mappings += r->length;
		c->dev_count += r->length;
	}
	if (r->data_begin + r->length > c->data_end)
		c->data_end = r->data_begin + r->length;
	return c->next ? c->next->run(c->next->ctx, r) : 0;
}

static void counting_emitter(struct dump_emitter *e, struct counter *c)
{
	*e = (struct dump_emitter){
		.begin_superblock = c_begin_superblock,
		.end_superblock = c_end_superblock,
		.begin_def = c_begin_def,
		.end_def = c_end_def,
		.begin_device = c_begin_device,
		.end_device = c_end_device,
		.ref = c_ref,
		.run = c_run,
		.ctx = c,
	};
}

/* ---- choosing the trees ----------------------------------------------- */

static void dump_opts(const struct repair *r, struct thin_dump_opts *d,
		      uint64_t top, uint64_t details,
		      const struct dump_superblock *sb)
{
	*d = (struct thin_dump_opts){
		.shared_defs = r->o->shared_defs,
		.override_mapping_root = true,
		.override_details_root = true,
		.mapping_root = top,
		.details_root = details,
		.given_sb = sb,
	};
}

static int rebuild_superblock(struct repair *r);
static void report_choice(struct repair *r);
static void report_result(struct repair *r, const struct counter *c);

/*
 * The common case, healthy trees behind an intact superblock, needs no
 * scan: the superblock's trees are read once, quietly, checking that
 * every node is intact and every device's mapped_blocks matches its
 * mappings, and (with restart) written out at the same time.  Returns 1
 * when done (*err: the outcome), 0 when the scan is needed.
 */
static int superblock_fast_path(struct repair *r, const struct dump_emitter **e,
				int *err)
{
	struct reporter quiet = { 0 };
	struct counter c = { .next = r->o->restart ? *e : NULL };
	struct dump_emitter ce;
	struct thin_dump_opts d;
	if (!r->sb_ok || r->o->salvage)
		return 0;
	r->sb_pair.top.root = r->sb.data_mapping_root;
	r->sb_pair.details.root = r->sb.device_details_root;
	r->sb_pair.time = r->sb.time;
	r->chosen = &r->sb_pair;
	r->source = FROM_SUPERBLOCK;
	if ((*err = rebuild_superblock(r)))
		return 1;
	dump_opts(r, &d, r->sb.data_mapping_root, r->sb.device_details_root, &r->out);
	counting_emitter(&ce, &c);
	*err = thin_dump(r->in, &d, &ce, &quiet);
	free(c.defs);
	bool damaged = *err == -EILSEQ || c.mismatch ||
		       c.data_end > r->out.nr_data_blocks;
	if (*err && !damaged)
		return 1; /* the output's fault (full, unwritable): no retry */
	if (damaged) {
		r->chosen = NULL;
		*err = r->o->restart ? r->o->restart(r->o->restart_ctx, e) : 0;
		return *err ? 1 : 0;
	}
	if (!r->o->restart)
		return 0; /* checked: now the real pass, chosen as it is */
	report_choice(r);
	report_result(r, &c);
	return 1;
}

static const struct md_root_pair *find_pair(const struct repair *r,
					    uint64_t top, uint64_t details)
{
	for (size_t i = 0; i < r->nr_pairs; i++)
		if (r->pairs[i].top.root == top &&
		    r->pairs[i].details.root == details)
			return &r->pairs[i];
	return NULL;
}

static int load_pairs(struct repair *r, bool allow_damaged)
{
	free(r->pairs);
	r->pairs = NULL;
	r->nr_pairs = 0;
	return md_scan_pairs(r->scan, allow_damaged, &r->pairs, &r->nr_pairs);
}

static int choose(struct repair *r)
{
	if (r->chosen)
		return 0; /* the superblock's, checked without a scan */
	int e = md_scan_run(&r->scan, r->in, r->nr_blocks);
	if (!e)
		e = load_pairs(r, r->o->salvage);
	if (e)
		return e;
	if (r->sb_ok)
		r->chosen = find_pair(r, r->sb.data_mapping_root,
				      r->sb.device_details_root);
	r->source = FROM_SUPERBLOCK;
	if (!r->chosen && r->nr_pairs) {
		r->chosen = &r->pairs[0];
		r->source = FROM_SCAN;
	}
	if (r->chosen || !r->sb_ok || r->o->salvage)
		return r->chosen ? 0 : -ENOENT;
	/* last resort: the superblock's own trees, without their damage */
	if ((e = load_pairs(r, true)))
		return e;
	r->chosen = find_pair(r, r->sb.data_mapping_root,
			      r->sb.device_details_root);
	r->source = FROM_DAMAGED_SUPERBLOCK_TREES;
	return r->chosen ? 0 : -ENOENT;
}

/* ---- the superblock written out --------------------------------------- */

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static int rebuild_superblock(struct repair *r)
{
	const struct thin_repair_opts *o = r->o;
	const struct md_root_pair *p = r->chosen;
	struct dump_superblock *s = &r->out;
	memset(s, 0, sizeof(*s));
	s->version = THIN_VERSION;
	s->time = p->time;
	s->transaction = p->details.max_transaction + 1;
	s->nr_data_blocks = p->top.data_end;
	/* salvage may take mappings from any of the older trees */
	for (size_t i = 0; o->salvage && i < r->nr_pairs; i++)
		s->nr_data_blocks = max_u64(s->nr_data_blocks, r->pairs[i].top.data_end);
	if (r->sb_ok) {
		for (int i = 0; i < 16 && r->sb.uuid[i]; i++) {
			char ch = (char)r->sb.uuid[i];
			s->uuid[i] = ch >= 0x20 && ch < 0x7f ? ch : '?';
		}
		s->time = r->sb.time > s->time ? r->sb.time : s->time;
		s->transaction = max_u64(s->transaction, r->sb.trans_id);
		s->nr_data_blocks = max_u64(s->nr_data_blocks, r->sb.data_sm.nr_blocks);
		s->data_block_size = r->sb.data_block_size;
	}
	if (r->source == FROM_SUPERBLOCK || r->source == FROM_DAMAGED_SUPERBLOCK_TREES)
		s->transaction = r->sb.trans_id;
	if (o->sb.override_transaction)
		s->transaction = max_u64(s->transaction, o->sb.transaction);
	if (o->sb.override_nr_data_blocks)
		s->nr_data_blocks = max_u64(s->nr_data_blocks, o->sb.nr_data_blocks);
	if (o->sb.override_data_block_size)
		s->data_block_size = (uint32_t)o->sb.data_block_size;
	if (!o->sb.override_data_block_size && !r->sb_ok) {
		report(r->rep, REPORT_FATAL,
		       "the superblock is unusable: give the data block size (--data-block-size)");
		return -EINVAL;
	}
	if (o->sb.data_block_size > THIN_MAX_DATA_BLOCK_SIZE ||
	    s->data_block_size < THIN_MIN_DATA_BLOCK_SIZE ||
	    s->data_block_size % THIN_MIN_DATA_BLOCK_SIZE) {
		report(r->rep, REPORT_FATAL,
		       "invalid data block size %llu: a multiple of 128 between 128 and 2097152 is needed",
		       (unsigned long long)(o->sb.override_data_block_size
						    ? o->sb.data_block_size
						    : s->data_block_size));
		return -EINVAL;
	}
	return 0;
}

/* ---- streaming --------------------------------------------------------- */

static void report_choice(struct repair *r)
{
	if (!r->scan) {
		report(r->rep, REPORT_INFO,
		       "repair: mapping root %llu, details root %llu (the superblock's; its trees are complete)",
		       (unsigned long long)r->chosen->top.root,
		       (unsigned long long)r->chosen->details.root);
		return;
	}
	static const char *const why[] = {
		[FROM_SUPERBLOCK] = "the superblock's",
		[FROM_SCAN] = "found by scanning",
		[FROM_DAMAGED_SUPERBLOCK_TREES] =
			"the superblock's, damaged: damaged subtrees are left out",
	};
	report(r->rep, REPORT_INFO,
	       "repair: mapping root %llu, details root %llu (%s; %llu intact nodes in %llu blocks, %zu candidate pairs)",
	       (unsigned long long)r->chosen->top.root,
	       (unsigned long long)r->chosen->details.root, why[r->source],
	       (unsigned long long)md_scan_nr_nodes(r->scan),
	       (unsigned long long)md_scan_nr_blocks(r->scan), r->nr_pairs);
}

static void on_lost(void *ctx, const char *where, uint64_t lo, uint64_t hi)
{
	struct repair *r = ctx;
	r->ranges_lost++;
	if (lo > hi)
		report(r->rep, REPORT_INFO, "repair: %s: left out", where);
	else if (hi == UINT64_MAX)
		report(r->rep, REPORT_INFO, "repair: %s: virtual blocks from %llu on lost",
		       where, (unsigned long long)lo);
	else
		report(r->rep, REPORT_INFO, "repair: %s: virtual blocks %llu..%llu lost",
		       where, (unsigned long long)lo, (unsigned long long)hi);
}

static int stream(struct repair *r, const struct dump_emitter *e)
{
	if (r->o->salvage)
		return thin_salvage_dump(r->in, r->scan, r->chosen, r->pairs,
					 r->nr_pairs, &r->out, e, r->rep);
	struct thin_dump_opts d;
	dump_opts(r, &d, r->chosen->top.root, r->chosen->details.root, &r->out);
	d.repair = r->source == FROM_DAMAGED_SUPERBLOCK_TREES;
	d.lost = on_lost;
	d.lost_ctx = r;
	int err = thin_dump(r->in, &d, e, r->rep);
	if (!err && r->ranges_lost)
		report(r->rep, REPORT_INFO, "repair: %llu ranges lost",
		       (unsigned long long)r->ranges_lost);
	return err;
}

static void read_superblock(struct repair *r)
{
	enum thin_sb_problem p = SBP_NONE;
	int e = thin_sb_read(r->in, 0, &r->sb, &p);
	r->sb_ok = !e && p == SBP_NONE;
	if (!r->sb_ok)
		report(r->rep, REPORT_INFO, "%s",
		       e ? "superblock cannot be read" : thin_sb_problem_str(p));
}

static void report_result(struct repair *r, const struct counter *c)
{
	report(r->rep, REPORT_INFO,
	       "repair: %llu devices, %llu mappings recovered; transaction %llu, time %u, data block size %u, %llu data blocks",
	       (unsigned long long)c->devices, (unsigned long long)c->mappings,
	       (unsigned long long)r->out.transaction, r->out.time,
	       r->out.data_block_size, (unsigned long long)r->out.nr_data_blocks);
}

static int run(struct repair *r, const struct dump_emitter *e)
{
	int err = 0;
	r->nr_blocks = r->in->nr_blocks < SM_METADATA_MAX_BLOCKS
			       ? r->in->nr_blocks : SM_METADATA_MAX_BLOCKS;
	read_superblock(r);
	if (superblock_fast_path(r, &e, &err))
		return err;
	err = choose(r);
	if (err == -ENOENT)
		report(r->rep, REPORT_FATAL, "no compatible roots found");
	if (err || (err = rebuild_superblock(r)))
		return err;
	report_choice(r);
	struct counter c = { .next = e };
	struct dump_emitter ce;
	counting_emitter(&ce, &c);
	err = stream(r, &ce);
	if (!err)
		report_result(r, &c);
	free(c.defs);
	return err;
}

int thin_repair_dump(struct bdev *in, const struct thin_repair_opts *o,
		     const struct dump_emitter *e, struct reporter *rep)
{
	struct repair r = { .in = in, .o = o, .rep = rep };
	int err = run(&r, e);
	free(r.pairs);
	md_scan_free(r.scan);
	return err;
}
