#!/usr/bin/env bash
# Instructions per request, counted by callgrind: a figure that does not move with the
# machine's load, so that a change can be compared on a busy machine.
#
#   bench/callgrind.sh [requests-per-case] [connections]   (defaults: 400 requests, 4 connections)
#   CASES="json-bridged" bench/callgrind.sh                only these cases
#
# The gateway (release build, default settings: spend logs in SQLite, stored responses, one
# log line per request at RUST_LOG=info) runs under `valgrind --tool=callgrind`, as does the
# bare forwarding proxy (`switchyard-bare`) for the floor; the mock and the load generator run
# natively. For each case: warm-up requests, then the counters are zeroed (`callgrind_control
# -z`), the fixed load is sent, the process is left 2 s to finish its background work (the
# spend-log writer's batch interval is 1 s), and the counters are dumped. Startup and warm-up
# are outside the count; the background work the requests cause is inside it. A separate idle
# interval of the same shape (zero, wait, dump) gives the instructions an idle process spends,
# subtracted per second of the measured interval.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS="${1:-400}"
CONNECTIONS="${2:-4}"
WARMUP="${WARMUP:-50}"
CASES="${CASES:-json-bridged stream-bridged json-passthrough stream-passthrough stream-anthropic}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cargo build --release --locked -q -p switchyard-server -p switchyard-mock -p switchyard-bench
BIN="$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)"
WORK="$(mktemp -d)"
cleanup() {
  for pid in $(cat "$WORK"/*.pid 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Starts "$@" in the background in $WORK (its databases go there), output in $WORK/$1.log;
# prints the URL its listening line names.
start() {
  local name="$1"; shift
  (cd "$WORK" && exec "$@") >"$WORK/$name.log" 2>&1 &
  echo "$!" >"$WORK/$name.pid"
  for _ in $(seq 1200); do
    if url=$(grep -o 'http://[0-9.:]*' "$WORK/$name.log" | head -1) && [ -n "$url" ]; then
      echo "$url"; return 0
    fi
    sleep 0.05
  done
  echo "error: $name did not start:" >&2; cat "$WORK/$name.log" >&2; exit 1
}

GRIND=(valgrind --tool=callgrind --dump-instr=no --compress-strings=no)
MOCK=$(start mock "$BIN/switchyard-mock" --host 127.0.0.1 --port 0)
cat >"$WORK/config.yaml" <<EOF
model_list:
  - model_name: passthrough
    litellm_params: {model: openai/mock-model, api_base: "$MOCK/v1", api_key: sk-bench}
  - model_name: bridged
    litellm_params: {model: openai/mock-model, api_base: "$MOCK/vllm/v1", api_key: sk-bench, use_chat_completions_api: true}
  - model_name: anthropic
    litellm_params: {model: anthropic/claude-mock, api_base: "$MOCK", api_key: sk-bench}
EOF
GATEWAY=$(RUST_LOG=info start gateway "${GRIND[@]}" --callgrind-out-file="$WORK/gateway.%p.cg" \
  "$BIN/switchyard" --config "$WORK/config.yaml" --host 127.0.0.1 --port 0)
BARE=$(start bare "${GRIND[@]}" --callgrind-out-file="$WORK/bare.%p.cg" \
  "$BIN/switchyard-bare" --upstream "$MOCK" --listen 127.0.0.1:0)

# valgrind's pid is the program's pid (it runs in the same process).
pid_of() { cat "$WORK/$1.pid"; }

# The instructions counted since the last zeroing, dumped now: the `totals:` line of the
# newest dump file of process $1.
dump_total() {
  local pid="$1" before after
  before=$(ls "$WORK"/*."$pid".cg* 2>/dev/null | wc -l)
  callgrind_control -d "$pid" >/dev/null
  for _ in $(seq 200); do
    after=$(ls "$WORK"/*."$pid".cg* 2>/dev/null | wc -l)
    [ "$after" -gt "$before" ] && break
    sleep 0.05
  done
  # shellcheck disable=SC2012 # the newest dump, by modification time
  awk '/^(totals|summary):/ {print $2; exit}' "$(ls -t "$WORK"/*."$pid".cg* | head -1)"
}

args_for() {
  local case="$1" who="$2" stream=""
  case "$case" in stream-*) stream="--stream" ;; esac
  if [ "$who" = gateway ]; then echo "--url $GATEWAY/v1 --model ${case#*-} $stream"; return; fi
  case "$case" in
    *-bridged) echo "--url $BARE/vllm/v1 --path /chat/completions --model mock-model $stream" ;;
    *-passthrough) echo "--url $BARE/v1 --model mock-model $stream" ;;
    *-anthropic) echo "--url $BARE/v1 --path /messages --model claude-mock $stream" ;;
  esac
}

# Instructions an idle process spends per second (timers, the runtime's housekeeping).
idle_rate() {
  local pid="$1" t0 t1 total
  callgrind_control -z "$pid" >/dev/null
  t0=$(date +%s.%N); sleep 4
  total=$(dump_total "$pid"); t1=$(date +%s.%N)
  python3 -c "print(int($total / ($t1 - $t0)))"
}

# measure <who> <case>: instructions per request.
measure() {
  local who="$1" case="$2" pid t0 t1 total out
  pid=$(pid_of "$who")
  # shellcheck disable=SC2046 # the arguments are split on purpose
  "$BIN/switchyard-load" $(args_for "$case" "$who") --requests "$WARMUP" --connections "$CONNECTIONS" \
    --seconds 600 >/dev/null
  callgrind_control -z "$pid" >/dev/null
  t0=$(date +%s.%N)
  # shellcheck disable=SC2046
  out=$("$BIN/switchyard-load" $(args_for "$case" "$who") --requests "$REQUESTS" \
    --connections "$CONNECTIONS" --seconds 600)
  sleep 2
  total=$(dump_total "$pid"); t1=$(date +%s.%N)
  python3 - "$out" "$total" "$t0" "$t1" "${IDLE[$who]}" <<'PY'
import json, sys
out, total, t0, t1, idle = json.loads(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
if out.get("errors") or out.get("requests", 0) == 0:
    sys.exit(f"load failed: {out}")
print(int((total - idle * (t1 - t0)) / out["requests"]))
PY
}

declare -A IDLE
for who in gateway bare; do IDLE[$who]=$(idle_rate "$(pid_of "$who")"); done

echo "$REQUESTS requests per case, $CONNECTIONS connections; idle: gateway ${IDLE[gateway]} / bare ${IDLE[bare]} instructions/s (subtracted)"
echo
echo "| case | gateway instructions/request | bare proxy | gateway / bare |"
echo "|---|---:|---:|---:|"
for case in $CASES; do
  g=$(measure gateway "$case")
  b=$(measure bare "$case")
  python3 -c "print(f'| $case | {$g:,} | {$b:,} | {$g / $b:.2f} |')"
done
