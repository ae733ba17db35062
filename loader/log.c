// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The log sink: a function pointer and a level, installed by the host with
 * lethe_set_log_fn(). The default writes warnings and errors to stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include "log.h"

static void default_log_fn(enum lethe_log_level level, const char *msg)
{
	(void)level;
	fputs(msg, stderr);
}

static lethe_log_fn_t log_fn = default_log_fn;
static enum lethe_log_level log_level = LETHE_LOG_WARN;

void lethe_set_log_fn(lethe_log_fn_t fn, enum lethe_log_level level)
{
	log_fn = fn ? fn : default_log_fn;
	log_level = level;
}

void lethe_log(enum lethe_log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int e = errno;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_fn(level, buf);
	errno = e;
}
