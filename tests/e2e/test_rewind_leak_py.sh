#!/usr/bin/env bash
# The rewind engine on a Python 3 runtime: 50 requests, each planting a canary
# in globals, a bytearray, a new mmap, a heap string, a thread, a forked child
# and an fd; after every rewind 0 canary hits and --verify passes.
set -euo pipefail
cd "$(dirname "$0")/../.."
"$B/tests/e2e/rewind_leak" 50 python3 -u tests/demo/fn_runtime.py
