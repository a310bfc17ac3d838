"""Predict functions for the model-version tests: each answers which version it is, the shadows differ.

``v1`` and ``v2`` are two versions of one model; ``same`` answers exactly what ``v1`` answers (a shadow that
matches), ``other`` something else (a shadow that differs), ``boom`` raises and ``slow`` takes half a second
(shadows whose failures and delays the client must never see). ``shadow_calls()`` counts shadow runs.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

_lock = threading.Lock()
_calls = {"same": 0, "other": 0, "boom": 0, "slow": 0}


def _count(name: str) -> None:
    with _lock:
        _calls[name] += 1


def v1(features: Any) -> dict[str, Any]:
    return {"version": "v1", "echo": features}


def v2(features: Any) -> dict[str, Any]:
    return {"version": "v2", "echo": features}


def same(features: Any) -> dict[str, Any]:
    _count("same")
    return v1(features)


def other(features: Any) -> dict[str, Any]:
    _count("other")
    return {"version": "other", "echo": features}


def boom(features: Any) -> dict[str, Any]:
    _count("boom")
    raise RuntimeError("shadow failure")


async def slow(features: Any) -> dict[str, Any]:
    _count("slow")
    await asyncio.sleep(0.5)
    return {"version": "slow", "echo": features}


def shadow_calls() -> dict[str, int]:
    with _lock:
        return dict(_calls)
