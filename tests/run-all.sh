#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, and the Rust tests of every crate.
# This is the README's test command; .ci/run calls it after installing what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== cargo test"
set +e
cargo test --workspace 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One closing line for the whole run, summed over every test binary.
passed=$(grep -oE '^test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -oE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
ignored=$(grep -oE '[0-9]+ ignored;' "$log" | awk '{s+=$1} END {print s+0}')
echo "${passed} passed, ${failed} failed, ${ignored} skipped"
exit "$status"
