"""One OIP tensor <-> one Python value: datatypes, exact floats, content types, pandas columns, malformed input."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from datason import DeserializationError, SecurityError, SerializationError
from datason.config import get_api_config
from datason.protocols import oip_tensors as t
from datason.protocols.oip_tensors import Tensor, decode_tensor, encode_tensor

NUMERIC = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}


def json_round_trip(value: Any, **kw: Any) -> Tensor:
    """encode_tensor -> strict JSON text -> parse -> decode_tensor."""
    tensor, chunk = encode_tensor("x", value, **kw)
    assert chunk is None
    text = json.dumps(tensor, allow_nan=False)  # strict RFC 8259 or it raises
    return decode_tensor(json.loads(text))


def binary_round_trip(value: Any) -> Tensor:
    tensor, chunk = encode_tensor("x", value, binary=True)
    assert chunk is not None and "data" not in tensor
    assert tensor["parameters"]["binary_data_size"] == len(chunk)
    return decode_tensor(tensor, binary=memoryview(chunk))


def same_array(a: np.ndarray, b: np.ndarray) -> None:
    assert isinstance(b, np.ndarray)
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype != object:
        assert a.tobytes() == b.tobytes()
    else:
        assert a.tolist() == b.tolist()
        assert [type(x) for x in a.reshape(-1)] == [type(x) for x in b.reshape(-1)]


# --- datatypes ----------------------------------------------------------------------------------------------


def test_datatypes_map_names_to_numpy_dtypes() -> None:
    assert t.DATATYPES["BYTES"] == np.dtype(object)
    assert t.DATATYPES["BF16"] == np.dtype(np.float32)
    for name, typ in NUMERIC.items():
        assert t.DATATYPES[name] == np.dtype(typ)
        assert t.datatype_of(np.dtype(typ)) == name
    with pytest.raises(TypeError):
        t.DATATYPES["X"] = np.dtype(int)  # type: ignore[index]


@pytest.mark.parametrize("datatype", sorted(NUMERIC))
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (2, 0, 3), (2, 2, 2)])
def test_every_numeric_datatype_round_trips_in_json_and_binary(datatype: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(shape) * 31 + len(datatype))
    dtype = np.dtype(NUMERIC[datatype])
    if dtype.kind == "b":
        a = rng.integers(0, 2, size=shape).astype(bool)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    else:
        a = (rng.standard_normal(size=shape) * 100).astype(dtype)
    for back in (json_round_trip(a), binary_round_trip(a)):
        assert back.datatype == datatype and back.shape == shape
        same_array(a, back.value)


def test_a_1d_shape_stays_1d() -> None:
    tensor, _ = encode_tensor("x", np.arange(3, dtype=np.int32))
    assert tensor["shape"] == [3]
    assert decode_tensor(tensor).value.shape == (3,)


def test_extreme_integers_keep_their_values() -> None:
    for a in (
        np.array([0, 2**64 - 1], dtype=np.uint64),
        np.array([-(2**63), 2**63 - 1], dtype=np.int64),
        np.array([-128, 127], dtype=np.int8),
    ):
        same_array(a, json_round_trip(a).value)


# --- exact floats -------------------------------------------------------------------------------------------

# The one positive float32 whose shortest digits (orjson's) read as a double and rounded again to float32 land
# on a neighbour: found by checking every finite float32.
DOUBLE_ROUNDING = np.array([0x15AE43FD], dtype=np.uint32).view(np.float32)


def test_float32_writes_shortest_digits() -> None:
    tensor, _ = encode_tensor("x", np.array([0.1, 1.0, 3.4028235e38], dtype=np.float32))
    assert tensor["data"] == [0.1, 1.0, 3.4028235e38]  # not 0.10000000149011612: float32's own digits


@pytest.mark.parametrize("size", [1, 200])  # small arrays check every value, large ones a filtered few
def test_float32_double_rounding_value_comes_back_bit_identical(size: int) -> None:
    a = np.concatenate([np.full(size - 1, 0.5, dtype=np.float32), DOUBLE_ROUNDING])
    a = np.concatenate([a, -a])
    digits = orjson.dumps(DOUBLE_ROUNDING, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].decode()
    assert np.float32(float(digits)) != DOUBLE_ROUNDING[0]  # the trap: orjson's digits alone are not enough
    back = json_round_trip(a).value
    assert back.dtype == np.float32 and back.tobytes() == a.tobytes()


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, st.integers(0, 80), elements=st.floats(width=32, allow_nan=False, allow_infinity=False)))
def test_float32_json_is_bit_identical(a: np.ndarray) -> None:
    back = json_round_trip(a).value
    assert back.dtype == np.float32 and back.tobytes() == a.tobytes()


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float16, st.integers(0, 40), elements=st.floats(width=16, allow_nan=False, allow_infinity=False)))
def test_float16_json_is_bit_identical(a: np.ndarray) -> None:
    back = json_round_trip(a).value
    assert back.dtype == np.float16 and back.tobytes() == a.tobytes()


def test_float64_json_is_bit_identical() -> None:
    a = np.array([0.1, 5e-324, 1.7976931348623157e308, -0.0, 1 / 3], dtype=np.float64)
    same_array(a, json_round_trip(a).value)


def test_nan_is_null_and_comes_back_nan() -> None:
    a = np.array([[1.5, np.nan], [np.nan, -2.0]], dtype=np.float32)
    tensor, _ = encode_tensor("x", a)
    assert tensor["data"] == [1.5, None, None, -2.0]
    back = decode_tensor(tensor).value
    assert back.dtype == np.float32
    assert np.array_equal(np.isnan(back), np.isnan(a)) and np.array_equal(back, a, equal_nan=True)


def test_infinity_follows_nan_handling_in_json_and_binary_carries_it() -> None:
    tensor, _ = encode_tensor("x", np.array([1.0, np.inf, -np.inf], dtype=np.float32))
    assert tensor["data"] == [1.0, None, None]  # nan_handling="null" (the API config): strict JSON, no infinity
    with pytest.raises(SerializationError, match="binary") as info:
        encode_tensor("x", np.array([1.0, np.inf]), config=get_api_config().replace(nan_handling="error"))
    assert info.value.path.endswith(".data")
    back = binary_round_trip(np.array([1.0, np.inf, -np.inf, np.nan]))
    assert back.value.tolist()[:3] == [1.0, math.inf, -math.inf] and math.isnan(back.value[3])


def test_nan_handling_string_writes_special_words_that_come_back() -> None:
    cfg = get_api_config().replace(nan_handling="string")
    a = np.array([np.inf, -np.inf, np.nan, 0.25], dtype=np.float32)
    tensor, _ = encode_tensor("x", a, config=cfg)
    assert tensor["data"] == ["inf", "-inf", "nan", 0.25]
    back = decode_tensor(json.loads(json.dumps(tensor, allow_nan=False))).value
    assert back.dtype == np.float32 and back[:2].tolist() == [math.inf, -math.inf] and math.isnan(back[2])


def test_nan_handling_error_refuses_nan() -> None:
    with pytest.raises(SerializationError):
        encode_tensor("x", np.array([np.nan]), config=get_api_config().replace(nan_handling="error"))


def test_bf16_truncates_float32_and_reads_json_floats() -> None:
    a = np.array([0.1, -3.0, np.nan, 1e-3], dtype=np.float32)
    tensor, _ = encode_tensor("x", Tensor("x", (4,), "BF16", {}, a))
    assert tensor["datatype"] == "BF16"
    back = decode_tensor(tensor).value
    expected = (a.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
    assert back.dtype == np.float32
    assert np.array_equal(back, expected, equal_nan=True)
    assert (back.view(np.uint32)[[0, 1, 3]] & 0xFFFF).tolist() == [0, 0, 0]
    assert back[0] == np.float32(0.099609375)  # truncated, not rounded (0.10009765625)
    bin_back = binary_round_trip(Tensor("x", (4,), "BF16", {}, a)).value
    assert np.array_equal(bin_back, expected, equal_nan=True)


# --- nested data and shapes ---------------------------------------------------------------------------------


def test_nested_data_matching_the_shape_are_accepted() -> None:
    tensor = {"name": "x", "shape": [2, 3], "datatype": "INT32", "data": [[1, 2, 3], [4, 5, 6]]}
    value = decode_tensor(tensor).value
    assert value.dtype == np.int32 and value.tolist() == [[1, 2, 3], [4, 5, 6]]
    deep = {"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [[2.5]]}
    assert decode_tensor(deep).value.tolist() == [[2.5]]


@pytest.mark.parametrize(
    "data",
    [[[1, 2], [3, 4, 5]], [[1, 2, 3]], [1, 2, 3, 4, 5], [[1, 2, 3], [4, 5]], [[[1], [2], [3]], [[4], [5], [6]]]],
)
def test_nested_or_flat_data_not_matching_the_shape_name_the_data(data: Any) -> None:
    with pytest.raises(DeserializationError) as info:
        decode_tensor({"name": "x", "shape": [2, 3], "datatype": "INT32", "data": data}, path="$.inputs[2]")
    assert info.value.path == "$.inputs[2].data"


# --- malformed tensors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tensor", "field"),
    [
        ({"shape": [1], "datatype": "FP32", "data": [1]}, "name"),
        ({"name": 3, "shape": [1], "datatype": "FP32", "data": [1]}, "name"),
        ({"name": "x", "datatype": "FP32", "data": [1]}, "shape"),
        ({"name": "x", "shape": [-1], "datatype": "FP32", "data": [1]}, "shape"),
        ({"name": "x", "shape": [1.0], "datatype": "FP32", "data": [1]}, "shape"),
        ({"name": "x", "shape": [True], "datatype": "FP32", "data": [1]}, "shape"),
        ({"name": "x", "shape": "1", "datatype": "FP32", "data": [1]}, "shape"),
        ({"name": "x", "shape": [1], "data": [1]}, "datatype"),
        ({"name": "x", "shape": [1], "datatype": "FP128", "data": [1]}, "datatype"),
        ({"name": "x", "shape": [1], "datatype": "fp32", "data": [1]}, "datatype"),
        ({"name": "x", "shape": [1], "datatype": "FP32"}, "data"),
        ({"name": "x", "shape": [1], "datatype": "FP32", "data": 1.0}, "data"),
        ({"name": "x", "shape": [2], "datatype": "FP32", "data": [1.0]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "INT32", "data": ["1"]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "UINT8", "data": [300]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "UINT8", "data": [-1]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "INT64", "data": [1.5]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "INT64", "data": [2**63]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "INT32", "data": [None]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "INT32", "data": [True]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "FP32", "data": [True]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "FP32", "data": ["1.5"]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "FP32", "data": [1e39]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "FP16", "data": [70000]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "FP64", "data": [10**400]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "BOOL", "data": [1]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "BOOL", "data": [None]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "BYTES", "data": [1]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "FP32", "data": [[1.0]]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "FP32", "data": [{"a": 1}]}, "data"),
        ({"name": "x", "shape": [1], "datatype": "FP32", "data": [1], "parameters": [1]}, "parameters"),
        ({"name": "x", "shape": [1], "datatype": "FP32", "data": [1], "parameters": {"content_type": 1}}, "parameters"),
    ],
)
def test_malformed_tensors_name_the_field_and_never_quote_values(tensor: dict[str, Any], field: str) -> None:
    with pytest.raises(DeserializationError) as info:
        decode_tensor(tensor, path="$.inputs[1]")
    assert info.value.path.startswith("$.inputs[1]." + field)
    for leaked in ("1.5", "300", "1e+39", "70000", "fp32", "FP128"):
        assert leaked not in info.value.reason


def test_shape_larger_than_max_size_is_refused_before_anything_is_allocated() -> None:
    huge = {"name": "x", "shape": [10**9, 10**9], "datatype": "FP64", "data": []}
    with pytest.raises(SecurityError) as info:
        decode_tensor(huge)
    assert info.value.path == "$.inputs[0].shape"


def test_bytes_tensor_with_binary_data_size_but_no_body_is_refused() -> None:
    tensor = {"name": "x", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": 4}}
    with pytest.raises(DeserializationError) as info:
        decode_tensor(tensor)
    assert info.value.path == "$.inputs[0].parameters.binary_data_size"


# --- BYTES and content types --------------------------------------------------------------------------------


def test_strings_are_bytes_str_content_type_and_come_back_str() -> None:
    a = np.array([["a", "héllo"], ["日本", ""]], dtype=object)
    tensor, _ = encode_tensor("x", a)
    assert tensor["datatype"] == "BYTES" and tensor["parameters"]["content_type"] == "str"
    assert tensor["data"] == ["a", "héllo", "日本", ""]
    for back in (json_round_trip(a), binary_round_trip(a)):
        same_array(a, back.value)


def test_bytes_without_content_type_come_back_bytes() -> None:
    a = np.array([b"abc", "é".encode()], dtype=object)
    tensor, _ = encode_tensor("x", a)
    assert "parameters" not in tensor and tensor["data"] == ["abc", "é"]
    same_array(a, json_round_trip(a).value)
    same_array(a, binary_round_trip(a).value)


def test_non_utf8_bytes_travel_as_base64_in_json_and_raw_in_binary() -> None:
    a = np.array([b"\xff\x00\xfe", b""], dtype=object)
    tensor, _ = encode_tensor("x", a)
    assert tensor["parameters"]["content_type"] == "base64" and tensor["data"] == ["/wD+", ""]
    same_array(a, json_round_trip(a).value)
    binary, chunk = encode_tensor("x", a, binary=True)
    assert "content_type" not in binary["parameters"] and chunk == b"\x03\x00\x00\x00\xff\x00\xfe\x00\x00\x00\x00"
    same_array(a, binary_round_trip(a).value)


def test_foreign_content_types_decode_as_mlserver_codecs_do() -> None:
    base64_t = {"name": "b", "shape": [2], "datatype": "BYTES", "parameters": {"content_type": "base64"}}
    assert decode_tensor({**base64_t, "data": ["aGk=", "AAE="]}).value.tolist() == [b"hi", b"\x00\x01"]
    dt_t = {"name": "d", "shape": [2, 1], "datatype": "BYTES", "parameters": {"content_type": "datetime"}}
    value = decode_tensor({**dt_t, "data": ["2024-01-02T03:04:05", "2024-06-01T00:00:00+05:30"]}).value
    assert value.shape == (2, 1)
    assert value[0, 0] == dt.datetime(2024, 1, 2, 3, 4, 5)
    assert value[1, 0] == dt.datetime(2024, 6, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
    js = {"name": "j", "shape": [3], "datatype": "BYTES", "parameters": {"content_type": "pd_json"}}
    assert decode_tensor({**js, "data": ["1", '{"a": [1, 2]}', "null"]}).value.tolist() == [1, {"a": [1, 2]}, None]
    plain = {"name": "s", "shape": [1], "datatype": "BYTES", "data": ["x"]}
    assert decode_tensor(plain, default_content_type="str").value.tolist() == ["x"]


@pytest.mark.parametrize(
    ("ct", "item"),
    [("base64", "not base64!"), ("datetime", "yesterday"), ("pd_json", "{oops")],
)
def test_bad_items_for_a_content_type_name_the_data(ct: str, item: str) -> None:
    tensor = {"name": "x", "shape": [1], "datatype": "BYTES", "parameters": {"content_type": ct}, "data": [item]}
    with pytest.raises(DeserializationError) as info:
        decode_tensor(tensor, path="$.inputs[4]")
    assert info.value.path == "$.inputs[4].data"
    assert item not in str(info.value)


def test_datetime64_travels_as_iso_text_and_comes_back_exactly() -> None:
    for a in (
        np.array(["2024-01-02T03:04:05", "NaT", "1969-12-31T23:59:59"], dtype="M8[s]"),
        np.array(["2024-01-02T03:04:05.123456789", "NaT"], dtype="M8[ns]"),
        np.array(["2024-01-02T03:04:05", "2024-01-02"], dtype="M8[ns]"),
        np.array(["2024-01-02", "1700-03-04"], dtype="M8[D]"),
    ):
        tensor, _ = encode_tensor("x", a)
        assert tensor["parameters"]["content_type"] == "datetime"
        assert None in tensor["data"] or "NaT" not in str(tensor["data"])
        same_array(a, json_round_trip(a).value)
    tensor, _ = encode_tensor("x", np.array(["2024-01-02T03:04:05"], dtype="M8[ns]"))
    assert tensor["data"] == ["2024-01-02T03:04:05"]  # the coarsest exact precision: readable by any ISO parser


def test_timedelta64_travels_as_int64_counts() -> None:
    a = np.array([1, -5, 2**40], dtype="m8[ms]")
    a[1] = np.timedelta64("NaT")
    tensor, _ = encode_tensor("x", a)
    assert tensor["datatype"] == "INT64" and tensor["data"] == [1, None, 2**40]
    same_array(a, json_round_trip(a).value)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_travels_as_float_pairs(dtype: type) -> None:
    a = np.array([[1 + 2j, -0.5j], [3, np.nan + 1j]], dtype=dtype)
    tensor, _ = encode_tensor("x", a)
    assert tensor["shape"] == [2, 2, 2] and tensor["datatype"] == ("FP32" if dtype is np.complex64 else "FP64")
    same_array(a, json_round_trip(a).value)
    same_array(a, binary_round_trip(a).value)


def test_fixed_width_text_arrays_keep_their_dtype() -> None:
    for a in (np.array(["ab", "é"], dtype="<U7"), np.array([b"ab", b"c"], dtype="|S4")):
        same_array(a, json_round_trip(a).value)


def test_uuid_decimal_date_items_keep_their_types() -> None:
    for items in (
        [uuid.UUID(int=5), uuid.UUID(int=2**120)],
        [decimal.Decimal("1.10"), decimal.Decimal("-0"), decimal.Decimal("NaN")],
        [dt.date(2024, 2, 29), dt.date(1, 1, 1)],
    ):
        a = np.array(items, dtype=object)
        back = json_round_trip(a).value
        assert [type(x) for x in back] == [type(x) for x in items]
        assert [str(x) for x in back] == [str(x) for x in items]


def test_other_objects_travel_as_datason_json_text() -> None:
    a = np.array([1, "two", {"k": uuid.UUID(int=1)}, None], dtype=object)
    tensor, _ = encode_tensor("x", a)
    assert tensor["parameters"]["content_type"] == "pd_json" and tensor["data"][0] == "1"
    back = json_round_trip(a).value
    assert back.tolist() == [1, "two", {"k": uuid.UUID(int=1)}, None]


def test_scalars_and_lists() -> None:
    zero_d = json_round_trip(3.5)
    assert zero_d.shape == () and zero_d.value.dtype == np.float64 and float(zero_d.value) == 3.5
    strings = json_round_trip(["a", "b"])
    assert strings.datatype == "BYTES" and strings.value.tolist() == ["a", "b"]
    empty = json_round_trip([])
    assert empty.shape == (0,)
    with pytest.raises(SerializationError):
        encode_tensor("x", [[1, 2], [3]])
    with pytest.raises(SerializationError):
        encode_tensor("x", object())


def test_a_tensor_value_forces_its_datatype_and_checks_the_values() -> None:
    tensor, _ = encode_tensor("x", Tensor("x", (2,), "FP16", {"content_type": "np"}, [1.5, 2.0]))
    assert tensor["datatype"] == "FP16" and tensor["parameters"] == {"content_type": "np"}
    with pytest.raises(SerializationError):
        encode_tensor("x", Tensor("x", (1,), "UINT8", {}, [300]))


# --- pandas series ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([1, None, 3], dtype="Int64", name="n"),
        pd.Series([True, None], dtype="boolean", name="x"),
        pd.Series([1.5, None], dtype="Float32", name=0),
        pd.Series(["a", None, "ç"], dtype="string", name="x"),
        pd.Series(["a", None], dtype=pd.StringDtype("python", na_value=np.nan), name="x"),
        pd.Series(["b", "a", None], dtype=pd.CategoricalDtype(["b", "a"], ordered=True), name="x"),
        pd.Series([3, 1, None], dtype=pd.CategoricalDtype([3, 1]), name="x"),
        pd.Series(pd.to_datetime(["2024-03-31 01:30", None], format="ISO8601").tz_localize("Europe/Paris"), name="x"),
        pd.Series([1.0, 2.0], index=pd.Index(["r", "s"], name="rid"), name=None),
        pd.Series(pd.period_range("2024-01", periods=2, freq="M"), name="x"),
    ],
    ids=lambda s: str(s.dtype),
)
def test_series_round_trip_exactly(series: pd.Series) -> None:
    for back in (json_round_trip(series).value,):
        assert isinstance(back, pd.Series)
        pd.testing.assert_series_equal(back, series, check_exact=True)
        assert back.dtype == series.dtype


def test_nullable_series_falls_back_to_json_when_binary_is_asked() -> None:
    s = pd.Series([1, None], dtype="Int64", name="x")
    tensor, chunk = encode_tensor("x", s, binary=True)
    assert chunk is None and tensor["data"] == [1, None]


def test_category_values_not_among_the_categories_are_refused() -> None:
    tensor, _ = encode_tensor("x", pd.Series(["a", "b"], dtype="category", name="x"))
    tensor["data"] = ["a", "zzz"]
    with pytest.raises(DeserializationError, match="categories") as info:
        decode_tensor(tensor)
    assert info.value.path == "$.inputs[0].data"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("datason_dtype", "numpy.random"),
        ("datason_dtype", 5),
        ("datason_storage", "mmap"),
        ("datason_items", "pickle"),
        ("datason_tz", "../../etc/passwd"),
        ("datason_index", '{"__datason_type__": "os.system", "__datason_value__": "ls"}'),
        ("datason_index", "[1, 2"),
    ],
)
def test_datason_parameters_go_through_whitelists(key: str, value: Any) -> None:
    tensor, _ = encode_tensor("x", pd.Series(pd.to_datetime(["2024-01-01"]).tz_localize("UTC"), name="x"))
    if key == "datason_storage":
        tensor, _ = encode_tensor("x", pd.Series(["a"], dtype="string", name="x"))
    if key == "datason_items":
        tensor, _ = encode_tensor("x", np.array([uuid.UUID(int=1)], dtype=object))
    tensor["parameters"][key] = value
    with pytest.raises(DeserializationError) as info:
        decode_tensor(tensor)
    assert info.value.path.startswith("$.inputs[0].parameters.")
