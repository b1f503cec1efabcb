/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mapping_reader.h - walking a pool's trees for the tools that read them.
 *
 * Lists the device details tree and the top-level mapping tree, and gives
 * the leaves of a device's mapping tree in key order: leaf pointers are
 * found with a leaf-depth walk, queued, read LEAF_BATCH at a time with one
 * scatter read, validated together, checked (header, leaf, key range) and
 * handed over one by one.  Every kind of damage goes to one callback with
 * a message naming the tree and block; the caller reports it and says
 * whether to skip the damaged part or stop.
 */
#ifndef THINSNAP_MAPPING_READER_H
#define THINSNAP_MAPPING_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "block_io.h"
#include "btree.h"
#include "btree_walk.h"
#include "thin_devices.h"

#define MAPPING_READER_BATCH 256u

struct mapping_reader_ops {
	/*
	 * Optional: a leaf pointer of the device being read, in key order.
	 * Without it every leaf is read; with it the caller decides, and
	 * queues those to read with mapping_reader_queue().
	 */
	int (*leaf_ptr)(void *ctx, uint64_t block, uint64_t lo, uint64_t hi);
	/* A good leaf of the device being read, in key order. */
	int (*leaf)(void *ctx, const struct btree_node *n);
	/*
	 * Damage, described in msg.  err is the I/O error for a block that
	 * cannot be read, else -EILSEQ; [lo, hi] the keys of the part that
	 * is damaged (lo > hi: none in particular).  Return 0 to skip that
	 * part and go on, or a negative value to stop with it.  (Nodes
	 * reached more often than the metadata has blocks always stop.)
	 */
	int (*damage)(void *ctx, int err, const char *msg, uint64_t lo,
		      uint64_t hi);
};

struct mapping_reader_pending {
	uint64_t block, lo, hi;
};

struct mapping_reader {
	struct bdev *dev;
	uint64_t md_nr;
	const struct mapping_reader_ops *ops;
	void *ctx;
	char desc[64];			/* the tree being read, for messages */
	struct btree_walker w;
	uint64_t visits;
	bool listing;
	bool details;			/* listing: details, else roots */
	struct thin_dev_list *list;
	struct mapping_reader_pending pend[MAPPING_READER_BATCH];
	unsigned npend;
	uint8_t *buf;
};

/* md_nr: blocks of the metadata device that trees may use. */
int mapping_reader_init(struct mapping_reader *mr, struct bdev *dev,
			uint64_t md_nr, const struct mapping_reader_ops *ops,
			void *ctx);
void mapping_reader_release(struct mapping_reader *mr);

/* Name the tree read next, for messages ("mapping tree of device 3"). */
void mapping_reader_describe(struct mapping_reader *mr, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append the entries of the details tree (details) or the top-level
 * mapping tree (roots) at root to out. */
int mapping_reader_list(struct mapping_reader *mr, uint64_t root, bool details,
			struct thin_dev_list *out);

/* Every leaf of the mapping tree at root, in key order; flushed at the end. */
int mapping_reader_leaves(struct mapping_reader *mr, uint64_t root);

/* Read this leaf (in key order after those queued before). */
int mapping_reader_queue(struct mapping_reader *mr, uint64_t block,
			 uint64_t lo, uint64_t hi);
/* Read and hand over every queued leaf now. */
int mapping_reader_flush(struct mapping_reader *mr);

#endif
