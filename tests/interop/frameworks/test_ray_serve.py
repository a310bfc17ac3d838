"""datason.integrations.ray_serve on a real Ray Serve 2.60: HTTP through Ray's proxy to the replicas.

One local Ray for the module (``num_cpus=2``, 127.0.0.1 only, no dashboard, its own temporary directory),
started in this process: Ray starts its daemons (GCS, raylet, workers) as children of this process with
kernel fate-sharing, so they die with it; the fixture stops Serve and Ray, then kills any process it started
that is still alive (by pid) and fails if one had to be killed. Applications deployed for the whole module:

- ``/`` (``echo``, typed responses with ``get_ml_config()``, 2 replicas): exact round trips of typed payloads,
  tritonclient's OIP (binary and JSON), every error status, request ids, replica spread, ``/health`` and
  ``/metrics`` of the deployment as a whole;
- ``/plain`` (``describe``: what predict received, as plain JSON; 3 requests a minute per client): plain
  payloads, KServe v1, Seldon and MLflow bodies, 429;
- ``/cls`` (the ``Scaler`` model class, ``@serve.batch``, ``user_config``, autoscaling options);
- ``/fragile`` (``restart_when_degraded``: a replica whose 5xx rate passes the threshold is replaced by Ray).

The two examples, the docs' python blocks and ``examples/ray_serve_config.yaml`` (regenerated with ``serve
build`` and read with Ray's own ``ServeDeploySchema``) run here too.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import decimal
import http.client
import importlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest
import ray
import tritonclient.http as triton
import yaml
from prometheus_client.parser import text_string_to_metric_families
from ray import serve
from ray.serve.api import RunTarget
from ray.serve.schema import ServeDeploySchema

import datason
from datason.config import get_ml_config
from datason.integrations import ray_serve
from datason.integrations.ray_serve import deployment
from datason.protocols import kserve_v1, mlflow, seldon
from datason.serving import ServingConfig
from datason.serving.auth import KeyStore
from tests.interop.apps import describe, ray_models
from tests.interop.helpers import ROOT, assert_array_exact, assert_frame_exact, free_port, strict_json

EXAMPLES = ROOT / "examples"
DOC = ROOT / "docs" / "integrations" / "ray_serve.md"
TYPED = get_ml_config()
AUTOSCALING = {
    "min_replicas": 1,
    "initial_replicas": 2,
    "max_replicas": 2,
    "target_ongoing_requests": 3,
    "upscale_delay_s": 7,
    "downscale_delay_s": 600,
}


KEYS = KeyStore()  # the /locked application's keys (access control on, /metrics behind the metrics scope)
PREDICT_KEY = KEYS.create("caller", scopes=("predict",), iterations=1_000)
METRICS_KEY = KEYS.create("prometheus", scopes=("metrics",), iterations=1_000)


class Cluster:
    """The module's Ray: Serve's HTTP port on 127.0.0.1."""

    def __init__(self, port: int, temp_dir: str) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.logs = pathlib.Path(temp_dir) / "session_latest" / "logs"

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, every header as sent, lower-case names, duplicates kept, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            sent = {"Content-Type": "application/json", **(headers or {})} if body is not None else dict(headers or {})
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            return response.status, [(k.lower(), v) for k, v in response.getheaders()], response.read()
        finally:
            conn.close()

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        status, headers_out, data = self.request("POST", path, body, headers)
        return status, dict(headers_out), data

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        status, headers_out, data = self.request("GET", path, None, headers)
        return status, dict(headers_out), data


def _apps() -> list[RunTarget]:
    main = deployment(
        ray_models.echo,
        config=ServingConfig(
            model_id="echo", model_version="1", datason_config=TYPED, max_body_bytes=16_384, max_depth=12
        ),
        num_replicas=2,
        max_ongoing_requests=16,
        ray_actor_options={"num_cpus": 0},
    )
    plain = deployment(
        describe.predict,
        config=ServingConfig(model_id="describe", rate_limit="3/minute"),
        ray_actor_options={"num_cpus": 0},
    )
    scaler = deployment(
        ray_models.Scaler,
        config=ServingConfig(model_id="scaler", batch_max_size=8, batch_max_wait_ms=100),
        batching="ray",
        autoscaling_config=AUTOSCALING,
        max_ongoing_requests=16,
        max_queued_requests=100,
        user_config={"factor": 3.0},
        ray_actor_options={"num_cpus": 0},
    )
    fragile = deployment(
        ray_models.fragile,
        config=ServingConfig(model_id="fragile", degraded_error_rate=0.0, min_requests_for_health=1),
        restart_when_degraded=True,
        health_check_period_s=1,
        health_check_timeout_s=5,
        ray_actor_options={"num_cpus": 0},
    )
    locked = deployment(
        describe.predict,
        config=ServingConfig(model_id="locked", api_keys=json.dumps(KEYS.document()), metrics_auth=True),
        ray_actor_options={"num_cpus": 0},
    )
    return [
        RunTarget(main.bind(), name="main", route_prefix="/"),
        RunTarget(locked.bind(), name="locked", route_prefix="/locked"),
        RunTarget(plain.bind(), name="plain", route_prefix="/plain"),
        RunTarget(scaler.bind(2.0), name="cls", route_prefix="/cls"),
        RunTarget(fragile.bind(), name="fragile", route_prefix="/fragile"),
    ]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    env = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    temp_dir = tempfile.mkdtemp(prefix="dsray-", dir="/tmp")  # short: Ray's unix sockets live in it
    me = psutil.Process()
    others = {p.pid for p in me.children()}  # servers of other test modules: not Ray's, never touched here
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp_dir,
        log_to_driver=False,
        # replicas import the examples' modules by name (as `serve run` from examples/ would let them)
        runtime_env={"env_vars": {"PYTHONPATH": str(EXAMPLES)}},
    )
    try:
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run_many(_apps())
        yield Cluster(port, temp_dir)
    finally:
        # Ray's daemons (GCS, raylet, agents) are this process's children; workers and replicas are theirs
        started = [q for c in me.children() if c.pid not in others for q in (c, *c.children(recursive=True))]
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
            _, alive = psutil.wait_procs(started, timeout=20)
            for proc in alive:
                proc.kill()
            _, still = psutil.wait_procs(alive, timeout=10)
            shutil.rmtree(temp_dir, ignore_errors=True)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        assert not still, f"Ray processes survived SIGKILL: {still}"
        assert not alive, f"Ray left processes behind after ray.shutdown() (killed): {[p.pid for p in alive]}"


def _details(app: str) -> dict[str, Any]:
    details: dict[str, Any] = serve.context._get_global_client().get_serve_details()
    return details["applications"][app]


def _replica_pids(app: str, name: str) -> dict[str, int]:
    replicas = _details(app)["deployments"][name]["replicas"]
    return {r["replica_id"]: r["pid"] for r in replicas if r["state"] == "RUNNING"}


def _typed(features: Any) -> bytes:
    return datason.dumps({"features": features}, TYPED).encode()


def _envelope(status: int, headers: dict[str, str], body: bytes, want_status: int, error: str) -> dict[str, Any]:
    assert status == want_status, body
    doc = strict_json(body)
    assert set(doc) == {"request_id", "status", "error", "timestamp"}, doc
    assert doc["status"] == "error" and re.fullmatch(error, doc["error"]), doc["error"]
    assert headers["x-request-id"] == doc["request_id"]
    assert headers["content-type"] == "application/json"
    return doc


def _samples(text: str, name: str, **labels: str) -> dict[str, float]:
    """The value of each ``name`` sample matching ``labels``, by its ``replica`` label."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                replica = sample.labels["replica"]
                assert replica not in out, f"two {name} samples for replica {replica}"
                out[replica] = sample.value
    return out


# --- the helper itself (no cluster needed) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "removed", "replacement"),
    [
        ({"max_concurrent_queries": 10}, "max_concurrent_queries", "use max_ongoing_requests"),
        (
            {"target_num_ongoing_requests_per_replica": 2},
            "target_num_ongoing_requests_per_replica",
            'use autoscaling_config["target_ongoing_requests"]',
        ),
        (
            {"autoscaling_config": {"min_replicas": 1, "target_num_ongoing_requests_per_replica": 2}},
            "target_num_ongoing_requests_per_replica",
            'use autoscaling_config["target_ongoing_requests"]',
        ),
    ],
)
def test_removed_ray_options_are_refused_naming_the_new_ones(
    options: dict[str, Any], removed: str, replacement: str
) -> None:
    with pytest.raises(
        ValueError, match=re.escape(removed) + ".* was removed from Ray Serve: " + re.escape(replacement)
    ):
        deployment(ray_models.echo, **options)


def test_what_ray_itself_does_with_the_removed_names() -> None:
    """Why the helper refuses them: Ray raises a bare TypeError for one and silently drops the other."""
    with pytest.raises(TypeError):
        serve.deployment(max_concurrent_queries=10)(ray_models.Scaler)
    ignored = serve.deployment(autoscaling_config={"min_replicas": 1, "target_num_ongoing_requests_per_replica": 9})(
        ray_models.Scaler
    )
    assert "target_num_ongoing_requests_per_replica" not in ignored._deployment_config.autoscaling_config.model_dump()


def test_options_reach_the_ray_deployment_as_given() -> None:
    d = deployment(
        ray_models.echo,
        config=ServingConfig(model_id="opts"),
        num_replicas="auto",
        max_ongoing_requests=7,
        max_queued_requests=70,
        ray_actor_options={"num_cpus": 0.5, "memory": 2**30},
        health_check_period_s=3,
        graceful_shutdown_timeout_s=11,  # any other @serve.deployment option passes through
    )
    assert isinstance(d, serve.Deployment) and d.name == "opts"
    assert d.max_ongoing_requests == 7 and d.max_queued_requests == 70
    assert d.ray_actor_options == {"num_cpus": 0.5, "memory": 2**30}
    cfg = d._deployment_config
    assert cfg.health_check_period_s == 3 and cfg.graceful_shutdown_timeout_s == 11
    assert cfg.autoscaling_config is not None  # "auto": Ray's default autoscaling
    scaled = deployment(ray_models.echo, name="custom", autoscaling_config=AUTOSCALING)
    assert scaled.name == "custom"
    assert {k: getattr(scaled._deployment_config.autoscaling_config, k) for k in AUTOSCALING} == AUTOSCALING


def test_the_decorator_form_wraps_a_model_class() -> None:
    made = deployment(config=ServingConfig(model_id="dec"), num_replicas=2, user_config={"factor": 1})(
        ray_models.Scaler
    )
    assert isinstance(made, serve.Deployment) and made.name == "dec" and made.num_replicas == 2
    assert made.user_config == {"factor": 1}


def test_wrong_targets_and_options_are_refused_by_datason() -> None:
    with pytest.raises(TypeError, match="predict function or a model class"):
        deployment(42)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=re.escape("Scaler.infer is not a method")):
        deployment(ray_models.Scaler, method="infer")
    with pytest.raises(ValueError, match="user_config needs a model class with a reconfigure"):
        deployment(ray_models.echo, user_config={"a": 1})
    with pytest.raises(ValueError, match="batch_max_size > 1"):
        deployment(ray_models.Scaler, batching="ray")
    with pytest.raises(ValueError, match='batching must be "toolkit" or "ray"'):
        deployment(ray_models.echo, batching="both")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=re.escape("not a @serve.deployment")):
        deployment(serve.deployment(ray_models.Scaler))
    with pytest.raises(TypeError, match="config must be a ServingConfig"):
        deployment(ray_models.echo, config={"model_id": "x"})  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="log_level must be a logging level name"):
        deployment(ray_models.echo, log_level="LOUD")
    with pytest.raises(ValueError, match="num_replicas"):  # Ray's own check, still raised at definition
        deployment(ray_models.echo, num_replicas=2, autoscaling_config=AUTOSCALING)


def test_without_ray_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.serve", None)
    with pytest.raises(ImportError, match=re.escape('pip install "ray[serve]"')):
        deployment(ray_models.echo)


def test_deployment_health_applies_the_toolkit_rule_to_the_sums() -> None:
    """Two replicas each under the 5xx threshold alone can be over it together, and an unanswered one degrades."""
    config = ServingConfig(model_id="m", degraded_error_rate=0.1, min_requests_for_health=10)

    def replica(name: str, total: int, errors: int, latency: float) -> dict[str, Any]:
        rate = errors / total if total else 0.0
        return {
            "replica": name,
            "status": "healthy",
            "model_id": "m",
            "model_version": "0.0.0",
            "ready": True,
            "total_requests": total,
            "error_count": errors,
            "client_error_count": 1,
            "error_rate": rate,
            "avg_latency_ms": latency,
            "uptime_seconds": float(total),
            "timestamp": "t",
        }

    both = [replica("b", 6, 1, 2.0), replica("a", 6, 1, 4.0)]  # 1/6 each, but 6 < 10 requests: healthy alone
    health = ray_serve._deployment_health(config, both, 0)
    assert (health["status"], health["total_requests"], health["error_count"]) == ("degraded", 12, 2)
    assert (health["client_error_count"], health["avg_latency_ms"], health["uptime_seconds"]) == (2, 3.0, 6.0)
    assert [r["replica"] for r in health["replica_health"]] == ["a", "b"] and "timestamp" not in health[
        "replica_health"
    ][0]
    calm = [replica("a", 30, 1, 1.0), replica("b", 30, 0, 1.0)]
    assert ray_serve._deployment_health(config, calm, 0)["status"] == "healthy"
    assert ray_serve._deployment_health(config, calm, 1)["status"] == "degraded"
    assert ray_serve._deployment_health(config, [], 0) | {"timestamp": ""} == {
        "status": "healthy",
        "model_id": "m",
        "model_version": "0.0.0",
        "ready": False,
        "total_requests": 0,
        "error_count": 0,
        "client_error_count": 0,
        "error_rate": 0.0,
        "avg_latency_ms": 0.0,
        "uptime_seconds": 0.0,
        "timestamp": "",
        "replicas": 0,
        "replicas_unreachable": 0,
        "replica_health": [],
    }


# --- exact types through Ray's proxy ---------------------------------------------------------------------


def _typed_payload() -> dict[str, Any]:
    return {
        "f32": np.array([[0.1, 1 / 3], [3.4028235e38, -0.0]], dtype=np.float32),
        "special32": np.array([np.nan, np.inf, -np.inf, 1.5], dtype=np.float32),
        "i64": np.array([2**53 + 1, -(2**63), 2**63 - 1], dtype=np.int64),
        "cube": np.arange(24, dtype=np.int64).reshape(2, 3, 4),
        "scalar32": np.float32(0.1),
        "frame": pd.DataFrame(
            {
                "t": pd.date_range("2024-03-10 01:00", periods=3, freq="h", tz="America/New_York"),
                "v": np.array([1.5, np.nan, -0.0], dtype=np.float32),
                "s": ["a", "\u00e9", "c"],
            },
            index=pd.Index([10, 20, 30], name="row"),
        ),
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.timezone(datetime.timedelta(hours=5.5))),
        "naive": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "amount": decimal.Decimal("1.10"),
    }


def test_typed_payload_round_trips_exactly(cluster: Cluster) -> None:
    sent = _typed_payload()
    status, _, body = cluster.post("/predict", _typed(sent))
    assert status == 200, body
    got = datason.loads(body)["prediction"]
    for key in ("f32", "special32", "i64", "cube"):
        assert_array_exact(got[key], sent[key])
    assert type(got["scalar32"]) is np.float32 and got["scalar32"] == sent["scalar32"]
    assert_frame_exact(got["frame"], sent["frame"])
    assert str(got["frame"]["t"].dt.tz) == "America/New_York"
    assert got["when"] == sent["when"] and got["when"].utcoffset() == datetime.timedelta(hours=5, minutes=30)
    assert got["naive"] == sent["naive"] and got["naive"].tzinfo is None
    assert type(got["id"]) is uuid.UUID and got["id"] == sent["id"]
    assert type(got["amount"]) is decimal.Decimal and str(got["amount"]) == "1.10"
    strict_json(body)  # NaN and infinities travel as strings, never as bare tokens


def test_plain_payload_stays_plain(cluster: Cluster) -> None:
    body = json.dumps({"features": {"x": [1.5, 2.5], "n": 3, "when": "2024-01-02T03:04:05Z"}}).encode()
    status, _, answer = cluster.post("/predict", body)
    assert status == 200
    assert strict_json(answer)["prediction"] == {"x": [1.5, 2.5], "n": 3, "when": "2024-01-02T03:04:05Z"}
    # the plain service: predict saw lists and strings, and answers without type tags
    status, _, answer = cluster.post("/plain/predict", body, {"X-API-Key": uuid.uuid4().hex})
    seen = strict_json(answer)["prediction"]
    assert status == 200 and seen["type"] == "dict"
    assert seen["items"]["x"] == {
        "type": "list",
        "items": [{"type": "float", "repr": "1.5"}, {"type": "float", "repr": "2.5"}],
    }
    assert seen["items"]["when"] == {"type": "str", "repr": "'2024-01-02T03:04:05Z'"}


def test_typed_request_to_a_plain_service_is_decoded_and_answered_plain(cluster: Cluster) -> None:
    features = {"a": np.array([[1, 2]], dtype=np.int32), "t": datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)}
    status, _, answer = cluster.post("/plain/predict", _typed(features), {"X-API-Key": uuid.uuid4().hex})
    assert status == 200 and b"__datason_type__" not in answer
    seen = strict_json(answer)["prediction"]["items"]
    assert (seen["a"]["type"], seen["a"]["dtype"], seen["a"]["shape"]) == ("ndarray", "int32", [1, 2])
    assert seen["t"] == {
        "type": "datetime",
        "repr": "datetime.datetime(2024, 1, 2, 0, 0, tzinfo=datetime.timezone.utc)",
    }


# --- every protocol ----------------------------------------------------------------------------------------


def test_oip_through_tritonclient_binary_and_json(cluster: Cluster) -> None:
    client = triton.InferenceServerClient(url=f"127.0.0.1:{cluster.port}")
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("echo", "1")
    assert client.get_model_metadata("echo")["name"] == "echo"
    f32 = np.array([[0.1, -0.0, 3.4028235e38], [np.nan, 1e-45, -1.5]], dtype=np.float32)
    i64 = np.array([2**63 - 1, -(2**63), 0], dtype=np.int64)
    words = np.array([b"caf\xc3\xa9", b"\x00\xff"], dtype=np.object_)
    inputs = [triton.InferInput("F", list(f32.shape), "FP32"), triton.InferInput("I", [3], "INT64")]
    inputs.append(triton.InferInput("B", [2], "BYTES"))
    inputs[0].set_data_from_numpy(f32, binary_data=True)
    inputs[1].set_data_from_numpy(i64, binary_data=False)
    inputs[2].set_data_from_numpy(words, binary_data=True)
    outputs = [triton.InferRequestedOutput(n, binary_data=n != "I") for n in ("F", "I", "B")]
    result = client.infer("echo", inputs, outputs=outputs, model_version="1", request_id="triton-7")
    assert_array_exact(result.as_numpy("F"), f32)
    assert_array_exact(result.as_numpy("I"), i64)
    assert result.as_numpy("B").tolist() == words.tolist()
    assert result.get_response()["id"] == "triton-7"
    client.close()


def test_oip_errors_in_the_protocol_body(cluster: Cluster) -> None:
    status, headers, body = cluster.post("/v2/models/other/infer", b'{"inputs": []}')
    assert status == 404 and strict_json(body) == {"error": "unknown model"}
    assert headers["x-request-id"]
    bad = {"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1.0, 2.0]}]}
    status, _, body = cluster.post("/v2/models/echo/infer", json.dumps(bad).encode())
    assert status == 400 and "inputs[0]" in strict_json(body)["error"]


def test_kserve_v1_seldon_and_mlflow_bodies(cluster: Cluster) -> None:
    key = {"X-API-Key": uuid.uuid4().hex}
    status, _, body = cluster.post(
        "/plain/v1/models/describe:predict", kserve_v1.encode_request(np.array([[1, 2], [3, 4]], dtype=np.int64)), key
    )
    seen = strict_json(body)["predictions"]
    assert status == 200 and (seen["type"], seen["dtype"], seen["shape"]) == ("ndarray", "int64", [2, 2])
    key = {"X-API-Key": uuid.uuid4().hex}
    status, _, body = cluster.post("/plain/api/v1.0/predictions", seldon.encode_request(np.array([[0.5, -0.0]])), key)
    assert status == 200 and strict_json(body)["jsonData"]["dtype"] == "float64"
    frame = pd.DataFrame({"a": np.array([1, 2], dtype=np.int64), "b": [0.5, 1.5]}, index=[7, 9])
    key = {"X-API-Key": uuid.uuid4().hex}
    status, _, body = cluster.post("/plain/invocations", mlflow.encode_request(frame), key)
    seen = strict_json(body)["predictions"]
    assert status == 200 and seen["type"] == "DataFrame"
    assert (seen["columns"], seen["dtypes"], seen["index"]) == (["a", "b"], ["int64", "float64"], ["7", "9"])


# --- errors, limits, request ids ------------------------------------------------------------------------------


def test_every_error_status_keeps_the_envelope(cluster: Cluster) -> None:
    status, headers, body = cluster.post("/predict", b'{"features": [1, 2', {"X-Request-ID": "bad-json"})
    assert _envelope(status, headers, body, 400, r"invalid JSON: .*")["request_id"] == "bad-json"
    status, headers, body = cluster.post("/predict", b'{"features": "' + b"x" * 20_000 + b'"}')
    _envelope(status, headers, body, 413, r"body larger than max_body_bytes=16384")
    status, headers, body = cluster.post("/predict", b'{"nothing": 1}')
    _envelope(status, headers, body, 422, r"required field is missing at \$\.features")
    deep: Any = 1
    for _ in range(14):
        deep = [deep]
    status, headers, body = cluster.post("/predict", json.dumps({"features": deep}).encode())
    _envelope(status, headers, body, 422, r".*max_depth.*")
    status, headers, body = cluster.post("/predict", b'{"features": 1}', {"Content-Encoding": "br"})
    _envelope(status, headers, body, 415, r"unsupported Content-Encoding.*")
    status, headers, body = cluster.get("/no/such/route")
    _envelope(status, headers, body, 404, r"no such route")
    status, headers, body = cluster.get("/predict")
    _envelope(status, headers, body, 405, r"method not allowed")
    assert headers["allow"] == "POST"
    status, headers, body = cluster.post("/predict", _typed({"explode": True}), {"X-Request-ID": "boom-1"})
    doc = _envelope(status, headers, body, 500, re.escape("prediction failed (ZeroDivisionError)"))
    assert doc["request_id"] == "boom-1" and b"Traceback" not in body and b".py" not in body


def test_a_streamed_body_past_the_cap_is_413(cluster: Cluster) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", cluster.port, timeout=60)
    chunks = iter([b'{"features": "', *([b"y" * 4096] * 5), b'"}'])
    conn.request("POST", "/predict", body=chunks, headers={"Content-Type": "application/json"}, encode_chunked=True)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    _envelope(response.status, {k.lower(): v for k, v in response.getheaders()}, body, 413, r"body larger.*")


def test_rate_limit_429_with_retry_after(cluster: Cluster) -> None:
    key = {"X-API-Key": "rate-limit-" + uuid.uuid4().hex}
    statuses = [cluster.post("/plain/predict", b'{"features": 1}', key)[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    status, headers, body = cluster.post("/plain/predict", b'{"features": 1}', key)
    _envelope(status, headers, body, 429, r"rate limit exceeded; retry after \d+ s")
    assert 1 <= int(headers["retry-after"]) <= 60
    assert cluster.post("/plain/predict", b'{"features": 1}', {"X-API-Key": uuid.uuid4().hex})[0] == 200


def test_request_ids_come_back_once(cluster: Cluster) -> None:
    """Ray's proxy adds X-Request-ID itself: the response carries the id once, equal to the body's."""
    status, headers, body = cluster.request("POST", "/predict", b'{"features": 1}', {"X-Request-ID": "order-42.a:b_c"})
    assert status == 200 and [v for k, v in headers if k == "x-request-id"] == ["order-42.a:b_c"]
    assert strict_json(body)["request_id"] == "order-42.a:b_c"
    status, headers, body = cluster.request("POST", "/predict", b'{"features": 1}')
    ids = [v for k, v in headers if k == "x-request-id"]
    assert status == 200 and len(ids) == 1 and ids[0] == strict_json(body)["request_id"]
    for path in ("/health", "/metrics", "/ready", "/no/such/route"):
        _, headers, _ = cluster.request("GET", path, None, {"X-Request-ID": "probe-1"})
        assert [v for k, v in headers if k == "x-request-id"] == ["probe-1"], path
    # an id the toolkit refuses is replaced (body and header); Ray's proxy still echoes the client's own
    status, headers, body = cluster.request("POST", "/predict", b'{"features": 1}', {"X-Request-ID": "bad id!"})
    new = strict_json(body)["request_id"]
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", new)
    assert sorted(v for k, v in headers if k == "x-request-id") == sorted([new, "bad id!"])


def test_request_lines_reach_the_replica_logs(cluster: Cluster) -> None:
    """log_level="INFO" (the default): the toolkit's JSON line per request, in the replica's stderr log."""
    rid = "log-" + uuid.uuid4().hex
    assert cluster.post("/predict", _typed({"explode": 1}), {"X-Request-ID": rid})[0] == 500
    assert cluster.post("/predict", b'{"features": 1}', {"X-Request-ID": rid + "-ok"})[0] == 200
    lines: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 20
    while len(lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.3)
        for path in cluster.logs.glob("worker-*.err"):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{") and rid in line:
                    record = json.loads(line)
                    lines[record["request_id"]] = record
    failed, ok = lines[rid], lines[rid + "-ok"]
    assert (failed["status"], failed["error_kind"], failed["path"]) == (500, "predict", "/predict")
    assert failed["error"] == "prediction failed (ZeroDivisionError)" and failed["model_id"] == "echo"
    assert (ok["status"], ok["method"], ok["client"]) == (200, "POST", "127.0.0.1")


# --- replicas, health, metrics --------------------------------------------------------------------------------


def test_two_replicas_answer(cluster: Cluster) -> None:
    pids = _replica_pids("main", "echo")
    assert len(pids) == 2
    status = serve.status().applications["main"].deployments["echo"]
    assert status.replica_states.get("RUNNING") == 2
    body = _typed({"whoami": True})
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: cluster.post("/predict", body), range(48)))
    seen = {datason.loads(a[2])["prediction"]["pid"] for a in answers if a[0] == 200}
    assert seen == set(pids.values())


def _health(cluster: Cluster, path: str = "/health") -> dict[str, Any]:
    status, headers, body = cluster.get(path)
    assert status == 200 and headers["content-type"] == "application/json"
    doc: dict[str, Any] = strict_json(body)
    return doc


def test_health_sums_every_replica(cluster: Cluster) -> None:
    before = _health(cluster)
    ok, client_errors, server_errors = 9, 2, 1
    for i in range(ok):
        assert cluster.post("/predict", _typed({"i": i}))[0] == 200
    for _ in range(client_errors):
        assert cluster.post("/predict", b"{}")[0] == 422
    assert cluster.post("/predict", _typed({"explode": 1}))[0] == 500
    after = _health(cluster)
    assert after["replicas"] == 2 and after["replicas_unreachable"] == 0 and after["ready"] is True
    assert {r["replica"] for r in after["replica_health"]} == set(_replica_pids("main", "echo"))
    assert after["total_requests"] - before["total_requests"] == ok + client_errors + server_errors
    assert after["client_error_count"] - before["client_error_count"] == client_errors
    assert after["error_count"] - before["error_count"] == server_errors
    for key in ("total_requests", "error_count", "client_error_count"):
        assert after[key] == sum(r[key] for r in after["replica_health"])
    assert after["error_rate"] == round(after["error_count"] / after["total_requests"], 6)
    assert after["model_id"] == "echo" and after["model_version"] == "1"
    # each replica's own /ready still answers for itself
    status, _, body = cluster.get("/ready")
    assert status == 200 and strict_json(body)["ready"] is True


def test_metrics_from_every_replica(cluster: Cluster) -> None:
    status, headers, text = cluster.get("/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    labels = {"model_id": "echo", "protocol": "datason"}
    ok_before = _samples(text.decode(), "ml_prediction_requests_total", status="success", **labels)
    bad_before = _samples(text.decode(), "ml_prediction_errors_total", kind="validation", **labels)
    replicas = set(_replica_pids("main", "echo"))
    assert set(ok_before) == set(bad_before) == replicas
    for i in range(10):
        assert cluster.post("/predict", _typed({"i": i}))[0] == 200
    for _ in range(3):
        assert cluster.post("/predict", b'{"x": 1}')[0] == 422
    text2 = cluster.get("/metrics")[2].decode()
    ok_after = _samples(text2, "ml_prediction_requests_total", status="success", **labels)
    bad_after = _samples(text2, "ml_prediction_errors_total", kind="validation", **labels)
    assert sum(ok_after.values()) - sum(ok_before.values()) == 10
    assert sum(bad_after.values()) - sum(bad_before.values()) == 3
    count = _samples(text2, "ml_prediction_latency_seconds_count", **labels)
    errors = _samples(text2, "ml_prediction_requests_total", status="error", **labels)
    assert count == {r: ok_after[r] + errors[r] for r in replicas}
    assert _samples(text2, "ml_active_models") == dict.fromkeys(replicas, 1.0)


def test_access_control_holds_behind_rays_proxy(cluster: Cluster) -> None:
    """Keys are checked by every replica; the deployment-wide /metrics needs the metrics scope, /health is open."""
    body = json.dumps({"features": {"x": 1}}).encode()
    status, headers, answer = cluster.post("/locked/predict", body)
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert strict_json(answer)["error"] == "authentication required"
    assert cluster.post("/locked/predict", body, {"X-API-Key": METRICS_KEY})[0] == 403
    status, _, answer = cluster.post("/locked/predict", body, {"X-API-Key": PREDICT_KEY})
    assert status == 200 and "prediction" in strict_json(answer)
    status, headers, answer = cluster.get("/locked/metrics")
    assert status == 401 and headers["www-authenticate"].startswith("Bearer") and b"ml_prediction" not in answer
    status, _, answer = cluster.get("/locked/metrics", {"X-API-Key": PREDICT_KEY})
    assert status == 403 and b"ml_prediction" not in answer
    status, _, answer = cluster.get("/locked/metrics", {"Authorization": f"Bearer {METRICS_KEY}"})
    assert status == 200 and b"ml_prediction_requests_total" in answer
    assert cluster.get("/locked/health")[0] == 200
    assert PREDICT_KEY.encode() not in answer and METRICS_KEY.encode() not in answer


# --- a model class, @serve.batch, user_config, autoscaling ------------------------------------------------


def test_model_class_batched_by_serve_batch_and_reconfigured(cluster: Cluster) -> None:
    def call(i: int) -> dict[str, Any]:
        status, _, body = cluster.post("/cls/predict", json.dumps({"features": {"x": [i, 0.5]}}).encode())
        assert status == 200, body
        prediction: dict[str, Any] = strict_json(body)["prediction"]
        return prediction

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(call, range(24)))
    assert [a["scaled"] for a in answers] == [[i * 3.0, 1.5] for i in range(24)]  # user_config's factor, not bind's
    assert all(a["loads"] == 1 and a["reconfigured"] == 1 for a in answers)  # loaded once per replica
    assert max(a["batch_size"] for a in answers) > 1 and all(a["batch_size"] <= 8 for a in answers)
    assert {a["pid"] for a in answers} <= set(_replica_pids("cls", "scaler").values())


def test_autoscaling_options_reach_ray(cluster: Cluster) -> None:
    config = _details("cls")["deployments"]["scaler"]["deployment_config"]
    assert {k: config["autoscaling_config"][k] for k in AUTOSCALING} == AUTOSCALING
    assert (config["max_ongoing_requests"], config["max_queued_requests"]) == (16, 100)
    assert config["user_config"] == {"factor": 3.0} and config["ray_actor_options"]["num_cpus"] == 0
    assert _details("cls")["deployments"]["scaler"]["target_num_replicas"] == 2  # initial_replicas
    assert serve.status().applications["cls"].deployments["scaler"].replica_states.get("RUNNING") == 2
    assert _health(cluster, "/cls/health")["replicas"] == 2


def test_route_prefix_keeps_datason_answers(cluster: Cluster) -> None:
    status, headers, body = cluster.get("/cls/no/such/route")
    _envelope(status, headers, body, 404, "no such route")
    status, _, body = cluster.get("/cls/openapi.json")
    assert status == 200 and "/predict" in strict_json(body)["paths"]


def test_a_degraded_replica_is_replaced_through_check_health(cluster: Cluster) -> None:
    (old_pid,) = _replica_pids("fragile", "fragile").values()
    status, headers, body = cluster.post("/fragile/predict", b'{"features": "fail"}')
    _envelope(status, headers, body, 500, re.escape("prediction failed (RuntimeError)"))
    assert b"must not reach" not in body
    deadline = time.monotonic() + 60
    new_pid = old_pid
    while time.monotonic() < deadline:
        status, _, body = cluster.post("/fragile/predict", b'{"features": "who"}')
        if status == 200:
            new_pid = strict_json(body)["prediction"]["pid"]
            if new_pid != old_pid:
                break
        time.sleep(0.5)
    assert new_pid != old_pid, "Ray did not replace the degraded replica"
    health = _health(cluster, "/fragile/health")
    assert health["status"] == "healthy" and health["error_count"] == 0 and health["replicas"] == 1


# --- the examples, the docs, the generated config ---------------------------------------------------------


def _example(name: str) -> types.ModuleType:
    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(EXAMPLES))


def test_basic_example_runs(cluster: Cluster) -> None:
    answer = _example("ray_serve_basic").main(cluster.port)
    x = np.array([[1.0, 2.0], [3.0, 5.0]], dtype=np.float32)
    assert_array_exact(answer["prediction"]["scaled"], (x - x.min()) / (x.max() - x.min()))
    assert type(answer["prediction"]["mean"]) is np.float64 and answer["prediction"]["mean"] == 2.75


def test_production_example_runs(cluster: Cluster) -> None:
    out = _example("ray_serve_production").main(cluster.port)
    assert out["status"] == 200 and out["request_id"] == "order-42"
    assert out["prediction"]["request_id"] == "order-42" and out["prediction"]["model_version"] == "1.0.0"
    assert out["prediction"]["prediction"]["label"] == "setosa"
    assert abs(sum(out["prediction"]["prediction"]["probabilities"]) - 1.0) < 1e-12
    status, refused = out["refused"]
    assert (
        status == 422 and refused["error"] == "does not match the schema (exclusiveMinimum=0) at $.features.petal_width"
    )
    replicas = _replica_pids("iris", "iris")
    assert out["health"]["replicas"] == len(replicas) == 2 and out["health"]["total_requests"] == 2
    assert set(_samples(out["metrics"], "ml_prediction_requests_total", status="success", protocol="datason")) == set(
        replicas
    )


def _doc_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(), re.S | re.M)


def test_docs_python_blocks_run(cluster: Cluster) -> None:
    blocks = _doc_blocks()
    assert len(blocks) >= 2
    # not in sys.modules: Ray pickles the blocks' functions and classes by value, as for a script's __main__
    namespace: dict[str, Any] = {"__name__": "ray_serve_doc"}
    for i, code in enumerate(blocks):  # the docs use Serve's default port 8000; this cluster's is free-picked
        code = code.replace("127.0.0.1:8000", f"127.0.0.1:{cluster.port}")
        exec(compile(code, f"{DOC.name}#{i}", "exec"), namespace)


def test_generated_config_is_current_and_valid(tmp_path: pathlib.Path) -> None:
    """examples/ray_serve_config.yaml is what `serve build` writes today, and it carries the app's options."""
    out = tmp_path / "config.yaml"
    serve_cli = pathlib.Path(sys.executable).with_name("serve")
    cmd = [str(serve_cli), "build", "ray_serve_production:app", "-d", "examples", "-o", str(out)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, timeout=120)
    checked_in = (EXAMPLES / "ray_serve_config.yaml").read_text()
    assert out.read_text() == checked_in, "regenerate it: " + " ".join(cmd[1:-1]) + " examples/ray_serve_config.yaml"
    schema = ServeDeploySchema.model_validate(yaml.safe_load(checked_in))
    (application,) = schema.applications
    assert application.import_path == "ray_serve_production:app" and application.route_prefix == "/"
    (spec,) = application.deployments
    production = _example("ray_serve_production")
    assert spec.name == production.CONFIG.model_id
    assert spec.autoscaling_config == production.AUTOSCALING
    assert spec.ray_actor_options.model_dump(exclude_unset=True) == production.RAY_ACTOR_OPTIONS
    assert spec.user_config == production.USER_CONFIG
    assert (spec.max_ongoing_requests, spec.max_queued_requests, spec.health_check_period_s) == (32, 256, 5)
    options = production.Iris._deployment_config  # the Deployment object the decorator made
    assert options.max_ongoing_requests == spec.max_ongoing_requests
    assert options.autoscaling_config.model_dump(exclude_unset=True) == spec.autoscaling_config
