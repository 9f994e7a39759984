"""``switchyard.completion_cost``: the cost of a response, as ``litellm.completion_cost``."""

from __future__ import annotations

from typing import Any, Optional

from . import _calls, _native


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def completion_cost(
    completion_response: Any = None, model: Optional[str] = None, *, usage: Any = None, **_ignored: Any
) -> float:
    """The cost (USD) of a response.

    A response (or stream, or terminal event) returned by switchyard carries its cost, worked
    out by the gateway from the deployment's price (``_hidden_params["response_cost"]``).
    Otherwise (a stored response retrieved later, a dict), the cost is computed from its
    ``usage`` and ``model`` (or the ``model``/``usage`` given) with the built-in price catalog.
    Raises ``ValueError`` when no price is known: a made-up zero would hide a missing price.
    """
    hidden = getattr(completion_response, "_hidden_params", None)
    if isinstance(hidden, dict) and hidden.get("response_cost") is not None:
        return float(hidden["response_cost"])
    response = _field(completion_response, "response") or completion_response
    usage = usage if usage is not None else _field(response, "usage")
    model = model or _field(response, "model")
    if usage is None or not model:
        raise ValueError("completion_cost needs a response with usage and model (or usage= and model=)")
    provider = hidden.get("custom_llm_provider") if isinstance(hidden, dict) else None
    names = [f"{provider}/{model}", model] if provider and "/" not in model else [model]
    encoded = _calls.encode(usage)
    for name in names:
        cost = _native.completion_cost(name, encoded)
        if cost is not None:
            return cost
    raise ValueError(f"no price is known for model {model!r}")
