"""openai-python against the gateway's compaction: ``responses.compact`` (forwarded to a
Responses upstream, summarised by the model itself elsewhere), the compaction item fed back in
``input``, and a streamed create ending with ``{"type": "compaction_trigger"}`` (what newer Codex
versions send), on a pass-through group and on translated ones.

The mock counts one input token per word it receives, which shows that a compaction item sent
back stood for more than the words around it: the mock's own items stand for the history they
compacted, and the gateway's stand for the summary its model wrote.
"""

from __future__ import annotations

import pytest
from openai import OpenAI
from openai.types.responses import CompactedResponse, ResponseCompactionItem

from conftest import GROUPS, Target

pytestmark = pytest.mark.gateway_only

# Every group: pass-throughs (OpenAI's Responses API, Azure's) and every kind of translation.
COMPACT_GROUPS = pytest.mark.parametrize("group", GROUPS)

HISTORY = [
    {"role": "user", "content": "My name is Ada and I like compilers."},
    {"role": "assistant", "content": "Nice to meet you, Ada. Compilers are great fun."},
    {"role": "user", "content": "Remember the codeword heliotrope."},
    {"role": "assistant", "content": "I will remember heliotrope."},
]


def make_client(target: Target, strict: bool = True) -> OpenAI:
    return OpenAI(base_url=target.base_url, api_key=target.api_key, max_retries=0, timeout=60.0,
                  _strict_response_validation=strict)


def compact(target: Target, **params) -> CompactedResponse:
    # Not strictly validated: the SDK types `output` as output items, whose messages are the
    # assistant's, while a compacted window holds the user's (OpenAI's own answer fails it too).
    # The shapes are checked here instead.
    return make_client(target, strict=False).responses.compact(**params)


def words(text: str) -> int:
    return len(text.split())


def answers(response, text: str) -> bool:
    """The mock echoes the last user message. Providers that need user and assistant turns to
    alternate (Anthropic, Gemini, Bedrock) get the summary a compaction stands for and the next
    user message as one user turn, so the echo may start with the summary."""
    said = response.output_text
    return said == f"You said: {text}" or (said.startswith("You said: ") and said.endswith(f"\n{text}"))


def compactions(items) -> list:
    return [item for item in items if item.type == "compaction"]


def check_compacted(compacted) -> ResponseCompactionItem:
    assert isinstance(compacted, CompactedResponse), type(compacted)
    assert compacted.object == "response.compaction"
    found = compactions(compacted.output)
    assert len(found) == 1, [item.type for item in compacted.output]
    item = found[0]
    assert isinstance(item, ResponseCompactionItem), type(item)
    assert compacted.output[-1] is item, "the compaction item comes last"
    assert item.encrypted_content and item.id
    # Everything before it is the history's user messages, as items with input_text parts.
    users = [m["content"] for m in HISTORY if m["role"] == "user"]
    before = compacted.output[:-1]
    assert [(m.type, m.role) for m in before] == [("message", "user")] * len(users), before
    assert all(m.id for m in before), before
    assert [[part.type for part in m.content] for m in before] == [["input_text"]] * len(users)
    assert [m.content[0].text for m in before] == users
    assert compacted.usage.input_tokens > 0 and compacted.usage.total_tokens > 0, compacted.usage
    # All but the user messages pass the SDK's schema as they are (usage included).
    raw = compacted.model_dump(warnings=False, exclude_unset=True)
    CompactedResponse.model_validate({**raw, "output": [raw["output"][-1]]})
    return item


@COMPACT_GROUPS
def test_compact_input_then_continue(target, group):
    client = make_client(target)
    model = target.model(group)
    compacted = compact(target, model=model, input=HISTORY)
    item = check_compacted(compacted)

    # The compacted window goes on: its user messages, the compaction item, a new question.
    follow_up = "What was the codeword?"
    window = [entry.model_dump(exclude_none=True, warnings=False) for entry in compacted.output]
    assert window[-1] == {"type": "compaction", "id": item.id, "encrypted_content": item.encrypted_content}
    response = client.responses.create(model=model, input=[*window, {"role": "user", "content": follow_up}])
    assert response.status == "completed", response
    assert answers(response, follow_up), response.output_text
    # The upstream got more than the user messages: the compaction item stood for the rest.
    visible = sum(words(m["content"]) for m in HISTORY if m["role"] == "user") + words(follow_up)
    assert response.usage.input_tokens > visible, (response.usage, visible)

    # The window can be stored and chained like any input.
    again = client.responses.create(model=model, input="And my name?", previous_response_id=response.id)
    assert again.status == "completed" and answers(again, "And my name?"), again.output_text
    assert again.usage.input_tokens > response.usage.input_tokens, (again.usage, response.usage)


@COMPACT_GROUPS
def test_compact_previous_response_id(target, group):
    client = make_client(target)
    model = target.model(group)
    first = client.responses.create(model=model, input=HISTORY)
    assert first.status == "completed"
    compacted = compact(target, model=model, previous_response_id=first.id)
    assert isinstance(compacted, CompactedResponse)
    found = compactions(compacted.output)
    assert len(found) == 1, [entry.type for entry in compacted.output]
    # The chain's history: the user messages of the first turn, then the compaction.
    assert [entry.type for entry in compacted.output[:-1]] == ["message", "message"]
    assert [entry.content[0].text for entry in compacted.output[:-1]] == [
        m["content"] for m in HISTORY if m["role"] == "user"]


@COMPACT_GROUPS
def test_streamed_compaction_trigger_answers_one_compaction_item(target, group):
    client = make_client(target)
    model = target.model(group)
    events = list(client.responses.create(model=model, stream=True,
                                          input=[*HISTORY, {"type": "compaction_trigger"}]))
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
    assert [event.sequence_number for event in events] == list(range(len(events)))
    done = [event.item for event in events if event.type == "response.output_item.done"]
    assert [item.type for item in done] == ["compaction"], kinds
    assert isinstance(done[0], ResponseCompactionItem)
    final = events[-1].response
    assert [item.type for item in final.output] == ["compaction"], final.output
    assert final.output[0].encrypted_content == done[0].encrypted_content

    # The item continues the conversation in place of the history it compacted.
    follow_up = "Carry on please."
    response = client.responses.create(
        model=model, input=[done[0].model_dump(exclude_none=True), {"role": "user", "content": follow_up}])
    assert response.status == "completed", response
    assert answers(response, follow_up), response.output_text
    assert response.usage.input_tokens > words(follow_up), response.usage


@COMPACT_GROUPS
def test_compaction_trigger_without_stream(target, group):
    client = make_client(target)
    response = client.responses.create(model=target.model(group),
                                       input=[*HISTORY, {"type": "compaction_trigger"}])
    assert response.status == "completed", response
    assert [item.type for item in response.output] == ["compaction"], response.output
    assert isinstance(response.output[0], ResponseCompactionItem)
