/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thin_salvage.h - keep every intact mapping of damaged mapping trees.
 *
 * Used by thin_repair_dump() for --salvage.  For each device of the
 * chosen pair, the mapping tree is walked using the scan's knowledge of
 * which blocks are intact nodes; a subtree that is missing covers the
 * key range its parent gives it.  That range is taken from an older
 * mapping tree of the same device (from the other candidate pairs, most
 * recent first) if one holds it completely; otherwise it is reported as
 * lost ("repair: mapping tree of device N: virtual blocks A..B lost").  Shared leaves are
 * not kept shared: each device's mappings are emitted in full.
 */
#ifndef THINSNAP_THIN_SALVAGE_H
#define THINSNAP_THIN_SALVAGE_H

#include <stddef.h>

#include "block_io.h"
#include "md_scan.h"
#include "report.h"
#include "thin_dump.h"

int thin_salvage_dump(struct bdev *in, const struct md_scan *s,
		      const struct md_root_pair *chosen,
		      const struct md_root_pair *pairs, size_t nr_pairs,
		      const struct dump_superblock *sb,
		      const struct dump_emitter *e, struct reporter *rep);

#endif
