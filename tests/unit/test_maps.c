// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for restore/maps.c against captured /proc/PID/maps text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "unit.h"
#include "../../restore/maps.h"

static void test_maps_parse_captured(void)
{
	char *text = unit_read_data("maps_cat.txt");
	struct rs_maps m;
	const struct rs_vma *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_EQUAL_FATAL(rs_maps_parse(text, &m), 0);
	CU_ASSERT_EQUAL(m.n, 38);
	/* first line: /usr/bin/cat r--p at offset 0 */
	CU_ASSERT_EQUAL(m.v[0].start, 0x557eb7215000ULL);
	CU_ASSERT_EQUAL(m.v[0].end, 0x557eb7217000ULL);
	CU_ASSERT_EQUAL(m.v[0].prot, RS_VMA_READ);
	CU_ASSERT_EQUAL(m.v[0].inode, 247134);
	CU_ASSERT_EQUAL(m.v[0].dev_major, 0xfe);
	CU_ASSERT_STRING_EQUAL(m.v[0].name, "/usr/bin/cat");

	v = rs_maps_find(&m, 0x557eee340123ULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v->name, "[heap]");
	CU_ASSERT_EQUAL(v->prot, RS_VMA_READ | RS_VMA_WRITE);

	/* anonymous mapping with a trailing space: empty name, labelled anon */
	v = rs_maps_find(&m, 0x7f6ad939c000ULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v->name, "");
	CU_ASSERT_STRING_EQUAL(rs_vma_label(v), "anon");

	/* the gconv cache is a shared mapping */
	v = rs_maps_find(&m, 0x7f6ad9604000ULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT(v->prot & RS_VMA_SHARED);

	CU_ASSERT_PTR_NULL(rs_maps_find(&m, 0x1000));
	/* end is exclusive */
	CU_ASSERT_PTR_NULL(rs_maps_find(&m, 0x557eee358000ULL));
	v = rs_maps_find(&m, 0xffffffffff600000ULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT(rs_vma_is_special(v));
	CU_ASSERT(rs_vma_is_special(rs_maps_find(&m, 0x7f6ad9614000ULL)));
	CU_ASSERT(!rs_vma_is_special(rs_maps_find(&m, 0x7ffc2e9c0000ULL)));
	rs_maps_free(&m);
	free(text);
}

static void test_maps_parse_rejects_garbage(void)
{
	char *text = unit_read_data("maps_bad.txt");
	struct rs_maps m;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_EQUAL(rs_maps_parse(text, &m), -EINVAL);
	CU_ASSERT_PTR_NULL(m.v);
	free(text);
}

static void test_maps_parse_deleted_suffix(void)
{
	struct rs_maps m;
	const char *t = "7f0000001000-7f0000002000 rw-s 00000000 00:01 1234    /memfd:secret (deleted)\n";

	CU_ASSERT_EQUAL_FATAL(rs_maps_parse(t, &m), 0);
	CU_ASSERT_EQUAL_FATAL(m.n, 1);
	CU_ASSERT(m.v[0].deleted);
	CU_ASSERT_STRING_EQUAL(m.v[0].name, "/memfd:secret");
	CU_ASSERT_EQUAL(m.v[0].prot, RS_VMA_READ | RS_VMA_WRITE | RS_VMA_SHARED);
	rs_maps_free(&m);
}

static void test_maps_read_self(void)
{
	struct rs_maps m;
	int local = 0;

	CU_ASSERT_EQUAL_FATAL(rs_maps_read(getpid(), &m), 0);
	CU_ASSERT_PTR_NOT_NULL(rs_maps_find(&m, (unsigned long)&local));
	rs_maps_free(&m);
	/* pid 0 has no /proc entry */
	CU_ASSERT_EQUAL(rs_maps_read(0, &m), -ESRCH);
}

UNIT_SUITE(maps, UNIT_CASE(test_maps_parse_captured), UNIT_CASE(test_maps_parse_rejects_garbage),
	   UNIT_CASE(test_maps_parse_deleted_suffix), UNIT_CASE(test_maps_read_self))
