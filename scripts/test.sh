#!/usr/bin/env bash
# The whole test suite, as CI runs it on a clean checkout: formatting, lints, the Rust tests,
# the Python package's tests, then the official clients (openai-python, openai-node, the Agents
# SDK, Codex CLI) against the proxy. Installs what it needs into the repository
# (crates/switchyard-py/.venv, tests/conformance/.venv, node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."

# Services some tests use; present on every development and CI machine. Only the tests read
# these (test-specific names): a gateway started by the tests keeps its defaults (SQLite spend
# logs, no Redis) unless the test configures otherwise.
# The spend-log tests create (and drop) a database of their own on this server.
export SWITCHYARD_TEST_DATABASE_URL="${SWITCHYARD_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
# The routing tests use their own key prefix on this server.
export SWITCHYARD_TEST_REDIS_URL="${SWITCHYARD_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
unset DATABASE_URL REDIS_URL
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

step "Python package (crates/switchyard-py)"
# A venv in crates/switchyard-py/.venv, the package built from this checkout with pip (dev
# profile, sharing the build above), pytest against the mock upstreams.
cargo build --locked -p switchyard-mock
SWITCHYARD_MOCK_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/switchyard-mock" \
  crates/switchyard-py/tests/run.sh

step "real clients (tests/conformance)"
cargo build --locked -p switchyard-server -p switchyard-mock
SWITCHYARD_BIN="$PWD/target/debug/switchyard" \
SWITCHYARD_MOCK_BIN="$PWD/target/debug/switchyard-mock" \
  tests/conformance/run.sh

step "all tests passed"
