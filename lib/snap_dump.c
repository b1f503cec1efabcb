// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * XML writer for exception stores.
 */
#include "snap_dump.h"

static void attr(struct outbuf *o, const char *name, uint64_t v)
{
	outbuf_puts(o, name);
	outbuf_u64(o, v);
	outbuf_write(o, "\"", 1);
}

static void emit(struct outbuf *o, const struct snap_exception *first,
		 uint64_t len)
{
	if (len == 1) {
		attr(o, "  <exception old_chunk=\"", first->old_chunk);
		attr(o, " new_chunk=\"", first->new_chunk);
	} else {
		attr(o, "  <exception_run old_begin=\"", first->old_chunk);
		attr(o, " new_begin=\"", first->new_chunk);
		attr(o, " length=\"", len);
	}
	outbuf_puts(o, "/>\n");
}

void snap_dump_xml(const struct snap_store *s, struct outbuf *o)
{
	uint64_t nr_chunks = s->nr_chunks;
	if (s->state == SNAP_UNFORMATTED) {
		attr(o, "<snapshot_store formatted=\"0\" size=\"", s->dev->size / SNAP_SECTOR);
		outbuf_puts(o, "/>\n");
		return;
	}
	attr(o, "<snapshot_store version=\"", s->version);
	attr(o, " valid=\"", s->valid);
	attr(o, " chunk_size=\"", s->chunk_size);
	attr(o, " nr_chunks=\"", nr_chunks);
	outbuf_puts(o, ">\n");
	for (uint64_t i = 0, run = 0; i < s->nr_ex; i++) {
		const struct snap_exception *e = &s->ex[i];
		bool last = i + 1 == s->nr_ex;
		if (!last && e[1].old_chunk == e->old_chunk + 1 &&
		    e[1].new_chunk == e->new_chunk + 1)
			continue;
		emit(o, &s->ex[run], i - run + 1);
		run = i + 1;
	}
	outbuf_puts(o, "</snapshot_store>\n");
}
