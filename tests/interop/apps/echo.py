"""OIP echo: every input comes back as an output of the same name (one unnamed input comes back as OUTPUT0)."""

from __future__ import annotations

from typing import Any


def predict(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    return {"OUTPUT0": value}
