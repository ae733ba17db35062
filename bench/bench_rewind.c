// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rewind benchmark: lethe's rewind latency by dirty pages, checkpoint time by
 * RSS, per-page tracking cost, and the peers (restart, Groundhog-style full copy)
 * measured side by side in one run on this machine. A benchmark, not a test:
 * nothing here asserts a time.
 * usage: bench_rewind [--quick] [-n N] [--json FILE] [--target PATH] [-v]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include "lethe/lethe.h"
#include "loader/rewind_fmt.h"
#include "loader/tracker.h"

#define TARGET_MB 100
#define MAX_GROUPS 64

static const int dirty_ks[] = { 0, 1, 16, 256, 4096 };
#define NKS ((int)(sizeof(dirty_ks) / sizeof(dirty_ks[0])))
static const int ckpt_mbs[] = { 10, 100, 500 };
#define NCKPT ((int)(sizeof(ckpt_mbs) / sizeof(ckpt_mbs[0])))
#define CKPT_REPS 5
#define CMP_K 16 /* the K at which lethe is compared with its peers and verified */
#define TRACK_K 4096 /* the K at which the cost of a first write is measured */

struct cfg {
	int n; /* rewinds per K */
	int n_peer; /* restarts, full copies */
	int n_verify; /* verified rewinds */
	int n_track; /* requests of the target without lethe */
	const char *json;
	char target[PATH_MAX];
	bool quick;
};

/* A runtime on two pipes, alone in its process group. */
struct runtime {
	pid_t pid;
	int to;
	FILE *from;
};

/* Every process group we started, so any exit path can kill all of them. */
static volatile sig_atomic_t ngroups;
static pid_t groups[MAX_GROUPS];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void groups_kill(void)
{
	for (int i = 0; i < ngroups; i++)
		if (groups[i] > 0)
			kill(-groups[i], SIGKILL);
}

static void on_fatal_signal(int sig)
{
	groups_kill();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void group_add(pid_t pgid)
{
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == 0) {
			groups[i] = pgid;
			return;
		}
	if (ngroups < MAX_GROUPS) {
		groups[ngroups] = pgid;
		ngroups = ngroups + 1;
	}
}

static void group_forget(pid_t pgid)
{
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == pgid)
			groups[i] = 0;
}

/* Start TARGET MB in its own process group and wait for its "ready" line. */
static int rt_spawn(const char *target, int mb, struct runtime *rt)
{
	int in[2], out[2];
	char arg[16], line[64];

	rt->pid = -1;
	rt->to = -1;
	rt->from = NULL;
	if (pipe2(in, O_CLOEXEC))
		return -errno;
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	snprintf(arg, sizeof(arg), "%d", mb);
	rt->pid = fork();
	if (rt->pid == 0) {
		setpgid(0, 0);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(target, target, arg, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (rt->pid < 0) {
		close(in[1]);
		close(out[0]);
		return -errno;
	}
	setpgid(rt->pid, rt->pid); /* no race with the child's own setpgid */
	group_add(rt->pid);
	rt->to = in[1];
	rt->from = fdopen(out[0], "r");
	if (!rt->from || !fgets(line, sizeof(line), rt->from) || strcmp(line, "ready\n"))
		return -EPIPE;
	return 0;
}

/* Kill the runtime's whole group and reap the runtime. Safe on a failed spawn. */
static void rt_kill(struct runtime *rt)
{
	if (rt->pid > 0) {
		kill(-rt->pid, SIGKILL);
		waitpid(rt->pid, NULL, 0);
		group_forget(rt->pid);
	}
	if (rt->from)
		fclose(rt->from);
	if (rt->to >= 0)
		close(rt->to);
	rt->pid = -1;
	rt->to = -1;
	rt->from = NULL;
}

/* One request: dirty k pages; *ns is the target's own timing of its write loop. */
static int rt_request(struct runtime *rt, int k, uint64_t *ns)
{
	char line[64];
	unsigned long long v;

	if (dprintf(rt->to, "%d\n", k) < 0)
		return -EPIPE;
	if (!fgets(line, sizeof(line), rt->from) || sscanf(line, "ok %llu", &v) != 1)
		return -EPIPE;
	if (ns)
		*ns = v;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* q-quantile (0..1) of v[0..n), linear between closest ranks; sorts v. */
static double quantile(double *v, int n, double q)
{
	double pos, frac;
	int i;

	if (n <= 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	pos = q * (n - 1);
	i = (int)pos;
	frac = pos - i;
	return i + 1 < n ? v[i] + frac * (v[i + 1] - v[i]) : v[i];
}

static double median(double *v, int n)
{
	return quantile(v, n, 0.5);
}

static double ms(double us)
{
	return us / 1000.0;
}

/* ---------------------------------------------------------------- machine */

static void read_cpu_model(char *buf, size_t len)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(buf, len, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(buf, len, "%s", c + 2);
			buf[strcspn(buf, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
}

/* The 1-minute load average: the other work sharing these cores during the run. */
static double loadavg(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f && fscanf(f, "%lf", &l) != 1)
		l = -1;
	if (f)
		fclose(f);
	return l;
}

static json_object *machine_report(void)
{
	json_object *o = json_object_new_object();
	struct utsname u;
	char cpu[128];
	long mem_mb = sysconf(_SC_PHYS_PAGES) / 1024 * sysconf(_SC_PAGESIZE) / 1024;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	uname(&u);
	read_cpu_model(cpu, sizeof(cpu));
	printf("machine: %s %s %s (%s), %ld cpus, %s, %ld MB RAM, load %.2f\n", u.sysname, u.release, u.machine,
	       u.version, ncpu, cpu, mem_mb, loadavg());
	json_object_object_add(o, "sysname", json_object_new_string(u.sysname));
	json_object_object_add(o, "kernel", json_object_new_string(u.release));
	json_object_object_add(o, "version", json_object_new_string(u.version));
	json_object_object_add(o, "arch", json_object_new_string(u.machine));
	json_object_object_add(o, "nproc", json_object_new_int64(ncpu));
	json_object_object_add(o, "cpu", json_object_new_string(cpu));
	json_object_object_add(o, "mem_mb", json_object_new_int64(mem_mb));
	json_object_object_add(o, "loadavg_start", json_object_new_double(loadavg()));
	return o;
}

/* ---------------------------------------------------------------- rewind vs K */

enum { PH_STOP, PH_DRAIN, PH_TASKS, PH_LAYOUT, PH_COPY, PH_FDS, PH_VERIFY, PH_REARM, PH_REGS, PH_RESUME, PH_N };

static const char *const phase_names[PH_N] = { "stop", "drain", "tasks", "layout", "copy",
					       "fds",  "verify", "rearm", "regs",   "resume" };

/* Samples of one series of rewinds. */
struct series {
	int n;
	double *total, *phase[PH_N], *pages, *req_ns;
	char rearm[32]; /* the method the most rewinds of the series used */
	struct {
		char name[32];
		int n;
	} methods[4]; /* every re-arm method that ran, with its count */
	int failed; /* rewinds that returned an error */
};

static int series_new(struct series *sr, int n)
{
	memset(sr, 0, sizeof(*sr));
	sr->total = calloc(n, sizeof(double));
	sr->pages = calloc(n, sizeof(double));
	sr->req_ns = calloc(n, sizeof(double));
	for (int p = 0; p < PH_N; p++)
		sr->phase[p] = calloc(n, sizeof(double));
	for (int p = 0; p < PH_N; p++)
		if (!sr->phase[p])
			return -ENOMEM;
	return sr->total && sr->pages && sr->req_ns ? 0 : -ENOMEM;
}

static void series_free(struct series *sr)
{
	free(sr->total);
	free(sr->pages);
	free(sr->req_ns);
	for (int p = 0; p < PH_N; p++)
		free(sr->phase[p]);
}

static void series_add(struct series *sr, const struct lethe_rewind_stats *st, uint64_t req_ns)
{
	const uint64_t ph[PH_N] = { st->us_stop, st->us_drain, st->us_tasks, st->us_layout, st->us_copy,
				    st->us_fds,	 st->us_verify, st->us_rearm, st->us_regs,  st->us_resume };
	int i = sr->n++;

	sr->total[i] = st->us_total;
	for (int p = 0; p < PH_N; p++)
		sr->phase[p][i] = ph[p];
	sr->pages[i] = st->pages_restored;
	sr->req_ns[i] = req_ns;
	for (int m = 0; st->rearm && m < 4; m++) {
		if (!sr->methods[m].name[0])
			snprintf(sr->methods[m].name, sizeof(sr->methods[m].name), "%s", st->rearm);
		if (!strcmp(sr->methods[m].name, st->rearm)) {
			sr->methods[m].n++;
			break;
		}
	}
}

/* Summary of a series; the phase medians also as a struct for ld_rewind_to_json. */
struct summary {
	double p10, med, p90, p99, pages, req_ns;
	double phase[PH_N];
	struct lethe_rewind_stats med_stats;
};

static void series_summarise(struct series *sr, struct summary *sm)
{
	uint64_t *ph[PH_N] = { &sm->med_stats.us_stop,	 &sm->med_stats.us_drain,  &sm->med_stats.us_tasks,
			       &sm->med_stats.us_layout, &sm->med_stats.us_copy,   &sm->med_stats.us_fds,
			       &sm->med_stats.us_verify, &sm->med_stats.us_rearm,  &sm->med_stats.us_regs,
			       &sm->med_stats.us_resume };

	memset(sm, 0, sizeof(*sm));
	sm->p10 = quantile(sr->total, sr->n, 0.10);
	sm->med = quantile(sr->total, sr->n, 0.50);
	sm->p90 = quantile(sr->total, sr->n, 0.90);
	sm->p99 = quantile(sr->total, sr->n, 0.99);
	sm->pages = median(sr->pages, sr->n);
	sm->req_ns = median(sr->req_ns, sr->n);
	for (int p = 0; p < PH_N; p++) {
		sm->phase[p] = median(sr->phase[p], sr->n);
		*ph[p] = (uint64_t)(sm->phase[p] + 0.5);
	}
	sm->med_stats.us_total = (uint64_t)(sm->med + 0.5);
	sm->med_stats.pages_restored = (uint64_t)(sm->pages + 0.5);
	for (int m = 0, best = 0; m < 4; m++)
		if (sr->methods[m].n > best) {
			best = sr->methods[m].n;
			snprintf(sr->rearm, sizeof(sr->rearm), "%s", sr->methods[m].name);
		}
	sm->med_stats.rearm = sr->rearm[0] ? sr->rearm : NULL;
	sm->med_stats.verified = -1;
}

/* "uffd-wp 190, uffd-wp+retwin 10" */
static void series_methods_str(const struct series *sr, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (int m = 0; m < 4 && sr->methods[m].n && off < len; m++)
		off += snprintf(buf + off, len - off, "%s%s %d", m ? ", " : "", sr->methods[m].name, sr->methods[m].n);
}

static json_object *series_methods_json(const struct series *sr)
{
	json_object *o = json_object_new_object();

	for (int m = 0; m < 4 && sr->methods[m].n; m++)
		json_object_object_add(o, sr->methods[m].name, json_object_new_int(sr->methods[m].n));
	return o;
}

static json_object *summary_to_json(const struct summary *sm, int k, int n, int failed)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "dirty_pages", json_object_new_int(k));
	json_object_object_add(o, "n", json_object_new_int(n));
	json_object_object_add(o, "failed", json_object_new_int(failed));
	json_object_object_add(o, "total_us_p10", json_object_new_double(sm->p10));
	json_object_object_add(o, "total_us_median", json_object_new_double(sm->med));
	json_object_object_add(o, "total_us_p90", json_object_new_double(sm->p90));
	json_object_object_add(o, "total_us_p99", json_object_new_double(sm->p99));
	json_object_object_add(o, "pages_restored_median", json_object_new_double(sm->pages));
	/* per-phase medians, rendered as the rest of lethe renders one rewind */
	json_object_object_add(o, "median", ld_rewind_to_json(&sm->med_stats));
	return o;
}

/* A 100 MB runtime under lethe: spawn, checkpoint at its "ready". */
static int sandbox_up(const struct cfg *cfg, struct runtime *rt, struct lethe_sandbox **s)
{
	struct lethe_opts opts = { .rearm = LETHE_REARM_AUTO };
	int err = rt_spawn(cfg->target, TARGET_MB, rt);

	if (err) {
		fprintf(stderr, "failed to start %s: %s\n", cfg->target, strerror(-err));
		return err;
	}
	err = lethe_checkpoint(rt->pid, &opts, s);
	if (err)
		fprintf(stderr, "failed to checkpoint %d: %s\n", rt->pid, strerror(-err));
	return err;
}

static void sandbox_down(struct runtime *rt, struct lethe_sandbox **s)
{
	lethe_release(*s);
	*s = NULL;
	rt_kill(rt);
}

/*
 * n rounds of request(k) + rewind(verify) on the sandbox, after `warm` unrecorded
 * rounds. A failed rewind leaves the sandbox to be recycled: it is replaced and
 * the failure counted. Returns 0, or -errno when no sandbox could be brought up.
 */
static int run_series(const struct cfg *cfg, struct runtime *rt, struct lethe_sandbox **s, int k, bool verify,
		      int warm, int n, struct series *sr)
{
	int tries = 0;

	for (int i = -warm; i < n && tries < 5;) {
		struct lethe_rewind_stats st = { 0 };
		uint64_t ns = 0;
		int err = rt_request(rt, k, &ns);

		if (!err)
			err = lethe_rewind(*s, verify, &st);
		if (err) {
			fprintf(stderr, "warning: K=%d round %d: %s (%s); replacing the sandbox\n", k, i,
				strerror(-err), lethe_reason_str(st.reason));
			sr->failed++;
			tries++;
			sandbox_down(rt, s);
			err = sandbox_up(cfg, rt, s);
			if (err)
				return err;
			continue;
		}
		if (i >= 0)
			series_add(sr, &st, ns);
		i++;
	}
	return 0;
}

/* ---------------------------------------------------------------- checkpoint vs RSS */

static json_object *bench_checkpoint(const struct cfg *cfg)
{
	json_object *arr = json_object_new_array();

	printf("\ncheckpoint time vs RSS (median of %d checkpoints, each released before the next)\n", CKPT_REPS);
	printf("  %6s  %9s  %9s  %9s\n", "RSS MB", "median ms", "min ms", "max ms");
	for (int m = 0; m < NCKPT; m++) {
		double us[CKPT_REPS];
		struct runtime rt;
		int got = 0, err;

		err = rt_spawn(cfg->target, ckpt_mbs[m], &rt);
		if (err) {
			fprintf(stderr, "failed to start %s %d: %s\n", cfg->target, ckpt_mbs[m], strerror(-err));
			rt_kill(&rt);
			continue;
		}
		for (int r = 0; r < CKPT_REPS; r++) {
			struct lethe_opts opts = { .rearm = LETHE_REARM_AUTO };
			struct lethe_sandbox *s = NULL;
			uint64_t t = now_ns();

			err = lethe_checkpoint(rt.pid, &opts, &s);
			t = now_ns() - t;
			if (err) {
				fprintf(stderr, "failed to checkpoint %d (%d MB): %s\n", rt.pid, ckpt_mbs[m],
					strerror(-err));
				break;
			}
			us[got++] = t / 1000.0;
			lethe_release(s);
			/* the released runtime must still serve */
			if (rt_request(&rt, 1, NULL)) {
				fprintf(stderr, "warning: runtime %d dead after release\n", rt.pid);
				break;
			}
		}
		rt_kill(&rt);
		if (got) {
			json_object *o = json_object_new_object();
			double med = median(us, got);

			printf("  %6d  %9.2f  %9.2f  %9.2f\n", ckpt_mbs[m], ms(med), ms(us[0]), ms(us[got - 1]));
			json_object_object_add(o, "rss_mb", json_object_new_int(ckpt_mbs[m]));
			json_object_object_add(o, "n", json_object_new_int(got));
			json_object_object_add(o, "us_median", json_object_new_double(med));
			json_object_object_add(o, "us_min", json_object_new_double(us[0]));
			json_object_object_add(o, "us_max", json_object_new_double(us[got - 1]));
			json_object_array_add(arr, o);
		}
	}
	return arr;
}

/* ---------------------------------------------------------------- peers */

/* Restart: fork+exec of the 100 MB runtime up to its "ready" line. Median us, or < 0. */
static double bench_restart(const struct cfg *cfg, int n)
{
	double *us = calloc(n, sizeof(double)), med;
	int got = 0;

	for (int i = 0; us && i < n; i++) {
		struct runtime rt;
		uint64_t t = now_ns();
		int err = rt_spawn(cfg->target, TARGET_MB, &rt);

		t = now_ns() - t;
		rt_kill(&rt); /* outside the timed part */
		if (err) {
			fprintf(stderr, "failed to start %s: %s\n", cfg->target, strerror(-err));
			break;
		}
		us[got++] = t / 1000.0;
	}
	med = got ? median(us, got) : -1;
	free(us);
	return med;
}

/* The writable private mappings of pid, with a saved copy of their bytes. */
struct saved_mem {
	size_t n;
	struct iovec *remote, *local;
	size_t bytes;
};

static void saved_mem_free(struct saved_mem *sm)
{
	for (size_t i = 0; sm->local && i < sm->n; i++)
		free(sm->local[i].iov_base);
	free(sm->remote);
	free(sm->local);
	memset(sm, 0, sizeof(*sm));
}

/* Writable private ranges of pid from /proc/PID/maps, kernel-special ones excluded. */
static int writable_ranges(pid_t pid, struct iovec **out, size_t *n)
{
	char path[64], line[512];
	struct iovec *v = NULL;
	size_t cnt = 0, cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8], name[256] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &lo, &hi, perms, name) < 3)
			continue;
		if (perms[1] != 'w' || perms[3] != 'p' || !strcmp(name, "[vvar]") || !strcmp(name, "[vsyscall]") ||
		    !strcmp(name, "[vvar_vclock]"))
			continue;
		if (cnt == cap) {
			struct iovec *nv = realloc(v, (cap = cap ? cap * 2 : 32) * sizeof(*v));

			if (!nv) {
				free(v);
				fclose(f);
				return -ENOMEM;
			}
			v = nv;
		}
		v[cnt].iov_base = (void *)lo;
		v[cnt].iov_len = hi - lo;
		cnt++;
	}
	fclose(f);
	*out = v;
	*n = cnt;
	return 0;
}

static int saved_mem_take(pid_t pid, struct saved_mem *sm)
{
	int err;

	memset(sm, 0, sizeof(*sm));
	err = writable_ranges(pid, &sm->remote, &sm->n);
	if (err)
		return err;
	sm->local = calloc(sm->n, sizeof(*sm->local));
	if (!sm->local)
		return -ENOMEM;
	for (size_t i = 0; i < sm->n; i++) {
		sm->local[i].iov_len = sm->remote[i].iov_len;
		sm->local[i].iov_base = malloc(sm->remote[i].iov_len);
		if (!sm->local[i].iov_base)
			return -ENOMEM;
		if (process_vm_readv(pid, &sm->local[i], 1, &sm->remote[i], 1, 0) != (ssize_t)sm->remote[i].iov_len)
			return errno ? -errno : -EIO;
		sm->bytes += sm->remote[i].iov_len;
	}
	return 0;
}

/* Stop every thread of a single-threaded pid with PTRACE_SEIZE + INTERRUPT. */
static int ptrace_stop(pid_t pid)
{
	int status;

	if (ptrace(PTRACE_SEIZE, pid, 0, 0) || ptrace(PTRACE_INTERRUPT, pid, 0, 0))
		return -errno;
	if (waitpid(pid, &status, __WALL) != pid)
		return -errno;
	return 0;
}

/*
 * Groundhog-style full restore of a 100 MB runtime without lethe: after each
 * request(CMP_K), stop it, re-read its layout and write every writable private
 * byte back from the copy saved at "ready" with process_vm_writev, resume.
 * *copy_us gets the median of the copy alone. Median us of the whole, or < 0.
 */
static double bench_full_copy(const struct cfg *cfg, int n, double *copy_us, size_t *bytes)
{
	double *tot = calloc(n, sizeof(double)), *cp = calloc(n, sizeof(double)), med = -1;
	struct saved_mem sm = { 0 };
	struct runtime rt;
	int got = 0, err;

	err = rt_spawn(cfg->target, TARGET_MB, &rt);
	if (!err)
		err = saved_mem_take(rt.pid, &sm);
	if (err || !tot || !cp) {
		fprintf(stderr, "failed to set up the full-copy runtime: %s\n", strerror(err ? -err : ENOMEM));
		goto out;
	}
	*bytes = sm.bytes;
	for (int i = 0; i < n; i++) {
		struct iovec *cur = NULL;
		size_t ncur = 0;
		uint64_t t0, t1, t2;

		err = rt_request(&rt, CMP_K, NULL);
		if (err)
			break;
		t0 = now_ns();
		err = ptrace_stop(rt.pid);
		if (!err)
			err = writable_ranges(rt.pid, &cur, &ncur);
		/* the layout must be the saved one: a full copy alone cannot undo mmaps */
		if (!err && ncur != sm.n)
			err = -EXDEV;
		t1 = now_ns();
		for (size_t j = 0; !err && j < sm.n; j += IOV_MAX) {
			size_t cnt = sm.n - j < IOV_MAX ? sm.n - j : IOV_MAX, want = 0;

			for (size_t q = 0; q < cnt; q++)
				want += sm.local[j + q].iov_len;
			if (process_vm_writev(rt.pid, &sm.local[j], cnt, &sm.remote[j], cnt, 0) != (ssize_t)want)
				err = errno ? -errno : -EIO;
		}
		t2 = now_ns();
		if (ptrace(PTRACE_DETACH, rt.pid, 0, 0) && !err)
			err = -errno;
		tot[got] = (now_ns() - t0) / 1000.0;
		cp[got] = (t2 - t1) / 1000.0;
		free(cur);
		if (err) {
			fprintf(stderr, "failed to restore %d by full copy: %s\n", rt.pid, strerror(-err));
			break;
		}
		got++;
	}
	if (got) {
		med = median(tot, got);
		*copy_us = median(cp, got);
	}
out:
	saved_mem_free(&sm);
	rt_kill(&rt);
	free(tot);
	free(cp);
	return med;
}

/*
 * Cost of the same TRACK_K writes without lethe: the heap was touched at init, so
 * these are plain stores. Median ns per page, or < 0.
 */
static double bench_writes_untracked(const struct cfg *cfg, int n)
{
	double *v = calloc(n, sizeof(double)), med = -1;
	struct runtime rt = { .pid = -1, .to = -1 };
	int got = 0;

	if (v && !rt_spawn(cfg->target, TARGET_MB, &rt)) {
		rt_request(&rt, TRACK_K, NULL); /* warm up, as the lethe series does */
		for (int i = 0; i < n; i++) {
			uint64_t ns;

			if (rt_request(&rt, TRACK_K, &ns))
				break;
			v[got++] = (double)ns / TRACK_K;
		}
	}
	rt_kill(&rt);
	if (got)
		med = median(v, got);
	free(v);
	return med;
}

/* ---------------------------------------------------------------- attribution */

static int ignore_record(void *ctx, const struct lethe_ev_hdr *hdr, size_t size)
{
	return 0;
}

/*
 * The fixed part of a checkpoint: open, load and attach of the BPF tracker, which
 * lethe_checkpoint does once per sandbox. Median us of n, or < 0.
 */
static double bench_tracker_load(int n, const char **flavour)
{
	static char flav[16];
	double us[CKPT_REPS];
	int got = 0;

	for (int i = 0; i < n && i < CKPT_REPS; i++) {
		struct ld_tracker *t = NULL;
		uint64_t t0 = now_ns();
		int err = ld_tracker_new(NULL, ignore_record, NULL, &t);

		if (err) {
			fprintf(stderr, "failed to load the tracker: %s\n", strerror(-err));
			break;
		}
		us[got++] = (now_ns() - t0) / 1000.0;
		snprintf(flav, sizeof(flav), "%s", ld_tracker_flavour(t));
		ld_tracker_free(t);
	}
	*flavour = got ? flav : "none";
	return got ? median(us, got) : -1;
}

/*
 * What the kernel alone charges for a first write to a page shared copy-on-write
 * with a forked child (the twin's mechanism, without lethe's tracker): TRACK_K
 * writes at the bench_target stride over TARGET_MB, in this process, after a
 * fork; n rounds, each with a fresh child. Median ns per page, or < 0.
 */
static double bench_cow_fault(int n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = (size_t)TARGET_MB << 20, stride = len / page / TRACK_K;
	double *v = calloc(n, sizeof(double)), med = -1;
	volatile unsigned char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int got = 0;

	if (!v || mem == MAP_FAILED)
		goto out;
	memset((void *)mem, 0x5a, len);
	for (int r = 0; r < n; r++) {
		int hold[2];
		uint64_t t0;
		pid_t child;
		char c;

		if (pipe(hold))
			break;
		child = fork();
		if (child == 0) {
			close(hold[1]);
			if (read(hold[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
		close(hold[0]);
		if (child < 0) {
			close(hold[1]);
			break;
		}
		t0 = now_ns();
		for (int i = 0; i < TRACK_K; i++) {
			volatile unsigned char *p = mem + (size_t)i * stride * page;

			*p = (unsigned char)(*p + 1);
		}
		v[got++] = (double)(now_ns() - t0) / TRACK_K;
		close(hold[1]); /* EOF: the child exits */
		waitpid(child, NULL, 0);
	}
	if (got)
		med = median(v, got);
out:
	if (mem != MAP_FAILED)
		munmap((void *)mem, len);
	free(v);
	return med;
}

/* ---------------------------------------------------------------- main */

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--quick] [-n N] [--json FILE] [--target PATH] [-v]\n"
		"  --quick        N=30 rewinds per K and fewer peer runs (about 30 s)\n"
		"  -n N           rewinds per dirty-page count (default 200)\n"
		"  --json FILE    also write every number as JSON to FILE\n"
		"  --target PATH  the runtime (default: bench_target next to this binary)\n"
		"  -v             liblethe debug log on stderr\n",
		prog);
}

static int parse_args(int argc, char **argv, struct cfg *cfg)
{
	static const struct option lopts[] = {
		{ "quick", no_argument, NULL, 'q' },	    { "json", required_argument, NULL, 'j' },
		{ "target", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, n = 0;

	memset(cfg, 0, sizeof(*cfg));
	while ((c = getopt_long(argc, argv, "n:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			cfg->quick = true;
			break;
		case 'n':
			n = atoi(optarg);
			if (n < 1) {
				fprintf(stderr, "bad -n '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'j':
			cfg->json = optarg;
			break;
		case 't':
			snprintf(cfg->target, sizeof(cfg->target), "%s", optarg);
			break;
		case 'v':
			lethe_set_log_fn(NULL, LETHE_LOG_DEBUG);
			break;
		default:
			usage(argv[0]);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(argv[0]);
		return -EINVAL;
	}
	cfg->n = n ? n : cfg->quick ? 30 : 200;
	cfg->n_peer = cfg->quick ? 5 : 30;
	cfg->n_verify = cfg->quick ? 10 : 50;
	cfg->n_track = cfg->quick ? 10 : 50;
	if (!cfg->target[0]) {
		char self[PATH_MAX];
		ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
		char *slash;

		if (len < 0)
			return -errno;
		self[len] = 0;
		slash = strrchr(self, '/');
		if (slash)
			*slash = 0;
		snprintf(cfg->target, sizeof(cfg->target), "%.*s/bench_target", PATH_MAX - 16, self);
	}
	if (access(cfg->target, X_OK)) {
		fprintf(stderr, "failed to find the runtime %s: %s (build it, or give --target)\n", cfg->target,
			strerror(errno));
		return -ENOENT;
	}
	return 0;
}

static void print_series_row(int k, const struct summary *sm, int n, const char *methods)
{
	printf("  %5d %6.0f %4d %7.0f %7.0f %7.0f %7.0f |", k, sm->pages, n, sm->p10, sm->med, sm->p90, sm->p99);
	for (int p = 0; p < PH_N; p++)
		if (p != PH_VERIFY)
			printf(" %6.0f", sm->phase[p]);
	printf(" | %s\n", methods);
}

int main(int argc, char **argv)
{
	json_object *root = json_object_new_object(), *jks = json_object_new_array(), *jpeer, *jtrack, *jver;
	struct series series[NKS], vseries;
	struct summary sums[NKS], vsum;
	struct lethe_sandbox *s = NULL;
	struct runtime rt = { .pid = -1, .to = -1 };
	double restart_us, full_us, copy_us = 0, untracked_ns, tracked_ns, cow_ns, tracker_us, lethe_cmp = 0;
	const char *flavour;
	size_t full_bytes = 0;
	uint64_t t_start = now_ns();
	struct cfg cfg;
	char label[96];
	int err;

	err = parse_args(argc, argv, &cfg);
	if (err)
		return 2;
	if (geteuid() != 0)
		fprintf(stderr, "warning: lethe needs root (ptrace of a non-child, pagemap, BPF)\n");
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGHUP, on_fatal_signal);
	signal(SIGALRM, on_fatal_signal);
	alarm(cfg.quick ? 180 : 900); /* a wedged runtime ends the run, and its group with it */
	memset(series, 0, sizeof(series));
	memset(&vseries, 0, sizeof(vseries));

	json_object_object_add(root, "machine", machine_report());
	json_object_object_add(root, "quick", json_object_new_boolean(cfg.quick));

	/* 1. rewind latency vs dirty pages, one sandbox for every K */
	err = sandbox_up(&cfg, &rt, &s);
	if (err)
		goto out;
	for (int i = 0; i < NKS; i++) {
		err = series_new(&series[i], cfg.n);
		if (!err)
			err = run_series(&cfg, &rt, &s, dirty_ks[i], false, 3, cfg.n, &series[i]);
		if (err)
			goto out;
		series_summarise(&series[i], &sums[i]);
		if (dirty_ks[i] == CMP_K)
			lethe_cmp = sums[i].med;
	}
	/* 2. verification at CMP_K, same sandbox */
	err = series_new(&vseries, cfg.n_verify);
	if (!err)
		err = run_series(&cfg, &rt, &s, CMP_K, true, 1, cfg.n_verify, &vseries);
	if (err)
		goto out;
	series_summarise(&vseries, &vsum);
	sandbox_down(&rt, &s);

	printf("\nrewind latency vs dirty heap pages K (%d MB target, %d rewinds per K, verify off; us)\n", TARGET_MB,
	       cfg.n);
	printf("  %5s %6s %4s %7s %7s %7s %7s |", "K", "pages", "n", "p10", "median", "p90", "p99");
	for (int p = 0; p < PH_N; p++)
		if (p != PH_VERIFY)
			printf(" %6s", phase_names[p]);
	printf("   <- phase medians | re-arm methods that ran\n");
	for (int i = 0; i < NKS; i++) {
		json_object *o = summary_to_json(&sums[i], dirty_ks[i], series[i].n, series[i].failed);

		series_methods_str(&series[i], label, sizeof(label));
		print_series_row(dirty_ks[i], &sums[i], series[i].n, label);
		json_object_object_add(o, "rearm_methods", series_methods_json(&series[i]));
		json_object_array_add(jks, o);
		if (series[i].failed)
			printf("        (%d rewinds failed and were replaced)\n", series[i].failed);
	}
	json_object_object_add(root, "rewind_vs_dirty", jks);
	jks = NULL;

	printf("\nverification (rewind with verify=true, K=%d, %d rewinds; us)\n", CMP_K, vseries.n);
	printf("  total median %.0f (p10 %.0f, p90 %.0f), of which verify %.0f; without verify %.0f (+%.0f)\n",
	       vsum.med, vsum.p10, vsum.p90, vsum.phase[PH_VERIFY], lethe_cmp, vsum.med - lethe_cmp);
	jver = summary_to_json(&vsum, CMP_K, vseries.n, vseries.failed);
	json_object_object_add(jver, "verify_us_median", json_object_new_double(vsum.phase[PH_VERIFY]));
	json_object_object_add(jver, "extra_us_vs_unverified", json_object_new_double(vsum.med - lethe_cmp));
	json_object_object_add(root, "verify", jver);

	/* 3. tracking cost per first write */
	untracked_ns = bench_writes_untracked(&cfg, cfg.n_track);
	tracked_ns = NKS && dirty_ks[NKS - 1] == TRACK_K ? sums[NKS - 1].req_ns / TRACK_K : -1;
	printf("\ntracking cost: %d page writes in the target, timed by the target (median ns per page)\n",
	       TRACK_K);
	cow_ns = bench_cow_fault(cfg.quick ? 5 : 20);
	printf("  with lethe (first write after a rewind) %.0f, without lethe %.0f, difference %.0f\n", tracked_ns,
	       untracked_ns, tracked_ns - untracked_ns);
	printf("  for scale: a first write after a plain fork (COW fault, no tracker) %.0f\n", cow_ns);
	jtrack = json_object_new_object();
	json_object_object_add(jtrack, "pages", json_object_new_int(TRACK_K));
	json_object_object_add(jtrack, "ns_per_page_with_lethe", json_object_new_double(tracked_ns));
	json_object_object_add(jtrack, "ns_per_page_without_lethe", json_object_new_double(untracked_ns));
	json_object_object_add(jtrack, "ns_per_page_difference", json_object_new_double(tracked_ns - untracked_ns));
	json_object_object_add(jtrack, "ns_per_page_cow_fault_after_fork", json_object_new_double(cow_ns));
	json_object_object_add(root, "tracking", jtrack);

	/* 4. checkpoint vs RSS */
	json_object_object_add(root, "checkpoint_vs_rss", bench_checkpoint(&cfg));
	tracker_us = bench_tracker_load(CKPT_REPS, &flavour);
	printf("  for scale: loading + attaching the BPF tracker (%s), done once per process by lethe_init(): %.2f ms\n",
	       flavour, ms(tracker_us));
	json_object_object_add(root, "tracker_load_us_median", json_object_new_double(tracker_us));
	json_object_object_add(root, "tracker_flavour", json_object_new_string(flavour));

	/* 5. peers, same run */
	restart_us = bench_restart(&cfg, cfg.n_peer);
	full_us = bench_full_copy(&cfg, cfg.n_peer, &copy_us, &full_bytes);
	printf("\nlethe vs peers, %d MB target, K=%d dirty heap pages per request (medians)\n", TARGET_MB, CMP_K);
	printf("  %-52s %10s %8s\n", "", "ms", "x lethe");
	printf("  %-52s %10.3f %8.1f\n", "lethe rewind", ms(lethe_cmp), 1.0);
	printf("  %-52s %10.3f %8.1f\n", "restart (fork+exec to \"ready\")", ms(restart_us),
	       lethe_cmp > 0 ? restart_us / lethe_cmp : 0);
	snprintf(label, sizeof(label), "full copy of %.1f MB (stop+maps+writev+resume)", full_bytes / 1048576.0);
	printf("  %-52s %10.3f %8.1f\n", label, ms(full_us), lethe_cmp > 0 ? full_us / lethe_cmp : 0);
	printf("  %-52s %10.3f %8.1f\n", "  of which process_vm_writev", ms(copy_us),
	       lethe_cmp > 0 ? copy_us / lethe_cmp : 0);
	jpeer = json_object_new_object();
	json_object_object_add(jpeer, "dirty_pages", json_object_new_int(CMP_K));
	json_object_object_add(jpeer, "n", json_object_new_int(cfg.n_peer));
	json_object_object_add(jpeer, "lethe_rewind_us_median", json_object_new_double(lethe_cmp));
	json_object_object_add(jpeer, "restart_us_median", json_object_new_double(restart_us));
	json_object_object_add(jpeer, "full_copy_us_median", json_object_new_double(full_us));
	json_object_object_add(jpeer, "full_copy_writev_us_median", json_object_new_double(copy_us));
	json_object_object_add(jpeer, "full_copy_bytes", json_object_new_int64((int64_t)full_bytes));
	json_object_object_add(jpeer, "ratio_restart_over_lethe",
			       json_object_new_double(lethe_cmp > 0 ? restart_us / lethe_cmp : 0));
	json_object_object_add(jpeer, "ratio_full_copy_over_lethe",
			       json_object_new_double(lethe_cmp > 0 ? full_us / lethe_cmp : 0));
	json_object_object_add(root, "peers", jpeer);

	printf("\nrun took %.1f s; load average now %.2f\n", (now_ns() - t_start) / 1e9, loadavg());
	json_object_object_add(root, "loadavg_end", json_object_new_double(loadavg()));
	json_object_object_add(root, "run_s", json_object_new_double((now_ns() - t_start) / 1e9));
	if (cfg.json) {
		if (json_object_to_file_ext(cfg.json, root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)) {
			fprintf(stderr, "failed to write %s: %s\n", cfg.json, json_util_get_last_err());
			err = -EIO;
		}
	}
out:
	lethe_release(s);
	rt_kill(&rt);
	groups_kill();
	while (waitpid(-1, NULL, 0) > 0)
		;
	for (int i = 0; i < NKS; i++)
		series_free(&series[i]);
	series_free(&vseries);
	json_object_put(jks);
	json_object_put(root);
	return err ? 1 : 0;
}
