"""Deterministic data builders for the benchmarks, one per workload key.

Stdlib only at import time: the datason 0.13 worker (its own virtualenv, without
numpy or pandas) imports this module too. Builders that need numpy or pandas
import them inside the function. To add a workload, write ``build_x(seed)`` and
register it in ``WORKLOADS``; run.py then needs a ``contenders_x`` for it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import string
import uuid
from collections.abc import Callable
from typing import Any

SEED = 20240101
N_RECORDS = 10_000
_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_YEAR_US = 366 * 24 * 3600 * 1_000_000


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


WORKLOADS: dict[str, Workload] = {
    "A": Workload(
        "A", "10,000 records {id: UUID4, ts: UTC datetime with microseconds, x: float, tags: 3 str}", build_records
    ),
}


def build(key: str, seed: int = SEED) -> Any:
    """Build workload ``key`` (e.g. ``"A"``) with ``seed``."""
    return WORKLOADS[key].build(seed)
