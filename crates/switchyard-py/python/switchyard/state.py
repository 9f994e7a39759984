"""Stored responses and conversations, without a proxy.

Every response created in this process (``store`` not false) is kept in its memory, whichever
function or ``Router`` created it, so it can be retrieved, listed, deleted and continued with
``previous_response_id`` through any of them. Conversations work the same way. The store is
the process's: it is not shared with other processes and does not outlive this one (use the
proxy with a database for that).

Background responses (``background=True``) run on in the process after the call returned:
``get_responses`` polls them, ``cancel_responses`` stops them, and ``get_responses(id,
stream=True, starting_after=N)`` replays their events after sequence number N (from the
start without it), going on live while the response runs.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Optional, Tuple

from . import _calls, _native, exceptions
from . import types as _types

__all__ = [
    "get_responses",
    "aget_responses",
    "cancel_responses",
    "acancel_responses",
    "delete_responses",
    "adelete_responses",
    "list_input_items",
    "alist_input_items",
    "create_conversation",
    "acreate_conversation",
    "get_conversation",
    "aget_conversation",
    "update_conversation",
    "aupdate_conversation",
    "delete_conversation",
    "adelete_conversation",
    "create_conversation_items",
    "acreate_conversation_items",
    "list_conversation_items",
    "alist_conversation_items",
    "get_conversation_item",
    "aget_conversation_item",
    "delete_conversation_item",
    "adelete_conversation_item",
]

_ENCRYPTED = "reasoning.encrypted_content"


def _includes_encrypted(include: Optional[Iterable[str]]) -> bool:
    return bool(include) and _ENCRYPTED in list(include or [])


def _query(
    after: Optional[str], before: Optional[str], limit: Optional[int], order: Optional[str], include: Optional[Iterable[str]]
) -> List[Tuple[str, str]]:
    pairs: List[Tuple[str, str]] = []
    for key, value in (("after", after), ("before", before), ("limit", limit), ("order", order)):
        if value is not None:
            pairs.append((key, str(value)))
    for value in include or []:
        pairs.append(("include", value))
    return pairs


def _sync(op: str, args: Dict[str, Any], kind: str) -> Any:
    _calls.sync_log_level()
    try:
        answer = _native.state_call(op, _calls.encode(args))
    except _native.NativeError as failure:
        raise exceptions.from_native(failure.args[0]) from None
    return _types.build(kind, json.loads(answer))


async def _async(op: str, args: Dict[str, Any], kind: str) -> Any:
    _calls.sync_log_level()
    text = _calls.encode(args)
    ok, value = await _calls.wait(lambda notify: _native.state_start(op, text, notify))
    if not ok:
        raise exceptions.from_native(value)
    return _types.build(kind, json.loads(value))


def _retrieve_args(response_id: str, include: Optional[Iterable[str]]) -> Dict[str, Any]:
    return {"id": response_id, "include_encrypted": _includes_encrypted(include)}


# ----------------------------------------------------------------------------- responses


def _replay(response_id: str, starting_after: Optional[int]) -> _calls.ResponsesStream:
    _calls.sync_log_level()
    try:
        native = _native.replay_stream(response_id, _after(starting_after))
    except _native.NativeError as failure:
        raise exceptions.from_native(failure.args[0]) from None
    return _calls.ResponsesStream(native, None)


async def _areplay(response_id: str, starting_after: Optional[int]) -> _calls.AsyncResponsesStream:
    _calls.sync_log_level()
    after = _after(starting_after)
    ok, value = await _calls.wait(lambda notify: _native.replay_start(response_id, after, notify))
    if not ok:
        raise exceptions.from_native(value)
    return _calls.AsyncResponsesStream(value, None)


def _after(starting_after: Optional[int]) -> Optional[int]:
    if starting_after is None:
        return None
    if isinstance(starting_after, bool) or not isinstance(starting_after, int) or starting_after < 0:
        raise exceptions.BadRequestError(
            "Invalid 'starting_after': expected a sequence number.", param="starting_after", code="invalid_value"
        )
    return starting_after


def get_responses(
    response_id: str,
    *,
    include: Optional[Iterable[str]] = None,
    stream: bool = False,
    starting_after: Optional[int] = None,
    **_ignored: Any,
) -> Any:
    """The stored ``Response`` ``response_id`` (``GET /v1/responses/{id}``). Reasoning blobs
    only with ``include=["reasoning.encrypted_content"]``. Raises ``NotFoundError``.

    With ``stream=True``, a background response's events instead (``?stream=true``): every
    one after sequence number ``starting_after`` (all of them, from ``response.created``,
    without it), then the live ones while it runs, to its terminal event; the same
    ``ResponsesStream`` a streamed call returns. A response that is not a background one is a
    ``BadRequestError``."""
    if stream:
        return _replay(response_id, starting_after)
    return _sync("responses.retrieve", _retrieve_args(response_id, include), "response")


async def aget_responses(
    response_id: str,
    *,
    include: Optional[Iterable[str]] = None,
    stream: bool = False,
    starting_after: Optional[int] = None,
    **_ignored: Any,
) -> Any:
    """``get_responses`` for asyncio; with ``stream=True``, an ``AsyncResponsesStream``."""
    if stream:
        return await _areplay(response_id, starting_after)
    return await _async("responses.retrieve", _retrieve_args(response_id, include), "response")


def cancel_responses(response_id: str, **_ignored: Any) -> Any:
    """Cancels a background response (``POST /v1/responses/{id}/cancel``): its upstream call
    stops, and the answer is the response once it ended, with ``status="cancelled"``. One that
    already ended answers as it is; one that is not a background response is a
    ``BadRequestError``; an unknown one a ``NotFoundError``."""
    return _sync("responses.cancel", {"id": response_id}, "response")


async def acancel_responses(response_id: str, **_ignored: Any) -> Any:
    """``cancel_responses`` for asyncio."""
    return await _async("responses.cancel", {"id": response_id}, "response")


def delete_responses(response_id: str, **_ignored: Any) -> Any:
    """Forgets the stored response (``DELETE /v1/responses/{id}``): ``{id, object, deleted}``."""
    return _sync("responses.delete", {"id": response_id}, "response_deleted")


async def adelete_responses(response_id: str, **_ignored: Any) -> Any:
    """``delete_responses`` for asyncio."""
    return await _async("responses.delete", {"id": response_id}, "response_deleted")


def _items_args(response_id: str, after: Any, before: Any, limit: Any, order: Any, include: Any) -> Dict[str, Any]:
    return {"id": response_id, "query": _query(after, before, limit, order, include)}


def list_input_items(
    response_id: str,
    *,
    after: Optional[str] = None,
    before: Optional[str] = None,
    limit: Optional[int] = None,
    order: Optional[str] = None,
    include: Optional[Iterable[str]] = None,
    **_ignored: Any,
) -> Any:
    """A page of the response's own input items (``GET /v1/responses/{id}/input_items``):
    newest first unless ``order="asc"``, 20 unless ``limit`` (at most 100)."""
    args = _items_args(response_id, after, before, limit, order, include)
    return _sync("responses.input_items", args, "response_item_list")


async def alist_input_items(
    response_id: str,
    *,
    after: Optional[str] = None,
    before: Optional[str] = None,
    limit: Optional[int] = None,
    order: Optional[str] = None,
    include: Optional[Iterable[str]] = None,
    **_ignored: Any,
) -> Any:
    """``list_input_items`` for asyncio."""
    args = _items_args(response_id, after, before, limit, order, include)
    return await _async("responses.input_items", args, "response_item_list")


# ----------------------------------------------------------------------------- conversations


def _new_conversation(items: Any, metadata: Any) -> Dict[str, Any]:
    return {"items": list(items or []), "metadata": dict(metadata or {})}


def create_conversation(items: Optional[Iterable[Any]] = None, metadata: Optional[Dict[str, str]] = None) -> Any:
    """A new conversation, with its first ``items`` (``POST /v1/conversations``). Pass its id
    as ``conversation=`` to ``responses`` to create responses in it."""
    return _sync("conversations.create", _new_conversation(items, metadata), "conversation")


async def acreate_conversation(items: Optional[Iterable[Any]] = None, metadata: Optional[Dict[str, str]] = None) -> Any:
    """``create_conversation`` for asyncio."""
    return await _async("conversations.create", _new_conversation(items, metadata), "conversation")


def get_conversation(conversation_id: str) -> Any:
    """The conversation (``GET /v1/conversations/{id}``)."""
    return _sync("conversations.retrieve", {"id": conversation_id}, "conversation")


async def aget_conversation(conversation_id: str) -> Any:
    """``get_conversation`` for asyncio."""
    return await _async("conversations.retrieve", {"id": conversation_id}, "conversation")


def update_conversation(conversation_id: str, metadata: Dict[str, str]) -> Any:
    """Replaces the conversation's metadata (``POST /v1/conversations/{id}``)."""
    args = {"id": conversation_id, "metadata": dict(metadata)}
    return _sync("conversations.update", args, "conversation")


async def aupdate_conversation(conversation_id: str, metadata: Dict[str, str]) -> Any:
    """``update_conversation`` for asyncio."""
    args = {"id": conversation_id, "metadata": dict(metadata)}
    return await _async("conversations.update", args, "conversation")


def delete_conversation(conversation_id: str) -> Any:
    """Forgets the conversation and its items (``DELETE /v1/conversations/{id}``)."""
    return _sync("conversations.delete", {"id": conversation_id}, "conversation_deleted")


async def adelete_conversation(conversation_id: str) -> Any:
    """``delete_conversation`` for asyncio."""
    return await _async("conversations.delete", {"id": conversation_id}, "conversation_deleted")


def _add_args(conversation_id: str, items: Any, include: Any) -> Dict[str, Any]:
    return {"id": conversation_id, "items": list(items), "include_encrypted": _includes_encrypted(include)}


def create_conversation_items(conversation_id: str, items: Iterable[Any], *, include: Optional[Iterable[str]] = None) -> Any:
    """Adds items to the conversation (``POST /v1/conversations/{id}/items``); answers them."""
    args = _add_args(conversation_id, items, include)
    return _sync("conversations.items.create", args, "conversation_item_list")


async def acreate_conversation_items(
    conversation_id: str, items: Iterable[Any], *, include: Optional[Iterable[str]] = None
) -> Any:
    """``create_conversation_items`` for asyncio."""
    args = _add_args(conversation_id, items, include)
    return await _async("conversations.items.create", args, "conversation_item_list")


def list_conversation_items(
    conversation_id: str,
    *,
    after: Optional[str] = None,
    limit: Optional[int] = None,
    order: Optional[str] = None,
    include: Optional[Iterable[str]] = None,
) -> Any:
    """A page of the conversation's items (``GET /v1/conversations/{id}/items``)."""
    args = _items_args(conversation_id, after, None, limit, order, include)
    return _sync("conversations.items.list", args, "conversation_item_list")


async def alist_conversation_items(
    conversation_id: str,
    *,
    after: Optional[str] = None,
    limit: Optional[int] = None,
    order: Optional[str] = None,
    include: Optional[Iterable[str]] = None,
) -> Any:
    """``list_conversation_items`` for asyncio."""
    args = _items_args(conversation_id, after, None, limit, order, include)
    return await _async("conversations.items.list", args, "conversation_item_list")


def _item_args(conversation_id: str, item_id: str, include: Any = None) -> Dict[str, Any]:
    return {"id": conversation_id, "item_id": item_id, "include_encrypted": _includes_encrypted(include)}


def get_conversation_item(conversation_id: str, item_id: str, *, include: Optional[Iterable[str]] = None) -> Any:
    """One item of the conversation (``GET /v1/conversations/{id}/items/{item_id}``)."""
    return _sync("conversations.items.retrieve", _item_args(conversation_id, item_id, include), "item")


async def aget_conversation_item(conversation_id: str, item_id: str, *, include: Optional[Iterable[str]] = None) -> Any:
    """``get_conversation_item`` for asyncio."""
    return await _async("conversations.items.retrieve", _item_args(conversation_id, item_id, include), "item")


def delete_conversation_item(conversation_id: str, item_id: str) -> Any:
    """Removes one item; answers the conversation (``DELETE …/items/{item_id}``)."""
    return _sync("conversations.items.delete", _item_args(conversation_id, item_id), "conversation")


async def adelete_conversation_item(conversation_id: str, item_id: str) -> Any:
    """``delete_conversation_item`` for asyncio."""
    return await _async("conversations.items.delete", _item_args(conversation_id, item_id), "conversation")
