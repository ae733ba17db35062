// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for loader/paths.c: lexical joins as the tracker's records need them. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "unit.h"
#include "loader/paths.h"

static void expect_join(const char *base, const char *rel, const char *want)
{
	char out[256];
	int n = ld_path_join(base, rel, out, sizeof(out));

	CU_ASSERT_EQUAL(n, (int)strlen(want));
	CU_ASSERT_STRING_EQUAL(out, want);
}

static void test_paths_join_relative(void)
{
	expect_join("/tmp/work", "a.txt", "/tmp/work/a.txt");
	expect_join("/tmp/work/", "./sub//b", "/tmp/work/sub/b");
	expect_join("/", "x", "/x");
}

static void test_paths_join_absolute_ignores_base(void)
{
	expect_join("/tmp", "/etc/passwd", "/etc/passwd");
	expect_join(NULL, "/a/./b/", "/a/b");
}

static void test_paths_join_dotdot(void)
{
	expect_join("/a/b/c", "../d", "/a/b/d");
	expect_join("/a", "../../../x", "/x");
	expect_join("/a/b", "..", "/a");
	expect_join("/", "..", "/");
}

static void test_paths_join_errors(void)
{
	char out[8];

	CU_ASSERT_EQUAL(ld_path_join(NULL, "rel", out, sizeof(out)), -EINVAL);
	CU_ASSERT_EQUAL(ld_path_join("relbase", "x", out, sizeof(out)), -EINVAL);
	CU_ASSERT_EQUAL(ld_path_join("/", "abcdefghij", out, sizeof(out)), -ENAMETOOLONG);
}

static void test_paths_proc_link_self_cwd(void)
{
	char a[4096], b[4096];

	CU_ASSERT_FATAL(getcwd(a, sizeof(a)) != NULL);
	CU_ASSERT(ld_proc_link(getpid(), "cwd", b, sizeof(b)) > 0);
	CU_ASSERT_STRING_EQUAL(a, b);
	CU_ASSERT_EQUAL(ld_proc_link(getpid(), "fd/987654", b, sizeof(b)), -ENOENT);
}

UNIT_SUITE(paths, UNIT_CASE(test_paths_join_relative), UNIT_CASE(test_paths_join_absolute_ignores_base),
	   UNIT_CASE(test_paths_join_dotdot), UNIT_CASE(test_paths_join_errors),
	   UNIT_CASE(test_paths_proc_link_self_cwd))
