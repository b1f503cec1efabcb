/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * btree.h - the persistent-data B-tree node format (FORMATS.md A.4).
 *
 * One node fills one metadata block: a 32-byte header, max_entries u64
 * keys, then max_entries values of value_size bytes.  This module decodes
 * a node and checks its header and keys; it knows nothing about what the
 * values mean (see btree_walk.h for walking whole trees).
 */
#ifndef THINSNAP_BTREE_H
#define THINSNAP_BTREE_H

#include <stdbool.h>
#include <stdint.h>

#include "endian_le.h"

#define BTREE_NODE_INTERNAL  1u
#define BTREE_NODE_LEAF	     2u
#define BTREE_HEADER_SIZE    32u
#define BTREE_MAX_DEPTH	     64u
/* Most entries any node can hold (value_size 8 is the smallest in use). */
#define BTREE_MAX_CHILDREN   254u

struct btree_node {
	const uint8_t *raw;	/* the 4096-byte block */
	uint64_t blocknr;	/* where it was read from */
	uint32_t flags;
	uint32_t nr_entries;
	uint32_t max_entries;
	uint32_t value_size;
};

/* Problems a node or a pointer to it can have; see btree_problem_str(). */
enum btree_problem {
	BP_NONE = 0,
	BP_IO,		  /* could not be read (e.g. beyond the device end) */
	BP_CSUM,	  /* checksum mismatch */
	BP_BLOCKNR,	  /* intact block written for another location */
	BP_FLAGS,	  /* neither exactly INTERNAL nor exactly LEAF */
	BP_VALUE_SIZE,	  /* value_size not what this tree/level uses */
	BP_MAX_ENTRIES,	  /* max_entries does not fit in a block */
	BP_NR_ENTRIES,	  /* nr_entries > max_entries */
	BP_EMPTY_INTERNAL, /* internal node with no entries */
	BP_KEY_ORDER,	  /* keys not strictly increasing */
	BP_KEY_RANGE,	  /* key outside the range the parent gives */
	BP_LOOP,	  /* node is its own ancestor */
	BP_DEPTH,	  /* deeper than BTREE_MAX_DEPTH */
	BP_CHILD_RANGE,	  /* pointer past the end of the metadata */
	BP_NULL_CHILD,	  /* pointer to block 0 (the superblock) */
	BP_MAX_RULE,	  /* (non-fatal) max_entries not what writers use */
	BP_KIND,	  /* node reached as two kinds of tree */
};

const char *btree_problem_str(enum btree_problem p);
bool btree_problem_is_fatal(enum btree_problem p);

/* max_entries a writer must use for a value size (FORMATS.md A.4.3). */
static inline uint32_t btree_max_entries(uint32_t value_size)
{
	return 3 * (((4096 - BTREE_HEADER_SIZE) / (8 + value_size)) / 3);
}

void btree_node_decode(struct btree_node *n, const void *blk, uint64_t where);

static inline bool btree_node_is_leaf(const struct btree_node *n)
{
	return n->flags == BTREE_NODE_LEAF;
}

static inline uint64_t btree_node_key(const struct btree_node *n, unsigned i)
{
	return le64_load(n->raw + BTREE_HEADER_SIZE + 8u * i);
}

static inline const uint8_t *btree_node_value(const struct btree_node *n,
					      unsigned i)
{
	return n->raw + BTREE_HEADER_SIZE + 8u * n->max_entries +
	       (uint64_t)n->value_size * i;
}

static inline uint64_t btree_node_value64(const struct btree_node *n,
					  unsigned i)
{
	return le64_load(btree_node_value(n, i));
}

/*
 * Check the header of a node: flags, value size (leaf_value_size for a
 * leaf, 8 for an internal node), max_entries, nr_entries.  Returns the
 * first fatal problem, else BP_MAX_RULE if max_entries is unusual, else
 * BP_NONE.
 */
enum btree_problem btree_node_check_header(const struct btree_node *n,
					   uint32_t leaf_value_size);

/*
 * Keys strictly increasing and inside [lo, hi] (inclusive).  On failure
 * *bad_index is the first offending entry.
 */
enum btree_problem btree_node_check_keys(const struct btree_node *n,
					 uint64_t lo, uint64_t hi,
					 unsigned *bad_index);

#endif
