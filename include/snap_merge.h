/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * snap_merge.h - merge a snapshot's exception store into its origin
 * offline, with the kernel's result (FORMATS.md B.10-B.12).
 *
 * The merge runs backwards from the last exception in the kernel's runs.
 * Before an origin chunk is overwritten, every other valid store of the
 * same origin that has no exception for the chunk (in its own chunk size)
 * gets one: a copy of the origin's old contents, allocated and committed
 * as the kernel would (B.7).  Runs are merged in batches of up to
 * batch_bytes: other stores' data synced, their areas written and synced;
 * then the runs copied to the origin and the origin synced; then the
 * batch's entries cleared in the merging store's areas, which are written
 * from the last one down, each synced.  Every store is valid at every moment, and running
 * the merge again after an interruption finishes it with the same bytes.
 *
 * Refusals (invalid, unformatted or damaged stores, an origin too short
 * for the exceptions, an other store that would overflow, chunk sizes the
 * devices' logical block size forbids) happen before anything is written
 * and are explained through the reporter (REPORT_FATAL); the return value
 * is then -EINVAL.
 */
#ifndef THINSNAP_SNAP_MERGE_H
#define THINSNAP_SNAP_MERGE_H

#include "chunk_copy.h"
#include "report.h"
#include "snap_store.h"

/* One device: the buffered (exclusive) descriptor for metadata, and the
 * O_DIRECT one for data (may fall back to buffered). */
struct snap_merge_dev {
	const char *name;
	struct bdev *meta, *data;
	unsigned logical_block; /* bytes; 512 for files */
};

struct snap_merge_opts {
	bool dry_run, verify;
	unsigned threads;
	size_t max_io;			/* bytes per I/O */
	uint64_t batch_bytes;		/* data merged per commit */
	struct reporter *rep;		/* refusals; INFO for details */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
};

#define SNAP_MERGE_MAX_OTHERS 64

struct snap_merge_stats {
	uint64_t chunks, bytes, runs;	/* merged into the origin */
	uint64_t batches;
	struct {
		uint64_t exceptions, bytes;
		bool ignored;		/* invalid: the kernel ignores it */
	} other[SNAP_MERGE_MAX_OTHERS];
};

int snap_merge(struct snap_merge_dev *origin, struct snap_merge_dev *cow,
	       struct snap_merge_dev *others, unsigned nr_others,
	       const struct snap_merge_opts *o, struct snap_merge_stats *st);

#endif
