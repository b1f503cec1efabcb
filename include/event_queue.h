/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * event_queue.h - run a dump-event consumer on a second thread.
 *
 * Restoring is parse-bound: the XML parser and the metadata builder each
 * keep a core busy.  An event queue sits between them as a dump_emitter:
 * runs (nearly all events) are collected in chunks and handed to a worker
 * thread that feeds the real consumer, while the parser goes on; any
 * other event first waits for the worker to finish, then is delivered
 * directly, so the consumer sees exactly the original order and is never
 * called from two threads at once.  A consumer's refusal is reported at
 * the next event, with the input position of the run that caused it.
 */
#ifndef THINSNAP_EVENT_QUEUE_H
#define THINSNAP_EVENT_QUEUE_H

#include "thin_dump.h"

struct event_queue;

/* Wrap `down`; *up is what the producer calls. */
int event_queue_create(struct event_queue **q, const struct dump_emitter *down,
		       struct dump_emitter *up);
/* Stops the worker (after the queued events) and frees the queue. */
void event_queue_destroy(struct event_queue *q);

#endif
