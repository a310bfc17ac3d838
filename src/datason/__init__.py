"""datason: Python values (ML types included) to JSON and back, exactly and safely.

>>> import datason, datetime, uuid
>>> value = {"id": uuid.UUID(int=1), "at": datetime.date(2024, 1, 2), "shape": (3, 4)}
>>> datason.loads(datason.dumps(value)) == value
True
"""

from __future__ import annotations

from . import config
from .api import auto_deserialize, deserialize, dump, dumpb, dumps, load, loads, serialize
from .errors import DatasonError, DeserializationError, SecurityError, SerializationError
from .handlers import builtins as _builtins  # noqa: F401  (registers the standard types)
from .registry import TypeHandler, register_type, unregister_type

__version__ = "1.0.0.dev0"

__all__ = [
    "DatasonError",
    "DeserializationError",
    "SecurityError",
    "SerializationError",
    "TypeHandler",
    "auto_deserialize",
    "config",
    "deserialize",
    "dump",
    "dumpb",
    "dumps",
    "load",
    "loads",
    "register_type",
    "serialize",
    "unregister_type",
]
