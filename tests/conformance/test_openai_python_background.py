"""openai-python against the gateway's background responses (``background=True``): created
queued, polled with ``responses.retrieve`` until they end, cancelled with
``responses.cancel`` while the upstream is still answering, and streamed, dropped after a few
events and resumed with ``responses.retrieve(id, stream=True, starting_after=N)``.

The mock's directives slow the upstream down: ``[[mock:slow=MS]]`` holds its response headers,
``[[mock:stall=MS]]`` pauses its stream after the first events.
"""

from __future__ import annotations

import time

import openai
import pytest
from openai import OpenAI

from conftest import GROUPS, Target

pytestmark = pytest.mark.gateway_only

# Every group: pass-throughs and every kind of translation.
BACKGROUND_GROUPS = pytest.mark.parametrize("group", GROUPS)
ENDED = ("completed", "incomplete", "failed", "cancelled")


def make_client(target: Target) -> OpenAI:
    return OpenAI(base_url=target.base_url, api_key=target.api_key, max_retries=0, timeout=30.0,
                  _strict_response_validation=True)


def poll(client: OpenAI, response_id: str, timeout: float = 30.0):
    """``retrieve`` until the response ends; returns it and every status seen on the way."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        response = client.responses.retrieve(response_id)
        if not seen or seen[-1] != response.status:
            seen.append(response.status)
        if response.status in ENDED:
            return response, seen
        assert time.monotonic() < deadline, f"still {response.status} after {timeout}s: {seen}"
        time.sleep(0.1)


@BACKGROUND_GROUPS
def test_background_create_then_poll(target, group):
    client = make_client(target)
    prompt = "[[mock:slow=1000]] tell me later"
    queued = client.responses.create(model=target.model(group), input=prompt, background=True)
    assert queued.background is True
    assert queued.status in ("queued", "in_progress"), queued.status
    assert queued.output == [] and queued.usage is None, queued

    done, seen = poll(client, queued.id)
    assert done.status == "completed", done
    assert seen[0] in ("queued", "in_progress") and seen[-1] == "completed", seen
    assert done.id == queued.id and done.background is True
    assert done.output_text == f"You said: {prompt}"
    assert done.usage is not None and done.usage.input_tokens > 0

    # Finished, it cancels as it is: still completed.
    assert client.responses.cancel(queued.id).status == "completed"


@BACKGROUND_GROUPS
def test_background_cancel_a_slow_one(target, group):
    client = make_client(target)
    queued = client.responses.create(model=target.model(group), input="[[mock:slow=20000]] take your time",
                                     background=True)
    assert queued.status in ("queued", "in_progress"), queued.status
    started = time.monotonic()
    cancelled = client.responses.cancel(queued.id)
    assert cancelled.id == queued.id
    assert cancelled.status == "cancelled", cancelled
    # The upstream call was stopped, not waited for.
    assert time.monotonic() - started < 15, "cancel waited for the upstream"
    assert cancelled.output_text == ""

    stored = client.responses.retrieve(queued.id)
    assert stored.status == "cancelled" and stored.background is True
    # Cancelling again answers the same; a response that is not a background one cannot be.
    assert client.responses.cancel(queued.id).status == "cancelled"
    plain = client.responses.create(model=target.model(group), input="right now")
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(plain.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_does_not_exist")


@BACKGROUND_GROUPS
def test_background_stream_dropped_and_resumed(target, group):
    client = make_client(target)
    prompt = "[[mock:stall=1500]] one two three four five six seven eight"
    drop_after = 3  # the sequence number of the last event read before the connection is dropped
    first_part = []
    stream = client.responses.create(model=target.model(group), input=prompt, background=True, stream=True)
    for event in stream:
        first_part.append(event)
        if event.sequence_number == drop_after:
            break
    stream.close()
    assert [e.sequence_number for e in first_part] == list(range(drop_after + 1)), first_part
    assert first_part[0].type == "response.created"
    response_id = first_part[0].response.id
    assert first_part[0].response.background is True

    rest = list(client.responses.retrieve(response_id, stream=True, starting_after=drop_after))
    assert rest, "nothing after the drop"
    assert [e.sequence_number for e in rest] == list(range(drop_after + 1, drop_after + 1 + len(rest))), (
        [(e.sequence_number, e.type) for e in rest])
    assert rest[-1].type == "response.completed", [e.type for e in rest]
    assert [e.type for e in rest].count("response.completed") == 1

    # Together they are the whole stream, as a replay from the start shows it.
    whole = list(client.responses.retrieve(response_id, stream=True))
    assert [e.model_dump() for e in whole] == [e.model_dump() for e in first_part + rest]
    text = "".join(e.delta for e in first_part + rest if e.type == "response.output_text.delta")
    final = rest[-1].response
    assert text == final.output_text == f"You said: {prompt}"
    assert client.responses.retrieve(response_id).model_dump() == final.model_dump()


@pytest.mark.parametrize("group", ["passthrough", "anthropic", "bridged"])
def test_background_stream_cancelled_while_it_runs(target, group):
    """A background stream whose upstream stalls is cancelled from another call: the live
    stream ends with ``response.failed`` carrying the cancelled response (no error), and a
    replay ends the same way."""
    client = make_client(target)
    stream = client.responses.create(model=target.model(group), input="[[mock:stall=20000]] wait for it",
                                     background=True, stream=True)
    events = []
    for event in stream:
        events.append(event)
        if event.type == "response.in_progress":
            break
    response_id = events[0].response.id
    cancelled = client.responses.cancel(response_id)
    assert cancelled.status == "cancelled" and cancelled.error is None, cancelled
    events.extend(stream)  # the live stream goes on to its end
    assert events[-1].type == "response.failed", [e.type for e in events]
    assert events[-1].response.status == "cancelled" and events[-1].response.error is None
    assert [e.sequence_number for e in events] == list(range(len(events)))
    replayed = list(client.responses.retrieve(response_id, stream=True))
    assert [e.model_dump() for e in replayed] == [e.model_dump() for e in events]
