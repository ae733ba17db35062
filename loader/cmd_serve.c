// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `lethe serve -- CMD...`: run a function runtime as a sandboxed child, pass it
 * requests line by line, and rewind it to its ready state after every response.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli.h"
#include "lethe/lethe.h"
#include "rewind_fmt.h"
#include "target.h"

struct serve_opts {
	const char *protect[16];
	size_t nprotect;
	bool verify;
	enum lethe_rearm rearm;
	const char *report;
	struct ld_target_opts target; /* --container / --cgroup: the sandbox is not CMD itself */
	int ready_timeout_ms;
	int response_timeout_ms;
	char **cmd;
};

static void serve_usage(FILE *out)
{
	fprintf(out, "usage: %s serve [--container ID [--runtime R] [--runtime-root DIR] | --cgroup PATH]\n"
		     "       [--verify] [--report FILE] [--protect PATH]... [--timeout MS] -- CMD [ARGS...]\n\n"
		     "Run CMD as a sandboxed child. CMD prints one line when it is ready; lethe then\n"
		     "checkpoints it. Each line read on stdin is one request: it is written to CMD's\n"
		     "stdin, CMD's one-line response is copied to stdout, and CMD is rewound to its\n"
		     "checkpoint before the next request is read. Nothing a request leaves in memory,\n"
		     "threads, child processes or fds is visible to the next one.\n\n"
		     "With --container, CMD starts the container in the foreground (e.g. `runc run\n"
		     "--bundle B ID`: its stdio is the container init's) and the sandbox is the\n"
		     "container: its init process, every process of its cgroup, its overlay upper dir\n"
		     "and tmpfs mounts. Other writable mounts are reported as unprotected.\n\n"
		     "options:\n"
		     "  --verify          prove every rewind byte-exact against the snapshot\n"
		     "  --report FILE     append one JSON line per request (what the rewind did)\n"
		     "  --container ID    the sandbox is this container (resolved once CMD is ready)\n"
		     "  --runtime R       its OCI runtime: runc (default) or crun\n"
		     "  --runtime-root DIR  the runtime's state directory (its --root)\n"
		     "  --cgroup PATH     every process in this cgroup directory belongs to the sandbox\n"
		     "  --protect PATH    PATH's files belong to the sandbox: snapshot at checkpoint,\n"
		     "                    every path a request touched restored after it (repeatable;\n"
		     "                    with --container, a path as the container sees it)\n"
		     "  --rearm METHOD    auto (default: uffd-wp where the kernel has it, else\n"
		     "                    softdirty, else retwin), uffd, softdirty, retwin, or ever\n"
		     "                    (no re-arm: restore every page ever dirtied); a method the\n"
		     "                    kernel lacks exits 5\n"
		     "  --timeout MS      how long to wait for readiness and for each response\n"
		     "                    (default 10000)\n"
		     "  -h, --help        show this help\n\n"
		     "exit status: 0 stdin ended, 2 usage, 3 not root, 4 no such container or\n"
		     "process, 5 unsupported target,\n"
		     "6 a rewind failed (the sandbox must be recycled), 8 CMD could not run,\n"
		     "1 CMD died or broke the line protocol\n",
		ld_prog);
}

static int parse_opts(int argc, char **argv, struct serve_opts *o)
{
	static const struct option opts[] = {
		{ "verify", no_argument, NULL, 'V' },	       { "report", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
		{ "rearm", required_argument, NULL, 'R' },
		{ "protect", required_argument, NULL, 'P' },
		LD_TARGET_LONGOPTS,
		{},
	};
	char *end, why[256];
	int c;

	memset(o, 0, sizeof(*o));
	o->ready_timeout_ms = o->response_timeout_ms = 10000;
	while ((c = getopt_long(argc, argv, "+r:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'V':
			o->verify = true;
			break;
		case 'r':
			o->report = optarg;
			break;
		case 't':
			o->ready_timeout_ms = o->response_timeout_ms = strtol(optarg, &end, 10);
			if (*end || o->ready_timeout_ms <= 0) {
				fprintf(stderr, "%s serve: invalid timeout '%s'\n", ld_prog, optarg);
				return -EINVAL;
			}
			break;
		case 'P':
			if (o->nprotect == sizeof(o->protect) / sizeof(o->protect[0])) {
				fprintf(stderr, "%s serve: at most 16 --protect directories\n", ld_prog);
				return -EINVAL;
			}
			o->protect[o->nprotect++] = strdup(optarg);
			break;
		case 'R':
			if (lethe_rearm_parse(optarg, &o->rearm)) {
				fprintf(stderr, "%s serve: unknown re-arm method '%s' (auto, uffd, softdirty, retwin, ever)\n",
					ld_prog, optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			serve_usage(stdout);
			return 1;
		default:
			if (ld_target_opt(c, optarg, &o->target))
				break;
			serve_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s serve: no command given (-- CMD [ARGS...])\n", ld_prog);
		return -EINVAL;
	}
	if (ld_target_opts_check(&o->target, why, sizeof(why))) {
		fprintf(stderr, "%s serve: %s\n", ld_prog, why);
		return -EINVAL;
	}
	/* without a container, protected dirs are ours to resolve now */
	for (size_t i = 0; !o->target.container && i < o->nprotect; i++) {
		char *real = realpath(o->protect[i], NULL);

		if (!real) {
			fprintf(stderr, "%s serve: cannot protect '%s': %s\n", ld_prog, o->protect[i], strerror(errno));
			return -EINVAL;
		}
		free((char *)o->protect[i]);
		o->protect[i] = real;
	}
	o->target.protect = o->protect;
	o->target.nprotect = o->nprotect;
	o->cmd = &argv[optind];
	return 0;
}

struct child {
	pid_t pid;
	int to; /* its stdin */
	int from; /* its stdout */
	char buf[65536]; /* bytes read from it, not yet returned */
	size_t len;
};

static int spawn(char **cmd, struct child *c)
{
	int in[2], out[2], ex[2], err = 0;
	ssize_t n;

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(ex, O_CLOEXEC))
		return -errno;
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (c->pid == 0) {
		/* its own group, so whatever a request spawns dies with it at the end */
		setpgid(0, 0);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execvp(cmd[0], cmd);
		err = errno;
		if (write(ex[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(ex[1]);
	n = read(ex[0], &err, sizeof(err));
	close(ex[0]);
	c->to = in[1];
	c->from = out[0];
	c->len = 0;
	return n == sizeof(err) ? -err : 0;
}

/* One line from the child into line (without '\n'). 0, -ETIMEDOUT, -EPIPE at EOF. */
static int child_line(struct child *c, char *line, size_t cap, int timeout_ms)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd p = { .fd = c->from, .events = POLLIN };
		ssize_t n;

		if (nl) {
			size_t l = nl - c->buf;

			if (l >= cap)
				l = cap - 1;
			memcpy(line, c->buf, l);
			line[l] = 0;
			c->len -= nl - c->buf + 1;
			memmove(c->buf, nl + 1, c->len);
			return 0;
		}
		if (c->len == sizeof(c->buf))
			return -E2BIG;
		n = poll(&p, 1, timeout_ms);
		if (n == 0)
			return -ETIMEDOUT;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		n = read(c->from, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c->len += n;
	}
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

static void child_end(struct child *c)
{
	if (c->pid <= 0)
		return;
	close(c->to);
	close(c->from);
	kill(-c->pid, SIGKILL);
	while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR)
		;
	c->pid = 0;
}

/* What the sandbox is made of, repeated in every report line so each stands alone. */
static void sandbox_json(json_object *o, const struct ld_target *t, const struct lethe_sandbox *s)
{
	json_object_object_add(o, "pid", json_object_new_int(lethe_sandbox_pid(s)));
	json_object_object_add(o, "twin", json_object_new_int(lethe_sandbox_twin(s)));
	ld_target_add_json(o, t);
}

static void report_append(FILE *rep, unsigned long req, const struct lethe_rewind_stats *st,
			  const struct ld_target *t, const struct lethe_sandbox *s)
{
	json_object *o;

	if (!rep)
		return;
	o = ld_rewind_to_json(st);
	json_object_object_add(o, "request", json_object_new_int64(req));
	sandbox_json(o, t, s);
	fprintf(rep, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(rep);
	json_object_put(o);
}

int cmd_serve(int argc, char **argv)
{
	struct lethe_opts lopts = {};
	struct lethe_sandbox *s = NULL;
	static struct ld_target target;
	char why[512];
	struct child c = { .pid = 0 };
	struct serve_opts o;
	char *req = NULL, resp[65536];
	size_t reqcap = 0;
	unsigned long nreq = 0;
	FILE *rep = NULL;
	int err, ret = LD_EXIT_FAIL;
	ssize_t n;

	err = parse_opts(argc, argv, &o);
	if (err)
		return err > 0 ? LD_EXIT_OK : LD_EXIT_USAGE;
	if (geteuid() != 0) {
		fprintf(stderr, "%s serve: must run as root (BPF tracking and ptrace need it)\n", ld_prog);
		return LD_EXIT_PERM;
	}
	if (o.report && !(rep = fopen(o.report, "a"))) {
		fprintf(stderr, "%s serve: cannot open %s: %s\n", ld_prog, o.report, strerror(errno));
		return LD_EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	/* requests' orphans come to us, and are reaped when the child ends */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	setvbuf(stdout, NULL, _IOLBF, 0);

	err = spawn(o.cmd, &c);
	if (err) {
		fprintf(stderr, "%s serve: cannot execute '%s': %s\n", ld_prog, o.cmd[0], strerror(-err));
		ret = LD_EXIT_EXEC;
		goto out;
	}
	err = child_line(&c, resp, sizeof(resp), o.ready_timeout_ms);
	if (err) {
		fprintf(stderr, "%s serve: '%s' never said it was ready: %s\n", ld_prog, o.cmd[0],
			err == -EPIPE ? "it exited" : strerror(-err));
		goto out;
	}
	lopts.rearm = o.rearm;
	if (o.target.container || o.target.cgroup) {
		/* a cgroup alone: the sandbox's root is CMD itself, whatever else the cgroup holds */
		if (!o.target.container)
			o.target.pid = c.pid;
		err = ld_target_resolve(&o.target, true, &target, why, sizeof(why));
		if (err) {
			fprintf(stderr, "%s serve: %s\n", ld_prog, why);
			ret = ld_target_exit(err);
			goto out;
		}
		ld_target_apply(&target, &lopts);
	} else {
		target.pid = c.pid;
		lopts.protect = o.protect;
		lopts.nprotect = o.nprotect;
	}
	err = lethe_checkpoint(target.pid, &lopts, &s);
	if (err) {
		fprintf(stderr, "%s serve: cannot checkpoint pid %d: %s\n", ld_prog, target.pid, strerror(-err));
		ret = ld_exit_from_err(err);
		goto out;
	}
	if (o.target.container || o.target.cgroup || ld_verbose) {
		fprintf(stderr, "%s serve: checkpointed pid %d (twin %d)", ld_prog, target.pid, lethe_sandbox_twin(s));
		for (size_t i = 0, k = 0; i < target.nlayers; i++)
			if (target.layers[i].kind != LETHE_LAYER_NONE)
				fprintf(stderr, "%s %s %s", k++ ? "," : "; layers", target.layers[i].path,
					lethe_layer_kind_str(target.layers[i].kind));
		for (size_t i = 0; i < target.nunprotected; i++)
			fprintf(stderr, "%s %s", i ? "," : "; unprotected", target.unprotected[i]);
		fputc('\n', stderr);
		if (target.nkept)
			fprintf(stderr,
				"%s serve: warning: %zu other process(es) of the cgroup, first %d, are kept but not "
				"rewound: what they hold persists across requests\n",
				ld_prog, target.nkept, target.kept[0]);
	}

	while ((n = getline(&req, &reqcap, stdin)) > 0) {
		struct lethe_rewind_stats st;

		if (req[n - 1] != '\n') {
			/* the last line had no newline: the runtime reads lines */
			char *r = realloc(req, n + 2);

			if (!r)
				goto out;
			req = r;
			req[n++] = '\n';
			req[n] = 0;
		}
		nreq++;
		err = write_all(c.to, req, n);
		if (!err)
			err = child_line(&c, resp, sizeof(resp), o.response_timeout_ms);
		if (err) {
			fprintf(stderr, "%s serve: request %lu: no response from pid %d: %s\n", ld_prog, nreq, target.pid,
				err == -EPIPE ? "it exited" : strerror(-err));
			goto out;
		}
		/* rewind before the answer leaves: the next request cannot overtake it */
		err = lethe_rewind(s, o.verify, &st);
		report_append(rep, nreq, &st, &target, s);
		if (err) {
			fprintf(stderr, "%s serve: request %lu: ", ld_prog, nreq);
			ld_rewind_print_line(stderr, &st);
			ret = err == -ENOTRECOVERABLE ? LD_EXIT_RECYCLE : ld_exit_from_err(err);
			goto out;
		}
		if (ld_verbose) {
			fprintf(stderr, "%s serve: request %lu: ", ld_prog, nreq);
			ld_rewind_print_line(stderr, &st);
		}
		printf("%s\n", resp);
	}
	ret = LD_EXIT_OK;
out:
	if (s && lethe_release(s))
		ret = ret ? ret : LD_EXIT_FAIL;
	child_end(&c);
	free(req);
	for (size_t i = 0; i < o.nprotect; i++)
		free((char *)o.protect[i]);
	if (rep)
		fclose(rep);
	return ret;
}
