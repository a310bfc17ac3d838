"""The reference service over real HTTP: `datason serve` runs uvicorn in its own process group on a free
loopback port and httpx (or a raw socket, for lying headers) drives it. Covers every status code, both
envelopes, exact metric values and health after known traffic, rate-limit exactness, cache hits, batching,
request ids, JSON log lines with redaction, Content-Length lies, chunked bodies and concurrency."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = pathlib.Path(__file__).resolve().parent.parent
APPS = "tests.serving.apps.models"
SCHEMA_FILE = "tests/serving/apps/schema.json"


class Server:
    """One `datason serve` process: started in a new session, stopped by signalling its process group."""

    def __init__(self, tmp: pathlib.Path, target: str, *options: str, env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.target = target
        self.options = list(options)
        self.env = env or {}
        self.log_path = tmp / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, command: list[str] | None = None) -> Server:
        base = command or [sys.executable, "-m", "datason.cli"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATASON_SERVING_")}
        env.update(self.env)
        for _ in range(3):  # a free port can be taken between our probe and uvicorn's bind: try another
            port = free_port()
            cmd = [*base, "serve", self.target, "--host", "127.0.0.1", "--port", str(port), *self.options]
            with self.log_path.open("wb") as log:
                self.proc = subprocess.Popen(
                    cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            self.url = f"http://127.0.0.1:{port}"
            if self._wait_ready():
                return self
            if "address already in use" not in self.log().lower():
                break
        raise AssertionError(f"server did not start: {self.log()[-2000:]}")

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        return False

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)
            raise AssertionError("server ignored SIGTERM") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON request lines (uvicorn's own lines are plain text)."""
        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    tmp_path_factory: pytest.TempPathFactory, name: str, target: str, *options: str, **kw: Any
) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp(name), target, *options, **kw).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def main(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(
        tmp_path_factory,
        "main",
        f"{APPS}:predict",
        "--schema",
        SCHEMA_FILE,
        "--model-id",
        "http-main",
        "--model-version",
        "2.1.0",
        "--max-body-bytes",
        "4096",
        "--max-depth",
        "4",
        "--max-features",
        "8",
        "--log-payloads",
    )


@pytest.fixture(scope="module")
def client(main: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=main.url, timeout=30) as c:
        yield c


def strict(body: bytes) -> Any:
    return json.loads(body, parse_constant=lambda token: pytest.fail(f"non-standard JSON token {token}"))


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = strict(response.content)
    assert body.keys() == {"request_id", "status", "error", "timestamp"}
    assert body["status"] == "error" and body["request_id"] == response.headers["x-request-id"]
    assert body["timestamp"].endswith("Z")
    return body


def metric_values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def raw_http(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are and read the first response (status, headers, body) within 10 s."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed before a response: {data!r}"
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed mid-body"
            rest += chunk
        return int(lines[0].split()[1]), headers, rest[:length]


# --- the main service ------------------------------------------------------------------------------------


def test_predict_200_with_clean_json(client: httpx.Client) -> None:
    r = client.post("/predict", json={"features": {"x": 1.5}})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = strict(r.content)
    assert body.keys() == {"request_id", "prediction", "model_version", "timestamp", "processing_time_ms"}
    assert body["request_id"] == r.headers["x-request-id"] and len(body["request_id"]) == 32
    assert body["model_version"] == "2.1.0"
    prediction = body["prediction"]
    assert (prediction["label"], prediction["x"], prediction["scores"], prediction["by_name"]) == (
        "pos",
        1.5,
        [1.5, 3.0],
        [1, 2],
    )
    assert isinstance(body["processing_time_ms"], float) and body["processing_time_ms"] >= 0
    assert time.strptime(body["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")


def test_nan_in_a_prediction_is_null(client: httpx.Client) -> None:
    r = client.post("/predict", json={"features": {"x": 1, "mode": "nan"}})
    assert r.status_code == 200 and strict(r.content)["prediction"]["value"] is None


def test_request_id_is_echoed_or_replaced(client: httpx.Client) -> None:
    r = client.post("/predict", json={"features": {"x": 1}}, headers={"X-Request-ID": "trace-42.a"})
    assert r.headers["x-request-id"] == "trace-42.a" == r.json()["request_id"]
    r = client.post("/predict", json={"features": {"x": 1}}, headers={"X-Request-ID": "bad id <script>"})
    assert r.headers["x-request-id"] != "bad id <script>" and uuid.UUID(r.headers["x-request-id"]).version == 4
    r = client.post("/predict", content=b"{", headers={"X-Request-ID": "err-7"})
    assert assert_error(r, 400)["request_id"] == "err-7"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"features": {"x": 1}', "invalid JSON"),
        (b'{"features": {"x": "\xff"}}', "invalid JSON"),
        (b'[{"features": {"x": 1}}]', "must be a JSON object"),
        (b"", "invalid JSON"),
    ],
)
def test_malformed_400(client: httpx.Client, content: bytes, words: str) -> None:
    assert words in assert_error(client.post("/predict", content=content), 400)["error"]


@pytest.mark.parametrize(
    ("features", "path"),
    [
        ({"x": "hunter2"}, "$.features.x"),
        ({"mode": "ok"}, "$.features.x"),
        ({"x": 1, "bogus": "hunter2"}, "$.features.bogus"),
        ({"x": 1000}, "$.features.x"),
        ({"x": 1, "nested": {"a": {"b": [[1]]}}}, "$.features.nested.a.b[0]"),
        ({f"k{i}": i for i in range(9)}, "$.features"),
    ],
)
def test_validation_422_names_the_field(client: httpx.Client, features: dict[str, Any], path: str) -> None:
    error = assert_error(client.post("/predict", json={"features": features}), 422)["error"]
    assert path in error and "hunter2" not in error and "1000" not in error


def test_missing_features_422(client: httpx.Client) -> None:
    assert "$.features" in assert_error(client.post("/predict", json={"inputs": {"x": 1}}), 422)["error"]


def test_body_too_large_413(client: httpx.Client) -> None:
    big = json.dumps({"features": {"x": 1, "password": "p" * 5000}}).encode()
    assert "max_body_bytes=4096" in assert_error(client.post("/predict", content=big), 413)["error"]


def test_predict_failure_500_is_sanitized(client: httpx.Client) -> None:
    r = client.post("/predict", json={"features": {"x": 1, "mode": "boom"}})
    assert assert_error(r, 500)["error"] == "prediction failed (RuntimeError)"
    assert b"secret" not in r.content and b"/srv" not in r.content and b"Traceback" not in r.content


def test_unknown_route_404_and_wrong_method_405(client: httpx.Client) -> None:
    assert "no such route" in assert_error(client.get("/nope"), 404)["error"]
    r = client.get("/predict")
    assert_error(r, 405)
    assert r.headers["allow"] == "POST"
    assert client.post("/health").headers["allow"] == "GET"


def test_ready_health_metrics_endpoints(client: httpx.Client) -> None:
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    health = client.get("/health").json()
    assert health.keys() >= {
        "status",
        "model_version",
        "total_requests",
        "error_count",
        "client_error_count",
        "error_rate",
        "avg_latency_ms",
        "timestamp",
    }
    assert health["status"] in ("healthy", "degraded") and health["model_version"] == "2.1.0"
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(metrics.text)}
    assert {
        "ml_prediction_requests",
        "ml_prediction_latency_seconds",
        "ml_active_models",
        "ml_prediction_errors",
    } <= names


def test_declared_length_over_the_cap_413_without_waiting_for_the_body(main: Server) -> None:
    request = (
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000\r\n\r\n" + b'{"features": {"x": 1}}'
    )
    status, headers, body = raw_http(main.port, request)  # the 1 MB never comes: a wait would time out
    assert status == 413 and strict(body)["status"] == "error" and headers["connection"] == "close"


def test_declared_length_shorter_than_the_body_is_a_400(main: Server, client: httpx.Client) -> None:
    payload = b'{"features": {"x": 1}}'
    request = b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: 12\r\n\r\n" + payload
    status, _, body = raw_http(main.port, request)
    # The app sees 12 bytes (truncated JSON: our 400) unless uvicorn, parsing the leftover bytes as the next
    # request, refuses the connection first (its own 400). Either way no prediction is made from the lie.
    assert status == 400
    assert body.startswith(b"Invalid HTTP request") or "invalid JSON" in strict(body)["error"]
    assert client.post("/predict", json={"features": {"x": 1}}).status_code == 200  # the server is unharmed


def test_chunked_body_over_the_cap_413(main: Server) -> None:
    chunk = b"x" * 1000
    framed = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(6)) + b"0\r\n\r\n"
    request = b"POST /predict HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + framed
    status, _, body = raw_http(main.port, request)
    assert status == 413 and "max_body_bytes=4096" in strict(body)["error"]


def test_chunked_body_under_the_cap_200(client: httpx.Client) -> None:
    def parts() -> Iterator[bytes]:
        yield b'{"features": '
        yield b'{"x": -2}}'

    r = client.post("/predict", content=parts())
    assert r.status_code == 200 and r.json()["prediction"]["label"] == "neg"


def test_concurrent_requests_all_answered_correctly(main: Server) -> None:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=main.url, timeout=60) as c:
            return list(
                await asyncio.gather(
                    *(c.post("/predict", json={"features": {"x": i, "mode": "slow"}}) for i in range(40))
                )
            )

    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [200] * 40
    assert [r.json()["prediction"]["x"] for r in responses] == list(range(40))
    assert len({r.json()["request_id"] for r in responses}) == 40


def test_log_lines_are_json_with_redaction(client: httpx.Client, main: Server) -> None:
    rid = "log-" + uuid.uuid4().hex
    pw, token, key, inner = (f"{kind}-{uuid.uuid4().hex}" for kind in ("pw", "tok", "sk", "inner"))
    features = {"x": 2, "password": pw, "api_token": token, "nested": {"secret": inner}}
    r = client.post("/predict", json={"features": features}, headers={"X-Request-ID": rid, "X-API-Key": key})
    assert r.status_code == 200
    failed = client.post("/predict", json={"features": {"x": 1, "mode": "boom"}}, headers={"X-Request-ID": rid + "e"})
    assert failed.status_code == 500
    lines = {line["request_id"]: line for line in main.log_lines()}  # every JSON line parses
    line = lines[rid]
    assert line.keys() >= {"request_id", "client", "method", "path", "status", "latency_ms", "model_id"}
    assert (line["method"], line["path"], line["status"], line["model_id"]) == ("POST", "/predict", 200, "http-main")
    assert line["client"].startswith("key:") and line["latency_ms"] >= 0
    assert line["features"] == {
        "x": 2,
        "password": "[REDACTED]",
        "api_token": "[REDACTED]",
        "nested": {"secret": "[REDACTED]"},
    }
    error_line = lines[rid + "e"]
    assert (error_line["status"], error_line["error_kind"], error_line["client"]) == (500, "predict", "127.0.0.1")
    assert error_line["error"] == "prediction failed (RuntimeError)"
    text = main.log()
    for secret in (pw, token, key, inner, "secret-token-123", "Traceback"):
        assert secret not in text


# --- exact metrics and health after known traffic ---------------------------------------------------------


def test_metrics_and_health_after_known_traffic(tmp_path_factory: pytest.TempPathFactory) -> None:
    options = ["--schema", SCHEMA_FILE, "--min-requests-for-health", "4", "--degraded-error-rate", "0.3"]
    options += ["--max-body-bytes", "2048"]
    env = {"DATASON_SERVING_MODEL_ID": "counted", "DATASON_SERVING_MODEL_VERSION": "env-1.0"}
    for server in serve(tmp_path_factory, "counted", f"{APPS}:predict", *options, env=env):
        with httpx.Client(base_url=server.url, timeout=30) as c:
            for x in (1, 2, 3):
                assert c.post("/predict", json={"features": {"x": x}}).status_code == 200
            assert c.post("/predict", content=b"nope").status_code == 400
            assert c.post("/predict", json={"features": {"x": "a"}}).status_code == 422
            assert c.post("/predict", content=b"{" + b" " * 3000 + b"}").status_code == 413
            assert c.get("/nope").status_code == 404  # not a prediction request: not counted
            health = c.get("/health").json()
            assert (health["status"], health["total_requests"], health["error_count"]) == ("healthy", 6, 0)
            assert health["client_error_count"] == 3 and health["model_version"] == "env-1.0"
            for _ in range(2):
                assert c.post("/predict", json={"features": {"x": 1, "mode": "boom"}}).status_code == 500
            health = c.get("/health").json()
            assert (health["status"], health["error_count"], health["error_rate"]) == ("healthy", 2, 0.25)
            assert c.post("/predict", json={"features": {"x": 1, "mode": "boom"}}).status_code == 500
            health = c.get("/health").json()
            assert health["status"] == "degraded" and health["total_requests"] == 9 and health["error_count"] == 3
            assert health["error_rate"] == pytest.approx(3 / 9, abs=1e-6) and health["avg_latency_ms"] > 0
            assert c.get("/health").status_code == 200  # degraded still answers 200
            values = metric_values(c.get("/metrics").text)

    def v(name: str, **labels: str) -> float:
        return values[(name, frozenset({"model_id": "counted", "protocol": "datason", **labels}.items()))]

    assert v("ml_prediction_requests_total", status="success") == 3
    assert v("ml_prediction_requests_total", status="error") == 6
    expected = {"malformed": 1, "validation": 1, "too_large": 1, "predict": 3, "rate_limited": 0, "serialization": 0}
    assert {kind: v("ml_prediction_errors_total", kind=kind) for kind in expected} == expected
    assert v("ml_prediction_latency_seconds_count") == 9
    assert v("ml_prediction_latency_seconds_bucket", le="+Inf") == 9
    assert values[("ml_active_models", frozenset())] == 1


# --- rate limiting ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"DATASON_SERVING_RATE_LIMIT": "3/minute"}  # from the environment, as deployments set it
    yield from serve(tmp_path_factory, "limited", f"{APPS}:predict_async", env=env)


def test_rate_limit_n_then_429_per_client(limited: Server) -> None:
    with httpx.Client(base_url=limited.url, timeout=30) as c:
        key = {"X-API-Key": "client-a"}
        statuses = [c.post("/predict", json={"features": {"x": i}}, headers=key).status_code for i in range(3)]
        assert statuses == [200, 200, 200]
        refused = c.post("/predict", json={"features": {"x": 9}}, headers=key)
        assert "rate limit" in assert_error(refused, 429)["error"]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert c.post("/predict", json={"features": {"x": 1}}, headers={"X-API-Key": "client-b"}).status_code == 200
        by_peer = [c.post("/predict", json={"features": {"x": 1}}).status_code for _ in range(4)]
        assert by_peer == [200, 200, 200, 429]  # no key: the peer address is the client


def test_rate_limit_exact_under_concurrency(limited: Server) -> None:
    async def run() -> list[int]:
        async with httpx.AsyncClient(base_url=limited.url, timeout=60) as c:
            key = {"X-API-Key": "client-concurrent"}
            responses = await asyncio.gather(
                *(c.post("/predict", json={"features": {"x": i}}, headers=key) for i in range(12))
            )
            return [r.status_code for r in responses]

    statuses = asyncio.run(run())
    assert sorted(statuses) == [200] * 3 + [429] * 9


# --- cache and batching -------------------------------------------------------------------------------------


def test_cache_hits_skip_predict(tmp_path_factory: pytest.TempPathFactory) -> None:
    for server in serve(tmp_path_factory, "cached", f"{APPS}:predict", "--cache-size", "16", "--cache-ttl", "600"):
        with httpx.Client(base_url=server.url, timeout=30) as c:
            first = c.post("/predict", json={"features": {"x": 3, "mode": "ok"}}).json()
            again = c.post("/predict", json={"features": {"mode": "ok", "x": 3}}).json()
            third = c.post("/predict", json={"features": {"x": 3, "mode": "ok"}}).json()
            other = c.post("/predict", json={"features": {"x": 3.0, "mode": "ok"}}).json()
            text = c.get("/metrics").text
    calls = [b["prediction"]["calls"] for b in (first, again, third, other)]
    assert calls[0] == calls[1] == calls[2] and calls[3] == calls[0] + 1  # predict ran twice for four requests
    assert len({b["request_id"] for b in (first, again, third)}) == 3
    values = metric_values(text)
    assert values[("ml_prediction_cache_hits_total", frozenset({("model_id", "model")}))] == 2
    assert values[("ml_prediction_cache_misses_total", frozenset({("model_id", "model")}))] == 2


@pytest.fixture(scope="module")
def batched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    options = ("--batch-max-size", "4", "--batch-max-wait-ms", "5000", "--model-id", "batched")
    yield from serve(tmp_path_factory, "batched", f"{APPS}:predict_batch", *options)


def post_together(url: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as c:
            return list(await asyncio.gather(*(c.post("/predict", json=b) for b in bodies)))

    return asyncio.run(run())


def test_concurrent_requests_share_one_batch(batched: Server) -> None:
    responses = post_together(batched.url, [{"features": {"x": i}} for i in range(4)])
    predictions = [r.json()["prediction"] for r in responses]
    assert [p["x"] for p in predictions] == [0, 1, 2, 3]  # each request gets its own row back
    assert {p["batch_size"] for p in predictions} == {4}
    assert len({p["batch_id"] for p in predictions}) == 1 and len({p["calls"] for p in predictions}) == 1
    text = httpx.get(batched.url + "/metrics", timeout=30).text
    assert metric_values(text)[("ml_prediction_batch_size_bucket", frozenset({("model_id", "batched"), ("le", "4.0")}))]


def test_wrong_batch_length_fails_the_whole_batch(batched: Server) -> None:
    bodies = [{"features": {"x": i}} for i in range(3)] + [{"features": {"x": 3, "short": True}}]
    responses = post_together(batched.url, bodies)
    for r in responses:
        assert "3 results for 4 inputs" in assert_error(r, 500)["error"]


# --- the console script, a prebuilt ModelService, and a clean shutdown ---------------------------------------


def test_console_script_serves_a_model_service_and_stops_cleanly(tmp_path: pathlib.Path) -> None:
    script = pathlib.Path(sys.executable).parent / "datason"
    assert script.exists(), "run `pip install -e .` to create the datason console script"
    server = Server(tmp_path, f"{APPS}:service").start([str(script)])
    try:
        r = httpx.post(server.url + "/predict", json={"features": {"x": 4}}, timeout=30)
        assert r.status_code == 200 and r.json()["model_version"] == "9.9.9"
        assert httpx.get(server.url + "/ready", timeout=30).json()["model_id"] == "prebuilt"
    finally:
        code = server.stop()
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal so the parent sees it: -15 (or 0).
    assert code in (0, -signal.SIGTERM)
    log = server.log()
    assert "Waiting for application shutdown." in log and "Application shutdown complete." in log
