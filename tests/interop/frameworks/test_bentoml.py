"""datason.integrations.bentoml under the real `bentoml serve` (BentoML 1.4), as users start it.

Four servers, started together once for the module, each in its own process group on a free 127.0.0.1 port
with its own BENTOML_HOME: the class form (``tests.interop.apps.bentoml_echo:Echo``: identity, a failing
input, readiness switches, a rate limit), the function form with two workers
(``tests.interop.apps.bentoml_describe:svc``: what predict received), and the two examples. Checked over
HTTP: typed round trips (dtype, shape, bits, frames with index, zones and categories, UUID, Decimal) and plain
JSON for web clients; every error status of the toolkit, with its envelope, through BentoML; OIP with
tritonclient and datason's codec, KServe v1, Seldon and MLflow bodies; the toolkit's counters at BentoML's
``/metrics`` beside BentoML's own; ``/readyz`` following the toolkit's readiness. The docs page's python
blocks run here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
import json
import os
import pathlib
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
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.utils import np_to_triton_dtype

import datason
from datason.protocols import kserve_v1, mlflow, oip
from tests.interop.helpers import ROOT, assert_array_exact, assert_frame_exact, free_port, get, post, strict_json

TYPED = "application/vnd.datason+json"
DOCS = ROOT / "docs" / "integrations" / "bentoml.md"
ENVELOPE_KEYS = {"request_id", "status", "error", "timestamp"}


class BentoServer:
    """`bentoml serve TARGET` in a process group of its own, on a free loopback port, ready once /readyz is 200."""

    def __init__(self, name: str, target: str, tmp: pathlib.Path) -> None:
        self.name = name
        self.target = target
        self.home = tmp / f"home-{name}"  # its own BENTOML_HOME: prometheus' multiprocess files live there
        self.log_path = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.url = ""
        self.started_at = 0.0
        self.ready_after = 0.0

    def spawn(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATASON_SERVING_", "BENTOML_"))}
        env.update(BENTOML_DO_NOT_TRACK="true", BENTOML_HOME=str(self.home), PYTHONDONTWRITEBYTECODE="1")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        script = pathlib.Path(sys.executable).with_name("bentoml")
        cmd = [str(script), "serve", self.target, "--host", "127.0.0.1", "--port", str(self.port)]
        self.started_at = time.monotonic()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def poll_ready(self) -> bool | None:
        """True once /readyz answers 200, False while starting, None if the process died."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            return None
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=2) as r:
                if r.status == 200:
                    self.ready_after = time.monotonic() - self.started_at
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        return False

    def stop(self) -> None:
        """SIGTERM the group (bentoml's arbiter stops its workers), SIGKILL after 20 s; then any worker left:
        circus starts each worker in a session of its own, outside the arbiter's group."""
        if self.proc is None or self.proc.poll() is not None:
            return
        workers = _children(self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        for pid in workers:
            with contextlib.suppress(OSError):
                if b"bentoml" in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes():  # still that worker
                    os.kill(pid, signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


TARGETS = {
    "echo": "tests.interop.apps.bentoml_echo:Echo",
    "describe": "tests.interop.apps.bentoml_describe:svc",
    "basic": "examples.bentoml_basic:IrisClassifier",
    "production": "examples.bentoml_production:IrisService",
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, BentoServer]]:
    tmp = tmp_path_factory.mktemp("bentoml")
    started = {name: BentoServer(name, target, tmp) for name, target in TARGETS.items()}
    try:
        for server in started.values():
            server.spawn()
        waiting = dict(started)
        deadline = time.monotonic() + 120
        while waiting and time.monotonic() < deadline:
            for name, server in list(waiting.items()):
                state = server.poll_ready()
                if state is None and "address already in use" in server.log().lower():
                    server.spawn()  # a probed free port was taken before bentoml bound it: another one
                elif state is None:
                    raise AssertionError(f"bentoml serve {server.target} exited:\n{server.log()[-3000:]}")
                elif state:
                    del waiting[name]
            time.sleep(0.1)
        assert not waiting, "not ready: " + "; ".join(f"{s.target}:\n{s.log()[-2000:]}" for s in waiting.values())
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="module")
def echo(servers: dict[str, BentoServer]) -> BentoServer:
    return servers["echo"]


def send(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """POST as its own client: a fresh X-API-Key unless given (the echo service limits each key to 3/minute)."""
    return post(url, body, {"X-API-Key": uuid.uuid4().hex, **(headers or {})})


def envelope(status: int, headers: dict[str, str], body: bytes, code: int, message: str) -> dict[str, Any]:
    assert status == code, (status, body)
    doc = strict_json(body)
    assert set(doc) == ENVELOPE_KEYS, doc
    assert doc["status"] == "error" and doc["error"] == message, doc
    assert headers["x-request-id"] == doc["request_id"]
    assert headers["content-type"] == "application/json"
    return doc


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample (labels matched exactly) in Prometheus text; 0 when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


# --- typed round trips and plain JSON -------------------------------------------------------------------------


def _values() -> dict[str, Any]:
    zone = ZoneInfo("America/New_York")
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2024-03-30 23:00", periods=3, freq="h", tz="Europe/Paris"),
            "size": pd.Categorical(["S", "L", "S"], categories=["S", "M", "L"], ordered=True),
            "x": np.array([0.1, np.nan, 2.5], dtype=np.float32),
            "n": np.array([2**62, -1, 0], dtype=np.int64),
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    )
    return {
        "float32-2d": np.array([[0.1, -0.0, 3.4028235e38], [1e-45, np.nan, -7.25]], dtype=np.float32),
        "float32-large": np.random.default_rng(7).standard_normal((40, 25)).astype(np.float32),
        "int64-3d": np.arange(-12, 12, dtype=np.int64).reshape(2, 3, 4) * (2**40 + 3),
        "bool-1d": np.array([True, False, True]),
        "frame": frame,
        "series": pd.Series([1.5, -0.0], index=pd.date_range("2024-01-01", periods=2, tz="UTC"), name="s"),
        "datetime": dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=zone),
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "decimal": Decimal("-1.10E+3"),
        "mixed": {
            "when": dt.datetime(2024, 6, 30, 12, tzinfo=dt.UTC),
            "id": uuid.UUID(int=2**127 + 5),
            "price": Decimal("0.000"),
            "scores": np.array([0.25, 1 / 3], dtype=np.float32),
            "count": np.int64(2**53 + 1),
            "pair": (1, "x"),
        },
    }


VALUES = _values()


def assert_same(got: Any, want: Any) -> None:
    if isinstance(want, np.ndarray):
        assert_array_exact(got, want)
    elif isinstance(want, pd.DataFrame):
        assert_frame_exact(got, want)
    elif isinstance(want, pd.Series):
        pd.testing.assert_series_equal(got, want, check_exact=True)
    elif isinstance(want, dict):
        assert type(got) is dict and list(got) == list(want)
        for key in want:
            assert_same(got[key], want[key])
    else:
        assert type(got) is type(want) and got == want, (got, want)
        if isinstance(want, dt.datetime):
            assert got.tzinfo == want.tzinfo and got.utcoffset() == want.utcoffset()
        if isinstance(want, Decimal):
            assert str(got) == str(want)  # exponent and sign kept


@pytest.mark.parametrize("name", list(VALUES))
def test_typed_round_trip_through_bentoml(echo: BentoServer, name: str) -> None:
    value = VALUES[name]
    status, headers, body = send(echo.url + "/predict", datason.dumps({"features": value}).encode(), {"Accept": TYPED})
    assert status == 200, body
    assert headers["content-type"] == TYPED
    doc = datason.loads(body)
    assert set(doc) == {"request_id", "prediction", "model_version", "timestamp", "processing_time_ms"}
    assert doc["model_version"] == "2" and headers["x-request-id"] == doc["request_id"]
    assert_same(doc["prediction"], value)


def test_plain_json_for_web_clients(echo: BentoServer) -> None:
    features = {"x": [1.5, 2.5], "n": 3, "label": "é", "nested": {"ok": True, "none": None}}
    status, headers, body = send(echo.url + "/predict", json.dumps({"features": features}).encode())
    assert status == 200 and headers["content-type"] == "application/json"
    assert strict_json(body)["prediction"] == features

    # a typed request from a client that did not ask for the typed form: plain JSON comes back
    value = {
        "x": np.array([0.1, 2.5], dtype=np.float32),
        "id": uuid.UUID(int=1),
        "when": dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=ZoneInfo("America/New_York")),
        "price": Decimal("1.10"),
        "n": np.int64(7),
    }
    status, headers, body = send(echo.url + "/predict", datason.dumps({"features": value}).encode())
    assert status == 200 and headers["content-type"] == "application/json"
    assert b"__datason_type__" not in body
    assert strict_json(body)["prediction"] == {
        "x": [0.1, 2.5],  # float32 written with its own shortest digits, not float64's
        "id": "00000000-0000-0000-0000-000000000001",
        "when": "2024-01-02T03:04:05.678901-05:00",
        "price": "1.10",
        "n": 7,
    }


def test_request_ids(echo: BentoServer) -> None:
    status, headers, body = send(echo.url + "/predict", b'{"features": 1}', {"X-Request-ID": "order-17.a:b"})
    assert status == 200 and headers["x-request-id"] == "order-17.a:b" == strict_json(body)["request_id"]
    status, headers, body = send(echo.url + "/predict", b'{"features": 1}', {"X-Request-ID": "bad id <script>"})
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    assert strict_json(body)["request_id"] == headers["x-request-id"]


# --- errors: the toolkit's statuses and envelope, through BentoML -----------------------------------------------


def test_malformed_is_400(echo: BentoServer) -> None:
    doc = envelope(
        *send(echo.url + "/predict", b'{"features": [1, 2'),
        400,
        "invalid JSON: expected ',' or ']' at byte 18 at $.features",
    )
    assert doc["request_id"]
    envelope(*send(echo.url + "/predict", b"[1, 2]"), 400, "request body must be a JSON object (list)")


def test_too_large_is_413(echo: BentoServer) -> None:
    body = json.dumps({"features": "a" * 70_000}).encode()
    envelope(*send(echo.url + "/predict", body), 413, "body larger than max_body_bytes=65536")
    bomb = gzip.compress(json.dumps({"features": "a" * 200_000}).encode())  # small on the wire, not inflated
    assert len(bomb) < 65_536
    message = "decompressed body larger than max_body_bytes=65536"
    envelope(*send(echo.url + "/predict", bomb, {"Content-Encoding": "gzip"}), 413, message)
    small = gzip.compress(b'{"features": [1, 2]}')
    status, _, answer = send(echo.url + "/predict", small, {"Content-Encoding": "gzip"})
    assert status == 200 and strict_json(answer)["prediction"] == [1, 2]


def test_unsupported_encoding_is_415(echo: BentoServer) -> None:
    message = "unsupported Content-Encoding (use gzip, deflate or identity)"
    envelope(*send(echo.url + "/predict", b'{"features": 1}', {"Content-Encoding": "br"}), 415, message)


def test_validation_and_depth_are_422(echo: BentoServer) -> None:
    envelope(*send(echo.url + "/predict", b'{"inputs": [1]}'), 422, "required field is missing at $.features")
    deep = b'{"features": ' + b"[" * 40 + b"]" * 40 + b"}"
    status, headers, body = send(echo.url + "/predict", deep)
    doc = envelope(status, headers, body, 422, strict_json(body)["error"])
    assert doc["error"].startswith("nesting deeper than max_depth=20")


def test_rate_limit_is_429(echo: BentoServer) -> None:
    key = {"X-API-Key": "limited-" + uuid.uuid4().hex}
    for _ in range(3):
        assert send(echo.url + "/predict", b'{"features": 1}', key)[0] == 200
    status, headers, body = send(echo.url + "/predict", b'{"features": 1}', key)
    retry = int(headers["retry-after"])
    assert 1 <= retry <= 60
    envelope(status, headers, body, 429, f"rate limit exceeded; retry after {retry} s")


def test_unknown_route_model_and_method(echo: BentoServer) -> None:
    status, body = get(echo.url + "/no/such/route")
    assert status == 404 and strict_json(body)["error"] == "no such route" and set(strict_json(body)) == ENVELOPE_KEYS
    status, _, body = send(echo.url + "/v2/models/other/infer", oip.encode_request(np.ones(2)).body)
    assert status == 404 and strict_json(body) == {"error": "unknown model"}  # OIP's own error body
    status, _, body = send(echo.url + "/v1/models/other:predict", b'{"instances": [1]}')
    assert status == 404 and strict_json(body) == {"error": "unknown model"}
    request = urllib.request.Request(echo.url + "/predict", method="GET")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 405 and info.value.headers["Allow"] == "POST"
    assert strict_json(info.value.read())["error"] == "method not allowed"


def test_predict_failure_is_500_without_detail(echo: BentoServer) -> None:
    status, headers, body = send(echo.url + "/predict", b'{"features": {"fail": true}}')
    envelope(status, headers, body, 500, "prediction failed (KeyError)")
    for leak in (b"secret", b"passwd", b"Traceback", b"unexpected error", b".py"):
        assert leak not in body
    # the same failure by another protocol: that protocol's error body, same status and message
    status, headers, body = send(echo.url + "/v1/models/echo:predict", b'{"inputs": {"fail": [1]}}')
    assert status == 500 and strict_json(body) == {"error": "prediction failed (KeyError)"}
    assert headers["x-request-id"]


# --- protocols --------------------------------------------------------------------------------------------------


def test_oip_with_tritonclient(echo: BentoServer) -> None:
    client = httpclient.InferenceServerClient(f"127.0.0.1:{echo.port}", connection_timeout=30, network_timeout=30)
    try:
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("echo")
        assert client.get_model_metadata("echo")["name"] == "echo"
        for arr, binary in (
            (np.array([[0.1, -0.0, 1e-45], [3.4028235e38, np.nan, -7.25]], dtype=np.float32), True),
            (np.arange(-6, 6, dtype=np.int64).reshape(2, 3, 2) * (2**40 + 3), False),
            (np.array([[0.1, 2.5]], dtype=np.float32), False),
        ):
            inp = httpclient.InferInput("x", list(arr.shape), np_to_triton_dtype(arr.dtype))
            inp.set_data_from_numpy(arr, binary_data=binary)
            outputs = [httpclient.InferRequestedOutput("x", binary_data=binary)]
            result = client.infer("echo", [inp], outputs=outputs, headers={"X-API-Key": uuid.uuid4().hex})
            assert_array_exact(result.as_numpy("x"), arr)
    finally:
        client.close()


def test_oip_frame_with_datasons_codec(echo: BentoServer) -> None:
    frame = VALUES["frame"]
    request = oip.encode_request(frame)
    status, _, body = send(echo.url + "/v2/models/echo/infer", request.body)
    assert status == 200, body
    assert_frame_exact(oip.decode_response(body).value, frame)  # zone, categories, float32, index kept


def test_kserve_v1_seldon_and_mlflow_bodies(servers: dict[str, BentoServer]) -> None:
    url = servers["describe"].url + "/ds"  # mounted there (path="/ds")
    status, _, body = send(url + "/v1/models/describe:predict", kserve_v1.encode_request(np.int64([[1, 2], [3, 4]])))
    assert status == 200
    got = strict_json(body)["predictions"]
    assert got["type"] == "ndarray" and got["dtype"] == "int64" and got["shape"] == [2, 2]

    frame = pd.DataFrame({"a": [1.5, float("nan")], "b": ["x", "y"]}, index=[10, 20])
    status, _, body = send(url + "/invocations", mlflow.encode_request(frame))
    got = strict_json(body)["predictions"]
    assert status == 200 and got["type"] == "DataFrame" and got["index"] == ["10", "20"]
    assert got["dtypes"] == ["float64", "object"] and got["index_dtype"] == "int64"

    status, _, body = send(url + "/api/v1.0/predictions", b'{"data": {"names": ["a", "b"], "ndarray": [[1.5, 2]]}}')
    got = strict_json(body)["jsonData"]  # a dict result answers an ndarray request as jsonData
    assert status == 200 and got["type"] == "DataFrame" and got["columns"] == ["a", "b"]  # names given: a frame
    assert got["dtypes"] == ["float64", "int64"]
    status, _, body = send(url + "/api/v1.0/predictions", b'{"jsonData": {"k": [1, 2]}}')
    assert status == 200 and strict_json(body)["jsonData"]["type"] == "dict"

    # the echo class answers MLflow too: the same predict, that protocol's envelope
    status, _, body = send(servers["echo"].url + "/invocations", b'{"inputs": {"a": [1, 2], "b": [0.5, 1.5]}}')
    assert status == 200 and strict_json(body) == {"predictions": {"a": [1, 2], "b": [0.5, 1.5]}}


# --- BentoML's own endpoints: metrics, readiness, the instance, its APIs --------------------------------------------


def test_metrics_beside_bentomls(echo: BentoServer) -> None:
    status, before = get(echo.url + "/metrics")
    assert status == 200
    text = before.decode()
    labels = {"model_id": "echo", "protocol": "seldon"}
    ok0 = metric(text, "ml_prediction_requests_total", **labels, status="success")
    bad0 = metric(text, "ml_prediction_requests_total", **labels, status="error")
    malformed0 = metric(text, "ml_prediction_errors_total", **labels, kind="malformed")
    bento0 = metric(
        text,
        "bentoml_service_request_total",
        endpoint="/api/v1.0/predictions",
        http_response_code="200",
        runner_name="echo",
        service_name="echo",
        service_version="not available",
    )
    for _ in range(3):
        assert send(echo.url + "/api/v1.0/predictions", b'{"data": {"ndarray": [[1, 2]]}}')[0] == 200
    for _ in range(2):
        assert send(echo.url + "/api/v1.0/predictions", b'{"data": ')[0] == 400
    status, after = get(echo.url + "/metrics")
    text = after.decode()
    assert metric(text, "ml_prediction_requests_total", **labels, status="success") == ok0 + 3
    assert metric(text, "ml_prediction_requests_total", **labels, status="error") == bad0 + 2
    assert metric(text, "ml_prediction_errors_total", **labels, kind="malformed") == malformed0 + 2
    bento = metric(
        text,
        "bentoml_service_request_total",
        endpoint="/api/v1.0/predictions",
        http_response_code="200",
        runner_name="echo",
        service_name="echo",
        service_version="not available",
    )
    assert bento == bento0 + 3  # BentoML's own traffic metrics count the mounted routes too
    assert metric(text, "ml_prediction_latency_seconds_count", **labels) == ok0 + bad0 + 5
    assert metric(text, "echo_model_loaded") == 1.0  # the class's own __metrics__ is kept
    assert 1.0 in [
        s.value for f in text_string_to_metric_families(text) if f.name == "ml_active_models" for s in f.samples
    ]
    types_ = re.findall(r"^# TYPE (\S+)", text, re.M)
    assert len(types_) == len(set(types_)), "a metric family appears twice"


def test_readyz_follows_the_toolkit(echo: BentoServer) -> None:
    def switch(**flags: bool) -> dict[str, bool]:
        status, _, body = post(echo.url + "/readiness", json.dumps(flags).encode())
        assert status == 200
        return json.loads(body)

    try:
        assert get(echo.url + "/readyz")[0] == 200 and get(echo.url + "/ready")[0] == 200
        assert switch(toolkit=False) == {"toolkit": False, "model": True}
        assert get(echo.url + "/readyz")[0] == 503
        assert get(echo.url + "/ready")[0] == 503 and get(echo.url + "/v2/health/ready")[0] == 503
        assert get(echo.url + "/livez")[0] == 200  # alive, not ready
        assert switch(toolkit=True, model=False) == {"toolkit": True, "model": False}
        assert get(echo.url + "/readyz")[0] == 503  # the class's own __is_ready__ still counts
        assert get(echo.url + "/ready")[0] == 200
    finally:
        assert switch() == {"toolkit": True, "model": True}
    assert get(echo.url + "/readyz")[0] == 200


def test_predict_runs_on_the_workers_instance(echo: BentoServer) -> None:
    status, _, body = send(echo.url + "/predict", b'{"features": {"whoami": true}}')
    assert status == 200
    status, _, mine = post(echo.url + "/instance", b"{}")
    assert status == 200 and strict_json(body)["prediction"] == json.loads(mine)


def test_bentoml_api_beside_the_toolkit(echo: BentoServer) -> None:
    status, body = get(echo.url + "/schema.json")
    assert status == 200
    schema = json.loads(body)
    assert {r["route"] for r in schema["routes"]} == {"/readiness", "/instance"}  # BentoML lists its APIs only
    status, body = get(echo.url + "/openapi.json")  # the toolkit describes its own routes
    assert status == 200
    paths = json.loads(body)["paths"]
    assert {"/predict", "/v2/models/{name}/infer", "/invocations"} <= set(paths) and "/readiness" not in paths
    status, _, body = post(echo.url + "/readiness", b"{}")  # BentoML's typed endpoint, BentoML's JSON
    assert status == 200 and json.loads(body) == {"toolkit": True, "model": True}
    status, _, body = post(echo.url + "/readiness", b'{"toolkit": "maybe"}')
    assert status == 400 and "validation error" in json.loads(body)["error"]  # BentoML's own error format there


def test_two_workers_label_their_own_counts(servers: dict[str, BentoServer]) -> None:
    """The describe service runs two workers, its routes under /ds: each worker reports its own counts."""
    url = servers["describe"].url
    n = 12
    for _ in range(n - 1):
        assert send(url + "/ds/predict", b'{"features": [1, 2]}')[0] == 200
    typed = datason.dumps({"features": np.float32([1, 2])}).encode()
    status, headers, body = send(url + "/ds/predict", typed, {"Accept": TYPED})  # negotiated under a prefix too
    assert status == 200 and headers["content-type"] == TYPED
    assert datason.loads(body)["prediction"] == {
        "type": "ndarray",
        "dtype": "float32",
        "shape": [2],
        "items": ["1.0", "2.0"],
    }
    assert get(url + "/predict")[0] == 404  # nothing at the root: the toolkit is mounted at /ds
    seen: dict[str, float] = {}
    for _ in range(60):  # each scrape reaches one worker
        text = get(url + "/metrics")[1].decode()
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "ml_prediction_requests_total" and s.labels["protocol"] == "datason":
                    if s.labels["status"] == "success":
                        seen[s.labels["worker_index"]] = s.value
        if len(seen) == 2:
            break
    assert set(seen) == {"1", "2"}, seen
    assert sum(seen.values()) == n  # every request counted once, by the worker that answered it


# --- the examples and the docs -------------------------------------------------------------------------------------


def test_basic_example(servers: dict[str, BentoServer]) -> None:
    url = servers["basic"].url
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    status, _, body = send(url + "/predict", json.dumps({"features": rows}).encode())
    assert status == 200
    prediction = strict_json(body)["prediction"]
    assert prediction["species"] == ["setosa", "virginica"]
    assert np.allclose(np.sum(prediction["probabilities"], axis=1), 1.0)

    status, headers, body = send(
        url + "/predict", datason.dumps({"features": np.array(rows)}).encode(), {"Accept": TYPED}
    )
    assert headers["content-type"] == TYPED
    typed = datason.loads(body)["prediction"]
    assert status == 200 and typed["species"].dtype.kind == "U" and typed["species"].tolist() == ["setosa", "virginica"]
    assert typed["probabilities"].dtype == np.float64 and typed["probabilities"].shape == (2, 3)
    assert typed["probabilities"].tolist() == prediction["probabilities"]  # plain JSON lost no bits either

    status, _, body = send(url + "/v1/models/iris:predict", kserve_v1.encode_request(np.array(rows)))
    assert status == 200 and strict_json(body)["predictions"]["species"] == ["setosa", "virginica"]
    status, _, body = send(url + "/invocations", mlflow.encode_request(pd.DataFrame(rows, columns=list("abcd"))))
    assert status == 200 and strict_json(body)["predictions"]["species"] == ["setosa", "virginica"]
    status, _, body = send(
        url + "/v2/models/iris/infer", oip.encode_request({"x": np.array(rows, dtype=np.float32)}).body
    )
    outputs = oip.decode_response(body).value
    assert status == 200 and outputs["species"].tolist() == ["setosa", "virginica"]
    assert outputs["probabilities"].shape == (2, 3)


def test_production_example(servers: dict[str, BentoServer]) -> None:
    url = servers["production"].url
    flower = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    status, headers, body = post(
        url + "/predict", json.dumps({"features": flower}).encode(), {"X-Request-ID": "order-17"}
    )
    doc = strict_json(body)
    assert status == 200 and headers["x-request-id"] == doc["request_id"] == "order-17"
    assert doc["prediction"]["species"] == "setosa" and doc["model_version"] == "1.0.0"
    assert set(doc["prediction"]["probabilities"]) == {"setosa", "versicolor", "virginica"}

    status, headers, body = post(url + "/predict", json.dumps({"features": {**flower, "sepal_length": -1}}).encode())
    error = envelope(status, headers, body, 422, strict_json(body)["error"])["error"]
    assert error.endswith("(Flower) at $.features.sepal_length") and "-1" not in error
    status, headers, body = post(url + "/predict", json.dumps({"features": {**flower, "colour": "blue"}}).encode())
    assert status == 422 and "Extra inputs are not permitted (Flower)" in strict_json(body)["error"]
    status, headers, body = post(url + "/predict", json.dumps({"features": "x" * 20_000}).encode())
    envelope(status, headers, body, 413, "body larger than max_body_bytes=16384")

    health = strict_json(get(url + "/health")[1])
    assert health["status"] == "healthy" and health["ready"] is True
    assert health["total_requests"] >= 4 and health["client_error_count"] >= 3
    text = get(url + "/metrics")[1].decode()
    assert metric(text, "iris_species_total", species="setosa") >= 1  # the service's own bentoml.metrics
    assert metric(text, "ml_prediction_requests_total", model_id="iris", protocol="datason", status="success") >= 1
    assert metric(text, "ml_prediction_errors_total", model_id="iris", protocol="datason", kind="validation") >= 2
    assert get(url + "/readyz")[0] == 200


def _doc_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOCS.read_text(), re.S | re.M)


def test_docs_python_blocks_run(servers: dict[str, BentoServer], monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _doc_blocks()
    assert len(blocks) >= 3
    monkeypatch.setenv("SERVICE_URL", servers["basic"].url)  # the page's client talks to the basic example
    for i, code in enumerate(blocks):
        module = types.ModuleType(f"docs_bentoml_{i}")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile(code, f"{DOCS.name}#{i}", "exec"), module.__dict__)


# --- the API's own checks (no server) ---------------------------------------------------------------------------


def test_refuses_what_it_cannot_serve() -> None:
    import bentoml

    from datason.integrations.bentoml import datason_service, model_service
    from datason.serving import ServingConfig

    class Clash:
        @bentoml.api
        def predict(self, data: dict) -> dict:  # BentoML's /predict would hide datason's
            return data

    with pytest.raises(ValueError, match=r"hides datason's route.*route=\.\.\."):
        datason_service(bentoml.service(Clash))
    with pytest.raises(TypeError, match=r"predict function, a class or a bentoml\.Service"):
        datason_service(42)

    class NoPredict:
        pass

    with pytest.raises(TypeError, match=r"NoPredict\.predict is not a method"):
        datason_service(NoPredict)
    with pytest.raises(TypeError, match="not a service made by"):
        model_service(bentoml.service(NoPredict))

    svc = datason_service(lambda x: x, config=ServingConfig(model_id="twice"))
    with pytest.raises(ValueError, match="already serves datason"):
        datason_service(svc)
    answer = asyncio.run(model_service(svc).predict_request(b'{"features": [1]}', headers={}, client=None))
    assert answer.status == 200 and strict_json(answer.body)["prediction"] == [1]


def test_import_error_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from datason.integrations.bentoml import datason_service

    monkeypatch.setitem(sys.modules, "bentoml", None)
    with pytest.raises(ImportError, match="pip install bentoml"):
        datason_service(lambda x: x)


def test_async_and_api_methods_are_called_on_the_instance() -> None:
    """What the startup hook binds, without a server: an async method, and an @bentoml.api one named by method=."""
    import bentoml

    from datason.integrations.bentoml import datason_service, model_service

    class AsyncModel:
        def __init__(self) -> None:
            self.scale = 3

        async def predict(self, x: Any) -> Any:
            return np.asarray(x) * self.scale

    class ApiModel:
        def __init__(self) -> None:
            self.offset = 10

        @bentoml.api(route="/bento_score")
        def score(self, data: list[int]) -> list[int]:
            return [v + self.offset for v in data]

    for cls, method, want in ((AsyncModel, "predict", [3, 6]), (ApiModel, "score", [11, 12])):
        svc = datason_service(cls, method=method, service_options={"name": cls.__name__.lower()})
        service = model_service(svc)
        assert not service.ready
        instance = svc()  # what BentoML does in each worker, then it runs the startup hooks
        instance._datason_startup()
        assert service.ready and asyncio.run(instance.__is_ready__())
        answer = asyncio.run(service.predict_request(b'{"features": [1, 2]}', headers={}, client=None))
        assert answer.status == 200 and strict_json(answer.body)["prediction"] == want
        assert model_service(instance) is service
        instance._datason_shutdown()
        assert not service.ready and not asyncio.run(instance.__is_ready__())
