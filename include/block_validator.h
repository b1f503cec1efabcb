/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * block_validator.h - checksum and location checks for metadata blocks.
 *
 * Every live thin metadata block carries a checksum at offset 0 (CRC-32C
 * of bytes 4..4095, salted per block kind, FORMATS.md A.2) and its own
 * block number at offset 8.  block_validate() tells whether a block read
 * from `where` is intact; block_seal() makes it so before a write.
 */
#ifndef THINSNAP_BLOCK_VALIDATOR_H
#define THINSNAP_BLOCK_VALIDATOR_H

#include <stdint.h>

enum block_kind {
	BK_SUPERBLOCK,
	BK_BTREE_NODE,
	BK_BITMAP,
	BK_INDEX,
};

enum block_verdict {
	BV_OK = 0,
	BV_BAD_CSUM,	 /* checksum does not match the contents */
	BV_BAD_BLOCKNR,	 /* intact, but written for another location */
};

#define SALT_SUPERBLOCK 160774u
#define SALT_BTREE_NODE 121107u
#define SALT_BITMAP	240779u
#define SALT_INDEX	160478u

uint32_t block_salt(enum block_kind kind);
const char *block_kind_name(enum block_kind kind);

/* The checksum the block should carry, given its current contents. */
uint32_t block_csum(enum block_kind kind, const void *blk);

/* Checksum first (a garbled block is reported as such), then blocknr. */
enum block_verdict block_validate(enum block_kind kind, const void *blk,
				  uint64_t where);

/*
 * Validate three blocks of one kind at once (interleaved CRCs); the hot
 * path of whole-tree walks.
 */
void block_validate_x3(enum block_kind kind, const void *const blk[3],
		       const uint64_t where[3], enum block_verdict out[3]);

/* Validate n blocks of one kind, three at a time where possible. */
void block_validate_many(enum block_kind kind, const void *const *blk,
			 const uint64_t *where, unsigned n,
			 enum block_verdict *out);

/* Set blocknr to `where` and store the checksum. */
void block_seal(enum block_kind kind, void *blk, uint64_t where);

#endif
