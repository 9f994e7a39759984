"""``switchyard.responses`` and ``switchyard.aresponses``: ``litellm.responses`` keywords on
switchyard's gateway, without a proxy.

A call's keywords are sorted three ways:

* deployment settings (``api_key``, ``api_base``, ``api_version``, ``aws_region_name``,
  ``vertex_project``, per-token prices, …) say where and how to reach the model: the call is
  served by a one-deployment gateway built from them, as a ``model_list`` entry with those
  ``litellm_params`` would be. Gateways are kept per distinct settings and reused.
* ``timeout``, ``stream_timeout``, ``num_retries``, ``max_fallbacks`` and ``fallbacks`` are the
  call's own routing overrides (the proxy reads the same body fields).
* everything else is the Responses request body (``extra_body`` is merged into it).

Without deployment settings, ``model`` is a ``provider/model`` string served with credentials
from the provider's usual environment variables (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, …).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections import OrderedDict
from typing import Any, Dict, Optional, Tuple

from . import _calls, _native, exceptions
from ._callbacks import CallInfo

_logger = logging.getLogger("switchyard")

#: Keywords that configure the deployment (``litellm_params`` of a ``model_list`` entry).
DEPLOYMENT_PARAMS = frozenset(
    {
        "api_key",
        "api_base",
        "base_url",
        "api_version",
        "organization",
        "custom_llm_provider",
        "max_retries",
        "use_chat_completions_api",
        "drop_params",
        "extra_headers",
        "replay_reasoning_content",
        "model_info",
        "base_model",
        # Per-token prices (LiteLLM's custom pricing).
        "input_cost_per_token",
        "output_cost_per_token",
        "cache_read_input_token_cost",
        "cache_creation_input_token_cost",
        "output_cost_per_reasoning_token",
        # Provider credentials, regions and projects.
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_region_name",
        "aws_role_name",
        "aws_session_name",
        "aws_profile_name",
        "aws_web_identity_token",
        "aws_bedrock_runtime_endpoint",
        "vertex_project",
        "vertex_location",
        "vertex_credentials",
        "vertex_ai_project",
        "vertex_ai_location",
        "azure_ad_token",
        "tenant_id",
        "client_id",
        "client_secret",
        "region_name",
    }
)

#: LiteLLM keywords that mean nothing without HTTP between the caller and the gateway.
IGNORED_PARAMS = frozenset(
    {"extra_query", "litellm_logging_obj", "logger_fn", "litellm_call_id", "client", "aclient"}
)

# Gateways for distinct deployment settings, most recently used last.
_MAX_GATEWAYS = 64
_gateways: "OrderedDict[str, Any]" = OrderedDict()
_adhoc: Optional[Any] = None
_lock = threading.Lock()


def _package() -> Any:
    return sys.modules["switchyard"]


def _seconds(value: Any) -> Any:
    """A timeout in seconds; an ``httpx.Timeout`` counts as its longest phase."""
    if isinstance(value, (int, float)) or value is None:
        return value
    phases = [getattr(value, p, None) for p in ("connect", "read", "write", "pool")]
    known = [p for p in phases if isinstance(p, (int, float))]
    return max(known) if known else None


def split_params(params: Dict[str, Any], deployment_allowed: bool) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(deployment settings, request body)`` from a call's keywords (``None`` values are
    left out, as LiteLLM leaves out unset parameters)."""
    deployment: Dict[str, Any] = {}
    body: Dict[str, Any] = {}
    extra_body = params.pop("extra_body", None)
    for key, value in params.items():
        if value is None or key in IGNORED_PARAMS:
            continue
        if key in DEPLOYMENT_PARAMS:
            if not deployment_allowed:
                raise TypeError(
                    f"{key}= is a deployment setting: give it in the Router's model_list "
                    "(litellm_params), not per call"
                )
            deployment["api_base" if key == "base_url" else key] = value
        elif key in ("timeout", "stream_timeout"):
            seconds = _seconds(value)
            if seconds is not None:
                body[key] = seconds
        else:
            body[key] = value
    if extra_body:
        body.update(extra_body)
    return deployment, body


def apply_globals(body: Dict[str, Any], deployment: Optional[Dict[str, Any]]) -> None:
    """``switchyard.drop_params``, ``num_retries`` and ``request_timeout``, where the call
    did not set them."""
    pkg = _package()
    if deployment is not None and pkg.drop_params and "drop_params" not in deployment:
        deployment["drop_params"] = True
    if pkg.num_retries is not None:
        body.setdefault("num_retries", pkg.num_retries)
    if pkg.request_timeout is not None:
        body.setdefault("timeout", pkg.request_timeout)


def log_warnings(warnings: Any) -> None:
    for warning in warnings:
        _logger.warning("%s", warning)


def _gateway(model: Any, deployment: Dict[str, Any]) -> Any:
    """The gateway serving ``model`` with ``deployment`` settings."""
    global _adhoc
    if not deployment:
        with _lock:
            if _adhoc is None:
                _adhoc = _native.Gateway.adhoc()
            return _adhoc
    if not isinstance(model, str) or not model:
        raise exceptions.BadRequestError(
            "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
        )
    params = dict(deployment)
    entry: Dict[str, Any] = {"model_name": model}
    model_info = params.pop("model_info", None)
    entry["litellm_params"] = dict(params, model=model)
    if model_info:
        entry["model_info"] = model_info
    key = _calls.encode(entry)
    with _lock:
        gateway = _gateways.get(key)
        if gateway is not None:
            _gateways.move_to_end(key)
            return gateway
    try:
        gateway, warnings = _native.Gateway.from_yaml(
            json.dumps({"model_list": [entry]}, default=_calls._jsonable)
        )
    except ValueError as problem:
        raise exceptions.BadRequestError(str(problem), code="invalid_deployment") from None
    log_warnings(warnings)
    with _lock:
        _gateways[key] = gateway
        while len(_gateways) > _MAX_GATEWAYS:
            _gateways.popitem(last=False)
    return gateway


def _prepare(input: Any, model: Any, params: Dict[str, Any], call_type: str) -> Tuple[Any, Dict[str, Any], CallInfo]:
    stream = bool(params.pop("stream", False))
    deployment, body = split_params(params, deployment_allowed=True)
    apply_globals(body, deployment)
    if model is not None:
        body["model"] = model
    if input is not None:
        body["input"] = input
    gateway = _gateway(model, deployment)
    call = CallInfo(model, input, stream, call_type, body)
    return gateway, body, call


def responses(input: Any = None, model: Any = None, **params: Any) -> Any:
    """Creates a model response, as ``litellm.responses`` does (see the stubs for every
    keyword). Returns a ``Response``; with ``stream=True``, an iterator of events."""
    gateway, body, call = _prepare(input, model, params, "responses")
    return _calls.create(gateway, body, call)


async def aresponses(input: Any = None, model: Any = None, **params: Any) -> Any:
    """``responses`` for asyncio: returns a ``Response``; with ``stream=True``, an async
    iterator of events. Cancelling the awaiting task closes the upstream connection."""
    gateway, body, call = _prepare(input, model, params, "aresponses")
    return await _calls.acreate(gateway, body, call)
