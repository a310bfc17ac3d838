"""Seldon Core v1 SeldonMessages against seldon-core 1.18.2's own helpers, both ways.

seldon-core reads a REST request two ways, and both are checked: ``extract_request_parts_json`` (its Python
microservice's JSON path: ``np.array`` of the parsed lists, so ints stay int64) and the protobuf path
``json_to_seldon_message`` + ``get_data_from_proto`` (``ndarray`` is a protobuf ``ListValue``: every number
becomes a double, SeldonIO/seldon-core#3681; ``tensor`` values are doubles; ``jsonData`` numbers become floats).
It writes responses with ``construct_response_json`` (JSON path, the request's form) and ``construct_response``
+ ``seldon_message_to_json`` (protobuf path), and errors as ``SeldonMicroserviceException.to_dict()``.

Where seldon-core loses something the test says so: the protobuf path's int -> float, its JSON path's
``"NaN"`` tensor values read as strings, float32 widened by ``tolist()``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.utils import (
    array_to_rest_datadef,
    construct_response,
    construct_response_json,
    extract_request_parts_json,
    get_data_from_proto,
    get_meta_from_proto,
    json_to_seldon_message,
    seldon_message_to_json,
)

from datason.errors import DeserializationError
from datason.protocols import seldon
from tests.interop.helpers import assert_array_exact, assert_frame_exact, strict_json


class UserModel:
    """A SeldonComponent with no hooks: seldon-core's defaults apply (class names t:0, t:1, ...)."""


def _wire(body: bytes) -> dict[str, Any]:
    """What a seldon-core microservice gets: the request body parsed as JSON (strict: datason writes no NaN)."""
    doc = strict_json(body)
    assert isinstance(doc, dict)
    return doc


# --- datason writes, seldon-core reads --------------------------------------------------------------------


@pytest.mark.parametrize(
    "arr",
    [
        np.array([[1, 2], [3, -4]], dtype=np.int64),
        np.array([[0.5, -0.0], [1e300, 2.25]]),
        np.array([True, False]),
        np.arange(24, dtype=np.int64).reshape(2, 3, 4),
    ],
    ids=["int64-2d", "float64-2d", "bool-1d", "int64-3d"],
)
def test_ndarray_request_seldon_json_path_reads_exactly(arr: np.ndarray) -> None:
    doc = _wire(seldon.encode_request(arr, form="ndarray"))
    features, _, datadef, data_type = extract_request_parts_json(doc)
    assert data_type == "data" and "ndarray" in datadef
    assert_array_exact(features, arr)


def test_ndarray_request_seldon_proto_path_turns_ints_into_doubles() -> None:
    arr = np.array([[1, 2], [3, -4]], dtype=np.int64)
    message = json_to_seldon_message(_wire(seldon.encode_request(arr, form="ndarray")))
    got = get_data_from_proto(message)
    assert got.dtype == np.float64  # seldon-core's loss (protobuf ListValue), not datason's
    assert_array_exact(got, arr.astype(np.float64))


@pytest.mark.parametrize(
    "arr",
    [
        np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int64),
        np.array([0.5, -0.0, 1e-300, 2.0**52 + 0.5]),
        np.arange(8, dtype=np.int64).reshape(2, 2, 2),
    ],
    ids=["int64-2d", "float64-1d", "int64-3d"],
)
def test_tensor_request_both_seldon_paths(arr: np.ndarray) -> None:
    doc = _wire(seldon.encode_request(arr, form="tensor"))
    assert doc["data"]["tensor"]["shape"] == list(arr.shape)
    features, _, _, _ = extract_request_parts_json(doc)
    assert_array_exact(features, arr)  # JSON path: ints stay int64
    from_proto = get_data_from_proto(json_to_seldon_message(doc))
    assert_array_exact(from_proto, arr.astype(np.float64))  # tensor values are doubles


def test_float32_tensor_request_shortest_digits_give_back_the_bits() -> None:
    arr = np.array([[0.1, 1 / 3], [3.4028235e38, -1e-45]], dtype=np.float32)
    doc = _wire(seldon.encode_request(arr, form="tensor"))
    features, _, _, _ = extract_request_parts_json(doc)
    assert features.dtype == np.float64
    assert_array_exact(features.astype(np.float32), arr)
    assert_array_exact(get_data_from_proto(json_to_seldon_message(doc)).astype(np.float32), arr)


def test_nonfinite_tensor_values_protobuf_reads_seldon_json_path_gets_strings() -> None:
    """datason writes NaN/Infinity in a tensor as protobuf's "NaN"/"Infinity" strings (strict JSON has no
    NaN; ``null`` would not parse as a double). seldon-core's protobuf path reads them; its JSON path makes a
    string array of the whole tensor."""
    arr = np.array([np.nan, np.inf, -np.inf, 1.5])
    doc = _wire(seldon.encode_request(arr, form="tensor"))
    assert doc["data"]["tensor"]["values"] == ["NaN", "Infinity", "-Infinity", 1.5]
    assert_array_exact(get_data_from_proto(json_to_seldon_message(doc)), arr)
    features, _, _, _ = extract_request_parts_json(doc)
    assert features.dtype.kind == "U"
    assert_array_exact(seldon.decode_request(json.dumps(doc)).value, arr)


def test_names_and_meta_reach_seldon() -> None:
    arr = np.array([[1.5, 2.5]])
    meta = {"puid": "p-1", "tags": {"source": "test", "n": 3}, "routing": {"router": 1}}
    doc = _wire(seldon.encode_request(arr, form="ndarray", names=["a", "b"], meta=meta))
    features, got_meta, datadef, _ = extract_request_parts_json(doc)
    assert datadef["names"] == ["a", "b"]
    assert got_meta == meta
    assert_array_exact(features, arr)
    message = json_to_seldon_message(doc)
    assert list(message.data.names) == ["a", "b"]
    proto_meta = get_meta_from_proto(message)
    assert proto_meta["puid"] == "p-1" and proto_meta["tags"] == {"source": "test", "n": 3.0}


def test_dataframe_request_is_names_and_rows() -> None:
    df = pd.DataFrame({"x": [1, 2], "y": [0.5, 1.5]})
    doc = _wire(seldon.encode_request(df))
    features, _, datadef, _ = extract_request_parts_json(doc)
    assert datadef["names"] == ["x", "y"]
    assert_array_exact(features, np.array([[1.0, 0.5], [2.0, 1.5]]))
    assert doc["data"]["ndarray"] == [[1, 0.5], [2, 1.5]]  # the int column is written as ints
    # With names, datason builds the frame from the JSON rows: each column gets its own dtype back.
    assert_frame_exact(seldon.decode_request(json.dumps(doc)).value, df)


def test_mixed_dataframe_request_seldon_stringifies_datason_keeps_columns() -> None:
    """seldon-core's ``np.array`` of mixed rows is a string array (SeldonIO/seldon-core#745); datason's
    decoder, given the names, gives each column its own dtype back."""
    df = pd.DataFrame({"n": [1, 2], "s": ["a", "b"]})
    doc = _wire(seldon.encode_request(df))
    features, _, _, _ = extract_request_parts_json(doc)
    assert features.dtype.kind == "U" and features.tolist() == [["1", "a"], ["2", "b"]]
    back = seldon.decode_request(json.dumps(doc)).value
    assert back.columns.tolist() == ["n", "s"] and back["n"].dtype == np.int64
    assert back["s"].tolist() == ["a", "b"]


@pytest.mark.parametrize(
    ("value", "form", "key"),
    [
        ({"a": 1, "b": [1, 2.5, "x"], "c": {"d": None}}, "jsonData", "jsonData"),
        ("caf\u00e9 \u2603", "strData", "strData"),
        (b"\x00\xff\xfe binary", "binData", "binData"),
    ],
    ids=["jsonData", "strData", "binData"],
)
def test_other_payloads_seldon_json_path_reads_exactly(value: Any, form: str, key: str) -> None:
    doc = _wire(seldon.encode_request(value, form=form))
    features, _, _, data_type = extract_request_parts_json(doc)
    assert data_type == key
    assert type(features) is type(value) and features == value
    message = json_to_seldon_message(doc)
    from_proto = get_data_from_proto(message)
    if key == "jsonData":
        assert from_proto == {"a": 1.0, "b": [1.0, 2.5, "x"], "c": {"d": None}}  # protobuf Struct: doubles
        assert type(from_proto["a"]) is float
    else:
        assert type(from_proto) is type(value) and from_proto == value


# --- seldon-core writes, datason reads --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_doc", "result", "form"),
    [
        ({"data": {"ndarray": [[1]]}}, np.array([[1, 2], [3, 4]], dtype=np.int64), "ndarray"),
        ({"data": {"tensor": {"shape": [1], "values": [1]}}}, np.array([1, -2, 3], dtype=np.int64), "tensor"),
        ({"data": {"tensor": {"shape": [1], "values": [1]}}}, np.array([0.5, -0.0, 1e300]), "tensor"),
        ({"jsonData": {}}, np.array([2.5, 3.5]), "tensor"),
        ({"data": {"ndarray": [[1]]}}, np.array([True, False]), "ndarray"),
    ],
    ids=["ndarray-int", "tensor-int", "tensor-float", "jsonData-req-numeric", "ndarray-bool"],
)
def test_seldon_json_response_datason_reads(request_doc: dict[str, Any], result: np.ndarray, form: str) -> None:
    response = construct_response_json(UserModel(), False, request_doc, result)
    assert form in response["data"]
    body = json.dumps(response)
    got = seldon.decode_response(body)
    if result.ndim == 2:  # seldon-core names the columns t:0, t:1, ...: datason gives a DataFrame
        want = pd.DataFrame(result, columns=[f"t:{i}" for i in range(result.shape[1])])
        assert_frame_exact(got, want)
    else:
        assert_array_exact(got, result)
    assert seldon.decode_request(body).form == form


def test_seldon_float32_response_widened_by_tolist_casts_back() -> None:
    arr = np.array([0.1, 1 / 3, -7.25], dtype=np.float32)
    response = construct_response_json(UserModel(), False, {"data": {"tensor": {}}}, arr)
    got = seldon.decode_response(json.dumps(response))
    assert got.dtype == np.float64 and got[0] != 0.1  # 0.10000000149011612: seldon wrote float64 digits
    assert_array_exact(got.astype(np.float32), arr)


def test_seldon_proto_response_datason_reads_doubles() -> None:
    request = json_to_seldon_message({"data": {"tensor": {"shape": [1], "values": [1]}}})
    message = construct_response(UserModel(), False, request, np.array([[1, 2], [3, 4]]))
    body = json.dumps(seldon_message_to_json(message))
    got = seldon.decode_response(body)
    assert isinstance(got, pd.DataFrame)  # names t:0, t:1
    assert_array_exact(got.to_numpy(), np.array([[1.0, 2.0], [3.0, 4.0]]))


@pytest.mark.parametrize(
    "result",
    [{"a": 1, "b": [1, 2], "c": "x"}, "plain text \u2603", b"\x00\x01\xff"],
    ids=["jsonData", "strData", "binData"],
)
def test_seldon_other_payload_responses_datason_reads(result: Any) -> None:
    response = construct_response_json(UserModel(), False, {"strData": "x"}, result)
    got = seldon.decode_response(json.dumps(response))
    assert type(got) is type(result) and got == result


def test_seldon_response_meta_puid_and_tags_datason_reads() -> None:
    request = {"data": {"ndarray": [1]}, "meta": {"puid": "abc"}}
    response = construct_response_json(UserModel(), False, request, np.array([1.0]), meta={"tags": {"t": "v"}})
    decoded = seldon.decode_request(json.dumps(response))
    assert decoded.meta["puid"] == "abc" and decoded.meta["tags"] == {"t": "v"}


def test_seldon_error_is_an_error_for_datason() -> None:
    body = json.dumps(SeldonMicroserviceException("bad data here").to_dict())
    with pytest.raises(DeserializationError, match="error"):
        seldon.decode_response(body)


# --- datason answers seldon-core's requests; seldon-core parses the answers ----------------------------------


@pytest.mark.parametrize("data_type", ["tensor", "ndarray"])
def test_datason_answers_seldon_written_request_in_its_form(data_type: str) -> None:
    arr = np.array([[1.0, 2.0], [3.0, 4.5]])
    request_doc = {"data": array_to_rest_datadef(data_type, arr, ["a", "b"]), "meta": {"puid": "q-1"}}
    request = seldon.decode_request(json.dumps(request_doc))
    assert request.form == data_type and request.names == ["a", "b"] and request.meta["puid"] == "q-1"
    assert_frame_exact(request.value, pd.DataFrame(arr, columns=["a", "b"]))
    result = request.value.to_numpy().sum(axis=1)
    body = seldon.encode_response(result, request=request)
    doc = _wire(body)
    assert data_type in doc["data"] and doc["meta"]["puid"] == "q-1"
    message = json_to_seldon_message(doc)  # valid SeldonMessage protobuf JSON
    assert_array_exact(get_data_from_proto(message), result)


def test_datason_int_tensor_response_seldon_json_path_keeps_int64() -> None:
    request = seldon.decode_request(json.dumps({"data": {"tensor": {"shape": [2], "values": [1, 2]}}}))
    assert_array_exact(request.value, np.array([1, 2], dtype=np.int64))
    result = np.array([2**40, -3], dtype=np.int64)
    doc = _wire(seldon.encode_response(result, request=request))
    assert doc["data"]["tensor"] == {"shape": [2], "values": [2**40, -3]}
    features, _, _, _ = extract_request_parts_json(doc)  # the next graph step reads it this way
    assert_array_exact(features, result)


def test_datason_error_body_is_a_seldon_status() -> None:
    doc = _wire(seldon.error_body("names the field $.data.ndarray", status=400))
    status = json_to_seldon_message(doc).status
    assert (status.code, status.info, status.reason) == (400, "names the field $.data.ndarray", "MICROSERVICE_BAD_DATA")
    assert status.status == 1  # FAILURE, as seldon-core's own errors


def test_bindata_is_standard_base64() -> None:
    raw = bytes(range(256))
    doc = _wire(seldon.encode_request(raw, form="binData"))
    assert base64.b64decode(doc["binData"], validate=True) == raw
