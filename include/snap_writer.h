/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * snap_writer.h - changing a persistent exception store the way the
 * kernel does (FORMATS.md B.4, B.7, B.10).
 *
 * A writer holds the store's current metadata area in memory, exactly as
 * read from disk, and appends to it (new exceptions, B.7) or clears its
 * tail (merged exceptions, B.10).  Durability follows B.7/B.12: data
 * chunks are made durable before the area that refers to them is
 * written, and when an area fills, the next one is zeroed on disk first.
 * Every function returns 0 or a negative errno; nothing is printed.
 */
#ifndef THINSNAP_SNAP_WRITER_H
#define THINSNAP_SNAP_WRITER_H

#include "snap_store.h"

struct held_area {
	uint64_t nr;
	uint8_t *buf;
};

struct snap_writer {
	struct snap_store *s;	/* formatted and valid */
	uint8_t *area;		/* current area, chunk_bytes */
	uint64_t area_nr;	/* which area the buffer holds */
	uint64_t committed;	/* entries in use in it */
	uint64_t next_free;	/* next chunk to allocate */
	bool dirty;		/* the buffer differs from the disk */
	struct held_area *held;	/* emptied areas not yet written, last first */
	size_t nr_held, cap_held;
};

/*
 * Write a fresh header chunk (magic, valid, version, chunk_size; zeros to
 * the end of chunk 0).  Not synced.
 */
int snap_write_header(struct bdev *dev, uint32_t chunk_size, uint32_t valid);

/*
 * Format dev as a new, empty store as the kernel does: zero area 0, make
 * it durable, then write the header and sync.  -EINVAL for a chunk size
 * that is not a power of two, -ENOSPC if dev is smaller than two chunks.
 */
int snap_format(struct bdev *dev, uint32_t chunk_size);

/* Mark the store invalid (valid = 0 in the header) and sync. */
int snap_invalidate(struct snap_store *s);

/* Load s's current area (s from snap_store_open, formatted and valid). */
int snap_writer_init(struct snap_writer *w, struct snap_store *s);
void snap_writer_release(struct snap_writer *w);

/*
 * Allocate the next free COW chunk (B.7): -ENOSPC when it would not fit
 * on the device; skips metadata areas.
 */
int snap_writer_alloc(struct snap_writer *w, uint64_t *chunk);

/*
 * How many more exceptions fit: chunks to allocate, and the area after
 * each one that fills.  Changes nothing.
 */
uint64_t snap_writer_capacity(const struct snap_writer *w);

/*
 * Append an exception to the current area.  When that fills the area,
 * the data written so far is synced, the next area zeroed, the full area
 * written and synced, and the writer moves on to the (empty) next area.
 */
int snap_writer_append(struct snap_writer *w, uint64_t old_chunk,
		       uint64_t new_chunk);

/*
 * Commit: if the area changed, sync the device (the data the new
 * entries refer to), write the area, sync again.  Areas emptied by
 * merging (held) are written first, from the last one down, each synced
 * before the next, so that the store on disk is valid after each write.
 */
int snap_writer_commit(struct snap_writer *w);

/* ---- merging (B.10) ---- */

/*
 * The last run of the store: if the current area is empty, step back to
 * the previous (full) area, reading it (an emptied area not yet written
 * is held for the next commit).  *len = 0 when the store is empty;
 * otherwise *last is the last entry and *len the number of entries
 * before it (itself included) that continue it backwards.
 */
int snap_writer_last_run(struct snap_writer *w, struct snap_exception *last,
			 uint64_t *len);

/* The run ending `skip` entries before the end of the current area. */
uint64_t snap_writer_run_at(const struct snap_writer *w, uint64_t skip,
			    struct snap_exception *last);

/* Zero the last n entries of the current area in memory. */
void snap_writer_clear_tail(struct snap_writer *w, uint64_t n);

#endif
