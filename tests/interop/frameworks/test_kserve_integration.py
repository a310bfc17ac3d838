"""datason.integrations.kserve under a real KServe 0.21 ``ModelServer``, started as users start a KServe script.

Three servers, started together once for the module, each in its own process group on a free 127.0.0.1 port
(``tests.interop.apps.kserve_loopback`` runs the script with uvicorn's host forced to 127.0.0.1; KServe
hard-codes 0.0.0.0): ``tests.interop.apps.kserve_models`` (an echo model, a describing model with
preprocess/postprocess, a function model with input specs, limits and a readiness switch, a plain
``kserve.Model`` for contrast, and the echo model registered again under an alias, which KServe's own routes
and dataplane serve), ``examples/kserve_basic.py`` and ``examples/kserve_production.py`` (with ``--workers 2``:
models pickled into KServe's worker processes). Checked over HTTP: exact v2 round trips with datason's codec
and tritonclient (JSON, binary, tritonclient's default JSON-only request that KServe refuses), typed and plain
v1, the toolkit's statuses where KServe answers 500 (shape mismatch, a DataFrame result), 413, 429, readiness,
the toolkit's counters at KServe's ``/metrics``; in-process: the gRPC path of KServe's dataplane, pickling.
The docs page's python blocks and its InferenceService manifest are checked too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import pathlib
import pickle
import re
import signal
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import tritonclient.http as httpclient
import yaml
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

import datason
from datason.protocols import kserve_v1, oip
from tests.interop.helpers import ROOT, assert_array_exact, assert_frame_exact, free_port, get, post, strict_json

TYPED = "application/vnd.datason+json"
DOCS = ROOT / "docs" / "integrations" / "kserve.md"


class KServeServer:
    """A KServe script on a free loopback port, in a process group of its own; ready once its models are."""

    def __init__(self, name: str, module: str, models: tuple[str, ...], tmp: pathlib.Path, *args: str) -> None:
        self.name, self.module, self.models, self.args = name, module, models, args
        self.log_path = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.url = ""

    def spawn(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATASON_SERVING_")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "tests.interop.apps.kserve_loopback", self.module]
        cmd += ["--http_port", str(self.port), "--enable_grpc", "false", *self.args]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def poll_ready(self) -> bool | None:
        """True once every model answers ready, False while starting, None if the process died."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            return None
        try:
            return all(get(f"{self.url}/v2/models/{m}/ready")[0] == 200 for m in self.models)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)
        except ProcessLookupError:
            pass

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, KServeServer]]:
    tmp = tmp_path_factory.mktemp("kserve")
    started = {
        "models": KServeServer(
            "models", "tests.interop.apps.kserve_models", ("echo", "describe", "strict", "bare", "echo-alias"), tmp
        ),
        "basic": KServeServer("basic", "examples.kserve_basic", ("iris",), tmp),
        "production": KServeServer("production", "examples.kserve_production", ("fraud",), tmp, "--workers", "2"),
    }
    try:
        for server in started.values():
            server.spawn()
        waiting = dict(started)
        deadline = time.monotonic() + 120
        while waiting and time.monotonic() < deadline:
            for name, server in list(waiting.items()):
                state = server.poll_ready()
                if state is None and "address already in use" in server.log().lower():
                    server.spawn()  # a probed free port was taken before KServe bound it: another one
                elif state is None:
                    raise AssertionError(f"{server.module} exited:\n{server.log()[-3000:]}")
                elif state:
                    del waiting[name]
            time.sleep(0.1)
        assert not waiting, "not ready: " + "; ".join(f"{s.module}:\n{s.log()[-2000:]}" for s in waiting.values())
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="module")
def url(servers: dict[str, KServeServer]) -> str:
    return servers["models"].url


def send(address: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """POST as its own client: a fresh X-API-Key unless given (the strict model limits each key to 5/minute)."""
    return post(address, body, {"X-API-Key": uuid.uuid4().hex, **(headers or {})})


def error(status: int, headers: dict[str, str], body: bytes, code: int, message: str) -> None:
    """KServe's error body ``{"error": ...}`` with the toolkit's status, message and request id header."""
    assert status == code, (status, body)
    assert strict_json(body) == {"error": message}
    assert headers["content-type"] == "application/json" and headers["x-request-id"]
    for leak in (b"Traceback", b"secret", b"passwd", b".py"):
        assert leak not in body


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample (labels matched exactly) in Prometheus text; 0 when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def triton(server_url: str) -> httpclient.InferenceServerClient:
    return httpclient.InferenceServerClient(
        server_url.removeprefix("http://"), connection_timeout=30, network_timeout=30
    )


def triton_input(name: str, arr: np.ndarray, binary: bool) -> httpclient.InferInput:
    inp = httpclient.InferInput(name, list(arr.shape), np_to_triton_dtype(arr.dtype))
    inp.set_data_from_numpy(arr, binary_data=binary)
    return inp


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": pd.date_range("2024-03-30 23:00", periods=3, freq="h", tz="Europe/Paris"),
            "naive": pd.to_datetime(["2024-01-01 00:00:00.000001", "NaT", "1969-12-31 23:59:59.000000"]),
            "label": pd.array(["a", None, "é"], dtype="string"),
            "size": pd.Categorical(["S", "L", "S"], categories=["S", "M", "L"], ordered=True),
            "n": pd.array([1, None, 3], dtype="Int64"),
            "x": np.array([0.1, np.nan, 2.5], dtype=np.float32),
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    )


TENSORS = {
    "float32-2d": np.array([[0.1, -0.0, 3.4028235e38], [1e-45, 1 / 3, -7.25]], dtype=np.float32),
    "float16": np.array([[0.1, -0.0], [65504.0, 6e-8]], dtype=np.float16),
    "int64-3d": np.arange(-12, 12, dtype=np.int64).reshape(2, 3, 4) * (2**40 + 3),
    "uint64": np.array([2**64 - 1, 2**53 + 1, 0], dtype=np.uint64),
    "bool": np.array([True, False, True]),
    "datetime64": np.array(["2024-03-31T01:59:59.123456789", "NaT", "1900-01-01"], dtype="datetime64[ns]"),
    "complex": np.array([1 + 2j, -0.5j]),
    "strings": np.array(["a", "é", ""]),
}


def assert_same(got: Any, want: Any) -> None:
    if isinstance(want, np.ndarray):
        assert_array_exact(got, want)
    elif isinstance(want, pd.DataFrame):
        assert_frame_exact(got, want)
    elif isinstance(want, dict):
        assert type(got) is dict and list(got) == list(want)
        for key in want:
            assert_same(got[key], want[key])
    else:
        assert type(got) is type(want) and got == want, (got, want)
        if isinstance(want, dt.datetime):
            assert got.utcoffset() == want.utcoffset() and str(got.tzinfo) == str(want.tzinfo)
        if isinstance(want, Decimal):
            assert str(got) == str(want)


# --- v2 (Open Inference Protocol) -----------------------------------------------------------------------------


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("name", list(TENSORS))
def test_v2_tensor_round_trip_with_datasons_codec(url: str, name: str, binary: bool) -> None:
    arr = TENSORS[name]
    request = oip.encode_request({"t": arr}, binary=binary, binary_output=binary)
    headers = {} if request.header_length is None else {"Inference-Header-Content-Length": str(request.header_length)}
    status, out, body = send(url + "/v2/models/echo/infer", request.body, headers)
    assert status == 200, body
    length = out.get("inference-header-content-length")
    assert (length is not None) == (binary and name != "datetime64")  # a tensor holding nulls (NaT) stays JSON
    response = oip.decode_response(body, header_length=length)
    assert response.model_name == "echo" and response.model_version == "3" and response.id  # an id, always
    assert_array_exact(response.value, arr)


def test_v2_frame_with_zones_categories_and_index(url: str) -> None:
    frame = _frame()
    status, _, body = send(url + "/v2/models/echo/infer", oip.encode_request(frame).body)
    assert status == 200, body
    assert_frame_exact(oip.decode_response(body).value, frame)
    status, _, body = send(url + "/v2/models/describe/infer", oip.encode_request(frame).body)
    got = oip.decode_response(body).value  # a dict result: one output per key
    assert got["type"].tolist() == "DataFrame" and got["index_name"].tolist() == "row"
    assert got["dtypes"].tolist() == [
        "datetime64[ns, Europe/Paris]",
        "datetime64[ns]",
        "string",
        "category",
        "Int64",
        "float32",
    ]


def test_kserves_own_v2_writes_datetime64_as_integers() -> None:
    """What a plain kserve.Model answers for a datetime column: KServe's helper ``str()``s the int64 nanoseconds
    of a naive one and fails on a zone-aware one; datason writes ISO 8601 and reads both back exactly."""
    from kserve.protocol.infer_type import InferInput, InferRequest
    from kserve.utils.utils import get_predict_response

    naive = pd.DataFrame({"ts": pd.date_range("2024-03-30 23:00", periods=3, freq="h")})
    request = InferRequest("m", [InferInput("x", [1], "FP32", [1.0])])
    written, _ = get_predict_response(request, naive, "m").to_rest()
    assert written["outputs"][0]["data"] == ["1711839600000000000", "1711843200000000000", "1711846800000000000"]
    with pytest.raises(TypeError, match="datetime64"):
        get_predict_response(request, _frame()[["ts"]], "m")
    for frame in (naive, _frame()[["ts", "naive"]]):
        ours = oip.decode_response(oip.encode_response(frame, model_name="m").body).value
        assert_frame_exact(ours, frame)


def test_tritonclient_default_request_that_kserve_refuses(url: str) -> None:
    """tritonclient's default ``infer`` (JSON inputs, no Inference-Header-Content-Length, binary outputs asked):
    KServe 0.21's own route answers 400; the datason route answers, in binary, exactly."""
    client = triton(url)
    try:
        arr = np.array([[0.1, 2.5, -3.0, 1e-45]], dtype=np.float32)
        result = client.infer("echo", [triton_input("x", arr, binary=False)])
        assert_array_exact(result.as_numpy("x"), arr)
        with pytest.raises(InferenceServerException, match="inference-header-content-length"):
            client.infer("bare", [triton_input("x", arr, binary=False)])
        for binary in (True, False):
            for value in (TENSORS["int64-3d"], TENSORS["float16"], TENSORS["bool"]):
                if value.dtype == np.float16 and not binary:
                    continue  # tritonclient refuses FP16 in JSON itself
                outputs = [httpclient.InferRequestedOutput("v", binary_data=binary)]
                got = client.infer("echo", [triton_input("v", value, binary)], outputs=outputs).as_numpy("v")
                assert_array_exact(got, value)
        strings = np.array([b"abc", "\u00fcn\u2603".encode(), b"\x00\xff"], dtype=np.object_)
        got = client.infer("echo", [triton_input("s", strings, True)]).as_numpy("s")
        assert got.tolist() == strings.tolist()
        assert client.is_model_ready("strict") and client.is_server_ready()
        meta = client.get_model_metadata("strict")
        assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
        assert meta["outputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1]}]
    finally:
        client.close()


def test_shape_mismatch_is_400_where_kserve_answers_500(url: str) -> None:
    body = b'{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2]}]}'
    error(
        *send(url + "/v2/models/echo/infer", body),
        400,
        "nested data do not match the shape at $.inputs[0].data",
    )
    status, _, answer = send(url + "/v2/models/bare/infer", body)
    assert status == 500 and "reshape" in strict_json(answer)["error"]  # KServe's own answer
    spec = b'{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}'
    error(
        *send(url + "/v2/models/strict/infer", spec), 400, "shape does not match the model's input at $.inputs[0].shape"
    )
    wrong = b'{"inputs": [{"name": "x", "shape": [2], "datatype": "INT64", "data": [1, 2]}]}'
    status, _, answer = send(url + "/v2/models/strict/infer", wrong)
    assert status == 400 and "$.inputs[0]" in strict_json(answer)["error"]
    good = oip.encode_request({"x": np.ones((2, 4), dtype=np.float32)}).body
    status, _, answer = send(url + "/v2/models/strict/infer", good)
    assert status == 200 and oip.decode_response(answer).value.tolist() == [4.0, 4.0]


def test_v2_versions_route(url: str) -> None:
    body = oip.encode_request({"x": np.float32([1.5])}).body
    status, _, answer = send(url + "/v2/models/echo/versions/3/infer", body)
    assert status == 200 and oip.decode_response(answer).value.tolist() == [1.5]
    status, _, answer = send(url + "/v2/models/echo/versions/9/infer", body)
    assert status == 404 and strict_json(answer) == {"error": "unknown model version"}


# --- v1 ---------------------------------------------------------------------------------------------------------


def _typed_values() -> dict[str, Any]:
    zone = ZoneInfo("America/New_York")
    return {
        "float32": np.array([[0.1, -0.0], [3.4028235e38, 1e-45]], dtype=np.float32),
        "frame": _frame(),
        "datetime": dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=zone),
        "mixed": {
            "when": dt.datetime(2024, 6, 30, 12, tzinfo=dt.UTC),
            "id": uuid.UUID(int=2**127 + 5),
            "price": Decimal("-1.10E+3"),
            "scores": np.array([0.25, 1 / 3], dtype=np.float32),
            "count": np.int64(2**53 + 1),
        },
    }


TYPED_VALUES = _typed_values()


@pytest.mark.parametrize("name", list(TYPED_VALUES))
def test_v1_typed_round_trip(url: str, name: str) -> None:
    """datason's typed form in ``inputs``; ``Accept: application/vnd.datason+json`` gets the result typed."""
    value = TYPED_VALUES[name]
    status, headers, body = send(
        url + "/v1/models/echo:predict", datason.dumps({"inputs": value}).encode(), {"Accept": TYPED}
    )
    assert status == 200, body
    assert headers["content-type"] == TYPED and headers["x-request-id"]
    assert_same(datason.loads(body)["predictions"], value)


def test_v1_plain_json_where_kserve_fails(url: str) -> None:
    """Without the typed Accept, a plain KServe v1 answer: strict JSON for NumPy, pandas, datetimes, UUID and
    Decimal (kserve/kserve#2556); the same result from a plain kserve.Model is a 500."""
    status, headers, body = send(
        url + "/v1/models/echo:predict", datason.dumps({"inputs": TYPED_VALUES["mixed"]}).encode()
    )
    assert status == 200 and headers["content-type"] == "application/json"
    assert strict_json(body) == {
        "predictions": {
            "when": "2024-06-30T12:00:00+00:00",
            "id": str(uuid.UUID(int=2**127 + 5)),
            "price": "-1.10E+3",
            "scores": [0.25, 0.33333334],  # float32's own shortest digits
            "count": 2**53 + 1,
        }
    }
    status, _, body = send(url + "/v1/models/echo:predict", datason.dumps({"inputs": _frame()}).encode())
    records = strict_json(body)["predictions"]
    assert status == 200 and records[0]["ts"] == "2024-03-30T23:00:00+01:00" and records[1]["n"] is None
    assert records[2]["ts"] == "2024-03-31T01:00:00+01:00" and records[0]["size"] == "S"
    status, _, body = send(url + "/v1/models/bare:predict", b'{"frame": true}')
    assert status == 500 and "not JSON serializable" in strict_json(body)["error"]  # KServe's own writer


def test_v1_instances_and_hooks(url: str) -> None:
    status, _, body = send(url + "/v1/models/describe:predict", kserve_v1.encode_request(np.int64([[1, 2], [3, 4]])))
    assert status == 200
    got = strict_json(body)["predictions"]
    assert got == {
        "type": "ndarray",
        "dtype": "int64",
        "shape": [2, 2],
        "hooks": ["preprocess", "predict", "postprocess"],
        "headers": None,
    }
    status, _, body = send(url + "/v1/models/describe:predict", b'{"instances": [1, null, 2.5]}')
    assert strict_json(body)["predictions"]["dtype"] == "float64"  # null in numbers: NaN, not an object array


def test_v1_errors(url: str) -> None:
    error(
        *send(url + "/v1/models/echo:predict", b'{"instances": [1, 2'),
        400,
        "invalid JSON: expected ',' or ']' at byte 19 at $.instances",
    )
    error(
        *send(url + "/v1/models/echo:predict", b'{"instances": 5}'),
        400,
        "instances must be an array (number) at $.instances",
    )
    error(*send(url + "/v1/models/echo:predict", b'{"inputs": {"fail": [1]}}'), 500, "prediction failed (KeyError)")
    deep = b'{"inputs": ' + b"[" * 30 + b"]" * 30 + b"}"
    status, _, body = send(url + "/v1/models/echo:predict", deep)
    assert status == 422 and strict_json(body)["error"].startswith("nesting deeper than max_depth=20")
    status, _, body = send(url + "/v1/models/nope:predict", b'{"instances": [1]}')
    assert status == 404 and strict_json(body) == {"error": "Model with name nope does not exist."}  # KServe's
    request = urllib.request.Request(url + "/v1/models/echo:predict", method="GET")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 405 and info.value.headers["Allow"] == "POST"


def test_request_ids(url: str) -> None:
    status, headers, _ = send(url + "/v1/models/echo:predict", b'{"instances": [1]}', {"X-Request-ID": "order-17.a:b"})
    assert status == 200 and headers["x-request-id"] == "order-17.a:b"
    body = oip.encode_request({"x": np.float32([1])}, id="req-9").body
    status, headers, answer = send(url + "/v2/models/echo/infer", body, {"X-Request-ID": "order-18"})
    assert status == 200 and headers["x-request-id"] == "order-18" and strict_json(answer)["id"] == "req-9"


def test_limits_413_and_429(url: str) -> None:
    big = oip.encode_request({"x": np.zeros((300, 4), dtype=np.float32)}).body
    assert len(big) > 4096
    error(*send(url + "/v2/models/strict/infer", big), 413, "body larger than max_body_bytes=4096")
    key = {"X-API-Key": "limited-" + uuid.uuid4().hex}
    body = oip.encode_request({"x": np.ones((1, 4), dtype=np.float32)}).body
    for _ in range(5):
        assert send(url + "/v2/models/strict/infer", body, key)[0] == 200
    status, headers, answer = send(url + "/v2/models/strict/infer", body, key)
    retry = int(headers["retry-after"])
    assert 1 <= retry <= 60
    error(status, headers, answer, 429, f"rate limit exceeded; retry after {retry} s")


def test_readiness_follows_the_model(url: str) -> None:
    switch = oip.encode_request({"x": np.float32([[-1, 2, 0, 0]])}).body  # ready off for 2 s
    assert send(url + "/v2/models/strict/infer", switch)[0] == 200
    body = oip.encode_request({"x": np.ones((1, 4), dtype=np.float32)}).body
    status, headers, answer = send(url + "/v2/models/strict/infer", body)
    assert status == 503 and strict_json(answer) == {"error": "Model with name strict is not ready."}
    assert headers["x-request-id"]
    assert get(url + "/v2/models/strict/ready")[0] == 503  # KServe's own readiness says the same
    deadline = time.monotonic() + 10
    while get(url + "/v2/models/strict/ready")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert send(url + "/v2/models/strict/infer", body)[0] == 200


# --- KServe's /metrics ----------------------------------------------------------------------------------------------


def test_metrics_at_kserves_endpoint(url: str) -> None:
    text = get(url + "/metrics")[1].decode()
    oip_ok = {"model_id": "describe", "protocol": "oip", "status": "success"}
    v1_ok = {"model_id": "describe", "protocol": "kserve_v1", "status": "success"}
    v1_bad = {"model_id": "describe", "protocol": "kserve_v1", "status": "error"}
    malformed = {"model_id": "describe", "protocol": "kserve_v1", "kind": "malformed"}
    before = [metric(text, "ml_prediction_requests_total", **labels) for labels in (oip_ok, v1_ok, v1_bad)]
    before.append(metric(text, "ml_prediction_errors_total", **malformed))
    kserve0 = metric(text, "request_predict_seconds_count", model_name="describe")
    pre0 = metric(text, "request_preprocess_seconds_count", model_name="describe")
    for _ in range(3):
        assert send(url + "/v1/models/describe:predict", b'{"instances": [1]}')[0] == 200
    for _ in range(2):
        assert send(url + "/v2/models/describe/infer", oip.encode_request({"x": np.ones(2)}).body)[0] == 200
    assert send(url + "/v1/models/describe:predict", b'{"instances": ')[0] == 400
    text = get(url + "/metrics")[1].decode()
    after = [metric(text, "ml_prediction_requests_total", **labels) for labels in (oip_ok, v1_ok, v1_bad)]
    after.append(metric(text, "ml_prediction_errors_total", **malformed))
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 3, 1, 1]
    assert (
        metric(text, "ml_prediction_latency_seconds_count", model_id="describe", protocol="kserve_v1")
        == after[1] + after[2]
    )
    assert metric(text, "request_predict_seconds_count", model_name="describe") == kserve0 + 5  # KServe's own
    assert metric(text, "request_preprocess_seconds_count", model_name="describe") == pre0 + 5
    assert metric(text, "ml_active_models") == 3.0  # echo, describe, strict: summed across models
    types_ = re.findall(r"^# TYPE (\S+)", text, re.M)
    assert len(types_) == len(set(types_)), "a metric family appears twice"
    assert not [t for t in types_ if "seldon" in t] and 'protocol="seldon"' not in text  # no route: no rows


# --- KServe's dataplane path: the model under another name ---------------------------------------------------------


def test_alias_runs_the_same_pipeline_through_kserves_dataplane(url: str) -> None:
    value = TYPED_VALUES["frame"]
    status, headers, body = send(
        url + "/v1/models/echo-alias:predict", datason.dumps({"inputs": value}).encode(), {"Accept": TYPED}
    )
    assert status == 200 and headers["content-type"] == TYPED
    assert_frame_exact(datason.loads(body)["predictions"], value)
    arr = TENSORS["float32-2d"]
    status, _, body = send(url + "/v2/models/echo-alias/infer", oip.encode_request({"t": arr}).body)
    assert status == 200, body
    assert_array_exact(oip.decode_response(body).value, arr)  # parsed by KServe, rebuilt, decoded by datason
    client = triton(url)
    try:
        for value in (TENSORS["int64-3d"], np.array([b"a", "\u00e9".encode()], dtype=np.object_)):
            got = client.infer("echo-alias", [triton_input("v", value, True)]).as_numpy("v")
            assert got.tolist() == value.tolist() and got.dtype == value.dtype
    finally:
        client.close()
    error(
        *send(url + "/v1/models/echo-alias:predict", b'{"inputs": {"fail": [1]}}'), 500, "prediction failed (KeyError)"
    )
    bad = b'{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2]}]}'
    error(
        *send(url + "/v2/models/echo-alias/infer", bad),
        400,
        "nested data do not match the shape at $.inputs[0].data",
    )


def test_grpc_requests_through_the_dataplane() -> None:
    """What KServe's gRPC servicer hands a model (``InferRequest.from_grpc``), in process: raw tensors and typed
    contents in, an InferResponse out that KServe turns into the gRPC message."""
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
    from kserve.protocol.infer_type import InferRequest, InferResponse

    from tests.interop.apps.kserve_models import Echo

    model = Echo("grpc-echo")
    arr = TENSORS["float32-2d"]
    request = pb.ModelInferRequest(
        model_name="grpc-echo",
        id="g1",
        inputs=[
            pb.ModelInferRequest.InferInputTensor(name="a", datatype="FP32", shape=list(arr.shape)),
            pb.ModelInferRequest.InferInputTensor(
                name="b", datatype="INT64", shape=[3], contents=pb.InferTensorContents(int64_contents=[1, -2, 2**62])
            ),
            pb.ModelInferRequest.InferInputTensor(
                name="s",
                datatype="BYTES",
                shape=[2],
                contents=pb.InferTensorContents(bytes_contents=[b"x", "é".encode()]),
            ),
        ],
        raw_input_contents=[arr.tobytes()],
    )
    response, headers = asyncio.run(model(InferRequest.from_grpc(request), headers={}))
    assert isinstance(response, InferResponse) and headers == {}
    back = InferResponse.from_grpc(response.to_grpc())
    assert back.id == "g1" and back.model_name == "grpc-echo"
    outputs = {o.name: o.as_numpy() for o in back.outputs}
    assert_array_exact(outputs["a"], arr)
    assert_array_exact(outputs["b"], np.array([1, -2, 2**62], dtype=np.int64))
    assert outputs["s"].tolist() == [b"x", "é".encode()]
    from kserve.errors import InvalidInput

    bad = pb.ModelInferRequest(
        model_name="grpc-echo",
        inputs=[pb.ModelInferRequest.InferInputTensor(name="a", datatype="FP32", shape=[3])],
        raw_input_contents=[b"\x00" * 8],
    )
    with pytest.raises(InvalidInput, match="binary_data_size"):
        asyncio.run(model(InferRequest.from_grpc(bad), headers={}))


# --- the model object itself ----------------------------------------------------------------------------------------


def test_pickled_model_is_rebuilt_and_serves() -> None:
    """What ``ModelServer(workers=N)`` does: the model crosses a pickle; the toolkit's service is rebuilt there."""
    from kserve.model_server import app

    from tests.interop.apps.kserve_models import Echo

    model = Echo("pickled")
    model.start()
    copy = pickle.loads(pickle.dumps(model))
    assert copy.datason_service is not model.datason_service and copy.datason_service.ready
    paths = {getattr(r, "path", "") for r in app.router.routes}
    assert {"/v1/models/pickled:predict", "/v2/models/pickled/infer"} <= paths
    answer = asyncio.run(
        copy.datason_service.predict_request(b'{"instances": [1.5]}', headers={}, client=None, protocol="kserve_v1")
    )
    assert answer.status == 200 and strict_json(answer.body) == {"predictions": [1.5]}
    copy.stop()
    assert not copy.ready and not copy.datason_service.ready


def test_refuses_what_it_cannot_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    from datason.integrations import kserve as integration
    from datason.integrations.kserve import DatasonModel, datason_model

    class NoPredict(DatasonModel):
        pass

    with pytest.raises(TypeError, match=r"NoPredict must define predict"):
        NoPredict("x")
    with pytest.raises(TypeError, match="predict must be callable"):
        datason_model(42, "x")  # type: ignore[arg-type]
    model = datason_model(np.negative, "neg")
    assert model.ready and model.datason_service.config.model_id == "neg"
    assert model.datason_service.config.protocols == ("oip", "kserve_v1")
    monkeypatch.setitem(sys.modules, "kserve", None)
    with pytest.raises(ImportError, match="pip install kserve"):
        integration._kserve()


# --- the examples and the docs ---------------------------------------------------------------------------------------


def test_basic_example(servers: dict[str, KServeServer]) -> None:
    base = servers["basic"].url
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    status, _, body = send(base + "/v1/models/iris:predict", json.dumps({"instances": rows}).encode())
    assert status == 200, body
    prediction = strict_json(body)["predictions"]
    assert prediction["species"] == ["setosa", "virginica"]
    assert np.allclose(np.sum(prediction["probabilities"], axis=1), 1.0)
    client = triton(base)
    try:
        result = client.infer("iris", [triton_input("x", np.array(rows), False)])  # FP64, as v1's JSON numbers
        assert result.as_numpy("species").tolist() == [b"setosa", b"virginica"]
        probabilities = result.as_numpy("probabilities")
        assert probabilities.dtype == np.float64 and probabilities.shape == (2, 3)
        assert probabilities.tolist() == prediction["probabilities"]  # the same bits both ways
    finally:
        client.close()


def test_production_example_with_two_workers(servers: dict[str, KServeServer]) -> None:
    base = servers["production"].url
    sys.path.insert(0, str(ROOT))
    from examples.kserve_production import EXAMPLE

    frame = EXAMPLE
    request = oip.encode_request(frame)
    status, _, body = send(base + "/v2/models/fraud/infer", request.body)
    assert status == 200, body
    scored = oip.decode_response(body).value
    assert isinstance(scored, pd.DataFrame) and list(scored.index) == list(frame.index)
    assert_frame_exact(scored[["ts"]], frame[["ts"]])  # the zone-aware times come back as they went
    assert scored["score"].dtype == np.float32 and scored["flag"].dtype == bool
    status, _, body = send(
        base + "/v1/models/fraud:predict", datason.dumps({"inputs": frame}).encode(), {"Accept": TYPED}
    )
    assert status == 200
    assert_frame_exact(datason.loads(body)["predictions"], scored)
    records = json.dumps({"instances": json.loads(frame.to_json(orient="records", date_format="iso"))}).encode()
    status, _, body = send(base + "/v1/models/fraud:predict", records)
    assert status == 200 and [r["flag"] for r in strict_json(body)["predictions"]] == scored["flag"].tolist()
    bad = oip.encode_request(frame.drop(columns=["amount"])).body
    status, _, body = send(base + "/v2/models/fraud/infer", bad)
    assert status == 400 and "$.inputs" in strict_json(body)["error"]
    counted = 0.0
    for _ in range(20):  # each scrape reaches one of the two workers, which count their own requests
        text = get(base + "/metrics")[1].decode()
        labels = {"model_id": "fraud", "protocol": "oip", "status": "error"}
        counted = max(counted, metric(text, "ml_prediction_requests_total", **labels))
    assert counted == 1
    proc = servers["production"].proc
    assert proc is not None
    workers = [pid for pid in _children(proc.pid) if b"spawn_main" in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(workers) == 2  # KServe's REST workers, each serving the unpickled model
    lines = [json.loads(ln) for ln in servers["production"].log().splitlines() if ln.startswith('{"request_id"')]
    refused = [ln for ln in lines if ln["status"] == 400]  # the workers' request log (LineHandler on stderr)
    assert len(refused) == 1 and refused[0]["protocol"] == "oip" and refused[0]["model_id"] == "fraud"
    assert refused[0]["path"] == "/v2/models/fraud/infer" and refused[0]["error_kind"] == "malformed"


def _children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return found


def _doc_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOCS.read_text(), re.S | re.M)


def test_docs_python_blocks_run(servers: dict[str, KServeServer], monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _doc_blocks()
    assert len(blocks) >= 2
    monkeypatch.setenv("SERVICE_URL", servers["basic"].url)  # the page's client talks to the basic example
    for i, code in enumerate(blocks):
        module = types.ModuleType(f"docs_kserve_{i}")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile(code, f"{DOCS.name}#{i}", "exec"), module.__dict__)


def test_docs_inferenceservice_manifest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's manifest is a KServe InferenceService running the basic example, with real settings."""
    from datason.serving import ServingConfig

    blocks = re.findall(r"^```yaml\n(.*?)^```", DOCS.read_text(), re.S | re.M)
    service = next(
        doc for block in blocks for doc in yaml.safe_load_all(block) if doc.get("kind") == "InferenceService"
    )
    assert service["apiVersion"] == "serving.kserve.io/v1beta1" and service["metadata"]["name"] == "iris"
    container = service["spec"]["predictor"]["containers"][0]
    assert (
        container["command"] == ["python", "examples/kserve_basic.py"] and (ROOT / "examples/kserve_basic.py").exists()
    )
    assert container["args"][:2] == ["--http_port", "8080"] and container["ports"][0]["containerPort"] == 8080
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/models/iris/ready"
    env = {e["name"]: e["value"] for e in container["env"]}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = ServingConfig.from_env(model_version="1.0.0")  # what the example builds from them
    assert config.rate_limit == "200/second" and config.client_id_header == "X-API-Key"
    assert config.max_body_bytes == 4_194_304
