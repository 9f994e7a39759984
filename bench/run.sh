#!/usr/bin/env bash
# The benchmark: direct-to-mock against through-the-gateway, non-streaming and streaming,
# pass-through and bridged, plus the gateway's resident memory idle and with many open streams.
#
#   bench/run.sh [seconds-per-run] [connections]      (defaults: 10 s, 16 connections)
#   TARGET=litellm LITELLM_WORKERS=1 bench/run.sh     the same runs against the LiteLLM proxy
#                                                     (installed into bench/.venv-litellm)
#
# Everything runs on this machine: the mock upstream, the gateway and the load generator
# (release builds). Results are printed as a Markdown table; BENCHMARKS.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-10}"
CONNECTIONS="${2:-16}"
HOLD_STREAMS="${HOLD_STREAMS:-1000}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cargo build --release --locked -q -p switchyard-server -p switchyard-mock -p switchyard-bench
BIN=target/release
WORK="$(mktemp -d)"
PIDS=()
# `start` runs in a command substitution (a subshell), so it records its process in a pid file.
cleanup() {
  for pid in "${PIDS[@]}" $(cat "$WORK"/*.pid 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Starts "$@" in the background with stdout+stderr in $WORK/$1.log; waits for a line matching
# $LISTEN_PATTERN and prints the URL found on it.
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

# Resident memory of a process and all its descendants (LiteLLM runs worker processes).
rss_mb() {
  local pids="$1" frontier="$1" next p kb total=0
  while [ -n "$frontier" ]; do
    next=""
    for p in $frontier; do next="$next $(cat /proc/"$p"/task/*/children 2>/dev/null)"; done
    frontier=$(echo $next); pids="$pids $frontier"
  done
  for p in $pids; do
    kb=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null) && total=$((total + ${kb:-0}))
  done
  awk -v t="$total" 'BEGIN {printf "%.1f", t / 1024}'
}

MOCK=$(start mock "$BIN/switchyard-mock" --host 127.0.0.1 --port 0)
cat >"$WORK/config.yaml" <<EOF
model_list:
  - model_name: passthrough
    litellm_params: {model: openai/mock-model, api_base: "$MOCK/v1", api_key: sk-bench}
  # Bridged to Chat Completions, written the way both switchyard and LiteLLM read as a bridge.
  - model_name: bridged
    litellm_params: {model: openai/mock-model, api_base: "$MOCK/vllm/v1", api_key: sk-bench, use_chat_completions_api: true}
EOF
KEY=""
if [ "${TARGET:-switchyard}" = litellm ]; then
  # The anchor users compare against: LiteLLM's proxy, pinned, in its own virtualenv. Its
  # defaults, except: a master key (it refuses to start without one), no cost-map download (no
  # internet here), and errors-only logging.
  VENV=bench/.venv-litellm
  [ -x "$VENV/bin/litellm" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q 'litellm[proxy]==1.108.7'; }
  KEY=sk-bench-master-key
  printf 'general_settings:\n  master_key: %s\n' "$KEY" >>"$WORK/config.yaml"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  LITELLM_LOG=ERROR LITELLM_LOCAL_MODEL_COST_MAP=True \
    "$VENV/bin/litellm" --config "$WORK/config.yaml" --host 127.0.0.1 --port "$port" \
    --num_workers "${LITELLM_WORKERS:-1}" >"$WORK/gateway.log" 2>&1 &
  PIDS+=("$!"); echo "$!" >"$WORK/gateway.pid"
  GATEWAY="http://127.0.0.1:$port"
  for _ in $(seq 600); do
    curl -sf -o /dev/null "$GATEWAY/health/liveliness" && break; sleep 0.2
  done
  # Its first requests import modules lazily; keep them out of the measurement.
  "$BIN/switchyard-load" --url "$GATEWAY/v1" --model bridged --key "$KEY" --seconds 2 --connections 2 >/dev/null
else
  # Logging as in production: one line per request.
  GATEWAY=$(RUST_LOG=info start gateway "$BIN/switchyard" --config "$WORK/config.yaml" --host 127.0.0.1 --port 0)
fi
GW_PID=$(cat "$WORK/gateway.pid")
sleep 0.5
IDLE_RSS=$(rss_mb "$GW_PID")

load() { "$BIN/switchyard-load" --connections "$CONNECTIONS" --seconds "$SECONDS_PER_RUN" "$@"; }
field() { python3 -c "import json,sys; print(round(json.loads(sys.argv[1])[sys.argv[2]], 2))" "$1" "$2"; }

echo "| case | path | rps | p50 ms | p99 ms | ttfb p99 ms | errors |"
echo "|---|---|---:|---:|---:|---:|---:|"
declare -A RESULT
for stream in "" "--stream"; do
  mode=$([ -n "$stream" ] && echo stream || echo json)
  for kind in passthrough bridged; do
    if [ "$kind" = passthrough ]; then
      direct=$(load --url "$MOCK/v1" --model mock-model $stream)
    else
      direct=$(load --url "$MOCK/vllm/v1" --path /chat/completions --model mock-model $stream)
    fi
    gateway=$(load --url "$GATEWAY/v1" --model "$kind" --key "$KEY" $stream)
    for who in direct gateway; do
      r=${!who}
      RESULT[$mode-$kind-$who]="$r"
      echo "| $mode $kind | $who | $(field "$r" rps) | $(field "$r" p50_ms) | $(field "$r" p99_ms) | $(field "$r" ttfb_p99_ms) | $(field "$r" errors) |"
    done
  done
done

echo
echo "| case | gateway / direct throughput | added p50 ms | added p99 ms |"
echo "|---|---:|---:|---:|"
for key in json-passthrough json-bridged stream-passthrough stream-bridged; do
  d=${RESULT[$key-direct]}; g=${RESULT[$key-gateway]}
  python3 - "$key" "$d" "$g" <<'PY'
import json, sys
key, d, g = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"| {key} | {g['rps'] / d['rps'] * 100:.0f} % | {g['p50_ms'] - d['p50_ms']:.2f} | {g['p99_ms'] - d['p99_ms']:.2f} |")
PY
done

# Added latency at a load both paths sustain: 16 connections paced to $PACED_RPS requests/s in
# all; `late` counts requests that started behind schedule (the target not keeping up).
PACED_RPS="${PACED_RPS:-2000}"
echo
echo "| paced at $PACED_RPS req/s | direct p50 / p99 ms | gateway p50 / p99 ms | added p50 / p99 ms | late starts (direct / gateway) |"
echo "|---|---:|---:|---:|---:|"
for stream in "" "--stream"; do
  mode=$([ -n "$stream" ] && echo stream || echo json)
  for kind in passthrough bridged; do
    if [ "$kind" = passthrough ]; then
      d=$(load --url "$MOCK/v1" --model mock-model --rate "$PACED_RPS" $stream)
    else
      d=$(load --url "$MOCK/vllm/v1" --path /chat/completions --model mock-model --rate "$PACED_RPS" $stream)
    fi
    g=$(load --url "$GATEWAY/v1" --model "$kind" --key "$KEY" --rate "$PACED_RPS" $stream)
    python3 - "$mode $kind" "$d" "$g" <<'PY'
import json, sys
key, d, g = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"| {key} | {d['p50_ms']:.2f} / {d['p99_ms']:.2f} | {g['p50_ms']:.2f} / {g['p99_ms']:.2f} | {g['p50_ms'] - d['p50_ms']:.2f} / {g['p99_ms'] - d['p99_ms']:.2f} | {d['late_starts']} / {g['late_starts']} |")
PY
  done
done

LOADED_RSS=$(rss_mb "$GW_PID")
# Many open streams: each stalls upstream, so the gateway holds them all at once.
"$BIN/switchyard-load" --url "$GATEWAY/v1" --model bridged --key "$KEY" --stream --hold "$HOLD_STREAMS" \
  --seconds 8 --input "hold [[mock:stall=9000]]" >"$WORK/hold.json" &
HOLD=$!
sleep 5
HOLD_RSS=$(rss_mb "$GW_PID")
wait "$HOLD"
echo
echo "| memory | gateway RSS MB |"
echo "|---|---:|"
echo "| idle, after start | $IDLE_RSS |"
echo "| after the load runs | $LOADED_RSS |"
echo "| with $(field "$(cat "$WORK/hold.json")" held_streams) open streams | $HOLD_RSS |"
