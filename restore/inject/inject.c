// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Generic half of the injection library: save a stopped thread's context, run one
 * syscall through the vDSO's syscall instruction, follow the stops, restore the context.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "inject: "
#include "../../loader/log.h"
#include "inject.h"
#include "inject_priv.h"

/* The vDSO is 2 pages on x86_64 6.x; anything much larger is not a vDSO. */
#define VDSO_MAX_LEN (64UL << 10)

/* What a waitpid() status of the injected thread turned out to be. */
enum stop_kind {
	STOP_SYSCALL_ENTRY,
	STOP_SYSCALL_EXIT,
	STOP_SYSCALL_ANY, /* a syscall stop without PTRACE_O_TRACESYSGOOD: entry or exit */
	STOP_SIGNAL,	  /* signal-delivery stop */
	STOP_EVENT,	  /* PTRACE_EVENT_* stop, including interrupt and group stops */
	STOP_GONE,	  /* exited or killed */
};

static int vdso_range(pid_t tid, unsigned long *start, unsigned long *end)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		size_t n = strlen(line);

		while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
			line[--n] = 0;
		if (n < 6 || strcmp(line + n - 6, "[vdso]"))
			continue;
		if (sscanf(line, "%lx-%lx", start, end) == 2 && *end > *start)
			ret = 0;
		break;
	}
	free(line);
	fclose(f);
	return ret;
}

int inj_find_syscall_ip(pid_t tid, unsigned long *ip)
{
	unsigned long start, end;
	unsigned char *buf = NULL;
	char path[64];
	ssize_t n;
	long off;
	int fd, ret;

	ret = vdso_range(tid, &start, &end);
	if (ret < 0) {
		pr_err("no [vdso] in /proc/%d/maps: %s", tid, strerror(-ret));
		return ret;
	}
	if (end - start > VDSO_MAX_LEN)
		return -E2BIG;
	snprintf(path, sizeof(path), "/proc/%d/mem", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		pr_perror("open %s", path);
		return ret;
	}
	buf = malloc(end - start);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	n = pread(fd, buf, end - start, (off_t)start);
	if (n < 0) {
		ret = -errno;
		pr_perror("read vdso of %d at 0x%lx", tid, start);
		goto out;
	}
	off = inj_arch_find_syscall_insn(buf, (size_t)n);
	if (off < 0) {
		ret = (int)off;
		pr_err("no syscall instruction in vdso of %d at 0x%lx", tid, start);
		goto out;
	}
	*ip = start + (unsigned long)off;
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

static pid_t read_tgid(pid_t tid)
{
	char path[64], line[256];
	pid_t tgid = -ESRCH;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

/*
 * PTRACE_SYSCALL_INFO_* of the thread's current stop, NONE when not a syscall stop.
 * The kernel only says ENTRY/EXIT when the stop was reported as SIGTRAP|0x80, i.e. with
 * PTRACE_O_TRACESYSGOOD (ptrace_get_syscall_info_op(), measured on 6.18 too).
 */
static int syscall_stop_op(pid_t tid, long *nr)
{
	struct __ptrace_syscall_info info;

	memset(&info, 0, sizeof(info));
	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(info), &info) < 0)
		return PTRACE_SYSCALL_INFO_NONE;
	if (nr && info.op == PTRACE_SYSCALL_INFO_ENTRY)
		*nr = (long)info.entry.nr;
	return info.op;
}

/*
 * Without TRACESYSGOOD a syscall stop is a SIGTRAP whose siginfo has si_code == SIGTRAP
 * (ptrace_report_syscall() -> ptrace_notify(SIGTRAP)).
 */
static bool is_plain_syscall_trap(pid_t tid)
{
	siginfo_t si;

	if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) < 0)
		return false;
	return si.si_signo == SIGTRAP && si.si_code == SIGTRAP;
}

/* Is the thread at a syscall-entry stop (the syscall has not run yet)? */
static bool at_syscall_entry(pid_t tid, const inj_regs_t *r)
{
	int op = syscall_stop_op(tid, NULL);

	if (op != PTRACE_SYSCALL_INFO_NONE)
		return op == PTRACE_SYSCALL_INFO_ENTRY;
	/* the kernel puts -ENOSYS in the result register before the entry stop */
	return is_plain_syscall_trap(tid) && inj_arch_syscall_nr(r) >= 0 && inj_arch_syscall_ret(r) == -ENOSYS;
}

int inj_ctl_new_at(pid_t tid, unsigned long syscall_ip, struct inj_ctl **out)
{
	struct inj_ctl *c;
	int ret;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->tid = tid;
	c->syscall_ip = syscall_ip;
	ret = inj_arch_get_regs(tid, &c->orig);
	if (ret < 0) {
		pr_err("cannot read registers of %d (is it ptrace-stopped?): %s", tid, strerror(-ret));
		goto err;
	}
	ret = inj_arch_check_regs(&c->orig);
	if (ret < 0) {
		pr_err("thread %d is not a native 64-bit task", tid);
		goto err;
	}
	c->tgid = read_tgid(tid);
	if (c->tgid < 0) {
		ret = c->tgid;
		pr_err("cannot read tgid of %d: %s", tid, strerror(-ret));
		goto err;
	}
	c->saved = c->orig;
	c->in_syscall = inj_regs_normalise_stopped(tid, &c->saved);
	*out = c;
	return 0;
err:
	free(c);
	return ret;
}

int inj_ctl_new(pid_t tid, struct inj_ctl **out)
{
	unsigned long ip;
	int ret;

	*out = NULL;
	ret = inj_find_syscall_ip(tid, &ip);
	if (ret < 0)
		return ret;
	return inj_ctl_new_at(tid, ip, out);
}

void inj_ctl_free(struct inj_ctl *c)
{
	if (!c)
		return;
	free(c->sigs);
	free(c);
}

static int wait_tid(pid_t tid, int *status)
{
	for (;;) {
		pid_t r = waitpid(tid, status, __WALL);

		if (r == tid)
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -errno : -EPROTO;
	}
}

/* A fault raised by the instruction the thread executes (si_code > 0 and not SI_KERNEL). */
static bool is_synchronous_fault(const siginfo_t *si)
{
	switch (si->si_signo) {
	case SIGSEGV:
	case SIGBUS:
	case SIGILL:
	case SIGFPE:
		return si->si_code > 0 && si->si_code != SI_KERNEL;
	}
	return false;
}

static int record_signal(struct inj_ctl *c)
{
	siginfo_t si;

	if (ptrace(PTRACE_GETSIGINFO, c->tid, NULL, &si) < 0)
		return -errno;
	if (is_synchronous_fault(&si)) {
		/* suppressing it would re-run the faulting instruction forever */
		pr_err("thread %d faulted (signal %d, code %d, addr %p) during injection", c->tid, si.si_signo,
		       si.si_code, si.si_addr);
		return -EFAULT;
	}
	if (c->nsigs == c->capsigs) {
		size_t cap = c->capsigs ? c->capsigs * 2 : 4;
		siginfo_t *n = realloc(c->sigs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->sigs = n;
		c->capsigs = cap;
	}
	c->sigs[c->nsigs++] = si;
	pr_debug("thread %d: signal %d arrived during injection, held back", c->tid, si.si_signo);
	return 0;
}

/* Wait for the next stop of c->tid and say what it is; *nr gets the entry syscall. */
static int next_stop(struct inj_ctl *c, enum stop_kind *kind, long *nr)
{
	int status, sig, ret, op;

	ret = wait_tid(c->tid, &status);
	if (ret < 0) {
		if (ret == -ECHILD) {
			*kind = STOP_GONE;
			return 0;
		}
		return ret;
	}
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		*kind = STOP_GONE;
		return 0;
	}
	if (!WIFSTOPPED(status))
		return -EPROTO;
	sig = WSTOPSIG(status);
	if (status >> 16) {
		unsigned long msg = 0;

		ptrace(PTRACE_GETEVENTMSG, c->tid, NULL, &msg);
		pr_debug("thread %d: event %d (msg %lu) during injection", c->tid, status >> 16, msg);
		*kind = STOP_EVENT;
		return 0;
	}
	if (sig == (SIGTRAP | 0x80) || sig == SIGTRAP) {
		op = syscall_stop_op(c->tid, nr);
		if (op == PTRACE_SYSCALL_INFO_ENTRY) {
			*kind = STOP_SYSCALL_ENTRY;
			return 0;
		}
		if (op == PTRACE_SYSCALL_INFO_EXIT) {
			*kind = STOP_SYSCALL_EXIT;
			return 0;
		}
		if (sig != SIGTRAP)
			return -EPROTO;
		if (is_plain_syscall_trap(c->tid)) {
			*kind = STOP_SYSCALL_ANY;
			return 0;
		}
	}
	ret = record_signal(c);
	if (ret < 0)
		return ret;
	*kind = STOP_SIGNAL;
	return 0;
}

/* The injected exit/exit_group has entered: let it finish; reap a non-leader thread. */
static int finish_exit(struct inj_ctl *c)
{
	enum stop_kind kind;
	int ret;

	for (;;) {
		if (ptrace(PTRACE_CONT, c->tid, NULL, NULL) < 0 && errno != ESRCH)
			return -errno;
		c->gone = true;
		if (c->tid == c->tgid)
			return 0; /* a leader is reported only once its group is empty */
		ret = next_stop(c, &kind, NULL);
		if (ret < 0)
			return ret;
		if (kind == STOP_GONE)
			return 0;
	}
}

static int run_syscall(struct inj_ctl *c, long nr, const unsigned long a[6], long *ret)
{
	long cur_nr = nr, entry_nr;
	enum stop_kind kind;
	bool entered = false;
	inj_regs_t regs = c->orig;
	int err;

	inj_arch_prep_syscall(&regs, c->syscall_ip, cur_nr, a);
	err = inj_arch_set_regs(c->tid, &regs);
	if (err < 0)
		return err;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, c->tid, NULL, NULL) < 0)
			return -errno;
		entry_nr = -1;
		err = next_stop(c, &kind, &entry_nr);
		if (err < 0)
			return err;
		if (kind == STOP_SYSCALL_ANY) {
			/* no TRACESYSGOOD: our entry is the first stop showing nr and -ENOSYS */
			err = inj_arch_get_regs(c->tid, &regs);
			if (err < 0)
				return err;
			if (entered)
				kind = STOP_SYSCALL_EXIT;
			else if (inj_arch_syscall_ret(&regs) == -ENOSYS && inj_arch_syscall_nr(&regs) == cur_nr)
				kind = STOP_SYSCALL_ENTRY, entry_nr = cur_nr;
			else
				continue; /* exit stop of a syscall skipped by our registers */
		}
		switch (kind) {
		case STOP_GONE:
			c->gone = true;
			return -ESRCH;
		case STOP_SIGNAL:
		case STOP_EVENT:
			/* suppress the signal (it is recorded); fork events need nothing */
			continue;
		case STOP_SYSCALL_ENTRY:
			if (entry_nr != cur_nr) {
				pr_err("thread %d entered syscall %ld, expected %ld", c->tid, entry_nr, cur_nr);
				return -EPROTO;
			}
			entered = true;
			if (inj_arch_nr_is_exit(nr)) {
				*ret = 0;
				return finish_exit(c);
			}
			continue;
		case STOP_SYSCALL_ANY:
		case STOP_SYSCALL_EXIT:
			/* an exit stop before our entry belongs to a syscall the thread was in */
			if (!entered)
				continue;
			err = inj_arch_get_regs(c->tid, &regs);
			if (err < 0)
				return err;
			*ret = inj_arch_syscall_ret(&regs);
			if (!inj_arch_is_restart_code(*ret))
				return 0;
			/* interrupted by a signal we hold back: run it again, as the kernel would */
			cur_nr = inj_arch_restart_nr(nr, *ret);
			regs = c->orig;
			inj_arch_prep_syscall(&regs, c->syscall_ip, cur_nr, a);
			err = inj_arch_set_regs(c->tid, &regs);
			if (err < 0)
				return err;
			entered = false;
			continue;
		}
	}
}

int inj_syscall(struct inj_ctl *c, long nr, const unsigned long a[6], long *ret)
{
	static const unsigned long zero[6];
	int err;

	if (c->gone)
		return -ESRCH;
	err = run_syscall(c, nr, a ? a : zero, ret);
	if (err == -ESRCH)
		pr_err("thread %d died while running injected syscall %ld", c->tid, nr);
	else if (err < 0)
		pr_err("injecting syscall %ld into %d failed: %s", nr, c->tid, strerror(-err));
	return err;
}

int inj_ctl_restore(struct inj_ctl *c)
{
	int ret;

	if (c->gone)
		return -ESRCH;
	ret = inj_arch_set_regs(c->tid, &c->saved);
	if (ret < 0) {
		pr_err("cannot restore registers of %d: %s", c->tid, strerror(-ret));
		return ret;
	}
	while (c->nsigs) {
		siginfo_t si;
		int sig = inj_ctl_take_signal(c, &si);

		if (syscall(SYS_tgkill, c->tgid, c->tid, sig) < 0) {
			ret = -errno;
			pr_perror("cannot re-queue signal %d to %d", sig, c->tid);
			return ret;
		}
	}
	return 0;
}

void inj_ctl_get_saved(const struct inj_ctl *c, struct user_regs_struct *regs)
{
	*regs = c->saved;
}

void inj_ctl_get_orig(const struct inj_ctl *c, struct user_regs_struct *regs)
{
	*regs = c->orig;
}

void inj_ctl_set_saved(struct inj_ctl *c, const struct user_regs_struct *regs)
{
	c->saved = *regs;
}

pid_t inj_ctl_tid(const struct inj_ctl *c)
{
	return c->tid;
}

unsigned long inj_ctl_syscall_ip(const struct inj_ctl *c)
{
	return c->syscall_ip;
}

bool inj_ctl_was_in_syscall(const struct inj_ctl *c)
{
	return c->in_syscall;
}

bool inj_ctl_is_gone(const struct inj_ctl *c)
{
	return c->gone;
}

int inj_ctl_pending_signal(const struct inj_ctl *c)
{
	return c->nsigs ? c->sigs[0].si_signo : 0;
}

int inj_ctl_take_signal(struct inj_ctl *c, siginfo_t *si)
{
	int sig;

	if (!c->nsigs)
		return 0;
	sig = c->sigs[0].si_signo;
	if (si)
		*si = c->sigs[0];
	memmove(c->sigs, c->sigs + 1, (c->nsigs - 1) * sizeof(*c->sigs));
	c->nsigs--;
	return sig;
}

bool inj_regs_normalise_restart(struct user_regs_struct *regs)
{
	return inj_arch_normalise_restart(regs);
}

bool inj_regs_normalise_stopped(pid_t tid, struct user_regs_struct *regs)
{
	if (at_syscall_entry(tid, regs)) {
		/* the syscall has not run: make a resume run it from the start */
		inj_arch_rewind_entry(regs);
		return true;
	}
	return inj_arch_normalise_restart(regs);
}
