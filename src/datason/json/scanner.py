"""``json.scanner`` under datason.json's name: the standard module's own objects.

``make_scanner`` is ``json``'s (the C scanner when ``_json`` is available); every other
name (``py_make_scanner``, ``NUMBER_RE``, ...) is looked up on the standard module.
"""

from __future__ import annotations

import json.scanner as _std
from json.scanner import make_scanner
from typing import Any

__all__ = ["make_scanner"]


def __getattr__(name: str) -> Any:
    try:
        return getattr(_std, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *dir(_std)})
