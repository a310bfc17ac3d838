"""Plain-mode fast path: orjson writes the user's object directly when that gives datason's plain output.

``plain_native`` vouches for the object in one allocation-free walk (C, or ``_walk``): only exact JSON
types, tuples, UUIDs and naive/UTC datetimes and dates, which orjson writes exactly as plain mode does,
within every limit. Anything else takes the full encoder, which also produces any error with its path.
orjson is still told to refuse dataclasses and subclasses of str/int/dict/list, as a second line.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ._native import speedups as _speedups
from .config import SerializationConfig
from .encoder import valid_unicode
from .engine import write_native
from .wire import TYPE_KEY, VALUE_KEY

__all__ = ["plain_dumpb", "plain_native"]

_LEAVES = frozenset({float, bool, type(None)})
# What a plain document can be at its top: anything else (an ndarray, a datetime...) goes to the full
# encoder at once, without the check walk.
_DOCUMENTS = frozenset({dict, list, tuple, str, int, float, bool, type(None)})
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


def plain_dumpb(obj: Any, config: SerializationConfig, *, sort_keys: bool) -> bytes | None:
    """The plain JSON of ``obj`` written by orjson, or None when the full encoder must write it.

    The check walk always runs first: besides the limits, it keeps orjson from seeing anything it
    would not bound itself (orjson 3.13 crashes on tuples nested ~100,000 deep: it limits only
    lists and dicts).
    """
    if type(obj) not in _DOCUMENTS or not plain_native(obj, config):
        return None
    return write_native(obj, sort_keys=sort_keys)


def plain_native(obj: Any, config: SerializationConfig) -> bool:
    """Whether orjson writes ``obj`` exactly as plain mode under ``config`` would, within its limits."""
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
        return len(obj) <= max_str and (obj.isascii() or valid_unicode(obj))
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
        if depth > max_depth or len(obj) > max_size or (len(obj) == 2 and TYPE_KEY in obj and VALUE_KEY in obj):
            return False
        for key, item in obj.items():
            if type(key) is not str or not _walk(key, depth, max_depth, max_size, max_str):
                return False
            if not _walk(item, depth + 1, max_depth, max_size, max_str):
                return False
        return True
    return False
