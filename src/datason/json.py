"""A drop-in for the standard ``json`` module: ``import datason.json as json``.

Same functions, arguments, defaults, exceptions and output as ``json`` for every
value the standard module accepts (it *is* the standard module underneath).
What ``json`` refuses with ``TypeError`` (datetimes, UUIDs, Decimals, sets,
NumPy/pandas values, ...) is written in datason's plain form instead, unless the
caller passes its own ``default`` or ``cls``. Type tags are not interpreted:
``loads`` returns exactly what ``json.loads`` does.
"""

from __future__ import annotations

import json as _json
from json import JSONDecodeError, JSONDecoder, JSONEncoder, load, loads
from typing import IO, Any

from .api import serialize
from .config import SerializationConfig
from .errors import DatasonError

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
