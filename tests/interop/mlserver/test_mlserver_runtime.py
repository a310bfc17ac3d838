"""datason.integrations.mlserver under the real ``mlserver start`` (MLServer 1.7.1), as users start it.

One MLServer process for the module (its own process group, 127.0.0.1, free HTTP, gRPC and metrics ports,
``parallel_workers: 0``: MLServer's worker pool crashes with uvloop >= 0.22) serves a model repository made of
``tests/interop/apps/mlserver_models/*`` (datason's runtime as a subclass, sync and async, and as a function
named in ``model-settings.json``; one with declared inputs and limits, one rate-limited; MLServer's own idiom,
a plain ``MLModel`` with its NumPy/pandas codecs, as the bare comparison) and ``examples/mlserver_iris``.
Checked over REST and gRPC: exact round trips from datason's codec (frames with index, zones, ``string``,
``category`` and nullable columns, float32, 1-D shapes, complex, UUIDs, Decimals), requests from MLServer's
own types and codecs (PandasCodec, NumpyCodec, tritonclient) and responses read back by them, error statuses
(MLServer's and the toolkit's), the toolkit's ``ml_prediction_*`` counters beside MLServer's own at its
``/metrics`` after known traffic, the example client and the docs page's python blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import shutil
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

import grpc
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as httpclient
from mlserver.codecs import NumpyCodec, NumpyRequestCodec, PandasCodec
from mlserver.grpc import dataplane_pb2_grpc
from mlserver.grpc.converters import ModelInferRequestConverter, ModelInferResponseConverter
from mlserver.settings import ModelSettings
from mlserver.types import InferenceRequest, InferenceResponse, Parameters
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from datason.integrations.mlserver import DatasonCodec, DatasonModel, model_service
from datason.protocols import oip
from tests.interop.apps.mlserver_runtimes import Echo
from tests.interop.helpers import (
    ROOT,
    assert_array_exact,
    assert_frame_exact,
    free_port,
    get,
    post,
    stop_group,
    strict_json,
)

MODELS = ROOT / "tests" / "interop" / "apps" / "mlserver_models"
EXAMPLE = ROOT / "examples" / "mlserver_iris"
DOCS = ROOT / "docs" / "integrations" / "mlserver.md"
MODEL_NAMES = ("echo", "describe", "checked", "limited", "metered", "bare", "iris")


class MLServer:
    """``mlserver start REPO`` in a process group of its own; ready once ``/v2/health/ready`` is 200."""

    def __init__(self, repo: pathlib.Path, log_path: pathlib.Path) -> None:
        self.repo = repo
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = self.grpc_target = self.metrics_url = ""
        self.ready_after = 0.0

    def start(self) -> MLServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATASON_SERVING_", "MLSERVER_"))}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        for _ in range(3):  # a probed free port can be taken before MLServer binds it: try others
            http, grpc_port, metrics = free_port(), free_port(), free_port()
            settings = {
                "parallel_workers": 0,
                "host": "127.0.0.1",
                "http_port": http,
                "grpc_port": grpc_port,
                "metrics_port": metrics,
                "debug": False,
                "metrics_dir": str(self.repo.parent / "metrics"),
                "environments_dir": str(self.repo.parent / "envs"),
            }
            (self.repo / "settings.json").write_text(json.dumps(settings))
            self.url, self.grpc_target = f"http://127.0.0.1:{http}", f"127.0.0.1:{grpc_port}"
            self.metrics_url = f"http://127.0.0.1:{metrics}/metrics"
            script = pathlib.Path(sys.executable).with_name("mlserver")
            t0 = time.monotonic()
            with self.log_path.open("ab") as log:
                self.proc = subprocess.Popen(
                    [str(script), "start", str(self.repo)],
                    cwd=ROOT,  # MLServer puts "." on sys.path: tests.interop.apps.* import from here
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            if self._wait_ready():
                self.ready_after = time.monotonic() - t0
                return self
            self.stop()
            if "address already in use" not in self.log().lower():
                break
        raise AssertionError(f"mlserver start did not become ready:\n{self.log()[-4000:]}")

    def _wait_ready(self, timeout: float = 90.0) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
                with urllib.request.urlopen(self.url + "/v2/health/ready", timeout=2) as r:
                    if r.status == 200 and all(self.model_ready(name) for name in MODEL_NAMES):
                        return True
            time.sleep(0.2)
        return False

    def model_ready(self, name: str) -> bool:
        return get(f"{self.url}/v2/models/{name}/ready")[0] == 200

    def stop(self) -> None:
        stop_group(self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def infer(
        self, model: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        return post(f"{self.url}/v2/models/{model}/infer", body, headers)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, body = get(self.metrics_url)
        assert status == 200
        samples = {}
        for family in text_string_to_metric_families(body.decode()):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return samples


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLServer]:
    tmp = tmp_path_factory.mktemp("mlserver")
    repo = tmp / "repo"
    shutil.copytree(MODELS, repo)
    shutil.copytree(EXAMPLE, repo / "iris", ignore=shutil.ignore_patterns("settings.json", "__pycache__"))
    started = MLServer(repo, tmp / "mlserver.log")
    try:
        yield started.start()
    finally:
        started.stop()
    log = started.log()
    assert "hunter2" not in log  # a failing model's message is never logged, nor sent
    for exception, block in _tracebacks(log):  # the bare model's are MLServer's; MLServer's gRPC logs errors
        assert "/src/datason/" not in block or exception.startswith("mlserver.errors.MLServerError:"), block


def _tracebacks(log: str) -> list[tuple[str, str]]:
    """(exception line, traceback text) of each traceback in a log."""
    found = []
    for chunk in log.split("Traceback (most recent call last):\n")[1:]:
        lines = chunk.splitlines()
        end = next((i for i, line in enumerate(lines) if line and not line.startswith(" ")), len(lines) - 1)
        found.append((lines[end], "\n".join(lines[: end + 1])))
    return found


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "when": pd.to_datetime(["2024-03-31T01:30:00", "2024-10-27T02:30:00", "2025-01-01T00:00:00"]).tz_localize(
                "Europe/Paris", ambiguous=[True, False, False]
            ),
            "naive": pd.to_datetime(["2024-01-02T03:04:05.123456789", None, "1970-01-01T00:00:00"], format="ISO8601"),
            "text": pd.array(["h\u00e9", None, "\u2603"], dtype="string"),
            "level": pd.Categorical(["lo", "hi", "lo"], categories=["lo", "mid", "hi"], ordered=True),
            "count": pd.array([1, None, -(2**63)], dtype="Int64"),
            "score": np.array([0.1, -0.0, 3.4028235e38], dtype=np.float32),
            "flag": [True, False, True],
            "id": np.array([uuid.UUID(int=1), uuid.UUID(int=2**128 - 1), uuid.UUID(int=7)], dtype=object),
            "price": np.array([Decimal("1.10"), Decimal("-0.000"), Decimal("1e-30")], dtype=object),
        },
        index=pd.Index([10, 20, 30], dtype=np.int32, name="row"),
    )


def tensors() -> dict[str, np.ndarray]:
    return {
        "fp32": np.array([[1.5, -0.0, 0.1], [3.4028235e38, 1e-45, 7.038531e-26]], dtype=np.float32),
        "int64_1d": np.array([2**63 - 1, -(2**63), 0], dtype=np.int64),
        "uint64": np.array([2**64 - 1, 2**53 + 1], dtype=np.uint64),
        "int8": np.array([[-128, 127]], dtype=np.int8),
        "nan": np.array([np.nan, 1.0]),
        "complex": np.array([1 + 2j, -0.5 - 0j], dtype=np.complex128),
        "stamps": np.array(["2024-01-02T03:04:05.123456789", "NaT"], dtype="datetime64[ns]"),
        "text": np.array(["a", "\u00e9t\u00e9"]),
        "blob": np.array([b"\x00\xff", b"\x80"], dtype=object),
    }


# --- datason's codec to datason's runtime, over REST -------------------------------------------------------------


def test_frame_round_trip_exact(server: MLServer) -> None:
    df = frame()
    status, headers, body = server.infer("echo", oip.encode_request(df, id="req-1").body)
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    strict_json(body)
    response = oip.decode_response(body)
    assert (response.model_name, response.model_version, response.id) == ("echo", "1", "req-1")
    assert_frame_exact(response.value, df)


def test_tensors_round_trip_exact(server: MLServer) -> None:
    sent = tensors()
    status, _, body = server.infer("echo", oip.encode_request(sent).body)
    assert status == 200, body
    got = oip.decode_response(body).value
    assert list(got) == list(sent)
    for name, want in sent.items():
        assert_array_exact(got[name], want)


def test_async_infer_and_function_form(server: MLServer) -> None:
    df = frame()
    status, _, body = server.infer("metered", oip.encode_request(df).body)
    assert status == 200 and oip.decode_response(body).model_version is None  # unversioned, as MLServer says
    assert_frame_exact(oip.decode_response(body).value, df)
    status, _, body = server.infer("describe", oip.encode_request(df).body)
    assert status == 200, body
    seen = json.loads(oip.decode_response(body).value.item())
    assert seen["type"] == "DataFrame" and seen["index_name"] == "row" and seen["index"] == ["10", "20", "30"]
    assert seen["dtypes"] == {str(k): str(v) for k, v in df.dtypes.items()}


def test_tritonclient_over_mlserver_rest(server: MLServer) -> None:
    """tritonclient's JSON infer asks for binary outputs, which MLServer's REST cannot send: JSON comes back."""
    client = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    x = tensors()["fp32"]
    inp = httpclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=False)
    result = client.infer("echo", [inp], outputs=[httpclient.InferRequestedOutput("x", binary_data=False)])
    assert_array_exact(result.as_numpy("x"), x)
    client.close()


# --- MLServer's own types and codecs against datason's runtime ---------------------------------------------------


def _plain_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i32": np.array([1, -2, 3], dtype=np.int32),
            "f32": np.array([0.1, 1.5, -0.0], dtype=np.float32),
            "f64": [1.5, np.nan, 1e308],
            "b": [True, False, True],
            "s": pd.Series(["a", "\u00e9", ""], dtype=object),
        }
    )


@pytest.mark.parametrize("use_bytes", [False, True])
def test_mlserver_pandas_codec_client(server: MLServer, use_bytes: bool) -> None:
    df = _plain_frame()
    body = PandasCodec.encode_request(df, use_bytes=use_bytes).model_dump_json().encode()
    status, _, answer = server.infer("describe", body)
    assert status == 200, answer
    seen = json.loads(oip.decode_response(answer).value.item())
    mine = PandasCodec.decode_request(InferenceRequest.model_validate_json(body))  # MLServer's own view of it
    assert seen["type"] == "DataFrame" and seen["rows"] == 3
    assert seen["dtypes"] == {
        "i32": "int32",
        "f32": "float32",
        "f64": "float64",
        "b": "bool",
        "s": str(mine["s"].dtype),
    }
    status, _, answer = server.infer("echo", body)
    assert status == 200, answer
    theirs = PandasCodec.decode_response(InferenceResponse.model_validate_json(answer))
    assert_frame_exact(theirs, mine)
    for column in ("i32", "f32", "f64", "b"):
        assert_array_exact(theirs[column].to_numpy(), df[column].to_numpy())


def test_mlserver_numpy_codec_client(server: MLServer) -> None:
    x = tensors()["fp32"]
    body = NumpyRequestCodec.encode_request(x).model_dump_json().encode()
    status, _, answer = server.infer("echo", body)
    assert status == 200, answer
    response = InferenceResponse.model_validate_json(answer)
    assert_array_exact(NumpyCodec.decode_output(response.outputs[0]), x)
    assert_array_exact(NumpyRequestCodec.decode_response(response), x)
    # MLServer's own loss, not the runtime's: NumpyCodec writes shape (N,) as [N, 1] before anything is sent
    v = np.array([1, 2, 3], dtype=np.int64)
    status, _, answer = server.infer("echo", NumpyRequestCodec.encode_request(v).model_dump_json().encode())
    assert_array_exact(NumpyRequestCodec.decode_response(InferenceResponse.model_validate_json(answer)), v[:, None])


def test_datason_answer_read_by_mlserver_codecs(server: MLServer) -> None:
    df = frame().drop(columns=["naive", "count", "text"])  # no nulls: MLServer's codecs cannot read them back
    status, _, answer = server.infer("echo", oip.encode_request(df).body)
    assert status == 200, answer
    response = InferenceResponse.model_validate_json(answer)
    theirs = PandasCodec.decode_response(response)
    assert theirs["score"].dtype == np.float32 and theirs["score"].tolist() == df["score"].tolist()
    assert theirs["level"].tolist() == ["lo", "hi", "lo"] and theirs["flag"].tolist() == [True, False, True]
    assert theirs["id"].tolist() == [str(u) for u in df["id"]]
    assert [pd.Timestamp(t) for t in theirs["when"]] == df["when"].tolist()  # ISO text in UTC: same instants
    assert_frame_exact(DatasonCodec.decode_response(response), df)  # and exact through DatasonCodec


def test_bare_mlserver_runtime_loses_what_datason_keeps(server: MLServer) -> None:
    """MLServer's own idiom on the same messages: a pandas ``string``/``Int64`` frame is a 500 (its PandasCodec
    meets a null); float32 and 1-D arrays pass only because datason wrote the request."""
    status, _, body = server.infer("bare", oip.encode_request(frame()).body)
    assert status == 500 and b"Traceback" not in body
    status, _, body = server.infer("echo", oip.encode_request(frame()).body)
    assert status == 200
    v = np.array([0.5, -1.5], dtype=np.float32)
    status, _, body = server.infer("bare", oip.encode_request({"v": v}).body)
    assert status == 200  # MLServer's NumpyCodec answers the 1-D array as [N, 1]
    assert_array_exact(NumpyRequestCodec.decode_response(InferenceResponse.model_validate_json(body)), v[:, None])
    status, _, body = server.infer("echo", oip.encode_request({"v": v}).body)
    assert_array_exact(oip.decode_response(body).value, v)


# --- gRPC ------------------------------------------------------------------------------------------------------


def test_grpc_round_trip_with_mlserver_converters(server: MLServer) -> None:
    df = frame().drop(columns=["naive", "count", "text"])  # protobuf contents have no null
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = dataplane_pb2_grpc.GRPCInferenceServiceStub(channel)
        request = ModelInferRequestConverter.from_types(DatasonCodec.encode_request(df, id="g-1"), model_name="echo")
        response = ModelInferResponseConverter.to_types(stub.ModelInfer(request, timeout=10))
        assert (response.id, response.model_version) == ("g-1", "1")
        assert_frame_exact(DatasonCodec.decode_response(response), df)
        x = tensors()["fp32"]
        request = ModelInferRequestConverter.from_types(DatasonCodec.encode_request({"x": x}), model_name="echo")
        assert_array_exact(
            DatasonCodec.decode_response(ModelInferResponseConverter.to_types(stub.ModelInfer(request))), x
        )
        boom = DatasonCodec.encode_request({"boom": np.array([1]), "x": np.array([2])})
        with pytest.raises(grpc.RpcError) as failed:
            stub.ModelInfer(ModelInferRequestConverter.from_types(boom, model_name="echo"), timeout=10)
        assert failed.value.code() == grpc.StatusCode.INTERNAL
        assert failed.value.details() == "prediction failed (RuntimeError)"
        wrong = DatasonCodec.encode_request({"x": np.zeros((2, 4), np.float32)})
        with pytest.raises(grpc.RpcError) as refused:
            stub.ModelInfer(ModelInferRequestConverter.from_types(wrong, model_name="checked"), timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "$.inputs[0].shape" in refused.value.details()


# --- errors --------------------------------------------------------------------------------------------------


def _error(result: tuple[int, dict[str, str], bytes], status: int) -> str:
    got, headers, body = result
    assert got == status, body
    assert headers["content-type"] == "application/json" and b"Traceback" not in body
    doc = strict_json(body)
    assert list(doc) == ["error"], doc
    return str(doc["error"])


def test_toolkit_errors_through_mlserver(server: MLServer) -> None:
    mismatch = b'{"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2]}]}'
    assert _error(server.infer("echo", mismatch), 400) == "data length does not match the shape at $.inputs[0].data"
    bad_param = {"name": "x", "shape": [1], "datatype": "INT64", "data": [1], "parameters": {"datason_dtype": "evil"}}
    message = _error(server.infer("echo", json.dumps({"inputs": [bad_param]}).encode()), 400)
    assert "$.inputs[0].parameters.datason_dtype" in message
    boom = oip.encode_request({"boom": np.array([1]), "x": np.array([2])}).body
    assert _error(server.infer("echo", boom), 500) == "prediction failed (RuntimeError)"  # no secret, no trace
    missing = oip.encode_request({"x": np.ones(2), "y": np.zeros(1)}, outputs=["nope"]).body
    assert "requested output" in _error(server.infer("echo", missing), 400)


def test_declared_inputs_and_limits(server: MLServer) -> None:
    ok = np.arange(6, dtype=np.float32).reshape(2, 3)
    status, _, body = server.infer("checked", oip.encode_request({"x": ok}).body)
    assert status == 200
    assert_array_exact(oip.decode_response(body).value, ok)
    message = _error(server.infer("checked", oip.encode_request({"x": ok.reshape(3, 2)}).body), 400)
    assert message == "shape does not match the model's input at $.inputs[0].shape"
    message = _error(server.infer("checked", oip.encode_request({"y": ok}).body), 400)
    assert message == "input is not one the model declares at $.inputs[0].name"
    big = np.full((400, 3), 0.123456, dtype=np.float32)  # ~4.4 kB of JSON: over max_body_bytes=4096
    message = _error(server.infer("checked", oip.encode_request({"x": big}).body), 413)
    assert message == "body larger than max_body_bytes=4096"


def test_rate_limit_per_api_key(server: MLServer) -> None:
    body = oip.encode_request({"x": np.ones(1)}).body
    for _ in range(3):
        assert server.infer("limited", body, {"X-API-Key": "alice"})[0] == 200
    assert _error(server.infer("limited", body, {"X-API-Key": "alice"}), 429).startswith("rate limit exceeded")
    assert server.infer("limited", body, {"X-API-Key": "bob"})[0] == 200


def test_mlserver_answers_before_datason(server: MLServer) -> None:
    """Who answers what: MLServer validates the OIP schema (422, FastAPI's body) and routes (404) first."""
    status, _, body = server.infer("echo", b'{"inputs":[{"name":"x","datatype":"FP32","data":[1]}]}')
    assert status == 422 and "detail" in strict_json(body)
    assert "not found" in _error(server.infer("nope", oip.encode_request({"x": np.ones(1)}).body), 404)


# --- metrics, metadata, readiness --------------------------------------------------------------------------


def test_metrics_after_known_traffic(server: MLServer) -> None:
    def value(name: str, **labels: str) -> float:
        return server.metrics().get((name, tuple(sorted(labels.items()))), 0.0)  # a series not yet created: 0

    ok = oip.encode_request({"x": np.ones(3, np.float32)}).body
    bad = b'{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1]}]}'
    before = value("ml_prediction_requests_total", model_id="metered", protocol="oip", status="success")
    before_mlserver = value("model_infer_request_success_total", model="metered", version="None")
    for _ in range(4):
        assert server.infer("metered", ok)[0] == 200
    assert server.infer("metered", bad)[0] == 400
    assert value("ml_prediction_requests_total", model_id="metered", protocol="oip", status="success") == before + 4
    assert value("ml_prediction_requests_total", model_id="metered", protocol="oip", status="error") == 1
    assert value("ml_prediction_errors_total", model_id="metered", protocol="oip", kind="malformed") == 1
    assert value("ml_prediction_latency_seconds_count", model_id="metered", protocol="oip") == before + 5
    assert value("ml_active_models", model_id="metered") == 1
    # MLServer's own counters see the same traffic (a toolkit error is a failure to MLServer too)
    assert value("model_infer_request_success_total", model="metered", version="None") == before_mlserver + 4
    assert value("model_infer_request_failure_total", model="metered", version="None") == 1
    # every datason model's families in one exposition, each family once
    status, text = get(server.metrics_url)
    assert status == 200
    assert text.decode().count("# TYPE ml_prediction_requests_total counter") == 1
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    models = {s.labels["model_id"] for s in families["ml_active_models"].samples}
    assert models == {"echo", "describe", "checked", "limited", "metered", "iris"}


def test_metadata_and_readiness(server: MLServer) -> None:
    status, body = get(server.url + "/v2/models/checked")
    assert status == 200
    meta = strict_json(body)
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}]
    assert all(server.model_ready(name) for name in MODEL_NAMES)
    assert get(server.url + "/v2/health/live")[0] == 200
    assert server.ready_after < 60


# --- the example and the docs ------------------------------------------------------------------------------


def test_example_client(server: MLServer) -> None:
    env = {**os.environ, "MLSERVER_URL": server.url}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mlserver_client.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "setosa" in out.stdout and "flower_id" in out.stdout


def test_docs_python_blocks_run(server: MLServer, monkeypatch: pytest.MonkeyPatch) -> None:
    text = DOCS.read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert len(blocks) >= 3
    monkeypatch.setenv("MLSERVER_URL", server.url)
    for i, block in enumerate(blocks):
        module = types.ModuleType(f"docs_mlserver_{i}")
        exec(compile(block, f"{DOCS}:block{i}", "exec"), module.__dict__)  # our own docs


# --- in process: the codec, the settings, the hooks ------------------------------------------------------------


def test_codec_round_trips_on_mlserver_types() -> None:
    df = frame()
    request = DatasonCodec.encode_request(df, id="r", use_bytes=False)
    assert isinstance(request, InferenceRequest) and request.parameters.content_type == "pd"
    assert_frame_exact(DatasonCodec.decode_request(request), df)
    assert_frame_exact(DatasonCodec.decode_request(DatasonCodec.encode_request(df)), df)  # bytes items too
    response = DatasonCodec.encode_response("m", tensors(), "3")
    assert isinstance(response, InferenceResponse) and response.model_version == "3"
    got = DatasonCodec.decode_response(response)
    for name, want in tensors().items():
        assert_array_exact(got[name], want)
    assert not DatasonCodec.can_encode(df)  # never picked by MLServer in place of its own codecs
    with pytest.raises(TypeError, match="unexpected keyword"):
        DatasonCodec.encode_request(df, binary=True)


def test_codec_is_registered_under_its_content_type() -> None:
    from mlserver.codecs.base import find_request_codec

    assert find_request_codec("datason").__name__ == "DatasonCodec"


def _settings(**extra: Any) -> ModelSettings:
    return ModelSettings(name="m", implementation=Echo, parameters={"version": "2", "extra": extra})


def test_settings_become_the_toolkit_config() -> None:
    model = Echo(
        _settings(datason={"rate_limit": "5/second", "cache_size": 4, "redact_keys": ["pin"], "datason_config": "ml"})
    )
    cfg = model.datason_config
    assert (cfg.model_id, cfg.model_version, cfg.protocols) == ("m", "2", ("oip",))
    assert (cfg.rate_limit, cfg.cache_size, cfg.redact_keys) == ("5/second", 4, ("pin",))
    assert cfg.datason_config is not None
    for bad, match in [
        ({"datason": {"nope": 1}}, "not a ServingConfig field"),
        ({"datason": {"model_id": "x"}}, "is MLServer's"),
        ({"datason": {"protocols": ["oip"]}}, "is MLServer's"),
        ({"datason": {"max_depth": "deep"}}, "parameters.extra.datason.max_depth must be int"),
        ({"datason": {"cache_size": -1}}, "cache_size"),
        ({"datason": ["x"]}, "must be an object"),
        ({"predict": 3}, "must be 'module:attr'"),
    ]:
        with pytest.raises(ValueError, match=match):
            Echo(_settings(**bad))
    with pytest.raises(ValueError, match="adaptive batching"):
        Echo(ModelSettings(name="m", implementation=Echo, max_batch_size=8))


def test_api_keys_from_the_settings_are_checked_on_forwarded_headers() -> None:
    """``extra.datason.api_keys`` turns the toolkit's authentication on: MLServer's forwarded request headers
    (``parameters.headers``) carry the key; without one the toolkit's 401 becomes MLServer's error status."""
    from mlserver.errors import MLServerError

    from datason.serving.auth import KeyStore

    store = KeyStore()
    key = store.create("team-a")
    model = DatasonModel(
        _settings(
            predict="tests.interop.apps.mlserver_runtimes:describe", datason={"api_keys": json.dumps(store.document())}
        )
    )

    def request(headers: dict[str, str]) -> Any:
        payload = DatasonCodec.encode_request({"a": np.ones(2), "b": np.zeros(1)}, id="i")
        payload.parameters = Parameters(headers=headers)
        return payload

    async def scenario() -> None:
        assert await model.load()
        try:
            for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
                response = await model.predict(request(headers))
                assert json.loads(DatasonCodec.decode_response(response).item())["keys"] == ["a", "b"]
            for headers in ({}, {"X-API-Key": key + "x"}):
                with pytest.raises(MLServerError) as refused:
                    await model.predict(request(headers))
                assert refused.value.status_code == 401 and "authentication required" in str(refused.value)
        finally:
            await model.unload()

    asyncio.run(scenario())


def test_load_predict_unload_in_process() -> None:
    async def scenario() -> None:
        model = DatasonModel(_settings(predict="tests.interop.apps.mlserver_runtimes:describe"))
        assert await model.load()
        response = await model.predict(DatasonCodec.encode_request({"a": np.ones(2), "b": np.zeros(1)}, id="i"))
        assert response.model_version == "2"
        assert json.loads(DatasonCodec.decode_response(response).item())["keys"] == ["a", "b"]
        assert model_service(model).health()["total_requests"] == 1
        text = generate_latest(REGISTRY).decode()
        assert 'ml_prediction_requests_total{model_id="m",protocol="oip",status="success"} 1.0' in text
        assert await model.unload()
        assert 'model_id="m"' not in generate_latest(REGISTRY).decode()
        with pytest.raises(NotImplementedError, match="define infer"):
            await DatasonModel(_settings()).load()
        with pytest.raises(TypeError, match="not callable"):
            await DatasonModel(_settings(predict="tests.interop.apps.mlserver_runtimes:LABEL")).load()

    with pytest.raises(ValueError, match="nothing named 'nope'"):
        asyncio.run(DatasonModel(_settings(predict="json:nope")).load())
    asyncio.run(scenario())
    with pytest.raises(TypeError):
        model_service(object())


def test_import_error_names_the_install() -> None:
    code = "import sys; sys.modules['mlserver'] = None; import datason.integrations.mlserver"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and 'pip install "mlserver>=1.7,<1.8"' in out.stderr
