/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thin_superblock.h - the thin-pool superblock (FORMATS.md A.3).
 *
 * Block 0 of the metadata device, and the metadata-snapshot copy at
 * `metadata_snap`.  Decoding, encoding, and the checks every tool runs
 * before trusting anything else.
 */
#ifndef THINSNAP_THIN_SUPERBLOCK_H
#define THINSNAP_THIN_SUPERBLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "space_map.h"

#define THIN_SUPERBLOCK_MAGIC	    27022010ull
#define THIN_SUPERBLOCK_LOCATION    0
#define THIN_FLAG_NEEDS_CHECK	    1u
#define THIN_VERSION		    2u
#define THIN_METADATA_BLOCK_SECTORS 8u
#define THIN_MIN_DATA_BLOCK_SIZE    128u
#define THIN_MAX_DATA_BLOCK_SIZE    2097152u
#define THIN_MAX_TIME		    0xffffffu

struct thin_superblock {
	uint32_t csum;
	uint32_t flags;
	uint64_t blocknr;
	uint8_t uuid[16];
	uint64_t magic;
	uint32_t version;
	uint32_t time;
	uint64_t trans_id;
	uint64_t metadata_snap;
	struct sm_root data_sm;
	struct sm_root metadata_sm;
	uint64_t data_mapping_root;
	uint64_t device_details_root;
	uint32_t data_block_size;
	uint32_t metadata_block_size;
	uint64_t metadata_nr_blocks;
	uint32_t compat_flags;
	uint32_t compat_ro_flags;
	uint32_t incompat_flags;
};

enum thin_sb_problem {
	SBP_NONE = 0,
	SBP_CSUM,	   /* "bad checksum in superblock" */
	SBP_BLOCKNR,	   /* blocknr field is not where it was read */
	SBP_MAGIC,
	SBP_VERSION,	   /* neither 1 nor 2 */
	SBP_INCOMPAT,	   /* unknown incompat feature bits */
	SBP_DATA_BLOCK_SIZE,
	SBP_METADATA_SIZE, /* metadata space map larger than possible */
};

void thin_sb_decode(struct thin_superblock *sb, const void *blk);
/* Encode into a zeroed 4096-byte block and seal it at sb->blocknr. */
void thin_sb_encode(const struct thin_superblock *sb, void *blk);

/*
 * Check a superblock read from `where` (0, or the metadata snapshot's
 * block).  A snapshot copy has no space-map roots, so the metadata-size
 * check applies only to the live one.  Decodes into *sb even when a
 * problem is found (for messages), except after SBP_CSUM.
 */
enum thin_sb_problem thin_sb_check(const void *blk, uint64_t where,
				   struct thin_superblock *sb);
const char *thin_sb_problem_str(enum thin_sb_problem p);

/* True when the first bytes look like an XML document, not metadata. */
bool thin_looks_like_xml(const void *buf, unsigned len);



struct bdev;

/*
 * Read block `where` and check it as a superblock (thin_sb_check()).
 * Returns 0 with the verdict in *p, or a negative errno (the block could
 * not be read, or no memory) with *p untouched.
 */
int thin_sb_read(struct bdev *dev, uint64_t where, struct thin_superblock *sb,
		 enum thin_sb_problem *p);

/*
 * Clear flag bits in the live superblock on disk: re-read block 0,
 * check it, rewrite it with the bits cleared and a new checksum, sync.
 * Only block 0 is written (a single-sector, atomic update, A.13).
 */
int thin_sb_clear_flags(struct bdev *dev, uint32_t bits);

/*
 * Set nr_allocated in both space-map roots of the live superblock on
 * disk, the same way (block 0 only, other bytes kept, synced); nothing is
 * written when both already hold these values.
 */
int thin_sb_set_nr_allocated(struct bdev *dev, uint64_t data_allocated,
			     uint64_t metadata_allocated);
#endif
