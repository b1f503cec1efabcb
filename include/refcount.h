/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * refcount.h - reference counts computed in memory, in space-map layout.
 *
 * Counts are kept exactly as a space map stores them: two bits per block
 * in segments of 16320 entries encoded like a bitmap body, and a hash of
 * exact counts for blocks counted 3 or more.  A segment is allocated only
 * when one of its blocks is first counted, so memory follows what is in
 * use, not the size of the device; comparing with an on-disk bitmap is a
 * word-by-word compare of the segment with the bitmap body.
 */
#ifndef THINSNAP_REFCOUNT_H
#define THINSNAP_REFCOUNT_H

#include <stdbool.h>
#include <stdint.h>

struct refcount_overflow {
	uint64_t *keys; /* UINT64_MAX = empty slot */
	uint32_t *vals;
	uint64_t cap;	/* power of two */
	uint64_t used;
};

struct refcount {
	uint64_t nr_blocks;
	uint64_t nr_segments;
	uint8_t **seg;
	struct refcount_overflow ovf;
};

int refcount_init(struct refcount *rc, uint64_t nr_blocks);
void refcount_release(struct refcount *rc);

/* Add one to block b's count: 0, -ERANGE (b >= nr_blocks) or -ENOMEM. */
int refcount_inc(struct refcount *rc, uint64_t b);
/* Set a count outright (used by writers and tests). */
int refcount_set(struct refcount *rc, uint64_t b, uint32_t count);
uint32_t refcount_get(const struct refcount *rc, uint64_t b);

/* Segment i (bitmap body layout), or NULL when all its counts are 0. */
static inline const uint8_t *refcount_segment(const struct refcount *rc,
					      uint64_t i)
{
	return i < rc->nr_segments ? rc->seg[i] : 0;
}

/* Exact count of a block whose 2-bit entry is 3 (0 if not in the hash). */
uint32_t refcount_overflow_get(const struct refcount *rc, uint64_t b);

#endif
