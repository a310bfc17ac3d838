"""Loads the optional C accelerator (``_speedups``) and hands it datason's constants and fast types.

``DATASON_NO_SPEEDUPS=1`` forces the pure-Python walkers (the reference implementation);
the test suite runs both and compares them.

The accelerator writes the JSON types, UUIDs and naive/UTC datetimes itself. It learns the other types it
may write or read without calling Python as the encoder and decoder meet them: a handler's ``native`` kind
(``register_encode`` / ``register_decode``), or the natural form of an unregistered Enum or dataclass
(``register_natural``). Any change to the registry makes it forget them all.
"""

from __future__ import annotations

import datetime
import os
import uuid
from types import ModuleType
from typing import Any

from .errors import DatasonError, DeserializationError, SecurityError, SerializationError, path_segment
from .registry import REGISTRY, TypeHandler
from .wire import DATETIME_TAG, TYPE_KEY, UUID_TAG, VALUE_KEY, RawJSON

__all__ = ["register_decode", "register_encode", "register_natural", "speedups"]


def _load() -> ModuleType | None:
    if os.environ.get("DATASON_NO_SPEEDUPS", "") not in ("", "0"):
        return None
    try:
        from . import _speedups  # type: ignore[attr-defined]
    except ImportError:
        return None
    _speedups.configure(
        DatasonError,
        DeserializationError,
        SecurityError,
        SerializationError,
        path_segment,
        TYPE_KEY,
        VALUE_KEY,
        uuid.UUID,
        uuid.SafeUUID.unknown,
        datetime.datetime.fromisoformat,
        RawJSON,
        UUID_TAG,
        DATETIME_TAG,
    )
    REGISTRY.on_change(_speedups.clear_types)
    return _speedups


speedups = _load()


def register_encode(cls: type, handler: TypeHandler) -> None:
    """The walker writes exact ``cls`` values itself from now on, as ``handler`` (which has a native kind) does."""
    if speedups is None or handler.native is None:
        return
    if handler.native == "untagged":  # a family of classes (pydantic models): each class as it is met
        if handler.subclasses and issubclass(cls, handler.types):
            speedups.register_type(cls, "untagged", handler.tag, handler.plain or handler.encode)
        return
    if cls in handler.types:
        extra = None
        if handler.native == "np_int":  # C reads the value from the scalar itself once it checked the layout
            import numpy as np  # loaded: a NumPy handler exists

            dtype = np.dtype(cls)
            extra = (dtype.itemsize, dtype.kind == "i")
        speedups.register_type(cls, handler.native, handler.tag, extra)


def register_natural(cls: type, fields: tuple[str, ...] | None) -> None:
    """The walker writes an unregistered Enum's value (``fields`` None) or a dataclass's ``fields`` itself."""
    if speedups is None:
        return
    if fields is None:
        speedups.register_type(cls, "enum", None, None)
    elif all(type(name) is str and name not in (TYPE_KEY, VALUE_KEY) for name in fields):
        speedups.register_type(cls, "fields", None, (fields, tuple(sorted(fields))))


def register_decode(tag: str, handler: TypeHandler) -> None:
    """The reviver decodes ``tag``'s common payloads itself from now on, as ``handler`` does."""
    if speedups is None or handler.native is None:
        return
    extra = _decode_extra(handler)
    if extra is not None:
        speedups.register_tag(tag, handler.native, extra)


def _decode_extra(handler: TypeHandler) -> Any:
    """What the reviver calls for a kind (a constructor, or a type with its int bounds); None: Python decodes."""
    kind, cls = handler.native, handler.types[0]
    if kind == "datetime":
        import zoneinfo  # the zone of {"iso", "tz"}; handlers.kit.zone makes the same call

        return zoneinfo.ZoneInfo
    if kind == "timedelta":
        return True  # built in C from its three ints: nothing to call
    if kind in ("date", "time"):
        return cls.fromisoformat  # type: ignore[attr-defined]
    if kind == "str" and len(handler.types) == 1:
        return cls  # the type built from its text (Decimal)
    if kind in ("np_bool", "np_float", "np_float32", "np_float16", "np_complex64", "np_complex128"):
        return cls
    if kind == "enum_tagged":
        # The member of a hashable value comes from the class's own map (Enum's call looks there first);
        # any other value calls the class.
        return (cls, cls._value2member_map_)  # type: ignore[attr-defined]
    if kind == "ndarray":
        return cls  # numpy.ndarray(shape, dtype, buffer=...): C fills the buffer from a readable body
    if kind == "np_int":
        import numpy as np  # loaded: a NumPy handler exists

        info = np.iinfo(cls)
        return (cls, int(info.min), int(info.max))
    return None
