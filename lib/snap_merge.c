// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Offline snapshot merge (FORMATS.md B.10-B.12).
 */
#include "snap_merge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap_kernel_view.h"
#include "snap_writer.h"
#include "u64_set.h"

struct store_ctx {
	struct snap_merge_dev *dev;
	struct snap_store s;
	struct snap_writer w;
	bool opened, have_writer, ignored;
	struct u64_set have;		/* others: origin chunks with an exception */
	struct copy_end data;
	struct snap_exception *pending;	/* copied, not yet appended */
	size_t nr_pending, cap_pending;
	uint64_t need;			/* planned new exceptions */
};

struct run {
	uint64_t old_begin, new_begin, len;
};

struct merge {
	const struct snap_merge_opts *o;
	struct snap_merge_stats *st;
	struct reporter *rep;
	struct snap_merge_dev *origin;
	struct copy_end origin_end;
	uint64_t origin_sectors;
	struct store_ctx cow;
	struct store_ctx *others;
	unsigned nr_others;
	struct copier cp;
	struct run *batch;
	unsigned batch_cap;
	bool serial;			/* duplicate origin chunks: one run at a time */
	uint64_t total, done;
};

/* ---- refusals and findings ------------------------------------------ */

struct named_reporter {
	struct reporter r;
	struct reporter *up;
	const char *name;
};

/* Findings about one store, prefixed with its name; the errors the kernel
 * copes with (a repeated origin chunk) are only warnings here. */
static void named_emit(void *ctx, enum report_level level, const char *msg)
{
	struct named_reporter *n = ctx;
	report(n->up, level == REPORT_NONFATAL ? REPORT_WARNING : level, "%s: %s",
	       n->name, msg);
}

static int refuse(struct merge *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(struct merge *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(m->rep, REPORT_FATAL, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- opening the stores --------------------------------------------- */

static int check_block_size(struct merge *m, struct store_ctx *c)
{
	const struct snap_merge_dev *devs[2] = { m->origin, c->dev };
	for (int i = 0; i < 2; i++)
		if (c->s.chunk_bytes % devs[i]->logical_block)
			return refuse(m,
				      "%s: chunk size %u sectors is not a multiple of the logical block size of %s (%u bytes)",
				      c->dev->name, c->s.chunk_size, devs[i]->name,
				      devs[i]->logical_block);
	return 0;
}

static int check_store(struct merge *m, struct store_ctx *c, bool merging)
{
	struct named_reporter n = { { .emit = named_emit }, m->rep, c->dev->name };
	struct snap_check_opts none = { 0 };
	n.r.ctx = &n;
	if (c->s.state == SNAP_UNFORMATTED)
		return merging ? refuse(m, "%s is not formatted (magic 0): it holds no snapshot to merge",
					c->dev->name)
			       : refuse(m, "%s is not formatted (magic 0): the kernel formats it with the chunk size of its table when the snapshot is first activated; activate it once, then merge",
					c->dev->name);
	if (c->s.state == SNAP_FORMATTED && !c->s.valid && !merging) {
		report(m->rep, REPORT_INFO,
		       "%s: the snapshot was invalidated; ignored, as the kernel does",
		       c->dev->name);
		c->ignored = true;
		return 0;
	}
	int r = snap_store_check(&c->s, &none, &n.r);
	if (r)
		return r;
	if (n.r.counts[REPORT_FATAL])
		return refuse(m, "%s: refusing to merge: the store is not usable (see above)",
			      c->dev->name);
	return check_block_size(m, c);
}

static int open_store(struct merge *m, struct store_ctx *c, bool merging)
{
	int r = snap_store_open(&c->s, c->dev->meta);
	if (r == -ERANGE)
		return refuse(m, "%s is too small for a snapshot store header", c->dev->name);
	if (r)
		return r;
	c->opened = true;
	c->data.direct = c->dev->data;
	c->data.buffered = c->dev->meta;
	if ((r = check_store(m, c, merging)) || c->ignored)
		return r;
	if ((r = snap_writer_init(&c->w, &c->s)))
		return r;
	c->have_writer = true;
	if (merging)
		return 0;
	if ((r = u64_set_init(&c->have, c->s.nr_ex)))
		return r;
	for (uint64_t i = 0; i < c->s.nr_ex; i++)
		if ((r = u64_set_add(&c->have, c->s.ex[i].old_chunk)) < 0)
			return r;
	return 0;
}

static void close_store(struct store_ctx *c)
{
	if (c->have_writer)
		snap_writer_release(&c->w);
	if (c->opened)
		snap_store_release(&c->s);
	u64_set_release(&c->have);
	free(c->pending);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/*
 * Repeated origin chunks: the merge copies from the last exception to the
 * first, so the earliest exception of a chunk is the one left in the
 * origin, as after the kernel's merge.  Where the snapshot reads a later
 * one (snap_kernel_view.h), no merge gives what the snapshot read: refuse.
 */
static int check_repeats(struct merge *m)
{
	const struct snap_store *s = &m->cow.s;
	uint64_t *reads = malloc(s->nr_ex * sizeof(*reads));
	struct u64_set seen = { 0 };
	int r = reads ? u64_set_init(&seen, s->nr_ex) : -ENOMEM;
	if (!r)
		r = snap_kernel_view(s->ex, s->nr_ex, reads);
	for (uint64_t k = 0; !r && k < s->nr_ex; k++) {
		const struct snap_exception *e = &s->ex[k], *w = &s->ex[reads[k]];
		int first = u64_set_add(&seen, e->old_chunk);
		if (first < 0)
			r = first;
		else if (first && w->new_chunk != e->new_chunk)
			r = refuse(m,
				   "%s: the snapshot reads origin chunk %llu from area %llu, entry %llu, but a merge (ours or the kernel's) would leave the data of the earlier area %llu, entry %llu for that chunk; repair the store with snap_repair -o first and merge the repaired copy",
				   m->cow.dev->name, (unsigned long long)e->old_chunk,
				   (unsigned long long)(reads[k] / s->per_area),
				   (unsigned long long)(reads[k] % s->per_area),
				   (unsigned long long)(k / s->per_area),
				   (unsigned long long)(k % s->per_area));
	}
	if (r == -E2BIG)
		r = refuse(m, "%s: so many exceptions repeat the same origin chunks that which of them the snapshot reads cannot be worked out in reasonable time; repair the store with snap_repair -o first",
			   m->cow.dev->name);
	u64_set_release(&seen);
	free(reads);
	return r;
}

/* The origin must hold every chunk; note repeated origin chunks. */
static int check_origin(struct merge *m)
{
	const struct snap_store *s = &m->cow.s;
	uint64_t *v = malloc((s->nr_ex + 1) * sizeof(*v)), max = 0;
	if (!v)
		return -ENOMEM;
	for (uint64_t i = 0; i < s->nr_ex; i++)
		v[i] = s->ex[i].old_chunk;
	qsort(v, s->nr_ex, sizeof(*v), cmp_u64);
	for (uint64_t i = 1; i < s->nr_ex; i++)
		if (v[i] == v[i - 1])
			m->serial = true;
	if (s->nr_ex)
		max = v[s->nr_ex - 1];
	free(v);
	if (m->serial) {
		int r = check_repeats(m);
		if (r)
			return r;
	}
	if (s->nr_ex && max >= m->origin_sectors / s->chunk_size +
				       (m->origin_sectors % s->chunk_size != 0))
		return refuse(m,
			      "%s is shorter than the exceptions need: it has %llu sectors, origin chunk %llu of %s starts at sector %llu",
			      m->origin->name, (unsigned long long)m->origin_sectors,
			      (unsigned long long)max, m->cow.dev->name,
			      (unsigned long long)(max * s->chunk_size));
	return 0;
}

/* ---- the other stores' chunks under a run ---------------------------- */

/* Origin sectors [begin, end) of a run, clipped to the origin. */
static void run_sectors(const struct merge *m, const struct run *x,
			uint64_t *begin, uint64_t *end)
{
	uint64_t cs = m->cow.s.chunk_size;
	*begin = x->old_begin * cs;
	*end = (x->old_begin + x->len) * cs;
	if (*end > m->origin_sectors)
		*end = m->origin_sectors;
}

/* Bytes of other-store chunk c that lie inside the origin. */
static uint64_t other_chunk_bytes(const struct merge *m, const struct store_ctx *c,
				  uint64_t chunk)
{
	uint64_t cs = c->s.chunk_size, end = (chunk + 1) * cs;
	if (end > m->origin_sectors)
		end = m->origin_sectors;
	return (end - chunk * cs) * SNAP_SECTOR;
}

typedef int (*lacking_fn)(struct merge *m, unsigned i, uint64_t chunk, void *arg);

/*
 * Call fn for every chunk of every other (valid) store that overlaps run
 * x and has no exception there: stores in order, chunks upwards (B.11).
 */
static int each_lacking_chunk(struct merge *m, const struct run *x, lacking_fn fn,
			      void *arg)
{
	uint64_t begin, end;
	run_sectors(m, x, &begin, &end);
	for (unsigned i = 0; i < m->nr_others; i++) {
		struct store_ctx *c = &m->others[i];
		uint64_t cs = c->s.chunk_size;
		for (uint64_t k = begin / cs; !c->ignored && k * cs < end; k++) {
			int r = u64_set_has(&c->have, k) ? 0 : fn(m, i, k, arg);
			if (r)
				return r;
		}
	}
	return 0;
}

/* Planning: count each chunk once (planned[i] is store i's set). */
static int plan_chunk(struct merge *m, unsigned i, uint64_t k, void *arg)
{
	struct u64_set *planned = arg;
	struct store_ctx *c = &m->others[i];
	int r = u64_set_add(&planned[i], k);
	if (r > 0) {
		c->need++;
		m->st->other[i].exceptions++;
		m->st->other[i].bytes += other_chunk_bytes(m, c, k);
	}
	return r < 0 ? r : 0;
}

static int add_pending(struct store_ctx *c, uint64_t old_chunk, uint64_t new_chunk)
{
	if (c->nr_pending == c->cap_pending) {
		size_t n = c->cap_pending ? c->cap_pending * 2 : 1024;
		struct snap_exception *p = realloc(c->pending, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		c->pending = p;
		c->cap_pending = n;
	}
	c->pending[c->nr_pending++] = (struct snap_exception){ old_chunk, new_chunk };
	return 0;
}

/* Executing: allocate, queue the copy of the origin's chunk, and keep
 * the exception to append once the data is durable. */
static int preserve_chunk(struct merge *m, unsigned i, uint64_t k, void *arg)
{
	struct store_ctx *c = &m->others[i];
	uint64_t chunk;
	int r = u64_set_add(&c->have, k);
	(void)arg;
	if (r < 0 || (r = snap_writer_alloc(&c->w, &chunk)))
		return r; /* planned, so no -ENOSPC */
	r = copier_add(&m->cp, &m->origin_end, k * c->s.chunk_bytes, &c->data,
		       chunk * c->s.chunk_bytes, other_chunk_bytes(m, c, k));
	return r ? r : add_pending(c, k, chunk);
}

/* ---- runs ----------------------------------------------------------- */

/* The runs of the merging store in the kernel's order (B.10), from the
 * exceptions in memory: areas from the last, entries from the end. */
static int each_planned_run(struct merge *m, struct u64_set *planned)
{
	const struct snap_store *s = &m->cow.s;
	for (uint64_t a = s->nr_ex / s->per_area + 1; a-- > 0;) {
		uint64_t first = a * s->per_area, k = first + s->per_area;
		if (k > s->nr_ex)
			k = s->nr_ex;
		while (k > first) {
			const struct snap_exception *l = &s->ex[k - 1];
			uint64_t n = 1;
			while (n < k - first && s->ex[k - 1 - n].old_chunk == l->old_chunk - n &&
			       s->ex[k - 1 - n].new_chunk == l->new_chunk - n)
				n++;
			struct run x = { l->old_chunk - n + 1, l->new_chunk - n + 1, n };
			uint64_t b, e;
			run_sectors(m, &x, &b, &e);
			m->st->runs++;
			m->st->chunks += n;
			m->st->bytes += (e - b) * SNAP_SECTOR;
			int r = each_lacking_chunk(m, &x, plan_chunk, planned);
			if (r)
				return r;
			k -= n;
		}
	}
	return 0;
}

static int plan(struct merge *m)
{
	struct u64_set planned[SNAP_MERGE_MAX_OTHERS];
	unsigned made = 0;
	int r = 0;
	for (; made < m->nr_others && !r; made++)
		r = u64_set_init(&planned[made], 64);
	if (!r)
		r = each_planned_run(m, planned);
	for (unsigned i = 0; i < made; i++)
		u64_set_release(&planned[i]);
	m->total = m->st->bytes;
	for (unsigned i = 0; i < m->nr_others && !r; i++) {
		struct store_ctx *c = &m->others[i];
		m->total += m->st->other[i].bytes;
		if (c->ignored || !c->need)
			continue;
		uint64_t room = snap_writer_capacity(&c->w);
		if (room < c->need)
			return refuse(m,
				      "%s would overflow: the merge needs %llu new exceptions there, the store has room for %llu; nothing was written",
				      c->dev->name, (unsigned long long)c->need,
				      (unsigned long long)room);
	}
	return r;
}

/* ---- one batch ------------------------------------------------------ */

static void progress(struct merge *m, uint64_t bytes)
{
	m->done += bytes;
	if (m->o->progress)
		m->o->progress(m->o->progress_ctx, m->done, m->total);
}

/* Other stores: data, then their areas (B.12 step 2.2). */
static int commit_others(struct merge *m, unsigned nr_runs)
{
	int r = 0;
	uint64_t before = m->cp.bytes_done;
	for (unsigned k = 0; k < nr_runs && !r; k++)
		r = each_lacking_chunk(m, &m->batch[k], preserve_chunk, NULL);
	if (!r)
		r = copier_run(&m->cp);
	for (unsigned i = 0; i < m->nr_others && !r; i++) {
		struct store_ctx *c = &m->others[i];
		for (size_t p = 0; p < c->nr_pending && !r; p++)
			r = snap_writer_append(&c->w, c->pending[p].old_chunk,
					       c->pending[p].new_chunk);
		c->nr_pending = 0;
		if (!r)
			r = snap_writer_commit(&c->w);
	}
	progress(m, m->cp.bytes_done - before);
	return r;
}

/* The runs to the origin, synced; then the areas with their entries
 * cleared are written. */
static int merge_runs(struct merge *m, unsigned nr_runs)
{
	uint64_t cb = m->cow.s.chunk_bytes, before = m->cp.bytes_done;
	uint64_t origin_bytes = m->origin_sectors * SNAP_SECTOR;
	int r = 0;
	for (unsigned k = 0; k < nr_runs && !r; k++) {
		const struct run *x = &m->batch[k];
		uint64_t len = x->len * cb;
		if (x->old_begin * cb + len > origin_bytes)
			len = origin_bytes - x->old_begin * cb;
		r = copier_add(&m->cp, &m->cow.data, x->new_begin * cb, &m->origin_end,
			       x->old_begin * cb, len);
	}
	if (!r)
		r = copier_run(&m->cp);
	if (!r)
		r = bdev_sync(m->origin->meta);
	progress(m, m->cp.bytes_done - before);
	return r ? r : snap_writer_commit(&m->cow.w);
}

/*
 * Batches of runs, up to batch_bytes, possibly over several areas: the
 * entries are cleared in memory as the runs are taken and written only
 * after the runs reached the origin.
 */
static int run_batches(struct merge *m)
{
	struct snap_writer *w = &m->cow.w;
	struct snap_exception last;
	uint64_t len, bytes = 0;
	unsigned nr = 0;
	int r;
	for (;;) {
		r = snap_writer_last_run(w, &last, &len);
		if (!r && len) {
			m->batch[nr++] = (struct run){ last.old_chunk - len + 1,
						       last.new_chunk - len + 1, len };
			snap_writer_clear_tail(w, len);
			bytes += len * m->cow.s.chunk_bytes;
		}
		if (r || (!len && !nr))
			break;
		if (len && bytes < m->o->batch_bytes && nr < m->batch_cap && !m->serial)
			continue;
		m->st->batches++;
		if ((r = commit_others(m, nr)) || (r = merge_runs(m, nr)))
			break;
		nr = 0;
		bytes = 0;
		if (!len)
			break;
	}
	return r;
}

/* ---- entry point ---------------------------------------------------- */

static int prepare(struct merge *m)
{
	int r = open_store(m, &m->cow, true);
	for (unsigned i = 0; i < m->nr_others && !r; i++)
		r = open_store(m, &m->others[i], false);
	if (!r)
		r = check_origin(m);
	if (!r)
		r = plan(m);
	return r;
}

static void note_buffered(struct merge *m, const char *name, const struct copy_end *e)
{
	if (e->direct_refused)
		report(m->rep, REPORT_INFO,
		       "%s: O_DIRECT I/O refused by the file system: buffered I/O and fdatasync used",
		       name);
}

int snap_merge(struct snap_merge_dev *origin, struct snap_merge_dev *cow,
	       struct snap_merge_dev *others, unsigned nr_others,
	       const struct snap_merge_opts *o, struct snap_merge_stats *st)
{
	struct merge m = { .o = o, .st = st, .rep = o->rep, .origin = origin,
			   .nr_others = nr_others };
	struct store_ctx ctx[SNAP_MERGE_MAX_OTHERS];
	int r;
	if (nr_others > SNAP_MERGE_MAX_OTHERS)
		return -E2BIG;
	memset(st, 0, sizeof(*st));
	memset(ctx, 0, sizeof(ctx));
	m.cow.dev = cow;
	for (unsigned i = 0; i < nr_others; i++)
		ctx[i].dev = &others[i];
	m.others = ctx;
	m.origin_end = (struct copy_end){ origin->data, origin->meta, false };
	m.origin_sectors = origin->meta->size / SNAP_SECTOR;
	r = prepare(&m);
	for (unsigned i = 0; i < nr_others; i++)
		st->other[i].ignored = ctx[i].ignored;
	if (!r && !o->dry_run && m.cow.s.nr_ex) {
		m.batch_cap = 65536;
		m.batch = malloc(m.batch_cap * sizeof(*m.batch));
		r = m.batch ? copier_init(&m.cp, o->threads, o->max_io, o->verify) : -ENOMEM;
		if (!r) {
			progress(&m, 0);
			r = run_batches(&m);
			if (r == -EILSEQ)
				report(m.rep, REPORT_FATAL,
				       "--verify: the data read back at byte %llu differs from what was written",
				       (unsigned long long)m.cp.err_off);
			copier_release(&m.cp);
		}
		free(m.batch);
	}
	note_buffered(&m, origin->name, &m.origin_end);
	note_buffered(&m, cow->name, &m.cow.data);
	for (unsigned i = 0; i < nr_others; i++)
		note_buffered(&m, others[i].name, &ctx[i].data);
	close_store(&m.cow);
	for (unsigned i = 0; i < nr_others; i++)
		close_store(&ctx[i]);
	return r;
}
