/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sm_check.h - compare an on-disk space map with computed counts.
 *
 * Given a space map's index entries and overflow entries (already read by
 * the caller, who knows where they live) and the counts recomputed from
 * everything that references the blocks, read every bitmap and report
 * each difference: leaks (on disk 1, computed 0: non-fatal), bad counts
 * (any other difference: fatal), overflow entries that disagree with the
 * bitmap, entries past the end, and the hints (nr_free, none_free_before,
 * nr_allocated) that the kernel only uses for searching (warnings).
 */
#ifndef THINSNAP_SM_CHECK_H
#define THINSNAP_SM_CHECK_H

#include <stdint.h>

#include "block_io.h"
#include "refcount.h"
#include "report.h"
#include "space_map.h"

struct sm_overflow_entry {
	uint64_t block;
	uint32_t count;
};

struct sm_check_input {
	const char *name;		 /* "data" or "metadata" */
	const struct sm_root *root;
	const struct sm_index_entry *index; /* sm_nr_bitmaps(nr_blocks) */
	const uint8_t *index_valid;	 /* per entry: 0 = missing, skip */
	const struct sm_overflow_entry *ovf; /* sorted by block */
	uint64_t nr_ovf;
	const struct refcount *computed;
	uint64_t md_nr_blocks;		 /* bitmaps must lie below this */
};

struct sm_check_result {
	uint64_t leaked;
	uint64_t bad;
	uint64_t allocated; /* non-zero entries seen on disk */
	uint64_t unreadable_bitmaps;
};

/* Returns 0, or -ENOMEM; findings go to the reporter. */
int sm_check_counts(struct bdev *dev, const struct sm_check_input *in,
		    struct reporter *rep, struct sm_check_result *res);

#endif
