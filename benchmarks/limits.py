"""How fast and how cheaply datason rejects hostile documents (the figures in SECURITY.md).

Usage (from the repository root): ``.venv/bin/python benchmarks/limits.py``

Each row decodes one hostile document with ``loads`` under a preset and reports the exception, the
median time to raise (of 5 runs) and the peak memory traced while it runs, next to the document's size.
Timings are reported, never asserted.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import datason
from datason.config import SerializationConfig, get_api_config, get_strict_config

N = 100_000
ENVELOPE = '{"__datason_type__":"tuple","__datason_value__":['


def documents() -> list[tuple[str, bytes]]:
    b64_shape = '{"__datason_type__":"numpy.ndarray","__datason_value__":{"dtype":"<f8","shape":[1000000000000],'
    return [
        ("100,000-deep arrays", ("[" * N + "]" * N).encode()),
        ("100,000-deep objects", ('{"a":' * N + "1" + "}" * N).encode()),
        ("100,000-deep envelopes", (ENVELOPE * N + "]}" * N).encode()),
        ("integer of 100,000 digits", ("1" * N).encode()),
        ("float of 100,000 digits", ("0." + "1" * N).encode()),
        ("1e12 declared elements, 8 bytes of data", (b64_shape + '"base64":"AAAAAAAAAAA="}}').encode()),
        ("2,000,000-item list (API preset: max_size 1e6)", ("[" + "0," * 2_000_000 + "0]").encode()),
        ("32 MiB string (API preset: 16 MiB)", b'"' + b"a" * (32 << 20) + b'"'),
    ]


def measure(call: Callable[[], object]) -> tuple[str, float, int]:
    times = []
    outcome = "accepted"
    for _ in range(5):
        t0 = time.perf_counter()
        try:
            call()
        except ValueError as exc:
            outcome = type(exc).__name__
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    try:
        call()
    except ValueError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, statistics.median(times), peak


def main() -> None:
    presets: list[tuple[str, SerializationConfig]] = [
        ("default", SerializationConfig()),
        ("api", get_api_config()),
        ("strict", get_strict_config()),
    ]
    print("| document | size | preset | raises | median time | peak traced memory |")
    print("|---|---:|---|---|---:|---:|")
    for name, doc in documents():
        for preset, cfg in presets:
            outcome, seconds, peak = measure(lambda doc=doc, cfg=cfg: datason.loads(doc, cfg))
            size = f"{len(doc) / 1e6:.1f} MB" if len(doc) >= 100_000 else f"{len(doc)} B"
            print(f"| {name} | {size} | {preset} | {outcome} | {seconds * 1e3:.2f} ms | {peak / 1e6:.2f} MB |")


if __name__ == "__main__":
    main()
