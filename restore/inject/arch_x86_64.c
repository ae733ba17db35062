// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * x86_64 half of the injection library: register mapping of the syscall ABI,
 * the `syscall` opcode search and the kernel's -ERESTART* rules (arch/x86/kernel/signal.c).
 */
#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include "arch.h"

/* Kernel-internal errnos (include/linux/errno.h); user space never sees them. */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

/* __USER_CS: a 64-bit user code segment (arch/x86/include/asm/segment.h). */
#define X86_64_USER_CS 0x33

int inj_arch_get_regs(pid_t tid, inj_regs_t *r)
{
	if (ptrace(PTRACE_GETREGS, tid, NULL, r) < 0)
		return -errno;
	return 0;
}

int inj_arch_set_regs(pid_t tid, const inj_regs_t *r)
{
	if (ptrace(PTRACE_SETREGS, tid, NULL, r) < 0)
		return -errno;
	return 0;
}

int inj_arch_check_regs(const inj_regs_t *r)
{
	return r->cs == X86_64_USER_CS ? 0 : -EOPNOTSUPP;
}

long inj_arch_find_syscall_insn(const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (buf[i] == 0x0f && buf[i + 1] == 0x05)
			return (long)i;
	return -ENOENT;
}

void inj_arch_prep_syscall(inj_regs_t *r, unsigned long ip, long nr, const unsigned long a[6])
{
	r->rip = ip;
	r->rax = (unsigned long)nr;
	r->orig_rax = (unsigned long)-1L;
	r->rdi = a[0];
	r->rsi = a[1];
	r->rdx = a[2];
	r->r10 = a[3];
	r->r8 = a[4];
	r->r9 = a[5];
}

long inj_arch_syscall_ret(const inj_regs_t *r)
{
	return (long)r->rax;
}

unsigned long inj_arch_ip(const inj_regs_t *r)
{
	return r->rip;
}

long inj_arch_syscall_nr(const inj_regs_t *r)
{
	return (long)r->orig_rax;
}

bool inj_arch_nr_is_exit(long nr)
{
	return nr == SYS_exit || nr == SYS_exit_group;
}

bool inj_arch_is_restart_code(long ret)
{
	return ret == -ERESTARTSYS || ret == -ERESTARTNOINTR || ret == -ERESTARTNOHAND || ret == -ERESTART_RESTARTBLOCK;
}

long inj_arch_restart_nr(long nr, long ret)
{
	return ret == -ERESTART_RESTARTBLOCK ? SYS_restart_syscall : nr;
}

bool inj_arch_normalise_restart(inj_regs_t *r)
{
	long ax = (long)r->rax;
	bool in_restart = false;

	if ((long)r->orig_rax >= 0) {
		switch (ax) {
		case -ERESTARTSYS:
		case -ERESTARTNOINTR:
		case -ERESTARTNOHAND:
			r->rip -= INJ_ARCH_SYSCALL_INSN_LEN;
			r->rax = r->orig_rax;
			in_restart = true;
			break;
		case -ERESTART_RESTARTBLOCK:
			r->rip -= INJ_ARCH_SYSCALL_INSN_LEN;
			r->rax = SYS_restart_syscall;
			in_restart = true;
			break;
		}
	}
	r->orig_rax = (unsigned long)-1L;
	return in_restart;
}

void inj_arch_rewind_entry(inj_regs_t *r)
{
	r->rip -= INJ_ARCH_SYSCALL_INSN_LEN;
	r->rax = r->orig_rax;
	r->orig_rax = (unsigned long)-1L;
}
