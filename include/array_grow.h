/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * array_grow.h - arrays that grow by doubling.
 *
 * array_reserve() makes room for `need` elements of `size` bytes in the
 * array *v whose capacity is *cap elements: the capacity doubles (from
 * `first` when it is 0) until `need` fits.  Returns 0, or -ENOMEM (also
 * when the byte count would overflow) with *v and *cap unchanged.
 * Callers keep the common case inline: `if (n == cap && array_reserve())`.
 */
#ifndef THINSNAP_ARRAY_GROW_H
#define THINSNAP_ARRAY_GROW_H

#include <stddef.h>
#include <stdint.h>

int array_reserve(void **v, uint64_t *cap, uint64_t need, size_t size,
		  uint64_t first);

#endif
