/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tool.h - what every command shares: exit codes, the command table,
 * option helpers and opening metadata with upstream's messages.
 */
#ifndef THINSNAP_TOOL_H
#define THINSNAP_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "block_io.h"
#include "report.h"

#define EXIT_OK	     0
#define EXIT_USAGE   2
#define EXIT_FAILURE_RUNTIME 64

#ifndef THINSNAP_VERSION
#define THINSNAP_VERSION "0.0.0"
#endif

struct command {
	const char *name;
	int (*main)(int argc, char **argv);
};

int cmd_thin_check(int argc, char **argv);
int cmd_thin_dump(int argc, char **argv);
int cmd_thin_restore(int argc, char **argv);
int cmd_thin_rmap(int argc, char **argv);
int cmd_snap_check(int argc, char **argv);
int cmd_snap_dump(int argc, char **argv);
int cmd_snap_restore(int argc, char **argv);
int cmd_snap_merge_offline(int argc, char **argv);
int cmd_thin_repair(int argc, char **argv);
int cmd_snap_repair(int argc, char **argv);

/* Parse an unsigned decimal option value; false (and a message unless
 * quiet) if bad. */
bool tool_parse_u64(const char *tool, bool quiet, const char *opt,
		    const char *s, uint64_t *out);

/* Flush stdout; EXIT_FAILURE_RUNTIME if that fails (closed stdout). */
int tool_finish_stdout(int status);

/* True if -q/--quiet is among the arguments (it silences usage errors
 * too, wherever it appears). */
bool tool_quiet_requested(int argc, char **argv);

/* Reporter callback that prints each finding on its own line on stderr. */
void tool_report_stderr(void *ctx, enum report_level level, const char *msg);

/* Print "tool: msg" to stderr unless quiet. */
void tool_error(bool quiet, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print usage for an unknown option / missing argument and return 2. */
int tool_usage_error(const char *tool, void (*usage)(FILE *), bool quiet,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * The cases every command's option switch shares: 'h' (usage on stdout),
 * 'V' (the version), ':' (missing argument) and anything else (unknown
 * option).  Returns the exit status.
 */
int tool_common_option(const char *tool, void (*usage)(FILE *), bool quiet,
		       int c, char **argv);

/* The long options every command has: the start of its getopt table. */
#define TOOL_COMMON_OPTIONS                                    \
	{ "help", no_argument, NULL, 'h' },                    \
	{ "version", no_argument, NULL, 'V' },                 \
	{ "quiet", no_argument, NULL, 'q' }

/*
 * After the options of a command that takes one input operand: its name
 * in *input and -1, or the usage status (none given, or more than one).
 */
int tool_one_input(const char *tool, void (*usage)(FILE *), bool quiet,
		   int argc, char **argv, const char **input);

/*
 * Open an input device or file with upstream's messages for a missing
 * file, something that is neither a file nor a block device, and a busy
 * device.  Returns 0 or EXIT_FAILURE_RUNTIME (message printed).
 */
int tool_open_input(const char *path, unsigned bdev_flags, bool quiet,
		    struct bdev *dev);

/*
 * Open an output device or file for writing (exclusively if a block
 * device; bdev_flags may add BDEV_DIRECT) with thin_restore's messages.
 * Returns 0 or EXIT_FAILURE_RUNTIME (message printed).
 */
int tool_open_output(const char *path, unsigned bdev_flags, bool quiet,
		     struct bdev *dev);

/*
 * The command line of a tool that reads -i INPUT and writes -o OUTPUT
 * (the restore and repair tools).  Its getopt table starts with
 * TOOL_IO_OPTIONS (-h, -V, -q, -i, -o), then TOOL_OVERRIDE_OPTIONS if it
 * takes them, then its own options.  tool_parse_io() handles all but its
 * own, then checks the operands and that the files are named.
 */
#define TOOL_IO_OPTIONS                                        \
	TOOL_COMMON_OPTIONS,                                   \
	{ "input", required_argument, NULL, 'i' },             \
	{ "output", required_argument, NULL, 'o' }

struct option;
struct thin_sb_overrides;

struct tool_io {
	/* set by the tool */
	const char *tool;
	void (*usage)(FILE *f);
	const struct option *long_opts;
	struct thin_sb_overrides *sb;	/* the overrides go here (NULL: none) */
	/* the tool's own (long, code from 256) option c, optarg set: -1 to
	 * go on, or the exit status */
	int (*own)(void *ctx, int c);
	void *ctx;
	bool empty_operands_ok;		/* ignore "" operands (lvconvert passes one) */
	bool output_optional;		/* the tool checks -o itself */
	/* set by tool_parse_io */
	bool quiet;
	const char *input, *output;
};

/* -1 to go on, or the exit status (a usage error was printed). */
int tool_parse_io(struct tool_io *io, int argc, char **argv);

/* Open an XML input read-only: the fd, or -1 (message printed). */
int tool_open_xml(const char *path, bool quiet);

/* Create or truncate a dump's output file: the fd, or -1 (said why). */
int tool_create_output(const char *path, bool quiet);

struct xml_error;
/* Print an XML reader's error as FILE:LINE:COL: message (or FILE: msg). */
void tool_xml_error(bool quiet, const char *path, const struct xml_error *err);

/*
 * Open a binary metadata input with the upstream checks and messages:
 * missing file, not a file or device, busy device, smaller than one
 * block, XML.  Returns 0 or EXIT_FAILURE_RUNTIME (message printed).
 */
int tool_open_metadata(const char *path, unsigned bdev_flags, bool quiet,
		       struct bdev *dev);

/*
 * The superblock overrides thin_restore, thin_repair and thin_dump take:
 * their long options (TOOL_OVERRIDE_OPTIONS in a getopt table; further
 * option codes start at TOOL_OPT_NEXT) and their parsing.
 */
enum { TOOL_OPT_TRANSACTION = 256, TOOL_OPT_DATA_BLOCK_SIZE,
       TOOL_OPT_NR_DATA_BLOCKS, TOOL_OPT_NEXT };
#define TOOL_OVERRIDE_OPTIONS                                                  \
	{ "transaction-id", required_argument, NULL, TOOL_OPT_TRANSACTION },   \
	{ "data-block-size", required_argument, NULL, TOOL_OPT_DATA_BLOCK_SIZE }, \
	{ "nr-data-blocks", required_argument, NULL, TOOL_OPT_NR_DATA_BLOCKS }

struct thin_sb_overrides;
/*
 * If option c is one of the overrides, take its value (optarg) into o,
 * set *status to -1, or to EXIT_USAGE for a bad value (message unless
 * quiet), and return true; else return false.
 */
bool tool_override_option(const char *tool, bool quiet, int c,
			  struct thin_sb_overrides *o, int *status);

/* Outputs of restore and repair must be at least this big (COMPAT.md). */
#define TOOL_MIN_OUTPUT_SIZE 40960u

/*
 * tool_open_output() for thin-pool metadata: also refuses an output
 * smaller than TOOL_MIN_OUTPUT_SIZE ("Output file too small.").
 */
int tool_open_metadata_output(const char *path, bool quiet, struct bdev *dev);

#endif
