"""Prometheus metrics of one model service, in a registry of its own so services never collide.

The per-request families (requests, latency, errors) are tallied here under one lock, in plain ints and one
bucket search, and handed to ``prometheus_client`` when it scrapes (a custom collector): a request costs a
fraction of a microsecond instead of a lock and a Python loop per counter and histogram. The rarer ones
(active models, cache outcomes, batch sizes) are ``prometheus_client`` objects.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from . import multiproc
from .errors import ERROR_KINDS

__all__ = ["ServiceMetrics"]


class ServiceMetrics:
    """``ml_prediction_*`` counters and histograms and ``ml_active_models`` for one ``model_id``.

    Requests, latency and errors carry a ``protocol`` label (``datason``, ``oip``, ``kserve_v1``, ``seldon``,
    ``mlflow``); the children of every protocol the service answers are bound here, once.
    """

    __slots__ = (
        "_batch_size",
        "_bounds",
        "_by_protocol",
        "_cache_hits",
        "_cache_misses",
        "_lock",
        "_model_id",
        "_mp",
        "_security",
        "active_models",
        "content_type",
        "model_version",
        "registry",
    )

    def __init__(self, model_id: str, buckets: Sequence[float], protocols: Sequence[str] = ("datason",)) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self._model_id = model_id
        #: Set when the service is one version of several (``ModelService.join``): the ``model_version`` label.
        self.model_version: str | None = None
        self.content_type = CONTENT_TYPE_LATEST
        self._bounds = tuple(float(b) for b in buckets if b != float("inf"))
        self._lock = threading.Lock()
        self._by_protocol: dict[str, _Tally] = {p: _Tally(len(self._bounds) + 1) for p in protocols}
        # Several worker processes (PROMETHEUS_MULTIPROC_DIR, issue 18): the request families go to the shared
        # files as prometheus_client objects (datason.serving.multiproc); one process keeps the cheaper tallies.
        self._mp: Any = None
        if multiproc.enabled():
            self._mp = multiproc.RequestMetrics(model_id, self._bounds, tuple(protocols))
        else:
            self.registry.register(_RequestCollector(model_id, self))
        # several workers: 1 while any live one serves (only then: prometheus-client < 0.16, which seldon-core
        # pins, has no ``livemax``, and one process needs no mode)
        gauge_mode: dict[str, Any] = {"multiprocess_mode": "livemax"} if self._mp is not None else {}
        self.active_models = Gauge(
            "ml_active_models", "Models this service is serving (1 once started).", registry=self.registry, **gauge_mode
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
        from .security import EVENT_KINDS

        events = Counter(
            "ml_security_events",
            "Security events by kind: failed authentication, scope denied, rate limited, oversized or invalid.",
            ("model_id", "kind"),
            registry=self.registry,
        )
        self._security = {kind: events.labels(model_id, kind) for kind in EVENT_KINDS}

    def security_event(self, kind: str) -> None:
        """Count one security event (``datason.serving.security.EVENT_KINDS``)."""
        self._security[kind].inc()

    def request(self, ok: bool, seconds: float, kind: str | None = None, protocol: str = "datason") -> None:
        """Count one finished prediction request and its latency; ``kind`` names a failure."""
        if self._mp is not None:
            self._mp.request(ok, seconds, kind, protocol, self.model_version)
            return
        tally = self._by_protocol[protocol]
        bucket = bisect.bisect_left(self._bounds, seconds)  # the first bound >= seconds, as Prometheus' "le"
        with self._lock:
            if ok:
                tally.success += 1
            else:
                tally.error += 1
            if kind is not None:
                tally.errors[kind] = tally.errors.get(kind, 0) + 1
            tally.buckets[bucket] += 1
            tally.seconds += seconds

    def cache(self, hit: bool) -> None:
        (self._cache_hits if hit else self._cache_misses).inc()

    def batch(self, size: int) -> None:
        self._batch_size.observe(size)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        if self._mp is not None:
            return multiproc.render()  # every worker's files, merged
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def totals(self) -> tuple[int, int, int, float] | None:
        """With several workers, (requests, 5xx, 4xx, latency seconds) of them all; None in a single process."""
        return None if self._mp is None else multiproc.totals(self._model_id, self.model_version)


class _Tally:
    """One protocol's counts since start (changed under ``ServiceMetrics._lock``)."""

    __slots__ = ("buckets", "created", "error", "errors", "seconds", "success")

    def __init__(self, buckets: int) -> None:
        self.success = self.error = 0
        self.errors: dict[str, int] = {}
        self.buckets = [0] * buckets  # per latency bucket (the last is +Inf), not cumulative
        self.seconds = 0.0
        self.created = time.time()


class _RequestCollector:
    """Writes the tallies as ``ml_prediction_requests_total``, ``ml_prediction_latency_seconds`` and
    ``ml_prediction_errors_total`` (the names, labels and ``_created`` samples ``prometheus_client``'s own
    Counter and Histogram would write)."""

    def __init__(self, model_id: str, metrics: ServiceMetrics) -> None:
        self.model_id = model_id
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        from prometheus_client import metrics as prometheus_metrics
        from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily
        from prometheus_client.samples import Sample
        from prometheus_client.utils import floatToGoString

        m = self.metrics
        with m._lock:
            snapshot = [
                (p, t.success, t.error, dict(t.errors), list(t.buckets), t.seconds, t.created)
                for p, t in m._by_protocol.items()
            ]
        # (model_id[, model_version]): the version label only when the service is one of several versions
        head: tuple[str, ...] = (self.model_id,) if m.model_version is None else (self.model_id, m.model_version)
        names: tuple[str, ...] = ("model_id",) if m.model_version is None else ("model_id", "model_version")
        created_on = getattr(prometheus_metrics, "_use_created", True)  # PROMETHEUS_DISABLE_CREATED_SERIES
        requests = CounterMetricFamily(
            "ml_prediction_requests",
            "Prediction requests by protocol and outcome (success or error).",
            labels=(*names, "protocol", "status"),
        )
        latency = HistogramMetricFamily(
            "ml_prediction_latency_seconds",
            "Time to answer a prediction request, from body received to response built.",
            labels=(*names, "protocol"),
        )
        errors = CounterMetricFamily(
            "ml_prediction_errors",
            "Failed prediction requests by protocol and kind.",
            labels=(*names, "protocol", "kind"),
        )
        bounds = [*(floatToGoString(b) for b in m._bounds), "+Inf"]
        for protocol, success, error, kinds, counts, seconds, created in snapshot:
            when = created if created_on else None
            requests.add_metric((*head, protocol, "success"), success, created=when)
            requests.add_metric((*head, protocol, "error"), error, created=when)
            cumulative, total = [], 0
            for bound, n in zip(bounds, counts, strict=True):
                total += n
                cumulative.append((bound, total))
            latency.add_metric((*head, protocol), cumulative, seconds)
            if created_on:
                labels = {**dict(zip(names, head, strict=True)), "protocol": protocol}
                latency.samples.append(Sample("ml_prediction_latency_seconds_created", labels, created, None, None))
            for kind in ERROR_KINDS:
                errors.add_metric((*head, protocol, kind), kinds.get(kind, 0), created=when)
        yield requests
        yield latency
        yield errors
