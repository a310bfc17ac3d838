"""A round trip through datason: typed (exact) and plain (for web clients)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
import zoneinfo

import datason
from datason.config import get_api_config

record = {
    "id": uuid.UUID("6f1c2a9e-3b1d-4c8e-9f00-1234567890ab"),
    "at": dt.datetime(2024, 3, 31, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    "price": decimal.Decimal("19.90"),
    "shape": (3, 4),
    "labels": {"cat", "dog"},
    "weights": {1: 0.25, 2: float("nan")},
    "blob": b"\x00\xff",
}

typed = datason.dumps(record)
print("typed JSON:", typed)
back = datason.loads(typed)
print("round trip exact:", all(repr(back[k]) == repr(v) for k, v in record.items()))

plain = datason.dumps(record, get_api_config())
print("plain JSON for web clients:", plain)
print("auto_deserialize:", datason.auto_deserialize(datason.loads(plain, get_api_config()), get_api_config()))
