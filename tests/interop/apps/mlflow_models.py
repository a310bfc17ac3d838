"""The models the MLflow integration tests log, register and serve with ``mlflow models serve``.

``Showcase`` is a ``mlflow.pyfunc.PythonModel`` in today's form (``predict(self, model_input, params=None)``
with type hints MLflow does not turn into a signature): with ``params={"case": "echo"}`` (the default) it
returns what predict received, so a typed answer shows the client exactly what MLflow and datason made of the
request; with another case it returns ``VALUES[case]`` (typed results of every kind), raises (``"fail"``) or
returns what datason cannot write (``"unwritable"``). ``FRAME`` is its input example: the signature inferred
from it keeps ``x`` float32.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import mlflow
import numpy as np
import pandas as pd

FRAME = pd.DataFrame(
    {
        "x": np.array([0.1, -2.5, 3.4028235e38], dtype=np.float32),
        "n": np.array([2**53 + 1, -1, 0], dtype=np.int64),
        "s": ["a", "\u00e9", "c"],
        "b": [True, False, True],
    },
    index=pd.Index([10, 20, 30]),
)


def values() -> dict[str, Any]:
    """Typed results, one of each kind a model returns."""
    zone = ZoneInfo("America/New_York")
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2024-03-30 23:00", periods=3, freq="h", tz="Europe/Paris"),
            "size": pd.Categorical(["S", "L", "S"], categories=["S", "M", "L"], ordered=True),
            "x": np.array([0.1, np.nan, 2.5], dtype=np.float32),
            "n": np.array([2**62, -1, 0], dtype=np.int64),
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    )
    return {
        "float32-2d": np.array([[0.1, -0.0, 3.4028235e38], [1e-45, np.nan, -7.25]], dtype=np.float32),
        "int64-3d": np.arange(-12, 12, dtype=np.int64).reshape(2, 3, 4) * (2**40 + 3),
        "bool-1d": np.array([True, False, True]),
        "frame": frame,
        "series": pd.Series([1.5, -0.0], index=pd.date_range("2024-01-01", periods=2, tz="UTC"), name="s"),
        "datetime": dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=zone),
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "decimal": Decimal("-1.10E+3"),
        "mixed": {
            "when": dt.datetime(2024, 6, 30, 12, tzinfo=dt.UTC),
            "id": uuid.UUID(int=2**127 + 5),
            "price": Decimal("0.000"),
            "scores": np.array([0.25, 1 / 3], dtype=np.float32),
            "count": np.int64(2**53 + 1),
            "missing": float("nan"),
        },
    }


VALUES = values()


class Unwritable:
    """A result no JSON writer knows."""


class Showcase(mlflow.pyfunc.PythonModel):
    """Echo, a typed value, a failure or an unwritable result, chosen by the ``case`` param."""

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        case = (params or {}).get("case", "echo")
        if case == "echo":
            return model_input
        if case == "fail":
            return 1 / 0
        if case == "unwritable":
            return {"ok": [1, 2], "thing": Unwritable()}
        return VALUES[case]
