/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * snap_store.h - the dm-snapshot persistent exception store (FORMATS.md B).
 *
 * A COW device holds a header chunk, then metadata areas of E = chunk
 * bytes / 16 exceptions, each area followed by the E data chunks it
 * normally describes.  Opening a store reads the header and every area up
 * to the terminator (the first entry whose new_chunk is 0), exactly as
 * the kernel does on activation, and derives the kernel's bookkeeping
 * (current area, next free chunk, status figures).  snap_store_check()
 * applies the rules of B.14 and reports through a reporter.
 */
#ifndef THINSNAP_SNAP_STORE_H
#define THINSNAP_SNAP_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "block_io.h"
#include "report.h"

#define SNAP_MAGIC	    0x70416e53u /* "SnAp" */
#define SNAP_VERSION	    1u
#define SNAP_EXCEPTION_SIZE 16u
#define SNAP_SECTOR	    512u

struct snap_exception {
	uint64_t old_chunk; /* origin chunk */
	uint64_t new_chunk; /* COW chunk holding its data */
};

enum snap_header_state {
	SNAP_FORMATTED,	  /* magic, version and chunk size usable */
	SNAP_UNFORMATTED, /* magic 0: the kernel formats it on activation */
	SNAP_BAD_MAGIC,
	SNAP_BAD_VERSION,
	SNAP_BAD_CHUNK_SIZE,
};

struct snap_store {
	struct bdev *dev;
	enum snap_header_state state;
	uint32_t magic, valid, version, chunk_size; /* chunk_size in sectors */
	uint64_t chunk_bytes;
	uint64_t nr_chunks;	   /* whole chunks on the COW device */
	uint64_t per_area;	   /* E: exceptions per metadata area */
	struct snap_exception *ex; /* in on-disk order */
	uint64_t nr_ex;
	uint64_t current_area;	   /* the area holding the terminator */
	uint64_t current_committed; /* its index there */
	uint64_t next_free;	   /* next chunk the kernel would allocate */
	bool truncated;		   /* an area lies (partly) past the end */
	uint64_t truncated_area;
	uint64_t dirty_tail_area;  /* an area with bytes after its terminator */
	bool dirty_tail;
};

/* Chunk of metadata area a. */
static inline uint64_t snap_area_location(const struct snap_store *s,
					  uint64_t a)
{
	return 1 + a * (s->per_area + 1);
}

static inline bool snap_is_area(const struct snap_store *s, uint64_t chunk)
{
	return chunk >= 1 && (chunk - 1) % (s->per_area + 1) == 0;
}

/*
 * Read the store on dev.  Returns 0 (look at s->state and s->valid), or a
 * negative errno when the device cannot be read or memory runs out.
 * Exceptions are read only from a formatted, valid store.
 */
int snap_store_open(struct snap_store *s, struct bdev *dev);
void snap_store_release(struct snap_store *s);

struct snap_check_opts {
	uint64_t origin_sectors;	 /* 0: unknown */
	uint32_t expected_chunk_size;	 /* 0: any */
};

/* Status figures, in sectors, as `dmsetup status` prints them. */
struct snap_usage {
	uint64_t allocated, total, metadata;
};

void snap_store_usage(const struct snap_store *s, struct snap_usage *u);

/*
 * B.14: fatal findings, errors and information go to the reporter.
 * Returns 0 or -ENOMEM.
 */
int snap_store_check(const struct snap_store *s,
		     const struct snap_check_opts *o, struct reporter *rep);

#endif
