// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: a thin-pool metadata image through every reader.
 *
 * The input is the image, cut to at most 256 blocks.  So that mutated
 * blocks get past their checksums, a block whose first four bytes are the
 * little-endian number 1, 2, 3 or 4 gets the checksum of a superblock,
 * btree node, bitmap or index block written there (tests/fuzz/seed.sh
 * makes seeds with those tags in place of the checksums).
 *
 * Oracle: no crash, no sanitizer report, no hang; metadata that checks
 * clean dumps, restores, and dumps again to the same bytes; and after a
 * leak repair that reported success, a second check finds no leaks.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block_validator.h"
#include "dump_emitters.h"
#include "endian_le.h"
#include "fuzz_common.h"
#include "thin_check.h"
#include "thin_dump.h"
#include "thin_repair.h"
#include "thin_rmap.h"

#define MAX_BLOCKS 256u

static void seal_tagged(uint8_t *img, size_t nr_blocks)
{
	static const enum block_kind kinds[] = { BK_SUPERBLOCK, BK_BTREE_NODE,
						 BK_BITMAP, BK_INDEX };
	for (size_t b = 0; b < nr_blocks; b++) {
		uint8_t *blk = img + b * MD_BLOCK_SIZE;
		uint32_t tag = le32_load(blk);
		if (tag >= 1 && tag <= 4)
			le32_store(blk, block_csum(kinds[tag - 1], blk));
	}
}

static int count_run(void *ctx, const struct rmap_run *run)
{
	(void)run;
	++*(unsigned long *)ctx;
	return 0;
}

/* True when the check finds nothing at all. */
static bool check(struct bdev *dev, bool metadata_snap)
{
	struct reporter rep;
	struct thin_check_opts o = { .metadata_snap = metadata_snap };
	struct thin_check_result res;
	fuzz_reporter(&rep);
	return !thin_check(dev, &o, &rep, &res) && !rep.counts[REPORT_FATAL] &&
	       !rep.counts[REPORT_NONFATAL];
}

static int dump(struct bdev *dev, bool repair, bool human, int fd)
{
	struct reporter rep;
	struct outbuf out;
	struct dump_emitter e;
	struct dump_text text = { &out, false };
	struct thin_dump_opts o = { .repair = repair, .shared_defs = true };
	fuzz_reporter(&rep);
	if (outbuf_init(&out, fd))
		return -1;
	if (human)
		dump_human_emitter(&e, &text);
	else
		dump_xml_emitter(&e, &text);
	int r = thin_dump(dev, &o, &e, &rep);
	if (outbuf_flush(&out) && !r)
		r = -1;
	outbuf_release(&out);
	return r;
}

static bool same_contents(int a, int b)
{
	off_t n = lseek(a, 0, SEEK_END);
	if (n != lseek(b, 0, SEEK_END))
		return false;
	char *x = malloc((size_t)n + 1), *y = malloc((size_t)n + 1);
	bool same = x && y && pread(a, x, (size_t)n, 0) == n &&
		    pread(b, y, (size_t)n, 0) == n && !memcmp(x, y, (size_t)n);
	free(x);
	free(y);
	return same;
}

/* Clean metadata: dump, restore onto a fresh image, dump again: same XML. */
static void round_trip(struct bdev *dev)
{
	struct bdev copy;
	int x1 = fuzz_memfd("", 0, 0), x2 = fuzz_memfd("", 0, 0);
	int img = fuzz_image(&copy, "", 0, dev->size < 40960 ? 40960 : dev->size);
	if (x1 < 0 || x2 < 0 || img < 0)
		abort();
	if (dump(dev, false, false, x1) || lseek(x1, 0, SEEK_SET))
		abort(); /* metadata that checks clean does not dump */
	if (!fuzz_thin_restore(x1, &copy))
		abort(); /* its dump does not restore */
	if (dump(&copy, false, false, x2) || !same_contents(x1, x2))
		abort(); /* the restored metadata dumps differently */
	fuzz_image_close(&copy, img);
	close(x1);
	close(x2);
}

static void rmap(struct bdev *dev)
{
	struct reporter rep;
	struct rmap_region region = { 0, 1ull << 40 };
	struct thin_rmap_opts o = { &region, 1, 64 };
	unsigned long runs = 0;
	fuzz_reporter(&rep);
	thin_rmap(dev, &o, count_run, &runs, &rep, NULL);
}

static void repair(struct bdev *dev, bool salvage)
{
	struct reporter rep;
	struct outbuf out;
	struct dump_emitter e;
	struct dump_text text = { &out, false };
	struct thin_repair_opts o = { .salvage = salvage };
	fuzz_reporter(&rep);
	if (outbuf_init(&out, fuzz_null_fd()))
		return;
	dump_xml_emitter(&e, &text);
	thin_repair_dump(dev, &o, &e, &rep);
	outbuf_flush(&out);
	outbuf_release(&out);
}

/* Repair leaks in place; if that worked, a second check finds none. */
static void repair_leaks(struct bdev *dev)
{
	struct reporter rep;
	struct thin_check_opts o = { .repair_leaks = true };
	struct thin_check_result res;
	fuzz_reporter(&rep);
	if (thin_check(dev, &o, &rep, &res) || rep.counts[REPORT_FATAL] ||
	    res.repair_error || !(res.data_repaired + res.metadata_repaired))
		return;
	memset(&o, 0, sizeof(o));
	fuzz_reporter(&rep);
	if (thin_check(dev, &o, &rep, &res) || rep.counts[REPORT_FATAL] ||
	    res.data_leaked || res.metadata_leaked)
		abort(); /* the repair left the pool worse or unrepaired */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t nr_blocks = (size + MD_BLOCK_SIZE - 1) / MD_BLOCK_SIZE;
	if (!nr_blocks || nr_blocks > MAX_BLOCKS)
		return 0;
	uint8_t *img = calloc(nr_blocks, MD_BLOCK_SIZE);
	if (!img)
		return 0;
	memcpy(img, data, size);
	seal_tagged(img, nr_blocks);
	struct bdev dev;
	int fd = fuzz_image(&dev, img, nr_blocks * MD_BLOCK_SIZE, 0);
	free(img);
	if (fd < 0)
		return 0;
	if (check(&dev, false))
		round_trip(&dev);
	check(&dev, true);
	dump(&dev, false, false, fuzz_null_fd());
	dump(&dev, true, true, fuzz_null_fd());
	rmap(&dev);
	repair(&dev, false);
	repair(&dev, true);
	repair_leaks(&dev);
	fuzz_image_close(&dev, fd);
	return 0;
}
