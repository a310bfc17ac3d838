"""State shared by every worker and replica of a service: rate limits and the prediction cache in Redis.

Off by default (``ServingConfig.redis_url`` is None): limits and the cache live in each process's memory and
nothing here is imported. With a URL (``redis://host:6379/0``, ``rediss://...``, ``unix:///path.sock``):

- **One connection pool** per service (``SharedState``, the ``redis`` package), short socket timeouts
  (``TIMEOUT_S``, override with ``?socket_timeout=...&socket_connect_timeout=...`` in the URL) and one immediate
  retry of a command whose pooled connection went stale.
- **Rate limits** (``SharedRateLimiter``): the ``limits`` package's Redis storage
  (``limits.storage.storage_from_string``) on that pool, for the service's ``rate_limit``, every key tier and the
  authentication-failure limit, each under its own key prefix (``datason:<model_id>:<namespace>``): N per window
  holds across all workers and replicas together (a single limit is one atomic Lua script in Redis).
- **Prediction cache** (``RedisPredictionCache``): the key is the SHA-256 of the canonical datason
  serialization of the validated input (``PredictionCache.key``), under ``datason:<model_id>:<version>:cache:``;
  the value is the prediction in datason's typed JSON (so it comes back with its types: arrays with their dtype,
  frames with their index), stored with ``SET ... PX`` for ``cache_ttl``. Redis bounds its size (``maxmemory``).
- **When Redis goes away** the service keeps answering. The cache fails open (a miss: predict runs, nothing is
  stored). Rate limits fall back to the same limits counted in this process's memory, so a client still gets
  at most N per window *per process* until Redis is back (the counts made meanwhile stay local). After a
  failure Redis is not asked again for ``RETRY_EVERY_S``; then one request tries it, and a success switches
  every component back. Each transition writes one JSON line on ``datason.serving.sharedstate``
  (``shared_state_unavailable`` at WARNING, ``shared_state_restored`` at INFO), sets the gauge
  ``ml_shared_state_up`` and shows in ``/health`` (``shared_state``; ``status`` ``degraded`` while down).
  Failed Redis operations count in ``ml_shared_state_errors_total{component}``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from ..api import dumpb, loads
from ..config import SerializationConfig
from ..errors import DatasonError
from .cache import PredictionCache
from .ratelimit import RateLimiter

if TYPE_CHECKING:
    from limits import RateLimitItem

__all__ = ["RedisPredictionCache", "SharedRateLimiter", "SharedState", "rate_limiter"]

#: Seconds a Redis command (and a connection attempt) may take before it counts as a failure.
TIMEOUT_S = 0.25
#: Seconds Redis is left alone after a failure before one request tries it again.
RETRY_EVERY_S = 1.0
_LOG = logging.getLogger("datason.serving.sharedstate")
_VALUES = SerializationConfig()  # typed: a cached prediction comes back with its types


def _public_url(url: str) -> str:
    """``url`` without its password (what logs and ``/health`` show)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return urllib.parse.urlunsplit(parts._replace(query=""))
    host = parts.hostname or ""
    netloc = (f"{parts.username}:***@" if parts.username else "***@") + host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=""))


class SharedState:
    """The Redis of one service: its connection pool and whether it answers (``up``), with the transitions.

    Components call ``usable()`` before a Redis operation, ``failed(component, exc)`` when one raised one of
    ``errors`` and ``restored()`` after one succeeded while ``up`` was False.
    """

    def __init__(self, url: str, *, model_id: str, registry: Any = None) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError as exc:
            raise ImportError('redis_url needs the redis package: pip install "datason[redis]"') from exc
        from limits.errors import StorageError

        self.url = url
        self.public_url = _public_url(url)
        self.model_id = model_id
        options: dict[str, Any] = {
            "socket_timeout": TIMEOUT_S,
            "socket_connect_timeout": TIMEOUT_S,
            "retry": Retry(NoBackoff(), 1),
        }
        try:
            self.pool = redis.ConnectionPool.from_url(url, **options)
        except ValueError:
            raise ValueError("redis_url must be redis://, rediss:// or unix:// followed by an address") from None
        self.client = redis.Redis(connection_pool=self.pool)
        self.errors: tuple[type[BaseException], ...] = (redis.RedisError, StorageError, OSError)
        self.up = True
        self._retry_at = 0.0
        self._down_since: float | None = None
        self._last_error: str | None = None
        self._lock = threading.Lock()
        self._gauge: Any = None
        self._error_counter: Any = None
        if registry is not None:
            from prometheus_client import Counter, Gauge

            # livemin: with several workers, 0 as soon as one live worker cannot reach Redis.
            self._gauge = Gauge(
                "ml_shared_state_up",
                "1 while the shared state (Redis) answers, 0 while the service falls back to process memory.",
                ("model_id",),
                registry=registry,
                multiprocess_mode="livemin",
            ).labels(model_id)
            self._gauge.set(1)
            counter = Counter(
                "ml_shared_state_errors",
                "Redis operations that failed (the service fell back: cache miss, limits in process memory).",
                ("model_id", "component"),
                registry=registry,
            )
            self._error_counter = {c: counter.labels(model_id, c) for c in ("rate_limit", "cache")}

    def usable(self) -> bool:
        """True when a component should use Redis now: it is up, or the time to try it again has come."""
        if self.up:
            return True
        now = time.monotonic()
        with self._lock:
            if now < self._retry_at:
                return False
            self._retry_at = now + RETRY_EVERY_S  # this caller tries; the others keep falling back meanwhile
        return True

    def failed(self, component: str, exc: BaseException) -> None:
        """A Redis operation of ``component`` raised ``exc``: fall back until the next try."""
        if self._error_counter is not None:
            self._error_counter[component].inc()
        with self._lock:
            self._retry_at = time.monotonic() + RETRY_EVERY_S
            if not self.up:
                return
            self.up = False
            self._down_since = time.time()
            self._last_error = type(exc).__name__
        if self._gauge is not None:
            self._gauge.set(0)
        _log(
            logging.WARNING,
            {
                "event": "shared_state_unavailable",
                "backend": "redis",
                "url": self.public_url,
                "model_id": self.model_id,
                "component": component,
                "error": type(exc).__name__,
                "fallback": "cache off, rate limits in process memory",
            },
        )

    def restored(self) -> None:
        """A Redis operation succeeded: back to shared state (logged once, if it had been down)."""
        with self._lock:
            if self.up:
                return
            self.up = True
            down = time.time() - self._down_since if self._down_since is not None else 0.0
            self._down_since = None
        if self._gauge is not None:
            self._gauge.set(1)
        _log(
            logging.INFO,
            {
                "event": "shared_state_restored",
                "backend": "redis",
                "url": self.public_url,
                "model_id": self.model_id,
                "down_seconds": round(down, 3),
            },
        )

    def health(self) -> dict[str, Any]:
        """The ``shared_state`` part of ``/health``."""
        out: dict[str, Any] = {"backend": "redis", "url": self.public_url, "status": "ok" if self.up else "unavailable"}
        if not self.up:
            out["since"] = self._down_since
            out["error"] = self._last_error
            out["fallback"] = "cache off, rate limits in process memory"
        return out

    def close(self) -> None:
        self.pool.disconnect()


def _log(level: int, line: dict[str, Any]) -> None:
    if _LOG.isEnabledFor(level):
        _LOG.log(level, "%s", json.dumps(line))


class SharedRateLimiter(RateLimiter):
    """A ``RateLimiter`` counting in Redis; while Redis is away, the inherited in-memory limiter counts."""

    __slots__ = ("_remote", "_state")

    def __init__(self, spec: str, strategy: str, state: SharedState, namespace: str) -> None:
        from limits import storage, strategies

        super().__init__(spec, strategy)  # the fallback: the same limits in this process's memory
        classes: dict[str, Any] = {
            "moving-window": strategies.MovingWindowRateLimiter,
            "fixed-window": strategies.FixedWindowRateLimiter,
            "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter,
        }
        uri = state.url
        if uri.startswith("unix://"):
            uri = "redis+unix://" + uri[len("unix://") :]
        options: dict[str, Any] = {"connection_pool": state.pool, "key_prefix": f"datason:{state.model_id}:{namespace}"}
        backend = storage.storage_from_string(uri, wrap_exceptions=True, **options)
        self._remote = classes[strategy](backend)
        self._state = state

    def check(self, client: str) -> int | None:
        state = self._state
        if state.up or state.usable():
            try:
                retry = self._remote_check(client)
            except state.errors as exc:
                state.failed("rate_limit", exc)
            else:
                if not state.up:
                    state.restored()
                return retry
        return super().check(client)

    def exhausted(self, client: str) -> int | None:
        state = self._state
        if state.up or state.usable():
            try:
                for item in self._items:
                    if not self._remote.test(item, client):
                        return self._remote_retry(item, client)
            except state.errors as exc:
                state.failed("rate_limit", exc)
            else:
                if not state.up:
                    state.restored()
                return None
        return super().exhausted(client)

    def _remote_check(self, client: str) -> int | None:
        limiter = self._remote
        if self._single is not None:  # one atomic step in Redis
            return None if limiter.hit(self._single, client) else self._remote_retry(self._single, client)
        for item in self._items:  # several limits: test all (a refusal consumes none), then hit all
            if not limiter.test(item, client):
                return self._remote_retry(item, client)
        for item in self._items:  # another process may have taken the last slot between test and hit
            if not limiter.hit(item, client):
                return self._remote_retry(item, client)
        return None

    def _remote_retry(self, item: RateLimitItem, client: str) -> int:
        stats = self._remote.get_window_stats(item, client)
        return max(1, math.ceil(stats.reset_time - time.time()))


def rate_limiter(spec: str, strategy: str, state: SharedState | None, namespace: str) -> RateLimiter:
    """A limiter for ``spec``: in Redis under ``namespace`` when ``state`` is given, else in memory."""
    if state is None:
        return RateLimiter(spec, strategy)
    return SharedRateLimiter(spec, strategy, state, namespace)


class RedisPredictionCache:
    """``PredictionCache``'s interface over Redis: ``key(features)``, ``get(key)``, ``put(key, prediction)``."""

    __slots__ = ("_prefix", "_state", "_ttl_ms")

    key = staticmethod(PredictionCache.key)

    def __init__(self, state: SharedState, *, ttl: float, model_id: str, model_version: str) -> None:
        self._state = state
        self._ttl_ms = max(1, round(ttl * 1000))
        self._prefix = f"datason:{model_id}:{model_version}:cache:"

    def _name(self, key: bytes) -> str:
        return self._prefix + hashlib.sha256(key).hexdigest()

    def get(self, key: bytes) -> tuple[Any] | None:
        """``(prediction,)`` when Redis holds it, else None (also while Redis is away: fail open)."""
        state = self._state
        if not (state.up or state.usable()):
            return None
        try:
            raw = state.client.get(self._name(key))
        except state.errors as exc:
            state.failed("cache", exc)
            return None
        if not state.up:
            state.restored()
        if raw is None:
            return None
        try:
            return (loads(raw, _VALUES),)
        except (DatasonError, ValueError):  # written by another datason version, or not ours: a miss
            return None

    def put(self, key: bytes, prediction: Any) -> None:
        """Store ``prediction`` for the TTL; predictions datason cannot write typed are not cached."""
        state = self._state
        if not (state.up or state.usable()):
            return
        try:
            value = dumpb(prediction, _VALUES)
        except DatasonError:
            return
        try:
            state.client.set(self._name(key), value, px=self._ttl_ms)
        except state.errors as exc:
            state.failed("cache", exc)
            return
        if not state.up:
            state.restored()
