"""Calls per second through the Python package, or through LiteLLM, against the mock upstream.

    python bench.py switchyard|litellm MOCK_URL CALLS THREADS TASKS

Cases: sequential calls (one after the other: the cost of one call), THREADS threads making
blocking calls, and TASKS asyncio tasks at once; each for whole (JSON) responses and for
streams read to their end. One JSON line per case:
``{"case", "calls", "seconds", "calls_per_s", "us_per_call"}``. Run by bench/run.sh.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict

# LiteLLM would fetch its price map from the network at import without this.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")


def _library(name: str) -> Any:
    if name == "switchyard":
        import switchyard

        return switchyard
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


def _report(case: str, calls: int, seconds: float) -> None:
    line = {
        "case": case,
        "calls": calls,
        "seconds": seconds,
        "calls_per_s": calls / seconds,
        "us_per_call": seconds * 1e6 / calls,
    }
    print(json.dumps(line), flush=True)


def main() -> None:
    name, mock, calls, threads, tasks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    lib = _library(name)
    call: Dict[str, Any] = {"model": "openai/gpt-mock", "api_base": f"{mock}/v1", "api_key": "sk-bench"}

    def one(stream: bool) -> None:
        if stream:
            for _event in lib.responses(input="hello there", stream=True, **call):
                pass
        else:
            response = lib.responses(input="hello there", **call)
            assert response.output_text == "You said: hello there", response

    async def aone(stream: bool) -> None:
        if stream:
            async for _event in await lib.aresponses(input="hello there", stream=True, **call):
                pass
        else:
            response = await lib.aresponses(input="hello there", **call)
            assert response.output_text == "You said: hello there", response

    def timed(fn: Callable[[], None]) -> float:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started

    for stream in (False, True):
        kind = "stream" if stream else "json"
        for _ in range(50):  # warm up: connections, caches, imports
            one(stream)
        _report(f"sequential, {kind}", calls, timed(lambda: [one(stream) for _ in range(calls)]))

        def threaded() -> None:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(lambda _: one(stream), range(calls)))

        _report(f"{threads} threads, {kind}", calls, timed(threaded))

        async def gathered() -> None:
            limit = asyncio.Semaphore(tasks)

            async def bounded() -> None:
                async with limit:
                    await aone(stream)

            await asyncio.gather(*(bounded() for _ in range(calls)))

        _report(f"{tasks} asyncio tasks, {kind}", calls, timed(lambda: asyncio.run(gathered())))


if __name__ == "__main__":
    main()
