/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sm_writer.h - write a space map for counts known in full.
 *
 * Used when building a pool from scratch: every bitmap, the index (a
 * B-tree for the data map, one index block for the metadata map) and the
 * overflow tree for counts of 3 and more are written through the
 * metadata writer.  nr_free follows the kernel's convention (entries
 * past the end of the map count as free).  The metadata map is written
 * last, because it must count its own blocks.
 */
#ifndef THINSNAP_SM_WRITER_H
#define THINSNAP_SM_WRITER_H

#include "md_writer.h"
#include "refcount.h"
#include "space_map.h"

/* The data space map for `counts` (nr_blocks = counts->nr_blocks). */
int sm_write_data(struct md_writer *mw, const struct refcount *counts,
		  struct sm_root *root);

/* The metadata space map for mw->counts, including its own blocks. */
int sm_write_metadata(struct md_writer *mw, struct sm_root *root);

#endif
