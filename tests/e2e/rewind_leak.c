// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Leak test of the rewind engine on a real process: each request plants a fresh
 * canary everywhere (fn_runtime); after the rewind no byte of it may remain in
 * any readable memory of the sandbox, --verify must pass, no task may remain.
 * usage: rewind_leak [--soak] [--rearm M] [--expect-copy C] [--expect-rearm R]
 *                    [--expect-gup] ROUNDS RUNTIME [ARGS...]
 * --soak also checks that memory (PSS of target + twin), fds and zombies stay
 * flat between the first tenth of the rounds and the end. --rearm asks for a
 * re-arm method (auto, uffd, softdirty, retwin, ever); --expect-copy and
 * --expect-rearm check every rewind's reported copy path and re-arm method
 * (the latter as a prefix: "softdirty" also accepts "softdirty+retwin").
 * --expect-gup (with fn_runtime --gup) checks that every epoch saw a GUP write
 * and was restored from the kernel's written set, not by a full compare.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "lethe/events.h"
#include "lethe/lethe.h"
#include "restore/maps.h"
#include "restore/procfs.h"

static int passed, failed;

#define CHECK(cond, ...)                                                                        \
	do {                                                                                    \
		if (cond) {                                                                     \
			passed++;                                                               \
		} else {                                                                        \
			failed++;                                                               \
			printf("FAIL %s:%d: ", __func__, __LINE__);                             \
			printf(__VA_ARGS__);                                                    \
			printf("\n");                                                           \
		}                                                                               \
	} while (0)

/* Occurrences of needle in every readable mapping of pid (via /proc/PID/mem). */
static long scan_memory(pid_t pid, const char *needle)
{
	size_t nlen = strlen(needle);
	struct rs_maps m;
	char path[64], *buf;
	long hits = 0;
	int fd;

	if (rs_maps_read(pid, &m))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY);
	buf = malloc(1 << 20);
	for (size_t i = 0; fd >= 0 && buf && i < m.n; i++) {
		const struct rs_vma *v = &m.v[i];

		if (!(v->prot & RS_VMA_READ) || rs_vma_is_special(v))
			continue;
		for (uint64_t off = v->start; off < v->end; off += (1 << 20) - 256) {
			size_t len = v->end - off < (1 << 20) ? v->end - off : (1 << 20);
			ssize_t r = pread(fd, buf, len, off);

			for (ssize_t j = 0; r > 0 && j + (ssize_t)nlen <= r; j++)
				if (buf[j] == needle[0] && !memcmp(buf + j, needle, nlen))
					hits++;
			if (off + len >= v->end)
				break;
		}
	}
	free(buf);
	if (fd >= 0)
		close(fd);
	rs_maps_free(&m);
	return hits;
}

/* Number of tasks (threads) of pid and of its child processes. */
static int count_threads(pid_t pid)
{
	char path[64];
	int n = 0;
	FILE *f;
	char line[256];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

static int count_children(pid_t pid)
{
	char path[96], buf[4096] = "";
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "r");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n"))
		n++;
	return n;
}

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir)))
		n += d->d_name[0] != '.';
	if (dir)
		closedir(dir);
	return n;
}

/* Zombies anywhere on the machine whose parent is pid or us. */
static int count_zombies(pid_t pid)
{
	struct dirent *d;
	DIR *dir = opendir("/proc");
	int n = 0;

	while (dir && (d = readdir(dir))) {
		char path[300], buf[512], st = 0, *p;
		int ppid = 0;
		FILE *f;

		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
			sscanf(p + 2, "%c %d", &st, &ppid);
		fclose(f);
		n += st == 'Z' && (ppid == pid || ppid == getpid());
	}
	if (dir)
		closedir(dir);
	return n;
}

static int usage(void)
{
	fprintf(stderr, "usage: rewind_leak [--soak] [--rearm M] [--expect-copy C] [--expect-rearm R] "
			"[--expect-gup] ROUNDS RUNTIME [ARGS...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int in[2], out[2], rounds;
	bool soak = false;
	const char *want_copy = NULL, *want_rearm = NULL;
	bool want_gup = false;
	long pss0 = 0;
	int fds0 = 0;
	struct lethe_opts opts = { .verify_always = true };
	struct lethe_sandbox *s = NULL;
	char line[256], canary[64], cwd0[4096] = "", cwd[4096];
	FILE *from;
	pid_t pid;
	int err, threads0;

	/* options first, each "--name" or "--name VALUE" */
	while (argc > 1 && !strncmp(argv[1], "--", 2)) {
		int used = 2;

		if (!strcmp(argv[1], "--soak")) {
			soak = true;
			used = 1;
		} else if (!strcmp(argv[1], "--expect-gup")) {
			want_gup = true;
			used = 1;
		} else if (argc > 2 && !strcmp(argv[1], "--rearm")) {
			if (lethe_rearm_parse(argv[2], &opts.rearm))
				return usage();
		} else if (argc > 2 && !strcmp(argv[1], "--expect-copy")) {
			want_copy = argv[2];
		} else if (argc > 2 && !strcmp(argv[1], "--expect-rearm")) {
			want_rearm = argv[2];
		} else {
			return usage();
		}
		argc -= used;
		argv += used;
	}
	if (argc < 3)
		return usage();
	rounds = atoi(argv[1]);
	setvbuf(stdout, NULL, _IONBF, 0);
	alarm(120); /* a hung runtime must fail the test, not stall the suite */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (getenv("LETHE_TEST_VERBOSE"))
		lethe_set_log_fn(NULL, LETHE_LOG_DEBUG);
	signal(SIGPIPE, SIG_IGN);
	if (pipe(in) || pipe(out))
		return 2;
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0); /* one group: the cleanup kills whatever it spawned */
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execvp(argv[2], &argv[2]);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	from = fdopen(out[0], "r");
	CHECK(fgets(line, sizeof(line), from) && !strcmp(line, "ready\n"), "runtime not ready");
	threads0 = count_threads(pid);
	snprintf(line, sizeof(line), "/proc/%d/cwd", pid);
	if (readlink(line, cwd0, sizeof(cwd0) - 1) < 0)
		cwd0[0] = 0;
	err = lethe_checkpoint(pid, &opts, &s);
	CHECK(err == 0, "checkpoint: %s", strerror(-err));
	if (err)
		goto out;
	srand(time(NULL) ^ getpid());
	for (int k = 0; k < rounds; k++) {
		struct lethe_rewind_stats st;
		char tag[32] = "";
		int n = 0, rpid = 0;

		snprintf(canary, sizeof(canary), "CANARY-%d-%08x%08x", k, rand(), rand());
		dprintf(in[1], "%s\n", canary);
		if (!fgets(line, sizeof(line), from)) {
			int status = 0;

			waitpid(pid, &status, WNOHANG);
			CHECK(0, "round %d: no response (runtime status 0x%x)", k, status);
			break;
		}
		CHECK(sscanf(line, "ok %d %d %31s", &n, &rpid, tag) >= 2 && n == 1 && rpid == pid && tag[0] != '?',
		      "round %d: response '%s' (counter must be rewound to 1, workers must answer)", k, line);
		CHECK(scan_memory(pid, canary) > 0, "round %d: canary not planted (test is blind)", k);
		err = lethe_rewind(s, true, &st);
		CHECK(err == 0, "round %d: rewind: %s (%s)", k, strerror(-err), lethe_reason_str(st.reason));
		if (err)
			break;
		CHECK(st.verified == 0, "round %d: verify %d (%llu mismatches)", k, st.verified,
		      (unsigned long long)st.verify_mismatches);
		if (want_copy)
			CHECK(st.copy && !strcmp(st.copy, want_copy), "round %d: copy %s, expected %s", k,
			      st.copy ? st.copy : "none", want_copy);
		if (want_gup)
			CHECK((st.epoch_flags & LETHE_EPOCH_GUP_WRITE) && !st.full_compare,
			      "round %d: epoch flags 0x%llx, full compare %d: the GUP write was not restored from the "
			      "written set",
			      k, (unsigned long long)st.epoch_flags, st.full_compare);
		if (want_rearm)
			CHECK(st.rearm && !strncmp(st.rearm, want_rearm, strlen(want_rearm)),
			      "round %d: rearm %s, expected %s", k, st.rearm ? st.rearm : "none", want_rearm);
		CHECK(scan_memory(pid, canary) == 0, "round %d: canary survived the rewind", k);
		CHECK(count_threads(pid) == threads0, "round %d: %d threads, %d at checkpoint", k, count_threads(pid),
		      threads0);
		CHECK(count_children(pid) == 0, "round %d: %d children left", k, count_children(pid));
		snprintf(line, sizeof(line), "/proc/%d/cwd", pid);
		n = readlink(line, cwd, sizeof(cwd) - 1);
		cwd[n > 0 ? n : 0] = 0;
		CHECK(!strcmp(cwd, cwd0), "round %d: cwd %s, at checkpoint %s", k, cwd, cwd0);
		CHECK(st.tasks_killed == 1 && st.threads_ended == 1 && st.fds_closed == 1,
		      "round %d: killed %llu ended %llu closed %llu", k, (unsigned long long)st.tasks_killed,
		      (unsigned long long)st.threads_ended, (unsigned long long)st.fds_closed);
		if (k == 0)
			printf("rewind: %llu us total, %llu pages, %llu mappings undone, rearm %s, copy %s\n",
			       (unsigned long long)st.us_total, (unsigned long long)st.pages_restored,
			       (unsigned long long)st.mappings_undone, st.rearm, st.copy ? st.copy : "none");
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (soak && k == rounds / 10) {
			pss0 = rs_proc_rollup_kb(pid, "Pss") + rs_proc_rollup_kb(lethe_sandbox_twin(s), "Pss");
			fds0 = count_fds(pid);
		}
		if (soak && k == rounds - 1) {
			long pss = rs_proc_rollup_kb(pid, "Pss") + rs_proc_rollup_kb(lethe_sandbox_twin(s), "Pss");

			printf("soak: pss target+twin %ld kB at round %d, %ld kB at round %d; fds %d -> %d\n", pss0,
			       rounds / 10, pss, k, fds0, count_fds(pid));
			/* flat: within 10% (+1 MiB for allocator noise) */
			CHECK(pss <= pss0 + pss0 / 10 + 1024, "soak: PSS grew from %ld to %ld kB", pss0, pss);
			CHECK(count_fds(pid) == fds0, "soak: fds %d -> %d", fds0, count_fds(pid));
			CHECK(count_zombies(pid) == 0, "soak: %d zombies", count_zombies(pid));
		}
	}
	err = lethe_release(s);
	CHECK(err == 0, "release: %s", strerror(-err));
	/* released: the runtime keeps serving, from its checkpoint state */
	dprintf(in[1], "after-release\n");
	CHECK(fgets(line, sizeof(line), from) && !strncmp(line, "ok 1 ", 5), "after release: '%s'", line);
out:
	kill(-pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
