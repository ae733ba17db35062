#!/usr/bin/env bash
# The rewind engine on a real C runtime: 200 requests, each planting a fresh
# canary in heap, stack, globals, new/remapped/mremapped memory, brk, a thread,
# a child and an fd; after every rewind 0 canary hits and --verify passes.
# LETHE_LEAK_ARGS adds rewind_leak options (the 6.1 guest of tests/kpatch/
# passes --expect-copy/--expect-rearm), LETHE_LEAK_ROUNDS changes the 200.
set -euo pipefail
"$B/tests/e2e/rewind_leak" ${LETHE_LEAK_ARGS:-} "${LETHE_LEAK_ROUNDS:-200}" "$B/demo/fn_runtime"
