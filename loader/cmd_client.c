// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `lethe checkpoint|rewind|report|release|status`: thin clients of `lethe daemon`,
 * which owns every sandbox. One request each; the daemon's answer as text or JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "client.h"
#include "proto.h"
#include "rewind_fmt.h"
#include "target.h"

struct client_opts {
	const char *socket;
	pid_t pid;
	struct ld_target_opts target; /* container, runtime, runtime root, cgroup */
	const char *rearm;
	bool verify;
	bool json;
	char *protect[LD_PROTECT_MAX];
	size_t nprotect;
};

static const char *const op_help[LD_OP_MAX] = {
	[LD_OP_CHECKPOINT] = "Checkpoint process PID in the daemon: from now on `lethe rewind --pid PID` puts it\n"
			     "back to this state. --verify makes every rewind of it verify. --protect DIR\n"
			     "(repeatable) makes DIR's files part of the sandbox.\n",
	[LD_OP_REWIND] = "Rewind process PID to its checkpoint. --verify compares every page, the layout,\n"
			 "threads and fds against the snapshot. Exit 6 means the rewind could not be\n"
			 "proven: the sandbox is marked for recycling and its target left stopped.\n",
	[LD_OP_REPORT] = "Show what the daemon knows about PID: its checkpoint, how many rewinds, and\n"
			 "what the last rewind did.\n",
	[LD_OP_RELEASE] = "Forget the checkpoint of PID: its snapshot twin is killed and the process\n"
			  "keeps running without lethe.\n",
	[LD_OP_STATUS] = "List every sandbox the daemon holds.\n",
};

static void client_usage(FILE *out, enum ld_op op)
{
	fprintf(out, "usage: %s %s%s%s [--json] [--socket PATH]\n\n%s\noptions:\n", ld_prog, ld_op_str(op),
		ld_op_needs_pid(op) ? " (--pid PID | --container ID | --cgroup PATH)" : "",
		ld_op_takes_verify(op) ? " [--verify]" : "", op_help[op]);
	if (ld_op_needs_pid(op))
		fprintf(out, "  -p, --pid PID       the target process\n"
			     "  -c, --container ID  the target is this container's init; at checkpoint its\n"
			     "                      cgroup, overlay upper dir and tmpfs mounts join the sandbox\n"
			     "      --runtime R     the container's OCI runtime: runc (default) or crun\n"
			     "      --runtime-root DIR  the runtime's state directory (its --root)\n"
			     "  -g, --cgroup PATH   every process of this cgroup directory is in the sandbox\n");
	if (op == LD_OP_CHECKPOINT)
		fprintf(out, "  -P, --protect PATH  PATH's files belong to the sandbox (repeatable; with\n"
			     "                      --container, a path as the container sees it)\n"
			     "      --rearm M       auto (default), uffd, softdirty, retwin or ever\n");
	if (ld_op_takes_verify(op))
		fprintf(out, "  -V, --verify        verify %s against the snapshot\n",
			op == LD_OP_CHECKPOINT ? "every rewind" : "this rewind");
	fprintf(out, "  -j, --json          print the daemon's response object\n"
		     "  -s, --socket PATH   the daemon's socket (default %s)\n"
		     "  -h, --help          show this help\n\n"
		     "exit status: 0 ok, 1 failed, 2 usage, 3 not permitted, 4 no such process or container,\n"
		     "5 unsupported or not checkpointed, 6 sandbox must be recycled, 7 daemon unreachable\n",
		LD_DEFAULT_SOCKET);
}

static int parse_opts(int argc, char **argv, enum ld_op op, struct client_opts *o)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },    { "verify", no_argument, NULL, 'V' },
		{ "protect", required_argument, NULL, 'P' },
		LD_TARGET_LONGOPTS,
		{ "rearm", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },	    { "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },	    {},
	};
	char *end, why[256];
	long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->socket = LD_DEFAULT_SOCKET;
	while ((c = getopt_long(argc, argv, "+p:c:g:P:Vjs:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (!ld_op_needs_pid(op)) {
				fprintf(stderr, "%s %s: --pid does not apply\n", ld_prog, ld_op_str(op));
				return -EINVAL;
			}
			if (errno || *end || !optarg[0] || v <= 0 || v > INT32_MAX) {
				fprintf(stderr, "%s %s: invalid pid '%s'\n", ld_prog, ld_op_str(op), optarg);
				return -EINVAL;
			}
			o->pid = (pid_t)v;
			break;
		case 'V':
			if (!ld_op_takes_verify(op)) {
				fprintf(stderr, "%s %s: --verify applies to checkpoint and rewind only\n", ld_prog,
					ld_op_str(op));
				return -EINVAL;
			}
			o->verify = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'P':
			if (op != LD_OP_CHECKPOINT || o->nprotect == LD_PROTECT_MAX) {
				fprintf(stderr, "%s %s: --protect applies to checkpoint, at most %d times\n", ld_prog,
					ld_op_str(op), LD_PROTECT_MAX);
				return -EINVAL;
			}
			o->protect[o->nprotect++] = strdup(optarg);
			break;
		case 'R': {
			enum lethe_rearm r;

			if (op != LD_OP_CHECKPOINT || lethe_rearm_parse(optarg, &r)) {
				fprintf(stderr, "%s %s: --rearm applies to checkpoint: auto, uffd, softdirty, retwin, ever\n",
					ld_prog, ld_op_str(op));
				return -EINVAL;
			}
			o->rearm = optarg;
			break;
		}
		case 's':
			o->socket = optarg;
			break;
		case 'h':
			client_usage(stdout, op);
			return 1;
		default:
			if (ld_target_opt(c, optarg, &o->target)) {
				if (ld_op_needs_pid(op))
					break;
				fprintf(stderr, "%s %s: takes no sandbox name\n", ld_prog, ld_op_str(op));
				return -EINVAL;
			}
			client_usage(stderr, op);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s %s: unexpected argument '%s'\n", ld_prog, ld_op_str(op), argv[optind]);
		return -EINVAL;
	}
	if (ld_op_needs_pid(op) && !o->pid && !o->target.container && !o->target.cgroup) {
		fprintf(stderr, "%s %s: name the sandbox with --pid, --container or --cgroup\n", ld_prog, ld_op_str(op));
		return -EINVAL;
	}
	if (o->pid && (o->target.container || o->target.cgroup) && op != LD_OP_CHECKPOINT) {
		/* at checkpoint --pid picks the process to rewind within the container or cgroup */
		fprintf(stderr, "%s %s: --pid and --%s name the sandbox twice\n", ld_prog, ld_op_str(op),
			o->target.container ? "container" : "cgroup");
		return -EINVAL;
	}
	if (ld_target_opts_check(&o->target, why, sizeof(why))) {
		fprintf(stderr, "%s %s: %s\n", ld_prog, ld_op_str(op), why);
		return -EINVAL;
	}
	/* the daemon shares our mount namespace: resolve host paths here; a container's are its own */
	for (size_t i = 0; i < o->nprotect; i++) {
		char *p = o->target.container ? strdup(o->protect[i]) : realpath(o->protect[i], NULL);

		if (!p || p[0] != '/' || strlen(p) >= LD_PROTECT_LEN) {
			fprintf(stderr, "%s %s: cannot protect '%s'\n", ld_prog, ld_op_str(op), o->protect[i]);
			free(p);
			return -EINVAL;
		}
		free(o->protect[i]);
		o->protect[i] = p;
	}
	return 0;
}

static int64_t get_i64(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static const char *get_str(json_object *o, const char *key, const char *dflt)
{
	json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return dflt;
}

/* The rewind line, from the stats object under key; false if there is none. */
static bool print_rewind(FILE *out, json_object *r, const char *key)
{
	struct lethe_rewind_stats st;
	json_object *v;

	if (!json_object_object_get_ex(r, key, &v) || ld_rewind_from_json(v, &st))
		return false;
	ld_rewind_print_line(out, &st);
	return true;
}

static void print_report(json_object *r)
{
	time_t at = (time_t)get_i64(r, "checkpointed_at");
	char when[64] = "?";
	struct tm tm;

	if (localtime_r(&at, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("pid %" PRId64 ": %s, twin %" PRId64 "\n", get_i64(r, "pid"), get_str(r, "state", "?"),
	       get_i64(r, "twin"));
	printf("checkpointed %s in %" PRId64 " us%s\n", when, get_i64(r, "checkpoint_us"),
	       json_object_get_boolean(json_object_object_get(r, "verify_always")) ? ", verifying every rewind" : "");
	printf("rewinds: %" PRId64 " done, %" PRId64 " failed\n", get_i64(r, "rewinds"), get_i64(r, "failed_rewinds"));
	printf("last: ");
	if (!print_rewind(stdout, r, "last_rewind"))
		printf("no rewind yet\n");
}

static void print_status(json_object *r)
{
	json_object *arr = json_object_object_get(r, "sandboxes");
	size_t n = arr ? json_object_array_length(arr) : 0;

	if (!n) {
		printf("no sandboxes (daemon pid %" PRId64 ")\n", get_i64(r, "daemon_pid"));
		return;
	}
	printf("%-8s %-8s %8s %10s  %-8s %s\n", "PID", "TWIN", "REWINDS", "LAST_US", "STATE", "CONTAINER");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i), *last;
		char us[24] = "-";

		if (json_object_object_get_ex(e, "last_rewind_us", &last) && last)
			snprintf(us, sizeof(us), "%" PRId64, json_object_get_int64(last));
		printf("%-8" PRId64 " %-8" PRId64 " %8" PRId64 " %10s  %-8s %s\n", get_i64(e, "pid"), get_i64(e, "twin"),
		       get_i64(e, "rewinds"), us, get_str(e, "state", "?"), get_str(e, "container", "-"));
	}
}

static void print_ok(enum ld_op op, json_object *r)
{
	switch (op) {
	case LD_OP_CHECKPOINT:
		printf("checkpointed pid %" PRId64 " in %" PRId64 " us (snapshot twin %" PRId64 ")\n",
		       get_i64(r, "pid"), get_i64(r, "checkpoint_us"), get_i64(r, "twin"));
		break;
	case LD_OP_REWIND:
		if (!print_rewind(stdout, r, "rewind"))
			printf("rewound pid %" PRId64 "\n", get_i64(r, "pid"));
		break;
	case LD_OP_REPORT:
		print_report(r);
		break;
	case LD_OP_RELEASE:
		printf("released pid %" PRId64 " after %" PRId64 " rewinds: it runs on without lethe\n",
		       get_i64(r, "pid"), get_i64(r, "rewinds"));
		break;
	default:
		print_status(r);
		break;
	}
}

static int run_op(int argc, char **argv, enum ld_op op)
{
	struct ld_request req = { .op = op };
	json_object *r = NULL;
	struct client_opts o;
	int err, derr;

	err = parse_opts(argc, argv, op, &o);
	if (err)
		return err > 0 ? LD_EXIT_OK : LD_EXIT_USAGE;
	req.pid = o.pid;
	req.verify = o.verify;
	if ((o.target.cgroup && strlen(o.target.cgroup) >= sizeof(req.cgroup)) ||
	    (o.target.runtime_root && strlen(o.target.runtime_root) >= sizeof(req.runtime_root))) {
		fprintf(stderr, "%s %s: path too long\n", ld_prog, ld_op_str(op));
		return LD_EXIT_USAGE;
	}
	snprintf(req.container, sizeof(req.container), "%s", o.target.container ? o.target.container : "");
	snprintf(req.runtime, sizeof(req.runtime), "%s", o.target.runtime ? o.target.runtime : "");
	snprintf(req.runtime_root, sizeof(req.runtime_root), "%s",
		 o.target.runtime_root ? o.target.runtime_root : "");
	snprintf(req.cgroup, sizeof(req.cgroup), "%s", o.target.cgroup ? o.target.cgroup : "");
	snprintf(req.rearm, sizeof(req.rearm), "%s", o.rearm ? o.rearm : "");
	for (size_t i = 0; i < o.nprotect; i++) {
		snprintf(req.protect[i], sizeof(req.protect[i]), "%s", o.protect[i]);
		free(o.protect[i]);
	}
	req.nprotect = o.nprotect;
	err = ld_client_call(o.socket, &req, &r, &derr);
	if (err == -EACCES || err == -EPERM) {
		fprintf(stderr, "%s %s: not permitted to reach the lethe daemon at %s (root only)\n", ld_prog,
			ld_op_str(op), o.socket);
		return LD_EXIT_PERM;
	}
	if (err) {
		if (err == -ENOENT || err == -ECONNREFUSED || err == -ENOTSOCK || err == -ENOTDIR)
			fprintf(stderr, "%s %s: cannot reach the lethe daemon at %s (is `lethe daemon` running?)\n",
				ld_prog, ld_op_str(op), o.socket);
		else
			fprintf(stderr, "%s %s: cannot reach the lethe daemon at %s: %s\n", ld_prog, ld_op_str(op),
				o.socket, strerror(-err));
		return LD_EXIT_DAEMON;
	}
	if (o.json)
		printf("%s\n", json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
	if (derr) {
		/* a failed rewind still says what it did before it gave up */
		if (!o.json && op == LD_OP_REWIND)
			print_rewind(stdout, r, "rewind");
		fprintf(stderr, "%s %s: %s\n", ld_prog, ld_op_str(op), ld_response_error(r));
	} else if (!o.json) {
		print_ok(op, r);
	}
	json_object_put(r);
	if (fflush(stdout))
		return LD_EXIT_FAIL;
	return ld_exit_from_err(derr);
}

/* Each entry point below parses its options, makes one call and returns an ld_exit code. */
int cmd_checkpoint(int argc, char **argv)
{
	return run_op(argc, argv, LD_OP_CHECKPOINT);
}

int cmd_rewind(int argc, char **argv)
{
	return run_op(argc, argv, LD_OP_REWIND);
}

int cmd_report(int argc, char **argv)
{
	return run_op(argc, argv, LD_OP_REPORT);
}

int cmd_release(int argc, char **argv)
{
	return run_op(argc, argv, LD_OP_RELEASE);
}

int cmd_status(int argc, char **argv)
{
	return run_op(argc, argv, LD_OP_STATUS);
}
