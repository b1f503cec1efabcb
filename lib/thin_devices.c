// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Sorted list of thin devices.
 */
#include "thin_devices.h"

#include <errno.h>
#include <stdlib.h>

#include "array_grow.h"

int thin_dev_list_push(struct thin_dev_list *l, const struct thin_dev *d)
{
	if (l->n == l->cap &&
	    array_reserve((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v), 64))
		return -ENOMEM;
	l->v[l->n++] = *d;
	return 0;
}

const struct thin_dev *thin_dev_list_find(const struct thin_dev_list *l,
					  uint64_t id)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->n && l->v[lo].id == id ? &l->v[lo] : NULL;
}

void thin_dev_list_release(struct thin_dev_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
