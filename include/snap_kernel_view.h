/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * snap_kernel_view.h - which exception the kernel reads for each origin
 * chunk of a persistent store that holds several for the same chunk.
 *
 * On activation dm-snapshot inserts the exceptions, in on-disk order,
 * into a hash table whose buckets hold the origin chunks of one aligned
 * group of 256 (FORMATS.md B.5).  A bucket's list is kept in origin chunk
 * order, and an exception that continues an entry's run (both chunks one
 * past its end) or precedes it (both one before its start) joins that
 * entry instead of getting its own; a repeated origin chunk that joins
 * nothing goes after the entries already there.  A read returns the first
 * entry whose run covers the chunk.  So the earlier of two exceptions
 * normally wins, but a later one that joins the run of an entry placed
 * before the earlier one wins instead.
 *
 * The model replays this per group, only for groups that hold a repeated
 * origin chunk: elsewhere every exception is read as it stands.
 */
#ifndef THINSNAP_SNAP_KERNEL_VIEW_H
#define THINSNAP_SNAP_KERNEL_VIEW_H

#include <stdint.h>

#include "snap_store.h"

/* Origin chunks per bucket group: 1 << DM_CHUNK_CONSECUTIVE_BITS. */
#define SNAP_KERNEL_GROUP_SHIFT 8

/*
 * For each exception k of ex[0..n) (on-disk order), set reads[k] to the
 * index of the exception whose COW chunk the kernel returns for origin
 * chunk ex[k].old_chunk (the earliest of identical ones); reads[k] == k
 * when it is ex[k] itself.  Returns 0, -ENOMEM, or -E2BIG when the
 * repeats are so many that replaying them would take too long.
 */
int snap_kernel_view(const struct snap_exception *ex, uint64_t n,
		     uint64_t *reads);

#endif
