// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The shared victim process of the inject, regs and thread suites: one pipe
 * each way, bounded waits, and a kill that reaps every traced thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "victim.h"

int victim_start(struct victim *v, victim_main_fn fn)
{
	int rq[2], an[2];

	if (pipe2(rq, O_CLOEXEC) || pipe2(an, O_CLOEXEC))
		return -errno;
	v->pid = fork();
	if (v->pid < 0)
		return -errno;
	if (v->pid == 0) {
		close(rq[1]);
		close(an[0]);
		fn(rq[0], an[1]);
		_exit(0);
	}
	close(rq[0]);
	close(an[1]);
	v->req = rq[1];
	v->ans = an[0];
	return 0;
}

long victim_read(struct victim *v)
{
	struct pollfd p = {.fd = v->ans, .events = POLLIN};
	long a;

	if (poll(&p, 1, ANSWER_TIMEOUT_MS) != 1)
		return BAD_ANSWER;
	if (read(v->ans, &a, sizeof(a)) != sizeof(a))
		return BAD_ANSWER;
	return a;
}

long victim_ask(struct victim *v, char cmd)
{
	if (write(v->req, &cmd, 1) != 1)
		return BAD_ANSWER;
	return victim_read(v);
}

void victim_kill(struct victim *v)
{
	pid_t r;

	if (v->pid > 0) {
		kill(v->pid, SIGKILL);
		/* the leader is reported only after every traced thread is reaped */
		do
			r = waitpid(-1, NULL, __WALL);
		while (r != v->pid && !(r < 0 && errno != EINTR));
	}
	close(v->req);
	close(v->ans);
	v->pid = -1;
}
