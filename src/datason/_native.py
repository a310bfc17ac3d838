"""Loads the optional C accelerator (``_speedups``) and hands it datason's constants.

``DATASON_NO_SPEEDUPS=1`` forces the pure-Python walkers (the reference implementation);
the test suite runs both and compares them.
"""

from __future__ import annotations

import datetime
import os
import uuid
from types import ModuleType

from .errors import DatasonError, DeserializationError, SecurityError, SerializationError, path_segment
from .wire import TYPE_KEY, VALUE_KEY, RawJSON

__all__ = ["speedups"]


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
    )
    return _speedups


speedups = _load()
