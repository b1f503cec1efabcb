// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thin_dump: write thin-pool metadata as XML (backups, lvconvert --repair)
 * or in human-readable form.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump_emitters.h"
#include "thin_dump.h"
#include "thin_repair.h"
#include "tool.h"

static const char *const TOOL = "thin_dump";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: thin_dump [options] {device|file}\n"
		"Options:\n"
		"  {-h|--help}\n"
		"  {-f|--format} {xml|human_readable}\n"
		"  {-r|--repair}\n"
		"  {--salvage}\n"
		"  {-m|--metadata-snap}[=block#]\n"
		"  {-o|--output} <xml file>\n"
		"  {-q|--quiet}\n"
		"  {--dev-id} <dev-id>\n"
		"  {--skip-mappings}\n"
		"  {--transaction-id} <n>\n"
		"  {--data-block-size} <sectors>\n"
		"  {--nr-data-blocks} <n>\n"
		"  {--override-mapping-root} <block>\n"
		"  {--override-details-root} <block>\n"
		"  {--compat} {1.3|0.9}\n"
		"  {-V|--version}\n");
}

enum {
	OPT_DEV_ID = TOOL_OPT_NEXT,
	OPT_SKIP_MAPPINGS,
	OPT_OVERRIDE_MAPPING,
	OPT_OVERRIDE_DETAILS,
	OPT_COMPAT,
	OPT_SALVAGE,
};

static const struct option long_opts[] = {
	TOOL_COMMON_OPTIONS,
	{ "repair", no_argument, NULL, 'r' },
	{ "format", required_argument, NULL, 'f' },
	{ "metadata-snap", optional_argument, NULL, 'm' },
	{ "output", required_argument, NULL, 'o' },
	{ "dev-id", required_argument, NULL, OPT_DEV_ID },
	{ "skip-mappings", no_argument, NULL, OPT_SKIP_MAPPINGS },
	TOOL_OVERRIDE_OPTIONS,
	{ "override-mapping-root", required_argument, NULL, OPT_OVERRIDE_MAPPING },
	{ "override-details-root", required_argument, NULL, OPT_OVERRIDE_DETAILS },
	{ "compat", required_argument, NULL, OPT_COMPAT },
	{ "salvage", no_argument, NULL, OPT_SALVAGE },
	{ NULL, 0, NULL, 0 },
};

struct dump_args {
	struct thin_dump_opts o;
	bool quiet, human, compat_0_9, salvage;
	const char *input, *output;
	uint64_t *ids;
	size_t nr_ids;
};

static int add_dev_id(struct dump_args *a, const char *s)
{
	uint64_t id;
	if (!tool_parse_u64(TOOL, a->quiet, "--dev-id", s, &id))
		return EXIT_USAGE;
	uint64_t *n = realloc(a->ids, (a->nr_ids + 1) * sizeof(*n));
	if (!n)
		return EXIT_FAILURE_RUNTIME;
	a->ids = n;
	a->ids[a->nr_ids++] = id;
	return -1;
}

static int parse_value(const struct dump_args *a, const char *opt,
		       const char *s, bool *flag, uint64_t *v)
{
	*flag = true;
	return tool_parse_u64(TOOL, a->quiet, opt, s, v) ? -1 : EXIT_USAGE;
}

static int parse_option(struct dump_args *a, int c, int argc, char **argv)
{
	struct thin_dump_opts *o = &a->o;
	int status;
	if (tool_override_option(TOOL, a->quiet, c, &o->sb, &status))
		return status;
	switch (c) {
	case 'q':
		a->quiet = true;
		return -1;
	case 'r':
		o->repair = true;
		return -1;
	case 'f':
		if (!strcmp(optarg, "xml"))
			a->human = false;
		else if (!strcmp(optarg, "human_readable"))
			a->human = true;
		else
			return tool_usage_error(TOOL, usage, a->quiet,
						"unknown format '%s'", optarg);
		return -1;
	case 'm':
		o->metadata_snap = true;
		/* `-m N INPUT`: a detached number followed by the input */
		if (!optarg && optind + 1 < argc && argv[optind][0] >= '0' &&
		    argv[optind][0] <= '9')
			optarg = argv[optind++];
		if (optarg && !tool_parse_u64(TOOL, a->quiet, "--metadata-snap", optarg,
					      &o->snap_block))
			return EXIT_USAGE;
		return -1;
	case 'o':
		a->output = optarg;
		return -1;
	case OPT_DEV_ID:
		return add_dev_id(a, optarg);
	case OPT_SKIP_MAPPINGS:
		o->skip_mappings = true;
		return -1;
	case OPT_OVERRIDE_MAPPING:
		return parse_value(a, "--override-mapping-root", optarg,
				   &o->override_mapping_root, &o->mapping_root);
	case OPT_OVERRIDE_DETAILS:
		return parse_value(a, "--override-details-root", optarg,
				   &o->override_details_root, &o->details_root);
	case OPT_SALVAGE:
		a->salvage = true;
		return -1;
	case OPT_COMPAT:
		if (!strcmp(optarg, "0.9"))
			a->compat_0_9 = true;
		else if (!strcmp(optarg, "1.3"))
			a->compat_0_9 = false;
		else
			return tool_usage_error(TOOL, usage, a->quiet,
						"--compat takes 1.3 or 0.9, not '%s'",
						optarg);
		return -1;
	default:
		return tool_common_option(TOOL, usage, a->quiet, c, argv);
	}
}

static int parse(int argc, char **argv, struct dump_args *a)
{
	int c, r;
	a->quiet = tool_quiet_requested(argc, argv);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hVqrf:m::o:", long_opts, NULL)) != -1)
		if ((r = parse_option(a, c, argc, argv)) >= 0)
			return r;
	if ((r = tool_one_input(TOOL, usage, a->quiet, argc, argv, &a->input)) >= 0)
		return r;
	if (a->salvage && !a->o.repair)
		return tool_usage_error(TOOL, usage, a->quiet, "--salvage needs --repair");
	if (a->o.repair && (a->o.metadata_snap || a->nr_ids || a->o.skip_mappings ||
			    a->o.override_mapping_root || a->o.override_details_root))
		return tool_usage_error(TOOL, usage, a->quiet,
					"--repair cannot be combined with -m, --dev-id, --skip-mappings or the root overrides");
	a->o.dev_ids = a->ids;
	a->o.nr_dev_ids = a->nr_ids;
	a->o.shared_defs = !a->compat_0_9 && !a->human;
	/* the 0.9.0 layouts (and human_readable, which is 0.9.0's) print 0 */
	a->o.snap_nr_data_blocks_zero = a->compat_0_9 || a->human;
	return -1;
}

/* --repair: the view thin_repair would write (thin_repair.h). */
static int repair_view(const struct dump_args *a, struct bdev *dev,
		       const struct dump_emitter *e, struct reporter *rep)
{
	const struct thin_dump_opts *o = &a->o;
	struct thin_repair_opts ro = {
		.sb = o->sb,
		.shared_defs = o->shared_defs,
		.salvage = a->salvage,
	};
	return thin_repair_dump(dev, &ro, e, rep);
}

static int dump_to(struct dump_args *a, struct bdev *dev, int fd)
{
	struct reporter rep = { .emit = a->quiet ? NULL : tool_report_stderr };
	struct outbuf out;
	struct dump_text text = { &out, a->compat_0_9 };
	struct dump_emitter e;

	if (outbuf_init(&out, fd))
		return EXIT_FAILURE_RUNTIME;
	if (a->human)
		dump_human_emitter(&e, &text);
	else
		dump_xml_emitter(&e, &text);
	int r = a->o.repair ? repair_view(a, dev, &e, &rep)
			    : thin_dump(dev, &a->o, &e, &rep);
	int w = outbuf_flush(&out);
	outbuf_release(&out);
	if (w) {
		/* a reader that went away (| head) ends us quietly */
		if (w != -EPIPE)
			tool_error(a->quiet, "thin_dump: write failed: %s",
				   strerror(-w));
		return EXIT_FAILURE_RUNTIME;
	}
	if (r == -ENOMEM)
		tool_error(a->quiet, "thin_dump: out of memory");
	return r ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_thin_dump(int argc, char **argv)
{
	struct dump_args a = { 0 };
	struct bdev dev;
	int fd = STDOUT_FILENO;
	int status = parse(argc, argv, &a);
	if (status >= 0)
		goto out;
	status = tool_open_metadata(a.input, a.o.metadata_snap ? 0 : BDEV_EXCL,
				    a.quiet, &dev);
	if (status)
		goto out;
	if (a.output) {
		fd = tool_create_output(a.output, a.quiet);
		if (fd < 0) {
			bdev_close(&dev);
			status = EXIT_FAILURE_RUNTIME;
			goto out;
		}
	}
	status = dump_to(&a, &dev, fd);
	if (a.output && close(fd) && status == EXIT_OK) {
		tool_error(a.quiet, "thin_dump: closing '%s' failed: %s", a.output,
			   strerror(errno));
		status = EXIT_FAILURE_RUNTIME;
	}
	bdev_close(&dev);
out:
	free(a.ids);
	return status;
}
