/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Layout of struct inj_ctl, shared by the restore/inject/ sources only: callers hold an opaque
 * pointer so the library can change what it keeps per thread.
 */
#ifndef LETHE_INJECT_PRIV_H
#define LETHE_INJECT_PRIV_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include "arch.h"

struct inj_ctl {
	pid_t tid;
	pid_t tgid;
	unsigned long syscall_ip; /* address of a syscall instruction in the vDSO */
	inj_regs_t orig;	  /* registers as found by inj_ctl_new() */
	inj_regs_t saved;	  /* what inj_ctl_restore() writes (restart-safe) */
	bool in_syscall;	  /* orig was inside a restartable syscall */
	bool gone;		  /* the thread exited */
	siginfo_t *sigs;	  /* signals caught during injections, oldest first */
	size_t nsigs;
	size_t capsigs;
};

#endif /* LETHE_INJECT_PRIV_H */
