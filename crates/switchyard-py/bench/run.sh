#!/usr/bin/env bash
# The Python package's benchmark: calls per second and the cost per call of
# `switchyard.responses` against the library called from Rust and against `litellm.responses`,
# all on the same mock upstream (release builds).
#
#   crates/switchyard-py/bench/run.sh [CALLS] [THREADS] [TASKS]     # defaults: 2000 16 64
#   LITELLM=0 crates/switchyard-py/bench/run.sh                      # without the LiteLLM runs
#
# Installs the package with the plain `pip install ./crates/switchyard-py` (release build) into
# crates/switchyard-py/bench/.venv, and LiteLLM (pinned) into bench/.venv-litellm beside it.
# Prints one JSON line per case and run; BENCHMARKS.md ("Python") has the figures.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CRATE="$(cd "$HERE/.." && pwd)"
ROOT="$(cd "$CRATE/../.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
CALLS="${1:-2000}"
THREADS="${2:-16}"
TASKS="${3:-64}"
PYTHON="${PYTHON:-python3}"

cd "$ROOT"
cargo build --release --locked -p switchyard-mock
cargo build --release --locked -p switchyard-py --example rust_baseline

VENV="$HERE/.venv"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "openai==3.57.0"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$CRATE"

if [ "${LITELLM:-1}" = 1 ]; then
    LVENV="$HERE/.venv-litellm"
    [ -x "$LVENV/bin/python" ] || "$PYTHON" -m venv "$LVENV"
    "$LVENV/bin/python" -c 'import litellm' 2>/dev/null \
        || "$LVENV/bin/python" -m pip install --quiet --disable-pip-version-check "litellm==1.108.7"
fi

log="$(mktemp)"
"$TARGET_DIR/release/switchyard-mock" --host 127.0.0.1 --port 0 >"$log" 2>/dev/null &
mock_pid=$!
trap 'kill "$mock_pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do
    grep -q 'listening on' "$log" && break
    sleep 0.05
done
MOCK="$(grep -o 'http://[^ ]*' "$log" | head -1)"
[ -n "$MOCK" ] || { echo "run.sh: the mock did not start" >&2; exit 1; }

echo "# rust (the library, $THREADS concurrent tasks)"
"$TARGET_DIR/release/examples/rust_baseline" "$MOCK" "$CALLS" "$THREADS"
echo "# switchyard (Python package)"
"$VENV/bin/python" "$HERE/bench.py" switchyard "$MOCK" "$CALLS" "$THREADS" "$TASKS"
if [ "${LITELLM:-1}" = 1 ]; then
    echo "# litellm"
    "$LVENV/bin/python" "$HERE/bench.py" litellm "$MOCK" "$CALLS" "$THREADS" "$TASKS"
fi
