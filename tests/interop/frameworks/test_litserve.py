"""datason.integrations.litserve under a real LitServe 0.2 server, started as users start it.

Three servers, started together once for the module, each ``python <script>`` in its own process group on a
free 127.0.0.1 port (``LitServer(...).run(host="127.0.0.1", ...)``): the test app
(``tests.interop.apps.litserve_app``: an echo ``DatasonLitAPI`` with an async predict, a batching one under
``/batch``, and a bare ``litserve.LitAPI`` for comparison) and the two examples. Checked over HTTP: typed round
trips through LitServe's inference worker (dtype, shape, bits, frames with index, zones and categories, UUID,
Decimal) and plain JSON for web clients; every error status of the toolkit with its envelope, and the
model's own refusals; LitServe's batching; OIP with tritonclient and datason's codec, KServe v1, Seldon and
MLflow bodies; the toolkit's counters at ``/metrics``; LitServe's ``/health``; what the bare LitServe API does
with the same bodies. The docs page's python blocks run here too. Stopping a server ends every process it
started (the whole group, then any of its processes left, by pid); the last test sends SIGTERM to LitServe's
main process only and checks that no process of that server outlives it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import gzip
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
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.utils import np_to_triton_dtype

import datason
from datason.protocols import kserve_v1, mlflow, oip
from datason.serving.auth import KeyStore
from tests.interop.helpers import ROOT, assert_array_exact, assert_frame_exact, free_port, get, post, strict_json

TYPED = "application/vnd.datason+json"
DOCS = ROOT / "docs" / "integrations" / "litserve.md"
ENVELOPE_KEYS = {"request_id", "status", "error", "timestamp"}


# --- processes ---------------------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str]:
    """Fields 3 and on of /proc/PID/stat (state, ppid, pgrp, ... starttime is index 19)."""
    return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _identity(pid: int) -> tuple[str, bytes] | None:
    """(start time, command line) of a live process: together they tell a process from a reused pid."""
    try:
        stat = _stat(pid)
        if stat[0] == "Z":
            return None
        return stat[19], pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return None


def family(pid: int) -> dict[int, tuple[str, bytes]]:
    """``pid`` and its live descendants, with their identities."""
    children: dict[int, list[int]] = {}
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
    found: dict[int, tuple[str, bytes]] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        ident = _identity(p)
        if ident is not None:
            found[p] = ident
        todo.extend(children.get(p, []))
    return found


def _is_litserves(cmdline: bytes, script: str) -> bool:
    """LitServe's processes: the script itself (API servers and the manager are forks of it) or the
    interpreters multiprocessing spawns for it (inference workers, the resource tracker)."""
    return script.encode() in cmdline or b"from multiprocessing." in cmdline


class LitServeProcess:
    """``python SCRIPT`` (which calls ``LitServer(...).run(host="127.0.0.1", port=$PORT)``) in a process group of
    its own; ready once LitServe's ``/health`` answers 200."""

    def __init__(self, name: str, script: list[str], tmp: pathlib.Path) -> None:
        self.name = name
        self.script = script
        self.log_path = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.url = ""
        self.members: dict[int, tuple[str, bytes]] = {}

    def spawn(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATASON_SERVING_", "LIT_"))}
        self.port = free_port()
        env.update(PORT=str(self.port), PYTHONDONTWRITEBYTECODE="1")
        self.url = f"http://127.0.0.1:{self.port}"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *self.script],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def poll_ready(self) -> bool | None:
        """True once /health answers 200, False while starting, None if the process died."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            return None
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                if r.status == 200:
                    self.members = family(self.proc.pid)
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        return False

    def stop(self) -> list[int]:
        """SIGTERM the group, SIGKILL it after 30 s; then SIGKILL by pid any process of this server still alive
        (same start time and command line, and LitServe's). Returns the pids that had to be killed that way."""
        if self.proc is None:
            return []
        known = {**self.members, **family(self.proc.pid)}
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
            except ProcessLookupError:
                pass
        return self._end_leftovers(known, wait=5.0)

    def _end_leftovers(self, known: dict[int, tuple[str, bytes]], wait: float) -> list[int]:
        deadline = time.monotonic() + wait
        left = dict(known)
        while left and time.monotonic() < deadline:
            left = {pid: ident for pid, ident in left.items() if _identity(pid) == ident}
            if left:
                time.sleep(0.1)
        killed = []
        for pid, ident in left.items():
            if _identity(pid) == ident and _is_litserves(ident[1], self.script[-1]):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
        return killed

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


KEYS = KeyStore()  # the app's LockedAPI (access control on); its server reads the store from LOCKED_KEYS
PREDICT_KEY = KEYS.create("caller", scopes=("predict",), iterations=1_000)
METRICS_KEY = KEYS.create("prometheus", scopes=("metrics",), iterations=1_000)
os.environ["LOCKED_KEYS"] = json.dumps(KEYS.document())

SCRIPTS = {
    "app": ["-m", "tests.interop.apps.litserve_app"],
    "basic": ["examples/litserve_basic.py"],
    "production": ["examples/litserve_production.py"],
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LitServeProcess]]:
    tmp = tmp_path_factory.mktemp("litserve")
    started = {name: LitServeProcess(name, script, tmp) for name, script in SCRIPTS.items()}
    try:
        for server in started.values():
            server.spawn()
        waiting = dict(started)
        deadline = time.monotonic() + 120
        while waiting and time.monotonic() < deadline:
            for name, server in list(waiting.items()):
                state = server.poll_ready()
                if state is None and "address already in use" in server.log().lower():
                    server.spawn()  # a probed free port was taken before LitServe bound it: another one
                elif state is None:
                    raise AssertionError(f"{server.script} exited:\n{server.log()[-3000:]}")
                elif state:
                    del waiting[name]
            time.sleep(0.1)
        assert not waiting, "not ready: " + "; ".join(f"{s.script}:\n{s.log()[-2000:]}" for s in waiting.values())
        yield started
    finally:
        leftovers = {name: server.stop() for name, server in started.items()}
    assert not any(leftovers.values()), f"processes left after SIGTERM to the group, killed by pid: {leftovers}"


@pytest.fixture(scope="module")
def app(servers: dict[str, LitServeProcess]) -> LitServeProcess:
    return servers["app"]


def send(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """POST as its own client: a fresh X-API-Key unless given (the echo API limits each key to 3/minute)."""
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
    for family_ in text_string_to_metric_families(text):
        for sample in family_.samples:
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
def test_typed_round_trip_through_litserve(app: LitServeProcess, name: str) -> None:
    value = VALUES[name]
    status, headers, body = send(app.url + "/predict", datason.dumps({"features": value}).encode(), {"Accept": TYPED})
    assert status == 200, body
    assert headers["content-type"] == TYPED
    doc = datason.loads(body)
    assert set(doc) == {"request_id", "prediction", "model_version", "timestamp", "processing_time_ms"}
    assert doc["model_version"] == "2" and headers["x-request-id"] == doc["request_id"]
    assert_same(doc["prediction"], value)


def test_plain_json_for_web_clients(app: LitServeProcess) -> None:
    features = {"x": [1.5, 2.5], "n": 3, "label": "é", "nested": {"ok": True, "none": None}}
    status, headers, body = send(app.url + "/predict", json.dumps({"features": features}).encode())
    assert status == 200 and headers["content-type"] == "application/json"
    assert strict_json(body)["prediction"] == features

    # a typed request from a client that did not ask for the typed form: plain JSON comes back
    value = {
        "x": np.array([0.1, 2.5], dtype=np.float32),
        "id": uuid.UUID(int=1),
        "when": dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=ZoneInfo("America/New_York")),
        "price": Decimal("1.10"),
        "n": np.int64(7),
        "nan": np.float32("nan"),
    }
    status, headers, body = send(app.url + "/predict", datason.dumps({"features": value}).encode())
    assert status == 200 and headers["content-type"] == "application/json"
    assert b"__datason_type__" not in body
    assert strict_json(body)["prediction"] == {
        "x": [0.1, 2.5],  # float32 written with its own shortest digits, not float64's
        "id": "00000000-0000-0000-0000-000000000001",
        "when": "2024-01-02T03:04:05.678901-05:00",
        "price": "1.10",
        "n": 7,
        "nan": None,  # strict JSON: no bare NaN token
    }

    # the toolkit's Content-Type rule: what a browser may send cross-site without a preflight (text/plain, forms:
    # curl -d's default) is a 415 in the datason envelope, before LitServe parses it; JSON types are read
    status, _, body = send(app.url + "/predict", b'{"features": [1, 2]}', {"Content-Type": "text/plain"})
    assert status == 415 and strict_json(body)["status"] == "error"
    status, _, body = send(
        app.url + "/predict", b'{"features": [1, 2]}', {"Content-Type": "application/json; charset=utf-8"}
    )
    assert status == 200 and strict_json(body)["prediction"] == [1, 2]


def test_request_ids(app: LitServeProcess) -> None:
    status, headers, body = send(app.url + "/predict", b'{"features": 1}', {"X-Request-ID": "order-17.a:b"})
    assert status == 200 and headers["x-request-id"] == "order-17.a:b" == strict_json(body)["request_id"]
    status, headers, body = send(app.url + "/predict", b'{"features": 1}', {"X-Request-ID": "bad id <script>"})
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    assert strict_json(body)["request_id"] == headers["x-request-id"]


# --- errors: the toolkit's statuses and envelope, in LitServe's API server -------------------------------------


def test_malformed_is_400(app: LitServeProcess) -> None:
    doc = envelope(
        *send(app.url + "/predict", b'{"features": [1, 2'),
        400,
        "invalid JSON: expected ',' or ']' at byte 18 at $.features",
    )
    assert doc["request_id"]
    envelope(*send(app.url + "/predict", b"[1, 2]"), 400, "request body must be a JSON object (list)")
    status, _, body = send(app.url + "/predict", b'{"features": [1, NaN]}')  # not JSON: refused
    assert status == 400 and strict_json(body)["error"].startswith("invalid JSON")


def test_too_large_is_413(app: LitServeProcess) -> None:
    body = json.dumps({"features": "a" * 70_000}).encode()
    envelope(*send(app.url + "/predict", body), 413, "body larger than max_body_bytes=65536")
    bomb = gzip.compress(json.dumps({"features": "a" * 200_000}).encode())  # small on the wire, not inflated
    assert len(bomb) < 65_536
    message = "decompressed body larger than max_body_bytes=65536"
    envelope(*send(app.url + "/predict", bomb, {"Content-Encoding": "gzip"}), 413, message)
    small = gzip.compress(b'{"features": [1, 2]}')
    status, _, answer = send(app.url + "/predict", small, {"Content-Encoding": "gzip"})
    assert status == 200 and strict_json(answer)["prediction"] == [1, 2]


def test_unsupported_encoding_is_415(app: LitServeProcess) -> None:
    message = "unsupported Content-Encoding (use gzip, deflate or identity)"
    envelope(*send(app.url + "/predict", b'{"features": 1}', {"Content-Encoding": "br"}), 415, message)


def test_validation_and_depth_are_422(app: LitServeProcess) -> None:
    envelope(*send(app.url + "/predict", b'{"inputs": [1]}'), 422, "required field is missing at $.features")
    deep = b'{"features": ' + b"[" * 40 + b"]" * 40 + b"}"
    status, headers, body = send(app.url + "/predict", deep)
    doc = envelope(status, headers, body, 422, strict_json(body)["error"])
    assert doc["error"].startswith("nesting deeper than max_depth=20")
    # the batching API's JSON Schema
    url = app.url + "/batch/predict"
    envelope(*send(url, b'{"features": {"x": 1}}'), 422, "required property is missing at $.features.tag")
    envelope(
        *send(url, b'{"features": {"x": 1, "tag": "a", "y": 2}}'),
        422,
        "property is not allowed by the schema at $.features.y",
    )
    envelope(
        *send(url, b'{"features": {"x": 1, "tag": "abcdefghij"}}'),
        422,
        "does not match the schema (maxLength=8) at $.features.tag",
    )


def test_rate_limit_is_429(app: LitServeProcess) -> None:
    key = {"X-API-Key": "limited-" + uuid.uuid4().hex}
    for _ in range(3):
        assert send(app.url + "/predict", b'{"features": 1}', key)[0] == 200
    status, headers, body = send(app.url + "/predict", b'{"features": 1}', key)
    retry = int(headers["retry-after"])
    assert 1 <= retry <= 60
    envelope(status, headers, body, 429, f"rate limit exceeded; retry after {retry} s")


def test_unknown_model_and_method(app: LitServeProcess) -> None:
    status, _, body = send(app.url + "/v2/models/other/infer", oip.encode_request(np.ones(2)).body)
    assert status == 404 and strict_json(body) == {"error": "unknown model"}  # OIP's own error body
    status, _, body = send(app.url + "/v1/models/other:predict", b'{"instances": [1]}')
    assert status == 404 and strict_json(body) == {"error": "unknown model"}
    request = urllib.request.Request(app.url + "/predict", method="GET")  # FastAPI answers the method
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 405 and info.value.headers["Allow"] == "POST"
    status, body = get(app.url + "/no/such/route")  # and paths nobody serves (FastAPI's 404)
    assert status == 404 and json.loads(body) == {"detail": "Not Found"}


def test_predict_failure_is_500_without_detail(app: LitServeProcess) -> None:
    status, headers, body = send(app.url + "/predict", b'{"features": {"fail": true}}')
    envelope(status, headers, body, 500, "prediction failed (KeyError)")
    for leak in (b"secret", b"passwd", b"Traceback", b"Internal server error", b".py"):
        assert leak not in body
    # the same failure by another protocol: that protocol's error body, same status and message
    status, headers, body = send(app.url + "/v1/models/echo:predict", b'{"inputs": {"fail": [1]}}')
    assert status == 500 and strict_json(body) == {"error": "prediction failed (KeyError)"}
    assert headers["x-request-id"]
    assert "secret detail" in app.log()  # the worker logged it, for the operator


def test_model_refusals_keep_their_status(app: LitServeProcess) -> None:
    """An HTTPException raised in the worker keeps its status and detail; a datason ServingError its own."""
    status, headers, body = send(app.url + "/predict", b'{"features": {"refuse": 409}}')
    envelope(status, headers, body, 409, "the model refuses this input")
    status, headers, body = send(app.url + "/predict", b'{"features": {"reject": []}}')
    envelope(status, headers, body, 422, "the model needs a non-empty list at $.features.reject")


def test_predict_runs_in_litserves_inference_worker(app: LitServeProcess) -> None:
    status, _, body = send(app.url + "/predict", b'{"features": {"whoami": true}}')
    assert status == 200
    answer = strict_json(body)["prediction"]
    assert answer["device"] == "cpu"  # LitServe called setup(device) in that worker
    assert app.proc is not None
    processes = family(app.proc.pid)
    assert answer["pid"] in processes and answer["pid"] != app.proc.pid
    assert b"multiprocessing.spawn" in processes[answer["pid"]][1]  # one of LitServe's spawned workers


# --- LitServe's batching ------------------------------------------------------------------------------------------


def test_litserve_batches_typed_requests(app: LitServeProcess) -> None:
    url = app.url + "/batch/predict"
    inputs = {f"t{i}": np.arange(i, i + 3, dtype=np.float32) / 7 for i in range(8)}

    def call(tag: str, x: Any) -> tuple[int, Any]:
        body = datason.dumps({"features": {"x": x, "tag": tag}}).encode()
        status, _, answer = send(url, body, {"Accept": TYPED})
        return status, datason.loads(answer)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = {tag: pool.submit(call, tag, x) for tag, x in inputs.items()}
        refused = pool.submit(send, url, b'{"features": {"x": [1]}}')  # refused before LitServe's queue
        answers = {tag: f.result() for tag, f in futures.items()}
    sizes = []
    for tag, (status, doc) in answers.items():
        assert status == 200, doc
        item = doc["prediction"]
        assert item["tag"] == tag  # each request got its own item back
        assert_array_exact(item["y"], inputs[tag] * np.float32(2))  # float32 through the batch, exactly
        sizes.append(item["batch"])
    assert max(sizes) > 1 and max(sizes) <= 4, sizes  # LitServe's max_batch_size=4
    assert len({doc["prediction"]["pid"] for _, doc in answers.values()}) == 1  # one worker for this API
    assert refused.result()[0] == 422

    status, headers, body = send(url, b'{"features": {"x": 1, "tag": "boom"}}')
    envelope(status, headers, body, 500, "prediction failed (ZeroDivisionError)")


def test_litserves_queue_timeout_is_504(app: LitServeProcess) -> None:
    """A request left in LitServe's queue past LitServer(timeout=...) gets LitServe's 504, in the envelope."""
    url = app.url + "/batch/predict"
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        slow = pool.submit(send, url, b'{"features": {"x": 1, "tag": "slow"}}')
        time.sleep(1.0)  # past batch_timeout: the next request waits behind the slow batch
        t0 = time.monotonic()
        status, headers, body = send(url, b'{"features": {"x": 2, "tag": "queued"}}')
        waited = time.monotonic() - t0
    envelope(status, headers, body, 504, "Request timed out")
    assert waited > 2.5  # answered when the worker took it off the queue, not before
    assert slow.result()[0] == 200


# --- protocols --------------------------------------------------------------------------------------------------


def test_oip_with_tritonclient(app: LitServeProcess) -> None:
    client = httpclient.InferenceServerClient(f"127.0.0.1:{app.port}", connection_timeout=30, network_timeout=30)
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


def test_oip_frame_with_datasons_codec(app: LitServeProcess) -> None:
    frame = VALUES["frame"]
    status, _, body = send(app.url + "/v2/models/echo/infer", oip.encode_request(frame).body)
    assert status == 200, body
    assert_frame_exact(oip.decode_response(body).value, frame)  # zone, categories, float32, index kept


def test_kserve_v1_seldon_and_mlflow_bodies(app: LitServeProcess) -> None:
    status, _, body = send(app.url + "/v1/models/echo:predict", kserve_v1.encode_request(np.int64([[1, 2], [3, 4]])))
    assert status == 200 and strict_json(body) == {"predictions": [[1, 2], [3, 4]]}
    frame = pd.DataFrame({"a": [1.5, float("nan")], "b": ["x", "y"]}, index=[10, 20])
    status, _, body = send(app.url + "/invocations", mlflow.encode_request(frame))
    assert status == 200 and strict_json(body)["predictions"] == [{"a": 1.5, "b": "x"}, {"a": None, "b": "y"}]
    status, _, body = send(app.url + "/api/v1.0/predictions", b'{"data": {"ndarray": [[1.5, 2]]}}')
    assert status == 200 and strict_json(body)["data"]["ndarray"] == [[1.5, 2]]
    status, _, body = send(app.url + "/api/v1.0/predictions", b'{"jsonData": {"k": [1, 2]}}')
    assert status == 200 and strict_json(body)["jsonData"] == {"k": [1, 2]}


# --- metrics, health and LitServe's own endpoints ------------------------------------------------------------------


def test_metrics_after_known_traffic(app: LitServeProcess) -> None:
    status, before = get(app.url + "/metrics")
    assert status == 200
    text = before.decode()
    labels = {"api_server": "0", "model_id": "echo", "protocol": "seldon"}
    ok0 = metric(text, "ml_prediction_requests_total", **labels, status="success")
    bad0 = metric(text, "ml_prediction_requests_total", **labels, status="error")
    malformed0 = metric(text, "ml_prediction_errors_total", **labels, kind="malformed")
    latency0 = metric(text, "ml_prediction_latency_seconds_count", **labels)
    for _ in range(3):
        assert send(app.url + "/api/v1.0/predictions", b'{"data": {"ndarray": [[1, 2]]}}')[0] == 200
    for _ in range(2):
        assert send(app.url + "/api/v1.0/predictions", b'{"data": ')[0] == 400
    status, after = get(app.url + "/metrics")
    text = after.decode()
    assert metric(text, "ml_prediction_requests_total", **labels, status="success") == ok0 + 3
    assert metric(text, "ml_prediction_requests_total", **labels, status="error") == bad0 + 2
    assert metric(text, "ml_prediction_errors_total", **labels, kind="malformed") == malformed0 + 2
    assert metric(text, "ml_prediction_latency_seconds_count", **labels) == latency0 + 5
    assert metric(text, "ml_active_models", api_server="0") == 1.0
    types_ = re.findall(r"^# TYPE (\S+)", text, re.M)
    assert len(types_) == len(set(types_)), "a metric family appears twice"
    # the batching API's own service, under its prefix
    batch_text = get(app.url + "/batch/metrics")[1].decode()
    assert (
        metric(
            batch_text,
            "ml_prediction_requests_total",
            api_server="0",
            model_id="batch",
            protocol="datason",
            status="success",
        )
        >= 8
    )
    assert 'model_id="echo"' not in batch_text


def test_litserves_callbacks_see_datason_requests(app: LitServeProcess) -> None:
    def count(event: str) -> int:
        return app.log().count(f"callback: {event}")

    requests0, responses0 = count("on_request"), count("on_response")
    for _ in range(2):
        assert send(app.url + "/predict", b'{"features": 1}')[0] == 200
    assert send(app.url + "/predict", b'{"features": ')[0] == 400  # refused before LitServe's queue: no callback
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and count("on_response") < responses0 + 2:
        time.sleep(0.05)
    assert (count("on_request"), count("on_response")) == (requests0 + 2, responses0 + 2)


def test_health_ready_and_litserves_endpoints(app: LitServeProcess) -> None:
    assert get(app.url + "/health") == (200, b"ok")  # LitServe's probe: workers ready and health() True
    status, body = get(app.url + "/ready")
    assert status == 200 and strict_json(body)["ready"] is True and strict_json(body)["model_id"] == "echo"
    assert get(app.url + "/v2/health/ready")[0] == 200 and get(app.url + "/ping")[0] == 200
    status, body = get(app.url + "/batch/v2/models/batch/ready")  # the batching API's routes, under /batch
    assert status == 200 and strict_json(body) == {"name": "batch", "ready": True}
    assert get(app.url + "/batch/ready")[0] == 200
    info = json.loads(get(app.url + "/info")[1])  # LitServe's own
    assert info["server"]["stream"] == {
        "/predict": False,
        "/batch/predict": False,
        "/bare": False,
        "/locked/predict": False,
    }
    paths = json.loads(get(app.url + "/openapi.json")[1])["paths"]  # FastAPI's document lists the routes
    assert {"/predict", "/v2/models/{name}/infer", "/batch/predict", "/bare", "/health"} <= set(paths)


def test_access_control_and_protected_metrics(app: LitServeProcess) -> None:
    body = json.dumps({"features": {"x": 1}}).encode()
    status, headers, _ = send(app.url + "/locked/predict", body)
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert send(app.url + "/locked/predict", body, {"X-API-Key": METRICS_KEY})[0] == 403
    status, _, answer = send(app.url + "/locked/predict", body, {"X-API-Key": PREDICT_KEY})
    assert status == 200 and json.loads(answer)["prediction"] == {"x": 1}
    for key, want in ((None, 401), (PREDICT_KEY, 403), (METRICS_KEY, 200)):
        request = urllib.request.Request(app.url + "/locked/metrics", headers={"X-API-Key": key} if key else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                status, text = r.status, r.read()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read()
        assert status == want, (key is not None, status, text[:200])
        assert (b"ml_prediction_requests_total" in text) == (want == 200)
        assert PREDICT_KEY.encode() not in text and METRICS_KEY.encode() not in text


def test_bare_litserve_for_comparison(app: LitServeProcess) -> None:
    """What LitServe alone does with what datason's route refuses or writes (the gap this integration closes)."""
    status, _, body = send(app.url + "/bare", b'{"features": [1, 2')  # parsed by request.json(): a 500
    assert status == 500 and json.loads(body) == {"detail": "Internal server error"}
    status, _, body = send(app.url + "/bare", b'{"numpy": true}')  # np.float32 through jsonable_encoder
    assert status == 500 and body == b"Internal Server Error"
    status, _, body = send(app.url + "/bare", b'{"x": NaN}')  # a bare NaN accepted, then unwritable
    assert status == 500 and body == b"Internal Server Error"
    # the same values through datason's route
    status, _, body = send(app.url + "/predict", datason.dumps({"features": {"score": np.float32(0.5)}}).encode())
    assert status == 200 and strict_json(body)["prediction"] == {"score": 0.5}


# --- the examples and the docs -------------------------------------------------------------------------------------


def test_basic_example(servers: dict[str, LitServeProcess]) -> None:
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
    assert status == 200 and headers["content-type"] == TYPED
    typed = datason.loads(body)["prediction"]
    assert typed["species"].dtype.kind == "U" and typed["species"].tolist() == ["setosa", "virginica"]
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


def test_production_example(servers: dict[str, LitServeProcess]) -> None:
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

    # concurrent flowers: LitServe stacks their rows into one predict call; each gets its own species back
    rows = [flower, {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}] * 8
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda f: post(url + "/predict", json.dumps({"features": f}).encode()), rows))
    species = [strict_json(body)["prediction"]["species"] for status, _, body in answers if status == 200]
    assert species == ["setosa", "virginica"] * 8

    # two API server processes (workers_per_device=2): each counts the requests it answered
    seen: dict[str, dict[str, float]] = {}
    for _ in range(60):  # each scrape reaches one of them
        text = get(url + "/metrics")[1].decode()
        for family_ in text_string_to_metric_families(text):
            for s in family_.samples:
                if s.name == "ml_prediction_requests_total" and s.labels["protocol"] == "datason":
                    seen.setdefault(s.labels["api_server"], {})[s.labels["status"]] = s.value
        if len(seen) == 2:
            break
    assert set(seen) == {"0", "1"}, seen
    assert sum(v["success"] for v in seen.values()) == 1 + len(rows)
    assert sum(v["error"] for v in seen.values()) == 3
    assert get(url + "/health") == (200, b"ok")
    assert b'"status":422' in servers["production"].log_path.read_bytes()  # the toolkit's JSON log lines


def _doc_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOCS.read_text(), re.S | re.M)


def test_docs_python_blocks_run(servers: dict[str, LitServeProcess], monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _doc_blocks()
    assert len(blocks) >= 3
    monkeypatch.setenv("SERVICE_URL", servers["basic"].url)  # the page's client talks to the basic example
    for i, code in enumerate(blocks):
        module = types.ModuleType(f"docs_litserve_{i}")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile(code, f"{DOCS.name}#{i}", "exec"), module.__dict__)


# --- the API's own checks (no server) ---------------------------------------------------------------------------


def test_refuses_what_it_cannot_serve() -> None:
    import litserve as ls

    from datason.integrations.litserve import DatasonLitAPI
    from datason.serving import ServingConfig

    class Model(DatasonLitAPI):
        def predict(self, x: Any) -> Any:
            return x

    with pytest.raises(ValueError, match=r"max_batch_size=.*batch_max_size must stay 1"):
        Model(config=ServingConfig(batch_max_size=4))
    with pytest.raises(TypeError, match="no spec= nor stream="):
        Model(stream=True)
    with pytest.raises(ValueError, match="route_prefix must be"):
        Model(route_prefix="v2")
    with pytest.raises(ValueError, match=r"already answered by another DatasonLitAPI.*route_prefix="):
        ls.LitServer([Model(), Model(api_path="/other")], accelerator="cpu")

    server = ls.LitServer(
        [Model(config=ServingConfig(model_id="a")), Model(api_path="/b/predict", route_prefix="/b")],
        accelerator="cpu",
    )
    paths = {route.path for route in server.app.routes}
    assert {"/predict", "/v2/models/{name}/infer", "/b/predict", "/b/v2/models/{name}/infer", "/b/metrics"} <= paths

    class Guarded(Model):
        def authorize(self, request: Any) -> None:  # LitServe's per-API auth hook
            pass

    guarded = Guarded()
    server_auth = ls.LitServer(guarded, accelerator="cpu")
    routes = [r for r in server_auth.app.routes if getattr(r.endpoint, "_datason_litserve", False)]
    assert len(routes) > 10  # every datason route carries LitServe's auth dependency
    assert all([d.dependency for d in r.dependencies] == [guarded.authorize] for r in routes)
    health = [r for r in server.app.routes if r.path == "/health"]
    assert len(health) == 1 and health[0].name == "health"  # LitServe's own, not shadowed by the toolkit's


def test_health_service_and_what_workers_receive() -> None:
    from datason.serving import ServingConfig
    from tests.interop.apps.litserve_app import BatchAPI

    api = BatchAPI(config=ServingConfig(model_id="m"))
    assert api.api_path == "/predict" and api.service.config.model_id == "m"
    assert api.health() is False  # LitServer.run() starts the service
    api.service.start()
    assert api.health() is True
    api.service.stop()
    assert api.health() is False
    assert api.decode_request({"a": 1}) == {"a": 1} and api.encode_response([2]) == [2]

    worker_copy = pickle.loads(pickle.dumps(api))  # what LitServe sends its inference workers
    assert type(worker_copy) is BatchAPI and worker_copy.spec.service is None
    with pytest.raises(RuntimeError, match="API server processes"):
        worker_copy.service  # noqa: B018

    import asyncio

    answer = asyncio.run(api.service.predict_request(b'{"features": 1}', headers={}, client=None))
    assert answer.status == 500  # no LitServe server behind it
    assert strict_json(answer.body)["error"] == "the LitServe server is not running"


def test_import_error_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import datason.integrations.litserve as module

    for name in ("DatasonLitAPI", "_DatasonSpec", "_Forward"):
        monkeypatch.delitem(module.__dict__, name, raising=False)
    monkeypatch.setitem(sys.modules, "litserve", None)
    with pytest.raises(ImportError, match="pip install litserve"):
        module.DatasonLitAPI  # noqa: B018


# --- last: stopping -----------------------------------------------------------------------------------------------


def test_sigterm_to_litserves_main_process_ends_every_process(servers: dict[str, LitServeProcess]) -> None:
    """LitServe alone leaves its workers running when only its main process gets SIGTERM; with DatasonLitAPI the
    server shuts down as on Ctrl+C."""
    server = servers["basic"]
    assert server.proc is not None
    members = {**server.members, **family(server.proc.pid)}
    assert len(members) >= 4  # main, manager, inference worker, API server (and the resource tracker)
    os.kill(server.proc.pid, signal.SIGTERM)  # the main process only, as `docker stop` or Kubernetes do
    server.proc.wait(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_identity(pid) == ident for pid, ident in members.items()):
        time.sleep(0.1)
    left = [pid for pid, ident in members.items() if _identity(pid) == ident]
    killed = server._end_leftovers({pid: members[pid] for pid in left}, wait=0)
    assert not left, f"left running after SIGTERM: {left} (killed: {killed})"
    assert "Shutting down LitServe" in server.log()
