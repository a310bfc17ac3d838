"""OIP v2 requests and responses: what predict receives, what results become, binary bodies, errors."""

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

from datason import DatasonError, DeserializationError, SecurityError, SerializationError
from datason.config import get_api_config
from datason.protocols import oip


def strict_json(body: bytes) -> Any:
    """Parse as strict RFC 8259: a bare NaN or Infinity raises."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(body, parse_constant=refuse)


def request_body(*inputs: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps({"inputs": list(inputs), **extra})


X = {"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1.5, 2, 3, 4]}


# --- decode_request ---------------------------------------------------------------------------------------


def test_one_input_is_its_array() -> None:
    req = oip.decode_request(request_body(X, id="r1"))
    assert req.id == "r1" and req.parameters == {} and req.outputs == [] and req.binary_output is False
    assert isinstance(req.value, np.ndarray) and req.value.dtype == np.float32 and req.value.shape == (1, 4)
    assert req.value.tolist() == [[1.5, 2.0, 3.0, 4.0]]
    assert [t.name for t in req.inputs] == ["x"] and req.inputs[0].shape == (1, 4)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, str, dict])
def test_every_body_kind_decodes_the_same(kind: type) -> None:
    raw = request_body(X, {"name": "y", "shape": [2], "datatype": "INT64", "data": [7, 8]})
    body: Any = {
        bytes: raw,
        bytearray: bytearray(raw),
        memoryview: memoryview(raw),
        str: raw.decode(),
        dict: orjson.loads(raw),
    }[kind]
    value = oip.decode_request(body).value
    assert list(value) == ["x", "y"]
    assert value["y"].dtype == np.int64 and value["y"].tolist() == [7, 8]


def test_duplicate_input_names_are_refused() -> None:
    with pytest.raises(DeserializationError) as info:
        oip.decode_request(request_body(X, X))
    assert info.value.path == "$.inputs[1].name"


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ([], "$"),
        ({}, "$.inputs"),
        ({"inputs": []}, "$.inputs"),
        ({"inputs": [X], "id": 5}, "$.id"),
        ({"inputs": [X], "parameters": []}, "$.parameters"),
        ({"inputs": [X], "parameters": {"binary_data_output": "yes"}}, "$.parameters.binary_data_output"),
        ({"inputs": [X], "parameters": {"content_type": 3}}, "$.parameters.content_type"),
        ({"inputs": [X], "outputs": {"name": "y"}}, "$.outputs"),
        ({"inputs": [X], "outputs": [{"name": "a"}, {"name": "a"}]}, "$.outputs[1].name"),
        ({"inputs": [X], "outputs": [{"name": "a", "parameters": {"binary_data": 1}}]}, "$.outputs[0].parameters"),
        ({"inputs": [X, {**X, "name": "z", "shape": [1, 5]}]}, "$.inputs[1].data"),
        ({"inputs": [X, {**X, "name": "z", "datatype": "FP8"}]}, "$.inputs[1].datatype"),
        ({"inputs": [X, {**X, "name": "z", "shape": [-1, 4]}]}, "$.inputs[1].shape"),
    ],
)
def test_malformed_requests_name_the_field(doc: Any, path: str) -> None:
    with pytest.raises(DeserializationError) as info:
        oip.decode_request(orjson.dumps(doc))
    assert info.value.path.startswith(path)


def test_invalid_json_and_wrong_body_types_are_deserialization_errors() -> None:
    with pytest.raises(DeserializationError):
        oip.decode_request(b'{"inputs": [')
    with pytest.raises(DeserializationError):
        oip.decode_request(12)  # type: ignore[arg-type]


def test_config_limits_apply_to_the_body() -> None:
    small = get_api_config().replace(max_bytes=50)
    with pytest.raises(SecurityError):
        oip.decode_request(request_body(X), config=small)
    few = get_api_config().replace(max_size=3)
    with pytest.raises(SecurityError):
        oip.decode_request(request_body(X), config=few)


def test_request_content_type_str_applies_to_tensors_without_one() -> None:
    body = request_body(
        {"name": "s", "shape": [2], "datatype": "BYTES", "data": ["a", "é"]},
        {"name": "b", "shape": [1], "datatype": "BYTES", "data": ["aGk="], "parameters": {"content_type": "base64"}},
        parameters={"content_type": "str"},
    )
    value = oip.decode_request(body).value
    assert value["s"].tolist() == ["a", "é"] and value["b"].tolist() == [b"hi"]
    plain = oip.decode_request(request_body({"name": "s", "shape": [1], "datatype": "BYTES", "data": ["a"]})).value
    assert plain.tolist() == [b"a"]


# --- what results become --------------------------------------------------------------------------------------


def test_array_result_is_named_after_the_single_input() -> None:
    req = oip.decode_request(request_body(X, id="abc"))
    enc = oip.encode_response(req.value * 2, model_name="m", model_version="3", request=req)
    assert enc.header_length is None
    doc = strict_json(enc.body)
    assert doc == {
        "model_name": "m",
        "model_version": "3",
        "id": "abc",
        "outputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [3.0, 4.0, 6.0, 8.0]}],
    }


def test_default_output_name_and_explicit_id() -> None:
    doc = strict_json(oip.encode_response([1, 2], model_name="m", id="given").body)
    assert doc["id"] == "given" and doc["outputs"][0]["name"] == "output-0"
    assert doc["outputs"][0]["datatype"] == "INT64" and doc["outputs"][0]["shape"] == [2]


def test_scalar_result_is_a_0d_tensor() -> None:
    doc = strict_json(oip.encode_response(np.float32(0.5), model_name="m").body)
    assert doc["outputs"][0]["shape"] == [] and doc["outputs"][0]["data"] == [0.5]
    back = oip.decode_response(orjson.dumps(doc)).value
    assert back.shape == () and back.dtype == np.float32


def test_dict_result_is_one_output_per_key() -> None:
    result = {"label": np.array(["cat", "dög"], dtype=object), "score": np.array([0.25, 0.75], dtype=np.float32)}
    resp = oip.decode_response(oip.encode_response(result, model_name="m").body)
    assert [t.name for t in resp.outputs] == ["label", "score"]
    assert resp.value["label"].tolist() == ["cat", "dög"]
    assert resp.value["score"].dtype == np.float32 and resp.value["score"].tolist() == [0.25, 0.75]


def test_series_result_is_one_output_that_comes_back_a_series() -> None:
    s = pd.Series([1.5, None], dtype="Float64", name="proba", index=pd.Index(["a", "b"]))
    enc = oip.encode_response(s, model_name="m")
    doc = strict_json(enc.body)
    assert doc["outputs"][0]["name"] == "proba" and doc["outputs"][0]["data"] == [1.5, None]
    back = oip.decode_response(enc.body).value
    pd.testing.assert_series_equal(back, s, check_exact=True)


def test_requested_outputs_select_and_order_the_result() -> None:
    req = oip.decode_request(request_body(X, outputs=[{"name": "b"}, {"name": "a"}]))
    result = {"a": np.array([1]), "b": np.array([2]), "c": np.array([3])}
    doc = strict_json(oip.encode_response(result, model_name="m", request=req).body)
    assert [o["name"] for o in doc["outputs"]] == ["b", "a"]
    missing = oip.decode_request(request_body(X, outputs=[{"name": "a"}, {"name": "zzz"}]))
    with pytest.raises(SerializationError) as info:
        oip.encode_response(result, model_name="m", request=missing)
    assert info.value.path == "$.outputs[1].name"


def test_single_requested_output_names_an_array_result() -> None:
    req = oip.decode_request(request_body(X, outputs=[{"name": "probabilities"}]))
    doc = strict_json(oip.encode_response(np.zeros(2), model_name="m", request=req).body)
    assert doc["outputs"][0]["name"] == "probabilities"


def test_per_output_binary_data_makes_only_that_output_binary() -> None:
    req = oip.decode_request(
        request_body(X, outputs=[{"name": "a", "parameters": {"binary_data": True}}, {"name": "b"}])
    )
    assert req.outputs[0].binary and not req.outputs[1].binary
    a, b = np.arange(3, dtype=np.int16), np.array([0.5], dtype=np.float64)
    enc = oip.encode_response({"a": a, "b": b}, model_name="m", request=req)
    assert enc.header_length is not None
    header = strict_json(enc.body[: enc.header_length])
    assert header["outputs"][0]["parameters"] == {"binary_data_size": 6} and "data" not in header["outputs"][0]
    assert header["outputs"][1]["data"] == [0.5]
    assert enc.body[enc.header_length :] == a.astype("<i2").tobytes()
    back = oip.decode_response(enc.body, header_length=enc.header_length).value
    assert back["a"].dtype == np.int16 and back["a"].tolist() == [0, 1, 2] and back["b"].tolist() == [0.5]


def test_infinity_in_a_json_output_follows_nan_handling_but_binary_output_carries_it() -> None:
    strict = get_api_config().replace(nan_handling="error")
    with pytest.raises(SerializationError) as info:
        oip.encode_response({"ok": np.zeros(1), "bad": np.array([np.inf])}, model_name="m", config=strict)
    assert info.value.path == "$.outputs[1].data"
    plain = oip.encode_response({"bad": np.array([np.inf, 1.0])}, model_name="m")
    assert json.loads(plain.body)["outputs"][0]["data"] == [None, 1.0]
    req = oip.decode_request(request_body(X, parameters={"binary_data_output": True}))
    enc = oip.encode_response(np.array([np.inf, -np.inf]), model_name="m", request=req)
    assert oip.decode_response(enc.body, header_length=enc.header_length).value.tolist() == [np.inf, -np.inf]


# --- binary bodies and tritonclient ----------------------------------------------------------------------------


def test_binary_request_round_trip_with_mixed_tensors() -> None:
    inputs = {
        "img": np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        "txt": np.array(["héllo", "", "日本"], dtype=object),
        "flag": np.array([True, False]),
        "f16": np.array([0.1, -2], dtype=np.float16),
    }
    enc = oip.encode_request(inputs, binary=True, binary_output=True, id="q")
    assert enc.header_length is not None
    req = oip.decode_request(enc.body, header_length=str(enc.header_length))
    assert req.binary_output and req.id == "q"
    for name, a in inputs.items():
        got = req.value[name]
        assert got.dtype == a.dtype and got.shape == a.shape
        assert got.tolist() == a.tolist()
        if a.dtype != object:
            assert got.tobytes() == a.tobytes()


def tritonclient_like_body(binary_inputs: bool) -> tuple[bytes, int | None]:
    """What tritonclient.http's ``infer`` sends (``_get_inference_request``): no outputs -> binary_data_output."""
    a = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    s = np.array([b"one", "twó".encode()], dtype=object)
    if not binary_inputs:
        request = {
            "inputs": [
                {"name": "INPUT0", "shape": [1, 3], "datatype": "FP32", "data": [1.0, 2.0, 3.0]},
                {"name": "INPUT1", "shape": [2], "datatype": "BYTES", "data": ["one", "twó"]},
            ],
            "parameters": {"binary_data_output": True},
        }
        body = json.dumps(request).encode()
        return body, len(body)  # a header equal to the whole body
    raw_s = b"".join(len(x).to_bytes(4, "little") + x for x in s)
    request = {
        "inputs": [
            {"name": "INPUT0", "shape": [1, 3], "datatype": "FP32", "parameters": {"binary_data_size": 12}},
            {"name": "INPUT1", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": len(raw_s)}},
        ],
        "parameters": {"binary_data_output": True},
    }
    header = json.dumps(request).encode()
    return header + a.tobytes() + raw_s, len(header)


@pytest.mark.parametrize("binary_inputs", [False, True])
def test_tritonclient_default_infer_gets_binary_outputs(binary_inputs: bool) -> None:
    body, header_length = tritonclient_like_body(binary_inputs)
    req = oip.decode_request(body, header_length=header_length)
    assert req.binary_output is True
    assert req.value["INPUT0"].dtype == np.float32 and req.value["INPUT0"].tolist() == [[1.0, 2.0, 3.0]]
    assert req.value["INPUT1"].tolist() == [b"one", "twó".encode()]
    result = {"OUTPUT0": req.value["INPUT0"] * 2, "OUTPUT1": req.value["INPUT1"]}
    enc = oip.encode_response(result, model_name="m", request=req)
    assert enc.header_length is not None
    header = strict_json(enc.body[: enc.header_length])
    sizes = [o["parameters"]["binary_data_size"] for o in header["outputs"]]
    assert sizes == [12, 4 + 3 + 4 + 4]
    # tritonclient's InferResult: slice by binary_data_size, np.frombuffer for FP32, length-prefixed BYTES
    rest = enc.body[enc.header_length :]
    assert np.frombuffer(rest[:12], dtype="<f4").tolist() == [2.0, 4.0, 6.0]
    assert rest[12:] == b"\x03\x00\x00\x00one\x04\x00\x00\x00" + "twó".encode()


def test_header_length_zero_and_binary_in_a_parsed_dict_are_refused() -> None:
    with pytest.raises(DeserializationError, match="JSON header"):
        oip.decode_request(request_body(X), header_length=0)
    doc = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": 4}}]}
    with pytest.raises(DeserializationError) as info:
        oip.decode_request(doc)
    assert info.value.path == "$.inputs[0].parameters.binary_data_size"


def test_binary_sizes_are_checked_against_the_body() -> None:
    header = orjson.dumps(
        {"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]}
    )
    with pytest.raises(DeserializationError) as info:
        oip.decode_request(header + b"\x00" * 4, header_length=len(header))
    assert info.value.path == "$.inputs[0].parameters.binary_data_size"
    with pytest.raises(DeserializationError, match="add up"):
        oip.decode_request(header + b"\x00" * 12, header_length=len(header))
    wrong_shape = header.replace(b'"shape":[2]', b'"shape":[3]')
    with pytest.raises(DeserializationError) as info:
        oip.decode_request(wrong_shape + b"\x00" * 8, header_length=len(wrong_shape))
    assert info.value.path == "$.inputs[0].parameters.binary_data_size"
    both = orjson.dumps(
        {
            "inputs": [
                {"name": "x", "shape": [1], "datatype": "FP32", "data": [1], "parameters": {"binary_data_size": 4}}
            ]
        }
    )
    with pytest.raises(DeserializationError):
        oip.decode_request(both + b"\x00" * 4, header_length=len(both))


def test_binary_tensor_after_a_json_tensor_takes_the_right_slice() -> None:
    header = orjson.dumps(
        {
            "inputs": [
                {"name": "a", "shape": [1], "datatype": "INT32", "data": [5]},
                {"name": "b", "shape": [2], "datatype": "INT16", "parameters": {"binary_data_size": 4}},
                {"name": "c", "shape": [1], "datatype": "UINT8", "parameters": {"binary_data_size": 1}},
            ]
        }
    )
    value = oip.decode_request(header + b"\x01\x00\x02\x00\x09", header_length=len(header)).value
    assert value["a"].tolist() == [5] and value["b"].tolist() == [1, 2] and value["c"].tolist() == [9]


# --- DataFrames ---------------------------------------------------------------------------------------------------


def rich_frame() -> pd.DataFrame:
    idx = pd.DatetimeIndex(["2024-03-31 00:30", "2024-03-31 03:30", "2024-10-27 04:30"], tz="Europe/Paris", name="at")
    return pd.DataFrame(
        {
            "i": np.array([1, -2, 3], dtype=np.int32),
            "f": [0.1, np.nan, 2.5],
            "f32": np.array([0.1, np.nan, 7.038531e-26], dtype=np.float32),
            "b": [True, False, True],
            "naive": pd.to_datetime(["2024-01-01 00:00:00.123456789", None, "1900-01-01"], format="ISO8601"),
            "paris": pd.to_datetime(["2024-03-31 01:30", "2024-03-31 03:30", None], format="ISO8601").tz_localize(
                "Europe/Paris"
            ),
            "kolkata": pd.to_datetime(["2024-01-01", None, "2024-01-02"]).tz_localize("+05:30"),
            "s": pd.Series(["a", None, "日本"], dtype="string"),
            "s_py": pd.Series(["a", "b", None], dtype=pd.StringDtype("python", na_value=np.nan)),
            "obj": pd.Series(["x", None, "z"], dtype=object),
            "n": pd.array([1, None, 3], dtype="Int64"),
            "u8": pd.array([None, 255, 0], dtype="UInt8"),
            "nf": pd.array([0.5, None, 1.0], dtype="Float32"),
            "nb": pd.array([True, None, False], dtype="boolean"),
            "cat": pd.Categorical(["lo", "hi", None], categories=["hi", "lo"], ordered=True),
            "icat": pd.Categorical([10, 20, 10]),
            "uuid": [uuid.UUID(int=1), uuid.UUID(int=2), None],
            "dec": [decimal.Decimal("1.10"), None, decimal.Decimal("-3")],
            "td": pd.to_timedelta([1, None, -3], unit="s"),
            "cx": np.array([1 + 2j, 0, -1j], dtype=np.complex128),
        },
        index=idx,
    )


def assert_same_frame(back: pd.DataFrame, df: pd.DataFrame) -> None:
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    assert list(back.dtypes) == list(df.dtypes)
    assert back.index.equals(df.index) and back.index.dtype == df.index.dtype and back.index.name == df.index.name
    assert list(back.columns) == list(df.columns)
    for col in df.columns:  # NaN/NaT/NA positions
        assert back[col].isna().tolist() == df[col].isna().tolist()


@pytest.mark.parametrize("binary", [False, True])
def test_dataframe_request_round_trips_exactly(binary: bool) -> None:
    df = rich_frame()
    enc = oip.encode_request(df, binary=binary)
    header = strict_json(enc.body[: enc.header_length] if enc.header_length else enc.body)
    assert header["parameters"]["content_type"] == "pd"
    assert [t["name"] for t in header["inputs"]] == list(df.columns)
    req = oip.decode_request(enc.body, header_length=enc.header_length)
    assert_same_frame(req.value, df)


def test_dataframe_response_round_trips_exactly_with_odd_labels_and_index() -> None:
    df = pd.DataFrame({3: [1.0, 2.0], "3": ["a", "b"], (1, "t"): [True, False]}, index=pd.Index(["r", "s"], name="k"))
    df.columns.name = "cols"
    enc = oip.encode_response(df, model_name="m")
    doc = strict_json(enc.body)
    assert doc["parameters"]["content_type"] == "pd" and "datason_columns" in doc["parameters"]
    assert len({o["name"] for o in doc["outputs"]}) == 3  # unique names even for colliding labels
    assert_same_frame(oip.decode_response(enc.body).value, df)


def test_dataframe_wire_is_plain_for_foreign_readers() -> None:
    df = pd.DataFrame(
        {"a": [1, 2], "when": pd.to_datetime(["2024-01-01", "2024-01-02 10:00"], format="ISO8601").tz_localize("UTC")}
    )
    doc = strict_json(oip.encode_response(df, model_name="m").body)
    assert doc["parameters"] == {"content_type": "pd"}  # default index and plain labels: nothing extra
    a, when = doc["outputs"]
    assert a == {"name": "a", "shape": [2], "datatype": "INT64", "data": [1, 2]}
    assert when["datatype"] == "BYTES" and when["parameters"]["content_type"] == "datetime"
    assert [dt.datetime.fromisoformat(x) for x in when["data"]] == list(df["when"].dt.to_pydatetime())


def test_mlserver_pandas_codec_body_is_read() -> None:
    """PandasCodec.encode_request as MLServer 1.7 writes it over REST: shape [N, 1], str content types, pd_json."""
    body = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": "a", "shape": [3, 1], "datatype": "INT64", "data": [1, 2, 3]},
            {"name": "b", "shape": [3, 1], "datatype": "FP64", "data": [0.5, None, 1.5]},
            {
                "name": "c",
                "shape": [3, 1],
                "datatype": "BYTES",
                "data": ["x", "y", "z"],
                "parameters": {"content_type": "str"},
            },
            {
                "name": "d",
                "shape": [3, 1],
                "datatype": "BYTES",
                "data": ["1", '"t"', "[1, 2]"],
                "parameters": {"content_type": "pd_json"},
            },
            {"name": "e", "shape": [3, 1], "datatype": "BYTES", "data": ["p", "q", "r"]},
        ],
    }
    df = oip.decode_request(orjson.dumps(body)).value
    assert list(df.columns) == ["a", "b", "c", "d", "e"] and len(df) == 3
    assert df["a"].dtype == np.int64 and df["a"].tolist() == [1, 2, 3]
    assert df["b"].dtype == np.float64 and np.isnan(df["b"][1])
    assert df["c"].tolist() == ["x", "y", "z"] and df["e"].tolist() == ["p", "q", "r"]
    assert df["d"].tolist() == [1, "t", [1, 2]]


def test_mismatched_column_lengths_are_refused() -> None:
    body = request_body(
        {"name": "a", "shape": [2], "datatype": "INT64", "data": [1, 2]},
        {"name": "b", "shape": [3], "datatype": "INT64", "data": [1, 2, 3]},
        parameters={"content_type": "pd"},
    )
    with pytest.raises(DeserializationError) as info:
        oip.decode_request(body)
    assert info.value.path == "$.inputs[1].shape"
    wide = request_body(
        {"name": "a", "shape": [2, 2], "datatype": "INT64", "data": [1, 2, 3, 4]}, parameters={"content_type": "pd"}
    )
    with pytest.raises(DeserializationError) as info:
        oip.decode_request(wide)
    assert info.value.path == "$.inputs[0].shape"


def test_datason_index_must_be_an_index_of_the_right_length() -> None:
    df = pd.DataFrame({"a": [1, 2]}, index=["x", "y"])
    doc = strict_json(oip.encode_request(df).body)
    doc["parameters"]["datason_index"] = orjson.dumps(["x"]).decode()
    with pytest.raises(DeserializationError) as info:
        oip.decode_request(orjson.dumps(doc))
    assert info.value.path == "$.parameters.datason_index"


# --- metadata, specs, errors --------------------------------------------------------------------------------------


def test_model_metadata_and_specs() -> None:
    spec_in = oip.TensorSpec("x", "FP32", (-1, 4))
    spec_out = oip.TensorSpec("y", "INT64", [-1])
    assert spec_out.shape == (-1,)
    meta = oip.model_metadata("iris", versions=["1"], inputs=[spec_in], outputs=[spec_out])
    assert meta == {
        "name": "iris",
        "versions": ["1"],
        "platform": "datason",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "y", "datatype": "INT64", "shape": [-1]}],
    }
    with pytest.raises(ValueError):
        oip.TensorSpec("x", "FLOAT", (1,))
    with pytest.raises(ValueError):
        oip.TensorSpec("x", "FP32", (-2,))


def test_check_inputs_against_specs() -> None:
    specs = [oip.TensorSpec("x", "FP32", (-1, 4))]
    oip.check_inputs(oip.decode_request(request_body(X)), specs)
    oip.check_inputs(oip.decode_request(request_body({**X, "shape": [2, 4], "data": [0] * 8})), specs)
    cases = [
        ({**X, "datatype": "FP64"}, "$.inputs[0].datatype"),
        ({**X, "shape": [4], "data": [1, 2, 3, 4]}, "$.inputs[0].shape"),
        ({**X, "shape": [2, 2]}, "$.inputs[0].shape"),
        ({**X, "name": "other"}, "$.inputs[0].name"),
    ]
    for tensor, path in cases:
        with pytest.raises(DeserializationError) as info:
            oip.check_inputs(oip.decode_request(request_body(tensor)), specs)
        assert info.value.path == path
    with pytest.raises(DeserializationError) as info:
        oip.check_inputs(oip.decode_request(request_body(X)), [*specs, oip.TensorSpec("z", "BOOL", (1,))])
    assert info.value.path == "$.inputs"


def test_error_body() -> None:
    assert oip.error_body("bad shape at $.inputs[0]") == b'{"error":"bad shape at $.inputs[0]"}'
    assert json.loads(oip.error_body('quote " and \ud800')) == {"error": 'quote " and ?'}


def test_encode_request_outputs_and_parameters() -> None:
    enc = oip.encode_request(
        np.ones(2, dtype=np.float32),
        id="7",
        parameters={"priority": np.int64(2), "when": dt.date(2024, 1, 1)},
        outputs=["y", oip.RequestedOutput("z", {"binary_data": False})],
        binary_output=True,
    )
    doc = strict_json(enc.body)
    assert doc["id"] == "7"
    assert doc["parameters"] == {"priority": 2, "when": "2024-01-01", "binary_data_output": True}
    assert doc["inputs"][0]["name"] == "input-0"
    assert doc["outputs"] == [
        {"name": "y", "parameters": {"binary_data": True}},
        {"name": "z", "parameters": {"binary_data": False}},
    ]
    req = oip.decode_request(enc.body)
    assert [(o.name, o.binary) for o in req.outputs] == [("y", True), ("z", False)]


def test_decode_response_fields() -> None:
    body = orjson.dumps(
        {
            "model_name": "m",
            "model_version": "2",
            "id": "i",
            "outputs": [{"name": "y", "shape": [1], "datatype": "BOOL", "data": [True]}],
        }
    )
    resp = oip.decode_response(body)
    assert (resp.model_name, resp.model_version, resp.id) == ("m", "2", "i")
    assert resp.value.dtype == np.bool_ and resp.value.tolist() == [True]
    with pytest.raises(DeserializationError) as info:
        oip.decode_response(b'{"outputs": []}')
    assert info.value.path == "$.model_name"


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_frames_of_plain_numpy_columns_keep_datatypes_and_bits(binary: bool) -> None:
    """Regression: plain NumPy columns once fell through to the generic (BYTES) form."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "f32": rng.standard_normal(5).astype(np.float32),
            "f64": np.array([0.1, np.nan, -0.0, 1e300, 5e-324]),
            "f16": np.array([0.1, 65504, -2, 0, 6e-8], dtype=np.float16),
            "i8": np.array([-128, 127, 0, 1, -1], dtype=np.int8),
            "i64": np.array([2**63 - 1, -(2**63), 0, 2**53 + 1, 7], dtype=np.int64),
            "u32": np.array([0, 2**32 - 1, 1, 2, 3], dtype=np.uint32),
            "b": np.array([True, False, True, True, False]),
        }
    )
    enc = oip.encode_request(frame, binary=binary)
    doc = json.loads(enc.body[: enc.header_length] if enc.header_length else enc.body)
    want = {"f32": "FP32", "f64": "FP64", "f16": "FP16", "i8": "INT8", "i64": "INT64", "u32": "UINT32", "b": "BOOL"}
    assert {t["name"]: t["datatype"] for t in doc["inputs"]} == want
    back = oip.decode_request(enc.body, header_length=enc.header_length).value
    assert list(back.dtypes) == list(frame.dtypes)
    for name in frame:
        assert back[name].to_numpy().tobytes() == frame[name].to_numpy().tobytes(), name


# --- the fast paths give exactly what the general path gives -------------------------------------------------

_SIMPLE = {
    "BOOL": st.booleans(),
    "INT8": st.integers(-(2**7) - 2, 2**7 + 1),
    "INT32": st.integers(-(2**31) - 2, 2**31 + 1),
    "INT64": st.integers(-(2**63) - 2, 2**63 + 1),
    "UINT8": st.integers(-2, 2**8 + 1),
    "UINT64": st.integers(-2, 2**64 + 1),
    "FP16": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-70000, 70000)),
    "FP32": st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, width=32), st.floats(allow_nan=False, allow_infinity=False)
    ),
    "FP64": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**70), 2**70)),
}


def _nest(flat: list[Any], shape: list[int]) -> Any:
    """``flat`` as row-major nested lists of ``shape`` (items left over or missing: a ragged nesting)."""
    if len(shape) <= 1:
        return list(flat)
    step = math.prod(shape[1:])
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


@st.composite
def _simple_docs(draw: Any) -> dict[str, Any]:
    inputs = []
    for i in range(draw(st.integers(1, 3))):
        datatype = draw(st.sampled_from(sorted(_SIMPLE)))
        shape = draw(st.lists(st.integers(0, 3), max_size=3))
        size = int(np.prod(shape)) if shape else 1
        data = draw(st.lists(_SIMPLE[datatype], min_size=size, max_size=size))
        if draw(st.integers(0, 9)) == 0:  # now and then a value of another kind, or a wrong length
            data = [*data, draw(st.sampled_from([True, 1, 1.5, None, "x"]))]
        if len(shape) > 1 and draw(st.booleans()):  # row-major nested lists: to the shape, or to another one
            nest_to = draw(st.sampled_from([shape, shape[::-1], [*shape[:-1], shape[-1] + 1], shape[1:]]))
            data = _nest(data, nest_to)
        inputs.append(
            {"name": draw(st.sampled_from(["x", f"in{i}", "é"])), "shape": shape, "datatype": datatype, "data": data}
        )
    doc: dict[str, Any] = {"inputs": inputs}
    if draw(st.booleans()):
        doc["id"] = draw(st.sampled_from(["r1", "", 5]))
    if draw(st.booleans()):
        doc["parameters"] = draw(st.sampled_from([{}, {"binary_data_output": True}, {"binary_data_output": 1}]))
    if draw(st.booleans()):
        doc["outputs"] = draw(
            st.sampled_from([[], [{"name": "y"}], [{"name": "y", "parameters": {"binary_data": True}}]])
        )
    return doc


def _outcome(fn: Any) -> Any:
    try:
        return fn()
    except DatasonError as exc:
        return (type(exc), str(exc))


def _same_request(a: Any, b: Any) -> None:
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b
        return
    assert (a.id, a.parameters, a.outputs, a.binary_output) == (b.id, b.parameters, b.outputs, b.binary_output)
    assert len(a.inputs) == len(b.inputs)
    for x, y in zip(a.inputs, b.inputs, strict=True):
        assert (x.name, x.shape, x.datatype, x.parameters) == (y.name, y.shape, y.datatype, y.parameters)
        assert x.value.dtype == y.value.dtype and x.value.shape == y.value.shape
        assert x.value.tobytes() == y.value.tobytes()


@settings(max_examples=400, deadline=None)
@given(_simple_docs())
def test_simple_request_fast_path_matches_the_general_path(doc: dict[str, Any]) -> None:
    body = json.dumps(doc).encode()
    fast = _outcome(lambda: oip.decode_request(body))
    general = _outcome(
        lambda: oip._general_request(oip._parse(body, None, get_api_config())[0], None, get_api_config())
    )
    _same_request(fast, general)


def _read_by_datason(body: bytes, config: Any = None) -> Any:
    """decode_request as it reads a body without the small-body path: datason's reader, then the same steps."""
    cfg = config or get_api_config()

    def read() -> Any:
        doc, rest = oip._parse(body, None, cfg)
        return oip._simple_request(doc) or oip._general_request(doc, rest, cfg)

    return _outcome(read)


_TENSOR = '{"name":"x","shape":[2],"datatype":"%s","data":[%s]}'
_EDGE_BODIES = [
    *(
        ('{"inputs":[' + _TENSOR % (datatype, data) + "]}").encode()
        for datatype in ("INT64", "UINT64", "FP64", "FP32", "FP16", "INT8", "BOOL")
        for data in (
            "18446744073709551616,1",  # 2**64: orjson reads a float, datason an int
            "18446744073709551615,-1",
            "9223372036854775808,-9223372036854775809",
            "1e400,1",  # infinite when read
            "1e-400,-0.0",  # underflows to zero
            "1E2,2e-1",
            "NaN,1",
            "true,false",
            "1,2.0",
            '"1",2',
            "1,[2]",
            "70000,1e39",
        )
    ),
    b'{"inputs":[{"name":"\\ud800","shape":[1],"datatype":"FP64","data":[1]}]}',  # lone surrogate
    b'{"inputs":[{"name":"\xff","shape":[1],"datatype":"FP64","data":[1]}]}',  # invalid UTF-8
    b'{"inputs":[{"name":"a","name":"b","shape":[1],"datatype":"FP64","data":[1]}]}',  # duplicate key
    b'{"inputs":[{"name":"a","shape":[1],"datatype":"FP64","data":[1]}],"inputs":[]}',
    b'{"id":"123e4567-e89b-12d3-a456-426614174000","inputs":[' + (_TENSOR % ("FP64", "1,2")).encode() + b"]}",
    b'{"id":"2024-01-01T00:00:00+02:00","inputs":[' + (_TENSOR % ("FP64", "1,2")).encode() + b"]}",
    b'{"inputs":[' + (_TENSOR % ("FP64", "1,2")).encode() + b'],"outputs":[{"name":"y"}]}',
    b'{"inputs":[' + (_TENSOR % ("FP64", "1,2")).encode() + b'],"outputs":[{"__datason_type__":"uuid.UUID",'
    b'"__datason_value__":"123e4567-e89b-12d3-a456-426614174000"}]}',
    b'{"inputs":[' + (_TENSOR % ("FP64", "1,2")).encode() + b'],"parameters":{"binary_data_output":true}}',
    b'{"inputs":[{"name":"x","shape":[2,1],"datatype":"FP64","data":[[1],[2]]}]}',  # nested data
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[1]}]} ',
    b'\xef\xbb\xbf{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[1]}]}',  # BOM
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[1],}]}',  # trailing comma
    b"[" * 1500 + b"]" * 1500,
    b'{"inputs":' + b"[" * 1000 + b"]" * 1000 + b"}",
    b"{}",
    b"null",
]


@pytest.mark.parametrize("body", _EDGE_BODIES)
def test_small_bodies_read_by_orjson_decode_as_datasons_reader_decodes_them(body: bytes) -> None:
    # Small bodies are first read by orjson; every body must come out as datason's own reader makes it, value
    # for value or error for error (numbers orjson reads otherwise, text it refuses, objects datason rebuilds).
    _same_request(_outcome(lambda: oip.decode_request(body)), _read_by_datason(body))


@pytest.mark.parametrize(
    "limit",
    [{"max_string_length": 3}, {"max_size": 3}, {"max_depth": 3}, {"max_bytes": 40}],
)
def test_small_bodies_keep_the_configs_limits(limit: dict[str, int]) -> None:
    body = b'{"inputs":[{"name":"long name","shape":[4],"datatype":"FP64","data":[1,2,3,4]}]}'
    cfg = get_api_config().replace(**limit)
    with pytest.raises(SecurityError):
        oip.decode_request(body, config=cfg)
    _same_request(_outcome(lambda: oip.decode_request(body, config=cfg)), _read_by_datason(body, cfg))
    assert oip.decode_request(body).inputs[0].value.tolist() == [1.0, 2.0, 3.0, 4.0]  # the default limits allow it


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_small_bodies_damaged_anywhere_decode_as_datasons_reader_decodes_them(data: Any) -> None:
    body = bytearray(b'{"id":"r","inputs":[{"name":"x","shape":[1,3],"datatype":"INT32","data":[1,-2,300]}]}')
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(body) - 1))
        byte = data.draw(st.sampled_from(b'{}[],:"\\ 0123456789.eE-+tfnaxuU\x00\xff'))
        if data.draw(st.booleans()):
            body[at] = byte
        else:
            body.insert(at, byte)
    raw = bytes(body)
    _same_request(_outcome(lambda: oip.decode_request(raw)), _read_by_datason(raw))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        ["bool", "int8", "int32", "int64", "uint16", "uint64", "float32", "float64", "float16", ">f8", "str"]
    ),
    st.lists(st.integers(0, 3), max_size=3),
    st.booleans(),
    st.sampled_from(["contiguous", "reversed", "transposed", "every other"]),
    st.data(),
)
def test_simple_response_fast_path_matches_the_general_path(
    dtype: str, shape: list[int], as_dict: bool, layout: str, data: Any
) -> None:
    size = int(np.prod(shape)) if shape else 1
    if dtype == "str":  # a NumPy str array (BYTES, content_type str)
        array = np.array(data.draw(st.lists(st.text(max_size=5), min_size=size, max_size=size)), dtype=str)
        array = array.reshape(shape)
    else:
        itemsize = np.dtype(dtype).itemsize
        raw = data.draw(st.binary(min_size=size * itemsize, max_size=size * itemsize))
        array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if array.dtype == np.bool_:
        array = array.view(np.uint8).astype(bool)
    if array.ndim and layout == "reversed":
        array = array[::-1]
    elif layout == "transposed":
        array = array.T
    elif array.ndim and layout == "every other":
        array = np.concatenate([array, array])[::2]  # a strided view of the same values
    result = {"a": array, "b": array.reshape(-1)[:1]} if as_dict else array
    req = oip.decode_request(request_body(X))

    def encode() -> Any:
        return oip.encode_response(result, model_name="m", model_version="2", request=req)

    fast = _outcome(encode)
    original = oip._simple_response
    try:
        oip._simple_response = lambda *a, **k: None  # type: ignore[assignment]
        general = _outcome(encode)
    finally:
        oip._simple_response = original  # type: ignore[assignment]
    assert fast == general
