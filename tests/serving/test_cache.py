"""Prediction cache: canonical keys (key order ignored, types kept), bounded size, TTL expiry."""

from __future__ import annotations

import pytest

from datason.serving.cache import PredictionCache


def test_key_ignores_key_order_but_not_types() -> None:
    key = PredictionCache.key
    assert key({"a": 1, "b": [1, 2]}) == key({"b": [1, 2], "a": 1})
    assert key({"a": 1}) != key({"a": 1.0})
    assert key({"a": True}) != key({"a": 1})
    assert key([1, 2]) != key((1, 2))
    assert key({"a": {"y": 1, "x": 2}}) == key({"a": {"x": 2, "y": 1}})


def test_unserializable_features_are_not_cached() -> None:
    assert PredictionCache.key({"a": object()}) is None


def test_bounded_size_and_ttl() -> None:
    now = [100.0]
    cache = PredictionCache(2, 10.0, timer=lambda: now[0])
    for i in range(3):
        cache.put(PredictionCache.key(i) or b"", str(i).encode())
    assert len(cache) == 2
    assert cache.get(PredictionCache.key(0) or b"") is None  # least recently used went first
    assert cache.get(PredictionCache.key(2) or b"") == (b"2",)
    now[0] += 9.9
    assert cache.get(PredictionCache.key(2) or b"") == (b"2",)
    now[0] += 0.2
    assert cache.get(PredictionCache.key(2) or b"") is None


@pytest.mark.parametrize("size", [2, 5])
def test_put_get_roundtrip(size: int) -> None:
    cache = PredictionCache(size, 60.0)
    cache.put(b"k", {"x": 1})
    cache.put(b"none", None)  # a prediction of None is cached, and told apart from a miss
    assert cache.get(b"k") == ({"x": 1},) and cache.get(b"other") is None
    assert cache.get(b"none") == (None,)


def test_arrays_key_by_dtype_shape_and_bits() -> None:
    import numpy as np

    key = PredictionCache.key
    a = np.arange(6, dtype=np.float32)
    assert key(a) == key(a.copy())
    assert key(a) != key(a.astype(np.float64))
    assert key(a) != key(a.reshape(2, 3))
    b = a.copy()
    b[3] = np.nextafter(b[3], np.float32(10))
    assert key(a) != key(b)
