/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * space_map.h - on-disk space-map structures (FORMATS.md A.7).
 *
 * A space map keeps a reference count per block: two bits per block in
 * bitmap blocks of 16320 entries, an index of those bitmaps (a B-tree for
 * the data map, one index block for the metadata map) and an overflow
 * B-tree for counts of 3 and more.  This header decodes the root blob,
 * index entries and bitmap entries; nothing here knows about thin pools.
 */
#ifndef THINSNAP_SPACE_MAP_H
#define THINSNAP_SPACE_MAP_H

#include <stdint.h>

#define SM_ROOT_SIZE		 128u
#define SM_BITMAP_HEADER	 16u
#define SM_BITMAP_BYTES		 4080u
#define SM_ENTRIES_PER_BITMAP	 16320u
#define SM_INDEX_ENTRY_SIZE	 16u
#define SM_METADATA_MAX_BITMAPS	 255u
#define SM_METADATA_MAX_BLOCKS	 (255ull * 16320ull)
#define SM_OVERFLOW_VALUE_SIZE	 4u

struct sm_root {
	uint64_t nr_blocks;
	uint64_t nr_allocated;
	uint64_t bitmap_root;	 /* data: index tree root; metadata: index block */
	uint64_t ref_count_root; /* overflow tree root */
};

struct sm_index_entry {
	uint64_t blocknr;
	uint32_t nr_free;
	uint32_t none_free_before;
};

void sm_root_decode(struct sm_root *r, const void *p);
void sm_root_encode(const struct sm_root *r, void *p);
void sm_index_entry_decode(struct sm_index_entry *e, const void *p);
void sm_index_entry_encode(const struct sm_index_entry *e, void *p);

static inline uint64_t sm_nr_bitmaps(uint64_t nr_blocks)
{
	return (nr_blocks + SM_ENTRIES_PER_BITMAP - 1) / SM_ENTRIES_PER_BITMAP;
}

/*
 * Entry j of a bitmap body (the 4080 bytes after the header).  The lower
 * bit position of each pair holds the high-order bit of the value.
 */
static inline unsigned sm_bitmap_get(const uint8_t *body, unsigned j)
{
	unsigned byte = body[j >> 2], p = 2 * (j & 3);
	return (((byte >> p) & 1) << 1) | ((byte >> (p + 1)) & 1);
}

static inline void sm_bitmap_set(uint8_t *body, unsigned j, unsigned v)
{
	unsigned p = 2 * (j & 3);
	uint8_t b = body[j >> 2] & (uint8_t) ~(3u << p);
	b |= (uint8_t)((((v >> 1) & 1) << p) | ((v & 1) << (p + 1)));
	body[j >> 2] = b;
}

/* Mask of the entries with value 3 in a 64-bit little-endian word. */
static inline uint64_t sm_word_threes(uint64_t w)
{
	return w & (w >> 1) & 0x5555555555555555ull;
}

/* Mask (one bit per entry, at the even position) of non-zero entries. */
static inline uint64_t sm_word_used(uint64_t w)
{
	return (w | (w >> 1)) & 0x5555555555555555ull;
}

#endif
