"""``json.encoder`` under datason.json's name: the standard module's own objects.

``JSONEncoder`` is ``json``'s class, so subclasses and ``cls=`` behave exactly as with
``json`` (datason's plain forms come only from ``datason.json.dumps`` without ``cls``/``default``).
Every other name (``encode_basestring_ascii``, ``c_make_encoder``, ...) is looked up on the
standard module.
"""

from __future__ import annotations

import json.encoder as _std
from json.encoder import JSONEncoder

from ._forward import forward

__all__ = ["JSONEncoder"]


__getattr__, __dir__ = forward(__name__, _std, globals())
