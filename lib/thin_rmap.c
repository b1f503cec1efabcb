// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thin_rmap: runs of data blocks and the thin blocks that map them.
 *
 * The mapping trees are keyed by thin block, so every leaf of every
 * device is read: leaves are collected through the walker's leaf-pointer
 * mode and read in batches, as thin_dump does.  Each leaf's mappings are
 * filtered by data block (the regions, merged into sorted disjoint
 * intervals) and merged into runs; only the runs are kept, 24 bytes
 * each, and sorted at the end.
 *
 * The run array grows up to max_runs.  When it is full, the runs whose
 * data begin is at or above their median are dropped and the walk goes
 * on keeping only runs that start below that cutoff; after the walk the
 * array holds exactly the runs starting in [window start, cutoff), which
 * are sorted and reported, and the next walk starts its window at the
 * cutoff.  Runs are built the same way in every walk (whatever the
 * window), so a run is reported whole by the walk whose window holds its
 * first block, and the concatenated output is the sorted whole.
 */
#include "thin_rmap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btree.h"
#include "endian_le.h"
#include "mapping_reader.h"
#include "thin_devices.h"
#include "thin_superblock.h"
#include "thin_types.h"

#define MIN_RUNS   4096u
/* Runs sorted at a time before merging: 1.5 MiB, cache-sized. */
#define SORT_CHUNK (1u << 16)

/* A run as held in memory: dev is an index into the device list. */
struct rrun {
	uint64_t data;
	uint64_t thin;
	uint32_t len;
	uint32_t dev;
};

struct rmapper {
	struct bdev *dev;
	struct reporter *rep;
	struct mapping_reader mr;

	/* the regions: sorted, disjoint, not adjacent */
	struct rmap_region *reg;
	size_t nreg;
	uint64_t hint_lo, hint_len; /* the region last matched */

	struct thin_dev_list devs;
	uint32_t cur_dev;
	struct rrun cur;	/* the run being built, if cur.len */

	struct rrun *runs;
	size_t n, cap, max, peak;
	uint64_t win_lo, cutoff; /* keep runs with win_lo <= data < cutoff */
};

/* ---- regions ---------------------------------------------------------- */

static bool parse_dec(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

enum rmap_region_error thin_rmap_parse_region(const char *s,
					      struct rmap_region *r)
{
	const char *dots = s ? strstr(s, "..") : NULL;
	struct rmap_region x;
	if (!dots || !parse_dec(s, (size_t)(dots - s), &x.begin) ||
	    !parse_dec(dots + 2, strlen(dots + 2), &x.end))
		return RMAP_REGION_BADLY_FORMED;
	if (x.end <= x.begin)
		return RMAP_REGION_END_LE_BEGIN;
	*r = x;
	return RMAP_REGION_OK;
}

static int cmp_region(const void *a, const void *b)
{
	const struct rmap_region *x = a, *y = b;
	return (x->begin > y->begin) - (x->begin < y->begin);
}

/* Copy, sort and merge the regions (overlapping or touching ones join). */
static int set_regions(struct rmapper *m, const struct thin_rmap_opts *o)
{
	if (!o->nr_regions)
		return -EINVAL;
	m->reg = malloc(o->nr_regions * sizeof(*m->reg));
	if (!m->reg)
		return -ENOMEM;
	memcpy(m->reg, o->regions, o->nr_regions * sizeof(*m->reg));
	qsort(m->reg, o->nr_regions, sizeof(*m->reg), cmp_region);
	size_t n = 0;
	for (size_t i = 0; i < o->nr_regions; i++) {
		const struct rmap_region *r = &m->reg[i];
		if (r->end <= r->begin)
			return -EINVAL;
		if (n && r->begin <= m->reg[n - 1].end) {
			if (r->end > m->reg[n - 1].end)
				m->reg[n - 1].end = r->end;
		} else {
			m->reg[n++] = *r;
		}
	}
	m->nreg = n;
	m->hint_lo = m->reg[0].begin;
	m->hint_len = m->reg[0].end - m->reg[0].begin;
	return 0;
}

static bool in_regions_slow(struct rmapper *m, uint64_t d)
{
	size_t lo = 0, hi = m->nreg;
	/* the last region that begins at or before d */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->reg[mid].begin <= d)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || d >= m->reg[lo - 1].end)
		return false;
	m->hint_lo = m->reg[lo - 1].begin;
	m->hint_len = m->reg[lo - 1].end - m->hint_lo;
	return true;
}

static inline bool in_regions(struct rmapper *m, uint64_t d)
{
	return d - m->hint_lo < m->hint_len ||
	       (m->nreg > 1 && in_regions_slow(m, d));
}

/* ---- the run array ---------------------------------------------------- */

static inline void swap_runs(struct rrun *a, struct rrun *b)
{
	struct rrun t = *a;
	*a = *b;
	*b = t;
}

/* Partition a[0..n) by data into < p, == p, > p; counts of the first two. */
static void partition3(struct rrun *a, size_t n, uint64_t p, size_t *lt,
		       size_t *eq)
{
	size_t i = 0, l = 0, g = n;
	while (i < g) {
		if (a[i].data < p)
			swap_runs(&a[l++], &a[i++]);
		else if (a[i].data > p)
			swap_runs(&a[i], &a[--g]);
		else
			i++;
	}
	*lt = l;
	*eq = g - l;
}

static uint64_t median3(uint64_t x, uint64_t y, uint64_t z)
{
	if (x > y) {
		uint64_t t = x;
		x = y;
		y = t;
	}
	return z <= x ? x : z >= y ? y : z;
}

/* The k-th smallest data begin of a[0..n) (k < n); reorders a. */
static uint64_t kth_data(struct rrun *a, size_t n, size_t k)
{
	size_t lo = 0, hi = n;
	for (;;) {
		uint64_t p = median3(a[lo].data, a[lo + (hi - lo) / 2].data,
				     a[hi - 1].data);
		size_t lt, eq;
		partition3(a + lo, hi - lo, p, &lt, &eq);
		if (k < lo + lt)
			hi = lo + lt;
		else if (k < lo + lt + eq)
			return p;
		else
			lo += lt + eq;
	}
}

static int grow(struct rmapper *m, size_t cap)
{
	struct rrun *v = realloc(m->runs, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->runs = v;
	m->cap = cap;
	return 0;
}

/*
 * The array is full: grow it up to max, else lower the cutoff to the
 * median data begin and drop the runs at or above it.  When more than
 * half the runs start at the same block, that block stays in (the cutoff
 * goes just above it); when all do, the array grows past max, since no
 * cutoff can split them.
 */
static int make_room(struct rmapper *m)
{
	size_t lt, eq;
	if (m->cap < m->max) {
		size_t cap = m->cap < MIN_RUNS ? MIN_RUNS : m->cap * 2;
		return grow(m, cap < m->max ? cap : m->max);
	}
	uint64_t p = kth_data(m->runs, m->n, m->n / 2);
	partition3(m->runs, m->n, p, &lt, &eq);
	if (lt) {
		m->n = lt;
		m->cutoff = p;
	} else if (eq < m->n) {
		m->n = eq;
		m->cutoff = p + 1;
	} else {
		return grow(m, m->cap + m->cap / 2 + 1);
	}
	return 0;
}

static int store(struct rmapper *m, const struct rrun *r)
{
	if (r->data < m->win_lo || r->data >= m->cutoff)
		return 0;
	if (m->n == m->cap) {
		int ret = make_room(m);
		if (ret)
			return ret;
		if (r->data >= m->cutoff)
			return 0;
	}
	m->runs[m->n++] = *r;
	if (m->n > m->peak)
		m->peak = m->n;
	return 0;
}

static inline bool run_less(const struct rrun *a, const struct rrun *b)
{
	if (a->data != b->data)
		return a->data < b->data;
	if (a->len != b->len)
		return a->len < b->len;
	if (a->dev != b->dev)
		return a->dev < b->dev;
	return a->thin < b->thin;
}

static void insertion_sort(struct rrun *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct rrun x = a[i];
		size_t j = i;
		while (j && run_less(&x, &a[j - 1])) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = x;
	}
}

static void sift_down(struct rrun *a, size_t root, size_t n)
{
	for (;;) {
		size_t c = 2 * root + 1;
		if (c >= n)
			return;
		if (c + 1 < n && run_less(&a[c], &a[c + 1]))
			c++;
		if (!run_less(&a[root], &a[c]))
			return;
		swap_runs(&a[root], &a[c]);
		root = c;
	}
}

static void heap_sort(struct rrun *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(a, i, n);
	for (size_t i = n; i-- > 1;) {
		swap_runs(&a[0], &a[i]);
		sift_down(a, 0, i);
	}
}

/* Introsort: quicksort (median of three), heapsort when too deep. */
static void sort_runs(struct rrun *a, size_t n, unsigned depth)
{
	while (n > 16) {
		if (!depth--) {
			heap_sort(a, n);
			return;
		}
		size_t mid = n / 2;
		if (run_less(&a[mid], &a[0]))
			swap_runs(&a[mid], &a[0]);
		if (run_less(&a[n - 1], &a[mid])) {
			swap_runs(&a[n - 1], &a[mid]);
			if (run_less(&a[mid], &a[0]))
				swap_runs(&a[mid], &a[0]);
		}
		struct rrun p = a[mid];
		size_t i = 0, j = n - 1;
		for (;;) {
			while (run_less(&a[i], &p))
				i++;
			while (run_less(&p, &a[j]))
				j--;
			if (i >= j)
				break;
			swap_runs(&a[i++], &a[j--]);
		}
		/* a[0..j] <= p <= a[j+1..n): recurse on the smaller side */
		size_t left = j + 1;
		if (left < n - left) {
			sort_runs(a, left, depth);
			a += left;
			n -= left;
		} else {
			sort_runs(a + left, n - left, depth);
			n = left;
		}
	}
	insertion_sort(a, n);
}

static unsigned sort_depth(size_t n)
{
	unsigned depth = 0;
	for (; n; n >>= 1)
		depth += 2;
	return depth;
}

/*
 * Sort by data begin with an in-place most-significant-digit radix sort
 * (American flag sort), eight bits at a time over the `bits` low bits
 * that still differ; small buckets and runs with equal data begins are
 * finished by comparison, which also orders the rest of the key.
 */
static void radix_sort(struct rrun *a, size_t n, unsigned bits)
{
	size_t count[256] = { 0 }, next[256], end[256];
	unsigned shift, width;

	if (n <= 32) {
		insertion_sort(a, n);
		return;
	}
	if (!bits) {
		sort_runs(a, n, sort_depth(n));
		return;
	}
	width = bits < 8 ? bits : 8;
	shift = bits - width;
	const uint64_t mask = (1u << width) - 1;
#define DIGIT(r) ((unsigned)(((r).data >> shift) & mask))
	for (size_t i = 0; i < n; i++)
		count[DIGIT(a[i])]++;
	for (size_t b = 0, sum = 0; b <= mask; b++) {
		next[b] = sum;
		sum += count[b];
		end[b] = sum;
	}
	for (unsigned b = 0; b <= mask; b++) {
		while (next[b] < end[b]) {
			struct rrun x = a[next[b]];
			unsigned d = DIGIT(x);
			while (d != b) {
				struct rrun t = a[next[d]];
				a[next[d]++] = x;
				x = t;
				d = DIGIT(x);
			}
			a[next[b]++] = x;
		}
	}
#undef DIGIT
	for (size_t b = 0, start = 0; b <= mask; b++) {
		if (count[b] > 1)
			radix_sort(a + start, count[b], shift);
		start += count[b];
	}
}

/* Sort by (data begin, length, device, thin begin). */
static void sort_all(struct rrun *a, size_t n)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	unsigned bits = 0;
	if (n < 2)
		return;
	for (size_t i = 0; i < n; i++) {
		if (a[i].data < lo)
			lo = a[i].data;
		if (a[i].data > hi)
			hi = a[i].data;
	}
	/* all data begins agree above the highest bit where lo and hi differ */
	for (uint64_t x = lo ^ hi; x; x >>= 1)
		bits++;
	radix_sort(a, n, bits);
}

static bool is_sorted(const struct rrun *a, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (run_less(&a[i], &a[i - 1]))
			return false;
	return true;
}

/* ---- mappings --------------------------------------------------------- */

static int on_damage(void *ctx, int err, const char *msg, uint64_t lo,
		     uint64_t hi)
{
	struct rmapper *m = ctx;
	(void)lo;
	(void)hi;
	report(m->rep, REPORT_FATAL, "%s", msg);
	return err;
}

static int end_run(struct rmapper *m)
{
	if (!m->cur.len)
		return 0;
	int r = store(m, &m->cur);
	m->cur.len = 0;
	return r;
}

static int scan_leaf(void *ctx, const struct btree_node *n)
{
	struct rmapper *m = ctx;
	const uint8_t *keys = n->raw + BTREE_HEADER_SIZE;
	const uint8_t *vals = keys + 8u * n->max_entries;
	struct rrun *c = &m->cur;

	for (unsigned i = 0; i < n->nr_entries; i++) {
		uint64_t data = block_time_block(le64_load(vals + 8u * i));
		if (!in_regions(m, data))
			continue;
		uint64_t thin = le64_load(keys + 8u * i);
		/*
		 * Thin keys strictly increase, so a mapping skipped above
		 * always ends the run.  A run longer than 2^32 - 1 blocks
		 * would need more mappings than any metadata device holds;
		 * should one turn up, it is split.
		 */
		if (c->len && data == c->data + c->len &&
		    thin == c->thin + c->len && c->len < UINT32_MAX) {
			c->len++;
			continue;
		}
		int r = end_run(m);
		if (r)
			return r;
		*c = (struct rrun){ data, thin, 1, m->cur_dev };
	}
	return 0;
}

static const struct mapping_reader_ops rmap_ops = {
	.leaf = scan_leaf,
	.damage = on_damage,
};

static int walk_devices(struct rmapper *m)
{
	for (size_t i = 0; i < m->devs.n; i++) {
		mapping_reader_describe(&m->mr, "mapping tree of device %llu",
					(unsigned long long)m->devs.v[i].id);
		m->cur_dev = (uint32_t)i;
		m->cur.len = 0;
		int r = mapping_reader_leaves(&m->mr, m->devs.v[i].root);
		if (!r)
			r = end_run(m);
		if (r)
			return r;
	}
	return 0;
}

static int emit(struct rmapper *m, const struct rrun *x, thin_rmap_fn fn,
		void *ctx)
{
	struct rmap_run run = { x->data, x->data + x->len,
				m->devs.v[x->dev].id, x->thin };
	return fn(ctx, &run);
}

/* Cursors of the chunks being merged, a binary heap on their heads. */
struct chunk {
	const struct rrun *p, *end;
};

static void heap_down(struct chunk *h, size_t n, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && run_less(h[c + 1].p, h[c].p))
			c++;
		if (!run_less(h[c].p, h[i].p))
			return;
		struct chunk t = h[i];
		h[i] = h[c];
		h[c] = t;
		i = c;
	}
}

/*
 * Sort the runs and report them.  Chunks small enough to stay in the
 * cache are sorted one by one, then merged through a heap: much faster
 * than one sort across the whole array, and still in place.
 */
static int report_runs(struct rmapper *m, thin_rmap_fn fn, void *ctx,
		       struct thin_rmap_stats *st)
{
	size_t nch = (m->n + SORT_CHUNK - 1) / SORT_CHUNK, k = 0;
	struct chunk *h = NULL;
	int r = 0;

	for (size_t i = 0; i < nch; i++) {
		struct rrun *a = m->runs + i * SORT_CHUNK;
		size_t n = i + 1 < nch ? SORT_CHUNK : m->n - i * SORT_CHUNK;
		if (!is_sorted(a, n))
			sort_all(a, n);
	}
	st->runs += m->n;
	if (nch <= 1) {
		for (size_t i = 0; !r && i < m->n; i++)
			r = emit(m, &m->runs[i], fn, ctx);
		return r;
	}
	h = malloc(nch * sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < nch; i++) {
		h[k].p = m->runs + i * SORT_CHUNK;
		h[k].end = i + 1 < nch ? h[k].p + SORT_CHUNK : m->runs + m->n;
		k++;
	}
	for (size_t i = k / 2; i-- > 0;)
		heap_down(h, k, i);
	while (k && !r) {
		r = emit(m, h[0].p, fn, ctx);
		if (++h[0].p == h[0].end)
			h[0] = h[--k];
		heap_down(h, k, 0);
	}
	free(h);
	return r;
}

static int read_superblock(struct rmapper *m, struct thin_superblock *sb)
{
	enum thin_sb_problem p;
	int r = thin_sb_read(m->dev, 0, sb, &p);
	if (r && r != -ENOMEM)
		report(m->rep, REPORT_FATAL, "superblock cannot be read");
	if (r || p == SBP_NONE)
		return r;
	report(m->rep, REPORT_FATAL, "%s", thin_sb_problem_str(p));
	return -EILSEQ;
}

static int run(struct rmapper *m, thin_rmap_fn fn, void *ctx,
	       struct thin_rmap_stats *st)
{
	struct thin_superblock sb;
	int r = read_superblock(m, &sb);
	if (r)
		return r;
	uint64_t md_nr = sb.metadata_sm.nr_blocks < m->dev->nr_blocks
				 ? sb.metadata_sm.nr_blocks : m->dev->nr_blocks;
	if ((r = mapping_reader_init(&m->mr, m->dev, md_nr, &rmap_ops, m)))
		return r;
	mapping_reader_describe(&m->mr, "top-level mapping tree");
	if ((r = mapping_reader_list(&m->mr, sb.data_mapping_root, false, &m->devs)))
		return r;
	if (m->devs.n > UINT32_MAX) {
		report(m->rep, REPORT_FATAL, "too many thin devices");
		return -E2BIG;
	}
	st->devices = m->devs.n;

	m->win_lo = m->reg[0].begin;
	for (;;) {
		m->cutoff = UINT64_MAX;
		m->n = 0;
		st->passes++;
		if ((r = walk_devices(m)) || (r = report_runs(m, fn, ctx, st)))
			return r;
		if (m->cutoff == UINT64_MAX)
			return 0;
		m->win_lo = m->cutoff;
	}
}

int thin_rmap(struct bdev *dev, const struct thin_rmap_opts *opts,
	      thin_rmap_fn fn, void *ctx, struct reporter *rep,
	      struct thin_rmap_stats *stats)
{
	struct rmapper m = { .dev = dev, .rep = rep };
	struct thin_rmap_stats st = { 0 };
	int r;

	m.max = opts->max_runs ? opts->max_runs : THIN_RMAP_DEFAULT_MAX_RUNS;
	r = set_regions(&m, opts);
	if (r)
		goto out;
	r = run(&m, fn, ctx, &st);
	mapping_reader_release(&m.mr);
out:
	st.peak_runs = m.peak;
	if (stats)
		*stats = st;
	free(m.reg);
	free(m.runs);
	thin_dev_list_release(&m.devs);
	return r;
}
