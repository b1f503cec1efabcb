// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thin_check: validate thin-pool metadata (run by lvm2 before activation).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "thin_check.h"
#include "tool.h"

static const char *const TOOL = "thin_check";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: thin_check [options] {device|file}\n"
		"Options:\n"
		"  {-q|--quiet}\n"
		"  {-h|--help}\n"
		"  {-V|--version}\n"
		"  {-m|--metadata-snap}\n"
		"  {--auto-repair}\n"
		"  {--override-mapping-root} <block>\n"
		"  {--override-details-root} <block>\n"
		"  {--clear-needs-check-flag}\n"
		"  {--ignore-non-fatal-errors}\n"
		"  {--skip-mappings}\n"
		"  {--super-block-only}\n");
}

enum {
	OPT_SUPER_ONLY = 256,
	OPT_SKIP_MAPPINGS,
	OPT_IGNORE_NONFATAL,
	OPT_CLEAR_NEEDS_CHECK,
	OPT_AUTO_REPAIR,
	OPT_OVERRIDE_MAPPING,
	OPT_OVERRIDE_DETAILS,
};

static const struct option long_opts[] = {
	TOOL_COMMON_OPTIONS,
	{ "metadata-snap", no_argument, NULL, 'm' },
	{ "super-block-only", no_argument, NULL, OPT_SUPER_ONLY },
	{ "skip-mappings", no_argument, NULL, OPT_SKIP_MAPPINGS },
	{ "ignore-non-fatal-errors", no_argument, NULL, OPT_IGNORE_NONFATAL },
	{ "clear-needs-check-flag", no_argument, NULL, OPT_CLEAR_NEEDS_CHECK },
	{ "auto-repair", no_argument, NULL, OPT_AUTO_REPAIR },
	{ "override-mapping-root", required_argument, NULL, OPT_OVERRIDE_MAPPING },
	{ "override-details-root", required_argument, NULL, OPT_OVERRIDE_DETAILS },
	{ NULL, 0, NULL, 0 },
};

struct check_args {
	struct thin_check_opts o;
	bool quiet, ignore_nonfatal, clear_needs_check, auto_repair;
	const char *input;
};

/* The option combinations upstream refuses. */
static const char *conflict(const struct check_args *a)
{
	bool override = a->o.override_mapping_root || a->o.override_details_root;
	if (a->auto_repair) {
		if (a->ignore_nonfatal)
			return "--auto-repair cannot be combined with --ignore-non-fatal-errors";
		if (a->o.metadata_snap)
			return "--auto-repair cannot be combined with --metadata-snap";
		if (override)
			return "--auto-repair cannot be combined with the root overrides";
		if (a->o.super_block_only)
			return "--auto-repair cannot be combined with --super-block-only";
		if (a->o.skip_mappings)
			return "--auto-repair cannot be combined with --skip-mappings";
	}
	if (a->clear_needs_check) {
		if (a->o.metadata_snap)
			return "--clear-needs-check-flag cannot be combined with --metadata-snap";
		if (override)
			return "--clear-needs-check-flag cannot be combined with the root overrides";
	}
	return NULL;
}

/* Returns -1 to go on, or the exit status. */
static int parse(int argc, char **argv, struct check_args *a)
{
	int c;
	a->quiet = tool_quiet_requested(argc, argv);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":qhVm", long_opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			a->quiet = true;
			break;
		case 'm':
			a->o.metadata_snap = true;
			break;
		case OPT_SUPER_ONLY:
			a->o.super_block_only = true;
			break;
		case OPT_SKIP_MAPPINGS:
			a->o.skip_mappings = true;
			break;
		case OPT_IGNORE_NONFATAL:
			a->ignore_nonfatal = true;
			break;
		case OPT_CLEAR_NEEDS_CHECK:
			a->clear_needs_check = true;
			break;
		case OPT_AUTO_REPAIR:
			a->auto_repair = true;
			break;
		case OPT_OVERRIDE_MAPPING:
			a->o.override_mapping_root = true;
			if (!tool_parse_u64(TOOL, a->quiet, "--override-mapping-root", optarg,
					    &a->o.mapping_root))
				return EXIT_USAGE;
			break;
		case OPT_OVERRIDE_DETAILS:
			a->o.override_details_root = true;
			if (!tool_parse_u64(TOOL, a->quiet, "--override-details-root", optarg,
					    &a->o.details_root))
				return EXIT_USAGE;
			break;
		default:
			return tool_common_option(TOOL, usage, a->quiet, c, argv);
		}
	}
	int r = tool_one_input(TOOL, usage, a->quiet, argc, argv, &a->input);
	if (r >= 0)
		return r;
	const char *why = conflict(a);
	if (why)
		return tool_usage_error(TOOL, usage, a->quiet, "%s", why);
	return -1;
}

static int verdict(const struct check_args *a, const struct reporter *rep,
		   const struct thin_check_result *res)
{
	unsigned long nonfatal = rep->counts[REPORT_NONFATAL];
	if (!res->sb_ok || rep->counts[REPORT_FATAL] || res->repair_error)
		return EXIT_FAILURE_RUNTIME;
	if (res->data_repaired || res->metadata_repaired)
		nonfatal -= res->leak_findings; /* fixed */
	if (nonfatal && !a->ignore_nonfatal)
		return EXIT_FAILURE_RUNTIME;
	return EXIT_OK;
}

/* What the leak repair did, or why it stopped. */
static void report_repair(const struct check_args *a,
			  const struct thin_check_result *res)
{
	if (res->repair_error)
		tool_error(a->quiet, "%s: couldn't repair the leaked blocks: %s",
			   TOOL, strerror(-res->repair_error));
	if (res->data_repaired)
		tool_error(a->quiet, "data space map: repaired %llu leaked blocks",
			   (unsigned long long)res->data_repaired);
	if (res->metadata_repaired)
		tool_error(a->quiet, "metadata space map: repaired %llu leaked blocks",
			   (unsigned long long)res->metadata_repaired);
}

int cmd_thin_check(int argc, char **argv)
{
	struct check_args a = { 0 };
	struct reporter rep = { 0 };
	struct thin_check_result res;
	struct bdev dev;
	int status = parse(argc, argv, &a);
	if (status >= 0)
		return status;

	bool writes = a.clear_needs_check || a.auto_repair;
	a.o.repair_leaks = writes; /* both flags repair leaks (COMPAT.md) */
	unsigned flags = (writes ? BDEV_WRITE : 0) |
			 (a.o.metadata_snap ? 0 : BDEV_EXCL);
	status = tool_open_metadata(a.input, flags, a.quiet, &dev);
	if (status)
		return status;
	if (!a.quiet)
		rep.emit = tool_report_stderr;
	int r = thin_check(&dev, &a.o, &rep, &res);
	if (r < 0 && r != -ERANGE) {
		tool_error(a.quiet, "thin_check: %s", strerror(-r));
		bdev_close(&dev);
		return EXIT_FAILURE_RUNTIME;
	}
	report_repair(&a, &res);
	status = verdict(&a, &rep, &res);
	if (res.sb_ok && !a.quiet) {
		printf("TRANSACTION_ID=%llu\n", (unsigned long long)res.sb.trans_id);
		printf("METADATA_FREE_BLOCKS=%llu\n",
		       (unsigned long long)res.metadata_free);
	}
	if (status == EXIT_OK && writes &&
	    (res.sb.flags & THIN_FLAG_NEEDS_CHECK)) {
		r = thin_sb_clear_flags(&dev, THIN_FLAG_NEEDS_CHECK);
		if (r) {
			tool_error(a.quiet, "couldn't clear the needs_check flag: %s",
				   strerror(-r));
			status = EXIT_FAILURE_RUNTIME;
		}
	}
	bdev_close(&dev);
	return tool_finish_stdout(status);
}
