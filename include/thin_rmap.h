/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thin_rmap.h - reverse map: which thin blocks map a range of data blocks.
 *
 * thin_rmap() walks every device's mapping tree (keyed by thin block, so
 * every leaf is read), keeps the mappings whose data block lies in one of
 * the regions, merges them into runs (data and thin blocks both
 * consecutive, same device) and hands the runs to a callback sorted by
 * (data begin, data end, device id, thin begin).  The regions act as one
 * set: overlapping or adjacent regions behave like their union, as
 * upstream's do.  Unlike upstream, a data block mapped by several devices
 * through a leaf they share is reported for every one of them.
 *
 * Memory is bounded: at most max_runs runs are held at once.  When more
 * match, the first walk keeps only the runs starting below a cutoff
 * (lowered as the array fills), reports them, and further walks pick up
 * from the cutoff; the output is the same, only slower.
 */
#ifndef THINSNAP_THIN_RMAP_H
#define THINSNAP_THIN_RMAP_H

#include <stddef.h>
#include <stdint.h>

#include "block_io.h"
#include "report.h"

/* Runs held in memory at once unless the caller says otherwise (~96 MiB). */
#define THIN_RMAP_DEFAULT_MAX_RUNS (4u << 20)

/* Data blocks [begin, end). */
struct rmap_region {
	uint64_t begin, end;
};

/* Data blocks [data_begin, data_end) are thin blocks from thin_begin. */
struct rmap_run {
	uint64_t data_begin, data_end;
	uint64_t dev_id;
	uint64_t thin_begin;
};

enum rmap_region_error {
	RMAP_REGION_OK = 0,
	RMAP_REGION_BADLY_FORMED, /* not <decimal>..<decimal> */
	RMAP_REGION_END_LE_BEGIN, /* end <= begin */
};

/*
 * Parse "B..E": two unsigned decimals (digits only, no sign or space,
 * each below 2^64) around a literal "..", with E > B.
 */
enum rmap_region_error thin_rmap_parse_region(const char *s,
					      struct rmap_region *r);

struct thin_rmap_opts {
	const struct rmap_region *regions; /* at least one */
	size_t nr_regions;
	size_t max_runs; /* runs held at once; 0: THIN_RMAP_DEFAULT_MAX_RUNS */
};

struct thin_rmap_stats {
	unsigned passes;   /* walks of the mapping trees */
	uint64_t devices;  /* devices in the top-level mapping tree */
	uint64_t runs;	   /* runs reported */
	size_t peak_runs;  /* most runs held at once */
};

/* Called once per run, in order; a non-zero return ends the walk. */
typedef int (*thin_rmap_fn)(void *ctx, const struct rmap_run *run);

/*
 * Report the runs of the live metadata on `dev`.  Damage (bad superblock,
 * unreadable or invalid nodes) goes to `rep` as REPORT_FATAL and ends the
 * walk with -EILSEQ (or the I/O error); nothing is reported for a walk
 * that fails, though earlier passes may have reported their runs.
 * Returns 0, a negative errno, or the callback's non-zero value.  stats
 * may be NULL.
 */
int thin_rmap(struct bdev *dev, const struct thin_rmap_opts *opts,
	      thin_rmap_fn fn, void *ctx, struct reporter *rep,
	      struct thin_rmap_stats *stats);

#endif
