"""openai-python against the gateway's stateful Responses API: stored responses (retrieve,
input_items, delete, ``store=False``), ``previous_response_id`` chains on every group and across
providers, the Conversations API and ``conversation=`` on create, and a hand-written Gemini 3
tool loop that replays bare function calls.

The mock keeps no state of its own, so every test here needs the gateway. The mock counts one
input token per word it receives, which shows what history the gateway sent upstream.
"""

from __future__ import annotations

import json

import openai
import pytest
from openai import OpenAI

from conftest import GEMINI3_GROUPS, Target

pytestmark = pytest.mark.gateway_only

# Groups whose upstream speaks the Responses API. The gateway sends a previous_response_id it
# does not know (deleted, never stored, made elsewhere) on to such an upstream, which may keep
# state of its own; the mock ignores it, so these groups answer instead of a 400.
RESPONSES_UPSTREAMS = ("passthrough", "azure")
STREAM_MODES = pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
TOOL_OUTPUT = "sunny-42-from-python-state"
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


def make_client(target: Target) -> OpenAI:
    # Strict validation: every stored object and list envelope must match the client's schema.
    return OpenAI(base_url=target.base_url, api_key=target.api_key, max_retries=0, timeout=30.0,
                  _strict_response_validation=True)


def final_response(client: OpenAI, stream: bool, **params):
    """One turn: ``responses.create`` or ``responses.stream(...).get_final_response()``."""
    if not stream:
        return client.responses.create(**params)
    with client.responses.stream(**params) as s:
        return s.get_final_response()


def words(text: str) -> int:
    """What the mock counts as input tokens for ``text``."""
    return len(text.split())


def the_call(response):
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1, f"expected one function_call, got {[i.type for i in response.output]}"
    return calls[0]


# --------------------------------------------------------------------------- stored responses


@STREAM_MODES
def test_retrieve_answers_what_create_answered(target, group, stream):
    client = make_client(target)
    params = dict(model=target.model(group), input="remember me", instructions="Be brief.",
                  metadata={"suite": "conformance"})
    if stream:
        events = list(client.responses.create(**params, stream=True))
        assert events[-1].type == "response.completed", [e.type for e in events]
        created = events[-1].response
    else:
        created = client.responses.create(**params)
    assert created.status == "completed", created

    stored = client.responses.retrieve(created.id)
    assert stored.model_dump() == created.model_dump()
    assert stored.output_text == "You said: remember me"
    assert stored.instructions == "Be brief."
    assert stored.metadata == {"suite": "conformance"}
    assert stored.store is True


def test_input_items_pages(target, group):
    client = make_client(target)
    texts = [f"message-{i}" for i in range(5)]
    response = client.responses.create(model=target.model(group),
                                       input=[{"role": "user", "content": t} for t in texts])

    first_page = client.responses.input_items.list(response.id, limit=2, order="asc")
    assert len(first_page.data) == 2 and first_page.has_more is True, first_page
    pages = list(first_page.iter_pages())
    assert [len(page.data) for page in pages] == [2, 2, 1]
    assert pages[-1].has_more is False

    # Iterating the first page fetches the rest, each page after the last id seen.
    items = list(first_page)
    assert [item.type for item in items] == ["message"] * 5
    assert [item.role for item in items] == ["user"] * 5
    assert [item.content[0].text for item in items] == texts
    assert len({item.id for item in items}) == 5, "input items need distinct ids"

    newest_first = [item.content[0].text for item in client.responses.input_items.list(response.id, limit=3)]
    assert newest_first == texts[::-1], "the default order is desc"


def test_delete_then_retrieve_is_not_found(target, group):
    client = make_client(target)
    response = client.responses.create(model=target.model(group), input="short-lived")
    assert client.responses.delete(response.id) is None

    with pytest.raises(openai.NotFoundError) as exc:
        client.responses.retrieve(response.id)
    assert exc.value.status_code == 404
    assert response.id in exc.value.message, exc.value.body
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(response.id)
    if group in RESPONSES_UPSTREAMS:
        return
    with pytest.raises(openai.BadRequestError) as exc:
        client.responses.create(model=target.model(group), input="more", previous_response_id=response.id)
    assert exc.value.code == "previous_response_not_found", exc.value.body


@STREAM_MODES
def test_store_false_keeps_nothing(target, group, stream):
    client = make_client(target)
    response = final_response(client, stream, model=target.model(group), input="forget me", store=False)
    assert response.status == "completed"
    assert response.store is False

    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    if group in RESPONSES_UPSTREAMS:
        return
    with pytest.raises(openai.BadRequestError) as exc:
        final_response(client, stream, model=target.model(group), input="more", previous_response_id=response.id)
    assert exc.value.status_code == 400
    assert exc.value.code == "previous_response_not_found", exc.value.body
    assert exc.value.param == "previous_response_id", exc.value.body


# --------------------------------------------------------------------------- previous_response_id


@STREAM_MODES
def test_three_turn_chain(target, group, stream):
    client = make_client(target)
    model = target.model(group)
    first = final_response(client, stream, model=model, input="alpha", instructions="first rules")
    second = final_response(client, stream, model=model, input="beta", previous_response_id=first.id)
    third = final_response(client, stream, model=model, input="gamma", previous_response_id=second.id)
    alone = final_response(client, stream, model=model, input="gamma")

    assert [r.status for r in (first, second, third)] == ["completed"] * 3
    assert second.previous_response_id == first.id
    assert third.previous_response_id == second.id
    assert second.instructions is None and third.instructions is None, "instructions are not inherited"
    assert third.output_text == "You said: gamma"
    # The upstream got both earlier turns, question and answer, without the first instructions.
    history = words("alpha You said: alpha beta You said: beta")
    assert third.usage.input_tokens == alone.usage.input_tokens + history, (third.usage, alone.usage)

    stored = client.responses.retrieve(third.id)
    assert stored.previous_response_id == second.id
    own_input = list(client.responses.input_items.list(third.id))
    assert [item.content[0].text for item in own_input] == ["gamma"], "input_items lists only this turn's input"


@STREAM_MODES
def test_tool_loop_over_previous_response_id(target, group, stream):
    """The second turn sends only the tool output: the gateway supplies the call it answers."""
    client = make_client(target)
    model = target.model(group)
    first = final_response(client, stream, model=model, input="What is the weather in Paris?",
                           tools=[WEATHER_TOOL])
    call = the_call(first)
    second = final_response(client, stream, model=model, tools=[WEATHER_TOOL], previous_response_id=first.id,
                            input=[{"type": "function_call_output", "call_id": call.call_id,
                                    "output": TOOL_OUTPUT}])
    assert second.status == "completed", second
    assert second.output_text == f"The tool returned: {TOOL_OUTPUT}"


# One turn per provider, each continuing the last: reasoning from OpenAI and Bedrock, a tool
# call made by Claude and answered on Gemini 3.
CROSS_PROVIDER_PATH = ("passthrough", "bedrock", "anthropic", "vertex-gemini", "bridged", "gemini-3",
                       "azure", "vertex-claude", "azure-ai", "passthrough")


@STREAM_MODES
def test_chain_changes_provider(target, stream):
    client = make_client(target)
    previous = None
    sent_words = 0
    for turn, group in enumerate(CROSS_PROVIDER_PATH):
        params: dict = dict(model=target.model(group), previous_response_id=previous and previous.id)
        if group == "anthropic":
            params.update(input="What is the weather in Paris?", tools=[WEATHER_TOOL])
        elif group == "vertex-gemini":
            call = the_call(previous)
            params.update(tools=[WEATHER_TOOL], input=[{"type": "function_call_output", "call_id": call.call_id,
                                                        "output": TOOL_OUTPUT}])
        elif group in ("passthrough", "bedrock") and turn < 2:
            params.update(input=f"[[mock:reasoning]] turn {turn}", reasoning={"effort": "low"})
        else:
            params.update(input=f"turn {turn}")
        response = final_response(client, stream, **params)
        assert response.status == "completed", f"turn {turn} on {group}: {response}"
        assert response.previous_response_id == params["previous_response_id"], f"turn {turn} on {group}"
        if group == "vertex-gemini":
            assert response.output_text == f"The tool returned: {TOOL_OUTPUT}", response.output_text
        elif group != "anthropic":
            assert response.output_text == f"You said: {params['input']}", response.output_text
        # Each turn's upstream saw more than the last one: the chain keeps growing.
        assert response.usage.input_tokens > sent_words, f"turn {turn} on {group}: {response.usage}"
        sent_words = response.usage.input_tokens
        previous = response

    last = client.responses.retrieve(previous.id)
    assert last.output_text == f"You said: turn {len(CROSS_PROVIDER_PATH) - 1}"


def test_reasoning_on_bedrock_after_a_finished_tool_turn(target):
    client = make_client(target)
    first = client.responses.create(model=target.model("anthropic"), input="What is the weather in Paris?",
                                    tools=[WEATHER_TOOL])
    call = the_call(first)
    second = client.responses.create(model=target.model("anthropic"), previous_response_id=first.id,
                                     tools=[WEATHER_TOOL],
                                     input=[{"type": "function_call_output", "call_id": call.call_id,
                                             "output": TOOL_OUTPUT}])
    third = client.responses.create(model=target.model("bedrock"), previous_response_id=second.id,
                                    input="[[mock:reasoning]] and now?", reasoning={"effort": "low"})
    assert third.status == "completed"


# --------------------------------------------------------------------------- conversations


def test_conversations_api(target):
    client = make_client(target)
    hello = {"type": "message", "role": "user", "content": "Hello there"}
    conversation = client.conversations.create(items=[hello], metadata={"topic": "demo"})
    assert conversation.object == "conversation"
    assert conversation.id.startswith("conv_")
    assert conversation.metadata == {"topic": "demo"}
    assert client.conversations.retrieve(conversation.id).model_dump() == conversation.model_dump()

    updated = client.conversations.update(conversation.id, metadata={"topic": "renamed"})
    assert updated.id == conversation.id and updated.metadata == {"topic": "renamed"}
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "renamed"}

    added = client.conversations.items.create(conversation.id, items=[
        {"type": "message", "role": "user", "content": "second"},
        {"type": "message", "role": "assistant", "content": "third"},
        {"type": "message", "role": "user", "content": "fourth"},
    ])
    assert added.object == "list"
    assert [item.content[0].text for item in added.data] == ["second", "third", "fourth"]
    assert added.first_id == added.data[0].id and added.last_id == added.data[-1].id

    first_page = client.conversations.items.list(conversation.id, limit=2, order="asc")
    assert len(first_page.data) == 2 and first_page.has_more is True, first_page
    items = list(first_page)
    assert [item.content[0].text for item in items] == ["Hello there", "second", "third", "fourth"]
    assert [item.role for item in items] == ["user", "user", "assistant", "user"]
    newest = client.conversations.items.list(conversation.id, limit=1)
    assert newest.data[0].content[0].text == "fourth", "the default order is desc"

    third = items[2]
    fetched = client.conversations.items.retrieve(third.id, conversation_id=conversation.id)
    assert fetched.model_dump() == third.model_dump()
    after_delete = client.conversations.items.delete(third.id, conversation_id=conversation.id)
    assert after_delete.object == "conversation" and after_delete.id == conversation.id
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(third.id, conversation_id=conversation.id)
    remaining = [item.content[0].text for item in client.conversations.items.list(conversation.id, order="asc")]
    assert remaining == ["Hello there", "second", "fourth"]

    deleted = client.conversations.delete(conversation.id)
    assert deleted.id == conversation.id and deleted.deleted is True
    assert deleted.object == "conversation.deleted"
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(conversation.id)


@STREAM_MODES
def test_conversation_on_create(target, group, stream):
    client = make_client(target)
    model = target.model(group)
    # A finished exchange to start with: the mock answers the trailing run of user messages.
    conversation = client.conversations.create(items=[
        {"type": "message", "role": "user", "content": "Hello there"},
        {"type": "message", "role": "assistant", "content": "General Kenobi"},
    ])

    first = final_response(client, stream, model=model, conversation=conversation.id, input="first turn")
    assert first.status == "completed"
    assert first.conversation is not None and first.conversation.id == conversation.id
    second = final_response(client, stream, model=model, conversation=conversation.id, input="second turn")
    alone = final_response(client, stream, model=model, input="second turn")
    assert second.output_text == "You said: second turn"
    history = words("Hello there General Kenobi first turn You said: first turn")
    assert second.usage.input_tokens == alone.usage.input_tokens + history, (second.usage, alone.usage)
    assert client.responses.retrieve(second.id).conversation.id == conversation.id

    items = list(client.conversations.items.list(conversation.id, order="asc"))
    assert [(item.role, item.content[0].text) for item in items] == [
        ("user", "Hello there"), ("assistant", "General Kenobi"), ("user", "first turn"), ("assistant", "You said: first turn"),
        ("user", "second turn"), ("assistant", "You said: second turn")]

    # A tool loop inside the conversation: the second turn sends only the tool's output.
    asked = final_response(client, stream, model=model, conversation=conversation.id, tools=[WEATHER_TOOL],
                           input="What is the weather in Paris?")
    call = the_call(asked)
    answered = final_response(client, stream, model=model, conversation=conversation.id, tools=[WEATHER_TOOL],
                              input=[{"type": "function_call_output", "call_id": call.call_id,
                                      "output": TOOL_OUTPUT}])
    assert answered.output_text == f"The tool returned: {TOOL_OUTPUT}"
    tail = [item.type for item in client.conversations.items.list(conversation.id, order="desc", limit=4).data]
    assert tail == ["message", "function_call_output", "function_call", "message"], tail

    with pytest.raises(openai.BadRequestError) as exc:
        client.responses.create(model=model, conversation=conversation.id, previous_response_id=second.id,
                                input="both")
    assert exc.value.status_code == 400, exc.value.body


# --------------------------------------------------------------------------- Gemini 3


@pytest.mark.parametrize("store", [True, False], ids=["stored", "store_false"])
@pytest.mark.parametrize("gemini3", GEMINI3_GROUPS)
@STREAM_MODES
def test_gemini3_bare_function_call_replay(target, gemini3, stream, store):
    """The common hand-written loop: the function call rebuilt from call_id, name and arguments,
    no reasoning item and no ``include``. Gemini 3 refuses a replayed call without its thought
    signature, so the gateway must supply it."""
    client = make_client(target)
    user = {"role": "user", "content": "What is the weather in Paris?"}
    first = final_response(client, stream, model=target.model(gemini3), input=[user], tools=[WEATHER_TOOL],
                           store=store)
    call = the_call(first)
    assert json.loads(call.arguments) == {"city": "x"}
    assert [item.type for item in first.output] == ["function_call"], "no reasoning item without include"

    history = [user,
               {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
               {"type": "function_call_output", "call_id": call.call_id, "output": TOOL_OUTPUT}]
    second = final_response(client, stream, model=target.model(gemini3), input=history, tools=[WEATHER_TOOL],
                            store=store)
    assert second.status == "completed", second
    assert second.output_text == f"The tool returned: {TOOL_OUTPUT}"


def test_input_tokens_counts_what_a_create_would_send(target, group):
    """``responses.input_tokens.count``: the upstream's own counter where it has one, else an
    estimate; either way a positive count that grows with the history a chain stands for."""
    client = make_client(target)
    alone = client.responses.input_tokens.count(model=target.model(group), input="one two three")
    assert alone.object == "response.input_tokens"
    assert alone.input_tokens > 0
    first = client.responses.create(model=target.model(group), input="alpha beta gamma delta")
    chained = client.responses.input_tokens.count(model=target.model(group), input="one two three",
                                                  previous_response_id=first.id)
    assert chained.input_tokens > alone.input_tokens, (alone, chained)
    if group in RESPONSES_UPSTREAMS:
        return  # an id the gateway never stored is the upstream's to know
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.input_tokens.count(model=target.model(group), input="x",
                                            previous_response_id="resp_never_stored")
    assert refused.value.code == "previous_response_not_found"
