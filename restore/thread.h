/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stopping and resuming every thread of one process under ptrace (PTRACE_SEIZE +
 * PTRACE_INTERRUPT), so the restorer works on a process that cannot move.
 */
#ifndef LETHE_RS_THREAD_H
#define LETHE_RS_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rs_proc {
	pid_t pid;	       /* thread group id */
	unsigned long options; /* PTRACE_O_* given to every seized thread */
	size_t n;	       /* threads held */
	size_t cap;
	pid_t *tids;
	int *pending_sig;	/* lowest signal held back from tids[i], 0 if none */
	uint64_t *pending_mask; /* all held-back signals of tids[i], bit (sig - 1) */
	bool *stopped;		/* tids[i] is in a ptrace stop we have waited for */
};

/*
 * PTRACE_SEIZE every thread listed in /proc/PID/task with options, re-reading the list
 * until a pass finds no new thread (threads created while seizing are caught). A thread
 * that exits before it is seized is skipped. Threads are left running.
 * Returns 0 and fills *out, or -errno (-ESRCH: the process is gone, -EPERM: already
 * traced, -EAGAIN: the thread list never settled). Single-threaded callers only: a
 * tracee belongs to the tracer thread.
 */
int rs_proc_seize(pid_t pid, unsigned long options, struct rs_proc *out);

/*
 * PTRACE_INTERRUPT every seized thread and wait (waitpid __WALL per tid) until each is
 * in a ptrace stop; threads that appeared meanwhile are seized and stopped too, until
 * /proc/PID/task is stable. A signal met in a signal-delivery stop is held back
 * (pending_sig/pending_mask) and the thread is stopped again, so every thread ends in a
 * PTRACE_EVENT stop with no interrupt left pending. Idempotent for stopped threads.
 * Returns 0 or -errno (-ESRCH with a message naming the tid when a thread died).
 */
int rs_proc_stop(struct rs_proc *p);

/*
 * Seize and stop exactly the threads tids of pid, without listing /proc/PID/task:
 * for a caller that knows from elsewhere (the tracker) that no other thread
 * exists. A listed thread that is gone is -ESRCH. On error nothing stays seized.
 */
int rs_proc_seize_stop_tids(pid_t pid, const pid_t *tids, size_t n, unsigned long options, struct rs_proc *out);

/*
 * PTRACE_CONT every stopped thread. Held-back signals are re-sent with tgkill() (their
 * siginfo becomes SI_TKILL from the tracer) and, unless the thread blocks them, handed
 * over at the signal-delivery stop they cause, so the thread runs its handler now.
 * Returns 0 or the first -errno (the other threads are still resumed).
 */
int rs_proc_resume(struct rs_proc *p);

/*
 * Re-send held-back signals, PTRACE_DETACH every thread and free p. Every thread must be
 * stopped (-EINVAL otherwise, and nothing is done). Returns 0 or the first -errno (p is
 * freed in any case once detaching started).
 */
int rs_proc_detach(struct rs_proc *p);

/* Free p's arrays without touching the threads. NULL-safe. */
void rs_proc_free(struct rs_proc *p);

/* Drop entry idx (a thread that exited) from p without touching any thread. */
void rs_proc_forget(struct rs_proc *p, size_t idx);
/* Index of tid in p, or -ENOENT. */
int rs_proc_find(const struct rs_proc *p, pid_t tid);

/* True if /proc/TID/stat says 't' (tracing stop). */
bool rs_thread_is_stopped(pid_t tid);

#endif /* LETHE_RS_THREAD_H */
