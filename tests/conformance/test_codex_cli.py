"""Codex CLI (`codex exec`, pinned @openai/codex 0.169.0) running one shell tool call through the gateway.

Turn 1: the mock answers the prompt with an `exec_command` call whose `cmd` is the text in
backticks; Codex runs it. Turn 2: Codex sends the function_call_output back, the mock answers
"The tool returned: <output>", and `codex exec` prints that final message on stdout.
"""

from __future__ import annotations

import re

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
