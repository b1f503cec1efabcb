// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Exception store XML reader (libexpat) and checks on what it read.
 */
#include "snap_xml.h"

#include <errno.h>
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array_grow.h"
#include "snap_store.h"

#define FEED_BYTES	  (1u << 20)
#define MAX_CHUNK_SECTORS (1u << 21)

/* One attribute of an element: where its value goes, its limit. */
struct field {
	const char *name;
	uint64_t max;
	bool required;
};

enum tag { T_STORE, T_UNFORMATTED, T_SINGLE, T_RUN, T_NR };

static const struct field fields[T_NR][4] = {
	[T_STORE] = { { "version", UINT32_MAX, true }, { "valid", UINT32_MAX, true },
		      { "chunk_size", UINT32_MAX, true }, { "nr_chunks", UINT64_MAX, true } },
	[T_UNFORMATTED] = { { "formatted", 0, true }, { "size", UINT64_MAX, true } },
	[T_SINGLE] = { { "old_chunk", UINT64_MAX, true }, { "new_chunk", UINT64_MAX, true } },
	[T_RUN] = { { "old_begin", UINT64_MAX, true }, { "new_begin", UINT64_MAX, true },
		    { "length", UINT64_MAX, true } },
};

static const char *const tag_names[T_NR] = {
	"snapshot_store", "snapshot_store", "exception", "exception_run",
};

struct parse {
	XML_Parser p;
	struct snap_image *img;
	struct xml_error *err;
	uint64_t cap;
	int status;
	bool open, closed;
	const char *inside;	/* the open exception element, if any */
};

static void fail(struct parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct parse *ps, const char *fmt, ...)
{
	va_list ap;
	if (ps->status)
		return;
	ps->status = -EINVAL;
	ps->err->line = XML_GetCurrentLineNumber(ps->p);
	ps->err->column = XML_GetCurrentColumnNumber(ps->p) + 1;
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	va_end(ap);
	XML_StopParser(ps->p, XML_FALSE);
}

static bool to_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (unsigned)(*s - '0')) / 10)
			return false;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*out = v;
	return v <= max;
}

/* All attributes of a tag as numbers, in the order of its fields. */
static bool read_fields(struct parse *ps, enum tag t, const char **atts,
			uint64_t *v)
{
	const struct field *f = fields[t];
	bool seen[4] = { false };
	for (unsigned a = 0; atts[a]; a += 2) {
		unsigned i = 0;
		while (i < 4 && f[i].name && strcmp(f[i].name, atts[a]))
			i++;
		if (i == 4 || !f[i].name) {
			fail(ps, "unknown attribute '%s' in <%s>", atts[a], tag_names[t]);
			return false;
		}
		if (!to_u64(atts[a + 1], f[i].max, &v[i])) {
			fail(ps, "attribute '%s' of <%s> %s: '%s'", atts[a], tag_names[t],
			     f[i].max ? "is not a number in range" : "must be 0",
			     atts[a + 1]);
			return false;
		}
		seen[i] = true;
	}
	for (unsigned i = 0; i < 4 && f[i].name; i++)
		if (f[i].required && !seen[i]) {
			fail(ps, "<%s> is missing attribute '%s'", tag_names[t], f[i].name);
			return false;
		}
	return true;
}

static bool has_attr(const char **atts, const char *name)
{
	for (unsigned a = 0; atts[a]; a += 2)
		if (!strcmp(atts[a], name))
			return true;
	return false;
}

static void store_header(struct parse *ps, const char **atts)
{
	struct snap_image *img = ps->img;
	uint64_t v[4] = { 0 };
	if (has_attr(atts, "formatted")) {
		if (read_fields(ps, T_UNFORMATTED, atts, v))
			img->size = v[1];
		ps->closed = true; /* nothing may follow inside */
		return;
	}
	if (!read_fields(ps, T_STORE, atts, v))
		return;
	img->formatted = true;
	img->version = (uint32_t)v[0];
	img->valid = (uint32_t)v[1];
	img->chunk_size = (uint32_t)v[2];
	img->nr_chunks = v[3];
	if (img->version != SNAP_VERSION)
		fail(ps, "unknown store version %u (only 1 exists)", img->version);
	else if (img->valid > 1)
		fail(ps, "valid must be 0 or 1, not %u", img->valid);
	else if (!img->chunk_size || (img->chunk_size & (img->chunk_size - 1)) ||
		 img->chunk_size > MAX_CHUNK_SECTORS)
		fail(ps, "chunk_size %u is not a power of two up to %u sectors",
		     img->chunk_size, MAX_CHUNK_SECTORS);
	else if (img->nr_chunks < 2)
		fail(ps, "nr_chunks %llu leaves no room for the header and the first area",
		     (unsigned long long)img->nr_chunks);
}

/* First metadata area at or after chunk c (c >= 1). */
static uint64_t area_at_or_after(uint64_t per_area, uint64_t c)
{
	uint64_t a = (c - 1 + per_area) / (per_area + 1);
	return 1 + a * (per_area + 1);
}

static bool cow_chunks_ok(struct parse *ps, const struct snap_xml_run *x)
{
	const struct snap_image *img = ps->img;
	uint64_t per_area = (uint64_t)img->chunk_size * SNAP_SECTOR / SNAP_EXCEPTION_SIZE;
	uint64_t end = x->new_begin + x->length;
	if (!x->new_begin) {
		fail(ps, "COW chunk 0 is the header chunk");
		return false;
	}
	uint64_t area = area_at_or_after(per_area, x->new_begin);
	if (area < end) {
		fail(ps, "COW chunk %llu is a metadata area", (unsigned long long)area);
		return false;
	}
	if (end > img->nr_chunks) {
		fail(ps, "COW chunk %llu lies past the end of the store (%llu chunks)",
		     (unsigned long long)(x->new_begin > img->nr_chunks ? x->new_begin
									: img->nr_chunks),
		     (unsigned long long)img->nr_chunks);
		return false;
	}
	return true;
}

static void exception(struct parse *ps, enum tag t, const char **atts)
{
	struct snap_image *img = ps->img;
	uint64_t v[4] = { 0, 0, 1, 0 };
	if (!read_fields(ps, t, atts, v))
		return;
	struct snap_xml_run x = { v[0], v[1], v[2],
				  (uint32_t)XML_GetCurrentLineNumber(ps->p),
				  (uint32_t)XML_GetCurrentColumnNumber(ps->p) + 1 };
	if (!img->valid) {
		fail(ps, "an invalidated store (valid=\"0\") has no exceptions");
		return;
	}
	if (!x.length || x.old_begin + x.length < x.old_begin ||
	    x.new_begin + x.length < x.new_begin) {
		fail(ps, "bad run length %llu", (unsigned long long)x.length);
		return;
	}
	if (!cow_chunks_ok(ps, &x))
		return;
	if (img->nr_runs == ps->cap &&
	    array_reserve((void **)&img->runs, &ps->cap, img->nr_runs + 1,
			  sizeof(*img->runs), 256)) {
		fail(ps, "out of memory");
		ps->status = -ENOMEM;
		return;
	}
	img->runs[img->nr_runs++] = x;
	img->nr_ex += x.length;
}

static void XMLCALL on_start(void *ctx, const XML_Char *name,
			     const XML_Char **atts)
{
	struct parse *ps = ctx;
	bool top = !strcmp(name, tag_names[T_STORE]);
	enum tag t = !strcmp(name, tag_names[T_SINGLE]) ? T_SINGLE : T_RUN;
	if (ps->status)
		return;
	if (ps->inside) {
		fail(ps, "<%s> inside <%s>", name, ps->inside);
		return;
	}
	if (!top && strcmp(name, tag_names[T_SINGLE]) && strcmp(name, tag_names[T_RUN])) {
		fail(ps, "unknown element <%s>", name);
	} else if (top) {
		if (ps->open || ps->closed)
			fail(ps, "more than one <snapshot_store>");
		ps->open = true;
		store_header(ps, atts);
	} else if (!ps->open || ps->closed) {
		fail(ps, "<%s> outside a formatted <snapshot_store>", name);
	} else {
		exception(ps, t, atts);
		ps->inside = tag_names[t];
	}
}

static void XMLCALL on_end(void *ctx, const XML_Char *name)
{
	struct parse *ps = ctx;
	if (!strcmp(name, tag_names[T_STORE]))
		ps->closed = true;
	else
		ps->inside = NULL;
}

static void XMLCALL on_text(void *ctx, const XML_Char *s, int len)
{
	struct parse *ps = ctx;
	for (int i = 0; i < len; i++)
		if (!strchr(" \t\r\n", s[i])) {
			fail(ps, "unexpected text '%.*s'", len - i > 20 ? 20 : len - i, s + i);
			return;
		}
}

static int feed(struct parse *ps, int fd)
{
	ssize_t n;
	do {
		void *buf = XML_GetBuffer(ps->p, FEED_BYTES);
		if (!buf)
			return -ENOMEM;
		while ((n = read(fd, buf, FEED_BYTES)) < 0 && errno == EINTR)
			;
		if (n < 0) {
			snprintf(ps->err->msg, sizeof(ps->err->msg), "read failed: %s",
				 strerror(errno));
			return -EIO;
		}
		if (XML_ParseBuffer(ps->p, (int)n, n == 0) != XML_STATUS_OK && !ps->status)
			fail(ps, "%s", XML_ErrorString(XML_GetErrorCode(ps->p)));
	} while (n && !ps->status);
	return ps->status;
}

/* ---- checks over the whole document ---------------------------------- */

struct span {
	uint64_t begin, end;
	const struct snap_xml_run *run;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return (x->run > y->run) - (x->run < y->run);
}

/* Two runs sharing an origin chunk (or a COW chunk): name the later one. */
static int find_shared(const struct snap_image *img, bool cow,
		       struct xml_error *err)
{
	struct span *v = malloc((img->nr_runs + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint64_t i = 0; i < img->nr_runs; i++) {
		const struct snap_xml_run *x = &img->runs[i];
		v[i].begin = cow ? x->new_begin : x->old_begin;
		v[i].end = v[i].begin + x->length;
		v[i].run = x;
	}
	qsort(v, img->nr_runs, sizeof(*v), cmp_span);
	int r = 0;
	for (uint64_t i = 1, far = 0; i < img->nr_runs && !r; i++) {
		if (v[i].begin < v[far].end) {
			const struct snap_xml_run *a = v[far].run, *b = v[i].run;
			if (a > b) {
				const struct snap_xml_run *t = a;
				a = b;
				b = t;
			}
			err->line = b->line;
			err->column = b->column;
			snprintf(err->msg, sizeof(err->msg), cow
				 ? "COW chunk %llu is already used by the exception at line %u"
				 : "origin chunk %llu already has an exception (line %u)",
				 (unsigned long long)v[i].begin, a->line);
			r = -EINVAL;
		}
		if (v[i].end > v[far].end)
			far = i;
	}
	free(v);
	return r;
}

/* The area holding the terminator must exist. */
static int check_last_area(const struct snap_image *img, struct xml_error *err)
{
	uint64_t per_area = (uint64_t)img->chunk_size * SNAP_SECTOR / SNAP_EXCEPTION_SIZE;
	uint64_t last = img->nr_ex / per_area, loc = 1 + last * (per_area + 1);
	if (loc < img->nr_chunks)
		return 0;
	snprintf(err->msg, sizeof(err->msg),
		 "%llu exceptions fill %llu metadata areas; area %llu (chunk %llu) would lie past the end of the store (%llu chunks)",
		 (unsigned long long)img->nr_ex, (unsigned long long)last,
		 (unsigned long long)last, (unsigned long long)loc,
		 (unsigned long long)img->nr_chunks);
	return -EINVAL;
}

int snap_xml_read(int fd, struct snap_image *img, struct xml_error *err)
{
	struct parse ps = { .img = img, .err = err };
	memset(img, 0, sizeof(*img));
	memset(err, 0, sizeof(*err));
	ps.p = XML_ParserCreate(NULL);
	if (!ps.p)
		return -ENOMEM;
	XML_SetUserData(ps.p, &ps);
	XML_SetElementHandler(ps.p, on_start, on_end);
	XML_SetCharacterDataHandler(ps.p, on_text);
	int r = feed(&ps, fd);
	XML_ParserFree(ps.p);
	if (!r && !ps.open) {
		snprintf(err->msg, sizeof(err->msg), "no <snapshot_store> in the input");
		r = -EINVAL;
	}
	if (!r && img->formatted)
		r = find_shared(img, false, err);
	if (!r && img->formatted)
		r = find_shared(img, true, err);
	if (!r && img->formatted)
		r = check_last_area(img, err);
	return r;
}

void snap_image_release(struct snap_image *img)
{
	free(img->runs);
	img->runs = NULL;
}
