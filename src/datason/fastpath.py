"""Plain-mode fast path: orjson writes the user's object directly when that gives datason's plain output.

orjson writes natively, and exactly as plain mode does, the JSON types, tuples, UUIDs, datetimes, dates,
times and Enums (their values); it refuses everything else (dataclasses and subclasses of str/int/dict/list
are passed through to refusal, so registered hooks apply: a scipy ``dok_matrix`` is a dict subclass), and
then the full encoder runs.
Limits need no walk when the output proves them: orjson refuses nesting deeper than 254, a document of
n bytes holds no string longer than n and no container with more than n/2 items. Otherwise
``plain_native`` checks in one allocation-free walk (C, or ``_walk``); a value it cannot vouch for
takes the full encoder, which also produces any error with its path.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ._native import speedups as _speedups
from .config import SerializationConfig
from .engine import write_native
from .registry import REGISTRY

__all__ = ["ORJSON_MAX_DEPTH", "plain_dumpb", "plain_native"]

ORJSON_MAX_DEPTH = 254  # orjson.dumps refuses deeper nesting (checked by the test suite)

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


def plain_dumpb(obj: Any, config: SerializationConfig, *, sort_keys: bool) -> bytes | None:
    """The plain JSON of ``obj`` written by orjson, or None when the full encoder must write it."""
    if not eligible(config):
        return None
    if REGISTRY.native_overridden:  # a registered hook for a type orjson writes natively: walk first
        return write_native(obj, sort_keys=sort_keys) if plain_native(obj, config) else None
    out = write_native(obj, sort_keys=sort_keys)
    if out is None:
        return None
    n = len(out)
    if config.max_depth >= ORJSON_MAX_DEPTH and n <= config.max_string_length and n < 2 * config.max_size:
        return out
    return out if plain_native(obj, config) else None


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
