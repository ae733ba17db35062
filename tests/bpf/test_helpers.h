/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Minimal harness in the style of the kernel's BPF selftests: ASSERT_* print
 * PASS/FAIL with a name, subtests group them, tests register themselves.
 */
#ifndef LETHE_TEST_HELPERS_H
#define LETHE_TEST_HELPERS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct bpf_test {
	const char *name;
	void (*fn)(void);
	struct bpf_test *next;
};

void test__register(struct bpf_test *t);
/* Returns false when the subtest is filtered out. */
bool test__start_subtest(const char *name);
void test__skip(const char *why);
void test__fail(void);
void test__pass_check(void);

#define BPF_TEST(tname)                                                                         \
	void test_##tname(void);                                                                \
	static struct bpf_test tname##_desc = { #tname, test_##tname, NULL };                   \
	__attribute__((constructor)) static void tname##_register(void)                        \
	{                                                                                       \
		test__register(&tname##_desc);                                                  \
	}                                                                                       \
	void test_##tname(void)

#define CHECK_(cond, name, fmt, ...)                                                            \
	({                                                                                      \
		bool ___ok = (cond);                                                            \
		if (!___ok) {                                                                   \
			fprintf(stdout, "%s:%d: FAIL %s: " fmt "\n", __func__, __LINE__, name,  \
				##__VA_ARGS__);                                                 \
			test__fail();                                                           \
		} else {                                                                        \
			test__pass_check();                                                     \
		}                                                                               \
		___ok;                                                                          \
	})

#define ASSERT_EQ(a, b, name)                                                                   \
	({                                                                                      \
		long long ___a = (long long)(a), ___b = (long long)(b);                         \
		CHECK_(___a == ___b, name, "actual %lld != expected %lld", ___a, ___b);         \
	})
#define ASSERT_NEQ(a, b, name)                                                                  \
	({                                                                                      \
		long long ___a = (long long)(a), ___b = (long long)(b);                         \
		CHECK_(___a != ___b, name, "actual %lld == unexpected %lld", ___a, ___b);       \
	})
#define ASSERT_GE(a, b, name)                                                                   \
	({                                                                                      \
		long long ___a = (long long)(a), ___b = (long long)(b);                         \
		CHECK_(___a >= ___b, name, "actual %lld < expected %lld", ___a, ___b);          \
	})
#define ASSERT_GT(a, b, name)                                                                   \
	({                                                                                      \
		long long ___a = (long long)(a), ___b = (long long)(b);                         \
		CHECK_(___a > ___b, name, "actual %lld <= expected %lld", ___a, ___b);          \
	})
#define ASSERT_OK(err, name)                                                                    \
	({                                                                                      \
		long long ___e = (long long)(err);                                              \
		CHECK_(___e == 0, name, "unexpected error %lld (%s)", ___e,                     \
		       ___e < 0 ? strerror((int)-___e) : "");                                   \
	})
#define ASSERT_TRUE(c, name) CHECK_(!!(c), name, "unexpected false")
#define ASSERT_FALSE(c, name) CHECK_(!(c), name, "unexpected true")
#define ASSERT_STREQ(a, b, name)                                                                \
	({                                                                                      \
		const char *___a = (a), *___b = (b);                                            \
		CHECK_(___a && ___b && !strcmp(___a, ___b), name, "actual '%s' != expected '%s'", \
		       ___a ? ___a : "(null)", ___b ? ___b : "(null)");                         \
	})

#endif /* LETHE_TEST_HELPERS_H */
