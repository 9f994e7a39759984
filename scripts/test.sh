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

# Disk is the scarce part of a CI machine: one debug build of the workspace with one feature set,
# shared by every step below, and no incremental caches (CI builds each crate once).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

step() {
  printf '\n== %s\n' "$*"
  df -h . 2>/dev/null | awk 'NR==2 {print "(disk: " $4 " free)"}'
}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build"
# Binaries built here with the tests' features (dev-dependencies enable some, e.g. tokio's
# test-util), so `cargo test` and the client suites below reuse them: a build of only
# `-p switchyard-server -p switchyard-mock` would resolve other features and compile the whole
# graph a second time.
cargo build --workspace --locked --bins --tests --examples

step "cargo test"
cargo test --workspace --locked

step "Python package (crates/switchyard-py)"
# A venv in crates/switchyard-py/.venv, the package built from this checkout with pip (dev
# profile), pytest against the mock upstreams.
SWITCHYARD_MOCK_BIN="$TARGET_DIR/debug/switchyard-mock" crates/switchyard-py/tests/run.sh

step "real clients (tests/conformance)"
SWITCHYARD_BIN="$TARGET_DIR/debug/switchyard" \
SWITCHYARD_MOCK_BIN="$TARGET_DIR/debug/switchyard-mock" \
  tests/conformance/run.sh

step "all tests passed"
