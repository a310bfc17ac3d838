"""Shared test helpers: exact comparison (type, value, bits) and running under both walkers."""

from __future__ import annotations

import decimal
import json
import math
import struct
from typing import Any

import pytest

from datason import decoder, encoder, fastpath
from datason._native import speedups


@pytest.fixture(params=["c", "python"] if speedups is not None else ["python"])
def walker(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the C accelerator and again with the pure-Python reference walkers."""
    if request.param == "python":
        for module in (encoder, decoder, fastpath):
            monkeypatch.setattr(module, "_speedups", None)
    return str(request.param)


def assert_same(got: Any, want: Any, path: str = "$") -> None:
    """Equal in type and value, recursively; floats compared by bits (NaN, -0.0)."""
    assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, float):
        assert struct.pack("<d", got) == struct.pack("<d", want) or (math.isnan(got) and math.isnan(want)), path
    elif isinstance(want, decimal.Decimal):
        assert str(got) == str(want), path  # exponent and sign kept; NaN compares by text
    elif isinstance(want, complex):
        assert_same(got.real, want.real, path + ".real")
        assert_same(got.imag, want.imag, path + ".imag")
    elif isinstance(want, dict):
        assert len(got) == len(want), path
        for (gk, gv), (wk, wv) in zip(sorted_items(got), sorted_items(want), strict=True):
            assert_same(gk, wk, path + "<key>")
            assert_same(gv, wv, f"{path}[{wk!r}]")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{path}[{i}]")
    elif isinstance(want, set | frozenset):
        assert got == want, path
        assert sorted(map(type_key, got)) == sorted(map(type_key, want)), path
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"
        if hasattr(want, "tzinfo") and hasattr(want, "fold"):
            assert got.fold == want.fold, path
            assert (got.tzinfo is None) == (want.tzinfo is None), path
            if want.tzinfo is not None:
                assert str(got.tzinfo) == str(want.tzinfo), path


def sorted_items(d: dict[Any, Any]) -> list[tuple[Any, Any]]:
    return sorted(d.items(), key=lambda kv: type_key(kv[0]))


def type_key(x: Any) -> str:
    return type(x).__name__ + repr(x)


def strict_json(text: str) -> Any:
    """Parse as strict RFC 8259 JSON: bare NaN/Infinity tokens are refused."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)
