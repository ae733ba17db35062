/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The few architecture facts the injection library needs: which registers carry a
 * syscall, how to find a syscall instruction, and the kernel's syscall-restart rules.
 */
#ifndef LETHE_INJ_ARCH_H
#define LETHE_INJ_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/user.h>

/* The register file as PTRACE_GETREGS sees it on this architecture. */
typedef struct user_regs_struct inj_regs_t;

/* Length in bytes of the syscall instruction (x86_64: 0f 05). */
#define INJ_ARCH_SYSCALL_INSN_LEN 2

/* Read/write the general registers of a stopped tracee. 0 or -errno. */
int inj_arch_get_regs(pid_t tid, inj_regs_t *r);
int inj_arch_set_regs(pid_t tid, const inj_regs_t *r);

/*
 * 0 if the thread whose registers are r can take an injected native syscall,
 * -EOPNOTSUPP otherwise (e.g. a 32-bit compat task).
 */
int inj_arch_check_regs(const inj_regs_t *r);

/*
 * Offset of the first syscall instruction in buf[0..len), or -ENOENT.
 * Any byte pair that decodes as the instruction will do: the tracer stops the
 * thread at syscall entry and exit and never lets it run the bytes after it.
 */
long inj_arch_find_syscall_insn(const unsigned char *buf, size_t len);

/* Turn r into "about to run syscall nr(a0..a5) at ip": the syscall-argument ABI. */
void inj_arch_prep_syscall(inj_regs_t *r, unsigned long ip, long nr, const unsigned long a[6]);

/* The syscall result register (raw, -errno on failure) and the instruction pointer. */
long inj_arch_syscall_ret(const inj_regs_t *r);
unsigned long inj_arch_ip(const inj_regs_t *r);
/* The syscall number the kernel is running or ran (orig_ax), -1 outside a syscall. */
long inj_arch_syscall_nr(const inj_regs_t *r);

/* Syscall numbers the generic code must recognise. */
bool inj_arch_nr_is_exit(long nr);

/*
 * The syscall to run so that syscall nr, which returned the restart code ret, carries
 * on (nr itself, or restart_syscall for -ERESTART_RESTARTBLOCK).
 */
long inj_arch_restart_nr(long nr, long ret);

/* True if ret is one of the kernel-internal -ERESTART* codes (never seen by user space). */
bool inj_arch_is_restart_code(long ret);

/*
 * If r was captured in a syscall the kernel would restart (orig_ax >= 0 and ax an
 * -ERESTART* code), rewrite it so that resuming re-executes the syscall without any
 * help from the kernel: ip back onto the syscall instruction, ax = the syscall number
 * (__NR_restart_syscall for -ERESTART_RESTARTBLOCK). In every case orig_ax becomes -1,
 * so no restart logic can fire on the rewritten registers. Returns true if r was
 * inside a restartable syscall.
 */
bool inj_arch_normalise_restart(inj_regs_t *r);

/*
 * Registers captured at a syscall-entry stop describe a syscall that has not run yet:
 * rewrite them so that resuming executes it from the start (ip back onto the
 * instruction, ax = the number, orig_ax = -1).
 */
void inj_arch_rewind_entry(inj_regs_t *r);

#endif /* LETHE_INJ_ARCH_H */
