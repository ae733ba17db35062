#!/usr/bin/env bash
# Files: a runtime keeps state in a protected directory; each request creates,
# appends to, truncates, deletes, renames, chmods and xattrs files there, and
# makes a directory tree. After every verified rewind the directory equals its
# checkpoint state (names, types, contents, modes, xattrs), no canary remains,
# and the log file is the same inode the runtime still has open.
set -euo pipefail
dir=$(mktemp -d /tmp/lethe-files.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/state"
seq 20 | sed 's/^/CANARY-/' >"$dir/in"
"$LETHE" serve --verify --protect "$dir/state" --report "$dir/report.jsonl" \
	-- "$B/demo/fn_runtime" --files "$dir/state" <"$dir/in" >"$dir/out"
[ "$(wc -l <"$dir/out")" -eq 20 ]
[ "$(cut -d' ' -f1,2 "$dir/out" | sort -u)" = "ok 1" ]
if grep -rl CANARY "$dir/state"; then echo "canary left in the protected directory"; exit 1; fi
python3 - "$dir/state" "$dir/report.jsonl" <<'PY'
import json, os, sys
d = sys.argv[1]
names = sorted(os.listdir(d))
assert names == ["config", "log", "renamed", "victim"], names
assert open(os.path.join(d, "victim")).read() == "keep me\n"
assert open(os.path.join(d, "config")).read() == "setting=1\n"
assert os.stat(os.path.join(d, "config")).st_mode & 0o777 == 0o644
assert os.path.getsize(os.path.join(d, "log")) == 0
assert "user.request" not in os.listxattr(os.path.join(d, "config"))
reports = [json.loads(l) for l in open(sys.argv[2])]
assert len(reports) == 20
for r in reports:
    assert r["verify"] == "passed" and r["files_restored"] >= 6 and not r["files_full_diff"], r
PY
