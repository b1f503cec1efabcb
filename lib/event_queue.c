// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Double-buffered hand-off of dump events to a worker thread.
 */
#include "event_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define CHUNK 4096u

struct event_queue {
	const struct dump_emitter *down;
	pthread_t worker;
	pthread_mutex_t lock;
	pthread_cond_t wake;	/* worker: a chunk is ready, or stop */
	pthread_cond_t idle;	/* producer: the worker is done with it */

	struct dump_run *fill;	/* the producer's chunk */
	size_t nfill;
	struct dump_run *work;	/* the worker's chunk */
	size_t nwork;
	bool busy, stop;

	int status;		/* first refusal, sticky */
	uint32_t line, column;	/* of the run refused */
	bool has_position;
};

static void *worker_main(void *arg)
{
	struct event_queue *q = arg;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->busy && !q->stop)
			pthread_cond_wait(&q->wake, &q->lock);
		if (!q->busy)
			break;
		pthread_mutex_unlock(&q->lock);
		int s = 0;
		size_t i = 0;
		for (; i < q->nwork && !s && !q->status; i++)
			s = q->down->run(q->down->ctx, &q->work[i]);
		pthread_mutex_lock(&q->lock);
		if (s && !q->status) {
			q->status = s;
			q->line = q->work[i - 1].line;
			q->column = q->work[i - 1].column;
			q->has_position = true;
		}
		q->busy = false;
		pthread_cond_signal(&q->idle);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Wait until the worker is idle; returns the sticky status. */
static int wait_idle(struct event_queue *q)
{
	pthread_mutex_lock(&q->lock);
	while (q->busy)
		pthread_cond_wait(&q->idle, &q->lock);
	int s = q->status;
	pthread_mutex_unlock(&q->lock);
	return s;
}

/* Give the filled chunk to the worker (after it finished the last). */
static int hand_off(struct event_queue *q)
{
	int s = wait_idle(q);
	if (s || !q->nfill)
		return s;
	pthread_mutex_lock(&q->lock);
	struct dump_run *t = q->work;
	q->work = q->fill;
	q->nwork = q->nfill;
	q->fill = t;
	q->nfill = 0;
	q->busy = true;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

/* Everything queued is delivered: the consumer is ours to call. */
static int drain(struct event_queue *q)
{
	int s = hand_off(q);
	return s ? s : wait_idle(q);
}

static int q_run(void *ctx, const struct dump_run *r)
{
	struct event_queue *q = ctx;
	if (q->nfill == CHUNK) {
		int s = hand_off(q);
		if (s)
			return s;
	}
	q->fill[q->nfill++] = *r;
	return 0;
}

#define DRAIN_THEN(call)                  \
	do {                              \
		int s_ = drain(q);        \
		if (s_)                   \
			return s_;        \
		return q->down->call;     \
	} while (0)

static int q_begin_superblock(void *ctx, const struct dump_superblock *sb)
{
	struct event_queue *q = ctx;
	DRAIN_THEN(begin_superblock(q->down->ctx, sb));
}

static int q_end_superblock(void *ctx)
{
	struct event_queue *q = ctx;
	DRAIN_THEN(end_superblock(q->down->ctx));
}

static int q_begin_def(void *ctx, uint64_t name)
{
	struct event_queue *q = ctx;
	DRAIN_THEN(begin_def(q->down->ctx, name));
}

static int q_end_def(void *ctx)
{
	struct event_queue *q = ctx;
	DRAIN_THEN(end_def(q->down->ctx));
}

static int q_begin_device(void *ctx, uint64_t id, const struct thin_details *d)
{
	struct event_queue *q = ctx;
	DRAIN_THEN(begin_device(q->down->ctx, id, d));
}

static int q_end_device(void *ctx)
{
	struct event_queue *q = ctx;
	DRAIN_THEN(end_device(q->down->ctx));
}

static int q_ref(void *ctx, uint64_t name)
{
	struct event_queue *q = ctx;
	DRAIN_THEN(ref(q->down->ctx, name));
}

static const char *q_error(void *ctx)
{
	struct event_queue *q = ctx;
	return q->down->error ? q->down->error(q->down->ctx) : NULL;
}

static bool q_error_position(void *ctx, uint32_t *line, uint32_t *column)
{
	struct event_queue *q = ctx;
	if (!q->has_position)
		return false;
	*line = q->line;
	*column = q->column;
	return true;
}

int event_queue_create(struct event_queue **out, const struct dump_emitter *down,
		       struct dump_emitter *up)
{
	struct event_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->down = down;
	q->fill = malloc(CHUNK * sizeof(*q->fill));
	q->work = malloc(CHUNK * sizeof(*q->work));
	if (!q->fill || !q->work) {
		free(q->fill);
		free(q->work);
		free(q);
		return -ENOMEM;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->wake, NULL);
	pthread_cond_init(&q->idle, NULL);
	if (pthread_create(&q->worker, NULL, worker_main, q)) {
		event_queue_destroy(q);
		return -EAGAIN;
	}
	*up = (struct dump_emitter){
		.begin_superblock = q_begin_superblock,
		.end_superblock = q_end_superblock,
		.begin_def = q_begin_def,
		.end_def = q_end_def,
		.begin_device = q_begin_device,
		.end_device = q_end_device,
		.ref = q_ref,
		.run = q_run,
		.error = q_error,
		.error_position = q_error_position,
		.ctx = q,
	};
	*out = q;
	return 0;
}

void event_queue_destroy(struct event_queue *q)
{
	if (!q)
		return;
	if (q->worker) {
		pthread_mutex_lock(&q->lock);
		q->stop = true;
		pthread_cond_signal(&q->wake);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->worker, NULL);
	}
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->wake);
	pthread_cond_destroy(&q->idle);
	free(q->fill);
	free(q->work);
	free(q);
}
