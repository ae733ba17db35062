/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Memory the snapshot twin cannot hold: writable MAP_SHARED mappings (shared
 * with the twin, not copied on write) and MADV_DONTFORK/WIPEONFORK ranges
 * (absent or zeroed in the twin). Their bytes are copied at checkpoint instead.
 */
#ifndef LETHE_RS_SAVED_H
#define LETHE_RS_SAVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "maps.h"

struct rs_saved {
	uint64_t start, len;
	void *buf;
	const char *why; /* "shared", "dontfork", "wipeonfork" */
};

struct rs_saved_set {
	struct rs_saved *v;
	size_t n;
	uint64_t bytes;
};

/*
 * Find such mappings of pid (maps + the VmFlags of /proc/PID/smaps) and copy
 * their bytes through /proc/PID/mem. Refuses (-EFBIG) past max_bytes in all.
 * Returns the number of ranges saved, or -errno.
 */
int rs_saved_take(pid_t pid, const struct rs_maps *maps, uint64_t max_bytes, struct rs_saved_set *out);
void rs_saved_free(struct rs_saved_set *s);
/* Whether v is one of the saved mappings (so the twin must not be used for it). */
bool rs_saved_has_vma(const struct rs_saved_set *s, const struct rs_vma *v);
/* Write every saved range back (whole). Returns 0 or -errno. */
int rs_saved_restore(pid_t pid, const struct rs_saved_set *s);
/* Pages of saved ranges that differ from the copy now, or -errno. */
long rs_saved_compare(pid_t pid, const struct rs_saved_set *s);
/* Parse one "VmFlags:" line: true when it holds flag (e.g. "dc", "wf"). */
bool rs_vmflags_has(const char *line, const char *flag);

#endif /* LETHE_RS_SAVED_H */
