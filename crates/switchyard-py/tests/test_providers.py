"""Every native provider and a Chat Completions server, streamed and not, sync and async,
through `switchyard.responses` / `aresponses` with per-call settings."""

from __future__ import annotations

import asyncio

import openai
import pytest
from openai.types.responses import Response, ResponseTextDeltaEvent

import switchyard
from helpers import final_of, output_text_of

PROVIDERS = ["openai", "anthropic", "gemini", "bedrock", "vertex_ai", "vertex_ai_claude", "azure", "hosted_vllm"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sync_response(providers, provider):
    response = switchyard.responses(input="hello from python", **providers[provider])
    assert isinstance(response, Response), "the OpenAI SDK's own type"
    assert response.status == "completed"
    assert response.output_text == "You said: hello from python"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    hidden = response._hidden_params
    assert hidden["custom_llm_provider"] == provider.replace("_claude", "")
    assert hidden["litellm_call_id"].startswith("req_")
    assert hidden["attempted_retries"] == 0
    dumped = response.model_dump()
    assert dumped["output"][0]["content"][0]["text"] == "You said: hello from python"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sync_stream(providers, provider):
    stream = switchyard.responses(input="stream this please", stream=True, **providers[provider])
    assert isinstance(stream, switchyard.ResponsesStream)
    events = list(stream)
    types = [e.type for e in events]
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"
    assert "keepalive" not in types
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert deltas and all(isinstance(d, ResponseTextDeltaEvent) for d in deltas)
    assert output_text_of(events) == "You said: stream this please"
    final = final_of(events)
    assert isinstance(final, Response) and final.output_text == "You said: stream this please"
    assert stream.completed_response is final
    assert final._hidden_params["custom_llm_provider"] == provider.replace("_claude", "")
    sequence = [e.sequence_number for e in events]
    assert sequence == sorted(sequence)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_async_response_and_stream(providers, provider):
    async def main():
        response = await switchyard.aresponses(input="async hello", **providers[provider])
        assert isinstance(response, Response)
        assert response.output_text == "You said: async hello"
        stream = await switchyard.aresponses(input="async stream", stream=True, **providers[provider])
        assert isinstance(stream, switchyard.AsyncResponsesStream)
        events = [e async for e in stream]
        assert events[-1].type == "response.completed"
        assert output_text_of(events) == "You said: async stream"
        assert final_of(events).output_text == "You said: async stream"

    asyncio.run(main())


def test_positional_input_and_model_like_litellm(providers):
    p = dict(providers["openai"])
    model = p.pop("model")
    response = switchyard.responses("positional", model, **p)
    assert response.output_text == "You said: positional"


def test_responses_parameters_reach_the_provider(providers):
    # Instructions, sampling parameters and metadata are Responses fields; `max_output_tokens`
    # with the mock's length directive makes an incomplete response.
    response = switchyard.responses(
        input="cut me short [[mock:length]]",
        instructions="Be brief.",
        temperature=0.2,
        max_output_tokens=3,
        metadata={"suite": "python"},
        **providers["anthropic"],
    )
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.metadata == {"suite": "python"}


def test_drop_params(providers):
    # Claude takes temperature or top_p, not both: refused, or dropped with drop_params.
    with pytest.raises(switchyard.UnsupportedParamsError) as refused:
        switchyard.responses(input="hi", temperature=0.2, top_p=0.9, **providers["anthropic"])
    assert refused.value.status_code == 400 and refused.value.param == "top_p"
    response = switchyard.responses(input="hi", temperature=0.2, top_p=0.9, drop_params=True, **providers["anthropic"])
    assert response.output_text == "You said: hi"


def test_extra_body_and_none_values(providers):
    # None is "not set" (as LiteLLM passes its defaults); extra_body merges into the body.
    response = switchyard.responses(
        input="hi", tools=None, temperature=None, extra_body={"metadata": {"via": "extra_body"}}, **providers["openai"]
    )
    assert response.metadata == {"via": "extra_body"}


def test_reasoning_items_are_typed(providers):
    response = switchyard.responses(input="think first [[mock:reasoning]]", **providers["anthropic"])
    kinds = [item.type for item in response.output]
    assert kinds[0] == "reasoning" and "message" in kinds
    assert response.usage.output_tokens_details.reasoning_tokens > 0


def test_environment_credentials_without_settings(monkeypatch, mock):
    # No per-call settings: credentials and base URL come from the provider's variables.
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-from-env-0000000")
    monkeypatch.setenv("ANTHROPIC_API_BASE", f"{mock.url}/anthropic")
    response = switchyard.responses(model="anthropic/claude-sonnet-4-5", input="from the environment")
    assert response.output_text == "You said: from the environment"


def test_gateways_are_reused_per_settings(providers):
    from switchyard import main

    call = dict(providers["openai"], api_key="sk-mock-reuse-0000000000")
    for _ in range(3):
        switchyard.responses(input="again", **call)
    assert len([k for k in main._gateways if "sk-mock-reuse-0000000000" in k]) == 1


def test_openai_errors_module_compatibility():
    # The classes are the OpenAI SDK's, so `except openai.APIError` catches them all.
    assert issubclass(switchyard.RateLimitError, openai.RateLimitError)
    assert issubclass(switchyard.APITimeoutError, openai.APITimeoutError)
    assert issubclass(switchyard.APIConnectionError, openai.APIConnectionError)
    assert issubclass(switchyard.ServiceUnavailableError, openai.InternalServerError)
    assert issubclass(switchyard.ContextWindowExceededError, openai.BadRequestError)
    assert issubclass(switchyard.BadRequestError, switchyard.APIStatusError)
