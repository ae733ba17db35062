// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Save and restore a thread's CPU state through ptrace. Kept separate from injection:
 * a rewind restores the snapshot's registers, not the ones an injection found.
 */
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#define LOG_PREFIX "regs: "
#include "../loader/log.h"
#include "inject/inject.h"
#include "regs.h"

/* FXSAVE legacy area: 416 bytes of x87/SSE state, then reserved/software bytes to 512. */
#define FXSAVE_STATE_LEN 416
/* XSAVE header: 64 bytes after the legacy area; extended components start at 576. */
#define XSAVE_EXT_OFF 576
#define FXSAVE_LEN 512
/* When CPUID cannot say: AVX-512 needs 2,696 bytes, AMX about 11 KiB. */
#define XSTATE_FALLBACK_LEN (16 << 10)

/* Largest XSAVE image the CPU can produce (CPUID.(EAX=0DH,ECX=0):ECX). */
static size_t xstate_max_len(void)
{
	unsigned int a, b, c, d;

	if (__get_cpuid_count(0xd, 0, &a, &b, &c, &d) && c >= FXSAVE_LEN)
		return c;
	return XSTATE_FALLBACK_LEN;
}

static int save_xstate(pid_t tid, struct rs_regs *r)
{
	size_t len = xstate_max_len();
	struct iovec iov;
	void *buf = malloc(len);
	int ret;

	if (!buf)
		return -ENOMEM;
	iov.iov_base = buf;
	iov.iov_len = len;
	r->xstate_note = NT_X86_XSTATE;
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov) < 0) {
		if (errno != ENODEV && errno != EINVAL)
			goto err;
		/* no XSAVE: the FXSAVE image is all there is */
		iov.iov_len = len;
		r->xstate_note = NT_PRFPREG;
		if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRFPREG, &iov) < 0)
			goto err;
	}
	r->xstate = buf;
	r->xstate_len = iov.iov_len;
	return 0;
err:
	ret = -errno;
	free(buf);
	pr_err("cannot read FPU state of %d: %s", tid, strerror(-ret));
	return ret;
}

int rs_regs_save(pid_t tid, struct rs_regs *r)
{
	int ret;

	memset(r, 0, sizeof(*r));
	if (ptrace(PTRACE_GETREGS, tid, NULL, &r->gp) < 0) {
		ret = -errno;
		pr_err("cannot read registers of %d: %s", tid, strerror(-ret));
		return ret;
	}
	ret = save_xstate(tid, r);
	if (ret < 0)
		return ret;
	if (ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof(r->sigmask), &r->sigmask) < 0) {
		ret = -errno;
		pr_err("cannot read signal mask of %d: %s", tid, strerror(-ret));
		rs_regs_free(r);
		return ret;
	}
	r->in_syscall = inj_regs_normalise_stopped(tid, &r->gp);
	if (r->in_syscall)
		pr_debug("thread %d saved inside syscall %llu, ip 0x%llx", tid, r->gp.rax, r->gp.rip);
	return 0;
}

int rs_regs_restore(pid_t tid, const struct rs_regs *r)
{
	struct iovec iov = {.iov_base = r->xstate, .iov_len = r->xstate_len};
	int ret;

	if (ptrace(PTRACE_SETREGS, tid, NULL, &r->gp) < 0) {
		ret = -errno;
		pr_err("cannot write registers of %d: %s", tid, strerror(-ret));
		return ret;
	}
	if (r->xstate && ptrace(PTRACE_SETREGSET, tid, (void *)(unsigned long)r->xstate_note, &iov) < 0) {
		ret = -errno;
		pr_err("cannot write FPU state of %d: %s", tid, strerror(-ret));
		return ret;
	}
	if (ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(r->sigmask), &r->sigmask) < 0) {
		ret = -errno;
		pr_err("cannot write signal mask of %d: %s", tid, strerror(-ret));
		return ret;
	}
	return 0;
}

void rs_regs_free(struct rs_regs *r)
{
	if (!r)
		return;
	free(r->xstate);
	r->xstate = NULL;
	r->xstate_len = 0;
}

bool rs_regs_equal(const struct rs_regs *a, const struct rs_regs *b)
{
	const unsigned char *xa = a->xstate, *xb = b->xstate;
	size_t n = a->xstate_len;

	if (memcmp(&a->gp, &b->gp, sizeof(a->gp)) || a->sigmask != b->sigmask)
		return false;
	if (a->xstate_len != b->xstate_len || a->xstate_note != b->xstate_note)
		return false;
	if (!n)
		return true;
	if (n < FXSAVE_STATE_LEN)
		return !memcmp(xa, xb, n);
	if (memcmp(xa, xb, FXSAVE_STATE_LEN))
		return false;
	return n <= XSAVE_EXT_OFF || !memcmp(xa + XSAVE_EXT_OFF, xb + XSAVE_EXT_OFF, n - XSAVE_EXT_OFF);
}
