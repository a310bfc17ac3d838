"""Seldon Core v1 codec: SeldonMessage payload forms, names and meta, mirrored responses, errors and limits."""

from __future__ import annotations

import base64
import datetime as dt
import json
import zoneinfo
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from datason import DatasonError, DeserializationError, SecurityError, SerializationError
from datason.config import get_api_config
from datason.protocols import seldon

from ..conftest import strict_json

SECRET = "s3cr3t-value-\u00e9"


def assert_array(got: Any, want: np.ndarray) -> None:
    assert type(got) is np.ndarray
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def decode(doc: dict[str, Any], **kw: Any) -> seldon.Request:
    return seldon.decode_request(json.dumps(doc).encode(), **kw)


# --- requests ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ndarray", "want"),
    [
        ([[1, 2, 3]], np.array([[1, 2, 3]], dtype=np.int64)),
        ([[0.5, 1], [2, 3]], np.array([[0.5, 1], [2, 3]], dtype=np.float64)),
        ([True, False], np.array([True, False])),
        ([[[1.5]], [[2.5]]], np.array([[[1.5]], [[2.5]]])),
        ([], np.zeros(0)),
    ],
)
def test_ndarray_numbers(ndarray: list[Any], want: np.ndarray) -> None:
    req = decode({"data": {"ndarray": ndarray}})
    assert (req.form, req.names, req.meta) == ("ndarray", None, {})
    assert_array(req.value, want)


@pytest.mark.parametrize(
    "ndarray",
    [
        [["a", "b"], ["c", "d"]],
        [[1, "a"], [2.5, None]],  # mixed: kept as the JSON values, never turned into strings
        [{"k": 1}, {"k": 2}],
        [2**64, 1],
        [True, 1],
        ["caf\u00e9", "\U0001f600"],
    ],
)
def test_ndarray_other_values_are_object_arrays(ndarray: list[Any]) -> None:
    value = decode({"data": {"ndarray": ndarray}}).value
    assert type(value) is np.ndarray
    assert value.dtype == object
    assert value.shape == np.array(ndarray, dtype=object).shape
    assert value.tolist() == ndarray
    assert [type(x) for x in value.reshape(-1)] == [type(x) for x in np.array(ndarray, dtype=object).reshape(-1)]


@pytest.mark.parametrize("ndarray", [[[1, 2], [3]], [[1], 2], [["a"], ["b", "c"]], [[1, [2]], [3, 4]]])
def test_ragged_ndarray_is_refused(ndarray: list[Any]) -> None:
    with pytest.raises(DeserializationError) as info:
        decode({"data": {"ndarray": ndarray}})
    assert info.value.path == "$.data.ndarray"


def test_ndarray_with_names_is_a_dataframe_with_per_column_dtypes() -> None:
    req = decode(
        {"data": {"names": ["n", "s", "f", "b"], "ndarray": [[1, "a", 0.5, True], [2, "\u00e9", None, False]]}}
    )
    assert req.names == ["n", "s", "f", "b"]
    want = pd.DataFrame({"n": [1, 2], "s": ["a", "\u00e9"], "f": [0.5, np.nan], "b": [True, False]})
    pd.testing.assert_frame_equal(req.value, want, check_exact=True)
    assert req.value["n"].dtype == np.int64 and req.value["b"].dtype == np.bool_


def test_numeric_ndarray_with_names_keeps_each_columns_dtype() -> None:
    req = decode({"data": {"names": ["a", "b"], "ndarray": [[1.5, 2], [3, 4]]}})
    want = pd.DataFrame({"a": [1.5, 3.0], "b": [2, 4]})
    pd.testing.assert_frame_equal(req.value, want, check_exact=True)
    assert req.value.dtypes.to_dict() == {"a": np.float64, "b": np.int64}
    assert isinstance(req.value.index, pd.RangeIndex)


@pytest.mark.parametrize("form", ["ndarray", None])
def test_dataframe_round_trip_through_names(form: str | None) -> None:
    df = pd.DataFrame(
        {"i": [1, -(2**63)], "f": [0.25, np.nan], "b": [True, False], "s": ["caf\u00e9", "\u65e5"], "\u00fc": [1.5, 2]}
    )
    req = seldon.decode_request(seldon.encode_request(df, form=form))
    assert (req.form, req.names) == ("ndarray", ["i", "f", "b", "s", "\u00fc"])
    pd.testing.assert_frame_equal(req.value, df, check_exact=True)
    assert req.value.dtypes.to_dict() == df.dtypes.to_dict()


def test_empty_names_mean_no_frame() -> None:
    req = decode({"data": {"names": [], "ndarray": [[1, 2]]}})
    assert req.names == []
    assert_array(req.value, np.array([[1, 2]]))


@pytest.mark.parametrize(
    "data",
    [
        {"names": ["a"], "ndarray": [[1, 2]]},  # width 2, one name
        {"names": ["a", "b"], "ndarray": [1, 2]},  # 1-D
        {"names": ["a"], "tensor": {"shape": [1, 1, 1], "values": [1]}},  # 3-D
    ],
)
def test_names_must_match_the_columns(data: dict[str, Any]) -> None:
    with pytest.raises(DeserializationError) as info:
        decode({"data": data})
    assert info.value.path == "$.data.names"


@pytest.mark.parametrize(
    ("tensor", "want"),
    [
        ({"shape": [2, 2], "values": [1, 2, 3, 4]}, np.array([[1, 2], [3, 4]], dtype=np.int64)),
        ({"shape": [3], "values": [1.0, 2, 3]}, np.array([1.0, 2.0, 3.0])),
        ({"shape": [1, 3], "values": [0.5, None, 1]}, np.array([[0.5, np.nan, 1.0]])),
        ({"shape": [3], "values": ["NaN", "Infinity", "-Infinity"]}, np.array([np.nan, np.inf, -np.inf])),
        ({"shape": [], "values": [7.5]}, np.array(7.5)),
        ({"values": [7]}, np.array(7, dtype=np.int64)),  # protobuf JSON omits an empty shape
        ({"shape": [0, 3]}, np.zeros((0, 3))),  # ... and empty values
        ({"shape": [2], "values": [2**63, 1]}, np.array([2.0**63, 1.0])),  # beyond int64: Seldon's doubles
        ({"shape": [2, 1, 2], "values": [1, 2, 3, 4]}, np.arange(1, 5, dtype=np.int64).reshape(2, 1, 2)),
    ],
)
def test_tensor(tensor: dict[str, Any], want: np.ndarray) -> None:
    req = decode({"data": {"tensor": tensor}})
    assert req.form == "tensor"
    assert_array(req.value, want)


def test_tensor_with_names_is_a_dataframe() -> None:
    req = decode({"data": {"names": ["x", "y"], "tensor": {"shape": [2, 2], "values": [1, 2, 3, 4.5]}}})
    pd.testing.assert_frame_equal(req.value, pd.DataFrame({"x": [1.0, 3.0], "y": [2.0, 4.5]}), check_exact=True)


@pytest.mark.parametrize(
    ("tensor", "path"),
    [
        ({"shape": [2, 2], "values": [1, 2, 3]}, "$.data.tensor.shape"),
        ({"shape": [10**12], "values": [1]}, "$.data.tensor.shape"),
        ({"shape": [0, 10**12], "values": []}, "$.data.tensor.shape[1]"),
        ({"shape": [2, -1], "values": [1, 2]}, "$.data.tensor.shape[1]"),
        ({"shape": [1.0], "values": [1]}, "$.data.tensor.shape[0]"),
        ({"shape": [True], "values": [1]}, "$.data.tensor.shape[0]"),
        ({"shape": SECRET, "values": [1]}, "$.data.tensor.shape"),
        ({"shape": [3], "values": [1, SECRET, 2]}, "$.data.tensor.values[1]"),
        ({"shape": [2], "values": [1, True]}, "$.data.tensor.values[1]"),
        ({"shape": [2], "values": [1, [2]]}, "$.data.tensor.values[1]"),
        ({"shape": [1], "values": {"a": 1}}, "$.data.tensor.values"),
        ({"shape": [1], "values": [10**400]}, "$.data.tensor.values"),
        ([1, 2], "$.data.tensor"),
    ],
)
def test_malformed_tensor(tensor: Any, path: str) -> None:
    doc = {"data": {"tensor": tensor}}
    with pytest.raises(DatasonError) as info:
        seldon.decode_request(doc)
    assert info.value.path == path
    assert SECRET not in str(info.value)


def test_tensor_shape_is_checked_before_anything_is_allocated() -> None:
    with pytest.raises(DeserializationError):
        seldon.decode_request({"data": {"tensor": {"shape": [2**40, 2**40], "values": [0.0]}}})
    with pytest.raises(SecurityError):
        seldon.decode_request(
            {"data": {"tensor": {"shape": [0, 11], "values": []}}}, config=get_api_config().replace(max_size=10)
        )
    with pytest.raises(SecurityError):  # a dict handed in is counted too
        seldon.decode_request(
            {"data": {"tensor": {"shape": [11], "values": [0] * 11}}}, config=get_api_config().replace(max_size=10)
        )


def test_json_str_and_bin_data() -> None:
    doc = {"meta": {"puid": "p1"}, "jsonData": {"text": "caf\u00e9", "n": [1, 2]}}
    req = decode(doc)
    assert (req.form, req.value, req.names, req.meta) == (
        "jsonData",
        {"text": "caf\u00e9", "n": [1, 2]},
        None,
        {"puid": "p1"},
    )
    req = decode({"strData": "\u65e5\u672c\u8a9e"})
    assert (req.form, req.value) == ("strData", "\u65e5\u672c\u8a9e")
    payload = bytes(range(256))
    req = decode({"binData": base64.b64encode(payload).decode()})
    assert req.form == "binData"
    assert type(req.value) is bytes and req.value == payload
    assert decode({"jsonData": None}).value is None


@pytest.mark.parametrize("text", ["AAE", "AA=E", "AA E", "-_8=", "AAE==", "\u00e9AAA", "YQ===="])
def test_bin_data_is_strict_base64(text: str) -> None:
    with pytest.raises(DeserializationError) as info:
        decode({"binData": text})
    assert info.value.path == "$.binData"
    assert text not in str(info.value)


def test_bin_data_length_is_checked_for_a_dict() -> None:
    with pytest.raises(SecurityError):
        seldon.decode_request({"binData": "AAAA" * 3}, config=get_api_config().replace(max_string_length=8))


def test_meta_is_kept() -> None:
    meta = {
        "puid": "abc",
        "tags": {"t": [1, {"x": "y"}]},
        "routing": {"router": 1},
        "requestPath": {"model": "img:1"},
        "metrics": [{"key": "k", "type": "COUNTER", "value": 1}],
        "extra": 1,
    }
    assert decode({"meta": meta, "strData": ""}).meta == meta
    assert decode({"meta": None, "strData": ""}).meta == {}


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ([1], "$"),
        ({}, "$"),
        ({"data": {"ndarray": [1]}, "strData": "x"}, "$"),
        ({"customData": {"@type": SECRET}}, "$.customData"),
        ({"data": [SECRET]}, "$.data"),
        ({"data": {"names": ["a"]}}, "$.data"),
        ({"data": {"ndarray": [1], "tensor": {"shape": [1], "values": [1]}}}, "$.data"),
        ({"data": {"tftensor": {"dtype": "DT_FLOAT"}}}, "$.data.tftensor"),
        ({"data": {"ndarray": SECRET}}, "$.data.ndarray"),
        ({"data": {"names": SECRET, "ndarray": [1]}}, "$.data.names"),
        ({"data": {"names": ["a", 3], "ndarray": [[1, 2]]}}, "$.data.names[1]"),
        ({"strData": [SECRET]}, "$.strData"),
        ({"binData": 5}, "$.binData"),
        ({"meta": [SECRET], "strData": ""}, "$.meta"),
        ({"meta": {"puid": 5}, "strData": ""}, "$.meta.puid"),
        ({"meta": {"tags": [SECRET]}, "strData": ""}, "$.meta.tags"),
        ({"meta": {"routing": {"r": SECRET}}, "strData": ""}, "$.meta.routing.r"),
        ({"meta": {"routing": {"r": True}}, "strData": ""}, "$.meta.routing.r"),
        ({"meta": {"requestPath": {"m": 1}}, "strData": ""}, "$.meta.requestPath.m"),
        ({"meta": {"metrics": [{"key": "k"}, SECRET]}, "strData": ""}, "$.meta.metrics[1]"),
        ({"meta": {"metrics": {}}, "strData": ""}, "$.meta.metrics"),
    ],
)
def test_malformed_messages(doc: Any, path: str) -> None:
    with pytest.raises(DeserializationError) as info:
        seldon.decode_request(json.dumps(doc))
    assert info.value.path == path
    assert SECRET not in str(info.value)


def test_ndarray_holds_at_most_max_size_elements() -> None:
    cfg = get_api_config().replace(max_size=5)
    for ndarray in ([[1, 2, 3]] * 3, [["a", "b", "c"]] * 3):
        with pytest.raises(SecurityError) as info:
            seldon.decode_request({"data": {"ndarray": ndarray}}, config=cfg)
        assert info.value.path == "$.data.ndarray"


def test_request_limits_hold() -> None:
    with pytest.raises(SecurityError):
        seldon.decode_request(b'{"data": {"ndarray": [1, 2, 3]}}', config=get_api_config().replace(max_size=2))
    with pytest.raises(SecurityError):
        seldon.decode_request(b'{"strData": "abcdef"}', config=get_api_config().replace(max_string_length=5))


json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False), st.text()
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=25,
)
message_parts = st.fixed_dictionaries(
    {},
    optional={
        "meta": json_values,
        "data": st.fixed_dictionaries(
            {},
            optional={
                "names": json_values,
                "ndarray": json_values,
                "tensor": json_values
                | st.fixed_dictionaries({}, optional={"shape": json_values, "values": json_values}),
            },
        ),
        "jsonData": json_values,
        "strData": json_values,
        "binData": json_values,
    },
)


@settings(max_examples=400, deadline=None)
@given(message_parts)
def test_any_json_object_decodes_or_raises_a_datason_error(doc: dict[str, Any]) -> None:
    try:
        seldon.decode_request(json.dumps(doc))
    except DatasonError:
        pass


# --- responses --------------------------------------------------------------------------------------------


def tensor_request(meta: dict[str, Any] | None = None) -> seldon.Request:
    doc: dict[str, Any] = {"data": {"tensor": {"shape": [1], "values": [1.0]}}}
    if meta is not None:
        doc["meta"] = meta
    return seldon.decode_request(doc)


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from(["int8", "int32", "int64", "uint32", "float64", ">f8", "float32", "float16"]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    )
)
def test_tensor_round_trip_keeps_ints_and_float_bits(a: np.ndarray) -> None:
    body = seldon.encode_response(a, request=tensor_request())
    doc = strict_json(body.decode())
    assert doc["data"]["tensor"]["shape"] == list(a.shape)
    back = seldon.decode_response(body)
    assert back.shape == a.shape
    if a.dtype.kind in "iu":
        assert back.dtype == (np.int64 if a.size else np.float64)  # no values: nothing says int
        assert np.array_equal(back, a)
        return
    assert back.dtype == np.float64
    nan = np.isnan(a)
    assert np.array_equal(np.isnan(back), nan)
    same = back.astype(a.dtype.newbyteorder("="))[~nan]  # the shortest digits bring every float32/16 value back
    assert same.tobytes() == a[~nan].astype(a.dtype.newbyteorder("=")).tobytes()


def test_tensor_response_writes_protobuf_specials() -> None:
    body = seldon.encode_response(np.array([[1.0, np.nan], [np.inf, -np.inf]]), request=tensor_request())
    assert json.loads(body)["data"]["tensor"] == {"shape": [2, 2], "values": [1.0, "NaN", "Infinity", "-Infinity"]}
    strict_json(body.decode())
    back = seldon.decode_response(body)
    assert back[0, 0] == 1.0 and np.isnan(back[0, 1]) and back[1, 0] == np.inf and back[1, 1] == -np.inf
    f32 = seldon.encode_response(np.array([0.1, np.nan], dtype=np.float32), request=tensor_request())
    assert json.loads(f32)["data"]["tensor"]["values"] == [0.1, "NaN"]


def test_int_results_keep_int64_through_a_tensor() -> None:
    a = np.array([[-(2**63), 2**63 - 1]], dtype=np.int64)
    body = seldon.encode_response(a, request=tensor_request())
    assert b'"values":[-9223372036854775808,9223372036854775807]' in body
    assert_array(seldon.decode_response(body), a)


@pytest.mark.parametrize(
    ("result", "form"),
    [
        (np.array([[1, 2]]), "tensor"),
        ([1.5, 2.5], "tensor"),
        ((1, 2), "tensor"),
        (pd.Series([1, 2], name="s"), "tensor"),
        (np.float32(0.5), "tensor"),
        (3, "tensor"),
        (np.array([True]), "ndarray"),  # a tensor holds doubles: bools keep their type as ndarray
        (np.array(["a"]), "ndarray"),
        (["a", 1], "ndarray"),
        (pd.DataFrame({"a": [1]}), "ndarray"),
        ({"a": 1}, "jsonData"),
        ("text", "strData"),
        (b"\x00", "binData"),
        (None, "jsonData"),
    ],
)
def test_response_mirrors_a_tensor_request_when_it_fits(result: Any, form: str) -> None:
    doc = json.loads(seldon.encode_response(result, request=tensor_request()))
    got = next(k for k in doc if k != "meta")
    assert (got if got != "data" else next(k for k in doc["data"] if k != "names")) == form


@pytest.mark.parametrize(
    ("result", "form"),
    [
        (np.array([[1, 2]]), "ndarray"),
        ([1, 2], "ndarray"),
        (pd.DataFrame({"a": [1]}), "ndarray"),
        (np.float64(2.5), "tensor"),
        (np.array(3), "tensor"),
        (np.datetime64("2024-01-01"), "jsonData"),
        ({"a": 1}, "jsonData"),
        (1.5, "jsonData"),
        (True, "jsonData"),
        ("text", "strData"),
        (bytearray(b"\x01"), "binData"),
        (memoryview(b"\x02"), "binData"),
    ],
)
def test_response_forms_without_a_request(result: Any, form: str) -> None:
    doc = json.loads(seldon.encode_response(result))
    got = next(k for k in doc if k != "meta")
    assert (got if got != "data" else next(k for k in doc["data"] if k != "names")) == form


def test_response_mirrors_json_data_and_data_requests() -> None:
    json_req = seldon.decode_request({"jsonData": {"q": 1}})
    assert json.loads(seldon.encode_response(np.array([1, 2]), request=json_req)) == {"jsonData": [1, 2], "meta": {}}
    assert json.loads(seldon.encode_response("t", request=json_req)) == {"jsonData": "t", "meta": {}}
    assert "binData" in json.loads(seldon.encode_response(b"x", request=json_req))
    nd_req = seldon.decode_request({"data": {"ndarray": [1]}})
    assert json.loads(seldon.encode_response(0.5, request=nd_req))["data"]["tensor"] == {"shape": [], "values": [0.5]}
    assert json.loads(seldon.encode_response(np.array([1, 2]), request=nd_req))["data"] == {
        "names": [],
        "ndarray": [1, 2],
    }


def test_dataframe_response_is_names_and_rows() -> None:
    tz = zoneinfo.ZoneInfo("America/Sao_Paulo")
    df = pd.DataFrame(
        {"z": [1, 2], "a": ["caf\u00e9", None], 3: [0.5, np.nan], "t": [dt.datetime(2024, 5, 1, 8, tzinfo=tz), pd.NaT]}
    )
    doc = strict_json(seldon.encode_response(df).decode())
    assert doc == {
        "data": {
            "names": ["z", "a", "3", "t"],
            "ndarray": [[1, "caf\u00e9", 0.5, "2024-05-01T08:00:00-03:00"], [2, None, None, None]],
        },
        "meta": {},
    }
    back = seldon.decode_response(json.dumps(doc))
    assert list(back.columns) == ["z", "a", "3", "t"]
    assert back["z"].dtype == np.int64 and back["z"].tolist() == [1, 2]
    assert back["a"].iloc[0] == "caf\u00e9" and pd.isna(back["a"].iloc[1])


def test_names_argument() -> None:
    doc = json.loads(seldon.encode_response(np.array([[0.1, 0.9]]), names=["no", "yes"]))
    assert doc["data"]["names"] == ["no", "yes"]
    back = seldon.decode_response(json.dumps(doc))
    pd.testing.assert_frame_equal(back, pd.DataFrame({"no": [0.1], "yes": [0.9]}), check_exact=True)
    with pytest.raises(SerializationError) as info:
        seldon.encode_response(np.array([[1]]), names=[1])  # type: ignore[list-item]
    assert info.value.path == "$.data.names"


def test_response_meta_echoes_the_request_and_merges() -> None:
    req = tensor_request(
        {"puid": "p", "tags": {"a": 1}, "routing": {"r": 0}, "requestPath": {"m": "i"}, "metrics": [{"key": "x"}]}
    )
    doc = json.loads(
        seldon.encode_response(
            np.array([1.0]),
            request=req,
            meta={"tags": {"b": 2}, "metrics": [{"key": "y"}], "requestPath": {"n": "j"}, "puid": "q"},
        )
    )
    assert doc["meta"] == {
        "puid": "q",
        "tags": {"a": 1, "b": 2},
        "requestPath": {"m": "i", "n": "j"},
        "metrics": [{"key": "x"}, {"key": "y"}],
    }
    assert req.meta["tags"] == {"a": 1}  # the request's meta is not changed
    assert json.loads(seldon.encode_response([1], meta={"tags": {"c": 3}}))["meta"] == {"tags": {"c": 3}}
    with pytest.raises(SerializationError):
        seldon.encode_response([1], meta=[1])  # type: ignore[arg-type]


def test_ndarray_responses_are_strict_json() -> None:
    result = np.array([[np.nan, 1.0], [np.inf, 2.0]])
    text = seldon.encode_response(result).decode()
    assert strict_json(text)["data"]["ndarray"] == [[None, 1.0], [None, 2.0]]
    back = seldon.decode_response(text)
    assert back.dtype == np.float64 and np.isnan(back[:, 0]).all()


def test_datetime_array_response() -> None:
    a = np.array(["2024-01-01T10:00", "NaT"], dtype="M8[m]")
    assert json.loads(seldon.encode_response(a))["data"]["ndarray"] == ["2024-01-01T10:00", None]


# --- client side ------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from(["bool", "int64", "float64"]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
        elements={"allow_nan": False, "allow_infinity": False},
    ),
    st.sampled_from(["ndarray", "tensor", None]),
)
def test_request_round_trip(a: np.ndarray, form: str | None) -> None:
    if form == "tensor" and a.dtype == np.bool_:
        with pytest.raises(SerializationError):
            seldon.encode_request(a, form=form)
        return
    req = seldon.decode_request(seldon.encode_request(a, form=form, meta={"puid": "x"}))
    assert req.form == (form or "ndarray")
    assert req.meta == {"puid": "x"}
    assert_array(req.value, a)


def test_encode_request_forms() -> None:
    df = pd.DataFrame({"b": [1, 2], "a": ["x", "y"]})
    req = seldon.decode_request(seldon.encode_request(df))
    assert req.names == ["b", "a"]
    pd.testing.assert_frame_equal(req.value, df, check_exact=True)
    assert json.loads(seldon.encode_request({"k": [1]})) == {"jsonData": {"k": [1]}}
    assert json.loads(seldon.encode_request("s")) == {"strData": "s"}
    assert json.loads(seldon.encode_request(b"\xff")) == {"binData": "/w=="}
    assert json.loads(seldon.encode_request([1, 2], form="jsonData")) == {"jsonData": [1, 2]}
    assert json.loads(seldon.encode_request([[1, 2]], names=["p", "q"])) == {
        "data": {"names": ["p", "q"], "ndarray": [[1, 2]]}
    }


@pytest.mark.parametrize(
    ("value", "form"),
    [
        ("s", "binData"),
        (b"s", "strData"),
        (b"s", "jsonData"),
        (pd.DataFrame({"a": [1]}), "jsonData"),
        ({"a": 1}, "ndarray"),
        (["a"], "tensor"),
        (np.array([1j]), "tensor"),
        (5, "ndarray"),
    ],
)
def test_encode_request_refuses_a_form_that_cannot_carry_the_value(value: Any, form: str) -> None:
    with pytest.raises(SerializationError):
        seldon.encode_request(value, form=form)


def test_encode_request_checks_its_options() -> None:
    with pytest.raises(ValueError, match="form"):
        seldon.encode_request([1], form="tftensor")
    with pytest.raises(SerializationError) as info:
        seldon.encode_request([1], meta="m")  # type: ignore[arg-type]
    assert info.value.path == "$.meta"


def test_decode_response_of_an_error_raises() -> None:
    with pytest.raises(DeserializationError) as info:
        seldon.decode_response(seldon.error_body(SECRET, status=500))
    assert info.value.path == "$.status"
    assert SECRET not in str(info.value)


def test_error_body() -> None:
    assert json.loads(seldon.error_body("bad input")) == {
        "status": {"code": 400, "info": "bad input", "reason": "MICROSERVICE_BAD_DATA", "status": "FAILURE"}
    }
    assert json.loads(seldon.error_body("boom", status=500))["status"] == {
        "code": 500,
        "info": "boom",
        "reason": "MICROSERVICE_INTERNAL_ERROR",
        "status": "FAILURE",
    }
    assert json.loads(seldon.error_body("\ud800x", status=503))["status"]["info"] == "\\ud800x"
