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

/* Slow path of refcount_inc(): new segments and counts reaching 3. */
int refcount_inc_slow(struct refcount *rc, uint64_t b);

/* Add one to block b's count: 0, -ERANGE (b >= nr_blocks) or -ENOMEM. */
static inline int refcount_inc(struct refcount *rc, uint64_t b)
{
	if (b < rc->nr_blocks) {
		uint8_t *s = rc->seg[b / 16320u];
		unsigned j = (unsigned)(b % 16320u);
		if (s) {
			/* two-bit value v, stored high bit first: 0->1 and 1->2 */
			unsigned p = 2 * (j & 3), byte = s[j >> 2];
			unsigned hi = (byte >> p) & 1, lo = (byte >> (p + 1)) & 1;
			if (!hi) {
				/* v is 0 (lo 0) or 1 (lo 1): becomes 1 or 2 */
				s[j >> 2] = (uint8_t)(byte ^ (lo ? (3u << p) : (2u << p)));
				return 0;
			}
		}
	}
	return refcount_inc_slow(rc, b);
}
/* Set a count outright (used by writers and tests). */
int refcount_set(struct refcount *rc, uint64_t b, uint32_t count);
uint32_t refcount_get(const struct refcount *rc, uint64_t b);

/* Segment i (bitmap body layout), or NULL if none of its blocks was ever
 * counted or set (a segment that was can still be all zero). */
static inline const uint8_t *refcount_segment(const struct refcount *rc,
					      uint64_t i)
{
	return i < rc->nr_segments ? rc->seg[i] : 0;
}

/* Exact count of a block whose 2-bit entry is 3 (0 if not in the hash). */
uint32_t refcount_overflow_get(const struct refcount *rc, uint64_t b);

#endif
