// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Space-map count comparison.
 */
#include "sm_check.h"

#include <errno.h>
#include <stdlib.h>

#include "block_validator.h"
#include "endian_le.h"

#define BATCH	      64u
#define DETAIL_LIMIT  10u
#define WORDS	      (SM_BITMAP_BYTES / 8u)

struct sm_scan {
	struct bdev *dev;
	const struct sm_check_input *in;
	struct reporter *rep;
	struct sm_check_result *res;
	uint64_t ovf_pos;	/* next overflow entry to match */
	uint64_t leak_first[DETAIL_LIMIT];
	uint64_t bad_first[DETAIL_LIMIT];
	uint32_t bad_disk[DETAIL_LIMIT], bad_comp[DETAIL_LIMIT];
	uint32_t leak_disk[DETAIL_LIMIT];
};

static const struct sm_overflow_entry *ovf_find(const struct sm_check_input *in,
						uint64_t b)
{
	uint64_t lo = 0, hi = in->nr_ovf;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (in->ovf[mid].block < b)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < in->nr_ovf && in->ovf[lo].block == b ? &in->ovf[lo] : NULL;
}

static void classify(struct sm_scan *s, uint64_t b, uint32_t disk,
		     uint32_t comp)
{
	if (disk == comp)
		return;
	if (comp == 0 && disk == 1) {
		if (s->res->leaked < DETAIL_LIMIT) {
			s->leak_first[s->res->leaked] = b;
			s->leak_disk[s->res->leaked] = disk;
		}
		s->res->leaked++;
		return;
	}
	if (s->res->bad < DETAIL_LIMIT) {
		s->bad_first[s->res->bad] = b;
		s->bad_disk[s->res->bad] = disk;
		s->bad_comp[s->res->bad] = comp;
	}
	s->res->bad++;
}

static uint32_t disk_exact(struct sm_scan *s, uint64_t b, unsigned v)
{
	if (v < 3)
		return v;
	const struct sm_overflow_entry *e = ovf_find(s->in, b);
	return e ? e->count : 3;
}

static uint32_t comp_exact(const struct refcount *rc, uint64_t b, unsigned v)
{
	return v < 3 ? v : refcount_overflow_get(rc, b);
}

/* Entries with value 3 must have an overflow entry. */
static void check_threes(struct sm_scan *s, uint64_t base, uint64_t threes)
{
	while (threes) {
		unsigned bit = (unsigned)__builtin_ctzll(threes);
		uint64_t b = base + bit / 2;
		threes &= threes - 1;
		if (!ovf_find(s->in, b))
			report(s->rep, REPORT_FATAL,
			       "%s space map: block %llu has count 3+ in its bitmap but no overflow entry",
			       s->in->name, (unsigned long long)b);
	}
}

/* Overflow entries of the blocks bitmap i covers, against its entries. */
static void check_overflow_range(struct sm_scan *s, const uint8_t *body,
				 uint64_t first, uint64_t end)
{
	const struct sm_check_input *in = s->in;
	for (; s->ovf_pos < in->nr_ovf && in->ovf[s->ovf_pos].block < end;
	     s->ovf_pos++) {
		const struct sm_overflow_entry *e = &in->ovf[s->ovf_pos];
		if (e->block < first)
			continue;
		unsigned v = sm_bitmap_get(body, (unsigned)(e->block - first));
		if (v != 3) {
			report(s->rep, REPORT_FATAL,
			       "%s space map: overflow entry for block %llu (count %u) but its bitmap entry is %u",
			       in->name, (unsigned long long)e->block, e->count, v);
			continue;
		}
		if (e->count < 3)
			report(s->rep, REPORT_FATAL,
			       "%s space map: overflow entry for block %llu has count %u (must be 3 or more)",
			       in->name, (unsigned long long)e->block, e->count);
		uint32_t comp = refcount_get(in->computed, e->block);
		if (comp >= 3)
			classify(s, e->block, e->count, comp);
	}
}

static uint64_t word_mask(uint64_t valid_entries)
{
	return valid_entries >= 32 ? ~0ull : (1ull << (2 * valid_entries)) - 1;
}

static void compare_word(struct sm_scan *s, uint64_t base, uint64_t dw,
			 uint64_t cw, unsigned n)
{
	for (unsigned j = 0; j < n; j++) {
		unsigned dv = (unsigned)((dw >> (2 * j)) & 3);
		unsigned cv = (unsigned)((cw >> (2 * j)) & 3);
		if (dv == cv)
			continue;
		/* stored bit order: swap to get the value */
		dv = ((dv & 1) << 1) | (dv >> 1);
		cv = ((cv & 1) << 1) | (cv >> 1);
		classify(s, base + j, disk_exact(s, base + j, dv),
			 comp_exact(s->in->computed, base + j, cv));
	}
}

static void check_hints(struct sm_scan *s, uint64_t i, unsigned n_i,
			uint64_t used, int64_t first_free)
{
	const struct sm_index_entry *e = &s->in->index[i];
	uint64_t f = n_i - used;
	if (e->nr_free != f && e->nr_free != f + (SM_ENTRIES_PER_BITMAP - n_i))
		report(s->rep, REPORT_WARNING,
		       "%s space map: index entry %llu (bitmap at block %llu) says %u blocks are free, the bitmap has %llu",
		       s->in->name, (unsigned long long)i,
		       (unsigned long long)e->blocknr, e->nr_free,
		       (unsigned long long)f);
	if (first_free >= 0 && (uint64_t)first_free < e->none_free_before)
		report(s->rep, REPORT_WARNING,
		       "%s space map: index entry %llu says no block before %u is free, but block %llu is",
		       s->in->name, (unsigned long long)i, e->none_free_before,
		       (unsigned long long)(i * SM_ENTRIES_PER_BITMAP +
					    (uint64_t)first_free));
}

static void scan_bitmap(struct sm_scan *s, uint64_t i, const uint8_t *blk)
{
	const struct sm_check_input *in = s->in;
	const uint8_t *body = blk + SM_BITMAP_HEADER;
	const uint8_t *seg = refcount_segment(in->computed, i);
	uint64_t first = i * SM_ENTRIES_PER_BITMAP;
	uint64_t left = in->root->nr_blocks - first;
	unsigned n_i = left < SM_ENTRIES_PER_BITMAP ? (unsigned)left
						    : SM_ENTRIES_PER_BITMAP;
	uint64_t used = 0;
	int64_t first_free = -1;
	bool past_end_reported = false;

	for (unsigned w = 0; w < WORDS; w++) {
		uint64_t base = first + 32ull * w;
		unsigned start = 32 * w;
		unsigned n = start >= n_i ? 0 : (n_i - start > 32 ? 32 : n_i - start);
		uint64_t dw = le64_load(body + 8 * w);
		uint64_t cw = seg ? le64_load(seg + 8 * w) : 0;
		uint64_t m = word_mask(n);
		if ((dw & ~m) && !past_end_reported) {
			report(s->rep, REPORT_FATAL,
			       "%s space map: bitmap %llu (block %llu) has non-zero entries past the end of the map",
			       in->name, (unsigned long long)i,
			       (unsigned long long)in->index[i].blocknr);
			past_end_reported = true;
		}
		if (!n)
			continue;
		dw &= m;
		uint64_t u = sm_word_used(dw);
		used += (uint64_t)__builtin_popcountll(u);
		if (first_free < 0 && u != (0x5555555555555555ull & m))
			first_free = start + __builtin_ctzll(~u & 0x5555555555555555ull & m) / 2;
		check_threes(s, base, sm_word_threes(dw));
		if (dw != cw)
			compare_word(s, base, dw, cw, n);
	}
	check_overflow_range(s, body, first, first + n_i);
	s->res->allocated += used;
	check_hints(s, i, n_i, used, first_free);
}

/* Computed counts for a range whose bitmap could not be read. */
static void skip_bitmap(struct sm_scan *s, uint64_t i)
{
	s->res->unreadable_bitmaps++;
	uint64_t first = i * SM_ENTRIES_PER_BITMAP;
	for (; s->ovf_pos < s->in->nr_ovf &&
	       s->in->ovf[s->ovf_pos].block < first + SM_ENTRIES_PER_BITMAP;
	     s->ovf_pos++)
		;
}

static void report_details(struct sm_scan *s)
{
	const char *name = s->in->name;
	uint64_t n = s->res->bad < DETAIL_LIMIT ? s->res->bad : DETAIL_LIMIT;
	for (uint64_t k = 0; k < n; k++)
		report(s->rep, REPORT_FATAL,
		       "%s block %llu: reference count %u in the space map, %u computed from the trees",
		       name, (unsigned long long)s->bad_first[k], s->bad_disk[k],
		       s->bad_comp[k]);
	if (s->res->bad)
		report(s->rep, REPORT_FATAL,
		       "%llu %s blocks have bad reference counts",
		       (unsigned long long)s->res->bad, name);
	n = s->res->leaked < DETAIL_LIMIT ? s->res->leaked : DETAIL_LIMIT;
	for (uint64_t k = 0; k < n; k++)
		report(s->rep, REPORT_NONFATAL,
		       "%s block %llu: reference count %u in the space map, but nothing references it",
		       name, (unsigned long long)s->leak_first[k], s->leak_disk[k]);
	if (s->res->leaked)
		report(s->rep, REPORT_NONFATAL, "%llu %s blocks have leaked",
		       (unsigned long long)s->res->leaked, name);
}

int sm_check_counts(struct bdev *dev, const struct sm_check_input *in,
		    struct reporter *rep, struct sm_check_result *res)
{
	struct sm_scan s = { .dev = dev, .in = in, .rep = rep, .res = res };
	uint64_t nr = sm_nr_bitmaps(in->root->nr_blocks);
	uint8_t *buf = bdev_alloc_buf(BATCH);
	void *bufs[BATCH];
	uint64_t blocks[BATCH], which[BATCH];
	int errs[BATCH];

	if (!buf)
		return -ENOMEM;
	*res = (struct sm_check_result){ 0 };
	for (uint64_t i = 0; i < nr;) {
		unsigned k = 0;
		for (; i < nr && k < BATCH; i++) {
			if (!in->index_valid[i]) {
				skip_bitmap(&s, i);
				continue;
			}
			which[k] = i;
			blocks[k] = in->index[i].blocknr;
			bufs[k] = buf + (size_t)k * MD_BLOCK_SIZE;
			k++;
		}
		bdev_read_scatter(dev, blocks, k, bufs, errs);
		for (unsigned j = 0; j < k; j++) {
			enum block_verdict v = errs[j] ? BV_BAD_CSUM :
				block_validate(BK_BITMAP, bufs[j], blocks[j]);
			if (v == BV_OK) {
				scan_bitmap(&s, which[j], bufs[j]);
				continue;
			}
			report(rep, REPORT_FATAL,
			       "%s space map: bitmap %llu at block %llu: %s",
			       in->name, (unsigned long long)which[j],
			       (unsigned long long)blocks[j],
			       errs[j] ? "cannot be read" :
			       v == BV_BAD_CSUM ? "bad checksum" :
			       "block number field does not match its location");
			skip_bitmap(&s, which[j]);
		}
	}
	bdev_free_buf(buf);
	report_details(&s);
	if (!res->unreadable_bitmaps && res->allocated != in->root->nr_allocated)
		report(rep, REPORT_WARNING,
		       "%s space map: nr_allocated is %llu, but %llu blocks are in use",
		       in->name, (unsigned long long)in->root->nr_allocated,
		       (unsigned long long)res->allocated);
	return 0;
}
