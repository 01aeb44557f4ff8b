#!/usr/bin/env bash
# The project's one test command: formatting, lints, a debug build of everything, the Rust test
# suite (unit + real-client integration tests against the strom binary), a bounded chaos run and the
# Python client suite.
# Run scripts/setup-test-env.sh once before (bash .ci/run does both).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() {
    echo
    echo "==> $*"
}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build (debug)"
cargo build --workspace --all-targets

target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
export STROM_BIN="${STROM_BIN:-$target_dir/debug/strom}"
if [ ! -x "$STROM_BIN" ]; then
    echo "test.sh: strom binary missing at $STROM_BIN after the build" >&2
    exit 1
fi

step "Rust tests"
if command -v cargo-nextest >/dev/null 2>&1; then
    cargo nextest run --workspace --config-file tests/nextest.toml
else
    cargo test --workspace
fi

step "Chaos: bounded scenario (faults on a fixed seed, Jepsen-style check)"
# A 90 s run against 3 controllers + 3 brokers as processes; exit code 1 on any safety anomaly. Its
# report, history and timeline stay in $target_dir/chaos-ci for inspection.
chaos_results="$target_dir/chaos-ci"
rm -rf "$chaos_results"
"$target_dir/debug/strom-chaos" run --mode process --duration 90s \
    --faults "${STROM_CHAOS_FAULTS:-kill,leader,controller,pause,restart,disk,skew}" \
    --seed "${STROM_CHAOS_SEED:-20261122}" --results "$chaos_results"

step "Python client tests (kafka-python, confluent-kafka)"
if [ ! -x .venv/bin/python ]; then
    echo "test.sh: .venv missing: run scripts/setup-test-env.sh first" >&2
    exit 1
fi
set +e
.venv/bin/python -m pytest tests/python -q
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "test.sh: pytest collected no tests under tests/python" >&2
    exit 1
fi
exit "$status"
