// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thin_dump XML reader on libexpat: checks the document against the dump
 * grammar and gives its content to an emitter.  Can start mid-document
 * (thin_xml_reader.h); thin_xml_parallel.c decides where.
 */
#include "thin_xml_reader.h"

#include <errno.h>
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (1u << 20)

static const char *const element_names[E_NR] = {
	"superblock", "device", "def", "ref", "range_mapping", "single_mapping",
};

/* Attributes each element accepts; the required ones come first. */
struct attr_spec {
	const char *names[8];
	unsigned nr_required;
};

static const struct attr_spec specs[E_NR] = {
	[E_SUPERBLOCK] = { { "time", "transaction", "data_block_size",
			     "nr_data_blocks", "uuid", "flags", "version",
			     "metadata_snap" }, 4 },
	[E_DEVICE] = { { "dev_id", "transaction", "creation_time", "snap_time",
			 "mapped_blocks" }, 4 },
	[E_DEF] = { { "name" }, 1 },
	[E_REF] = { { "name" }, 1 },
	[E_RANGE] = { { "origin_begin", "data_begin", "length", "time" }, 4 },
	[E_SINGLE] = { { "origin_block", "data_block", "time" }, 3 },
};

struct reader {
	XML_Parser p;
	const struct dump_emitter *e;
	struct xml_error *err;
	int status;
	struct xml_context c;
	const char *vals[8];
	struct xml_position at;	    /* of the element being handled */
	struct xml_position *pos;   /* copy of it for the emitter, or NULL */
	unsigned long line_base;    /* document lines before the input */
	unsigned prefix_lines;	    /* lines of synthetic start tags */
	unsigned swallow_starts, swallow_ends; /* synthetic events left */
	XML_Index real_end;	    /* synthetic end tags from here; -1: none */
	unsigned free_levels;	    /* open from the start, names not relied on */
};

static void locate(struct reader *r)
{
	r->at.line = (uint32_t)(XML_GetCurrentLineNumber(r->p) -
				r->prefix_lines + r->line_base);
	r->at.column = (uint32_t)XML_GetCurrentColumnNumber(r->p) + 1;
	if (r->pos)
		*r->pos = r->at;
}

/* An event from the synthetic prefix or suffix, not from the input. */
static bool synthetic(struct reader *r, bool start)
{
	unsigned *left = start ? &r->swallow_starts : &r->swallow_ends;
	if (*left) {
		(*left)--;
		return true;
	}
	return r->real_end >= 0 && XML_GetCurrentByteIndex(r->p) >= r->real_end;
}

static void stop(struct reader *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void stop(struct reader *r, int status, const char *fmt, ...)
{
	va_list ap;
	if (r->status)
		return;
	r->status = status;
	locate(r);
	r->err->line = r->at.line;
	r->err->column = r->at.column;
	va_start(ap, fmt);
	vsnprintf(r->err->msg, sizeof(r->err->msg), fmt, ap);
	va_end(ap);
	XML_StopParser(r->p, XML_FALSE);
}

void xml_refusal(const struct dump_emitter *e, int status,
		 const struct xml_position *pos, struct xml_error *err)
{
	const char *why = e->error ? e->error(e->ctx) : NULL;
	uint32_t line = pos->line, column = pos->column;
	if (e->error_position)
		e->error_position(e->ctx, &line, &column);
	err->line = line;
	err->column = column;
	snprintf(err->msg, sizeof(err->msg), "%s",
		 why && *why ? why : strerror(-status));
}

/* The consumer refused the event for the element at r->at. */
static void refused(struct reader *r, int status)
{
	if (r->status)
		return;
	r->status = status;
	xml_refusal(r->e, status, &r->at, r->err);
	XML_StopParser(r->p, XML_FALSE);
}

bool xml_context_equal(const struct xml_context *a, const struct xml_context *b,
		       unsigned free_levels)
{
	if (a->seen_superblock != b->seen_superblock ||
	    a->in_superblock != b->in_superblock || a->ended != b->ended ||
	    a->depth != b->depth)
		return false;
	for (unsigned i = free_levels; i < a->depth; i++)
		if (a->stack[i] != b->stack[i])
			return false;
	return true;
}

/* The element named name, or -1; one comparison, by its first letter. */
static int element_of(const char *name)
{
	int i;
	switch (name[0]) {
	case 'r':
		i = name[1] == 'a' ? E_RANGE : E_REF;
		break;
	case 's':
		i = name[1] == 'i' ? E_SINGLE : E_SUPERBLOCK;
		break;
	case 'd':
		i = name[1] && name[2] == 'v' ? E_DEVICE : E_DEF;
		break;
	default:
		return -1;
	}
	return strcmp(name, element_names[i]) ? -1 : i;
}

/* Match attributes against the spec: r->vals[i] for spec name i. */
static bool take_attrs(struct reader *r, enum xml_element el, const char **atts)
{
	const struct attr_spec *s = &specs[el];
	memset(r->vals, 0, sizeof(r->vals));
	for (unsigned a = 0; atts[a]; a += 2) {
		/* dumps give attributes in the spec's order: try that first */
		unsigned i = a / 2 < 8 && s->names[a / 2] &&
					     !strcmp(s->names[a / 2], atts[a])
				     ? a / 2
				     : 0;
		while (i < 8 && s->names[i] && strcmp(s->names[i], atts[a]))
			i++;
		if (i == 8 || !s->names[i]) {
			stop(r, -EINVAL, "unknown attribute '%s' in <%s>", atts[a],
			     element_names[el]);
			return false;
		}
		r->vals[i] = atts[a + 1];
	}
	for (unsigned i = 0; i < s->nr_required; i++)
		if (!r->vals[i]) {
			stop(r, -EINVAL, "<%s> is missing attribute '%s'",
			     element_names[el], s->names[i]);
			return false;
		}
	return true;
}

/* Attribute i as an unsigned number no larger than max. */
static bool num(struct reader *r, enum xml_element el, unsigned i, uint64_t max,
		uint64_t *out)
{
	const char *s = r->vals[i];
	uint64_t v = 0;
	if (!s) /* optional and absent */
		return *out = 0, true;
	if (!*s)
		goto bad;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			goto bad;
		unsigned d = (unsigned)(*c - '0');
		if (v > (UINT64_MAX - d) / 10)
			goto big;
		v = v * 10 + d;
	}
	if (v > max)
		goto big;
	*out = v;
	return true;
bad:
	stop(r, -EINVAL, "attribute '%s' of <%s> is not a number: '%s'",
	     specs[el].names[i], element_names[el], s);
	return false;
big:
	stop(r, -EINVAL, "attribute '%s' of <%s> is too large: '%s'",
	     specs[el].names[i], element_names[el], s);
	return false;
}

static void superblock(struct reader *r)
{
	struct dump_superblock sb = { 0 };
	uint64_t time, flags, version, dbs, snap;
	if (r->c.seen_superblock) {
		stop(r, -EINVAL, "more than one <superblock>");
		return;
	}
	if (!num(r, E_SUPERBLOCK, 0, UINT32_MAX, &time) ||
	    !num(r, E_SUPERBLOCK, 1, UINT64_MAX, &sb.transaction) ||
	    !num(r, E_SUPERBLOCK, 2, UINT32_MAX, &dbs) ||
	    !num(r, E_SUPERBLOCK, 3, UINT64_MAX, &sb.nr_data_blocks) ||
	    !num(r, E_SUPERBLOCK, 5, UINT32_MAX, &flags) ||
	    !num(r, E_SUPERBLOCK, 6, UINT32_MAX, &version) ||
	    !num(r, E_SUPERBLOCK, 7, UINT64_MAX, &snap))
		return;
	if (r->vals[4] && strlen(r->vals[4]) > 16) {
		stop(r, -EINVAL, "uuid is longer than 16 bytes");
		return;
	}
	if (r->vals[4])
		memcpy(sb.uuid, r->vals[4], strlen(r->vals[4]));
	sb.time = (uint32_t)time;
	sb.flags = (uint32_t)flags;
	sb.version = (uint32_t)version;
	sb.data_block_size = (uint32_t)dbs;
	r->c.seen_superblock = r->c.in_superblock = true;
	int s = r->e->begin_superblock(r->e->ctx, &sb);
	if (s)
		refused(r, s);
}

static void device(struct reader *r)
{
	struct thin_details d = { 0 };
	uint64_t id, ct, st;
	if (!num(r, E_DEVICE, 0, UINT64_MAX, &id) ||
	    !num(r, E_DEVICE, 1, UINT64_MAX, &d.transaction_id) ||
	    !num(r, E_DEVICE, 2, UINT32_MAX, &ct) ||
	    !num(r, E_DEVICE, 3, UINT32_MAX, &st) ||
	    !num(r, E_DEVICE, 4, UINT64_MAX, &d.mapped_blocks))
		return;
	d.creation_time = (uint32_t)ct;
	d.snapshotted_time = (uint32_t)st;
	int s = r->e->begin_device(r->e->ctx, id, &d);
	if (s)
		refused(r, s);
}

static void def_or_ref(struct reader *r, enum xml_element el)
{
	uint64_t name;
	if (!num(r, el, 0, UINT64_MAX, &name))
		return;
	int s = el == E_DEF ? r->e->begin_def(r->e->ctx, name)
			    : r->e->ref(r->e->ctx, name);
	if (s)
		refused(r, s);
}

static void mapping(struct reader *r, enum xml_element el)
{
	struct dump_run run = { .length = 1 };
	uint64_t t;
	unsigned ti = el == E_RANGE ? 3 : 2;
	if (!num(r, el, 0, UINT64_MAX, &run.origin_begin) ||
	    !num(r, el, 1, UINT64_MAX, &run.data_begin) ||
	    (el == E_RANGE && !num(r, el, 2, UINT64_MAX, &run.length)) ||
	    !num(r, el, ti, UINT32_MAX, &t))
		return;
	run.time = (uint32_t)t;
	run.line = r->at.line;
	run.column = r->at.column;
	int s = r->e->run(r->e->ctx, &run);
	if (s)
		refused(r, s);
}

/* Each element's only possible parent: the document, the superblock, a
 * device (ref), a device or def (mappings).  Mappings and refs are empty. */
static bool placed_well(struct reader *r, enum xml_element el)
{
	int parent = r->c.depth ? (int)r->c.stack[r->c.depth - 1]
			      : r->c.in_superblock ? E_SUPERBLOCK : -1;
	bool ok;
	switch (el) {
	case E_SUPERBLOCK:
		ok = parent == -1 && !r->c.ended;
		break;
	case E_DEVICE:
	case E_DEF:
		ok = parent == E_SUPERBLOCK;
		break;
	case E_REF:
		ok = parent == E_DEVICE;
		if (r->c.depth && r->c.depth - 1 < r->free_levels)
			r->free_levels = r->c.depth - 1;
		break;
	default:
		ok = parent == E_DEVICE || parent == E_DEF;
		break;
	}
	if (ok)
		return true;
	if (parent == -1)
		stop(r, -EINVAL, "<%s> %s", element_names[el],
		     el == E_SUPERBLOCK ? "after the superblock"
					: "outside the <superblock>");
	else
		stop(r, -EINVAL, "<%s> inside <%s>", element_names[el],
		     element_names[parent]);
	return false;
}

static void XMLCALL on_start(void *ctx, const XML_Char *name,
			     const XML_Char **atts)
{
	struct reader *r = ctx;
	if (r->status || synthetic(r, true))
		return;
	int el = element_of(name);
	locate(r);
	if (el < 0) {
		stop(r, -EINVAL, "unknown element <%s>", name);
		return;
	}
	if (!placed_well(r, el) || !take_attrs(r, el, atts))
		return;
	switch (el) {
	case E_SUPERBLOCK:
		superblock(r);
		return;
	case E_DEVICE:
		device(r);
		break;
	case E_DEF:
	case E_REF:
		def_or_ref(r, el);
		break;
	default:
		mapping(r, el);
		break;
	}
	r->c.stack[r->c.depth++] = el;
}

static void XMLCALL on_end(void *ctx, const XML_Char *name)
{
	struct reader *r = ctx;
	int s = 0;
	if (r->status || synthetic(r, false))
		return;
	int el = element_of(name);
	locate(r);
	if (el == E_SUPERBLOCK) {
		r->c.in_superblock = false;
		r->c.ended = true;
		s = r->e->end_superblock(r->e->ctx);
	} else {
		r->c.depth--;
		if (r->c.depth < r->free_levels)
			r->free_levels = r->c.depth;
		if (el == E_DEVICE)
			s = r->e->end_device(r->e->ctx);
		else if (el == E_DEF)
			s = r->e->end_def(r->e->ctx);
	}
	if (s)
		refused(r, s);
}

/* Only white space may stand between elements. */
static void XMLCALL on_text(void *ctx, const XML_Char *s, int len)
{
	struct reader *r = ctx;
	for (int i = 0; i < len && !r->status; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			stop(r, -EINVAL, "unexpected text '%.*s'",
			     len - i > 20 ? 20 : len - i, s + i);
}

/* Start tags that reopen context c, one a line; "<superblock/>" after it. */
static size_t context_prefix(const struct xml_context *c, char *buf,
			     size_t cap, struct reader *r)
{
	size_t n = 0;
	if (c->ended) {
		n = (size_t)snprintf(buf, cap, "<superblock/>\n");
		r->swallow_starts = r->swallow_ends = r->prefix_lines = 1;
		return n;
	}
	if (!c->in_superblock)
		return 0;
	n = (size_t)snprintf(buf, cap, "<superblock>\n");
	for (unsigned i = 0; i < c->depth && i < 4; i++)
		n += (size_t)snprintf(buf + n, cap - n, "<%s>\n",
				      element_names[c->stack[i]]);
	r->swallow_starts = r->prefix_lines = 1 + c->depth;
	return n;
}

static int reader_begin(struct reader *r, const struct xml_context *start,
			unsigned long line_base, const struct dump_emitter *e,
			struct xml_error *err, char *prefix, size_t *prefix_len)
{
	memset(r, 0, sizeof(*r));
	memset(err, 0, sizeof(*err));
	r->e = e;
	r->err = err;
	r->real_end = -1;
	r->line_base = line_base;
	if (start)
		r->c = *start;
	r->free_levels = r->c.depth;
	*prefix_len = context_prefix(&r->c, prefix, 128, r);
	r->p = XML_ParserCreate(NULL);
	if (!r->p)
		return -ENOMEM;
	XML_SetUserData(r->p, r);
	XML_SetElementHandler(r->p, on_start, on_end);
	XML_SetCharacterDataHandler(r->p, on_text);
	if (*prefix_len &&
	    XML_Parse(r->p, prefix, (int)*prefix_len, XML_FALSE) != XML_STATUS_OK)
		return -EINVAL;
	return 0;
}

/* After XML_Parse*() returned: the first complaint, ours or expat's. */
static int parse_status(struct reader *r, enum XML_Status xs)
{
	if (xs != XML_STATUS_OK && !r->status)
		stop(r, -EINVAL, "%s", XML_ErrorString(XML_GetErrorCode(r->p)));
	return r->status;
}

static int feed(struct reader *r, int fd, off_t offset)
{
	for (;;) {
		void *buf = XML_GetBuffer(r->p, READ_CHUNK);
		if (!buf)
			return -ENOMEM;
		ssize_t n = pread(fd, buf, READ_CHUNK, offset);
		if (n < 0 && errno == ESPIPE)
			n = read(fd, buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;
			snprintf(r->err->msg, sizeof(r->err->msg), "read failed: %s",
				 strerror(errno));
			return e;
		}
		offset += n;
		int s = parse_status(r, XML_ParseBuffer(r->p, (int)n, n == 0));
		if (s || n == 0)
			return s;
	}
}

int xml_parse_stream(int fd, off_t offset, const struct xml_context *start,
		     unsigned long line_base, const struct dump_emitter *e,
		     struct xml_error *err)
{
	struct reader r;
	char prefix[128];
	size_t plen;
	if (!start || !start->seen_superblock) /* nothing given yet: redo */
		offset = 0, start = NULL, line_base = 0;
	int s = reader_begin(&r, start, line_base, e, err, prefix, &plen);
	if (!s)
		s = feed(&r, fd, offset);
	if (!s && !r.c.seen_superblock) {
		snprintf(err->msg, sizeof(err->msg), "no <superblock> in the input");
		s = -EINVAL;
	}
	if (r.p)
		XML_ParserFree(r.p);
	return s;
}

/* End tags that close whatever context c has open. */
static size_t context_suffix(const struct xml_context *c, char *buf, size_t cap)
{
	size_t n = 0;
	for (unsigned i = c->depth; i-- > 0 && i < 4;)
		n += (size_t)snprintf(buf + n, cap - n, "</%s>",
				      element_names[c->stack[i]]);
	if (c->in_superblock)
		n += (size_t)snprintf(buf + n, cap - n, "</superblock>");
	return n;
}

int xml_parse_piece(const char *buf, size_t len, bool last,
		    const struct xml_context *start, const struct dump_emitter *e,
		    struct xml_position *pos, struct xml_context *end,
		    unsigned *free_levels)
{
	struct reader r;
	struct xml_error err;
	char prefix[128], suffix[128];
	size_t plen;
	int s = reader_begin(&r, start, 0, e, &err, prefix, &plen);
	r.pos = pos;
	if (!s && len > INT32_MAX)
		s = -EINVAL;
	if (!s)
		s = parse_status(&r, XML_Parse(r.p, buf, (int)len, last));
	if (!s && !last) {
		size_t n = context_suffix(&r.c, suffix, sizeof(suffix));
		r.real_end = (XML_Index)(plen + len);
		s = parse_status(&r, XML_Parse(r.p, suffix, (int)n, XML_TRUE));
	}
	*end = r.c;
	*free_levels = r.free_levels;
	if (r.p)
		XML_ParserFree(r.p);
	return s ? s : -!r.c.seen_superblock;
}
