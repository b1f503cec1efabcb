/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thin_xml.h - read a thin_dump XML document as a stream of dump events.
 *
 * Streaming (libexpat, 1 MiB at a time): memory does not grow with the
 * document.  Both upstream forms are accepted: 1.x with <def>/<ref> and
 * 0.9.0 with every mapping in full, with or without an <?xml?>
 * declaration.  Anything else — unknown elements or attributes, missing
 * or malformed numbers, elements in the wrong place, a truncated file —
 * stops the parse with a message and the line and column where it was
 * found; so does a consumer's refusal (its error() text is used).
 *
 * The reader uses threads of its own: a large regular file is parsed in
 * pieces by two threads while this one gives the events to the emitter;
 * anything else is parsed here while the emitter is fed on another thread.
 * Either way the emitter is called from one thread at a time, in document
 * order.
 */
#ifndef THINSNAP_THIN_XML_H
#define THINSNAP_THIN_XML_H

#include "thin_dump.h"

struct xml_error {
	unsigned long line, column; /* 0 when not tied to a position */
	char msg[320];
};

/* Returns 0, or a negative errno with *err filled in. */
int thin_xml_read(int fd, const struct dump_emitter *e, struct xml_error *err);

#endif
