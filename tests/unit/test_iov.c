// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for restore/iov.c: dirty lists to ranges, clipping to mappings, iovec batches. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"
#include "../../restore/iov.h"

#define P4K 0x1000ULL
#define P2M 0x200000ULL

static void test_iov_build_dedup_and_sort(void)
{
	/* unsorted, 0x3000 twice, addresses inside pages are aligned down */
	const struct rs_page pages[] = {
	    {0x10005123, 0}, {0x3000, 0}, {0x3fff, 4096}, {0x8000, 0}, {0x3000, 0},
	};
	struct rs_range *r;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(rs_ranges_build(pages, 5, &r, &n), 3);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(r[0].start, 0x3000);
	CU_ASSERT_EQUAL(r[0].len, P4K);
	CU_ASSERT_EQUAL(r[1].start, 0x8000);
	CU_ASSERT_EQUAL(r[1].len, P4K);
	CU_ASSERT_EQUAL(r[2].start, 0x10005000);
	CU_ASSERT_EQUAL(r[2].len, P4K);
	free(r);
}

static void test_iov_build_coalesces_adjacent(void)
{
	/* 0x1000..0x5000 contiguous (4 pages, given backwards), then a gap, then 0x7000 */
	const struct rs_page pages[] = {
	    {0x4000, 0}, {0x7000, 0}, {0x3000, 0}, {0x2000, 0}, {0x1000, 0},
	};
	struct rs_range *r;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(rs_ranges_build(pages, 5, &r, &n), 2);
	CU_ASSERT_EQUAL(r[0].start, 0x1000);
	CU_ASSERT_EQUAL(r[0].len, 4 * P4K);
	CU_ASSERT_EQUAL(r[1].start, 0x7000);
	CU_ASSERT_EQUAL(r[1].len, P4K);
	CU_ASSERT_EQUAL(rs_ranges_bytes(r, n), 5 * P4K);
	free(r);
}

static void test_iov_build_huge_overlapping_small(void)
{
	/*
	 * A 2 MiB page at 0x40000000 swallows the 4K entries inside it; the 4K page right after
	 * it (0x40200000) and the one right before (0x3ffff000) touch it and coalesce, giving one
	 * range of 2 MiB + 2 pages. A huge entry given by an inner address aligns down.
	 */
	const struct rs_page pages[] = {
	    {0x40001000, 0}, {0x40200000, 0}, {0x401ff000, 0},	 {0x40123456, P2M},
	    {0x3ffff000, 0}, {0x40000000, 0}, {0x80000000, P2M},
	};
	struct rs_range *r;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(rs_ranges_build(pages, 7, &r, &n), 2);
	CU_ASSERT_EQUAL(r[0].start, 0x3ffff000);
	CU_ASSERT_EQUAL(r[0].len, P2M + 2 * P4K);
	CU_ASSERT_EQUAL(r[1].start, 0x80000000);
	CU_ASSERT_EQUAL(r[1].len, P2M);
	free(r);
}

static void test_iov_build_rejects_bad_sizes(void)
{
	const struct rs_page odd = {0x1000, 3 * P4K}, small = {0x1000, 512};
	const struct rs_page wrap = {0xfffffffffffff000ULL, P4K};
	struct rs_range *r = (void *)1;
	size_t n = 7;

	CU_ASSERT_EQUAL(rs_ranges_build(&odd, 1, &r, &n), -EINVAL);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(rs_ranges_build(&small, 1, &r, &n), -EINVAL);
	CU_ASSERT_EQUAL(rs_ranges_build(&wrap, 1, &r, &n), -EINVAL);
	/* empty input: nothing, no allocation */
	CU_ASSERT_EQUAL(rs_ranges_build(NULL, 0, &r, &n), 0);
	CU_ASSERT_PTR_NULL(r);
}

static struct rs_range *many_ranges(size_t n)
{
	struct rs_range *r = calloc(n, sizeof(*r));

	/* one page every other page, so nothing coalesces */
	for (size_t i = 0; r && i < n; i++) {
		r[i].start = 0x10000000 + i * 2 * P4K;
		r[i].len = P4K;
	}
	return r;
}

static void test_iov_batch_exactly_iov_max(void)
{
	struct rs_iov_batch *b = malloc(sizeof(*b));
	struct rs_range *r = many_ranges(1024);
	size_t buflen = 1024 * P4K;
	char *buf = malloc(buflen);

	CU_ASSERT_FATAL(b && r && buf);
	CU_ASSERT_EQUAL_FATAL(rs_iov_batch_init(b, r, 1024, buf, buflen), 0);
	CU_ASSERT_EQUAL(rs_iov_batch_next(b), 1024);
	CU_ASSERT_EQUAL(b->bytes, 1024 * P4K);
	/* pairs match: remote is the range, local walks the buffer */
	CU_ASSERT_PTR_EQUAL(b->remote[0].iov_base, (void *)0x10000000);
	CU_ASSERT_PTR_EQUAL(b->local[0].iov_base, buf);
	CU_ASSERT_PTR_EQUAL(b->remote[1023].iov_base, (void *)(0x10000000 + 1023 * 2 * P4K));
	CU_ASSERT_PTR_EQUAL(b->local[1023].iov_base, buf + 1023 * P4K);
	CU_ASSERT_EQUAL(b->local[1023].iov_len, P4K);
	CU_ASSERT_EQUAL(rs_iov_batch_next(b), 0);
	free(buf);
	free(r);
	free(b);
}

static void test_iov_batch_iov_max_plus_one(void)
{
	struct rs_iov_batch *b = malloc(sizeof(*b));
	struct rs_range *r = many_ranges(1025);
	size_t buflen = 2048 * P4K;
	char *buf = malloc(buflen);

	CU_ASSERT_FATAL(b && r && buf);
	CU_ASSERT_EQUAL_FATAL(rs_iov_batch_init(b, r, 1025, buf, buflen), 0);
	CU_ASSERT_EQUAL(rs_iov_batch_next(b), 1024);
	/* the 1025th range starts the second batch at the start of the buffer */
	CU_ASSERT_EQUAL(rs_iov_batch_next(b), 1);
	CU_ASSERT_PTR_EQUAL(b->remote[0].iov_base, (void *)(0x10000000 + 1024 * 2 * P4K));
	CU_ASSERT_PTR_EQUAL(b->local[0].iov_base, buf);
	CU_ASSERT_EQUAL(b->bytes, P4K);
	CU_ASSERT_EQUAL(rs_iov_batch_next(b), 0);
	free(buf);
	free(r);
	free(b);
}

static void test_iov_batch_splits_on_buffer(void)
{
	/* 3 pages + 2 pages through a 2-page buffer: [2p] [1p,1p] [1p] */
	const struct rs_range r[] = {{0x10000, 3 * P4K}, {0x20000, 2 * P4K}};
	struct rs_iov_batch *b = malloc(sizeof(*b));
	char buf[2 * P4K];

	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT_EQUAL(rs_iov_batch_init(b, r, 2, NULL, 10), -EINVAL);
	CU_ASSERT_EQUAL(rs_iov_batch_init(b, r, 2, buf, 0), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(rs_iov_batch_init(b, r, 2, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(rs_iov_batch_next(b), 1);
	CU_ASSERT_PTR_EQUAL(b->remote[0].iov_base, (void *)0x10000);
	CU_ASSERT_EQUAL(b->remote[0].iov_len, 2 * P4K);
	CU_ASSERT_EQUAL(rs_iov_batch_next(b), 2);
	CU_ASSERT_PTR_EQUAL(b->remote[0].iov_base, (void *)0x12000);
	CU_ASSERT_EQUAL(b->remote[0].iov_len, P4K);
	CU_ASSERT_PTR_EQUAL(b->local[1].iov_base, buf + P4K);
	CU_ASSERT_PTR_EQUAL(b->remote[1].iov_base, (void *)0x20000);
	CU_ASSERT_EQUAL(b->remote[1].iov_len, P4K);
	CU_ASSERT_EQUAL(rs_iov_batch_next(b), 1);
	CU_ASSERT_PTR_EQUAL(b->remote[0].iov_base, (void *)0x21000);
	CU_ASSERT_EQUAL(rs_iov_batch_next(b), 0);
	free(b);
}

static const char clip_maps[] =
    /* writable private anon, then a read-only file map right after it, then a writable one */
    "10000-14000 rw-p 00000000 00:00 0 \n"
    "14000-16000 r--p 00000000 fe:00 42                         /usr/lib/x.so\n"
    "16000-18000 rw-p 00002000 fe:00 42                         /usr/lib/x.so\n"
    "18000-1a000 rw-s 00000000 00:01 7                          /memfd:m (deleted)\n"
    "20000-22000 rw-p 00000000 00:00 0 \n";

static void test_iov_clip_to_private_writable(void)
{
	/*
	 * [0xf000,0x17000) starts before any mapping, covers the anon map, the read-only one and
	 * half the writable file map: kept [0x10000,0x14000) and [0x16000,0x17000). The shared
	 * memfd range is dropped, and [0x1a000,0x21000) keeps only [0x20000,0x21000).
	 */
	const struct rs_range in[] = {{0xf000, 0x8000}, {0x18000, 0x1000}, {0x1a000, 0x7000}};
	struct rs_range *out;
	struct rs_maps m;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(rs_maps_parse(clip_maps, &m), 0);
	CU_ASSERT_EQUAL_FATAL(rs_ranges_clip(in, 3, &m, rs_vma_is_private_writable, NULL, &out, &n), 3);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(out[0].start, 0x10000);
	CU_ASSERT_EQUAL(out[0].len, 0x4000);
	CU_ASSERT_EQUAL(out[1].start, 0x16000);
	CU_ASSERT_EQUAL(out[1].len, 0x1000);
	CU_ASSERT_EQUAL(out[2].start, 0x20000);
	CU_ASSERT_EQUAL(out[2].len, 0x1000);
	free(out);
	rs_maps_free(&m);
}

static void test_iov_clip_splits_across_mappings(void)
{
	/* no filter: one range over four adjacent mappings comes back as four pieces */
	const struct rs_range in[] = {{0x13000, 0x6000}};
	const struct rs_range unsorted[] = {{0x13000, 0x2000}, {0x12000, 0x1000}};
	struct rs_range *out;
	struct rs_maps m;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(rs_maps_parse(clip_maps, &m), 0);
	CU_ASSERT_EQUAL_FATAL(rs_ranges_clip(in, 1, &m, NULL, NULL, &out, &n), 4);
	CU_ASSERT_EQUAL(out[0].start, 0x13000);
	CU_ASSERT_EQUAL(out[0].len, 0x1000);
	CU_ASSERT_EQUAL(out[1].start, 0x14000);
	CU_ASSERT_EQUAL(out[1].len, 0x2000);
	CU_ASSERT_EQUAL(out[2].start, 0x16000);
	CU_ASSERT_EQUAL(out[2].len, 0x2000);
	CU_ASSERT_EQUAL(out[3].start, 0x18000);
	CU_ASSERT_EQUAL(out[3].len, 0x1000);
	free(out);
	CU_ASSERT_EQUAL(rs_ranges_clip(unsorted, 2, &m, NULL, NULL, &out, &n), -EINVAL);
	/* nothing mapped there */
	CU_ASSERT_EQUAL(rs_ranges_clip((const struct rs_range[]){{0x1c000, 0x1000}}, 1, &m, NULL, NULL, &out, &n), 0);
	CU_ASSERT_PTR_NULL(out);
	rs_maps_free(&m);
}

UNIT_SUITE(iov, UNIT_CASE(test_iov_build_dedup_and_sort), UNIT_CASE(test_iov_build_coalesces_adjacent),
	   UNIT_CASE(test_iov_build_huge_overlapping_small), UNIT_CASE(test_iov_build_rejects_bad_sizes),
	   UNIT_CASE(test_iov_batch_exactly_iov_max), UNIT_CASE(test_iov_batch_iov_max_plus_one),
	   UNIT_CASE(test_iov_batch_splits_on_buffer), UNIT_CASE(test_iov_clip_to_private_writable),
	   UNIT_CASE(test_iov_clip_splits_across_mappings))
