"""Interleaved timing: every round runs every contender once, so machine noise hits all alike.

Stdlib only (the workers in foreign virtualenvs import it too). Each call is timed with
``perf_counter_ns`` after a ``gc.collect()``; the collector stays enabled during
the call, as it is in real use. Odd rounds run the contenders in reverse order to
cancel order effects. Results are medians and minimums in milliseconds, plus the
per-round samples so that ratios can be paired round by round (``paired_ratio``):
on a shared machine slow phases hit every contender of a round alike and cancel.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

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


def serve(calls: Mapping[str, Mapping[str, Callable[[], object]]], head: Mapping[str, Any]) -> None:
    """Worker side of a remote contender: print ``head`` as one JSON line, then for each workload key
    read on stdin run one round of its calls and print ``{name: ms}``; stop at EOF."""
    print(json.dumps(head), flush=True)
    for line in sys.stdin:
        key = line.strip()
        print(json.dumps({name: time_call(fn) for name, fn in calls[key].items()}), flush=True)


# A worker's contender: name -> (section, label, call); see check_calls.
Spec = tuple[str, str, Callable[[], object]]


def check_calls(
    specs: Mapping[str, Spec],
    describe: Callable[[object], dict[str, Any]],
    refuse: Callable[[object], str] = lambda out: "",
) -> tuple[dict[str, Callable[[], object]], dict[str, Any]]:
    """Run every call once, untimed (it checks fidelity and warms caches); return (calls that worked, checks).

    checks: ``labels`` {name: [section, label]}, ``fidelity`` {name: describe(result) or {"error": ...}} for
    decodes and round trips, ``sizes`` {name: output bytes} for encodes.
    An encode whose output ``refuse`` explains (non-empty text) counts as failed and is not timed.
    """
    calls: dict[str, Callable[[], object]] = {}
    checks: dict[str, Any] = {"labels": {}, "fidelity": {}, "sizes": {}}
    for name, (section, label, fn) in specs.items():
        checks["labels"][name] = [section, label]
        try:
            out = fn()
            why = refuse(out) if section == "encode" else ""
        except Exception as exc:
            why = f"{type(exc).__name__}: {str(exc)[:200]}"
        if why:
            checks["fidelity"][name] = {"error": why}
            continue
        calls[name] = fn
        if section == "encode":
            checks["sizes"][name] = len(out.encode() if isinstance(out, str) else out)
        else:
            checks["fidelity"][name] = describe(out)
    return calls, checks


def build_checked(
    keys: list[str], build: Callable[[str], tuple[dict[str, Callable[[], object]], dict[str, Any]]]
) -> tuple[dict[str, dict[str, Callable[[], object]]], dict[str, Any]]:
    """Run a worker's ``build(key)`` per workload, recording the warnings it raised (once each) in its checks;
    then silence warnings, which the timed rounds would repeat."""
    calls: dict[str, dict[str, Callable[[], object]]] = {}
    checks: dict[str, Any] = {}
    for key in keys:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            calls[key], checks[key] = build(key)
        checks[key]["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    warnings.simplefilter("ignore")
    return calls, checks
