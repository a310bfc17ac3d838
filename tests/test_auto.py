"""auto_deserialize: ISO datetimes and UUID strings in plain JSON come back typed (and numbers with
``aggressive``); containers are never guessed; the same input always gives the same output."""

from __future__ import annotations

import datetime as dt
import decimal
import fractions
import gc
import json
import pathlib
import uuid
import zoneinfo
from typing import Any

import pytest

import datason
from datason.config import SerializationConfig, get_api_config

from .conftest import assert_same

DEFAULT = SerializationConfig()
NO_DATES = DEFAULT.replace(parse_dates=False)
NO_UUIDS = DEFAULT.replace(parse_uuids=False)
NEITHER = DEFAULT.replace(parse_dates=False, parse_uuids=False)
UTC = dt.UTC


def fresh(text: str) -> str:
    """An equal string that is a new object (not interned, never the same id as ``text``)."""
    return (text + "\x00")[:-1]


# --- dates ---------------------------------------------------------------------------------------------------------

DATETIMES = [
    ("2024-01-02T03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2024-01-02T03:04:05+00:00", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2024-01-02T03:04:05+05:30", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=5.5)))),
    ("2024-01-02T03:04:05-08:00", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=-8)))),
    ("2024-01-02T03:04:05.123456", dt.datetime(2024, 1, 2, 3, 4, 5, 123456)),
    ("2024-01-02T03:04:05.123Z", dt.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)),
    (
        "2024-01-02T03:04:05.123456+01:00",
        dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    ),
    ("2024-01-02 03:04:05", dt.datetime(2024, 1, 2, 3, 4, 5)),
    ("2024-01-02 03:04:05.5", dt.datetime(2024, 1, 2, 3, 4, 5, 500000)),
    ("2024-01-02T03:04", dt.datetime(2024, 1, 2, 3, 4)),
    ("1970-01-01T00:00:00Z", dt.datetime(1970, 1, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize(("text", "expected"), DATETIMES, ids=[t for t, _ in DATETIMES])
def test_iso_datetimes_become_datetimes(text: str, expected: dt.datetime, walker: str) -> None:
    for config in (None, DEFAULT, get_api_config(), NO_UUIDS):
        got = datason.auto_deserialize({"at": text, "list": [text]}, config)
        assert_same(got, {"at": expected, "list": [expected]})
    # the same document through loads: parsing then auto
    assert_same(datason.auto_deserialize(datason.loads(json.dumps([text]))), [expected])


@pytest.mark.parametrize(("text", "expected"), DATETIMES[:4], ids=[t for t, _ in DATETIMES[:4]])
def test_parse_dates_off_keeps_strings(text: str, expected: dt.datetime, walker: str) -> None:
    for config in (NO_DATES, NEITHER, get_api_config().replace(parse_dates=False)):
        assert datason.auto_deserialize({"at": text}, config) == {"at": text}
        assert datason.auto_deserialize({"at": text}, config, aggressive=True) == {"at": text}


NOT_DATETIMES = [
    "2024-01-02",  # a date alone is left alone (too ambiguous to guess)
    "2024-13-02T03:04:05",  # month 13
    "2024-02-30T00:00:00",  # no such day
    "2024-01-02T25:00:00",
    "20240102T030405",  # basic format
    "2024-01-02T03:04:05 and more",
    "on 2024-01-02T03:04:05",
    "2024-01-02T03:04:05+25:00",
    "02/01/2024 03:04",
    "2024-01-02X03:04:05",
    "yesterday",
]


@pytest.mark.parametrize("text", NOT_DATETIMES)
def test_strings_that_are_not_datetimes_stay_strings(text: str, walker: str) -> None:
    assert datason.auto_deserialize([text]) == [text]
    assert type(datason.auto_deserialize(text)) is str


# --- UUIDs ------------------------------------------------------------------------------------------------------------

UUID_TEXT = "6f1c2a9e-3b1d-4c8e-9f00-1234567890ab"


@pytest.mark.parametrize("text", [UUID_TEXT, UUID_TEXT.upper(), "00000000-0000-0000-0000-000000000000"])
def test_uuid_strings_become_uuids(text: str, walker: str) -> None:
    assert_same(datason.auto_deserialize({"id": text}), {"id": uuid.UUID(text)})
    assert_same(datason.auto_deserialize([[text]], NO_DATES), [[uuid.UUID(text)]])


def test_parse_uuids_off_keeps_strings(walker: str) -> None:
    for config in (NO_UUIDS, NEITHER, get_api_config()):  # the api preset has parse_uuids=False
        assert datason.auto_deserialize({"id": UUID_TEXT}, config) == {"id": UUID_TEXT}


@pytest.mark.parametrize(
    "text",
    [
        UUID_TEXT.replace("-", ""),  # 32 hex digits
        "{" + UUID_TEXT + "}",
        "urn:uuid:" + UUID_TEXT,
        UUID_TEXT[:-1] + "g",
        UUID_TEXT + "0",
        " " + UUID_TEXT,
        UUID_TEXT.replace("-", "_"),
    ],
)
def test_non_canonical_uuid_strings_stay_strings(text: str, walker: str) -> None:
    assert datason.auto_deserialize([text]) == [text]


# --- aggressive numbers ----------------------------------------------------------------------------------------------

NUMBERS = [
    ("42", 42),
    ("-3", -3),
    ("0", 0),
    ("-0", 0),
    ("1.5", 1.5),
    ("-0.25", -0.25),
    ("0.0", 0.0),
    ("-0.0", -0.0),
    ("1e5", 100000.0),
    ("1E-3", 0.001),
    ("2.5e+2", 250.0),
    ("123456789012345678901234567890", 123456789012345678901234567890),
]


@pytest.mark.parametrize(("text", "expected"), NUMBERS, ids=[t for t, _ in NUMBERS])
def test_aggressive_numeric_strings(text: str, expected: Any, walker: str) -> None:
    assert_same(datason.auto_deserialize({"v": text}, aggressive=True), {"v": expected})
    assert_same(datason.auto_deserialize([text], NEITHER, aggressive=True), [expected])
    # not without aggressive
    assert_same(datason.auto_deserialize({"v": text}), {"v": text})


NOT_NUMBERS = [
    "abc",
    "1e5x",
    "x1",
    "007",  # leading zeros: not a JSON number, so the string is kept (it is likely an identifier or a code)
    "00",
    "01.5",
    "+42",
    " 42",
    "42 ",
    ".5",
    "5.",
    "1_000",
    "1,000",
    "\u0664\u0662",  # Arabic-Indic digits
    "NaN",
    "nan",
    "Infinity",
    "inf",
    "-",
    "",
    "0x10",
    "1e",
    "--1",
    "1" * 40,  # longer than the numeric-string cap
]


@pytest.mark.parametrize("text", NOT_NUMBERS)
def test_aggressive_leaves_non_numbers_alone(text: str, walker: str) -> None:
    assert datason.auto_deserialize({"v": text}, aggressive=True) == {"v": text}
    assert type(datason.auto_deserialize(text, aggressive=True)) is str


def test_aggressive_does_not_touch_keys_or_non_strings(walker: str) -> None:
    value = {"42": [1, 2.5, None, True], "1.5": {"7": "7"}}
    assert_same(datason.auto_deserialize(value, aggressive=True), {"42": [1, 2.5, None, True], "1.5": {"7": 7}})


# --- containers are never guessed -------------------------------------------------------------------------------------

NEVER_GUESSED: list[tuple[str, Any]] = [
    ("three-short-keys", {"a": 1, "b": 2, "c": 3}),
    ("series-like", {"_series_name": "s", "0": 1.5, "1": 2.5}),
    ("numeric-list", [1, 2, 3, 4.5]),
    ("nested-numeric-lists", [[1, 2], [3, 4]]),
    ("records", [{"a": 1, "b": 2.0}, {"a": 3, "b": 4.0}]),
    ("path-like", "/api/v1/users"),
    ("windows-path-like", "C:\\Users\\x"),
    ("value-42", {"value": "42"}),
    ("decimal-like", {"value": "1.10"}),
    ("complex-like", {"real": 1.0, "imag": 2.0}),
    ("range-like", {"start": 0, "stop": 10, "step": 2}),
    ("timedelta-like", {"days": 1, "seconds": 2, "microseconds": 3}),
    ("split-like", {"columns": ["a"], "index": [0], "data": [[1]]}),
    ("base64-like", "AAECAwQ="),
    ("bool-like", ["true", "false", "null"]),
    ("empty", [{}, [], ""]),
]


@pytest.mark.parametrize(("name", "value"), NEVER_GUESSED, ids=[c[0] for c in NEVER_GUESSED])
def test_containers_and_lookalikes_are_never_guessed(name: str, value: Any, walker: str) -> None:
    copy = json.loads(json.dumps(value))
    for config in (None, get_api_config()):
        assert_same(datason.auto_deserialize(copy, config), value)
    assert_same(datason.loads(json.dumps(value)), value)
    assert_same(datason.loads(json.dumps(value), get_api_config()), value)
    assert json.loads(json.dumps(value)) == copy  # the input tree is left as it was


def test_value_42_with_aggressive_becomes_an_int_not_a_decimal(walker: str) -> None:
    assert_same(datason.auto_deserialize({"value": "42"}, aggressive=True), {"value": 42})
    assert_same(datason.auto_deserialize({"value": "1.10"}, aggressive=True), {"value": 1.1})


def test_auto_deserialize_does_not_modify_its_input(walker: str) -> None:
    tree = {"at": "2024-01-02T03:04:05", "id": UUID_TEXT, "n": ["42"]}
    before = json.dumps(tree)
    datason.auto_deserialize(tree, aggressive=True)
    assert json.dumps(tree) == before


# --- determinism ------------------------------------------------------------------------------------------------------


def test_same_input_same_output_over_repeated_calls(walker: str) -> None:
    texts = [
        "2024-01-02T03:04:05+00:00",
        UUID_TEXT,
        "42",
        "/api/v1/users",
        "2024-01-02T03:04:05.000001",
        "not a date at all, but 36 chars long",
    ]
    first = [datason.auto_deserialize([t], aggressive=True)[0] for t in texts]
    for i in range(1000):
        t = texts[i % len(texts)]
        got = datason.auto_deserialize({"k": [fresh(t)]}, aggressive=True)["k"][0]
        assert_same(got, first[i % len(texts)])
        if i % 97 == 0:
            gc.collect()


def test_reused_string_addresses_do_not_leak_results(walker: str) -> None:
    """A cache keyed by id() would hand a new string the result of a dead one that lived at the same address."""
    same_length = ["2024-01-02T03:04:05+00:00", "just some text, 25 chars!", "2025-12-31T23:59:59+00:00"]
    assert len({len(s) for s in same_length}) == 1
    for i in range(1000):
        text = fresh(same_length[i % 3])
        got = datason.auto_deserialize(text)
        if i % 3 == 1:
            assert got == same_length[1]
        else:
            assert got == dt.datetime.fromisoformat(same_length[i % 3])
        del text, got


# --- typed envelopes inside plain JSON are still decoded ------------------------------------------------------------

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# (name, value, aggressive)
TYPED_INSIDE: list[tuple[str, Any, bool]] = [
    ("tuple", ("x", 1, None), False),
    ("set", {"a", "b"}, False),
    ("path", pathlib.Path("/api/v1/users"), False),
    ("date", dt.date(2024, 1, 2), False),
    ("fraction", fractions.Fraction(1, 3), False),
    ("uuid", uuid.UUID(UUID_TEXT), False),
    ("datetime", dt.datetime(2024, 1, 2, 3, 4, 5), False),
    ("uuid-key", {uuid.UUID(UUID_TEXT): 1}, False),
    ("zoned-datetime", dt.datetime(2024, 7, 1, 12, tzinfo=PARIS), False),
    ("decimal-aggressive", decimal.Decimal("42"), True),
    ("big-int-aggressive", 2**70, True),
    ("bytes-aggressive", b"\xd7m\xf8", True),  # base64 "1234"
]


@pytest.mark.parametrize(("name", "value", "aggressive"), TYPED_INSIDE, ids=[c[0] for c in TYPED_INSIDE])
def test_typed_envelopes_inside_are_decoded(name: str, value: Any, aggressive: bool, walker: str) -> None:
    tree = json.loads(datason.dumps({"x": [value], "when": "2024-01-02T03:04:05"}))
    got = datason.auto_deserialize(tree, aggressive=aggressive)
    assert_same(got, {"x": [value], "when": dt.datetime(2024, 1, 2, 3, 4, 5)})


def test_readme_plain_round_trip(walker: str) -> None:
    record = {
        "id": uuid.UUID("6f1c2a9e-3b1d-4c8e-9f00-1234567890ab"),
        "at": dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        "price": decimal.Decimal("19.90"),
        "shape": (3, 4),
    }
    api = get_api_config()
    back = datason.auto_deserialize(datason.loads(datason.dumps(record, api), api), api)
    assert_same(back["at"], record["at"])
    assert back["id"] == str(record["id"])  # the api preset does not parse UUIDs
    assert back["price"] == "19.90"  # nor numbers
    assert back["shape"] == [3, 4]
    with_uuids = datason.auto_deserialize(json.loads(datason.dumps(record, api)), api.replace(parse_uuids=True))
    assert with_uuids["id"] == record["id"]
