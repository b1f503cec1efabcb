// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Persistent exception store: formatting, allocation, commit, merge tail.
 */
#include "snap_writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "endian_le.h"

#define MAX_CHUNK_SECTORS (1u << 21)

static void *alloc_chunk(uint64_t bytes)
{
	void *p = NULL;
	if (posix_memalign(&p, MD_BLOCK_SIZE, bytes < MD_BLOCK_SIZE ? MD_BLOCK_SIZE : bytes))
		return NULL;
	memset(p, 0, bytes);
	return p;
}

/* Write `bytes` of zeros at chunk `chunk`. */
static int zero_chunk(struct bdev *dev, uint64_t chunk, uint64_t bytes)
{
	void *z = alloc_chunk(bytes);
	if (!z)
		return -ENOMEM;
	int r = bdev_pwrite(dev, chunk * bytes, bytes, z);
	free(z);
	return r;
}

int snap_write_header(struct bdev *dev, uint32_t chunk_size, uint32_t valid)
{
	uint64_t bytes = (uint64_t)chunk_size * SNAP_SECTOR;
	uint8_t *h = alloc_chunk(bytes);
	if (!h)
		return -ENOMEM;
	le32_store(h, SNAP_MAGIC);
	le32_store(h + 4, valid);
	le32_store(h + 8, SNAP_VERSION);
	le32_store(h + 12, chunk_size);
	int r = bdev_pwrite(dev, 0, bytes, h);
	free(h);
	return r;
}

int snap_format(struct bdev *dev, uint32_t chunk_size)
{
	uint64_t bytes = (uint64_t)chunk_size * SNAP_SECTOR;
	if (!chunk_size || (chunk_size & (chunk_size - 1)) ||
	    chunk_size > MAX_CHUNK_SECTORS)
		return -EINVAL;
	if (dev->size / bytes < 2)
		return -ENOSPC;
	int r = zero_chunk(dev, 1, bytes);
	if (!r)
		r = bdev_sync(dev);
	if (!r)
		r = snap_write_header(dev, chunk_size, 1);
	return r ? r : bdev_sync(dev);
}

int snap_invalidate(struct snap_store *s)
{
	int r = snap_write_header(s->dev, s->chunk_size, 0);
	if (!r)
		s->valid = 0;
	return r ? r : bdev_sync(s->dev);
}

static int area_io(struct snap_writer *w, bool write)
{
	const struct snap_store *s = w->s;
	uint64_t off = snap_area_location(s, w->area_nr) * s->chunk_bytes;
	return write ? bdev_pwrite(s->dev, off, s->chunk_bytes, w->area)
		     : bdev_pread(s->dev, off, s->chunk_bytes, w->area);
}

int snap_writer_init(struct snap_writer *w, struct snap_store *s)
{
	memset(w, 0, sizeof(*w));
	if (s->state != SNAP_FORMATTED || !s->valid || s->truncated)
		return -EINVAL;
	w->s = s;
	w->area_nr = s->current_area;
	w->committed = s->current_committed;
	w->next_free = s->next_free;
	w->area = alloc_chunk(s->chunk_bytes);
	if (!w->area)
		return -ENOMEM;
	/* as the kernel keeps it: the bytes on disk, after the terminator too */
	int r = area_io(w, false);
	if (r)
		snap_writer_release(w);
	return r;
}

void snap_writer_release(struct snap_writer *w)
{
	for (size_t i = 0; i < w->nr_held; i++)
		free(w->held[i].buf);
	free(w->held);
	free(w->area);
	w->held = NULL;
	w->nr_held = 0;
	w->area = NULL;
}

int snap_writer_alloc(struct snap_writer *w, uint64_t *chunk)
{
	if (w->next_free >= w->s->nr_chunks)
		return -ENOSPC;
	*chunk = w->next_free++;
	if (snap_is_area(w->s, w->next_free))
		w->next_free++;
	return 0;
}

uint64_t snap_writer_capacity(const struct snap_writer *w)
{
	const struct snap_store *s = w->s;
	uint64_t next = w->next_free, used = w->committed, area = w->area_nr, n = 0;
	while (next < s->nr_chunks) {
		next++;
		if (snap_is_area(s, next))
			next++;
		if (++used == s->per_area) {
			/* the next area gets zeroed: it must exist */
			if (snap_area_location(s, ++area) >= s->nr_chunks)
				break;
			used = 0;
		}
		n++;
	}
	return n;
}

static void put_entry(struct snap_writer *w, uint64_t i, uint64_t old_chunk,
		      uint64_t new_chunk)
{
	uint8_t *e = w->area + i * SNAP_EXCEPTION_SIZE;
	le64_store(e, old_chunk);
	le64_store(e + 8, new_chunk);
}

static void get_entry(const struct snap_writer *w, uint64_t i,
		      struct snap_exception *x)
{
	const uint8_t *e = w->area + i * SNAP_EXCEPTION_SIZE;
	x->old_chunk = le64_load(e);
	x->new_chunk = le64_load(e + 8);
}

/* The area just filled: zero the next one, then write this one (B.7). */
static int finish_full_area(struct snap_writer *w)
{
	struct snap_store *s = w->s;
	int r = zero_chunk(s->dev, snap_area_location(s, w->area_nr + 1),
			   s->chunk_bytes);
	if (!r)
		r = bdev_sync(s->dev);
	if (!r)
		r = area_io(w, true);
	if (!r)
		r = bdev_sync(s->dev);
	if (r)
		return r;
	w->area_nr++;
	w->committed = 0;
	w->dirty = false;
	memset(w->area, 0, s->chunk_bytes);
	return 0;
}

int snap_writer_append(struct snap_writer *w, uint64_t old_chunk,
		       uint64_t new_chunk)
{
	put_entry(w, w->committed++, old_chunk, new_chunk);
	w->dirty = true;
	return w->committed == w->s->per_area ? finish_full_area(w) : 0;
}

/* Write the held areas, last first, each made durable before the next. */
static int write_held(struct snap_writer *w)
{
	const struct snap_store *s = w->s;
	int r = 0;
	size_t i = 0;
	for (; i < w->nr_held && !r; i++) {
		r = bdev_pwrite(s->dev, snap_area_location(s, w->held[i].nr) * s->chunk_bytes,
				s->chunk_bytes, w->held[i].buf);
		if (!r)
			r = bdev_sync(s->dev);
	}
	if (r)
		return r;
	for (i = 0; i < w->nr_held; i++)
		free(w->held[i].buf);
	w->nr_held = 0;
	return 0;
}

int snap_writer_commit(struct snap_writer *w)
{
	if (!w->dirty && !w->nr_held)
		return 0;
	int r = bdev_sync(w->s->dev);
	if (!r)
		r = write_held(w);
	if (!r && !w->dirty)
		return 0;
	if (!r)
		r = area_io(w, true);
	if (!r)
		r = bdev_sync(w->s->dev);
	if (!r)
		w->dirty = false;
	return r;
}

uint64_t snap_writer_run_at(const struct snap_writer *w, uint64_t skip,
			    struct snap_exception *last)
{
	uint64_t end = w->committed - skip, n;
	struct snap_exception x;
	get_entry(w, end - 1, last);
	for (n = 1; n < end; n++) {
		get_entry(w, end - 1 - n, &x);
		if (x.old_chunk != last->old_chunk - n ||
		    x.new_chunk != last->new_chunk - n)
			break;
	}
	return n;
}

/* Keep the emptied current area for the next commit; take a new buffer. */
static int hold_area(struct snap_writer *w)
{
	if (w->nr_held == w->cap_held) {
		size_t n = w->cap_held ? w->cap_held * 2 : 16;
		struct held_area *h = realloc(w->held, n * sizeof(*h));
		if (!h)
			return -ENOMEM;
		w->held = h;
		w->cap_held = n;
	}
	uint8_t *fresh = alloc_chunk(w->s->chunk_bytes);
	if (!fresh)
		return -ENOMEM;
	w->held[w->nr_held++] = (struct held_area){ w->area_nr, w->area };
	w->area = fresh;
	w->dirty = false;
	return 0;
}

int snap_writer_last_run(struct snap_writer *w, struct snap_exception *last,
			 uint64_t *len)
{
	*len = 0;
	if (!w->committed) {
		if (!w->area_nr)
			return 0;
		if (w->dirty && hold_area(w))
			return -ENOMEM;
		w->area_nr--;
		int r = area_io(w, false);
		if (r)
			return r;
		w->committed = w->s->per_area;
	}
	*len = snap_writer_run_at(w, 0, last);
	return 0;
}

void snap_writer_clear_tail(struct snap_writer *w, uint64_t n)
{
	w->committed -= n;
	memset(w->area + w->committed * SNAP_EXCEPTION_SIZE, 0,
	       n * SNAP_EXCEPTION_SIZE);
	w->dirty = true;
}
