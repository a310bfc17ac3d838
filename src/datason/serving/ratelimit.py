"""Per-client rate limiting with the ``limits`` package, and the client identity it keys on.

A client is named by a configured header (an API key: only its hash is ever kept in keys, logs or
metrics) or else by its peer address. Limits use ``limits``' in-memory storage; one lock makes each
check atomic, so N requests are allowed per window and the N+1th is refused even when the requests
arrive concurrently from many threads. ``Retry-After`` comes from the window statistics.
"""

from __future__ import annotations

import functools
import hashlib
import math
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from limits import RateLimitItem

__all__ = ["RateLimiter", "client_identity", "hash_client_key", "parse_limits"]

_UNKNOWN_PEER = "unknown"


def parse_limits(spec: str) -> list[RateLimitItem]:
    """The ``limits`` items of a notation such as ``100/minute`` or ``10/second;500/hour``."""
    import limits

    try:
        items = limits.parse_many(spec)
    except ValueError:
        raise ValueError("rate_limit must use the limits notation, e.g. '100/minute' or '10/second;500/hour'") from None
    if not items:
        raise ValueError("rate_limit names no limit")
    return list(items)


class RateLimiter:
    """``check(client)`` is None when the request may proceed, else the seconds to wait (at least 1)."""

    __slots__ = ("_items", "_limiter", "_lock", "_single", "spec")

    def __init__(self, spec: str, strategy: str = "moving-window") -> None:
        from limits import storage, strategies

        classes: dict[str, Any] = {
            "moving-window": strategies.MovingWindowRateLimiter,
            "fixed-window": strategies.FixedWindowRateLimiter,
            "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter,
        }
        if strategy not in classes:
            raise ValueError(f"rate_limit_strategy must be one of {tuple(classes)}")
        self.spec = spec
        self._items = parse_limits(spec)
        self._limiter = classes[strategy](storage.MemoryStorage())
        self._single = self._items[0] if len(self._items) == 1 else None
        self._lock = threading.Lock()

    def check(self, client: str) -> int | None:
        """Consume one request of ``client``'s allowance; None if allowed, else whole seconds to wait."""
        limiter = self._limiter
        # One lock around every hit: the storage locks per key, but it drops and recreates those locks while
        # expiring old entries, so our own lock is what makes test-and-hit exact between threads.
        with self._lock:
            if self._single is not None:
                if limiter.hit(self._single, client):
                    return None
                return self._retry_after(self._single, client)
            for item in self._items:  # several limits: test all, then hit all, as one step
                if not limiter.test(item, client):
                    return self._retry_after(item, client)
            for item in self._items:
                limiter.hit(item, client)
        return None

    def exhausted(self, client: str) -> int | None:
        """Whether ``client`` has no allowance left, without consuming any: None, else whole seconds to wait."""
        with self._lock:
            for item in self._items:
                if not self._limiter.test(item, client):
                    return self._retry_after(item, client)
        return None

    def _retry_after(self, item: RateLimitItem, client: str) -> int:
        stats = self._limiter.get_window_stats(item, client)
        return max(1, math.ceil(stats.reset_time - time.time()))


@functools.lru_cache(maxsize=4096)
def hash_client_key(key: str) -> str:
    """A stable, non-reversible name for an API key: ``key:`` and 16 hex digits of its SHA-256."""
    return "key:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def client_identity(headers: Mapping[str, str], header: str | None, peer: str | None) -> str:
    """Who sent the request: the hashed ``header`` value when present (``header`` lower-case), else the peer."""
    if header is not None:
        key = headers.get(header)
        if key:
            return hash_client_key(key)
    return peer or _UNKNOWN_PEER
