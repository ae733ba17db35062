// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for loader/proto.c: what the daemon accepts, what it answers, line framing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"
#include "loader/proto.h"
#include "loader/rewind_fmt.h"

static int parse(const char *line, struct ld_request *r)
{
	char why[128] = "";
	int err = ld_request_parse(line, r, why, sizeof(why));

	/* every refusal says why */
	if (err)
		CU_ASSERT(why[0] != 0);
	return err;
}

static void test_proto_parse_every_op(void)
{
	struct ld_request r;

	CU_ASSERT_EQUAL(parse("{\"op\":\"checkpoint\",\"pid\":42,\"verify\":true}", &r), 0);
	CU_ASSERT_EQUAL(r.op, LD_OP_CHECKPOINT);
	CU_ASSERT_EQUAL(r.pid, 42);
	CU_ASSERT_TRUE(r.verify);
	CU_ASSERT_EQUAL(parse(" {\"pid\": 7, \"op\": \"rewind\"} \r\n", &r), 0);
	CU_ASSERT_EQUAL(r.op, LD_OP_REWIND);
	CU_ASSERT_EQUAL(r.pid, 7);
	CU_ASSERT_FALSE(r.verify);
	CU_ASSERT_EQUAL(parse("{\"op\":\"report\",\"pid\":1}", &r), 0);
	CU_ASSERT_EQUAL(r.op, LD_OP_REPORT);
	CU_ASSERT_EQUAL(parse("{\"op\":\"release\",\"pid\":2147483647}", &r), 0);
	CU_ASSERT_EQUAL(r.op, LD_OP_RELEASE);
	CU_ASSERT_EQUAL(r.pid, 2147483647);
	CU_ASSERT_EQUAL(parse("{\"op\":\"status\"}", &r), 0);
	CU_ASSERT_EQUAL(r.op, LD_OP_STATUS);
	CU_ASSERT_EQUAL(r.pid, 0);
}

static void test_proto_parse_malformed(void)
{
	static const char *const bad[] = {
		"",
		"not json",
		"{\"op\":\"status\"",
		"{\"op\":\"status\"} trailing",
		"{\"op\":\"status\"}{\"op\":\"status\"}",
		"[\"status\"]",
		"42",
		"{}",
		"{\"op\":7}",
		"{\"op\":\"frobnicate\",\"pid\":1}",
		"{\"op\":\"rewind\"}",
		"{\"op\":\"rewind\",\"pid\":\"12\"}",
		"{\"op\":\"rewind\",\"pid\":12.5}",
		"{\"op\":\"rewind\",\"pid\":true}",
		"{\"op\":\"rewind\",\"pid\":0}",
		"{\"op\":\"rewind\",\"pid\":-3}",
		"{\"op\":\"rewind\",\"pid\":2147483648}",
		"{\"op\":\"rewind\",\"pid\":99999999999999999999999}",
		"{\"op\":\"rewind\",\"pid\":1,\"verify\":1}",
		"{\"op\":\"rewind\",\"pid\":1,\"veriy\":true}",
		"{\"op\":\"status\",\"pid\":1}",
		"{\"op\":\"report\",\"pid\":1,\"verify\":true}",
		"{'op':'status'}",
	};
	struct ld_request r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = parse(bad[i], &r);

		if (err != -EINVAL)
			fprintf(stderr, "\naccepted: %s\n", bad[i]);
		CU_ASSERT_EQUAL(err, -EINVAL);
	}
	CU_ASSERT_EQUAL(ld_request_parse(NULL, &r, NULL, 0), -EINVAL);
}

static void test_proto_parse_reason_names_the_problem(void)
{
	struct ld_request r;
	char why[128];

	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"frob\"}", &r, why, sizeof(why)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "unknown op 'frob'"));
	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"rewind\",\"pid\":1,\"x\":1}", &r, why, sizeof(why)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "unknown field 'x'"));
	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"rewind\"}", &r, why, sizeof(why)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "pid"));
}

/* what a client writes, the daemon reads back unchanged */
static void test_proto_request_roundtrip(void)
{
	for (enum ld_op op = 0; op < LD_OP_MAX; op++) {
		struct ld_request in = { .op = op, .pid = ld_op_needs_pid(op) ? 1234 : 0,
					 .verify = ld_op_takes_verify(op) };
		struct ld_request out;
		json_object *o = ld_request_to_json(&in);
		char *line = NULL;
		ssize_t n;

		CU_ASSERT_FATAL(o != NULL);
		n = ld_proto_line(o, &line);
		CU_ASSERT_FATAL(n > 0 && line != NULL);
		CU_ASSERT_EQUAL(line[n - 1], '\n');
		CU_ASSERT_PTR_NULL(memchr(line, '\n', n - 1));
		line[n - 1] = 0;
		CU_ASSERT_EQUAL(parse(line, &out), 0);
		CU_ASSERT_EQUAL(out.op, in.op);
		CU_ASSERT_EQUAL(out.pid, in.pid);
		CU_ASSERT_EQUAL(out.verify, in.verify);
		free(line);
		json_object_put(o);
	}
}

static void test_proto_response_parse(void)
{
	json_object *o, *r;
	char *line;

	CU_ASSERT_EQUAL(ld_response_parse("{\"ok\":true,\"pid\":3}", &r), 0);
	CU_ASSERT_PTR_NOT_NULL(r);
	json_object_put(r);

	o = ld_response_err(-ENOENT, "pid 9 is not checkpointed", NULL);
	CU_ASSERT_FATAL(ld_proto_line(o, &line) > 0);
	CU_ASSERT_EQUAL(ld_response_parse(line, &r), -ENOENT);
	CU_ASSERT_STRING_EQUAL(ld_response_error(r), "pid 9 is not checkpointed");
	CU_ASSERT_FALSE(json_object_object_get_ex(r, "reason", NULL));
	json_object_put(r);
	json_object_put(o);
	free(line);

	o = ld_response_err(-ENOTRECOVERABLE, NULL, "target_died");
	CU_ASSERT_FATAL(ld_proto_line(o, &line) > 0);
	CU_ASSERT_EQUAL(ld_response_parse(line, &r), -ENOTRECOVERABLE);
	CU_ASSERT_STRING_EQUAL(ld_response_error(r), strerror(ENOTRECOVERABLE));
	CU_ASSERT_TRUE(json_object_object_get_ex(r, "reason", NULL));
	json_object_put(r);
	json_object_put(o);
	free(line);

	/* a refusal without an errno is still a failure */
	CU_ASSERT_EQUAL(ld_response_parse("{\"ok\":false}", &r), -EIO);
	json_object_put(r);
	CU_ASSERT_EQUAL(ld_response_parse("{\"ok\":false,\"errno\":-5}", &r), -EIO);
	json_object_put(r);
	CU_ASSERT_EQUAL(ld_response_parse("garbage", &r), -EPROTO);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_EQUAL(ld_response_parse("{\"ok\":1}", &r), -EPROTO);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_EQUAL(ld_response_parse("{\"pid\":1}", &r), -EPROTO);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_STRING_EQUAL(ld_response_error(NULL), "");
}

/* the client rebuilds the daemon's stats from JSON to print the same line */
static void test_proto_rewind_stats_roundtrip(void)
{
	struct lethe_rewind_stats in = {
		.us_stop = 1, .us_drain = 2, .us_tasks = 3, .us_layout = 4, .us_copy = 5, .us_fds = 6,
		.us_verify = 7, .us_rearm = 8, .us_regs = 9, .us_resume = 10, .us_total = 55,
		.pages_restored = 18, .bytes_restored = 18 * 4096, .mappings_undone = 3, .tasks_killed = 1,
		.threads_ended = 1, .fds_closed = 1, .fds_restored = 2, .epoch_flags = 5, .rearm = "retwin",
		.verified = 1, .verify_mismatches = 4, .full_compare = true,
		.reason = LETHE_REASON_VERIFY_FAILED, .recycle = true,
	};
	struct lethe_rewind_stats out;
	json_object *o = ld_rewind_to_json(&in);

	CU_ASSERT_EQUAL_FATAL(ld_rewind_from_json(o, &out), 0);
	CU_ASSERT_STRING_EQUAL(out.rearm, "retwin");
	/* field by field: the struct has padding */
	CU_ASSERT_EQUAL(out.us_stop, 1);
	CU_ASSERT_EQUAL(out.us_drain, 2);
	CU_ASSERT_EQUAL(out.us_tasks, 3);
	CU_ASSERT_EQUAL(out.us_layout, 4);
	CU_ASSERT_EQUAL(out.us_copy, 5);
	CU_ASSERT_EQUAL(out.us_fds, 6);
	CU_ASSERT_EQUAL(out.us_verify, 7);
	CU_ASSERT_EQUAL(out.us_rearm, 8);
	CU_ASSERT_EQUAL(out.us_regs, 9);
	CU_ASSERT_EQUAL(out.us_resume, 10);
	CU_ASSERT_EQUAL(out.us_total, 55);
	CU_ASSERT_EQUAL(out.pages_restored, 18);
	CU_ASSERT_EQUAL(out.bytes_restored, 18 * 4096);
	CU_ASSERT_EQUAL(out.mappings_undone, 3);
	CU_ASSERT_EQUAL(out.tasks_killed, 1);
	CU_ASSERT_EQUAL(out.threads_ended, 1);
	CU_ASSERT_EQUAL(out.fds_closed, 1);
	CU_ASSERT_EQUAL(out.fds_restored, 2);
	CU_ASSERT_EQUAL(out.epoch_flags, 5);
	CU_ASSERT_EQUAL(out.verified, 1);
	CU_ASSERT_EQUAL(out.verify_mismatches, 4);
	CU_ASSERT_TRUE(out.full_compare);
	CU_ASSERT_EQUAL(out.reason, LETHE_REASON_VERIFY_FAILED);
	CU_ASSERT_TRUE(out.recycle);
	json_object_put(o);

	in.verified = -1;
	in.reason = LETHE_REASON_NONE;
	in.recycle = false;
	o = ld_rewind_to_json(&in);
	CU_ASSERT_EQUAL(ld_rewind_from_json(o, &out), 0);
	CU_ASSERT_EQUAL(out.verified, -1);
	CU_ASSERT_EQUAL(out.reason, LETHE_REASON_NONE);
	json_object_object_del(o, "pages_restored");
	CU_ASSERT_EQUAL(ld_rewind_from_json(o, &out), -EINVAL);
	json_object_put(o);
	CU_ASSERT_EQUAL(ld_rewind_from_json(NULL, &out), -EINVAL);
}

static void test_proto_linebuf_split(void)
{
	struct ld_linebuf lb;
	char *line;

	ld_linebuf_init(&lb, 16);
	CU_ASSERT_EQUAL(ld_linebuf_next(&lb, &line), 0);
	CU_ASSERT_EQUAL(ld_linebuf_append(&lb, "ab", 2), 0);
	CU_ASSERT_EQUAL(ld_linebuf_next(&lb, &line), 0);
	CU_ASSERT_EQUAL(ld_linebuf_append(&lb, "c\r\nde\n\nf", 8), 0);
	CU_ASSERT_EQUAL_FATAL(ld_linebuf_next(&lb, &line), 1);
	CU_ASSERT_STRING_EQUAL(line, "abc");
	CU_ASSERT_EQUAL_FATAL(ld_linebuf_next(&lb, &line), 1);
	CU_ASSERT_STRING_EQUAL(line, "de");
	CU_ASSERT_EQUAL_FATAL(ld_linebuf_next(&lb, &line), 1);
	CU_ASSERT_STRING_EQUAL(line, "");
	CU_ASSERT_EQUAL(ld_linebuf_next(&lb, &line), 0);
	CU_ASSERT_EQUAL(ld_linebuf_pending(&lb), 1);
	CU_ASSERT_EQUAL(ld_linebuf_append(&lb, "g\n", 2), 0);
	CU_ASSERT_EQUAL_FATAL(ld_linebuf_next(&lb, &line), 1);
	CU_ASSERT_STRING_EQUAL(line, "fg");
	CU_ASSERT_EQUAL(ld_linebuf_pending(&lb), 0);
	ld_linebuf_free(&lb);
	ld_linebuf_free(NULL);
}

static void test_proto_linebuf_bounded(void)
{
	char big[40];
	struct ld_linebuf lb;
	char *line;

	memset(big, 'x', sizeof(big));
	ld_linebuf_init(&lb, 16);
	/* exactly max is fine, one more byte is not */
	CU_ASSERT_EQUAL(ld_linebuf_append(&lb, big, 16), 0);
	CU_ASSERT_EQUAL(ld_linebuf_append(&lb, big, 1), -EMSGSIZE);
	CU_ASSERT_EQUAL(ld_linebuf_append(&lb, "\n", 1), 0);
	CU_ASSERT_EQUAL_FATAL(ld_linebuf_next(&lb, &line), 1);
	CU_ASSERT_EQUAL(strlen(line), 16);
	/* many complete lines in one chunk are not one long line */
	for (size_t i = 0; i < sizeof(big); i += 4)
		big[i] = '\n';
	CU_ASSERT_EQUAL(ld_linebuf_append(&lb, big, sizeof(big)), 0);
	/* the chunk ended in a 3-byte partial line: 13 more make 16, 14 would make 17 */
	memset(big, 'y', sizeof(big));
	CU_ASSERT_EQUAL(ld_linebuf_append(&lb, big, 14), -EMSGSIZE);
	CU_ASSERT_EQUAL(ld_linebuf_append(&lb, big, 13), 0);
	for (int i = 0; i < 10; i++) /* an empty line, then 9 of "xxx" */
		CU_ASSERT_EQUAL(ld_linebuf_next(&lb, &line), 1);
	CU_ASSERT_EQUAL(ld_linebuf_next(&lb, &line), 0);
	CU_ASSERT_EQUAL(ld_linebuf_pending(&lb), 16);
	ld_linebuf_free(&lb);
}

static void test_proto_parse_protect(void)
{
	struct ld_request r, back;
	json_object *o;
	char why[128];

	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"checkpoint\",\"pid\":7,\"protect\":[\"/srv/a\",\"/tmp\"]}", &r,
					 why, sizeof(why)),
			0);
	CU_ASSERT_EQUAL(r.nprotect, 2);
	CU_ASSERT_STRING_EQUAL(r.protect[0], "/srv/a");
	CU_ASSERT_STRING_EQUAL(r.protect[1], "/tmp");
	/* it survives the client's serialisation */
	o = ld_request_to_json(&r);
	CU_ASSERT_EQUAL(ld_request_parse(json_object_to_json_string(o), &back, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(back.nprotect, 2);
	CU_ASSERT_STRING_EQUAL(back.protect[1], "/tmp");
	json_object_put(o);
	/* not a list, a relative path, too many, or on another op */
	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"checkpoint\",\"pid\":7,\"protect\":\"/srv\"}", &r, why,
					 sizeof(why)),
			-EINVAL);
	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"checkpoint\",\"pid\":7,\"protect\":[\"srv\"]}", &r, why,
					 sizeof(why)),
			-EINVAL);
	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"checkpoint\",\"pid\":7,\"protect\":[\"/1\",\"/2\",\"/3\","
					 "\"/4\",\"/5\",\"/6\",\"/7\",\"/8\",\"/9\"]}",
					 &r, why, sizeof(why)),
			-EINVAL);
	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"rewind\",\"pid\":7,\"protect\":[\"/srv\"]}", &r, why,
					 sizeof(why)),
			-EINVAL);
}

/* A sandbox named by container or cgroup instead of pid; exactly one name, well formed. */
static void test_proto_parse_names(void)
{
	static const char *const bad[] = {
		"{\"op\":\"rewind\"}",
		"{\"op\":\"rewind\",\"pid\":3,\"container\":\"fn\"}",
		"{\"op\":\"rewind\",\"container\":\"\"}",
		"{\"op\":\"rewind\",\"container\":\"../x\"}",
		"{\"op\":\"rewind\",\"container\":\"-x\"}",
		"{\"op\":\"rewind\",\"container\":7}",
		"{\"op\":\"rewind\",\"container\":\"fn\",\"runtime\":\"docker\"}",
		"{\"op\":\"rewind\",\"pid\":3,\"runtime\":\"runc\"}",
		"{\"op\":\"rewind\",\"container\":\"fn\",\"runtime_root\":\"run/runc\"}",
		"{\"op\":\"rewind\",\"cgroup\":\"fn\"}",
		"{\"op\":\"rewind\",\"pid\":3,\"cgroup\":\"/sys/fs/cgroup/fn\"}",
		"{\"op\":\"status\",\"container\":\"fn\"}",
	};
	struct ld_request r, back;
	json_object *o;
	char why[160];

	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"checkpoint\",\"container\":\"fn-1\",\"runtime\":\"crun\","
					 "\"runtime_root\":\"/run/crun\",\"protect\":[\"/data\"]}",
					 &r, why, sizeof(why)),
			0);
	CU_ASSERT_STRING_EQUAL(r.container, "fn-1");
	CU_ASSERT_STRING_EQUAL(r.runtime, "crun");
	CU_ASSERT_STRING_EQUAL(r.runtime_root, "/run/crun");
	CU_ASSERT_EQUAL(r.pid, 0);
	o = ld_request_to_json(&r);
	CU_ASSERT_EQUAL(ld_request_parse(json_object_to_json_string(o), &back, why, sizeof(why)), 0);
	CU_ASSERT_STRING_EQUAL(back.container, "fn-1");
	CU_ASSERT_STRING_EQUAL(back.runtime_root, "/run/crun");
	json_object_put(o);
	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"release\",\"cgroup\":\"/sys/fs/cgroup/fn\"}", &r, why,
					 sizeof(why)),
			0);
	CU_ASSERT_STRING_EQUAL(r.cgroup, "/sys/fs/cgroup/fn");
	/* a checkpoint may name the process and the cgroup that is its sandbox */
	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"checkpoint\",\"pid\":9,\"cgroup\":\"/sys/fs/cgroup/fn\"}", &r,
					 why, sizeof(why)),
			0);
	CU_ASSERT_EQUAL(r.pid, 9);
	/* and, in a container, the process to rewind (the runtime under an init shim) */
	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"checkpoint\",\"pid\":9,\"container\":\"fn\"}", &r, why,
					 sizeof(why)),
			0);
	CU_ASSERT(r.pid == 9 && !strcmp(r.container, "fn"));
	/* a checkpoint may pick its re-arm method; only known ones, only there */
	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"checkpoint\",\"pid\":9,\"rearm\":\"softdirty\"}", &r, why,
					 sizeof(why)),
			0);
	CU_ASSERT_STRING_EQUAL(r.rearm, "softdirty");
	o = ld_request_to_json(&r);
	CU_ASSERT_EQUAL(ld_request_parse(json_object_to_json_string(o), &back, why, sizeof(why)), 0);
	CU_ASSERT_STRING_EQUAL(back.rearm, "softdirty");
	json_object_put(o);
	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"checkpoint\",\"pid\":9,\"rearm\":\"fast\"}", &r, why,
					 sizeof(why)),
			-EINVAL);
	CU_ASSERT_EQUAL(ld_request_parse("{\"op\":\"rewind\",\"pid\":9,\"rearm\":\"uffd\"}", &r, why, sizeof(why)),
			-EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = ld_request_parse(bad[i], &r, why, sizeof(why));

		if (err != -EINVAL)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CU_ASSERT_EQUAL(err, -EINVAL);
		CU_ASSERT(why[0] != 0);
	}
}

UNIT_SUITE(proto, UNIT_CASE(test_proto_parse_names), UNIT_CASE(test_proto_parse_protect), UNIT_CASE(test_proto_parse_every_op), UNIT_CASE(test_proto_parse_malformed),
	   UNIT_CASE(test_proto_parse_reason_names_the_problem), UNIT_CASE(test_proto_request_roundtrip),
	   UNIT_CASE(test_proto_response_parse), UNIT_CASE(test_proto_rewind_stats_roundtrip),
	   UNIT_CASE(test_proto_linebuf_split), UNIT_CASE(test_proto_linebuf_bounded))
