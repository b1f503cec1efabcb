/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * snap_dump.h - the XML form of a persistent exception store.
 *
 *   <snapshot_store version="1" valid="1" chunk_size="16" nr_chunks="2048">
 *     <exception_run old_begin="128" new_begin="2" length="512"/>
 *     <exception old_chunk="640" new_chunk="515"/>
 *   </snapshot_store>
 *
 * Exceptions appear in on-disk order; consecutive ones whose origin and
 * COW chunks both go up by one are merged into a run (a run never crosses
 * a metadata area, since the COW chunks skip it).  An invalidated store is
 * written with valid="0" and no exceptions (nothing trustworthy is left);
 * an unformatted one as <snapshot_store formatted="0" .../>.
 */
#ifndef THINSNAP_SNAP_DUMP_H
#define THINSNAP_SNAP_DUMP_H

#include "outbuf.h"
#include "snap_store.h"

/* s must be formatted or unformatted (not damaged). */
void snap_dump_xml(const struct snap_store *s, struct outbuf *out);

#endif
