#!/usr/bin/env bash
# A write the tracker cannot see page by page: each request of fn_runtime --gup
# also writes its canary into its own memory with process_vm_writev (GUP). The
# tracker only flags the epoch; the kernel's written set (uffd-wp here,
# soft-dirty in the 6.1 guest, which passes LETHE_LEAK_ARGS) must restore the
# page without a full compare: 0 canary hits, --verify passes, every round.
set -euo pipefail
"$B/tests/e2e/rewind_leak" ${LETHE_LEAK_ARGS:-} --expect-gup 50 "$B/demo/fn_runtime" --gup
