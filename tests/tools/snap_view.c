// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * snap_view ORIGIN COW OUT
 *
 * Test helper: write to OUT what the snapshot with store COW reads: the
 * origin, with every chunk that has an exception taken from the COW
 * (of several for one origin chunk, the one the kernel reads:
 * snap_kernel_view.h), clipped to the origin's size.  An unformatted or invalid store reads as the origin.
 */
#include <stdio.h>
#include <stdlib.h>

#include "snap_kernel_view.h"
#include "snap_store.h"

static int fail(const char *msg)
{
	fprintf(stderr, "snap_view: %s\n", msg);
	return 1;
}

int main(int argc, char **argv)
{
	struct bdev origin, cow, out;
	struct snap_store s;
	if (argc != 4)
		return fail("usage: snap_view ORIGIN COW OUT");
	FILE *f = fopen(argv[3], "wb");
	if (!f || bdev_open(&origin, argv[1], 0) || bdev_open(&cow, argv[2], 0))
		return fail("cannot open the files");
	char *buf = malloc(1 << 20);
	for (uint64_t off = 0; buf && off < origin.size; off += 1 << 20) {
		size_t n = origin.size - off < (1 << 20) ? origin.size - off : (1 << 20);
		if (bdev_pread(&origin, off, n, buf) || fwrite(buf, 1, n, f) != n)
			return fail("copy failed");
	}
	if (!buf || fclose(f) || bdev_open(&out, argv[3], BDEV_WRITE) ||
	    snap_store_open(&s, &cow))
		return fail("cannot read the store");
	buf = realloc(buf, s.chunk_bytes ? s.chunk_bytes : 1);
	uint64_t *reads = malloc((s.nr_ex + 1) * sizeof(*reads));
	if (!buf || !reads || snap_kernel_view(s.ex, s.nr_ex, reads))
		return fail("cannot work out what the kernel reads");
	for (uint64_t k = s.valid ? s.nr_ex : 0; k-- > 0;) {
		uint64_t i = reads[k];
		uint64_t at = s.ex[i].old_chunk * s.chunk_bytes, n = s.chunk_bytes;
		if (at >= origin.size)
			continue;
		if (n > origin.size - at)
			n = origin.size - at;
		if (bdev_pread(&cow, s.ex[i].new_chunk * s.chunk_bytes, n, buf) ||
		    bdev_pwrite(&out, at, n, buf))
			return fail("chunk copy failed");
	}
	free(buf);
	free(reads);
	snap_store_release(&s);
	return 0;
}
