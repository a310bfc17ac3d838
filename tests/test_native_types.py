"""The C accelerator writes and reads the registered types (NumPy scalars and arrays, datetimes in any time
zone, dates, times, timedeltas, Decimals, unregistered Enums and dataclasses) exactly as the pure-Python
walkers do: same trees, same JSON values, same errors, same decoded values, in typed and plain mode."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import struct
import zoneinfo
from typing import Any

import numpy as np
import orjson
import pydantic
import pytest
from dateutil import tz as dateutil_tz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import datason
from datason._native import speedups
from datason.config import SerializationConfig, get_api_config
from datason.encoder import Encoder
from datason.errors import DatasonError
from datason.registry import REGISTRY
from tests.conftest import assert_same
from tests.test_properties import python_walkers

pytestmark = pytest.mark.skipif(speedups is None, reason="the C accelerator is not built")

API = get_api_config()
CONFIGS = {
    "typed": None,
    "api": API,
    "typed-sorted": SerializationConfig(sort_keys=True),
    "readable-arrays": SerializationConfig(array_format="readable"),
    "plain-unsorted": SerializationConfig(include_type_hints=False),
    "strict": SerializationConfig(strict=True),
    "unix-dates": SerializationConfig(include_type_hints=False, date_format="unix"),
}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 10


class Kind(str, enum.Enum):  # noqa: UP042 - the mixin form users write
    A = "a"


class Shade(enum.Enum):  # registered: typed mode tags it and loads rebuilds it (C writes and reads it)
    LIGHT = "light"
    DARK = 2
    PAIR = (1, 2)


datason.register_type(Shade)


@dataclasses.dataclass
class Point:
    x: float
    y: Any
    label: str = "p"


@dataclasses.dataclass(frozen=True, slots=True)
class Frozen:
    when: dt.datetime
    amount: decimal.Decimal


class Reading(pydantic.BaseModel):
    at: dt.datetime
    value: float
    tags: list[str] = []
    note: str | None = None


INT_TYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
ZONES = [zoneinfo.ZoneInfo(k) for k in ("Europe/Paris", "America/St_Johns", "Asia/Kolkata", "UTC", "Pacific/Chatham")]


def _int_scalar(t: Any) -> Any:
    info = np.iinfo(t)
    return st.integers(int(info.min), int(info.max)).map(t)


float32_bits = st.integers(0, 2**32 - 1).map(lambda b: np.frombuffer(struct.pack("<I", b), np.float32)[0])
float64_bits = st.integers(0, 2**64 - 1).map(lambda b: np.frombuffer(struct.pack("<Q", b), np.float64)[0])
numpy_scalars = st.one_of(
    st.booleans().map(np.bool_),
    *(_int_scalar(t) for t in INT_TYPES),
    float32_bits,
    st.floats(width=32).map(np.float32),
    float64_bits,
    st.floats().map(np.float64),
    st.floats(width=16).map(np.float16),
    st.builds(complex, st.floats(width=32), st.floats(width=32)).map(np.complex64),
)
array_dtypes = st.sampled_from(["?", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8", "f2", ">f4", "c8"])
shapes = st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple)


@st.composite
def arrays(draw: Any) -> np.ndarray:
    dtype = np.dtype(draw(array_dtypes))
    shape = draw(shapes)
    size = int(np.prod(shape)) if shape else 1
    raw = draw(st.binary(min_size=size * dtype.itemsize, max_size=size * dtype.itemsize))
    a = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if dtype.kind == "b":
        a = a.view("u1").astype(bool).reshape(shape)
    if draw(st.booleans()) and a.ndim == 2:
        a = a.T  # not C-contiguous: Python writes it
    return a


fixed_offsets = st.builds(
    lambda m, s, us: dt.timezone(dt.timedelta(minutes=m, seconds=s, microseconds=us)),
    st.integers(-1439, 1439),
    st.sampled_from([0, 0, 0, 30]),
    st.sampled_from([0, 0, 0, 0, 1]),
)
timezones = st.one_of(
    st.none(),
    st.just(dt.UTC),
    fixed_offsets,
    st.builds(
        lambda m, n: dt.timezone(dt.timedelta(minutes=m), n), st.integers(-600, 600), st.sampled_from(["X", "CET"])
    ),
    st.sampled_from(ZONES),
    st.sampled_from([dateutil_tz.gettz("Europe/Paris"), dateutil_tz.tzoffset("X", 3600), dateutil_tz.tzutc()]),
)
datetimes = st.builds(
    lambda d, fold: d.replace(fold=fold), st.datetimes(timezones=timezones), st.sampled_from([0, 0, 0, 1])
)
leaves = st.one_of(
    numpy_scalars,
    arrays(),
    datetimes,
    st.dates(),
    st.times(),
    st.times(timezones=st.one_of(st.none(), fixed_offsets)),
    st.timedeltas(),
    st.sampled_from([dt.timedelta.max, dt.timedelta.min, dt.timedelta(microseconds=-1)]),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(list(Color) + list(Level) + list(Kind) + list(Shade)),
    st.builds(Point, st.floats(allow_nan=False), st.one_of(st.none(), st.floats(width=32).map(np.float32))),
    st.builds(Frozen, st.datetimes(timezones=st.sampled_from(ZONES)), st.decimals(allow_nan=False, places=2)),
    st.builds(
        Reading, at=st.datetimes(timezones=st.just(dt.UTC)), value=st.floats(), tags=st.lists(st.text(max_size=3))
    ),
    st.uuids(),
    st.text(max_size=5),
)
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)


def _outcome(call: Any) -> Any:
    """The call's result, or the datason error's kind, reason and path."""
    try:
        return ("ok", call())
    except DatasonError as exc:
        return ("error", type(exc).__name__, exc.path, exc.type_name)


def _same_outcome(c: Any, py: Any, *, parse: bool = False, order_free: bool = False) -> None:
    """Same result, or the same error. ``order_free``: with sort_keys the C writer meets a dict's values in key
    order, the reference in insertion order, so when a value holds two faults each may report a different one."""
    assert c[0] == py[0], (c, py)
    if c[0] == "error":
        assert c[1] == py[1] if order_free else c == py, (c, py)
    elif parse:  # texts may differ in float spelling, never in what they say
        _same(json.loads(c[1]), json.loads(py[1]))
    else:
        _same(c[1], py[1])


def _same(got: Any, want: Any, path: str = "$") -> None:
    """assert_same, with NumPy arrays and scalars compared by type, dtype, shape and bytes."""
    assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, np.ndarray):
        assert (got.dtype.str, got.shape) == (want.dtype.str, want.shape), path
        assert got.tobytes() == want.tobytes(), path
    elif isinstance(want, np.generic):
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), path
    elif isinstance(want, dict):
        assert list(got) == list(want), path
        for key in want:
            _same(got[key], want[key], f"{path}[{key!r}]")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{path}[{i}]")
    else:
        assert_same(got, want, path)


@SETTINGS
@given(value=values)
def test_c_and_python_agree_on_registered_types(value: Any) -> None:
    for name, config in CONFIGS.items():
        for sort_keys in (False, True):
            c = _outcome(lambda config=config, sort_keys=sort_keys: datason.dumps(value, config, sort_keys=sort_keys))
            py = python_walkers(
                lambda config=config, sort_keys=sort_keys: _outcome(
                    lambda: datason.dumps(value, config, sort_keys=sort_keys)
                )
            )
            _same_outcome(c, py, parse=True, order_free=sort_keys)
            if c[0] == "ok" and sort_keys:  # key order is part of sort_keys' promise
                assert list(_keys(json.loads(c[1]))) == list(_keys(json.loads(py[1]))), name
        c_tree = _outcome(lambda config=config: datason.serialize(value, config))
        _same_outcome(c_tree, python_walkers(lambda config=config: _outcome(lambda: datason.serialize(value, config))))
        if c[0] == "ok":
            text = c[1]
            _same_outcome(
                _outcome(lambda config=config, text=text: datason.loads(text, config)),
                python_walkers(lambda config=config, text=text: _outcome(lambda: datason.loads(text, config))),
            )
            plain = json.loads(text)
            _same_outcome(
                _outcome(lambda config=config, plain=plain: datason.auto_deserialize(plain, config)),
                python_walkers(
                    lambda config=config, plain=plain: _outcome(lambda: datason.auto_deserialize(plain, config))
                ),
            )


def _keys(node: Any) -> Any:
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _keys(v)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


@SETTINGS
@given(value=values)
def test_typed_round_trip_of_registered_types(value: Any) -> None:
    """What the C path writes, it reads back to the same types and bits (dataclasses and enums come back as their
    natural form, as documented)."""
    try:
        text = datason.dumps(value)
    except DatasonError:
        return
    _same(datason.loads(text), python_walkers(lambda: datason.loads(text)))


def test_float32_digits_match_the_reference_on_many_bit_patterns() -> None:
    """Every float32 is written as the Python reference writes it (its shortest digits, or the exact double in
    the rare double-rounding case), through scalars and through arrays."""
    rng = np.random.default_rng(20261207)
    bits = np.concatenate(
        [
            rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32),
            np.arange(0, 2**16, dtype=np.uint32),  # subnormals
            np.arange(0x7F7F0000, 0x7F800000, dtype=np.uint32),  # the largest finite values
            np.array([0x1C0B0E11, 0x00800000, 0x7F7FFFFF, 0x80000001], dtype=np.uint32),
        ]
    )
    values = bits.view(np.float32)
    values = values[np.isfinite(values)]
    datason.dumps([np.float32(1), np.zeros(1, np.float32)], API)  # the first of a type registers it with C
    c_text = datason.dumps(values, API)
    py_text = python_walkers(lambda: datason.dumps(values, API))
    c_numbers, py_numbers = json.loads(c_text), json.loads(py_text)
    assert c_numbers == py_numbers
    assert np.array_equal(
        np.array(c_numbers, dtype=np.float64).astype(np.float32).view(np.uint32), values.view(np.uint32)
    )
    sample = [np.float32(v) for v in values[:2000]]
    assert json.loads(datason.dumps(sample, API)) == py_numbers[:2000]


def test_float64_digits_are_the_shortest_that_read_back_on_many_bit_patterns() -> None:
    """Every double is written with ``repr``'s shortest round-tripping digits, in the same text as orjson:
    random bit patterns, integers around 2**53, short decimals, powers of ten, subnormals and the extremes."""
    rng = np.random.default_rng(20261207)
    bits = np.concatenate(
        [
            rng.integers(0, 2**63, 200_000, dtype=np.uint64) | (rng.integers(0, 2, 200_000, dtype=np.uint64) << 63),
            np.arange(0, 4096, dtype=np.uint64),  # subnormals
            np.array([0x7FEFFFFFFFFFFFFF, 0x0010000000000000, 0x000FFFFFFFFFFFFF, 0x8000000000000000], np.uint64),
        ]
    )
    doubles = bits.view(np.float64)
    integers = np.arange(-20_000, 20_000, dtype=np.float64)
    near_2_53 = (2.0**53 + np.arange(-3000, 3000, dtype=np.float64)) * np.array([1.0, -1.0]).repeat(3000)
    big_integers = np.round(rng.random(20_000) * 10.0 ** rng.integers(0, 22, 20_000))
    scaled = rng.random(40_000) * 10.0 ** rng.integers(-3, 12, 40_000)
    short = np.array([round(x, int(d)) for x, d in zip(scaled.tolist(), rng.integers(0, 6, 40_000), strict=True)])
    # decimals of every length from 2 to 17 digits at random scales: the doubles nearest to them
    decimals = [
        float(f"{n}e{e}")
        for digits in range(2, 18)
        for n, e in zip(
            rng.integers(10 ** (digits - 1), 10**digits, 30_000 if digits > 12 else 5_000, dtype=np.uint64).tolist(),
            rng.integers(-40, 30, 30_000 if digits > 12 else 5_000).tolist(),
            strict=True,
        )
    ]
    # where the most significant of several dropped digits alone decides the rounding (found by such a search)
    decimals += [0.0093900572321801, 0.000151212674109265, 18394347.6076649]
    tens = np.array([10.0**k for k in range(-320, 309)] + [5e-324, 2.2250738585072014e-308, 1e16, 9999999999999998.0])
    values = np.concatenate([doubles, integers, near_2_53, big_integers, short, decimals, tens, -short])
    floats = [float(v) for v in values if np.isfinite(v)]
    assert speedups is not None
    # the C writer itself (a list of plain floats alone would go to orjson by the plain fast path)
    c_text = Encoder(API, native_ok=True).dumpb(floats, sort_keys=False).decode()
    assert c_text.encode() == orjson.dumps(floats)
    texts = c_text[1:-1].split(",")
    assert all(float(t) == x and _digits(t) == _digits(repr(x)) for t, x in zip(texts, floats, strict=True))


def _digits(text: str) -> str:
    """The significant digits of a number's text (``repr`` writes ``1e-05`` where JSON writers write ``1e-5``)."""
    mantissa = text.lstrip("-").split("e")[0].replace(".", "")
    return mantissa.strip("0") or "0"


def test_registry_change_takes_effect_for_c_written_types() -> None:
    """A user handler registered for a type C already writes replaces the built-in form at once."""
    value = {"amount": decimal.Decimal("1.10"), "when": dt.date(2024, 1, 2)}
    assert json.loads(datason.dumps(value, API)) == {"amount": "1.10", "when": "2024-01-02"}
    builtin = REGISTRY.for_type(decimal.Decimal)
    assert builtin is not None
    datason.register_type(
        decimal.Decimal,
        tag="test.Cents",
        encode=lambda d: int(d * 100),
        decode=lambda p: decimal.Decimal(p) / 100,
        replace=True,
    )
    try:
        assert json.loads(datason.dumps(value, API)) == {"amount": 110, "when": "2024-01-02"}
        assert datason.loads(datason.dumps(value)) == value
    finally:
        REGISTRY.add(builtin, replace=True)
    assert json.loads(datason.dumps(value, API)) == {"amount": "1.10", "when": "2024-01-02"}


def test_strict_mode_never_writes_natural_forms_from_c() -> None:
    datason.dumps([Color.RED, Point(1.0, 2)], API)  # registers both with the accelerator
    strict = SerializationConfig(strict=True)
    for value in (Color.RED, Point(1.0, 2)):
        with pytest.raises(DatasonError, match="strict mode"):
            datason.dumps([value], strict)


def test_every_float16_is_written_as_the_reference_writes_it() -> None:
    """All 63,488 finite float16 values, as an array and as scalars, in plain and typed mode."""
    values = np.arange(2**16, dtype=np.uint16).view(np.float16)
    values = values[np.isfinite(values)]
    datason.dumps([np.float16(1), np.zeros(1, np.float16)], API)  # the first of a type registers it with C
    for config in (API, SerializationConfig(array_format="readable")):
        c_text = datason.dumps(values, config)
        py_text = python_walkers(lambda config=config: datason.dumps(values, config))
        assert json.loads(c_text) == json.loads(py_text)
    scalars = [np.float16(v) for v in values[::7]]
    assert json.loads(datason.dumps(scalars, API)) == json.loads(python_walkers(lambda: datason.dumps(scalars, API)))
    back = datason.loads(datason.dumps(values, SerializationConfig(array_format="readable")))
    assert back.dtype == np.float16 and back.tobytes() == values.tobytes()


@pytest.mark.parametrize("is_dst", [True, False])
def test_zone_libraries_without_fold_keep_the_instant_in_the_repeated_hour(is_dst: bool) -> None:
    """pytz (and dateutil without fold) mark the repeated hour's second pass by its offset only: the datetime
    comes back in that zone as a ZoneInfo with the fold that gives the same offset, so the same instant."""
    pytz = pytest.importorskip("pytz")
    value = pytz.timezone("America/New_York").localize(dt.datetime(2024, 11, 3, 1, 9, 8), is_dst=is_dst)
    text = datason.dumps([value, value])  # the second goes through the C accelerator once registered
    for back in (datason.loads(text), python_walkers(lambda: datason.loads(text))):
        for got in back:
            assert isinstance(got.tzinfo, zoneinfo.ZoneInfo) and got.tzinfo.key == "America/New_York"
            assert got.utcoffset() == value.utcoffset()
            assert got.astimezone(dt.UTC) == value.astimezone(dt.UTC)
            assert got.fold == (0 if is_dst else 1)


iso_texts = st.one_of(
    st.builds(
        lambda d, sep: d.isoformat(sep=sep),
        st.datetimes(timezones=st.one_of(st.none(), st.just(dt.UTC), fixed_offsets)),
        st.sampled_from(["T", " "]),
    ),
    st.builds(lambda d: d.isoformat(timespec="milliseconds"), st.datetimes()),
    st.builds(lambda d: d.replace(tzinfo=None).isoformat() + "Z", st.datetimes()),
    st.from_regex(
        r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?([+-][0-9]{2}:[0-9]{2}|Z)?\Z"
    ),
)


@settings(max_examples=400, deadline=None)
@given(text=iso_texts)
def test_iso_datetimes_read_as_fromisoformat_reads_them(text: str) -> None:
    """The C reader of ISO datetimes (auto mode and typed payloads) gives what datetime.fromisoformat gives."""
    try:
        want: Any = dt.datetime.fromisoformat(text)
    except ValueError:
        want = text
    for config in (API, None):
        got = datason.auto_deserialize([text], config)[0]
        auto_want = want if len(text) <= 40 else text  # auto mode looks at strings of 16 to 40 characters
        assert type(got) is type(auto_want)
        if isinstance(auto_want, dt.datetime):
            assert (got, got.utcoffset(), got.tzinfo) == (want, want.utcoffset(), want.tzinfo)
        else:
            assert got == auto_want
    if isinstance(want, dt.datetime):
        typed = json.dumps({"__datason_type__": "datetime", "__datason_value__": text})
        got = datason.loads(typed)
        assert (got, got.utcoffset(), got.tzinfo) == (want, want.utcoffset(), want.tzinfo)


def test_integers_at_every_decimal_length_are_written_exactly() -> None:
    """0, and each power of ten and its neighbours up to 2**64 - 1, as ints, NumPy scalars and array items."""
    ints = sorted({0, 2**64 - 1} | {10**k + d for k in range(20) for d in (-1, 0, 1)} - {10**19 + 1, 10**19})
    ints += [2**30 - 1, 2**30, 2**31, 2**60 - 1, 2**60]  # where CPython's one-digit (compact) ints end
    signed = ints + [-x for x in ints if x <= 2**63]
    arrays = [np.array(ints, dtype=np.uint64), np.array([-x for x in ints if x < 2**63], dtype=np.int64)]
    for config in (API, None):
        assert json.loads(datason.dumps(ints, config)) == ints
        assert json.loads(datason.dumps(signed, config)) == signed
        assert Encoder(API, native_ok=True).dumpb(signed, sort_keys=False) == orjson.dumps(signed)  # the C writer
        assert json.loads(datason.dumps([np.uint64(x) for x in ints], API)) == ints
        for a in arrays:
            assert_same_text = json.loads(datason.dumps(a, API))
            assert assert_same_text == a.tolist()


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_while_decoding_and_left_as_it_was(enabled: bool) -> None:
    """The C decoder pauses the cyclic GC while it builds a document (its containers all survive) and gives
    it back as it found it: on success, on failure, and from a hook that decodes inside a decode."""
    import gc

    seen: list[bool] = []

    class Probe:
        pass

    def encode(obj: Probe) -> dict[str, Any]:
        return {"inner": datason.dumps([{"a": 1}])}

    def decode(payload: dict[str, Any]) -> Probe:
        seen.append(gc.isenabled())
        assert datason.loads(payload["inner"]) == [{"a": 1}]  # a nested decode
        return Probe()

    datason.register_type(Probe, tag=f"tests.gc_probe_{enabled}", encode=encode, decode=decode)
    was = gc.isenabled()
    try:
        if enabled:
            gc.enable()
        else:
            gc.disable()
        text = datason.dumps([{"p": Probe()}, {"q": [1, 2]}])
        assert isinstance(datason.loads(text)[0]["p"], Probe)
        assert gc.isenabled() is enabled
        assert seen == [False]  # paused inside
        with pytest.raises(DatasonError):
            datason.loads('[{"a": [1, 2, }]')
        assert gc.isenabled() is enabled
        assert datason.auto_deserialize([{"t": "2024-01-02T03:04:05"}], API)[0]["t"].year == 2024
        assert gc.isenabled() is enabled
    finally:
        REGISTRY.remove(Probe)
        if was:
            gc.enable()
        else:
            gc.disable()


@pytest.mark.skipif(speedups is None, reason="needs the C accelerator")
def test_array_json_and_finite_floats_read_numeric_buffers_and_refuse_the_rest() -> None:
    """``array_json`` (the OIP response's one-pass writer): float64 as orjson writes it, float32 as datason's
    Python walker does (float32's own shortest digits), ints and bools exactly; None for a NaN or infinity
    anywhere, and for buffers it does not read (byte-swapped, strided, text, objects, complex)."""
    assert speedups is not None
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 2**63, 50_000, dtype=np.uint64) | (rng.integers(0, 2, 50_000, dtype=np.uint64) << 63)
    doubles = raw.view(np.float64)
    # 16-17 digit texts (values near 1, where the digits are made in SIMD lanes), short mantissas (zeros inside
    # the text), integers around 1e15 scaled by powers of ten
    near_one = (raw[:20_000] & np.uint64(0x800FFFFFFFFFFFFF)) | (
        rng.integers(1003, 1043, 20_000).astype(np.uint64) << 52
    )
    short = raw[20_000:40_000] & ~np.uint64(0xFFFFFFFFF)
    scaled = np.arange(10**15 - 500, 10**15 + 500, dtype=np.float64) * 10.0 ** rng.integers(-20, 5, 1000)
    doubles = np.concatenate(
        [
            doubles[np.isfinite(doubles)],
            rng.normal(size=5000),
            np.round(rng.random(5000), 3),
            near_one.view(np.float64),
            short.view(np.float64),
            scaled,
        ]
    )
    doubles = doubles[np.isfinite(doubles)]
    for array in (doubles, -doubles):
        assert speedups.array_json(array) == orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY)
    singles = raw.astype(np.uint32).view(np.float32)
    singles = np.concatenate([singles[np.isfinite(singles)], rng.random(5000, dtype=np.float32)])
    f32 = SerializationConfig(include_type_hints=False)
    reference = python_walkers(lambda: datason.dumpb(singles, f32))
    assert speedups.array_json(singles) == reference
    back = np.array(json.loads(reference), dtype=np.float64).astype(np.float32)
    assert back.view(np.uint32).tolist() == singles.view(np.uint32).tolist()
    for ints in (
        rng.integers(-(2**63), 2**63 - 1, 2000),
        rng.integers(0, 2**64 - 1, 2000, dtype=np.uint64),
        rng.integers(-128, 127, 500).astype(np.int8),
        rng.integers(0, 255, 500).astype(np.uint8),
        rng.integers(-(2**15), 2**15, 500).astype(np.int16),
        rng.random(300) > 0.5,
        np.array([], np.int64),
        np.zeros((3, 4), np.int32),
    ):
        assert json.loads(speedups.array_json(ints)) == ints.reshape(-1).tolist(), ints.dtype
    for bad in (np.inf, -np.inf, np.nan):
        for dtype in (np.float64, np.float32, np.float16):
            assert speedups.array_json(np.array([1.0, bad, 2.0], dtype)) is None
            assert speedups.finite_floats(np.array([1.0, 2.0, bad], dtype)) is False
            big = np.full(1001, 1.5, dtype)
            assert speedups.finite_floats(big) is True
            big[rng.integers(0, 1001)] = bad
            assert speedups.finite_floats(big) is False
            assert speedups.array_json(big) is None
    assert speedups.finite_floats(np.array([np.finfo(np.float64).max, -0.0, 5e-324])) is True
    assert speedups.finite_floats(np.array([], np.float32)) is True
    for other in (
        np.arange(4.0).byteswap().view(">f8"),
        np.arange(8.0)[::2],
        np.array(["a"]),
        np.array([1, "x"], dtype=object),
        np.array([1j]),
        3.5,
    ):
        assert speedups.array_json(other) is None, other
        assert speedups.finite_floats(other) is False, other
    assert speedups.finite_floats(np.arange(3)) is False  # not floats


@pytest.mark.skipif(speedups is None, reason="needs the C accelerator")
def test_list_buffer_holds_what_numpy_array_holds_or_refuses() -> None:
    """``list_buffer`` (the OIP request's one-pass reader): a flat list's bytes as ``np.array(items, dtype)``
    holds them, or None for anything it does not convert exactly (NumPy's path then decides)."""
    assert speedups is not None
    rng = np.random.default_rng(3)
    floats = [*rng.standard_normal(200).tolist(), 0.0, -0.0, 1e308, 5e-324, *range(-(2**24), 2**24 + 1, 2**20)]
    cases: dict[str, list[Any]] = {
        "d": floats,
        "f": [float(np.float32(x)) for x in rng.standard_normal(200)] + [0.1, 3.4e38, -1e-45, 16777216],
        "?": [True, False, True],
        "b": [-128, 0, 127],
        "B": [0, 255],
        "h": [-(2**15), 2**15 - 1],
        "H": [0, 2**16 - 1],
        "i": [-(2**31), 2**31 - 1],
        "I": [0, 2**32 - 1],
        "q": [-(2**63), 2**63 - 1, *rng.integers(-(2**62), 2**62, 100).tolist()],
        "Q": [0, 2**64 - 1, 2**63],
    }
    for code, items in cases.items():
        buffer = speedups.list_buffer(items, code, [len(items)])
        assert buffer is not None, code
        assert bytes(buffer) == np.array(items, dtype=np.dtype(code)).tobytes(), code
        assert speedups.list_buffer([], code, [0]) == bytearray()
    refused: dict[str, list[Any]] = {
        "d": [[1.0, True], [1.0, "2"], [1.0, None], [[1.0]], [2**24 + 1], [2**70]],  # big ints: NumPy rounds them
        "f": [[1e39], [-1e39], [1.0, False]],  # beyond float32: NumPy says so
        "?": [[1], [0], [1.0]],
        "b": [[128], [-129], [True]],
        "B": [[-1], [256]],
        "H": [[-1], [2**16]],
        "i": [[2**31]],
        "I": [[-1], [2**32]],
        "q": [[2**63], [-(2**63) - 1], [1.0]],
        "Q": [[-1], [2**64]],
    }
    for code, lists in refused.items():
        for items in lists:
            assert speedups.list_buffer(items, code, [len(items)]) is None, (code, items)
    nested = rng.standard_normal((3, 4, 2))
    assert bytes(speedups.list_buffer(nested.tolist(), "d", [3, 4, 2])) == nested.tobytes()
    ints = rng.integers(-100, 100, (2, 5))
    assert bytes(speedups.list_buffer(ints.tolist(), "b", [2, 5])) == ints.astype(np.int8).tobytes()
    assert speedups.list_buffer([[], []], "q", [2, 0]) == bytearray()
    for items, shape in (
        (nested.tolist(), [3, 8]),  # nested otherwise than the shape
        (nested.tolist(), [4, 3, 2]),
        ([[1.0, 2.0], [3.0]], [2, 2]),  # ragged
        ([[1.0, 2.0], 3.0], [2, 2]),
        ([1.0, 2.0, 3.0, 4.0], [2, 2]),  # flat data for a 2-D shape: the caller's flat path
        ([[1.0]], [2**62, 1]),  # a shape far beyond the data: refused before anything is allocated
        ([[1.0]], [1, -1]),
        ([[1.0]], (1, 1)),
    ):
        assert speedups.list_buffer(items, "d", shape) is None, shape
    assert speedups.list_buffer([1.0], "e", [1]) is None  # float16: NumPy's path
    assert speedups.list_buffer([1.0], "dd", [1]) is None
    with pytest.raises(TypeError):
        speedups.list_buffer((1.0,), "d", [1])
