#!/usr/bin/env bash
# The benchmark: every path measured three ways in one run, against the mock directly, through
# a bare forwarding proxy on the gateway's own stack (`switchyard-bare`: axum + reqwest, parses
# nothing) and through the gateway, with the gateway's figures as ratios to the other two.
# Paths: Responses → Chat Completions bridged (JSON, stream), Responses pass-through (JSON,
# stream), Anthropic translated (stream). Also the cost of stored responses (store on against
# `store: false`, closed loop and paced) and the gateway's resident memory idle and with many open streams.
#
#   bench/run.sh [seconds-per-run] [connections]      (defaults: 10 s, 16 connections)
#   CASES="json-bridged stream-anthropic" bench/run.sh 5   only these cases
#   TARGET=litellm LITELLM_WORKERS=1 bench/run.sh     the same runs against the LiteLLM proxy
#                                                     (installed into bench/.venv-litellm)
#   GATEWAY_BIN=/tmp/switchyard-old bench/run.sh      another build of the gateway (A/B runs)
#
# Everything runs on this machine: the mock upstream, the bare proxy, the gateway and the load
# generator (release builds, in $CARGO_TARGET_DIR when set). Results are printed as Markdown
# tables; BENCHMARKS.md records runs.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-10}"
CONNECTIONS="${2:-16}"
HOLD_STREAMS="${HOLD_STREAMS:-1000}"
CASES="${CASES:-json-bridged stream-bridged json-passthrough stream-passthrough stream-anthropic}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# shellcheck source=bench/common.sh
source bench/common.sh

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
write_config "$MOCK"
BARE=$(start bare "$BIN/switchyard-bare" --upstream "$MOCK" --listen 127.0.0.1:0)
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
  GATEWAY=$(RUST_LOG=info start gateway "${GATEWAY_BIN:-$BIN/switchyard}" --config "$WORK/config.yaml" --host 127.0.0.1 --port 0)
fi
GW_PID=$(cat "$WORK/gateway.pid")
sleep 0.5
IDLE_RSS=$(rss_mb "$GW_PID")

load() { "$BIN/switchyard-load" --connections "$CONNECTIONS" --seconds "$SECONDS_PER_RUN" "$@"; }

# One case's load-generator arguments against the mock ("direct"), through the bare proxy
# ("bare") or through the gateway ("gateway"). The first two speak the upstream's own API.
args_for() {
  local case="$1" who="$2" stream="" base
  case "$case" in stream-*) stream="--stream" ;; esac
  if [ "$who" = gateway ]; then
    echo "--url $GATEWAY/v1 --model ${case#*-} $stream"
    if [ -n "$KEY" ]; then echo "--key $KEY"; fi
    return
  fi
  base=$([ "$who" = direct ] && echo "$MOCK" || echo "$BARE")
  case "$case" in
    *-bridged) echo "--url $base/vllm/v1 --path /chat/completions --model mock-model $stream" ;;
    *-passthrough) echo "--url $base/v1 --model mock-model $stream" ;;
    *-anthropic) echo "--url $base/v1 --path /messages --model claude-mock $stream" ;;
  esac
}

# Closed loop (each connection sends its next request when the last one is read to its end):
# the three targets one after the other for each case, so that a change in the machine's load
# between cases touches all three alike.
for case in $CASES; do
  for who in direct bare gateway; do
    # shellcheck disable=SC2046 # the arguments are split on purpose
    load $(args_for "$case" "$who") >"$WORK/closed-$case-$who.json"
  done
done
# What the stateful features cost: the same requests with `store: false`, and again stored.
STORE_CASES="json-bridged stream-bridged"
for case in $STORE_CASES; do
  # shellcheck disable=SC2046
  load $(args_for "$case" gateway) --extra '{"store": false}' >"$WORK/nostore-$case.json"
  # shellcheck disable=SC2046
  load $(args_for "$case" gateway) >"$WORK/store-$case.json"
done
# Added latency at a load all three sustain: the connections paced to $PACED_RPS requests/s in
# all; `late` counts requests that started behind schedule (the target not keeping up).
PACED_RPS="${PACED_RPS:-2000}"
for case in $CASES; do
  for who in direct bare gateway; do
    # shellcheck disable=SC2046
    load $(args_for "$case" "$who") --rate "$PACED_RPS" >"$WORK/paced-$case-$who.json"
  done
done
# The same pace with `store: false`: how much of the gateway's tail is its stored responses.
for case in $STORE_CASES; do
  # shellcheck disable=SC2046
  load $(args_for "$case" gateway) --rate "$PACED_RPS" --extra '{"store": false}' \
    >"$WORK/paced-nostore-$case.json"
done

LOADED_RSS=$(rss_mb "$GW_PID")
# Many open streams: each stalls upstream, so the gateway holds them all at once.
"$BIN/switchyard-load" --url "$GATEWAY/v1" --model bridged --key "$KEY" --stream --hold "$HOLD_STREAMS" \
  --seconds 8 --input "hold [[mock:stall=9000]]" >"$WORK/hold.json" &
HOLD=$!
sleep 5
HOLD_RSS=$(rss_mb "$GW_PID")
wait "$HOLD"

python3 - "$WORK" "$CASES" "$STORE_CASES" "$PACED_RPS" "$IDLE_RSS" "$LOADED_RSS" "$HOLD_RSS" "$(uptime)" <<'PY'
import json, os, sys
work, cases, store_cases, paced, idle, loaded, held, uptime = sys.argv[1:]
cases, store_cases = cases.split(), store_cases.split()
def read(name):
    with open(os.path.join(work, name + ".json")) as f:
        return json.load(f)
print(f"load average at the end: {uptime.split('load average:')[-1].strip()}")
print()
print("| case | target | req/s | p50 ms | p99 ms | TTFB p99 ms | errors |")
print("|---|---|---:|---:|---:|---:|---:|")
for case in cases:
    for who in ("direct", "bare", "gateway"):
        r = read(f"closed-{case}-{who}")
        print(f"| {case} | {who} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
              f"| {r['ttfb_p99_ms']:.2f} | {r['errors']} |")
print()
print("| throughput | gateway / bare | gateway / direct | bare / direct |")
print("|---|---:|---:|---:|")
for case in cases:
    d, b, g = (read(f"closed-{case}-{w}")["rps"] for w in ("direct", "bare", "gateway"))
    print(f"| {case} | {g / b:.2f} | {g / d:.2f} | {b / d:.2f} |")
print()
print(f"| paced at {paced} req/s | direct p50 / p99 ms | bare p50 / p99 ms | gateway p50 / p99 ms "
      "| gateway added over bare p50 / p99 ms | late starts (direct / bare / gateway) |")
print("|---|---:|---:|---:|---:|---:|")
for case in cases:
    d, b, g = (read(f"paced-{case}-{w}") for w in ("direct", "bare", "gateway"))
    print(f"| {case} | {d['p50_ms']:.2f} / {d['p99_ms']:.2f} | {b['p50_ms']:.2f} / {b['p99_ms']:.2f} "
          f"| {g['p50_ms']:.2f} / {g['p99_ms']:.2f} "
          f"| {g['p50_ms'] - b['p50_ms']:+.2f} / {g['p99_ms'] - b['p99_ms']:+.2f} "
          f"| {d['late_starts']} / {b['late_starts']} / {g['late_starts']} |")
print()
print("| gateway, stored responses | store on req/s | store: false req/s | on / off "
      f"| paced {paced} req/s, store: false, added over bare p50 / p99 ms |")
print("|---|---:|---:|---:|---:|")
for case in store_cases:
    on, off = read(f"store-{case}")["rps"], read(f"nostore-{case}")["rps"]
    n = read(f"paced-nostore-{case}")
    # The bare proxy was paced only for the cases in $CASES.
    if os.path.exists(os.path.join(work, f"paced-{case}-bare.json")):
        b = read(f"paced-{case}-bare")
        added = f"{n['p50_ms'] - b['p50_ms']:+.2f} / {n['p99_ms'] - b['p99_ms']:+.2f}"
    else:
        added = f"{n['p50_ms']:.2f} / {n['p99_ms']:.2f} absolute (bare not run)"
    print(f"| {case} | {on:,.0f} | {off:,.0f} | {on / off:.2f} | {added} |")
print()
print("| memory | gateway RSS MB |")
print("|---|---:|")
print(f"| idle, after start | {idle} |")
print(f"| after the load runs | {loaded} |")
print(f"| with {read('hold')['held_streams']} open streams | {held} |")
PY
