/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * btree_builder.h - build a B-tree bottom-up from keys in increasing order.
 *
 * Entries fill leaves completely (max_entries by the A.4.3 rule) except
 * the last; finishing writes the internal levels above them, each node
 * keyed by its first child's first key, until one root is left.  Like
 * the kernel, the builder keeps every node but the root at least a third
 * full: the last node of a level shares entries with the one before it
 * when it would have fewer (one full leaf is held back for this).  Leaves
 * built elsewhere (shared leaves of several devices) can be spliced in
 * between entries.  Every pointer the builder writes is counted in the
 * metadata writer; the pointer to the root is the caller's to count.
 */
#ifndef THINSNAP_BTREE_BUILDER_H
#define THINSNAP_BTREE_BUILDER_H

#include <stdbool.h>
#include <stdint.h>

#include "md_writer.h"

struct btree_child_list {
	uint64_t *keys;
	uint64_t *blocks;
	uint32_t *counts;	/* entries in each (leaves only) */
	uint8_t *shared;	/* 1: spliced in, written by someone else */
	uint64_t n, cap;
};

struct btree_builder {
	struct md_writer *mw;
	uint32_t value_size;
	uint32_t max_entries;
	bool values_are_blocks;	 /* count each value as a block pointer */
	uint8_t *leaf;		 /* the leaf being filled (private buffer) */
	uint32_t nr;		 /* entries in it */
	uint8_t *held;		 /* the last full leaf, not written yet */
	bool have_held;
	bool last_spliced;	 /* leaves' last entry is a spliced leaf */
	/* called for each entry copied out of a leaf that was not shared
	 * after all (see btree_builder_add_leaf) */
	int (*copied)(void *ctx, uint64_t key, const uint8_t *value);
	void *copied_ctx;
	uint64_t nr_entries;	 /* entries added in total (spliced included) */
	struct btree_child_list leaves;
};

void btree_builder_init(struct btree_builder *b, struct md_writer *mw,
			uint32_t value_size, bool values_are_blocks);
void btree_builder_release(struct btree_builder *b);

/* Append an entry (keys must increase; the caller checks). */
int btree_builder_add(struct btree_builder *b, uint64_t key,
		      const void *value);

/*
 * Append a leaf written elsewhere (by this writer), whose first key is
 * first_key and that holds nr_entries entries: it ends the leaf being
 * filled.  To keep every node a third full, the leaf's entries are
 * copied instead of sharing it when it is itself too small or when the
 * leaf being filled is too small and has no full leaf before it; and a
 * final leaf that is too small takes back the entries of a shared leaf
 * before it.  b->copied is told of every entry copied that way.
 */
int btree_builder_add_leaf(struct btree_builder *b, uint64_t first_key,
			   uint64_t block, uint32_t nr_entries);

/*
 * Write out the leaf being filled, if any.  Afterwards b->leaves lists
 * every leaf so far (first key, block): what a caller that shares leaves
 * (a <def>) keeps instead of finishing the tree.
 */
int btree_builder_close_leaf(struct btree_builder *b);

/* Write the internal levels; *root is the tree's root (an empty leaf if
 * nothing was added). */
int btree_builder_finish(struct btree_builder *b, uint64_t *root);

#endif
