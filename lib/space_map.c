// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Space-map root blob and index entry encoding.
 */
#include "space_map.h"

#include <string.h>

#include "endian_le.h"

void sm_root_decode(struct sm_root *r, const void *p)
{
	const uint8_t *b = p;
	r->nr_blocks = le64_load(b);
	r->nr_allocated = le64_load(b + 8);
	r->bitmap_root = le64_load(b + 16);
	r->ref_count_root = le64_load(b + 24);
}

void sm_root_encode(const struct sm_root *r, void *p)
{
	uint8_t *b = p;
	memset(b, 0, SM_ROOT_SIZE);
	le64_store(b, r->nr_blocks);
	le64_store(b + 8, r->nr_allocated);
	le64_store(b + 16, r->bitmap_root);
	le64_store(b + 24, r->ref_count_root);
}

void sm_index_entry_decode(struct sm_index_entry *e, const void *p)
{
	const uint8_t *b = p;
	e->blocknr = le64_load(b);
	e->nr_free = le32_load(b + 8);
	e->none_free_before = le32_load(b + 12);
}

void sm_index_entry_encode(const struct sm_index_entry *e, void *p)
{
	uint8_t *b = p;
	le64_store(b, e->blocknr);
	le32_store(b + 8, e->nr_free);
	le32_store(b + 12, e->none_free_before);
}
