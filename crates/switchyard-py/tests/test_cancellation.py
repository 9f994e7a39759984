"""A cancelled task, a closed stream and Ctrl-C abort the upstream call: the upstream sees its
connection closed."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import switchyard
from helpers import HERE_PATH, hanging_call


def test_cancelled_task_closes_the_upstream_connection(hanging):
    async def main():
        task = asyncio.ensure_future(switchyard.aresponses(input="never answered", **hanging_call(hanging)))
        assert await asyncio.get_running_loop().run_in_executor(None, hanging.wait_for, "requests")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert hanging.wait_for("hangups", timeout=5), "the upstream connection stayed open"


def test_wait_for_timeout_closes_the_upstream_connection(hanging):
    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(switchyard.aresponses(input="x", **hanging_call(hanging)), timeout=0.5)

    asyncio.run(main())
    assert hanging.wait_for("hangups", timeout=5)


def test_cancelled_stream_read_closes_the_upstream_connection(stalling):
    async def main():
        stream = await switchyard.aresponses(input="x", stream=True, **hanging_call(stalling))
        first = [await stream.__anext__() for _ in range(4)]
        assert first[0].type == "response.created" and first[-1].delta == "Hello"
        reader = asyncio.ensure_future(stream.__anext__())
        # The upstream is silent now: the read waits until it is cancelled.
        await asyncio.sleep(0.3)
        assert not reader.done()
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        # Nothing more is read from a stream whose read was cancelled.
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()

    asyncio.run(main())
    assert stalling.wait_for("hangups", timeout=5)


def test_closing_a_sync_stream_closes_the_upstream_connection(stalling):
    with switchyard.responses(input="x", stream=True, **hanging_call(stalling)) as stream:
        assert next(stream).type == "response.created"
    assert stalling.wait_for("hangups", timeout=5)


def test_async_stream_aclose(stalling):
    async def main():
        async with await switchyard.aresponses(input="x", stream=True, **hanging_call(stalling)) as stream:
            assert (await stream.__anext__()).type == "response.created"

    asyncio.run(main())
    assert stalling.wait_for("hangups", timeout=5)


_CTRL_C_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {helpers!r})
    import switchyard
    from helpers import OPENAI_KEY
    call = {{"model": "openai/gpt-hang", "api_base": {api_base!r}, "api_key": OPENAI_KEY, "num_retries": 0}}
    try:
        if {stream!r}:
            for event in switchyard.responses(input="x", stream=True, **call):
                print(event.type, flush=True)
        else:
            switchyard.responses(input="x", **call)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(42)
    """
)


@pytest.mark.parametrize("kind", ["call", "stream"])
def test_ctrl_c_aborts_the_upstream_call(hanging, stalling, kind):
    server = stalling if kind == "stream" else hanging
    script = _CTRL_C_SCRIPT.format(helpers=str(HERE_PATH), api_base=f"{server.url}/v1", stream=kind == "stream")
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert server.wait_for("requests", timeout=15)
        time.sleep(0.2)
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=10)
        assert time.monotonic() - sent < 2.0
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 42, out
    assert "interrupted" in out
    assert server.wait_for("hangups", timeout=5)
