"""The helpers for writing a type handler: import these, never another handler module's private names.

A handler module registers the types of one library (``builtins`` the standard ones, loaded with datason;
the others lazily, the first time a value or tag of theirs is met: ``registry.LIBRARIES`` lists when). It
writes an ``encode(obj, ctx)`` and a ``decode(payload, ctx)`` hook per type, optionally ``plain(obj, ctx)``,
and registers them with ``add_handler``. Everything here is light to import: ``import datason`` loads it.

Registering

- ``add_handler(types, tag, encode, decode, plain=None, **options)``: build a ``TypeHandler`` and add it to
  ``REGISTRY``; ``options`` are its keywords (``subclasses``, ``aliases``, ``revive_payload``, ...). Returns
  the handler.
- ``JSON_PAYLOAD``: the options for hooks that deal in finished JSON both ways (pass ``**JSON_PAYLOAD``):
  ``encode`` returns JSON the codec writes as it is, ``decode`` gets the payload as parsed, its tagged
  parts not revived (call ``ctx.decode`` on the parts that may hold them).

Reading payloads (decode hooks; a malformed payload raises ``DeserializationError``)

- ``expect(value, kind, what)``: ``value`` when its type is exactly ``kind`` (``dict``, ``list``, ``str``,
  ...), else ``DeserializationError("<what> must be <kind>, got <type>")``. The first line of most hooks.
- ``b64decode(text)``: the bytes of standard padded base64, strictly (no whitespace, no extra padding).
  Check the text's length against ``max_bytes`` before calling it on large data.
- ``zone(key)``: the ``zoneinfo.ZoneInfo`` of an IANA key read from a payload (unknown keys refused).
  Imports zoneinfo on first call, so a handler loaded with datason may use it.

Writing payloads (encode and plain hooks)

- ``b64encode(data)``: standard padded base64 text of bytes, bytearray or a memoryview: how datason writes
  binary data.
- ``zone_key(tz)``: the IANA key of a named zone of any library (zoneinfo, pytz, dateutil-style ``key`` or
  ``zone``), else None: whether a zone can travel by name.
- ``check_rows(n, ctx)``: ``SecurityError`` when a value to encode has more than ``max_size`` rows.
- ``plain_frame(names, columns, n, ctx, what)``: the plain form of a table without an index (Arrow, Polars)
  per ``dataframe_orient``, laid out as pandas lays out a frame with a default ``RangeIndex``.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import DeserializationError, SecurityError, SerializationError
from ..registry import REGISTRY, EncodeContext, TypeHandler

if TYPE_CHECKING:
    import datetime as dt
    import zoneinfo

__all__ = [
    "JSON_PAYLOAD",
    "add_handler",
    "b64decode",
    "b64encode",
    "check_rows",
    "expect",
    "plain_frame",
    "zone",
    "zone_key",
]

# --- registering ---------------------------------------------------------------------------------------

JSON_PAYLOAD: Mapping[str, bool] = {"payload_is_json": True, "revive_payload": False}


def add_handler(
    types: type | tuple[type, ...], tag: str, encode: Any, decode: Any, plain: Any = None, **options: Any
) -> TypeHandler:
    """Register ``types`` (one class or a tuple) under ``tag``; ``options`` are ``TypeHandler``'s keywords."""
    handler = TypeHandler(
        types=types if isinstance(types, tuple) else (types,),
        tag=tag,
        encode=encode,
        decode=decode,
        plain=plain,
        **options,
    )
    REGISTRY.add(handler)
    return handler


# --- payload checks ------------------------------------------------------------------------------------


def expect(value: Any, kind: type, what: str) -> Any:
    """``value`` itself when its type is exactly ``kind`` (no subclass), else ``DeserializationError``."""
    if type(value) is not kind:
        raise DeserializationError(f"{what} must be {kind.__name__}, got {type(value).__name__}")
    return value


# --- base64 --------------------------------------------------------------------------------------------


def b64encode(data: bytes | bytearray | memoryview) -> str:
    """Standard base64 with padding, no newline."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def b64decode(text: Any) -> bytes:
    """The bytes of ``text``, strict standard base64 (``DeserializationError`` when it is anything else)."""
    expect(text, str, "base64 payload")
    # strict_mode still takes padding beyond the last quantum ("AAAA=", "AAAA===="): refuse it here
    if len(text) % 4 or len(text) - len(text.rstrip("=")) > 2:
        raise DeserializationError("malformed base64")
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise DeserializationError("malformed base64") from None


# --- time zones ----------------------------------------------------------------------------------------


def zone_key(tz: dt.tzinfo) -> str | None:
    """The IANA key of a named zone (zoneinfo, pytz, dateutil-style ``key``/``zone``), else None."""
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    return key if isinstance(key, str) else None


def zone(key: Any) -> zoneinfo.ZoneInfo:
    """The zone for an IANA key from a payload (``DeserializationError`` if there is none)."""
    expect(key, str, "zone key payload")
    import zoneinfo  # here: slow to import, and most documents name no zone

    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DeserializationError("unknown time zone key") from None


# --- tables --------------------------------------------------------------------------------------------


def check_rows(n: int, ctx: EncodeContext) -> None:
    """Refuse to encode a value of more than ``max_size`` rows."""
    if n > ctx.config.max_size:
        raise SecurityError(f"more rows than max_size={ctx.config.max_size}")


def plain_frame(names: list[str], columns: list[list[Any]], n: int, ctx: EncodeContext, what: str) -> Any:
    """A frame's plain form per ``dataframe_orient``, laid out as pandas does with a default RangeIndex.

    ``columns`` are lists of ``n`` values each, in the order of ``names``; ``what`` names the frames in
    errors (``"pyarrow tables"``).
    """
    orient = ctx.config.dataframe_orient
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in range(n)]
    if orient == "values":
        return ctx.encode(rows)
    if orient == "split":
        return ctx.encode({"columns": names, "index": list(range(n)), "data": rows})
    if orient == "table":
        raise SerializationError(f"dataframe_orient='table' is not supported for {what}")
    if len(set(names)) != len(names):
        raise SerializationError(f"{what} column names must be unique for dataframe_orient={orient!r}")
    if orient == "records":
        return ctx.encode([dict(zip(names, row, strict=True)) for row in rows])
    if orient == "index":
        return ctx.encode({i: dict(zip(names, row, strict=True)) for i, row in enumerate(rows)})
    return ctx.encode({name: dict(enumerate(col)) for name, col in zip(names, columns, strict=True)})
