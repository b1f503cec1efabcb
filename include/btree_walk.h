/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * btree_walk.h - depth-first, key-ordered walk of one on-disk B-tree.
 *
 * The walker reads a node's children with one scattered read per node
 * (sorted, merged into runs), validates each block (checksum, location,
 * header, keys inside the range the parent gives), guards against loops
 * and excessive depth, and hands every valid node to the caller.  The
 * caller decides, through enter(), whether a node is walked or skipped:
 * that is how shared subtrees are visited once.  Problems are reported
 * through problem() and the bad subtree is skipped; the walk goes on
 * unless a callback returns a negative value, which aborts it.
 *
 * With leaf_depth > 0 the nodes at that depth are not read: their
 * pointers go to leaf_ptr() with the key range the parent gives, so a
 * caller can collect leaves first and read them later in bulk.
 *
 * The walker allocates its per-level buffers once and reuses them; it
 * allocates nothing per block.
 */
#ifndef THINSNAP_BTREE_WALK_H
#define THINSNAP_BTREE_WALK_H

#include <stdint.h>

#include "block_io.h"
#include "btree.h"

#define BTREE_POS_NO_PARENT UINT64_MAX

enum { BTREE_WALK_SKIP = 0, BTREE_WALK_VISIT = 1 };

struct btree_pos {
	uint64_t block;
	uint64_t parent;	/* BTREE_POS_NO_PARENT for the root */
	uint64_t lo, hi;	/* inclusive range the node's keys must lie in */
	unsigned depth;		/* 0 for the root */
	unsigned index;		/* entry in the parent */
};

struct btree_walk_ops {
	/* Before reading: BTREE_WALK_VISIT, BTREE_WALK_SKIP or < 0 (abort). */
	int (*enter)(void *ctx, const struct btree_pos *pos);
	/* A valid node, internal nodes before their children. */
	int (*node)(void *ctx, const struct btree_node *n,
		    const struct btree_pos *pos);
	/* After the subtree of a node that node() accepted. */
	int (*leave)(void *ctx, const struct btree_pos *pos);
	/*
	 * A problem at pos (detail: the claimed blocknr for BP_BLOCKNR, the
	 * entry index for key problems, -errno for BP_IO).  Return 0 to go
	 * on (a fatal problem skips the node), < 0 to abort.
	 */
	int (*problem)(void *ctx, const struct btree_pos *pos,
		       enum btree_problem p, uint64_t detail);
	/* leaf_depth mode: a pointer to a node at leaf_depth. */
	int (*leaf_ptr)(void *ctx, const struct btree_pos *pos);
};

struct btree_walk_level {
	uint8_t *buf;
	unsigned cap;
};

struct btree_walker {
	struct bdev *dev;
	uint64_t nr_blocks;	  /* valid pointers are below this */
	uint32_t leaf_value_size; /* value size leaves must have */
	int leaf_depth;		  /* 0: read everything */
	const struct btree_walk_ops *ops;
	void *ctx;
	/* private */
	struct btree_walk_level levels[BTREE_MAX_DEPTH + 1];
	uint64_t path[BTREE_MAX_DEPTH + 1];
};

void btree_walker_init(struct btree_walker *w, struct bdev *dev,
		       uint64_t nr_blocks);
void btree_walker_release(struct btree_walker *w);

/*
 * Walk the tree at `root`, whose keys must lie in [lo, hi].  Uses
 * w->leaf_value_size, w->leaf_depth, w->ops and w->ctx as set by the
 * caller.  Returns 0, a callback's negative value, or -ENOMEM.
 */
int btree_walk(struct btree_walker *w, uint64_t root, uint64_t lo,
	       uint64_t hi);

/*
 * Height of the tree at root: the number of levels down to the first
 * readable leaf, following the leftmost child that reads and validates
 * (1 for a tree that is a single leaf); *leaf_entries gets that leaf's
 * nr_entries.  Returns BP_NONE, or the first problem met when no path
 * works (the node that had it in *where).
 */
enum btree_problem btree_height(struct btree_walker *w, uint64_t root,
				unsigned *height, uint32_t *leaf_entries,
				uint64_t *where);

#endif
