"""Many threads and many asyncio tasks at once, on the one runtime, with the GIL released
while calls wait and the event loop free while tasks await."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import switchyard
from helpers import output_text_of

MIX = ["openai", "anthropic", "gemini", "bedrock", "azure", "hosted_vllm"]


def test_many_threads(providers):
    def work(worker: int) -> int:
        done = 0
        for i in range(15):
            call = providers[MIX[(worker + i) % len(MIX)]]
            text = f"thread {worker} call {i}"
            if i % 3 == 0:
                events = list(switchyard.responses(input=text, stream=True, **call))
                assert output_text_of(events) == f"You said: {text}"
            else:
                assert switchyard.responses(input=text, **call).output_text == f"You said: {text}"
            done += 1
        return done

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert sum(pool.map(work, range(16))) == 16 * 15


def test_waiting_calls_release_the_gil(providers):
    # Eight calls that each wait 600 ms upstream run side by side, and the main thread keeps
    # running Python meanwhile.
    def slow(i: int) -> str:
        return switchyard.responses(input=f"slow {i} [[mock:slow=600]]", **providers["openai"]).output_text

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(slow, i) for i in range(8)]
        longest_gap, last, spins = 0.0, time.monotonic(), 0
        while not all(f.done() for f in futures):
            now = time.monotonic()
            longest_gap, last = max(longest_gap, now - last), now
            spins += 1
        results = [f.result() for f in futures]
    elapsed = time.monotonic() - started
    assert results == [f"You said: slow {i} [[mock:slow=600]]" for i in range(8)]
    assert elapsed < 2.5, f"the waits did not overlap ({elapsed:.2f} s)"
    assert longest_gap < 0.2, f"the main thread was held for {longest_gap:.3f} s"
    assert spins > 1000


def test_many_tasks(providers):
    async def one(i: int) -> str:
        call = providers[MIX[i % len(MIX)]]
        if i % 2:
            stream = await switchyard.aresponses(input=f"task {i}", stream=True, **call)
            return output_text_of([e async for e in stream])
        return (await switchyard.aresponses(input=f"task {i}", **call)).output_text

    async def main():
        return await asyncio.gather(*(one(i) for i in range(120)))

    assert asyncio.run(main()) == [f"You said: task {i}" for i in range(120)]


def test_awaiting_leaves_the_event_loop_free(providers):
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick = asyncio.ensure_future(ticker())
        started = time.monotonic()
        results = await asyncio.gather(
            *(switchyard.aresponses(input=f"wait {i} [[mock:slow=500]]", **providers["anthropic"]) for i in range(20))
        )
        elapsed = time.monotonic() - started
        tick.cancel()
        return ticks, elapsed, [r.output_text for r in results]

    ticks, elapsed, texts = asyncio.run(main())
    assert texts == [f"You said: wait {i} [[mock:slow=500]]" for i in range(20)]
    assert elapsed < 2.0, f"the tasks did not wait together ({elapsed:.2f} s)"
    assert ticks >= 20, f"the loop only ran {ticks} ticks"


def test_threads_and_event_loops_at_once(providers):
    errors = []

    def loop_worker(n: int) -> None:
        async def main():
            texts = await asyncio.gather(
                *(switchyard.aresponses(input=f"loop {n} task {i}", **providers[MIX[i % len(MIX)]]) for i in range(25))
            )
            assert [t.output_text for t in texts] == [f"You said: loop {n} task {i}" for i in range(25)]

        try:
            asyncio.run(main())
        except BaseException as error:  # reported below
            errors.append(error)

    def sync_worker(n: int) -> None:
        try:
            for i in range(25):
                call = providers[MIX[(n + i) % len(MIX)]]
                assert switchyard.responses(input=f"sync {n} {i}", **call).output_text == f"You said: sync {n} {i}"
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=loop_worker, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=sync_worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)


def test_router_shared_by_threads(providers):
    router = switchyard.Router(
        model_list=[
            {"model_name": "g", "litellm_params": providers["openai"]},
            {"model_name": "g", "litellm_params": providers["gemini"]},
        ],
        routing_strategy="least-busy",
    )
    with ThreadPoolExecutor(max_workers=12) as pool:
        texts = list(pool.map(lambda i: router.responses(model="g", input=f"r{i}").output_text, range(120)))
    assert texts == [f"You said: r{i}" for i in range(120)]
