// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * B-tree node decoding and header/key checks.
 */
#include "btree.h"

#include "block_io.h"

const char *btree_problem_str(enum btree_problem p)
{
	switch (p) {
	case BP_NONE:
		return "no problem";
	case BP_IO:
		return "cannot be read";
	case BP_CSUM:
		return "bad checksum";
	case BP_BLOCKNR:
		return "block number field does not match its location";
	case BP_FLAGS:
		return "bad node flags (neither internal nor leaf)";
	case BP_VALUE_SIZE:
		return "unexpected value size";
	case BP_MAX_ENTRIES:
		return "max_entries too large for the value size";
	case BP_NR_ENTRIES:
		return "nr_entries greater than max_entries";
	case BP_EMPTY_INTERNAL:
		return "internal node has no entries";
	case BP_KEY_ORDER:
		return "keys are not strictly increasing";
	case BP_KEY_RANGE:
		return "key outside the range given by the parent";
	case BP_LOOP:
		return "loop in btree (node is its own ancestor)";
	case BP_DEPTH:
		return "btree too deep";
	case BP_CHILD_RANGE:
		return "points beyond the end of the metadata device";
	case BP_NULL_CHILD:
		return "points to block 0, the superblock";
	case BP_MAX_RULE:
		return "max_entries is not the value writers use";
	case BP_KIND:
		return "block is used by two different structures";
	}
	return "unknown problem";
}

bool btree_problem_is_fatal(enum btree_problem p)
{
	return p != BP_NONE && p != BP_MAX_RULE;
}

void btree_node_decode(struct btree_node *n, const void *blk, uint64_t where)
{
	const uint8_t *b = blk;
	n->raw = b;
	n->blocknr = where;
	n->flags = le32_load(b + 4);
	n->nr_entries = le32_load(b + 16);
	n->max_entries = le32_load(b + 20);
	n->value_size = le32_load(b + 24);
}

enum btree_problem btree_node_check_header(const struct btree_node *n,
					   uint32_t leaf_value_size)
{
	uint32_t want_vs;
	if (n->flags == BTREE_NODE_LEAF)
		want_vs = leaf_value_size;
	else if (n->flags == BTREE_NODE_INTERNAL)
		want_vs = 8;
	else
		return BP_FLAGS;
	if (n->value_size != want_vs)
		return BP_VALUE_SIZE;
	if (n->max_entries > (MD_BLOCK_SIZE - BTREE_HEADER_SIZE) /
				     (8u + n->value_size))
		return BP_MAX_ENTRIES;
	if (n->nr_entries > n->max_entries)
		return BP_NR_ENTRIES;
	if (n->flags == BTREE_NODE_INTERNAL && n->nr_entries == 0)
		return BP_EMPTY_INTERNAL;
	if (n->max_entries != btree_max_entries(n->value_size))
		return BP_MAX_RULE;
	return BP_NONE;
}

enum btree_problem btree_node_check_keys(const struct btree_node *n,
					 uint64_t lo, uint64_t hi,
					 unsigned *bad_index)
{
	uint64_t prev = 0;
	for (unsigned i = 0; i < n->nr_entries; i++) {
		uint64_t k = btree_node_key(n, i);
		if (i && k <= prev) {
			*bad_index = i;
			return BP_KEY_ORDER;
		}
		if (k < lo || k > hi) {
			*bad_index = i;
			return BP_KEY_RANGE;
		}
		prev = k;
	}
	return BP_NONE;
}
