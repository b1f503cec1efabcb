// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Helpers shared by the commands.
 */
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>

#include "thin_superblock.h"
#include "thin_xml.h"

bool tool_quiet_requested(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			return true;
	return false;
}

void tool_report_stderr(void *ctx, enum report_level level, const char *msg)
{
	(void)ctx;
	/* say which findings are harmless; errors and progress stand alone */
	fprintf(stderr, "%s%s\n", level == REPORT_WARNING ? "warning: " : "", msg);
}

void tool_error(bool quiet, const char *fmt, ...)
{
	va_list ap;
	if (quiet)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int tool_usage_error(const char *tool, void (*usage)(FILE *), bool quiet,
		     const char *fmt, ...)
{
	va_list ap;
	if (quiet)
		return EXIT_USAGE;
	fprintf(stderr, "%s: ", tool);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return EXIT_USAGE;
}

bool tool_parse_u64(const char *tool, bool quiet, const char *opt,
		    const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		goto bad;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		goto bad;
	*out = v;
	return true;
bad:
	if (!quiet)
		fprintf(stderr, "%s: invalid value '%s' for %s: expected an unsigned integer\n",
			tool, s ? s : "", opt);
	return false;
}

int tool_common_option(const char *tool, void (*usage)(FILE *), bool quiet,
		       int c, char **argv)
{
	switch (c) {
	case 'h':
		usage(stdout);
		return tool_finish_stdout(EXIT_OK);
	case 'V':
		printf("%s\n", THINSNAP_VERSION);
		return tool_finish_stdout(EXIT_OK);
	case ':':
		return tool_usage_error(tool, usage, quiet,
					"option '%s' requires an argument",
					argv[optind - 1]);
	default:
		return tool_usage_error(tool, usage, quiet,
					"unrecognized option '%s'", argv[optind - 1]);
	}
}

int tool_finish_stdout(int status)
{
	if (fflush(stdout) || ferror(stdout))
		return EXIT_FAILURE_RUNTIME;
	return status;
}

int tool_one_input(const char *tool, void (*usage)(FILE *), bool quiet,
		   int argc, char **argv, const char **input)
{
	if (optind >= argc)
		return tool_usage_error(tool, usage, quiet, "No input file provided.");
	if (optind + 1 < argc)
		return tool_usage_error(tool, usage, quiet, "only one input file may be given");
	*input = argv[optind];
	return -1;
}

int tool_open_input(const char *path, unsigned bdev_flags, bool quiet,
		    struct bdev *dev)
{
	int r = bdev_open(dev, path, bdev_flags);
	if (r == -ENOENT) {
		tool_error(quiet, "Couldn't find input file '%s'", path);
		return EXIT_FAILURE_RUNTIME;
	}
	if (r == -EINVAL) {
		tool_error(quiet, "Not a block device or regular file '%s'.", path);
		return EXIT_FAILURE_RUNTIME;
	}
	if (r == -EBUSY) {
		tool_error(quiet,
			   "Couldn't open '%s' exclusively: it is in use (an active pool? use -m to read its metadata snapshot)",
			   path);
		return EXIT_FAILURE_RUNTIME;
	}
	if (r) {
		tool_error(quiet, "Couldn't open '%s': %s", path, strerror(-r));
		return EXIT_FAILURE_RUNTIME;
	}
	return 0;
}

int tool_open_metadata(const char *path, unsigned bdev_flags, bool quiet,
		       struct bdev *dev)
{
	int r = tool_open_input(path, bdev_flags, quiet, dev);
	if (r)
		return r;
	if (dev->size < MD_BLOCK_SIZE) {
		tool_error(quiet, "Metadata device/file too small.  Is this binary metadata?");
		bdev_close(dev);
		return EXIT_FAILURE_RUNTIME;
	}
	void *buf = bdev_alloc_buf(1);
	if (!buf || bdev_read(dev, 0, 1, buf)) {
		tool_error(quiet, "Couldn't read block 0 of '%s'", path);
		bdev_free_buf(buf);
		bdev_close(dev);
		return EXIT_FAILURE_RUNTIME;
	}
	bool xml = thin_looks_like_xml(buf, MD_BLOCK_SIZE);
	bdev_free_buf(buf);
	if (xml) {
		tool_error(quiet, "This looks like XML.  This tool only supports the binary metadata format.");
		bdev_close(dev);
		return EXIT_FAILURE_RUNTIME;
	}
	return 0;
}

int tool_open_output(const char *path, unsigned bdev_flags, bool quiet,
		     struct bdev *dev)
{
	int r = bdev_open(dev, path, bdev_flags | BDEV_WRITE | BDEV_EXCL);
	if (r == -ENOENT) {
		tool_error(quiet, "Couldn't find output file '%s'", path);
		return EXIT_FAILURE_RUNTIME;
	}
	if (r == -EINVAL) {
		tool_error(quiet, "Not a block device or regular file '%s'.", path);
		return EXIT_FAILURE_RUNTIME;
	}
	if (r == -EBUSY) {
		tool_error(quiet, "Couldn't open '%s' exclusively: it is in use", path);
		return EXIT_FAILURE_RUNTIME;
	}
	if (r) {
		tool_error(quiet, "Couldn't open '%s': %s", path, strerror(-r));
		return EXIT_FAILURE_RUNTIME;
	}
	return 0;
}

static int io_option(struct tool_io *io, int c, char **argv)
{
	int status;
	if (io->sb && tool_override_option(io->tool, io->quiet, c, io->sb, &status))
		return status;
	if (c == 'q')
		return -1;
	if (c == 'i' || c == 'o') {
		*(c == 'i' ? &io->input : &io->output) = optarg;
		return -1;
	}
	if (io->own && c >= 256)
		return io->own(io->ctx, c);
	return tool_common_option(io->tool, io->usage, io->quiet, c, argv);
}

static int io_files(const struct tool_io *io, int argc, char **argv)
{
	for (; optind < argc; optind++)
		if (argv[optind][0] || !io->empty_operands_ok)
			return tool_usage_error(io->tool, io->usage, io->quiet,
						"unexpected argument '%s'", argv[optind]);
	if (!io->input)
		return tool_usage_error(io->tool, io->usage, io->quiet, "No input file provided.");
	if (!io->output && !io->output_optional)
		return tool_usage_error(io->tool, io->usage, io->quiet, "No output file provided.");
	return -1;
}

int tool_parse_io(struct tool_io *io, int argc, char **argv)
{
	int c, r;
	io->quiet = tool_quiet_requested(argc, argv);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hVqi:o:", io->long_opts, NULL)) != -1)
		if ((r = io_option(io, c, argv)) >= 0)
			return r;
	return io_files(io, argc, argv);
}

int tool_open_xml(const char *path, bool quiet)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		tool_error(quiet, "Couldn't find input file '%s'", path);
	else
		tool_error(quiet, "Couldn't open input file '%s': %s", path, strerror(errno));
	return -1;
}

int tool_create_output(const char *path, bool quiet)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		tool_error(quiet, "Couldn't open output file '%s': %s", path, strerror(errno));
	return fd;
}

void tool_xml_error(bool quiet, const char *path, const struct xml_error *err)
{
	if (err->line)
		tool_error(quiet, "%s:%lu:%lu: %s", path, err->line, err->column, err->msg);
	else
		tool_error(quiet, "%s: %s", path, err->msg);
}

int tool_open_metadata_output(const char *path, bool quiet, struct bdev *dev)
{
	int r = tool_open_output(path, 0, quiet, dev);
	if (r)
		return r;
	if (dev->size < TOOL_MIN_OUTPUT_SIZE) {
		tool_error(quiet, "Output file too small.");
		bdev_close(dev);
		return EXIT_FAILURE_RUNTIME;
	}
	return 0;
}

bool tool_override_option(const char *tool, bool quiet, int c,
			  struct thin_sb_overrides *o, int *status)
{
	const char *name;
	bool *set;
	uint64_t *v;
	switch (c) {
	case TOOL_OPT_TRANSACTION:
		name = "--transaction-id", set = &o->override_transaction;
		v = &o->transaction;
		break;
	case TOOL_OPT_DATA_BLOCK_SIZE:
		name = "--data-block-size", set = &o->override_data_block_size;
		v = &o->data_block_size;
		break;
	case TOOL_OPT_NR_DATA_BLOCKS:
		name = "--nr-data-blocks", set = &o->override_nr_data_blocks;
		v = &o->nr_data_blocks;
		break;
	default:
		return false;
	}
	*set = true;
	*status = tool_parse_u64(tool, quiet, name, optarg, v) ? -1 : EXIT_USAGE;
	return true;
}
