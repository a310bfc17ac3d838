"""A drop-in for the standard ``json`` module: ``import datason.json as json``.

Same functions, arguments, defaults, exceptions and output as ``json`` for every
value the standard module accepts (it *is* the standard module underneath), and the
same submodules: ``datason.json.decoder``, ``.encoder``, ``.scanner`` and ``.tool``
hold the standard modules' own objects, and ``detect_encoding`` is ``json``'s, so
``loads`` reads UTF-8, UTF-16 and UTF-32 bytes, with or without a BOM, as ``json`` does.

Only ``dumps``, ``dump``, ``loads`` and ``load`` differ, deliberately. What ``json``
refuses with ``TypeError`` (datetimes, UUIDs, Decimals, sets, NumPy/pandas values,
...) is written in datason's plain form instead, unless the caller passes its own
``default`` or ``cls``. Type tags are not interpreted: ``loads`` returns exactly what
``json.loads`` does. Hostile input raises only ``ValueError`` kinds that never quote
the document: bytes invalid in their detected encoding give ``JSONDecodeError``
(``json`` gives a ``UnicodeDecodeError`` holding the whole document), nesting beyond
the interpreter's stack datason's ``SecurityError`` (``json`` gives ``RecursionError``).
"""

from __future__ import annotations

import json as _json
from json import JSONDecodeError, JSONDecoder, JSONEncoder
from json import detect_encoding as detect_encoding
from typing import IO, Any

from ..api import serialize
from ..config import SerializationConfig
from ..errors import DatasonError, SecurityError
from . import decoder as decoder
from . import encoder as encoder
from . import scanner as scanner

__all__ = ["JSONDecodeError", "JSONDecoder", "JSONEncoder", "dump", "dumps", "load", "loads"]

_PLAIN = SerializationConfig(include_type_hints=False, uuid_format="string", array_format="readable")


def _plain_default(obj: Any) -> Any:
    try:
        return serialize(obj, _PLAIN)
    except DatasonError:
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable") from None


def dumps(obj: Any, *, cls: type[JSONEncoder] | None = None, default: Any = None, **kwargs: Any) -> str:
    """``json.dumps``, writing datason's plain form for values ``json`` cannot."""
    if cls is None and default is None:
        default = _plain_default
    return _json.dumps(obj, cls=cls, default=default, **kwargs)


def dump(obj: Any, fp: IO[str], *, cls: type[JSONEncoder] | None = None, default: Any = None, **kwargs: Any) -> None:
    """``json.dump``, writing datason's plain form for values ``json`` cannot."""
    if cls is None and default is None:
        default = _plain_default
    _json.dump(obj, fp, cls=cls, default=default, **kwargs)


def loads(s: str | bytes | bytearray, **kwargs: Any) -> Any:
    """``json.loads``, with undecodable bytes and too-deep nesting raised as ``ValueError`` kinds."""
    if isinstance(s, bytes | bytearray):
        try:  # what json.loads does with bytes, with the error kept free of the document
            s = s.decode(detect_encoding(s), "surrogatepass")
        except UnicodeDecodeError as exc:
            raise JSONDecodeError(f"invalid {exc.encoding.upper()} ({exc.reason})", "", exc.start) from None
    try:
        return _json.loads(s, **kwargs)
    except RecursionError:
        raise SecurityError("JSON nested too deeply for the interpreter stack") from None


def load(fp: IO[str] | IO[bytes], **kwargs: Any) -> Any:
    """``json.load`` with the errors of ``loads``."""
    return loads(fp.read(), **kwargs)
