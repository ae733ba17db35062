#!/usr/bin/env bash
# The demo: trace a small program that leaves memory, a file and a child behind.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${OUTPUT:-build}
dir=$(mktemp -d /tmp/lethe-demo.XXXXXX)
trap 'rm -rf "$dir"' EXIT
echo "\$ lethe trace -- $B/demo/leaky $dir"
"$B/lethe" trace -- "$B/demo/leaky" "$dir"
