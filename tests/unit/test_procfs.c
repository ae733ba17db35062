// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for restore/procfs.c: /proc/PID/stat with a hostile command name. */
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "restore/procfs.h"

static void test_procfs_stat_parens_in_comm(void)
{
	int ready[2], st;
	char state = 0, c;
	pid_t pid, ppid = 0;

	CU_ASSERT_FATAL(pipe(ready) == 0);
	pid = fork();
	if (pid == 0) {
		/* a name that breaks naive parsing: ") Z 1 (" */
		prctl(PR_SET_NAME, ") Z 1 (", 0, 0, 0);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	CU_ASSERT_FATAL(read(ready[0], &c, 1) == 1);
	CU_ASSERT_EQUAL(rs_proc_stat(pid, &state, &ppid), 0);
	CU_ASSERT(state == 'S' || state == 'R');
	CU_ASSERT_EQUAL(ppid, getpid());
	CU_ASSERT(rs_proc_is_alive(pid));
	kill(pid, SIGKILL);
	/* a zombie until reaped: exists but is not alive */
	while (rs_proc_stat(pid, &state, NULL) == 0 && state != 'Z')
		usleep(100);
	CU_ASSERT_EQUAL(state, 'Z');
	CU_ASSERT(!rs_proc_is_alive(pid));
	waitpid(pid, &st, 0);
	CU_ASSERT_EQUAL(rs_proc_stat(pid, &state, NULL), -ESRCH);
	close(ready[0]);
	close(ready[1]);
}

UNIT_SUITE(procfs, UNIT_CASE(test_procfs_stat_parens_in_comm))
