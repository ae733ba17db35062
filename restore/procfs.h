/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * /proc/PID/stat, read once and right: the command name may hold spaces and
 * parentheses, so the fields are taken after the last ')'.
 */
#ifndef LETHE_RS_PROCFS_H
#define LETHE_RS_PROCFS_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * State letter (R, S, t, Z, ...) and parent pid of pid; either pointer may be
 * NULL. Returns 0, or -ESRCH when pid does not exist.
 */
int rs_proc_stat(pid_t pid, char *state, pid_t *ppid);
/* Exists and is neither a zombie nor dead. */
bool rs_proc_is_alive(pid_t pid);
/*
 * pid (ours) as viewer sees it, from both NSpid lines: what a syscall injected
 * into viewer must name it by. Assumes pid's namespace is viewer's or below it
 * (a child, a member of the same container). -ESRCH if either is gone or pid is
 * not visible there.
 */
pid_t rs_proc_pid_in_ns_of(pid_t pid, pid_t viewer);
/* One "Field: N kB" value of /proc/PID/smaps_rollup (e.g. "Pss"), or -1. */
long rs_proc_rollup_kb(pid_t pid, const char *field);

#endif /* LETHE_RS_PROCFS_H */
