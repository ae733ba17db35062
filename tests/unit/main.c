// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * CUnit runner for every self-registered suite. `unit_runner [SUITE]` runs one
 * suite, `unit_runner --skip SUITE` all but one (the 6.1 guest skips files:
 * tmpfs has user xattrs only since 6.6); exit status is non-zero when any
 * assertion failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include "unit.h"

static struct unit_suite *suites;

void unit_register(struct unit_suite *s)
{
	s->next = suites;
	suites = s;
}

const char *unit_data_path(const char *name)
{
	static char buf[4096];
	const char *dir = getenv("LETHE_TEST_DATA");

	snprintf(buf, sizeof(buf), "%s/%s", dir ? dir : "tests/unit/data", name);
	return buf;
}

char *unit_read_data(const char *name)
{
	FILE *f = fopen(unit_data_path(name), "r");
	char *buf = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc(len + 1);
		if (buf && fread(buf, 1, len, f) != (size_t)len) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[len] = 0;
		}
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	bool skip = argc > 2 && !strcmp(argv[1], "--skip");
	const char *only = argc > 1 ? argv[skip ? 2 : 1] : NULL;
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	for (struct unit_suite *s = suites; s; s = s->next) {
		CU_pSuite cs;

		if (only && !strcmp(only, s->name) == skip)
			continue;
		cs = CU_add_suite(s->name, NULL, NULL);
		if (!cs)
			return 2;
		for (const struct unit_case *c = s->cases; c->name; c++)
			if (!CU_add_test(cs, c->name, c->fn))
				return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

int unit_put(const char *path, const char *s, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

bool unit_holds(const char *path, const char *s)
{
	char buf[256];
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == (ssize_t)strlen(s) && !memcmp(buf, s, n);
}
