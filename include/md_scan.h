/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * md_scan.h - find thin-pool trees in damaged metadata by scanning it.
 *
 * md_scan_run() reads every block of a metadata device in large
 * sequential chunks, keeps the intact B-tree nodes (checksum, location,
 * sane header) and works out bottom-up what each one is the root of: a
 * bottom-level mapping tree, a top-level mapping tree (device id ->
 * mapping root), or a device-details tree, with figures for its whole
 * subtree (keys, mappings, highest time, highest device transaction).
 * A subtree with a missing or foreign node is "damaged".  Roots are the
 * nodes no intact node of the same tree kind points to; the candidate
 * (mapping root, details root) pairs are those with the same device ids,
 * ranked most recent first.  Nothing is written and nothing is printed.
 */
#ifndef THINSNAP_MD_SCAN_H
#define THINSNAP_MD_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block_io.h"
#include "thin_devices.h"

enum md_kind { MDK_NONE, MDK_BOTTOM, MDK_TOP, MDK_DETAILS };

/* Figures for one subtree. */
struct md_tree_info {
	uint64_t root;
	enum md_kind kind;
	bool damaged;		/* some node below is missing or foreign */
	bool has_keys;
	uint64_t key_lo, key_hi;
	uint64_t nr_keys;	/* devices (top, details) or mappings (bottom) */
	uint64_t nr_mappings;	/* top: over all devices; details: mapped_blocks */
	uint64_t data_end;	/* highest mapped data block + 1 (0: none) */
	uint32_t age;		/* highest time seen */
	uint64_t at_age;	/* mappings carrying that time */
	uint64_t max_transaction; /* details: highest device transaction id */
};

struct md_root_pair {
	struct md_tree_info top, details;
	uint32_t time;		/* highest time in either tree */
};

struct md_scan;

/*
 * Scan blocks [0, nr_blocks) of dev.  Returns 0 or a negative errno
 * (-ENOMEM, or a read error other than a short device).
 */
int md_scan_run(struct md_scan **s, struct bdev *dev, uint64_t nr_blocks);
void md_scan_free(struct md_scan *s);

uint64_t md_scan_nr_blocks(const struct md_scan *s);
uint64_t md_scan_nr_nodes(const struct md_scan *s);	/* intact B-tree nodes */

/*
 * Candidate pairs, most recent first: same device ids in both trees and,
 * unless allow_damaged, complete trees whose mapping counts agree with
 * the details' mapped_blocks.  Ranking: highest time, then highest
 * device transaction, then mappings carrying that time, then mappings,
 * then root block numbers.  *pairs is malloc'ed (free it).
 */
int md_scan_pairs(struct md_scan *s, bool allow_damaged,
		  struct md_root_pair **pairs, size_t *nr);

/* Figures for the tree rooted at block b (kind MDK_NONE if none). */
struct md_tree_info md_scan_info(const struct md_scan *s, uint64_t b);

/*
 * The devices of a top-level tree (roots) or a details tree (details),
 * in id order.  Damaged parts are left out.
 */
int md_scan_devices(const struct md_scan *s, uint64_t root,
		    struct thin_dev_list *out);

/*
 * Nodes the scan kept: an internal node or a top-level/details leaf as
 * read (4096 bytes), or NULL for anything else (bottom-level leaves are
 * not kept: read them from the device).
 */
const uint8_t *md_scan_node(const struct md_scan *s, uint64_t b);

#endif
