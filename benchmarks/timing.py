"""Interleaved timing: every round runs every contender once, so machine noise hits all alike.

Stdlib only (the datason 0.13 worker imports it too). Each call is timed with
``perf_counter_ns`` after a ``gc.collect()``; the collector stays enabled during
the call, as it is in real use. Odd rounds run the contenders in reverse order to
cancel order effects. Results are medians and minimums in milliseconds, plus the
per-round samples so that ratios can be paired round by round (``paired_ratio``):
on a shared machine slow phases hit every contender of a round alike and cancel.
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
import time
from collections.abc import Callable, Mapping

# A remote contender runs one round elsewhere (e.g. in a worker process) and returns {name: ms}.
Remote = Callable[[], Mapping[str, float]]


@dataclasses.dataclass(frozen=True)
class Stats:
    """Summary of one contender's samples, in milliseconds."""

    median: float
    min: float
    rounds: int
    samples: tuple[float, ...] = ()


def time_call(fn: Callable[[], object]) -> float:
    """Run ``fn`` once after a full collection; return the elapsed milliseconds."""
    gc.collect()
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1e6


def summarize(samples: Mapping[str, list[float]]) -> dict[str, Stats]:
    """Median and minimum of each sample list."""
    return {k: Stats(statistics.median(v), min(v), len(v), tuple(v)) for k, v in samples.items() if v}


def paired_ratio(a: Stats, b: Stats) -> float:
    """Median over rounds of ``a / b`` when both ran in the same rounds, else the ratio of medians."""
    if len(a.samples) == len(b.samples) > 0:
        return statistics.median(x / y for x, y in zip(a.samples, b.samples, strict=True))
    return a.median / b.median


def interleave(
    local: Mapping[str, Callable[[], object]],
    rounds: int,
    warmup: int = 1,
    remotes: tuple[Remote, ...] = (),
) -> dict[str, Stats]:
    """Run ``warmup`` untimed rounds, then ``rounds`` timed rounds of all contenders; return stats by name."""
    samples: dict[str, list[float]] = {name: [] for name in local}
    names = list(local)
    for i in range(warmup + rounds):
        order = names if i % 2 == 0 else names[::-1]
        round_ms = {name: time_call(local[name]) for name in order}
        for remote in remotes:
            round_ms.update(remote())
        if i >= warmup:
            for name, ms in round_ms.items():
                samples.setdefault(name, []).append(ms)
    return summarize(samples)
