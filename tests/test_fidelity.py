"""The fidelity matrix: every supported type round-trips exactly, and the output is strict JSON."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import enum
import fractions
import json
import pathlib
import uuid
import zoneinfo
from typing import Any

import pytest

import datason
from datason.config import get_api_config

from .conftest import assert_same, strict_json

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NY = zoneinfo.ZoneInfo("America/New_York")


class Color(enum.Enum):
    RED = "red"
    BLUE = (0, 0, 255)


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str = ""
    when: dt.datetime | None = None
    derived: int = dataclasses.field(default=0, init=False)


datason.register_type(Color, tag="tests.Color")
datason.register_type(Level, tag="tests.Level")
datason.register_type(Point, tag="tests.Point")

CASES: list[tuple[str, Any]] = [
    ("none", None),
    ("true", True),
    ("false", False),
    ("int", 42),
    ("int-negative", -7),
    ("int64-max", 2**63 - 1),
    ("uint64-max", 2**64 - 1),
    ("int-beyond-64", 2**64),
    ("int-huge-negative", -(10**80) - 3),
    ("float", 3.141592653589793),
    ("float-tiny", 5e-324),
    ("float-nan", float("nan")),
    ("float-inf", float("inf")),
    ("float-neg-inf", float("-inf")),
    ("float-neg-zero", -0.0),
    ("str", 'héllo \u2603 \U0001f600 \x00 \n "quoted"'),
    ("str-empty", ""),
    ("bytes", b"\x00\x01\xfe\xff binary"),
    ("bytes-empty", b""),
    ("bytearray", bytearray(b"\x00abc")),
    ("complex", 1.5 - 2.0j),
    ("complex-nan", complex(float("nan"), -0.0)),
    ("decimal", decimal.Decimal("1.10")),
    ("decimal-exp", decimal.Decimal("1E+2")),
    ("decimal-neg-zero", decimal.Decimal("-0.000")),
    ("decimal-nan", decimal.Decimal("NaN")),
    ("decimal-inf", decimal.Decimal("-Infinity")),
    ("decimal-long", decimal.Decimal("3.14159265358979323846264338327950288419716939937510")),
    ("fraction", fractions.Fraction(-1, 3)),
    ("list", [1, "a", None, [2.5, []]]),
    ("tuple", (1, "a", (2, ()))),
    ("tuple-empty", ()),
    ("set", {1, 2, 3}),
    ("set-mixed", {1, "a", (1, 2)}),
    ("frozenset", frozenset({"x", "y"})),
    ("set-empty", set()),
    ("range", range(2, 20, 3)),
    ("ordered-dict", collections.OrderedDict([("b", 1), (2, (3,)), ("a", None)])),
    ("deque", collections.deque([1, "x", (2,)], maxlen=5)),
    ("deque-unbounded", collections.deque()),
    ("counter", collections.Counter("abracadabra")),
    ("range-negative", range(10, -10, -4)),
    ("dict", {"a": 1, "b": [1, 2], "c": {"d": None}}),
    ("dict-int-keys", {1: "a", -2: "b"}),
    ("dict-float-keys", {1.5: "a", float("inf"): "b"}),
    ("dict-tuple-keys", {(1, 2): "a", ("x",): "b"}),
    ("dict-datetime-keys", {dt.datetime(2024, 1, 2, tzinfo=dt.UTC): 1}),
    ("dict-uuid-keys", {uuid.UUID(int=5): "five"}),
    ("dict-bool-none-keys", {True: 1, None: 2, "True": 3}),
    ("dict-mixed-keys", {1: "int", "1": "str", 1.5: "float", (1,): "tuple"}),
    ("dict-marker-keys", {"__datason_type__": "datetime", "__datason_value__": "2024-01-01"}),
    ("dict-one-marker", {"__datason_type__": "x"}),
    ("dict-marker-nested", [{"__datason_type__": "uuid.UUID", "__datason_value__": 1, "extra": True}]),
    ("datetime-naive", dt.datetime(2024, 1, 2, 3, 4, 5, 678901)),
    ("datetime-utc", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
    ("datetime-offset", dt.datetime(2024, 1, 2, 3, 4, 5, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30)))),
    ("datetime-named-offset", dt.datetime(2024, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=1), "CET"))),
    ("datetime-zoneinfo", dt.datetime(2024, 7, 1, 12, 0, tzinfo=PARIS)),
    ("datetime-fold", dt.datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=NY)),
    ("datetime-fold0", dt.datetime(2024, 11, 3, 1, 30, fold=0, tzinfo=NY)),
    ("datetime-naive-fold", dt.datetime(2024, 11, 3, 1, 30, fold=1)),
    ("datetime-min", dt.datetime.min),
    ("datetime-max", dt.datetime.max),
    ("date", dt.date(1999, 12, 31)),
    ("time", dt.time(23, 59, 59, 999999)),
    ("time-tz", dt.time(1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
    ("time-zoneinfo", dt.time(1, 2, 3, tzinfo=PARIS)),
    ("timedelta", dt.timedelta(days=-3, seconds=5, microseconds=7)),
    ("timedelta-max", dt.timedelta.max),
    ("timezone-utc", dt.UTC),
    ("timezone", dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")),
    ("zoneinfo", PARIS),
    ("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ("uuid-nil", uuid.UUID(int=0)),
    ("path", pathlib.Path("/tmp/data/file.csv")),
    ("path-relative", pathlib.Path("a/b")),
    ("pure-posix", pathlib.PurePosixPath("/etc/x")),
    ("pure-windows", pathlib.PureWindowsPath("C:\\Users\\x")),
    ("enum", Color.BLUE),
    ("int-enum", Level.HIGH),
    ("dataclass", Point(1.0, -2.5, "p", dt.datetime(2024, 1, 1, tzinfo=dt.UTC))),
    (
        "nested",
        {
            "ids": [uuid.UUID(int=i) for i in range(3)],
            "when": (dt.date(2024, 1, 1), dt.time(12)),
            "money": {decimal.Decimal("0.1"): [fractions.Fraction(1, 7), 2**70]},
            "flags": frozenset({Level.LOW}),
            "deep": [[[[{"x": {1: {2: (3, {4})}}}]]]],
            "blob": [b"a", bytearray(b"b")],
        },
    ),
]


def _ids() -> list[str]:
    return [name for name, _ in CASES]


@pytest.mark.parametrize(("name", "value"), CASES, ids=_ids())
def test_dumps_loads_exact(name: str, value: Any, walker: str) -> None:
    text = datason.dumps(value)
    strict_json(text)
    assert_same(datason.loads(text), value)
    assert_same(datason.loads(text.encode()), value)


@pytest.mark.parametrize(("name", "value"), CASES, ids=_ids())
def test_serialize_through_stdlib_json(name: str, value: Any, walker: str) -> None:
    tree = datason.serialize(value)
    text = json.dumps(tree, allow_nan=False)
    assert_same(datason.deserialize(json.loads(text)), value)


@pytest.mark.parametrize(("name", "value"), CASES, ids=_ids())
def test_plain_mode_is_strict_json(name: str, value: Any, walker: str) -> None:
    if name in ("dict-tuple-keys", "dict-mixed-keys", "dict-marker-keys"):
        # no plain JSON key for a tuple; exactly the two marker keys would read back as a typed value
        with pytest.raises(datason.SerializationError):
            datason.dumps(value, get_api_config())
        with pytest.raises(datason.SerializationError):
            datason.serialize(value, get_api_config())
        return
    text = datason.dumps(value, get_api_config())
    parsed = strict_json(text)
    assert "__datason_type__" not in text or name.startswith("dict-marker") or name == "dict-one-marker"
    assert parsed == strict_json(json.dumps(datason.serialize(value, get_api_config())))


def test_indent_and_sort_keys_keep_values() -> None:
    value = {"b": [1, {"z": 1, "a": 2}], "a": dt.date(2024, 1, 1)}
    for indent in (None, 2, 4, "\t"):
        text = datason.dumps(value, indent=indent, sort_keys=True)
        assert_same(datason.loads(text), value)
    assert datason.dumps({"b": 1, "a": 2}, sort_keys=True) == '{"a":2,"b":1}'
    assert datason.dumps({"b": 1, "a": 2}, indent=2) == '{\n  "b": 1,\n  "a": 2\n}'


def test_ensure_ascii() -> None:
    cfg = datason.config.SerializationConfig(ensure_ascii=True)
    text = datason.dumps({"k": "é\u2603\U0001f600"}, cfg)
    assert text.isascii()
    assert datason.loads(text) == {"k": "é\u2603\U0001f600"}


def test_dump_and_load_files(tmp_path: pathlib.Path) -> None:
    value = {"at": dt.datetime(2024, 5, 6, tzinfo=PARIS), "id": uuid.UUID(int=9)}
    path = tmp_path / "v.json"
    with path.open("w") as fp:
        datason.dump(value, fp)
    with path.open() as fp:
        assert_same(datason.load(fp), value)
    with path.open("rb") as fpb:
        assert_same(datason.load(fpb), value)
