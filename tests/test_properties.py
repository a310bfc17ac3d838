"""Property tests: exact round trips for generated values, strict JSON output, the C and pure-Python walkers
agreeing, and mutated documents failing only with datason's own errors."""

from __future__ import annotations

import datetime as dt
import decimal
import fractions
import json
import math
import pathlib
import re
import struct
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import datason
from datason import DatasonError, SerializationError, decoder, encoder, fastpath
from datason._native import speedups
from datason.config import get_api_config

from .conftest import assert_same, strict_json

TYPE_KEY = "__datason_type__"
VALUE_KEY = "__datason_value__"
API = get_api_config()

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
MUTATION_SETTINGS = settings(SETTINGS, max_examples=100)

# --- strategies ------------------------------------------------------------------------------------------------------

ZONES = [
    zoneinfo.ZoneInfo(key)
    for key in ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/St_Johns")
]
# Offsets strictly between -1 s and +1 s (other than 0) are a known bug with its own test
# (test_sub_second_utc_offsets_round_trip): kept out of the random values so that these stay deterministic.
fixed_offsets = st.builds(
    lambda seconds, micros: dt.timezone(dt.timedelta(seconds=seconds, microseconds=micros)),
    st.integers(-86399, 86399),
    st.sampled_from([0, 0, 0, 1, 500000]),
).filter(lambda tz: not dt.timedelta(0) < abs(tz.utcoffset(None)) < dt.timedelta(seconds=1))
named_offsets = st.builds(
    lambda minutes, name: dt.timezone(dt.timedelta(minutes=minutes), name),
    st.integers(-1439, 1439),
    st.text(min_size=1, max_size=6),
)
timezones = st.one_of(st.none(), st.just(dt.UTC), fixed_offsets, named_offsets, st.sampled_from(ZONES))
datetimes = st.builds(
    lambda d, fold: d.replace(fold=fold),
    st.datetimes(timezones=timezones),
    st.sampled_from([0, 0, 0, 1]),
)
times = st.builds(
    lambda t, fold: t.replace(fold=fold),
    st.times(timezones=st.one_of(st.none(), st.just(dt.UTC), fixed_offsets, st.sampled_from(ZONES))),
    st.sampled_from([0, 0, 0, 1]),
)
decimals = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.builds(
        lambda sign, digits, exp: decimal.Decimal((sign, tuple(digits), exp)),
        st.integers(0, 1),
        st.lists(st.integers(0, 9), min_size=1, max_size=40),
        st.integers(-60, 60),
    ),
)
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=16)
key_texts = st.one_of(texts, st.sampled_from([TYPE_KEY, VALUE_KEY, "", "a b", "x.y", "0"]))
big_ints = st.one_of(
    st.integers(), st.integers(-(2**200), 2**200), st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64])
)
floats = st.one_of(st.floats(), st.just(-0.0))

hashable_leaves = st.one_of(
    st.none(),
    st.booleans(),
    big_ints,
    st.floats(allow_nan=False),
    texts,
    st.binary(max_size=16),
    decimals.filter(lambda d: d.is_finite()),
    st.fractions(),
    st.dates(),
    st.datetimes(),
    st.uuids(),
)
hashables = st.recursive(
    hashable_leaves,
    lambda children: st.lists(children, max_size=3).map(tuple) | st.frozensets(children, max_size=3),
    max_leaves=6,
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    big_ints,
    floats,
    texts,
    st.binary(max_size=32),
    st.binary(max_size=8).map(bytearray),
    decimals,
    st.fractions(),
    datetimes,
    st.dates(),
    times,
    st.timedeltas(),
    st.uuids(),
    st.builds(complex, floats, floats),
)
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(key_texts, children, max_size=4),
        st.dictionaries(hashables, children, max_size=4),
        st.sets(hashables, max_size=4),
        st.frozensets(hashables, max_size=4),
    ),
    max_leaves=20,
)


def canon(x: Any) -> str:
    """A canonical text for a hashable value: sets sorted recursively (repr order depends on insertion)."""
    name = type(x).__name__
    if isinstance(x, set | frozenset):
        return name + "{" + ",".join(sorted(canon(e) for e in x)) + "}"
    if isinstance(x, tuple):
        return name + "(" + ",".join(canon(e) for e in x) + ")"
    if isinstance(x, float):
        return name + x.hex() if x == x else name + "nan"
    return name + repr(x)


def assert_exact(got: Any, want: Any, path: str = "$") -> None:
    """``assert_same``, but comparing sets (and dict keys) by canonical element texts, so that two equal
    frozensets whose items were inserted in another order compare equal."""
    assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, set | frozenset):
        assert got == want, path
        assert sorted(map(canon, got)) == sorted(map(canon, want)), path
    elif isinstance(want, dict):
        assert len(got) == len(want), path
        g_items = sorted(got.items(), key=lambda kv: canon(kv[0]))
        w_items = sorted(want.items(), key=lambda kv: canon(kv[0]))
        for (gk, gv), (wk, wv) in zip(g_items, w_items, strict=True):
            assert canon(gk) == canon(wk), path + "<key>"
            assert_exact(gk, wk, path + "<key>")
            assert_exact(gv, wv, f"{path}[{wk!r}]")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_exact(g, w, f"{path}[{i}]")
    else:
        assert_same(got, want, path)


def python_walkers(call: Callable[[], Any]) -> Any:
    """Run ``call`` with the pure-Python walkers (the C accelerator switched off)."""
    with pytest.MonkeyPatch.context() as mp:
        for module in (encoder, decoder, fastpath):
            mp.setattr(module, "_speedups", None)
        return call()


# --- round trips ------------------------------------------------------------------------------------------------------


@SETTINGS
@given(value=values)
def test_dumps_loads_round_trip(value: Any, walker: str) -> None:
    text = datason.dumps(value)
    strict_json(text)
    assert_exact(datason.loads(text), value)
    assert_exact(datason.loads(text.encode("utf-8")), value)


@SETTINGS
@given(value=values, indent=st.sampled_from([2, 4, "\t"]), sort_keys=st.booleans())
def test_dumps_loads_round_trip_with_formatting(value: Any, indent: Any, sort_keys: bool, walker: str) -> None:
    text = datason.dumps(value, indent=indent, sort_keys=sort_keys)
    strict_json(text)
    assert_exact(datason.loads(text), value)


@SETTINGS
@given(value=values)
def test_serialize_through_stdlib_json(value: Any, walker: str) -> None:
    tree = datason.serialize(value)
    text = json.dumps(tree, allow_nan=False)
    assert_exact(datason.deserialize(json.loads(text)), value)
    assert_exact(datason.loads(text), value)


@SETTINGS
@given(value=values)
def test_plain_mode_is_strict_json_or_serialization_error(value: Any, walker: str) -> None:
    try:
        text = datason.dumps(value, API)
    except SerializationError:
        return
    strict_json(text)
    assert TYPE_KEY not in text or TYPE_KEY in repr(value)
    tree = datason.serialize(value, API)
    assert strict_json(text) == json.loads(json.dumps(tree))


FLOAT_SETTINGS = settings(SETTINGS, max_examples=300)
any_floats = st.one_of(
    st.floats(),
    st.floats(min_value=-1e-300, max_value=1e-300),
    st.floats(allow_subnormal=True, min_value=-1e-307, max_value=1e-307),
    st.floats(min_value=1e15, max_value=1e25),
    st.integers(0, 2**64 - 1).map(lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0]),
)


@FLOAT_SETTINGS
@given(numbers=st.lists(any_floats, min_size=1, max_size=64))
def test_floats_are_written_exactly(numbers: list[float], walker: str) -> None:
    """Every finite float is written so that any correct JSON reader (here the json module) gets its bits back."""
    finite = [x for x in numbers if math.isfinite(x)]
    for config in (None, API):
        text = datason.dumps(finite, config)
        back = json.loads(text)
        assert [struct.pack("<d", x) for x in back] == [struct.pack("<d", x) for x in finite], text
        assert all(type(x) is float for x in back)
    assert_exact(datason.loads(datason.dumps(numbers)), numbers)
    assert_exact(datason.loads(datason.dumps({"k": numbers}, indent=2)), {"k": numbers})


# Short strings are read in overlapping words by the C writer: every length to 40 and every byte class matters.
PLAIN_RUN = st.text(alphabet="aZ0 /~", max_size=20)
ESCAPE_PRONE = st.builds(
    lambda head, mark, tail: head + mark + tail,
    PLAIN_RUN,
    st.sampled_from(['"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "\x80", "é", "€", "😀", ""]),
    PLAIN_RUN,
)


@SETTINGS
@given(
    texts=st.lists(ESCAPE_PRONE, max_size=8),
    numbers=st.lists(st.one_of(st.integers(-300, 300), st.integers(-(2**63), 2**64 - 1)), max_size=8),
)
def test_strings_and_ints_are_written_as_the_json_module_writes_them(
    texts: list[str], numbers: list[int], walker: str
) -> None:
    """Plain mode writes str (values and keys) and int as ``json.dumps(ensure_ascii=False)`` does, whichever
    walker writes them (the encoder's own pass, not orjson's plain fast path)."""
    value = {"texts": texts, "keys": {t: i for i, t in enumerate(texts)}, "numbers": numbers}
    want = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert encoder.Encoder(API).dumpb(value, sort_keys=False) == want


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(microseconds=1))),
        dt.datetime(2024, 1, 2, tzinfo=dt.timezone(dt.timedelta(microseconds=-250000))),
        dt.time(0, 0, tzinfo=dt.timezone(dt.timedelta(microseconds=999999))),
    ],
    ids=["datetime-plus-1us", "datetime-minus-250ms", "time-plus-999999us"],
)
def test_sub_second_utc_offsets_round_trip(value: Any, walker: str, request: pytest.FixtureRequest) -> None:
    assert_exact(datason.loads(datason.dumps(value)), value)


# --- the C accelerator and the pure-Python walkers agree --------------------------------------------------------------


@pytest.mark.skipif(speedups is None, reason="the C accelerator is not built")
@SETTINGS
@given(value=values)
def test_c_and_python_walkers_agree(value: Any) -> None:
    for config in (None, API):
        try:
            c_tree = datason.serialize(value, config)
        except SerializationError as exc:
            with pytest.raises(SerializationError) as info:
                python_walkers(lambda config=config: datason.serialize(value, config))
            assert info.value.path == exc.path
            continue
        py_tree = python_walkers(lambda config=config: datason.serialize(value, config))
        assert_exact(c_tree, py_tree)
        # the texts may differ in float spelling ("1e-06" / "1e-6"), not in what they say
        c_text = datason.dumps(value, config)
        py_text = python_walkers(lambda config=config: datason.dumps(value, config))
        assert_exact(json.loads(c_text), json.loads(py_text))
    text = datason.dumps(value)
    c_value = datason.loads(text)
    py_value = python_walkers(lambda: datason.loads(text))
    assert_exact(c_value, py_value)
    tree = json.loads(text)
    assert_exact(datason.deserialize(tree), python_walkers(lambda: datason.deserialize(json.loads(text))))
    try:
        plain = json.loads(datason.dumps(value, API))
    except SerializationError:
        return
    assert_exact(
        datason.auto_deserialize(plain), python_walkers(lambda: datason.auto_deserialize(json.loads(json.dumps(plain))))
    )


# --- mutated documents: only datason errors escape --------------------------------------------------------------------

KNOWN_TAGS = [
    "bytes",
    "bytearray",
    "complex",
    "decimal.Decimal",
    "fractions.Fraction",
    "int",
    "float",
    "dict",
    "tuple",
    "set",
    "frozenset",
    "range",
    "datetime",
    "date",
    "time",
    "timedelta",
    "datetime.timezone",
    "zoneinfo.ZoneInfo",
    "uuid.UUID",
    "pathlib.Path",
    "pathlib.PurePosixPath",
    "pathlib.PureWindowsPath",
    "numpy.ndarray",
    "pandas.DataFrame",
    "no.such.Tag",
]
ZERO_DEN = re.compile(r"-?[0-9]+/0+")
TRICKY_STRINGS = [
    "1/0",
    "0/0",
    "-1/3",
    "nan",
    "inf",
    "-inf",
    "NaN",
    "1e400",
    "12a",
    "99999999999999999999999999",
    "2024-01-02T03:04:05",
    "2024-13-45T99:99:99",
    "25:61:61",
    "12345678-1234-5678-1234-567812345678",
    "AAAA",
    "A===",
    "Europe/Paris",
    "../../etc/passwd",
    "",
    "\x00",
    "/",
]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(TRICKY_STRINGS),
    texts,
)
random_json = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.one_of(
                st.sampled_from(["real", "imag", "start", "stop", "step", "days", "seconds", "iso", "tz", "fold"]),
                texts,
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=10,
)

# A corpus holding every builtin tag, plus generated values.
CORPUS_VALUE = {
    "bytes": b"\x00\x01binary",
    "bytearray": bytearray(b"ab"),
    "complex": complex(1.5, -2),
    "decimal": decimal.Decimal("1.10"),
    "fraction": fractions.Fraction(-1, 3),
    "big": 2**70,
    "nan": float("nan"),
    "int_keys": {1: "a", (1, 2): "b"},
    "tuple": (1, "x"),
    "set": {1, 2},
    "frozenset": frozenset({"a"}),
    "range": range(1, 10, 2),
    "datetime": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    "zoned": dt.datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=zoneinfo.ZoneInfo("America/New_York")),
    "named_offset": dt.datetime(2024, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=1), "CET")),
    "date": dt.date(2024, 1, 2),
    "time": dt.time(1, 2, 3, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    "timedelta": dt.timedelta(days=1, seconds=2, microseconds=3),
    "timezone": dt.timezone(dt.timedelta(hours=5, minutes=30), "IST"),
    "zone": zoneinfo.ZoneInfo("Europe/Paris"),
    "uuid": uuid.UUID(int=12345),
    "path": pathlib.PurePosixPath("/a/b"),
    "markers": {TYPE_KEY: "datetime", VALUE_KEY: "x"},
}
CORPUS_TEXT = datason.dumps(CORPUS_VALUE)
documents = st.one_of(st.just(CORPUS_TEXT), values.map(datason.dumps))


def _envelopes(node: Any, out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        if len(node) == 2 and TYPE_KEY in node and VALUE_KEY in node:
            out.append(node)
        for item in node.values():
            _envelopes(item, out)
    elif isinstance(node, list):
        for item in node:
            _envelopes(item, out)
    return out


def _load_only_datason_errors(data: str | bytes) -> None:
    try:
        datason.loads(data)
    except DatasonError:
        pass


def _deserialize_only_datason_errors(tree: Any) -> None:
    for call in (datason.deserialize, datason.auto_deserialize):
        try:
            call(tree)
        except DatasonError:
            pass


def _replace_payload(text: str, data: st.DataObject) -> Any:
    tree = json.loads(text)
    envelopes = _envelopes(tree, [])
    assume(envelopes)
    target = data.draw(st.sampled_from(envelopes))
    target[VALUE_KEY] = data.draw(random_json)
    return tree


def _zero_fraction(envelope: dict[str, Any]) -> bool:
    payload = envelope[VALUE_KEY]
    return envelope[TYPE_KEY] == "fractions.Fraction" and isinstance(payload, str) and bool(ZERO_DEN.fullmatch(payload))


@MUTATION_SETTINGS
@given(text=documents, data=st.data())
def test_mutation_replace_payload(text: str, data: st.DataObject, walker: str) -> None:
    tree = _replace_payload(text, data)
    _load_only_datason_errors(json.dumps(tree))
    _deserialize_only_datason_errors(tree)
    # the known trigger, so that this strict xfail is deterministic
    zero = {TYPE_KEY: "fractions.Fraction", VALUE_KEY: data.draw(st.sampled_from(["1/0", "0/0", "-7/0"]))}
    _load_only_datason_errors(json.dumps([zero]))


@MUTATION_SETTINGS
@given(text=documents, data=st.data())
def test_mutation_replace_payload_without_zero_fractions(text: str, data: st.DataObject, walker: str) -> None:
    """The same property with the one known trigger (a fraction with a zero denominator) left out."""
    tree = _replace_payload(text, data)
    assume(not any(_zero_fraction(e) for e in _envelopes(tree, [])))
    _load_only_datason_errors(json.dumps(tree))
    _deserialize_only_datason_errors(tree)


@MUTATION_SETTINGS
@given(text=documents, data=st.data())
def test_mutation_change_tag(text: str, data: st.DataObject, walker: str) -> None:
    tree = json.loads(text)
    envelopes = _envelopes(tree, [])
    assume(envelopes)
    for envelope in data.draw(st.lists(st.sampled_from(envelopes), min_size=1, max_size=3)):
        envelope[TYPE_KEY] = data.draw(st.sampled_from(KNOWN_TAGS))
    assume(not any(_zero_fraction(e) for e in _envelopes(tree, [])))
    _load_only_datason_errors(json.dumps(tree))
    _deserialize_only_datason_errors(tree)


@MUTATION_SETTINGS
@given(text=documents, data=st.data())
def test_mutation_truncate(text: str, data: st.DataObject, walker: str) -> None:
    cut = data.draw(st.integers(0, max(len(text) - 1, 0)))
    _load_only_datason_errors(text[:cut])
    raw = text.encode("utf-8")
    _load_only_datason_errors(raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)))])


@MUTATION_SETTINGS
@given(text=documents, data=st.data())
@example(text='["abc"]', data=None)
def test_mutation_flip_byte(text: str, data: Any, walker: str) -> None:
    raw = bytearray(text.encode("utf-8"))
    if data is None:  # the explicit example: a high bit set inside a string
        raw[2] ^= 0x80
    else:
        for _ in range(data.draw(st.integers(1, 3))):
            position = data.draw(st.integers(0, len(raw) - 1))
            raw[position] ^= data.draw(st.integers(1, 255))
    _load_only_datason_errors(bytes(raw))
    try:
        as_text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return
    _load_only_datason_errors(as_text)
