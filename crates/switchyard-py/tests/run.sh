#!/usr/bin/env bash
# The Python package's tests.
#
#   crates/switchyard-py/tests/run.sh [extra pytest args, e.g. -k stream]
#
# 1. A virtual environment in crates/switchyard-py/.venv with requirements.txt (recreated only
#    when requirements.txt or the interpreter changed).
# 2. The package from this checkout, built and installed with pip (maturin as its PEP 517
#    backend). Here it is built in cargo's dev profile, which shares the workspace's debug
#    build; `pip install ./crates/switchyard-py` without options builds the release profile.
#    SWITCHYARD_PY_PROFILE=release tests a release build instead.
# 3. The mock upstream: $SWITCHYARD_MOCK_BIN, or target/debug/switchyard-mock (built when
#    missing). The tests start it themselves.
# 4. pytest (exit status is pytest's).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CRATE="$(cd "$HERE/.." && pwd)"
ROOT="$(cd "$CRATE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$CRATE/.venv"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

die() { echo "run.sh: ERROR: $*" >&2; exit 1; }
command -v "$PYTHON" >/dev/null || die "$PYTHON not found"

stamp="$VENV/.requirements-stamp"
want="$({ "$PYTHON" -c 'import sys; print(sys.version)'; sha256sum "$HERE/requirements.txt"; } | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "run.sh: venv up to date ($VENV)"
else
    echo "run.sh: creating venv ($VENV)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "python3 -m venv failed (is the venv module installed?)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-virtualenv \
        -r "$HERE/requirements.txt" || die "pip install -r requirements.txt failed"
    echo "$want" > "$stamp"
fi

profile="${SWITCHYARD_PY_PROFILE:-dev}"
echo "run.sh: pip install ./crates/switchyard-py (cargo profile $profile)"
started=$SECONDS
# maturin (from the venv) is the build backend; without build isolation pip uses that one.
PATH="$VENV/bin:$PATH" MATURIN_PEP517_ARGS="--profile $profile --locked" \
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-virtualenv \
    --no-build-isolation --force-reinstall --no-deps "$CRATE" || die "pip install of the package failed"
echo "run.sh: package built and installed in $((SECONDS - started)) s"

if [[ -z "${SWITCHYARD_MOCK_BIN:-}" ]]; then
    export SWITCHYARD_MOCK_BIN="$TARGET_DIR/debug/switchyard-mock"
    if [[ ! -x "$SWITCHYARD_MOCK_BIN" ]]; then
        echo "run.sh: $SWITCHYARD_MOCK_BIN missing; building it"
        (cd "$ROOT" && cargo build --locked -p switchyard-mock)
    fi
fi

cd "$HERE"
exec "$VENV/bin/python" -m pytest -q "$@"
