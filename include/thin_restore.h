/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thin_restore.h - build thin-pool metadata from a stream of dump events.
 *
 * A restorer is a dump_emitter: it takes the superblock, devices, runs
 * of mappings and shared-leaf definitions in the order a dump gives
 * them, checks them, and writes a pool bottom-up: mapping leaves as the
 * runs arrive, each device's internal nodes when it ends; then, once the
 * caller knows the whole input was good, thin_restorer_commit() writes
 * the device trees, both space maps and, last, after everything else is
 * durable, the superblock (FORMATS.md A.11.2, A.13).  Block 0 is
 * zeroed before anything else is written, so an interrupted or rejected
 * restore never leaves a pool that looks valid.
 */
#ifndef THINSNAP_THIN_RESTORE_H
#define THINSNAP_THIN_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "block_io.h"
#include "thin_dump.h"

struct thin_restore_opts {
	struct thin_sb_overrides sb;
};

struct thin_restorer;

/*
 * Prepare to restore onto dev (zeroes its block 0).  *e is filled in to
 * feed events to the restorer.
 */
int thin_restorer_create(struct thin_restorer **r, struct bdev *dev,
			 const struct thin_restore_opts *opts,
			 struct dump_emitter *e);
void thin_restorer_destroy(struct thin_restorer *r);

/*
 * After the last event: write the rest of the pool and the superblock.
 * Returns 0 or a negative errno; thin_restorer_error() says why.
 */
int thin_restorer_commit(struct thin_restorer *r);
const char *thin_restorer_error(const struct thin_restorer *r);

/* Metadata blocks the pool needed (valid after end_superblock, also
 * when it failed for lack of space: -ENOSPC). */
uint64_t thin_restorer_blocks_needed(const struct thin_restorer *r);

#endif
