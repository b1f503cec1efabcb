/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thin_xml_reader.h - private to the thin dump XML reader.
 *
 * The reader can start in the middle of a document: a context says which
 * elements are open there, and the reader prefixes the bytes with their
 * start tags (one a line, so columns stay true) and adds the number of
 * lines before the start to every position.  thin_xml_read() uses this to
 * parse pieces of a large file on several threads and to carry on alone
 * from any piece that did not parse cleanly.
 */
#ifndef THINSNAP_THIN_XML_READER_H
#define THINSNAP_THIN_XML_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "thin_xml.h"

enum xml_element { E_SUPERBLOCK, E_DEVICE, E_DEF, E_REF, E_RANGE, E_SINGLE, E_NR };

/* Which elements are open at a place in a document. */
struct xml_context {
	bool seen_superblock, in_superblock, ended;
	unsigned depth;			/* elements open below the superblock */
	enum xml_element stack[4];
};

struct xml_position {
	uint32_t line, column;
};

/* Equal, but for the names of the lowest free_levels open elements. */
bool xml_context_equal(const struct xml_context *a, const struct xml_context *b,
		       unsigned free_levels);

/*
 * Parse fd from offset to its end, in context start (NULL: the start of
 * the document), lines counted from line_base + 1.
 */
int xml_parse_stream(int fd, off_t offset, const struct xml_context *start,
		     unsigned long line_base, const struct dump_emitter *e,
		     struct xml_error *err);

/*
 * Parse len bytes in context start.  Unless last, the piece is closed with
 * end tags for whatever is open after it (these give no events), so that
 * a piece cut inside markup fails.  Before each event, *pos holds the
 * position of the element.  On success *end is the context after the
 * piece, and the names of its lowest *free_levels open elements were
 * neither closed nor relied on: the piece reads the same with any names
 * there (a <ref> needs a <device> around it; mappings take either).
 * Any failure returns non-zero: the caller parses again serially.
 */
int xml_parse_piece(const char *buf, size_t len, bool last,
		    const struct xml_context *start, const struct dump_emitter *e,
		    struct xml_position *pos, struct xml_context *end,
		    unsigned *free_levels);

/* A consumer refused an event at pos: fill err from its explanation. */
void xml_refusal(const struct dump_emitter *e, int status,
		 const struct xml_position *pos, struct xml_error *err);

#endif
