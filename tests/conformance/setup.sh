#!/usr/bin/env bash
# Idempotent installer for the real-client conformance harness.
#
#   tests/conformance/setup.sh
#
# Creates tests/conformance/.venv from requirements.txt and tests/conformance/node_modules
# from package-lock.json (npm ci). Each half is skipped when a stamp file shows it was
# already installed from identical inputs (same file hashes and interpreter version);
# otherwise it is wiped and reinstalled from scratch. Any failure aborts with non-zero exit.
# Needs: python3 (with venv), node + npm, and access to PyPI / the npm registry.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

PYTHON="${PYTHON:-python3}"
VENV="$HERE/.venv"

die() { echo "setup.sh: ERROR: $*" >&2; exit 1; }
command -v "$PYTHON" >/dev/null || die "$PYTHON not found"
command -v node >/dev/null || die "node not found"
command -v npm >/dev/null || die "npm not found"

fingerprint() { # fingerprint <tool-version> <files...>
    local version="$1"; shift
    { echo "$version"; sha256sum "$@"; } | sha256sum | cut -d' ' -f1
}

# ---------------------------------------------------------------- python
py_stamp="$VENV/.conformance-stamp"
py_want="$(fingerprint "$("$PYTHON" -c 'import sys; print(sys.version)')" requirements.txt)"
if [[ -f "$py_stamp" && "$(cat "$py_stamp")" == "$py_want" ]] \
    && "$VENV/bin/python" -c 'import openai, agents, pytest, pytest_timeout' 2>/dev/null; then
    echo "setup.sh: python venv up to date ($VENV)"
else
    echo "setup.sh: creating python venv ($VENV)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "python3 -m venv failed (is the venv module installed?)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-virtualenv \
        -r requirements.txt || die "pip install -r requirements.txt failed"
    "$VENV/bin/python" -m pip check || die "pip check found inconsistent dependencies"
    echo "$py_want" > "$py_stamp"
fi

# ---------------------------------------------------------------- node
node_stamp="$HERE/node_modules/.conformance-stamp"
node_want="$(fingerprint "$(node --version)" package.json package-lock.json)"
if [[ -f "$node_stamp" && "$(cat "$node_stamp")" == "$node_want" ]]; then
    echo "setup.sh: node_modules up to date ($HERE/node_modules)"
else
    echo "setup.sh: npm ci"
    # openai@7 declares engines.node >=22: package.json pins Node 22 itself (the `node` package),
    # which the openai-node tests run on; npm may still warn that the machine's own node is older.
    npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed"
    echo "$node_want" > "$node_stamp"
fi

# ---------------------------------------------------------------- sanity
codex_version="$("$HERE/node_modules/.bin/codex" --version 2>&1)" \
    || die "codex CLI does not run: $codex_version"
[[ "$codex_version" == *0.169.0* ]] || die "unexpected codex version: $codex_version"
node -e 'require("openai")' || die "openai (node) does not load"
echo "setup.sh: ok ($("$VENV/bin/python" -c 'import openai, agents; from importlib.metadata import version as v; print("openai", v("openai"), "openai-agents", v("openai-agents"))'); node $(node --version), openai-node $(node -p "require(\"./node_modules/openai/package.json\").version"), $codex_version)"
