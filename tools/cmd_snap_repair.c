// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * snap_repair: rebuild a damaged dm-snapshot exception store.
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "snap_repair.h"
#include "tool.h"

static const char *const TOOL = "snap_repair";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: snap_repair [options] -i COW {-o COW2 | --in-place}\n"
		"Options:\n"
		"  {-h|--help}\n"
		"  {-i|--input} <damaged COW device or file>\n"
		"  {-o|--output} <COW device or file to write>\n"
		"  {--in-place}\n"
		"  {--chunk-size} <sectors>\n"
		"  {--force-invalid}\n"
		"  {-q|--quiet}\n"
		"  {-V|--version}\n");
}

enum { OPT_IN_PLACE = 256, OPT_CHUNK_SIZE, OPT_FORCE_INVALID };

static const struct option long_opts[] = {
	TOOL_IO_OPTIONS,
	{ "in-place", no_argument, NULL, OPT_IN_PLACE },
	{ "chunk-size", required_argument, NULL, OPT_CHUNK_SIZE },
	{ "force-invalid", no_argument, NULL, OPT_FORCE_INVALID },
	{ NULL, 0, NULL, 0 },
};

struct repair_args {
	struct tool_io io;
	struct snap_repair_opts o;
	bool in_place;
};

static int parse_chunk_size(struct repair_args *a)
{
	uint64_t v;
	if (!tool_parse_u64(TOOL, a->io.quiet, "--chunk-size", optarg, &v))
		return EXIT_USAGE;
	if (!v || (v & (v - 1)) || v > (1u << 21))
		return tool_usage_error(TOOL, usage, a->io.quiet,
					"--chunk-size needs a power of two from 1 to 2097152 sectors");
	a->o.chunk_size = (uint32_t)v;
	return -1;
}

static int own_option(void *ctx, int c)
{
	struct repair_args *a = ctx;
	switch (c) {
	case OPT_IN_PLACE:
		a->in_place = true;
		return -1;
	case OPT_FORCE_INVALID:
		a->o.force_invalid = true;
		return -1;
	default: /* OPT_CHUNK_SIZE */
		return parse_chunk_size(a);
	}
}

/* -o, or --in-place: one of them */
static int check_output(const struct repair_args *a)
{
	if (a->in_place && a->io.output)
		return tool_usage_error(TOOL, usage, a->io.quiet,
					"--in-place and --output cannot be combined");
	if (!a->in_place && !a->io.output)
		return tool_usage_error(TOOL, usage, a->io.quiet,
					"No output file provided (or --in-place).");
	return -1;
}

static void refusal(const struct repair_args *a, const struct snap_repair *r,
		    enum snap_repair_status st)
{
	switch (st) {
	case SNAP_REPAIR_NEED_CHUNK_SIZE:
		if (r->header == SNAP_UNFORMATTED)
			tool_error(a->io.quiet, "%s: the header chunk is zeroed (an unformatted store): if the store held exceptions, give its chunk size with --chunk-size",
				   a->io.input);
		else
			tool_error(a->io.quiet, "%s: the header chunk is damaged: give the store's chunk size with --chunk-size",
				   a->io.input);
		break;
	case SNAP_REPAIR_CHUNK_MISMATCH:
		tool_error(a->io.quiet, "%s: the header says the chunk size is %u sectors, --chunk-size says %u",
			   a->io.input, r->found_chunk_size, a->o.chunk_size);
		break;
	case SNAP_REPAIR_INVALID:
		tool_error(a->io.quiet, "%s: the snapshot was invalidated (valid = 0 in the header): its exceptions may be incomplete, so it is not repaired (--force-invalid salvages them anyway)",
			   a->io.input);
		break;
	case SNAP_REPAIR_TOO_SMALL:
		tool_error(a->io.quiet, "%s: too small for a store of %u-sector chunks (fewer than two chunks)",
			   a->io.input, r->chunk_size);
		break;
	case SNAP_REPAIR_IN_PLACE_UNSAFE:
		tool_error(a->io.quiet, "%s: not repaired in place: the store has several exceptions for some origin chunks, and were the repair interrupted, the kernel could then read other ones than it does now; repair it to another device with -o",
			   a->io.input);
		break;
	case SNAP_REPAIR_OK:
		break;
	}
}

static void print_same_origin(const struct snap_repair *r, const struct snap_dropped *d)
{
	uint64_t area, entry, karea, kentry;
	snap_repair_where(r, d->other, &area, &entry);
	snap_repair_where(r, d->kernel, &karea, &kentry);
	if (d->kernel == d->other)
		printf("the kernel reads origin chunk %llu from area %llu, entry %llu, which is %s (%s)\n",
		       (unsigned long long)d->e.old_chunk, (unsigned long long)area,
		       (unsigned long long)entry, d->other_dropped ? "dropped too" : "kept",
		       d->other < d->index ? "the earlier entry wins"
					   : "a later entry wins when it joins a run the kernel placed first");
	else
		printf("the kernel reads origin chunk %llu from area %llu, entry %llu, whose COW chunk is unusable; area %llu, entry %llu is chosen instead%s\n",
		       (unsigned long long)d->e.old_chunk, (unsigned long long)karea,
		       (unsigned long long)kentry, (unsigned long long)area,
		       (unsigned long long)entry, d->other_dropped ? ", and dropped too" : "");
}

static void print_reason(const struct snap_repair *r, const struct snap_dropped *d)
{
	uint64_t area, entry;
	switch (d->why) {
	case SNAP_DROP_AREA:
		printf("the COW chunk is metadata area %llu\n",
		       (unsigned long long)((d->e.new_chunk - 1) / (r->per_area + 1)));
		break;
	case SNAP_DROP_BEYOND:
		printf("the COW chunk lies beyond the end of the COW device (%llu chunks)\n",
		       (unsigned long long)r->nr_chunks);
		break;
	case SNAP_DROP_SHARED_COW:
		snap_repair_where(r, d->other, &area, &entry);
		printf("the COW chunk is also used by area %llu, entry %llu, which is kept (the earlier entry wins)\n",
		       (unsigned long long)area, (unsigned long long)entry);
		break;
	case SNAP_DROP_SAME_ORIGIN:
		print_same_origin(r, d);
		break;
	case SNAP_DROP_NO_ROOM:
		printf("no room on the device for the metadata area after a full one\n");
		break;
	}
}

static void print_header_notes(const struct snap_repair *r)
{
	if (r->header != SNAP_FORMATTED)
		printf("header: %s; rewritten with chunk size %u sectors\n",
		       r->header == SNAP_UNFORMATTED ? "zeroed" : "damaged", r->chunk_size);
	else if (!r->found_valid)
		printf("header: valid = 0 (forced); rewritten with valid = 1\n");
	if (r->truncated)
		printf("the list of exceptions runs past the end of the device: read up to there\n");
}

static void print_report(const struct snap_repair *r)
{
	uint64_t area, entry;
	print_header_notes(r);
	for (uint64_t i = 0; i < r->nr_dropped; i++) {
		const struct snap_dropped *d = &r->dropped[i];
		snap_repair_where(r, d->index, &area, &entry);
		printf("dropped area %llu, entry %llu, old_chunk %llu, new_chunk %llu: ",
		       (unsigned long long)area, (unsigned long long)entry,
		       (unsigned long long)d->e.old_chunk, (unsigned long long)d->e.new_chunk);
		print_reason(r, d);
	}
	printf("kept %llu exceptions, dropped %llu\n", (unsigned long long)r->nr_kept,
	       (unsigned long long)r->nr_dropped);
}

/* -o: O_DIRECT descriptors for the data copy, where the devices take them. */
static int write_out(const struct repair_args *a, const struct snap_repair *r,
		     struct bdev *in, struct bdev *out)
{
	const char *name = a->in_place ? a->io.input : a->io.output;
	struct bdev in_data, out_data;
	bool have_in = !a->in_place && !bdev_open(&in_data, a->io.input, BDEV_DIRECT);
	bool have_out = !a->in_place &&
			!bdev_open(&out_data, a->io.output, BDEV_WRITE | BDEV_DIRECT);
	int err = snap_repair_write(r, in, out, have_in ? &in_data : NULL,
				    have_out ? &out_data : NULL);
	if (have_in)
		bdev_close(&in_data);
	if (have_out)
		bdev_close(&out_data);
	if (err == -ENOSPC)
		tool_error(a->io.quiet, "%s is too small: it has %llu bytes, the repaired store needs %llu",
			   name, (unsigned long long)out->size,
			   (unsigned long long)snap_repair_bytes(r));
	else if (err)
		tool_error(a->io.quiet, "%s: write failed: %s", name, strerror(-err));
	return err ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

static int repair(const struct repair_args *a, struct bdev *in, struct bdev *out)
{
	struct snap_repair r;
	enum snap_repair_status st;
	int err = snap_repair_read(&r, in, &a->o, &st), status;
	if (err == -ERANGE) {
		tool_error(a->io.quiet, "%s: too small for a snapshot store header", a->io.input);
		return EXIT_FAILURE_RUNTIME;
	}
	if (err == -E2BIG) {
		tool_error(a->io.quiet, "%s: so many exceptions repeat the same origin chunks that which of them the kernel reads cannot be worked out in reasonable time",
			   a->io.input);
		snap_repair_release(&r);
		return EXIT_FAILURE_RUNTIME;
	}
	if (err) {
		tool_error(a->io.quiet, "%s: %s: %s", TOOL, a->io.input, strerror(-err));
		snap_repair_release(&r);
		return EXIT_FAILURE_RUNTIME;
	}
	if (st != SNAP_REPAIR_OK) {
		refusal(a, &r, st);
		snap_repair_release(&r);
		return EXIT_FAILURE_RUNTIME;
	}
	status = write_out(a, &r, in, out);
	if (!status && !a->io.quiet)
		print_report(&r);
	snap_repair_release(&r);
	return tool_finish_stdout(status);
}

/* -o: the output, which must not be the input. */
static int open_output(struct repair_args *a, struct bdev *in, struct bdev *out)
{
	int status = tool_open_output(a->io.output, 0, a->io.quiet, out);
	if (status)
		return status;
	if (bdev_same(in, out)) {
		tool_error(a->io.quiet, "'%s' and '%s' are the same file: use --in-place to repair a store where it is",
			   a->io.input, a->io.output);
		bdev_close(out);
		return EXIT_FAILURE_RUNTIME;
	}
	a->o.out_bytes = out->size;
	return 0;
}

int cmd_snap_repair(int argc, char **argv)
{
	struct repair_args a = {
		.io = { TOOL, usage, long_opts, NULL, own_option, &a, .output_optional = true },
	};
	struct bdev in, out;
	int status = tool_parse_io(&a.io, argc, argv);
	if (status < 0)
		status = check_output(&a);
	if (status >= 0)
		return status;
	status = tool_open_input(a.io.input, BDEV_EXCL | (a.in_place ? BDEV_WRITE : 0),
				 a.io.quiet, &in);
	if (status)
		return status;
	if (!a.in_place && (status = open_output(&a, &in, &out))) {
		bdev_close(&in);
		return status;
	}
	status = repair(&a, &in, a.in_place ? &in : &out);
	if (!a.in_place)
		bdev_close(&out);
	bdev_close(&in);
	return status;
}
