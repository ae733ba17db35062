/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Syscall injection into a ptrace-stopped thread: run one syscall in the target's
 * context through a `syscall` instruction found in its vDSO, never writing its memory.
 */
#ifndef LETHE_INJECT_H
#define LETHE_INJECT_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/user.h>

struct inj_ctl;

/*
 * Find a syscall instruction in the [vdso] of the process that thread tid belongs to,
 * by reading /proc/TID/maps and /proc/TID/mem (the target is never written).
 * On success *ip is its address. The address stays valid until the process execs, so
 * callers may cache it per process and pass it to inj_ctl_new_at().
 * Returns 0, -ENOENT if there is no vDSO or no instruction in it, or -errno. Cost: one
 * maps read and one vDSO-sized pread (about 0.1 ms).
 */
int inj_find_syscall_ip(pid_t tid, unsigned long *ip);

/*
 * Start injecting into tid, a thread the caller has PTRACE_SEIZE'd (or attached) and
 * that is in a ptrace stop (interrupt, group, event, signal-delivery or syscall stop).
 * Looks the syscall instruction up with inj_find_syscall_ip() and saves the thread's
 * registers. The saved registers are kept in restart-safe form: if the thread was
 * stopped inside a restartable syscall (or at a syscall-entry stop) they are rewritten
 * so that inj_ctl_restore() lets that syscall run again once the thread resumes, as the
 * kernel would have, even from the syscall-exit stop an injection leaves behind.
 * If the thread sits at a signal-delivery stop, that signal stays the caller's: the
 * first injection resumes the thread with signal 0.
 * Returns 0 and *out, or -errno (-ESRCH: thread gone, -EOPNOTSUPP: not a 64-bit task).
 */
int inj_ctl_new(pid_t tid, struct inj_ctl **out);

/* Like inj_ctl_new() with a syscall instruction address the caller already knows. */
int inj_ctl_new_at(pid_t tid, unsigned long syscall_ip, struct inj_ctl **out);

/* Free c. Touches nothing in the target: call inj_ctl_restore() first. NULL-safe. */
void inj_ctl_free(struct inj_ctl *c);

/*
 * Run syscall nr(a[0..5]) in the stopped thread and wait until it has returned.
 * Returns 0 if the injection worked, and then *ret is the target's raw result
 * (-EINTR, -EFAULT... are data); -errno if the injection itself failed (-ESRCH: the
 * thread died, -EPROTO: an unexpected stop). The thread ends in a ptrace stop (normally
 * syscall-exit). Registers are not restored here: call inj_ctl_restore().
 *
 * Stops met on the way are handled: PTRACE_EVENT_FORK/VFORK/CLONE of an injected
 * fork/clone (set PTRACE_O_TRACEFORK/TRACECLONE beforehand to have the child
 * auto-attached; *ret is then its pid, and the caller must waitpid() its first stop);
 * signal-delivery stops are recorded (see inj_ctl_pending_signal()) and suppressed;
 * an injected syscall interrupted by such a signal (-ERESTART*) is run again.
 * exit/exit_group: *ret is 0 and the thread is gone afterwards (inj_ctl_is_gone());
 * a non-leader thread is reaped here, a group leader is left for the caller to reap.
 * A syscall that blocks forever in the target (read on an empty pipe) blocks this call.
 */
int inj_syscall(struct inj_ctl *c, long nr, const unsigned long a[6], long *ret);

/*
 * Put back the registers saved by inj_ctl_new() (or set with inj_ctl_set_saved()), and
 * re-queue with tgkill() every signal recorded during injections and not taken with
 * inj_ctl_take_signal(), so none is lost (its siginfo becomes SI_TKILL from the tracer).
 * The thread stays stopped. 0 or -errno (-ESRCH if the thread is gone).
 */
int inj_ctl_restore(struct inj_ctl *c);

/* The registers inj_ctl_restore() will write; the originally captured (raw) ones. */
void inj_ctl_get_saved(const struct inj_ctl *c, struct user_regs_struct *regs);
void inj_ctl_get_orig(const struct inj_ctl *c, struct user_regs_struct *regs);
/* Replace the registers inj_ctl_restore() will write (e.g. a snapshot's registers). */
void inj_ctl_set_saved(struct inj_ctl *c, const struct user_regs_struct *regs);

/* Thread and syscall instruction this controller uses. */
pid_t inj_ctl_tid(const struct inj_ctl *c);
unsigned long inj_ctl_syscall_ip(const struct inj_ctl *c);
/* True when the thread was inside a restartable syscall when inj_ctl_new() saw it. */
bool inj_ctl_was_in_syscall(const struct inj_ctl *c);
/* True once the thread has exited (injected exit/exit_group, or killed). */
bool inj_ctl_is_gone(const struct inj_ctl *c);

/* Signal number of the oldest signal recorded during injections, or 0. */
int inj_ctl_pending_signal(const struct inj_ctl *c);
/*
 * Take the oldest recorded signal out of c (so inj_ctl_restore() will not re-queue it).
 * Returns its number and fills *si if si is not NULL; 0 when none is left.
 */
int inj_ctl_take_signal(struct inj_ctl *c, siginfo_t *si);

/*
 * Normalise registers captured inside a restartable syscall (see arch.h): ip back onto
 * the syscall instruction, ax = syscall number (restart_syscall for
 * -ERESTART_RESTARTBLOCK), orig_ax = -1 always. Returns true if regs were in one.
 */
bool inj_regs_normalise_restart(struct user_regs_struct *regs);

/*
 * The same, for registers just read from tid, a thread in a ptrace stop: at a
 * syscall-entry stop the pending syscall is rewound so it runs once resumed (ip back,
 * ax = its number). Returns true if regs were inside (or entering) a syscall.
 */
bool inj_regs_normalise_stopped(pid_t tid, struct user_regs_struct *regs);

#endif /* LETHE_INJECT_H */
