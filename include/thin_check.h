/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thin_check.h - full consistency check of thin-pool metadata.
 *
 * Walks every structure reachable from the superblock (and from the
 * metadata snapshot, if one is held), validating each block once,
 * recomputes the reference count of every metadata and data block
 * (FORMATS.md A.10) and compares them with both space maps.  Findings go
 * to the reporter with a severity (A.14); the caller turns them into an
 * exit status.
 *
 * With repair_leaks, a full check that found leaks and nothing fatal
 * then frees the leaked blocks of both space maps in place (sm_repair.h),
 * in this order, syncing after each step:
 *
 *   1. the index entries of the bitmaps holding leaks (metadata index
 *      block, data index tree leaves): nr_free and none_free_before;
 *   2. block 0: nr_allocated of the repaired maps (exact counts);
 *   3. the bitmaps holding leaks, data map first.
 *
 * The caller clears needs_check afterwards (thin_sb_clear_flags), so the
 * flag goes last.  Until step 3 ends, the only wrong values on disk are
 * hints the kernel copes with (free counts too high, search hints too
 * low) and the remaining leaks; each value written depends only on the
 * repaired state, so a rerun of the repair after an interruption at any
 * write finishes it with the same bytes as an uninterrupted one.
 */
#ifndef THINSNAP_THIN_CHECK_H
#define THINSNAP_THIN_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "block_io.h"
#include "report.h"
#include "thin_superblock.h"

struct thin_check_opts {
	bool super_block_only;	/* stop after the superblock */
	bool skip_mappings;	/* stop after the device trees */
	bool metadata_snap;	/* check the metadata snapshot's trees */
	bool override_mapping_root;
	bool override_details_root;
	uint64_t mapping_root;
	uint64_t details_root;
	bool repair_leaks;	/* free leaked blocks if nothing is fatal */
};

struct thin_check_result {
	bool sb_ok;			/* superblock readable and valid */
	struct thin_superblock sb;	/* the live superblock */
	uint64_t metadata_free;		/* nr_blocks - nr_allocated */
	uint64_t nr_devices;
	uint64_t data_leaked, data_bad;
	uint64_t metadata_leaked, metadata_bad;
	bool space_maps_checked;
	/* non-fatal findings that were leaks (resolved by a repair) */
	unsigned long leak_findings;
	uint64_t data_repaired, metadata_repaired; /* leaked blocks freed */
	int repair_error;	/* 0, or why the repair stopped (-errno) */
};

/*
 * Run the check.  Returns 0 when it ran to its end (the verdict is in
 * the reporter's counts), or a negative errno when it could not (memory,
 * or the superblock could not be read).
 */
int thin_check(struct bdev *dev, const struct thin_check_opts *opts,
	       struct reporter *rep, struct thin_check_result *res);

#endif
