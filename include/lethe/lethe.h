/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * liblethe: the public API a platform embeds to give a warm sandbox temporal
 * isolation. Every function that acts returns >= 0 on success, -errno on failure.
 */
#ifndef LETHE_LETHE_H
#define LETHE_LETHE_H

enum lethe_log_level {
	LETHE_LOG_ERR = 0,
	LETHE_LOG_WARN = 1,
	LETHE_LOG_INFO = 2,
	LETHE_LOG_DEBUG = 3,
};

typedef void (*lethe_log_fn_t)(enum lethe_log_level level, const char *msg);

/* Route every message of liblethe (and libbpf, when the CLI sets it up) into fn. */
void lethe_set_log_fn(lethe_log_fn_t fn, enum lethe_log_level level);

#endif /* LETHE_LETHE_H */
