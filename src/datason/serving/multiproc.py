"""Metrics and health of a service run by several worker processes (``datason serve --workers N``).

``prometheus_client``'s multiprocess mode: when ``PROMETHEUS_MULTIPROC_DIR`` names a directory before
``prometheus_client`` is imported (``datason serve --workers N`` makes a temporary one and removes it at exit),
every counter, gauge and histogram writes its value to a memory-mapped file of its process in that directory.
Here:

- ``enabled()``: whether this process's ``prometheus_client`` is in that mode.
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

__all__ = ["RequestMetrics", "enabled", "mark_process_dead", "render", "totals"]


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
    """True when ``prometheus_client`` writes its values to ``PROMETHEUS_MULTIPROC_DIR`` (decided at its import)."""
    from prometheus_client import values

    return values.ValueClass is not values.MutexValue


class RequestMetrics:
    """The request, latency and error families as multiprocess-safe ``prometheus_client`` objects."""

    __slots__ = ("_errors", "_latency", "_requests")

    def __init__(self, model_id: str, buckets: Sequence[float], protocols: Sequence[str]) -> None:
        from prometheus_client import Counter, Histogram

        # registry=None: the values live in the files; render() reads them back, whatever registry asks.
        requests = Counter(
            "ml_prediction_requests",
            "Prediction requests by protocol and outcome (success or error).",
            ("model_id", "protocol", "status"),
            registry=None,
        )
        latency = Histogram(
            "ml_prediction_latency_seconds",
            "Time to answer a prediction request, from body received to response built.",
            ("model_id", "protocol"),
            buckets=tuple(buckets),
            registry=None,
        )
        errors = Counter(
            "ml_prediction_errors",
            "Failed prediction requests by protocol and kind.",
            ("model_id", "protocol", "kind"),
            registry=None,
        )
        self._requests = {
            p: (requests.labels(model_id, p, "success"), requests.labels(model_id, p, "error")) for p in protocols
        }
        self._latency = {p: latency.labels(model_id, p) for p in protocols}
        self._errors = {p: {k: errors.labels(model_id, p, k) for k in ERROR_KINDS} for p in protocols}

    def request(self, ok: bool, seconds: float, kind: str | None, protocol: str) -> None:
        self._requests[protocol][0 if ok else 1].inc()
        self._latency[protocol].observe(seconds)
        if kind is not None:
            self._errors[protocol][kind].inc()


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


def totals(model_id: str) -> tuple[int, int, int, float]:
    """(requests, 5xx answers, 4xx answers, latency seconds) of ``model_id`` summed over every worker."""
    statuses = _statuses()
    total = server = client = 0
    seconds = 0.0
    for family in _families():
        if family.name == "ml_prediction_latency_seconds":
            for s in family.samples:
                if s.labels.get("model_id") != model_id:
                    continue
                if s.name.endswith("_count"):
                    total += int(s.value)
                elif s.name.endswith("_sum"):
                    seconds += s.value
        elif family.name == "ml_prediction_errors":
            for s in family.samples:
                if s.labels.get("model_id") != model_id:
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
