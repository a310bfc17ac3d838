"""``json.decoder`` under datason.json's name: the standard module's own objects.

Nothing here differs from ``json`` (datason's differences live in ``datason.json.loads``),
so every name, documented or not (``scanstring``, ``JSONObject``, ...), is looked up on
the standard module: code written against ``json.decoder`` gets exactly what it expects.
"""

from __future__ import annotations

import json.decoder as _std
from json.decoder import JSONDecodeError, JSONDecoder
from typing import Any

__all__ = ["JSONDecodeError", "JSONDecoder"]


def __getattr__(name: str) -> Any:
    try:
        return getattr(_std, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *dir(_std)})
