/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sm_repair.h - free leaked blocks of an on-disk space map, in place.
 *
 * A leak is a block whose bitmap entry is 1 while nothing references it
 * (computed count 0).  Repair sets those entries to 0 and brings the
 * index entries of the bitmaps it changed up to date; nothing else is
 * written: healthy bitmaps and index entries stay byte-identical.  Any
 * other difference between the bitmap and the computed counts makes the
 * plan fail with -EILSEQ before anything is written (call it only after
 * a check found no bad reference counts).
 *
 * Three steps, so the caller can order the writes of several maps:
 *
 *   sm_repair_plan()      read every bitmap, find the leaks, compute the
 *                         new index entries (no writes);
 *   sm_repair_index()     rewrite the index blocks (metadata map) or
 *                         index tree leaves (data map) holding changed
 *                         entries: new nr_free and none_free_before;
 *   sm_repair_bitmaps()   rewrite the bitmaps that held leaks.
 *
 * Crash safety.  Every write replaces one whole 4 KiB block in place with
 * a block that is valid on its own (own location, fresh checksum), so an
 * interruption between two writes leaves every block intact.  (A write
 * torn inside a block, which the kernel's copy-on-write never risks for a
 * live block, would leave that block with a bad checksum: a check then
 * reports it as fatal, and thin_repair is the way out.)  The index
 * goes first: until its bitmap is rewritten, a changed entry only claims
 * more free blocks (nr_free) and an earlier free one (none_free_before)
 * than the bitmap holds, and the kernel treats both as search hints (it
 * skips a bitmap whose search finds nothing).  The bitmaps go last: once
 * one is written the leak is gone for good.  The new entries depend only
 * on the bitmap after repair (nr_free = entries at 0 in the whole bitmap,
 * the kernel's convention; none_free_before = first entry at 0), so a
 * rerun after an interruption computes the same entries for the bitmaps
 * that still hold leaks and ends with the same bytes as an uninterrupted
 * repair.  The caller syncs (bdev_sync) between the steps.
 */
#ifndef THINSNAP_SM_REPAIR_H
#define THINSNAP_SM_REPAIR_H

#include <stdint.h>

#include "block_io.h"
#include "block_validator.h"
#include "refcount.h"
#include "space_map.h"

/* Where index entry i is stored: a block and the byte offset in it. */
struct sm_index_loc {
	uint64_t block;
	uint32_t offset;
};

struct sm_repair_change {
	uint64_t bitmap;		/* bitmap index i */
	struct sm_index_entry entry;	/* its entry after the repair */
	uint32_t freed;			/* leaked entries cleared */
};

struct sm_repair {
	/* input */
	const struct sm_root *root;	     /* nr_blocks */
	const struct sm_index_entry *index;  /* sm_nr_bitmaps(nr_blocks) */
	const struct sm_index_loc *loc;	     /* one per index entry */
	enum block_kind index_kind;	     /* BK_INDEX or BK_BTREE_NODE */
	const struct refcount *computed;
	/* the plan */
	struct sm_repair_change *changes;    /* by increasing bitmap */
	uint64_t nr_changes;
	uint64_t freed;			     /* leaked blocks, all bitmaps */
	uint64_t allocated;		     /* blocks in use after repair */
};

/*
 * Read every bitmap and plan the repair.  0, or -ENOMEM, -EIO (a bitmap
 * could not be read), -EILSEQ (a bitmap fails validation or holds a
 * difference that is not a leak).  An empty plan (freed == 0) is fine.
 */
int sm_repair_plan(struct bdev *dev, struct sm_repair *r);

/* Rewrite the index blocks holding changed entries (re-read, checked). */
int sm_repair_index(struct bdev *dev, const struct sm_repair *r);

/* Rewrite the bitmaps that held leaks (re-read, checked). */
int sm_repair_bitmaps(struct bdev *dev, const struct sm_repair *r);

void sm_repair_release(struct sm_repair *r);

#endif
