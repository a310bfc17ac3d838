"""The MLflow scoring server's JSON against MLflow 3.17's own code, both ways.

- What datason writes (``datason.protocols.mlflow.encode_request``: ``dataframe_split`` with its index,
  ``dataframe_records``, ``instances``, ``inputs``, ``params``) goes through the scoring server's own parser,
  ``mlflow.pyfunc.scoring_server._split_data_and_params`` + ``infer_and_parse_data`` (what ``/invocations``
  runs for a model without a type-hint signature), and must give the same data.
- What MLflow writes (``mlflow.models.utils.convert_input_example_to_serving_input``, the client helper that
  turns an input example into a request; ``scoring_server.predictions_to_json``, the server's response
  writer) datason decodes; datason's responses MLflow's client (``mlflow.deployments.PredictionsResponse``)
  reads.

Where MLflow loses things the test names say so: JSON has no dtypes (float32 -> float64, int32 -> int64,
datetime64 -> ISO strings), ``dataframe_records`` and MLflow's example writer drop the index, and MLflow writes
a bare ``NaN`` token (not JSON) for missing values, which datason's strict reader refuses.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.deployments import PredictionsResponse
from mlflow.models.utils import convert_input_example_to_serving_input
from mlflow.protos.databricks_pb2 import ErrorCode
from mlflow.pyfunc.scoring_server import _split_data_and_params, infer_and_parse_data, predictions_to_json

from datason.protocols import mlflow as dm
from tests.interop.helpers import assert_array_exact, assert_frame_exact, strict_json


def mlflow_parses(body: bytes) -> tuple[Any, Any]:
    """(model input, params) exactly as the scoring server's ``/invocations`` builds them from a JSON body."""
    data, params = _split_data_and_params(body.decode())
    return infer_and_parse_data(data), params


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": np.array([1, -2, 2**53 + 1], dtype=np.int64),
            "f": [0.5, np.nan, -0.0],
            "s": ["a", "\u00e9", "c"],
            "b": [True, False, True],
        },
        index=pd.Index([10, 20, 30], name=None),
    )


# --- datason writes, MLflow's scoring server parses -------------------------------------------------------


def test_dataframe_split_keeps_index_values_and_dtypes() -> None:
    df = frame()
    body = dm.encode_request(df)
    assert set(strict_json(body)) == {"dataframe_split"}
    got, params = mlflow_parses(body)
    assert params is None
    assert_frame_exact(got, df)  # index 10, 20, 30 kept; NaN (sent as null) comes back NaN
    assert_frame_exact(dm.decode_request(body).value, df)


def test_dataframe_split_float32_and_int32_widen_but_keep_values() -> None:
    """MLflow's loss: JSON has no float32/int32; float32 written with its shortest digits casts back exactly."""
    df = pd.DataFrame({"f32": np.array([0.1, 1 / 3, 3.4028235e38], dtype=np.float32), "i32": np.int32([1, 2, 3])})
    got, _ = mlflow_parses(dm.encode_request(df))
    assert got.dtypes.tolist() == [np.float64, np.int64]
    assert_array_exact(got["f32"].to_numpy().astype(np.float32), df["f32"].to_numpy())
    assert_array_exact(got["i32"].to_numpy().astype(np.int32), df["i32"].to_numpy())


def test_dataframe_split_datetime_column_arrives_as_iso_strings() -> None:
    """MLflow's loss: without a signature a datetime64 column is a column of ISO 8601 strings."""
    df = pd.DataFrame({"t": pd.to_datetime(["2024-01-01T00:00:00", "2024-06-30T12:34:56.789"], format="ISO8601")})
    got, _ = mlflow_parses(dm.encode_request(df))
    assert got["t"].dtype == object
    assert got["t"].tolist() == ["2024-01-01T00:00:00", "2024-06-30T12:34:56.789000"]
    assert_array_exact(pd.to_datetime(got["t"], format="ISO8601").to_numpy(), df["t"].to_numpy())


def test_dataframe_split_string_index_and_columns() -> None:
    df = pd.DataFrame({"x y": [1.5, 2.5], "\u2603": [1, 2]}, index=["r1", "r2"])
    got, _ = mlflow_parses(dm.encode_request(df))
    assert_frame_exact(got, df)


def test_dataframe_records_loses_the_index() -> None:
    df = frame()
    body = dm.encode_request(df, form="dataframe_records")
    assert isinstance(strict_json(body)["dataframe_records"], list)
    got, _ = mlflow_parses(body)
    assert_frame_exact(got, df.reset_index(drop=True))  # records carry no index: MLflow's format, both sides
    assert_frame_exact(dm.decode_request(body).value, df.reset_index(drop=True))


@pytest.mark.parametrize(
    "arr",
    [
        np.array([[1, 2], [3, -4]], dtype=np.int64),
        np.array([[0.5, -0.0], [1e300, 5e-324]]),
        np.array([True, False, True]),
        np.arange(24, dtype=np.int64).reshape(2, 3, 4),
    ],
    ids=["int64-2d", "float64-2d", "bool-1d", "int64-3d"],
)
@pytest.mark.parametrize("form", ["instances", "inputs"])
def test_tensor_forms_mlflow_gets_the_same_array(arr: np.ndarray, form: str) -> None:
    body = dm.encode_request(arr, form=form)
    got, _ = mlflow_parses(body)
    assert_array_exact(got, arr)
    assert_array_exact(dm.decode_request(body).value, arr)


def test_inputs_dict_of_named_tensors() -> None:
    value = {"a": np.array([[1, 2]], dtype=np.int64), "b": np.array([0.25, -1.5])}
    body = dm.encode_request(value, form="inputs")
    got, _ = mlflow_parses(body)
    assert set(got) == {"a", "b"}
    assert_array_exact(got["a"], value["a"])
    assert_array_exact(got["b"], value["b"])
    decoded = dm.decode_request(body).value
    assert_array_exact(decoded["a"], value["a"])
    assert_array_exact(decoded["b"], value["b"])


def test_dataframe_as_inputs_is_one_tensor_per_column() -> None:
    df = pd.DataFrame({"i": [1, 2], "f": [0.5, 1.5]})
    got, _ = mlflow_parses(dm.encode_request(df, form="inputs"))
    assert_array_exact(got["i"], np.array([1, 2]))
    assert_array_exact(got["f"], np.array([0.5, 1.5]))


def test_params_reach_mlflow_with_their_types() -> None:
    params = {"temperature": 0.5, "max_tokens": 10, "stop": ["\n"], "greedy": True, "name": "x"}
    for value, form in ((frame(), "dataframe_split"), (np.array([[1.0]]), "inputs"), (np.array([1]), "instances")):
        body = dm.encode_request(value, form=form, params=params)
        _, got = mlflow_parses(body)
        assert got == params and type(got["max_tokens"]) is int and type(got["temperature"]) is float
        assert dm.decode_request(body).params == params


def test_nan_is_written_as_null_which_mlflow_reads_as_nan() -> None:
    arr = np.array([1.5, np.nan, np.inf])
    body = dm.encode_request(arr, form="inputs")
    assert strict_json(body) == {"inputs": [1.5, None, None]}
    got, _ = mlflow_parses(body)
    assert got.dtype == object and got.tolist() == [1.5, None, None]  # MLflow: None stays None (no schema)
    assert_array_exact(dm.decode_request(body).value, np.array([1.5, np.nan, np.nan]))


# --- MLflow writes, datason reads -------------------------------------------------------------------------


def test_mlflow_input_example_dataframe_datason_reads_without_index() -> None:
    """MLflow's example writer drops the index and widens int32; datason reads the rest exactly."""
    df = pd.DataFrame({"i": np.int32([1, 2]), "f": [0.5, -0.0], "s": ["a", "b"]}, index=[7, 8])
    body = convert_input_example_to_serving_input(df)
    request = dm.decode_request(body)
    assert request.form == "dataframe_split"
    want = df.reset_index(drop=True).astype({"i": np.int64})
    assert_frame_exact(request.value, want)
    got, _ = mlflow_parses(body.encode())
    assert_frame_exact(got, want)


def test_mlflow_input_example_with_nan_tokens_is_read_as_mlflow_reads_it() -> None:
    """MLflow writes a frame's missing value as a bare ``NaN`` token (not JSON); datason's MLflow codec reads
    it as MLflow's own parser does (NaN), so MLflow clients call a datason service unchanged."""
    df = pd.DataFrame({"f": [0.5, np.nan]})
    body = convert_input_example_to_serving_input(df)
    assert "NaN" in body
    got = dm.decode_request(body).value
    assert got["f"].dtype == np.float64 and got["f"][0] == 0.5 and np.isnan(got["f"][1])
    theirs, _ = mlflow_parses(body.encode())
    assert np.isnan(theirs["f"][1])


@pytest.mark.parametrize(
    "arr",
    [np.array([[1, 2], [3, 4]], dtype=np.int64), np.array([0.5, -0.0]), np.array([[True], [False]])],
    ids=["int64", "float64", "bool"],
)
def test_mlflow_input_example_ndarray_datason_reads(arr: np.ndarray) -> None:
    body = convert_input_example_to_serving_input(arr)
    request = dm.decode_request(body)
    assert request.form == "inputs"
    assert_array_exact(request.value, arr)


def test_mlflow_input_example_float32_widened_by_tolist() -> None:
    arr = np.array([0.1, 0.2], dtype=np.float32)
    got = dm.decode_request(convert_input_example_to_serving_input(arr)).value
    assert got.dtype == np.float64 and got[0] == float(np.float32(0.1))
    assert_array_exact(got.astype(np.float32), arr)


def test_mlflow_input_example_dict_of_arrays_datason_reads() -> None:
    example = {"x": np.array([1, 2]), "y": np.array([[0.5, 1.5]])}
    decoded = dm.decode_request(convert_input_example_to_serving_input(example)).value
    assert set(decoded) == {"x", "y"}
    assert_array_exact(decoded["x"], example["x"])
    assert_array_exact(decoded["y"], example["y"])


@pytest.mark.parametrize(
    "prediction",
    [np.array([[1, 2], [3, 4]], dtype=np.int64), np.array([0.25, -0.0, 1e300]), np.array([True, False])],
    ids=["int64", "float64", "bool"],
)
def test_mlflow_server_response_datason_reads(prediction: np.ndarray) -> None:
    out = io.StringIO()
    predictions_to_json(prediction, out)
    assert_array_exact(dm.decode_response(out.getvalue()), prediction)


def test_mlflow_server_dataframe_response_is_records_without_index() -> None:
    out = io.StringIO()
    predictions_to_json(pd.DataFrame({"y": [1, 2]}, index=[5, 6]), out)
    assert dm.decode_response(out.getvalue()) == [{"y": 1}, {"y": 2}]  # MLflow drops the index (mlflow#1671)


def test_mlflow_server_nan_response_is_not_json_but_datason_reads_it() -> None:
    out = io.StringIO()
    predictions_to_json(np.array([1.0, np.nan]), out)
    assert out.getvalue() == '{"predictions": [1.0, NaN]}'  # MLflow's server writes a bare NaN (mlflow#1671)
    back = dm.decode_response(out.getvalue())
    assert back.dtype == np.float64 and back[0] == 1.0 and np.isnan(back[1])


# --- datason responses, MLflow's client reads ---------------------------------------------------------------


def test_datason_response_mlflow_client_reads_frame_and_ndarray() -> None:
    df = pd.DataFrame({"y": [1, 2], "p": [0.25, np.nan]}, index=[3, 4])
    body = dm.encode_response(df)
    assert strict_json(body) == {"predictions": [{"y": 1, "p": 0.25}, {"y": 2, "p": None}]}
    got = PredictionsResponse.from_json(body.decode()).get_predictions()
    assert_frame_exact(got, df.reset_index(drop=True))
    arr = np.array([[1, 2], [3, 4]], dtype=np.int64)
    got_arr = PredictionsResponse.from_json(dm.encode_response(arr).decode()).get_predictions(
        predictions_format="ndarray"
    )
    assert_array_exact(got_arr, arr)


def test_datason_response_nan_is_null_where_mlflow_writes_nan() -> None:
    body = dm.encode_response(np.array([1.0, np.nan, -np.inf]))
    assert strict_json(body) == {"predictions": [1.0, None, None]}
    assert_array_exact(dm.decode_response(body), np.array([1.0, np.nan, np.nan]))


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_error_body_codes_are_mlflow_error_codes(status: int) -> None:
    doc = strict_json(dm.error_body("bad $.dataframe_split.data[0]", status=status))
    assert set(doc) == {"error_code", "message"}
    assert ErrorCode.Value(doc["error_code"]) > 0  # a name MLflow's protobuf enum knows
    assert doc["message"] == "bad $.dataframe_split.data[0]"


def test_datason_dataframe_as_instances_mlflow_reads_columns() -> None:
    """``instances`` of records: MLflow turns them into a dict of columns (its TF-serving rule)."""
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
    got, _ = mlflow_parses(dm.encode_request(df, form="instances"))
    assert set(got) == {"a", "b"}
    assert_array_exact(got["a"], np.array([1, 2]))
    assert_array_exact(got["b"], np.array([0.5, 1.5]))
    assert dm.decode_request(dm.encode_request(df, form="instances")).value == json.loads(df.to_json(orient="records"))
