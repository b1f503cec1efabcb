// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: snap_restore's XML reader and the store writer.
 *
 * The input is a snap_dump XML document (at most 1 MiB).  A document the
 * reader accepts is written, if it fits in 4 MiB.  Oracle: no crash, no
 * sanitizer report, no hang; and a written formatted, valid store reads
 * back with no fatal finding.
 */
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "snap_store.h"
#include "snap_xml.h"

#define MAX_BYTES (1u << 20)
#define MAX_IMAGE (4u << 20)

static void write_and_check(const struct snap_image *img)
{
	uint64_t need = snap_image_bytes(img);
	if (!need || need > MAX_IMAGE)
		return;
	struct bdev dev;
	int fd = fuzz_image(&dev, "", 0, need);
	if (fd < 0)
		return;
	struct snap_store s;
	if (!snap_image_write(&dev, img) && img->formatted && img->valid &&
	    !snap_store_open(&s, &dev)) {
		struct reporter rep;
		struct snap_check_opts o = { 0 };
		fuzz_reporter(&rep);
		if (s.state != SNAP_FORMATTED || snap_store_check(&s, &o, &rep) ||
		    rep.counts[REPORT_FATAL] || s.nr_ex != img->nr_ex)
			abort(); /* restored a store that does not read back */
		snap_store_release(&s);
	}
	fuzz_image_close(&dev, fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_BYTES)
		return 0;
	int in = fuzz_memfd(data, size, 0);
	if (in < 0)
		return 0;
	struct snap_image img;
	struct xml_error err;
	if (!snap_xml_read(in, &img, &err))
		write_and_check(&img);
	snap_image_release(&img);
	close(in);
	return 0;
}
