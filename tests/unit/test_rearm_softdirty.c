// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for restore/rearm_softdirty.c: the probe agrees with the kernel's
 * config, a forced method the kernel lacks is refused, and where soft-dirty
 * exists (the 6.1 guest of make kernel-test) the written set is exact.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "restore/maps.h"
#include "restore/rearm_softdirty.h"

#define PG 4096
#define NPG 8

/* CONFIG_MEM_SOFT_DIRTY from the running kernel's config: 1 y, 0 not set, -1 unknown. */
static int config_soft_dirty(void)
{
	char cmd[256], line[256];
	struct utsname u;
	int ans = -1;
	FILE *f;

	uname(&u);
	snprintf(cmd, sizeof(cmd), "{ zcat /proc/config.gz || cat /boot/config-%s; } 2>/dev/null", u.release);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "CONFIG_MEM_SOFT_DIRTY=y", 23))
			ans = 1;
		else if (!strncmp(line, "# CONFIG_MEM_SOFT_DIRTY is not set", 34))
			ans = 0;
		else if (ans < 0 && !strncmp(line, "CONFIG_", 7))
			ans = -2; /* a config was read: absent means not set */
	}
	if (f)
		pclose(f);
	return ans == -2 ? 0 : ans;
}

static void test_rearm_softdirty_probe_matches_config(void)
{
	int cfg = config_soft_dirty();

	if (cfg < 0) {
		printf("(no kernel config to compare with) ");
		return;
	}
	CU_ASSERT_EQUAL(rs_softdirty_is_supported(), cfg == 1);
}

static void test_rearm_softdirty_select_policy(void)
{
	struct rs_softdirty sd;
	const enum lethe_rearm others[] = { LETHE_REARM_RETWIN, LETHE_REARM_UFFD, LETHE_REARM_EVER };

	/* not wanted: nothing is opened */
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		CU_ASSERT_EQUAL(rs_softdirty_select(getpid(), others[i], false, &sd), 0);
		CU_ASSERT_EQUAL(sd.pagemap, -1);
		CU_ASSERT_EQUAL(sd.clear_refs, -1);
	}
	/* AUTO takes uffd-wp first */
	CU_ASSERT_EQUAL(rs_softdirty_select(getpid(), LETHE_REARM_AUTO, true, &sd), 0);
	CU_ASSERT_EQUAL(sd.pagemap, -1);
	/* AUTO without uffd: soft-dirty where the kernel has it, else silently nothing */
	if (rs_softdirty_is_supported()) {
		CU_ASSERT_EQUAL(rs_softdirty_select(getpid(), LETHE_REARM_AUTO, false, &sd), 1);
		CU_ASSERT(sd.pagemap >= 0 && sd.clear_refs >= 0);
		rs_softdirty_free(&sd);
	} else {
		CU_ASSERT_EQUAL(rs_softdirty_select(getpid(), LETHE_REARM_AUTO, false, &sd), 0);
		CU_ASSERT_EQUAL(sd.pagemap, -1);
	}
	rs_softdirty_free(&sd);
	CU_ASSERT_EQUAL(sd.pagemap, -1);
}

/* A child that writes page i of a shared-with-nobody buffer when sent byte i. */
static pid_t writer_start(char **area, int *cmd, int *ack)
{
	int c[2], a[2];
	pid_t pid;

	*area = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*area == MAP_FAILED || pipe(c) || pipe(a))
		return -1;
	memset(*area, 1, NPG * PG);
	pid = fork();
	if (pid == 0) {
		unsigned char i;

		close(c[1]);
		close(a[0]);
		while (read(c[0], &i, 1) == 1) {
			(*area)[i * PG] = 2;
			if (write(a[1], &i, 1) != 1)
				break;
		}
		_exit(0);
	}
	close(c[0]);
	close(a[1]);
	*cmd = c[1];
	*ack = a[0];
	return pid;
}

static void test_rearm_softdirty_forced(void)
{
	struct rs_softdirty sd;
	struct rs_maps maps = {};
	struct rs_page *pages = NULL;
	size_t n = 0;
	char *area;
	int cmd = -1, ack = -1, r, status;
	unsigned char i;
	pid_t pid;

	if (!rs_softdirty_is_supported()) {
		/* asked for by name on a kernel without it: refused, nothing left open */
		CU_ASSERT_EQUAL(rs_softdirty_select(getpid(), LETHE_REARM_SOFTDIRTY, false, &sd), -EOPNOTSUPP);
		CU_ASSERT_EQUAL(sd.pagemap, -1);
		CU_ASSERT_EQUAL(sd.clear_refs, -1);
		return;
	}
	pid = writer_start(&area, &cmd, &ack);
	CU_ASSERT_FATAL(pid > 0);
	r = rs_softdirty_select(pid, LETHE_REARM_SOFTDIRTY, false, &sd);
	CU_ASSERT_EQUAL(r, 1);
	CU_ASSERT_EQUAL(rs_maps_read(pid, &maps), 0);
	/* just cleared: none of the buffer's pages is dirty */
	CU_ASSERT(rs_softdirty_written(&sd, &maps, &pages, &n) >= 0);
	for (size_t k = 0; k < n; k++)
		CU_ASSERT(pages[k].addr < (uintptr_t)area || pages[k].addr >= (uintptr_t)area + NPG * PG);
	/* pages 2 and 5 written: exactly those of the buffer are reported */
	for (i = 2; i <= 5; i += 3) {
		CU_ASSERT(write(cmd, &i, 1) == 1);
		CU_ASSERT(read(ack, &i, 1) == 1);
	}
	free(pages);
	pages = NULL;
	n = 0;
	CU_ASSERT(rs_softdirty_written(&sd, &maps, &pages, &n) >= 2);
	r = 0;
	for (size_t k = 0; k < n; k++) {
		if (pages[k].addr >= (uintptr_t)area && pages[k].addr < (uintptr_t)area + NPG * PG) {
			size_t idx = (pages[k].addr - (uintptr_t)area) / PG;

			CU_ASSERT(idx == 2 || idx == 5);
			r++;
		}
	}
	CU_ASSERT_EQUAL(r, 2);
	/* cleared again: gone */
	CU_ASSERT_EQUAL(rs_softdirty_clear(&sd), 0);
	free(pages);
	pages = NULL;
	n = 0;
	CU_ASSERT(rs_softdirty_written(&sd, &maps, &pages, &n) >= 0);
	for (size_t k = 0; k < n; k++)
		CU_ASSERT(pages[k].addr < (uintptr_t)area || pages[k].addr >= (uintptr_t)area + NPG * PG);
	free(pages);
	rs_maps_free(&maps);
	rs_softdirty_free(&sd);
	close(cmd); /* the writer's read ends: it exits */
	close(ack);
	waitpid(pid, &status, 0);
	munmap(area, NPG * PG);
}

UNIT_SUITE(rearm_softdirty, UNIT_CASE(test_rearm_softdirty_probe_matches_config),
	   UNIT_CASE(test_rearm_softdirty_select_policy), UNIT_CASE(test_rearm_softdirty_forced))
