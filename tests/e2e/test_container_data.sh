#!/usr/bin/env bash
# A host directory bind-mounted rw at /data is a persistence point lethe cannot
# rewind by default: `lethe serve --container` must say so (the report lists
# "/data" as unprotected, and the file a request wrote there as "unprotected"),
# and what requests write there stays (proving it is not silently rewound).
# With `--protect /data` (the path as the container sees it) /data becomes a
# layer: it is rewound like the upper dir, nothing a request wrote there is
# left, it equals its checkpoint state, and it is no longer listed unprotected.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${LETHE:?set LETHE to the lethe binary}"
source tests/container/lib.sh
trap ctr_cleanup_with_driver EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# unprotected: reported, and left alone
ctr_setup data-u -- python3 -u /opt/fn/fn_container.py
setsid "$PY" tests/container/serve_driver.py lethe --lethe "$LETHE" --id "$CTR_ID" --bundle "$CTR_BUNDLE" \
	--upper "$CTR_UPPER" --data "$CTR_DATA" --report "$CTR_DIR/report.jsonl" --requests 5 --sample 1 \
	--flags data --expect-data unprotected &
CTR_DRV=$!
wait $CTR_DRV || fail "unprotected /data run"
CTR_DRV=
[ "$(grep -c LCY "$CTR_DATA/leak.txt")" -eq 5 ] || fail "/data/leak.txt should hold all 5 canaries"
ctr_teardown data-u

# protected: rewound
ctr_setup data-p -- python3 -u /opt/fn/fn_container.py
echo "kept" >"$CTR_DATA/existing.txt"
setsid "$PY" tests/container/serve_driver.py lethe --lethe "$LETHE" --id "$CTR_ID" --bundle "$CTR_BUNDLE" \
	--upper "$CTR_UPPER" --data "$CTR_DATA" --report "$CTR_DIR/report.jsonl" --requests 5 --sample 1 \
	--flags data --expect-data protected --serve-arg=--protect --serve-arg=/data &
CTR_DRV=$!
wait $CTR_DRV || fail "--protect /data run"
CTR_DRV=
[ ! -e "$CTR_DATA/leak.txt" ] || fail "/data/leak.txt survived --protect /data"
[ "$(cat "$CTR_DATA/existing.txt")" = kept ] || fail "/data/existing.txt changed"
ctr_teardown data-p
ctr_assert_clean data-u || fail "data-u left something"
ctr_assert_clean data-p || fail "data-p left something"
exit $fails
