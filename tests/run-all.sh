#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, the API documentation's links, the Rust
# tests of every crate (the C host among them) and the Java facade's JUnit tests.
# This is the README's test command (.ci/run calls it). It first installs what a fresh Debian
# machine lacks (tests/install-deps.sh; SKIP_INSTALL=1 skips that, SKIP_JAVA=1 the JUnit run).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's header says how long the run has taken so far, to show where CI time goes.
step() { echo "== $1 (at ${SECONDS} s)"; }

[ "${SKIP_INSTALL:-0}" = 1 ] || ./tests/install-deps.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo doc (warnings are errors)"
# A doc link that no longer resolves, or that points public documentation at a private item,
# fails here rather than leaving a broken link for the next reader.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "cargo test"
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# Seeded fault simulations: every invariant checked after every step (a failing seed is
# printed with the command that replays it).
step "migration-sim (300 seeds)"
set +e
cargo run --release --quiet -p migration-sim -- --seeds 300 2>&1 | tee -a "$log"
sim_status=${PIPESTATUS[0]}
set -e
[ "$sim_status" -eq 0 ] || status=$sim_status

# A smoke run of every benchmark (small sizes, no figures asserted), so they cannot rot.
step "migration-bench --quick"
set +e
cargo run --release --quiet -p migration-bench -- --quick 2>&1 | tee "$log.bench"
bench_status=${PIPESTATUS[0]}
set -e
rm -f "$log.bench"
[ "$bench_status" -eq 0 ] || status=$bench_status

# The Java facade's JUnit tests, through Gradle (builds the native library itself).
java_status=0
if [ "${SKIP_JAVA:-0}" = 1 ]; then
  step "gradle test: skipped (SKIP_JAVA=1)"
else
  step "gradle test (JUnit 5, -Xcheck:jni)"
  export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
  set +e
  gradle --offline --no-daemon --quiet test 2>&1 | tee -a "$log"
  java_status=${PIPESTATUS[0]}
  set -e
fi

# One closing line for the whole run, summed over every cargo test binary and JUnit.
passed=$(grep -oE '^test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -oE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
ignored=$(grep -oE '[0-9]+ ignored;' "$log" | awk '{s+=$1} END {print s+0}')
junit_passed=$(grep -oE '\[ +[0-9]+ tests successful' "$log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
junit_failed=$(grep -oE '\[ +[0-9]+ tests failed' "$log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
step "done"
echo "${passed} Rust tests passed, ${junit_passed} JUnit tests passed"
echo "$((passed + junit_passed)) passed, $((failed + junit_failed)) failed, ${ignored} skipped"
[ "$status" -eq 0 ] && [ "$java_status" -eq 0 ]
