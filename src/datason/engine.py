"""The JSON engines underneath: orjson writes, msgspec reads, the json module covers the rest.

- ``write(tree)``: orjson for compact or 2-space output; the standard ``json``
  module for other indents, ``ensure_ascii`` and what orjson refuses (nesting
  deeper than 254, ints beyond 64 bits in plain mode). Always strict JSON.
The engines are imported on first use (orjson pulls in dataclasses and inspect: tens of ms at start-up),
so ``import datason`` stays light; the C accelerator writes typed output and reads without them.

- ``read(text)``: used when the C accelerator is not built; msgspec (exact for ints of any size, rejects NaN tokens and
  invalid UTF-8); errors become ``DeserializationError``, nesting beyond the
  parser's stack becomes ``SecurityError``.
"""

from __future__ import annotations

from typing import Any

from .errors import DeserializationError, SecurityError, SerializationError
from .wire import RawJSON

__all__ = ["read", "write", "write_native"]

_decoder: Any = None  # msgspec's JSON decoder, made on first use (the C parser usually reads instead)


def write(tree: Any, *, sort_keys: bool, indent: int | str | None = None, ensure_ascii: bool = False) -> bytes:
    """Serialize a JSON-safe tree (only dict/list/str/int/float/bool/None, finite floats)."""
    import json as _json

    import orjson

    if not ensure_ascii and indent in (None, 2):
        option = (orjson.OPT_SORT_KEYS if sort_keys else 0) | (orjson.OPT_INDENT_2 if indent == 2 else 0)
        try:
            return orjson.dumps(tree, option=option, default=_fragment)
        except orjson.JSONEncodeError:
            pass  # deep nesting or an int beyond 64 bits: the json module writes those
    try:
        text = _json.dumps(
            tree,
            sort_keys=sort_keys,
            indent=indent,
            ensure_ascii=ensure_ascii,
            allow_nan=False,
            separators=(",", ":") if indent is None else None,
            default=_expand,
        )
    except RecursionError:
        raise SecurityError("nesting too deep to write") from None
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"not JSON-safe ({type(exc).__name__})") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise SerializationError("string is not valid Unicode (lone surrogate)", type_name="str") from None


def _fragment(obj: Any) -> Any:
    import orjson

    if type(obj) is RawJSON:
        return orjson.Fragment(obj.data)
    raise TypeError


def _expand(obj: Any) -> Any:
    import json as _json

    if type(obj) is RawJSON:
        return _json.loads(obj.data)
    raise TypeError


def write_native(obj: Any, *, sort_keys: bool) -> bytes | None:
    """orjson straight on the user's object (plain mode fast path); None if orjson cannot."""
    import orjson

    try:
        # Dataclasses and subclasses of str/int/dict/list are refused, so registered hooks decide them.
        option = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
        option |= orjson.OPT_SORT_KEYS if sort_keys else 0
        return orjson.dumps(obj, option=option)
    except orjson.JSONEncodeError:
        return None


def read(data: str | bytes | bytearray | memoryview) -> Any:
    global _decoder
    import msgspec

    if _decoder is None:
        _decoder = msgspec.json.Decoder()
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise DeserializationError(f"invalid JSON: {_position(exc)}") from None
    except msgspec.ValidationError:
        raise DeserializationError("invalid JSON: number out of range") from None
    except RecursionError:
        raise SecurityError("JSON nested too deeply to parse") from None
    except UnicodeError:
        raise DeserializationError("invalid JSON: text is not valid UTF-8 / Unicode") from None


def _position(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."
