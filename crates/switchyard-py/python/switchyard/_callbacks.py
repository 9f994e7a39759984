"""Success and failure callbacks, in LiteLLM's shape.

``switchyard.success_callback`` and ``switchyard.failure_callback`` are lists of functions
called as ``fn(kwargs, completion_response, start_time, end_time)`` after each call (for a
stream: after its last event), as LiteLLM calls custom callback functions. ``kwargs`` holds the
call (``model``, ``input``, ``stream``, ``call_type``, ``litellm_params``, ``optional_params``),
its ``response_cost``, ``litellm_call_id`` and the request's accounting record as
``standard_logging_object`` (switchyard's documented logging payload); for a failure,
``exception`` and ``traceback_exception``, and ``completion_response`` is the exception.

``switchyard.callbacks`` takes objects in the shape of LiteLLM's ``CustomLogger``: their
``log_success_event`` / ``log_failure_event`` (and ``async_log_success_event`` /
``async_log_failure_event`` for async calls) are called with the same arguments.

A callback that raises is logged (logger ``switchyard.callbacks``) and does not fail the call.
Coroutine functions are awaited in async calls and run to completion in sync calls.
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
import json
import logging
import sys
import time
import traceback
from typing import Any, Dict, List, Optional, Tuple

_log = logging.getLogger("switchyard.callbacks")


def _package() -> Any:
    return sys.modules["switchyard"]


def wanted() -> bool:
    """True when any callback is registered (the call then asks for its record)."""
    pkg = _package()
    return bool(pkg.success_callback or pkg.failure_callback or pkg.callbacks)


class CallInfo:
    """What a call asked for, kept for its callbacks."""

    __slots__ = ("model", "input", "stream", "call_type", "params", "started", "want_log")

    def __init__(self, model: Any, input: Any, stream: bool, call_type: str, params: Dict[str, Any]):
        self.model = model
        self.input = input
        self.stream = stream
        self.call_type = call_type
        self.params = params
        self.started = time.time()
        self.want_log = wanted()


def _times(call: CallInfo, record: Optional[Dict[str, Any]]) -> Tuple[datetime.datetime, datetime.datetime]:
    if record and record.get("start_time_ms") and record.get("end_time_ms"):
        start = record["start_time_ms"] / 1000.0
        end = record["end_time_ms"] / 1000.0
    else:
        start, end = call.started, time.time()
    return datetime.datetime.fromtimestamp(start), datetime.datetime.fromtimestamp(end)


def _kwargs(call: CallInfo, meta: Dict[str, Any], record: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    start, end = _times(call, record)
    return {
        "model": call.model,
        "input": call.input,
        "stream": call.stream,
        "call_type": call.call_type,
        "litellm_call_id": meta.get("request_id"),
        "response_cost": meta.get("cost"),
        "litellm_params": {
            "api_base": meta.get("api_base"),
            "custom_llm_provider": meta.get("provider"),
            "model_info": {"id": meta.get("model_id")},
            "metadata": call.params.get("metadata") or {},
        },
        "optional_params": {k: v for k, v in call.params.items() if k not in ("model", "input")},
        "standard_logging_object": record,
        "start_time": start,
        "end_time": end,
    }


def _record(meta: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    text = meta.get("log")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _targets(success: bool, is_async: bool) -> List[Any]:
    pkg = _package()
    functions = list(pkg.success_callback if success else pkg.failure_callback)
    event = "success_event" if success else "failure_event"
    # An async call prefers a logger's async method; a sync call only uses the sync one.
    methods = ["async_log_" + event, "log_" + event] if is_async else ["log_" + event]
    for logger in pkg.callbacks:
        method = next((getattr(logger, m) for m in methods if callable(getattr(logger, m, None))), None)
        if method is not None:
            functions.append(method)
        elif callable(logger) and not inspect.isclass(logger):
            functions.append(logger)
    return functions


def _arguments(call: CallInfo, outcome: Any, meta: Dict[str, Any], error: Optional[BaseException]) -> Tuple[Any, ...]:
    record = _record(meta)
    kwargs = _kwargs(call, meta, record)
    if error is not None:
        kwargs["exception"] = error
        kwargs["traceback_exception"] = "".join(
            traceback.format_exception(type(error), error, error.__traceback__)
        )
    return (kwargs, outcome, kwargs["start_time"], kwargs["end_time"])


def _run_sync(fn: Any, args: Tuple[Any, ...]) -> None:
    try:
        result = fn(*args)
        if inspect.isawaitable(result):
            _run_coroutine(result)
    except Exception:  # a callback never fails the call
        _log.exception("callback %r raised", fn)


def _run_coroutine(awaitable: Any) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_awaited(awaitable))
        return
    # Inside a running loop already (a sync call from async code): leave it to that loop.
    asyncio.ensure_future(awaitable)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def success(call: CallInfo, response: Any, meta: Dict[str, Any]) -> None:
    """Runs the success callbacks of a sync call."""
    if not call.want_log:
        return
    args = _arguments(call, response, meta, None)
    for fn in _targets(True, False):
        _run_sync(fn, args)


def failure(call: CallInfo, error: BaseException, meta: Dict[str, Any]) -> None:
    """Runs the failure callbacks of a sync call."""
    if not call.want_log:
        return
    args = _arguments(call, error, meta, error)
    for fn in _targets(False, False):
        _run_sync(fn, args)


async def asuccess(call: CallInfo, response: Any, meta: Dict[str, Any]) -> None:
    """Runs the success callbacks of an async call (coroutines awaited)."""
    if call.want_log:
        await _run_async(_targets(True, True), _arguments(call, response, meta, None))


async def afailure(call: CallInfo, error: BaseException, meta: Dict[str, Any]) -> None:
    """Runs the failure callbacks of an async call (coroutines awaited)."""
    if call.want_log:
        await _run_async(_targets(False, True), _arguments(call, error, meta, error))


async def _run_async(functions: List[Any], args: Tuple[Any, ...]) -> None:
    for fn in functions:
        try:
            result = fn(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            _log.exception("callback %r raised", fn)
