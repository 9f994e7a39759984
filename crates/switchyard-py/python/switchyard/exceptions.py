"""Exceptions, named and shaped as the OpenAI SDK's.

When the ``openai`` package is installed, every class here subclasses the OpenAI class of the
same name (``switchyard.RateLimitError`` is an ``openai.RateLimitError``), so code written for
the OpenAI SDK or LiteLLM catches switchyard's failures unchanged. Without it, the classes
have the same names, attributes and hierarchy on their own.

Every exception carries ``status_code`` (the HTTP status the proxy would answer), ``message``
(the provider's message, credentials removed), ``code``, ``param``, ``type`` (OpenAI's error
type), ``body`` (OpenAI's error object), ``llm_provider`` and ``model`` (when a deployment was
tried), ``retry_after`` (seconds, when the provider said) and ``request_id``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

from . import _openai

__all__ = [
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
]

# The pseudo-request an exception names: there is no HTTP request between Python and the
# gateway, but the OpenAI classes want one.
_REQUEST_URL = "http://switchyard/v1/responses"


class _FallbackOpenAIError(Exception):
    """Stands in for ``openai.OpenAIError`` when the ``openai`` package is absent."""


class _FallbackAPIError(_FallbackOpenAIError):
    def __init__(self, message: str, request: Any, *, body: Any) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.body = body


class _FallbackAPIStatusError(_FallbackAPIError):
    def __init__(self, message: str, *, response: Any, body: Any) -> None:
        super().__init__(message, getattr(response, "request", None), body=body)
        self.response = response
        self.status_code = getattr(response, "status_code", 500)


class _FallbackAPIConnectionError(_FallbackAPIError):
    def __init__(self, *, message: str = "Connection error.", request: Any) -> None:
        super().__init__(message, request, body=None)


class _FallbackAPITimeoutError(_FallbackAPIConnectionError):
    def __init__(self, request: Any) -> None:
        super().__init__(message="Request timed out.", request=request)


def _base(name: str, fallback: type) -> type:
    sdk = _openai.module()
    return getattr(sdk, name) if sdk is not None else fallback


class _FakeResponse:
    """What an HTTP response object offers the OpenAI classes, when no HTTP library is found."""

    def __init__(self, status_code: int, request: Any, body: Any, request_id: Optional[str]):
        self.status_code = status_code
        self.request = request
        self.headers = {"x-request-id": request_id} if request_id else {}
        self._body = body

    def json(self) -> Any:
        return self._body


def _request() -> Any:
    http = _openai.http_module()
    return http.Request("POST", _REQUEST_URL) if http is not None else None


def _response(status: int, body: Any, request_id: Optional[str]) -> Any:
    http = _openai.http_module()
    request = _request()
    if http is None:
        return _FakeResponse(status, request, body, request_id)
    headers = {"x-request-id": request_id} if request_id else {}
    return http.Response(status, request=request, json=body, headers=headers)


class APIError(_base("APIError", _FallbackAPIError)):  # type: ignore[misc]
    """A failure of a call through switchyard; the base of every exception here."""

    #: The HTTP status the proxy would answer for this failure.
    status_code: int = 500

    def __init__(
        self,
        message: str,
        llm_provider: Optional[str] = None,
        model: Optional[str] = None,
        *,
        status_code: Optional[int] = None,
        code: Optional[str] = None,
        param: Optional[str] = None,
        type: Optional[str] = None,
        retry_after: Optional[float] = None,
        request_id: Optional[str] = None,
        body: Optional[Dict[str, Any]] = None,
    ) -> None:
        status = status_code if status_code is not None else self.__class__.status_code
        if body is None:
            body = {"message": message, "type": type, "param": param, "code": code}
        self._init_base(message, status, body, request_id)
        self.message = message
        self.status_code = status
        self.code = code
        self.param = param
        self.type = type
        self.body = body
        self.llm_provider = llm_provider
        self.model = model
        self.retry_after = retry_after
        self.request_id = request_id
        self.args = (message,)

    def _init_base(self, message: str, status: int, body: Any, request_id: Optional[str]) -> None:
        super().__init__(message, _request(), body=body)  # type: ignore[call-arg]

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:
        # Exceptions cross process boundaries (multiprocessing, pickled results).
        state = {
            "status_code": self.status_code,
            "code": self.code,
            "param": self.param,
            "type": self.type,
            "retry_after": self.retry_after,
            "request_id": self.request_id,
            "body": self.body,
        }
        return (_rebuild, (self.__class__, self.message, self.llm_provider, self.model, state))


def _rebuild(cls: Type[APIError], message: str, provider: Any, model: Any, state: Dict[str, Any]) -> APIError:
    return cls(message, provider, model, **state)


class APIStatusError(APIError, _base("APIStatusError", _FallbackAPIStatusError)):  # type: ignore[misc]
    """The call was answered with an error status (4xx or 5xx)."""

    def _init_base(self, message: str, status: int, body: Any, request_id: Optional[str]) -> None:
        _base("APIStatusError", _FallbackAPIStatusError).__init__(  # type: ignore[misc]
            self, message, response=_response(status, body, request_id), body=body
        )


class APIConnectionError(APIError, _base("APIConnectionError", _FallbackAPIConnectionError)):  # type: ignore[misc]
    """The provider could not be reached, or the connection broke."""

    status_code = 502

    def _init_base(self, message: str, status: int, body: Any, request_id: Optional[str]) -> None:
        _base("APIConnectionError", _FallbackAPIConnectionError).__init__(  # type: ignore[misc]
            self, message=message, request=_request()
        )


class APITimeoutError(APIConnectionError, _base("APITimeoutError", _FallbackAPITimeoutError)):  # type: ignore[misc]
    """The provider did not answer in time (``timeout``, ``stream_timeout``)."""

    status_code = 504

    def _init_base(self, message: str, status: int, body: Any, request_id: Optional[str]) -> None:
        _base("APITimeoutError", _FallbackAPITimeoutError).__init__(self, request=_request())  # type: ignore[misc]


#: LiteLLM's name for :class:`APITimeoutError`.
Timeout = APITimeoutError


class BadRequestError(APIStatusError, _base("BadRequestError", _FallbackAPIStatusError)):  # type: ignore[misc]
    """The request is malformed, or asks for something the deployment cannot do (400)."""

    status_code = 400


class UnsupportedParamsError(BadRequestError):
    """A parameter the deployment cannot honour; ``drop_params=True`` drops such parameters."""


class ContextWindowExceededError(BadRequestError):
    """The prompt does not fit the model's context window (``code`` ``context_length_exceeded``)."""


class ContentPolicyViolationError(BadRequestError):
    """A content filter refused the prompt."""


class AuthenticationError(APIStatusError, _base("AuthenticationError", _FallbackAPIStatusError)):  # type: ignore[misc]
    """Missing or wrong credentials (401)."""

    status_code = 401


class PermissionDeniedError(APIStatusError, _base("PermissionDeniedError", _FallbackAPIStatusError)):  # type: ignore[misc]
    """The credentials are valid but not allowed to do this (403)."""

    status_code = 403


class NotFoundError(APIStatusError, _base("NotFoundError", _FallbackAPIStatusError)):  # type: ignore[misc]
    """Unknown model, response or conversation (404)."""

    status_code = 404


class RateLimitError(APIStatusError, _base("RateLimitError", _FallbackAPIStatusError)):  # type: ignore[misc]
    """Too many requests or tokens (429); ``retry_after`` says how long to wait, when known."""

    status_code = 429


class InternalServerError(APIStatusError, _base("InternalServerError", _FallbackAPIStatusError)):  # type: ignore[misc]
    """The provider failed (its own 5xx status, or 502 for an unreadable answer)."""

    status_code = 500


class ServiceUnavailableError(InternalServerError):
    """The provider is overloaded or the gateway is unavailable (503)."""

    status_code = 503


_BY_KIND: Dict[str, Type[APIError]] = {
    "InvalidRequest": BadRequestError,
    "ContextLengthExceeded": ContextWindowExceededError,
    "ContentFilter": ContentPolicyViolationError,
    "PayloadTooLarge": BadRequestError,
    "UnsupportedMediaType": BadRequestError,
    "RequestTimeout": APITimeoutError,
    "Authentication": AuthenticationError,
    "PermissionDenied": PermissionDeniedError,
    "NotFound": NotFoundError,
    "RateLimited": RateLimitError,
    "Timeout": APITimeoutError,
    "Overloaded": ServiceUnavailableError,
    "Upstream": InternalServerError,
    "Internal": InternalServerError,
}

_BY_CODE: Dict[str, Type[APIError]] = {
    "upstream_connection_error": APIConnectionError,
    "unsupported_parameter": UnsupportedParamsError,
}


def from_native(info: Dict[str, Any]) -> APIError:
    """The exception for a failure the native module described."""
    code = info.get("code")
    cls = _BY_CODE.get(code or "") or _BY_KIND.get(info.get("kind") or "", InternalServerError)
    return cls(
        info.get("message") or "switchyard: the call failed",
        info.get("provider"),
        info.get("model"),
        status_code=info.get("status"),
        code=code,
        param=info.get("param"),
        type=info.get("type"),
        retry_after=info.get("retry_after"),
        request_id=info.get("request_id") or None,
    )


def from_response_error(error: Any, provider: Optional[str], model: Optional[str]) -> APIError:
    """The exception for a streamed response that ended with ``response.failed``."""
    code = getattr(error, "code", None) if error is not None else None
    message = getattr(error, "message", None) if error is not None else None
    cls: Type[APIError] = {
        "rate_limit_exceeded": RateLimitError,
        "insufficient_quota": RateLimitError,
        "context_length_exceeded": ContextWindowExceededError,
        "server_is_overloaded": ServiceUnavailableError,
        "invalid_prompt": BadRequestError,
    }.get(code or "", InternalServerError)
    return cls(message or "the response failed", provider, model, code=code)
