#!/usr/bin/env bash
# lethe trace -- leaky: the report names >= 100 dirty pages in the new 1 MiB
# mapping, the created file with its create/write ops, and the forked child.
set -euo pipefail
dir=$(mktemp -d /tmp/lethe-e2e.XXXXXX)
trap 'rm -rf "$dir"' EXIT

"$LETHE" trace --json --output "$dir/report.json" -- "$B/demo/leaky" "$dir" >"$dir/stdout"
python3 - "$dir/report.json" "$dir" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d = sys.argv[2]
pid = r["target"]["pid"]
assert r["target"]["exit_status"] == 0, r["target"]
maps = [m for m in r["mappings"] if m["op"] == "mmap" and m["length"] == 1 << 20 and m["pid"] == pid]
assert len(maps) == 1, maps
start = int(maps[0]["start"], 16)
groups = [g for g in r["pages"] if g["pid"] == pid and int(g["start"], 16) <= start < int(g["end"], 16)]
assert len(groups) == 1 and groups[0]["mapping"] == "anon", groups
assert groups[0]["dirty_pages"] >= 100, groups
files = {f["path"]: f["ops"] for f in r["files"]}
f = files.get(d + "/lethe-demo-secret.txt")
assert f and "create" in f and "write" in f, files
kids = [t for t in r["tasks"] if t["kind"] == "process" and t["parent"] == pid]
assert len(kids) == 1 and not kids[0]["alive"], r["tasks"]
c = r["counters"]
assert c["ringbuf_drops"] == 0 and c["faults"] >= 100, c
PY
# the table names the same things
"$LETHE" trace -- "$B/demo/leaky" "$dir" >"$dir/table"
grep -q "DIRTY PAGES" "$dir/table"
grep -q "lethe-demo-secret.txt .*create" "$dir/table"
grep -qE "process +leaky +no" "$dir/table"
