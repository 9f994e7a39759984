"""The ``openai`` package, when it is installed (and not switched off).

switchyard returns the OpenAI SDK's own types and subclasses its exceptions when it can.
Setting ``SWITCHYARD_NO_OPENAI=1`` before the first import makes switchyard use its own
classes even when ``openai`` is installed.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Optional

_SDK: Optional[ModuleType] = None
_HTTP: Optional[ModuleType] = None

if os.environ.get("SWITCHYARD_NO_OPENAI", "").strip().lower() not in ("1", "true", "yes"):
    try:
        import openai as _sdk_module
        import openai._exceptions as _sdk_exceptions
    except ImportError:
        pass
    else:
        _SDK = _sdk_module
        # The HTTP library the SDK's exceptions are built with (httpx, or httpx2 in later
        # releases): their `request` and `response` are objects of that library.
        _HTTP = getattr(_sdk_exceptions, "httpx2", None) or getattr(_sdk_exceptions, "httpx", None)


def module() -> Optional[ModuleType]:
    """The ``openai`` module, or ``None``."""
    return _SDK


def http_module() -> Optional[ModuleType]:
    """The HTTP library of the ``openai`` module's exceptions, or ``None``."""
    return _HTTP
