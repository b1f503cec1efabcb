// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Set of 64-bit numbers.
 */
#include "u64_set.h"

#include <errno.h>
#include <stdlib.h>

static uint64_t slot_of(const struct u64_set *s, uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdull;
	v ^= v >> 33;
	return v & s->mask;
}

int u64_set_init(struct u64_set *s, uint64_t expected)
{
	uint64_t n = 64;
	while (n < expected * 2)
		n *= 2;
	s->slots = calloc(n, sizeof(*s->slots));
	s->mask = n - 1;
	s->count = 0;
	return s->slots ? 0 : -ENOMEM;
}

void u64_set_release(struct u64_set *s)
{
	free(s->slots);
	s->slots = NULL;
}

bool u64_set_has(const struct u64_set *s, uint64_t v)
{
	for (uint64_t i = slot_of(s, v);; i = (i + 1) & s->mask) {
		if (!s->slots[i])
			return false;
		if (s->slots[i] == v + 1)
			return true;
	}
}

static int grow(struct u64_set *s)
{
	struct u64_set bigger;
	if (u64_set_init(&bigger, s->mask + 1))
		return -ENOMEM;
	for (uint64_t i = 0; i <= s->mask; i++)
		if (s->slots[i])
			u64_set_add(&bigger, s->slots[i] - 1);
	free(s->slots);
	*s = bigger;
	return 0;
}

int u64_set_add(struct u64_set *s, uint64_t v)
{
	if ((s->count + 1) * 2 > s->mask + 1 && grow(s))
		return -ENOMEM;
	uint64_t i = slot_of(s, v);
	for (; s->slots[i]; i = (i + 1) & s->mask)
		if (s->slots[i] == v + 1)
			return 0;
	s->slots[i] = v + 1;
	s->count++;
	return 1;
}
