/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Re-arming by soft-dirty bits (CONFIG_MEM_SOFT_DIRTY, Linux >= 3.11): the
 * kernel's written set on kernels without uffd-wp async (before 6.7), e.g. 6.1.
 */
#ifndef LETHE_RS_REARM_SOFTDIRTY_H
#define LETHE_RS_REARM_SOFTDIRTY_H

#include <stddef.h>
#include <sys/types.h>
#include "lethe/lethe.h"
#include "iov.h"
#include "maps.h"

struct rs_softdirty {
	pid_t pid;
	int pagemap; /* /proc/PID/pagemap, read for bit 55 */
	int clear_refs; /* /proc/PID/clear_refs, written "4" */
};

/*
 * Whether soft-dirty tracking works on this kernel: clear_refs accepts "4" and
 * pagemap bit 55 goes from clear to set when a scratch page of our own process
 * is written. Kernels without CONFIG_MEM_SOFT_DIRTY accept the write and never
 * set the bit. Decided once per process (two /proc writes, two pagemap reads).
 */
bool rs_softdirty_is_supported(void);

/*
 * Open pid's pagemap and clear_refs and clear every soft-dirty bit, so the
 * next rs_softdirty_written() sees only what was written from now on.
 * Returns 0, -EOPNOTSUPP when the kernel has no soft-dirty tracking, or -errno.
 */
int rs_softdirty_setup(pid_t pid, struct rs_softdirty *out);
/*
 * The re-arm policy's soft-dirty step: set up out when want is
 * LETHE_REARM_SOFTDIRTY, or LETHE_REARM_AUTO on a kernel without uffd-wp async
 * (uffd_on false). Returns 1 when out is in use, 0 when soft-dirty is not
 * wanted or (AUTO) not available, -EOPNOTSUPP or -errno when asked for by name
 * and unusable.
 */
int rs_softdirty_select(pid_t pid, enum lethe_rearm want, bool uffd_on, struct rs_softdirty *out);

/* Close what setup opened. Safe after a failed setup and twice. */
void rs_softdirty_free(struct rs_softdirty *sd);

/*
 * Append to *pages every page of maps' writable private mappings whose
 * soft-dirty bit is set: written since the last clear, by the target or by the
 * kernel on its behalf (GUP writes fault the page writable, which marks it).
 * Only pages present or swapped count: a mapping created or grown since the
 * clear reports every page, holes included. Reads 8 bytes of pagemap per page
 * of those mappings. Returns the count or -errno.
 */
long rs_softdirty_written(struct rs_softdirty *sd, const struct rs_maps *maps, struct rs_page **pages, size_t *n);

/* Clear every soft-dirty bit of the target again (write-protects its ptes). */
int rs_softdirty_clear(struct rs_softdirty *sd);

#endif /* LETHE_RS_REARM_SOFTDIRTY_H */
