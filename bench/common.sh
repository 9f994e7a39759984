# Shared by bench/run.sh, bench/callgrind.sh and bench/symbol-order.sh (sourced, from the
# repository's root): the release build, a work folder cleaned up on exit, starting a process
# and reading its URL, and the gateway's benchmark config.

cargo build --release --locked -q -p switchyard-server -p switchyard-mock -p switchyard-bench
BIN="$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)"
WORK="$(mktemp -d)"
# Processes started outside `start` (which records its own in a pid file: it runs in a
# command substitution, a subshell).
PIDS=()
# Seconds to wait after the kill before the folder goes: valgrind writes its last dump as the
# process exits.
EXIT_WAIT="${EXIT_WAIT:-0}"
cleanup() {
  for pid in "${PIDS[@]}" $(cat "$WORK"/*.pid 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  sleep "$EXIT_WAIT"
  rm -rf "$WORK" 2>/dev/null || true
}
trap cleanup EXIT

# Starts "$@" in the background in $WORK (the gateway's SQLite database starts empty there),
# with stdout+stderr in $WORK/$1.log; waits (up to a minute: valgrind starts slowly) for a
# line naming a URL and prints the URL.
start() {
  local name="$1"; shift
  (cd "$WORK" && exec "$@") >"$WORK/$name.log" 2>&1 &
  echo "$!" >"$WORK/$name.pid"
  for _ in $(seq 1200); do
    if url=$(grep -o 'listening on http://[0-9.:]*' "$WORK/$name.log" | head -1 | sed 's/^listening on //') && [ -n "$url" ]; then
      echo "$url"; return 0
    fi
    sleep 0.05
  done
  echo "error: $name did not start:" >&2; cat "$WORK/$name.log" >&2; exit 1
}

# Writes $WORK/config.yaml: the benchmark's three model groups on the mock at $1.
write_config() {
  cat >"$WORK/config.yaml" <<YAML
model_list:
  - model_name: passthrough
    litellm_params: {model: openai/mock-model, api_base: "$1/v1", api_key: sk-bench}
  # Bridged to Chat Completions, written the way both switchyard and LiteLLM read as a bridge.
  - model_name: bridged
    litellm_params: {model: openai/mock-model, api_base: "$1/vllm/v1", api_key: sk-bench, use_chat_completions_api: true}
  # Translated to Anthropic's Messages API (the mock serves /v1/messages).
  - model_name: anthropic
    litellm_params: {model: anthropic/claude-mock, api_base: "$1", api_key: sk-bench}
YAML
}
