/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Dirty page lists -> sorted, coalesced address ranges -> batches of paired iovecs, so the copy
 * backend moves K dirty pages with O(K / IOV_MAX) process_vm_readv/writev calls.
 */
#ifndef LETHE_RESTORE_IOV_H
#define LETHE_RESTORE_IOV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "maps.h"

#define RS_PAGE_SIZE 4096ULL
/* UIO_MAXIOV: the kernel's limit on iovecs per process_vm_readv/writev call (IOV_MAX in libc) */
#define RS_IOV_MAX 1024

/* One dirty entry as the tracker reports it: a 4 KiB page or a huge page. */
struct rs_page {
	uint64_t addr; /* any address inside the page; aligned down to size */
	uint64_t size; /* 0 or 4096 for a base page; a power of two >= 4096 (2 MiB, 1 GiB) for huge */
};

/* A half-open byte range [start, start + len), page aligned. */
struct rs_range {
	uint64_t start, len;
};

/*
 * Turn n dirty entries (any order, duplicates and overlaps allowed) into sorted, disjoint,
 * coalesced ranges: touching or overlapping entries become one range. *out is malloc'ed (NULL
 * when the result is empty) and owned by the caller (free()). Returns the number of ranges
 * (also stored in *nout), -EINVAL for a size that is not a power of two >= 4096 or an entry that
 * wraps around the address space, -ENOMEM. Cost: O(n log n) time, O(n) memory.
 */
int rs_ranges_build(const struct rs_page *pages, size_t n, struct rs_range **out, size_t *nout);

/* Total bytes covered by n ranges. */
uint64_t rs_ranges_bytes(const struct rs_range *r, size_t n);

/* Which mappings a range may keep when clipped; arg is passed through. */
typedef bool (*rs_vma_filter_fn)(const struct rs_vma *v, void *arg);

/*
 * Writable private mappings: the ones whose content the twin protects and a copy-back restores.
 * Skips shared mappings, read-only ones and kernel-owned ones ([vdso], [vvar], [vsyscall]).
 */
bool rs_vma_is_private_writable(const struct rs_vma *v, void *arg);

/*
 * Intersect sorted disjoint ranges (as built above) with the mappings of m for which keep()
 * says yes (every mapping when keep is NULL). A range crossing mapping boundaries is split at
 * each boundary, so every output range lies inside exactly one mapping; parts outside the
 * kept mappings are dropped. *out is malloc'ed (NULL when empty) and owned by the caller.
 * Returns the number of output ranges (also in *nout), -EINVAL if the input is not sorted and
 * disjoint, -ENOMEM. Cost: O(n + m->n).
 */
int rs_ranges_clip(const struct rs_range *in, size_t n, const struct rs_maps *m, rs_vma_filter_fn keep, void *arg,
		   struct rs_range **out, size_t *nout);

/*
 * Batch iterator for process_vm_readv/writev. Each batch fills at most RS_IOV_MAX iovec pairs:
 * remote[i] names target/twin memory and local[i] the same number of bytes in the caller's
 * bounce buffer, laid out back to back from its start. A batch also ends when the buffer is
 * full; a range larger than the buffer is continued in the next batch.
 */
struct rs_iov_batch {
	/* input, set by rs_iov_batch_init() */
	const struct rs_range *ranges;
	size_t nranges;
	char *buf;
	size_t buflen;
	/* cursor */
	size_t idx;   /* current range */
	uint64_t off; /* bytes of ranges[idx] already handed out */
	/* the current batch, valid after rs_iov_batch_next() returned > 0 */
	struct iovec local[RS_IOV_MAX];
	struct iovec remote[RS_IOV_MAX];
	size_t cnt;   /* iovec pairs in this batch */
	size_t bytes; /* bytes in this batch */
};

/*
 * Start iterating over n sorted ranges with a bounce buffer of buflen bytes. Returns 0, or
 * -EINVAL when buf is NULL or buflen is 0. The iterator keeps pointers to ranges and buf.
 */
int rs_iov_batch_init(struct rs_iov_batch *b, const struct rs_range *ranges, size_t n, void *buf, size_t buflen);

/*
 * Fill the next batch. Returns the number of iovec pairs in it (1..RS_IOV_MAX), 0 when every
 * range has been handed out. Cost: O(batch size).
 */
int rs_iov_batch_next(struct rs_iov_batch *b);

#endif /* LETHE_RESTORE_IOV_H */
