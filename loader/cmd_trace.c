// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `lethe trace`: attach the tracker to a command we start (or a running pid)
 * and, when it exits or on SIGINT, report every persistence point it created.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "target.h"
#include "paths.h"
#include "report_fmt.h"
#include "trace.h"
#include "tracker.h"

struct trace_opts {
	bool json;
	const char *output;
	pid_t pid;
	struct ld_target_opts target; /* --container / --cgroup, resolved to the pid to follow */
	char **cmd;
};

static void trace_usage(FILE *out)
{
	fprintf(out, "usage: %s trace [--json] [--output FILE]\n"
		     "       (--pid PID | --container ID [--runtime R] [--runtime-root DIR] | --cgroup PATH\n"
		     "        | -- CMD [ARGS...])\n\n"
		     "Run CMD (or follow the running process PID) with the lethe tracker attached.\n"
		     "When the target exits, or on SIGINT/SIGTERM, print a persistence-point report:\n"
		     "dirty pages by mapping, mappings added/removed, tasks created, files touched\n"
		     "and the tracker's counters. Children and threads of the target are followed.\n\n"
		     "options:\n"
		     "  -p, --pid PID       follow an existing process instead of running CMD\n"
		     "  -c, --container ID  follow a container's init (runc, or --runtime crun)\n"
		     "  -g, --cgroup PATH   follow the root process of a cgroup\n"
		     "  -j, --json          print the report as JSON\n"
		     "  -o, --output FILE   write the report to FILE instead of stdout\n"
		     "  -h, --help          show this help\n\n"
		     "exit status: 0 report written, 2 usage, 3 not root, 4 no such process,\n"
		     "5 kernel unsupported, 8 CMD could not be executed, 1 other failure\n",
		ld_prog);
}

static int parse_opts(int argc, char **argv, struct trace_opts *o)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },    { "json", no_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' }, { "help", no_argument, NULL, 'h' },
		LD_TARGET_LONGOPTS,
		{},
	};
	char *end, why[256];
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "+p:jo:hc:g:", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			errno = 0;
			o->pid = strtol(optarg, &end, 10);
			if (errno || *end || o->pid <= 0) {
				fprintf(stderr, "%s trace: invalid pid '%s'\n", ld_prog, optarg);
				return -EINVAL;
			}
			break;
		case 'j':
			o->json = true;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'h':
			trace_usage(stdout);
			return 1;
		default:
			if (ld_target_opt(c, optarg, &o->target))
				break;
			trace_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc)
		o->cmd = &argv[optind];
	if (!!o->pid + !!o->cmd + !!o->target.container + !!o->target.cgroup != 1) {
		fprintf(stderr, "%s trace: give exactly one of --pid PID, --container ID, --cgroup PATH or -- CMD\n",
			ld_prog);
		trace_usage(stderr);
		return -EINVAL;
	}
	if (ld_target_opts_check(&o->target, why, sizeof(why))) {
		fprintf(stderr, "%s trace: %s\n", ld_prog, why);
		return -EINVAL;
	}
	return 0;
}

static int on_event(void *ctx, const struct lethe_ev_hdr *h, size_t size)
{
	return ld_trace_add(ctx, h, size);
}

/*
 * Fork CMD stopped on a pipe until it is a sandbox member, so not one of its
 * writes is missed. Exec failures come back through a CLOEXEC pipe.
 */
static int spawn(char **cmd, struct ld_tracker *t, struct ld_trace *tr, pid_t *out)
{
	int go[2], ex[2], err = 0;
	char c = 'g';
	ssize_t n;
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) || pipe2(ex, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(go[1]);
		close(ex[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execvp(cmd[0], cmd);
		err = errno;
		if (write(ex[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(ex[1]);
	err = ld_tracker_member_add(t, pid, pid);
	if (!err)
		err = ld_trace_add_root(tr, pid);
	if (!err && write(go[1], &c, 1) != 1)
		err = -errno;
	close(go[1]);
	if (!err) {
		n = read(ex[0], &err, sizeof(err));
		err = n == sizeof(err) ? -err : 0;
		if (err)
			fprintf(stderr, "%s trace: cannot execute '%s': %s\n", ld_prog, cmd[0], strerror(-err));
	}
	close(ex[0]);
	if (err) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return err;
	}
	*out = pid;
	return 0;
}

static void read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	buf[0] = 0;
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int cmd_trace(int argc, char **argv)
{
	struct ld_trace_summary sum = {};
	struct ld_tracker *t = NULL;
	struct ld_trace tr;
	struct trace_opts o;
	int ep = -1, sfd = -1, pidfd = -1, err, ret = LD_EXIT_FAIL;
	struct epoll_event ev;
	sigset_t mask, oldmask;
	bool done = false;
	FILE *out = stdout;
	double t0;

	err = parse_opts(argc, argv, &o);
	if (err)
		return err > 0 ? LD_EXIT_OK : LD_EXIT_USAGE;
	if (geteuid() != 0) {
		fprintf(stderr, "%s trace: must run as root (loading BPF programs needs CAP_BPF and CAP_PERFMON)\n",
			ld_prog);
		return LD_EXIT_PERM;
	}
	if (o.target.container || o.target.cgroup) {
		static struct ld_target target;
		char why[512];

		err = ld_target_resolve(&o.target, false, &target, why, sizeof(why));
		if (err) {
			fprintf(stderr, "%s trace: %s\n", ld_prog, why);
			return ld_target_exit(err);
		}
		o.pid = target.pid;
	}
	if (o.pid) {
		pidfd = syscall(SYS_pidfd_open, o.pid, 0);
		if (pidfd < 0) {
			fprintf(stderr, "%s trace: no such process: %d\n", ld_prog, o.pid);
			return LD_EXIT_NOPROC;
		}
	}
	if (ld_trace_init(&tr))
		return LD_EXIT_FAIL;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	/* orphans of the target are reparented to us, so none lingers as a zombie */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	err = ld_tracker_new(NULL, on_event, &tr, &t);
	if (err) {
		fprintf(stderr, "%s trace: cannot load the BPF tracker: %s\n", ld_prog, strerror(-err));
		ret = err == -EPERM ? LD_EXIT_PERM : LD_EXIT_UNSUPPORTED;
		goto cleanup;
	}
	sum.flavour = ld_tracker_flavour(t);
	t0 = now_ms();
	if (o.cmd) {
		/* the child must not inherit our blocked signals */
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		err = spawn(o.cmd, t, &tr, &sum.pid);
		sigprocmask(SIG_BLOCK, &mask, NULL);
		if (err) {
			ret = err == -ENOENT || err == -EACCES ? LD_EXIT_EXEC : ld_exit_from_err(err);
			goto cleanup;
		}
	} else {
		sum.pid = o.pid;
		err = ld_tracker_member_add(t, o.pid, o.pid);
		if (!err)
			err = ld_trace_add_root(&tr, o.pid);
		if (err)
			goto cleanup;
		/* it may have died between pidfd_open and becoming a member */
		if (kill(o.pid, 0)) {
			fprintf(stderr, "%s trace: no such process: %d\n", ld_prog, o.pid);
			ret = LD_EXIT_NOPROC;
			goto cleanup;
		}
		fprintf(stderr, "%s trace: following pid %d; SIGINT (Ctrl-C) ends the trace\n", ld_prog, o.pid);
	}
	read_comm(sum.pid, sum.comm, sizeof(sum.comm));

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || sfd < 0)
		goto cleanup;
	ev.events = EPOLLIN;
	ev.data.fd = ld_tracker_fd(t);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	if (pidfd >= 0) {
		ev.data.fd = pidfd;
		epoll_ctl(ep, EPOLL_CTL_ADD, pidfd, &ev);
	}

	while (!done) {
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, -1);

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == sfd) {
				struct signalfd_siginfo si;
				int status;
				pid_t w;

				if (read(sfd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
					done = true;
					continue;
				}
				/* reap everything; note the target's own status */
				while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
					if (w != sum.pid)
						continue;
					sum.exited = true;
					sum.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
					sum.exit_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
					done = true;
				}
			} else if (fd == pidfd) {
				sum.exited = true;
				done = true;
			} else {
				ld_tracker_drain(t);
			}
		}
	}
	sum.duration_ms = now_ms() - t0;
	ld_tracker_drain(t);
	ld_trace_refresh_alive(&tr);
	ld_tracker_stats(t, sum.stats);
	ld_tracker_epoch_close(t, &sum.epoch_flags);
	sum.dirty_pages = ld_trace_dirty_pages(&tr);
	ld_trace_sort(&tr);
	if (!sum.comm[0])
		snprintf(sum.comm, sizeof(sum.comm), "?");

	if (o.output) {
		out = fopen(o.output, "w");
		if (!out) {
			fprintf(stderr, "%s trace: cannot write %s: %s\n", ld_prog, o.output, strerror(errno));
			goto cleanup;
		}
	}
	err = o.json ? ld_trace_print_json(out, &tr, &sum) : ld_trace_print_table(out, &tr, &sum);
	if (out != stdout && fclose(out))
		err = -errno;
	ret = err ? LD_EXIT_FAIL : LD_EXIT_OK;

cleanup:
	if (ep >= 0)
		close(ep);
	if (sfd >= 0)
		close(sfd);
	if (pidfd >= 0)
		close(pidfd);
	ld_tracker_free(t);
	ld_trace_free(&tr);
	return ret;
}
