"""KServe v1 (``{"instances"|"inputs"}`` -> ``{"predictions"}``) against KServe 0.21's own helpers:
``kserve.utils.utils.get_predict_input`` (what a KServe model's ``predict`` gets from a v1 body) and
``get_predict_response`` (what KServe writes for a result). KServe parses and writes bodies with orjson.

JSON carries no dtype: both sides read all-int lists as int64 and int/float lists as float64. Where they part:
a list with ``null`` is float64 with NaN for datason, an object array for KServe; flat records
(``[{"a": 1}, ...]``) are a list of dicts for datason and refused by KServe's input helper (it wants
``[[{...}]]`` or column lists), although KServe's own response helper writes frames as flat records.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from kserve.utils.utils import get_predict_input, get_predict_response

from datason.protocols import kserve_v1
from tests.interop.helpers import assert_array_exact, assert_frame_exact, strict_json

MODEL = "m"


@pytest.mark.parametrize(
    "arr",
    [
        np.array([[1, 2], [3, 4]], dtype=np.int64),
        np.array([2**63 - 1, -(2**63), 2**53 + 1], dtype=np.int64),
        np.array([[0.1, -0.0], [1e308, 5e-324]]),
        np.array([[True, False], [False, True]]),
        np.arange(24, dtype=np.int64).reshape(2, 3, 4),
    ],
    ids=["int64-2d", "int64-extremes", "float64-2d", "bool-2d", "int64-3d"],
)
def test_datason_request_kserve_reads_same_array(arr: np.ndarray) -> None:
    body = kserve_v1.encode_request(arr)
    assert_array_exact(get_predict_input(orjson.loads(body)), arr)
    assert_array_exact(kserve_v1.decode_request(body).value, arr)


def test_float32_loses_dtype_but_not_bits_through_shortest_digits() -> None:
    """JSON has no float32: both read float64; datason writes float32's shortest digits, so a cast back to
    float32 gives the original bits (KServe's own writer, ``tolist()``, widens first: 0.1f -> 0.10000000149...)."""
    arr = np.array([0.1, 1 / 3, 3.4028235e38, -0.0, 1e-45], dtype=np.float32)
    body = kserve_v1.encode_request(arr)
    got = get_predict_input(orjson.loads(body))
    assert got.dtype == np.float64
    assert_array_exact(got.astype(np.float32), arr)
    kserve_written = orjson.dumps(get_predict_response({"instances": []}, arr, MODEL))
    decoded = kserve_v1.decode_response(kserve_written)
    assert decoded.dtype == np.float64
    assert_array_exact(decoded.astype(np.float32), arr)
    assert decoded[0] == float(np.float32(0.1)) != 0.1  # KServe's digits are float64's of the widened value


@pytest.mark.parametrize(
    "body",
    [
        {"instances": [[1, 2], [3, 4]]},
        {"instances": [1.5, 2, -3]},
        {"instances": [[True, False]]},
        {"instances": ["a", "b"]},
        {"inputs": [[1.0, 2.0]]},
        {"instances": []},
    ],
    ids=["ints", "mixed-numbers", "bools", "strings", "inputs-key", "empty"],
)
def test_kserve_style_request_datason_reads_what_kserve_reads(body: dict[str, Any]) -> None:
    raw = orjson.dumps(body)
    want = get_predict_input(orjson.loads(raw))
    got = kserve_v1.decode_request(raw).value
    if isinstance(want, np.ndarray):
        assert_array_exact(got, want)
    else:
        assert got == want


def test_null_in_numbers_datason_nan_float64_kserve_object_array() -> None:
    raw = b'{"instances": [1, null, 2.5]}'
    kserve_value = get_predict_input(orjson.loads(raw))
    assert kserve_value.dtype == np.object_ and kserve_value.tolist() == [1, None, 2.5]
    assert_array_exact(kserve_v1.decode_request(raw).value, np.array([1.0, np.nan, 2.5]))


def test_inputs_object_is_a_dict_of_arrays() -> None:
    raw = orjson.dumps({"inputs": {"a": [[1, 2]], "b": [0.5, 1]}, "parameters": {"t": 0.5}})
    request = kserve_v1.decode_request(raw)
    assert set(request.value) == {"a", "b"}
    assert_array_exact(request.value["a"], np.array([[1, 2]], dtype=np.int64))
    assert_array_exact(request.value["b"], np.array([0.5, 1.0]))
    assert request.parameters == {"t": 0.5}
    assert request.key == "inputs"


def test_dataframe_records_kserve_input_helper_refuses_flat_records() -> None:
    """datason writes a DataFrame's instances as flat records (the index is not written); KServe's
    ``get_predict_input`` builds one DataFrame per instance and refuses scalar records."""
    df = pd.DataFrame({"a": [1, 2], "b": [1.5, 2.5], "s": ["x", "y"]}, index=[10, 20])
    body = kserve_v1.encode_request(df)
    assert strict_json(body) == {"instances": [{"a": 1, "b": 1.5, "s": "x"}, {"a": 2, "b": 2.5, "s": "y"}]}
    with pytest.raises(ValueError, match="scalar values"):
        get_predict_input(orjson.loads(body))
    # The records datason reads back are the frame's rows, as dicts (no dtypes, no index).
    assert kserve_v1.decode_request(body).value == df.to_dict(orient="records")


def test_kserve_dataframe_forms_datason_reads_as_lists() -> None:
    """KServe's accepted frame forms (a list of record lists) stay lists for datason: not numeric."""
    body = {"instances": [[{"a": 1, "b": 2}], [{"a": 3, "b": 4}]]}
    kserve_frame = get_predict_input(body)
    assert kserve_frame.index.tolist() == [0, 0]  # KServe's concat loses the row numbers
    assert kserve_v1.decode_request(orjson.dumps(body)).value == body["instances"]


@pytest.mark.parametrize(
    "result",
    [
        np.array([[1, 2], [3, 4]], dtype=np.int64),
        np.array([0.25, -0.0, 1e300]),
        np.array([True, False]),
    ],
    ids=["int64", "float64", "bool"],
)
def test_kserve_response_datason_reads(result: np.ndarray) -> None:
    body = orjson.dumps(get_predict_response({"instances": []}, result, MODEL))
    assert_array_exact(kserve_v1.decode_response(body), result)


def test_kserve_dataframe_response_datason_reads_records() -> None:
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
    body = orjson.dumps(get_predict_response({"instances": []}, df, MODEL))
    records = kserve_v1.decode_response(body)
    assert records == [{"a": 1.0, "b": 0.5}, {"a": 2.0, "b": 1.5}]  # iterrows() made the ints floats
    assert_frame_exact(pd.DataFrame(records), df.astype(np.float64))


def test_datason_response_is_what_kserve_writes_but_strict() -> None:
    result = np.array([[0.5, np.nan], [np.inf, 2.0]])
    ours = strict_json(kserve_v1.encode_response(result))
    assert ours == {"predictions": [[0.5, None], [None, 2.0]]}  # NaN and Infinity are null in strict JSON
    theirs = orjson.loads(orjson.dumps(get_predict_response({"instances": []}, result, MODEL)))
    assert theirs == ours  # orjson also writes null for NaN/Infinity


def test_error_body_is_kserve_error_shape() -> None:
    assert strict_json(kserve_v1.error_body("bad input", status=400)) == {"error": "bad input"}
