#!/usr/bin/env bash
# Builds and runs every fuzz target (each directory of Fuzz/ with a main.swift) in turn.
#   Fuzz/run-all.sh [SECONDS]      (default 60 seconds per target)
# A crash in one target does not stop the others; the exit status is non-zero when any
# target failed, and the failures are listed at the end.
set -uo pipefail

seconds=${1:-60}
fuzz=$(cd "$(dirname "$0")" && pwd)
failed=()
for main in "$fuzz"/*/main.swift; do
    target=$(basename "$(dirname "$main")")
    echo "=== fuzzing $target for $seconds s"
    "$fuzz/build.sh" "$target" "$seconds" || failed+=("$target")
done
if ((${#failed[@]} > 0)); then
    echo "fuzz targets that failed: ${failed[*]} (inputs in .build-fuzz/TARGET/artifacts)" >&2
    exit 1
fi
echo "all fuzz targets ran clean"
