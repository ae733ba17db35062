#!/usr/bin/env bash
# lethe trace --pid follows a running process until SIGINT and reports the
# file it wrote and the child it started after we attached.
set -euo pipefail
dir=$(mktemp -d /tmp/lethe-e2e.XXXXXX)
mkfifo "$dir/go"
# the target blocks on the fifo, then writes a file and runs a child
bash -c 'read line < "$1"; echo secret > "$1.out"; /bin/true; sleep 60' _ "$dir/go" &
target=$!
cleanup() { kill "$target" 2>/dev/null || true; kill "$tracer" 2>/dev/null || true; rm -rf "$dir"; }
tracer=
trap cleanup EXIT
"$LETHE" trace --json --output "$dir/report.json" --pid "$target" 2>"$dir/err" &
tracer=$!
for _ in $(seq 100); do grep -q following "$dir/err" && break; sleep 0.1; done
grep -q following "$dir/err"
echo go > "$dir/go"
for _ in $(seq 100); do [ -s "$dir/go.out" ] && break; sleep 0.1; done
sleep 0.3
kill -INT "$tracer"
wait "$tracer"
python3 - "$dir/report.json" "$dir/go.out" "$target" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
files = {f["path"]: f["ops"] for f in r["files"]}
assert "create" in files.get(sys.argv[2], []), files
kids = [t for t in r["tasks"] if t["kind"] == "process" and t["parent"] == int(sys.argv[3])]
assert len(kids) >= 1, r["tasks"]
PY
