"""OpenAI Agents SDK (OpenAIResponsesModel) running a one-tool agent through the gateway."""

from __future__ import annotations

import asyncio

import pytest
from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
from openai import AsyncOpenAI

from conftest import Target

WEATHER = "sunny-and-21C-from-agents-sdk"

set_tracing_disabled(True)  # no trace export to api.openai.com


def make_agent(target: Target, group: str, calls: list[str]) -> Agent:
    @function_tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        calls.append(city)
        return WEATHER

    client = AsyncOpenAI(base_url=target.base_url, api_key=target.api_key, max_retries=0, timeout=30.0)
    return Agent(
        name="weather-agent",
        instructions="Answer weather questions using the get_weather tool.",
        tools=[get_weather],
        model=OpenAIResponsesModel(model=target.model(group), openai_client=client),
    )


async def run_agent(target: Target, group: str, streamed: bool, calls: list[str]):
    agent = make_agent(target, group, calls)
    prompt = "What is the weather in Paris?"
    if not streamed:
        return await Runner.run(agent, prompt, max_turns=4), []
    result = Runner.run_streamed(agent, prompt, max_turns=4)
    event_types = [event.type async for event in result.stream_events()]
    return result, event_types


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
def test_agent_tool_round_trip(target, group, streamed):
    calls: list[str] = []
    result, event_types = asyncio.run(run_agent(target, group, streamed, calls))

    assert len(calls) == 1, f"get_weather should run exactly once, ran with {calls}"
    assert isinstance(result.final_output, str), f"final_output={result.final_output!r}"
    assert WEATHER in result.final_output, f"final_output={result.final_output!r}"
    assert "The tool returned" in result.final_output, f"final_output={result.final_output!r}"
    item_types = [item.type for item in result.new_items]
    assert item_types == ["tool_call_item", "tool_call_output_item", "message_output_item"], item_types
    assert len(result.raw_responses) == 2, "expected two model calls (tool call, then answer)"
    if streamed:
        assert "raw_response_event" in event_types, f"no raw events streamed: {set(event_types)}"
        assert "run_item_stream_event" in event_types, f"no run item events: {set(event_types)}"
