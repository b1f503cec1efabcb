/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * crc32c.h - CRC-32C (Castagnoli), as used by every metadata checksum.
 *
 * crc32c_raw() is the bare register update: no inversion on entry or
 * exit, so the caller chooses the seed.  The metadata formula (FORMATS.md
 * A.2) is crc32c_raw(0xffffffff, block + 4, 4092) ^ salt.  The usual
 * iSCSI/ext4 CRC-32C of a buffer is ~crc32c_raw(0xffffffff, buf, len).
 * The implementation uses SSE4.2 when the CPU has it (chosen once, at
 * run time) and a table-driven fallback otherwise.
 */
#ifndef THINSNAP_CRC32C_H
#define THINSNAP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c_raw(uint32_t crc, const void *buf, size_t len);

/*
 * Three independent CRCs over buffers of the same length, interleaved so
 * the hardware instruction's latency is hidden.  out[i] gets the raw CRC
 * of buf[i] with seed 0xffffffff.
 */
void crc32c_raw_x3(const void *const buf[3], size_t len, uint32_t out[3]);

/* Name of the implementation in use ("sse4.2" or "table"). */
const char *crc32c_impl(void);

/* Force the table implementation (tests use this to cover both paths). */
void crc32c_force_software(int on);

#endif
