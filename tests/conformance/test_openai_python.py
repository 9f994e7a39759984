"""openai-python against POST /v1/responses: text, tool round trip, streaming helpers, errors."""

from __future__ import annotations

import json

import openai
import pytest
from openai import OpenAI

from conftest import Target

TOOL_OUTPUT = "sunny-42-from-python"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
STREAM_MODES = pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])


def make_client(target: Target, **overrides) -> OpenAI:
    # No retries anywhere: a conformance failure must not be papered over by the client.
    opts = dict(base_url=target.base_url, api_key=target.api_key, max_retries=0, timeout=30.0)
    opts.update(overrides)
    return OpenAI(**opts)


def final_response(client: OpenAI, stream: bool, **params):
    """One turn: ``responses.create`` or ``responses.stream(...).get_final_response()``."""
    if not stream:
        return client.responses.create(**params)
    with client.responses.stream(**params) as s:
        return s.get_final_response()


def output_types(response) -> list[str]:
    return [item.type for item in response.output]


@STREAM_MODES
def test_text(target, group, stream):
    response = final_response(make_client(target), stream, model=target.model(group), input="hello conformance")
    assert response.object == "response"
    assert response.status == "completed", f"status={response.status!r} output={response.output!r}"
    assert "You said" in response.output_text, f"unexpected text {response.output_text!r}"
    assert "hello conformance" in response.output_text
    assert output_types(response) == ["message"]
    assert response.usage is not None and response.usage.total_tokens >= 0


@STREAM_MODES
def test_text_strict_validation(target, group, stream):
    """_strict_response_validation makes the client reject bodies missing required fields."""
    client = make_client(target, _strict_response_validation=True)
    try:
        response = final_response(client, stream, model=target.model(group), input="strict please")
    except openai.APIResponseValidationError as err:
        pytest.fail(f"response body fails the client's schema:\n{err.__cause__}\nbody: {err.body!r}", pytrace=False)
    assert "You said" in response.output_text, f"unexpected text {response.output_text!r}"


@STREAM_MODES
def test_function_call_round_trip(target, group, stream):
    client = make_client(target)
    user = {"role": "user", "content": "What is the weather in Paris?"}
    first = final_response(client, stream, model=target.model(group), input=[user], tools=[WEATHER_TOOL])

    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1, f"expected one function_call item, got output types {output_types(first)}"
    call = calls[0]
    assert call.name == "get_weather"
    assert call.call_id, "function_call.call_id must be non-empty"
    assert json.loads(call.arguments) == {"city": "x"}, f"arguments={call.arguments!r}"
    assert first.output_text == ""

    history = [user, *[item.model_dump(exclude_none=True) for item in first.output],
               {"type": "function_call_output", "call_id": call.call_id, "output": TOOL_OUTPUT}]
    second = final_response(client, stream, model=target.model(group), input=history, tools=[WEATHER_TOOL])
    assert second.status == "completed"
    assert f"The tool returned: {TOOL_OUTPUT}" in second.output_text, f"final text {second.output_text!r}"


def check_event_stream(events, final_text: str) -> None:
    types = [e.type for e in events]
    assert types, "no events received"
    assert types[0] == "response.created", f"first event is {types[0]!r}; all: {types}"
    assert types[-1] == "response.completed", f"last event is {types[-1]!r}; all: {types}"
    seqs = [e.sequence_number for e in events]
    assert seqs == list(range(len(events))), f"sequence_number not contiguous from 0: {seqs}"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == final_text, f"text deltas {deltas!r} != final text {final_text!r}"


def test_stream_helper_events(target, group):
    client = make_client(target)
    with client.responses.stream(model=target.model(group), input="stream me") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert "You said" in final.output_text, f"final text {final.output_text!r}"
    check_event_stream(events, final.output_text)
    assert events[-1].response.id == final.id == events[0].response.id


def test_create_stream_raw_iteration(target, group):
    client = make_client(target)
    events = list(client.responses.create(model=target.model(group), input="raw stream", stream=True))
    assert events and events[-1].type == "response.completed", f"events: {[e.type for e in events]}"
    completed = events[-1].response
    assert completed.status == "completed"
    assert "You said" in completed.output_text, f"completed text {completed.output_text!r}"
    check_event_stream(events, completed.output_text)


# --------------------------------------------------------------------------- errors


@pytest.mark.gateway_only
@STREAM_MODES
def test_unknown_model_is_not_found(target, stream):
    with pytest.raises(openai.NotFoundError) as exc:
        final_response(make_client(target), stream, model="no-such-model-group", input="hi")
    assert exc.value.status_code == 404
    assert exc.value.code == "model_not_found", f"error body: {exc.value.body!r}"


@pytest.mark.gateway_only
@STREAM_MODES
def test_bad_api_key_is_authentication_error(target, group, stream):
    client = make_client(target, api_key="sk-wrong-key")
    with pytest.raises(openai.AuthenticationError) as exc:
        final_response(client, stream, model=target.model(group), input="hi")
    assert exc.value.status_code == 401
    assert isinstance(exc.value.body, dict) and exc.value.message, f"error body: {exc.value.body!r}"


@STREAM_MODES
def test_upstream_429_is_rate_limit_error(target, group, stream):
    client = make_client(target, max_retries=0)
    with pytest.raises(openai.RateLimitError) as exc:
        final_response(client, stream, model=target.model(group), input="[[mock:error=429]] slow down")
    assert exc.value.status_code == 429
    assert exc.value.response.headers.get("retry-after"), "429 must carry a Retry-After header"


@pytest.mark.gateway_only
@STREAM_MODES
def test_malformed_input_is_bad_request(target, group, stream):
    with pytest.raises(openai.BadRequestError) as exc:
        final_response(make_client(target), stream, model=target.model(group), input=123)
    assert exc.value.status_code == 400
    assert isinstance(exc.value.body, dict) and exc.value.message, f"error body: {exc.value.body!r}"
