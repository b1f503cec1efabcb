/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thin_dump.h - read thin-pool metadata as a stream of dump events.
 *
 * thin_dump() walks the device trees and every selected device's mapping
 * tree in key order and calls an emitter: superblock, then (optionally)
 * definitions of leaves shared between devices, then each device with
 * its mappings merged into runs.  Emitters (dump_xml.h, dump_human.h)
 * turn the events into text; thin_restore reads the same model back.
 */
#ifndef THINSNAP_THIN_DUMP_H
#define THINSNAP_THIN_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block_io.h"
#include "report.h"
#include "thin_types.h"

struct dump_superblock {
	char uuid[17];		/* printable part of the uuid field */
	uint32_t time;
	uint64_t transaction;
	uint32_t flags;
	uint32_t version;
	uint32_t data_block_size;
	uint64_t nr_data_blocks;
	uint64_t metadata_snap;	/* held root of the live superblock, 0 = none */
};

struct dump_run {
	uint64_t origin_begin;
	uint64_t data_begin;
	uint64_t length;
	uint32_t time;
	uint32_t line, column;	/* where a parsed run came from (0: unknown) */
};

struct dump_emitter {
	int (*begin_superblock)(void *ctx, const struct dump_superblock *sb);
	int (*end_superblock)(void *ctx);
	int (*begin_def)(void *ctx, uint64_t name);
	int (*end_def)(void *ctx);
	int (*begin_device)(void *ctx, uint64_t id, const struct thin_details *d);
	int (*end_device)(void *ctx);
	int (*ref)(void *ctx, uint64_t name);
	int (*run)(void *ctx, const struct dump_run *r);
	/* Optional: why the last call failed (a consumer such as restore). */
	const char *(*error)(void *ctx);
	/* Optional: the input position of the run that failed, if it was not
	 * the last event given (a consumer working behind its producer). */
	bool (*error_position)(void *ctx, uint32_t *line, uint32_t *column);
	void *ctx;
};

/*
 * Superblock values given on the command line of thin_restore,
 * thin_repair and thin_dump (--transaction-id, --data-block-size,
 * --nr-data-blocks).
 */
struct thin_sb_overrides {
	bool override_transaction, override_data_block_size,
		override_nr_data_blocks;
	uint64_t transaction, data_block_size, nr_data_blocks;
};

struct thin_dump_opts {
	bool metadata_snap;	/* dump the metadata snapshot's trees */
	uint64_t snap_block;	/* its location; 0 = from the superblock */
	bool skip_mappings;
	bool shared_defs;	/* <def>/<ref> for shared leaves (1.x) */
	bool snap_nr_data_blocks_zero; /* -m prints nr_data_blocks 0 (0.9.0) */
	bool repair;		/* skip damaged subtrees instead of failing */
	const uint64_t *dev_ids; /* only these devices (NULL: all) */
	size_t nr_dev_ids;
	/* transaction and nr_data_blocks become max(override, on disk) */
	struct thin_sb_overrides sb;
	bool override_mapping_root, override_details_root;
	uint64_t mapping_root, details_root;
	/*
	 * Repair: do not read block 0.  Print *given_sb as the superblock
	 * (the other overrides are not applied to it) and walk the trees at
	 * mapping_root and details_root (set both override flags).
	 */
	const struct dump_superblock *given_sb;
	/*
	 * Optional, with repair: called for every range of keys (virtual
	 * blocks, hi inclusive) of a mapping tree left out as damaged;
	 * `where` is "mapping tree of device N", or "shared leaves from B"
	 * with lo > hi (the keys of a damaged shared leaf are not known).
	 */
	void (*lost)(void *ctx, const char *where, uint64_t lo, uint64_t hi);
	void *lost_ctx;
};

/*
 * Returns 0, -EILSEQ when the metadata is damaged (details went to the
 * reporter), an emitter's negative value, or another negative errno.
 */
int thin_dump(struct bdev *dev, const struct thin_dump_opts *opts,
	      const struct dump_emitter *e, struct reporter *rep);

#endif
