// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Arrays that grow by doubling.
 */
#include "array_grow.h"

#include <errno.h>
#include <stdlib.h>

int array_reserve(void **v, uint64_t *cap, uint64_t need, size_t size,
		  uint64_t first)
{
	if (need <= *cap)
		return 0;
	uint64_t n = *cap ? *cap : (first ? first : 1);
	while (n < need) {
		if (n > UINT64_MAX / 2)
			return -ENOMEM;
		n *= 2;
	}
	if (n > SIZE_MAX / size)
		return -ENOMEM;
	void *p = realloc(*v, (size_t)n * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = n;
	return 0;
}
