"""Prometheus metrics of one model service, in a registry of its own so services never collide.

Label children are bound once at construction so the request path only increments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from .errors import ERROR_KINDS

__all__ = ["ServiceMetrics"]


class ServiceMetrics:
    """``ml_prediction_*`` counters and histograms and ``ml_active_models`` for one ``model_id``.

    Requests, latency and errors carry a ``protocol`` label (``datason``, ``oip``, ``kserve_v1``, ``seldon``,
    ``mlflow``); the children of every protocol the service answers are bound here, once.
    """

    __slots__ = (
        "_batch_size",
        "_by_protocol",
        "_cache_hits",
        "_cache_misses",
        "active_models",
        "content_type",
        "registry",
    )

    def __init__(self, model_id: str, buckets: Sequence[float], protocols: Sequence[str] = ("datason",)) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.content_type = CONTENT_TYPE_LATEST
        requests = Counter(
            "ml_prediction_requests_total",
            "Prediction requests by protocol and outcome (success or error).",
            ("model_id", "protocol", "status"),
            registry=self.registry,
        )
        latency = Histogram(
            "ml_prediction_latency_seconds",
            "Time to answer a prediction request, from body received to response built.",
            ("model_id", "protocol"),
            buckets=tuple(buckets),
            registry=self.registry,
        )
        errors = Counter(
            "ml_prediction_errors_total",
            "Failed prediction requests by protocol and kind.",
            ("model_id", "protocol", "kind"),
            registry=self.registry,
        )
        self._by_protocol: dict[str, _Children] = {
            p: _Children(
                requests.labels(model_id, p, "success"),
                requests.labels(model_id, p, "error"),
                latency.labels(model_id, p),
                {kind: errors.labels(model_id, p, kind) for kind in ERROR_KINDS},
            )
            for p in protocols
        }
        self.active_models = Gauge(
            "ml_active_models", "Models this service is serving (1 once started).", registry=self.registry
        )
        self._cache_hits = Counter(
            "ml_prediction_cache_hits_total",
            "Predictions answered from the cache.",
            ("model_id",),
            registry=self.registry,
        ).labels(model_id)
        self._cache_misses = Counter(
            "ml_prediction_cache_misses_total",
            "Cacheable predictions that had to call predict.",
            ("model_id",),
            registry=self.registry,
        ).labels(model_id)
        self._batch_size = Histogram(
            "ml_prediction_batch_size",
            "Feature sets per call of a batching predict.",
            ("model_id",),
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        ).labels(model_id)

    def request(self, ok: bool, seconds: float, kind: str | None = None, protocol: str = "datason") -> None:
        """Count one finished prediction request and its latency; ``kind`` names a failure."""
        children = self._by_protocol[protocol]
        (children.success if ok else children.error).inc()
        children.latency.observe(seconds)
        if kind is not None:
            children.errors[kind].inc()

    def cache(self, hit: bool) -> None:
        (self._cache_hits if hit else self._cache_misses).inc()

    def batch(self, size: int) -> None:
        self._batch_size.observe(size)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class _Children(NamedTuple):
    success: Any
    error: Any
    latency: Any
    errors: dict[str, Any]
