// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Bottom-up B-tree construction.
 */
#include "btree_builder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block_validator.h"
#include "btree.h"
#include "endian_le.h"

void btree_builder_init(struct btree_builder *b, struct md_writer *mw,
			uint32_t value_size, bool values_are_blocks)
{
	memset(b, 0, sizeof(*b));
	b->mw = mw;
	b->value_size = value_size;
	b->max_entries = btree_max_entries(value_size);
	b->values_are_blocks = values_are_blocks;
}

static void list_release(struct btree_child_list *l)
{
	free(l->keys);
	free(l->blocks);
	free(l->counts);
	free(l->shared);
	memset(l, 0, sizeof(*l));
}

void btree_builder_release(struct btree_builder *b)
{
	free(b->leaf);
	free(b->held);
	b->leaf = b->held = NULL;
	list_release(&b->leaves);
}

static int list_push(struct btree_child_list *l, uint64_t key, uint64_t block,
		     uint32_t count, bool shared)
{
	if (l->n == l->cap) {
		uint64_t cap = l->cap ? l->cap * 2 : 64;
		uint64_t *k = realloc(l->keys, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		l->keys = k;
		uint64_t *bl = realloc(l->blocks, cap * sizeof(*bl));
		if (!bl)
			return -ENOMEM;
		l->blocks = bl;
		uint32_t *c = realloc(l->counts, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		l->counts = c;
		uint8_t *sh = realloc(l->shared, cap * sizeof(*sh));
		if (!sh)
			return -ENOMEM;
		l->shared = sh;
		l->cap = cap;
	}
	l->keys[l->n] = key;
	l->counts[l->n] = count;
	l->shared[l->n] = shared;
	l->blocks[l->n++] = block;
	return 0;
}

static void node_header(uint8_t *blk, uint32_t flags, uint32_t nr,
			uint32_t max, uint32_t value_size)
{
	le32_store(blk + 4, flags);
	le32_store(blk + 16, nr);
	le32_store(blk + 20, max);
	le32_store(blk + 24, value_size);
}

static uint8_t *key_at(uint8_t *leaf, uint32_t i)
{
	return leaf + BTREE_HEADER_SIZE + 8u * i;
}

static uint8_t *value_at(const struct btree_builder *b, uint8_t *leaf,
			 uint32_t i)
{
	return leaf + BTREE_HEADER_SIZE + 8u * b->max_entries +
	       (size_t)b->value_size * i;
}

/* Write a leaf buffer with nr entries as a new block. */
static int write_leaf(struct btree_builder *b, const uint8_t *leaf,
		      uint32_t nr)
{
	uint64_t block;
	uint8_t *blk = md_writer_new_block(b->mw, &block);
	memcpy(blk, leaf, MD_BLOCK_SIZE);
	node_header(blk, BTREE_NODE_LEAF, nr, b->max_entries, b->value_size);
	block_seal(BK_BTREE_NODE, blk, block);
	return list_push(&b->leaves, le64_load(leaf + BTREE_HEADER_SIZE), block,
			 nr, false);
}

/* Move the last k entries of the held leaf to the front of the current. */
static void shift_from_held(struct btree_builder *b, uint32_t k)
{
	uint32_t from = b->max_entries - k;
	memmove(key_at(b->leaf, k), key_at(b->leaf, 0), 8u * b->nr);
	memmove(value_at(b, b->leaf, k), value_at(b, b->leaf, 0),
		(size_t)b->value_size * b->nr);
	memcpy(key_at(b->leaf, 0), key_at(b->held, from), 8u * k);
	memcpy(value_at(b, b->leaf, 0), value_at(b, b->held, from),
	       (size_t)b->value_size * k);
	b->nr += k;
}

static int copy_leaf(struct btree_builder *b, uint64_t block);

/*
 * The leaf being filled is too small and has no full leaf before it, but
 * a spliced leaf: take that leaf's entries back in front of ours.
 */
static int pull_back(struct btree_builder *b)
{
	uint8_t *mine = malloc(MD_BLOCK_SIZE);
	uint32_t n = b->nr;
	int r;
	if (!mine)
		return -ENOMEM;
	memcpy(mine, b->leaf, MD_BLOCK_SIZE);
	b->leaves.n--;
	b->nr_entries -= b->leaves.counts[b->leaves.n] + n;
	b->nr = 0;
	r = copy_leaf(b, b->leaves.blocks[b->leaves.n]);
	for (uint32_t i = 0; i < n && !r; i++)
		r = btree_builder_add(b, le64_load(key_at(mine, i)),
				      value_at(b, mine, i));
	free(mine);
	return r;
}

int btree_builder_close_leaf(struct btree_builder *b)
{
	uint32_t held_nr = b->max_entries, min = b->max_entries / 3;
	int r = 0;
	if (b->nr && b->nr < min && !b->have_held && b->last_spliced &&
	    (r = pull_back(b)))
		return r;
	if (b->have_held && b->nr && b->nr < min) {
		uint32_t k = (b->max_entries + b->nr) / 2 - b->nr;
		shift_from_held(b, k);
		held_nr -= k;
	}
	if (b->have_held)
		r = write_leaf(b, b->held, held_nr);
	b->have_held = false;
	if (!r && b->nr)
		r = write_leaf(b, b->leaf, b->nr);
	b->nr = 0;
	return r;
}

/* The current leaf is full: it becomes the held one. */
static int hold_leaf(struct btree_builder *b)
{
	if (b->have_held) {
		int r = write_leaf(b, b->held, b->max_entries);
		if (r)
			return r;
	}
	uint8_t *t = b->held;
	b->held = b->leaf;
	b->leaf = t;
	b->have_held = true;
	b->nr = 0;
	return 0;
}

int btree_builder_add(struct btree_builder *b, uint64_t key, const void *value)
{
	int r;
	if (!b->leaf) {
		b->leaf = calloc(1, MD_BLOCK_SIZE);
		b->held = calloc(1, MD_BLOCK_SIZE);
		if (!b->leaf || !b->held)
			return -ENOMEM;
	}
	if (b->nr == b->max_entries && (r = hold_leaf(b)))
		return r;
	if (!b->nr)
		memset(b->leaf, 0, MD_BLOCK_SIZE);
	le64_store(key_at(b->leaf, b->nr), key);
	memcpy(value_at(b, b->leaf, b->nr), value, b->value_size);
	b->last_spliced = false;
	b->nr++;
	b->nr_entries++;
	if (b->values_are_blocks)
		return md_writer_ref(b->mw, le64_load(value));
	return 0;
}

/* Add the entries of a leaf written earlier, as entries of our own. */
static int copy_leaf(struct btree_builder *b, uint64_t block)
{
	uint8_t *blk = malloc(MD_BLOCK_SIZE);
	struct btree_node n;
	int r;
	if (!blk)
		return -ENOMEM;
	r = md_writer_read(b->mw, block, blk);
	btree_node_decode(&n, blk, block);
	for (uint32_t i = 0; i < n.nr_entries && !r; i++) {
		uint64_t key = btree_node_key(&n, i);
		const uint8_t *v = btree_node_value(&n, i);
		r = btree_builder_add(b, key, v);
		if (!r && b->copied)
			r = b->copied(b->copied_ctx, key, v);
	}
	free(blk);
	return r;
}

int btree_builder_add_leaf(struct btree_builder *b, uint64_t first_key,
			   uint64_t block, uint32_t nr_entries)
{
	uint32_t min = b->max_entries / 3;
	if (nr_entries < min || (b->nr && b->nr < min && !b->have_held))
		return copy_leaf(b, block);
	int r = btree_builder_close_leaf(b);
	if (r)
		return r;
	b->nr_entries += nr_entries;
	b->last_spliced = true;
	return list_push(&b->leaves, first_key, block, nr_entries, true);
}

/* One level of internal nodes over `in`; counts the child pointers. */
static int build_level(struct btree_builder *b,
		       const struct btree_child_list *in,
		       struct btree_child_list *out)
{
	const uint32_t max = btree_max_entries(8);
	for (uint64_t i = 0, nr; i < in->n; i += nr) {
		uint64_t left = in->n - i;
		/* the last two nodes share when the last would be under a third */
		nr = left <= max ? left
		     : left < max + max / 3 ? left - left / 2 : max;
		uint64_t block;
		uint8_t *blk = md_writer_new_block(b->mw, &block);
		node_header(blk, BTREE_NODE_INTERNAL, (uint32_t)nr, max, 8);
		for (uint64_t k = 0; k < nr; k++) {
			le64_store(blk + BTREE_HEADER_SIZE + 8u * k, in->keys[i + k]);
			le64_store(blk + BTREE_HEADER_SIZE + 8u * max + 8u * k,
				   in->blocks[i + k]);
			int r = md_writer_ref(b->mw, in->blocks[i + k]);
			if (r)
				return r;
		}
		block_seal(BK_BTREE_NODE, blk, block);
		int r = list_push(out, in->keys[i], block, 0, false);
		if (r)
			return r;
	}
	return 0;
}

int btree_builder_finish(struct btree_builder *b, uint64_t *root)
{
	int r = btree_builder_close_leaf(b);
	if (r)
		return r;
	if (!b->leaves.n) {
		uint8_t *blk = md_writer_new_block(b->mw, root);
		node_header(blk, BTREE_NODE_LEAF, 0, b->max_entries, b->value_size);
		block_seal(BK_BTREE_NODE, blk, *root);
		return 0;
	}
	struct btree_child_list level = b->leaves;
	memset(&b->leaves, 0, sizeof(b->leaves));
	while (level.n > 1) {
		struct btree_child_list up = { 0 };
		r = build_level(b, &level, &up);
		list_release(&level);
		level = up;
		if (r)
			break;
	}
	if (!r)
		*root = level.blocks[0];
	list_release(&level);
	return r;
}
