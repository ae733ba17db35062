// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for restore/saved.c: VmFlags parsing and saving a child's special mappings. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "restore/saved.h"

static void test_saved_vmflags_tokens(void)
{
	CU_ASSERT(rs_vmflags_has("VmFlags: rd wr mr mw me dc ac sd\n", "dc"));
	CU_ASSERT(rs_vmflags_has("VmFlags: rd wr mr mw me ac sd wf\n", "wf"));
	CU_ASSERT(!rs_vmflags_has("VmFlags: rd wr mr mw me ac sd\n", "dc"));
	/* a token that merely starts with the flag is not the flag */
	CU_ASSERT(!rs_vmflags_has("VmFlags: rd wr dcx\n", "dc"));
	CU_ASSERT(!rs_vmflags_has("Rss: 4 kB\n", "dc"));
}

/* A child with one shared, one dontfork and one plain private mapping. */
static void test_saved_take_restore_compare(void)
{
	char *sh = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *dc = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rs_saved_set set;
	struct rs_maps m;
	int go[2], done[2], st;
	pid_t pid;

	CU_ASSERT_FATAL(sh != MAP_FAILED && dc != MAP_FAILED);
	memset(sh, 'a', 8192);
	memset(dc, 'b', 4096);
	CU_ASSERT_FATAL(madvise(dc, 4096, MADV_DONTFORK) == 0);
	CU_ASSERT_FATAL(pipe(go) == 0 && pipe(done) == 0);
	pid = fork();
	if (pid == 0) {
		char c;

		/* the child has no dontfork mapping: only the shared one is ours to see */
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		sh[100] = 'X'; /* a request writes the shared page */
		if (write(done[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	CU_ASSERT_FATAL(rs_maps_read(pid, &m) == 0);
	CU_ASSERT_EQUAL(rs_saved_take(pid, &m, 1 << 20, &set), 1);
	CU_ASSERT_EQUAL(set.bytes, 8192);
	CU_ASSERT_STRING_EQUAL(set.v[0].why, "shared");
	CU_ASSERT_EQUAL(rs_saved_compare(pid, &set), 0);
	CU_ASSERT_FATAL(write(go[1], "g", 1) == 1);
	{
		char c;

		CU_ASSERT(read(done[0], &c, 1) == 1);
	}
	CU_ASSERT_EQUAL(sh[100], 'X');
	CU_ASSERT_EQUAL(rs_saved_compare(pid, &set), 1);
	CU_ASSERT_EQUAL(rs_saved_restore(pid, &set), 0);
	CU_ASSERT_EQUAL(sh[100], 'a');
	CU_ASSERT_EQUAL(rs_saved_compare(pid, &set), 0);
	/* the bound is enforced */
	rs_saved_free(&set);
	CU_ASSERT_EQUAL(rs_saved_take(pid, &m, 4096, &set), -EFBIG);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	rs_maps_free(&m);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	munmap(sh, 8192);
	munmap(dc, 4096);
}

/* Our own dontfork and wipeonfork ranges are found through smaps. */
static void test_saved_finds_fork_flags(void)
{
	char *dc = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *wf = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rs_saved_set set;
	struct rs_maps m;
	int found = 0;

	CU_ASSERT_FATAL(dc != MAP_FAILED && wf != MAP_FAILED);
	CU_ASSERT_FATAL(madvise(dc, 4096, MADV_DONTFORK) == 0 && madvise(wf, 8192, MADV_WIPEONFORK) == 0);
	memset(dc, 'd', 4096);
	memset(wf, 'w', 8192);
	CU_ASSERT_FATAL(rs_maps_read(getpid(), &m) == 0);
	CU_ASSERT(rs_saved_take(getpid(), &m, 64 << 20, &set) >= 2);
	for (size_t i = 0; i < set.n; i++) {
		if (set.v[i].start == (uint64_t)dc)
			found += !strcmp(set.v[i].why, "dontfork") && ((char *)set.v[i].buf)[0] == 'd';
		if (set.v[i].start == (uint64_t)wf)
			found += !strcmp(set.v[i].why, "wipeonfork") && set.v[i].len == 8192;
	}
	CU_ASSERT_EQUAL(found, 2);
	rs_saved_free(&set);
	rs_maps_free(&m);
	munmap(dc, 4096);
	munmap(wf, 8192);
}

UNIT_SUITE(saved, UNIT_CASE(test_saved_vmflags_tokens), UNIT_CASE(test_saved_take_restore_compare),
	   UNIT_CASE(test_saved_finds_fork_flags))
