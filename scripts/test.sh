#!/usr/bin/env bash
# The whole lethe test suite, from a fresh clone: install dependencies, build,
# then run unit (plain and ASan/UBSan), BPF selftests and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
make -j"$(nproc)" all
exec ./scripts/run-tests.sh
