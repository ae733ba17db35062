// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Dirty page lists to coalesced ranges and IOV_MAX-sized iovec batches. Pure computation, so the
 * copy backends stay small and the unit tests need no target process.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "iov.h"

static int range_cmp(const void *a, const void *b)
{
	const struct rs_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

int rs_ranges_build(const struct rs_page *pages, size_t n, struct rs_range **out, size_t *nout)
{
	struct rs_range *r;
	size_t i, k;

	*out = NULL;
	*nout = 0;
	if (!n)
		return 0;
	r = malloc(n * sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		uint64_t size = pages[i].size ? pages[i].size : RS_PAGE_SIZE;
		uint64_t start = pages[i].addr & ~(size - 1);

		if (size < RS_PAGE_SIZE || (size & (size - 1)) || start + size < start) {
			free(r);
			return -EINVAL;
		}
		r[i].start = start;
		r[i].len = size;
	}
	qsort(r, n, sizeof(*r), range_cmp);
	/* merge in place: r[k] is the range being grown */
	for (i = 1, k = 0; i < n; i++) {
		uint64_t end = r[k].start + r[k].len;

		if (r[i].start <= end) {
			uint64_t iend = r[i].start + r[i].len;

			if (iend > end)
				r[k].len = iend - r[k].start;
		} else {
			r[++k] = r[i];
		}
	}
	*out = r;
	*nout = k + 1;
	return (int)*nout;
}

uint64_t rs_ranges_bytes(const struct rs_range *r, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += r[i].len;
	return sum;
}

bool rs_vma_is_private_writable(const struct rs_vma *v, void *arg)
{
	(void)arg;
	return (v->prot & RS_VMA_WRITE) && !(v->prot & RS_VMA_SHARED) && !rs_vma_is_special(v);
}

static int ranges_push(struct rs_range **v, size_t *n, size_t *cap, uint64_t start, uint64_t end)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct rs_range *nv = realloc(*v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	(*v)[*n].start = start;
	(*v)[*n].len = end - start;
	(*n)++;
	return 0;
}

int rs_ranges_clip(const struct rs_range *in, size_t n, const struct rs_maps *m, rs_vma_filter_fn keep, void *arg,
		   struct rs_range **out, size_t *nout)
{
	struct rs_range *res = NULL;
	size_t nres = 0, cap = 0, i, j = 0;
	int err;

	*out = NULL;
	*nout = 0;
	for (i = 1; i < n; i++)
		if (in[i].start < in[i - 1].start + in[i - 1].len)
			return -EINVAL;
	for (i = 0; i < n; i++) {
		uint64_t start = in[i].start, end = in[i].start + in[i].len;

		/* both lists are sorted: skip mappings wholly below this range, never revisit them */
		while (j < m->n && m->v[j].end <= start)
			j++;
		for (size_t k = j; k < m->n && m->v[k].start < end; k++) {
			const struct rs_vma *v = &m->v[k];
			uint64_t s = start > v->start ? start : v->start;
			uint64_t e = end < v->end ? end : v->end;

			if (keep && !keep(v, arg))
				continue;
			err = ranges_push(&res, &nres, &cap, s, e);
			if (err) {
				free(res);
				return err;
			}
		}
	}
	*out = res;
	*nout = nres;
	return (int)nres;
}

int rs_iov_batch_init(struct rs_iov_batch *b, const struct rs_range *ranges, size_t n, void *buf, size_t buflen)
{
	if (!buf || !buflen)
		return -EINVAL;
	b->ranges = ranges;
	b->nranges = n;
	b->buf = buf;
	b->buflen = buflen;
	b->idx = 0;
	b->off = 0;
	b->cnt = 0;
	b->bytes = 0;
	return 0;
}

int rs_iov_batch_next(struct rs_iov_batch *b)
{
	b->cnt = 0;
	b->bytes = 0;
	while (b->idx < b->nranges && b->cnt < RS_IOV_MAX && b->bytes < b->buflen) {
		const struct rs_range *r = &b->ranges[b->idx];
		uint64_t left = r->len - b->off;
		uint64_t room = b->buflen - b->bytes;
		uint64_t take = left < room ? left : room;

		if (!take) { /* empty range: nothing to copy */
			b->idx++;
			b->off = 0;
			continue;
		}
		b->remote[b->cnt].iov_base = (void *)(uintptr_t)(r->start + b->off);
		b->remote[b->cnt].iov_len = take;
		b->local[b->cnt].iov_base = b->buf + b->bytes;
		b->local[b->cnt].iov_len = take;
		b->cnt++;
		b->bytes += take;
		b->off += take;
		if (b->off == r->len) {
			b->idx++;
			b->off = 0;
		}
	}
	return (int)b->cnt;
}
