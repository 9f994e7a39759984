"""Background responses without a proxy: ``background=True`` answers at once, the response
runs on in the process and is polled with ``get_responses``, cancelled with
``cancel_responses``, and its events are replayed with ``get_responses(id, stream=True,
starting_after=N)``, from any point, while it runs and after it ended.

The mock's directives slow its answer: ``[[mock:slow=MS]]`` holds the response headers,
``[[mock:stall=MS]]`` pauses the stream after its first events.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from openai.types.responses import Response, ResponseCompletedEvent, ResponseCreatedEvent

import switchyard

PROVIDERS = ["openai", "anthropic", "gemini", "bedrock", "hosted_vllm"]
ENDED = ("completed", "incomplete", "failed", "cancelled")


def _poll(response_id, timeout=30.0):
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        response = switchyard.get_responses(response_id)
        if not seen or seen[-1] != response.status:
            seen.append(response.status)
        if response.status in ENDED:
            return response, seen
        assert time.monotonic() < deadline, f"still {response.status}: {seen}"
        time.sleep(0.05)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_background_then_poll(providers, provider):
    prompt = "[[mock:slow=500]] tell me later"
    queued = switchyard.responses(input=prompt, background=True, **providers[provider])
    assert isinstance(queued, Response)
    assert queued.background is True
    assert queued.status in ("queued", "in_progress"), queued.status
    done, seen = _poll(queued.id)
    assert done.status == "completed", done
    assert seen[-1] == "completed" and seen[0] in ("queued", "in_progress"), seen
    assert done.output_text == f"You said: {prompt}"
    # A finished one cancels as it is.
    assert switchyard.cancel_responses(queued.id).status == "completed"


@pytest.mark.parametrize("provider", ["openai", "anthropic", "hosted_vllm"])
def test_cancel_a_slow_background_response(providers, provider):
    queued = switchyard.responses(input="[[mock:slow=20000]] take your time", background=True,
                                  **providers[provider])
    started = time.monotonic()
    cancelled = switchyard.cancel_responses(queued.id)
    assert isinstance(cancelled, Response)
    assert cancelled.id == queued.id and cancelled.status == "cancelled", cancelled
    assert cancelled.error is None
    assert time.monotonic() - started < 10, "cancel waited for the upstream"
    assert switchyard.get_responses(queued.id).status == "cancelled"
    assert switchyard.cancel_responses(queued.id).status == "cancelled", "cancelling again answers the same"


def test_cancel_refuses_what_cannot_be_cancelled(providers):
    plain = switchyard.responses(input="right now", **providers["openai"])
    with pytest.raises(switchyard.BadRequestError) as refused:
        switchyard.cancel_responses(plain.id)
    assert refused.value.status_code == 400
    with pytest.raises(switchyard.NotFoundError):
        switchyard.cancel_responses("resp_nothing_like_it")
    # Only background responses are replayed.
    with pytest.raises(switchyard.BadRequestError):
        list(switchyard.get_responses(plain.id, stream=True))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_background_stream_dropped_and_resumed(providers, provider):
    prompt = "[[mock:stall=800]] one two three four five six"
    drop_after = 3
    first_part = []
    with switchyard.responses(input=prompt, background=True, stream=True, **providers[provider]) as stream:
        for event in stream:
            first_part.append(event)
            if event.sequence_number == drop_after:
                break
    assert isinstance(first_part[0], ResponseCreatedEvent)
    assert [e.sequence_number for e in first_part] == list(range(drop_after + 1))
    response_id = first_part[0].response.id

    heard = []
    switchyard.success_callback = [lambda kwargs, response, start, end: heard.append(response)]
    try:
        rest = list(switchyard.get_responses(response_id, stream=True, starting_after=drop_after))
    finally:
        switchyard.success_callback = []
    assert heard == [], "a replay calls no model: no callback hears of it"
    assert [e.sequence_number for e in rest] == list(range(drop_after + 1, drop_after + 1 + len(rest)))
    assert isinstance(rest[-1], ResponseCompletedEvent), [e.type for e in rest]
    whole = list(switchyard.get_responses(response_id, stream=True))
    assert [e.model_dump() for e in whole] == [e.model_dump() for e in first_part + rest]
    text = "".join(e.delta for e in whole if e.type == "response.output_text.delta")
    assert text == rest[-1].response.output_text == f"You said: {prompt}"
    assert switchyard.get_responses(response_id).status == "completed"


def test_async_background_cancel_and_replay(providers):
    async def main():
        slow = await switchyard.aresponses(input="[[mock:slow=20000]] later", background=True,
                                           **providers["anthropic"])
        cancelled = await switchyard.acancel_responses(slow.id)
        assert cancelled.status == "cancelled"

        quick = await switchyard.aresponses(input="soon", background=True, **providers["gemini"])
        while (await switchyard.aget_responses(quick.id)).status not in ENDED:
            await asyncio.sleep(0.05)
        events = [e async for e in await switchyard.aget_responses(quick.id, stream=True, starting_after=1)]
        assert events[0].sequence_number == 2
        assert events[-1].type == "response.completed"
        assert events[-1].response.output_text == "You said: soon"
        return cancelled.id

    assert asyncio.run(main()).startswith("resp_")
