"""Codex CLI (pinned @openai/codex 0.169.0) compacting its context remotely through the gateway.

Codex 0.169.0 compacts remotely ("remote compaction v2") when its provider declares it: the
built-in OpenAI provider does (here with `openai_base_url` and the Responses WebSocket), and a
custom provider does with `capabilities.remote_compaction = "v2"` (here over HTTP SSE). It
sends a streamed create whose last input item is `{"type": "compaction_trigger"}`, requires
exactly one `compaction` output item back (anything else is fatal), keeps the user's messages
and that item in place of the history, and sends the item in every later request.

`model_auto_compact_token_limit = 1000` and the mock's `[[mock:usage=5000,5,0,0]]` directive
(the usage the mock reports while that message is the last user message) make Codex compact:

- before a turn: `codex exec` answers a first prompt, then `codex exec resume --last` starts a
  second turn, which Codex begins by compacting the first (so the compaction request reports the
  directive's 5,000 input tokens: its last user message is the first prompt);
- in the middle of a turn, on the pass-through: after a tool call Codex compacts, then asks for
  the next step with the compacted window only; the mock reads its own compaction item back as
  the call and its output, and answers with the tool's output.

On a translated group the gateway has the model summarise and seals the summary; the next
request carries the summary in the item's place (the mock echoes it on the providers that merge
consecutive user turns).
"""

from __future__ import annotations

import subprocess

import pytest

from conftest import GROUPS, SERVERS, Target, client_env, poll_until, run_client
from test_codex_cli import CODEX, FALLBACK, LOG_FIELD, MARKER, REQUEST_LOG, TIMEOUT, codex  # noqa: F401

pytestmark = pytest.mark.gateway_only

FIRST = "[[mock:text]] [[mock:usage=5000,5,0,0]] Remember the codeword heliotrope."
SECOND = "[[mock:text]] What was the codeword?"
TOOL_PROMPT = f"Run the shell command: `echo {MARKER}` and report its output. [[mock:usage=5000,5,0,0]]"
COMPACT_FAILED = "Error running remote compact task"
# Providers that take consecutive user messages as one turn: the mock's echo shows the summary.
MERGING = ("anthropic", "gemini", "bedrock")
SUMMARY = "A summary of the conversation so far"


def http_config(target: Target, model: str) -> str:
    return f"""\
model = "{model}"
model_provider = "switchyard"
check_for_update_on_startup = false
model_auto_compact_token_limit = 1000

[model_providers.switchyard]
name = "Switchyard"
base_url = "{target.base_url}"
env_key = "SWITCHYARD_API_KEY"
wire_api = "responses"
supports_websockets = false

[model_providers.switchyard.capabilities]
remote_compaction = "v2"

[analytics]
enabled = false

[features]
plugins = false
"""


def websocket_config(target: Target, model: str) -> str:
    return f"""\
model = "{model}"
openai_base_url = "{target.base_url}"
check_for_update_on_startup = false
model_auto_compact_token_limit = 1000

[analytics]
enabled = false

[features]
plugins = false
"""


class Codex:
    """One Codex home and working directory, set up for `transport`."""

    def __init__(self, codex: str, target: Target, model: str, transport: str, tmp_path):
        self.codex = codex
        self.home, self.work = tmp_path / "codex-home", tmp_path / "work"
        self.home.mkdir()
        self.work.mkdir()
        config = http_config if transport == "http" else websocket_config
        (self.home / "config.toml").write_text(config(target, model))
        self.env = client_env(CODEX_HOME=str(self.home), HOME=str(tmp_path), SWITCHYARD_API_KEY=target.api_key)
        if transport == "websocket":
            login = subprocess.run([codex, "login", "--with-api-key"], input=target.api_key.encode(),
                                   env=self.env, cwd=self.work, capture_output=True, timeout=30)
            assert login.returncode == 0, login.stderr.decode("utf-8", "replace")

    def exec(self, *args: str):
        run = run_client([self.codex, "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
                          *args], env=self.env, cwd=self.work, timeout=TIMEOUT)
        assert not run.timed_out, f"codex exec did not finish within {TIMEOUT}s\n{run.report()}"
        assert run.returncode == 0, run.report()
        assert COMPACT_FAILED not in run.stderr + run.stdout, run.report()
        assert FALLBACK not in run.stderr + run.stdout, f"Codex fell back to HTTPS\n{run.report()}"
        return run


def model_calls(start: int, models: tuple[str, ...], count: int) -> list[dict[str, str]]:
    """The gateway's request records of `models` since `start`, in order, once `count` of them
    completed (or after a few seconds)."""
    gateway = SERVERS["switchyard"]

    def records():
        text = gateway.log_text(start)
        every = [{k: v.strip('"') for k, v in LOG_FIELD.findall(m.group(1))} for m in REQUEST_LOG.finditer(text)]
        return [r for r in every if r.get("model") in models]

    poll_until(lambda: len([r for r in records() if r.get("outcome") == "completed"]) >= count, timeout=5)
    return records()


@pytest.mark.parametrize("transport,compact_group", [
    *[("http", g) for g in GROUPS],
    *[("websocket", g) for g in ("passthrough", "anthropic")],
])
def test_codex_compacts_before_a_turn(codex, target, transport, compact_group, tmp_path):
    model = target.model(compact_group)
    cli = Codex(codex, target, model, transport, tmp_path)
    first = cli.exec(FIRST)
    assert "You said: " in first.stdout and "heliotrope" in first.stdout, first.report()
    assert "context compacted" not in first.stderr, first.report()

    start = SERVERS["switchyard"].log_size()
    second = cli.exec("resume", "--last", SECOND)
    assert "context compacted" in second.stderr, f"Codex did not compact\n{second.report()}"
    assert SECOND in second.stdout, second.report()
    if compact_group in MERGING:
        assert SUMMARY in second.stdout, f"the summary did not stand for the history\n{second.report()}"

    # Two model calls: the compaction of the first turn (whose last user message carries the
    # usage directive), then the answer. The fallback group's upstream is down: its compaction
    # fails there (a record of its own) and Anthropic, its fallback, summarises.
    models = (model, "anthropic") if compact_group == "fallback" else (model,)
    calls = model_calls(start, models, 2)
    completed = [c for c in calls if c.get("outcome") == "completed"]
    assert len(completed) == 2, calls
    assert completed[0].get("input_tokens") == "5000", calls
    assert all(c.get("status") == "200" for c in completed), calls
    failed = [c for c in calls if c.get("outcome") != "completed"]
    expected_failures = 1 if compact_group == "fallback" else 0
    assert len(failed) == expected_failures and all(c.get("model") == model for c in failed), calls


@pytest.mark.parametrize("transport", ["http", "websocket"])
def test_codex_compacts_in_the_middle_of_a_tool_loop(codex, target, transport, tmp_path):
    model = target.model("passthrough")
    cli = Codex(codex, target, model, transport, tmp_path)
    start = SERVERS["switchyard"].log_size()
    run = cli.exec(TOOL_PROMPT)
    assert "context compacted" in run.stderr, f"Codex did not compact\n{run.report()}"
    # The tool's output reached the last request only inside the compaction item.
    final = run.stdout
    assert "The tool returned:" in final, run.report()
    assert MARKER in final.split("The tool returned:", 1)[1], run.report()
    calls = model_calls(start, (model,), 3)
    assert len(calls) == 3, f"expected the call, the compaction and the answer: {calls}"
    assert all(c.get("status") == "200" and c.get("outcome") == "completed" for c in calls), calls
