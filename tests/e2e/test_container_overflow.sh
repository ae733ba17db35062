#!/usr/bin/env bash
# Lost file events in a container: with a 4 KiB tracker ring, requests that also
# write 300 files under /srv/many overflow it. The rewind must notice (epoch
# flagged lost, files_full_diff), fall back to a full diff of the container's
# layers, and still be exact: every answer "ok 1", verify passed, no canary in
# memory, the upper dir or /tmp, the upper dir, /tmp, /srv and /opt/lethe equal
# to their checkpoint state, no extra process in the cgroup. A control run
# without lethe first proves the checks see the plants.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${LETHE:?set LETHE to the lethe binary}"
source tests/container/lib.sh
trap ctr_cleanup_with_driver EXIT

ctr_setup ovf-ctl -- python3 -u /opt/fn/fn_container.py
setsid "$PY" tests/container/serve_driver.py control --id "$CTR_ID" --bundle "$CTR_BUNDLE" \
	--upper "$CTR_UPPER" --requests 1 --flags many=300 &
CTR_DRV=$!
wait $CTR_DRV
CTR_DRV=
[ "$(ls "$CTR_UPPER/srv/many" | wc -l)" -eq 300 ] || { echo "FAIL: the control request did not write 300 files"; exit 1; }
ctr_teardown ovf-ctl

ctr_setup ovf -- python3 -u /opt/fn/fn_container.py
LETHE_TRACKER_RB_BYTES=4096 setsid "$PY" tests/container/serve_driver.py lethe --lethe "$LETHE" \
	--id "$CTR_ID" --bundle "$CTR_BUNDLE" --upper "$CTR_UPPER" --data "$CTR_DATA" \
	--report "$CTR_DIR/report.jsonl" --requests 5 --sample 1 --flags many=300 --expect-full-diff &
CTR_DRV=$!
wait $CTR_DRV
CTR_DRV=
[ "$(wc -l <"$CTR_DIR/report.jsonl")" -eq 5 ] || { echo "FAIL: $(wc -l <"$CTR_DIR/report.jsonl") report lines"; exit 1; }
ctr_teardown ovf
ctr_assert_clean ovf
