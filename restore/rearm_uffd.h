/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Re-arming by userfaultfd async write-protect: the kernel marks a page written
 * on its first write, PAGEMAP_SCAN lists and re-protects written pages in bulk.
 */
#ifndef LETHE_RS_REARM_UFFD_H
#define LETHE_RS_REARM_UFFD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "inject/inject.h"
#include "iov.h"
#include "maps.h"

struct rs_uffd {
	pid_t pid;
	int uffd; /* our copy of the target's userfaultfd */
	int pagemap; /* /proc/PID/pagemap, for PAGEMAP_SCAN */
};

/*
 * Create a userfaultfd in the stopped target (one injected syscall, then the fd
 * is taken with pidfd_getfd and closed in the target again), enable async WP,
 * register every writable private mapping of maps and write-protect it.
 * Returns 0, or -errno: -EINVAL/-ENOTTY when the kernel lacks WP_ASYNC or
 * PAGEMAP_SCAN (Linux < 6.7), in which case nothing is left behind.
 */
int rs_uffd_setup(pid_t pid, struct inj_ctl *c, const struct rs_maps *maps, struct rs_uffd *out);
void rs_uffd_free(struct rs_uffd *u);

/* Register [start, end) (a mapping re-created by a rewind) for async WP. */
int rs_uffd_register(struct rs_uffd *u, uint64_t start, uint64_t end);

/*
 * Append to *pages every page written since the last re-arm in the writable
 * private mappings of maps (GUP writes included). Returns the count or -errno.
 */
long rs_uffd_written(struct rs_uffd *u, const struct rs_maps *maps, struct rs_page **pages, size_t *n);

/* Write-protect again every written page of maps' writable private mappings. */
int rs_uffd_rearm(struct rs_uffd *u, const struct rs_maps *maps);

/*
 * The same two operations in one PAGEMAP_SCAN over the span of all tracked
 * mappings instead of one per mapping. They skip mappings that lost their
 * registration instead of failing, so use them only when the layout did not
 * change in the epoch (nothing could have lost it).
 */
long rs_uffd_written_span(struct rs_uffd *u, const struct rs_maps *maps, struct rs_page **pages, size_t *n);
int rs_uffd_rearm_span(struct rs_uffd *u, const struct rs_maps *maps);

/*
 * Write-protect exactly the ranges r (registered memory): the re-arm when the
 * written set is known. Returns 0 or -errno (the caller falls back to a scan).
 */
int rs_uffd_protect(struct rs_uffd *u, const struct rs_range *r, size_t n);

#endif /* LETHE_RS_REARM_UFFD_H */
