"""Without the `openai` package (`SWITCHYARD_NO_OPENAI=1` stands for its absence), results are
switchyard's own classes with the same attributes, and the exceptions keep their names,
attributes and hierarchy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from helpers import HERE_PATH

_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, pickle, sys
    import switchyard
    from switchyard import types
    assert "openai" not in sys.modules, "openai was imported"
    call = json.loads(sys.argv[1])
    out = {}

    r = switchyard.responses(input="plain objects", **call)
    out["response_class"] = type(r).__name__
    out["is_fallback"] = isinstance(r, types.Response)
    out["output_text"] = r.output_text
    out["usage"] = [r.usage.input_tokens, r.usage.output_tokens, r.usage["total_tokens"]]
    out["item_type"] = r.output[0].type
    out["dump_text"] = r.model_dump()["output"][0]["content"][0]["text"]
    out["json_ok"] = json.loads(r.model_dump_json())["id"] == r.id
    out["hidden"] = r._hidden_params["custom_llm_provider"]
    try:
        r.status = "changed"
        out["read_only"] = False
    except AttributeError:
        out["read_only"] = True

    events = list(switchyard.responses(input="plain stream", stream=True, **call))
    out["event_types"] = [events[0].type, events[-1].type]
    out["event_class"] = type(events[-1]).__name__
    out["final_text"] = events[-1].response.output_text
    out["final_class"] = type(events[-1].response).__name__

    follow = switchyard.responses(input=[*r.output, {"role": "user", "content": "again"}], **call)
    out["replayed"] = follow.output_text

    async def main():
        a = await switchyard.aresponses(input="async plain", **call)
        return a.output_text
    out["async_text"] = asyncio.run(main())

    try:
        switchyard.responses(input="[[mock:error=429]]", num_retries=0, **call)
    except switchyard.APIStatusError as e:
        out["error"] = [type(e).__name__, e.status_code, e.code, isinstance(e, switchyard.APIError),
                        isinstance(e, Exception), e.response.status_code, str(e) == e.message]
        out["pickled"] = type(pickle.loads(pickle.dumps(e))).__name__
    try:
        switchyard.responses(input="x", num_retries=0, **dict(call, api_base="http://127.0.0.1:9"))
    except switchyard.APIConnectionError as e:
        out["connection"] = [type(e).__name__, e.status_code]
    stored = switchyard.get_responses(r.id)
    out["stored_class"] = type(stored).__name__
    items = switchyard.list_input_items(r.id)
    out["items_class"] = type(items).__name__
    out["items_text"] = items.data[0].content[0].text
    print(json.dumps(out))
    """
)


def test_results_and_errors_without_openai(providers):
    env = dict(os.environ, SWITCHYARD_NO_OPENAI="1", PYTHONPATH=str(HERE_PATH))
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(providers["anthropic"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["response_class"] == "Response" and out["is_fallback"]
    assert out["output_text"] == "You said: plain objects"
    assert out["usage"][0] > 0 and out["usage"][2] == out["usage"][0] + out["usage"][1]
    assert out["item_type"] == "message"
    assert out["dump_text"] == "You said: plain objects"
    assert out["json_ok"] and out["read_only"]
    assert out["hidden"] == "anthropic"
    assert out["event_types"] == ["response.created", "response.completed"]
    assert out["event_class"] == "ResponseStreamEvent"
    assert out["final_text"] == "You said: plain stream" and out["final_class"] == "Response"
    assert out["replayed"] == "You said: again"
    assert out["async_text"] == "You said: async plain"
    assert out["error"] == ["RateLimitError", 429, "rate_limit_exceeded", True, True, 429, True]
    assert out["pickled"] == "RateLimitError"
    assert out["connection"] == ["APIConnectionError", 502]
    assert out["stored_class"] == "Response"
    assert out["items_class"] == "ResponseItemList" and out["items_text"] == "plain objects"
