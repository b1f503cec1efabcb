// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * copy_pieces SRC DST OFF:LEN...
 *
 * Test helper: copy each byte range OFF..OFF+LEN of SRC to the same offset
 * of DST with the chunk copier (chunk_copy.h, 2 threads, --verify), both
 * devices opened with BDEV_DIRECT beside a buffered descriptor, as
 * snap_merge_offline opens them.  Then print how each device was used:
 * "NAME: O_DIRECT", "NAME: O_DIRECT refused at open" or "NAME: O_DIRECT
 * refused by an I/O".  For tests of the copier's buffered fallbacks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_copy.h"

struct end {
	struct bdev direct, buffered;
	struct copy_end e;
};

static int open_end(struct end *x, const char *path, unsigned flags)
{
	int r = bdev_open(&x->direct, path, flags | BDEV_DIRECT);
	if (!r)
		r = bdev_open(&x->buffered, path, flags);
	if (r) {
		fprintf(stderr, "copy_pieces: %s: %s\n", path, strerror(-r));
		return r;
	}
	x->e = (struct copy_end){ &x->direct, &x->buffered, false };
	return 0;
}

static void say(const char *path, const struct end *x)
{
	printf("%s: %s\n", path,
	       !x->direct.direct ? "O_DIRECT refused at open"
	       : x->e.direct_refused ? "O_DIRECT refused by an I/O"
				     : "O_DIRECT");
}

int main(int argc, char **argv)
{
	static struct end src, dst;
	struct copier c;
	if (argc < 4) {
		fprintf(stderr, "usage: copy_pieces SRC DST OFF:LEN...\n");
		return 2;
	}
	if (open_end(&src, argv[1], 0) || open_end(&dst, argv[2], BDEV_WRITE) ||
	    copier_init(&c, 2, 1u << 20, true))
		return 1;
	for (int i = 3; i < argc; i++) {
		uint64_t off, len;
		if (sscanf(argv[i], "%" SCNu64 ":%" SCNu64, &off, &len) != 2 ||
		    copier_add(&c, &src.e, off, &dst.e, off, len)) {
			fprintf(stderr, "copy_pieces: bad piece '%s'\n", argv[i]);
			return 2;
		}
	}
	int r = copier_run(&c);
	copier_release(&c);
	if (r) {
		fprintf(stderr, "copy_pieces: %s\n", strerror(-r));
		return 1;
	}
	say(argv[1], &src);
	say(argv[2], &dst);
	return 0;
}
