/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * md_writer.h - allocate and write metadata blocks for a new pool.
 *
 * Blocks are handed out in increasing order from block 1 (block 0 is the
 * superblock, written last by the caller) and written through a large
 * write-combining buffer, so building a pool is a stream of big
 * sequential writes.  The writer keeps the reference count of every
 * block it hands out (the caller adds one per pointer), which is what
 * the metadata space map is built from.
 *
 * When the device is full the writer keeps counting without writing, so
 * the caller can finish its input and report how much space it needs.
 */
#ifndef THINSNAP_MD_WRITER_H
#define THINSNAP_MD_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "block_io.h"
#include "refcount.h"

#define MD_WRITER_BATCH 256u

struct md_writer {
	struct bdev *dev;
	uint64_t nr_blocks;	/* blocks the space map will describe */
	uint64_t next;		/* next block to hand out */
	struct refcount counts;
	uint8_t *buf;		/* blocks [buf_start, buf_start + nbuf) */
	uint64_t buf_start;
	unsigned nbuf;
	uint8_t *scratch;	/* where blocks go once the device is full */
	int err;		/* first write error */
};

int md_writer_init(struct md_writer *w, struct bdev *dev, uint64_t nr_blocks);
void md_writer_release(struct md_writer *w);

/*
 * A new block: its number in *b and a zeroed 4 KiB buffer to fill and
 * seal before the next call (the writer writes it out later).
 */
uint8_t *md_writer_new_block(struct md_writer *w, uint64_t *b);

/* Read back a block written (or still buffered) earlier. */
int md_writer_read(struct md_writer *w, uint64_t b, void *buf);

/* Count one pointer to block b. */
int md_writer_ref(struct md_writer *w, uint64_t b);

/* Write out the buffered blocks and fdatasync; 0 or the first error. */
int md_writer_flush(struct md_writer *w);

/* True when more blocks were needed than the device has. */
static inline bool md_writer_full(const struct md_writer *w)
{
	return w->next > w->nr_blocks;
}

#endif
