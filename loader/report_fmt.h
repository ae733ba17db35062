/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Rendering of persistence-point reports (struct ld_trace) as a table or JSON.
 */
#ifndef LETHE_LOADER_REPORT_FMT_H
#define LETHE_LOADER_REPORT_FMT_H

#include <errno.h>
#include <stdio.h>
#include <json-c/json.h>
#include "trace.h"
#include "tracker.h"

/* What the report says about the run as a whole. */
struct ld_trace_summary {
	pid_t pid;
	char comm[LETHE_COMM_LEN + 1];
	bool exited;
	int exit_status;
	int exit_signal;
	double duration_ms;
	const char *flavour;
	uint64_t stats[LETHE_STAT_MAX];
	uint64_t epoch_flags;
	uint64_t dirty_pages;
};

/* A new json-c array of the names of the file operations set in ops (1 << enum lethe_file_op). */
json_object *ld_file_ops_json(uint32_t ops);

/* A new json-c object (caller puts it) with pages, mappings, tasks, files, counters. */
json_object *ld_trace_to_json(const struct ld_trace *t, const struct ld_trace_summary *s);
int ld_trace_print_json(FILE *out, const struct ld_trace *t, const struct ld_trace_summary *s);
int ld_trace_print_table(FILE *out, const struct ld_trace *t, const struct ld_trace_summary *s);

#endif /* LETHE_LOADER_REPORT_FMT_H */
