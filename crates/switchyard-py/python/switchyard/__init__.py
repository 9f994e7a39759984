"""switchyard: an LLM gateway library, from Python.

``switchyard.responses(model="anthropic/claude-sonnet-4-5", input="Hi!")`` calls any model
through OpenAI's Responses API, as ``litellm.responses`` does, on switchyard's Rust gateway in
this process (no proxy). ``switchyard.Router`` serves a LiteLLM-style ``model_list`` or
``config.yaml`` with the proxy's load balancing, retries, fallbacks and cooldowns.

Return values are the OpenAI SDK's types when ``openai`` is installed (switchyard's own,
attribute-compatible classes otherwise); failures raise exceptions that subclass the OpenAI
SDK's. Logs go to the ``switchyard`` logger of Python's ``logging``.
"""

from __future__ import annotations

from typing import Any, List, Optional

from ._native import __version__
from ._calls import AsyncResponsesStream, ResponsesStream
from .cost import completion_cost
from .exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
    UnsupportedParamsError,
)
from .main import aresponses, responses
from .router import Router
from . import state as _state
from .state import (
    acancel_responses,
    acreate_conversation,
    acreate_conversation_items,
    adelete_conversation,
    adelete_conversation_item,
    adelete_responses,
    aget_conversation,
    aget_conversation_item,
    aget_responses,
    alist_conversation_items,
    alist_input_items,
    aupdate_conversation,
    cancel_responses,
    create_conversation,
    create_conversation_items,
    delete_conversation,
    delete_conversation_item,
    delete_responses,
    get_conversation,
    get_conversation_item,
    get_responses,
    list_conversation_items,
    list_input_items,
    update_conversation,
)

#: Functions called after each successful call: ``fn(kwargs, response, start_time, end_time)``.
success_callback: List[Any] = []
#: Functions called after each failed call: ``fn(kwargs, exception, start_time, end_time)``.
failure_callback: List[Any] = []
#: Objects shaped like LiteLLM's ``CustomLogger`` (``log_success_event``, …).
callbacks: List[Any] = []
#: Drop parameters a deployment cannot honour instead of failing (per call: ``drop_params=``).
drop_params: bool = False
#: Retries for every call that does not set ``num_retries``.
num_retries: Optional[int] = None
#: Timeout (seconds) for every call that does not set ``timeout``.
request_timeout: Optional[float] = None

__all__ = [
    "__version__",
    "responses",
    "aresponses",
    "Router",
    "ResponsesStream",
    "AsyncResponsesStream",
    "completion_cost",
    "success_callback",
    "failure_callback",
    "callbacks",
    "drop_params",
    "num_retries",
    "request_timeout",
    "APIError",
    "APIStatusError",
    "APIConnectionError",
    "APITimeoutError",
    "Timeout",
    "BadRequestError",
    "UnsupportedParamsError",
    "ContextWindowExceededError",
    "ContentPolicyViolationError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "InternalServerError",
    "ServiceUnavailableError",
    *_state.__all__,
]
