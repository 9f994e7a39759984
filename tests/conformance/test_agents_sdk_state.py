"""The OpenAI Agents SDK on the gateway's stored state: ``auto_previous_response_id`` (each
model call after the first sends only what is new), ``conversation_id`` from
``conversations.create``, and ``OpenAIConversationsSession`` across two runs."""

from __future__ import annotations

import asyncio

import pytest
from agents import (Agent, OpenAIConversationsSession, OpenAIResponsesModel, Runner, function_tool,
                    set_tracing_disabled)
from openai import AsyncOpenAI

from conftest import GROUPS, Target

pytestmark = pytest.mark.gateway_only

WEATHER = "sunny-and-21C-from-agents-state"
QUESTION = "What is the weather in Paris?"
FOLLOW_UP = "[[mock:text]] And tomorrow?"  # a text answer even though the tool is offered
# Every group the suite serves, and Gemini 3 on the Gemini API as well as on Vertex.
STATE_GROUPS = pytest.mark.parametrize("group", [*GROUPS, "gemini-3"])

set_tracing_disabled(True)  # no trace export to api.openai.com


def make_client(target: Target) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=target.base_url, api_key=target.api_key, max_retries=0, timeout=30.0)


def make_agent(client: AsyncOpenAI, target: Target, group: str, calls: list[str]) -> Agent:
    @function_tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        calls.append(city)
        return WEATHER

    return Agent(
        name="weather-agent",
        instructions="Answer weather questions using the get_weather tool.",
        tools=[get_weather],
        model=OpenAIResponsesModel(model=target.model(group), openai_client=client),
    )


async def run(agent: Agent, prompt: str, streamed: bool = False, **options):
    if not streamed:
        return await Runner.run(agent, prompt, max_turns=4, **options)
    result = Runner.run_streamed(agent, prompt, max_turns=4, **options)
    async for _ in result.stream_events():
        pass
    return result


async def input_items(client: AsyncOpenAI, response_id: str) -> list:
    return [item async for item in client.responses.input_items.list(response_id, order="asc")]


def check_tool_run(result, calls: list[str]) -> None:
    assert len(calls) == 1, f"get_weather should run exactly once, ran with {calls}"
    assert result.final_output == f"The tool returned: {WEATHER}", f"final_output={result.final_output!r}"
    assert [item.type for item in result.new_items] == [
        "tool_call_item", "tool_call_output_item", "message_output_item"]


@STATE_GROUPS
@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
def test_auto_previous_response_id(target, group, streamed):
    async def scenario():
        client = make_client(target)
        calls: list[str] = []
        agent = make_agent(client, target, group, calls)
        result = await run(agent, QUESTION, streamed, auto_previous_response_id=True)
        check_tool_run(result, calls)
        first, second = (r.response_id for r in result.raw_responses)
        assert result.last_response_id == second

        # The second call named the first and sent only the tool's output: the gateway
        # supplied the question and the call from its store.
        stored = await client.responses.retrieve(second)
        assert stored.previous_response_id == first
        sent = await input_items(client, second)
        assert [item.type for item in sent] == ["function_call_output"], sent
        assert sent[0].output == WEATHER

        # A later run continues the chain from the last response.
        follow_up = await run(agent, FOLLOW_UP, streamed, previous_response_id=second)
        assert follow_up.final_output == f"You said: {FOLLOW_UP}"
        assert (await client.responses.retrieve(follow_up.last_response_id)).previous_response_id == second

    asyncio.run(scenario())


@STATE_GROUPS
def test_run_with_conversation_id(target, group):
    async def scenario():
        client = make_client(target)
        calls: list[str] = []
        agent = make_agent(client, target, group, calls)
        conversation = await client.conversations.create()

        result = await run(agent, QUESTION, conversation_id=conversation.id)
        check_tool_run(result, calls)
        items = [item async for item in client.conversations.items.list(conversation.id, order="asc")]
        assert [item.type for item in items] == ["message", "function_call", "function_call_output", "message"]
        assert items[0].content[0].text == QUESTION
        assert items[2].output == WEATHER

        follow_up = await run(agent, FOLLOW_UP, conversation_id=conversation.id)
        alone = await run(agent, FOLLOW_UP)
        assert follow_up.final_output == f"You said: {FOLLOW_UP}"
        # The follow-up's upstream got the first run's items too (the mock counts words).
        asked, = follow_up.raw_responses
        assert asked.usage.input_tokens > alone.raw_responses[0].usage.input_tokens, (asked.usage, alone)
        assert [i.type for i in await input_items(client, asked.response_id)] == ["message"]
        items = [item async for item in client.conversations.items.list(conversation.id, order="asc")]
        assert len(items) == 6, [item.type for item in items]
        assert items[-1].content[0].text == f"You said: {FOLLOW_UP}"

    asyncio.run(scenario())


@STATE_GROUPS
def test_openai_conversations_session(target, group):
    async def scenario():
        client = make_client(target)
        calls: list[str] = []
        agent = make_agent(client, target, group, calls)
        session = OpenAIConversationsSession(openai_client=client)

        first = await run(agent, QUESTION, session=session)
        check_tool_run(first, calls)
        second = await run(agent, FOLLOW_UP, session=session)
        assert second.final_output == f"You said: {FOLLOW_UP}"

        # The second run sent the first run's history, read back from the conversation.
        asked, = second.raw_responses
        sent = await input_items(client, asked.response_id)
        assert [item.type for item in sent] == [
            "message", "function_call", "function_call_output", "message", "message"], sent
        assert sent[0].content[0].text == QUESTION
        assert sent[2].output == WEATHER
        assert sent[3].content[0].text == f"The tool returned: {WEATHER}"
        assert sent[4].content[0].text == FOLLOW_UP

        history = await session.get_items()
        assert [item["type"] for item in history] == [
            "message", "function_call", "function_call_output", "message", "message", "message"]
        conversation = await client.conversations.retrieve(session.session_id)
        assert conversation.id == session.session_id

        await session.clear_session()
        assert await session.get_items() == [], "a cleared session starts a new, empty conversation"

    asyncio.run(scenario())
