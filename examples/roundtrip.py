"""A round trip through datason: typed (exact) and plain (for web clients), with NumPy and pandas."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
import zoneinfo

import numpy as np
import pandas as pd

import datason
from datason.config import get_api_config

record = {
    "id": uuid.UUID("6f1c2a9e-3b1d-4c8e-9f00-1234567890ab"),
    "at": dt.datetime(2024, 3, 31, 14, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    "price": decimal.Decimal("19.90"),
    "shape": (3, 4),
    "labels": {"cat", "dog"},
    "weights": {1: 0.25, 2: float("nan")},
    "blob": b"\x00\xff",
    "scores": np.array([0.1, 0.2, 0.7], dtype=np.float32),
    "frame": pd.DataFrame(
        {"x": np.arange(3, dtype=np.int32), "when": pd.date_range("2024-01-01", periods=3, tz="UTC")},
        index=pd.Index(["a", "b", "c"], name="key"),
    ),
}

typed = datason.dumps(record)
print("typed JSON:", typed[:300], "...")
back = datason.loads(typed)
exact = all(repr(back[k]) == repr(v) for k, v in record.items() if k not in ("scores", "frame"))
exact = exact and back["scores"].dtype == np.float32 and np.array_equal(back["scores"], record["scores"])
pd.testing.assert_frame_equal(back["frame"], record["frame"], check_exact=True)
print("round trip exact (types, dtypes, index, time zones):", exact)

api = get_api_config()
plain = datason.dumps(record, api)
print("plain JSON for web clients:", plain)
print("auto_deserialize:", datason.auto_deserialize(datason.loads(plain, api), api))
