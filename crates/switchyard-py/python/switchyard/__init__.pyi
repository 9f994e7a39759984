"""Type stubs of the ``switchyard`` package: every keyword of ``responses`` / ``aresponses``,
so an editor completes them. At run time the results are the OpenAI SDK's types when
``openai`` is installed (``openai.types.responses.Response``, …), switchyard's own
attribute-compatible classes (``switchyard.types``) otherwise."""

import os
from typing import Any, AsyncIterator, Callable, Dict, Iterable, Iterator, List, Literal, Mapping, Optional, Sequence, Union, overload

from .exceptions import (
    APIConnectionError as APIConnectionError,
    APIError as APIError,
    APIStatusError as APIStatusError,
    APITimeoutError as APITimeoutError,
    AuthenticationError as AuthenticationError,
    BadRequestError as BadRequestError,
    ContentPolicyViolationError as ContentPolicyViolationError,
    ContextWindowExceededError as ContextWindowExceededError,
    InternalServerError as InternalServerError,
    NotFoundError as NotFoundError,
    PermissionDeniedError as PermissionDeniedError,
    RateLimitError as RateLimitError,
    ServiceUnavailableError as ServiceUnavailableError,
    Timeout as Timeout,
    UnsupportedParamsError as UnsupportedParamsError,
)
from .types import (
    Conversation,
    ConversationItemList,
    DeletedObject,
    Response,
    ResponseItemList,
    ResponseStreamEvent,
    SwitchyardObject,
)

__version__: str

#: ``fn(kwargs, response, start_time, end_time)`` after each successful call.
success_callback: List[Callable[..., Any]]
#: ``fn(kwargs, exception, start_time, end_time)`` after each failed call.
failure_callback: List[Callable[..., Any]]
#: Objects with ``log_success_event`` / ``log_failure_event`` (and ``async_`` variants).
callbacks: List[Any]
drop_params: bool
num_retries: Optional[int]
request_timeout: Optional[float]

Input = Union[str, Sequence[Union[Mapping[str, Any], Any]]]

class ResponsesStream(Iterator[ResponseStreamEvent]):
    """The events of a streamed response. ``close()`` (or leaving ``with``) closes the
    upstream connection; ``completed_response`` is the final response once read."""

    completed_response: Optional[Response]
    _hidden_params: Dict[str, Any]
    def __iter__(self) -> "ResponsesStream": ...
    def __next__(self) -> ResponseStreamEvent: ...
    def close(self) -> None: ...
    def get_final_response(self) -> Optional[Response]: ...
    def __enter__(self) -> "ResponsesStream": ...
    def __exit__(self, *exc: Any) -> None: ...

class AsyncResponsesStream(AsyncIterator[ResponseStreamEvent]):
    """The events of a streamed response, for ``async for``; cancelling the reading task or
    ``aclose()`` closes the upstream connection."""

    completed_response: Optional[Response]
    _hidden_params: Dict[str, Any]
    def __aiter__(self) -> "AsyncResponsesStream": ...
    async def __anext__(self) -> ResponseStreamEvent: ...
    async def aclose(self) -> None: ...
    async def close(self) -> None: ...
    async def get_final_response(self) -> Optional[Response]: ...
    async def __aenter__(self) -> "AsyncResponsesStream": ...
    async def __aexit__(self, *exc: Any) -> None: ...

@overload
def responses(
    input: Optional[Input] = None,
    model: Optional[str] = None,
    *,
    stream: Literal[False] = False,
    include: Optional[List[str]] = None,
    instructions: Optional[str] = None,
    max_output_tokens: Optional[int] = None,
    max_tool_calls: Optional[int] = None,
    prompt: Optional[Mapping[str, Any]] = None,
    prompt_cache_key: Optional[str] = None,
    metadata: Optional[Dict[str, str]] = None,
    parallel_tool_calls: Optional[bool] = None,
    previous_response_id: Optional[str] = None,
    conversation: Union[str, Mapping[str, Any], None] = None,
    reasoning: Optional[Mapping[str, Any]] = None,
    store: Optional[bool] = None,
    background: Optional[bool] = None,
    temperature: Optional[float] = None,
    text: Optional[Mapping[str, Any]] = None,
    tool_choice: Union[str, Mapping[str, Any], None] = None,
    tools: Optional[Iterable[Mapping[str, Any]]] = None,
    top_p: Optional[float] = None,
    top_logprobs: Optional[int] = None,
    truncation: Optional[Literal["auto", "disabled"]] = None,
    user: Optional[str] = None,
    service_tier: Optional[str] = None,
    safety_identifier: Optional[str] = None,
    stream_options: Optional[Mapping[str, Any]] = None,
    extra_headers: Optional[Dict[str, str]] = None,
    extra_query: Optional[Dict[str, Any]] = None,
    extra_body: Optional[Dict[str, Any]] = None,
    timeout: Union[float, Any, None] = None,
    stream_timeout: Optional[float] = None,
    num_retries: Optional[int] = None,
    max_fallbacks: Optional[int] = None,
    fallbacks: Optional[List[Union[str, Mapping[str, Any]]]] = None,
    custom_llm_provider: Optional[str] = None,
    api_key: Optional[str] = None,
    api_base: Optional[str] = None,
    base_url: Optional[str] = None,
    api_version: Optional[str] = None,
    organization: Optional[str] = None,
    max_retries: Optional[int] = None,
    drop_params: Optional[bool] = None,
    use_chat_completions_api: Optional[bool] = None,
    model_info: Optional[Mapping[str, Any]] = None,
    input_cost_per_token: Optional[float] = None,
    output_cost_per_token: Optional[float] = None,
    aws_access_key_id: Optional[str] = None,
    aws_secret_access_key: Optional[str] = None,
    aws_session_token: Optional[str] = None,
    aws_region_name: Optional[str] = None,
    aws_role_name: Optional[str] = None,
    aws_session_name: Optional[str] = None,
    aws_profile_name: Optional[str] = None,
    aws_web_identity_token: Optional[str] = None,
    aws_bedrock_runtime_endpoint: Optional[str] = None,
    vertex_project: Optional[str] = None,
    vertex_location: Optional[str] = None,
    vertex_credentials: Union[str, Mapping[str, Any], None] = None,
    azure_ad_token: Optional[str] = None,
    tenant_id: Optional[str] = None,
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    **kwargs: Any,
) -> Response:
    """Creates a model response through OpenAI's Responses API, as ``litellm.responses``.

    ``model`` is a ``provider/model`` string (``openai/gpt-5``, ``anthropic/claude-sonnet-4-5``,
    ``gemini/gemini-2.5-flash``, ``bedrock/…``, ``vertex_ai/…``, ``azure/<deployment>``,
    ``hosted_vllm/…``, …). Credentials come from ``api_key`` and the provider settings, or
    from the provider's usual environment variables. ``timeout``, ``num_retries``,
    ``stream_timeout``, ``max_fallbacks`` and ``fallbacks`` tune this call; every other
    keyword is a Responses API parameter (``extra_body`` is merged into the request).

    Returns the ``Response`` (``output_text``, ``output``, ``usage``; the cost in
    ``_hidden_params["response_cost"]``); with ``stream=True``, a ``ResponsesStream``.
    Raises the exceptions of ``switchyard.exceptions`` (OpenAI's classes).
    """

@overload
def responses(input: Optional[Input] = None, model: Optional[str] = None, *, stream: Literal[True], **kwargs: Any) -> ResponsesStream: ...
@overload
def responses(input: Optional[Input] = None, model: Optional[str] = None, *, stream: bool, **kwargs: Any) -> Union[Response, ResponsesStream]: ...
@overload
async def aresponses(
    input: Optional[Input] = None,
    model: Optional[str] = None,
    *,
    stream: Literal[False] = False,
    include: Optional[List[str]] = None,
    instructions: Optional[str] = None,
    max_output_tokens: Optional[int] = None,
    metadata: Optional[Dict[str, str]] = None,
    parallel_tool_calls: Optional[bool] = None,
    previous_response_id: Optional[str] = None,
    conversation: Union[str, Mapping[str, Any], None] = None,
    reasoning: Optional[Mapping[str, Any]] = None,
    store: Optional[bool] = None,
    temperature: Optional[float] = None,
    text: Optional[Mapping[str, Any]] = None,
    tool_choice: Union[str, Mapping[str, Any], None] = None,
    tools: Optional[Iterable[Mapping[str, Any]]] = None,
    top_p: Optional[float] = None,
    truncation: Optional[Literal["auto", "disabled"]] = None,
    user: Optional[str] = None,
    extra_body: Optional[Dict[str, Any]] = None,
    timeout: Union[float, Any, None] = None,
    num_retries: Optional[int] = None,
    api_key: Optional[str] = None,
    api_base: Optional[str] = None,
    api_version: Optional[str] = None,
    drop_params: Optional[bool] = None,
    **kwargs: Any,
) -> Response:
    """``responses`` for asyncio (every keyword of ``responses``). Cancelling the awaiting
    task closes the upstream connection."""

@overload
async def aresponses(
    input: Optional[Input] = None, model: Optional[str] = None, *, stream: Literal[True], **kwargs: Any
) -> AsyncResponsesStream: ...
@overload
async def aresponses(
    input: Optional[Input] = None, model: Optional[str] = None, *, stream: bool, **kwargs: Any
) -> Union[Response, AsyncResponsesStream]: ...

class Router:
    """The proxy's model groups, load balancing, retries, fallbacks and cooldowns, from a
    LiteLLM ``model_list`` and router settings, or from a ``config.yaml``."""

    model_list: List[Dict[str, Any]]
    def __init__(
        self,
        model_list: Optional[List[Dict[str, Any]]] = None,
        *,
        config: Union[str, "os.PathLike[str]", Dict[str, Any], None] = None,
        litellm_settings: Optional[Dict[str, Any]] = None,
        general_settings: Optional[Dict[str, Any]] = None,
        switchyard_settings: Optional[Dict[str, Any]] = None,
        routing_strategy: Optional[
            Literal["simple-shuffle", "least-busy", "latency-based-routing", "usage-based-routing-v2", "cost-based-routing"]
        ] = None,
        num_retries: Optional[int] = None,
        retry_after: Optional[float] = None,
        timeout: Optional[float] = None,
        stream_timeout: Optional[float] = None,
        fallbacks: Optional[List[Dict[str, List[str]]]] = None,
        context_window_fallbacks: Optional[List[Dict[str, List[str]]]] = None,
        content_policy_fallbacks: Optional[List[Dict[str, List[str]]]] = None,
        max_fallbacks: Optional[int] = None,
        allowed_fails: Optional[int] = None,
        cooldown_time: Optional[float] = None,
        model_group_alias: Optional[Dict[str, Union[str, Dict[str, Any]]]] = None,
        **router_settings: Any,
    ) -> None: ...
    def get_model_names(self) -> List[str]: ...
    @overload
    def responses(self, input: Optional[Input] = None, model: Optional[str] = None, *, stream: Literal[False] = False, **kwargs: Any) -> Response: ...
    @overload
    def responses(self, input: Optional[Input] = None, model: Optional[str] = None, *, stream: Literal[True], **kwargs: Any) -> ResponsesStream: ...
    @overload
    async def aresponses(
        self, input: Optional[Input] = None, model: Optional[str] = None, *, stream: Literal[False] = False, **kwargs: Any
    ) -> Response: ...
    @overload
    async def aresponses(
        self, input: Optional[Input] = None, model: Optional[str] = None, *, stream: Literal[True], **kwargs: Any
    ) -> AsyncResponsesStream: ...

def completion_cost(completion_response: Any = None, model: Optional[str] = None, *, usage: Any = None, **kwargs: Any) -> float:
    """The cost (USD) of a response: its ``_hidden_params["response_cost"]``, else its usage
    priced by the built-in catalog. Raises ``ValueError`` when no price is known."""

@overload
def get_responses(
    response_id: str, *, include: Optional[Iterable[str]] = None, stream: Literal[False] = False, **kwargs: Any
) -> Response: ...
@overload
def get_responses(
    response_id: str,
    *,
    stream: Literal[True],
    starting_after: Optional[int] = None,
    include: Optional[Iterable[str]] = None,
    **kwargs: Any,
) -> ResponsesStream:
    """A background response's events after sequence number ``starting_after`` (all without
    it), live while it runs."""
@overload
async def aget_responses(
    response_id: str, *, include: Optional[Iterable[str]] = None, stream: Literal[False] = False, **kwargs: Any
) -> Response: ...
@overload
async def aget_responses(
    response_id: str,
    *,
    stream: Literal[True],
    starting_after: Optional[int] = None,
    include: Optional[Iterable[str]] = None,
    **kwargs: Any,
) -> AsyncResponsesStream: ...
def cancel_responses(response_id: str, **kwargs: Any) -> Response:
    """Cancels a background response; answers it, ``status="cancelled"`` (one that ended: as
    it is)."""
async def acancel_responses(response_id: str, **kwargs: Any) -> Response: ...
def delete_responses(response_id: str, **kwargs: Any) -> DeletedObject: ...
async def adelete_responses(response_id: str, **kwargs: Any) -> DeletedObject: ...
def list_input_items(
    response_id: str,
    *,
    after: Optional[str] = None,
    before: Optional[str] = None,
    limit: Optional[int] = None,
    order: Optional[Literal["asc", "desc"]] = None,
    include: Optional[Iterable[str]] = None,
    **kwargs: Any,
) -> ResponseItemList: ...
async def alist_input_items(
    response_id: str,
    *,
    after: Optional[str] = None,
    before: Optional[str] = None,
    limit: Optional[int] = None,
    order: Optional[Literal["asc", "desc"]] = None,
    include: Optional[Iterable[str]] = None,
    **kwargs: Any,
) -> ResponseItemList: ...
def create_conversation(items: Optional[Iterable[Any]] = None, metadata: Optional[Dict[str, str]] = None) -> Conversation: ...
async def acreate_conversation(items: Optional[Iterable[Any]] = None, metadata: Optional[Dict[str, str]] = None) -> Conversation: ...
def get_conversation(conversation_id: str) -> Conversation: ...
async def aget_conversation(conversation_id: str) -> Conversation: ...
def update_conversation(conversation_id: str, metadata: Dict[str, str]) -> Conversation: ...
async def aupdate_conversation(conversation_id: str, metadata: Dict[str, str]) -> Conversation: ...
def delete_conversation(conversation_id: str) -> DeletedObject: ...
async def adelete_conversation(conversation_id: str) -> DeletedObject: ...
def create_conversation_items(
    conversation_id: str, items: Iterable[Any], *, include: Optional[Iterable[str]] = None
) -> ConversationItemList: ...
async def acreate_conversation_items(
    conversation_id: str, items: Iterable[Any], *, include: Optional[Iterable[str]] = None
) -> ConversationItemList: ...
def list_conversation_items(
    conversation_id: str,
    *,
    after: Optional[str] = None,
    limit: Optional[int] = None,
    order: Optional[Literal["asc", "desc"]] = None,
    include: Optional[Iterable[str]] = None,
) -> ConversationItemList: ...
async def alist_conversation_items(
    conversation_id: str,
    *,
    after: Optional[str] = None,
    limit: Optional[int] = None,
    order: Optional[Literal["asc", "desc"]] = None,
    include: Optional[Iterable[str]] = None,
) -> ConversationItemList: ...
def get_conversation_item(conversation_id: str, item_id: str, *, include: Optional[Iterable[str]] = None) -> SwitchyardObject: ...
async def aget_conversation_item(
    conversation_id: str, item_id: str, *, include: Optional[Iterable[str]] = None
) -> SwitchyardObject: ...
def delete_conversation_item(conversation_id: str, item_id: str) -> Conversation: ...
async def adelete_conversation_item(conversation_id: str, item_id: str) -> Conversation: ...
