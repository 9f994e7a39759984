#!/usr/bin/env bash
# A link-order file for the gateway: the functions it runs at startup and on each benchmark
# path, so that the linker (lld) can place them together at the start of .text. Idle RSS is
# mostly clean pages of the executable brought in by fault-around (64 KB around every touched
# page); with the touched functions (about 3.6 MB) spread over 12.7 MB of .text, fault-around
# maps most of it.
#
#   bench/symbol-order.sh [out-file]        (default: $CARGO_TARGET_DIR/symbol-order.txt)
#
# Then link the gateway with it (only the final crate is rebuilt):
#   cargo rustc --release --locked -p switchyard-server --bin switchyard -- \
#     -C link-arg=-Wl,--symbol-ordering-file=<out-file> -C link-arg=-Wl,--no-warn-symbol-ordering
#
# The file names mangled symbols, whose hashes change with the code, the dependencies and the
# profile: regenerate it from the build it is meant for. Names it has that a build lacks are
# ignored (that warning is what --no-warn-symbol-ordering silences).
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# shellcheck source=bench/common.sh
source bench/common.sh
OUT="${1:-$BIN/../symbol-order.txt}"

MOCK=$(start mock "$BIN/switchyard-mock" --host 127.0.0.1 --port 0)
write_config "$MOCK"
# From startup on (no zeroing): startup code is what an idle gateway has touched. Mangled
# names, as the linker matches them.
GATEWAY=$(RUST_LOG=info start gateway valgrind --tool=callgrind --demangle=no --dump-instr=no \
  --compress-strings=no --callgrind-out-file="$WORK/gateway.cg" \
  "$BIN/switchyard" --config "$WORK/config.yaml" --host 127.0.0.1 --port 0)
for model in "bridged" "bridged --stream" "passthrough" "passthrough --stream" "anthropic --stream"; do
  for extra in '{}' '{"store": false}'; do
    # shellcheck disable=SC2086 # the model's arguments are split on purpose
    "$BIN/switchyard-load" --url "$GATEWAY/v1" --model $model --extra "$extra" --requests 50 \
      --connections 4 --seconds 120 >/dev/null
  done
done
sleep 2 # the spend-log writer's batch
GW_PID=$(cat "$WORK/gateway.pid")
kill "$GW_PID"
# valgrind writes the profile as the process exits
while kill -0 "$GW_PID" 2>/dev/null; do sleep 0.2; done
rm "$WORK/gateway.pid"

nm "$BIN/switchyard" | awk '$2 ~ /^[tT]$/ {print $3}' >"$WORK/symbols"
python3 - "$WORK/gateway.cg" "$WORK/symbols" "$OUT" <<'PY'
import re, sys
profile, symbols, out = sys.argv[1:]
defined = set(open(symbols).read().split())
# Lines "fn=(id) name" name a function the first time, "fn=(id)" after; the functions of
# every object (libc too) are in the profile, only the executable's are in `defined`.
ordered, seen = [], set()
for line in open(profile, errors="replace"):
    m = re.match(r"fn=(?:\(\d+\) ?)?(\S+)?$", line.rstrip("\n"))
    if m and m.group(1) and m.group(1) in defined and m.group(1) not in seen:
        seen.add(m.group(1))
        ordered.append(m.group(1))
with open(out, "w") as f:
    f.write("".join(name + "\n" for name in ordered))
print(f"{len(ordered)} functions -> {out}")
PY
