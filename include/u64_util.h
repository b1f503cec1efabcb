/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * u64_util.h - small helpers for tables keyed by 64-bit numbers (block
 * numbers, device ids): a mixer that spreads keys over the slots of an
 * open-addressing hash table, and a qsort comparator.
 */
#ifndef THINSNAP_U64_UTIL_H
#define THINSNAP_U64_UTIL_H

#include <stdint.h>

static inline uint64_t u64_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	return k ^ (k >> 33);
}

static inline int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

#endif
