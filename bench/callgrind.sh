#!/usr/bin/env bash
# Instructions per request, counted by callgrind: a figure that does not move with the
# machine's load, so that a change can be compared on a busy machine.
#
#   bench/callgrind.sh [requests-per-case] [connections]   (defaults: 400 requests, 4 connections)
#   CASES="json-bridged" bench/callgrind.sh                only these cases (also
#                                                          json-bridged-nostore and
#                                                          stream-bridged-nostore: store false)
#   GATEWAY_BIN=/tmp/switchyard-old bench/callgrind.sh     another build of the gateway (before/after)
#   KEEP=/tmp/profiles bench/callgrind.sh                  keep each case's profiles there,
#                                                          one file per thread (read with
#                                                          callgrind_annotate)
#
# The gateway (release build, default settings: spend logs in SQLite, stored responses, one
# log line per request at RUST_LOG=info) runs under `valgrind --tool=callgrind`, as does the
# bare forwarding proxy (`switchyard-bare`) for the floor; the mock and the load generator run
# natively. For each case: warm-up requests, then the counters are zeroed (`callgrind_control
# -z`), the fixed load is sent, the process is left 2 s to finish its background work (the
# spend-log writer's batch interval is 1 s), and the counters are dumped. Startup and warm-up
# are outside the count; the background work the requests cause is inside it, and the
# database connections' threads (spend logs, stored responses) are also shown apart: their
# share depends on how many rows each commit batches, which varies from run to run. A separate idle
# interval of the same shape (zero, wait, dump) gives the instructions an idle process spends,
# subtracted per second of the measured interval.
set -euo pipefail
[ -n "${TRACE:-}" ] && set -x
cd "$(dirname "$0")/.."
REQUESTS="${1:-400}"
CONNECTIONS="${2:-4}"
WARMUP="${WARMUP:-100}"
CASES="${CASES:-json-bridged stream-bridged json-passthrough stream-passthrough stream-anthropic}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# shellcheck source=bench/common.sh
EXIT_WAIT=0.5 # valgrind writes its last dump as the process exits
source bench/common.sh

GRIND=(valgrind --tool=callgrind --dump-instr=no --compress-strings=no --separate-threads=yes)
MOCK=$(start mock "$BIN/switchyard-mock" --host 127.0.0.1 --port 0)
write_config "$MOCK"
GATEWAY=$(RUST_LOG=info start gateway "${GRIND[@]}" --callgrind-out-file="$WORK/gateway.%p.cg" \
  "${GATEWAY_BIN:-$BIN/switchyard}" --config "$WORK/config.yaml" --host 127.0.0.1 --port 0)
BARE=$(start bare "${GRIND[@]}" --callgrind-out-file="$WORK/bare.%p.cg" \
  "$BIN/switchyard-bare" --upstream "$MOCK" --listen 127.0.0.1:0)

# valgrind's pid is the program's pid (it runs in the same process).
pid_of() { cat "$WORK/$1.pid"; }

# Sends callgrind command $1 (zero, dump) to process $2. Valgrind reads commands only while
# the process runs, and an idle proxy sleeps in epoll: one small request (a 404 from the mock
# behind it) wakes it. That request is one against hundreds measured.
command() {
  local what="$1" pid="$2" who="$3" url
  url=$([ "$who" = gateway ] && echo "$GATEWAY" || echo "$BARE")
  callgrind_control "--$what" "$pid" >/dev/null 2>&1 &
  local control=$!
  sleep 0.3
  while kill -0 "$control" 2>/dev/null; do
    curl -s -o /dev/null "$url/poke" || true
    sleep 0.3
  done
  wait "$control" || true
}

# The instructions counted since the last zeroing, dumped now, as "all database": every
# thread's, and those of the database connections' threads (sqlx runs each SQLite connection
# on a thread of its own: the spend-log writer's and the response store's statements). Each
# thread has its own file per dump (--separate-threads); the new files are this dump's.
dump_total() {
  local pid="$1" who="$2"
  find "$WORK" -maxdepth 1 -name "$who.$pid.cg*" -printf '%f\n' | sort >"$WORK/before"
  command dump "$pid" "$who"
  find "$WORK" -maxdepth 1 -name "$who.$pid.cg*" -printf '%f\n' | sort >"$WORK/after"
  python3 - "$WORK" <<'PY'
import os, re, sys
work = sys.argv[1]
before = set(open(os.path.join(work, "before")).read().split())
total = database = 0
for name in open(os.path.join(work, "after")).read().split():
    if name in before:
        continue
    text = open(os.path.join(work, name), errors="replace").read()
    m = re.search(r"^(?:totals|summary): (\d+)", text, re.M)
    n = int(m.group(1)) if m else 0
    total += n
    # SQLite runs only on those threads.
    if re.search(r"^fn=(\(\d+\) )?sqlite3_step$", text, re.M):
        database += n
print(total, database)
PY
  if [ -n "${KEEP_DIR:-}" ]; then
    mkdir -p "$KEEP_DIR"
    comm -13 "$WORK/before" "$WORK/after" | while read -r f; do cp "$WORK/$f" "$KEEP_DIR/"; done
  fi
}

args_for() {
  local case="$1" who="$2" stream=""
  case "$case" in stream-*) stream="--stream" ;; esac
  if [ "$who" = gateway ]; then
    # `…-nostore`: the same requests with `store: false`.
    local model="${case#*-}"
    echo "--url $GATEWAY/v1 --model ${model%-nostore} $stream"
    case "$case" in *-nostore) echo "--extra {\"store\":false}" ;; esac
    return
  fi
  case "$case" in
    *-bridged|*-bridged-nostore) echo "--url $BARE/vllm/v1 --path /chat/completions --model mock-model $stream" ;;
    *-passthrough) echo "--url $BARE/v1 --model mock-model $stream" ;;
    *-anthropic) echo "--url $BARE/v1 --path /messages --model claude-mock $stream" ;;
  esac
}

# Instructions an idle process spends per second (timers, the runtime's housekeeping).
idle_rate() {
  local who="$1" pid t0 t1 total
  pid=$(pid_of "$who")
  command zero "$pid" "$who"
  t0=$(date +%s.%N); sleep 4
  total=$(dump_total "$pid" "$who" | cut -d' ' -f1); t1=$(date +%s.%N)
  python3 -c "print(int($total / ($t1 - $t0)))"
}

# measure <who> <case>: instructions per request.
measure() {
  local who="$1" case="$2" pid t0 t1 total out
  pid=$(pid_of "$who")
  # shellcheck disable=SC2046 # the arguments are split on purpose
  "$BIN/switchyard-load" $(args_for "$case" "$who") --requests "$WARMUP" --connections "$CONNECTIONS" \
    --seconds 600 >/dev/null
  command zero "$pid" "$who"
  t0=$(date +%s.%N)
  # shellcheck disable=SC2046
  out=$("$BIN/switchyard-load" $(args_for "$case" "$who") --requests "$REQUESTS" \
    --connections "$CONNECTIONS" --seconds 600)
  sleep 2
  total=$(KEEP_DIR="${KEEP:+$KEEP/$who-$case}" dump_total "$pid" "$who"); t1=$(date +%s.%N)
  python3 - "$out" "$total" "$t0" "$t1" "${IDLE[$who]}" <<'PY'
import json, sys
out, (total, database), t0, t1, idle = (json.loads(sys.argv[1]), map(int, sys.argv[2].split()),
                                         float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
if out.get("errors") or out.get("requests", 0) == 0:
    sys.exit(f"load failed: {out}")
n = out["requests"]
print(int((total - idle * (t1 - t0)) / n), int(database / n))
PY
}

# Every case once before anything is counted: the spend-log writer prepares its multi-row
# insert statements (seven sizes) the first time each batch size meets a connection, which
# a long run pays once but a short count would charge to whichever case came first.
for case in $CASES; do
  for who in gateway bare; do
    # shellcheck disable=SC2046
    "$BIN/switchyard-load" $(args_for "$case" "$who") --requests "$WARMUP" --connections "$CONNECTIONS" \
      --seconds 600 >/dev/null
  done
done
sleep 2

declare -A IDLE
for who in gateway bare; do IDLE[$who]=$(idle_rate "$who"); done

echo "$REQUESTS requests per case, $CONNECTIONS connections; idle: gateway ${IDLE[gateway]} / bare ${IDLE[bare]} instructions/s (subtracted)"
echo
echo "| case | gateway instructions/request | on the database threads | the rest (request path) | bare proxy | gateway / bare | request path / bare |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for case in $CASES; do
  read -r g gdb <<<"$(measure gateway "$case")"
  read -r b _ <<<"$(measure bare "$case")"
  python3 -c "print(f'| $case | {$g:,} | {$gdb:,} | {$g - $gdb:,} | {$b:,} | {$g / $b:.2f} | {($g - $gdb) / $b:.2f} |')"
done
