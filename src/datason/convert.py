"""Typed decode: validate a decoded value into a type the caller names (``loads(s, type=list[Point])``).

msgspec does the work for dataclasses, Enums, TypedDicts, NamedTuples, msgspec Structs,
``list[...]``/``dict[...]``/``tuple[...]``/``Optional``/``Union`` and the stdlib scalar types
(ISO strings become datetimes, canonical strings UUIDs). Types msgspec does not know
(pydantic models) go through pydantic's ``TypeAdapter`` when pydantic is installed.
Failures raise ``DeserializationError`` with the path msgspec or pydantic reports.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from .errors import DeserializationError

__all__ = ["convert"]

_AT = re.compile(r" - at `(\$[^`]*)`$")


def convert(value: Any, target: Any) -> Any:
    import msgspec  # imported on first typed decode: it costs more at start-up than the rest of datason

    try:
        return msgspec.convert(value, type=target)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _AT.search(message)
        path = match.group(1) if match else "$"
        reason = message[: match.start()] if match else message
        raise DeserializationError(
            f"does not match the requested type: {reason}", path=path, type_name=_name(target)
        ) from None
    except TypeError:
        if "pydantic" not in sys.modules:
            raise DeserializationError("type is not supported for typed decode", type_name=_name(target)) from None
    return _pydantic(value, target)


def _pydantic(value: Any, target: Any) -> Any:
    import pydantic

    try:
        return pydantic.TypeAdapter(target).validate_python(value)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.get("loc", ()))
        raise DeserializationError(
            f"does not match the requested type: {first.get('msg')}", path=path, type_name=_name(target)
        ) from None
    except pydantic.PydanticSchemaGenerationError:
        raise DeserializationError("type is not supported for typed decode", type_name=_name(target)) from None


def _name(target: Any) -> str:
    return getattr(target, "__qualname__", None) or repr(target)
