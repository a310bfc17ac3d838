"""A predict function every protocol can call (it echoes what it receives), for the access-control tests."""

from __future__ import annotations

from typing import Any


def echo(features: Any) -> Any:
    """What predict received, unchanged: a dict for ``/predict``, an array for the tensor protocols."""
    return features
