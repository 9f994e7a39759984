"""Failures as exceptions: OpenAI's classes (and LiteLLM's refinements), status codes, the
provider's message, for every provider, streamed and not, sync and async."""

from __future__ import annotations

import asyncio
import pickle
import time

import openai
import pytest

import switchyard
from helpers import OPENAI_KEY, free_port

PROVIDERS = ["openai", "anthropic", "gemini", "bedrock", "vertex_ai", "azure", "hosted_vllm"]

# mock directive → (switchyard class, the OpenAI SDK class it must also be, status code)
ERRORS = {
    "400": (switchyard.BadRequestError, openai.BadRequestError, 400),
    "401": (switchyard.AuthenticationError, openai.AuthenticationError, 401),
    "403": (switchyard.PermissionDeniedError, openai.PermissionDeniedError, 403),
    "404": (switchyard.NotFoundError, openai.NotFoundError, 404),
    "429": (switchyard.RateLimitError, openai.RateLimitError, 429),
    "500": (switchyard.InternalServerError, openai.InternalServerError, 500),
    "503": (switchyard.ServiceUnavailableError, openai.InternalServerError, 503),
    "529": (switchyard.ServiceUnavailableError, openai.InternalServerError, 503),
    "context": (switchyard.ContextWindowExceededError, openai.BadRequestError, 400),
}


def _check(error, directive, provider_model):
    cls, sdk_cls, status = ERRORS[directive]
    assert type(error) is cls, f"{type(error).__name__} for {directive}"
    assert isinstance(error, sdk_cls) and isinstance(error, openai.APIStatusError)
    assert error.status_code == status
    assert error.response.status_code == status, "the SDK's response object says the same"
    assert error.message and str(error) == error.message
    assert error.type
    assert error.body["message"] == error.message
    assert error.request_id and error.request_id.startswith("req_")
    assert error.model == provider_model.split("/", 1)[1]


@pytest.mark.parametrize("directive", list(ERRORS))
@pytest.mark.parametrize("provider", PROVIDERS)
def test_sync_errors(providers, provider, directive):
    call = providers[provider]
    with pytest.raises(switchyard.APIError) as raised:
        switchyard.responses(input=f"fail [[mock:error={directive}]]", num_retries=0, **call)
    _check(raised.value, directive, call["model"])
    with pytest.raises(switchyard.APIError) as raised:
        # A stream that fails before any output raises at the call, as the proxy answers a status.
        switchyard.responses(input=f"fail [[mock:error={directive}]]", num_retries=0, stream=True, **call)
    _check(raised.value, directive, call["model"])


@pytest.mark.parametrize("provider", ["openai", "anthropic", "bedrock"])
def test_async_errors(providers, provider):
    async def main():
        caught = []
        for directive in ("429", "401", "context"):
            for stream in (False, True):
                try:
                    await switchyard.aresponses(
                        input=f"fail [[mock:error={directive}]]", num_retries=0, stream=stream, **providers[provider]
                    )
                except openai.APIStatusError as error:
                    caught.append((directive, error))
        return caught

    caught = asyncio.run(main())
    assert len(caught) == 6
    for directive, error in caught:
        _check(error, directive, providers[provider]["model"])


def test_except_openai_classes(providers):
    try:
        switchyard.responses(input="[[mock:error=429]]", num_retries=0, **providers["anthropic"])
    except openai.RateLimitError as error:
        assert error.status_code == 429
        assert error.llm_provider == "anthropic"
        assert error.retry_after is None or error.retry_after > 0
    else:
        pytest.fail("no exception")


def test_connection_refused_is_api_connection_error():
    closed = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(switchyard.APIConnectionError) as raised:
        switchyard.responses(model="openai/gpt-none", input="hi", api_base=closed, api_key=OPENAI_KEY, num_retries=0)
    assert isinstance(raised.value, openai.APIConnectionError)
    assert not isinstance(raised.value, openai.APITimeoutError)
    assert raised.value.status_code == 502
    assert raised.value.code == "upstream_connection_error"


def test_timeout_is_api_timeout_error(providers):
    started = time.monotonic()
    with pytest.raises(switchyard.APITimeoutError) as raised:
        switchyard.responses(input="slow [[mock:slow=3000]]", timeout=0.3, num_retries=0, **providers["openai"])
    assert time.monotonic() - started < 2.0
    assert isinstance(raised.value, openai.APITimeoutError)
    assert raised.value.status_code == 504
    assert switchyard.Timeout is switchyard.APITimeoutError


def test_stream_failing_midway_ends_with_response_failed(providers):
    events = list(switchyard.responses(input="go [[mock:midstream-error]]", stream=True, **providers["anthropic"]))
    assert events[-1].type == "response.failed"
    assert events[-1].response.status == "failed"
    assert events[-1].response.error.code


def test_request_errors_name_the_parameter(providers):
    with pytest.raises(switchyard.BadRequestError) as raised:
        switchyard.responses(input="hi", temperature="hot", **providers["openai"])
    assert raised.value.param == "temperature"
    assert raised.value.status_code == 400
    with pytest.raises(switchyard.BadRequestError) as raised:
        switchyard.responses(input="hi", **{k: v for k, v in providers["openai"].items() if k != "model"})
    assert raised.value.param == "model"
    with pytest.raises(switchyard.BadRequestError):
        switchyard.responses(model="not-a-provider/x", input="hi", api_key="k")


def test_exceptions_pickle_and_construct():
    error = switchyard.RateLimitError("slow down", "anthropic", "claude", code="rate_limit_exceeded", retry_after=2.0)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is switchyard.RateLimitError
    assert (again.message, again.llm_provider, again.model, again.code, again.retry_after, again.status_code) == (
        "slow down",
        "anthropic",
        "claude",
        "rate_limit_exceeded",
        2.0,
        429,
    )
    assert isinstance(switchyard.APITimeoutError("late"), openai.APITimeoutError)
    assert str(switchyard.APITimeoutError("late")) == "late"
