// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Sequential metadata block allocation with write-combining.
 */
#include "md_writer.h"

#include <errno.h>
#include <string.h>

int md_writer_init(struct md_writer *w, struct bdev *dev, uint64_t nr_blocks)
{
	memset(w, 0, sizeof(*w));
	w->dev = dev;
	w->nr_blocks = nr_blocks;
	w->next = 1;
	w->buf_start = 1;
	w->buf = bdev_alloc_buf(MD_WRITER_BATCH);
	w->scratch = bdev_alloc_buf(1);
	if (!w->buf || !w->scratch || refcount_init(&w->counts, nr_blocks)) {
		md_writer_release(w);
		return -ENOMEM;
	}
	return 0;
}

void md_writer_release(struct md_writer *w)
{
	bdev_free_buf(w->buf);
	bdev_free_buf(w->scratch);
	refcount_release(&w->counts);
	w->buf = w->scratch = NULL;
}

static void drain(struct md_writer *w)
{
	if (w->nbuf && !w->err)
		w->err = bdev_write(w->dev, w->buf_start, w->nbuf, w->buf);
	if (w->nbuf && !w->err)
		bdev_writeback(w->dev, w->buf_start, w->nbuf);
	w->buf_start += w->nbuf;
	w->nbuf = 0;
}

uint8_t *md_writer_new_block(struct md_writer *w, uint64_t *b)
{
	uint8_t *p;
	*b = w->next++;
	if (*b >= w->nr_blocks) {
		p = w->scratch; /* counting only: the device is full */
	} else {
		if (w->nbuf == MD_WRITER_BATCH)
			drain(w);
		p = w->buf + (size_t)w->nbuf++ * MD_BLOCK_SIZE;
	}
	memset(p, 0, MD_BLOCK_SIZE);
	return p;
}

int md_writer_read(struct md_writer *w, uint64_t b, void *buf)
{
	if (b >= w->nr_blocks || b >= w->next)
		return -ERANGE;
	if (b >= w->buf_start && b < w->buf_start + w->nbuf) {
		memcpy(buf, w->buf + (size_t)(b - w->buf_start) * MD_BLOCK_SIZE,
		       MD_BLOCK_SIZE);
		return 0;
	}
	return bdev_read(w->dev, b, 1, buf);
}

int md_writer_ref(struct md_writer *w, uint64_t b)
{
	if (b >= w->nr_blocks)
		return 0; /* past the end: only the total matters now */
	return refcount_inc(&w->counts, b);
}

int md_writer_flush(struct md_writer *w)
{
	drain(w);
	if (!w->err)
		w->err = bdev_sync(w->dev);
	return w->err;
}
