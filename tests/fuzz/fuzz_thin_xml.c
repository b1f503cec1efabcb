// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: thin_restore's XML reader and the metadata builder.
 *
 * The input is a thin_dump XML document (at most 1 MiB).  It is restored
 * onto a 4 MiB image.  Oracle: no crash, no sanitizer report, no hang;
 * and metadata that thin_restore committed passes thin_check with no
 * finding at all.
 */
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "thin_check.h"

#define MAX_BYTES  (1u << 20)
#define IMAGE_SIZE (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_BYTES)
		return 0;
	struct bdev out;
	int in = fuzz_memfd(data, size, 0);
	int img = in < 0 ? -1 : fuzz_image(&out, "", 0, IMAGE_SIZE);
	if (img >= 0) {
		if (fuzz_thin_restore(in, &out)) {
			struct reporter rep;
			struct thin_check_opts o = { 0 };
			struct thin_check_result res;
			fuzz_reporter(&rep);
			if (thin_check(&out, &o, &rep, &res) ||
			    rep.counts[REPORT_FATAL] || rep.counts[REPORT_NONFATAL])
				abort(); /* committed metadata that does not check */
		}
		fuzz_image_close(&out, img);
	}
	if (in >= 0)
		close(in);
	return 0;
}
