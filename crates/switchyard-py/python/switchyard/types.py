"""The objects switchyard returns.

With the ``openai`` package installed, responses, stream events, item lists and conversations
are the OpenAI SDK's own classes (``openai.types.responses.Response``, …), built the way the
SDK builds them from an HTTP answer. Without it they are the classes below: attribute access
to every field (nested objects too), ``model_dump()`` / ``model_dump_json()``, and
``Response.output_text``. Either way, ``response._hidden_params`` holds what LiteLLM keeps
there (``response_cost``, ``model_id``, ``api_base``, ``custom_llm_provider``, …).
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable, Dict, Iterator, List, Optional

from . import _openai

__all__ = [
    "SwitchyardObject",
    "Response",
    "ResponseStreamEvent",
    "ResponseItemList",
    "Conversation",
    "ConversationItemList",
    "DeletedObject",
]


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return SwitchyardObject(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class SwitchyardObject:
    """A JSON object with attribute access, read-only; nested objects are wrapped on access.

    ``obj.field`` and ``obj["field"]`` both work; ``model_dump()`` gives the JSON data back.
    """

    __slots__ = ("_data", "_cache", "__dict__")

    def __init__(self, data: Optional[Dict[str, Any]] = None, **fields: Any) -> None:
        object.__setattr__(self, "_data", dict(data or {}, **fields))
        object.__setattr__(self, "_cache", {})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        cache = object.__getattribute__(self, "_cache")
        if name in cache:
            return cache[name]
        data = object.__getattribute__(self, "_data")
        if name not in data:
            raise AttributeError(f"{type(self).__name__!s} has no field {name!r}")
        value = cache[name] = _wrap(data[name])
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            # Private attributes (`_hidden_params`) live beside the data.
            object.__setattr__(self, name, value)
        else:
            raise AttributeError(f"{type(self).__name__} objects are read-only")

    def __getitem__(self, key: str) -> Any:
        return self.__getattr__(key) if key in self._data else self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        """The field ``key``, or ``default``."""
        return self[key] if key in self._data else default

    def keys(self) -> Any:
        """The field names."""
        return self._data.keys()

    def model_dump(self, **_options: Any) -> Dict[str, Any]:
        """The object as JSON data (a deep copy)."""
        return copy.deepcopy(self._data)

    def model_dump_json(self, *, indent: Optional[int] = None, **_options: Any) -> str:
        """The object as JSON text."""
        return json.dumps(self._data, indent=indent)

    to_dict = model_dump
    to_json = model_dump_json

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SwitchyardObject):
            return self._data == other._data
        if isinstance(other, dict):
            return self._data == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({json.dumps(self._data)})"


class Response(SwitchyardObject):
    """A Responses API ``Response``."""

    @property
    def output_text(self) -> str:
        """The text of every ``output_text`` part of the output's messages, joined."""
        texts: List[str] = []
        for item in self._data.get("output") or []:
            if item.get("type") != "message":
                continue
            for part in item.get("content") or []:
                if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                    texts.append(part["text"])
        return "".join(texts)


class ResponseStreamEvent(SwitchyardObject):
    """One event of a streamed response; ``type`` names it. ``response`` (on lifecycle events)
    is a :class:`Response`."""

    def __getattr__(self, name: str) -> Any:
        if name == "response" and isinstance(self._data.get("response"), dict):
            cache = object.__getattribute__(self, "_cache")
            if name not in cache:
                cache[name] = Response(self._data["response"])
            return cache[name]
        return super().__getattr__(name)


class ResponseItemList(SwitchyardObject):
    """A page of items (``data``, ``first_id``, ``last_id``, ``has_more``)."""


class Conversation(SwitchyardObject):
    """A conversation (``id``, ``created_at``, ``metadata``)."""


class ConversationItemList(SwitchyardObject):
    """A page of a conversation's items."""


class DeletedObject(SwitchyardObject):
    """The answer to a deletion (``id``, ``object``, ``deleted``)."""


def _union_members(annotation: Any) -> List[Any]:
    """The classes of a (possibly ``Annotated``) ``Union``."""
    import typing

    args = typing.get_args(annotation)
    if args and typing.get_origin(annotation) is not typing.Union:
        # Annotated[Union[...], metadata]: the union is the first argument.
        args = typing.get_args(args[0]) or args[:1]
    return [a for a in args if isinstance(a, type)]


def _by_type(members: List[Any]) -> Dict[str, Any]:
    """Each member class by the ``Literal`` value of its ``type`` field."""
    import typing

    found: Dict[str, Any] = {}
    for member in members:
        field = getattr(member, "model_fields", {}).get("type")
        for value in typing.get_args(getattr(field, "annotation", None)):
            if isinstance(value, str):
                found.setdefault(value, member)
    return found


def _sdk_builder(path: str, name: str) -> Optional[Callable[[Dict[str, Any]], Any]]:
    """A function building the OpenAI SDK's class (or union) ``path.name`` from JSON data.

    The data is validated into the SDK's class (pydantic's validation, in compiled code, is
    tens of times faster than the SDK's own field-by-field construction); what does not
    validate (a value the SDK's types do not list yet) is built the SDK's lenient way, as the
    SDK builds its answers, keeping every field.
    """
    if _openai.module() is None:
        return None
    try:
        import importlib

        target = getattr(importlib.import_module(path), name)
        from openai._models import construct_type
    except (ImportError, AttributeError):
        return None

    def lenient(data: Dict[str, Any]) -> Any:
        return construct_type(type_=target, value=data)

    if isinstance(target, type):
        validate = getattr(target, "model_validate", None)
        if validate is None:  # pydantic 1
            return lenient

        def build(data: Dict[str, Any]) -> Any:
            try:
                return validate(data)
            except Exception:
                return lenient(data)

        return build
    classes = _by_type(_union_members(target))
    if not classes or not all(hasattr(c, "model_validate") for c in classes.values()):
        return lenient

    def build_member(data: Dict[str, Any]) -> Any:
        cls = classes.get(data.get("type"))  # type: ignore[arg-type]
        if cls is not None:
            try:
                return cls.model_validate(data)
            except Exception:
                pass
        return lenient(data)

    return build_member


_BUILDERS: Dict[str, Callable[[Dict[str, Any]], Any]] = {}
_FALLBACKS: Dict[str, Callable[[Dict[str, Any]], Any]] = {
    "response": Response,
    "event": ResponseStreamEvent,
    "item": SwitchyardObject,
    "response_item_list": ResponseItemList,
    "conversation": Conversation,
    "conversation_item_list": ConversationItemList,
    "conversation_deleted": DeletedObject,
    "response_deleted": DeletedObject,
}
_SDK_CLASSES = {
    "response": ("openai.types.responses", "Response"),
    "event": ("openai.types.responses", "ResponseStreamEvent"),
    "response_item_list": ("openai.types.responses", "ResponseItemList"),
    "conversation": ("openai.types.conversations", "Conversation"),
    "conversation_item_list": ("openai.types.conversations", "ConversationItemList"),
    "item": ("openai.types.conversations", "ConversationItem"),
    "conversation_deleted": ("openai.types.conversations", "ConversationDeletedResource"),
}


def build(kind: str, data: Dict[str, Any]) -> Any:
    """The object of ``kind`` for ``data``: the OpenAI SDK's class when available."""
    builder = _BUILDERS.get(kind)
    if builder is None:
        sdk_class = _SDK_CLASSES.get(kind)
        builder = (_sdk_builder(*sdk_class) if sdk_class else None) or _FALLBACKS[kind]
        _BUILDERS[kind] = builder
    return builder(data)


def response(data: Dict[str, Any]) -> Any:
    """A ``Response``."""
    return build("response", data)


def event(data: Dict[str, Any]) -> Any:
    """A stream event."""
    return build("event", data)
