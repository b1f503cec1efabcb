// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * In-memory reference counts in space-map layout.
 */
#include "refcount.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "space_map.h"
#include "u64_util.h"

#define EMPTY UINT64_MAX

int refcount_init(struct refcount *rc, uint64_t nr_blocks)
{
	memset(rc, 0, sizeof(*rc));
	rc->nr_blocks = nr_blocks;
	rc->nr_segments = sm_nr_bitmaps(nr_blocks);
	rc->seg = calloc(rc->nr_segments ? rc->nr_segments : 1,
			 sizeof(*rc->seg));
	return rc->seg ? 0 : -ENOMEM;
}

void refcount_release(struct refcount *rc)
{
	for (uint64_t i = 0; i < rc->nr_segments; i++)
		free(rc->seg[i]);
	free(rc->seg);
	free(rc->ovf.keys);
	free(rc->ovf.vals);
	memset(rc, 0, sizeof(*rc));
}

static uint64_t ovf_slot(const struct refcount_overflow *o, uint64_t b)
{
	uint64_t i = u64_hash(b) & (o->cap - 1);
	while (o->keys[i] != EMPTY && o->keys[i] != b)
		i = (i + 1) & (o->cap - 1);
	return i;
}

static int ovf_grow(struct refcount_overflow *o)
{
	struct refcount_overflow n = { 0 };
	n.cap = o->cap ? o->cap * 2 : 1024;
	n.keys = malloc(n.cap * sizeof(*n.keys));
	n.vals = malloc(n.cap * sizeof(*n.vals));
	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return -ENOMEM;
	}
	memset(n.keys, 0xff, n.cap * sizeof(*n.keys));
	for (uint64_t i = 0; i < o->cap; i++) {
		if (o->keys[i] == EMPTY)
			continue;
		uint64_t s = ovf_slot(&n, o->keys[i]);
		n.keys[s] = o->keys[i];
		n.vals[s] = o->vals[i];
	}
	n.used = o->used;
	free(o->keys);
	free(o->vals);
	*o = n;
	return 0;
}

static int ovf_put(struct refcount_overflow *o, uint64_t b, uint32_t v)
{
	if ((o->used + 1) * 2 > o->cap) {
		int r = ovf_grow(o);
		if (r)
			return r;
	}
	uint64_t s = ovf_slot(o, b);
	if (o->keys[s] == EMPTY) {
		o->keys[s] = b;
		o->used++;
	}
	o->vals[s] = v;
	return 0;
}

uint32_t refcount_overflow_get(const struct refcount *rc, uint64_t b)
{
	if (!rc->ovf.cap)
		return 0;
	uint64_t s = ovf_slot(&rc->ovf, b);
	return rc->ovf.keys[s] == EMPTY ? 0 : rc->ovf.vals[s];
}

static uint8_t *segment_for(struct refcount *rc, uint64_t b, unsigned *j)
{
	uint64_t i = b / SM_ENTRIES_PER_BITMAP;
	*j = (unsigned)(b % SM_ENTRIES_PER_BITMAP);
	if (!rc->seg[i])
		rc->seg[i] = calloc(1, SM_BITMAP_BYTES);
	return rc->seg[i];
}

int refcount_inc_slow(struct refcount *rc, uint64_t b)
{
	unsigned j;
	if (b >= rc->nr_blocks)
		return -ERANGE;
	uint8_t *s = segment_for(rc, b, &j);
	if (!s)
		return -ENOMEM;
	unsigned v = sm_bitmap_get(s, j);
	if (v < 2) {
		sm_bitmap_set(s, j, v + 1);
		return 0;
	}
	if (v == 2) {
		/* exact count first, so a failure leaves the count at 2 */
		int r = ovf_put(&rc->ovf, b, 3);
		if (!r)
			sm_bitmap_set(s, j, 3);
		return r;
	}
	uint32_t c = refcount_overflow_get(rc, b);
	return ovf_put(&rc->ovf, b, c == UINT32_MAX ? c : c + 1);
}

int refcount_set(struct refcount *rc, uint64_t b, uint32_t count)
{
	unsigned j;
	if (b >= rc->nr_blocks)
		return -ERANGE;
	uint8_t *s = segment_for(rc, b, &j);
	if (!s)
		return -ENOMEM;
	if (count >= 3) {
		int r = ovf_put(&rc->ovf, b, count);
		if (!r)
			sm_bitmap_set(s, j, 3);
		return r;
	}
	sm_bitmap_set(s, j, count);
	if (rc->ovf.cap) {
		uint64_t slot = ovf_slot(&rc->ovf, b);
		if (rc->ovf.keys[slot] != EMPTY)
			rc->ovf.vals[slot] = count; /* stale; entry is < 3 */
	}
	return 0;
}

uint32_t refcount_get(const struct refcount *rc, uint64_t b)
{
	if (b >= rc->nr_blocks)
		return 0;
	const uint8_t *s = rc->seg[b / SM_ENTRIES_PER_BITMAP];
	if (!s)
		return 0;
	unsigned v = sm_bitmap_get(s, (unsigned)(b % SM_ENTRIES_PER_BITMAP));
	return v < 3 ? v : refcount_overflow_get(rc, b);
}
