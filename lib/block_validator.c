// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Checksum and location validation of metadata blocks.
 */
#include "block_validator.h"

#include "block_io.h"
#include "crc32c.h"
#include "endian_le.h"

#define CSUM_OFF    0
#define BLOCKNR_OFF 8

uint32_t block_salt(enum block_kind kind)
{
	switch (kind) {
	case BK_SUPERBLOCK:
		return SALT_SUPERBLOCK;
	case BK_BTREE_NODE:
		return SALT_BTREE_NODE;
	case BK_BITMAP:
		return SALT_BITMAP;
	case BK_INDEX:
		return SALT_INDEX;
	}
	return 0;
}

const char *block_kind_name(enum block_kind kind)
{
	switch (kind) {
	case BK_SUPERBLOCK:
		return "superblock";
	case BK_BTREE_NODE:
		return "btree node";
	case BK_BITMAP:
		return "space map bitmap";
	case BK_INDEX:
		return "space map index";
	}
	return "block";
}

uint32_t block_csum(enum block_kind kind, const void *blk)
{
	const uint8_t *b = blk;
	return crc32c_raw(0xffffffffu, b + 4, MD_BLOCK_SIZE - 4) ^
	       block_salt(kind);
}

static enum block_verdict verdict(const void *blk, uint32_t want,
				  uint64_t where)
{
	const uint8_t *b = blk;
	if (le32_load(b + CSUM_OFF) != want)
		return BV_BAD_CSUM;
	if (le64_load(b + BLOCKNR_OFF) != where)
		return BV_BAD_BLOCKNR;
	return BV_OK;
}

enum block_verdict block_validate(enum block_kind kind, const void *blk,
				  uint64_t where)
{
	return verdict(blk, block_csum(kind, blk), where);
}

void block_validate_x3(enum block_kind kind, const void *const blk[3],
		       const uint64_t where[3], enum block_verdict out[3])
{
	const void *body[3];
	uint32_t crc[3];
	for (int i = 0; i < 3; i++)
		body[i] = (const uint8_t *)blk[i] + 4;
	crc32c_raw_x3(body, MD_BLOCK_SIZE - 4, crc);
	for (int i = 0; i < 3; i++)
		out[i] = verdict(blk[i], crc[i] ^ block_salt(kind), where[i]);
}

void block_validate_many(enum block_kind kind, const void *const *blk,
			 const uint64_t *where, unsigned n,
			 enum block_verdict *out)
{
	unsigned i = 0;
	for (; i + 3 <= n; i += 3)
		block_validate_x3(kind, blk + i, where + i, out + i);
	for (; i < n; i++)
		out[i] = block_validate(kind, blk[i], where[i]);
}

void block_seal(enum block_kind kind, void *blk, uint64_t where)
{
	uint8_t *b = blk;
	le64_store(b + BLOCKNR_OFF, where);
	le32_store(b + CSUM_OFF, block_csum(kind, blk));
}
