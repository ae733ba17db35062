/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one log sink of lethe. Library code never prints: it calls pr_*() and the
 * host (the CLI, a platform embedding liblethe) decides where lines go.
 */
#ifndef LETHE_LOG_H
#define LETHE_LOG_H

#include <errno.h>
#include <string.h>
#include "lethe/lethe.h"

void lethe_log(enum lethe_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifndef LOG_PREFIX
#define LOG_PREFIX ""
#endif

#define pr_err(fmt, ...) lethe_log(LETHE_LOG_ERR, LOG_PREFIX fmt "\n", ##__VA_ARGS__)
#define pr_warn(fmt, ...) lethe_log(LETHE_LOG_WARN, LOG_PREFIX fmt "\n", ##__VA_ARGS__)
#define pr_info(fmt, ...) lethe_log(LETHE_LOG_INFO, LOG_PREFIX fmt "\n", ##__VA_ARGS__)
#define pr_debug(fmt, ...) lethe_log(LETHE_LOG_DEBUG, LOG_PREFIX fmt "\n", ##__VA_ARGS__)
/* like pr_err, with strerror(errno) appended; errno is preserved */
#define pr_perror(fmt, ...)                                                                           \
	do {                                                                                          \
		int __e = errno;                                                                      \
		lethe_log(LETHE_LOG_ERR, LOG_PREFIX fmt ": %s\n", ##__VA_ARGS__, strerror(__e));     \
		errno = __e;                                                                          \
	} while (0)

#endif /* LETHE_LOG_H */
