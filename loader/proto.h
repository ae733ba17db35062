/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daemon protocol: one JSON object per line each way over a Unix socket.
 * Parsing and validation live here, apart from any socket, so they can be unit tested.
 */
#ifndef LETHE_LOADER_PROTO_H
#define LETHE_LOADER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "lethe/lethe.h"

#define LD_DEFAULT_SOCKET "/run/lethe/lethe.sock"
/* a request is a few dozen bytes; anything this long is garbage, not a request */
#define LD_PROTO_MAX_LINE 65536

/*
 * Every op but status names its sandbox by "pid":N, "container":"ID" (with
 * optional "runtime" and "runtime_root"), or "cgroup":"/sys/fs/cgroup/..."
 * (at checkpoint also together with "pid": that process, that cgroup).
 */
enum ld_op {
	LD_OP_CHECKPOINT = 0, /* {"op":"checkpoint","pid":N,"verify":bool,"protect":[...]} */
	LD_OP_REWIND, /* {"op":"rewind","pid":N,"verify":bool} */
	LD_OP_REPORT, /* {"op":"report","pid":N} */
	LD_OP_RELEASE, /* {"op":"release","pid":N} */
	LD_OP_STATUS, /* {"op":"status"} */
	LD_OP_MAX,
};

#define LD_PROTECT_MAX 8
#define LD_PROTECT_LEN 1024

#define LD_NAME_LEN 256

struct ld_request {
	enum ld_op op;
	pid_t pid; /* 0 when not given */
	char container[LD_NAME_LEN]; /* "" when not given */
	char runtime[16];
	char runtime_root[LD_PROTECT_LEN];
	char cgroup[LD_PROTECT_LEN];
	bool verify;
	char rearm[16]; /* checkpoint: "auto" (default), "uffd", "softdirty", "retwin", "ever" */
	/* checkpoint: directories whose files belong to the sandbox ("protect":[abs paths],
	 * as the container sees them when it names a container) */
	char protect[LD_PROTECT_MAX][LD_PROTECT_LEN];
	size_t nprotect;
};

/* Name of op as it appears on the wire; "unknown" when out of range. */
const char *ld_op_str(enum ld_op op);
/* True if op names its sandbox (every op but status). */
bool ld_op_needs_pid(enum ld_op op);
/* True if op accepts "verify" (checkpoint and rewind). */
bool ld_op_takes_verify(enum ld_op op);

/*
 * Parse and validate one request line (without its newline). Returns 0 and *req,
 * or -EINVAL with a one-line reason in why (not JSON, not an object, unknown op,
 * no sandbox named or two names (pid and container), non-integer pid, pid out
 * of range, bad container id, runtime not runc/crun, cgroup not absolute,
 * non-boolean verify, unknown field, a
 * "protect" that is not a list of at most LD_PROTECT_MAX absolute paths).
 */
int ld_request_parse(const char *line, struct ld_request *req, char *why, size_t whylen);

/* A new json-c object for req, as a client sends it (caller puts it). NULL on ENOMEM. */
json_object *ld_request_to_json(const struct ld_request *req);

/* {"ok":true}: the caller adds the op's fields. NULL on ENOMEM. */
json_object *ld_response_ok(void);

/*
 * {"ok":false,"error":msg,"errno":-err}, plus "reason" when reason is not NULL.
 * err is a -errno. NULL on ENOMEM.
 */
json_object *ld_response_err(int err, const char *msg, const char *reason);

/*
 * Parse one response line. Returns 0 and *out (caller puts it) for {"ok":true,...},
 * the daemon's -errno (or -EIO if it gave none) and *out for {"ok":false,...}, and
 * -EPROTO with *out NULL for anything that is not a response object.
 */
int ld_response_parse(const char *line, json_object **out);

/* The "error" string of a response, or "" when absent. Valid while o lives. */
const char *ld_response_error(json_object *o);

/*
 * Fill *st from the object ld_rewind_to_json() made. st->rearm points into o, so it
 * is valid while o lives. Returns 0, or -EINVAL if a field is missing or mistyped.
 */
int ld_rewind_from_json(json_object *o, struct lethe_rewind_stats *st);

/*
 * o as one line: compact JSON and '\n', in a malloc'ed buffer (caller frees).
 * Returns the length, or -ENOMEM.
 */
ssize_t ld_proto_line(json_object *o, char **out);

/*
 * Splits a byte stream into lines. Bytes in; complete lines out, in order. A line
 * longer than max without a newline is an error, so a peer cannot grow it forever.
 */
struct ld_linebuf {
	char *buf;
	size_t start; /* first unconsumed byte */
	size_t len; /* end of data */
	size_t cap;
	size_t max;
};

/* An empty buffer that accepts lines of up to max bytes. */
void ld_linebuf_init(struct ld_linebuf *lb, size_t max);
/* Free the storage; the buffer can be init'ed again. NULL-safe. */
void ld_linebuf_free(struct ld_linebuf *lb);
/*
 * Append n bytes. Invalidates any line returned before. Returns 0, -ENOMEM, or
 * -EMSGSIZE when the pending partial line would exceed max.
 */
int ld_linebuf_append(struct ld_linebuf *lb, const void *data, size_t n);
/*
 * Take the next complete line: 1 and *line (NUL-terminated, newline and a trailing
 * '\r' stripped, valid until the next append), or 0 when no complete line is pending.
 */
int ld_linebuf_next(struct ld_linebuf *lb, char **line);
/* Bytes received but not yet returned as a line. */
size_t ld_linebuf_pending(const struct ld_linebuf *lb);

#endif /* LETHE_LOADER_PROTO_H */
