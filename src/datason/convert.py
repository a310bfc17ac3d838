"""Typed decode: validate a decoded value into a type the caller names (``loads(s, type=list[Point])``).

msgspec drives the conversion: dataclasses, attrs classes, Enums, TypedDicts, NamedTuples, msgspec
Structs, ``list[...]``/``dict[...]``/``tuple[...]``/``Optional``/``Union`` and the stdlib scalar types
(ISO strings become datetimes, canonical strings UUIDs), with msgspec's strict typing (``"1"`` is not an
int). A pydantic model met anywhere inside the type (a field of a dataclass, an item of a list, a value
of a TypedDict...) is validated by pydantic itself (``Model.model_validate``: its validators, aliases and
lax coercions apply), so a pydantic model behaves the same at the top and deep inside.

A model alone, or a ``list`` or ``dict[str, ...]`` of one model class, goes to pydantic's ``TypeAdapter`` as
a whole (the same validation, in one call). Types msgspec refuses to build (a union of several classes,
such as ``Cat | Dog`` of pydantic models) go through ``TypeAdapter`` as a whole too.

Failures raise ``DeserializationError`` with the path of the offending value (``$[2].score``) and a
reason that never quotes the input: messages of custom validators are replaced by their error kind.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from .errors import DeserializationError, path_segment

__all__ = ["convert"]

_AT = re.compile(r" - at `(\$[^`]*)`$")
# msgspec messages that quote the input value: keep the words, drop the value.
_QUOTES_INPUT = re.compile(r"^(Invalid enum value)\b.*$", re.DOTALL)
_MAX_REASON = 200


def convert(value: Any, target: Any) -> Any:
    import msgspec  # imported on first typed decode: it costs more at start-up than the rest of datason

    if "pydantic" in sys.modules and _models_only(target):
        return _pydantic(value, target)  # one pydantic-core call instead of a model_validate per item
    failures: list[Any] = []  # (model class, pydantic error) a model raised inside msgspec's walk
    hook = _model_hook(failures) if "pydantic" in sys.modules else None
    try:
        return msgspec.convert(value, type=target, dec_hook=hook)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _AT.search(message)
        path = match.group(1) if match else "$"
        if failures:
            inner, reason = _pydantic_error(*failures[-1])
            raise DeserializationError(reason, path=path + inner[1:], type_name=_name(target)) from None
        reason = message[: match.start()] if match else message
        reason = _QUOTES_INPUT.sub(r"\1", reason)[:_MAX_REASON]
        raise DeserializationError(
            f"does not match the requested type: {reason}", path=path, type_name=_name(target)
        ) from None
    except TypeError:
        if "pydantic" not in sys.modules:
            raise DeserializationError("type is not supported for typed decode", type_name=_name(target)) from None
    return _pydantic(value, target)


def _models_only(target: Any) -> bool:
    """A pydantic model, or a list or str-keyed dict of one: pydantic validates it as msgspec would hand each
    item to ``model_validate``, so pydantic takes the whole."""
    try:
        return _is_models_only(target)
    except TypeError:  # an unhashable type expression
        return False


@functools.lru_cache(maxsize=256)
def _is_models_only(target: Any) -> bool:
    import pydantic

    origin, args = typing.get_origin(target), typing.get_args(target)
    if origin is list and len(args) == 1:
        target = args[0]
    elif origin is dict and len(args) == 2 and args[0] is str:
        target = args[1]
    return isinstance(target, type) and issubclass(target, pydantic.BaseModel)


def _model_hook(failures: list[Any]) -> Callable[[type, Any], Any]:
    """msgspec's ``dec_hook``: pydantic models are validated by pydantic; other classes by ``isinstance``."""
    import pydantic

    def hook(cls: type, obj: Any) -> Any:
        if isinstance(cls, type) and issubclass(cls, pydantic.BaseModel):
            try:
                return cls.model_validate(obj)
            except pydantic.ValidationError as exc:
                failures.append((cls, exc))
                raise ValueError("invalid model") from None
        if isinstance(cls, type) and isinstance(obj, cls):
            return obj
        raise ValueError(f"Expected `{getattr(cls, '__qualname__', 'object')}`")

    return hook


def _pydantic(value: Any, target: Any) -> Any:
    import pydantic

    try:
        adapter = _adapter(target)
    except pydantic.PydanticUserError:  # includes PydanticSchemaGenerationError
        raise DeserializationError("type is not supported for typed decode", type_name=_name(target)) from None
    try:
        return adapter.validate_python(value)
    except pydantic.ValidationError as exc:
        path, reason = _pydantic_error(target, exc)
        raise DeserializationError(reason, path=path, type_name=_name(target)) from None


def _adapter(target: Any) -> Any:
    try:
        return _cached_adapter(target)
    except TypeError:  # an unhashable type expression: build it uncached
        import pydantic

        return pydantic.TypeAdapter(target)


@functools.lru_cache(maxsize=256)
def _cached_adapter(target: Any) -> Any:
    import pydantic

    return pydantic.TypeAdapter(target)


@functools.cache
def _builtin_error_kinds() -> frozenset[str]:
    import typing

    from pydantic_core import core_schema

    # value_error and assertion_error carry the text of a user's validator, which may quote the input.
    return frozenset(typing.get_args(core_schema.ErrorType)) - {"value_error", "assertion_error"}


def _pydantic_error(target: Any, exc: Any) -> tuple[str, str]:
    """The path and a value-free reason of a pydantic ``ValidationError``'s first error."""
    first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    path = "$" + _loc_path(target, first.get("loc", ()))
    kind = str(first.get("type", "error"))
    if kind in _builtin_error_kinds():
        reason = str(first.get("msg", kind))[:_MAX_REASON]
    else:
        reason = f"validator failed ({kind[:64]})"
    count = exc.error_count()
    more = f" (and {count - 1} more error{'s' if count > 2 else ''})" if count > 1 else ""
    return path, f"does not match the requested type: {reason}{more}"


def _loc_path(target: Any, loc: Any) -> str:
    """Pydantic's error location as a path, with dict keys shown as ``[...]`` as msgspec does.

    Pydantic puts field names and dict keys alike in ``loc``; only names the type walked so far declares
    as fields (of a model, dataclass or TypedDict) are spelled out, so a key that is data never is.
    """
    out = []
    tp = target
    for item in loc:
        tp = _unwrap(tp)
        if isinstance(item, int) and not isinstance(item, bool):
            out.append(f"[{item}]")
            args = typing.get_args(tp)
            tp = args[-1] if args and args[-1] is not Ellipsis else (args[0] if args else None)
            continue
        fields = _field_types(tp)
        if fields is not None and isinstance(item, str) and item in fields:
            out.append(path_segment(item))
            tp = fields[item]
            continue
        out.append("[...]")
        origin = typing.get_origin(tp)
        tp = typing.get_args(tp)[1] if origin in (dict, Mapping) and len(typing.get_args(tp)) == 2 else None
    return "".join(out)


def _unwrap(tp: Any) -> Any:
    """``Optional[X]`` and ``Annotated[X, ...]`` as ``X``."""
    while True:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Annotated:
            tp = args[0]
        elif origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
            tp = args[0] if args[1] is type(None) else args[1]
        else:
            return tp


def _field_types(tp: Any) -> dict[str, Any] | None:
    """Field name (and alias) -> annotation for a pydantic model, dataclass or TypedDict; else None."""
    fields = getattr(tp, "model_fields", None)
    if isinstance(fields, dict):
        out: dict[str, Any] = {}
        for name, info in fields.items():
            out[name] = info.annotation
            if getattr(info, "alias", None):
                out[info.alias] = info.annotation
        return out
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return {f.name: f.type for f in dataclasses.fields(tp)}
    if isinstance(tp, type) and typing.is_typeddict(tp):
        return typing.get_type_hints(tp)
    return None


def _name(target: Any) -> str:
    name = getattr(target, "__qualname__", None) or repr(target)
    return name if len(name) <= 120 else name[:117] + "..."
