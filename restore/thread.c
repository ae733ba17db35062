// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Seize, stop, resume and detach all threads of a process. Every thread ends a stop in
 * a PTRACE_EVENT stop, so injection and register restore find a uniform state.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "thread: "
#include "../loader/log.h"
#include "procfs.h"
#include "thread.h"

/* Passes over /proc/PID/task before giving up on a process that keeps spawning threads. */
#define SEIZE_MAX_PASSES 64

/* Poll period for a group leader's stop (a stop takes 10-50 us here, twin-prototype.md). */
#define LEADER_POLL_US 20

#define SIGBIT(sig) (1ULL << ((sig)-1))

void rs_proc_free(struct rs_proc *p)
{
	if (!p)
		return;
	free(p->tids);
	free(p->pending_sig);
	free(p->pending_mask);
	free(p->stopped);
	memset(p, 0, sizeof(*p));
}

int rs_proc_find(const struct rs_proc *p, pid_t tid)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->tids[i] == tid)
			return (int)i;
	return -ENOENT;
}

static int proc_grow(struct rs_proc *p)
{
	size_t cap = p->cap ? p->cap * 2 : 16;
	pid_t *t = realloc(p->tids, cap * sizeof(*t));
	int *s;
	uint64_t *m;
	bool *st;

	if (!t)
		return -ENOMEM;
	p->tids = t;
	s = realloc(p->pending_sig, cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	p->pending_sig = s;
	m = realloc(p->pending_mask, cap * sizeof(*m));
	if (!m)
		return -ENOMEM;
	p->pending_mask = m;
	st = realloc(p->stopped, cap * sizeof(*st));
	if (!st)
		return -ENOMEM;
	p->stopped = st;
	p->cap = cap;
	return 0;
}

static pid_t tracer_of(pid_t tid)
{
	char path[64], line[256];
	pid_t tracer = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %d", &tracer) == 1)
			break;
	fclose(f);
	return tracer;
}

/* Seize tid and append it; 1 if added, 0 if it vanished first, -errno. */
static int proc_add(struct rs_proc *p, pid_t tid)
{
	int ret;

	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)p->options) < 0) {
		ret = -errno;
		if (ret == -ESRCH) {
			pr_debug("thread %d exited before it could be seized", tid);
			return 0;
		}
		/* auto-attached through PTRACE_O_TRACECLONE: already ours */
		if (ret != -EPERM || tracer_of(tid) != getpid()) {
			pr_err("cannot seize thread %d of %d: %s", tid, p->pid, strerror(-ret));
			return ret;
		}
	}
	if (p->n == p->cap) {
		ret = proc_grow(p);
		if (ret < 0)
			return ret;
	}
	p->tids[p->n] = tid;
	p->pending_sig[p->n] = 0;
	p->pending_mask[p->n] = 0;
	p->stopped[p->n] = false;
	p->n++;
	return 1;
}

/* One pass over /proc/PID/task: seize every unknown thread. Returns how many were added. */
static int seize_new(struct rs_proc *p)
{
	char path[64];
	struct dirent *d;
	int added = 0, ret = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", p->pid);
	dir = opendir(path);
	if (!dir) {
		ret = errno == ENOENT ? -ESRCH : -errno;
		pr_err("cannot list threads of %d: %s", p->pid, strerror(-ret));
		return ret;
	}
	while ((d = readdir(dir))) {
		pid_t tid = (pid_t)strtol(d->d_name, NULL, 10);

		if (tid <= 0 || rs_proc_find(p, tid) >= 0)
			continue;
		ret = proc_add(p, tid);
		if (ret < 0)
			break;
		added += ret;
	}
	closedir(dir);
	return ret < 0 ? ret : added;
}

int rs_proc_seize(pid_t pid, unsigned long options, struct rs_proc *out)
{
	int ret;

	memset(out, 0, sizeof(*out));
	out->pid = pid;
	out->options = options;
	for (int pass = 0; pass < SEIZE_MAX_PASSES; pass++) {
		ret = seize_new(out);
		if (ret < 0)
			goto err;
		if (ret == 0) {
			if (out->n)
				return 0;
			ret = -ESRCH;
			goto err;
		}
	}
	pr_err("threads of %d kept appearing over %d passes", pid, SEIZE_MAX_PASSES);
	ret = -EAGAIN;
err:
	for (size_t i = 0; i < out->n; i++)
		ptrace(PTRACE_DETACH, out->tids[i], NULL, NULL);
	rs_proc_free(out);
	return ret;
}

/* State of /proc/TID/stat, or 0 when the thread is gone. */
static char thread_state(pid_t tid)
{
	char st;

	return rs_proc_stat(tid, &st, NULL) ? 0 : st;
}

static bool thread_is_dead(pid_t tid)
{
	char st = thread_state(tid);

	return st == 0 || st == 'Z' || st == 'X';
}

/* A stop that is neither a PTRACE_EVENT stop nor a syscall stop: a signal-delivery stop. */
static bool is_signal_stop(pid_t tid, int status)
{
	siginfo_t si;

	if (status >> 16 || WSTOPSIG(status) == (SIGTRAP | 0x80))
		return false;
	if (WSTOPSIG(status) != SIGTRAP)
		return true;
	/* without TRACESYSGOOD a syscall stop is a SIGTRAP with si_code == SIGTRAP */
	return ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) == 0 && si.si_code != SIGTRAP;
}

/* Wait until p->tids[i] is in a ptrace stop other than a signal-delivery stop. */
static int wait_stopped(struct rs_proc *p, size_t i)
{
	pid_t tid = p->tids[i];
	int status;

	for (;;) {
		/* alone in its process, a leader is reported at once even when it dies */
		bool poll = tid == p->pid && p->n > 1;
		pid_t r = waitpid(tid, &status, __WALL | (poll ? WNOHANG : 0));

		if (r == 0) {
			/*
			 * A dead leader is reported only once every other thread is reaped,
			 * so a blocking wait on it could never return: poll it instead.
			 */
			if (thread_is_dead(tid)) {
				pr_err("thread %d of %d died while being stopped", tid, p->pid);
				return -ESRCH;
			}
			usleep(LEADER_POLL_US);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) {
			pr_err("thread %d of %d died while being stopped", tid, p->pid);
			return -ESRCH;
		}
		if (!WIFSTOPPED(status))
			continue;
		if (!is_signal_stop(tid, status))
			break;
		/*
		 * Hold the signal back and stop again: this stop may have come before our
		 * interrupt, which would then still be pending and trap after a resume.
		 */
		p->pending_mask[i] |= SIGBIT(WSTOPSIG(status));
		if (!p->pending_sig[i] || WSTOPSIG(status) < p->pending_sig[i])
			p->pending_sig[i] = WSTOPSIG(status);
		pr_debug("thread %d: signal %d held back while stopping", tid, WSTOPSIG(status));
		if (ptrace(PTRACE_CONT, tid, NULL, NULL) < 0 || ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0) {
			pr_err("thread %d of %d died while being stopped", tid, p->pid);
			return -ESRCH;
		}
	}
	p->stopped[i] = true;
	return 0;
}

/* Interrupt and wait for every held thread from index done on. */
static int stop_held(struct rs_proc *p, size_t done)
{
	int ret;

	for (size_t i = done; i < p->n; i++) {
		if (p->stopped[i])
			continue;
		if (ptrace(PTRACE_INTERRUPT, p->tids[i], NULL, NULL) < 0) {
			ret = -errno;
			pr_err("cannot interrupt thread %d of %d: %s", p->tids[i], p->pid, strerror(-ret));
			return ret;
		}
	}
	/* the leader last: a dead thread elsewhere is then seen before it */
	for (size_t i = done; i < p->n; i++) {
		if (p->stopped[i] || p->tids[i] == p->pid)
			continue;
		ret = wait_stopped(p, i);
		if (ret < 0)
			return ret;
	}
	for (size_t i = done; i < p->n; i++) {
		if (p->stopped[i] || p->tids[i] != p->pid)
			continue;
		ret = wait_stopped(p, i);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int rs_proc_stop(struct rs_proc *p)
{
	size_t done = 0;
	int ret;

	for (int pass = 0; pass < SEIZE_MAX_PASSES; pass++) {
		ret = stop_held(p, done);
		if (ret < 0)
			return ret;
		done = p->n;
		ret = seize_new(p);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return 0;
	}
	pr_err("threads of %d kept appearing while stopping", p->pid);
	return -EAGAIN;
}

int rs_proc_seize_stop_tids(pid_t pid, const pid_t *tids, size_t n, unsigned long options, struct rs_proc *out)
{
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->pid = pid;
	out->options = options;
	for (size_t i = 0; i < n && ret >= 0; i++) {
		ret = proc_add(out, tids[i]);
		if (ret == 0) {
			pr_err("thread %d of %d is gone", tids[i], pid);
			ret = -ESRCH;
		}
	}
	if (ret >= 0)
		ret = stop_held(out, 0);
	if (ret < 0) {
		for (size_t i = 0; i < out->n; i++)
			ptrace(PTRACE_DETACH, out->tids[i], NULL, NULL);
		rs_proc_free(out);
		return ret;
	}
	return 0;
}

/* tgkill every held-back signal of thread i; returns the ones it does not block. */
static uint64_t requeue_signals(struct rs_proc *p, size_t i)
{
	uint64_t mask = p->pending_mask[i], blocked = 0;

	if (!mask)
		return 0;
	ptrace(PTRACE_GETSIGMASK, p->tids[i], (void *)sizeof(blocked), &blocked);
	for (int sig = 1; sig <= 64; sig++)
		if ((mask & SIGBIT(sig)) && syscall(SYS_tgkill, p->pid, p->tids[i], sig) < 0)
			pr_perror("cannot re-send signal %d to %d", sig, p->tids[i]);
	p->pending_mask[i] = 0;
	p->pending_sig[i] = 0;
	return mask & ~blocked;
}

/* After PTRACE_CONT, hand the re-sent signals over at the stops they cause. */
static int deliver_signals(struct rs_proc *p, size_t i, uint64_t want)
{
	pid_t tid = p->tids[i];
	int status, sig;

	while (want) {
		pid_t r = waitpid(tid, &status, __WALL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) {
			pr_err("thread %d of %d died while resuming", tid, p->pid);
			return -ESRCH;
		}
		sig = 0;
		if (WIFSTOPPED(status) && is_signal_stop(tid, status)) {
			sig = WSTOPSIG(status);
			want &= ~SIGBIT(sig);
		}
		if (ptrace(PTRACE_CONT, tid, NULL, (void *)(long)sig) < 0) {
			pr_err("thread %d of %d died while resuming", tid, p->pid);
			return -ESRCH;
		}
	}
	return 0;
}

int rs_proc_resume(struct rs_proc *p)
{
	int first = 0;

	for (size_t i = 0; i < p->n; i++) {
		uint64_t want;
		int ret = 0;

		if (!p->stopped[i])
			continue;
		want = requeue_signals(p, i);
		if (ptrace(PTRACE_CONT, p->tids[i], NULL, NULL) < 0) {
			ret = -errno;
			pr_err("cannot resume thread %d of %d: %s", p->tids[i], p->pid, strerror(-ret));
		} else {
			p->stopped[i] = false;
			ret = deliver_signals(p, i, want);
		}
		if (ret < 0 && !first)
			first = ret;
	}
	return first;
}

int rs_proc_detach(struct rs_proc *p)
{
	int first = 0;

	for (size_t i = 0; i < p->n; i++) {
		if (!p->stopped[i]) {
			pr_err("cannot detach thread %d of %d: not stopped", p->tids[i], p->pid);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < p->n; i++) {
		requeue_signals(p, i);
		if (ptrace(PTRACE_DETACH, p->tids[i], NULL, NULL) < 0) {
			int ret = -errno;

			pr_err("cannot detach thread %d of %d: %s", p->tids[i], p->pid, strerror(-ret));
			if (!first)
				first = ret;
		}
	}
	rs_proc_free(p);
	return first;
}

bool rs_thread_is_stopped(pid_t tid)
{
	return thread_state(tid) == 't';
}

void rs_proc_forget(struct rs_proc *p, size_t idx)
{
	size_t tail;

	if (idx >= p->n)
		return;
	tail = p->n - idx - 1;
	memmove(&p->tids[idx], &p->tids[idx + 1], tail * sizeof(*p->tids));
	memmove(&p->pending_sig[idx], &p->pending_sig[idx + 1], tail * sizeof(*p->pending_sig));
	memmove(&p->pending_mask[idx], &p->pending_mask[idx + 1], tail * sizeof(*p->pending_mask));
	memmove(&p->stopped[idx], &p->stopped[idx + 1], tail * sizeof(*p->stopped));
	p->n--;
}
