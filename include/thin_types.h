/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thin_types.h - value types of the thin-pool trees (FORMATS.md A.5, A.6).
 *
 * Mapping values pack a 40-bit data block and a 24-bit time into a u64;
 * the device-details tree holds a 24-byte record per thin device.
 */
#ifndef THINSNAP_THIN_TYPES_H
#define THINSNAP_THIN_TYPES_H

#include <stdint.h>

#include "endian_le.h"

#define THIN_DETAILS_VALUE_SIZE 24u
#define THIN_MAPPING_VALUE_SIZE 8u
#define THIN_DATA_BLOCK_BITS	40u
#define THIN_TIME_BITS		24u
#define THIN_MAX_DATA_BLOCK	((1ull << THIN_DATA_BLOCK_BITS) - 1)

static inline uint64_t block_time_pack(uint64_t data_block, uint32_t time)
{
	return (data_block << THIN_TIME_BITS) | (time & 0xffffffu);
}

static inline uint64_t block_time_block(uint64_t v)
{
	return v >> THIN_TIME_BITS;
}

static inline uint32_t block_time_time(uint64_t v)
{
	return (uint32_t)(v & 0xffffffu);
}

struct thin_details {
	uint64_t mapped_blocks;
	uint64_t transaction_id;
	uint32_t creation_time;
	uint32_t snapshotted_time;
};

static inline void thin_details_decode(struct thin_details *d, const void *p)
{
	const uint8_t *b = p;
	d->mapped_blocks = le64_load(b);
	d->transaction_id = le64_load(b + 8);
	d->creation_time = le32_load(b + 16);
	d->snapshotted_time = le32_load(b + 20);
}

static inline void thin_details_encode(const struct thin_details *d, void *p)
{
	uint8_t *b = p;
	le64_store(b, d->mapped_blocks);
	le64_store(b + 8, d->transaction_id);
	le32_store(b + 16, d->creation_time);
	le32_store(b + 20, d->snapshotted_time);
}

#endif
