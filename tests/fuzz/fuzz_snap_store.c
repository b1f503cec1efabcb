// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: a dm-snapshot COW store image through snap_check,
 * snap_dump and snap_repair.
 *
 * The input is the image (at most 4 MiB).  Oracle: no crash, no
 * sanitizer report, no hang; and a store that snap_repair rewrote in
 * place reads back formatted, with no fatal finding from the check.
 */
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "outbuf.h"
#include "snap_dump.h"
#include "snap_repair.h"
#include "snap_store.h"

#define MAX_BYTES (4u << 20)

static void check_and_dump(struct bdev *dev, bool must_be_clean)
{
	struct snap_store s;
	struct reporter rep;
	struct snap_check_opts o = { .origin_sectors = 1u << 16 };
	struct snap_usage u;
	struct outbuf out;
	fuzz_reporter(&rep);
	if (snap_store_open(&s, dev))
		return;
	snap_store_usage(&s, &u);
	if (s.state == SNAP_FORMATTED && s.valid)
		snap_store_check(&s, &o, &rep);
	if (!outbuf_init(&out, fuzz_null_fd())) {
		snap_dump_xml(&s, &out);
		outbuf_flush(&out);
		outbuf_release(&out);
	}
	if (must_be_clean) {
		struct snap_check_opts any = { 0 };
		fuzz_reporter(&rep);
		if (s.state != SNAP_FORMATTED || !s.valid ||
		    snap_store_check(&s, &any, &rep) || rep.counts[REPORT_FATAL])
			abort(); /* the repair wrote a store that does not check */
	}
	snap_store_release(&s);
}

static void repair(struct bdev *dev, uint32_t chunk_size, bool force)
{
	struct snap_repair r;
	struct snap_repair_opts o = { .chunk_size = chunk_size,
				      .force_invalid = force };
	enum snap_repair_status st;
	if (snap_repair_read(&r, dev, &o, &st))
		return;
	bool ok = st == SNAP_REPAIR_OK && !snap_repair_write(&r, dev, dev, NULL, NULL);
	snap_repair_release(&r);
	if (ok)
		check_and_dump(dev, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_BYTES)
		return 0;
	struct bdev dev;
	int fd = fuzz_image(&dev, data, size, 0);
	if (fd < 0)
		return 0;
	check_and_dump(&dev, false);
	/* the chunk size given, as with --chunk-size, from the input's end */
	uint32_t cs = size ? 1u << (data[size - 1] % 12) : 8;
	repair(&dev, 0, false);
	repair(&dev, cs, true);
	fuzz_image_close(&dev, fd);
	return 0;
}
