"""``switchyard.Router``: the proxy's model groups, load balancing, retries, fallbacks and
cooldowns in the process, configured like LiteLLM's ``Router`` or from a ``config.yaml``."""

from __future__ import annotations

import copy
import json
import os
from typing import Any, Dict, List, Optional, Union

from . import _calls, _native
from ._callbacks import CallInfo
from .main import apply_globals, log_warnings, split_params

# LiteLLM `Router` keywords with no meaning here (logging verbosity has its own logger).
_IGNORED_SETTINGS = frozenset({"set_verbose", "debug_level"})


class Router:
    """Routes calls over a ``model_list`` as the proxy does.

    ``Router(model_list=[...], routing_strategy="least-busy", num_retries=2, fallbacks=[...])``
    takes LiteLLM's ``model_list`` and router settings (every ``router_settings`` key of the
    proxy's config); ``Router(config="config.yaml")`` reads a proxy config file (a dict in the
    same shape works too). Keys switchyard does not act on are logged as a warning, as the
    proxy does at startup.
    """

    def __init__(
        self,
        model_list: Optional[List[Dict[str, Any]]] = None,
        *,
        config: Union[str, "os.PathLike[str]", Dict[str, Any], None] = None,
        litellm_settings: Optional[Dict[str, Any]] = None,
        general_settings: Optional[Dict[str, Any]] = None,
        switchyard_settings: Optional[Dict[str, Any]] = None,
        **router_settings: Any,
    ) -> None:
        if config is not None and (model_list is not None or router_settings):
            raise TypeError("give either config= or model_list= and router settings, not both")
        if config is not None and not isinstance(config, dict):
            self._gateway, warnings = _native.Gateway.from_file(os.fspath(config))
        else:
            tree: Dict[str, Any] = copy.deepcopy(config) if isinstance(config, dict) else {}
            if config is None:
                tree["model_list"] = list(model_list or [])
                settings = {k: v for k, v in router_settings.items() if k not in _IGNORED_SETTINGS}
                if settings:
                    tree["router_settings"] = settings
                for name, section in (
                    ("litellm_settings", litellm_settings),
                    ("general_settings", general_settings),
                    ("switchyard_settings", switchyard_settings),
                ):
                    if section:
                        tree[name] = section
            self._gateway, warnings = _native.Gateway.from_yaml(json.dumps(tree, default=_calls._jsonable))
        log_warnings(warnings)
        #: The deployments, as given (for ``Router(config=...)``: empty; see ``get_model_names``).
        self.model_list: List[Dict[str, Any]] = list(model_list or [])

    def get_model_names(self) -> List[str]:
        """The model groups (and visible aliases) calls may name."""
        return [name for name, _provider in self._gateway.models()]

    def _prepare(self, input: Any, model: Any, params: Dict[str, Any], call_type: str) -> Any:
        stream = bool(params.pop("stream", False))
        _deployment, body = split_params(params, deployment_allowed=False)
        apply_globals(body, None)
        if model is not None:
            body["model"] = model
        if input is not None:
            body["input"] = input
        return body, CallInfo(model, input, stream, call_type, body)

    def responses(self, input: Any = None, model: Any = None, **params: Any) -> Any:
        """Creates a response through the model group ``model``; the keywords are those of
        ``switchyard.responses`` less the deployment settings. With ``stream=True``, returns
        an iterator of events."""
        body, call = self._prepare(input, model, params, "responses")
        return _calls.create(self._gateway, body, call)

    async def aresponses(self, input: Any = None, model: Any = None, **params: Any) -> Any:
        """``responses`` for asyncio; with ``stream=True``, an async iterator of events."""
        body, call = self._prepare(input, model, params, "aresponses")
        return await _calls.acreate(self._gateway, body, call)

    def __repr__(self) -> str:
        return f"Router(models={self.get_model_names()!r})"
