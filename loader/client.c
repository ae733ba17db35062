// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One request, one response over the daemon's Unix socket. Blocking and simple:
 * each command makes exactly one call, and the daemon answers in order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "client.h"

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		if (err == -EINTR)
			continue;
		close(fd);
		return err;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

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

/* Read until one whole line arrived; the daemon sends nothing unasked. */
static int recv_line(int fd, struct ld_linebuf *lb, char **line)
{
	char buf[4096];

	for (;;) {
		ssize_t n;
		int err;

		if (ld_linebuf_next(lb, line) == 1)
			return 0;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNABORTED;
		err = ld_linebuf_append(lb, buf, n);
		if (err)
			return err == -EMSGSIZE ? -EPROTO : err;
	}
}

int ld_client_call(const char *path, const struct ld_request *req, json_object **resp, int *derr)
{
	struct ld_linebuf lb;
	json_object *o;
	char *out = NULL, *line;
	ssize_t n;
	int fd, err;

	*resp = NULL;
	*derr = 0;
	o = ld_request_to_json(req);
	if (!o)
		return -ENOMEM;
	n = ld_proto_line(o, &out);
	json_object_put(o);
	if (n < 0)
		return (int)n;
	fd = connect_to(path);
	if (fd < 0) {
		free(out);
		return fd;
	}
	ld_linebuf_init(&lb, 16 * LD_PROTO_MAX_LINE);
	err = send_all(fd, out, n);
	/* a daemon that refused us before reading still left its reason to read */
	if (!err || err == -EPIPE) {
		int rerr = recv_line(fd, &lb, &line);

		err = rerr && err ? err : rerr;
	}
	if (!err) {
		*derr = ld_response_parse(line, resp);
		if (!*resp) {
			*derr = 0;
			err = -EPROTO;
		}
	}
	ld_linebuf_free(&lb);
	free(out);
	close(fd);
	return err;
}
