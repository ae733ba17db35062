#!/usr/bin/env bash
# 1,000 consecutive verified rewinds of one runtime: PSS of target + twin,
# the target's fd count and zombies stay flat from round 100 to the end.
set -euo pipefail
"$B/tests/e2e/rewind_leak" --soak 1000 "$B/demo/fn_runtime"
