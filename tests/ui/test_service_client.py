"""The HTTP client the dashboard and the Gradio demo share, against real datason services on loopback.

The client reads the reference service (examples/demo.py, the iris model) and services started here in this
process (uvicorn in a thread, real sockets) for what the demo does not offer: several model versions and a
pydantic input schema. Schemas written here check ``form_fields`` on every shape either UI relied on
(pydantic's optional fields, ``type`` lists, enums and ``const``, ``$ref`` chains and recursive refs,
examples and defaults, bounds, JSON fields); ``form_features`` and ``request_features`` turn what a form or a
text holds back into features. test_dashboard_page.py imports ``InProcessService`` and
``running_services`` from here.
"""

from __future__ import annotations

import http.server
import json
import math
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import pydantic
import pytest
from examples.demo import EXAMPLE, FEATURES, INVALID

import datason
from datason.errors import DeserializationError
from datason.integrations.service_client import (
    FormField,
    MetricsSnapshot,
    ServiceClient,
    ServiceError,
    ServiceResponseError,
    ServiceUnreachableError,
    form_features,
    form_fields,
    request_features,
)

VIRGINICA = {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}


# --- services started here ---------------------------------------------------------------------------------------
class InProcessService:
    """A datason app served by uvicorn in a thread on a free loopback port."""

    def __init__(self, app: Any, port: int = 0) -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        client = ServiceClient(self.url, timeout=2)
        for _ in range(400):
            try:
                client.health()
                return
            except ServiceUnreachableError:
                threading.Event().wait(0.05)
        raise AssertionError(f"in-process service at {self.url} never answered")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()


class Flower(pydantic.BaseModel):
    petal_length: float = pydantic.Field(gt=0, le=30, description="in cm")
    petals: int = pydantic.Field(default=5, ge=1)
    colour: Literal["white", "blue"] = "white"
    scented: bool = False
    note: str | None = None
    sizes: list[float] | None = None


def running_services() -> Iterator[list[InProcessService]]:
    """Two versions of one model, one service each (as the toolkit serves them), and a pydantic-schema one."""
    from datason.serving import ServingConfig, create_app

    schema = {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    services = []
    try:
        for version in ("1.0.0", "2.0.0"):
            app = create_app(
                lambda f, v=version: {"sum": f["a"] + f["b"], "by": v},
                config=ServingConfig(model_id="adder", model_version=version),
                schema=schema,
            )
            services.append(InProcessService(app))
        flower = create_app(
            lambda f: {"petals": f.petals, "sizes": f.sizes},
            config=ServingConfig(model_id="flower", model_version="3"),
            schema=Flower,
        )
        services.append(InProcessService(flower))
        yield services
    finally:
        for service in services:
            service.stop()


@pytest.fixture(scope="module", name="versions")
def versions_fixture() -> Iterator[list[InProcessService]]:
    yield from running_services()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed


# --- reading and predicting --------------------------------------------------------------------------------------
def test_client_reads_health_schema_and_versions(reference_service: Any) -> None:
    client = ServiceClient(reference_service.url)
    health = client.health()
    assert health["model_id"] == "iris" and health["model_version"] == "1.0.0" and health["ready"] is True
    document = client.openapi()
    assert document["info"]["title"] == "iris (datason model service)"
    fields = form_fields(client.features_schema(document))
    assert fields is not None and [f.name for f in fields] == list(FEATURES)
    for field in fields:
        assert field.kind == "number" and field.required and field.description == f"{field.name} in cm"
        assert (field.minimum, field.exclusive_minimum, field.maximum, field.exclusive_maximum) == (0, True, 30, False)
        assert field.example == 1.0 and field.default is None
    assert client.predict({f.name: f.example for f in fields}).ok  # the examples a form starts with are valid
    assert client.versions("iris") == ["1.0.0"]


def test_client_predictions_are_typed_and_move_the_metrics(reference_service: Any) -> None:
    client = ServiceClient(reference_service.url, request_prefix="test-")
    before = client.metrics()
    ok = client.predict(EXAMPLE, request_id="dash-test-1")
    assert ok.ok and ok.status == 200 and ok.request_id == "dash-test-1" and ok.model_version == "1.0.0"
    assert ok.prediction["species"] == "setosa"
    assert type(ok.prediction["class_index"]) is np.int64  # the typed answer: NumPy types as predict made them
    assert all(type(p) is np.float64 for p in ok.prediction["probabilities"].values())
    assert ok.processing_time_ms is not None and ok.processing_time_ms > 0 and ok.round_trip_ms > 0
    assert ok.response["request_id"] == "dash-test-1" and ok.response["prediction"] is ok.prediction
    assert type(ok.response["processing_time_ms"]) is float and "timestamp" in ok.response  # the whole answer
    fresh = client.predict(VIRGINICA)
    assert fresh.prediction["species"] == "virginica"
    assert re.fullmatch(r"test-[0-9a-f]{16}", fresh.request_id) and fresh.request_id != ok.request_id
    refused = client.predict(INVALID)
    assert refused.status == 422 and not refused.ok and refused.prediction is None
    assert refused.error == 'does not match the schema (type="number") at $.features.petal_width'
    assert refused.response["status"] == "error" and refused.response["error"] == refused.error
    assert re.fullmatch(r"test-[0-9a-f]{16}", refused.request_id)
    after = client.metrics()
    assert after.total == before.total + 3 and after.success == before.success + 2 and after.error == before.error + 1
    assert after.errors_by_kind["validation"] == before.errors_by_kind.get("validation", 0) + 1
    assert after.latency_count == before.latency_count + 3 and after.latency_sum > before.latency_sum
    window = after.since(before)
    assert (window.total, window.error, window.latency_count) == (3, 1, 3)
    assert window.average_ms is not None and window.average_ms > 0
    p95 = window.quantile_ms(0.95)
    bounds = [b for b, _ in after.buckets]
    assert p95 is not None and 0 < p95 <= 1000 * max(b for b in bounds if math.isfinite(b))
    assert after.error_rate == pytest.approx(after.error / after.total)


def test_client_talks_to_the_service_not_to_a_proxy(reference_service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as trap:  # a proxy that would never answer
        trap.bind(("127.0.0.1", 0))
        trap.listen(4)
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{trap.getsockname()[1]}")
        client = ServiceClient(reference_service.url, timeout=5)
        assert client.health()["model_id"] == "iris"
        assert client.predict(EXAMPLE).prediction["species"] == "setosa"
        trap.setblocking(False)
        with pytest.raises(BlockingIOError):
            trap.accept()  # nobody connected to it


def test_quantile_is_prometheus_histogram_quantile() -> None:
    snap = MetricsSnapshot(at=0.0, buckets=((0.001, 10.0), (0.01, 60.0), (0.1, 100.0), (math.inf, 100.0)))
    assert snap.quantile_ms(0.95) == pytest.approx(1000 * (0.01 + 0.09 * 35 / 40))  # rank 95 in (0.01, 0.1]
    assert snap.quantile_ms(0.05) == pytest.approx(1000 * 0.001 * 5 / 10)  # the first bucket starts at 0
    assert snap.quantile_ms(0.6) == pytest.approx(10.0)  # a rank on a bound: that bound
    high = MetricsSnapshot(at=0.0, buckets=((0.1, 5.0), (math.inf, 100.0)))
    assert high.quantile_ms(0.95) == pytest.approx(100.0)  # in +Inf: the largest finite bound, as Prometheus
    assert MetricsSnapshot(at=0.0).quantile_ms(0.95) is None and MetricsSnapshot(at=0.0).average_ms is None
    with pytest.raises(ValueError, match=r"within \[0, 1\]"):
        snap.quantile_ms(95)
    later = MetricsSnapshot(at=1.0, success=12, buckets=((0.001, 11.0), (0.01, 61.0), (0.1, 102.0), (math.inf, 102.0)))
    assert later.since(MetricsSnapshot(at=0.0, success=10, buckets=snap.buckets)).buckets == (
        (0.001, 1.0),
        (0.01, 1.0),
        (0.1, 2.0),
        (math.inf, 2.0),
    )
    restarted = MetricsSnapshot(at=2.0, success=1)
    assert restarted.since(later) is restarted  # a restart counts from zero, never negative


# --- errors --------------------------------------------------------------------------------------------------------
class NotDatason(http.server.BaseHTTPRequestHandler):
    """Answers /health with JSON that is not a health document, /openapi.json with an error envelope, else 404."""

    def do_GET(self) -> None:
        if self.path == "/health":
            status, body = 200, b'{"hello": "world"}'
        elif self.path == "/openapi.json":
            status, body = 503, b'{"status": "error", "error": "model is loading"}'
        else:
            status, body = 404, b"nope"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_client_errors_are_one_line_value_errors() -> None:
    url = closed_port_url()
    with pytest.raises(ServiceUnreachableError, match=rf"^cannot reach the datason service at {url} \(.*refused"):
        ServiceClient(url).health()
    with pytest.raises(ServiceUnreachableError, match=r"must start with http:// or https://"):
        ServiceClient("127.0.0.1:8000")
    assert issubclass(ServiceUnreachableError, ServiceError) and issubclass(ServiceResponseError, ServiceError)
    assert issubclass(ServiceError, datason.DatasonError) and issubclass(ServiceError, ValueError)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotDatason)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        other = ServiceClient(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(ServiceResponseError, match=r"/health is not a datason service's health document$"):
            other.health()
        with pytest.raises(ServiceResponseError, match=r"/metrics answered HTTP 404$") as caught:
            other.metrics()
        assert caught.value.status == 404
        with pytest.raises(ServiceResponseError, match=r"/openapi\.json answered HTTP 503: model is loading$"):
            other.openapi()  # the service's own message, from its error envelope
        assert other.versions("iris") == []
    finally:
        server.shutdown()
        server.server_close()


def test_a_service_that_does_not_answer_in_time() -> None:
    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = ServiceClient(url, timeout=0.5)
        with pytest.raises(ServiceUnreachableError) as caught:
            client.predict({"x": 1})
        assert str(caught.value) == f"the datason service at {url} did not answer within 0.5 s"
        with pytest.raises(ServiceUnreachableError, match=r"did not answer within 0\.5 s$"):
            client.openapi()


# --- schemas and forms ---------------------------------------------------------------------------------------------
def test_form_fields_from_a_pydantic_schema(versions: list[InProcessService]) -> None:
    client = ServiceClient(versions[2].url)
    fields = {f.name: f for f in form_fields(client.features_schema()) or []}
    assert list(fields) == ["petal_length", "petals", "colour", "scented", "note", "sizes"]
    length = fields["petal_length"]
    assert (length.kind, length.required, length.minimum, length.exclusive_minimum, length.maximum) == (
        "number",
        True,
        0,
        True,
        30,
    )
    assert length.example == pytest.approx(1.0) and length.description == "in cm"
    assert (fields["petals"].kind, fields["petals"].example, fields["petals"].required) == ("integer", 5, False)
    assert fields["petals"].default == 5 and fields["petals"].minimum == 1
    assert (fields["colour"].kind, fields["colour"].options, fields["colour"].example) == (
        "enum",
        ("white", "blue"),
        "white",
    )
    assert (fields["scented"].kind, fields["note"].kind, fields["note"].required) == ("boolean", "string", False)
    assert (fields["sizes"].kind, fields["sizes"].example, fields["sizes"].required) == ("json", [], False)
    form = {"petal_length": 2.0, "petals": 6.0, "colour": "blue", "scented": True, "note": "", "sizes": "[1.5, 2]"}
    features = form_features(list(fields.values()), form)
    assert features == {"petal_length": 2.0, "petals": 6, "colour": "blue", "scented": True, "sizes": [1.5, 2]}
    assert type(features["petals"]) is int  # a whole float of an integer field goes as an int
    assert client.predict(features).prediction == {"petals": 6, "sizes": [1.5, 2.0]}
    refused = client.predict(form_features(list(fields.values()), {**form, "sizes": '["big"]'}))
    assert refused.status == 422 and "$.features.sizes[0]" in (refused.error or "")


def test_form_fields_of_every_shape() -> None:
    schema = {
        "type": "object",
        "required": ["count", "mode", "level"],
        "properties": {
            "count": {"type": ["integer", "null"], "exclusiveMaximum": 0, "title": "Count"},
            "ratio": {"anyOf": [{"type": "number", "maximum": 0.5}, {"type": "null"}], "default": None},
            "mode": {"anyOf": [{"enum": ["fast", "slow"], "type": "string"}, {"type": "null"}]},
            "level": {"enum": [1, 2, 3], "type": "integer", "description": "how hard"},
            "kind": {"const": "iris"},
            "code": {"type": "string", "minLength": 3},
            "seed": {"oneOf": [{"type": "integer", "examples": [42]}, {"type": "null"}]},
            "wrapped": {"allOf": [{"type": "boolean"}], "default": True},
            "tags": {"type": "array", "items": {"type": "string"}},
            "meta": {"type": "object"},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "anything": {},
        },
    }
    fields = {f.name: f for f in form_fields(schema) or []}
    kinds = {name: f.kind for name, f in fields.items()}
    assert kinds == {
        "count": "integer",
        "ratio": "number",
        "mode": "enum",
        "level": "enum",
        "kind": "enum",
        "code": "string",
        "seed": "integer",
        "wrapped": "boolean",
        "tags": "json",
        "meta": "json",
        "either": "json",
        "anything": "json",
    }
    count = fields["count"]
    assert (count.maximum, count.exclusive_maximum, count.example, count.required) == (0, True, -1, True)
    assert count.description == "Count"  # the title when there is no description
    assert (fields["ratio"].maximum, fields["ratio"].example, fields["ratio"].default) == (0.5, 0.5, None)
    assert (fields["mode"].options, fields["mode"].example) == (("fast", "slow"), "fast")
    assert (fields["level"].options, fields["level"].example, fields["level"].description) == ((1, 2, 3), 1, "how hard")
    assert fields["kind"].options == ("iris",) and fields["code"].example == "xxx"
    assert (fields["seed"].default, fields["seed"].example) == (42, 42)  # the first example
    assert (fields["wrapped"].default, fields["wrapped"].example) == (True, True)
    assert (fields["tags"].example, fields["meta"].example, fields["either"].example) == ([], {}, None)
    for field in fields.values():  # a number's example is inside its bounds
        if field.kind in ("number", "integer") and field.maximum is not None:
            assert field.example < field.maximum if field.exclusive_maximum else field.example <= field.maximum
    assert form_fields(None) is None and form_fields({"type": "array"}) is None
    assert form_fields({"type": "object"}) is None  # no named properties: JSON or a file


def test_features_schema_resolves_refs() -> None:
    components = {
        "PredictRequest": {"type": "object", "properties": {"features": {"$ref": "#/components/schemas/Plant"}}},
        "Plant": {
            "type": "object",
            "properties": {
                "colour": {"$ref": "#/components/schemas/Colour", "description": "petal colour"},
                "root": {"anyOf": [{"$ref": "#/components/schemas/Node"}, {"type": "null"}]},
            },
            "required": ["colour"],
        },
        "Colour": {"$ref": "#/components/schemas/ColourEnum"},  # a chain of refs
        "ColourEnum": {"enum": ["red", "blue"], "type": "string"},
        "Node": {"type": "object", "properties": {"children": {"items": {"$ref": "#/components/schemas/Node"}}}},
    }
    body = {"$ref": "#/components/schemas/PredictRequest"}
    document = {
        "paths": {"/predict": {"post": {"requestBody": {"content": {"application/json": {"schema": body}}}}}},
        "components": {"schemas": components},
    }
    client = ServiceClient("http://127.0.0.1:1")  # nothing is asked of it: the document is given
    features = client.features_schema(document)
    assert features is not None and features["required"] == ["colour"]
    colour = features["properties"]["colour"]
    assert colour == {"enum": ["red", "blue"], "type": "string", "description": "petal colour"}
    node = features["properties"]["root"]["anyOf"][0]
    assert node["properties"]["children"]["items"] == {"$ref": "#/components/schemas/Node"}  # recursive: kept
    fields = {f.name: f for f in form_fields(features) or []}
    assert (fields["colour"].kind, fields["colour"].options, fields["colour"].description) == (
        "enum",
        ("red", "blue"),
        "petal colour",
    )
    assert fields["root"].kind == "json"
    empty = {**components, "PredictRequest": {"type": "object", "properties": {"features": {}}}}
    assert client.features_schema({**document, "components": {"schemas": empty}}) is None  # no schema declared
    with pytest.raises(ServiceResponseError, match=r"/openapi\.json has no POST /predict with a JSON body$"):
        client.features_schema({"paths": {"/v2/models/m/infer": {}}})


def test_form_features_and_request_features() -> None:
    fields = [
        FormField(name="x", kind="number", required=True, example=1.0),
        FormField(name="n", kind="integer", required=False, example=1),
        FormField(name="name", kind="string", required=True, example=""),
        FormField(name="note", kind="string", required=False, example=""),
        FormField(name="pick", kind="enum", required=False, example="a", options=("a", "b")),
        FormField(name="rows", kind="json", required=False, example=None),
    ]
    values = {"x": 2.5, "n": 3.0, "name": "", "note": "", "pick": "", "rows": "  "}
    assert form_features(fields, values) == {"x": 2.5, "n": 3, "name": ""}  # a required blank text is sent
    assert form_features(fields, {"x": None, "n": 2.5}) == {"n": 2.5}  # an empty field is left out
    typed = datason.dumps({"w": np.arange(3, dtype=np.float32)})
    rows = form_features(fields, {"rows": typed})["rows"]
    assert rows["w"].dtype == np.float32 and rows["w"].tolist() == [0.0, 1.0, 2.0]  # typed JSON is read typed
    with pytest.raises(DeserializationError) as caught:
        form_features(fields, {"rows": '{"a": 1,'})
    assert str(caught.value) == "rows: invalid JSON: expected a string key at byte 8 at $"

    assert request_features({"features": {"x": 1}}) == {"x": 1}
    assert request_features({"x": 1}) == {"x": 1} and request_features([1, 2]) == [1, 2]
    own = [FormField(name="features", kind="json", required=True, example=None)]
    assert request_features({"features": [1]}, own) == {"features": [1]}  # the schema has a field of that name
    assert json.loads(json.dumps(request_features({"features": None}))) is None


# --- a service with access control on ----------------------------------------------------------------------------
def test_the_api_key_reaches_a_service_with_access_control(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key given, or taken from DATASON_API_KEY, is sent on every call; without one the service says 401."""
    from datason.serving import ServingConfig, create_app
    from datason.serving.auth import KeyStore

    store = KeyStore()
    key = store.create("dashboard", scopes=("predict", "metrics"), iterations=1_000)
    config = ServingConfig(
        model_id="locked", model_version="1", api_keys=json.dumps(store.document()), metrics_auth=True
    )
    service = InProcessService(create_app(lambda features: {"sum": sum(features.values())}, config=config))
    try:
        monkeypatch.delenv("DATASON_API_KEY", raising=False)
        anonymous = ServiceClient(service.url, timeout=30)
        with pytest.raises(ServiceResponseError) as refused:
            anonymous.metrics()
        assert refused.value.status == 401
        assert "authentication required" in str(refused.value) and key not in str(refused.value)
        answer = anonymous.predict({"a": 1, "b": 2})
        assert answer.status == 401 and not answer.ok and answer.error == "authentication required"

        for client in (
            ServiceClient(service.url, api_key=key, timeout=30),
            _client_from_env(monkeypatch, service.url, key),
        ):
            assert client.health()["model_id"] == "locked"
            result = client.predict({"a": 1, "b": 2})
            assert result.ok and result.prediction == {"sum": 3}
            assert client.metrics().total >= 1
        wrong = ServiceClient(service.url, api_key=key[:-1] + ("A" if key[-1] != "A" else "B"), timeout=30)
        assert wrong.predict({"a": 1}).status == 401
    finally:
        service.stop()


def _client_from_env(monkeypatch: pytest.MonkeyPatch, url: str, key: str) -> ServiceClient:
    monkeypatch.setenv("DATASON_API_KEY", key)
    return ServiceClient(url, timeout=30)
