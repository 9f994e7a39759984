#!/usr/bin/env bash
# Run the real-client conformance suite.
#
#   tests/conformance/run.sh [extra pytest args, e.g. -k codex]
#
# 1. setup.sh installs the pinned clients (idempotent).
# 2. Binaries: the suite never builds anything. It uses $SWITCHYARD_BIN and
#    $SWITCHYARD_MOCK_BIN, defaulting to target/debug/switchyard{,-mock}. Only when
#    SWITCHYARD_BIN is unset AND a default binary is missing does this script run
#    `cargo build -p switchyard-server -p switchyard-mock` (debug) first. Build them yourself
#    (or point the env vars at release builds) to skip that.
# 3. pytest -q with per-test timeouts (pytest.ini). Exit status is pytest's.
#
# CONFORMANCE_TARGET=mock points the clients at the mock's own /v1 (passthrough group only)
# to tell mock bugs from gateway bugs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

"$HERE/setup.sh"

if [[ -z "${SWITCHYARD_BIN:-}" ]]; then
    missing=0
    [[ -x "$ROOT/target/debug/switchyard" ]] || missing=1
    [[ -n "${SWITCHYARD_MOCK_BIN:-}" || -x "$ROOT/target/debug/switchyard-mock" ]] || missing=1
    if (( missing )); then
        echo "run.sh: SWITCHYARD_BIN unset and target/debug binaries missing; building them" >&2
        (cd "$ROOT" && cargo build -p switchyard-server -p switchyard-mock)
    fi
fi

cd "$HERE"
exec "$HERE/.venv/bin/python" -m pytest -q "$@"
