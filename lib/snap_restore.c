// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Writing an exception store read from XML onto a COW device.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "endian_le.h"
#include "snap_writer.h"
#include "snap_xml.h"

#define UNFORMATTED_CLEAR 4096u /* what LVM zeroes on a new COW volume */

uint64_t snap_image_bytes(const struct snap_image *img)
{
	if (!img->formatted)
		return img->size * SNAP_SECTOR;
	return img->nr_chunks * img->chunk_size * SNAP_SECTOR;
}

struct cursor {
	const struct snap_image *img;
	uint64_t run, offset;
};

/* Fill one area buffer with the next entries; returns how many. */
static uint64_t fill_area(struct cursor *c, uint8_t *area, uint64_t per_area)
{
	uint64_t n = 0;
	while (n < per_area && c->run < c->img->nr_runs) {
		const struct snap_xml_run *x = &c->img->runs[c->run];
		uint8_t *e = area + n * SNAP_EXCEPTION_SIZE;
		le64_store(e, x->old_begin + c->offset);
		le64_store(e + 8, x->new_begin + c->offset);
		n++;
		if (++c->offset == x->length) {
			c->run++;
			c->offset = 0;
		}
	}
	return n;
}

static int write_areas(struct bdev *dev, const struct snap_image *img)
{
	uint64_t bytes = (uint64_t)img->chunk_size * SNAP_SECTOR;
	uint64_t per_area = bytes / SNAP_EXCEPTION_SIZE;
	uint64_t last = img->valid ? img->nr_ex / per_area : 0;
	struct cursor c = { img, 0, 0 };
	uint8_t *area = NULL;
	int r = 0;
	if (posix_memalign((void **)&area, MD_BLOCK_SIZE,
			   bytes < MD_BLOCK_SIZE ? MD_BLOCK_SIZE : bytes))
		return -ENOMEM;
	for (uint64_t a = 0; a <= last && !r; a++) {
		memset(area, 0, bytes);
		fill_area(&c, area, per_area);
		r = bdev_pwrite(dev, (1 + a * (per_area + 1)) * bytes, bytes, area);
	}
	free(area);
	return r;
}

static int write_unformatted(struct bdev *dev)
{
	static const uint8_t zeros[UNFORMATTED_CLEAR];
	size_t len = dev->size < sizeof(zeros) ? (size_t)dev->size : sizeof(zeros);
	int r = bdev_pwrite(dev, 0, len, zeros);
	return r ? r : bdev_sync(dev);
}

int snap_image_write(struct bdev *dev, const struct snap_image *img)
{
	if (dev->size < snap_image_bytes(img))
		return -ENOSPC;
	if (!img->formatted)
		return write_unformatted(dev);
	/* no moment where an old header stands over new areas */
	uint64_t bytes = (uint64_t)img->chunk_size * SNAP_SECTOR;
	uint8_t *zero = calloc(1, bytes);
	if (!zero)
		return -ENOMEM;
	int r = bdev_pwrite(dev, 0, bytes, zero);
	free(zero);
	if (!r)
		r = bdev_sync(dev);
	if (!r)
		r = write_areas(dev, img);
	if (!r)
		r = bdev_sync(dev);
	if (!r)
		r = snap_write_header(dev, img->chunk_size, img->valid);
	return r ? r : bdev_sync(dev);
}
