"""Codex CLI (`codex exec`, pinned @openai/codex 0.169.0) running one shell tool call through the gateway.

Turn 1: the mock answers the prompt with an `exec_command` call whose `cmd` is the text in
backticks; Codex runs it. Turn 2: Codex sends the function_call_output back, the mock answers
"The tool returned: <output>", and `codex exec` prints that final message on stdout.

Two setups: a custom provider over HTTP (SSE), and Codex's built-in OpenAI provider with
`openai_base_url` pointing at the gateway and the key saved by `codex login --with-api-key`,
which speaks the Responses WebSocket mode (a warm-up, then turns chained by
`previous_response_id` with only their new items, `store: false`).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import NODE_MODULES, SERVERS, Target, client_env, poll_until, run_client

CODEX = NODE_MODULES / ".bin" / "codex"
MARKER = "switchyard-codex-ok"
PROMPT = f"Run the shell command: `echo {MARKER}` and report its output."
TIMEOUT = 120
# The gateway's per-request access log line (text format), e.g.
#   ... INFO switchyard::request: request finished request_id=req_… model=bridged … status=200 outcome="completed" …
REQUEST_LOG = re.compile(r"request finished (.*)$", re.M)
LOG_FIELD = re.compile(r'(\w+)=("[^"]*"|\S*)')
# What Codex prints when it gives up on the WebSocket and uses POST instead.
FALLBACK = "Falling back from WebSockets to HTTPS transport"
# The groups the WebSocket run covers: a pass-through and a translated provider.
WEBSOCKET_GROUPS = ("passthrough", "anthropic")


def gateway_requests(log_text: str, model: str) -> list[dict[str, str]]:
    records = [{k: v.strip('"') for k, v in LOG_FIELD.findall(m.group(1))} for m in REQUEST_LOG.finditer(log_text)]
    return [r for r in records if r.get("model") == model]


def codex_config(target: Target, model: str) -> str:
    # Hermetic config from the Codex 0.169.0 research: non-catalog model name (catalog names
    # change the request format), plain HTTP SSE (no websockets), no analytics/plugins.
    return f"""\
model = "{model}"
model_provider = "switchyard"
check_for_update_on_startup = false

[model_providers.switchyard]
name = "Switchyard"
base_url = "{target.base_url}"
env_key = "SWITCHYARD_API_KEY"
wire_api = "responses"
supports_websockets = false

[analytics]
enabled = false

[features]
plugins = false
"""


@pytest.fixture(scope="session")
def codex() -> str:
    if not CODEX.exists():
        pytest.fail(f"{CODEX} missing: run tests/conformance/setup.sh", pytrace=False)
    return str(CODEX)


def test_codex_exec_shell_tool(codex, target, group, tmp_path):
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / "config.toml").write_text(codex_config(target, target.model(group)))
    env = client_env(CODEX_HOME=str(home), HOME=str(tmp_path), SWITCHYARD_API_KEY=target.api_key)
    gateway = SERVERS.get("switchyard") if target.kind == "gateway" else None
    log_start = gateway.log_size() if gateway else 0

    run = run_client(
        [codex, "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", PROMPT],
        env=env, cwd=work, timeout=TIMEOUT,
    )

    assert not run.timed_out, f"codex exec did not finish within {TIMEOUT}s\n{run.report()}"
    assert run.returncode == 0, run.report()
    # The final message is the mock's turn-2 answer quoting the tool output, so the marker can
    # only be there if Codex really ran the command and sent its output back through the gateway.
    final = run.stdout
    assert "The tool returned:" in final, f"final message is not the tool-result answer\n{run.report()}"
    assert MARKER in final.split("The tool returned:", 1)[1], f"tool output lacks {MARKER!r}\n{run.report()}"

    if gateway:  # exactly two Responses calls went through the gateway, both completed cleanly
        def two_requests_logged():
            found = gateway_requests(gateway.log_text(log_start), target.model(group))
            return found if len(found) >= 2 else None

        poll_until(two_requests_logged, timeout=5)
        found = gateway_requests(gateway.log_text(log_start), target.model(group))
        assert len(found) == 2, (
            f"expected 2 'request finished … model={group}' lines in the gateway log for this run "
            f"(tool call, then answer), found {len(found)}: {found} (if the log format changed, update REQUEST_LOG)")
        assert all(r.get("status") == "200" and r.get("outcome") == "completed" for r in found), found


def builtin_provider_config(target: Target, model: str) -> str:
    # Codex's built-in `openai` provider: WebSockets always on in 0.169.0 (its feature flags
    # are removed), `openai_base_url` in config.toml (the OPENAI_BASE_URL variable is not read).
    return f"""\
model = "{model}"
openai_base_url = "{target.base_url}"
check_for_update_on_startup = false

[analytics]
enabled = false

[features]
plugins = false
"""


def websocket_log(log_text: str, model: str) -> tuple[int, int]:
    """(sockets opened, warm-ups of `model`) in the gateway's log."""
    opened = len(re.findall(r"websocket opened route=/v1/responses", log_text))
    lines = re.finditer(r"warm-up completed without calling a model (.*)$", log_text, re.M)
    fields = [{k: v.strip('"') for k, v in LOG_FIELD.findall(m.group(1))} for m in lines]
    warm = [f for f in fields if f.get("model") == model and f.get("outcome") == "completed"]
    return opened, len(warm)


@pytest.mark.gateway_only
@pytest.mark.parametrize("ws_group", WEBSOCKET_GROUPS)
def test_codex_builtin_provider_over_websocket(codex, target, ws_group, tmp_path):
    if target.kind != "gateway":
        pytest.skip("the mock serves no WebSocket")
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    model = target.model(ws_group)
    (home / "config.toml").write_text(builtin_provider_config(target, model))
    env = client_env(CODEX_HOME=str(home), HOME=str(tmp_path))
    login = subprocess.run([codex, "login", "--with-api-key"], input=target.api_key.encode(), env=env,
                           cwd=work, capture_output=True, timeout=30)
    assert login.returncode == 0, login.stderr.decode("utf-8", "replace")
    gateway = SERVERS["switchyard"]
    log_start = gateway.log_size()

    run = run_client(
        [codex, "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", PROMPT],
        env=env, cwd=work, timeout=TIMEOUT,
    )

    assert not run.timed_out, f"codex exec did not finish within {TIMEOUT}s\n{run.report()}"
    assert run.returncode == 0, run.report()
    final = run.stdout
    assert "The tool returned:" in final, f"final message is not the tool-result answer\n{run.report()}"
    assert MARKER in final.split("The tool returned:", 1)[1], f"tool output lacks {MARKER!r}\n{run.report()}"
    assert FALLBACK not in run.stderr + run.stdout, f"Codex fell back to HTTPS\n{run.report()}"
    assert "Reconnecting" not in run.stderr, f"Codex had to reconnect\n{run.report()}"

    def answered_over_the_socket():
        text = gateway.log_text(log_start)
        found = gateway_requests(text, model)
        return (found, text) if len(found) >= 2 else None

    poll_until(answered_over_the_socket, timeout=5)
    text = gateway.log_text(log_start)
    opened, warm_ups = websocket_log(text, model)
    assert opened >= 1, f"the gateway saw no WebSocket upgrade\n{run.report()}"
    assert warm_ups >= 1, f"Codex's generate:false warm-up was not served\n{run.report()}"
    found = gateway_requests(text, model)
    # The warm-up calls no model: the two model calls are the tool call and the answer.
    assert len(found) == 2, f"expected 2 model calls for {model}, found {len(found)}: {found}"
    assert all(r.get("status") == "200" and r.get("outcome") == "completed" and r.get("stream") == "true"
               for r in found), found
