"""The OpenAI Agents SDK's ``OpenAIResponsesCompactionSession`` through the gateway: after a
run, the session calls ``responses.compact`` and keeps the compacted window (the user's
messages and one compaction item) in place of the history; the next run sends that window,
and the model answers from it.

The session accepts only OpenAI model names for ``responses.compact``, so the gateway config
serves its groups under aliases (``gpt-compact-<group>``, ``router_settings.model_group_alias``).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from agents import (Agent, OpenAIResponsesCompactionSession, OpenAIResponsesModel, Runner, SQLiteSession,
                    set_tracing_disabled)
from openai import AsyncOpenAI

from conftest import GROUPS, Target

pytestmark = pytest.mark.gateway_only

set_tracing_disabled(True)  # no trace export to api.openai.com

# Every group: pass-throughs (their upstream compacts) and translated ones (summarised by their
# own model, sealed by the gateway).
COMPACTION_GROUPS = pytest.mark.parametrize("group", GROUPS)
# Groups whose compaction items the upstream makes (OpenAI's, Azure's).
COMPACTING_UPSTREAMS = ("passthrough", "azure")
FIRST = "[[mock:text]] My name is Ada and the codeword is heliotrope."
SECOND = "[[mock:text]] What is the codeword?"


def words(text: str) -> int:
    return len(text.split())


@COMPACTION_GROUPS
@pytest.mark.parametrize("mode", ["previous_response_id", "input"])
def test_compaction_session(target, group, mode):
    async def scenario():
        client = AsyncOpenAI(base_url=target.base_url, api_key=target.api_key, max_retries=0, timeout=60.0)
        agent = Agent(name="memory-agent", instructions="Answer briefly.",
                      model=OpenAIResponsesModel(model=target.model(group), openai_client=client))
        compacted_calls: list[dict] = []

        def compact_every_turn(context: dict) -> bool:
            compacted_calls.append(context)
            return len(context["compaction_candidate_items"]) >= 1

        session = OpenAIResponsesCompactionSession(
            session_id=f"conformance-{uuid.uuid4().hex}",
            underlying_session=SQLiteSession(f"conformance-{uuid.uuid4().hex}"),
            client=client, model=f"gpt-compact-{group}", compaction_mode=mode,
            should_trigger_compaction=compact_every_turn)

        first = await Runner.run(agent, FIRST, session=session, max_turns=2)
        assert first.final_output == f"You said: {FIRST}"
        assert compacted_calls, "the session never considered compacting"
        # The history became its user message and one compaction item.
        history = await session.get_items()
        assert [item["type"] if "type" in item else item.get("role") for item in history] in (
            ["message", "compaction"], ["user", "compaction"]), history
        compaction = history[-1]
        assert compaction["encrypted_content"], compaction
        if group not in COMPACTING_UPSTREAMS:
            assert compaction["encrypted_content"].startswith("swys1."), "sealed by the gateway"

        second = await Runner.run(agent, SECOND, session=session, max_turns=2)
        said = second.final_output
        assert said.startswith("You said: ") and said.endswith(SECOND), said
        # The second call sent the window: its input items hold the compaction item, and the
        # upstream got more than the two user messages (the item stood for the first answer).
        asked, = second.raw_responses
        sent = [item async for item in client.responses.input_items.list(asked.response_id, order="asc")]
        assert "compaction" in [item.type for item in sent], [item.type for item in sent]
        assert asked.usage.input_tokens > words("Answer briefly.") + words(FIRST) + words(SECOND), asked.usage

    asyncio.run(scenario())
