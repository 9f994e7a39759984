#!/usr/bin/env bash
# The whole test suite, as CI runs it on a clean checkout: formatting, lints, the Rust tests,
# then the official clients (openai-python, openai-node, the Agents SDK, Codex CLI) against the
# proxy. Installs what it needs into the repository (tests/conformance/.venv, node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."

# Services some tests use; present on every development and CI machine.
export DATABASE_URL="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
for endpoint in 127.0.0.1:5432 127.0.0.1:6379; do
  host=${endpoint%:*}; port=${endpoint#*:}
  if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
    echo "error: nothing listens on $endpoint (PostgreSQL on 5432, Redis on 6379 are required)" >&2
    exit 1
  fi
done

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "real clients (tests/conformance)"
cargo build --locked -p switchyard-server -p switchyard-mock
SWITCHYARD_BIN="$PWD/target/debug/switchyard" \
SWITCHYARD_MOCK_BIN="$PWD/target/debug/switchyard-mock" \
  tests/conformance/run.sh

step "all tests passed"
