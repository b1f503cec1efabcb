/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chunk_copy.h - copy many byte ranges between devices quickly.
 *
 * The caller queues copies (source range -> destination range); copies
 * that continue each other on both sides are coalesced into one I/O of up
 * to `max_io` bytes.  copier_run() then performs the whole queue with
 * several worker threads, each reading a piece into its own aligned
 * buffer and writing it out, so reads overlap writes and several
 * requests are in flight.  Destinations in one queue must not overlap
 * (order between pieces is not kept).
 *
 * Each device end has an O_DIRECT descriptor and a buffered twin: pieces
 * that O_DIRECT cannot do (unaligned offsets or lengths) and devices that
 * refuse O_DIRECT use the buffered one.  Nothing is synced here.
 */
#ifndef THINSNAP_CHUNK_COPY_H
#define THINSNAP_CHUNK_COPY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block_io.h"

struct copy_end {
	struct bdev *direct;	/* O_DIRECT if dev->direct, else buffered */
	struct bdev *buffered;
	bool direct_refused;	/* an O_DIRECT I/O failed with EINVAL */
};

struct copy_piece {
	struct copy_end *src, *dst;
	uint64_t src_off, dst_off, len;
};

struct copier {
	unsigned threads;
	size_t max_io;
	bool verify;		/* read every piece back and compare */
	struct copy_piece *q;
	size_t nr;
	uint64_t cap;
	/* while running */
	size_t next;
	int err;
	uint64_t err_off;	/* destination offset of a failed verify */
	uint64_t bytes_done;
	pthread_mutex_t lock;
};

int copier_init(struct copier *c, unsigned threads, size_t max_io,
		bool verify);
void copier_release(struct copier *c);

/* Queue a copy of len bytes. */
int copier_add(struct copier *c, struct copy_end *src, uint64_t src_off,
	       struct copy_end *dst, uint64_t dst_off, uint64_t len);

/*
 * Copy everything queued, then empty the queue.  Returns 0, the first
 * I/O error, or -EILSEQ when --verify found a difference (at err_off).
 */
int copier_run(struct copier *c);

#endif
