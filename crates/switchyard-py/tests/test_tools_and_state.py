"""Tool round trips on every provider, and the stored state: retrieve, delete, input items,
`previous_response_id` chains (across providers too) and conversations."""

from __future__ import annotations

import asyncio
import json

import pytest
from openai.types.conversations import Conversation
from openai.types.responses import Response, ResponseFunctionToolCall, ResponseItemList

import switchyard

PROVIDERS = ["openai", "anthropic", "gemini", "bedrock", "vertex_ai", "vertex_ai_claude", "azure", "hosted_vllm"]

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def _call_of(response):
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1, response.output
    return calls[0]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tool_round_trip_replaying_the_output(providers, provider):
    question = {"role": "user", "content": "What is the weather in Paris?"}
    first = switchyard.responses(input=[question], tools=[WEATHER], **providers[provider])
    call = _call_of(first)
    assert isinstance(call, ResponseFunctionToolCall)
    assert call.name == "get_weather"
    assert "city" in json.loads(call.arguments)
    # The SDK objects of the output go back as input as they are.
    second = switchyard.responses(
        input=[question, *first.output, {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER],
        **providers[provider],
    )
    assert second.output_text == "The tool returned: sunny"


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "bedrock"])
def test_tool_round_trip_with_previous_response_id(providers, provider):
    first = switchyard.responses(input="Weather in Oslo?", tools=[WEATHER], **providers[provider])
    call = _call_of(first)
    second = switchyard.responses(
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "snow"}],
        tools=[WEATHER],
        **providers[provider],
    )
    assert second.previous_response_id == first.id
    assert second.output_text == "The tool returned: snow"


@pytest.mark.parametrize("provider", ["openai", "anthropic", "hosted_vllm"])
def test_streamed_tool_call(providers, provider):
    events = list(switchyard.responses(input="Weather in Rome?", tools=[WEATHER], stream=True, **providers[provider]))
    types = [e.type for e in events]
    assert "response.function_call_arguments.delta" in types
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert done and "city" in json.loads(done[0].arguments)
    final = events[-1].response
    assert _call_of(final).name == "get_weather"


def test_async_tool_round_trip(providers):
    async def main():
        first = await switchyard.aresponses(input="Weather in Lima?", tools=[WEATHER], **providers["gemini"])
        call = _call_of(first)
        second = await switchyard.aresponses(
            previous_response_id=first.id,
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "mild"}],
            tools=[WEATHER],
            **providers["gemini"],
        )
        return second.output_text

    assert asyncio.run(main()) == "The tool returned: mild"


def test_retrieve_list_and_delete(providers):
    created = switchyard.responses(input="keep me", **providers["anthropic"])
    stored = switchyard.get_responses(created.id)
    assert isinstance(stored, Response)
    assert stored.id == created.id and stored.output_text == "You said: keep me"
    items = switchyard.list_input_items(created.id)
    assert isinstance(items, ResponseItemList)
    assert [i.type for i in items.data] == ["message"]
    assert items.data[0].content[0].text == "keep me"
    assert items.has_more is False
    deleted = switchyard.delete_responses(created.id)
    assert deleted.deleted is True and deleted.id == created.id
    with pytest.raises(switchyard.NotFoundError) as missing:
        switchyard.get_responses(created.id)
    assert missing.value.status_code == 404
    assert created.id in missing.value.message


def test_input_items_pages(providers):
    messages = [{"role": "user", "content": f"m{i}"} for i in range(5)]
    created = switchyard.responses(input=messages, **providers["openai"])
    first = switchyard.list_input_items(created.id, limit=2, order="asc")
    assert [i.content[0].text for i in first.data] == ["m0", "m1"] and first.has_more
    second = switchyard.list_input_items(created.id, limit=2, order="asc", after=first.last_id)
    assert [i.content[0].text for i in second.data] == ["m2", "m3"]
    with pytest.raises(switchyard.BadRequestError) as bad:
        switchyard.list_input_items(created.id, limit=1000)
    assert bad.value.param == "limit"


def test_store_false_is_not_kept(providers):
    created = switchyard.responses(input="forget me", store=False, **providers["openai"])
    with pytest.raises(switchyard.NotFoundError):
        switchyard.get_responses(created.id)


def test_chain_across_providers(providers):
    # A chain changes provider: the history is kept as Responses items, not one provider's.
    first = switchyard.responses(input="my name is Ada", **providers["openai"])
    second = switchyard.responses(input="and yours?", previous_response_id=first.id, **providers["anthropic"])
    third = switchyard.responses(input="bye", previous_response_id=second.id, **providers["bedrock"])
    assert third.previous_response_id == second.id
    assert third.output_text == "You said: bye"
    with pytest.raises(switchyard.BadRequestError) as unknown:
        switchyard.responses(input="x", previous_response_id="resp_unknown", **providers["anthropic"])
    assert unknown.value.code == "previous_response_not_found"


def test_conversations(providers):
    conversation = switchyard.create_conversation(
        items=[{"type": "message", "role": "user", "content": "first"}], metadata={"topic": "tests"}
    )
    assert isinstance(conversation, Conversation)
    assert conversation.id.startswith("conv_") and conversation.metadata == {"topic": "tests"}
    response = switchyard.responses(input="second", conversation=conversation.id, **providers["gemini"])
    # Gemini takes consecutive user messages as one turn: the conversation's item came first.
    assert response.output_text == "You said: first\nsecond"
    items = switchyard.list_conversation_items(conversation.id, order="asc")
    texts = [i.content[0].text for i in items.data]
    assert texts == ["first", "second", response.output_text]
    added = switchyard.create_conversation_items(
        conversation.id, [{"type": "message", "role": "user", "content": "third"}]
    )
    item_id = added.data[0].id
    assert switchyard.get_conversation_item(conversation.id, item_id).content[0].text == "third"
    switchyard.delete_conversation_item(conversation.id, item_id)
    assert len(switchyard.list_conversation_items(conversation.id).data) == 3
    updated = switchyard.update_conversation(conversation.id, {"topic": "renamed"})
    assert updated.metadata == {"topic": "renamed"}
    assert switchyard.get_conversation(conversation.id).metadata == {"topic": "renamed"}
    assert switchyard.delete_conversation(conversation.id).deleted is True
    with pytest.raises(switchyard.NotFoundError):
        switchyard.get_conversation(conversation.id)


def test_state_routes_async(providers):
    async def main():
        created = await switchyard.aresponses(input="async keep", **providers["azure"])
        stored = await switchyard.aget_responses(created.id)
        items = await switchyard.alist_input_items(created.id)
        conversation = await switchyard.acreate_conversation(metadata={"k": "v"})
        fetched = await switchyard.aget_conversation(conversation.id)
        deleted = await switchyard.adelete_responses(created.id)
        try:
            await switchyard.aget_responses(created.id)
        except switchyard.NotFoundError as missing:
            gone = missing.status_code
        return stored.output_text, len(items.data), fetched.metadata, deleted.deleted, gone

    assert asyncio.run(main()) == ("You said: async keep", 1, {"k": "v"}, True, 404)


def test_router_responses_share_the_state(providers):
    router = switchyard.Router(model_list=[{"model_name": "claude", "litellm_params": providers["anthropic"]}])
    created = router.responses(model="claude", input="via the router")
    assert switchyard.get_responses(created.id).output_text == "You said: via the router"
    follow = switchyard.responses(input="module call", previous_response_id=created.id, **providers["openai"])
    assert follow.previous_response_id == created.id
