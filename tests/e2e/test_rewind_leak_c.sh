#!/usr/bin/env bash
# The rewind engine on a real C runtime: 200 requests, each planting a fresh
# canary in heap, stack, globals, new/remapped/mremapped memory, brk, a thread,
# a child and an fd; after every rewind 0 canary hits and --verify passes.
set -euo pipefail
"$B/tests/e2e/rewind_leak" 200 "$B/demo/fn_runtime"
