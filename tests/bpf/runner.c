// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Runner for the BPF selftests: runs every registered test (or those named on
 * the command line), counts subtests, and ends with "N passed, N failed".
 */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include "lethe/lethe.h"
#include "test_helpers.h"

static struct bpf_test *tests;
static const char *cur_test, *cur_sub;
static bool cur_failed, cur_skipped, sub_open;
static int passed, failed, skipped;

void test__register(struct bpf_test *t)
{
	struct bpf_test **pp = &tests;

	/* keep file order stable: append */
	while (*pp)
		pp = &(*pp)->next;
	*pp = t;
}

static void end_sub(void)
{
	const char *name = cur_sub ? cur_sub : "";

	if (!sub_open)
		return;
	if (cur_skipped) {
		printf("#%s/%s: SKIP\n", cur_test, name);
		skipped++;
	} else if (cur_failed) {
		printf("#%s/%s: FAIL\n", cur_test, name);
		failed++;
	} else {
		printf("#%s/%s: OK\n", cur_test, name);
		passed++;
	}
	fflush(stdout);
	sub_open = false;
	cur_failed = cur_skipped = false;
}

bool test__start_subtest(const char *name)
{
	const char *only = getenv("LETHE_SUBTEST");

	/* the implicit whole-test entry only counts when the test has no subtests */
	if (!cur_sub && !cur_failed)
		sub_open = false;
	end_sub();
	if (only && strcmp(only, name))
		return false;
	cur_sub = name;
	sub_open = true;
	return true;
}

void test__skip(const char *why)
{
	printf("  skip: %s\n", why);
	cur_skipped = true;
}

void test__fail(void)
{
	cur_failed = true;
}

void test__pass_check(void)
{
}

static void log_quiet(enum lethe_log_level level, const char *msg)
{
	if (level <= LETHE_LOG_WARN || getenv("LETHE_TEST_VERBOSE"))
		fprintf(stdout, "  log: %s", msg);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		fprintf(stderr, "bpf selftests need root\n");
		return 2;
	}
	lethe_set_log_fn(log_quiet, getenv("LETHE_TEST_VERBOSE") ? LETHE_LOG_DEBUG : LETHE_LOG_WARN);
	for (struct bpf_test *t = tests; t; t = t->next) {
		bool want = argc < 2;

		for (int i = 1; i < argc; i++)
			want |= !strcmp(argv[i], t->name);
		if (!want)
			continue;
		cur_test = t->name;
		cur_sub = NULL;
		sub_open = true; /* a test without subtests counts as one */
		t->fn();
		end_sub();
	}
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
