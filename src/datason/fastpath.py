"""Plain-mode fast path: when a value holds only types orjson writes exactly as datason's plain
mode would (str, int within 64 bits, float, bool, None, list, tuple, str-keyed dict, UUID,
naive or UTC datetime, date) and is within the config's limits, orjson can write the user's
object directly. ``plain_native`` decides that in one allocation-free walk; anything else
(or any limit problem) takes the full encoder, which also produces the error with its path.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ._native import speedups as _speedups
from .config import SerializationConfig

__all__ = ["plain_native"]

_LEAVES = frozenset({float, bool, type(None)})
# orjson writes these as strings of at most this many characters
_TEXT_LEAVES = {uuid.UUID: 36, dt.date: 10, dt.datetime: 32}
_INT_MIN, _INT_MAX = -(2**63), 2**64


def eligible(config: SerializationConfig) -> bool:
    return (
        not config.include_type_hints
        and config.nan_handling == "null"
        and config.date_format == "iso"
        and not config.ensure_ascii
        and not config.strict
    )


def plain_native(obj: Any, config: SerializationConfig) -> bool:
    if not eligible(config):
        return False
    try:
        if _speedups is not None:
            return bool(_speedups.plain_native(obj, config.max_depth, config.max_size, config.max_string_length))
        return _walk(obj, 1, config.max_depth, config.max_size, config.max_string_length)
    except RecursionError:
        return False


def _walk(obj: Any, depth: int, max_depth: int, max_size: int, max_str: int) -> bool:
    t = type(obj)
    if t is str:
        return len(obj) <= max_str and (obj.isascii() or _valid_unicode(obj))
    if t is int:
        return _INT_MIN <= obj < _INT_MAX
    if t in _LEAVES:
        return True
    if t in _TEXT_LEAVES:
        utc = t is not dt.datetime or obj.tzinfo is None or obj.tzinfo is dt.UTC
        return utc and _TEXT_LEAVES[t] <= max_str
    if t is list or t is tuple:
        if depth > max_depth or len(obj) > max_size:
            return False
        return all(_walk(item, depth + 1, max_depth, max_size, max_str) for item in obj)
    if t is dict:
        if depth > max_depth or len(obj) > max_size:
            return False
        for key, item in obj.items():
            if type(key) is not str or not _walk(key, depth, max_depth, max_size, max_str):
                return False
            if not _walk(item, depth + 1, max_depth, max_size, max_str):
                return False
        return True
    return False


def _valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
