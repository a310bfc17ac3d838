"""Predict functions and a model class for tests/interop/frameworks/test_ray_serve.py (deployed on Ray Serve).

- ``echo``: what it receives comes back (a dict as a dict, anything else as ``{"OUTPUT0": value}``, so OIP
  answers each input as an output of the same name); ``{"whoami": ...}`` answers the replica's process id and
  ``{"explode": ...}`` raises ``ZeroDivisionError`` (the 500 envelope).
- ``fragile``: the process id, or ``RuntimeError`` for ``"fail"`` (a degraded replica that Ray replaces).
- ``Scaler``: a model class loaded once per replica, batched by ``@serve.batch`` (lists in, lists out),
  reconfigured by ``user_config`` and checked by Ray's ``check_health``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np


def echo(value: Any) -> Any:
    if isinstance(value, dict):
        if "whoami" in value:
            return {"pid": os.getpid()}
        if "explode" in value:
            return 1 / 0
        return dict(value)
    return {"OUTPUT0": value}


def fragile(value: Any) -> Any:
    if value == "fail":
        raise RuntimeError("this message must not reach the client")
    return {"pid": os.getpid()}


class Scaler:
    """Multiplies ``x`` by ``factor`` (``.bind(factor)``, then ``user_config={"factor": ...}``)."""

    loads = 0  # instances created in this process: the model is loaded once per replica

    def __init__(self, factor: float) -> None:
        Scaler.loads += 1
        self.factor = factor
        self.reconfigured = 0
        self.loaded_at = time.time()

    def predict(self, batch: list[Any]) -> list[Any]:
        return [
            {
                "scaled": np.asarray(features["x"]) * self.factor,
                "batch_size": len(batch),
                "pid": os.getpid(),
                "loads": Scaler.loads,
                "reconfigured": self.reconfigured,
            }
            for features in batch
        ]

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        self.factor = float(user_config["factor"])
        self.reconfigured += 1

    def check_health(self) -> None:
        if self.factor < 0:
            raise RuntimeError("negative factor")
