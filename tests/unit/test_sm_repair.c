// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for sm_repair.c: a small space map in a temporary file (an
 * index block and two bitmaps), counts computed in a struct refcount,
 * leaks (on disk 1, computed 0) freed, every other difference refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "block_io.h"
#include "block_validator.h"
#include "refcount.h"
#include "sm_repair.h"
#include "space_map.h"

#define NR_BLOCKS  (SM_ENTRIES_PER_BITMAP + 100u)
#define INDEX_BLK  1u
#define BITMAP0	   2u
#define BITMAP1	   3u
#define FILE_BLKS  6u

struct fixture {
	char path[4096];
	struct bdev dev;
	struct refcount rc;
	struct sm_root root;
	struct sm_index_entry index[2];
	struct sm_index_loc loc[2];
	struct sm_repair r;
	uint8_t disk[2][SM_BITMAP_BYTES]; /* bitmap bodies to write */
};

static void write_block(struct fixture *f, uint64_t b, void *blk,
			enum block_kind k)
{
	block_seal(k, blk, b);
	assert_int_equal(pwrite(f->dev.fd, blk, MD_BLOCK_SIZE,
				(off_t)(b * MD_BLOCK_SIZE)), MD_BLOCK_SIZE);
}

static void read_block(struct fixture *f, uint64_t b, void *blk)
{
	assert_int_equal(bdev_read(&f->dev, b, 1, blk), 0);
}

/* Computed counts: blocks 0..9 count 1, 20 count 2, 16320..16329 count 1. */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "/tmp/thinsnap-test-sm-repair-XXXXXX");
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, FILE_BLKS * MD_BLOCK_SIZE), 0);
	close(fd);
	assert_int_equal(bdev_open(&f->dev, f->path, BDEV_WRITE), 0);
	assert_int_equal(refcount_init(&f->rc, NR_BLOCKS), 0);
	for (uint64_t b = 0; b < 10; b++) {
		assert_int_equal(refcount_set(&f->rc, b, 1), 0);
		assert_int_equal(refcount_set(&f->rc, SM_ENTRIES_PER_BITMAP + b, 1), 0);
		sm_bitmap_set(f->disk[0], (unsigned)b, 1);
		sm_bitmap_set(f->disk[1], (unsigned)b, 1);
	}
	assert_int_equal(refcount_set(&f->rc, 20, 2), 0);
	sm_bitmap_set(f->disk[0], 20, 2);
	f->root.nr_blocks = NR_BLOCKS;
	for (unsigned i = 0; i < 2; i++) {
		f->index[i].blocknr = BITMAP0 + i;
		f->index[i].nr_free = 7; /* stale on purpose */
		f->index[i].none_free_before = 3;
		f->loc[i].block = INDEX_BLK;
		f->loc[i].offset = 16 + 16 * i;
	}
	f->r = (struct sm_repair){ .root = &f->root, .index = f->index,
				   .loc = f->loc, .index_kind = BK_INDEX,
				   .computed = &f->rc };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	sm_repair_release(&f->r);
	refcount_release(&f->rc);
	bdev_close(&f->dev);
	unlink(f->path);
	free(f);
	return 0;
}

/* Write the index block and both bitmaps from the fixture. */
static void write_map(struct fixture *f)
{
	uint8_t *blk = bdev_alloc_buf(1);
	memset(blk, 0, MD_BLOCK_SIZE);
	for (unsigned i = 0; i < 2; i++)
		sm_index_entry_encode(&f->index[i], blk + f->loc[i].offset);
	write_block(f, INDEX_BLK, blk, BK_INDEX);
	for (unsigned i = 0; i < 2; i++) {
		memset(blk, 0, MD_BLOCK_SIZE);
		memcpy(blk + SM_BITMAP_HEADER, f->disk[i], SM_BITMAP_BYTES);
		write_block(f, BITMAP0 + i, blk, BK_BITMAP);
	}
	bdev_free_buf(blk);
}

static void test_no_leaks(void **state)
{
	struct fixture *f = *state;
	write_map(f);
	assert_int_equal(sm_repair_plan(&f->dev, &f->r), 0);
	assert_int_equal(f->r.freed, 0);
	assert_int_equal(f->r.nr_changes, 0);
	assert_int_equal(f->r.allocated, 21);
}

static void test_leaks_planned_and_written(void **state)
{
	struct fixture *f = *state;
	uint8_t *before = bdev_alloc_buf(FILE_BLKS), *after = bdev_alloc_buf(FILE_BLKS);
	/* leaks: 10, 11 (first free moves up) and 500 in bitmap 0 */
	sm_bitmap_set(f->disk[0], 10, 1);
	sm_bitmap_set(f->disk[0], 11, 1);
	sm_bitmap_set(f->disk[0], 500, 1);
	write_map(f);
	assert_int_equal(bdev_read(&f->dev, 0, FILE_BLKS, before), 0);

	assert_int_equal(sm_repair_plan(&f->dev, &f->r), 0);
	assert_int_equal(f->r.freed, 3);
	assert_int_equal(f->r.allocated, 21);
	assert_int_equal(f->r.nr_changes, 1);
	assert_int_equal(f->r.changes[0].bitmap, 0);
	assert_int_equal(f->r.changes[0].freed, 3);
	assert_int_equal(f->r.changes[0].entry.blocknr, BITMAP0);
	/* the kernel's convention: every zero entry of the bitmap */
	assert_int_equal(f->r.changes[0].entry.nr_free, SM_ENTRIES_PER_BITMAP - 11);
	assert_int_equal(f->r.changes[0].entry.none_free_before, 10);

	assert_int_equal(sm_repair_index(&f->dev, &f->r), 0);
	assert_int_equal(sm_repair_bitmaps(&f->dev, &f->r), 0);
	assert_int_equal(bdev_read(&f->dev, 0, FILE_BLKS, after), 0);

	/* bitmap 1 untouched; bitmap 0 equals the computed counts */
	assert_memory_equal(before + BITMAP1 * MD_BLOCK_SIZE,
			    after + BITMAP1 * MD_BLOCK_SIZE, MD_BLOCK_SIZE);
	uint8_t *bm = after + BITMAP0 * MD_BLOCK_SIZE;
	assert_int_equal(block_validate(BK_BITMAP, bm, BITMAP0), BV_OK);
	assert_memory_equal(bm + SM_BITMAP_HEADER, refcount_segment(&f->rc, 0),
			    SM_BITMAP_BYTES);
	/* index: entry 0 rewritten, entry 1 and every other byte kept */
	uint8_t *ib = after + INDEX_BLK * MD_BLOCK_SIZE;
	struct sm_index_entry e;
	assert_int_equal(block_validate(BK_INDEX, ib, INDEX_BLK), BV_OK);
	sm_index_entry_decode(&e, ib + 16);
	assert_int_equal(e.blocknr, BITMAP0);
	assert_int_equal(e.nr_free, SM_ENTRIES_PER_BITMAP - 11);
	assert_int_equal(e.none_free_before, 10);
	assert_memory_equal(ib + 32, before + INDEX_BLK * MD_BLOCK_SIZE + 32,
			    MD_BLOCK_SIZE - 32);

	/* a second plan finds nothing */
	sm_repair_release(&f->r);
	assert_int_equal(sm_repair_plan(&f->dev, &f->r), 0);
	assert_int_equal(f->r.freed, 0);
	bdev_free_buf(before);
	bdev_free_buf(after);
}

static void test_last_bitmap(void **state)
{
	struct fixture *f = *state;
	sm_bitmap_set(f->disk[1], 99, 1); /* the map's last block */
	write_map(f);
	assert_int_equal(sm_repair_plan(&f->dev, &f->r), 0);
	assert_int_equal(f->r.nr_changes, 1);
	assert_int_equal(f->r.changes[0].bitmap, 1);
	assert_int_equal(f->r.changes[0].entry.nr_free, SM_ENTRIES_PER_BITMAP - 10);
	assert_int_equal(f->r.changes[0].entry.none_free_before, 10);
}

/* One on-disk entry that is not a leak makes the plan fail. */
static void refused(struct fixture *f, unsigned bitmap, unsigned j, unsigned v)
{
	sm_bitmap_set(f->disk[0], 12, 1); /* a real leak beside it */
	sm_bitmap_set(f->disk[bitmap], j, v);
	write_map(f);
	assert_int_equal(sm_repair_plan(&f->dev, &f->r), -EILSEQ);
}

static void test_refuses_count_2_unreferenced(void **state)
{
	refused(*state, 0, 30, 2);
}

static void test_refuses_count_too_low(void **state)
{
	refused(*state, 0, 5, 0);
}

static void test_refuses_wrong_count(void **state)
{
	refused(*state, 0, 20, 1); /* computed 2 */
}

static void test_refuses_entry_past_end(void **state)
{
	refused(*state, 1, 100, 1);
}

static void test_refuses_bad_checksum(void **state)
{
	struct fixture *f = *state;
	uint8_t *blk = bdev_alloc_buf(1);
	sm_bitmap_set(f->disk[0], 12, 1);
	write_map(f);
	read_block(f, BITMAP1, blk);
	blk[100] ^= 1;
	assert_int_equal(pwrite(f->dev.fd, blk, MD_BLOCK_SIZE,
				BITMAP1 * MD_BLOCK_SIZE), MD_BLOCK_SIZE);
	assert_int_equal(sm_repair_plan(&f->dev, &f->r), -EILSEQ);
	bdev_free_buf(blk);
}

/* The bitmap changed between the plan and the write: nothing written. */
static void test_bitmap_changed_after_plan(void **state)
{
	struct fixture *f = *state;
	uint8_t *blk = bdev_alloc_buf(1), *again = bdev_alloc_buf(1);
	sm_bitmap_set(f->disk[0], 12, 1);
	write_map(f);
	assert_int_equal(sm_repair_plan(&f->dev, &f->r), 0);
	sm_bitmap_set(f->disk[0], 13, 1);
	write_map(f);
	read_block(f, BITMAP0, blk);
	assert_int_equal(sm_repair_bitmaps(&f->dev, &f->r), -EILSEQ);
	read_block(f, BITMAP0, again);
	assert_memory_equal(blk, again, MD_BLOCK_SIZE);
	bdev_free_buf(blk);
	bdev_free_buf(again);
}

/* An index entry that no longer names its bitmap: nothing written. */
static void test_index_mismatch(void **state)
{
	struct fixture *f = *state;
	sm_bitmap_set(f->disk[0], 12, 1);
	write_map(f);
	assert_int_equal(sm_repair_plan(&f->dev, &f->r), 0);
	f->index[0].blocknr = 5;
	write_map(f);
	assert_int_equal(sm_repair_index(&f->dev, &f->r), -EILSEQ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_leaks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leaks_planned_and_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_bitmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_count_2_unreferenced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_count_too_low, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_wrong_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_entry_past_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_bad_checksum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bitmap_changed_after_plan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_mismatch, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
