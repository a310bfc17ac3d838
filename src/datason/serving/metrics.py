"""Prometheus metrics of one model service, in a registry of its own so services never collide.

Label children are bound once at construction so the request path only increments.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import ERROR_KINDS

__all__ = ["ServiceMetrics"]


class ServiceMetrics:
    """``ml_prediction_*`` counters and histograms and ``ml_active_models`` for one ``model_id``."""

    __slots__ = (
        "_batch_size",
        "_cache_hits",
        "_cache_misses",
        "_error",
        "_errors",
        "_latency",
        "_success",
        "active_models",
        "content_type",
        "registry",
    )

    def __init__(self, model_id: str, buckets: Sequence[float]) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.content_type = CONTENT_TYPE_LATEST
        requests = Counter(
            "ml_prediction_requests_total",
            "Prediction requests by outcome (success or error).",
            ("model_id", "status"),
            registry=self.registry,
        )
        self._success = requests.labels(model_id, "success")
        self._error = requests.labels(model_id, "error")
        latency = Histogram(
            "ml_prediction_latency_seconds",
            "Time to answer a prediction request, from body received to response built.",
            ("model_id",),
            buckets=tuple(buckets),
            registry=self.registry,
        )
        self._latency = latency.labels(model_id)
        errors = Counter(
            "ml_prediction_errors_total",
            "Failed prediction requests by kind.",
            ("model_id", "kind"),
            registry=self.registry,
        )
        self._errors = {kind: errors.labels(model_id, kind) for kind in ERROR_KINDS}
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

    def request(self, ok: bool, seconds: float, kind: str | None = None) -> None:
        """Count one finished prediction request and its latency; ``kind`` names a failure."""
        (self._success if ok else self._error).inc()
        self._latency.observe(seconds)
        if kind is not None:
            self._errors[kind].inc()

    def cache(self, hit: bool) -> None:
        (self._cache_hits if hit else self._cache_misses).inc()

    def batch(self, size: int) -> None:
        self._batch_size.observe(size)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
