// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Tests for restore/regs.c on a real victim blocked in read(): normalisation, a
 * save/modify/restore round trip whose effect the victim itself reports (MXCSR, mask).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xmmintrin.h>
#include "unit.h"
#include "victim.h"
#include "lethe/lethe.h"
#include "../../restore/regs.h"
#include "../../restore/inject/inject.h"

#define MXCSR_OFF 24		/* in the FXSAVE area */
#define MXCSR_ROUND_MASK 0x6000 /* RC bits: 11 = round toward zero */

/* Answers 'p' with its pid and 'm' with its MXCSR; blocks SIGUSR2 from the start. */
static void victim_main(int rfd, int wfd)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
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
		else if (c == 'm')
			a = _mm_getcsr();
		if (write(wfd, &a, sizeof(a)) != sizeof(a))
			_exit(2);
	}
}




static bool wait_in_read(pid_t pid)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	for (int i = 0; i < 2000; i++) {
		FILE *f = fopen(path, "re");
		bool in = false;

		if (f) {
			in = fgets(buf, sizeof(buf), f) && buf[0] == '0' && buf[1] == ' ';
			fclose(f);
		}
		if (in)
			return true;
		usleep(1000);
	}
	return false;
}

/* Seize (if not yet), interrupt and wait for the stop. */
static bool stop_victim(pid_t pid, bool seize)
{
	int status;

	if (seize && ptrace(PTRACE_SEIZE, pid, NULL, (void *)PTRACE_O_TRACESYSGOOD) < 0)
		return false;
	if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) < 0 || waitpid(pid, &status, __WALL) != pid)
		return false;
	return WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP;
}

static unsigned long long sigblk(pid_t pid)
{
	char path[64], line[256];
	unsigned long long m = ~0ULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return m;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigBlk: %llx", &m) == 1)
			break;
	fclose(f);
	return m;
}

static bool regs_copy(struct rs_regs *dst, const struct rs_regs *src)
{
	*dst = *src;
	dst->xstate = malloc(src->xstate_len);
	if (!dst->xstate)
		return false;
	memcpy(dst->xstate, src->xstate, src->xstate_len);
	return true;
}

static void quiet_log(enum lethe_log_level level, const char *msg)
{
	(void)level;
	(void)msg;
}

/* Saved in read(): ip back on the syscall instruction, ax = read, orig_ax = -1. */
static void test_regs_save_normalises_read(void)
{
	struct user_regs_struct raw;
	struct rs_regs r;
	struct victim v;

	CU_ASSERT_EQUAL_FATAL(victim_start(&v, victim_main), 0);
	CU_ASSERT_EQUAL(victim_ask(&v, 'p'), v.pid);
	CU_ASSERT_FATAL(wait_in_read(v.pid));
	CU_ASSERT_FATAL(stop_victim(v.pid, true));
	CU_ASSERT_EQUAL(ptrace(PTRACE_GETREGS, v.pid, NULL, &raw), 0);
	CU_ASSERT_EQUAL((long)raw.rax, -512);
	CU_ASSERT_EQUAL_FATAL(rs_regs_save(v.pid, &r), 0);
	CU_ASSERT(r.in_syscall);
	CU_ASSERT_EQUAL(r.gp.rip, raw.rip - 2);
	CU_ASSERT_EQUAL(r.gp.rax, SYS_read);
	CU_ASSERT_EQUAL((long)r.gp.orig_rax, -1);
	CU_ASSERT_EQUAL(r.gp.fs_base, raw.fs_base);
	CU_ASSERT_EQUAL(r.xstate_note, NT_X86_XSTATE);
	CU_ASSERT(r.xstate_len >= 576);
	CU_ASSERT(r.sigmask & (1ULL << (SIGUSR2 - 1)));
	CU_ASSERT_EQUAL(r.sigmask, sigblk(v.pid));
	CU_ASSERT_EQUAL(rs_regs_restore(v.pid, &r), 0);
	CU_ASSERT_EQUAL(ptrace(PTRACE_CONT, v.pid, NULL, NULL), 0);
	CU_ASSERT_EQUAL(victim_ask(&v, 'p'), v.pid);
	rs_regs_free(&r);
	rs_regs_free(&r); /* idempotent */
	victim_kill(&v);
}

/*
 * The rewind shape: save, clobber with injections, restore a modified state that the
 * victim reports (MXCSR rounding, blocked SIGUSR1), then the original state.
 */
static void test_regs_round_trip_after_injection(void)
{
	unsigned long a[6] = {0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, (unsigned long)-1, 0};
	struct rs_regs orig = {0}, mod = {0}, back = {0};
	struct inj_ctl *c = NULL;
	struct victim v;
	long mxcsr, r = 0;
	uint32_t csr;

	CU_ASSERT_EQUAL_FATAL(victim_start(&v, victim_main), 0);
	mxcsr = victim_ask(&v, 'm');
	CU_ASSERT_EQUAL(mxcsr & MXCSR_ROUND_MASK, 0);
	CU_ASSERT_FATAL(wait_in_read(v.pid));
	CU_ASSERT_FATAL(stop_victim(v.pid, true));
	CU_ASSERT_EQUAL_FATAL(rs_regs_save(v.pid, &orig), 0);
	memcpy(&csr, (char *)orig.xstate + MXCSR_OFF, sizeof(csr));
	CU_ASSERT_EQUAL(csr, (uint32_t)mxcsr);

	/* injections clobber ax, ip, rcx, r11... */
	CU_ASSERT_EQUAL_FATAL(inj_ctl_new(v.pid, &c), 0);
	CU_ASSERT_EQUAL(inj_syscall(c, SYS_mmap, a, &r), 0);
	CU_ASSERT(r > 0);
	a[0] = (unsigned long)r;
	CU_ASSERT_EQUAL(inj_syscall(c, SYS_munmap, a, &r), 0);
	CU_ASSERT_EQUAL(r, 0);
	inj_ctl_free(c); /* registers come from rs_regs, not from the ctl */

	CU_ASSERT_FATAL(regs_copy(&mod, &orig));
	mod.sigmask |= 1ULL << (SIGUSR1 - 1);
	csr |= MXCSR_ROUND_MASK;
	memcpy((char *)mod.xstate + MXCSR_OFF, &csr, sizeof(csr));
	CU_ASSERT(!rs_regs_equal(&orig, &mod));
	CU_ASSERT_EQUAL(rs_regs_restore(v.pid, &mod), 0);
	CU_ASSERT_EQUAL_FATAL(rs_regs_save(v.pid, &back), 0);
	CU_ASSERT(rs_regs_equal(&mod, &back));
	CU_ASSERT(!back.in_syscall); /* already normalised */
	CU_ASSERT_EQUAL(sigblk(v.pid), mod.sigmask);
	rs_regs_free(&back);

	/* the victim runs on the modified state and says so */
	CU_ASSERT_EQUAL(ptrace(PTRACE_CONT, v.pid, NULL, NULL), 0);
	CU_ASSERT_EQUAL(victim_ask(&v, 'm'), mxcsr | MXCSR_ROUND_MASK);
	CU_ASSERT_EQUAL(sigblk(v.pid), mod.sigmask);

	/* and back to the original */
	CU_ASSERT_FATAL(wait_in_read(v.pid));
	CU_ASSERT_FATAL(stop_victim(v.pid, false));
	CU_ASSERT_EQUAL(rs_regs_restore(v.pid, &orig), 0);
	CU_ASSERT_EQUAL_FATAL(rs_regs_save(v.pid, &back), 0);
	CU_ASSERT(rs_regs_equal(&orig, &back));
	CU_ASSERT_EQUAL(ptrace(PTRACE_CONT, v.pid, NULL, NULL), 0);
	CU_ASSERT_EQUAL(victim_ask(&v, 'm'), mxcsr);
	CU_ASSERT_EQUAL(victim_ask(&v, 'p'), v.pid);
	CU_ASSERT_EQUAL(sigblk(v.pid), orig.sigmask);
	rs_regs_free(&back);
	rs_regs_free(&mod);
	rs_regs_free(&orig);
	victim_kill(&v);
}

/* rs_regs_equal looks at state bytes and ignores the XSAVE header. */
static void test_regs_equal_detects_change(void)
{
	struct rs_regs a = {0}, b = {0};
	struct victim v;

	CU_ASSERT_EQUAL_FATAL(victim_start(&v, victim_main), 0);
	CU_ASSERT_FATAL(wait_in_read(v.pid));
	CU_ASSERT_FATAL(stop_victim(v.pid, true));
	CU_ASSERT_EQUAL_FATAL(rs_regs_save(v.pid, &a), 0);
	CU_ASSERT_FATAL(regs_copy(&b, &a));
	CU_ASSERT(rs_regs_equal(&a, &b));
	b.gp.r15 ^= 1;
	CU_ASSERT(!rs_regs_equal(&a, &b));
	b.gp.r15 ^= 1;
	((unsigned char *)b.xstate)[160] ^= 1; /* XMM0 */
	CU_ASSERT(!rs_regs_equal(&a, &b));
	((unsigned char *)b.xstate)[160] ^= 1;
	((unsigned char *)b.xstate)[512] ^= 4; /* XSTATE_BV bit 2 (AVX) */
	CU_ASSERT(rs_regs_equal(&a, &b));
	((unsigned char *)b.xstate)[512] ^= 4;
	if (a.xstate_len > 576) {
		((unsigned char *)b.xstate)[a.xstate_len - 1] ^= 1;
		CU_ASSERT(!rs_regs_equal(&a, &b));
		((unsigned char *)b.xstate)[a.xstate_len - 1] ^= 1;
	}
	b.sigmask ^= 1;
	CU_ASSERT(!rs_regs_equal(&a, &b));
	rs_regs_free(&b);
	rs_regs_free(&a);
	victim_kill(&v);
}

/* A thread that is not traced by us: -ESRCH, nothing allocated. */
static void test_regs_save_untraced(void)
{
	struct rs_regs r;
	struct victim v;

	CU_ASSERT_EQUAL_FATAL(victim_start(&v, victim_main), 0);
	lethe_set_log_fn(quiet_log, LETHE_LOG_WARN);
	CU_ASSERT_EQUAL(rs_regs_save(v.pid, &r), -ESRCH);
	lethe_set_log_fn(NULL, LETHE_LOG_WARN);
	CU_ASSERT_PTR_NULL(r.xstate);
	victim_kill(&v);
}

UNIT_SUITE(regs, UNIT_CASE(test_regs_save_normalises_read), UNIT_CASE(test_regs_round_trip_after_injection),
	   UNIT_CASE(test_regs_equal_detects_change), UNIT_CASE(test_regs_save_untraced))
