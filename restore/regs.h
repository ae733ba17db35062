/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A thread's full CPU state (general registers with fs/gs base, x87/SSE/AVX xstate,
 * signal mask), saved in restart-safe form so a rewind can put it back (invariant I3).
 */
#ifndef LETHE_RS_REGS_H
#define LETHE_RS_REGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct rs_regs {
	struct user_regs_struct gp; /* includes fs_base/gs_base on x86_64 */
	void *xstate;		    /* NT_X86_XSTATE image (or NT_PRFPREG without XSAVE) */
	size_t xstate_len;
	unsigned int xstate_note; /* NT_X86_XSTATE or NT_PRFPREG */
	uint64_t sigmask;	  /* blocked signals, bit (sig - 1) */
	bool in_syscall;	  /* gp was normalised out of a restartable syscall */
};

/*
 * Save the state of tid, a thread in a ptrace stop: PTRACE_GETREGS, GETREGSET
 * (NT_X86_XSTATE, NT_PRFPREG when the CPU has no XSAVE) and PTRACE_GETSIGMASK.
 * The general registers are normalised the CRIU way: stopped inside a syscall the kernel
 * would restart (orig_ax >= 0, ax = -ERESTARTSYS/-ERESTARTNOINTR/-ERESTARTNOHAND), ip -= 2
 * and ax = orig_ax; for -ERESTART_RESTARTBLOCK ax = __NR_restart_syscall; at a
 * syscall-entry stop the syscall is rewound likewise; orig_ax = -1 always. Without it, a
 * thread restored after an injection sees -512 from read() (measured here).
 * r is overwritten (not freed first). Returns 0 or -errno (-ESRCH: gone or not stopped).
 * Cost: three ptrace calls and one allocation of the xstate size (2,432 bytes here).
 */
int rs_regs_save(pid_t tid, struct rs_regs *r);

/*
 * Write r back into tid (in a ptrace stop): SETREGS, SETREGSET, SETSIGMASK. The thread
 * resumes where r says once continued. Returns 0 or -errno.
 */
int rs_regs_restore(pid_t tid, const struct rs_regs *r);

/* Free the xstate buffer of r and clear it. NULL-safe; r itself is the caller's. */
void rs_regs_free(struct rs_regs *r);

/*
 * True when a and b describe the same CPU state: general registers, signal mask, and
 * the xstate image except the XSAVE header and reserved bytes (416..575), whose
 * XSTATE_BV may legitimately differ for components in their init state.
 */
bool rs_regs_equal(const struct rs_regs *a, const struct rs_regs *b);

#endif /* LETHE_RS_REGS_H */
