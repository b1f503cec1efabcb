// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * gen_xml - deterministic generator of large thin_dump-style XML.
 *
 * Part of thinsnap's benchmark kit (bench/).  Writes thin-pool metadata in
 * the XML format of Debian's thin_dump 0.9.0 (every device's mappings in
 * full, no <def>/<ref>), suitable for `thin_restore -i FILE -o META`.
 *
 * Model:
 *  - `--devices` origin thin devices (dev_id 1..D) created at time 0, with
 *    sizes varying by up to +-50%.  Each origin is a sequence of runs
 *    (geometric length, mean `--mean-run`) separated by holes (half of the
 *    runs follow their predecessor directly in virtual space).
 *  - Data blocks for the origins are allocated sequentially from block 0
 *    in a simulated write order: each device's runs are cut into batches,
 *    the batches are shuffled, and 4 concurrent "writers" take runs from
 *    their current batch in random interleaving.  The pool time advances
 *    over the write order from 0 to BASE_EPOCHS.
 *  - `--snapshots` snapshot devices (dev_id D+1..D+S); snapshot k is taken
 *    of origin k % D at time BASE_EPOCHS+1+k, copies all of the origin's
 *    mappings and then has about `--snap-divergence` percent of them
 *    remapped (in write-sized segments) to fresh data blocks with a time in
 *    [its creation time, superblock time].
 *  - Adjacent mappings that could form one run (consecutive virtual and
 *    data blocks, same time) are always coalesced, exactly like thin_dump,
 *    so `thin_restore` + `thin_dump` reproduces the output byte for byte.
 *
 * Everything is integer arithmetic driven by one seeded xoshiro256**, so
 * the output depends only on the options.
 *
 * Build: cc -O2 -o bench/work/gen_xml bench/gen_xml.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE_EPOCHS 2u          /* pool time before the first snapshot */
#define NR_WRITERS 4u           /* concurrent writers in the write order */
#define MEAN_BATCH_RUNS 16u     /* mean runs per write batch */
#define OUTBUF_SIZE (16u << 20)

/* ------------------------------------------------------------------ */
/* random numbers: splitmix64 seeding, xoshiro256**                   */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* uniform in [0, n), n > 0 (multiply-shift for n < 2^32, bias negligible) */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
	uint64_t x = rng_next(r);

	if (n <= 0xffffffffull)
		return ((x >> 32) * n) >> 32;
	return x % n;
}

/*
 * Geometric distribution on {1, 2, ...} with the given mean (>= 1):
 * continue with probability 1 - 1/mean.  The continue threshold is
 * precomputed by geom_threshold().
 */
static uint64_t geom_threshold(uint64_t mean)
{
	if (mean <= 1)
		return 0;
	return UINT64_MAX - UINT64_MAX / mean;
}

static inline uint64_t rng_geom(struct rng *r, uint64_t thr)
{
	uint64_t n = 1;

	while (rng_next(r) < thr)
		n++;
	return n;
}

/* the same, but stops counting at max (>= 1) */
static inline uint64_t rng_geom_max(struct rng *r, uint64_t thr, uint64_t max)
{
	uint64_t n = 1;

	while (n < max && rng_next(r) < thr)
		n++;
	return n;
}

/* ------------------------------------------------------------------ */
/* output                                                              */

static char *outbuf;
static size_t outlen;
static FILE *outfp;
static const char *outname = "<stdout>";
static uint64_t outbytes;

static void die(const char *msg)
{
	fprintf(stderr, "gen_xml: %s\n", msg);
	exit(1);
}

static void out_flush(void)
{
	if (outlen && fwrite(outbuf, 1, outlen, outfp) != outlen) {
		fprintf(stderr, "gen_xml: write to %s failed: %s\n", outname,
			strerror(errno));
		exit(1);
	}
	outbytes += outlen;
	outlen = 0;
}

static inline void out_reserve(size_t n)
{
	if (outlen + n > OUTBUF_SIZE)
		out_flush();
}

static inline void out_str(const char *s, size_t n)
{
	memcpy(outbuf + outlen, s, n);
	outlen += n;
}

#define OUT_LIT(s) out_str(s, sizeof(s) - 1)

static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233"
	"34353637383940414243444546474849505152535455565758596061626364656667"
	"68697071727374757677787980818283848586878889909192939495969798"
	"99";

static inline void out_u64(uint64_t v)
{
	char tmp[24];
	char *p = tmp + sizeof(tmp);

	while (v >= 100) {
		unsigned i = (unsigned)(v % 100) * 2;

		v /= 100;
		p -= 2;
		p[0] = digit_pairs[i];
		p[1] = digit_pairs[i + 1];
	}
	if (v >= 10) {
		unsigned i = (unsigned)v * 2;

		p -= 2;
		p[0] = digit_pairs[i];
		p[1] = digit_pairs[i + 1];
	} else {
		*--p = (char)('0' + v);
	}
	out_str(p, (size_t)(tmp + sizeof(tmp) - p));
}

/* ------------------------------------------------------------------ */
/* run coalescing emitter (same rule as thin_dump)                     */

struct emitter {
	uint64_t origin, data, len;
	uint32_t time;
	uint64_t nr_lines, nr_blocks;
};

static void emit_flush(struct emitter *e)
{
	if (!e->len)
		return;
	out_reserve(160);
	if (e->len == 1) {
		OUT_LIT("    <single_mapping origin_block=\"");
		out_u64(e->origin);
		OUT_LIT("\" data_block=\"");
		out_u64(e->data);
	} else {
		OUT_LIT("    <range_mapping origin_begin=\"");
		out_u64(e->origin);
		OUT_LIT("\" data_begin=\"");
		out_u64(e->data);
		OUT_LIT("\" length=\"");
		out_u64(e->len);
	}
	OUT_LIT("\" time=\"");
	out_u64(e->time);
	OUT_LIT("\"/>\n");
	e->nr_lines++;
	e->nr_blocks += e->len;
	e->len = 0;
}

static inline void emit(struct emitter *e, uint64_t origin, uint64_t data,
			uint64_t len, uint32_t time)
{
	if (e->len && origin == e->origin + e->len &&
	    data == e->data + e->len && time == e->time) {
		e->len += len;
		return;
	}
	emit_flush(e);
	e->origin = origin;
	e->data = data;
	e->len = len;
	e->time = time;
}

/* ------------------------------------------------------------------ */
/* model                                                               */

struct origin_dev {
	uint64_t nr_mappings;
	uint64_t first_run, nr_runs;
	uint32_t nr_snaps;
	uint32_t snap_time;
};

struct snap_dev {
	uint32_t origin;        /* index into origins */
	uint32_t time;          /* creation_time == snap_time */
	uint64_t fresh_base;    /* first fresh data block */
	uint64_t nr_fresh;
};

struct batch {
	uint64_t next, end;     /* run index range still to allocate */
};

static uint64_t *run_origin, *run_data;
static uint32_t *run_len, *run_time;
static uint64_t nr_runs, runs_cap;

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static void run_push(uint64_t origin, uint32_t len)
{
	if (nr_runs == runs_cap) {
		runs_cap = runs_cap ? runs_cap * 2 : 1u << 16;
		run_origin = xrealloc(run_origin, runs_cap * sizeof(*run_origin));
		run_data = xrealloc(run_data, runs_cap * sizeof(*run_data));
		run_len = xrealloc(run_len, runs_cap * sizeof(*run_len));
		run_time = xrealloc(run_time, runs_cap * sizeof(*run_time));
	}
	run_origin[nr_runs] = origin;
	run_len[nr_runs] = len;
	nr_runs++;
}

struct params {
	uint64_t seed;
	uint64_t devices;
	uint64_t mappings;
	uint64_t mean_run;
	uint64_t snapshots;
	uint64_t divergence_ppm;
	uint64_t data_block_size;
	uint64_t nr_data_blocks;   /* 0 = automatic */
	int stats;
};

/*
 * Start the next segment of a snapshot's divergence process.  Diverged
 * and kept segments alternate (only diverged ones at 100%); each diverged
 * segment is one write with a time in [snapshot time, superblock time].
 */
static void next_segment(struct rng *r, int *diverged, uint64_t *seg_left,
			 uint32_t *seg_time, uint64_t ppm, uint64_t thr_div,
			 uint64_t thr_keep, uint32_t snap_time, uint32_t sb_time,
			 int first, uint64_t max)
{
	if (!first)
		*diverged = ppm >= 1000000 ? 1 : !*diverged;
	*seg_left = rng_geom_max(r, *diverged ? thr_div : thr_keep,
				 max ? max : 1);
	if (*diverged)
		*seg_time = snap_time +
			(uint32_t)rng_below(r, sb_time - snap_time + 1);
}

/*
 * Walk snapshot sn of its origin: divergence process over the origin's
 * mapped blocks (kept / diverged segments, lengths geometric).  With e ==
 * NULL only counts the diverged blocks.
 */
static uint64_t walk_snapshot(const struct params *p, const struct origin_dev *o,
			      struct snap_dev *sn, uint64_t snap_idx,
			      uint32_t sb_time, struct emitter *e)
{
	struct rng r;
	uint64_t ppm = p->divergence_ppm;
	uint64_t mean_div = p->mean_run, mean_keep;
	uint64_t thr_div, thr_keep;
	uint64_t fresh = sn->fresh_base, nr_fresh = 0;
	uint64_t seg_left;
	int diverged;
	uint32_t seg_time = sn->time;
	uint64_t todo = o->nr_mappings;   /* blocks not walked yet */
	uint64_t i;

	rng_seed(&r, p->seed, 0x5350000000000000ull + snap_idx);
	/* mean_keep / (mean_keep + mean_div) ~= 1 - ppm/1e6 */
	mean_keep = 0;
	if (ppm > 0 && ppm < 1000000) {
		mean_keep = mean_div * (1000000 - ppm) / ppm;
		if (mean_keep < 1)
			mean_keep = 1;
	}
	thr_div = geom_threshold(mean_div);
	thr_keep = geom_threshold(mean_keep);

	if (ppm == 0) {
		diverged = 0;
		seg_left = UINT64_MAX;
	} else {
		/* start in a random phase of the alternating process */
		diverged = ppm >= 1000000 || rng_below(&r, 1000000) < ppm;
		seg_left = 0;
		next_segment(&r, &diverged, &seg_left, &seg_time, ppm,
			     thr_div, thr_keep, sn->time, sb_time, 1,
			     o->nr_mappings);
	}

	for (i = o->first_run; i < o->first_run + o->nr_runs; i++) {
		uint64_t ob = run_origin[i], db = run_data[i];
		uint64_t left = run_len[i];
		uint32_t t = run_time[i];

		while (left) {
			uint64_t n;

			if (!seg_left)
				next_segment(&r, &diverged, &seg_left, &seg_time,
					     ppm, thr_div, thr_keep, sn->time,
					     sb_time, 0, todo);
			n = left < seg_left ? left : seg_left;
			if (diverged) {
				if (e)
					emit(e, ob, fresh, n, seg_time);
				fresh += n;
				nr_fresh += n;
			} else if (e) {
				emit(e, ob, db, n, t);
			}
			ob += n;
			db += n;
			left -= n;
			todo -= n;
			if (seg_left != UINT64_MAX)
				seg_left -= n;
		}
	}
	return nr_fresh;
}

static void out_device_open(uint64_t dev_id, uint64_t mapped, uint64_t trans,
			    uint64_t ctime, uint64_t stime)
{
	out_reserve(256);
	OUT_LIT("  <device dev_id=\"");
	out_u64(dev_id);
	OUT_LIT("\" mapped_blocks=\"");
	out_u64(mapped);
	OUT_LIT("\" transaction=\"");
	out_u64(trans);
	OUT_LIT("\" creation_time=\"");
	out_u64(ctime);
	OUT_LIT("\" snap_time=\"");
	out_u64(stime);
	OUT_LIT("\">\n");
}

static void out_device_close(void)
{
	out_reserve(32);
	OUT_LIT("  </device>\n");
}

static void generate(const struct params *p)
{
	struct rng r;
	uint64_t D = p->devices, S = p->snapshots;
	struct origin_dev *orig = xrealloc(NULL, (D ? D : 1) * sizeof(*orig));
	struct snap_dev *snap = xrealloc(NULL, (S ? S : 1) * sizeof(*snap));
	uint64_t i, k, W = 0, total = 0, rem;
	uint64_t *weight = xrealloc(NULL, (D ? D : 1) * sizeof(*weight));
	uint64_t thr_run = geom_threshold(p->mean_run);
	uint64_t thr_gap = geom_threshold(2 * p->mean_run);
	uint64_t thr_batch = geom_threshold(MEAN_BATCH_RUNS);
	uint32_t sb_time = BASE_EPOCHS + (uint32_t)S;
	uint64_t data_used, nr_data_blocks;
	struct emitter em;
	uint64_t total_lines = 0, total_blocks = 0;

	/* ---- device sizes ---- */
	rng_seed(&r, p->seed, 1);
	for (i = 0; i < D; i++) {
		orig[i].nr_snaps = (uint32_t)(S / D + (i < S % D));
		orig[i].snap_time = 0;
		weight[i] = 50 + rng_below(&r, 101);
		W += weight[i] * (1 + orig[i].nr_snaps);
	}
	for (i = 0; i < D; i++) {
		orig[i].nr_mappings = W ? p->mappings / W * weight[i] +
			(p->mappings % W) * weight[i] / W : 0;
		total += orig[i].nr_mappings * (1 + orig[i].nr_snaps);
	}
	/* hand the remainder to the devices with the fewest snapshots */
	rem = p->mappings > total ? p->mappings - total : 0;
	for (k = 0; rem && D && k <= S; k++)
		for (i = 0; i < D && rem; i++)
			if (orig[i].nr_snaps == k) {
				uint64_t f = 1 + k, q = rem / f;

				orig[i].nr_mappings += q;
				rem -= q * f;
			}

	/* ---- origin runs ---- */
	for (i = 0; i < D; i++) {
		struct rng dr;
		uint64_t left = orig[i].nr_mappings, ob = 0;

		rng_seed(&dr, p->seed, 0x4f52000000000000ull + i);
		orig[i].first_run = nr_runs;
		while (left) {
			uint64_t len = rng_geom_max(&dr, thr_run,
				left < UINT32_MAX ? left : UINT32_MAX);

			/* hole before this run, except half of the time */
			if (rng_next(&dr) >> 63)
				ob += rng_geom(&dr, thr_gap);
			run_push(ob, (uint32_t)len);
			ob += len;
			left -= len;
		}
		orig[i].nr_runs = nr_runs - orig[i].first_run;
	}

	/* ---- write order: shuffled batches, interleaved writers ---- */
	{
		struct batch *b = NULL;
		uint64_t nb = 0, cap = 0, j;
		struct batch w[NR_WRITERS];
		unsigned nw = 0;
		uint64_t next_b = 0, done = 0, cursor = 0;

		rng_seed(&r, p->seed, 2);
		for (i = 0; i < D; i++) {
			uint64_t x = orig[i].first_run;
			uint64_t end = x + orig[i].nr_runs;

			while (x < end) {
				uint64_t n = rng_geom(&r, thr_batch);

				if (n > end - x)
					n = end - x;
				if (nb == cap) {
					cap = cap ? cap * 2 : 1024;
					b = xrealloc(b, cap * sizeof(*b));
				}
				b[nb].next = x;
				b[nb].end = x + n;
				nb++;
				x += n;
			}
		}
		for (j = nb; j > 1; j--) {
			uint64_t x = rng_below(&r, j);
			struct batch t = b[j - 1];

			b[j - 1] = b[x];
			b[x] = t;
		}
		while (nw < NR_WRITERS && next_b < nb)
			w[nw++] = b[next_b++];
		while (nw) {
			unsigned s = (unsigned)rng_below(&r, nw);
			uint64_t x = w[s].next++;

			run_data[x] = cursor;
			cursor += run_len[x];
			run_time[x] = (uint32_t)(nr_runs ?
				done * (BASE_EPOCHS + 1) / nr_runs : 0);
			done++;
			if (w[s].next == w[s].end) {
				if (next_b < nb)
					w[s] = b[next_b++];
				else
					w[s] = w[--nw];
			}
		}
		free(b);
		data_used = cursor;
	}

	/* ---- snapshots: times and fresh data ---- */
	for (k = 0; k < S; k++) {
		snap[k].origin = (uint32_t)(k % D);
		snap[k].time = BASE_EPOCHS + 1 + (uint32_t)k;
		orig[k % D].snap_time = snap[k].time;
		snap[k].fresh_base = data_used;
		snap[k].nr_fresh = walk_snapshot(p, &orig[k % D], &snap[k], k,
						 sb_time, NULL);
		data_used += snap[k].nr_fresh;
	}

	nr_data_blocks = p->nr_data_blocks;
	if (!nr_data_blocks) {
		nr_data_blocks = (data_used + 1023) / 1024 * 1024;
		if (!nr_data_blocks)
			nr_data_blocks = 1024;
	} else if (nr_data_blocks < data_used) {
		fprintf(stderr, "gen_xml: --nr-data-blocks %" PRIu64
			" too small: %" PRIu64 " data blocks needed\n",
			nr_data_blocks, data_used);
		exit(1);
	}

	/* ---- output ---- */
	out_reserve(256);
	OUT_LIT("<superblock uuid=\"\" time=\"");
	out_u64(sb_time);
	OUT_LIT("\" transaction=\"");
	out_u64(D + S);
	OUT_LIT("\" flags=\"0\" version=\"2\" data_block_size=\"");
	out_u64(p->data_block_size);
	OUT_LIT("\" nr_data_blocks=\"");
	out_u64(nr_data_blocks);
	OUT_LIT("\">\n");

	memset(&em, 0, sizeof(em));
	for (i = 0; i < D; i++) {
		uint64_t x;

		out_device_open(1 + i, orig[i].nr_mappings, i, 0,
				orig[i].snap_time);
		for (x = orig[i].first_run;
		     x < orig[i].first_run + orig[i].nr_runs; x++)
			emit(&em, run_origin[x], run_data[x], run_len[x],
			     run_time[x]);
		emit_flush(&em);
		out_device_close();
	}
	for (k = 0; k < S; k++) {
		const struct origin_dev *o = &orig[snap[k].origin];

		out_device_open(1 + D + k, o->nr_mappings, D + k, snap[k].time,
				snap[k].time);
		walk_snapshot(p, o, &snap[k], k, sb_time, &em);
		emit_flush(&em);
		out_device_close();
	}
	out_reserve(32);
	OUT_LIT("</superblock>\n");
	out_flush();
	total_lines = em.nr_lines;
	total_blocks = em.nr_blocks;

	if (p->stats) {
		uint64_t shared = 0;

		for (k = 0; k < S; k++)
			shared += orig[snap[k].origin].nr_mappings -
				  snap[k].nr_fresh;
		fprintf(stderr,
			"devices %" PRIu64 " (origins %" PRIu64 ", snapshots %" PRIu64 ")\n"
			"mappings %" PRIu64 " (shared with an origin %" PRIu64 ")\n"
			"mapping lines %" PRIu64 " (mean run %.2f)\n"
			"origin runs generated %" PRIu64 "\n"
			"data blocks used %" PRIu64 ", nr_data_blocks %" PRIu64 "\n"
			"superblock time %u\n"
			"bytes written %" PRIu64 "\n",
			D + S, D, S, total_blocks, shared, total_lines,
			total_lines ? (double)total_blocks / (double)total_lines : 0.0,
			nr_runs, data_used, nr_data_blocks, sb_time, outbytes);
	}

	free(weight);
	free(orig);
	free(snap);
}

/* ------------------------------------------------------------------ */
/* options                                                             */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: gen_xml [options]\n"
"Write deterministic thin_dump (0.9.0 style) XML for benchmarking.\n"
"\n"
"  --seed N              random seed (default 1)\n"
"  --devices N           number of origin thin devices (default 4)\n"
"  --mappings N          total mapped blocks over all devices, snapshots\n"
"                        included (default 1000000)\n"
"  --mean-run N          mean length of runs of consecutive data blocks\n"
"                        (default 16)\n"
"  --snapshots N         number of snapshot devices (default 0)\n"
"  --snap-divergence PCT percent of a snapshot's mappings remapped to\n"
"                        fresh data blocks (default 10; decimals allowed)\n"
"  --data-block-size N   in sectors (default 128)\n"
"  --nr-data-blocks N    data device size in blocks (default: just enough,\n"
"                        rounded up to a multiple of 1024)\n"
"  -o, --output FILE     output file (default stdout)\n"
"  --stats               print statistics on stderr\n"
"  -h, --help            this help\n");
}

static uint64_t parse_u64(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s == '-' || *s == '\0')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		goto bad;
	return v;
bad:
	fprintf(stderr, "gen_xml: bad value for --%s: '%s'\n", opt, s);
	exit(2);
}

/* percent with up to 4 decimals -> parts per million */
static uint64_t parse_pct(const char *s)
{
	uint64_t ip = 0, frac = 0, scale = 10000;
	const char *q = s;

	if (!*q)
		goto bad;
	while (*q >= '0' && *q <= '9') {
		ip = ip * 10 + (uint64_t)(*q - '0');
		if (ip > 100)
			goto bad;
		q++;
	}
	if (*q == '.') {
		q++;
		while (*q >= '0' && *q <= '9') {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*q - '0') * scale;
			}
			q++;
		}
	}
	if (*q || q == s)
		goto bad;
	ip = ip * 10000 + frac;
	if (ip > 1000000)
		goto bad;
	return ip;
bad:
	fprintf(stderr, "gen_xml: bad value for --snap-divergence: '%s' "
		"(percent 0..100)\n", s);
	exit(2);
}

int main(int argc, char **argv)
{
	enum { O_SEED = 256, O_DEVICES, O_MAPPINGS, O_MEAN_RUN, O_SNAPSHOTS,
	       O_DIVERGENCE, O_DBS, O_NR_DATA, O_STATS };
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, O_SEED },
		{ "devices", required_argument, NULL, O_DEVICES },
		{ "mappings", required_argument, NULL, O_MAPPINGS },
		{ "mean-run", required_argument, NULL, O_MEAN_RUN },
		{ "snapshots", required_argument, NULL, O_SNAPSHOTS },
		{ "snap-divergence", required_argument, NULL, O_DIVERGENCE },
		{ "data-block-size", required_argument, NULL, O_DBS },
		{ "nr-data-blocks", required_argument, NULL, O_NR_DATA },
		{ "output", required_argument, NULL, 'o' },
		{ "stats", no_argument, NULL, O_STATS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct params p = {
		.seed = 1, .devices = 4, .mappings = 1000000, .mean_run = 16,
		.snapshots = 0, .divergence_ppm = 100000,
		.data_block_size = 128, .nr_data_blocks = 0, .stats = 0,
	};
	const char *output = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case O_SEED: p.seed = parse_u64("seed", optarg); break;
		case O_DEVICES: p.devices = parse_u64("devices", optarg); break;
		case O_MAPPINGS: p.mappings = parse_u64("mappings", optarg); break;
		case O_MEAN_RUN: p.mean_run = parse_u64("mean-run", optarg); break;
		case O_SNAPSHOTS:
			p.snapshots = parse_u64("snapshots", optarg);
			break;
		case O_DIVERGENCE: p.divergence_ppm = parse_pct(optarg); break;
		case O_DBS:
			p.data_block_size = parse_u64("data-block-size", optarg);
			break;
		case O_NR_DATA:
			p.nr_data_blocks = parse_u64("nr-data-blocks", optarg);
			break;
		case O_STATS: p.stats = 1; break;
		case 'o': output = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gen_xml: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (p.mean_run < 1)
		die("--mean-run must be at least 1");
	if (p.data_block_size < 128 || p.data_block_size > 2097152 ||
	    p.data_block_size % 128)
		die("--data-block-size must be a multiple of 128 in 128..2097152");
	if (p.devices > UINT32_MAX || p.snapshots > 0xffffff)
		die("too many devices or snapshots");
	if (p.snapshots && !p.devices)
		die("--snapshots needs at least one origin device");
	if (p.mappings && !p.devices)
		die("--mappings needs at least one device");

	outbuf = malloc(OUTBUF_SIZE);
	if (!outbuf)
		die("out of memory");
	if (output) {
		outname = output;
		outfp = fopen(output, "wb");
		if (!outfp) {
			fprintf(stderr, "gen_xml: cannot open %s: %s\n", output,
				strerror(errno));
			return 1;
		}
	} else {
		outfp = stdout;
	}
	setvbuf(outfp, NULL, _IONBF, 0);

	generate(&p);

	if (fflush(outfp) || (outfp != stdout && fclose(outfp))) {
		fprintf(stderr, "gen_xml: write to %s failed: %s\n", outname,
			strerror(errno));
		return 1;
	}
	free(outbuf);
	return 0;
}
