/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What one rewind did (struct lethe_rewind_stats) as JSON or one human line,
 * shared by serve, the daemon and the benchmarks.
 */
#ifndef LETHE_LOADER_REWIND_FMT_H
#define LETHE_LOADER_REWIND_FMT_H

#include <stdio.h>
#include <json-c/json.h>
#include "lethe/lethe.h"

/* A new json-c object (caller puts it): phases_us{}, pages, bytes, ..., verify, reason. */
json_object *ld_rewind_to_json(const struct lethe_rewind_stats *st);
/* One line: "rewind 312 us: 18 pages, 3 mappings, 1 task, 1 thread, 1 fd; rearm retwin; verify ok". */
void ld_rewind_print_line(FILE *out, const struct lethe_rewind_stats *st);

#endif /* LETHE_LOADER_REWIND_FMT_H */
