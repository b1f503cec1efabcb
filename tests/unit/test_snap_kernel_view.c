// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for snap_kernel_view.c: which exception dm-snapshot reads
 * for an origin chunk with several.  The earlier one normally; a later
 * one that continues the run of an entry placed before it; runs never
 * join across a 256-chunk group; precede-joins ("insert before") take
 * part; identical repeats name the earliest; random stores agree with a
 * reference built like the kernel's hash table (buckets shared by
 * groups 0 and 64); a pathological store is refused with -E2BIG instead
 * of hanging.
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

/*
 * A reference written as the kernel's table is: 64 buckets chosen by
 * (old_chunk >> 8) & 63 (the smallest table the kernel makes), so groups
 * 0 and 64 share a bucket; one list per bucket, joined and searched in
 * list order.
 */
#define REF_BUCKETS 64
#define REF_MAX	    400

struct ref_node {
	uint64_t start, new_start, count;
	int next;
};

struct ref_table {
	struct ref_node n[REF_MAX];
	int head[REF_BUCKETS], nr;
};

static void ref_insert(struct ref_table *t, uint64_t o, uint64_t c)
{
	int *link = &t->head[(o >> 8) & (REF_BUCKETS - 1)];
	while (*link >= 0) {
		struct ref_node *e = &t->n[*link];
		if (o == e->start + e->count + 1 && c == e->new_start + e->count + 1) {
			e->count++;
			return;
		}
		if (o + 1 == e->start && c + 1 == e->new_start) {
			e->count++;
			e->start--;
			e->new_start--;
			return;
		}
		if (o < e->start)
			break;
		link = &e->next;
	}
	t->n[t->nr] = (struct ref_node){ o, c, 0, *link };
	*link = t->nr++;
}

static uint64_t ref_lookup(const struct ref_table *t, uint64_t o)
{
	for (int i = t->head[(o >> 8) & (REF_BUCKETS - 1)]; i >= 0; i = t->n[i].next)
		if (o >= t->n[i].start && o - t->n[i].start <= t->n[i].count)
			return t->n[i].new_start + (o - t->n[i].start);
	return 0;
}

/* Random stores full of repeats and runs, near group edges and with
 * groups 0 and 64 in one bucket: the model agrees with the reference. */
static void test_against_kernel_table(void **state)
{
	(void)state;
	static const uint64_t bases[] = { 0, 250, 16384, 16630, 500 };
	static struct ref_table t;
	struct snap_exception ex[REF_MAX];
	uint64_t reads[REF_MAX], later = 0;
	srandom(7);
	for (int trial = 0; trial < 2000; trial++) {
		int n = 1 + (int)(random() % REF_MAX);
		for (int k = 0; k < n; k++) {
			if (k && random() % 2) { /* continue or precede an earlier one */
				const struct snap_exception *p = &ex[random() % k];
				int64_t d = random() % 2 ? 1 : -1;
				ex[k] = (struct snap_exception){ p->old_chunk + (uint64_t)d,
								 p->new_chunk + (uint64_t)d };
			} else {
				ex[k] = (struct snap_exception){
					bases[random() % 5] + (uint64_t)(random() % 12),
					2 + (uint64_t)(random() % 60) };
			}
		}
		t.nr = 0;
		for (int b = 0; b < REF_BUCKETS; b++)
			t.head[b] = -1;
		for (int k = 0; k < n; k++)
			ref_insert(&t, ex[k].old_chunk, ex[k].new_chunk);
		assert_int_equal(snap_kernel_view(ex, (uint64_t)n, reads), 0);
		for (int k = 0; k < n; k++) {
			uint64_t r = reads[k], want = ref_lookup(&t, ex[k].old_chunk);
			assert_true(r < (uint64_t)n);
			assert_int_equal(ex[r].old_chunk, ex[k].old_chunk);
			assert_int_equal(ex[r].new_chunk, want);
			for (uint64_t j = 0; j < r; j++) /* the earliest such */
				assert_false(ex[j].old_chunk == ex[r].old_chunk &&
					     ex[j].new_chunk == want);
			later += ex[k].old_chunk == ex[r].old_chunk && r > (uint64_t)k;
		}
	}
	print_message("a later repeat read %llu times\n", (unsigned long long)later);
	assert_true(later > 1000); /* the interesting case is well covered */
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
		cmocka_unit_test(test_against_kernel_table),
		cmocka_unit_test(test_too_many_repeats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
