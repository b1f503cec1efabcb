// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * human_readable dump writer (the layout of upstream's -f human_readable).
 */
#include "dump_emitters.h"

static void line_u64(struct outbuf *o, const char *label, uint64_t v)
{
	outbuf_puts(o, label);
	outbuf_u64(o, v);
	outbuf_write(o, "\n", 1);
}

static int h_begin_superblock(void *ctx, const struct dump_superblock *sb)
{
	struct dump_text *t = ctx;
	struct outbuf *o = t->out;
	outbuf_puts(o, "begin superblock: \"");
	outbuf_puts(o, sb->uuid);
	outbuf_puts(o, "\", ");
	outbuf_u64(o, sb->time);
	outbuf_puts(o, ", ");
	outbuf_u64(o, sb->transaction);
	outbuf_puts(o, ", ");
	outbuf_u64(o, sb->flags);
	outbuf_puts(o, ", ");
	outbuf_u64(o, sb->version);
	outbuf_puts(o, ", ");
	outbuf_u64(o, sb->data_block_size);
	outbuf_puts(o, ", ");
	outbuf_u64(o, sb->nr_data_blocks);
	outbuf_write(o, "\n", 1);
	return o->err;
}

static int h_end_superblock(void *ctx)
{
	struct dump_text *t = ctx;
	outbuf_puts(t->out, "end superblock\n");
	return t->out->err;
}

static int h_begin_device(void *ctx, uint64_t id, const struct thin_details *d)
{
	struct dump_text *t = ctx;
	struct outbuf *o = t->out;
	line_u64(o, "device: ", id);
	line_u64(o, "mapped_blocks: ", d->mapped_blocks);
	line_u64(o, "transaction: ", d->transaction_id);
	line_u64(o, "creation time: ", d->creation_time);
	line_u64(o, "snap time: ", d->snapshotted_time);
	return o->err;
}

static int h_end_device(void *ctx)
{
	struct dump_text *t = ctx;
	outbuf_write(t->out, "\n", 1);
	return t->out->err;
}

static int h_unused(void *ctx)
{
	(void)ctx;
	return 0;
}

static int h_unused_name(void *ctx, uint64_t name)
{
	(void)ctx;
	(void)name;
	return 0;
}

static int h_run(void *ctx, const struct dump_run *r)
{
	struct dump_text *t = ctx;
	struct outbuf *o = t->out;
	outbuf_puts(o, "    ");
	if (r->length == 1) {
		outbuf_u64(o, r->origin_begin);
		outbuf_puts(o, " -> ");
		outbuf_u64(o, r->data_begin);
	} else {
		outbuf_write(o, "(", 1);
		outbuf_u64(o, r->origin_begin);
		outbuf_puts(o, "..");
		outbuf_u64(o, r->origin_begin + r->length - 1);
		outbuf_puts(o, ") -> (");
		outbuf_u64(o, r->data_begin);
		outbuf_puts(o, "..");
		outbuf_u64(o, r->data_begin + r->length - 1);
		outbuf_write(o, ")", 1);
	}
	outbuf_puts(o, ", ");
	outbuf_u64(o, r->time);
	outbuf_write(o, "\n", 1);
	return o->err;
}

/* Definitions are not used: the human form always lists mappings in full. */
void dump_human_emitter(struct dump_emitter *e, struct dump_text *t)
{
	e->begin_superblock = h_begin_superblock;
	e->end_superblock = h_end_superblock;
	e->begin_def = h_unused_name;
	e->end_def = h_unused;
	e->begin_device = h_begin_device;
	e->end_device = h_end_device;
	e->ref = h_unused_name;
	e->run = h_run;
	e->ctx = t;
}
