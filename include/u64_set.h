/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * u64_set.h - a set of 64-bit numbers (open addressing, grows by
 * doubling).  Used to look exceptions up by origin chunk.
 */
#ifndef THINSNAP_U64_SET_H
#define THINSNAP_U64_SET_H

#include <stdbool.h>
#include <stdint.h>

struct u64_set {
	uint64_t *slots; /* value + 1; 0 marks an empty slot */
	uint64_t mask, count;
};

int u64_set_init(struct u64_set *s, uint64_t expected);
void u64_set_release(struct u64_set *s);
bool u64_set_has(const struct u64_set *s, uint64_t v);
/* Returns 1 if added, 0 if already there, -ENOMEM. */
int u64_set_add(struct u64_set *s, uint64_t v);

#endif
