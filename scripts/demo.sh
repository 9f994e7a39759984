#!/usr/bin/env bash
# Try switchyard with no API key: a mock upstream on 127.0.0.1:8080 and the gateway on
# 0.0.0.0:4000, configured by examples/demo.yaml. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p switchyard-server -p switchyard-mock
target/release/switchyard-mock --host 127.0.0.1 --port 8080 &
MOCK=$!
trap 'kill "$MOCK" 2>/dev/null || true' EXIT INT TERM
cat <<'HELP'

  switchyard is starting on http://localhost:4000 (key: sk-demo). Try:

    curl -s localhost:4000/v1/responses -H 'authorization: Bearer sk-demo' \
      -H 'content-type: application/json' -d '{"model": "llama", "input": "Hello!"}'

    curl -sN localhost:4000/v1/responses -H 'authorization: Bearer sk-demo' \
      -H 'content-type: application/json' -d '{"model": "gpt-4o", "input": "Hello!", "stream": true}'

HELP
target/release/switchyard --config examples/demo.yaml --port 4000
