/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * snap_repair.h - rebuild a damaged persistent exception store.
 *
 * The store is read leniently (a damaged header is replaced when the
 * chunk size is known, a list that runs off the end of the device is cut
 * there), and every exception is judged in on-disk order: it is kept
 * unless its COW chunk lies beyond the device or on a metadata area, or
 * it uses the COW chunk of an exception already kept, or the origin
 * chunk has several exceptions and the kernel reads another one
 * (snap_kernel_view.h: normally the earliest; if the one it reads has a
 * COW chunk on an area or past the end, the one it would read were such
 * exceptions gone).  Kept exceptions stay
 * on the same COW chunks; data chunks are never changed.  The store is
 * then written again to another device (after copying the kept data
 * chunks) or in place, where the areas are written one by one, each
 * synced, and a damaged header last, so that an interruption leaves a
 * store that still holds every kept exception and a rerun finishes.
 */
#ifndef THINSNAP_SNAP_REPAIR_H
#define THINSNAP_SNAP_REPAIR_H

#include "snap_store.h"

struct snap_repair_opts {
	uint32_t chunk_size;	/* 0: trust the header */
	bool force_invalid;	/* read the areas of an invalidated store */
	uint64_t out_bytes;	/* size of the output; 0: in place */
};

enum snap_repair_status {
	SNAP_REPAIR_OK,
	SNAP_REPAIR_NEED_CHUNK_SIZE, /* header unusable and no chunk size */
	SNAP_REPAIR_CHUNK_MISMATCH,  /* header and option disagree */
	SNAP_REPAIR_INVALID,	     /* valid = 0 and not forced */
	SNAP_REPAIR_TOO_SMALL,	     /* fewer than two chunks */
	SNAP_REPAIR_IN_PLACE_UNSAFE, /* an interrupted run could choose
				      * other repeats: use another device */
};

enum snap_drop_reason {
	SNAP_DROP_AREA,		/* COW chunk is a metadata area */
	SNAP_DROP_BEYOND,	/* COW chunk past the end of the device */
	SNAP_DROP_SHARED_COW,	/* COW chunk of an earlier kept exception */
	SNAP_DROP_SAME_ORIGIN,	/* the kernel reads another exception for it */
	SNAP_DROP_NO_ROOM,	/* no room for the area after a full one */
};

struct snap_dropped {
	uint64_t index;		/* position in the on-disk list */
	struct snap_exception e;
	enum snap_drop_reason why;
	uint64_t other;		/* SHARED_COW: the kept one's index;
				 * SAME_ORIGIN: the one chosen instead */
	uint64_t kernel;	/* SAME_ORIGIN: the one the kernel reads (not
				 * `other` when its COW chunk is unusable) */
	bool other_dropped;	/* SAME_ORIGIN: `other` is dropped too */
};

struct snap_repair {
	enum snap_header_state header; /* as found */
	uint32_t found_chunk_size, found_valid;
	bool rewrite_header;	/* the header must be written */
	uint32_t chunk_size;	/* the one used */
	uint64_t chunk_bytes, per_area, nr_chunks;
	bool truncated;		/* the list ran off the end of the device */
	bool dirty_tail;	/* bytes after a terminator */
	bool in_place_unsafe;	/* see SNAP_REPAIR_IN_PLACE_UNSAFE */
	uint64_t nr_read;	/* exceptions read */
	struct snap_exception *kept;
	uint64_t nr_kept;
	struct snap_dropped *dropped;
	uint64_t nr_dropped;
};

/*
 * Read and judge the store on dev.  Returns 0 with *st telling whether
 * it can be repaired, or a negative errno (-E2BIG: too many exceptions
 * for the same origin chunks to work out which the kernel reads).
 */
int snap_repair_read(struct snap_repair *r, struct bdev *dev,
		     const struct snap_repair_opts *o,
		     enum snap_repair_status *st);
void snap_repair_release(struct snap_repair *r);

/* Area and entry of list position k. */
static inline void snap_repair_where(const struct snap_repair *r, uint64_t k,
				     uint64_t *area, uint64_t *entry)
{
	*area = k / r->per_area;
	*entry = k % r->per_area;
}

/* Bytes a device needs to hold the repaired store and its data chunks. */
uint64_t snap_repair_bytes(const struct snap_repair *r);

/*
 * Write the repaired store to out.  out != in: clear out's header, copy
 * the kept data chunks (chunk_copy.h: several threads, neighbours
 * coalesced; through in_data/out_data, O_DIRECT descriptors of the same
 * devices, where given), then write areas and header (snap_image_write).
 * out == in: rewrite only the areas that differ, in order, each synced,
 * then the header if it was damaged.  -ENOSPC if out is too small.
 */
int snap_repair_write(const struct snap_repair *r, struct bdev *in,
		      struct bdev *out, struct bdev *in_data,
		      struct bdev *out_data);

#endif
