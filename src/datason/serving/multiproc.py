"""Metrics and health of a service run by several worker processes (``datason serve --workers N``).

``prometheus_client``'s multiprocess mode: when ``PROMETHEUS_MULTIPROC_DIR`` names a directory before
``prometheus_client`` is imported (``datason serve --workers N`` makes a temporary one and removes it at exit),
every counter, gauge and histogram writes its value to a memory-mapped file of its process in that directory.
Here:

- ``enabled()``: whether this process is a worker of ``datason serve --workers N`` (``OWNER_ENV`` set by the
  CLI) and its ``prometheus_client`` is in that mode. A framework that puts ``prometheus_client`` in multiprocess
  mode for its own workers (BentoML does) keeps the single-process metrics its integration labels per worker.
- ``RequestMetrics``: the per-request families (``ml_prediction_requests_total``, ``..._latency_seconds``,
  ``..._errors_total``) as ``prometheus_client`` objects, so they land in the files (a single process keeps them
  as plain tallies instead, see ``metrics.py``); same names, labels and buckets.
- ``render()``: ``/metrics`` of the whole server, whichever worker answers: ``MultiProcessCollector`` sums
  counters and histograms over every process's files (those of exited workers included: their requests
  happened); gauges follow each one's ``multiprocess_mode`` (``ml_active_models``: ``livemax``, 1 while any live
  worker serves; ``ml_shared_state_up``: ``livemin``, 0 while any live worker cannot reach Redis).
- ``totals(model_id)``: the request, 5xx, 4xx and latency sums of every worker, read from the same files, for
  ``/health`` (so ``/health`` and ``/metrics`` agree whichever worker answers).
- ``mark_process_dead(pid)``: drops an exiting worker's ``live*`` gauge files (the CLI calls it at worker exit).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .errors import ERROR_KINDS, ServingError

__all__ = ["OWNER_ENV", "RequestMetrics", "enabled", "mark_process_dead", "render", "totals"]

#: Set to "1" by ``datason serve --workers N`` for its workers: the shared files are datason's to write.
OWNER_ENV = "DATASON_SERVING_MULTIPROC"


def _statuses() -> dict[str, int]:
    """The HTTP status of each error kind (every kind has one status class)."""
    out: dict[str, int] = {}
    pending: list[type[ServingError]] = [ServingError]
    while pending:
        cls = pending.pop()
        out.setdefault(cls.kind, cls.status)
        pending.extend(cls.__subclasses__())
    return out


def enabled() -> bool:
    """True in a worker of ``datason serve --workers N`` whose ``prometheus_client`` writes its values to
    ``PROMETHEUS_MULTIPROC_DIR`` (decided at its import)."""
    if os.environ.get(OWNER_ENV) != "1":
        return False
    from prometheus_client import values

    return values.ValueClass is not values.MutexValue


class RequestMetrics:
    """The request, latency and error families as multiprocess-safe ``prometheus_client`` objects.

    A service that is one version of several (``ModelService.join``) passes its ``model_version``: its samples
    then carry that label too, as the single-process collector writes them.
    """

    __slots__ = ("_buckets", "_children", "_families", "_model_id", "_protocols")

    def __init__(self, model_id: str, buckets: Sequence[float], protocols: Sequence[str]) -> None:
        self._model_id = model_id
        self._buckets = tuple(buckets)
        self._protocols = tuple(protocols)
        self._families: dict[bool, tuple[Any, Any, Any]] = {}
        self._children: dict[str | None, Any] = {}
        self._bind(None)

    def _family(self, versioned: bool) -> tuple[Any, Any, Any]:
        found = self._families.get(versioned)
        if found is None:
            from prometheus_client import Counter, Histogram

            head = ("model_id", "model_version") if versioned else ("model_id",)
            # registry=None: the values live in the files; render() reads them back, whatever registry asks.
            found = self._families[versioned] = (
                Counter(
                    "ml_prediction_requests",
                    "Prediction requests by protocol and outcome (success or error).",
                    (*head, "protocol", "status"),
                    registry=None,
                ),
                Histogram(
                    "ml_prediction_latency_seconds",
                    "Time to answer a prediction request, from body received to response built.",
                    (*head, "protocol"),
                    buckets=self._buckets,
                    registry=None,
                ),
                Counter(
                    "ml_prediction_errors",
                    "Failed prediction requests by protocol and kind.",
                    (*head, "protocol", "kind"),
                    registry=None,
                ),
            )
        return found

    def _bind(self, version: str | None) -> Any:
        requests, latency, errors = self._family(version is not None)
        head = (self._model_id,) if version is None else (self._model_id, version)
        bound = {
            p: (
                requests.labels(*head, p, "success"),
                requests.labels(*head, p, "error"),
                latency.labels(*head, p),
                {k: errors.labels(*head, p, k) for k in ERROR_KINDS},
            )
            for p in self._protocols
        }
        self._children[version] = bound
        return bound

    def request(self, ok: bool, seconds: float, kind: str | None, protocol: str, version: str | None = None) -> None:
        bound = self._children.get(version)
        if bound is None:
            bound = self._bind(version)
        success, error, latency, errors = bound[protocol]
        (success if ok else error).inc()
        latency.observe(seconds)
        if kind is not None:
            errors[kind].inc()


def _families() -> list[Any]:
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    return list(MultiProcessCollector(registry).collect())


def render() -> bytes:
    """Every worker's metrics, merged, in the Prometheus text format."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return generate_latest(registry)


def totals(model_id: str, model_version: str | None = None) -> tuple[int, int, int, float]:
    """(requests, 5xx answers, 4xx answers, latency seconds) of ``model_id`` summed over every worker: of the
    samples labelled ``model_version`` when given (a version of several), else of those without the label."""
    statuses = _statuses()
    total = server = client = 0
    seconds = 0.0
    for family in _families():
        if family.name == "ml_prediction_latency_seconds":
            for s in family.samples:
                if s.labels.get("model_id") != model_id or s.labels.get("model_version") != model_version:
                    continue
                if s.name.endswith("_count"):
                    total += int(s.value)
                elif s.name.endswith("_sum"):
                    seconds += s.value
        elif family.name == "ml_prediction_errors":
            for s in family.samples:
                if s.labels.get("model_id") != model_id or s.labels.get("model_version") != model_version:
                    continue
                if statuses.get(s.labels.get("kind", ""), 500) >= 500:
                    server += int(s.value)
                else:
                    client += int(s.value)
    return total, server, client, seconds


def mark_process_dead(pid: int | None = None) -> None:
    """Remove the ``live*`` gauge files of ``pid`` (default: this process), as the worker exits."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid() if pid is None else pid)
