// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Persistent exception store: lenient reading, judging and rewriting.
 */
#include "snap_repair.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "chunk_copy.h"
#include "endian_le.h"
#include "snap_kernel_view.h"
#include "snap_writer.h"
#include "snap_xml.h"
#include "u64_set.h"
#include "u64_util.h"

#define PIECE		  (64u * 1024u)
#define COPY_THREADS	  8u
#define COPY_MAX_IO	  (4u << 20)
#define MAX_CHUNK_SECTORS (1u << 21)

/* ---- reading ---------------------------------------------------------- */

struct list {
	struct snap_exception *v;
	uint64_t n, cap;
};

static int list_push(struct list *l, uint64_t old_chunk, uint64_t new_chunk)
{
	if (l->n == l->cap &&
	    array_reserve((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v), 1024))
		return -ENOMEM;
	l->v[l->n++] = (struct snap_exception){ old_chunk, new_chunk };
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * Read the entries of area a that lie on the device.  Returns 1 if the
 * list goes on in the next area, 0 if it ended here, or a negative errno.
 */
static int read_area(struct snap_repair *r, struct bdev *dev, uint64_t a,
		     uint8_t *buf, struct list *l)
{
	uint64_t base = (1 + a * (r->per_area + 1)) * r->chunk_bytes;
	uint64_t avail = dev->size - base < r->chunk_bytes ? dev->size - base
							 : r->chunk_bytes;
	bool ended = false;
	avail -= avail % SNAP_EXCEPTION_SIZE;
	for (uint64_t done = 0; done < avail; done += PIECE) {
		size_t len = avail - done < PIECE ? avail - done : PIECE;
		int err = bdev_pread(dev, base + done, len, buf);
		if (err)
			return err;
		if (ended) {
			r->dirty_tail |= !all_zero(buf, len);
			continue;
		}
		for (size_t off = 0; off < len && !ended; off += SNAP_EXCEPTION_SIZE) {
			uint64_t new_chunk = le64_load(buf + off + 8);
			if (!new_chunk) {
				ended = true;
				r->dirty_tail |= !all_zero(buf + off + SNAP_EXCEPTION_SIZE,
							   len - off - SNAP_EXCEPTION_SIZE);
			} else if ((err = list_push(l, le64_load(buf + off), new_chunk))) {
				return err;
			}
		}
	}
	if (ended)
		return 0;
	if (avail < r->chunk_bytes)
		r->truncated = true;
	return avail == r->chunk_bytes;
}

static int read_list(struct snap_repair *r, struct bdev *dev, struct list *l)
{
	uint8_t *buf = malloc(PIECE);
	int err = 1;
	if (!buf)
		return -ENOMEM;
	for (uint64_t a = 0; err == 1; a++) {
		if ((1 + a * (r->per_area + 1)) * r->chunk_bytes >= dev->size) {
			r->truncated = true;
			break;
		}
		err = read_area(r, dev, a, buf, l);
	}
	free(buf);
	return err < 0 ? err : 0;
}

/* The chunk size to use, from the header or the caller. */
static enum snap_repair_status choose_header(struct snap_repair *r,
					     const struct snap_store *s,
					     const struct snap_repair_opts *o)
{
	r->header = s->state;
	r->found_chunk_size = s->chunk_size;
	r->found_valid = s->valid;
	if (s->state == SNAP_FORMATTED) {
		if (o->chunk_size && o->chunk_size != s->chunk_size)
			return SNAP_REPAIR_CHUNK_MISMATCH;
		if (!s->valid && !o->force_invalid)
			return SNAP_REPAIR_INVALID;
		r->chunk_size = s->chunk_size;
		r->rewrite_header = !s->valid;
	} else {
		if (!o->chunk_size)
			return SNAP_REPAIR_NEED_CHUNK_SIZE;
		r->chunk_size = o->chunk_size;
		r->rewrite_header = true;
	}
	return SNAP_REPAIR_OK;
}

/* ---- judging ---------------------------------------------------------- */

static bool is_area(const struct snap_repair *r, uint64_t chunk)
{
	return chunk >= 1 && (chunk - 1) % (r->per_area + 1) == 0;
}

static int drop(struct snap_repair *r, uint64_t k, const struct snap_exception *e,
		enum snap_drop_reason why, uint64_t other, uint64_t kernel, uint64_t *cap)
{
	if (r->nr_dropped == *cap &&
	    array_reserve((void **)&r->dropped, cap, r->nr_dropped + 1,
			  sizeof(*r->dropped), 64))
		return -ENOMEM;
	r->dropped[r->nr_dropped++] = (struct snap_dropped){ k, *e, why, other, kernel, false };
	return 0;
}

/*
 * Why exception k cannot be kept next to those kept so far; -1 if it
 * can.  Of several exceptions for one origin chunk only the one chosen
 * for it (keep[k] == k: normally the one the kernel reads) may stay.
 */
static int verdict(const struct snap_repair *r, const struct snap_exception *e,
		   uint64_t k, const uint64_t *keep, const struct u64_set *news)
{
	if (is_area(r, e->new_chunk))
		return SNAP_DROP_AREA;
	if (e->new_chunk >= r->nr_chunks)
		return SNAP_DROP_BEYOND;
	if (u64_set_has(news, e->new_chunk))
		return SNAP_DROP_SHARED_COW;
	if (keep[k] != k)
		return SNAP_DROP_SAME_ORIGIN;
	return -1;
}

/*
 * Keep, in on-disk order, every exception that fits with those kept
 * before it.  The terminator needs an area on the output, so at most
 * (areas that fit there) * E - 1 exceptions can stay.
 */
static int judge(struct snap_repair *r, const struct list *l, const uint64_t *keep,
		 const uint64_t *kernel, uint64_t out_chunks, uint64_t *kept_at,
		 uint64_t *cap)
{
	uint64_t areas = (out_chunks - 1 + r->per_area) / (r->per_area + 1);
	uint64_t limit = areas * r->per_area - 1;
	struct u64_set news;
	int err = u64_set_init(&news, l->n);
	for (uint64_t k = 0; k < l->n && !err; k++) {
		const struct snap_exception *e = &l->v[k];
		int why = verdict(r, e, k, keep, &news);
		if (why < 0 && r->nr_kept == limit)
			why = SNAP_DROP_NO_ROOM;
		if (why >= 0) {
			err = drop(r, k, e, (enum snap_drop_reason)why, keep[k], kernel[k], cap);
			continue;
		}
		err = u64_set_add(&news, e->new_chunk);
		err = err < 0 ? err : 0;
		kept_at[r->nr_kept] = k;
		r->kept[r->nr_kept++] = *e;
	}
	u64_set_release(&news);
	return err;
}

struct keyed {
	uint64_t key, index;
};

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	return (x->key > y->key) - (x->key < y->key);
}

/* Name the kept exception each shared COW chunk was kept for. */
static int name_cow_owners(struct snap_repair *r, const uint64_t *kept_at)
{
	struct keyed *v = malloc((r->nr_kept + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint64_t i = 0; i < r->nr_kept; i++)
		v[i] = (struct keyed){ r->kept[i].new_chunk, kept_at[i] };
	qsort(v, r->nr_kept, sizeof(*v), cmp_keyed);
	for (uint64_t i = 0; i < r->nr_dropped; i++) {
		struct snap_dropped *d = &r->dropped[i];
		if (d->why != SNAP_DROP_SHARED_COW)
			continue;
		struct keyed key = { d->e.new_chunk, 0 };
		const struct keyed *hit = bsearch(&key, v, r->nr_kept, sizeof(*v), cmp_keyed);
		d->other = hit ? hit->index : 0;
	}
	free(v);
	return 0;
}

static int cmp_dropped_index(const void *a, const void *b)
{
	const uint64_t *x = a;
	const struct snap_dropped *y = b;
	return (*x > y->index) - (*x < y->index);
}

/* Whether the exception the kernel reads instead was dropped as well. */
static void note_dropped_readers(struct snap_repair *r)
{
	for (uint64_t i = 0; i < r->nr_dropped; i++) {
		struct snap_dropped *d = &r->dropped[i];
		if (d->why == SNAP_DROP_SAME_ORIGIN)
			d->other_dropped = bsearch(&d->other, r->dropped, r->nr_dropped,
						   sizeof(*r->dropped), cmp_dropped_index) != NULL;
	}
}

static bool cow_usable(const struct snap_repair *r, uint64_t chunk)
{
	return !is_area(r, chunk) && chunk < r->nr_chunks;
}

/*
 * For each exception k: kernel[k], the exception the kernel reads for its
 * origin chunk, and keep[k], the one to keep for it: the kernel's, unless
 * that one's COW chunk is unusable (a metadata area, past the end); then
 * the one the kernel would read were the unusable ones gone.
 */
static int choose(const struct snap_repair *r, const struct list *l, uint64_t *keep,
		  uint64_t *kernel)
{
	struct snap_exception *good = calloc(l->n + 1, sizeof(*good));
	uint64_t *at = malloc((l->n + 1) * sizeof(*at));
	uint64_t *view = malloc((l->n + 1) * sizeof(*view)), n = 0;
	int err = -ENOMEM;
	if (good && at && view) {
		for (uint64_t k = 0; k < l->n; k++) {
			if (!cow_usable(r, l->v[k].new_chunk))
				continue;
			at[n] = k;
			good[n++] = l->v[k];
		}
		err = snap_kernel_view(l->v, l->n, kernel);
	}
	if (!err)
		err = snap_kernel_view(good, n, view);
	for (uint64_t k = 0; k < l->n && !err; k++)
		keep[k] = kernel[k];
	for (uint64_t i = 0; i < n && !err; i++)
		if (!cow_usable(r, l->v[kernel[at[i]]].new_chunk))
			keep[at[i]] = at[view[i]];
	free(good);
	free(at);
	free(view);
	return err;
}

static int decide(struct snap_repair *r, const struct list *l, uint64_t out_chunks)
{
	uint64_t cap = 0;
	uint64_t *kept_at = malloc((l->n + 1) * sizeof(*kept_at));
	uint64_t *keep = malloc((l->n + 1) * sizeof(*keep));
	uint64_t *kernel = malloc((l->n + 1) * sizeof(*kernel));
	r->kept = malloc((l->n + 1) * sizeof(*r->kept));
	int err = kept_at && keep && kernel && r->kept ? 0 : -ENOMEM;
	if (!err)
		err = choose(r, l, keep, kernel);
	if (!err)
		err = judge(r, l, keep, kernel, out_chunks, kept_at, &cap);
	if (!err)
		err = name_cow_owners(r, kept_at);
	if (!err)
		note_dropped_readers(r);
	free(kept_at);
	free(keep);
	free(kernel);
	return err;
}

/* ---- in place: every interrupted state must repair the same way ------ */

/* Lists longer than this times the areas rewritten are not replayed. */
#define REPLAY_BUDGET (1ull << 26)

static bool drops_repeats(const struct snap_repair *r)
{
	for (uint64_t i = 0; i < r->nr_dropped; i++)
		if (r->dropped[i].why == SNAP_DROP_SAME_ORIGIN)
			return true;
	return false;
}

static bool same_kept(const struct snap_repair *x, const struct snap_repair *y)
{
	return x->nr_kept == y->nr_kept &&
	       !memcmp(x->kept, y->kept, x->nr_kept * sizeof(*x->kept));
}

/*
 * In place the areas are written one by one, so the device may be left
 * holding the first a+1 new areas followed by the old list from there
 * on.  A rerun must repair any such list to the same exceptions, and so
 * it does unless the kernel's choice among repeated origin chunks rested
 * on entries the new areas no longer hold (a later entry that won by
 * joining a run).  Replay each such list; where one repairs differently
 * (or the replay would take too long), in place is refused.
 */
static int check_interruptions(struct snap_repair *r, const struct list *l,
			       uint64_t out_chunks)
{
	uint64_t last = r->nr_kept / r->per_area;
	if (!drops_repeats(r) || !last)
		return 0;
	if (last > REPLAY_BUDGET / l->n) {
		r->in_place_unsafe = true;
		return 0;
	}
	struct list mid = { malloc(l->n * sizeof(*mid.v)), l->n, l->n };
	int err = mid.v ? 0 : -ENOMEM;
	for (uint64_t a = 0; a < last && !err && !r->in_place_unsafe; a++) {
		uint64_t head = (a + 1) * r->per_area;
		struct snap_repair t = { .chunk_size = r->chunk_size,
					 .chunk_bytes = r->chunk_bytes,
					 .per_area = r->per_area,
					 .nr_chunks = r->nr_chunks };
		memcpy(mid.v, r->kept, head * sizeof(*mid.v));
		memcpy(mid.v + head, l->v + head, (l->n - head) * sizeof(*mid.v));
		err = decide(&t, &mid, out_chunks);
		r->in_place_unsafe = !err && !same_kept(&t, r);
		snap_repair_release(&t);
	}
	free(mid.v);
	return err;
}

int snap_repair_read(struct snap_repair *r, struct bdev *dev,
		     const struct snap_repair_opts *o,
		     enum snap_repair_status *st)
{
	struct snap_store s;
	struct list l = { 0 };
	memset(r, 0, sizeof(*r));
	if (o->chunk_size && ((o->chunk_size & (o->chunk_size - 1)) ||
			      o->chunk_size > MAX_CHUNK_SECTORS))
		return -EINVAL;
	int err = snap_store_open(&s, dev);
	if (err)
		return err;
	*st = choose_header(r, &s, o);
	snap_store_release(&s);
	if (*st != SNAP_REPAIR_OK)
		return 0;
	r->chunk_bytes = (uint64_t)r->chunk_size * SNAP_SECTOR;
	r->per_area = r->chunk_bytes / SNAP_EXCEPTION_SIZE;
	r->nr_chunks = dev->size / r->chunk_bytes;
	if (r->nr_chunks < 2) {
		*st = SNAP_REPAIR_TOO_SMALL;
		return 0;
	}
	err = read_list(r, dev, &l);
	r->nr_read = l.n;
	uint64_t out_chunks = o->out_bytes ? o->out_bytes / r->chunk_bytes : r->nr_chunks;
	if (out_chunks < 2)
		out_chunks = 2;
	if (!err)
		err = decide(r, &l, out_chunks);
	if (!err && !o->out_bytes)
		err = check_interruptions(r, &l, out_chunks);
	if (!err && r->in_place_unsafe)
		*st = SNAP_REPAIR_IN_PLACE_UNSAFE;
	free(l.v);
	return err;
}

void snap_repair_release(struct snap_repair *r)
{
	free(r->kept);
	free(r->dropped);
	r->kept = NULL;
	r->dropped = NULL;
}

/* ---- writing ---------------------------------------------------------- */

uint64_t snap_repair_bytes(const struct snap_repair *r)
{
	uint64_t end = 1 + (r->nr_kept / r->per_area) * (r->per_area + 1) + 1;
	for (uint64_t i = 0; i < r->nr_kept; i++)
		if (r->kept[i].new_chunk + 1 > end)
			end = r->kept[i].new_chunk + 1;
	return end * r->chunk_bytes;
}

/*
 * Copy the kept data chunks with the parallel copier, in COW chunk order
 * so that neighbours coalesce into large I/Os.
 */
static int copy_data(const struct snap_repair *r, struct copy_end *src,
		     struct copy_end *dst)
{
	struct copier c;
	uint64_t *chunks = malloc((r->nr_kept + 1) * sizeof(*chunks));
	int err = chunks ? copier_init(&c, COPY_THREADS, COPY_MAX_IO, false) : -ENOMEM;
	if (err) {
		free(chunks);
		return err;
	}
	for (uint64_t i = 0; i < r->nr_kept; i++)
		chunks[i] = r->kept[i].new_chunk;
	qsort(chunks, r->nr_kept, sizeof(*chunks), u64_cmp);
	for (uint64_t i = 0; i < r->nr_kept && !err; i++)
		err = copier_add(&c, src, chunks[i] * r->chunk_bytes, dst,
				 chunks[i] * r->chunk_bytes, r->chunk_bytes);
	if (!err)
		err = copier_run(&c);
	copier_release(&c);
	free(chunks);
	return err;
}

/* The kept exceptions as single-chunk runs merged where they continue. */
static int to_image(const struct snap_repair *r, const struct bdev *out,
		    struct snap_image *img)
{
	memset(img, 0, sizeof(*img));
	img->formatted = true;
	img->version = SNAP_VERSION;
	img->valid = 1;
	img->chunk_size = r->chunk_size;
	img->nr_chunks = out->size / r->chunk_bytes;
	img->nr_ex = r->nr_kept;
	img->runs = calloc(r->nr_kept + 1, sizeof(*img->runs));
	if (!img->runs)
		return -ENOMEM;
	for (uint64_t i = 0; i < r->nr_kept; i++) {
		const struct snap_exception *e = &r->kept[i];
		struct snap_xml_run *last = img->nr_runs ? &img->runs[img->nr_runs - 1] : NULL;
		if (last && e->old_chunk == last->old_begin + last->length &&
		    e->new_chunk == last->new_begin + last->length)
			last->length++;
		else
			img->runs[img->nr_runs++] =
				(struct snap_xml_run){ e->old_chunk, e->new_chunk, 1, 0, 0 };
	}
	return 0;
}

static int write_copy(const struct snap_repair *r, struct bdev *in, struct bdev *out,
		      struct bdev *in_data, struct bdev *out_data)
{
	struct copy_end src = { in_data ? in_data : in, in, false };
	struct copy_end dst = { out_data ? out_data : out, out, false };
	struct snap_image img;
	uint8_t *zero = calloc(1, r->chunk_bytes);
	int err = zero ? 0 : -ENOMEM;
	/* no old header may stand over the new data while it is copied */
	if (!err)
		err = bdev_pwrite(out, 0, r->chunk_bytes, zero);
	free(zero);
	if (!err)
		err = bdev_sync(out);
	if (!err)
		err = copy_data(r, &src, &dst);
	if (!err)
		err = bdev_sync(out);
	if (err || (err = to_image(r, out, &img)))
		return err;
	err = snap_image_write(out, &img);
	snap_image_release(&img);
	return err;
}

static void fill_area(const struct snap_repair *r, uint64_t a, uint8_t *area)
{
	memset(area, 0, r->chunk_bytes);
	for (uint64_t i = a * r->per_area, n = 0;
	     i < r->nr_kept && n < r->per_area; i++, n++) {
		le64_store(area + n * SNAP_EXCEPTION_SIZE, r->kept[i].old_chunk);
		le64_store(area + n * SNAP_EXCEPTION_SIZE + 8, r->kept[i].new_chunk);
	}
}

/*
 * In place: each area moves entries only towards the front of the list,
 * so writing the areas in order, each made durable before the next,
 * leaves after any prefix a list holding every kept exception (the new
 * areas, then the old ones, with repeats that a rerun drops again).
 */
static int write_in_place(const struct snap_repair *r, struct bdev *dev)
{
	uint8_t *area = malloc(r->chunk_bytes), *old = malloc(r->chunk_bytes);
	int err = area && old ? 0 : -ENOMEM;
	for (uint64_t a = 0; a <= r->nr_kept / r->per_area && !err; a++) {
		uint64_t off = (1 + a * (r->per_area + 1)) * r->chunk_bytes;
		fill_area(r, a, area);
		err = bdev_pread(dev, off, r->chunk_bytes, old);
		if (err || !memcmp(area, old, r->chunk_bytes))
			continue;
		err = bdev_pwrite(dev, off, r->chunk_bytes, area);
		if (!err)
			err = bdev_sync(dev);
	}
	free(area);
	free(old);
	if (!err && r->rewrite_header)
		err = snap_write_header(dev, r->chunk_size, 1);
	return err || !r->rewrite_header ? err : bdev_sync(dev);
}

int snap_repair_write(const struct snap_repair *r, struct bdev *in,
		      struct bdev *out, struct bdev *in_data, struct bdev *out_data)
{
	if (out->size < snap_repair_bytes(r))
		return -ENOSPC;
	return in == out ? write_in_place(r, out)
			 : write_copy(r, in, out, in_data, out_data);
}
