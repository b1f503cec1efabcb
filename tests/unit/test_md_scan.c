// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for md_scan.c: hand-made nodes in a temporary file, then
 * what the scan makes of them: tree kinds and figures, candidate pairs
 * and their order, damaged subtrees, mapped_blocks that disagree, empty
 * top levels, loops, and the device lists.
 */
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
#include "btree.h"
#include "endian_le.h"
#include "md_scan.h"
#include "thin_types.h"

#define NR_BLOCKS 64u

static char path[64];
static int fd = -1;
static struct bdev dev = { .fd = -1 };
static struct md_scan *scan;

static int setup(void **state)
{
	(void)state;
	strcpy(path, "/tmp/thinsnap-test-scan-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, (off_t)NR_BLOCKS * MD_BLOCK_SIZE))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	md_scan_free(scan);
	scan = NULL;
	if (dev.fd >= 0)
		bdev_close(&dev);
	dev.fd = -1;
	close(fd);
	unlink(path);
	fd = -1;
	return 0;
}

/* A node at b: n keys, 8-byte values (or details when vs is 24). */
static void put_node(uint64_t b, uint32_t flags, uint32_t vs, unsigned n,
		     const uint64_t *keys, const uint64_t *vals,
		     const struct thin_details *det)
{
	uint8_t blk[MD_BLOCK_SIZE] = { 0 };
	uint32_t max = btree_max_entries(vs);
	le32_store(blk + 4, flags);
	le32_store(blk + 16, n);
	le32_store(blk + 20, max);
	le32_store(blk + 24, vs);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *v = blk + 32 + 8 * max + (size_t)vs * i;
		le64_store(blk + 32 + 8 * i, keys[i]);
		if (det)
			thin_details_encode(&det[i], v);
		else
			le64_store(v, vals[i]);
	}
	block_seal(BK_BTREE_NODE, blk, b);
	assert_int_equal(pwrite(fd, blk, MD_BLOCK_SIZE, (off_t)(b * MD_BLOCK_SIZE)),
			 MD_BLOCK_SIZE);
}

static void garbage(uint64_t b)
{
	uint8_t blk[MD_BLOCK_SIZE];
	memset(blk, 0xab, sizeof(blk));
	assert_int_equal(pwrite(fd, blk, MD_BLOCK_SIZE, (off_t)(b * MD_BLOCK_SIZE)),
			 MD_BLOCK_SIZE);
}

/* A bottom leaf mapping keys first..first+n-1 to data+k at `time`. */
static void put_mappings(uint64_t b, uint64_t first, unsigned n, uint64_t data,
			 uint32_t time)
{
	uint64_t k[8], v[8];
	for (unsigned i = 0; i < n; i++) {
		k[i] = first + i;
		v[i] = block_time_pack(data + i, time);
	}
	put_node(b, BTREE_NODE_LEAF, 8, n, k, v, NULL);
}

static void put_top(uint64_t b, uint64_t id, uint64_t root)
{
	put_node(b, BTREE_NODE_LEAF, 8, 1, &id, &root, NULL);
}

static void put_details(uint64_t b, uint64_t id, uint64_t mapped, uint64_t tid,
			uint32_t time)
{
	struct thin_details d = { mapped, tid, time, time };
	put_node(b, BTREE_NODE_LEAF, 24, 1, &id, NULL, &d);
}

static void run_scan(void)
{
	assert_int_equal(bdev_open(&dev, path, 0), 0);
	assert_int_equal(md_scan_run(&scan, &dev, NR_BLOCKS), 0);
}

static size_t pairs(bool allow_damaged, struct md_root_pair **p)
{
	size_t n = 99;
	assert_int_equal(md_scan_pairs(scan, allow_damaged, p, &n), 0);
	return n;
}

static void test_kinds_and_one_pair(void **state)
{
	struct md_root_pair *p;
	(void)state;
	put_mappings(10, 0, 3, 100, 2);
	put_top(11, 1, 10);
	put_details(12, 1, 3, 5, 1);
	run_scan();
	assert_int_equal(md_scan_nr_nodes(scan), 3);
	assert_int_equal(md_scan_info(scan, 10).kind, MDK_BOTTOM);
	assert_int_equal(md_scan_info(scan, 11).kind, MDK_TOP);
	assert_int_equal(md_scan_info(scan, 12).kind, MDK_DETAILS);
	assert_int_equal(md_scan_info(scan, 13).kind, MDK_NONE);
	assert_int_equal(pairs(false, &p), 1);
	assert_int_equal(p[0].top.root, 11);
	assert_int_equal(p[0].details.root, 12);
	assert_int_equal(p[0].top.nr_mappings, 3);
	assert_int_equal(p[0].top.data_end, 103);
	assert_int_equal(p[0].time, 2);
	assert_int_equal(p[0].details.max_transaction, 5);
	free(p);
}

static void test_newest_pair_first(void **state)
{
	struct md_root_pair *p;
	(void)state;
	/* older generation: time 0; newer: a remap at time 1 */
	put_mappings(10, 0, 3, 100, 0);
	put_top(11, 1, 10);
	put_details(12, 1, 3, 0, 0);
	put_mappings(20, 0, 3, 200, 1);
	put_top(21, 1, 20);
	put_details(22, 1, 3, 0, 0);
	run_scan();
	/* both top levels pair with both details trees (same ids and counts) */
	assert_int_equal(pairs(false, &p), 4);
	assert_int_equal(p[0].top.root, 21);
	assert_int_equal(p[0].time, 1);
	assert_int_equal(p[3].top.root, 11);
	free(p);
}

static void test_damaged_subtree(void **state)
{
	struct md_root_pair *p;
	uint64_t keys[2] = { 0, 100 }, kids[2] = { 21, 22 };
	(void)state;
	put_mappings(21, 0, 4, 10, 0);
	garbage(22);
	put_node(20, BTREE_NODE_INTERNAL, 8, 2, keys, kids, NULL);
	put_top(23, 7, 20);
	put_details(24, 7, 4, 0, 0);
	run_scan();
	assert_true(md_scan_info(scan, 20).damaged);
	assert_int_equal(md_scan_info(scan, 20).kind, MDK_BOTTOM);
	assert_true(md_scan_info(scan, 23).damaged);
	assert_int_equal(pairs(false, &p), 0);
	free(p);
	assert_int_equal(pairs(true, &p), 1);
	assert_int_equal(p[0].top.root, 23);
	free(p);
}

static void test_counts_must_agree_and_empty_top_never_pairs(void **state)
{
	struct md_root_pair *p;
	(void)state;
	put_mappings(10, 0, 3, 100, 0);
	put_top(11, 1, 10);
	put_details(12, 1, 4, 0, 0); /* says 4 mappings, the tree has 3 */
	put_node(13, BTREE_NODE_LEAF, 8, 0, NULL, NULL, NULL); /* empty pool */
	put_node(14, BTREE_NODE_LEAF, 24, 0, NULL, NULL, NULL);
	run_scan();
	assert_int_equal(pairs(false, &p), 0);
	free(p);
}

static void test_loop_terminates(void **state)
{
	struct md_root_pair *p;
	struct thin_dev_list l = { 0 };
	uint64_t k = 0, a = 31, b = 30;
	(void)state;
	put_node(30, BTREE_NODE_INTERNAL, 8, 1, &k, &a, NULL);
	put_node(31, BTREE_NODE_INTERNAL, 8, 1, &k, &b, NULL);
	run_scan();
	assert_int_equal(md_scan_info(scan, 30).kind, MDK_NONE);
	assert_int_equal(pairs(true, &p), 0);
	free(p);
	assert_int_equal(md_scan_devices(scan, 30, &l), 0);
	assert_int_equal(l.n, 0);
	thin_dev_list_release(&l);
}

static void test_devices_of_an_internal_top_level(void **state)
{
	struct thin_dev_list l = { 0 };
	uint64_t keys[2] = { 1, 5 }, kids[2] = { 41, 42 };
	(void)state;
	put_mappings(40, 0, 2, 0, 0);
	put_top(41, 1, 40);
	put_top(42, 5, 40); /* a snapshot sharing the root */
	put_node(43, BTREE_NODE_INTERNAL, 8, 2, keys, kids, NULL);
	run_scan();
	assert_int_equal(md_scan_info(scan, 43).kind, MDK_TOP);
	assert_int_equal(md_scan_info(scan, 43).nr_mappings, 4);
	assert_int_equal(md_scan_devices(scan, 43, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.v[0].id, 1);
	assert_int_equal(l.v[1].id, 5);
	assert_int_equal(l.v[1].root, 40);
	thin_dev_list_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kinds_and_one_pair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newest_pair_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_subtree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_must_agree_and_empty_top_never_pairs,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_terminates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_devices_of_an_internal_top_level,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
