"""Optional prediction cache: serialized predictions keyed by the canonical form of the validated input.

The key is datason's typed serialization of what predict receives with sorted keys, so equal inputs share
an entry whatever their key order or the protocol they came by, and inputs that differ only in type (``1``
vs ``1.0``, a tuple vs a list, float32 vs float64 arrays) do not. Entries are the predictions themselves
(each protocol writes its own response from them; they are treated as read-only), bounded in number (LRU)
and age (TTL) by ``cachetools.TTLCache``; a lock makes it safe to share between threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..api import dumpb
from ..config import SerializationConfig
from ..errors import DatasonError

__all__ = ["PredictionCache"]

_KEY_CONFIG = SerializationConfig(sort_keys=True, array_format="compact", compact_threshold=0)


class PredictionCache:
    """``key(features)``, then ``get(key)`` / ``put(key, body)``; at most ``maxsize`` entries for ``ttl`` s."""

    __slots__ = ("_data", "_lock")

    def __init__(self, maxsize: int, ttl: float, *, timer: Callable[[], float] = time.monotonic) -> None:
        """``timer`` is the clock TTLs are measured on (monotonic seconds)."""
        from cachetools import TTLCache

        self._data: TTLCache[bytes, tuple[Any]] = TTLCache(maxsize=maxsize, ttl=ttl, timer=timer)
        self._lock = threading.Lock()

    @staticmethod
    def key(features: Any) -> bytes | None:
        """The canonical bytes of ``features``, or None when they cannot be serialized (not cached)."""
        try:
            return dumpb(features, _KEY_CONFIG)
        except DatasonError:
            return None

    def get(self, key: bytes) -> tuple[Any] | None:
        """``(prediction,)`` when cached (a prediction may itself be None), else None."""
        with self._lock:
            return self._data.get(key)

    def put(self, key: bytes, prediction: Any) -> None:
        with self._lock:
            self._data[key] = (prediction,)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
