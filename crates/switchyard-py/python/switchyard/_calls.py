"""Making a call on a native gateway: request encoding, the sync and async paths, streams,
``_hidden_params`` and callbacks. Shared by the module functions and ``Router``."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

from . import _callbacks, _native, exceptions
from . import types as _types
from ._callbacks import CallInfo

_logger = logging.getLogger("switchyard")

__all__ = ["ResponsesStream", "AsyncResponsesStream"]


def sync_log_level() -> None:
    """Tells the native module how verbose the ``switchyard`` logger is now."""
    _native.set_log_level(_logger.getEffectiveLevel())


def _jsonable(value: Any) -> Any:
    """JSON data for objects ``json`` does not know: the OpenAI SDK's models (output items
    sent back as input), switchyard's own objects, paths, tuples and sets."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_unset=True)
        except TypeError:
            return dump()
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode(value: Any) -> str:
    """JSON text for the native module."""
    return json.dumps(value, default=_jsonable, separators=(",", ":"), ensure_ascii=False)


def hidden_params(meta: Dict[str, Any]) -> Dict[str, Any]:
    """LiteLLM's ``_hidden_params`` for a call's meta."""
    return {
        "response_cost": meta.get("cost"),
        "model_id": meta.get("model_id"),
        "model_group": meta.get("model_group"),
        "api_base": meta.get("api_base"),
        "custom_llm_provider": meta.get("provider"),
        "litellm_model_name": meta.get("model"),
        "litellm_call_id": meta.get("request_id"),
        "attempted_retries": meta.get("attempted_retries"),
        "attempted_fallbacks": meta.get("attempted_fallbacks"),
    }


def _attach(obj: Any, meta: Dict[str, Any]) -> None:
    try:
        obj._hidden_params = hidden_params(meta)
    except (AttributeError, TypeError, ValueError):
        pass


def _failure(info: Dict[str, Any]) -> exceptions.APIError:
    return exceptions.from_native(info)


# ----------------------------------------------------------------------------- sync


def create(gateway: Any, body: Dict[str, Any], call: CallInfo) -> Any:
    """Runs one call and returns its ``Response`` or its stream."""
    sync_log_level()
    text = encode(body)
    try:
        if call.stream:
            return ResponsesStream(gateway.stream(text, call.want_log), call)
        answer, meta = gateway.responses(text, call.want_log)
    except _native.NativeError as failure:
        info = failure.args[0]
        error = _failure(info)
        _callbacks.failure(call, error, info)
        raise error from None
    response = _types.response(json.loads(answer))
    _attach(response, meta)
    _callbacks.success(call, response, meta)
    return response


# ----------------------------------------------------------------------------- async


def _settle(future: "asyncio.Future[Tuple[bool, Any]]", ok: bool, value: Any) -> None:
    if not future.done():
        future.set_result((ok, value))


async def wait(start: Callable[[Callable[[bool, Any], None]], Any]) -> Tuple[bool, Any]:
    """Starts a native task with ``start(notify)`` and waits for its report. Cancelling the
    wait cancels the task, which closes its upstream connection."""
    loop = asyncio.get_running_loop()
    future: "asyncio.Future[Tuple[bool, Any]]" = loop.create_future()

    def notify(ok: bool, value: Any) -> None:
        # Called from a runtime thread.
        try:
            loop.call_soon_threadsafe(_settle, future, ok, value)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    handle = start(notify)
    try:
        return await future
    except BaseException:
        handle.cancel()
        raise


async def acreate(gateway: Any, body: Dict[str, Any], call: CallInfo) -> Any:
    """Runs one call as a task and returns its ``Response`` or its async stream."""
    sync_log_level()
    text = encode(body)
    ok, value = await wait(lambda notify: gateway.start(text, call.stream, call.want_log, notify))
    if not ok:
        error = _failure(value)
        await _callbacks.afailure(call, error, value)
        raise error
    if call.stream:
        return AsyncResponsesStream(value, call)
    answer, meta = value
    response = _types.response(json.loads(answer))
    _attach(response, meta)
    await _callbacks.asuccess(call, response, meta)
    return response


# ----------------------------------------------------------------------------- streams


class _StreamBase:
    # ``call`` is None for a replay of a stored background response: it calls no model, so no
    # callback hears of it.
    def __init__(self, native: Any, call: Optional[CallInfo]) -> None:
        self._native = native
        self._call = call
        self._done = False
        #: The final ``Response`` (from the terminal event), once the stream has ended.
        self.completed_response: Optional[Any] = None
        #: LiteLLM's hidden params; ``response_cost`` is known once the stream has ended.
        self._hidden_params: Dict[str, Any] = hidden_params(native.meta())

    def _event(self, item: Tuple[str, Optional[Dict[str, Any]]]) -> Tuple[Any, Optional[Dict[str, Any]]]:
        text, meta = item
        event = _types.event(json.loads(text))
        if meta is not None:
            self._hidden_params = hidden_params(meta)
            _attach(event, meta)
            response = getattr(event, "response", None)
            if response is not None:
                _attach(response, meta)
                self.completed_response = response
        return event, meta

    def _failed(self, event: Any) -> Optional[exceptions.APIError]:
        """The exception standing for a stream that ended with ``response.failed``."""
        if getattr(event, "type", None) != "response.failed":
            return None
        response = getattr(event, "response", None)
        return exceptions.from_response_error(
            getattr(response, "error", None),
            self._hidden_params.get("custom_llm_provider"),
            self._hidden_params.get("litellm_model_name"),
        )


class ResponsesStream(_StreamBase):
    """The events of a streamed response (``stream=True``), as an iterator.

    Closing it (``close()``, leaving a ``with`` block, or Ctrl-C while it waits) closes the
    upstream connection. ``completed_response`` is the final ``Response`` once the terminal
    event was read; ``get_final_response()`` reads the rest and returns it.
    """

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        try:
            item = self._native.next()
        except _native.NativeError as failure:
            self._done = True
            info = failure.args[0]
            error = _failure(info)
            if self._call is not None:
                _callbacks.failure(self._call, error, info)
            raise error from None
        except BaseException:
            self.close()
            raise
        if item is None:
            self._done = True
            raise StopIteration
        event, meta = self._event(item)
        if meta is not None:
            self._done = True
            ended_failed = self._failed(event)
            if self._call is None:
                pass
            elif ended_failed is not None:
                _callbacks.failure(self._call, ended_failed, meta)
            else:
                _callbacks.success(self._call, self.completed_response, meta)
        return event

    def close(self) -> None:
        """Stops the stream and closes its upstream connection."""
        self._done = True
        self._native.close()

    def get_final_response(self) -> Optional[Any]:
        """Reads the remaining events; returns the final ``Response``."""
        for _ in self:
            pass
        return self.completed_response

    def __enter__(self) -> "ResponsesStream":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


class AsyncResponsesStream(_StreamBase):
    """The events of a streamed response (``stream=True`` with ``aresponses``), as an async
    iterator. Cancelling the task that reads it, ``aclose()`` or leaving an ``async with``
    block closes the upstream connection."""

    def __aiter__(self) -> "AsyncResponsesStream":
        return self

    async def __anext__(self) -> Any:
        if self._done:
            raise StopAsyncIteration
        try:
            item = self._native.poll()
            while item is False:
                # Nothing read ahead yet: wait to be woken by the stream's reader task.
                loop = asyncio.get_running_loop()
                arrived: "asyncio.Future[None]" = loop.create_future()

                def wake() -> None:
                    try:
                        loop.call_soon_threadsafe(_settle, arrived, True, None)
                    except RuntimeError:
                        pass  # the loop is closed

                item = self._native.poll(wake)
                if item is False:
                    await arrived
                    item = self._native.poll()
        except _native.NativeError as failure:
            self._done = True
            info = failure.args[0]
            error = _failure(info)
            if self._call is not None:
                await _callbacks.afailure(self._call, error, info)
            raise error from None
        except BaseException:
            # A cancelled read (or Ctrl-C) ends the stream and closes the upstream connection.
            self._done = True
            self._native.close()
            raise
        if item is None:
            self._done = True
            raise StopAsyncIteration
        event, meta = self._event(item)
        if meta is not None:
            self._done = True
            ended_failed = self._failed(event)
            if self._call is None:
                pass
            elif ended_failed is not None:
                await _callbacks.afailure(self._call, ended_failed, meta)
            else:
                await _callbacks.asuccess(self._call, self.completed_response, meta)
        return event

    async def aclose(self) -> None:
        """Stops the stream and closes its upstream connection."""
        self._done = True
        self._native.close()

    close = aclose

    async def get_final_response(self) -> Optional[Any]:
        """Reads the remaining events; returns the final ``Response``."""
        async for _ in self:
            pass
        return self.completed_response

    async def __aenter__(self) -> "AsyncResponsesStream":
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        await self.aclose()
