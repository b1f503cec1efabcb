// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The exception dm-snapshot reads for each origin chunk: a replay of its
 * bucket lists, one group of 256 origin chunks at a time.
 */
#include "snap_kernel_view.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

/* List steps allowed per group: a group of 256 exceptions each repeated
 * eight times takes about 2M; a real store needs far fewer. */
#define STEP_BUDGET (1ull << 24)
#define NONE	    SIZE_MAX

struct item {
	uint64_t old_chunk, new_chunk, k;
};

/* One entry of a bucket list: origin chunks start..start+count. */
struct node {
	uint64_t start, new_start, count;
	size_t next;
};

struct bucket {
	struct node *nodes;
	size_t nr, head;
	uint64_t steps;
};

static int cmp_old_then_k(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	if (x->old_chunk != y->old_chunk)
		return x->old_chunk < y->old_chunk ? -1 : 1;
	return (x->k > y->k) - (x->k < y->k);
}

static int cmp_k(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	return (x->k > y->k) - (x->k < y->k);
}

static bool continues(const struct node *e, uint64_t old_chunk, uint64_t new_chunk)
{
	return old_chunk == e->start + e->count + 1 &&
	       new_chunk == e->new_start + e->count + 1;
}

static bool precedes(const struct node *e, uint64_t old_chunk, uint64_t new_chunk)
{
	return old_chunk + 1 == e->start && new_chunk + 1 == e->new_start;
}

/* Insert one exception as the kernel does: join a run or take a place. */
static int insert(struct bucket *b, uint64_t old_chunk, uint64_t new_chunk)
{
	size_t prev = NONE, cur = b->head;
	while (cur != NONE) {
		struct node *e = &b->nodes[cur];
		if (++b->steps > STEP_BUDGET)
			return -E2BIG;
		if (continues(e, old_chunk, new_chunk)) {
			e->count++;
			return 0;
		}
		if (precedes(e, old_chunk, new_chunk)) {
			e->count++;
			e->start--;
			e->new_start--;
			return 0;
		}
		if (old_chunk < e->start)
			break;
		prev = cur;
		cur = e->next;
	}
	b->nodes[b->nr] = (struct node){ old_chunk, new_chunk, 0, cur };
	if (prev == NONE)
		b->head = b->nr;
	else
		b->nodes[prev].next = b->nr;
	b->nr++;
	return 0;
}

/* The COW chunk the first entry covering old_chunk gives. */
static int lookup(struct bucket *b, uint64_t old_chunk, uint64_t *new_chunk)
{
	for (size_t cur = b->head; cur != NONE; cur = b->nodes[cur].next) {
		const struct node *e = &b->nodes[cur];
		if (++b->steps > STEP_BUDGET)
			return -E2BIG;
		if (old_chunk >= e->start && old_chunk - e->start <= e->count) {
			*new_chunk = e->new_start + (old_chunk - e->start);
			return 0;
		}
	}
	return -ENOENT; /* cannot happen: the chunk was inserted */
}

/*
 * For the exceptions same[0..n) of one origin chunk (in on-disk order),
 * the earliest whose COW chunk is the one read.
 */
static uint64_t reader_of(const struct item *same, size_t n, uint64_t new_chunk)
{
	for (size_t i = 0; i < n; i++)
		if (same[i].new_chunk == new_chunk)
			return same[i].k;
	return same[0].k;
}

/* Replay the group g[0..n) (sorted by origin chunk, then position). */
static int replay_group(const struct item *g, size_t n, uint64_t *reads)
{
	struct bucket b = { .nodes = malloc(n * sizeof(*b.nodes)), .head = NONE };
	struct item *by_k = malloc(n * sizeof(*by_k));
	int err = b.nodes && by_k ? 0 : -ENOMEM;
	if (!err) {
		for (size_t i = 0; i < n; i++)
			by_k[i] = g[i];
		qsort(by_k, n, sizeof(*by_k), cmp_k);
	}
	for (size_t i = 0; i < n && !err; i++)
		err = insert(&b, by_k[i].old_chunk, by_k[i].new_chunk);
	for (size_t i = 0, j; i < n && !err; i = j) {
		uint64_t new_chunk = 0;
		for (j = i; j < n && g[j].old_chunk == g[i].old_chunk; j++)
			;
		err = lookup(&b, g[i].old_chunk, &new_chunk);
		uint64_t k = err ? 0 : reader_of(g + i, j - i, new_chunk);
		for (size_t x = i; x < j && !err; x++)
			reads[g[x].k] = k;
	}
	free(b.nodes);
	free(by_k);
	return err;
}

static bool has_repeat(const struct item *g, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (g[i].old_chunk == g[i - 1].old_chunk)
			return true;
	return false;
}

int snap_kernel_view(const struct snap_exception *ex, uint64_t n,
		     uint64_t *reads)
{
	struct item *v = malloc((n + 1) * sizeof(*v));
	int err = v ? 0 : -ENOMEM;
	for (uint64_t k = 0; k < n && !err; k++) {
		v[k] = (struct item){ ex[k].old_chunk, ex[k].new_chunk, k };
		reads[k] = k;
	}
	if (!err)
		qsort(v, n, sizeof(*v), cmp_old_then_k);
	for (uint64_t i = 0, j; i < n && !err; i = j) {
		uint64_t group = v[i].old_chunk >> SNAP_KERNEL_GROUP_SHIFT;
		for (j = i; j < n && v[j].old_chunk >> SNAP_KERNEL_GROUP_SHIFT == group; j++)
			;
		if (has_repeat(v + i, j - i))
			err = replay_group(v + i, j - i, reads);
	}
	free(v);
	return err;
}
