"""pandas: exact typed round trips (every dtype, index kind and label type), plain forms per orient, 0.x
documents, malformed payloads, and pandas staying unimported until a pandas value or tag is met."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import os
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")

import hypothesis.extra.pandas as hpd  # noqa: E402

import datason  # noqa: E402
from datason import DeserializationError, SecurityError, SerializationError  # noqa: E402
from datason.config import (  # noqa: E402
    SerializationConfig,
    get_api_config,
    get_performance_config,
    get_strict_config,
)

from .conftest import strict_json  # noqa: E402

TYPE_KEY = "__datason_type__"
VALUE_KEY = "__datason_value__"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NAN = float("nan")
N = 6  # rows of the matrix frames: small enough for readable arrays, large enough for every missing kind
PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3


def _nan_string_dtype() -> Any:
    """pandas 3's default string dtype (NaN for missing), also built by pandas 2.3; None on 2.2."""
    try:
        return pd.StringDtype("python", na_value=np.nan)
    except TypeError:
        return None


# --- comparison ---------------------------------------------------------------------------------------------


def assert_pandas_same(got: Any, want: Any) -> None:
    """Same class, dtypes, labels, names, freq and values (floats by bits, NaN/NaT/NA by position)."""
    assert type(got) is type(want), f"{type(got).__name__} != {type(want).__name__}"
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(
            got,
            want,
            check_exact=True,
            check_index_type=True,
            check_column_type=True,
            check_categorical=True,
            check_freq=True,
            check_flags=True,
        )
        assert list(got.columns) == list(want.columns) or got.columns.equals(want.columns)
        for i in range(want.shape[1]):
            assert_float_bits(got.iloc[:, i], want.iloc[:, i])
        assert_index_same(got.columns, want.columns)
        assert_index_same(got.index, want.index)
    elif isinstance(want, pd.Series):
        pd.testing.assert_series_equal(
            got, want, check_exact=True, check_index_type=True, check_categorical=True, check_freq=True
        )
        assert_labels_same([got.name], [want.name])
        assert_float_bits(got, want)
        assert_index_same(got.index, want.index)
    elif isinstance(want, pd.Index):
        assert_index_same(got, want)
    elif isinstance(want, pd.api.extensions.ExtensionArray):
        assert got.dtype == want.dtype
        pd.testing.assert_extension_array_equal(got, want, check_exact=True)
        assert_float_bits(got, want)
    else:
        assert_scalar_same(got, want)


def assert_index_same(got: Any, want: Any) -> None:
    pd.testing.assert_index_equal(got, want, exact=True, check_exact=True, check_names=True, check_categorical=True)
    assert type(got) is type(want)
    assert got.dtype == want.dtype
    assert_labels_same(list(got.names), list(want.names))
    assert getattr(got, "freq", None) == getattr(want, "freq", None)
    if isinstance(want, pd.RangeIndex):
        assert (got.start, got.stop, got.step) == (want.start, want.stop, want.step)
    if isinstance(want, pd.MultiIndex):
        for g, w in zip(got.levels, want.levels, strict=True):
            assert g.dtype == w.dtype


def assert_labels_same(got: list[Any], want: list[Any]) -> None:
    """Names compare by type and value, NaN equal to NaN."""
    assert [type(g) for g in got] == [type(w) for w in want]
    assert [g if g == g else "<nan>" for g in got] == [w if w == w else "<nan>" for w in want]


def assert_float_bits(got: Any, want: Any) -> None:
    """Float values by bits (-0.0, NaN): pandas' own comparison takes -0.0 == 0.0. Series or arrays."""
    got, want = (x.array if isinstance(x, pd.Series) else x for x in (got, want))
    if type(want) is pd.arrays.NumpyExtensionArray:
        got, want = got.to_numpy(), want.to_numpy()
    dtype = want.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "fc":
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes()
    elif getattr(dtype, "name", "") in ("Float32", "Float64"):
        present = ~want._mask
        assert got._data[present].tobytes() == want._data[present].tobytes()


def assert_scalar_same(got: Any, want: Any) -> None:
    assert type(got) is type(want), f"{type(got).__name__} != {type(want).__name__}"
    if want is pd.NaT or want is pd.NA:
        assert got is want
        return
    assert got == want
    for attr in ("unit", "tz", "freq", "closed"):
        if hasattr(want, attr):
            assert str(getattr(got, attr)) == str(getattr(want, attr)), attr
    if isinstance(want, pd.Interval):
        assert type(got.left) is type(want.left)


def round_trips(value: Any, config: SerializationConfig | None = None) -> None:
    """``loads(dumps(x))``, ``loads(dumpb(x))``, ``deserialize(serialize(x))`` and an indented document."""
    text = datason.dumps(value, config)
    strict_json(text)
    assert_pandas_same(datason.loads(text, config), value)
    assert_pandas_same(datason.loads(datason.dumpb(value, config), config), value)
    tree = datason.serialize(value, config)
    assert_pandas_same(datason.deserialize(json.loads(json.dumps(tree)), config), value)
    assert_pandas_same(datason.deserialize(tree, config), value)
    assert_pandas_same(datason.loads(datason.dumps(value, config, indent=2), config), value)


# --- the dtype matrix ---------------------------------------------------------------------------------------


def _ints(dtype: str) -> Any:
    info = np.iinfo(dtype)
    return np.array([info.min, info.max, 0, 1, info.max - 1, 7], dtype=dtype)


def _floats(dtype: str) -> Any:
    return np.array([1.5, NAN, -0.0, np.inf, -np.inf, np.finfo(dtype).tiny], dtype=dtype)


def _masked(dtype: str, values: list[Any]) -> Any:
    return pd.array(values, dtype=dtype)


def _nan_in_float64_not_na() -> Any:
    values = pd.array([1.0, None, 0.0, 2.5, -0.0, 3.0], dtype="Float64")
    return values / pd.array([1.0, 1.0, 0.0, 1.0, 1.0, 1.0], dtype="Float64")  # 0/0: NaN that is not NA


def _datetimes(unit: str, tz: Any = None) -> Any:
    values = pd.to_datetime(
        ["2024-03-31 01:59:59", None, "1970-01-01", "1900-06-15 12:00", "2038-01-19 03:14:08", "2024-10-27 02:30"],
        format="ISO8601",
    ).as_unit(unit)
    return values.array if tz is None else values.tz_localize("UTC").tz_convert(tz).array


def _nanosecond_datetimes(tz: Any) -> Any:
    base = np.array([1_700_000_000_123_456_789, 1, -1, 0, 86_399_999_999_999, 1_234_567_890_987_654_321])
    values = pd.DatetimeIndex(base.view("M8[ns]"))
    out = values.tz_localize("UTC").tz_convert(tz) if tz is not None else values
    return out.insert(1, pd.NaT)[:N].array


DTYPES: dict[str, Callable[[], Any]] = {
    **{f"int{b}": (lambda b=b: _ints(f"int{b}")) for b in (8, 16, 32, 64)},
    **{f"uint{b}": (lambda b=b: _ints(f"uint{b}")) for b in (8, 16, 32, 64)},
    "float32": lambda: _floats("float32"),
    "float64": lambda: _floats("float64"),
    "bool": lambda: np.array([True, False, True, True, False, False]),
    **{
        name: (lambda name=name: _masked(name, [1, None, 0, 2, None, 3]))
        for name in ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64")
    },
    "Int64-extremes": lambda: _masked("Int64", [2**63 - 1, -(2**63), None, 0, 1, -1]),
    "UInt64-max": lambda: _masked("UInt64", [2**64 - 1, 0, None, 1, 2, 3]),
    "Float32": lambda: _masked("Float32", [1.5, None, -0.0, 2.25, None, 3.0]),
    "Float64": lambda: _masked("Float64", [1.5, None, -0.0, 1e300, 5e-324, 3.0]),
    "Float64-nan-not-na": _nan_in_float64_not_na,
    "boolean": lambda: _masked("boolean", [True, None, False, True, None, False]),
    # the dtype pandas infers for strings: ``str`` on pandas 3, object on 2.x
    "str-default": lambda: pd.Series(["a", None, "", "héllo \u2603 \U0001f600", "x" * 300, "b"]).array,
    "string-na": lambda: pd.array(["a", None, "", "ü", "c", "d"], dtype="string"),
    **(
        {"str-nan-python": lambda: pd.array(["a", None, "", "ü", "c", "d"], dtype=_nan_string_dtype())}
        if _nan_string_dtype() is not None
        else {}
    ),
    "object-mixed": lambda: np.array(["a", 1, None, NAN, decimal.Decimal("1.10"), (1, "t")], dtype=object),
    "object-strings": lambda: np.array(["a", "b", None, "d", "e", "f"], dtype=object),
    "object-nested": lambda: np.array(
        [{"k": [1, 2]}, [1, 2], pd.Timestamp("2024-01-01", tz="UTC"), pd.NA, dt.date(2024, 1, 2), b"\x00"],
        dtype=object,
    ),
    "category-str": lambda: pd.Categorical(["b", "a", None, "b", "c", "a"], categories=["c", "b", "a"]),
    "category-ordered": lambda: pd.Categorical(["lo", "hi", "hi", None, "lo", "mid"], ["lo", "mid", "hi"], True),
    "category-int": lambda: pd.Categorical([3, 1, None, 3, 2, 1]),
    "category-datetime": lambda: pd.Categorical(pd.to_datetime(["2024-01-01", None, "2024-01-02"] * 2)),
    "category-unused": lambda: pd.Categorical(["a"] * N, categories=["z", "a", "q"]),
    **{f"datetime64[{u}]": (lambda u=u: _datetimes(u)) for u in ("s", "ms", "us", "ns")},
    "datetime64[ns, Europe/Paris]": lambda: _nanosecond_datetimes(PARIS),
    "datetime64[ms, America/New_York]": lambda: _datetimes("ms", "America/New_York"),
    "datetime64[us, UTC]": lambda: _datetimes("us", "UTC"),
    "datetime64[ns, +05:30]": lambda: _datetimes("ns", dt.timezone(dt.timedelta(hours=5, minutes=30))),
    "datetime64[ns] nanoseconds": lambda: _nanosecond_datetimes(None),
    **{
        f"timedelta64[{u}]": (lambda u=u: pd.to_timedelta([1, None, -2, 0, 10**9, 3], unit="s").as_unit(u).array)
        for u in ("s", "ms", "us", "ns")
    },
    "timedelta64[ns] nanoseconds": lambda: pd.to_timedelta([1, None, -1, 0, 123456789, 2**62], unit="ns").array,
    "period[M]": lambda: pd.PeriodIndex(["2024-01", None, "1999-12", "2024-02", "2024-03", "1970-01"], freq="M").array,
    "period[Q-DEC]": lambda: pd.period_range("2020Q1", periods=N, freq="Q").array,
    "period[h]": lambda: pd.period_range("2024-01-01 00:00", periods=N, freq="h").array,
    "period[2D]": lambda: pd.period_range("2024-01-01", periods=N, freq="2D").array,
    "period[W-SUN]": lambda: pd.period_range("2024-01-01", periods=N, freq="W").array,
    "interval[int64, right]": lambda: pd.arrays.IntervalArray.from_breaks(np.arange(N + 1)),
    "interval[float64, both]": lambda: pd.arrays.IntervalArray.from_arrays(
        [0.0, NAN, 1.5, 2.0, 3.0, -1.0], [1.0, NAN, 2.5, 2.0, 4.5, 0.0], closed="both"
    ),
    "interval[datetime64[ns, Europe/Paris], left]": lambda: pd.arrays.IntervalArray.from_breaks(
        pd.date_range("2024-01-01", periods=N + 1, freq="D", tz=PARIS), closed="left"
    ),
    "interval[timedelta64[ns], neither]": lambda: pd.arrays.IntervalArray.from_breaks(
        pd.to_timedelta(np.arange(N + 1), unit="h"), closed="neither"
    ),
}


INDEXES: dict[str, Callable[[], Any]] = {
    "range-default": lambda: pd.RangeIndex(N),
    "range-named-stepped": lambda: pd.RangeIndex(5, 5 + 2 * N, 2, name="row"),
    "range-negative-step": lambda: pd.RangeIndex(0, -N, -1),
    "int64-named": lambda: pd.Index([10, 20, 30, 5, 0, -1], name="k"),
    "int64-duplicates": lambda: pd.Index([1, 1, 2, 2, 3, 3]),
    "uint8": lambda: pd.Index(np.arange(N, dtype="uint8")),
    "float64": lambda: pd.Index([0.5, NAN, -0.0, 1.0, 2.0, 3.0], name=0.5),
    "bool": lambda: pd.Index([True, False] * 3),
    "str": lambda: pd.Index(list("abcdef"), name="letters"),
    "object-mixed": lambda: pd.Index(["a", 1, None, 2.5, ("t", 1), dt.date(2024, 1, 1)], dtype=object),
    "object-tuples": lambda: pd.Index([(1, 2), (3, 4)] * 3, dtype=object, tupleize_cols=False),
    "datetime-tz-freq": lambda: pd.date_range("2024-03-30", periods=N, freq="h", tz=PARIS, name="when"),
    "datetime-naive-ns": lambda: pd.DatetimeIndex(_nanosecond_datetimes(None)),
    "datetime-daily-freq": lambda: pd.date_range("2024-01-01", periods=N, freq="D"),
    "timedelta-freq": lambda: pd.timedelta_range("1 day", periods=N, freq="6h"),
    "period": lambda: pd.period_range("2024-01", periods=N, freq="M", name="month"),
    "interval": lambda: pd.interval_range(0, N, name="bins"),
    "categorical": lambda: pd.CategoricalIndex(list("abcabc"), categories=list("cba"), ordered=True, name="c"),
    "multi": lambda: pd.MultiIndex.from_product([["x", "y"], [1, 2, 3]], names=["letter", "number"]),
    "multi-nan-and-datetime": lambda: pd.MultiIndex.from_arrays(
        [["a", None, "b", "a", "b", None], pd.date_range("2024-01-01", periods=N, tz="UTC")], names=[None, ("t", 1)]
    ),
    "multi-unused-levels": lambda: pd.MultiIndex.from_product([[1, 2, 3], ["u", "v"]])[:N],
}


def _series(values: Any, index: Any = None, name: Any = "s") -> Any:
    return pd.Series(values, index=index if index is not None else pd.RangeIndex(len(values)), name=name)


# --- typed round trips ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_series_of_every_dtype(dtype: str, walker: str) -> None:
    values = DTYPES[dtype]()
    round_trips(_series(values))
    round_trips(_series(values, index=INDEXES["int64-named"](), name=("tuple", 1)))


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_frame_column_of_every_dtype(dtype: str, walker: str) -> None:
    df = pd.DataFrame({"x": DTYPES[dtype](), 7: np.arange(N, dtype="int16")}, index=INDEXES["str"]())
    round_trips(df)


def test_frame_of_all_dtypes_at_once(walker: str) -> None:
    df = pd.DataFrame({name: build() for name, build in DTYPES.items()}, index=INDEXES["datetime-tz-freq"]())
    round_trips(df)
    round_trips(df, get_performance_config())  # every array compact
    round_trips(df, SerializationConfig(array_format="readable"))
    round_trips(df, get_strict_config())
    assert_pandas_same(datason.loads(datason.dumps(df, sort_keys=True)), df)


@pytest.mark.parametrize("index", list(INDEXES))
def test_index_on_its_own_and_as_row_and_column_labels(index: str, walker: str) -> None:
    idx = INDEXES[index]()
    round_trips(idx)
    round_trips(pd.Series(np.arange(len(idx), dtype="float32"), index=idx, name="v"))
    round_trips(pd.DataFrame(np.arange(len(idx) * 2).reshape(len(idx), 2), index=idx, columns=["a", "b"]))
    round_trips(pd.DataFrame(np.arange(len(idx) * 2).reshape(2, len(idx)), columns=idx))


@pytest.mark.parametrize(
    "columns",
    [
        pd.Index([0, 1, 2]),
        pd.RangeIndex(3),
        pd.Index([("a", 1), ("b", 2), ("c", 3)], dtype=object, tupleize_cols=False),
        pd.MultiIndex.from_tuples([("a", "x"), ("a", "y"), ("b", "x")], names=["top", None]),
        pd.Index(["a", 1, None], dtype=object),
        pd.Index(["dup", "dup", "other"]),
        pd.Index(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"])),
        pd.Index([1.5, 2.5, NAN]),
        pd.Index([True, False, True]),
        pd.Index(["x", "y", "z"], dtype="string", name="labels"),
    ],
    ids=lambda c: f"{type(c).__name__}-{c.dtype}-{c.nlevels}",
)
def test_column_labels_of_any_type(columns: Any, walker: str) -> None:
    df = pd.DataFrame(
        {i: values for i, values in enumerate([[1.0, 2.0], ["a", None], pd.array([1, None], dtype="Int8")])}
    )
    df.columns = columns
    round_trips(df)


@pytest.mark.parametrize(
    "name",
    [None, "s", 0, -7, 2.5, NAN, True, ("a", 1), 2**70, pd.Timestamp("2024-01-01", tz=PARIS), dt.date(2024, 1, 2)],
    ids=repr,
)
def test_series_and_index_names(name: Any, walker: str) -> None:
    values: list[Any] = [
        pd.Series([1, 2], name=name),
        pd.Index([1, 2], name=name),
        pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name=name)),
    ]
    if name != name and not PANDAS_3:  # pandas 2's asserters compare a NaN name by ==; check it here
        for value in values:
            got = datason.loads(datason.dumps(value))
            index = got if isinstance(got, pd.Index) else got.index
            assert_labels_same([index.name if isinstance(got, pd.Index | pd.DataFrame) else got.name], [name])
        return
    for value in values:
        round_trips(value)


@pytest.mark.parametrize("dtype", ["category-str", "category-ordered", "category-int", "category-datetime"])
def test_categorical_on_its_own(dtype: str, walker: str) -> None:
    cat = DTYPES[dtype]()
    round_trips(cat)
    text = datason.dumps(cat)
    assert json.loads(text)[TYPE_KEY] == "pandas.Categorical"


EXTENSION_ARRAYS = ["Int64", "Float64", "boolean", "str-default", "string-na", "datetime64[ns, Europe/Paris]"]
EXTENSION_ARRAYS += ["period[M]", "timedelta64[ns] nanoseconds", "interval[int64, right]", "datetime64[s]"]


@pytest.mark.parametrize("dtype", EXTENSION_ARRAYS)
def test_extension_arrays_on_their_own(dtype: str, walker: str) -> None:
    values = DTYPES[dtype]()
    round_trips(values)


SCALARS: list[tuple[str, Any]] = [
    ("timestamp-naive", pd.Timestamp("2024-01-02 03:04:05.678901")),
    ("timestamp-ns-paris", pd.Timestamp("2024-01-02 03:04:05.123456789", tz=PARIS)),
    ("timestamp-fold", pd.Timestamp("2024-10-27 02:30").tz_localize(PARIS, ambiguous=False)),
    ("timestamp-utc", pd.Timestamp("2024-01-02", tz="UTC")),
    ("timestamp-offset", pd.Timestamp("2024-01-02", tz=dt.timezone(dt.timedelta(hours=-3, minutes=-30)))),
    ("timestamp-unit-s-year-3000", pd.Timestamp(np.datetime64("3000-01-01T00:00:00", "s"))),
    ("timestamp-unit-ms-before-1900", pd.Timestamp("1800-05-06 07:08:09.123").as_unit("ms")),
    ("timestamp-min", pd.Timestamp.min),
    ("timestamp-max", pd.Timestamp.max),
    ("timedelta-ns", pd.Timedelta(1, unit="ns")),
    ("timedelta-negative", pd.Timedelta("-3 days 04:05:06.000000007")),
    ("timedelta-unit-s", pd.Timedelta(np.timedelta64(10**12, "s"))),
    ("period-month", pd.Period("2024-02", freq="M")),
    ("period-quarter", pd.Period("2024Q3", freq="Q-DEC")),
    ("period-hour", pd.Period("2024-01-01 05:00", freq="h")),
    ("period-minute", pd.Period("2024-01-05 10:11", freq="min")),
    ("interval-int", pd.Interval(0, 5)),
    ("interval-float-both", pd.Interval(0.5, 1.5, closed="both")),
    ("interval-timestamps", pd.Interval(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01"), closed="left")),
    ("interval-timedeltas", pd.Interval(pd.Timedelta("1h"), pd.Timedelta("2h"), closed="neither")),
    ("nat", pd.NaT),
    ("na", pd.NA),
]


@pytest.mark.parametrize(("name", "value"), SCALARS, ids=[n for n, _ in SCALARS])
def test_scalars(name: str, value: Any, walker: str) -> None:
    round_trips(value)
    got = datason.loads(datason.dumps({"in": [value, (value,)]}))
    assert_scalar_same(got["in"][0], value)
    assert_scalar_same(got["in"][1][0], value)


def _zones() -> list[Any]:
    zones: list[Any] = [PARIS, "Europe/Paris", dt.UTC, "UTC", zoneinfo.ZoneInfo("UTC"), "Etc/GMT+3"]
    zones.append(dt.timezone(dt.timedelta(hours=5, minutes=45)))
    zones.append("dateutil/Europe/Paris")
    try:
        import pytz
    except ImportError:
        pass
    else:
        zones += [pytz.timezone("America/New_York"), pytz.UTC, pytz.FixedOffset(-90)]
    return zones


@pytest.mark.parametrize("zone", _zones(), ids=repr)
def test_zone_libraries_come_back(zone: Any, walker: str) -> None:
    """zoneinfo, pytz and dateutil zones (and pandas' default for a key string) come back as the same type."""
    try:
        idx = pd.date_range("2024-01-15", periods=3, freq="h", tz=zone)
    except (AttributeError, ImportError):  # some pandas 2.x / dateutil pairs cannot use dateutil zones at all
        pytest.skip("this pandas cannot build the zone")
    round_trips(idx)
    round_trips(pd.Series(idx))
    round_trips(idx[0])
    got = datason.loads(datason.dumps(idx[1]))
    assert type(got.tz) is type(idx[1].tz) or str(got.tz) == "UTC"


def test_timestamp_payload_is_the_documented_layout() -> None:
    ts = pd.Timestamp("2024-01-02 03:04:05.123456789", tz=PARIS)
    assert json.loads(datason.dumps(ts)) == {
        TYPE_KEY: "pandas.Timestamp",
        VALUE_KEY: {"value": 1704161045123456789, "unit": "ns", "tz": "Europe/Paris"},
    }


@pytest.mark.parametrize(
    "value",
    [
        pd.DataFrame(),
        pd.DataFrame(index=pd.RangeIndex(3)),
        pd.DataFrame(columns=["a", "b"]),
        pd.DataFrame({"a": pd.Series([], dtype="Int64"), "b": pd.Series([], dtype="category")}),
        pd.DataFrame({"t": pd.Series([], dtype="datetime64[ns, UTC]")}, index=pd.DatetimeIndex([], tz=PARIS)),
        pd.Series([], dtype=object),
        pd.Series([], dtype="float32", index=pd.MultiIndex.from_arrays([[], []], names=["a", "b"])),
        pd.Index([], dtype="str"),
        pd.Categorical([], categories=["a"]),
    ],
    ids=lambda v: f"empty-{type(v).__name__}",
)
def test_empty_values(value: Any, walker: str) -> None:
    round_trips(value)


def test_duplicate_labels_and_column_order_are_kept(walker: str) -> None:
    df = pd.DataFrame([[1, "a", 2.5], [3, "b", 4.5]], columns=["z", "a", "z"], index=["r", "r"])
    round_trips(df)
    assert list(datason.loads(datason.dumps(df)).columns) == ["z", "a", "z"]


def test_loaded_frames_are_writable(walker: str) -> None:
    df = pd.DataFrame({"a": np.arange(1000, dtype="float64"), "b": np.arange(1000), "c": ["x"] * 1000})
    for back in (datason.loads(datason.dumps(df, get_performance_config())), datason.loads(datason.dumps(df))):
        back.iloc[0, 0] = -1.0
        back.loc[1, "b"] = -5
        back["a"] += 1
        assert back.iloc[0, 0] == 0.0 and back.loc[1, "b"] == -5
    s = datason.loads(datason.dumps(pd.Series(np.arange(500.0)), get_performance_config()))
    s.iloc[0] = 7.0
    assert s.iloc[0] == 7.0


def test_big_frame_compact_round_trip(walker: str) -> None:
    rng = np.random.default_rng(7)
    n = 3000
    df = pd.DataFrame(
        {
            "f32": rng.standard_normal(n).astype("float32"),
            "i64": rng.integers(-(2**62), 2**62, n),
            "s": pd.array([f"s{i}" if i % 7 else None for i in range(n)], dtype="str"),
            "cat": pd.Categorical(rng.choice(["r", "g", "b"], n)),
            "t": pd.date_range("2024-01-01", periods=n, freq="37s", tz=PARIS),
            "b": rng.random(n) > 0.5,
            "I": pd.array(np.where(rng.random(n) > 0.9, None, rng.integers(0, 9, n)), dtype="Int64"),
        }
    )
    round_trips(df)
    round_trips(df, get_performance_config())


def test_frame_inside_other_values(walker: str) -> None:
    df = pd.DataFrame({"a": [1, 2]})
    value = {"frames": [df, df.a], "meta": {"when": pd.Timestamp("2024-01-01", tz="UTC"), 1: pd.NaT}}
    back = datason.loads(datason.dumps(value))
    assert_pandas_same(back["frames"][0], df)
    assert_pandas_same(back["frames"][1], df.a)
    assert_scalar_same(back["meta"]["when"], value["meta"]["when"])
    assert back["meta"][1] is pd.NaT


def test_frame_with_datetime_index_keeps_tz_and_freq(walker: str) -> None:
    idx = pd.date_range("2024-03-31 00:00", periods=5, freq="30min", tz=PARIS, name="t")
    df = pd.DataFrame({"v": np.arange(5.0)}, index=idx)
    back = datason.loads(datason.dumps(df))
    assert back.index.freq == idx.freq and str(back.index.tz) == "Europe/Paris"
    round_trips(df)


# --- the wire layout ------------------------------------------------------------------------------------------


def test_frame_payload_is_columnar() -> None:
    df = pd.DataFrame({"a": [1.5, 2.5], "b": ["x", None]}, index=pd.Index([10, 20], name="k"))
    doc = json.loads(datason.dumps(df, SerializationConfig(array_format="readable")))
    assert doc[TYPE_KEY] == "pandas.DataFrame"
    payload = doc[VALUE_KEY]
    assert set(payload) == {"index", "columns", "data"}
    assert payload["index"]["kind"] == "index" and payload["index"]["name"] == "k"
    assert payload["columns"]["data"]["dtype"] == ("str" if PANDAS_3 else "object")
    assert payload["columns"]["data"]["data"] == ["a", "b"]
    assert [c["dtype"] for c in payload["data"]] == ["float64", "str" if PANDAS_3 else "object"]
    assert payload["data"][1]["data"] == ["x", None]


def test_series_payload_layout() -> None:
    doc = json.loads(datason.dumps(pd.Series(pd.Categorical(["a", "b", "a"]), name="c")))
    payload = doc[VALUE_KEY]
    assert set(payload) == {"name", "index", "data"}
    assert payload["index"] == {"kind": "range", "start": 0, "stop": 3, "step": 1, "name": None}
    assert payload["data"]["dtype"] == "category" and payload["data"]["ordered"] is False


# --- plain mode -----------------------------------------------------------------------------------------------

API = get_api_config()
ORIENTS = ["records", "split", "columns", "index", "values", "table"]


def _plain(value: Any, **changes: Any) -> Any:
    config = API.replace(**changes)
    text = datason.dumps(value, config)
    parsed = strict_json(text)
    assert parsed == json.loads(json.dumps(datason.serialize(value, config)))
    return parsed


def _sane_frame() -> Any:
    return pd.DataFrame(
        {
            "f": [1.5, NAN, -2.25],
            "i": [1, -2, 3],
            "s": ["a", None, "c"],
            "b": [True, False, True],
            "o": np.array(["x", 1, None], dtype=object),
        },
        index=pd.Index([10, 20, 30], name="k"),
    )


@pytest.mark.parametrize("orient", ORIENTS)
def test_plain_frame_matches_pandas_to_json(orient: str, walker: str) -> None:
    df = _sane_frame()
    want = json.loads(df.to_json(orient=orient, date_format="iso"))
    assert _plain(df, dataframe_orient=orient) == want


@pytest.mark.parametrize("orient", ["records", "split", "index", "values", "table"])
def test_plain_series_matches_pandas_to_json(orient: str, walker: str) -> None:
    s = pd.Series([1.5, NAN, 3.0], index=pd.Index(["a", "b", "c"]), name="s")
    assert _plain(s, dataframe_orient=orient) == json.loads(s.to_json(orient=orient, date_format="iso"))


@pytest.mark.parametrize("orient", ["records", "split", "columns", "index", "values"])
def test_plain_multiindex_columns_match_pandas(orient: str, walker: str) -> None:
    df = pd.DataFrame([[1, 2, 3]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y"), ("b", "x")]))
    assert _plain(df, dataframe_orient=orient) == json.loads(df.to_json(orient=orient))


def test_plain_records_is_the_default_and_series_is_a_list(walker: str) -> None:
    df = _sane_frame()
    assert _plain(df) == [
        {"b": True, "f": 1.5, "i": 1, "o": "x", "s": "a"},
        {"b": False, "f": None, "i": -2, "o": 1, "s": None},
        {"b": True, "f": -2.25, "i": 3, "o": None, "s": "c"},
    ]
    assert _plain(df["f"]) == [1.5, None, -2.25]
    assert _plain(df.index) == [10, 20, 30]


def test_plain_every_dtype_is_strict_json(walker: str) -> None:
    df = pd.DataFrame({name: build() for name, build in DTYPES.items()})
    # pandas 2's Table Schema reads ``tz.zone`` (pytz only): it cannot describe zoneinfo columns, nor can we
    for orient in ORIENTS if PANDAS_3 else [o for o in ORIENTS if o != "table"]:
        for nan_handling in ("null", "string"):
            for date_format in ("iso", "unix", "unix_ms"):
                rows = _plain(df, dataframe_orient=orient, nan_handling=nan_handling, date_format=date_format)
                assert rows


def test_plain_datetimes_and_missing_values(walker: str) -> None:
    df = pd.DataFrame(
        {
            "t": pd.DatetimeIndex(["2024-01-02 03:04:05.123456789", None]).tz_localize(PARIS),
            "n": pd.array([1, None], dtype="Int64"),
            "f": [NAN, 1.0],
            "td": pd.to_timedelta(["1 day 2h 3ns", None]),
            "p": pd.PeriodIndex(["2024-01", None], freq="M"),
            "iv": pd.arrays.IntervalArray.from_breaks([0, 1, 2]),
            "c": pd.Categorical(["a", None]),
        }
    )
    assert _plain(df) == [
        {
            "t": "2024-01-02T03:04:05.123456789+01:00",
            "n": 1,
            "f": None,
            "td": "P1DT2H0.000000003S",
            "p": "2024-01",
            "iv": {"left": 0, "right": 1, "closed": "right"},
            "c": "a",
        },
        {"t": None, "n": None, "f": 1.0, "td": None, "p": None, "iv": {"left": 1, "right": 2, "closed": "right"}}
        | {"c": None},
    ]
    strings = _plain(df, nan_handling="string")
    assert strings[1]["t"] == "NaT" and strings[1]["n"] == "NA" and strings[0]["f"] == "NaN"
    assert strings[1]["c"] == "NaN"
    assert _plain(df.t.iloc[0], date_format="unix") == pytest.approx(1704161045.1234567)
    assert _plain(df.t.iloc[0], date_format="unix_ms") == pytest.approx(1704161045123.4567)
    with pytest.raises(SerializationError):
        datason.dumps(df, API.replace(nan_handling="error"))
    with pytest.raises(SerializationError):
        datason.dumps(pd.Series(pd.array([1, None], dtype="Int64")), API.replace(nan_handling="error"))
    assert _plain(pd.Series([1.0, 2.0]), nan_handling="error") == [1.0, 2.0]


def test_plain_scalars(walker: str) -> None:
    assert _plain(pd.Timestamp("2024-01-02 03:04:05", tz="UTC")) == "2024-01-02T03:04:05+00:00"
    assert _plain(pd.Timedelta("-1s")) == "-PT1S"
    assert _plain(pd.Timedelta(0)) == "PT0S"
    assert _plain(pd.Timedelta(np.timedelta64(10**12, "s"))) == "P11574074DT1H46M40S"  # beyond the ns range
    assert _plain(pd.NaT) is None and _plain(pd.NA) is None
    assert _plain([pd.NaT, pd.NA], nan_handling="string") == ["NaT", "NA"]
    assert _plain(pd.Period("2024Q1", freq="Q")) == "2024Q1"
    assert _plain(pd.Categorical(["a", None, "b"])) == ["a", None, "b"]
    assert _plain(pd.MultiIndex.from_tuples([("a", 1), ("b", 2)])) == [["a", 1], ["b", 2]]


def test_plain_refuses_duplicate_keys_instead_of_losing_data(walker: str) -> None:
    df = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(SerializationError):
        datason.dumps(df, API)
    assert _plain(df, dataframe_orient="split")["columns"] == ["a", "a"]
    with pytest.raises(SerializationError):
        datason.dumps(pd.Series([1, 2], index=["x", "x"]), API.replace(dataframe_orient="index"))


def test_plain_json_reads_back_with_pandas(walker: str) -> None:
    df = _sane_frame().drop(columns="o")
    text = datason.dumps(df, API.replace(dataframe_orient="split", sort_keys=False))
    back = pd.read_json(io.StringIO(text), orient="split")
    assert back.shape == df.shape and list(back.columns) == list(df.columns)


# --- datason 0.x documents ------------------------------------------------------------------------------------


def test_legacy_series_documents(walker: str) -> None:
    doc = '{"__datason_type__": "pandas.Series", "__datason_value__": {"_series_name": "s", "0": 1.5, "1": 2.5}}'
    assert_pandas_same(datason.loads(doc), pd.Series([1.5, 2.5], name="s"))
    doc = json.dumps(
        {
            TYPE_KEY: "pandas.Series",
            VALUE_KEY: {
                "_series_name": "c",
                "0": "a",
                "1": "b",
                "2": "a",
                "_dtype": "category",
                "_categories": ["b", "a"],
                "_ordered": True,
            },
        }
    )
    want = pd.Series(pd.Categorical(["a", "b", "a"], categories=["b", "a"], ordered=True), name="c")
    assert_pandas_same(datason.loads(doc), want)
    doc = '{"__datason_type__": "pandas.Series", "__datason_value__": {"x": 1, "y": 2}}'
    assert_pandas_same(datason.loads(doc), pd.Series([1, 2], index=["x", "y"]))
    doc = '{"__datason_type__": "pandas.Series", "__datason_value__": {"5": 1, "7": 2}}'
    assert_pandas_same(datason.loads(doc), pd.Series([1, 2], index=[5, 7]))
    doc = '{"__datason_type__": "pandas.Series", "__datason_value__": {}}'
    assert len(datason.loads(doc)) == 0


def test_legacy_frame_documents(walker: str) -> None:
    records = [
        {"a": 1, "b": "x", "t": {TYPE_KEY: "datetime", VALUE_KEY: "2024-01-01T00:00:00"}},
        {"a": 2, "b": None, "t": {TYPE_KEY: "datetime", VALUE_KEY: "2024-01-02T00:00:00"}},
    ]
    got = datason.loads(json.dumps({TYPE_KEY: "pandas.DataFrame", VALUE_KEY: records}))
    assert list(got.columns) == ["a", "b", "t"]
    assert got["a"].tolist() == [1, 2]
    assert got["t"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02")]
    rows = datason.loads(json.dumps({TYPE_KEY: "pandas.DataFrame", VALUE_KEY: [[1, 2], [3, 4]]}))
    assert rows.values.tolist() == [[1, 2], [3, 4]]
    split = {"index": [5, 6], "columns": ["a", "b"], "data": [[1, 2], [3, 4]]}
    got = datason.loads(json.dumps({TYPE_KEY: "pandas.DataFrame", VALUE_KEY: split}))
    assert got.index.tolist() == [5, 6] and got.columns.tolist() == ["a", "b"]
    got = datason.deserialize({TYPE_KEY: "pandas.DataFrame", VALUE_KEY: records})
    assert got.shape == (2, 3)


# --- malformed payloads ---------------------------------------------------------------------------------------


def _good_frame_payload() -> dict[str, Any]:
    df = pd.DataFrame({"a": [1.5, 2.5], "c": pd.Categorical(["x", "y"])}, index=pd.Index([1, 2], name="k"))
    payload: dict[str, Any] = json.loads(datason.dumps(df, SerializationConfig(array_format="readable")))[VALUE_KEY]
    return payload


def _mutated(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    payload = _good_frame_payload()
    change(payload)
    return {TYPE_KEY: "pandas.DataFrame", VALUE_KEY: payload}


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        node: Any = payload
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _arr(dtype: str, data: list[Any]) -> dict[str, Any]:
    return json.loads(datason.dumps(np.array(data, dtype=dtype), SerializationConfig(array_format="readable")))[
        VALUE_KEY
    ]


BAD_FRAMES: list[tuple[str, dict[str, Any]]] = [
    ("column-longer-than-index", _mutated(_set(["data", 0, "data"], _arr("float64", [1.0, 2.0, 3.0])))),
    ("index-longer-than-columns", _mutated(_set(["index", "data", "data"], _arr("int64", [1, 2, 3])))),
    ("codes-out-of-range", _mutated(_set(["data", 1, "codes"], _arr("int8", [0, 2])))),
    ("codes-below-minus-one", _mutated(_set(["data", 1, "codes"], _arr("int8", [0, -2])))),
    ("codes-not-integers", _mutated(_set(["data", 1, "codes"], _arr("float64", [0.0, 1.0])))),
    ("unknown-dtype", _mutated(_set(["data", 0, "dtype"], "numpy.fromfile"))),
    ("dtype-not-a-string", _mutated(_set(["data", 0, "dtype"], ["float64"]))),
    ("dtype-mismatch", _mutated(_set(["data", 0, "dtype"], "int64"))),
    ("unknown-index-kind", _mutated(_set(["index", "kind"], "pickle"))),
    ("columns-count", _mutated(lambda p: p["data"].pop())),
    ("data-not-a-list", _mutated(_set(["data"], {"a": 1}))),
    ("column-not-an-object", _mutated(_set(["data", 0], [1.5, 2.5]))),
    ("duplicate-categories", _mutated(_set(["data", 1, "categories", "data"], ["x", "x"]))),
    ("ordered-not-bool", _mutated(_set(["data", 1, "ordered"], "yes"))),
    ("extra-member", _mutated(_set(["attrs"], {}))),
    ("missing-member", _mutated(lambda p: p.pop("columns"))),
]


@pytest.mark.parametrize(("name", "doc"), BAD_FRAMES, ids=[n for n, _ in BAD_FRAMES])
def test_malformed_frame_payloads_raise(name: str, doc: dict[str, Any], walker: str) -> None:
    with pytest.raises(DeserializationError) as info:
        datason.loads(json.dumps(doc))
    assert "numpy.fromfile" not in str(info.value)
    with pytest.raises(DeserializationError):
        datason.deserialize(doc)


def _env(tag: str, payload: Any) -> dict[str, Any]:
    return {TYPE_KEY: tag, VALUE_KEY: payload}


def _column(dtype: str, **fields: Any) -> dict[str, Any]:
    return {"dtype": dtype, **fields}


def _series_doc(data: dict[str, Any], index: dict[str, Any] | None = None) -> dict[str, Any]:
    index = index or {"kind": "range", "start": 0, "stop": 2, "step": 1, "name": None}
    return _env("pandas.Series", {"name": None, "index": index, "data": data})


I64 = _arr("int64", [0, 1])
BAD_VALUES: list[tuple[str, dict[str, Any]]] = [
    ("series-length-mismatch", _series_doc(_column("int64", data=_arr("int64", [1, 2, 3])))),
    ("series-missing-name", _env("pandas.Series", {"index": {"kind": "range"}, "data": _column("int64", data=I64)})),
    ("unknown-unit", _series_doc(_column("datetime64", unit="D", data=I64))),
    ("unit-not-a-string", _series_doc(_column("timedelta64", unit=9, data=I64))),
    ("unknown-zone", _series_doc(_column("datetime64", unit="ns", tz="Mars/Olympus", data=I64))),
    ("zone-path", _series_doc(_column("datetime64", unit="ns", tz="../../../../etc/passwd", data=I64))),
    ("zone-absolute", _series_doc(_column("datetime64", unit="ns", tz="/etc/localtime", data=I64))),
    ("bad-freq", _series_doc(_column("period", freq="M; import os", data=I64))),
    ("unknown-freq", _series_doc(_column("period", freq="NOTAFREQ", data=I64))),
    ("mask-length", _series_doc(_column("Int64", data=I64, mask=_arr("bool", [True])))),
    ("mask-not-bool", _series_doc(_column("Int64", data=I64, mask=_arr("int8", [1, 0])))),
    ("masked-data-wrong-dtype", _series_doc(_column("Int8", data=I64))),
    ("string-items-not-strings", _series_doc(_column("str", storage="python", data=["a", 1]))),
    ("string-storage-unknown", _series_doc(_column("str", storage="pickle", data=["a", "b"]))),
    ("interval-closed", _series_doc(_column("interval", closed="sideways", left=_column("int64", data=I64)))),
    (
        "interval-lengths",
        _series_doc(
            _column(
                "interval",
                closed="right",
                left=_column("int64", data=I64),
                right=_column("int64", data=_arr("int64", [1])),
            )
        ),
    ),
    (
        "interval-left-after-right",
        _series_doc(
            _column(
                "interval",
                closed="right",
                left=_column("int64", data=_arr("int64", [5, 6])),
                right=_column("int64", data=I64),
            )
        ),
    ),
    ("range-step-zero", _series_doc(_column("int64", data=I64), {"kind": "range", "start": 0, "stop": 2, "step": 0})),
    ("range-bounds-not-ints", _series_doc(_column("int64", data=I64), {"kind": "range", "start": "0", "stop": 2})),
    (
        "multi-codes-out-of-range",
        _series_doc(
            _column("int64", data=I64),
            {"kind": "multi", "names": [None], "levels": [_column("int64", data=I64)], "codes": [_arr("int8", [0, 5])]},
        ),
    ),
    (
        "multi-counts-differ",
        _series_doc(
            _column("int64", data=I64),
            {"kind": "multi", "names": [None, None], "levels": [_column("int64", data=I64)], "codes": [I64]},
        ),
    ),
    (
        "freq-on-int-index",
        _series_doc(
            _column("int64", data=I64), {"kind": "index", "name": None, "data": _column("int64", data=I64), "freq": "D"}
        ),
    ),
    ("timestamp-no-unit", _env("pandas.Timestamp", {"value": 0})),
    ("timestamp-value-float", _env("pandas.Timestamp", {"value": 1.5, "unit": "ns"})),
    ("timestamp-value-huge", _env("pandas.Timestamp", {"value": 2**70, "unit": "ns"})),
    ("timestamp-bad-zone", _env("pandas.Timestamp", {"value": 0, "unit": "ns", "tz": "Nowhere/City"})),
    ("timedelta-unit", _env("pandas.Timedelta", {"value": 0, "unit": "weeks"})),
    ("period-freq", _env("pandas.Period", {"ordinal": 0, "freq": "__import__('os')"})),
    ("period-ordinal", _env("pandas.Period", {"ordinal": "0", "freq": "M"})),
    ("interval-closed", _env("pandas.Interval", {"left": 0, "right": 1, "closed": "no"})),
    ("interval-order", _env("pandas.Interval", {"left": 2, "right": 1, "closed": "left"})),
    ("nat-payload", _env("pandas.NaT", "NaT")),
    ("na-payload", _env("pandas.NA", 0)),
    ("categorical-wrong-dtype", _env("pandas.Categorical", _column("int64", data=I64))),
    ("index-not-an-object", _env("pandas.Index", [1, 2])),
    ("array-unknown-dtype", _env("pandas.array", _column("os.system", data=["ls"]))),
]


@pytest.mark.parametrize(("name", "doc"), BAD_VALUES, ids=[n for n, _ in BAD_VALUES])
def test_malformed_payloads_raise(name: str, doc: dict[str, Any], walker: str) -> None:
    with pytest.raises(DeserializationError) as info:
        datason.loads(json.dumps(doc))
    for secret in ("import", "passwd", "Olympus", "os.system", "pickle"):
        assert secret not in str(info.value)
    with pytest.raises(DeserializationError):
        datason.deserialize(doc)


def test_declared_sizes_beyond_max_size_raise_before_allocating(walker: str) -> None:
    config = SerializationConfig(max_size=1000)
    huge_range = _series_doc(_column("int64", data=I64), {"kind": "range", "start": 0, "stop": 10**15, "step": 1})
    with pytest.raises(SecurityError):
        datason.loads(json.dumps(huge_range), config)
    frame = _env(
        "pandas.DataFrame",
        {
            "index": {"kind": "range", "start": 0, "stop": 10**12, "step": 1, "name": None},
            "columns": {"kind": "range", "start": 0, "stop": 0, "step": 1, "name": None},
            "data": [],
        },
    )
    with pytest.raises(SecurityError):
        datason.loads(json.dumps(frame), config)
    big = pd.DataFrame({"a": np.arange(2000)})
    with pytest.raises(SecurityError):
        datason.loads(datason.dumps(big), config)
    with pytest.raises(SecurityError):
        datason.dumps(big, config)


def test_unsupported_dtypes_are_refused_when_writing(walker: str) -> None:
    sparse = pd.Series(pd.arrays.SparseArray([0, 0, 1]))
    with pytest.raises(SerializationError) as info:
        datason.dumps(sparse)
    assert "Sparse" in str(info.value)


def test_strict_mode_reads_what_it_writes(walker: str) -> None:
    df = pd.DataFrame({name: build() for name, build in DTYPES.items()})
    text = datason.dumps(df, get_strict_config())
    assert_pandas_same(datason.loads(text, get_strict_config()), df)


# --- laziness -------------------------------------------------------------------------------------------------


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_import_datason_does_not_import_pandas() -> None:
    _run(
        "import sys, datetime, datason\n"
        "datason.loads(datason.dumps({'a': [1, 2.5, datetime.datetime(2024, 1, 1)]}))\n"
        'datason.loads(\'{"__datason_type__": "no.such", "__datason_value__": 1}\')\n'
        "assert 'pandas' not in sys.modules, 'pandas imported'\n"
        "assert 'datason.handlers.pandas' not in sys.modules\n"
    )


def test_pandas_handlers_load_on_first_pandas_tag() -> None:
    _run(
        "import sys, datason\n"
        'ts = datason.loads(\'{"__datason_type__": "pandas.Timestamp", '
        '"__datason_value__": {"value": 0, "unit": "s"}}\')\n'
        "assert 'datason.handlers.pandas' in sys.modules\n"
        "import pandas as pd\n"
        "assert ts == pd.Timestamp(0)\n"
    )


# --- generated frames ---------------------------------------------------------------------------------------

GENERATED_DTYPES = ["int8", "uint16", "int64", "float32", "float64", "bool", "datetime64[ns]", "timedelta64[ns]"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    df=hpd.data_frames(
        columns=[hpd.column(f"c{i}", dtype=dtype) for i, dtype in enumerate(GENERATED_DTYPES)]
        + [hpd.column("obj", elements=st.one_of(st.none(), st.text(max_size=5), st.integers(), st.floats()))],
        index=hpd.indexes(elements=st.integers(-(2**63), 2**63 - 1), max_size=20),
    ),
    compact=st.booleans(),
    na=st.data(),
)
def test_generated_frames_round_trip(df: Any, compact: bool, na: st.DataObject) -> None:
    if len(df):
        mask = na.draw(st.lists(st.booleans(), min_size=len(df), max_size=len(df)))
        df["nullable"] = pd.array(np.arange(len(df)), dtype="Int32")
        df.loc[np.array(mask), "nullable"] = pd.NA
        df["cat"] = pd.Categorical(
            na.draw(st.lists(st.sampled_from(["a", "b", None]), min_size=len(df), max_size=len(df)))
        )
    config = get_performance_config() if compact else SerializationConfig(array_format="readable")
    assert_pandas_same(datason.loads(datason.dumps(df, config), config), df)


# --- speed (reported, not asserted) ---------------------------------------------------------------------------


def build_frame_c(seed: int = 20240101, n: int = 1000) -> Any:
    """Workload C: 1000 x 20, mixed dtypes (float32, int64, str, category, tz datetime, bool, nullable Int64)."""
    rng = np.random.default_rng(seed)
    kinds = ["f32", "i64", "str", "cat", "dt", "bool", "Int64"]
    columns: dict[str, Any] = {}
    for j in range(20):
        kind = kinds[j % len(kinds)]
        if kind == "f32":
            values: Any = rng.standard_normal(n).astype("float32")
            values[::97] = np.nan
        elif kind == "i64":
            values = rng.integers(-(10**12), 10**12, n)
        elif kind == "str":
            letters = list("abcdefghij")
            values = pd.Series(["".join(rng.choice(letters, 6)) if i % 50 else None for i in range(n)]).array
        elif kind == "cat":
            values = pd.Categorical(rng.choice(["red", "green", "blue", "cyan"], n))
        elif kind == "dt":
            counts = np.datetime64("2024-01-01T00:00:00", "ns").astype(np.int64) + rng.integers(
                0, 366 * 86400 * 10**9, n
            )
            times = pd.DatetimeIndex(counts.view("M8[ns]")).tz_localize("UTC").tz_convert(PARIS)
            values = times.where(np.arange(n) != 5).array  # one NaT
        elif kind == "bool":
            values = rng.random(n) > 0.5
        else:
            values = pd.array(rng.integers(-1000, 1000, n), dtype="Int64")
            values[::13] = pd.NA
        columns[f"{kind}_{j}"] = values
    return pd.DataFrame(columns)


def _best_ms(fn: Callable[[], Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


@pytest.mark.skipif(not os.environ.get("DATASON_BENCH"), reason="set DATASON_BENCH=1 to print workload C timings")
def test_workload_c_speed_report() -> None:
    """Best-of-N ms: datason's exact typed round trip vs orjson on the split layout (values as prebuilt lists)."""
    import orjson

    df = build_frame_c()
    cols = [
        [None if v is pd.NaT else v.isoformat() for v in s]
        if s.dtype.kind == "M"
        else s.astype(object).where(s.notna(), None).tolist()
        for _, s in df.items()
    ]
    rows = [list(row) for row in zip(*cols, strict=True)]
    split = {"columns": list(df.columns), "index": list(range(len(df))), "data": rows}
    rounds = int(os.environ.get("DATASON_BENCH_ROUNDS", "300"))
    orjson_ms = _best_ms(lambda: orjson.loads(orjson.dumps(split)), rounds)
    text = datason.dumps(df)
    assert_pandas_same(datason.loads(text), df)
    dumps_ms = _best_ms(lambda: datason.dumps(df), rounds)
    loads_ms = _best_ms(lambda: datason.loads(text), rounds)
    typed_ms = _best_ms(lambda: datason.loads(datason.dumpb(df)), rounds)
    tree_ms = _best_ms(lambda: datason.deserialize(datason.serialize(df)), rounds)
    lines = [
        f"orjson split dumps+loads (lists prebuilt): {orjson_ms:.3f} ms, {len(orjson.dumps(split))} bytes",
        f"datason typed dumps {dumps_ms:.3f} ms + loads {loads_ms:.3f} ms; round trip {typed_ms:.3f} ms = "
        f"{typed_ms / orjson_ms:.2f}x orjson, {len(text)} bytes, exact",
        f"datason serialize+deserialize {tree_ms:.3f} ms = {tree_ms / orjson_ms:.2f}x orjson",
    ]
    for orient in ("split", "table"):

        def pandas_round_trip(orient: str = orient) -> Any:
            return pd.read_json(
                io.StringIO(df.to_json(orient=orient, date_unit="ns", date_format="iso")), orient=orient
            )

        pandas_ms = _best_ms(pandas_round_trip, max(rounds // 10, 3))
        try:
            pd.testing.assert_frame_equal(pandas_round_trip(), df, check_exact=True)
            exact = "exact"
        except AssertionError:
            exact = "NOT exact"
        lines.append(
            f"pandas to_json/read_json orient={orient}: {pandas_ms:.3f} ms = {pandas_ms / orjson_ms:.1f}x, {exact}"
        )
    print("\n" + "\n".join(lines))
