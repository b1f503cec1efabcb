// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for snap_kernel_view.c: which exception dm-snapshot reads
 * for an origin chunk with several.  The earlier one normally; a later
 * one that continues the run of an entry placed before it; runs never
 * join across a 256-chunk group; precede-joins ("insert before") take
 * part; identical repeats name the earliest; a pathological store is
 * refused with -E2BIG instead of hanging.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "snap_kernel_view.h"

#define MAX_EX 16

/* reads[] for the pairs ex[0..n), compared with want[0..n). */
static void expect_reads(const struct snap_exception *ex, uint64_t n,
			 const uint64_t *want)
{
	uint64_t reads[MAX_EX];
	assert_true(n <= MAX_EX);
	assert_int_equal(snap_kernel_view(ex, n, reads), 0);
	for (uint64_t k = 0; k < n; k++) {
		print_message("entry %llu: reads %llu, want %llu\n", (unsigned long long)k,
			      (unsigned long long)reads[k], (unsigned long long)want[k]);
		assert_int_equal(reads[k], want[k]);
	}
}

/* (6->20), (5->10), (6->11): the bucket holds 5..6 -> 10..11, then 6->20. */
static void test_later_joins_run(void **state)
{
	(void)state;
	const struct snap_exception ex[] = { { 6, 20 }, { 5, 10 }, { 6, 11 } };
	const uint64_t want[] = { 2, 1, 2 };
	expect_reads(ex, 3, want);
}

static void test_earlier_wins(void **state)
{
	(void)state;
	/* no run to join: the second 6 goes after the first */
	const struct snap_exception ex[] = { { 6, 20 }, { 6, 11 }, { 7, 30 } };
	const uint64_t want[] = { 0, 0, 2 };
	expect_reads(ex, 3, want);
	/* the later one joins a run, but of an entry after the earlier one */
	const struct snap_exception ex2[] = { { 6, 20 }, { 7, 12 }, { 6, 11 } };
	const uint64_t want2[] = { 0, 1, 0 };
	expect_reads(ex2, 3, want2);
	/* a repeat that continues the earlier one's own run changes nothing */
	const struct snap_exception ex3[] = { { 5, 10 }, { 6, 11 }, { 6, 50 }, { 7, 51 } };
	const uint64_t want3[] = { 0, 1, 1, 3 };
	expect_reads(ex3, 4, want3);
}

/* 255 and 256 lie in different buckets: 256->11 cannot continue 255->10. */
static void test_group_boundary(void **state)
{
	(void)state;
	const struct snap_exception ex[] = { { 256, 21 }, { 255, 10 }, { 256, 11 } };
	const uint64_t want[] = { 0, 1, 0 };
	expect_reads(ex, 3, want);
	/* the same shape inside one group: the later one wins */
	const struct snap_exception ex2[] = { { 254, 21 }, { 253, 10 }, { 254, 11 } };
	const uint64_t want2[] = { 2, 1, 2 };
	expect_reads(ex2, 3, want2);
	/* 512->31 would continue 511->30 in one list; not across groups */
	const struct snap_exception ex3[] = { { 512, 41 }, { 511, 30 }, { 512, 31 } };
	const uint64_t want3[] = { 0, 1, 0 };
	expect_reads(ex3, 3, want3);
}

/* A precede-join moves a run's start down; the run then continues. */
static void test_insert_before(void **state)
{
	(void)state;
	/* 5->11, then 4->10 joins it from below: 4..5; then 6->12 continues it,
	 * and that run starts before 6->20 */
	const struct snap_exception ex[] = { { 6, 20 }, { 5, 11 }, { 4, 10 }, { 6, 12 } };
	const uint64_t want[] = { 3, 1, 2, 3 };
	expect_reads(ex, 4, want);
	/* 7->11 precedes 8->12, but that run comes after 7->30 */
	const struct snap_exception ex2[] = { { 7, 30 }, { 8, 12 }, { 7, 11 } };
	const uint64_t want2[] = { 0, 1, 0 };
	expect_reads(ex2, 3, want2);
}

static void test_identical_and_plain(void **state)
{
	(void)state;
	/* identical repeats: the earliest is named */
	const struct snap_exception ex[] = { { 3, 9 }, { 3, 9 }, { 3, 8 } };
	const uint64_t want[] = { 0, 0, 0 };
	expect_reads(ex, 3, want);
	/* no repeats: each reads itself, runs or not, any order */
	const struct snap_exception ex2[] = { { 9, 2 }, { 0, 3 }, { 1, 4 }, { 300, 5 }, { 8, 6 } };
	const uint64_t want2[] = { 0, 1, 2, 3, 4 };
	expect_reads(ex2, 5, want2);
	uint64_t none[1] = { 7 };
	assert_int_equal(snap_kernel_view(NULL, 0, none), 0);
}

/* 8000 exceptions for one origin chunk: too many to replay. */
static void test_too_many_repeats(void **state)
{
	(void)state;
	enum { N = 8000 };
	struct snap_exception *ex = malloc(N * sizeof(*ex));
	uint64_t *reads = malloc(N * sizeof(*reads));
	assert_non_null(ex);
	assert_non_null(reads);
	for (uint64_t k = 0; k < N; k++)
		ex[k] = (struct snap_exception){ 5, 1000 + 2 * k };
	assert_int_equal(snap_kernel_view(ex, N, reads), -E2BIG);
	/* spread over many groups the same number is quick and fine */
	for (uint64_t k = 0; k < N; k++)
		ex[k] = (struct snap_exception){ (k / 2) * 256, 1000 + k };
	assert_int_equal(snap_kernel_view(ex, N, reads), 0);
	assert_int_equal(reads[N - 1], N - 2);
	free(ex);
	free(reads);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_later_joins_run),
		cmocka_unit_test(test_earlier_wins),
		cmocka_unit_test(test_group_boundary),
		cmocka_unit_test(test_insert_before),
		cmocka_unit_test(test_identical_and_plain),
		cmocka_unit_test(test_too_many_repeats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
