"""Deterministic data builders for the benchmarks, one per workload key.

Stdlib only at import time: the workers for datason 0.13 and MLServer (their own
virtualenvs) import this module too. Builders and checks that need numpy or pandas
import them inside the function. To add a workload, write ``build_x(seed)`` and
register it in ``WORKLOADS``; run.py then needs a ``contenders_x`` for it.

The fidelity checks (``describe_array``, ``describe_frame``) are shared by every
process, so "gives input back" means the same test for every contender.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import string
import uuid
import zoneinfo
from collections import Counter
from collections.abc import Callable
from typing import Any

SEED = 20240101
N_RECORDS = 10_000
_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_YEAR_US = 366 * 24 * 3600 * 1_000_000
N_ARRAY = 1_000_000
FRAME_ROWS, FRAME_COLS = 1000, 20
FRAME_KINDS = ("f32", "i64", "str", "cat", "dt", "bool", "Int64")
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


@dataclasses.dataclass(frozen=True)
class Workload:
    """A named data set: ``build(seed)`` returns the value to serialize."""

    key: str
    title: str
    build: Callable[[int], Any]


def build_records(seed: int = SEED, n: int = N_RECORDS) -> list[dict[str, Any]]:
    """Workload A: ``n`` records ``{"id": UUID4, "ts": aware datetime, "x": float, "tags": [3 str]}``."""
    rng = random.Random(seed)
    letters = string.ascii_lowercase
    records = []
    for _ in range(n):
        ts = _EPOCH + dt.timedelta(microseconds=rng.randrange(_YEAR_US))
        if ts.microsecond == 0:  # keep every timestamp's fractional part in the text
            ts = ts.replace(microsecond=1)
        records.append(
            {
                "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                "ts": ts,
                "x": rng.uniform(-1e6, 1e6),
                "tags": ["".join(rng.choices(letters, k=rng.randint(3, 8))) for _ in range(3)],
            }
        )
    return records


def revive_records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Schema-aware manual rebuild of workload A from plain JSON (UUID and datetime objects back)."""
    uuid_cls, parse = uuid.UUID, dt.datetime.fromisoformat
    return [{"id": uuid_cls(r["id"]), "ts": parse(r["ts"]), "x": r["x"], "tags": r["tags"]} for r in rows]


def build_array(seed: int = SEED, n: int = N_ARRAY) -> Any:
    """Workload B: ``n`` float64 values, ``numpy.random.default_rng(seed).standard_normal(n)`` (8 MB for 1e6)."""
    import numpy as np

    return np.random.default_rng(seed).standard_normal(n)


def build_frame(seed: int = SEED, n: int = FRAME_ROWS) -> Any:
    """Workload C: ``n`` x 20 DataFrame cycling float32, int64, str, category, tz datetime, bool, nullable Int64.

    Missing values: NaN every 97th float32, None every 50th string, one NaT per datetime column, NA every
    13th Int64. Mirrors ``build_frame_c`` in tests/test_pandas.py (same seed, same values).
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for j in range(FRAME_COLS):
        kind = FRAME_KINDS[j % len(FRAME_KINDS)]
        if kind == "f32":
            values: Any = rng.standard_normal(n).astype("float32")
            values[::97] = np.nan
        elif kind == "i64":
            values = rng.integers(-(10**12), 10**12, n)
        elif kind == "str":
            letters = list("abcdefghij")
            values = pd.Series(["".join(rng.choice(letters, 6)) if i % 50 else None for i in range(n)]).array
        elif kind == "cat":
            values = pd.Categorical(rng.choice(["red", "green", "blue", "cyan"], n))
        elif kind == "dt":
            start = np.datetime64("2024-01-01T00:00:00", "ns").astype(np.int64)
            counts = start + rng.integers(0, 366 * 86400 * 10**9, n)
            times = pd.DatetimeIndex(counts.view("M8[ns]")).tz_localize("UTC").tz_convert(PARIS)
            values = times.where(np.arange(n) != 5).array  # one NaT
        elif kind == "bool":
            values = rng.random(n) > 0.5
        else:
            values = pd.array(rng.integers(-1000, 1000, n), dtype="Int64")
            values[::13] = pd.NA
        columns[f"{kind}_{j}"] = values
    return pd.DataFrame(columns)


def kind_of(value: Any) -> str:
    """A short description of what a decode gave back when it is not the expected type."""
    if isinstance(value, list):
        inner = f" of {type(value[0]).__name__}" if value else ""
        return f"list{inner} (len {len(value)})"
    if isinstance(value, dict):
        return f"dict with keys {sorted(value)[:4]}"
    return f"{type(value).__module__}.{type(value).__name__}"


def describe_array(got: Any, want: Any) -> dict[str, Any]:
    """{"exact": same class, dtype, shape and bytes, "lost": what differs} for workload B."""
    import numpy as np

    if not isinstance(got, np.ndarray):
        return {"exact": False, "lost": f"gives a {kind_of(got)}, not an ndarray"}
    lost = []
    if got.dtype != want.dtype:
        lost.append(f"dtype {want.dtype} -> {got.dtype}")
    if got.shape != want.shape:
        lost.append(f"shape {want.shape} -> {got.shape}")
    if not lost and got.tobytes() != want.tobytes():
        lost.append("values differ")
    elif lost and got.size == want.size and got.dtype == want.dtype and got.tobytes() != want.tobytes():
        lost.append("values differ")
    return {"exact": not lost, "lost": "; ".join(lost)}


def describe_frame(got: Any, want: Any) -> dict[str, Any]:
    """{"exact": ``assert_frame_equal(check_exact=True)`` passes, "lost": what differs} for workload C.

    ``assert_frame_equal`` compares dtypes (time zones and categories included), index, column names and
    every value (NaN/NaT/NA by position). When it fails, ``lost`` groups dtype changes by kind and says
    whether the values still come back after ``astype`` to the original dtype.
    """
    import pandas as pd

    if not isinstance(got, pd.DataFrame):
        return {"exact": False, "lost": f"gives a {kind_of(got)}, not a DataFrame"}
    try:
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    except AssertionError:
        pass
    else:
        return {"exact": True, "lost": ""}
    lost: list[str] = []
    if got.shape != want.shape:
        lost.append(f"shape {want.shape} -> {got.shape}")
    if list(got.columns) != list(want.columns):
        lost.append("column names or order differ")
    try:
        pd.testing.assert_index_equal(got.index, want.index, exact="equiv")
    except AssertionError:
        lost.append(f"index {type(want.index).__name__} -> {type(got.index).__name__} ({got.index.dtype})")
    changes: Counter[str] = Counter()
    for name in want.columns:
        if name not in got.columns:
            continue
        w, g = want[name], got[name]
        change = "" if str(w.dtype) == str(g.dtype) else f"{w.dtype} -> {g.dtype}"
        try:
            back = g.astype(w.dtype) if change else g
        except (TypeError, ValueError):
            changes[f"{change} (no astype back)"] += 1
            continue
        values = _values_note(back, w)
        if change or values:
            changes[", ".join(filter(None, [change or str(w.dtype), values]))] += 1
    lost += [f"{what} (x{n})" for what, n in changes.items()]
    return {"exact": False, "lost": "; ".join(lost) or "differs"}


def _values_note(got: Any, want: Any) -> str:
    """ "" when two Series of one dtype are equal (NaN/NaT/NA by position), else what differs."""
    import pandas as pd

    def same(a: Any, b: Any) -> bool:
        try:
            pd.testing.assert_series_equal(a, b, check_exact=True, check_index=False, check_names=False)
        except AssertionError:
            return False
        return True

    if same(got, want):
        return ""
    if want.dtype.kind == "M" and got.dtype == want.dtype and str(want.dtype).startswith("datetime64[ns"):
        g, w = got.array.asi8, want.array.asi8  # UTC nanoseconds (NaT is the int64 minimum in both)
        for step, name in ((10**3, "µs"), (10**6, "ms"), (10**9, "s")):
            if ((g == w - w % step) | (g == w)).all():
                return f"ns cut to {name}"
    return "values differ"


WORKLOADS: dict[str, Workload] = {
    "A": Workload(
        "A", "10,000 records {id: UUID4, ts: UTC datetime with microseconds, x: float, tags: 3 str}", build_records
    ),
    "B": Workload("B", "a 1e6-element float64 NumPy array (seeded `standard_normal`, 8 MB)", build_array),
    "C": Workload(
        "C",
        "a 1000x20 pandas DataFrame: float32, int64, str, category, Europe/Paris datetime, bool, nullable Int64 "
        "(cycled; some NaN/None/NaT/NA)",
        build_frame,
    ),
}


def build(key: str, seed: int = SEED) -> Any:
    """Build workload ``key`` (e.g. ``"A"``) with ``seed``."""
    return WORKLOADS[key].build(seed)
