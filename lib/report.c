// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Formatting of findings for the caller's reporter.
 */
#include "report.h"

#include <stdio.h>

void vreport(struct reporter *r, enum report_level level, const char *fmt,
	     va_list ap)
{
	char msg[512];
	if (!r)
		return;
	r->counts[level]++;
	if (!r->emit)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	r->emit(r->ctx, level, msg);
}

void report(struct reporter *r, enum report_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(r, level, fmt, ap);
	va_end(ap);
}
