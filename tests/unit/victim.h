/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A forked victim process for the ptrace-level unit tests: the parent sends one
 * command byte, the victim answers one long. Each test file supplies the loop.
 */
#ifndef LETHE_TESTS_VICTIM_H
#define LETHE_TESTS_VICTIM_H

#include <sys/types.h>

#define BAD_ANSWER (-999999L)
#define ANSWER_TIMEOUT_MS 3000

struct victim {
	pid_t pid;
	int req; /* parent writes one command byte */
	int ans; /* victim answers one long */
};

/* The victim's loop: read commands from rfd, answer on wfd; never returns. */
typedef void (*victim_main_fn)(int rfd, int wfd);

/* Fork a victim running fn. Returns 0 or -errno. */
int victim_start(struct victim *v, victim_main_fn fn);
/* One answer, or BAD_ANSWER after a timeout (a broken victim fails, not hangs). */
long victim_read(struct victim *v);
/* Send cmd and read its answer. */
long victim_ask(struct victim *v, char cmd);
/* Kill and reap; traced threads of a killed victim are reaped too. */
void victim_kill(struct victim *v);

#endif /* LETHE_TESTS_VICTIM_H */
