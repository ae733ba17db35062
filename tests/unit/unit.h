/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Self-registering CUnit suites: each tests/unit/test_<module>.c ends with
 * UNIT_SUITE(<module>, cases...) and the runner finds it, so there is no list to forget.
 */
#ifndef LETHE_TESTS_UNIT_H
#define LETHE_TESTS_UNIT_H

#include <stdbool.h>
#include <CUnit/CUnit.h>

struct unit_case {
	const char *name;
	CU_TestFunc fn;
};

struct unit_suite {
	const char *name;
	const struct unit_case *cases;
	struct unit_suite *next;
};

void unit_register(struct unit_suite *s);

#define UNIT_CASE(fn) { #fn, fn }

#define UNIT_SUITE(sname, ...)                                                                  \
	static const struct unit_case sname##_cases[] = { __VA_ARGS__, { NULL, NULL } };        \
	static struct unit_suite sname##_suite = { #sname, sname##_cases, NULL };               \
	__attribute__((constructor)) static void sname##_register(void)                        \
	{                                                                                       \
		unit_register(&sname##_suite);                                                  \
	}

/* Path of a captured /proc text under tests/unit/data/ (LETHE_TEST_DATA overrides the dir). */
const char *unit_data_path(const char *name);
/* Read a whole data file into a malloc'ed NUL-terminated buffer, or NULL. */
char *unit_read_data(const char *name);

/* Write s to path (created 0644, with open flags, e.g. O_TRUNC or O_APPEND): 0 or -errno. */
int unit_put(const char *path, const char *s, int flags);
/* Whether path (not a symlink) holds exactly s. */
bool unit_holds(const char *path, const char *s);

#endif /* LETHE_TESTS_UNIT_H */
