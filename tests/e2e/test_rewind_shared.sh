#!/usr/bin/env bash
# Memory a fork-based twin cannot hold: shared anonymous memory, a memfd
# mapping, MADV_DONTFORK and MADV_WIPEONFORK ranges. Each request plants its
# canary in all four; after 50 verified rewinds no canary survives.
set -euo pipefail
"$B/tests/e2e/rewind_leak" 50 "$B/demo/fn_runtime" --shared
