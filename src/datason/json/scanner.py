"""``json.scanner`` under datason.json's name: the standard module's own objects.

``make_scanner`` is ``json``'s (the C scanner when ``_json`` is available); every other
name (``py_make_scanner``, ``NUMBER_RE``, ...) is looked up on the standard module.
"""

from __future__ import annotations

import json.scanner as _std
from json.scanner import make_scanner

from ._forward import forward

__all__ = ["make_scanner"]


__getattr__, __dir__ = forward(__name__, _std, globals())
