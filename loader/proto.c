// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The daemon protocol: request validation, response shapes and line framing.
 * Both ends use it, so a request the client can write is one the daemon accepts.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proto.h"

static const char *const op_names[LD_OP_MAX] = {
	[LD_OP_CHECKPOINT] = "checkpoint", [LD_OP_REWIND] = "rewind", [LD_OP_REPORT] = "report",
	[LD_OP_RELEASE] = "release",	   [LD_OP_STATUS] = "status",
};

const char *ld_op_str(enum ld_op op)
{
	return op < LD_OP_MAX ? op_names[op] : "unknown";
}

bool ld_op_needs_pid(enum ld_op op)
{
	return op != LD_OP_STATUS;
}

bool ld_op_takes_verify(enum ld_op op)
{
	return op == LD_OP_CHECKPOINT || op == LD_OP_REWIND;
}

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Parse a whole string as exactly one JSON value (trailing blanks allowed). */
static json_object *parse_strict(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o;
	size_t end;

	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		for (end = tok->char_offset; end < len; end++) {
			if (!strchr(" \t\r\n", line[end])) {
				json_object_put(o);
				o = NULL;
				break;
			}
		}
	} else {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static bool is_name_key(const char *key)
{
	return !strcmp(key, "pid") || !strcmp(key, "container") || !strcmp(key, "runtime") ||
	       !strcmp(key, "runtime_root") || !strcmp(key, "cgroup");
}

/* A string field into dst (size len); 1 if absent, -EINVAL if not a string or too long. */
static int get_name(json_object *o, const char *key, char *dst, size_t len, char *why, size_t whylen)
{
	json_object *v;
	const char *str;

	if (!json_object_object_get_ex(o, key, &v))
		return 1;
	str = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (!str || !*str || strlen(str) >= len)
		return fail(why, whylen, "\"%s\" must be a non-empty string shorter than %zu bytes", key, len);
	strcpy(dst, str);
	return 0;
}

/* The sandbox's names: pid, or container (+ runtime, runtime_root), and/or cgroup. */
static int parse_names(json_object *o, struct ld_request *req, char *why, size_t whylen)
{
	bool has_pid = json_object_object_get_ex(o, "pid", NULL);
	int c = get_name(o, "container", req->container, sizeof(req->container), why, whylen);
	int r = get_name(o, "runtime", req->runtime, sizeof(req->runtime), why, whylen);
	int rr = get_name(o, "runtime_root", req->runtime_root, sizeof(req->runtime_root), why, whylen);
	int g = get_name(o, "cgroup", req->cgroup, sizeof(req->cgroup), why, whylen);

	if (c < 0 || r < 0 || rr < 0 || g < 0)
		return -EINVAL;
	if (has_pid && !c && req->op != LD_OP_CHECKPOINT)
		return fail(why, whylen, "\"pid\" and \"container\" name the sandbox twice");
	if (!has_pid && c && g)
		return fail(why, whylen, "op %s needs \"pid\", \"container\" or \"cgroup\"", ld_op_str(req->op));
	if ((!r || !rr) && c)
		return fail(why, whylen, "\"runtime\" and \"runtime_root\" go with \"container\"");
	if (!c && (req->container[0] == '-' || strchr(req->container, '/')))
		return fail(why, whylen, "bad container id");
	if (!r && strcmp(req->runtime, "runc") && strcmp(req->runtime, "crun"))
		return fail(why, whylen, "\"runtime\" must be runc or crun");
	if ((!rr && req->runtime_root[0] != '/') || (!g && req->cgroup[0] != '/'))
		return fail(why, whylen, "\"runtime_root\" and \"cgroup\" must be absolute paths");
	if (!g && has_pid && req->op != LD_OP_CHECKPOINT)
		return fail(why, whylen, "\"pid\" and \"cgroup\" name the sandbox twice");
	return 0;
}

int ld_request_parse(const char *line, struct ld_request *req, char *why, size_t whylen)
{
	json_object *o, *v;
	const char *name;
	int64_t pid;
	int err = 0;

	memset(req, 0, sizeof(*req));
	if (!line)
		return fail(why, whylen, "empty request");
	o = parse_strict(line, strlen(line));
	if (!o)
		return fail(why, whylen, "malformed request: not JSON");
	if (!json_object_is_type(o, json_type_object)) {
		err = fail(why, whylen, "malformed request: not a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(o, "op", &v) || !json_object_is_type(v, json_type_string)) {
		err = fail(why, whylen, "malformed request: \"op\" must be a string");
		goto out;
	}
	name = json_object_get_string(v);
	for (req->op = 0; req->op < LD_OP_MAX; req->op++)
		if (!strcmp(name, op_names[req->op]))
			break;
	if (req->op == LD_OP_MAX) {
		err = fail(why, whylen, "unknown op '%.64s'", name);
		goto out;
	}
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		if (strcmp(key, "op") && !(ld_op_needs_pid(req->op) && is_name_key(key)) &&
		    !(ld_op_takes_verify(req->op) && !strcmp(key, "verify")) &&
		    !(req->op == LD_OP_CHECKPOINT && (!strcmp(key, "protect") || !strcmp(key, "rearm")))) {
			err = fail(why, whylen, "unknown field '%.64s' for op %s", key, name);
			goto out;
		}
	}
	if (ld_op_needs_pid(req->op)) {
		err = parse_names(o, req, why, whylen);
		if (err)
			goto out;
	}
	if (ld_op_needs_pid(req->op) && json_object_object_get_ex(o, "pid", &v)) {
		if (!json_object_is_type(v, json_type_int)) {
			err = fail(why, whylen, "\"pid\" must be an integer");
			goto out;
		}
		errno = 0;
		pid = json_object_get_int64(v);
		if (errno || pid <= 0 || pid > INT_MAX) {
			err = fail(why, whylen, "pid out of range");
			goto out;
		}
		req->pid = (pid_t)pid;
	}
	if (json_object_object_get_ex(o, "verify", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			err = fail(why, whylen, "\"verify\" must be true or false");
			goto out;
		}
		req->verify = json_object_get_boolean(v);
	}
	if (req->op == LD_OP_CHECKPOINT) {
		enum lethe_rearm r;
		int got = get_name(o, "rearm", req->rearm, sizeof(req->rearm), why, whylen);

		if (got < 0 || (!got && lethe_rearm_parse(req->rearm, &r))) {
			err = fail(why, whylen, "\"rearm\" must be auto, uffd, softdirty, retwin or ever");
			goto out;
		}
	}
	if (json_object_object_get_ex(o, "protect", &v)) {
		size_t n;

		if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) > LD_PROTECT_MAX) {
			err = fail(why, whylen, "\"protect\" must be a list of at most %d paths", LD_PROTECT_MAX);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			const char *path = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;

			if (!path || path[0] != '/' || strlen(path) >= LD_PROTECT_LEN) {
				err = fail(why, whylen, "\"protect\" entries must be absolute paths");
				goto out;
			}
			strcpy(req->protect[req->nprotect++], path);
		}
	}
out:
	json_object_put(o);
	return err;
}

json_object *ld_request_to_json(const struct ld_request *req)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "op", json_object_new_string(ld_op_str(req->op)));
	if (ld_op_needs_pid(req->op) && req->pid)
		json_object_object_add(o, "pid", json_object_new_int(req->pid));
	if (req->container[0])
		json_object_object_add(o, "container", json_object_new_string(req->container));
	if (req->runtime[0])
		json_object_object_add(o, "runtime", json_object_new_string(req->runtime));
	if (req->runtime_root[0])
		json_object_object_add(o, "runtime_root", json_object_new_string(req->runtime_root));
	if (req->cgroup[0])
		json_object_object_add(o, "cgroup", json_object_new_string(req->cgroup));
	if (req->rearm[0])
		json_object_object_add(o, "rearm", json_object_new_string(req->rearm));
	if (ld_op_takes_verify(req->op))
		json_object_object_add(o, "verify", json_object_new_boolean(req->verify));
	if (req->nprotect) {
		json_object *a = json_object_new_array();

		for (size_t i = 0; i < req->nprotect; i++)
			json_object_array_add(a, json_object_new_string(req->protect[i]));
		json_object_object_add(o, "protect", a);
	}
	return o;
}

json_object *ld_response_ok(void)
{
	json_object *o = json_object_new_object();

	if (o)
		json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

json_object *ld_response_err(int err, const char *msg, const char *reason)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg ? msg : strerror(-err)));
	json_object_object_add(o, "errno", json_object_new_int(-err));
	if (reason)
		json_object_object_add(o, "reason", json_object_new_string(reason));
	return o;
}

int ld_response_parse(const char *line, json_object **out)
{
	json_object *o, *ok, *e;
	int64_t eno;

	*out = NULL;
	o = parse_strict(line, strlen(line));
	if (!o)
		return -EPROTO;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "ok", &ok) ||
	    !json_object_is_type(ok, json_type_boolean)) {
		json_object_put(o);
		return -EPROTO;
	}
	*out = o;
	if (json_object_get_boolean(ok))
		return 0;
	if (json_object_object_get_ex(o, "errno", &e) && json_object_is_type(e, json_type_int)) {
		eno = json_object_get_int64(e);
		if (eno > 0 && eno < 4096)
			return (int)-eno;
	}
	return -EIO;
}

const char *ld_response_error(json_object *o)
{
	json_object *e;

	if (o && json_object_object_get_ex(o, "error", &e) && json_object_is_type(e, json_type_string))
		return json_object_get_string(e);
	return "";
}

static int get_u64(json_object *o, const char *key, uint64_t *v)
{
	json_object *x;

	if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_int))
		return -EINVAL;
	*v = (uint64_t)json_object_get_int64(x);
	return 0;
}

static int get_bool(json_object *o, const char *key, bool *v)
{
	json_object *x;

	if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_boolean))
		return -EINVAL;
	*v = json_object_get_boolean(x);
	return 0;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *x;

	if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_string))
		return NULL;
	return json_object_get_string(x);
}

int ld_rewind_from_json(json_object *o, struct lethe_rewind_stats *st)
{
	struct {
		const char *name;
		uint64_t *v;
	} phases[] = {
		{ "stop", &st->us_stop },     { "drain", &st->us_drain },   { "tasks", &st->us_tasks },
		{ "layout", &st->us_layout }, { "copy", &st->us_copy },	    { "files", &st->us_files },
		{ "fds", &st->us_fds },
		{ "verify", &st->us_verify }, { "rearm", &st->us_rearm },   { "regs", &st->us_regs },
		{ "resume", &st->us_resume }, { "total", &st->us_total },
	};
	struct {
		const char *name;
		uint64_t *v;
	} counts[] = {
		{ "pages_restored", &st->pages_restored }, { "bytes_restored", &st->bytes_restored },
		{ "mappings_undone", &st->mappings_undone }, { "tasks_killed", &st->tasks_killed },
		{ "threads_ended", &st->threads_ended },   { "fds_closed", &st->fds_closed },
		{ "fds_restored", &st->fds_restored },	   { "epoch_flags", &st->epoch_flags },
		{ "verify_mismatches", &st->verify_mismatches }, { "cgroup_killed", &st->cgroup_killed },
		{ "files_restored", &st->files_restored },
	};
	const char *verify, *reason;
	json_object *ph;
	int err = 0;

	memset(st, 0, sizeof(*st));
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "phases_us", &ph) ||
	    !json_object_is_type(ph, json_type_object))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]) && !err; i++)
		err = get_u64(ph, phases[i].name, phases[i].v);
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]) && !err; i++)
		err = get_u64(o, counts[i].name, counts[i].v);
	if (!err)
		err = get_bool(o, "full_compare", &st->full_compare);
	if (!err)
		err = get_bool(o, "recycle", &st->recycle);
	if (err)
		return err;
	st->rearm = get_str(o, "rearm");
	verify = get_str(o, "verify");
	reason = get_str(o, "reason");
	if (!st->rearm || !verify || !reason)
		return -EINVAL;
	if (!strcmp(verify, "not_run"))
		st->verified = -1;
	else if (!strcmp(verify, "passed"))
		st->verified = 0;
	else if (!strcmp(verify, "failed"))
		st->verified = 1;
	else
		return -EINVAL;
	for (st->reason = 0; st->reason < LETHE_REASON_MAX; st->reason++)
		if (!strcmp(reason, lethe_reason_str(st->reason)))
			return 0;
	return -EINVAL;
}

ssize_t ld_proto_line(json_object *o, char **out)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t n;
	char *buf;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	n = strlen(s);
	buf = malloc(n + 2);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, s, n);
	buf[n] = '\n';
	buf[n + 1] = 0;
	*out = buf;
	return (ssize_t)(n + 1);
}

void ld_linebuf_init(struct ld_linebuf *lb, size_t max)
{
	memset(lb, 0, sizeof(*lb));
	lb->max = max;
}

void ld_linebuf_free(struct ld_linebuf *lb)
{
	if (!lb)
		return;
	free(lb->buf);
	lb->buf = NULL;
	lb->start = lb->len = lb->cap = 0;
}

int ld_linebuf_append(struct ld_linebuf *lb, const void *data, size_t n)
{
	size_t pending, partial;
	const char *nl;

	if (lb->start) {
		memmove(lb->buf, lb->buf + lb->start, lb->len - lb->start);
		lb->len -= lb->start;
		lb->start = 0;
	}
	/* the partial line is what follows the last newline, in the old data and the new */
	nl = n ? memrchr(data, '\n', n) : NULL;
	if (nl) {
		partial = n - (size_t)(nl + 1 - (const char *)data);
	} else {
		const char *old = lb->len ? memrchr(lb->buf, '\n', lb->len) : NULL;

		partial = (old ? lb->len - (size_t)(old + 1 - lb->buf) : lb->len) + n;
	}
	if (partial > lb->max)
		return -EMSGSIZE;
	pending = lb->len + n;
	if (pending + 1 > lb->cap) {
		size_t cap = lb->cap ? lb->cap : 256;
		char *p;

		while (cap < pending + 1)
			cap *= 2;
		p = realloc(lb->buf, cap);
		if (!p)
			return -ENOMEM;
		lb->buf = p;
		lb->cap = cap;
	}
	memcpy(lb->buf + lb->len, data, n);
	lb->len += n;
	return 0;
}

int ld_linebuf_next(struct ld_linebuf *lb, char **line)
{
	char *s, *nl;

	if (lb->start >= lb->len)
		return 0;
	s = lb->buf + lb->start;
	nl = memchr(s, '\n', lb->len - lb->start);
	if (!nl)
		return 0;
	*nl = 0;
	if (nl > s && nl[-1] == '\r')
		nl[-1] = 0;
	lb->start = (size_t)(nl + 1 - lb->buf);
	*line = s;
	return 1;
}

size_t ld_linebuf_pending(const struct ld_linebuf *lb)
{
	return lb->len - lb->start;
}
