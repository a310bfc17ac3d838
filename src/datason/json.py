"""A drop-in for the standard ``json`` module: ``import datason.json as json``.

Same functions, arguments, defaults, exceptions and output as ``json`` for every
value the standard module accepts (it *is* the standard module underneath).
What ``json`` refuses with ``TypeError`` (datetimes, UUIDs, Decimals, sets,
NumPy/pandas values, ...) is written in datason's plain form instead, unless the
caller passes its own ``default`` or ``cls``. Type tags are not interpreted:
``loads`` returns exactly what ``json.loads`` does. Hostile input raises only
``ValueError`` kinds that never quote the document: bytes that are not UTF-8 give
``JSONDecodeError`` (``json`` gives a ``UnicodeDecodeError`` holding the whole
document), nesting beyond the interpreter's stack datason's ``SecurityError``
(``json`` gives ``RecursionError``).
"""

from __future__ import annotations

import json as _json
from json import JSONDecodeError, JSONDecoder, JSONEncoder
from typing import IO, Any

from .api import serialize
from .config import SerializationConfig
from .errors import DatasonError, SecurityError

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
    """``json.loads``, with invalid UTF-8 and too-deep nesting raised as ``ValueError`` kinds."""
    try:
        return _json.loads(s, **kwargs)
    except UnicodeDecodeError as exc:
        raise JSONDecodeError(f"invalid UTF-8 ({exc.reason})", "", exc.start) from None
    except RecursionError:
        raise SecurityError("JSON nested too deeply for the interpreter stack") from None


def load(fp: IO[str] | IO[bytes], **kwargs: Any) -> Any:
    """``json.load`` with the errors of ``loads``."""
    return loads(fp.read(), **kwargs)
