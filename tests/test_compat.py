"""Documents written by datason 0.x (REFERENCE.md section 1) still load; user dicts holding the marker keys
round-trip; the 0.x ``sklearn.model`` tag is never honoured."""

from __future__ import annotations

import datetime as dt
import decimal
import importlib
import json
import pathlib
import sys
import uuid
from typing import Any

import pytest

import datason
from datason import DeserializationError
from datason.config import get_api_config, get_strict_config

from .conftest import assert_same

TYPE_KEY = "__datason_type__"
VALUE_KEY = "__datason_value__"


def env(tag: Any, payload: Any) -> dict[str, Any]:
    return {TYPE_KEY: tag, VALUE_KEY: payload}


# (name, what 0.13 wrote, what it means)
LEGACY: list[tuple[str, Any, Any]] = [
    (
        "datetime-naive",
        env("datetime", "2024-01-02T03:04:05.678901"),
        dt.datetime(2024, 1, 2, 3, 4, 5, 678901),
    ),
    ("datetime-naive-no-micro", env("datetime", "2024-01-02T03:04:05"), dt.datetime(2024, 1, 2, 3, 4, 5)),
    ("datetime-utc", env("datetime", "2024-01-02T03:04:05+00:00"), dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
    (
        "datetime-offset",
        env("datetime", "2024-01-02T03:04:05.5+05:30"),
        dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    ),
    (
        "datetime-negative-offset",
        env("datetime", "1999-12-31T23:59:59-08:00"),
        dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
    ),
    (
        "uuid",
        env("uuid.UUID", "6f1c2a9e-3b1d-4c8e-9f00-1234567890ab"),
        uuid.UUID("6f1c2a9e-3b1d-4c8e-9f00-1234567890ab"),
    ),
    ("uuid-nil", env("uuid.UUID", "00000000-0000-0000-0000-000000000000"), uuid.UUID(int=0)),
    ("decimal", env("decimal.Decimal", "1.10"), decimal.Decimal("1.10")),
    ("decimal-exp", env("decimal.Decimal", "1E+3"), decimal.Decimal("1E+3")),
    ("decimal-negative", env("decimal.Decimal", "-0.000123"), decimal.Decimal("-0.000123")),
    (
        "decimal-long",
        env("decimal.Decimal", "3.14159265358979323846264338327950288"),
        decimal.Decimal("3.14159265358979323846264338327950288"),
    ),
    ("complex", env("complex", {"real": 1.5, "imag": -2.0}), complex(1.5, -2.0)),
    ("complex-ints", env("complex", {"real": 1, "imag": 0}), complex(1.0, 0.0)),
    ("set", env("set", [1, 2, 3]), {1, 2, 3}),
    ("set-strings", env("set", ["b", "a"]), {"a", "b"}),
    ("set-empty", env("set", []), set()),
    ("tuple", env("tuple", [1, "a", None]), (1, "a", None)),
    ("tuple-empty", env("tuple", []), ()),
    ("path", env("pathlib.Path", "/data/models/model.pkl"), pathlib.Path("/data/models/model.pkl")),
    ("path-relative", env("pathlib.Path", "data/x.csv"), pathlib.Path("data/x.csv")),
    ("range", env("range", {"start": 0, "stop": 10, "step": 2}), range(0, 10, 2)),
    ("range-negative", env("range", {"start": 10, "stop": -10, "step": -3}), range(10, -10, -3)),
]


@pytest.mark.parametrize(("name", "doc", "expected"), LEGACY, ids=[c[0] for c in LEGACY])
def test_legacy_value_loads(name: str, doc: Any, expected: Any, walker: str) -> None:
    text = json.dumps(doc)
    for config in (None, get_strict_config()):
        assert_same(datason.loads(text, config), expected)
        assert_same(datason.loads(text.encode(), config), expected)
    assert_same(datason.deserialize(json.loads(text)), expected)
    # inside containers too
    wrapped = json.dumps({"value": [doc, {"again": doc}]})
    assert_same(datason.loads(wrapped), {"value": [expected, {"again": expected}]})


def test_legacy_values_re_dump_to_the_same_values(walker: str) -> None:
    for _, doc, expected in LEGACY:
        value = datason.loads(json.dumps(doc))
        assert_same(datason.loads(datason.dumps(value)), expected)


LEGACY_RECORD = {
    "model_id": env("uuid.UUID", "12345678-1234-5678-1234-567812345678"),
    "trained_at": env("datetime", "2024-03-04T05:06:07.891011+00:00"),
    "created": env("datetime", "2024-03-04T05:06:07"),
    "learning_rate": env("decimal.Decimal", "0.0010"),
    "input_shape": env("tuple", [None, 28, 28, 1]),
    "labels": env("set", ["cat", "dog"]),
    "artifact": env("pathlib.Path", "/models/m.bin"),
    "epochs": env("range", {"start": 0, "stop": 3, "step": 1}),
    "impedance": env("complex", {"real": 50.0, "imag": -12.5}),
    "metrics": {
        "history": [
            {"epoch": 0, "loss": 0.9, "at": env("datetime", "2024-03-04T05:06:08")},
            {"epoch": 1, "loss": 0.5, "at": env("datetime", "2024-03-04T05:06:09")},
        ],
        "best": env("tuple", [1, env("decimal.Decimal", "0.50")]),
    },
    # 0.x wrote date, time and timedelta untagged: they stay strings (no guessing) ...
    "day": "2024-03-04",
    "at_time": "05:06:07",
    "duration": "1 day, 2:03:04",
    "plain": [1, 2.5, "x", None, True, {"nested": []}],
}
LEGACY_MEANING = {
    "model_id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "trained_at": dt.datetime(2024, 3, 4, 5, 6, 7, 891011, tzinfo=dt.UTC),
    "created": dt.datetime(2024, 3, 4, 5, 6, 7),
    "learning_rate": decimal.Decimal("0.0010"),
    "input_shape": (None, 28, 28, 1),
    "labels": {"cat", "dog"},
    "artifact": pathlib.Path("/models/m.bin"),
    "epochs": range(3),
    "impedance": complex(50.0, -12.5),
    "metrics": {
        "history": [
            {"epoch": 0, "loss": 0.9, "at": dt.datetime(2024, 3, 4, 5, 6, 8)},
            {"epoch": 1, "loss": 0.5, "at": dt.datetime(2024, 3, 4, 5, 6, 9)},
        ],
        "best": (1, decimal.Decimal("0.50")),
    },
    "day": "2024-03-04",
    "at_time": "05:06:07",
    "duration": "1 day, 2:03:04",
    "plain": [1, 2.5, "x", None, True, {"nested": []}],
}


def test_legacy_record(walker: str, tmp_path: pathlib.Path) -> None:
    text = json.dumps(LEGACY_RECORD, indent=2)
    assert_same(datason.loads(text), LEGACY_MEANING)
    assert_same(datason.loads(text, get_strict_config()), LEGACY_MEANING)
    assert_same(datason.deserialize(json.loads(text)), LEGACY_MEANING)
    path = tmp_path / "legacy.json"
    path.write_text(text)
    with path.open("rb") as fp:
        assert_same(datason.load(fp), LEGACY_MEANING)
    # round trip in the current format
    assert_same(datason.loads(datason.dumps(datason.loads(text))), LEGACY_MEANING)


def test_legacy_record_with_auto_deserialize(walker: str) -> None:
    # ... and auto_deserialize only adds what it documents: the ISO datetime strings. "2024-03-04" (a date) stays.
    tree = json.loads(json.dumps({k: v for k, v in LEGACY_RECORD.items() if k in ("day", "at_time", "plain")}))
    tree["iso"] = "2024-03-04T05:06:07"
    got = datason.auto_deserialize(tree)
    assert got == {
        "day": "2024-03-04",
        "at_time": "05:06:07",
        "plain": [1, 2.5, "x", None, True, {"nested": []}],
        "iso": dt.datetime(2024, 3, 4, 5, 6, 7),
    }


# --- user dicts that contain the marker keys ------------------------------------------------------------------------

MARKER_DICTS: list[tuple[str, Any]] = [
    ("datetime-lookalike", {TYPE_KEY: "datetime", VALUE_KEY: "2024-01-01T00:00:00"}),
    ("uuid-lookalike", {TYPE_KEY: "uuid.UUID", VALUE_KEY: "12345678-1234-5678-1234-567812345678"}),
    ("callable-lookalike", {TYPE_KEY: "os.system", VALUE_KEY: "rm -rf /"}),
    ("dict-tag-lookalike", {TYPE_KEY: "dict", VALUE_KEY: [[1, 2]]}),
    ("non-str-tag", {TYPE_KEY: 1, VALUE_KEY: [1, 2]}),
    ("only-type-key", {TYPE_KEY: "tuple"}),
    ("only-value-key", {VALUE_KEY: [1, 2]}),
    ("with-extra-key", {TYPE_KEY: "set", VALUE_KEY: [1], "extra": True}),
    ("typed-values-inside", {TYPE_KEY: (1, 2), VALUE_KEY: {uuid.UUID(int=7): dt.date(2024, 1, 1)}}),
    ("nested-lookalike", {TYPE_KEY: "tuple", VALUE_KEY: {TYPE_KEY: "tuple", VALUE_KEY: [1]}}),
    ("in-a-list", [{TYPE_KEY: "bytes", VALUE_KEY: "AAAA"}, {TYPE_KEY: "bytes", VALUE_KEY: "AAAA"}]),
    ("in-a-tuple", ({TYPE_KEY: "range", VALUE_KEY: {"start": 0, "stop": 1, "step": 1}},)),
    ("with-int-keys", {1: "one", TYPE_KEY: "datetime", VALUE_KEY: "2024-01-01"}),
    ("as-a-value", {"payload": {TYPE_KEY: "decimal.Decimal", VALUE_KEY: "1.5"}}),
]


@pytest.mark.parametrize(("name", "value"), MARKER_DICTS, ids=[c[0] for c in MARKER_DICTS])
def test_user_dict_with_marker_keys_round_trips(name: str, value: Any, walker: str) -> None:
    text = datason.dumps(value)
    assert_same(datason.loads(text), value)
    assert_same(datason.loads(text, get_strict_config()), value)
    assert_same(datason.deserialize(json.loads(text)), value)
    assert_same(datason.loads(datason.dumps(value, sort_keys=True)), value)
    assert_same(datason.loads(datason.dumps(value, indent=2)), value)


# --- the 0.x sklearn.model tag ----------------------------------------------------------------------------------------


@pytest.fixture
def fake_estimator(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """An importable 'estimator' module that leaves a file when imported or instantiated."""
    flag = tmp_path / "estimator-used.flag"
    (tmp_path / "legacy_estimator_probe.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(flag)!r}).write_text('imported')\n"
        "class LogisticRegression:\n"
        "    def __init__(self, **params):\n"
        f"        pathlib.Path({str(flag)!r}).write_text('called')\n"
        "    def set_params(self, **params):\n"
        f"        pathlib.Path({str(flag)!r}).write_text('called')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "legacy_estimator_probe", raising=False)
    return flag


POPEN_TARGET = "@POPEN_TARGET@"
SKLEARN_PAYLOADS = [
    {"class": "legacy_estimator_probe.LogisticRegression", "params": {"C": 1.0, "max_iter": 100}},
    {"_class": "legacy_estimator_probe.LogisticRegression", "_params": {"C": 1.0}, "_fitted": True},
    {"class": "sklearn.linear_model.LogisticRegression", "params": {"C": 1.0}},
    {"class": "subprocess.Popen", "params": {"args": ["touch", POPEN_TARGET]}},
    "legacy_estimator_probe.LogisticRegression",
]


@pytest.mark.parametrize("payload", SKLEARN_PAYLOADS, ids=["class-params", "underscored", "sklearn", "popen", "str"])
def test_sklearn_model_tag_is_never_honoured(
    payload: Any, walker: str, fake_estimator: pathlib.Path, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    imported: list[str] = []
    real_import_module = importlib.import_module

    def spy(name: str, package: str | None = None) -> Any:
        if not name.startswith("datason."):
            imported.append(name)
        return real_import_module(name, package)

    monkeypatch.setattr(importlib, "import_module", spy)
    modules_before = set(sys.modules)
    doc = {"model": env("sklearn.model", payload), "score": env("decimal.Decimal", "0.93")}
    popen_flag = tmp_path / "popen.flag"
    text = json.dumps(doc).replace(POPEN_TARGET, str(popen_flag))
    payload = json.loads(text)["model"][VALUE_KEY]

    got = datason.loads(text)
    assert got == {"model": env("sklearn.model", payload), "score": decimal.Decimal("0.93")}
    assert datason.deserialize(json.loads(text)) == got
    assert datason.auto_deserialize(json.loads(text)) == got
    with pytest.raises(DeserializationError) as info:
        datason.loads(text, get_strict_config())
    assert info.value.path == "$.model"
    assert "sklearn.model" in str(info.value)
    with pytest.raises(DeserializationError):
        datason.loads(text, get_api_config().replace(strict=True))

    assert imported == []
    assert not fake_estimator.exists()
    new_modules = set(sys.modules) - modules_before
    assert not any(m.startswith(("sklearn", "legacy_estimator_probe")) for m in new_modules)
    assert not popen_flag.exists()
