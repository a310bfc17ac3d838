"""Predict functions for the serving tests: call counters, numpy/pandas outputs, failures and batches on demand.

Every prediction carries ``calls``, the number of times predict ran in this process, so a client can see
whether a response came from predict or from the cache, and batch predictions carry the batch they ran in.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import pydantic

from datason.serving import ModelService, ServingConfig

_lock = threading.Lock()
_calls = itertools.count(1)
_batches = itertools.count(1)


def _next(counter: itertools.count[int]) -> int:
    with _lock:
        return next(counter)


def predict(features: dict[str, Any]) -> dict[str, Any]:
    """Sign and scores of ``x``; ``mode`` picks a failure: ``boom`` raises, ``nan`` returns NaN, ``slow`` sleeps."""
    calls = _next(_calls)
    mode = features.get("mode", "ok")
    if mode == "boom":
        raise RuntimeError("secret-token-123 leaked from /srv/internal/model.py")
    if mode == "slow":
        time.sleep(0.05)
    x = features["x"]
    if mode == "nan":
        return {"value": float("nan"), "calls": calls}
    return {
        "label": "pos" if x >= 0 else "neg",
        "x": x,
        "scores": np.array([x, 2 * x], dtype=np.float32),
        "by_name": pd.Series([np.int64(1), np.int64(2)], index=["a", "b"]),
        "calls": calls,
    }


async def predict_async(features: dict[str, Any]) -> dict[str, Any]:
    """``predict`` as a coroutine (awaits once, like an async model client would)."""
    await asyncio.sleep(0)
    return predict(features)


def predict_batch(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One result per item, each naming the batch it ran in; any item with ``short`` makes the list too short."""
    batch = _next(_batches)
    calls = _next(_calls)
    out = [{"x": item["x"], "batch_id": batch, "batch_size": len(items), "calls": calls} for item in items]
    return out[:-1] if any(item.get("short") for item in items) else out


def predict_array(items: list[dict[str, Any]]) -> np.ndarray:
    """A batch predict returning a NumPy array (one row per item)."""
    return np.array([[item["x"], item["x"] * 10] for item in items], dtype=np.float64)


class Iris(pydantic.BaseModel):
    """A pydantic schema for ``predict_model``."""

    sepal_length: float = pydantic.Field(gt=0)
    species_hint: str | None = None


def predict_model(features: Iris) -> dict[str, Any]:
    """Receives the validated pydantic instance."""
    return {"kind": type(features).__name__, "double": features.sepal_length * 2}


SCHEMA = {
    "type": "object",
    "properties": {
        "x": {"type": "number", "minimum": -100, "maximum": 100},
        "mode": {"enum": ["ok", "boom", "nan", "slow"]},
        "password": {"type": "string"},
        "api_token": {"type": "string"},
        "nested": {},
        "short": {"type": "boolean"},
    },
    "required": ["x"],
    "additionalProperties": False,
}

service = ModelService(predict, config=ServingConfig(model_id="prebuilt", model_version="9.9.9"), schema=SCHEMA)
"""A ready ModelService, for ``datason serve tests.serving.apps.models:service``."""
