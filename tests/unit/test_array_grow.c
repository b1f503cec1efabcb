// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for array_grow.c: the first capacity, doubling until the
 * need fits, no change when it already fits, and refusals on overflow
 * that leave the array as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "array_grow.h"

static void first_capacity_then_doubling(void **state)
{
	(void)state;
	uint32_t *v = NULL;
	uint64_t cap = 0;
	assert_int_equal(array_reserve((void **)&v, &cap, 1, sizeof(*v), 64), 0);
	assert_int_equal(cap, 64);
	assert_non_null(v);
	for (uint32_t i = 0; i < 64; i++)
		v[i] = i;
	assert_int_equal(array_reserve((void **)&v, &cap, 65, sizeof(*v), 64), 0);
	assert_int_equal(cap, 128);
	for (uint32_t i = 0; i < 64; i++)
		assert_int_equal(v[i], i); /* contents kept */
	/* a need far above: doubled as often as it takes */
	assert_int_equal(array_reserve((void **)&v, &cap, 1000, sizeof(*v), 64), 0);
	assert_int_equal(cap, 1024);
	free(v);
}

static void first_below_need(void **state)
{
	(void)state;
	char *v = NULL;
	uint64_t cap = 0;
	assert_int_equal(array_reserve((void **)&v, &cap, 100, 1, 16), 0);
	assert_int_equal(cap, 128);
	free(v);
}

static void no_change_when_it_fits(void **state)
{
	(void)state;
	char *v = malloc(10), *was = v;
	uint64_t cap = 10;
	assert_int_equal(array_reserve((void **)&v, &cap, 10, 1, 64), 0);
	assert_ptr_equal(v, was);
	assert_int_equal(cap, 10);
	free(v);
}

static void overflow_refused_unchanged(void **state)
{
	(void)state;
	uint64_t *v = malloc(8 * sizeof(*v)), *was = v;
	uint64_t cap = 8;
	/* the byte count would overflow size_t */
	assert_int_equal(array_reserve((void **)&v, &cap, SIZE_MAX / 4, sizeof(*v), 8),
			 -ENOMEM);
	/* the capacity itself would overflow */
	assert_int_equal(array_reserve((void **)&v, &cap, UINT64_MAX, 1, 8), -ENOMEM);
	assert_ptr_equal(v, was);
	assert_int_equal(cap, 8);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_capacity_then_doubling),
		cmocka_unit_test(first_below_need),
		cmocka_unit_test(no_change_when_it_fits),
		cmocka_unit_test(overflow_refused_unchanged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
