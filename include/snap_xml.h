/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * snap_xml.h - read the XML form of an exception store (snap_dump.h) and
 * write it back to a COW device.
 *
 * The reader streams the document through libexpat and keeps only the
 * runs (one per element).  It refuses, with the line and column, unknown
 * elements and attributes, missing attributes, bad numbers, a chunk size
 * that is not a power of two, exceptions on the header chunk, on a
 * metadata area or past the end, two exceptions for one origin chunk or
 * one COW chunk, exceptions that would leave no room for the area after
 * a full one, and a truncated document.
 */
#ifndef THINSNAP_SNAP_XML_H
#define THINSNAP_SNAP_XML_H

#include "block_io.h"
#include "thin_xml.h"

struct snap_xml_run {
	uint64_t old_begin, new_begin, length;
	uint32_t line, column;
};

struct snap_image {
	bool formatted;
	uint64_t size;		/* unformatted: sectors */
	uint32_t version, valid, chunk_size;
	uint64_t nr_chunks;
	struct snap_xml_run *runs; /* in document order */
	uint64_t nr_runs, nr_ex;
};

/* Returns 0, or a negative errno with *err filled in. */
int snap_xml_read(int fd, struct snap_image *img, struct xml_error *err);
void snap_image_release(struct snap_image *img);

/* Bytes the device must have to hold the image. */
uint64_t snap_image_bytes(const struct snap_image *img);

/*
 * Write the image to dev (at least snap_image_bytes long): the old header
 * is cleared first, then the metadata areas are written and synced, and
 * the header goes last, so an interrupted restore never leaves a store
 * that looks valid.  Data chunks are not touched.
 */
int snap_image_write(struct bdev *dev, const struct snap_image *img);

#endif
