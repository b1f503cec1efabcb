/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_common.h - shared pieces of the fuzz targets in tests/fuzz.
 *
 * Every target is a libFuzzer entry point, LLVMFuzzerTestOneInput().
 * `make fuzz` links them with libFuzzer (clang); `make check` links them
 * with replay.c instead and runs every file of tests/fuzz/corpus/<target>
 * through them, so inputs the fuzzer once found stay tested.
 */
#ifndef THINSNAP_FUZZ_COMMON_H
#define THINSNAP_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block_io.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A memfd holding `size` bytes of `data`, then `pad` zero bytes; -1 on error. */
int fuzz_memfd(const void *data, size_t size, size_t pad);

/*
 * A writable bdev on a memfd made by fuzz_memfd(); returns the memfd, or
 * -1 with nothing left open.  Close both with fuzz_image_close().
 */
int fuzz_image(struct bdev *dev, const void *data, size_t size, size_t pad);
void fuzz_image_close(struct bdev *dev, int fd);

/* Restore thin XML from fd `in` onto out; true when committed. */
bool fuzz_thin_restore(int in, struct bdev *out);

/* A reporter that formats every message (to exercise the format strings)
 * and drops it. */
void fuzz_reporter(struct reporter *rep);

/* An fd on /dev/null, opened once. */
int fuzz_null_fd(void);

#endif
