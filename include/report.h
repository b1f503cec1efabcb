/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * report.h - how the library tells its caller what it found.
 *
 * Library code never prints.  Checks and walks describe each finding as
 * one formatted line with a severity and pass it to the caller's
 * function; the tool decides where (and whether) it goes.  The reporter
 * counts findings per severity so the tool can choose an exit code.
 */
#ifndef THINSNAP_REPORT_H
#define THINSNAP_REPORT_H

#include <stdarg.h>

enum report_level {
	REPORT_INFO,	 /* progress and figures */
	REPORT_WARNING,	 /* unusual but harmless */
	REPORT_NONFATAL, /* wrong, but the kernel copes (leaks, hints) */
	REPORT_FATAL,	 /* metadata is damaged */
	REPORT_NR_LEVELS
};

struct reporter {
	void (*emit)(void *ctx, enum report_level level, const char *msg);
	void *ctx;
	unsigned long counts[REPORT_NR_LEVELS];
};

void report(struct reporter *r, enum report_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vreport(struct reporter *r, enum report_level level, const char *fmt,
	     va_list ap);

#endif
