/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dump_emitters.h - text forms of a dump: XML and human_readable.
 *
 * The XML form is upstream thin_dump's: 2-space indentation, attribute
 * order as COMPAT.md gives it.  `compat_0_9` selects the 0.9.0 variant
 * (flags always printed, no metadata_snap attribute, a newline after
 * </superblock>); otherwise the 1.x variant is written.
 */
#ifndef THINSNAP_DUMP_EMITTERS_H
#define THINSNAP_DUMP_EMITTERS_H

#include <stdbool.h>

#include "outbuf.h"
#include "thin_dump.h"

struct dump_text {
	struct outbuf *out;
	bool compat_0_9;
};

void dump_xml_emitter(struct dump_emitter *e, struct dump_text *t);
void dump_human_emitter(struct dump_emitter *e, struct dump_text *t);

#endif
