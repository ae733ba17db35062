/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The client end of the daemon protocol: connect, send one request, read one
 * response. Used by the checkpoint, rewind, report, release and status commands.
 */
#ifndef LETHE_LOADER_CLIENT_H
#define LETHE_LOADER_CLIENT_H

#include <json-c/json.h>
#include "proto.h"

/*
 * Send req to the daemon listening at path and wait for its answer (no timeout:
 * a rewind takes as long as it takes). Returns 0 with *resp (caller puts it) and
 * *derr, the daemon's verdict (0 for "ok":true, else its -errno); or a transport
 * -errno with *resp NULL: -ENOENT/-ECONNREFUSED/-ENOTSOCK no daemon there, -EACCES
 * not permitted, -ECONNRESET/-EPIPE/-ECONNABORTED it went away, -EPROTO garbage.
 */
int ld_client_call(const char *path, const struct ld_request *req, json_object **resp, int *derr);

#endif /* LETHE_LOADER_CLIENT_H */
