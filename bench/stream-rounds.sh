#!/usr/bin/env bash
# Does the gateway's memory come back after bursts of concurrent streams? Rounds of N streams
# held open at once (each stalled upstream, then dropped by the client), the gateway's RSS
# printed after each round once the streams are gone. A leak grows every round; an allocator
# high-water mark or a bounded pool levels off.
#
#   bench/stream-rounds.sh [streams-per-round] [rounds]     (defaults: 2000, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
STREAMS="${1:-2000}"
ROUNDS="${2:-5}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cargo build --release --locked -q -p switchyard-server -p switchyard-mock -p switchyard-bench
BIN="${CARGO_TARGET_DIR:-target}/release"
WORK="$(mktemp -d)"
cleanup() { for f in "$WORK"/*.pid; do kill "$(cat "$f")" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

start() {
  local name="$1"; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  echo "$!" >"$WORK/$name.pid"
  for _ in $(seq 200); do
    if url=$(grep -o 'http://[0-9.:]*' "$WORK/$name.log" | head -1) && [ -n "$url" ]; then
      echo "$url"; return 0
    fi
    sleep 0.05
  done
  echo "error: $name did not start:" >&2; cat "$WORK/$name.log" >&2; exit 1
}
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

MOCK=$(start mock "$BIN/switchyard-mock" --host 127.0.0.1 --port 0)
cat >"$WORK/config.yaml" <<YAML
model_list:
  - model_name: bridged
    litellm_params: {model: openai/mock-model, api_base: "$MOCK/vllm/v1", api_key: sk-bench, use_chat_completions_api: true}
YAML
GATEWAY=$(RUST_LOG=info start gateway env ${GATEWAY_ENV:-} "$BIN/switchyard" --config "$WORK/config.yaml" --host 127.0.0.1 --port 0)
GW_PID=$(cat "$WORK/gateway.pid")
sleep 0.5
echo "| round | streams held | RSS after the round, MB |"
echo "|---:|---:|---:|"
echo "| 0 (idle) | 0 | $(rss_mb "$GW_PID") |"
for round in $(seq "$ROUNDS"); do
  held=$("$BIN/switchyard-load" --url "$GATEWAY/v1" --model bridged --stream --hold "$STREAMS" \
    --seconds 4 --input "hold [[mock:stall=6000]]" | python3 -c 'import json,sys; print(json.load(sys.stdin)["held_streams"])')
  sleep 2
  echo "| $round | $held | $(rss_mb "$GW_PID") |"
done
