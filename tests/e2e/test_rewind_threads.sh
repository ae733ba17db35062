#!/usr/bin/env bash
# A multi-threaded runtime: 4 worker threads exist at the checkpoint, blocked
# in read(); every request is answered by one of them, so they must keep
# working after each of 100 verified rewinds.
set -euo pipefail
"$B/tests/e2e/rewind_leak" 100 "$B/demo/fn_runtime" --workers 4
