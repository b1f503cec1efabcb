// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for snap_writer.c and u64_set.c on small stores in a
 * temporary file: formatting, invalidation, B.7 allocation (areas
 * skipped, -ENOSPC), capacity, appends that fill an area (the next one
 * zeroed first), and the merge side: runs, clearing, held areas.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "endian_le.h"
#include "snap_writer.h"
#include "u64_set.h"

#define CS	 1u  /* sectors: 32 exceptions an area, areas at 1, 34, 67... */
#define CB	 512u
#define E	 32u
#define NR	 100u /* chunks */

struct fixture {
	char path[64];
	struct bdev dev;
	struct snap_store s;
	struct snap_writer w;
};

/* A file of NR chunks filled with 0xee, formatted with chunk size CS. */
static void make_store(struct fixture *f)
{
	static uint8_t junk[NR * CB];
	strcpy(f->path, "/tmp/thinsnap-test-snapw-XXXXXX");
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	memset(junk, 0xee, sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	assert_int_equal(bdev_open(&f->dev, f->path, BDEV_WRITE), 0);
	assert_int_equal(snap_format(&f->dev, CS), 0);
}

static void open_writer(struct fixture *f)
{
	assert_int_equal(snap_store_open(&f->s, &f->dev), 0);
	assert_int_equal(snap_writer_init(&f->w, &f->s), 0);
}

static void close_all(struct fixture *f)
{
	snap_writer_release(&f->w);
	snap_store_release(&f->s);
	bdev_close(&f->dev);
	unlink(f->path);
}

static uint64_t entry(struct fixture *f, uint64_t area, uint64_t i, unsigned half)
{
	uint8_t e[8];
	uint64_t off = (1 + area * (E + 1)) * CB + i * 16 + half * 8;
	assert_int_equal(bdev_pread(&f->dev, off, 8, e), 0);
	return le64_load(e);
}

static void test_format(void **state)
{
	struct fixture f;
	uint8_t h[CB];
	(void)state;
	make_store(&f);
	assert_int_equal(bdev_pread(&f.dev, 0, CB, h), 0);
	assert_int_equal(le32_load(h), SNAP_MAGIC);
	assert_int_equal(le32_load(h + 4), 1);
	assert_int_equal(le32_load(h + 8), 1);
	assert_int_equal(le32_load(h + 12), CS);
	for (unsigned i = 16; i < CB; i++)
		assert_int_equal(h[i], 0);
	for (unsigned i = 0; i < E; i++)
		assert_int_equal(entry(&f, 0, i, 1), 0);
	assert_int_equal(entry(&f, 1, 0, 1), 0xeeeeeeeeeeeeeeeeull); /* untouched */
	assert_int_equal(snap_format(&f.dev, 3), -EINVAL);
	assert_int_equal(snap_format(&f.dev, 128), -ENOSPC);
	open_writer(&f);
	assert_int_equal(f.s.nr_ex, 0);
	assert_int_equal(f.w.next_free, 2);
	assert_int_equal(snap_invalidate(&f.s), 0);
	snap_writer_release(&f.w);
	snap_store_release(&f.s);
	assert_int_equal(snap_store_open(&f.s, &f.dev), 0);
	assert_int_equal(f.s.valid, 0);
	assert_int_equal(snap_writer_init(&f.w, &f.s), -EINVAL);
	close_all(&f);
}

static void test_alloc_append(void **state)
{
	struct fixture f;
	uint64_t c, got[E + 1];
	(void)state;
	make_store(&f);
	open_writer(&f);
	/* 100 chunks: data 2..33, 35..66, 68..99; the 96th exception would
	 * fill area 2 and need area 3, at chunk 100: 95 fit */
	assert_int_equal(snap_writer_capacity(&f.w), 95);
	for (unsigned k = 0; k <= E; k++) {
		assert_int_equal(snap_writer_alloc(&f.w, &got[k]), 0);
		assert_int_equal(snap_writer_append(&f.w, 1000 + k, got[k]), 0);
	}
	assert_int_equal(got[0], 2);
	assert_int_equal(got[E - 1], 33);
	assert_int_equal(got[E], 35); /* area 1 (chunk 34) skipped */
	/* area 0 filled: written, area 1 zeroed, then the writer moved on */
	assert_int_equal(f.w.area_nr, 1);
	assert_int_equal(f.w.committed, 1);
	assert_int_equal(entry(&f, 0, E - 1, 0), 1000 + E - 1);
	assert_int_equal(entry(&f, 1, 0, 1), 0);
	assert_int_equal(entry(&f, 1, E - 1, 1), 0);
	assert_int_equal(snap_writer_commit(&f.w), 0);
	assert_int_equal(entry(&f, 1, 0, 1), 35);
	assert_int_equal(snap_writer_capacity(&f.w), 95 - (E + 1));
	snap_writer_release(&f.w);
	snap_store_release(&f.s);
	/* read back as the kernel would */
	open_writer(&f);
	assert_int_equal(f.s.nr_ex, E + 1);
	assert_int_equal(f.w.next_free, 36);
	while (snap_writer_alloc(&f.w, &c) == 0)
		;
	assert_int_equal(c, 99);
	assert_int_equal(snap_writer_alloc(&f.w, &c), -ENOSPC);
	close_all(&f);
}

static void test_merge_side(void **state)
{
	struct fixture f;
	struct snap_exception last;
	uint64_t c, len;
	(void)state;
	make_store(&f);
	open_writer(&f);
	/* 40 exceptions: 0..29 one run of origin 500.., then singles */
	for (unsigned k = 0; k < 40; k++) {
		assert_int_equal(snap_writer_alloc(&f.w, &c), 0);
		assert_int_equal(snap_writer_append(&f.w, k < 30 ? 500 + k : 7 * k, c), 0);
	}
	assert_int_equal(snap_writer_commit(&f.w), 0);
	/* last runs, backwards: singles in area 1, then area 0's tail */
	assert_int_equal(snap_writer_last_run(&f.w, &last, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(last.old_chunk, 7 * 39);
	snap_writer_clear_tail(&f.w, 8); /* all of area 1 */
	assert_int_equal(snap_writer_last_run(&f.w, &last, &len), 0);
	assert_int_equal(f.w.area_nr, 0);
	assert_int_equal(f.w.nr_held, 1);
	assert_int_equal(len, 1); /* entry 31 (217) does not continue 30 (210) */
	assert_int_equal(snap_writer_run_at(&f.w, 1, &last), 1);
	assert_int_equal(snap_writer_run_at(&f.w, 2, &last), 30);
	assert_int_equal(last.old_chunk, 529);
	assert_int_equal(last.new_chunk, 31);
	snap_writer_clear_tail(&f.w, 2);
	assert_int_equal(snap_writer_commit(&f.w), 0);
	assert_int_equal(f.w.nr_held, 0);
	assert_int_equal(entry(&f, 1, 0, 1), 0);
	assert_int_equal(entry(&f, 0, 30, 1), 0);
	assert_int_equal(entry(&f, 0, 29, 0), 529);
	snap_writer_release(&f.w);
	snap_store_release(&f.s);
	open_writer(&f);
	assert_int_equal(f.s.nr_ex, 30);
	close_all(&f);
}

static void test_u64_set(void **state)
{
	struct u64_set s;
	(void)state;
	assert_int_equal(u64_set_init(&s, 1), 0);
	for (uint64_t v = 0; v < 10000; v += 3)
		assert_int_equal(u64_set_add(&s, v * 0x10001), 1);
	assert_int_equal(u64_set_add(&s, 3 * 0x10001), 0);
	for (uint64_t v = 0; v < 10000; v++)
		assert_int_equal(u64_set_has(&s, v * 0x10001), v % 3 == 0);
	assert_int_equal(s.count, 3334);
	u64_set_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_alloc_append),
		cmocka_unit_test(test_merge_side),
		cmocka_unit_test(test_u64_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
