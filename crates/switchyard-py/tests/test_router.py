"""`switchyard.Router`: model groups, load balancing, retries, fallbacks and aliases, from a
`model_list` and from a config file."""

from __future__ import annotations

import asyncio
import collections
import logging

import pytest
from openai.types.responses import Response

import switchyard
from helpers import OPENAI_KEY, free_port


def _dead() -> dict:
    """A deployment nothing listens for."""
    return {"model": "openai/gpt-dead", "api_base": f"http://127.0.0.1:{free_port()}/v1", "api_key": OPENAI_KEY}


def test_load_balancing_over_a_group(providers):
    router = switchyard.Router(
        model_list=[
            {"model_name": "fast", "litellm_params": providers["openai"], "model_info": {"id": "fast-openai"}},
            {"model_name": "fast", "litellm_params": providers["hosted_vllm"], "model_info": {"id": "fast-vllm"}},
            {"model_name": "fast", "litellm_params": providers["anthropic"], "model_info": {"id": "fast-claude"}},
        ],
        routing_strategy="simple-shuffle",
    )
    assert router.get_model_names() == ["fast"]
    served = collections.Counter()
    for i in range(60):
        response = router.responses(model="fast", input=f"call {i}")
        assert response.output_text == f"You said: call {i}"
        assert response._hidden_params["model_group"] == "fast"
        served[response._hidden_params["model_id"]] += 1
    assert set(served) == {"fast-openai", "fast-vllm", "fast-claude"}, served
    assert min(served.values()) >= 5, served


def test_weights_steer_the_shuffle(providers):
    router = switchyard.Router(
        model_list=[
            {"model_name": "g", "litellm_params": dict(providers["openai"], weight=9), "model_info": {"id": "heavy"}},
            {"model_name": "g", "litellm_params": dict(providers["hosted_vllm"], weight=1), "model_info": {"id": "light"}},
        ]
    )
    served = collections.Counter(router.responses(model="g", input="w")._hidden_params["model_id"] for _ in range(100))
    assert served["heavy"] > served["light"], served


def test_fallback_to_another_group(providers):
    router = switchyard.Router(
        model_list=[
            {"model_name": "primary", "litellm_params": _dead()},
            {"model_name": "backup", "litellm_params": providers["anthropic"]},
        ],
        fallbacks=[{"primary": ["backup"]}],
        num_retries=0,
    )
    response = router.responses(model="primary", input="fall back")
    assert response.output_text == "You said: fall back"
    assert response._hidden_params["model_group"] == "backup"
    assert response._hidden_params["attempted_fallbacks"] == 1
    events = list(router.responses(model="primary", input="fall back streaming", stream=True))
    assert events[-1].response._hidden_params["model_group"] == "backup"


def test_per_call_fallbacks_with_their_own_input(providers):
    # LiteLLM's per-call form: a fallback entry overrides fields of the request it sends.
    router = switchyard.Router(
        model_list=[
            {"model_name": "small", "litellm_params": providers["openai"]},
            {"model_name": "large", "litellm_params": providers["gemini"]},
        ],
        num_retries=0,
    )
    response = router.responses(
        model="small",
        input="too long [[mock:error=context]]",
        fallbacks=[{"model": "large", "input": "the short version"}],
    )
    assert response._hidden_params["model_group"] == "large"
    assert response.output_text == "You said: the short version"
    # Without a fallback, the failure is raised as it is.
    with pytest.raises(switchyard.ContextWindowExceededError):
        router.responses(model="small", input="too long [[mock:error=context]]")


def test_retries_move_to_another_deployment(providers):
    router = switchyard.Router(
        model_list=[
            {"model_name": "g", "litellm_params": _dead(), "model_info": {"id": "dead"}},
            {"model_name": "g", "litellm_params": providers["openai"], "model_info": {"id": "alive"}},
        ],
        num_retries=2,
        retry_after=0,
    )
    retried = 0
    for i in range(12):
        response = router.responses(model="g", input=f"r{i}")
        assert response._hidden_params["model_id"] == "alive"
        retried += response._hidden_params["attempted_retries"]
    assert retried >= 1, "the dead deployment was tried at least once"


def test_per_call_overrides_and_mock_fallbacks(providers):
    router = switchyard.Router(
        model_list=[
            {"model_name": "a", "litellm_params": providers["openai"]},
            {"model_name": "b", "litellm_params": providers["bedrock"]},
        ],
        fallbacks=[{"a": ["b"]}],
    )
    response = router.responses(model="a", input="forced", mock_testing_fallbacks=True)
    assert response._hidden_params["model_group"] == "b"
    with pytest.raises(switchyard.APIError):
        router.responses(model="a", input="forced", mock_testing_fallbacks=True, max_fallbacks=0)
    with pytest.raises(TypeError, match="deployment setting"):
        router.responses(model="a", input="x", api_key="sk-not-here")


def test_model_group_alias_and_unknown_groups(providers):
    router = switchyard.Router(
        model_list=[{"model_name": "claude", "litellm_params": providers["anthropic"]}],
        model_group_alias={"default": "claude"},
    )
    assert router.responses(model="default", input="alias").output_text == "You said: alias"
    assert "default" in router.get_model_names()
    with pytest.raises(switchyard.NotFoundError) as unknown:
        router.responses(model="nope", input="x")
    assert unknown.value.status_code == 404 and unknown.value.code == "model_not_found"


def test_router_from_a_config_file(tmp_path, providers, mock, caplog):
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
model_list:
  - model_name: chat
    litellm_params:
      model: hosted_vllm/mock-llama
      api_base: {mock.url}/vllm/v1
  - model_name: chat
    litellm_params:
      model: openai/gpt-mock
      api_base: {mock.url}/v1
      api_key: os.environ/SWITCHYARD_PY_TEST_KEY
router_settings:
  routing_strategy: least-busy
  num_retries: 1
litellm_settings:
  drop_params: true
  not_a_real_setting: 1
"""
    )
    import os

    os.environ["SWITCHYARD_PY_TEST_KEY"] = OPENAI_KEY
    with caplog.at_level(logging.WARNING, logger="switchyard"):
        router = switchyard.Router(config=str(config))
    assert any("not_a_real_setting" in r.getMessage() for r in caplog.records)
    assert router.get_model_names() == ["chat"]
    response = router.responses(model="chat", input="from yaml")
    assert isinstance(response, Response) and response.output_text == "You said: from yaml"
    # A dict in the config file's shape works too.
    again = switchyard.Router(config={"model_list": [{"model_name": "x", "litellm_params": providers["gemini"]}]})
    assert again.responses(model="x", input="dict").output_text == "You said: dict"


def test_router_config_errors():
    with pytest.raises(ValueError, match="model_list"):
        switchyard.Router(config={"model_list": "not a list"})
    with pytest.raises(ValueError):
        switchyard.Router(config="/nonexistent/config.yaml")
    with pytest.raises(TypeError):
        switchyard.Router(model_list=[], config={"model_list": []})


def test_router_async_and_streams(providers):
    router = switchyard.Router(
        model_list=[
            {"model_name": "g", "litellm_params": providers["openai"]},
            {"model_name": "g", "litellm_params": providers["azure"]},
        ]
    )

    async def main():
        responses = await asyncio.gather(*(router.aresponses(model="g", input=f"a{i}") for i in range(20)))
        stream = await router.aresponses(model="g", input="streamed", stream=True)
        events = [e async for e in stream]
        return responses, events

    responses, events = asyncio.run(main())
    assert [r.output_text for r in responses] == [f"You said: a{i}" for i in range(20)]
    assert events[-1].type == "response.completed"
