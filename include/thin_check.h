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
};

struct thin_check_result {
	bool sb_ok;			/* superblock readable and valid */
	struct thin_superblock sb;	/* the live superblock */
	uint64_t metadata_free;		/* nr_blocks - nr_allocated */
	uint64_t nr_devices;
	uint64_t data_leaked, data_bad;
	uint64_t metadata_leaked, metadata_bad;
	bool space_maps_checked;
};

/*
 * Run the check.  Returns 0 when it ran to its end (the verdict is in
 * the reporter's counts), or a negative errno when it could not (memory,
 * or the superblock could not be read).
 */
int thin_check(struct bdev *dev, const struct thin_check_opts *opts,
	       struct reporter *rep, struct thin_check_result *res);

#endif
