// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * XML dump writer.
 */
#include "dump_emitters.h"

static void attr(struct outbuf *o, const char *name, uint64_t v)
{
	outbuf_puts(o, name);
	outbuf_u64(o, v);
	outbuf_write(o, "\"", 1);
}

static int x_begin_superblock(void *ctx, const struct dump_superblock *sb)
{
	struct dump_text *t = ctx;
	struct outbuf *o = t->out;
	outbuf_puts(o, "<superblock uuid=\"");
	outbuf_puts(o, sb->uuid);
	outbuf_write(o, "\"", 1);
	attr(o, " time=\"", sb->time);
	attr(o, " transaction=\"", sb->transaction);
	if (t->compat_0_9 || sb->flags)
		attr(o, " flags=\"", sb->flags);
	attr(o, " version=\"", sb->version);
	attr(o, " data_block_size=\"", sb->data_block_size);
	attr(o, " nr_data_blocks=\"", sb->nr_data_blocks);
	if (!t->compat_0_9 && sb->metadata_snap)
		attr(o, " metadata_snap=\"", sb->metadata_snap);
	outbuf_puts(o, ">\n");
	return o->err;
}

static int x_end_superblock(void *ctx)
{
	struct dump_text *t = ctx;
	outbuf_puts(t->out, t->compat_0_9 ? "</superblock>\n" : "</superblock>");
	return t->out->err;
}

static int x_begin_def(void *ctx, uint64_t name)
{
	struct dump_text *t = ctx;
	attr(t->out, "  <def name=\"", name);
	outbuf_puts(t->out, ">\n");
	return t->out->err;
}

static int x_end_def(void *ctx)
{
	struct dump_text *t = ctx;
	outbuf_puts(t->out, "  </def>\n");
	return t->out->err;
}

static int x_begin_device(void *ctx, uint64_t id, const struct thin_details *d)
{
	struct dump_text *t = ctx;
	struct outbuf *o = t->out;
	attr(o, "  <device dev_id=\"", id);
	attr(o, " mapped_blocks=\"", d->mapped_blocks);
	attr(o, " transaction=\"", d->transaction_id);
	attr(o, " creation_time=\"", d->creation_time);
	attr(o, " snap_time=\"", d->snapshotted_time);
	outbuf_puts(o, ">\n");
	return o->err;
}

static int x_end_device(void *ctx)
{
	struct dump_text *t = ctx;
	outbuf_puts(t->out, "  </device>\n");
	return t->out->err;
}

static int x_ref(void *ctx, uint64_t name)
{
	struct dump_text *t = ctx;
	attr(t->out, "    <ref name=\"", name);
	outbuf_puts(t->out, "/>\n");
	return t->out->err;
}

static int x_run(void *ctx, const struct dump_run *r)
{
	struct dump_text *t = ctx;
	struct outbuf *o = t->out;
	if (r->length == 1) {
		attr(o, "    <single_mapping origin_block=\"", r->origin_begin);
		attr(o, " data_block=\"", r->data_begin);
	} else {
		attr(o, "    <range_mapping origin_begin=\"", r->origin_begin);
		attr(o, " data_begin=\"", r->data_begin);
		attr(o, " length=\"", r->length);
	}
	attr(o, " time=\"", r->time);
	outbuf_puts(o, "/>\n");
	return o->err;
}

void dump_xml_emitter(struct dump_emitter *e, struct dump_text *t)
{
	e->begin_superblock = x_begin_superblock;
	e->end_superblock = x_end_superblock;
	e->begin_def = x_begin_def;
	e->end_def = x_end_def;
	e->begin_device = x_begin_device;
	e->end_device = x_end_device;
	e->ref = x_ref;
	e->run = x_run;
	e->ctx = t;
}
