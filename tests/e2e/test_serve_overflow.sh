#!/usr/bin/env bash
# Lost tracker records: with a 16 KiB ring, a request that dirties 2,000 pages
# overflows it. The rewind must notice (epoch flagged), fall back to a full
# memory comparison and a full diff of the protected directory, and still be
# exact: --verify passes, answers are rewound, no canary is left on disk.
set -euo pipefail
dir=$(mktemp -d /tmp/lethe-ovf.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/state"
seq 5 | sed 's/^/CANARY-/' >"$dir/in"
LETHE_TRACKER_RB_BYTES=16384 "$LETHE" serve --verify --protect "$dir/state" --report "$dir/report.jsonl" \
	-- "$B/demo/fn_runtime" --files "$dir/state" --dirty 2000 <"$dir/in" >"$dir/out"
[ "$(cut -d' ' -f1,2 "$dir/out" | sort -u)" = "ok 1" ]
if grep -rl CANARY "$dir/state"; then echo "canary left in the protected directory"; exit 1; fi
python3 - "$dir/report.jsonl" <<'PY'
import json, sys
reports = [json.loads(l) for l in open(sys.argv[1])]
assert len(reports) == 5, reports
for r in reports:
    assert r["epoch_flags"] & 2, r            # LETHE_EPOCH_LOST
    assert r["full_compare"] and r["files_full_diff"], r
    assert r["verify"] == "passed" and not r["recycle"], r
PY
