"""End to end against a real `datason serve` process, one client per v1 protocol, as their users send them:
KServe v1 ``POST /v1/models/{name}:predict`` (httpx), Seldon Core v1 ``POST /api/v1.0/predictions`` (ndarray
and tensor forms), MLflow ``POST /invocations`` (all four input forms; urllib). Every answer is parsed as
strict JSON (a bare NaN fails the test).

Two apps: ``identity`` returns what predict received (so the response shows the decoded value re-encoded in
the protocol's own form) and ``describe`` returns what predict received as plain JSON (type, dtype, shape,
columns, index), which checks the server-side decoding directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from mlflow.pyfunc.scoring_server import _split_data_and_params, infer_and_parse_data

from datason.protocols import kserve_v1, mlflow, seldon
from tests.interop.helpers import Server, assert_array_exact, get, post, strict_json


@pytest.fixture(scope="module")
def identity(identity_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=identity_server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def describe(describe_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=describe_server.url, timeout=30) as c:
        yield c


def _json_ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return strict_json(response.content)


# --- KServe v1 --------------------------------------------------------------------------------------------


def test_kserve_v1_predict_instances(identity: httpx.Client, describe: httpx.Client) -> None:
    body = {"instances": [[1, 2], [3, 4]]}
    assert _json_ok(identity.post("/v1/models/identity:predict", json=body)) == {"predictions": [[1, 2], [3, 4]]}
    seen = _json_ok(describe.post("/v1/models/describe:predict", json=body))["predictions"]
    assert (seen["type"], seen["dtype"], seen["shape"]) == ("ndarray", "int64", [2, 2])


def test_kserve_v1_predict_float_nan_comes_back_null(identity: httpx.Client, describe: httpx.Client) -> None:
    body = {"instances": [0.5, None, -0.0]}
    assert _json_ok(identity.post("/v1/models/identity:predict", json=body)) == {"predictions": [0.5, None, -0.0]}
    seen = _json_ok(describe.post("/v1/models/describe:predict", json=body))["predictions"]
    assert (seen["dtype"], seen["items"]) == ("float64", ["0.5", "nan", "-0.0"])


def test_kserve_v1_inputs_dict_and_model_ready(identity: httpx.Client, describe: httpx.Client) -> None:
    body = {"inputs": {"a": [1, 2], "b": [[0.5]]}}
    seen = _json_ok(describe.post("/v1/models/describe:predict", json=body))["predictions"]
    assert seen["type"] == "dict"
    assert (seen["items"]["a"]["dtype"], seen["items"]["b"]["shape"]) == ("int64", [1, 1])
    status = identity.get("/v1/models/identity")
    assert status.status_code == 200 and strict_json(status.content)["name"] == "identity"


def test_kserve_v1_client_codec_against_service(identity: httpx.Client) -> None:
    arr = np.array([[2**53 + 1, -7]], dtype=np.int64)
    response = identity.post(
        "/v1/models/identity:predict",
        content=kserve_v1.encode_request(arr),
        headers={"content-type": "application/json"},
    )
    assert_array_exact(kserve_v1.decode_response(response.content), arr)


def test_kserve_v1_malformed_is_400_kserve_error(identity: httpx.Client) -> None:
    response = identity.post("/v1/models/identity:predict", json={"instances": 5})
    assert response.status_code == 400
    error = strict_json(response.content)
    assert set(error) == {"error"} and "instances" in error["error"]


# --- Seldon Core v1 ---------------------------------------------------------------------------------------


def test_seldon_ndarray_answered_as_ndarray(identity: httpx.Client, describe: httpx.Client) -> None:
    body = {"data": {"ndarray": [[1, 2], [3, 4]]}, "meta": {"puid": "s-1"}}
    doc = _json_ok(identity.post("/api/v1.0/predictions", json=body))
    assert doc["data"]["ndarray"] == [[1, 2], [3, 4]]
    assert doc["meta"]["puid"] == "s-1"
    seen = _json_ok(describe.post("/api/v1.0/predictions", json=body))["jsonData"]
    assert (seen["type"], seen["dtype"], seen["shape"]) == ("ndarray", "int64", [2, 2])


def test_seldon_tensor_answered_as_tensor(identity: httpx.Client, describe: httpx.Client) -> None:
    body = {"data": {"tensor": {"shape": [2, 2], "values": [0.5, 1.5, -0.0, 4.0]}}}
    doc = _json_ok(identity.post("/api/v1.0/predictions", json=body))
    assert doc["data"]["tensor"] == {"shape": [2, 2], "values": [0.5, 1.5, -0.0, 4.0]}
    seen = _json_ok(describe.post("/api/v1.0/predictions", json=body))["jsonData"]
    assert (seen["dtype"], seen["shape"]) == ("float64", [2, 2])


def test_seldon_tensor_nonfinite_as_protobuf_strings(identity: httpx.Client) -> None:
    body = {"data": {"tensor": {"shape": [3], "values": ["NaN", "Infinity", 1.0]}}}
    doc = _json_ok(identity.post("/api/v1.0/predictions", json=body))
    assert doc["data"]["tensor"]["values"] == ["NaN", "Infinity", 1.0]


def test_seldon_names_give_a_frame(describe: httpx.Client) -> None:
    body = {"data": {"names": ["a", "b"], "ndarray": [[1, "x"], [2, "y"]]}}
    seen = _json_ok(describe.post("/api/v1.0/predictions", json=body))["jsonData"]
    assert (seen["type"], seen["columns"], seen["dtypes"][0]) == ("DataFrame", ["a", "b"], "int64")


def test_seldon_other_payloads(identity: httpx.Client) -> None:
    assert _json_ok(identity.post("/api/v1.0/predictions", json={"strData": "h\u00e9"}))["strData"] == "h\u00e9"
    assert _json_ok(identity.post("/api/v1.0/predictions", json={"jsonData": {"k": [1, 2]}}))["jsonData"] == {
        "k": [1, 2]
    }
    raw = seldon.encode_request(b"\x00\xff", form="binData")
    response = identity.post("/api/v1.0/predictions", content=raw, headers={"content-type": "application/json"})
    assert seldon.decode_response(response.content) == b"\x00\xff"


def test_seldon_malformed_is_400_seldon_status(identity: httpx.Client) -> None:
    response = identity.post("/api/v1.0/predictions", json={"data": {"tensor": {"shape": [3], "values": [1]}}})
    assert response.status_code == 400
    status = strict_json(response.content)["status"]
    assert status["code"] == 400 and status["reason"] == "MICROSERVICE_BAD_DATA"
    assert "$.data.tensor.shape" in status["info"]


# --- MLflow /invocations ------------------------------------------------------------------------------------

MLFLOW_BODIES = {
    "dataframe_split": {"dataframe_split": {"columns": ["a", "b"], "index": [7, 8], "data": [[1, 0.5], [2, None]]}},
    "dataframe_records": {"dataframe_records": [{"a": 1, "b": 0.5}, {"a": 2, "b": None}]},
    "instances": {"instances": [[1, 2], [3, 4]]},
    "inputs": {"inputs": {"a": [1, 2], "b": [0.5, 1.5]}, "params": {"k": 3}},
}


@pytest.mark.parametrize("form", sorted(MLFLOW_BODIES))
def test_mlflow_invocations_each_form(describe_server: Server, form: str) -> None:
    body = json.dumps(MLFLOW_BODIES[form]).encode()
    status, headers, raw = post(describe_server.url + "/invocations", body)
    assert status == 200, raw
    assert headers["content-type"].startswith("application/json")
    seen = strict_json(raw)["predictions"]
    mlflow_value = infer_and_parse_data(_split_data_and_params(body.decode())[0])  # what MLflow's server gives
    if isinstance(mlflow_value, pd.DataFrame):
        assert seen["type"] == "DataFrame"
        assert seen["columns"] == [str(c) for c in mlflow_value.columns]
        assert seen["dtypes"] == [str(t) for t in mlflow_value.dtypes]
        assert seen["index"] == [str(i) for i in mlflow_value.index]
    elif isinstance(mlflow_value, np.ndarray):
        assert (seen["type"], seen["dtype"], seen["shape"]) == ("ndarray", str(mlflow_value.dtype), [2, 2])
    else:
        assert seen["type"] == "dict" and sorted(seen["items"]) == sorted(mlflow_value)
        for key, arr in mlflow_value.items():
            assert seen["items"][key]["dtype"] == str(arr.dtype)


def test_mlflow_invocations_frame_answered_as_records(identity_server: Server) -> None:
    body = json.dumps(MLFLOW_BODIES["dataframe_split"]).encode()
    status, _, raw = post(identity_server.url + "/invocations", body)
    assert status == 200, raw
    assert strict_json(raw) == {"predictions": [{"a": 1, "b": 0.5}, {"a": 2, "b": None}]}  # NaN as null


def test_mlflow_client_codec_against_service(identity_server: Server) -> None:
    df = pd.DataFrame({"x": [1.5, -0.0], "n": [3, 4]}, index=[5, 6])
    status, _, raw = post(identity_server.url + "/invocations", mlflow.encode_request(df))
    assert status == 200, raw
    assert mlflow.decode_response(raw) == [{"x": 1.5, "n": 3}, {"x": -0.0, "n": 4}]


def test_mlflow_ping_and_bad_request(identity_server: Server) -> None:
    status, _ = get(identity_server.url + "/ping")
    assert status == 200
    status, _, raw = post(identity_server.url + "/invocations", b'{"dataframe_split": {"data": [[1]]}}')
    assert status == 400
    error = strict_json(raw)
    assert error["error_code"] == "BAD_REQUEST" and "dataframe_split" in error["message"]


# --- datason's own routes on the same process -------------------------------------------------------------


def test_datason_predict_health_ready_metrics(identity: httpx.Client) -> None:
    doc = _json_ok(identity.post("/predict", json={"features": {"x": [1, 2]}}))
    assert doc["prediction"] == {"x": [1, 2]}
    assert identity.get("/ready").status_code == 200
    assert strict_json(identity.get("/health").content)
    metrics = identity.get("/metrics")
    assert metrics.status_code == 200 and "ml_prediction" in metrics.text
    for protocol in ("kserve_v1", "seldon", "mlflow"):
        assert f'protocol="{protocol}"' in metrics.text
