/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The /dev/lethe copy backend: ranges of pages rolled back from the twin by the
 * kernel helper (kpatch/) in one kernel copy each, when the module is loaded.
 */
#ifndef LETHE_RS_COPY_DEV_H
#define LETHE_RS_COPY_DEV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "iov.h"

/*
 * Open /dev/lethe and check its ABI. Returns the fd, -ENOENT when the module is
 * not loaded, -EPROTO when it speaks another ABI or lacks rollback, or -errno.
 */
int rs_copy_dev_open(void);

/*
 * Copy every page of ranges r[0..n) from twin into target (both ptrace-stopped
 * by the caller) through the helper. *bytes gets what was copied. 0 or -errno.
 */
int rs_copy_dev_ranges(int fd, pid_t target, pid_t twin, const struct rs_range *r, size_t n, uint64_t *bytes);

#endif /* LETHE_RS_COPY_DEV_H */
