"""PyArrow and Polars handlers: exact typed round trips, plain forms, hostile payloads, lazy import."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
pl = pytest.importorskip("polars")

from polars.testing import assert_frame_equal, assert_series_equal  # noqa: E402

import datason  # noqa: E402
from datason import DeserializationError, SecurityError, SerializationError  # noqa: E402
from datason.config import SerializationConfig, get_api_config  # noqa: E402

from .conftest import strict_json  # noqa: E402

UTC = dt.UTC


def _both(x: Any, config: SerializationConfig | None = None) -> list[Any]:
    """``loads(dumps(x))`` and ``deserialize(serialize(x))``."""
    return [datason.loads(datason.dumps(x, config), config), datason.deserialize(datason.serialize(x, config), config)]


# --- PyArrow --------------------------------------------------------------------------------------------------


def _table() -> Any:
    t = pa.table(
        {
            "i": pa.array([1, None, 3], pa.int32()),
            "f": [1.5, None, -0.0],  # NaN: Arrow's equals says NaN != NaN, see test_arrow_nan_bits
            "s": ["x", None, "ü"],
            "dict": pa.array(["a", "b", "a"]).dictionary_encode(),
            "ts": pa.array([dt.datetime(2024, 1, 1, 12)] * 3, pa.timestamp("ns", tz="Europe/Paris")),
            "d": pa.array([dt.date(2024, 1, 2), None, dt.date(1, 1, 1)]),
            "dec": pa.array([decimal.Decimal("1.25"), None, decimal.Decimal("-3.50")], pa.decimal128(10, 2)),
            "lst": pa.array([[1, 2], [], None], pa.list_(pa.int64())),
            "st": pa.array([{"a": 1, "b": "x"}, None, {"a": None, "b": "y"}]),
            "bin": [b"\x00\xff", None, b""],
            "null": pa.nulls(3),
        },
        metadata={"owner": "datason", "v": "1"},
    )
    field = t.schema.field("i").with_metadata({"unit": "m"})
    t = t.cast(t.schema.set(0, field))
    return pa.concat_tables([t, t.slice(1)])  # two chunks per column


ARROW: dict[str, Callable[[], Any]] = {
    "table": _table,
    "empty-table": lambda: pa.table({"a": pa.array([], pa.int8())}, metadata={"k": "v"}),
    "no-columns": lambda: pa.table({}),
    "record-batch": lambda: _table().to_batches()[0],
    "int-array": lambda: pa.array([1, None, 3]),
    "string-array": lambda: pa.array(["a", None, ""], pa.large_string()),
    "dictionary-array": lambda: pa.array(["a", "b", None, "a"]).dictionary_encode(),
    "struct-array": lambda: pa.array([{"x": 1.5, "y": [1]}, None]),
    "timestamp-array": lambda: pa.array([0, None], pa.timestamp("us", tz="UTC")),
    "chunked": lambda: _table().column("st"),
    "chunked-empty": lambda: pa.chunked_array([], pa.float32()),
}


def _same_arrow(got: Any, want: Any) -> None:
    assert type(got) is type(want)
    if isinstance(want, pa.Table | pa.RecordBatch):
        assert got.equals(want, check_metadata=True)
        assert got.schema.equals(want.schema, check_metadata=True)
    else:
        assert got.type == want.type
        assert got.equals(want)
    if isinstance(want, pa.Table):
        assert [c.num_chunks for c in got.columns] == [c.num_chunks for c in want.columns]
    if isinstance(want, pa.ChunkedArray):
        assert got.num_chunks == want.num_chunks


@pytest.mark.parametrize("name", list(ARROW))
def test_arrow_round_trip(name: str, walker: str) -> None:
    value = ARROW[name]()
    for got in _both(value):
        _same_arrow(got, value)


def test_arrow_nan_bits(walker: str) -> None:
    nan = pa.array([float("nan"), -float("nan"), 1.0, None])
    for got in _both(nan):
        assert got.type == nan.type and got.null_count == 1
        assert got.buffers()[1].to_pybytes() == nan.buffers()[1].to_pybytes()


def test_arrow_inside_other_values(walker: str) -> None:
    t = _table()
    got = datason.loads(datason.dumps({"tables": [t, t.column(0)], "n": 1}))
    _same_arrow(got["tables"][0], t)
    _same_arrow(got["tables"][1], t.column(0))


def test_arrow_payload_layout() -> None:
    doc = json.loads(datason.dumps(pa.array([1, 2])))
    assert doc["__datason_type__"] == "pyarrow.Array"
    payload = doc["__datason_value__"]
    assert set(payload) == {"format", "data"} and payload["format"] == "arrow-stream"
    reader = pa.ipc.open_stream(base64.b64decode(payload["data"]))
    assert reader.schema.names == [""]


PLAIN_TABLE = pa.table({"a": [1, None], "f": [float("nan"), 2.5], "t": pa.array([0, 1], pa.timestamp("s", tz="UTC"))})
PLAIN_EXPECTED = {
    "records": [
        {"a": 1, "f": None, "t": "1970-01-01T00:00:00+00:00"},
        {"a": None, "f": 2.5, "t": "1970-01-01T00:00:01+00:00"},
    ],
    "split": {
        "columns": ["a", "f", "t"],
        "index": [0, 1],
        "data": [[1, None, "1970-01-01T00:00:00+00:00"], [None, 2.5, "1970-01-01T00:00:01+00:00"]],
    },
    "columns": {
        "a": {"0": 1, "1": None},
        "f": {"0": None, "1": 2.5},
        "t": {"0": "1970-01-01T00:00:00+00:00", "1": "1970-01-01T00:00:01+00:00"},
    },
    "index": {
        "0": {"a": 1, "f": None, "t": "1970-01-01T00:00:00+00:00"},
        "1": {"a": None, "f": 2.5, "t": "1970-01-01T00:00:01+00:00"},
    },
    "values": [[1, None, "1970-01-01T00:00:00+00:00"], [None, 2.5, "1970-01-01T00:00:01+00:00"]],
}


@pytest.mark.parametrize("orient", list(PLAIN_EXPECTED))
def test_arrow_and_polars_plain_frames(orient: str, walker: str) -> None:
    cfg = get_api_config().replace(dataframe_orient=orient, sort_keys=False)
    for frame in (PLAIN_TABLE, PLAIN_TABLE.to_batches()[0], pl.from_arrow(PLAIN_TABLE)):
        assert strict_json(datason.dumps(frame, cfg)) == PLAIN_EXPECTED[orient]
        assert datason.serialize(frame, cfg) == PLAIN_EXPECTED[orient]


def test_plain_frames_match_the_pandas_handler(walker: str) -> None:
    pytest.importorskip("pandas")
    df = pl.DataFrame({"a": [1, 2, None], "s": ["x", None, "z"], "f": [0.5, float("nan"), 1.0]})
    for orient in ("records", "split", "columns", "index", "values"):
        cfg = get_api_config().replace(dataframe_orient=orient)
        assert strict_json(datason.dumps(df, cfg)) == strict_json(datason.dumps(df.to_pandas(), cfg)), orient


def test_plain_arrays_and_nan_handling(walker: str) -> None:
    cfg = get_api_config()
    assert strict_json(datason.dumps(pa.array([1.0, float("nan"), None]), cfg)) == [1.0, None, None]
    chunked = pa.chunked_array([[1], [2, None]])
    assert strict_json(datason.dumps(chunked, cfg)) == [1, 2, None]
    as_string = cfg.replace(nan_handling="string")
    assert strict_json(datason.dumps(pa.array([float("nan")]), as_string)) == ["NaN"]
    with pytest.raises(SerializationError):
        datason.dumps(pa.array([float("nan")]), cfg.replace(nan_handling="error"))
    with pytest.raises(SerializationError):
        datason.dumps(PLAIN_TABLE, cfg.replace(dataframe_orient="table"))


# --- Polars ---------------------------------------------------------------------------------------------------


def _frame() -> Any:
    return pl.DataFrame(
        {
            "i": pl.Series([1, None, 3], dtype=pl.Int16),
            "u": pl.Series([1, 2, 3], dtype=pl.UInt64),
            "f": [1.5, float("nan"), None],
            "b": [True, None, False],
            "s": ["x", None, "ü"],
            "cat": pl.Series(["a", "b", None], dtype=pl.Categorical),
            "enum": pl.Series(["lo", None, "hi"], dtype=pl.Enum(["hi", "lo", "mid"])),
            "dt": pl.Series([dt.datetime(2024, 3, 31, 1, 30, tzinfo=UTC)] * 2 + [None]).cast(
                pl.Datetime("ms", "Europe/Paris")
            ),
            "naive": pl.Series([dt.datetime(2024, 1, 1, 0, 0, 0, 1)] * 3, dtype=pl.Datetime("ns")),
            "date": [dt.date(2024, 1, 2), None, dt.date(1970, 1, 1)],
            "dur": pl.Series([dt.timedelta(days=1, microseconds=5), None, dt.timedelta(0)], dtype=pl.Duration("us")),
            "time": [dt.time(1, 2, 3), None, dt.time(0)],
            "dec": pl.Series([decimal.Decimal("1.23"), None, decimal.Decimal("-0.01")], dtype=pl.Decimal(10, 2)),
            "lst": [[1, 2], [], None],
            "arr": pl.Series([[1, 2], [3, 4], None], dtype=pl.Array(pl.Int8, 2)),
            "st": [{"a": 1, "b": "x"}, None, {"a": None, "b": "y"}],
            "bin": [b"\x00", None, b""],
            "null": [None, None, None],
        }
    )


POLARS: dict[str, Callable[[], Any]] = {
    "frame": _frame,
    "empty-frame": lambda: _frame().clear(),
    "no-columns": lambda: pl.DataFrame(),
    **{f"series-{name}": (lambda name=name: _frame()[name]) for name in _frame().columns},
    "series-unnamed": lambda: pl.Series([1, 2]),
    "series-odd-name": lambda: pl.Series("a name with spaces ✓", ["q"], dtype=pl.Categorical),
}


@pytest.mark.parametrize("name", list(POLARS))
def test_polars_round_trip(name: str, walker: str) -> None:
    value = POLARS[name]()
    for got in _both(value):
        assert type(got) is type(value)
        if isinstance(value, pl.DataFrame):
            assert_frame_equal(got, value, categorical_as_str=False)
            assert got.schema == value.schema
        else:
            assert_series_equal(got, value, categorical_as_str=False)
            assert got.name == value.name and got.dtype == value.dtype


def test_polars_plain_series_and_values(walker: str) -> None:
    cfg = get_api_config()
    df = _frame()
    records = strict_json(datason.dumps(df, cfg))
    assert records[0]["dt"] == "2024-03-31T03:30:00+02:00"
    assert records[0]["date"] == "2024-01-02"
    assert records[0]["dur"] == "P1DT0.000005S" or records[0]["dur"].startswith("P1D")
    assert records[0]["dec"] == "1.23" and records[0]["cat"] == "a" and records[0]["enum"] == "lo"
    assert records[1]["f"] is None and records[0]["st"] == {"a": 1, "b": "x"}
    assert strict_json(datason.dumps(df["enum"], cfg)) == ["lo", None, "hi"]
    assert datason.serialize(df["f"], cfg) == [1.5, None, None]


# --- hostile payloads -----------------------------------------------------------------------------------------


def _doc(tag: str, payload: Any) -> str:
    return json.dumps({"__datason_type__": tag, "__datason_value__": payload})


def _ipc_of(value: Any) -> str:
    sink = pa.BufferOutputStream()
    table = value if isinstance(value, pa.Table) else pa.table({"a": value, "b": value})
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return base64.b64encode(sink.getvalue().to_pybytes()).decode()


TAGS = ["pyarrow.Table", "pyarrow.RecordBatch", "pyarrow.Array", "pyarrow.ChunkedArray", "polars.DataFrame"]
TAGS.append("polars.Series")
BAD: dict[str, Any] = {
    "not-an-object": [1, 2],
    "missing-data": {"format": "arrow-stream"},
    "extra-member": {"format": "arrow-stream", "data": "", "x": 1},
    "wrong-format": {"format": "parquet", "data": ""},
    "data-not-string": {"format": "arrow-stream", "data": 5},
    "malformed-base64": {"format": "arrow-stream", "data": "!!!secret!!!"},
    "not-ipc": {"format": "arrow-stream", "data": base64.b64encode(b"secret bytes, not IPC" * 3).decode()},
    "truncated-ipc": {"format": "arrow-stream", "data": _ipc_of(pa.array([1, 2, 3]))[:-24]},
    "empty": {"format": "arrow-stream", "data": ""},
}


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize("bad", list(BAD))
def test_bad_payloads_raise_datason_errors(tag: str, bad: str, walker: str) -> None:
    with pytest.raises(DeserializationError) as info:
        datason.loads(_doc(tag, BAD[bad]))
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("tag", ["pyarrow.Array", "pyarrow.ChunkedArray", "pyarrow.RecordBatch", "polars.Series"])
def test_wrong_shape_of_stream(tag: str) -> None:
    two_columns = {"format": "arrow-stream", "data": _ipc_of(pa.array([1, 2]))}
    if tag == "pyarrow.RecordBatch":
        two_columns["data"] = _ipc_of(pa.concat_tables([pa.table({"a": [1]}), pa.table({"a": [2]})]))
    with pytest.raises(DeserializationError):
        datason.loads(_doc(tag, two_columns))


@pytest.mark.parametrize("tag", TAGS)
def test_sizes_are_checked_before_decoding(tag: str) -> None:
    big = {"format": "arrow-stream", "data": _ipc_of(pa.array(list(range(1000))))}
    if tag.endswith(("Array", "Series")):
        big["data"] = _ipc_of(pa.table({"a": list(range(1000))}))
    with pytest.raises(SecurityError):
        datason.loads(_doc(tag, big), SerializationConfig(max_bytes=1000))
    with pytest.raises(SecurityError):
        datason.loads(_doc(tag, big), SerializationConfig(max_size=100))


# --- lazy import ----------------------------------------------------------------------------------------------


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_import_datason_does_not_import_polars_or_pyarrow() -> None:
    _run(
        "import sys, datason\n"
        "datason.loads(datason.dumps({'a': [1, 2.5]}))\n"
        "assert 'polars' not in sys.modules and 'pyarrow' not in sys.modules\n"
        "assert 'datason.handlers.polars' not in sys.modules and 'datason.handlers.arrow' not in sys.modules\n"
    )


def test_handlers_load_on_first_value_or_tag() -> None:
    _run(
        "import sys, datason, pyarrow as pa\n"
        "s = datason.dumps(pa.array([1]))\n"
        "assert 'datason.handlers.arrow' in sys.modules and 'polars' not in sys.modules\n"
        "import polars as pl\n"
        "t = datason.dumps(pl.Series([1]))\n"
        "assert 'datason.handlers.polars' in sys.modules\n"
    )
    _run(
        "import sys, datason\n"
        'doc = \'{"__datason_type__": "polars.Series", "__datason_value__": {"format": "arrow-stream", "data": ""}}\'\n'
        "try:\n    datason.loads(doc)\nexcept datason.DeserializationError:\n    pass\n"
        "assert 'datason.handlers.polars' in sys.modules\n"
    )
