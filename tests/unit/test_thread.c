// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Tests for restore/thread.c on a real 4-thread victim (pipe server, spinner, futex
 * sleeper, nanosleep loop): 100 stop/resume cycles, late threads, held-back signals.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "unit.h"
#include "victim.h"
#include "lethe/lethe.h"
#include "../../restore/thread.h"


/* Victim globals: same addresses in the forked child, so /proc/PID/mem can read them. */
static volatile unsigned long spin_count;
static volatile sig_atomic_t usr1_seen;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

static void *spinner(void *arg)
{
	(void)arg;
	for (;;)
		spin_count++;
	return NULL;
}

static void *cond_sleeper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;)
		pthread_cond_wait(&cv, &mu);
	return NULL;
}

static void *napper(void *arg)
{
	struct timespec ts = {0, 1000 * 1000};

	(void)arg;
	for (;;)
		nanosleep(&ts, NULL);
	return NULL;
}

/* Main thread: 'p' pid, 'c' spin count, 'u' SIGUSR1 count, 't' start one more thread. */
static void victim_main(int rfd, int wfd)
{
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
	pthread_t t;

	sigaction(SIGUSR1, &sa, NULL);
	if (pthread_create(&t, NULL, spinner, NULL) || pthread_create(&t, NULL, cond_sleeper, NULL) ||
	    pthread_create(&t, NULL, napper, NULL))
		_exit(4);
	for (;;) {
		long a = -1;
		char c;
		ssize_t n = read(rfd, &c, 1);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			_exit(n < 0 ? 1 : 0);
		}
		if (c == 'p')
			a = syscall(SYS_getpid);
		else if (c == 'c')
			a = (long)spin_count;
		else if (c == 'u')
			a = usr1_seen;
		else if (c == 't')
			a = pthread_create(&t, NULL, napper, NULL);
		if (write(wfd, &a, sizeof(a)) != sizeof(a))
			_exit(2);
	}
}




static size_t count_tasks(pid_t pid)
{
	char path[64];
	size_t n = 0;
	FILE *f;
	char line[256];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %zu", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Start the victim and wait until its 4 threads exist and the spinner has spun. */
static unsigned long peek_spin(pid_t pid);

/* The victim with its 4 threads, and its spinner already counting (a loaded host may start it late). */
static bool victim_ready(struct victim *v)
{
	if (victim_start(v, victim_main))
		return false;
	for (int i = 0; i < 2000 && count_tasks(v->pid) != 4; i++)
		usleep(1000);
	for (int i = 0; i < 2000 && !peek_spin(v->pid); i++)
		usleep(1000);
	return count_tasks(v->pid) == 4 && peek_spin(v->pid) && victim_ask(v, 'p') == v->pid;
}

static unsigned long peek_spin(pid_t pid)
{
	char path[64];
	unsigned long val = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fseek(f, (long)(unsigned long)&spin_count, SEEK_SET) || fread(&val, sizeof(val), 1, f) != 1)
		val = 0;
	fclose(f);
	return val;
}

static bool all_stopped(const struct rs_proc *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (!p->stopped[i] || !rs_thread_is_stopped(p->tids[i]))
			return false;
	return true;
}

static void quiet_log(enum lethe_log_level level, const char *msg)
{
	(void)level;
	(void)msg;
}

/* 4 threads, 100 stop/resume cycles: every thread stopped each time, nothing runs while stopped. */
static void test_thread_stop_resume_100(void)
{
	struct rs_proc p;
	struct victim v;
	unsigned long a, b;
	int bad = 0;

	CU_ASSERT_FATAL(victim_ready(&v));
	CU_ASSERT_EQUAL_FATAL(rs_proc_seize(v.pid, PTRACE_O_TRACESYSGOOD, &p), 0);
	CU_ASSERT_EQUAL(p.n, 4);
	CU_ASSERT(rs_proc_find(&p, v.pid) >= 0);
	CU_ASSERT(!rs_thread_is_stopped(v.pid));
	for (int i = 0; i < 100; i++) {
		if (rs_proc_stop(&p) || p.n != 4 || !all_stopped(&p))
			bad++;
		if (rs_proc_resume(&p))
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(rs_proc_stop(&p), 0);
	CU_ASSERT(all_stopped(&p));
	CU_ASSERT_EQUAL(rs_proc_stop(&p), 0); /* idempotent */
	a = peek_spin(v.pid);
	usleep(5000);
	b = peek_spin(v.pid);
	CU_ASSERT_EQUAL(a, b);
	CU_ASSERT_NOT_EQUAL(a, 0);
	CU_ASSERT_EQUAL(rs_proc_resume(&p), 0);
	for (int i = 0; i < 1000 && peek_spin(v.pid) == b; i++)
		usleep(1000);
	CU_ASSERT_NOT_EQUAL(peek_spin(v.pid), b);
	CU_ASSERT_EQUAL(victim_ask(&v, 'p'), v.pid);
	CU_ASSERT_EQUAL(rs_proc_stop(&p), 0);
	CU_ASSERT_EQUAL(rs_proc_detach(&p), 0);
	CU_ASSERT_PTR_NULL(p.tids);
	CU_ASSERT(!rs_thread_is_stopped(v.pid));
	CU_ASSERT_EQUAL(victim_ask(&v, 'p'), v.pid);
	victim_kill(&v);
}

/* A thread created while the process ran is seized and stopped by the next stop. */
static void test_thread_late_thread(void)
{
	struct rs_proc p;
	struct victim v;

	CU_ASSERT_FATAL(victim_ready(&v));
	CU_ASSERT_EQUAL_FATAL(rs_proc_seize(v.pid, PTRACE_O_TRACESYSGOOD, &p), 0);
	CU_ASSERT_EQUAL(victim_ask(&v, 't'), 0);
	CU_ASSERT_EQUAL(count_tasks(v.pid), 5);
	CU_ASSERT_EQUAL(rs_proc_stop(&p), 0);
	CU_ASSERT_EQUAL(p.n, 5);
	CU_ASSERT(all_stopped(&p));
	CU_ASSERT_EQUAL(rs_proc_resume(&p), 0);
	CU_ASSERT_EQUAL(victim_ask(&v, 'p'), v.pid);
	CU_ASSERT_EQUAL(rs_proc_stop(&p), 0);
	CU_ASSERT_EQUAL(rs_proc_detach(&p), 0);
	victim_kill(&v);
}

/* A signal met while stopping is held back and delivered exactly once at resume. */
static void test_thread_signal_held_back(void)
{
	siginfo_t si;
	struct rs_proc p;
	struct victim v;
	int i;

	CU_ASSERT_FATAL(victim_ready(&v));
	CU_ASSERT_EQUAL_FATAL(rs_proc_seize(v.pid, PTRACE_O_TRACESYSGOOD, &p), 0);
	CU_ASSERT_EQUAL_FATAL(rs_proc_stop(&p), 0);
	/* queued while stopped: the main thread takes a signal-delivery stop once running */
	CU_ASSERT_EQUAL(syscall(SYS_tgkill, v.pid, v.pid, SIGUSR1), 0);
	CU_ASSERT_EQUAL(ptrace(PTRACE_CONT, v.pid, NULL, NULL), 0);
	p.stopped[rs_proc_find(&p, v.pid)] = false;
	/*
	 * Let the signal-delivery stop happen before rs_proc_stop() interrupts (peek with
	 * WNOWAIT, leaving the report to it): the interrupt then stays pending behind it.
	 */
	memset(&si, 0, sizeof(si));
	CU_ASSERT_EQUAL(waitid(P_PID, (id_t)v.pid, &si, WSTOPPED | WNOWAIT | __WALL), 0);
	CU_ASSERT_EQUAL(si.si_status, SIGUSR1);
	CU_ASSERT_EQUAL(rs_proc_stop(&p), 0);
	i = rs_proc_find(&p, v.pid);
	CU_ASSERT_EQUAL(p.pending_sig[i], SIGUSR1);
	CU_ASSERT_EQUAL(p.pending_mask[i], 1ULL << (SIGUSR1 - 1));
	CU_ASSERT(all_stopped(&p));
	CU_ASSERT_EQUAL(rs_proc_resume(&p), 0);
	CU_ASSERT_EQUAL(p.pending_sig[i], 0);
	CU_ASSERT_EQUAL(victim_ask(&v, 'u'), 1);
	CU_ASSERT_EQUAL(rs_proc_stop(&p), 0);
	CU_ASSERT_EQUAL(rs_proc_detach(&p), 0);
	CU_ASSERT_EQUAL(victim_ask(&v, 'u'), 1);
	victim_kill(&v);
}

/* Errors: a dead thread gives -ESRCH, detach of a running set -EINVAL, no process -ESRCH. */
static void test_thread_errors(void)
{
	struct rs_proc p;
	struct victim v;

	lethe_set_log_fn(quiet_log, LETHE_LOG_WARN);
	CU_ASSERT_EQUAL(rs_proc_seize(0x7ffffff0, 0, &p), -ESRCH);
	CU_ASSERT_FATAL(victim_ready(&v));
	CU_ASSERT_EQUAL_FATAL(rs_proc_seize(v.pid, 0, &p), 0);
	CU_ASSERT_EQUAL(rs_proc_detach(&p), -EINVAL);
	CU_ASSERT_EQUAL(p.n, 4);
	kill(v.pid, SIGKILL);
	CU_ASSERT_EQUAL(rs_proc_stop(&p), -ESRCH);
	lethe_set_log_fn(NULL, LETHE_LOG_WARN);
	rs_proc_free(&p);
	rs_proc_free(NULL);
	victim_kill(&v);
}

UNIT_SUITE(thread, UNIT_CASE(test_thread_stop_resume_100), UNIT_CASE(test_thread_late_thread),
	   UNIT_CASE(test_thread_signal_held_back), UNIT_CASE(test_thread_errors))
