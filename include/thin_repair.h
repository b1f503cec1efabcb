/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thin_repair.h - the repaired view of damaged thin-pool metadata.
 *
 * thin_repair_dump() scans the input (md_scan.h), chooses the trees to
 * keep, rebuilds what the superblock lost, and streams the result to a
 * dump emitter: the XML writer for thin_dump --repair, a restorer for
 * thin_repair.  The choice, in order:
 *   1. the superblock's (mapping root, details root), if it is intact and
 *      they are among the complete, consistent pairs the scan found;
 *   2. otherwise the most recent such pair (md_scan_pairs());
 *   3. otherwise, if the superblock is intact and its trees at least
 *      have matching device ids, its trees with the damaged subtrees
 *      left out (what thin_dump -r / thin_repair 0.9.0 do);
 *   4. otherwise "no compatible roots found".
 * With `salvage`, the most recent pair may have damaged mapping trees:
 * every mapping in an intact leaf is kept, a lost range is taken from
 * an older tree of the same device where one holds it intact, and the
 * ranges that stay lost are reported per device.
 *
 * The metadata snapshot is dropped and NEEDS_CHECK cleared.  The input
 * is only read.  A report (which roots, how much came back, what was
 * lost) goes to the reporter as REPORT_INFO lines starting "repair: ".
 */
#ifndef THINSNAP_THIN_REPAIR_H
#define THINSNAP_THIN_REPAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "block_io.h"
#include "report.h"
#include "thin_dump.h"

struct thin_repair_opts {
	struct thin_sb_overrides sb;
	bool shared_defs;	/* <def>/<ref> for shared leaves */
	bool salvage;
	/*
	 * Optional, for an emitter that can start over (a restorer that has
	 * not committed): the superblock's trees are then streamed to it
	 * straight away, and only if they turn out damaged is restart()
	 * called, to get a fresh emitter, before the repair proper.  Without
	 * it they are first read once without output.
	 */
	int (*restart)(void *ctx, const struct dump_emitter **e);
	void *restart_ctx;
};

/*
 * Returns 0; -ENOENT when no usable trees were found; -EINVAL when the
 * data block size is unknown (superblock unusable, no override) or
 * invalid; -EILSEQ for damage met while streaming; an emitter's value;
 * or another negative errno.  Failures are described to the reporter.
 */
int thin_repair_dump(struct bdev *in, const struct thin_repair_opts *o,
		     const struct dump_emitter *e, struct reporter *rep);

#endif
