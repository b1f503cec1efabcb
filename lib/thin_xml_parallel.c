// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading a large thin dump on several threads, with the same result as
 * reading it in one pass.
 *
 * The file is cut at line starts that open an element, roughly every
 * PIECE_BYTES.  Worker threads parse pieces ahead (at most WINDOW) in the
 * context guessed from the tags just before the cut, recording events.
 * This thread replays the records in document order; where a piece failed,
 * or its guessed context differs from the true one left by the piece
 * before it, it parses the rest of the file itself, in the true context.
 * So every message, position and event is what a single pass would give.
 */
#include "thin_xml_reader.h"

#include "event_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array_grow.h"

#define PIECE_BYTES (1u << 20)
#define WINDOW	    4u
#define SCAN	    4096u  /* bytes searched for a cut */
#define LOOKBACK    32768u /* bytes searched for the context of a cut */
#define WORKERS	    2u

enum rec_kind { R_BEGIN_SB, R_END_SB, R_BEGIN_DEF, R_END_DEF, R_BEGIN_DEV,
		R_END_DEV, R_REF, R_RUN };

struct rec {
	enum rec_kind kind;
	struct xml_position pos;
	union {
		struct dump_run run;
		struct {
			uint64_t id;
			struct thin_details d;
		} dev;
		uint64_t name;
	} u;
};

struct piece {
	off_t start, end;		/* only piece 0 starts at 0 */
	struct xml_context assumed, after;
	unsigned free_levels;		/* see xml_parse_piece() */
	int status;
	bool ready;
	unsigned long newlines;
	struct dump_superblock sb;	/* for R_BEGIN_SB */
	struct rec *recs;
	size_t nr;
	uint64_t cap;
	struct xml_position pos;	/* set by the reader before events */
};

struct splitter {
	int fd;
	struct piece *pieces;
	size_t nr_pieces;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	size_t next;			/* piece a worker takes next */
	size_t consumed;		/* pieces replayed */
	bool abort;
};

/* ---- recording emitter ---- */

static struct rec *rec_add(struct piece *p, enum rec_kind kind)
{
	if (p->nr == p->cap &&
	    array_reserve((void **)&p->recs, &p->cap, p->nr + 1, sizeof(*p->recs),
			  4096))
		return NULL;
	struct rec *r = &p->recs[p->nr++];
	r->kind = kind;
	r->pos = p->pos;
	return r;
}

static int rec_plain(void *ctx, enum rec_kind kind)
{
	return rec_add(ctx, kind) ? 0 : -ENOMEM;
}

static int rec_begin_sb(void *ctx, const struct dump_superblock *sb)
{
	struct piece *p = ctx;
	p->sb = *sb;
	return rec_plain(ctx, R_BEGIN_SB);
}

static int rec_end_sb(void *ctx)
{
	return rec_plain(ctx, R_END_SB);
}

static int rec_end_def(void *ctx)
{
	return rec_plain(ctx, R_END_DEF);
}

static int rec_end_dev(void *ctx)
{
	return rec_plain(ctx, R_END_DEV);
}

static int rec_named(void *ctx, enum rec_kind kind, uint64_t name)
{
	struct rec *r = rec_add(ctx, kind);
	if (!r)
		return -ENOMEM;
	r->u.name = name;
	return 0;
}

static int rec_begin_def(void *ctx, uint64_t name)
{
	return rec_named(ctx, R_BEGIN_DEF, name);
}

static int rec_ref(void *ctx, uint64_t name)
{
	return rec_named(ctx, R_REF, name);
}

static int rec_begin_dev(void *ctx, uint64_t id, const struct thin_details *d)
{
	struct rec *r = rec_add(ctx, R_BEGIN_DEV);
	if (!r)
		return -ENOMEM;
	r->u.dev.id = id;
	r->u.dev.d = *d;
	return 0;
}

static int rec_run(void *ctx, const struct dump_run *run)
{
	struct rec *r = rec_add(ctx, R_RUN);
	if (!r)
		return -ENOMEM;
	r->u.run = *run;
	return 0;
}

/* ---- cutting ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool starts_with(const char *s, const char *end, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(end - s) >= n && !memcmp(s, word, n);
}

/*
 * The open elements just before a cut at buf + at, guessed from the
 * nearest device or def tag before it (a wrong guess costs speed only).
 */
static void guess_context(const char *buf, size_t at, struct xml_context *c)
{
	memset(c, 0, sizeof(*c));
	c->seen_superblock = c->in_superblock = true;
	c->depth = 1;
	c->stack[0] = E_DEVICE;
	const char *end = buf + at;
	for (const char *s = end; s-- > buf;) {
		if (*s != '<')
			continue;
		if (starts_with(s, end, "</device>") || starts_with(s, end, "</def>") ||
		    starts_with(s, end, "<superblock")) {
			c->depth = 0;
			return;
		}
		if (starts_with(s, end, "<def ") || starts_with(s, end, "<def>")) {
			c->stack[0] = E_DEF;
			return;
		}
		if (starts_with(s, end, "<device ") || starts_with(s, end, "<device>"))
			return;
	}
}

/* The first line start at or after buf + from that opens an element. */
static bool find_cut(const char *buf, size_t from, size_t len, size_t *cut)
{
	for (size_t i = from ? from : 1; i < len; i++) {
		if (buf[i - 1] != '\n')
			continue;
		size_t j = i;
		while (j < len && is_blank(buf[j]))
			j++;
		if (j + 1 < len && buf[j] == '<' &&
		    ((buf[j + 1] >= 'a' && buf[j + 1] <= 'z') ||
		     (buf[j + 1] >= 'A' && buf[j + 1] <= 'Z'))) {
			*cut = i;
			return true;
		}
	}
	return false;
}

static int plan_pieces(struct splitter *sp, off_t size)
{
	size_t max = (size_t)(size / PIECE_BYTES) + 1;
	char *win = malloc(LOOKBACK + SCAN);
	sp->pieces = calloc(max, sizeof(*sp->pieces));
	if (!win || !sp->pieces) {
		free(win);
		return -ENOMEM;
	}
	sp->nr_pieces = 1;
	for (size_t k = 1; k < max; k++) {
		off_t nominal = (off_t)k * PIECE_BYTES, wstart = nominal - LOOKBACK;
		ssize_t n = pread(sp->fd, win, LOOKBACK + SCAN, wstart);
		size_t cut;
		if (n <= (ssize_t)LOOKBACK ||
		    !find_cut(win, LOOKBACK, (size_t)n, &cut))
			continue;
		struct piece *p = &sp->pieces[sp->nr_pieces++];
		p->start = wstart + (off_t)cut;
		guess_context(win, cut, &p->assumed);
	}
	for (size_t k = 0; k + 1 < sp->nr_pieces; k++)
		sp->pieces[k].end = sp->pieces[k + 1].start;
	sp->pieces[sp->nr_pieces - 1].end = size;
	free(win);
	return 0;
}

/* ---- workers ---- */

static int read_piece(int fd, const struct piece *p, char **buf, size_t *cap)
{
	size_t len = (size_t)(p->end - p->start);
	if (len > *cap) {
		char *n = realloc(*buf, len);
		if (!n)
			return -ENOMEM;
		*buf = n;
		*cap = len;
	}
	for (size_t done = 0; done < len;) {
		ssize_t n = pread(fd, *buf + done, len - done, p->start + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

static unsigned long count_lines(const char *s, size_t len)
{
	unsigned long n = 0;
	const char *end = s + len;
	while ((s = memchr(s, '\n', (size_t)(end - s)))) {
		n++;
		s++;
	}
	return n;
}

static void parse_one(struct splitter *sp, struct piece *p, bool last,
		      char **buf, size_t *cap)
{
	const struct dump_emitter rec = {
		.begin_superblock = rec_begin_sb, .end_superblock = rec_end_sb,
		.begin_def = rec_begin_def, .end_def = rec_end_def,
		.begin_device = rec_begin_dev, .end_device = rec_end_dev,
		.ref = rec_ref, .run = rec_run, .ctx = p,
	};
	size_t len = (size_t)(p->end - p->start);
	p->status = read_piece(sp->fd, p, buf, cap);
	if (p->status)
		return;
	p->newlines = count_lines(*buf, len);
	p->status = xml_parse_piece(*buf, len, last,
				    p->start ? &p->assumed : NULL, &rec,
				    &p->pos, &p->after, &p->free_levels);
}

static void *worker_main(void *arg)
{
	struct splitter *sp = arg;
	char *buf = NULL;
	size_t cap = 0;
	pthread_mutex_lock(&sp->lock);
	for (;;) {
		while (!sp->abort && sp->next < sp->nr_pieces &&
		       sp->next >= sp->consumed + WINDOW)
			pthread_cond_wait(&sp->changed, &sp->lock);
		if (sp->abort || sp->next >= sp->nr_pieces)
			break;
		size_t k = sp->next++;
		pthread_mutex_unlock(&sp->lock);
		parse_one(sp, &sp->pieces[k], k + 1 == sp->nr_pieces, &buf, &cap);
		pthread_mutex_lock(&sp->lock);
		sp->pieces[k].ready = true;
		pthread_cond_broadcast(&sp->changed);
	}
	pthread_mutex_unlock(&sp->lock);
	free(buf);
	return NULL;
}

/* ---- replay ---- */

static int replay_one(const struct dump_emitter *e, const struct piece *p,
		      const struct rec *r)
{
	switch (r->kind) {
	case R_BEGIN_SB:
		return e->begin_superblock(e->ctx, &p->sb);
	case R_END_SB:
		return e->end_superblock(e->ctx);
	case R_BEGIN_DEF:
		return e->begin_def(e->ctx, r->u.name);
	case R_END_DEF:
		return e->end_def(e->ctx);
	case R_BEGIN_DEV:
		return e->begin_device(e->ctx, r->u.dev.id, &r->u.dev.d);
	case R_END_DEV:
		return e->end_device(e->ctx);
	case R_REF:
		return e->ref(e->ctx, r->u.name);
	case R_RUN:
		return e->run(e->ctx, &r->u.run);
	}
	return -EINVAL;
}

/* Give piece p's events, its lines counted from base, to e. */
static int replay(const struct dump_emitter *e, struct piece *p,
		  unsigned long base, struct xml_error *err)
{
	for (size_t i = 0; i < p->nr; i++) {
		struct rec *r = &p->recs[i];
		r->pos.line += (uint32_t)base;
		if (r->kind == R_RUN) {
			r->u.run.line = r->pos.line;
			r->u.run.column = r->pos.column;
		}
		int s = replay_one(e, p, r);
		if (s) {
			xml_refusal(e, s, &r->pos, err);
			return s;
		}
	}
	return 0;
}

static void wait_ready(struct splitter *sp, size_t k)
{
	pthread_mutex_lock(&sp->lock);
	while (!sp->pieces[k].ready)
		pthread_cond_wait(&sp->changed, &sp->lock);
	pthread_mutex_unlock(&sp->lock);
}

static void piece_done(struct splitter *sp, struct piece *p)
{
	free(p->recs);
	p->recs = NULL;
	pthread_mutex_lock(&sp->lock);
	sp->consumed++;
	pthread_cond_broadcast(&sp->changed);
	pthread_mutex_unlock(&sp->lock);
}

/* The context of piece k was guessed wrong: parse it again in ctx. */
static void reparse(struct splitter *sp, size_t k, const struct xml_context *ctx)
{
	struct piece *p = &sp->pieces[k];
	char *buf = NULL;
	size_t cap = 0;
	p->nr = 0;
	p->assumed = *ctx;
	parse_one(sp, p, k + 1 == sp->nr_pieces, &buf, &cap);
	free(buf);
}

static int consume(struct splitter *sp, const struct dump_emitter *e,
		   struct xml_error *err)
{
	struct xml_context ctx = { 0 };
	unsigned long base = 0;
	memset(err, 0, sizeof(*err));
	for (size_t k = 0; k < sp->nr_pieces; k++) {
		struct piece *p = &sp->pieces[k];
		wait_ready(sp, k);
		if (!p->status && k &&
		    !xml_context_equal(&p->assumed, &ctx, p->free_levels))
			reparse(sp, k, &ctx);
		for (unsigned i = 0; k && !p->status && i < p->free_levels; i++)
			p->after.stack[i] = ctx.stack[i];
		if (p->status)
			return xml_parse_stream(sp->fd, p->start, k ? &ctx : NULL,
						base, e, err);
		int s = replay(e, p, base, err);
		if (s)
			return s;
		ctx = p->after;
		base += p->newlines;
		piece_done(sp, p);
	}
	return 0;
}

static int read_in_pieces(int fd, off_t size, const struct dump_emitter *e,
			  struct xml_error *err)
{
	struct splitter sp = { .fd = fd };
	pthread_t workers[WORKERS];
	unsigned started = 0;
	int s = plan_pieces(&sp, size);
	pthread_mutex_init(&sp.lock, NULL);
	pthread_cond_init(&sp.changed, NULL);
	for (; !s && started < WORKERS; started++)
		if (pthread_create(&workers[started], NULL, worker_main, &sp))
			break;
	if (!s && started)
		s = consume(&sp, e, err);
	else if (!s)
		s = xml_parse_stream(fd, 0, NULL, 0, e, err);
	pthread_mutex_lock(&sp.lock);
	sp.abort = true;
	pthread_cond_broadcast(&sp.changed);
	pthread_mutex_unlock(&sp.lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	for (size_t k = 0; k < sp.nr_pieces; k++)
		free(sp.pieces[k].recs);
	free(sp.pieces);
	pthread_cond_destroy(&sp.changed);
	pthread_mutex_destroy(&sp.lock);
	return s;
}

/* Pieces parse alike only if nothing before the root changes how bytes
 * read: no DTD (entities), no encoding other than UTF-8 or ASCII. */
static bool plain_prolog(int fd)
{
	char head[SCAN + 1];
	ssize_t n = pread(fd, head, SCAN, 0);
	if (n <= 0)
		return false;
	head[n] = 0;
	char *root = strstr(head, "<superblock");
	if (!root)
		return false;
	*root = 0;
	if (strstr(head, "<!DOCTYPE") || strchr(head, '\0') != root)
		return false;
	char *enc = strstr(head, "encoding");
	if (!enc)
		return true;
	enc += strlen("encoding");
	enc += strspn(enc, " \t\r\n=\"'");
	return !strncasecmp(enc, "utf-8", 5) || !strncasecmp(enc, "us-ascii", 8);
}

/* One pass on this thread; e is fed on another (event_queue.h). */
static int read_in_one_pass(int fd, const struct dump_emitter *e,
			    struct xml_error *err)
{
	struct event_queue *q;
	struct dump_emitter up;
	int s = event_queue_create(&q, e, &up);
	if (s) {
		memset(err, 0, sizeof(*err));
		snprintf(err->msg, sizeof(err->msg), "%s", strerror(-s));
		return s;
	}
	s = xml_parse_stream(fd, 0, NULL, 0, &up, err);
	event_queue_destroy(q);
	return s;
}

int thin_xml_read(int fd, const struct dump_emitter *e, struct xml_error *err)
{
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size < 2 * (off_t)PIECE_BYTES ||
	    sysconf(_SC_NPROCESSORS_ONLN) < 2 || !plain_prolog(fd))
		return read_in_one_pass(fd, e, err);
	return read_in_pieces(fd, st.st_size, e, err);
}
