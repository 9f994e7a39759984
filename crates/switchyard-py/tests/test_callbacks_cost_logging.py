"""Callbacks in LiteLLM's shape, cost on the response and through `completion_cost`, and the
library's logs in Python's `logging`."""

from __future__ import annotations

import asyncio
import datetime
import logging

import pytest

import switchyard
from switchyard import _native


@pytest.fixture
def registered():
    """Clears the callback lists around a test."""
    saved = (list(switchyard.success_callback), list(switchyard.failure_callback), list(switchyard.callbacks))
    switchyard.success_callback.clear()
    switchyard.failure_callback.clear()
    switchyard.callbacks.clear()
    yield
    switchyard.success_callback[:], switchyard.failure_callback[:], switchyard.callbacks[:] = saved


def test_success_callback(providers, registered):
    seen = []
    switchyard.success_callback.append(lambda kwargs, response, start, end: seen.append((kwargs, response, start, end)))
    response = switchyard.responses(input="callback me", metadata={"team": "a"}, **providers["anthropic"])
    assert len(seen) == 1
    kwargs, passed, start, end = seen[0]
    assert passed is response
    assert isinstance(start, datetime.datetime) and isinstance(end, datetime.datetime) and start <= end
    assert kwargs["model"] == "anthropic/claude-sonnet-4-5"
    assert kwargs["input"] == "callback me"
    assert kwargs["stream"] is False and kwargs["call_type"] == "responses"
    assert kwargs["litellm_call_id"] == response._hidden_params["litellm_call_id"]
    assert kwargs["response_cost"] == response._hidden_params["response_cost"] > 0
    assert kwargs["litellm_params"]["custom_llm_provider"] == "anthropic"
    assert kwargs["litellm_params"]["metadata"] == {"team": "a"}
    record = kwargs["standard_logging_object"]
    assert record["status"] == "success" and record["provider"] == "anthropic"
    assert record["usage"]["input_tokens"] == response.usage.input_tokens


def test_failure_callback(providers, registered):
    seen = []
    switchyard.failure_callback.append(lambda kwargs, error, start, end: seen.append((kwargs, error)))
    with pytest.raises(switchyard.RateLimitError) as raised:
        switchyard.responses(input="[[mock:error=429]]", num_retries=0, **providers["gemini"])
    assert len(seen) == 1
    kwargs, error = seen[0]
    assert error is raised.value and kwargs["exception"] is raised.value
    assert "RateLimitError" in kwargs["traceback_exception"]
    assert kwargs["standard_logging_object"]["status"] == "failure"
    assert kwargs["standard_logging_object"]["http_status"] == 429


def test_stream_callbacks_run_at_the_end(providers, registered):
    seen = []
    switchyard.success_callback.append(lambda kwargs, response, *_: seen.append((kwargs, response)))
    stream = switchyard.responses(input="streamed callback", stream=True, **providers["openai"])
    events = []
    for event in stream:
        events.append(event)
        if event.type != "response.completed":
            assert not seen, "called before the stream ended"
    assert len(seen) == 1
    kwargs, response = seen[0]
    assert kwargs["stream"] is True
    assert response.output_text == "You said: streamed callback"
    failed = []
    switchyard.failure_callback.append(lambda kwargs, error, *_: failed.append(error))
    list(switchyard.responses(input="x [[mock:midstream-error]]", stream=True, **providers["anthropic"]))
    assert len(failed) == 1 and isinstance(failed[0], switchyard.APIError)


def test_custom_logger_objects_and_async_callbacks(providers, registered):
    class Logger:
        def __init__(self):
            self.events = []

        def log_success_event(self, kwargs, response, start, end):
            self.events.append(("sync", kwargs["call_type"]))

        async def async_log_success_event(self, kwargs, response, start, end):
            await asyncio.sleep(0)
            self.events.append(("async", kwargs["call_type"]))

        def log_failure_event(self, kwargs, error, start, end):
            self.events.append(("failure", type(error).__name__))

    logger = Logger()
    switchyard.callbacks.append(logger)
    switchyard.responses(input="one", **providers["openai"])
    asyncio.run(switchyard.aresponses(input="two", **providers["openai"]))
    with pytest.raises(switchyard.AuthenticationError):
        switchyard.responses(input="[[mock:error=401]]", num_retries=0, **providers["openai"])
    assert logger.events == [("sync", "responses"), ("async", "aresponses"), ("failure", "AuthenticationError")]


def test_a_failing_callback_does_not_fail_the_call(providers, registered, caplog):
    def broken(*_):
        raise RuntimeError("callback bug")

    switchyard.success_callback.append(broken)
    with caplog.at_level(logging.ERROR, logger="switchyard.callbacks"):
        response = switchyard.responses(input="still fine", **providers["openai"])
    assert response.output_text == "You said: still fine"
    assert any("callback bug" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_cost_of_a_priced_model(providers):
    response = switchyard.responses(input="price me [[mock:usage=1000,500,0,0]]", **providers["anthropic"])
    cost = response._hidden_params["response_cost"]
    # claude-sonnet-4-5: $3 per million input tokens, $15 per million output tokens.
    assert cost == pytest.approx(1000 * 3e-6 + 500 * 15e-6)
    assert switchyard.completion_cost(response) == cost
    assert switchyard.completion_cost(completion_response=response) == cost


def test_cost_of_a_stream_and_custom_prices(providers):
    stream = switchyard.responses(
        input="stream price [[mock:usage=100,10,0,0]]",
        stream=True,
        input_cost_per_token=1e-3,
        output_cost_per_token=2e-3,
        **providers["openai"],
    )
    events = list(stream)
    expected = pytest.approx(100 * 1e-3 + 10 * 2e-3)
    assert stream._hidden_params["response_cost"] == expected
    assert events[-1].response._hidden_params["response_cost"] == expected
    assert switchyard.completion_cost(events[-1]) == expected


def test_unpriced_models_have_no_cost(providers):
    response = switchyard.responses(input="free?", **providers["hosted_vllm"])
    assert response._hidden_params["response_cost"] is None
    with pytest.raises(ValueError):
        switchyard.completion_cost(response)


def test_cost_of_a_stored_response_from_the_catalog(providers):
    created = switchyard.responses(input="catalog [[mock:usage=2000,100,0,0]]", **providers["anthropic"])
    stored = switchyard.get_responses(created.id)
    assert not getattr(stored, "_hidden_params", None)
    cost = switchyard.completion_cost(stored, model="anthropic/claude-sonnet-4-5")
    assert cost == pytest.approx(2000 * 3e-6 + 100 * 15e-6)


def test_logs_reach_python_logging(providers, caplog):
    with caplog.at_level(logging.INFO, logger="switchyard"):
        response = switchyard.responses(input="log me", **providers["openai"])
        _native.flush_logs()
    finished = [r for r in caplog.records if r.name == "switchyard.request"]
    assert finished, [r.name for r in caplog.records]
    line = finished[-1].getMessage()
    assert "request finished" in line
    assert response._hidden_params["litellm_call_id"] in line
    assert finished[-1].levelno == logging.INFO


def test_logs_follow_the_logger_level(providers, caplog):
    with caplog.at_level(logging.WARNING, logger="switchyard"):
        switchyard.responses(input="quiet", **providers["openai"])
        _native.flush_logs()
    assert not [r for r in caplog.records if r.name == "switchyard.request"]
    with caplog.at_level(logging.WARNING, logger="switchyard"):
        with pytest.raises(switchyard.APIError):
            switchyard.responses(input="[[mock:error=500]]", num_retries=0, **providers["openai"])
        _native.flush_logs()


def test_module_defaults(providers, monkeypatch):
    monkeypatch.setattr(switchyard, "drop_params", True)
    response = switchyard.responses(input="dropped", temperature=0.1, top_p=0.5, **providers["anthropic"])
    assert response.output_text == "You said: dropped"
    monkeypatch.setattr(switchyard, "request_timeout", 0.3)
    with pytest.raises(switchyard.APITimeoutError):
        switchyard.responses(input="[[mock:slow=3000]]", num_retries=0, **providers["openai"])
