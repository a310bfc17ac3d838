"""datason.integrations.seldon under the real `seldon-core-microservice` (seldon-core 1.18.2), as users start it.

Five servers, started together once for the module, each in its own process group with free ports (HTTP,
gRPC, metrics; seldon-core binds every interface, traffic goes to 127.0.0.1 only):

- ``json``: ``tests.interop.apps.seldon_models.Echo`` as seldon-core serves a component by default (Flask parses
  the body, ``predict_raw`` gets a dict), with its gRPC server;
- ``raw``: the same class with ``PAYLOAD_PASSTHROUGH=true`` (``predict_raw`` gets the body's bytes);
- ``basic`` and ``production``: the two examples (the second configured by Seldon's and datason's variables);
- ``bare``: a plain seldon-core component with the same ops, for what seldon-core does alone.

Checked over HTTP and gRPC: exact round trips (ints stay int64, float bits, float32 digits, shapes, NaN and
infinities, names -> DataFrame, str/bin/json payloads; typed ``jsonData`` with frames, zones, categories, UUIDs,
Decimals); NumPy results written (seldon-core#5165); meta, tags and ``SeldonResponse`` parts; every error status
with seldon's ``Status`` body and no user text; ``/health/status``, ``/metadata``; the toolkit's counts on
seldon-core's metrics port after known traffic. The docs page's python blocks run here too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import os
import pathlib
import re
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

import grpc
import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

import datason
from datason.protocols import seldon
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

TYPED = "application/vnd.datason+json"
PREDICT = "/api/v1.0/predictions"
DOCS = ROOT / "docs" / "integrations" / "seldon.md"
SCRIPT = pathlib.Path(sys.executable).with_name("seldon-core-microservice")
_OWN_ENV = ("DATASON_SERVING_", "PREDICTIVE_UNIT_", "PAYLOAD_PASSTHROUGH", "SELDON_", "MODEL_METADATA", "INCLUDE_")


class SeldonServer:
    """`seldon-core-microservice TARGET` in a process group of its own: HTTP, gRPC and metrics on free ports."""

    def __init__(self, name: str, target: str, tmp: pathlib.Path, *, env: dict[str, str], grpc: bool) -> None:
        self.name = name
        self.target = target
        self.extra_env = env
        self.with_grpc = grpc
        self.log_path = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = self.metrics_url = self.grpc_target = ""

    def spawn(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_ENV)}
        # seldon-core appends the working directory to sys.path: a `tests` package in site-packages would win
        env.update(self.extra_env, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(ROOT))
        http, grpc_port, metrics = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{http}"
        self.metrics_url = f"http://127.0.0.1:{metrics}/metrics"
        self.grpc_target = f"127.0.0.1:{grpc_port}"
        cmd = [str(SCRIPT), self.target, "--service-type", "MODEL", "--http-port", str(http)]
        cmd += ["--grpc-port", str(grpc_port), "--metrics-port", str(metrics), "--workers", "1"]
        cmd += ["--grpc-workers", "1" if self.with_grpc else "0"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def poll_ready(self) -> bool | None:
        """True once HTTP, metrics (and gRPC) answer; False while starting; None if the process died."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            return None
        try:
            with urllib.request.urlopen(self.url + "/health/ping", timeout=2) as r:
                if r.read() != b"pong":
                    return False
            with urllib.request.urlopen(self.metrics_url, timeout=2) as r:
                r.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
        if self.with_grpc:
            with grpc.insecure_channel(self.grpc_target) as channel:
                try:
                    grpc.channel_ready_future(channel).result(timeout=2)
                except grpc.FutureTimeoutError:
                    return False
        return True

    def stop(self) -> None:
        stop_group(self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


ECHO = "tests.interop.apps.seldon_models.Echo"
PRODUCTION_ENV = {
    "PREDICTIVE_UNIT_ID": "fraud",
    "PREDICTIVE_UNIT_IMAGE": "registry.local/fraud:2.1.0",
    "DATASON_SERVING_MAX_BODY_BYTES": "262144",
    "DATASON_SERVING_MAX_DEPTH": "8",
}
SERVERS = {
    "json": (ECHO, {}, True),
    "raw": (ECHO, {"PAYLOAD_PASSTHROUGH": "true"}, False),
    "basic": ("examples.seldon_basic.IrisClassifier", {}, False),
    "production": ("examples.seldon_production.FraudScorer", PRODUCTION_ENV, False),
    "bare": ("tests.interop.apps.seldon_models.Bare", {}, False),
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SeldonServer]]:
    tmp = tmp_path_factory.mktemp("seldon")
    started = {name: SeldonServer(name, t, tmp, env=env, grpc=g) for name, (t, env, g) in SERVERS.items()}
    try:
        for server in started.values():
            server.spawn()
        waiting = dict(started)
        deadline = time.monotonic() + 90
        while waiting and time.monotonic() < deadline:
            for name, server in list(waiting.items()):
                state = server.poll_ready()
                if state is None and "address already in use" in server.log().lower():
                    server.spawn()  # a probed free port was taken before seldon-core bound it: others
                elif state is None:
                    raise AssertionError(f"seldon-core-microservice {server.target} exited:\n{server.log()[-3000:]}")
                elif state:
                    del waiting[name]
            time.sleep(0.1)
        assert not waiting, "not ready: " + "; ".join(f"{s.target}:\n{s.log()[-2000:]}" for s in waiting.values())
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(params=["json", "raw"])
def echo(request: pytest.FixtureRequest, servers: dict[str, SeldonServer]) -> SeldonServer:
    """The echo component in both of seldon-core's REST modes (a parsed dict, and bytes with passthrough)."""
    return servers[request.param]


def call(server: SeldonServer, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    """POST a SeldonMessage; (status, lower-cased headers, body)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return post(server.url + PREDICT, data, headers)


def ok(server: SeldonServer, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    status, response_headers, raw = call(server, body, headers)
    assert status == 200, (status, raw[:500])
    assert response_headers["content-type"] == (
        TYPED if TYPED in (headers or {}).get("Accept", "") else "application/json"
    )
    doc = strict_json(raw)
    assert isinstance(doc, dict)
    doc["_raw"] = raw
    return doc


def tagged(op: str, payload: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {**payload, "meta": {"tags": {"op": op}, **meta}}


def failure(server: SeldonServer, body: bytes | dict[str, Any], code: int, info: str) -> dict[str, str]:
    """An error answer: seldon's Status with the HTTP code, the toolkit's message, a request id; no user text."""
    status, headers, raw = call(server, body)
    assert status == code, (status, raw[:500])
    doc = strict_json(raw)
    reason = "MICROSERVICE_BAD_DATA" if code < 500 else "MICROSERVICE_INTERNAL_ERROR"
    assert doc["status"] == {"code": code, "info": info, "reason": reason, "status": "FAILURE"}, doc
    assert set(doc) <= {"status", "meta"} and "Traceback" not in raw.decode() and "secret" not in raw.decode()
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    return headers


def seldon_metric(server: SeldonServer, name: str, *, rest_only: bool = False, **labels: str) -> float:
    """A sample's total on seldon-core's metrics port, summed over workers and methods (unless given);
    ``rest_only``: the gunicorn workers' only (children of the main process; gRPC workers are grandchildren)."""
    assert server.proc is not None
    text = get(server.metrics_url)[1].decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != name or any(sample.labels.get(k) != v for k, v in labels.items()):
                continue
            if rest_only and _parent(int(sample.labels["worker_id"])) != server.proc.pid:
                continue
            total += float(sample.value)
    return total


def _parent(pid: int) -> int:
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return 0


# --- exact round trips --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arr",
    [
        np.array([[1, 2], [3, -4]], dtype=np.int64),
        np.array([[0.1, -0.0], [1e300, 5e-324]]),
        np.array([True, False, True]),
        np.arange(24, dtype=np.int64).reshape(2, 3, 4) - 2**40,
    ],
    ids=["int64-2d", "float64-bits", "bool", "int64-3d"],
)
def test_ndarray_round_trip_is_exact(echo: SeldonServer, arr: np.ndarray) -> None:
    doc = ok(echo, seldon.encode_request(arr, form="ndarray"))
    assert doc["data"]["ndarray"] == arr.tolist() and doc["data"]["names"] == []
    assert json.dumps(arr.tolist(), separators=(",", ":")).encode() in doc["_raw"]  # ints stay ints on the wire
    assert_array_exact(seldon.decode_response(doc["_raw"]), arr)


@pytest.mark.parametrize(
    "arr",
    [
        np.arange(6, dtype=np.int64).reshape(2, 3) * 10**15,
        np.array([0.5, -0.0, 1e-300, 2.0**52 + 0.5, np.nan, np.inf, -np.inf]),
        np.zeros((2, 0, 3)),
    ],
    ids=["int64", "float64-specials", "empty-3d"],
)
def test_tensor_round_trip_is_exact(echo: SeldonServer, arr: np.ndarray) -> None:
    doc = ok(echo, seldon.encode_request(arr, form="tensor"))
    assert doc["data"]["tensor"]["shape"] == list(arr.shape)
    assert_array_exact(seldon.decode_response(doc["_raw"]), arr)


def test_float32_keeps_its_shortest_digits(echo: SeldonServer) -> None:
    arr = np.array([[0.1, 1 / 3], [3.4028235e38, -1e-45]], dtype=np.float32)
    doc = ok(echo, seldon.encode_request(arr, form="tensor"))
    assert doc["data"]["tensor"]["values"][0] == 0.1  # not 0.10000000149011612
    back = seldon.decode_response(doc["_raw"])
    assert back.dtype == np.float64  # a Seldon tensor holds doubles; the float32 bits come back by a cast
    assert_array_exact(back.astype(np.float32), arr)


def test_what_predict_receives(echo: SeldonServer) -> None:
    def seen(payload: dict[str, Any]) -> dict[str, Any]:
        return ok(echo, tagged("describe", payload))["jsonData"]

    got = seen({"data": {"tensor": {"shape": [2, 2], "values": [1, 2, 3, 4]}}})
    assert got["type"] == "numpy.ndarray" and got["dtype"] == "int64" and got["shape"] == [2, 2]
    got = seen({"data": {"ndarray": [[1, "a", None], [2.5, {"k": 1}, True]]}})
    assert got["dtype"] == "object" and got["items"] == [
        "builtins.int",
        "builtins.str",
        "builtins.NoneType",
        "builtins.float",
    ]
    got = seen({"data": {"names": ["n", "x", "s"], "ndarray": [[1, 0.5, "a"], [2, 1.5, "b"]]}})  # seldon-core#745
    assert got["type"] == "pandas.DataFrame" and got["columns"] == ["n", "x", "s"] and got["names"] == ["n", "x", "s"]
    assert got["dtypes"][:2] == ["int64", "float64"] and got["dtypes"][2] in ("str", "object")
    assert seen({"strData": "caf\u00e9"})["type"] == "builtins.str"
    assert seen({"binData": "AAE="})["type"] == "builtins.bytes"
    got = seen({"jsonData": {"a": [1, 2]}})
    assert got["type"] == "builtins.dict" and got["names"] == []
    assert got["meta"] == {"tags": {"op": "describe"}}


def test_str_bin_and_json_payloads_round_trip(echo: SeldonServer) -> None:
    assert ok(echo, seldon.encode_request("caf\u00e9 \u2603 \U0001f600"))["strData"] == "caf\u00e9 \u2603 \U0001f600"
    raw = bytes(range(256))
    assert seldon.decode_response(ok(echo, seldon.encode_request(raw))["_raw"]) == raw
    value = {"big": 2**63 - 1, "neg": -(2**53) - 1, "f": 0.1, "nested": [1, [2.5, None, "x"]], "t": True}
    doc = ok(echo, seldon.encode_request(value, form="jsonData"))
    assert doc["jsonData"] == value and type(doc["jsonData"]["big"]) is int  # protobuf would make doubles


def _typed_values() -> dict[str, Any]:
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2024-03-30 23:00", periods=3, freq="h", tz="Europe/Paris"),
            "size": pd.Categorical(["S", "L", "S"], categories=["S", "M", "L"], ordered=True),
            "x": np.array([0.1, np.nan, 2.5], dtype=np.float32),
            "n": np.array([1, -2, 2**62], dtype=np.int64),
        },
        index=pd.Index(["t-1", "t-2", "t-3"], name="txn"),
    )
    return {
        "frame": frame,
        "scores": np.array([[0.1, 0.2]], dtype=np.float32),
        "when": dt.datetime(2024, 3, 31, 1, 30, tzinfo=ZoneInfo("America/New_York")),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "amount": Decimal("1234.5600"),
    }


def _check_typed(got: dict[str, Any], sent: dict[str, Any]) -> None:
    assert_frame_exact(got["frame"], sent["frame"])
    assert_array_exact(got["scores"], sent["scores"])
    assert got["when"] == sent["when"] and got["when"].utcoffset() == sent["when"].utcoffset()
    assert type(got["id"]) is uuid.UUID and got["id"] == sent["id"]
    assert type(got["amount"]) is Decimal and str(got["amount"]) == "1234.5600"


def test_typed_jsondata_round_trip(echo: SeldonServer) -> None:
    """A datason client: typed jsonData in, typed jsonData out (it asked with Accept) - every type exact."""
    sent = _typed_values()
    body = datason.dumps({"jsonData": sent, "meta": {"tags": {"op": "wrap"}}}).encode()
    doc = ok(echo, body, {"Accept": TYPED})
    back = seldon.decode_response(doc["_raw"])
    assert back["names"] == []
    _check_typed(back["value"], sent)


def test_plain_clients_get_plain_json(echo: SeldonServer) -> None:
    """The same typed request without Accept: strict plain JSON (ISO datetimes, UUID and Decimal as strings)."""
    sent = _typed_values()
    doc = ok(echo, datason.dumps({"jsonData": sent, "meta": {"tags": {"op": "wrap"}}}).encode())
    value = doc["jsonData"]["value"]
    assert value["when"] == "2024-03-31T01:30:00-04:00" and value["id"] == str(sent["id"])
    assert value["amount"] == "1234.5600" and value["scores"] == [[0.1, 0.2]]
    assert value["frame"][1] == ["2024-03-31T00:00:00+01:00", "L", None, -2]
    assert b"__datason" not in doc["_raw"]


def test_numpy_results_are_written_not_refused(echo: SeldonServer) -> None:
    """seldon-core#5165: a dict of NumPy values is "Object of type ndarray is not JSON serializable" there."""
    doc = ok(echo, tagged("numpy", {"data": {"ndarray": [0.1, 0.2, 0.7]}}))
    assert doc["jsonData"] == {"scores": [0.1, 0.2, 0.7], "count": 3, "mean": pytest.approx(1 / 3), "ok": True}


def test_meta_tags_and_seldon_response(echo: SeldonServer) -> None:
    meta = {"puid": "p-17", "requestPath": {"upstream": "img:1"}, "routing": {"router": 1}}
    doc = ok(echo, {"data": {"ndarray": [[1, 2]]}, "meta": {**meta, "tags": {"source": "test"}}})
    assert doc["meta"]["puid"] == "p-17" and doc["meta"]["requestPath"] == {"upstream": "img:1"}
    assert doc["meta"]["tags"] == {"source": "test", "component": "echo"}  # the request's, then tags()
    assert "routing" not in doc["meta"]

    doc = ok(echo, tagged("response", {"data": {"tensor": {"shape": [2, 1], "values": [1, 2]}}}))
    assert doc["data"]["tensor"] == {"shape": [2, 1], "values": [2, 4]}
    assert doc["meta"]["tags"] == {"op": "response", "component": "echo", "runtime": "yes"}
    assert {"type": "GAUGE", "key": "echo_rows", "value": 2} in doc["meta"]["metrics"]


def test_request_ids_are_kept(echo: SeldonServer) -> None:
    status, headers, _ = call(echo, {"strData": "x"}, {"X-Request-ID": "order-17"})
    assert status == 200 and headers["x-request-id"] == "order-17"
    status, headers, _ = call(echo, {"strData": "x"}, {"X-Request-ID": "bad id with spaces"})
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])


# --- errors -------------------------------------------------------------------------------------------------


def test_bad_messages_are_400(echo: SeldonServer) -> None:
    failure(
        echo,
        {"data": {"tensor": {"shape": [3], "values": [1.0]}}},
        400,
        "shape does not match the number of values at $.data.tensor.shape",
    )
    failure(echo, {"data": {"ndarray": [[1, 2], [3]]}}, 400, "ndarray is not rectangular (array) at $.data.ndarray")
    failure(
        echo,
        {"strData": "a", "jsonData": {}},
        400,
        "exactly one of data, jsonData, strData, binData is required, found jsonData, strData",
    )
    failure(
        echo,
        {"strData": "a", "meta": {"metrics": [{"key": "x"}]}},
        400,
        "metrics must be seldon metrics (key, type, value) at $.meta.metrics",
    )


def test_limits(echo: SeldonServer) -> None:
    failure(echo, {"strData": "x" * 70_000}, 413, "body larger than max_body_bytes=65536")
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    failure(echo, {"jsonData": deep}, 422, "nesting deeper than max_depth=32 (list) at $.jsonData" + "[0]" * 33)


def test_predict_failures_are_500_without_user_text(echo: SeldonServer) -> None:
    failure(echo, tagged("fail", {"strData": "x"}), 500, "prediction failed (RuntimeError)")
    failure(echo, tagged("unserializable", {"strData": "x"}), 500, "prediction failed (SerializationError)")
    failure(
        echo,
        tagged("bad_metrics", {"strData": "x"}),
        500,
        "prediction failed (its SeldonResponse metrics are not valid)",
    )


def test_what_each_rest_mode_reads(servers: dict[str, SeldonServer]) -> None:
    """With passthrough datason reads the body as sent (broken JSON is its 400, any content type, gzip); without,
    Flask parses it first (its refusal is seldon-core's own error body, code -1; NaN tokens and ints beyond 64
    bits pass)."""
    raw, parsed = servers["raw"], servers["json"]
    failure(raw, b'{"strData": "x"', 400, "invalid JSON: expected ',' or '}' at byte 15")
    status, headers, body = call(parsed, b'{"strData": "x"')
    assert status == 400 and strict_json(body)["status"]["code"] == -1 and "x-request-id" not in headers

    message = b'{"data": {"tensor": {"shape": [2], "values": [7, 8]}}}'
    status, _, body = post(raw.url + PREDICT, gzip.compress(message), {"Content-Encoding": "gzip"})
    assert status == 200 and strict_json(body)["data"]["tensor"] == {"shape": [2], "values": [7, 8]}
    status, _, body = post(raw.url + PREDICT, message, {"Content-Type": "text/plain"})
    assert status == 200 and strict_json(body)["data"]["tensor"]["values"] == [7, 8]
    assert post(parsed.url + PREDICT, message, {"Content-Type": "text/plain"})[0] == 400  # Flask: not JSON

    nan = b'{"data": {"ndarray": [1.5, NaN]}, "meta": {"tags": {"op": "describe"}}}'
    assert ok(parsed, nan)["jsonData"]["dtype"] == "float64"  # Flask read NaN; datason got null: NaN
    failure(raw, nan, 400, "invalid JSON: unexpected character at byte 27 at $.data.ndarray[1]")
    big = {"jsonData": {"n": 2**70, "m": -(2**64)}}
    assert ok(parsed, big)["jsonData"] == big["jsonData"] == ok(raw, big)["jsonData"]


def test_what_seldon_core_alone_does(servers: dict[str, SeldonServer]) -> None:
    """The gaps the component closes, seen on a plain seldon-core component with the same predict."""
    bare = servers["bare"]
    status, _, raw = call(bare, tagged("numpy", {"data": {"ndarray": [0.1, 0.2]}}))  # seldon-core#5165
    assert status == 500 and "not JSON serializable" in strict_json(raw)["status"]["info"]
    status, _, raw = call(bare, tagged("fail", {"strData": "x"}))
    assert status == 500 and "secret-token-4242" in strict_json(raw)["status"]["info"]  # the exception's text
    seen = ok(bare, tagged("describe", {"data": {"names": ["n", "s"], "ndarray": [[1, "a"], [2, "b"]]}}))
    assert seen["jsonData"]["type"] == "numpy.ndarray" and seen["jsonData"]["dtype"] == "<U21"  # seldon-core#745
    doc = ok(bare, tagged("float32", {"data": {"tensor": {"shape": [1], "values": [0.1]}}}))
    assert doc["data"]["tensor"]["values"] == [0.10000000149011612]  # float32 through tolist()
    doc = ok(servers["json"], {"data": {"tensor": {"shape": [1], "values": [0.1]}}, "meta": {"tags": {"op": "numpy"}}})
    assert doc["jsonData"]["scores"] == [0.1]  # datason: float32's shortest digits
    answer = ok(bare, {"data": {"tensor": {"shape": [2], "values": [1.0, "NaN"]}}})
    assert answer["data"]["ndarray"] == ["1.0", "NaN"]  # the JSON path reads "NaN" as a string array


# --- health, metadata, metrics ------------------------------------------------------------------------------


def test_health_status_is_the_toolkits(echo: SeldonServer) -> None:
    call(echo, {"strData": "x"})
    status, raw = get(echo.url + "/health/status")
    doc = strict_json(raw)
    assert status == 200 and doc["meta"]["tags"] == {"component": "echo"}
    health = doc["jsonData"]
    assert health["status"] == "healthy" and health["ready"] is True
    assert health["model_id"] == "echo" and health["model_version"] == "1.0.0" and health["total_requests"] >= 1


def test_metadata(servers: dict[str, SeldonServer]) -> None:
    status, raw = get(servers["json"].url + "/metadata")
    assert status == 200 and strict_json(raw) == {
        "name": "echo",
        "versions": ["1.0.0"],
        "platform": "",
        "inputs": [],
        "outputs": [],
        "custom": {},
    }


def test_metrics_reach_seldon_with_dict_answers(servers: dict[str, SeldonServer]) -> None:
    """Without passthrough every answer hands the toolkit's new counts to seldon-core (metrics_interval = 0)."""
    server = servers["json"]
    call(server, {"strData": "warm"})
    names = (
        ("ml_prediction_requests_total", {"status": "success"}),
        ("ml_prediction_requests_total", {"status": "error"}),
        ("ml_prediction_errors_total", {"kind": "malformed"}),
        ("ml_prediction_errors_total", {"kind": "predict"}),
        ("ml_prediction_errors_total", {"kind": "too_large"}),
    )
    before = [seldon_metric(server, n, **labels) for n, labels in names]
    seconds = seldon_metric(server, "ml_prediction_seconds_total")
    for _ in range(3):
        call(server, {"data": {"ndarray": [1, 2]}})
    for _ in range(2):
        call(server, {"data": {"tensor": {"shape": [3], "values": [1]}}})
    call(server, tagged("fail", {"strData": "x"}))
    call(server, {"strData": "x" * 70_000})
    call(server, {"strData": "done"})  # a success after the failures: every count handed over
    after = [seldon_metric(server, n, **labels) for n, labels in names]
    assert [a - b for a, b in zip(after, before, strict=True)] == [4, 4, 2, 1, 1]
    assert seldon_metric(server, "ml_prediction_seconds_total") > seconds
    call(server, tagged("response", {"data": {"ndarray": [[1], [2], [3]]}}))
    assert seldon_metric(server, "echo_rows", method="predict") == 3  # a SeldonResponse's runtime GAUGE
    health = strict_json(get(server.url + "/health/status")[1])["jsonData"]
    success = seldon_metric(server, "ml_prediction_requests_total", rest_only=True, status="success")
    error = seldon_metric(server, "ml_prediction_requests_total", rest_only=True, status="error")
    assert success + error == health["total_requests"]  # the REST worker's counts (its gRPC worker has its own)
    assert error == health["error_count"] + health["client_error_count"]


def test_metrics_reach_seldon_on_health_with_passthrough(servers: dict[str, SeldonServer]) -> None:
    """seldon-core does not read bytes answers: the counts reach its metrics port when /health/status asks."""
    server = servers["raw"]
    get(server.url + "/health/status")
    before = seldon_metric(server, "ml_prediction_requests_total", status="success")
    for _ in range(3):
        call(server, {"strData": "x"})
    assert seldon_metric(server, "ml_prediction_requests_total", status="success") == before
    assert seldon_metric(server, "ml_prediction_requests_total", method="predict") == 0
    health = strict_json(get(server.url + "/health/status")[1])
    assert {"key": "ml_prediction_requests", "tags": {"status": "success"}, "type": "COUNTER", "value": 3.0} in (
        {**m, "tags": {k: v for k, v in m.get("tags", {}).items() if k != "method"}} for m in health["meta"]["metrics"]
    )
    success = seldon_metric(server, "ml_prediction_requests_total", status="success", method="health")
    error = seldon_metric(server, "ml_prediction_requests_total", status="error", method="health")
    assert success == before + 3 and success + error == health["jsonData"]["total_requests"]


# --- gRPC ---------------------------------------------------------------------------------------------------


def test_grpc(servers: dict[str, SeldonServer]) -> None:
    """seldon-core's gRPC server hands predict_raw a protobuf SeldonMessage: numbers are doubles there."""
    with grpc.insecure_channel(servers["json"].grpc_target) as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)

        def predict(doc: dict[str, Any]) -> dict[str, Any]:
            answer = stub.Predict(json_to_seldon_message(doc), timeout=10)
            assert isinstance(answer, prediction_pb2.SeldonMessage)
            return seldon_message_to_json(answer)

        got = predict({"data": {"tensor": {"shape": [2, 2], "values": [1, 2, 3, 0.5]}}, "meta": {"puid": "g-1"}})
        assert got["data"]["tensor"] == {"shape": [2, 2], "values": [1.0, 2.0, 3.0, 0.5]}
        assert got["meta"]["puid"] == "g-1" and got["meta"]["tags"] == {"component": "echo"}
        assert {"key": "ml_prediction_requests", "value": 1.0, "tags": {"status": "success"}} in got["meta"]["metrics"]
        seen = predict(tagged("describe", {"data": {"names": ["a", "b"], "ndarray": [[1, 2]]}}))["jsonData"]
        assert seen["type"] == "pandas.DataFrame" and seen["dtypes"] == ["float64", "float64"]  # protobuf: doubles
        assert predict({"strData": "caf\u00e9"})["strData"] == "caf\u00e9"
        raw = bytes(range(256))
        answer = stub.Predict(prediction_pb2.SeldonMessage(binData=raw), timeout=10)
        assert answer.binData == raw
        error = predict({"data": {"tensor": {"shape": [3], "values": [1.0]}}})
        assert error["status"] == {
            "code": 400,
            "info": "shape does not match the number of values at $.data.tensor.shape",
            "reason": "MICROSERVICE_BAD_DATA",
            "status": "FAILURE",
        }


# --- the examples and the docs ------------------------------------------------------------------------------


def test_basic_example(servers: dict[str, SeldonServer]) -> None:
    from examples.seldon_basic import CLASSES, EXAMPLE

    server = servers["basic"]
    doc = ok(server, {"data": {"ndarray": EXAMPLE}})
    assert doc["data"]["names"] == list(CLASSES)
    probabilities = np.array(doc["data"]["ndarray"])
    assert probabilities.shape == (2, 3) and np.allclose(probabilities.sum(axis=1), 1.0)
    assert [CLASSES[i] for i in probabilities.argmax(axis=1)] == ["setosa", "virginica"]
    reordered = {
        "names": ["petal_width", "petal_length", "sepal_width", "sepal_length"],
        "ndarray": [[0.2, 1.4, 3.5, 5.1]],
    }
    assert ok(server, {"data": reordered})["data"]["ndarray"][0] == doc["data"]["ndarray"][0]
    back = seldon.decode_response(ok(server, seldon.encode_request(np.array(EXAMPLE), form="tensor"))["_raw"])
    assert_frame_exact(back, pd.DataFrame(probabilities, columns=list(CLASSES)))  # names -> a DataFrame
    health = strict_json(get(server.url + "/health/status")[1])["jsonData"]
    assert health["model_id"] == "iris" and health["total_requests"] >= 3


def test_production_example(servers: dict[str, SeldonServer]) -> None:
    server = servers["production"]
    rows = {"names": ["amount", "ts", "merchant"], "ndarray": [[1250.0, "2024-05-06T02:10:00+02:00", "crypto"]]}
    doc = ok(server, {"data": rows})
    assert doc["data"]["ndarray"][0] > 0.5
    assert doc["meta"]["tags"] == {"scorer": "rules-v2"}
    assert doc["meta"]["requestPath"] == {"fraud": "registry.local/fraud:2.1.0"}

    frame = pd.DataFrame(
        {
            "amount": [Decimal("1250.00"), Decimal("12.50")],
            "ts": pd.to_datetime(["2024-05-06 02:10", "2024-05-06 14:10"]).tz_localize("Europe/Paris"),
            "merchant": pd.Categorical(["crypto", "grocery"]),
        },
        index=pd.Index(["t-1", "t-2"], name="txn"),
    )
    typed = ok(server, datason.dumps({"jsonData": frame}).encode(), {"Accept": TYPED})
    answer = seldon.decode_response(typed["_raw"])
    assert answer["flagged"] == 1 and answer["scores"].name == "score"
    pd.testing.assert_index_equal(answer["scores"].index, frame.index)
    assert answer["scores"]["t-1"] == doc["data"]["ndarray"][0] and answer["scores"]["t-2"] < 0.05

    assert seldon_metric(server, "fraud_flagged_total") == 2 and seldon_metric(server, "fraud_batch_rows") == 2
    metadata = strict_json(get(server.url + "/metadata")[1])
    assert metadata["name"] == "fraud" and metadata["versions"] == ["2.1.0"]
    health = strict_json(get(server.url + "/health/status")[1])["jsonData"]
    assert health["model_id"] == "fraud" and health["model_version"] == "2.1.0" and health["total_requests"] == 2
    failure(server, {"strData": "x" * 270_000}, 413, "body larger than max_body_bytes=262144")


def _doc_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOCS.read_text(), re.S | re.M)


def test_docs_python_blocks_run(servers: dict[str, SeldonServer], monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _doc_blocks()
    assert len(blocks) >= 2
    monkeypatch.setenv("SERVICE_URL", servers["basic"].url)  # the page's client talks to the basic example
    for i, code in enumerate(blocks):
        module = types.ModuleType(f"docs_seldon_{i}")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile(code, f"{DOCS.name}#{i}", "exec"), module.__dict__)


# --- the component's own checks (no server) -------------------------------------------------------------------


def test_refuses_what_it_cannot_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    from datason.integrations.seldon import DatasonComponent
    from datason.serving import ServingConfig

    class NoPredict(DatasonComponent):
        pass

    with pytest.raises(TypeError, match=r"NoPredict must define predict\(self, X, names, meta=None\)"):
        NoPredict().load()

    class Batching(DatasonComponent):
        serving_config = ServingConfig(batch_max_size=8)

        def predict(self, X: Any, names: list[str], meta: Any = None) -> Any:
            return X

    with pytest.raises(ValueError, match="batch_max_size > 1 is not supported under seldon-core"):
        Batching().load()

    class Cached(Batching):
        serving_config = ServingConfig(cache_size=10)

    with pytest.raises(ImportError, match=r"needs cachetools .*pip install cachetools"):
        Cached().load()

    class FromEnv(Batching):
        serving_config = None

    monkeypatch.setenv("DATASON_SERVING_RATE_LIMIT", "10/second")
    with pytest.raises(ImportError, match=r"needs limits .*pip install limits"):
        FromEnv().load()


def test_in_process_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """predict_raw outside a server: async predict, predict without meta, the config from Seldon's variables,
    health_status after the service stopped, the metrics counted once."""
    from seldon_core.flask_utils import SeldonMicroserviceException

    from datason.integrations.seldon import DatasonComponent

    for name in [k for k in os.environ if k.startswith(_OWN_ENV)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PREDICTIVE_UNIT_ID", "scaler")
    monkeypatch.setenv("PREDICTIVE_UNIT_IMAGE", "localhost:5000/team/scaler:3.2")

    class AsyncScaler(DatasonComponent):
        async def predict(self, X: Any, names: list[str], meta: Any = None) -> Any:
            return X * 2

    class NoMeta(DatasonComponent):
        def predict(self, X: Any, names: list[str]) -> Any:
            return {"names": names, "n": len(X)}

    model = AsyncScaler(alpha=0.5)
    assert model.parameters == {"alpha": 0.5}
    model.load()
    answer = model.predict_raw({"data": {"tensor": {"shape": [2], "values": [1, 2]}}, "meta": {"puid": "p"}})
    assert answer["data"]["tensor"] == {"shape": [2], "values": [2, 4]}
    assert answer["meta"] == {"puid": "p", "requestPath": {"scaler": "localhost:5000/team/scaler:3.2"}}
    assert (
        model.predict_raw(b'{"strData": "ab"}')
        == b'{"strData":"abab","meta":{"requestPath":{"scaler":"localhost:5000/team/scaler:3.2"}}}'
    )
    assert model.init_metadata() == {"name": "scaler", "versions": ["3.2"]}
    first = model.metrics()
    assert {"type": "COUNTER", "key": "ml_prediction_requests", "value": 2.0, "tags": {"status": "success"}} in first
    assert model.metrics() == []  # each count is handed over once
    model.model_service.stop()
    with pytest.raises(SeldonMicroserviceException) as stopped:
        model.health_status()
    assert stopped.value.status_code == 503

    plain = NoMeta()
    assert plain.predict_raw({"data": {"names": ["a"], "ndarray": [[1], [2]]}})["jsonData"] == {"names": ["a"], "n": 2}
    assert plain.model_service.config.model_id == "scaler" and plain.model_service.config.protocols == ("seldon",)
