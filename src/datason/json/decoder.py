"""``json.decoder`` under datason.json's name: the standard module's own objects.

Nothing here differs from ``json`` (datason's differences live in ``datason.json.loads``),
so every name, documented or not (``scanstring``, ``JSONObject``, ...), is looked up on
the standard module: code written against ``json.decoder`` gets exactly what it expects.
"""

from __future__ import annotations

import json.decoder as _std
from json.decoder import JSONDecodeError, JSONDecoder

from ._forward import forward

__all__ = ["JSONDecodeError", "JSONDecoder"]


__getattr__, __dir__ = forward(__name__, _std, globals())
