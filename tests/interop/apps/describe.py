"""Describes what predict received (type, dtype, shape, columns, index) as plain JSON values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def describe(value: Any) -> dict[str, Any]:
    if isinstance(value, pd.DataFrame):
        return {
            "type": "DataFrame",
            "columns": [str(c) for c in value.columns],
            "dtypes": [str(t) for t in value.dtypes],
            "index": [str(i) for i in value.index],
            "index_dtype": str(value.index.dtype),
            "rows": [[repr(v) for v in row] for row in value.itertuples(index=False)],
        }
    if isinstance(value, np.ndarray):
        return {
            "type": "ndarray",
            "dtype": str(value.dtype),
            "shape": list(value.shape),
            "items": [repr(v) for v in value.ravel().tolist()],
        }
    if isinstance(value, dict):
        return {"type": "dict", "items": {str(k): describe(v) for k, v in value.items()}}
    if isinstance(value, list):
        return {"type": "list", "items": [describe(v) for v in value]}
    return {"type": type(value).__name__, "repr": repr(value)}


def predict(value: Any) -> Any:
    return describe(value)
