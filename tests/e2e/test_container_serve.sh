#!/usr/bin/env bash
# Issue 4's done-check: tests/demo/fn_container.py as the init of a runc
# container (overlay rootfs, tmpfs /tmp, host dir at /data) serves 100 requests
# through `lethe serve --container ID --verify --report`, each planting a canary
# in memory, a thread, a child, an fd, a background process and files of the
# upper layer and /tmp (new, appended, copied-up lower, deleted, renamed, tree,
# xattr, chmod). Every answer is "ok 1", every rewind verified; after sampled
# rewinds no canary is in the memory of any process of the container's cgroup,
# nor in the upper dir or /tmp; the upper dir, /tmp and the container's /srv and
# /opt/lethe equal their checkpoint state (xattrs incl. trusted.overlay.*); the
# cgroup holds only init and the twin; the report of request 1 lists the files
# (ops, action), pages and tasks. A control run without lethe first proves the
# same checks see every plant; an unknown container id exits 4.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${LETHE:?set LETHE to the lethe binary}"
source tests/container/lib.sh
trap ctr_cleanup_with_driver EXIT

# control: no lethe, the checks must see the leaks
ctr_setup serve-ctl -- python3 -u /opt/fn/fn_container.py
setsid "$PY" tests/container/serve_driver.py control --id "$CTR_ID" --bundle "$CTR_BUNDLE" \
	--upper "$CTR_UPPER" --requests 2 &
CTR_DRV=$!
wait $CTR_DRV
CTR_DRV=
ctr_teardown serve-ctl

ctr_setup serve -- python3 -u /opt/fn/fn_container.py
# a container runc does not know: exit 4, and the message names it
rc=0
"$LETHE" serve --container "nosuch-$$" -- sh -c 'echo ready; exec sleep 60' </dev/null >/dev/null 2>"$CTR_DIR/nosuch.err" || rc=$?
[ $rc -eq 4 ] && grep -q "nosuch-$$" "$CTR_DIR/nosuch.err" ||
	{ echo "FAIL: serve --container nosuch: exit $rc, $(cat "$CTR_DIR/nosuch.err")"; exit 1; }

setsid "$PY" tests/container/serve_driver.py lethe --lethe "$LETHE" --id "$CTR_ID" --bundle "$CTR_BUNDLE" \
	--upper "$CTR_UPPER" --data "$CTR_DATA" --report "$CTR_DIR/report.jsonl" --requests 100 --sample 10 &
CTR_DRV=$!
wait $CTR_DRV
CTR_DRV=
[ "$(wc -l <"$CTR_DIR/report.jsonl")" -eq 100 ] || { echo "FAIL: $(wc -l <"$CTR_DIR/report.jsonl") report lines"; exit 1; }
ctr_teardown serve
ctr_assert_clean serve
