"""Several models and versions over real HTTP: `datason serve --model ...` (and --models-file) in its own
process group on a loopback port. Every protocol route addresses a version (path or X-Model-Version), an
unknown model or version is a 404 in the protocol's error body, responses say which version answered, /health
and /metrics count per version, and /v2 and /v1 metadata list models and versions."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.test_serving_http import Server, metric_values

APPS = "tests.serving.apps.versions"
OIP = {"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [1.5, 2.5]}]}
# (path, body) of each protocol's prediction route for the default model ("iris")
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("datason", "/predict", {"features": {"x": 1}}),
    ("oip", "/v2/models/iris/infer", OIP),
    ("kserve_v1", "/v1/models/iris:predict", {"instances": [[1, 2]]}),
    ("seldon", "/api/v1.0/predictions", {"data": {"ndarray": [[1, 2]]}}),
    ("mlflow", "/invocations", {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}),
]


def five_sigma(n: int, p: float) -> float:
    """Half-width of the 5-sigma band of a binomial(n, p) count (a false alarm about once in 1.7 million)."""
    return 5 * math.sqrt(n * p * (1 - p))


def version_of(protocol: str, response: httpx.Response) -> str:
    """Which predict function answered, read from the protocol's own body (each echoes ``{"version": ...}``)."""
    body = response.json()
    if protocol == "datason":
        return str(body["prediction"]["version"])
    if protocol == "oip":
        (output,) = [o for o in body["outputs"] if o["name"] == "version"]
        return str(output["data"][0])
    if protocol == "seldon":
        return str(body["jsonData"]["version"])
    return str(body["predictions"]["version"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("versions"),
        f"--model=iris:1={APPS}:v1",
        "--model",
        f"iris:2={APPS}:v2",
        "--model",
        f"wine:7={APPS}:v2",
        "--traffic",
        "iris=1:90,2:10",
    ).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def test_unpinned_split_follows_the_weights_within_five_sigma(client: httpx.Client) -> None:
    n = 3000
    counts = {"v1": 0, "v2": 0}
    for _ in range(n):
        r = client.post("/predict", json={"features": {"x": 1}})
        assert r.status_code == 200
        answered = r.json()["prediction"]["version"]
        counts[answered] += 1
        # the envelope and the header name the version that answered
        assert r.json()["model_version"] == r.headers["x-model-version"] == {"v1": "1", "v2": "2"}[answered]
    assert abs(counts["v2"] - 0.1 * n) <= five_sigma(n, 0.1), counts
    assert counts["v1"] + counts["v2"] == n


@pytest.mark.parametrize(("protocol", "path", "body"), ROUTES, ids=[r[0] for r in ROUTES])
def test_header_pins_the_version_on_every_protocol_route(
    client: httpx.Client, protocol: str, path: str, body: dict[str, Any]
) -> None:
    for version, fn in (("2", "v2"), ("1", "v1")):
        for _ in range(20):  # 10% of unpinned requests go to 2, 90% to 1: a pin must win every time
            r = client.post(path, json=body, headers={"X-Model-Version": version})
            assert r.status_code == 200, r.text
            assert r.headers["x-model-version"] == version
            assert version_of(protocol, r) == fn
    if protocol == "oip":
        assert r.json()["model_name"] == "iris" and r.json()["model_version"] == "1"


def test_path_pins_the_version_and_wins_over_the_header(client: httpx.Client) -> None:
    for _ in range(20):
        r = client.post("/v2/models/iris/versions/2/infer", json=OIP, headers={"X-Model-Version": "1"})
        assert r.status_code == 200 and r.json()["model_version"] == "2" and r.headers["x-model-version"] == "2"
        assert version_of("oip", r) == "v2"
    echoed = next(o for o in r.json()["outputs"] if o["name"] == "echo")
    assert echoed["data"] == [1.5, 2.5] and echoed["datatype"] == "FP64"


def assert_protocol_404(protocol: str, r: httpx.Response, message: str) -> None:
    assert r.status_code == 404, r.text
    body = r.json()
    if protocol == "datason":
        assert body["status"] == "error" and body["error"] == message
        assert body["request_id"] == r.headers["x-request-id"]
    elif protocol == "seldon":
        assert body["status"]["code"] == 404 and body["status"]["info"] == message
    elif protocol == "mlflow":
        assert body["message"] == message and body["error_code"]
    else:
        assert body == {"error": message}


@pytest.mark.parametrize(("protocol", "path", "body"), ROUTES, ids=[r[0] for r in ROUTES])
def test_unknown_version_is_404_in_the_protocol_error_body(
    client: httpx.Client, protocol: str, path: str, body: dict[str, Any]
) -> None:
    r = client.post(path, json=body, headers={"X-Model-Version": "9"})
    assert_protocol_404(protocol, r, "unknown model version")


def test_unknown_version_and_model_in_paths(client: httpx.Client) -> None:
    assert_protocol_404("oip", client.post("/v2/models/iris/versions/9/infer", json=OIP), "unknown model version")
    assert_protocol_404("oip", client.post("/v2/models/nope/infer", json=OIP), "unknown model")
    assert_protocol_404("kserve_v1", client.post("/v1/models/nope:predict", json={"instances": [1]}), "unknown model")
    r = client.post("/predict", json={"features": {}}, headers={"X-Model-Name": "nope"})
    assert_protocol_404("datason", r, "unknown model")
    assert_protocol_404("oip", client.get("/v2/models/iris/versions/9"), "unknown model version")
    assert_protocol_404("oip", client.get("/v2/models/nope/ready"), "unknown model")


def test_second_model_by_name_header_and_path(client: httpx.Client) -> None:
    r = client.post("/predict", json={"features": {"x": 1}}, headers={"X-Model-Name": "wine"})
    assert r.status_code == 200 and r.json()["model_version"] == "7" and r.headers["x-model-version"] == "7"
    r = client.post("/v2/models/wine/infer", json=OIP)
    assert r.status_code == 200 and r.json()["model_name"] == "wine" and r.json()["model_version"] == "7"
    r = client.post("/invocations", json=ROUTES[4][2], headers={"X-Model-Name": "wine"})
    assert r.status_code == 200 and r.headers["x-model-version"] == "7"


def test_metadata_and_readiness_list_models_and_versions(client: httpx.Client) -> None:
    assert client.get("/v1/models").json() == {"models": ["iris", "wine"]}
    meta = client.get("/v2/models/iris").json()
    assert meta["name"] == "iris" and meta["versions"] == ["1", "2"]
    assert client.get("/v2/models/iris/versions/2").json()["versions"] == ["2"]
    for path in ("/v2/models/iris/ready", "/v2/models/iris/versions/1/ready", "/v1/models/wine", "/v2/health/ready"):
        r = client.get(path)
        assert r.status_code == 200 and r.json()["ready"] is True, path
    ready = client.get("/ready").json()
    assert ready["ready"] is True and ready["models"] == {"iris": {"1": True, "2": True}, "wine": {"7": True}}
    assert client.get("/ping").status_code == 200


def test_health_and_metrics_count_each_version(server: Server) -> None:
    # a fresh model name per count would need a fresh server: count deltas on wine, which only this test predicts
    with httpx.Client(base_url=server.url, timeout=30) as c:
        before = {e["model_version"]: e["total_requests"] for e in c.get("/health").json()["models"]}
        for _ in range(5):
            assert c.post("/predict", json={"features": {"x": 1}}, headers={"X-Model-Name": "wine"}).status_code == 200
        bad = {"X-Model-Name": "wine", "content-type": "application/json"}
        r = c.post("/predict", content=b"{not json", headers=bad)
        assert r.status_code == 400
        health = c.get("/health").json()
        entries = {(e["model_id"], e["model_version"]): e for e in health["models"]}
        assert set(entries) == {("iris", "1"), ("iris", "2"), ("wine", "7")}
        wine = entries["wine", "7"]
        assert wine["total_requests"] - before["7"] == 6 and wine["client_error_count"] >= 1
        assert entries["iris", "1"]["weight"] == 0.9 and entries["iris", "2"]["weight"] == 0.1
        assert wine["weight"] == 1.0 and not any(e["shadow"] for e in entries.values())
        metrics = metric_values(c.get("/metrics").text)
    key = frozenset({("model_id", "wine"), ("model_version", "7"), ("protocol", "datason"), ("status", "success")})
    assert metrics["ml_prediction_requests_total", key] >= 5
    bad = frozenset({("model_id", "wine"), ("model_version", "7"), ("protocol", "datason"), ("kind", "malformed")})
    assert metrics["ml_prediction_errors_total", bad] >= 1
    assert metrics["ml_active_models", frozenset()] == 3  # one per version started
    by_version = {
        dict(labels)["model_version"]: value
        for (name, labels), value in metrics.items()
        if name == "ml_prediction_requests_total" and dict(labels)["model_id"] == "iris"
    }
    assert set(by_version) == {"1", "2"}
    health_iris = {v: entries["iris", v]["total_requests"] for v in ("1", "2")}
    totals = {
        v: sum(
            value
            for (name, labels), value in metrics.items()
            if name == "ml_prediction_requests_total"
            and dict(labels)["model_id"] == "iris"
            and dict(labels)["model_version"] == v
        )
        for v in ("1", "2")
    }
    assert totals == {v: float(n) for v, n in health_iris.items()}


def test_openapi_lists_admin_route_and_version_headers(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    assert set(doc["paths"]["/admin/models/{name}/traffic"]) == {"get", "put"}
    put = doc["paths"]["/admin/models/{name}/traffic"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/TrafficPolicy")
    predict = doc["paths"]["/predict"]["post"]
    assert {p["name"] for p in predict["parameters"]} == {"X-Model-Name", "X-Model-Version"}
    assert "X-Model-Version" in predict["responses"]["200"]["headers"]
    assert "models: iris, wine" in doc["info"]["description"]
    pinned = doc["paths"]["/v2/models/{name}/versions/{version}/infer"]["post"]
    assert {p["name"] for p in pinned["parameters"]} == {"name", "version"}
