// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `lethe daemon`: the one long-lived, single-threaded process that owns every sandbox
 * (a snapshot twin stays ptrace-attached to whoever checkpointed it) and serves them
 * to root over a Unix socket, one JSON request and one JSON response per line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "proto.h"
#include "rewind_fmt.h"
#include "container.h"
#include "target.h"

#define LOG_PREFIX "daemon: "
#include "log.h"

/* a client that does not read its responses is dropped past this much backlog */
#define OUT_MAX (1 << 20)

struct sbx {
	struct lethe_sandbox *s;
	pid_t pid;
	struct ld_target t; /* how it was named: container, cgroup, layers, unprotected */
	bool verify_always; /* the checkpoint asked to verify every rewind */
	uint64_t rewinds; /* rewinds that succeeded */
	uint64_t failed_rewinds;
	uint64_t checkpoint_us;
	time_t checkpointed_at;
	bool has_last;
	struct lethe_rewind_stats last;
	int last_err;
	struct sbx *next;
};

struct conn {
	int fd;
	pid_t peer_pid;
	struct ld_linebuf in;
	char *out;
	size_t out_len, out_off;
	uint32_t events; /* what epoll watches for now */
	bool closing; /* close once out is flushed: peer hung up, or we refused it */
	struct conn *next;
};

struct daemon {
	const char *path;
	int ep, lfd, sfd;
	struct sbx *sandboxes;
	struct conn *conns;
	bool stop;
};

struct daemon_opts {
	const char *socket;
	bool foreground;
};

static void daemon_usage(FILE *out)
{
	fprintf(out, "usage: %s daemon [--socket PATH] [--foreground]\n\n"
		     "Own every lethe sandbox and serve the lethe checkpoint, rewind, report, release\n"
		     "and status commands over a Unix socket that only root may use. A snapshot twin\n"
		     "stays attached to the process that checkpointed it, so one daemon holds them all.\n"
		     "SIGINT or SIGTERM releases every sandbox (the targets keep running) and exits.\n\n"
		     "options:\n"
		     "  -s, --socket PATH   listen on PATH (default %s; its directory is\n"
		     "                      created 0700 if missing, the socket is 0600)\n"
		     "  -f, --foreground    stay in the foreground; otherwise detach once listening\n"
		     "                      (standard error stays open for the log)\n"
		     "  -h, --help          show this help\n\n"
		     "exit status: 0 stopped by a signal, 2 usage, 3 not root, 1 other failure\n",
		ld_prog, LD_DEFAULT_SOCKET);
}

static int parse_opts(int argc, char **argv, struct daemon_opts *o)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	o->socket = LD_DEFAULT_SOCKET;
	o->foreground = false;
	while ((c = getopt_long(argc, argv, "+s:fh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'h':
			daemon_usage(stdout);
			return 1;
		default:
			daemon_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s daemon: unexpected argument '%s'\n", ld_prog, argv[optind]);
		return -EINVAL;
	}
	if (!o->socket[0]) {
		fprintf(stderr, "%s daemon: empty socket path\n", ld_prog);
		return -EINVAL;
	}
	return 0;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct sbx *sbx_find(struct daemon *d, pid_t pid)
{
	for (struct sbx *x = d->sandboxes; x; x = x->next)
		if (x->pid == pid)
			return x;
	return NULL;
}

/* The sandbox a request names: by pid, container id or cgroup, as it was checkpointed. */
static struct sbx *sbx_named(struct daemon *d, const struct ld_request *req)
{
	for (struct sbx *x = d->sandboxes; x; x = x->next) {
		if (req->container[0] ? !strcmp(x->t.container, req->container)
		    : req->cgroup[0]  ? !strcmp(x->t.cgroup, req->cgroup)
				      : x->pid == req->pid)
			return x;
	}
	return NULL;
}

/* How a request names its sandbox, for messages. */
static const char *req_name(const struct ld_request *req, char *buf, size_t len)
{
	if (req->container[0])
		snprintf(buf, len, "container %s", req->container);
	else if (req->cgroup[0] && !req->pid)
		snprintf(buf, len, "cgroup %s", req->cgroup);
	else
		snprintf(buf, len, "pid %d", (int)req->pid);
	return buf;
}

static void sbx_unlink(struct daemon *d, struct sbx *x)
{
	for (struct sbx **p = &d->sandboxes; *p; p = &(*p)->next) {
		if (*p == x) {
			*p = x->next;
			return;
		}
	}
}

static bool pid_alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

/* Shared by every op that names a checkpointed sandbox: ESRCH or ENOENT, with a message. */
static json_object *err_not_ours(const struct ld_request *req)
{
	pid_t pid = req->pid;
	char msg[LD_PROTECT_LEN + 64], name[LD_PROTECT_LEN + 32];

	if (req->container[0]) {
		struct ld_container c;
		char why[256];
		int err = ld_runtime_state(req->runtime[0] ? req->runtime : "runc",
					   req->runtime_root[0] ? req->runtime_root : NULL, req->container, &c, why,
					   sizeof(why));

		/* one that does not exist is not "not checkpointed" */
		if (err == -ENOENT || err == -ESRCH)
			return ld_response_err(-ESRCH, why, NULL);
	}
	if (req->container[0] || (req->cgroup[0] && !pid)) {
		snprintf(msg, sizeof(msg), "%s is not checkpointed", req_name(req, name, sizeof(name)));
		return ld_response_err(-ENOENT, msg, NULL);
	}
	if (!pid_alive(pid)) {
		snprintf(msg, sizeof(msg), "no such process: %d", (int)pid);
		return ld_response_err(-ESRCH, msg, NULL);
	}
	snprintf(msg, sizeof(msg), "pid %d is not checkpointed", (int)pid);
	return ld_response_err(-ENOENT, msg, NULL);
}

static json_object *op_checkpoint(struct daemon *d, const struct ld_request *req)
{
	struct lethe_opts opts = { .rearm = LETHE_REARM_AUTO, .verify_always = req->verify };
	const char *protect[LD_PROTECT_MAX];
	struct ld_target_opts to = {
		.pid = req->pid,
		.container = req->container[0] ? req->container : NULL,
		.runtime = req->runtime[0] ? req->runtime : NULL,
		.runtime_root = req->runtime_root[0] ? req->runtime_root : NULL,
		.cgroup = req->cgroup[0] ? req->cgroup : NULL,
		.protect = protect,
		.nprotect = req->nprotect,
	};
	struct lethe_sandbox *s = NULL;
	struct sbx *x;
	json_object *r;
	char msg[640], name[LD_PROTECT_LEN + 32];
	uint64_t t0;
	int err;

	for (size_t i = 0; i < req->nprotect; i++)
		protect[i] = req->protect[i];
	if (req->rearm[0] && lethe_rearm_parse(req->rearm, &opts.rearm))
		return ld_response_err(-EINVAL, "unknown re-arm method", NULL);
	if (sbx_named(d, req)) {
		snprintf(msg, sizeof(msg), "%s is already checkpointed", req_name(req, name, sizeof(name)));
		return ld_response_err(-EEXIST, msg, NULL);
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return ld_response_err(-ENOMEM, NULL, NULL);
	t0 = now_us();
	if (to.container || to.cgroup) {
		char why[512];

		err = ld_target_resolve(&to, true, &x->t, why, sizeof(why));
		if (err) {
			free(x);
			pr_warn("%s", why);
			/* the client's exit codes: 4 no such container or process, 5 no runtime */
			if (err == -ENOENT)
				err = -ESRCH;
			else if (err == -ENOEXEC)
				err = -EOPNOTSUPP;
			return ld_response_err(err, why, NULL);
		}
		if (sbx_find(d, x->t.pid)) {
			snprintf(msg, sizeof(msg), "pid %d (%s) is already checkpointed", (int)x->t.pid,
				 req_name(req, name, sizeof(name)));
			free(x);
			return ld_response_err(-EEXIST, msg, NULL);
		}
		ld_target_apply(&x->t, &opts);
	} else {
		x->t.pid = req->pid;
		opts.protect = protect;
		opts.nprotect = req->nprotect;
	}
	err = lethe_checkpoint(x->t.pid, &opts, &s);
	if (err) {
		if (err == -ESRCH)
			snprintf(msg, sizeof(msg), "no such process: %d", (int)x->t.pid);
		else
			snprintf(msg, sizeof(msg), "cannot checkpoint pid %d: %s", (int)x->t.pid, strerror(-err));
		free(x);
		pr_warn("%s", msg);
		return ld_response_err(err, msg, NULL);
	}
	x->s = s;
	x->pid = x->t.pid;
	x->verify_always = req->verify;
	x->checkpoint_us = now_us() - t0;
	x->checkpointed_at = time(NULL);
	x->next = d->sandboxes;
	d->sandboxes = x;
	pr_info("checkpointed pid %d (twin %d) in %llu us", (int)x->pid, (int)lethe_sandbox_twin(s),
		(unsigned long long)x->checkpoint_us);

	r = ld_response_ok();
	if (!r)
		return NULL;
	json_object_object_add(r, "pid", json_object_new_int(x->pid));
	json_object_object_add(r, "twin", json_object_new_int(lethe_sandbox_twin(s)));
	json_object_object_add(r, "checkpoint_us", json_object_new_int64(x->checkpoint_us));
	ld_target_add_json(r, &x->t);
	return r;
}

static json_object *op_rewind(struct daemon *d, const struct ld_request *req)
{
	struct lethe_rewind_stats st;
	struct sbx *x = sbx_named(d, req);
	bool was_recycled;
	json_object *r;
	char msg[200];
	int err;

	if (!x)
		return err_not_ours(req);
	was_recycled = lethe_sandbox_needs_recycle(x->s);
	err = lethe_rewind(x->s, req->verify, &st);
	x->has_last = true;
	x->last = st;
	x->last_err = err;
	if (err) {
		x->failed_rewinds++;
		if (was_recycled)
			snprintf(msg, sizeof(msg),
				 "pid %d must be recycled after an earlier failed rewind: release it and start anew",
				 (int)x->pid);
		else if (err == -ENOTRECOVERABLE)
			snprintf(msg, sizeof(msg), "rewind of pid %d failed (%s): sandbox must be recycled", (int)x->pid,
				 lethe_reason_str(st.reason));
		else
			snprintf(msg, sizeof(msg), "rewind of pid %d failed: %s", (int)x->pid, strerror(-err));
		pr_warn("%s", msg);
		r = ld_response_err(err, msg, lethe_reason_str(st.reason));
		if (!r)
			return NULL;
		json_object_object_add(r, "recycle", json_object_new_boolean(lethe_sandbox_needs_recycle(x->s)));
	} else {
		x->rewinds++;
		r = ld_response_ok();
		if (!r)
			return NULL;
	}
	json_object_object_add(r, "pid", json_object_new_int(x->pid));
	/* re-arm may have forked a new twin */
	json_object_object_add(r, "twin", json_object_new_int(lethe_sandbox_twin(x->s)));
	json_object_object_add(r, "rewinds", json_object_new_int64(x->rewinds));
	json_object_object_add(r, "rewind", ld_rewind_to_json(&st));
	return r;
}

static const char *sbx_state(const struct sbx *x)
{
	if (!pid_alive(x->pid))
		return "dead";
	return lethe_sandbox_needs_recycle(x->s) ? "recycle" : "ok";
}

static json_object *op_report(struct daemon *d, const struct ld_request *req)
{
	struct sbx *x = sbx_named(d, req);
	json_object *r;

	if (!x)
		return err_not_ours(req);
	r = ld_response_ok();
	if (!r)
		return NULL;
	json_object_object_add(r, "pid", json_object_new_int(x->pid));
	json_object_object_add(r, "twin", json_object_new_int(lethe_sandbox_twin(x->s)));
	json_object_object_add(r, "state", json_object_new_string(sbx_state(x)));
	json_object_object_add(r, "recycle", json_object_new_boolean(lethe_sandbox_needs_recycle(x->s)));
	json_object_object_add(r, "verify_always", json_object_new_boolean(x->verify_always));
	json_object_object_add(r, "checkpoint_us", json_object_new_int64(x->checkpoint_us));
	json_object_object_add(r, "checkpointed_at", json_object_new_int64(x->checkpointed_at));
	json_object_object_add(r, "rewinds", json_object_new_int64(x->rewinds));
	json_object_object_add(r, "failed_rewinds", json_object_new_int64(x->failed_rewinds));
	json_object_object_add(r, "last_rewind", x->has_last ? ld_rewind_to_json(&x->last) : NULL);
	ld_target_add_json(r, &x->t);
	if (x->has_last && x->last_err)
		json_object_object_add(r, "last_errno", json_object_new_int(-x->last_err));
	return r;
}

static json_object *op_release(struct daemon *d, const struct ld_request *req)
{
	struct sbx *x = sbx_named(d, req);
	json_object *r;
	int err;

	if (!x)
		return err_not_ours(req);
	sbx_unlink(d, x);
	err = lethe_release(x->s);
	if (err)
		pr_warn("release of pid %d: %s", (int)x->pid, strerror(-err));
	else
		pr_info("released pid %d after %llu rewinds", (int)x->pid, (unsigned long long)x->rewinds);
	r = ld_response_ok();
	if (r) {
		json_object_object_add(r, "pid", json_object_new_int(x->pid));
		json_object_object_add(r, "rewinds", json_object_new_int64(x->rewinds));
	}
	free(x);
	return r;
}

static json_object *op_status(struct daemon *d)
{
	json_object *r = ld_response_ok(), *arr;

	if (!r)
		return NULL;
	json_object_object_add(r, "daemon_pid", json_object_new_int(getpid()));
	json_object_object_add(r, "socket", json_object_new_string(d->path));
	arr = json_object_new_array();
	for (struct sbx *x = d->sandboxes; x; x = x->next) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "pid", json_object_new_int(x->pid));
		if (x->t.container[0])
			json_object_object_add(e, "container", json_object_new_string(x->t.container));
		json_object_object_add(e, "twin", json_object_new_int(lethe_sandbox_twin(x->s)));
		json_object_object_add(e, "rewinds", json_object_new_int64(x->rewinds));
		json_object_object_add(e, "recycle", json_object_new_boolean(lethe_sandbox_needs_recycle(x->s)));
		json_object_object_add(e, "state", json_object_new_string(sbx_state(x)));
		json_object_object_add(e, "last_rewind_us",
				       x->has_last ? json_object_new_int64(x->last.us_total) : NULL);
		json_object_array_add(arr, e);
	}
	json_object_object_add(r, "sandboxes", arr);
	return r;
}

static json_object *handle_line(struct daemon *d, const char *line)
{
	struct ld_request req;
	char why[160];
	int err;

	err = ld_request_parse(line, &req, why, sizeof(why));
	if (err)
		return ld_response_err(err, why, NULL);
	switch (req.op) {
	case LD_OP_CHECKPOINT:
		return op_checkpoint(d, &req);
	case LD_OP_REWIND:
		return op_rewind(d, &req);
	case LD_OP_REPORT:
		return op_report(d, &req);
	case LD_OP_RELEASE:
		return op_release(d, &req);
	case LD_OP_STATUS:
		return op_status(d);
	default:
		return ld_response_err(-EINVAL, "unknown op", NULL);
	}
}

static void conn_close(struct daemon *d, struct conn *c)
{
	for (struct conn **p = &d->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	epoll_ctl(d->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	ld_linebuf_free(&c->in);
	free(c->out);
	free(c);
}

/* Queue one response. -ENOMEM or -ENOBUFS (client far behind) drop the client. */
static int conn_queue(struct conn *c, json_object *r)
{
	char *line;
	ssize_t n;

	if (!r)
		return -ENOMEM;
	n = ld_proto_line(r, &line);
	json_object_put(r);
	if (n < 0)
		return (int)n;
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + n > OUT_MAX) {
		free(line);
		return -ENOBUFS;
	}
	if (!c->out) {
		c->out = line;
		c->out_len = n;
		return 0;
	}
	{
		char *p = realloc(c->out, c->out_len + n);

		if (!p) {
			free(line);
			return -ENOMEM;
		}
		c->out = p;
	}
	memcpy(c->out + c->out_len, line, n);
	c->out_len += n;
	free(line);
	return 0;
}

/* Write what we can without blocking. Returns 0, or -errno when the client is gone. */
static int conn_flush(struct daemon *d, struct conn *c)
{
	struct epoll_event ev = { .data.ptr = c };

	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		c->out_off += n;
	}
	if (c->out_off == c->out_len) {
		free(c->out);
		c->out = NULL;
		c->out_len = c->out_off = 0;
	}
	/* a closing client is only written to: its EOF would keep EPOLLIN ready forever */
	ev.events = (c->closing ? 0 : EPOLLIN | EPOLLRDHUP) | (c->out_len ? EPOLLOUT : 0);
	if (ev.events != c->events) {
		if (epoll_ctl(d->ep, EPOLL_CTL_MOD, c->fd, &ev))
			return -errno;
		c->events = ev.events;
	}
	return 0;
}

/* Read what arrived, answer every complete line in order. */
static void conn_event(struct daemon *d, struct conn *c, uint32_t events)
{
	char buf[4096], *line;
	int err = 0;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)) {
		while (!c->closing) {
			ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0) {
				/* EOF or reset: answer what was complete, then close */
				c->closing = true;
				break;
			}
			err = ld_linebuf_append(&c->in, buf, n);
			if (err == -EMSGSIZE) {
				err = conn_queue(c, ld_response_err(-EMSGSIZE, "request line too long", NULL));
				c->closing = true;
				break;
			}
			if (err)
				goto drop;
			while (ld_linebuf_next(&c->in, &line) == 1) {
				err = conn_queue(c, handle_line(d, line));
				if (err)
					goto drop;
			}
		}
	}
	err = conn_flush(d, c);
	if (err)
		goto drop;
	if (c->closing && !c->out_len)
		goto drop;
	return;
drop:
	if (err && err != -EPIPE && err != -ECONNRESET)
		pr_warn("dropping client pid %d: %s", (int)c->peer_pid, strerror(-err));
	conn_close(d, c);
}

static void accept_clients(struct daemon *d)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
		struct ucred cred = { 0 };
		socklen_t len = sizeof(cred);
		struct conn *c;
		int fd;

		fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				pr_perror("accept");
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->events = ev.events;
		ld_linebuf_init(&c->in, LD_PROTO_MAX_LINE);
		c->next = d->conns;
		d->conns = c;
		ev.data.ptr = c;
		if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev)) {
			pr_perror("epoll_ctl");
			conn_close(d, c);
			continue;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != 0) {
			char msg[96];

			snprintf(msg, sizeof(msg), "only root may use the lethe daemon (peer uid %d)",
				 len == sizeof(cred) ? (int)cred.uid : -1);
			pr_warn("refused client pid %d: %s", (int)cred.pid, msg);
			c->closing = true;
			if (conn_queue(c, ld_response_err(-EPERM, msg, NULL)) || conn_flush(d, c) || !c->out_len)
				conn_close(d, c);
			continue;
		}
		c->peer_pid = cred.pid;
	}
}

/*
 * Reap exited children only (WEXITED): a stop of a traced twin is the engine's
 * to wait for, never ours to swallow. Twins are the only children we get.
 */
static void reap_children(struct daemon *d)
{
	for (;;) {
		siginfo_t si = { 0 };

		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | __WALL) || si.si_pid == 0)
			return;
		for (struct sbx *x = d->sandboxes; x; x = x->next)
			if (lethe_sandbox_twin(x->s) == si.si_pid)
				pr_warn("snapshot twin %d of pid %d died: its next rewind will fail", (int)si.si_pid,
					(int)x->pid);
	}
}

static void signal_event(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGINT:
		case SIGTERM:
			pr_info("signal %d: releasing every sandbox", (int)si.ssi_signo);
			d->stop = true;
			break;
		case SIGCHLD:
			reap_children(d);
			break;
		default:
			break; /* SIGHUP: no configuration to reload */
		}
	}
}

static int sock_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* Create the socket's directory 0700 if missing; refuse a live daemon; clear a stale socket. */
static int prepare_path(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	char *copy, *dir;
	int fd, err;

	err = sock_addr(path, &sa);
	if (err) {
		fprintf(stderr, "%s daemon: socket path too long: %s\n", ld_prog, path);
		return err;
	}
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		err = -errno;
		fprintf(stderr, "%s daemon: cannot create %s: %s\n", ld_prog, dir, strerror(errno));
	}
	free(copy);
	if (err)
		return err;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		err = -errno;
		fprintf(stderr, "%s daemon: cannot stat %s: %s\n", ld_prog, path, strerror(errno));
		return err;
	}
	if (!S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "%s daemon: %s exists and is not a socket\n", ld_prog, path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		fprintf(stderr, "%s daemon: a daemon is already listening at %s\n", ld_prog, path);
		return -EADDRINUSE;
	}
	close(fd);
	if (unlink(path) && errno != ENOENT) {
		err = -errno;
		fprintf(stderr, "%s daemon: cannot remove stale socket %s: %s\n", ld_prog, path, strerror(errno));
		return err;
	}
	return 0;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, err;

	err = sock_addr(path, &sa);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* created 0600 from the start: no window where another user could connect */
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (!err && chmod(path, 0600))
		err = -errno;
	if (!err && listen(fd, 64))
		err = -errno;
	if (err) {
		fprintf(stderr, "%s daemon: cannot listen on %s: %s\n", ld_prog, path, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

/*
 * Detach: the parent waits until the child listens (or fails) and exits with
 * that outcome, so `lethe daemon && lethe status` never races. Returns in the
 * child with *ready_fd to write one byte to once listening; never in the parent.
 */
static int daemonize(int *ready_fd)
{
	int p[2], status, devnull;
	char c;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) == 1)
			_exit(LD_EXIT_OK);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
			_exit(WEXITSTATUS(status) ? WEXITSTATUS(status) : LD_EXIT_FAIL);
		_exit(LD_EXIT_FAIL);
	}
	close(p[0]);
	/* keep nothing a caller left open to us (a pipe would never see EOF), but the ready pipe */
	if (p[1] > 3)
		close_range(3, p[1] - 1, 0);
	close_range(p[1] + 1, ~0U, 0);
	setsid();
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		close(devnull);
	}
	if (chdir("/"))
		return -errno;
	*ready_fd = p[1];
	return 0;
}

static int setup(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -errno;
	/* a client that hangs up must never kill us: MSG_NOSIGNAL, and this for any other path */
	signal(SIGPIPE, SIG_IGN);
	d->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->sfd < 0)
		return -errno;
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	if (d->ep < 0)
		return -errno;
	ev.data.ptr = &d->sfd;
	if (epoll_ctl(d->ep, EPOLL_CTL_ADD, d->sfd, &ev))
		return -errno;
	ev.data.ptr = &d->lfd;
	if (epoll_ctl(d->ep, EPOLL_CTL_ADD, d->lfd, &ev))
		return -errno;
	/* load the tracker now, so no checkpoint pays for it (~140 ms here) */
	if (lethe_init())
		pr_warn("cannot load the BPF tracker yet: the first checkpoint will retry");
	return 0;
}

static void run(struct daemon *d)
{
	struct epoll_event evs[32];

	while (!d->stop) {
		int n = epoll_wait(d->ep, evs, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("epoll_wait");
			return;
		}
		for (int i = 0; i < n && !d->stop; i++) {
			void *p = evs[i].data.ptr;

			if (p == &d->sfd)
				signal_event(d);
			else if (p == &d->lfd)
				accept_clients(d);
			else
				conn_event(d, p, evs[i].events);
		}
	}
}

/* Release every sandbox (targets run on untraced), close every client. */
static void teardown(struct daemon *d)
{
	while (d->sandboxes) {
		struct sbx *x = d->sandboxes;
		int err;

		d->sandboxes = x->next;
		err = lethe_release(x->s);
		if (err)
			pr_warn("release of pid %d: %s", (int)x->pid, strerror(-err));
		free(x);
	}
	while (d->conns)
		conn_close(d, d->conns);
	if (d->lfd >= 0) {
		close(d->lfd);
		unlink(d->path);
	}
	if (d->sfd >= 0)
		close(d->sfd);
	if (d->ep >= 0)
		close(d->ep);
}

int cmd_daemon(int argc, char **argv)
{
	struct daemon d = { .ep = -1, .lfd = -1, .sfd = -1 };
	struct daemon_opts o;
	int err, ready = -1;
	char c = 'r';

	err = parse_opts(argc, argv, &o);
	if (err)
		return err > 0 ? LD_EXIT_OK : LD_EXIT_USAGE;
	if (geteuid() != 0) {
		fprintf(stderr, "%s daemon: must run as root (it ptraces targets and loads BPF programs)\n",
			ld_prog);
		return LD_EXIT_PERM;
	}
	d.path = o.socket;
	err = prepare_path(d.path);
	if (err)
		return LD_EXIT_FAIL;
	if (!o.foreground) {
		err = daemonize(&ready);
		if (err) {
			fprintf(stderr, "%s daemon: cannot detach: %s\n", ld_prog, strerror(-err));
			return LD_EXIT_FAIL;
		}
	}
	d.lfd = listen_on(d.path);
	if (d.lfd < 0) {
		d.lfd = -1;
		return LD_EXIT_FAIL;
	}
	err = setup(&d);
	if (err) {
		fprintf(stderr, "%s daemon: cannot set up the event loop: %s\n", ld_prog, strerror(-err));
		teardown(&d);
		return LD_EXIT_FAIL;
	}
	if (o.foreground)
		fprintf(stderr, "%s daemon: listening on %s (pid %d)\n", ld_prog, d.path, (int)getpid());
	if (ready >= 0) {
		if (write(ready, &c, 1) != 1)
			pr_perror("cannot tell the parent we are ready");
		close(ready);
	}
	run(&d);
	teardown(&d);
	return LD_EXIT_OK;
}
