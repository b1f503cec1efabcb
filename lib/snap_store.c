// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Persistent exception store: reading and checking.
 */
#include "snap_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "endian_le.h"
#include "snap_kernel_view.h"

#define PIECE	      (64u * 1024u) /* areas are read this much at a time */
#define DETAIL_LIMIT  10u
#define MAX_CHUNK_SECTORS (1u << 21)

static enum snap_header_state read_header(struct snap_store *s,
					  const uint8_t *h)
{
	s->magic = le32_load(h);
	s->valid = le32_load(h + 4);
	s->version = le32_load(h + 8);
	s->chunk_size = le32_load(h + 12);
	if (!s->magic)
		return SNAP_UNFORMATTED;
	if (s->magic != SNAP_MAGIC)
		return SNAP_BAD_MAGIC;
	if (s->version != SNAP_VERSION)
		return SNAP_BAD_VERSION;
	if (!s->chunk_size || (s->chunk_size & (s->chunk_size - 1)) ||
	    s->chunk_size > MAX_CHUNK_SECTORS)
		return SNAP_BAD_CHUNK_SIZE;
	return SNAP_FORMATTED;
}

static int push(struct snap_store *s, uint64_t old, uint64_t new_chunk,
		uint64_t *cap)
{
	if (s->nr_ex == *cap &&
	    array_reserve((void **)&s->ex, cap, s->nr_ex + 1, sizeof(*s->ex), 1024))
		return -ENOMEM;
	s->ex[s->nr_ex].old_chunk = old;
	s->ex[s->nr_ex++].new_chunk = new_chunk;
	return 0;
}

/*
 * Read area a.  Returns 1 if it was full (the list goes on), 0 if it held
 * the terminator, or a negative errno.
 */
static int read_area(struct snap_store *s, uint64_t a, uint8_t *buf,
		     uint64_t *cap)
{
	uint64_t base = snap_area_location(s, a) * s->chunk_bytes;
	uint64_t done = 0, entry = 0;
	bool ended = false;
	while (done < s->chunk_bytes) {
		size_t len = s->chunk_bytes - done < PIECE ? s->chunk_bytes - done
							     : PIECE;
		int r = bdev_pread(s->dev, base + done, len, buf);
		if (r)
			return r;
		for (size_t off = 0; off < len; off += SNAP_EXCEPTION_SIZE) {
			if (ended) {
				if (memcmp(buf + off, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
					   SNAP_EXCEPTION_SIZE)) {
					s->dirty_tail = true;
					s->dirty_tail_area = a;
					return 0;
				}
				continue;
			}
			uint64_t new_chunk = le64_load(buf + off + 8);
			if (!new_chunk) {
				s->current_area = a;
				s->current_committed = entry;
				ended = true;
				continue;
			}
			r = push(s, le64_load(buf + off), new_chunk, cap);
			if (r)
				return r;
			entry++;
		}
		done += len;
	}
	return ended ? 0 : 1;
}

static void compute_next_free(struct snap_store *s)
{
	uint64_t max = 0;
	for (uint64_t i = 0; i < s->nr_ex; i++)
		if (s->ex[i].new_chunk > max)
			max = s->ex[i].new_chunk;
	s->next_free = s->nr_ex ? max + 1 : 2;
	if (snap_is_area(s, s->next_free))
		s->next_free++;
}

int snap_store_open(struct snap_store *s, struct bdev *dev)
{
	uint8_t h[16];
	uint64_t cap = 0;
	int r;

	memset(s, 0, sizeof(*s));
	s->dev = dev;
	r = bdev_pread(dev, 0, sizeof(h), h);
	if (r)
		return r;
	s->state = read_header(s, h);
	if (s->state != SNAP_FORMATTED)
		return 0;
	s->chunk_bytes = (uint64_t)s->chunk_size * SNAP_SECTOR;
	s->nr_chunks = dev->size / s->chunk_bytes;
	s->per_area = s->chunk_bytes / SNAP_EXCEPTION_SIZE;
	if (!s->valid)
		return 0;
	uint8_t *buf = malloc(PIECE);
	if (!buf)
		return -ENOMEM;
	for (uint64_t a = 0;; a++) {
		if (snap_area_location(s, a) >= s->nr_chunks) {
			s->truncated = true;
			s->truncated_area = a;
			s->current_area = a;
			break;
		}
		r = read_area(s, a, buf, &cap);
		if (r <= 0)
			break;
	}
	free(buf);
	if (r < 0)
		return r;
	compute_next_free(s);
	return 0;
}

void snap_store_release(struct snap_store *s)
{
	free(s->ex);
	s->ex = NULL;
}

void snap_store_usage(const struct snap_store *s, struct snap_usage *u)
{
	u->total = s->dev->size / SNAP_SECTOR;
	u->allocated = s->next_free * s->chunk_size;
	u->metadata = (s->current_area + 2) * s->chunk_size;
}

/* ---- checks ---------------------------------------------------------- */

struct keyed {
	uint64_t key;
	uint64_t index;
};

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

struct where {
	unsigned long long area, entry;
};

static struct where where_of(const struct snap_store *s, uint64_t k)
{
	return (struct where){ k / s->per_area, k % s->per_area };
}

/*
 * Report every exception whose field repeats an earlier one's; for origin
 * chunks, name the one the kernel reads (reads[], if it could be told).
 */
static int find_duplicates(const struct snap_store *s, bool new_side,
			   enum report_level level, const uint64_t *reads,
			   struct reporter *rep)
{
	struct keyed *v = malloc((s->nr_ex + 1) * sizeof(*v));
	uint64_t dups = 0;
	if (!v)
		return -ENOMEM;
	for (uint64_t i = 0; i < s->nr_ex; i++) {
		v[i].key = new_side ? s->ex[i].new_chunk : s->ex[i].old_chunk;
		v[i].index = i;
	}
	qsort(v, s->nr_ex, sizeof(*v), cmp_keyed);
	for (uint64_t i = 1; i < s->nr_ex; i++) {
		if (v[i].key != v[i - 1].key)
			continue;
		uint64_t first = i - 1;
		while (first && v[first - 1].key == v[i].key)
			first--;
		if (dups++ >= DETAIL_LIMIT)
			continue;
		struct where w = where_of(s, v[i].index),
			     f = where_of(s, v[first].index);
		if (new_side)
			report(rep, level,
			       "area %llu, entry %llu: COW chunk %llu is also used by area %llu, entry %llu",
			       w.area, w.entry, (unsigned long long)v[i].key, f.area,
			       f.entry);
		else if (reads) {
			struct where k = where_of(s, reads[v[i].index]);
			report(rep, level,
			       "area %llu, entry %llu: origin chunk %llu already has an exception (area %llu, entry %llu); the kernel reads area %llu, entry %llu",
			       w.area, w.entry, (unsigned long long)v[i].key, f.area,
			       f.entry, k.area, k.entry);
		} else
			report(rep, level,
			       "area %llu, entry %llu: origin chunk %llu already has an exception (area %llu, entry %llu)",
			       w.area, w.entry, (unsigned long long)v[i].key, f.area,
			       f.entry);
	}
	if (dups > DETAIL_LIMIT)
		report(rep, level, "... %llu such exceptions in all",
		       (unsigned long long)dups);
	free(v);
	return 0;
}

static void check_exceptions(const struct snap_store *s,
			     const struct snap_check_opts *o,
			     struct reporter *rep)
{
	uint64_t origin_chunks = o->origin_sectors
		? (o->origin_sectors + s->chunk_size - 1) / s->chunk_size : 0;
	unsigned long shown = 0;
	bool order_noted = false;
	for (uint64_t k = 0; k < s->nr_ex; k++) {
		const struct snap_exception *e = &s->ex[k];
		struct where w = where_of(s, k);
		const char *bad = NULL;
		if (snap_is_area(s, e->new_chunk))
			bad = "is a metadata area";
		else if (e->new_chunk >= s->nr_chunks)
			bad = "lies beyond the end of the COW device";
		if (bad && shown++ < DETAIL_LIMIT)
			report(rep, REPORT_FATAL,
			       "area %llu, entry %llu: COW chunk %llu %s (the device has %llu chunks)",
			       w.area, w.entry, (unsigned long long)e->new_chunk, bad,
			       (unsigned long long)s->nr_chunks);
		else if (bad)
			rep->counts[REPORT_FATAL]++;
		if (origin_chunks && e->old_chunk >= origin_chunks &&
		    shown++ < DETAIL_LIMIT)
			report(rep, REPORT_NONFATAL,
			       "area %llu, entry %llu: origin chunk %llu lies beyond the end of the origin (%llu chunks)",
			       w.area, w.entry, (unsigned long long)e->old_chunk,
			       (unsigned long long)origin_chunks);
		if (k && e->new_chunk <= s->ex[k - 1].new_chunk && !order_noted) {
			report(rep, REPORT_INFO,
			       "area %llu, entry %llu: COW chunks are not in increasing order (a kernel older than 3.13 wrote this store)",
			       w.area, w.entry);
			order_noted = true;
		}
	}
}

int snap_store_check(const struct snap_store *s,
		     const struct snap_check_opts *o, struct reporter *rep)
{
	switch (s->state) {
	case SNAP_UNFORMATTED:
		report(rep, REPORT_INFO,
		       "the store is not formatted (magic 0): the kernel formats it when the snapshot is first activated");
		return 0;
	case SNAP_BAD_MAGIC:
		report(rep, REPORT_FATAL,
		       "bad magic 0x%08x in the header chunk (a snapshot store has 0x%08x, \"SnAp\")",
		       s->magic, SNAP_MAGIC);
		return 0;
	case SNAP_BAD_VERSION:
		report(rep, REPORT_FATAL, "unknown store version %u in the header chunk (only 1 exists)",
		       s->version);
		return 0;
	case SNAP_BAD_CHUNK_SIZE:
		report(rep, REPORT_FATAL,
		       "bad chunk size %u sectors in the header chunk (must be a power of two up to %u)",
		       s->chunk_size, MAX_CHUNK_SECTORS);
		return 0;
	case SNAP_FORMATTED:
		break;
	}
	if (o->expected_chunk_size && o->expected_chunk_size != s->chunk_size)
		report(rep, REPORT_FATAL,
		       "the header says the chunk size is %u sectors, %u was expected",
		       s->chunk_size, o->expected_chunk_size);
	if (!s->valid) {
		report(rep, REPORT_FATAL,
		       "the snapshot was invalidated (valid = 0 in the header): its data is incomplete, it cannot be used or merged");
		return 0;
	}
	if (s->truncated)
		report(rep, REPORT_FATAL,
		       "metadata area %llu (chunk %llu) lies beyond the end of the COW device (%llu chunks)%s",
		       (unsigned long long)s->truncated_area,
		       (unsigned long long)snap_area_location(s, s->truncated_area),
		       (unsigned long long)s->nr_chunks,
		       s->truncated_area ? ", but the area before it is full" : "");
	if (s->dirty_tail)
		report(rep, REPORT_WARNING,
		       "area %llu has non-zero bytes after its last exception",
		       (unsigned long long)s->dirty_tail_area);
	check_exceptions(s, o, rep);
	uint64_t *reads = malloc((s->nr_ex + 1) * sizeof(*reads));
	if (!reads)
		return -ENOMEM;
	int r = snap_kernel_view(s->ex, s->nr_ex, reads);
	if (r && r != -E2BIG) {
		free(reads);
		return r;
	}
	bool told = !r;
	r = find_duplicates(s, true, REPORT_FATAL, NULL, rep);
	if (!r)
		r = find_duplicates(s, false, REPORT_NONFATAL, told ? reads : NULL, rep);
	free(reads);
	return r;
}
