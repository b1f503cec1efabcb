// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * copy_chunks SRC DST CHUNK_BYTES < "SRC_CHUNK DST_CHUNK" lines
 *
 * Benchmark baseline for snap_merge_offline: copy each chunk on its own,
 * one at a time (O_DIRECT pread, then pwrite), then fdatasync DST.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	uint64_t s, d;
	void *buf;
	if (argc != 4) {
		fprintf(stderr, "usage: copy_chunks SRC DST CHUNK_BYTES < pairs\n");
		return 2;
	}
	size_t cb = strtoul(argv[3], NULL, 10);
	int in = open(argv[1], O_RDONLY | O_DIRECT), out = open(argv[2], O_WRONLY | O_DIRECT);
	if (in < 0 || out < 0 || posix_memalign(&buf, 4096, cb))
		return 1;
	while (scanf("%" SCNu64 " %" SCNu64, &s, &d) == 2)
		if (pread(in, buf, cb, (off_t)(s * cb)) != (ssize_t)cb ||
		    pwrite(out, buf, cb, (off_t)(d * cb)) != (ssize_t)cb)
			return 1;
	return fdatasync(out) ? 1 : 0;
}
