// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Thin-pool superblock decoding, encoding and checks.
 */
#include "thin_superblock.h"

#include <errno.h>
#include <string.h>

#include "block_io.h"
#include "block_validator.h"
#include "endian_le.h"

void thin_sb_decode(struct thin_superblock *sb, const void *blk)
{
	const uint8_t *b = blk;
	sb->csum = le32_load(b + 0x000);
	sb->flags = le32_load(b + 0x004);
	sb->blocknr = le64_load(b + 0x008);
	memcpy(sb->uuid, b + 0x010, 16);
	sb->magic = le64_load(b + 0x020);
	sb->version = le32_load(b + 0x028);
	sb->time = le32_load(b + 0x02c);
	sb->trans_id = le64_load(b + 0x030);
	sb->metadata_snap = le64_load(b + 0x038);
	sm_root_decode(&sb->data_sm, b + 0x040);
	sm_root_decode(&sb->metadata_sm, b + 0x0c0);
	sb->data_mapping_root = le64_load(b + 0x140);
	sb->device_details_root = le64_load(b + 0x148);
	sb->data_block_size = le32_load(b + 0x150);
	sb->metadata_block_size = le32_load(b + 0x154);
	sb->metadata_nr_blocks = le64_load(b + 0x158);
	sb->compat_flags = le32_load(b + 0x160);
	sb->compat_ro_flags = le32_load(b + 0x164);
	sb->incompat_flags = le32_load(b + 0x168);
}

void thin_sb_encode(const struct thin_superblock *sb, void *blk)
{
	uint8_t *b = blk;
	memset(b, 0, MD_BLOCK_SIZE);
	le32_store(b + 0x004, sb->flags);
	memcpy(b + 0x010, sb->uuid, 16);
	le64_store(b + 0x020, sb->magic);
	le32_store(b + 0x028, sb->version);
	le32_store(b + 0x02c, sb->time);
	le64_store(b + 0x030, sb->trans_id);
	le64_store(b + 0x038, sb->metadata_snap);
	sm_root_encode(&sb->data_sm, b + 0x040);
	sm_root_encode(&sb->metadata_sm, b + 0x0c0);
	le64_store(b + 0x140, sb->data_mapping_root);
	le64_store(b + 0x148, sb->device_details_root);
	le32_store(b + 0x150, sb->data_block_size);
	le32_store(b + 0x154, sb->metadata_block_size);
	le64_store(b + 0x158, sb->metadata_nr_blocks);
	le32_store(b + 0x160, sb->compat_flags);
	le32_store(b + 0x164, sb->compat_ro_flags);
	le32_store(b + 0x168, sb->incompat_flags);
	block_seal(BK_SUPERBLOCK, b, sb->blocknr);
}

enum thin_sb_problem thin_sb_check(const void *blk, uint64_t where,
				   struct thin_superblock *sb)
{
	enum block_verdict v = block_validate(BK_SUPERBLOCK, blk, where);
	if (v == BV_BAD_CSUM)
		return SBP_CSUM;
	thin_sb_decode(sb, blk);
	if (v == BV_BAD_BLOCKNR)
		return SBP_BLOCKNR;
	if (sb->magic != THIN_SUPERBLOCK_MAGIC)
		return SBP_MAGIC;
	if (sb->version != 1 && sb->version != 2)
		return SBP_VERSION;
	if (sb->incompat_flags)
		return SBP_INCOMPAT;
	if (sb->data_block_size < THIN_MIN_DATA_BLOCK_SIZE ||
	    sb->data_block_size > THIN_MAX_DATA_BLOCK_SIZE ||
	    sb->data_block_size % THIN_MIN_DATA_BLOCK_SIZE)
		return SBP_DATA_BLOCK_SIZE;
	if (where == THIN_SUPERBLOCK_LOCATION &&
	    sb->metadata_sm.nr_blocks > SM_METADATA_MAX_BLOCKS)
		return SBP_METADATA_SIZE;
	return SBP_NONE;
}

const char *thin_sb_problem_str(enum thin_sb_problem p)
{
	switch (p) {
	case SBP_NONE:
		return "no problem";
	case SBP_CSUM:
		return "bad checksum in superblock";
	case SBP_BLOCKNR:
		return "superblock's block number field does not match its location";
	case SBP_MAGIC:
		return "bad magic number in superblock";
	case SBP_VERSION:
		return "unsupported superblock version";
	case SBP_INCOMPAT:
		return "superblock has unknown incompatible feature flags";
	case SBP_DATA_BLOCK_SIZE:
		return "superblock has an invalid data block size";
	case SBP_METADATA_SIZE:
		return "metadata space map is larger than any metadata device can be";
	}
	return "unknown superblock problem";
}

bool thin_looks_like_xml(const void *buf, unsigned len)
{
	const char *p = buf;
	unsigned i = 0;
	/* UTF-8 byte order mark, then white space. */
	if (len >= 3 && (unsigned char)p[0] == 0xef &&
	    (unsigned char)p[1] == 0xbb && (unsigned char)p[2] == 0xbf)
		i = 3;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' ||
			   p[i] == '\r'))
		i++;
	if (i >= len || p[i] != '<')
		return false;
	return (len - i >= 5 && !memcmp(p + i, "<?xml", 5)) ||
	       (len - i >= 11 && !memcmp(p + i, "<superblock", 11)) ||
	       (len - i >= 4 && !memcmp(p + i, "<!--", 4));
}

int thin_sb_read(struct bdev *dev, uint64_t where, struct thin_superblock *sb,
		 enum thin_sb_problem *p)
{
	uint8_t *buf = bdev_alloc_buf(1);
	int r;
	if (!buf)
		return -ENOMEM;
	r = bdev_read(dev, where, 1, buf);
	if (!r)
		*p = thin_sb_check(buf, where, sb);
	bdev_free_buf(buf);
	return r;
}

/*
 * Re-read block 0, check it, let edit() change bytes of it (it returns
 * false when nothing needs to change), then reseal, write and sync.
 */
static int sb_rewrite(struct bdev *dev,
		      bool (*edit)(uint8_t *blk, const struct thin_superblock *sb,
				   const void *ctx),
		      const void *ctx)
{
	struct thin_superblock sb;
	uint8_t *buf = bdev_alloc_buf(1);
	int r;
	if (!buf)
		return -ENOMEM;
	r = bdev_read(dev, 0, 1, buf);
	if (!r && thin_sb_check(buf, 0, &sb) != SBP_NONE)
		r = -EILSEQ;
	if (!r && edit(buf, &sb, ctx)) {
		block_seal(BK_SUPERBLOCK, buf, 0);
		r = bdev_write(dev, 0, 1, buf);
		if (!r)
			r = bdev_sync(dev);
	}
	bdev_free_buf(buf);
	return r;
}

static bool clear_flag_bits(uint8_t *blk, const struct thin_superblock *sb,
			    const void *ctx)
{
	uint32_t bits = *(const uint32_t *)ctx;
	if (!(sb->flags & bits))
		return false;
	/* Keep every byte but the flags word (and the checksum). */
	le32_store(blk + 4, sb->flags & ~bits);
	return true;
}

int thin_sb_clear_flags(struct bdev *dev, uint32_t bits)
{
	return sb_rewrite(dev, clear_flag_bits, &bits);
}

/* Offsets of nr_allocated in the two space-map root blobs (A.3, A.7.1). */
#define SB_DATA_NR_ALLOCATED	 0x48u
#define SB_METADATA_NR_ALLOCATED 0xC8u

static bool set_allocated(uint8_t *blk, const struct thin_superblock *sb,
			  const void *ctx)
{
	const uint64_t *v = ctx;
	if (sb->data_sm.nr_allocated == v[0] &&
	    sb->metadata_sm.nr_allocated == v[1])
		return false;
	le64_store(blk + SB_DATA_NR_ALLOCATED, v[0]);
	le64_store(blk + SB_METADATA_NR_ALLOCATED, v[1]);
	return true;
}

int thin_sb_set_nr_allocated(struct bdev *dev, uint64_t data_allocated,
			     uint64_t metadata_allocated)
{
	const uint64_t v[2] = { data_allocated, metadata_allocated };
	return sb_rewrite(dev, set_allocated, v);
}
