"""The dashboard's client and page logic against real datason services on loopback.

The client reads the reference service (examples/demo.py, the iris model) and services started here in this
process (uvicorn in a thread, real sockets) for what the demo does not offer: several model versions and a
pydantic input schema. The page runs under Streamlit's ``AppTest`` (the real script runner, no browser):
metrics row, charts, predictions by JSON, form and file, the typed response, validation errors and bad input
as messages, recent predictions with request ids, the version selector and an unreachable service.
"""

from __future__ import annotations

import http.server
import json
import math
import socket
import threading
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import pydantic
import pytest
from examples.demo import EXAMPLE, FEATURES, INVALID
from streamlit.testing.v1 import AppTest

import datason
from datason.integrations.dashboard.client import (
    MetricsSnapshot,
    ServiceClient,
    ServiceResponseError,
    ServiceUnreachableError,
    form_fields,
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


@pytest.fixture(scope="module")
def versions() -> Iterator[list[InProcessService]]:
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
            lambda f: {"petals": f.petals}, config=ServingConfig(model_id="flower", model_version="3"), schema=Flower
        )
        services.append(InProcessService(flower))
        yield services
    finally:
        for service in services:
            service.stop()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed


# --- the client ----------------------------------------------------------------------------------------------------
def test_client_reads_health_schema_and_versions(reference_service: Any) -> None:
    client = ServiceClient(reference_service.url)
    health = client.health()
    assert health["model_id"] == "iris" and health["model_version"] == "1.0.0" and health["ready"] is True
    fields = form_fields(client.features_schema())
    assert fields is not None and [f.name for f in fields] == list(FEATURES)
    for field in fields:
        assert field.kind == "number" and field.required and field.description == f"{field.name} in cm"
        assert (field.minimum, field.exclusive_minimum, field.maximum, field.exclusive_maximum) == (0, True, 30, False)
        assert field.example == 1.0
    assert client.predict({f.name: f.example for f in fields}).ok  # the examples the form starts with are valid
    assert client.versions("iris") == ["1.0.0"]


def test_client_predictions_are_typed_and_move_the_metrics(reference_service: Any) -> None:
    client = ServiceClient(reference_service.url)
    before = client.metrics()
    ok = client.predict(EXAMPLE, request_id="dash-test-1")
    assert ok.ok and ok.status == 200 and ok.request_id == "dash-test-1" and ok.model_version == "1.0.0"
    assert ok.prediction["species"] == "setosa"
    assert type(ok.prediction["class_index"]) is np.int64  # the typed answer: NumPy types as predict made them
    assert all(type(p) is np.float64 for p in ok.prediction["probabilities"].values())
    assert ok.processing_time_ms is not None and ok.processing_time_ms > 0 and ok.round_trip_ms > 0
    fresh = client.predict(VIRGINICA)
    assert fresh.prediction["species"] == "virginica"
    assert fresh.request_id.startswith("dash-") and fresh.request_id != ok.request_id
    refused = client.predict(INVALID)
    assert refused.status == 422 and not refused.ok and refused.prediction is None
    assert "petal_width" in (refused.error or "") and "wide" not in (refused.error or "")
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


class NotDatason(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"hello": "world"}' if self.path == "/health" else b"nope"
        self.send_response(200 if self.path == "/health" else 404)
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
    assert issubclass(ServiceUnreachableError, datason.DatasonError)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotDatason)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        other = ServiceClient(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(ServiceResponseError, match=r"/health is not a datason service's health document$"):
            other.health()
        with pytest.raises(ServiceResponseError, match=r"/metrics answered HTTP 404$"):
            other.metrics()
        assert other.versions("iris") == []
    finally:
        server.shutdown()
        server.server_close()


def test_form_fields_from_a_pydantic_schema_and_refusals(versions: list[InProcessService]) -> None:
    client = ServiceClient(versions[2].url)
    fields = {f.name: f for f in form_fields(client.features_schema()) or []}
    assert list(fields) == ["petal_length", "petals", "colour", "scented", "note"]
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
    assert (fields["colour"].kind, fields["colour"].options, fields["colour"].example) == (
        "enum",
        ("white", "blue"),
        "white",
    )
    assert (fields["scented"].kind, fields["note"].kind, fields["note"].required) == ("boolean", "string", False)
    assert client.predict({"petal_length": 2.0, "petals": 6}).prediction == {"petals": 6}
    nested = {"type": "object", "properties": {"rows": {"type": "array", "items": {"type": "number"}}}}
    assert form_fields(nested) is None and form_fields(None) is None and form_fields({"type": "array"}) is None


# --- the page (AppTest) --------------------------------------------------------------------------------------------
def page(urls: list[str]) -> None:
    from datason.integrations.dashboard.page import render

    render(urls, refresh=None)


def open_page(*urls: str) -> AppTest:
    at = AppTest.from_function(page, kwargs={"urls": list(urls)}, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def recent_table(at: AppTest) -> Any:
    tables = [d for d in at.dataframe if "request_id" in d.value.columns]
    assert len(tables) == 1
    return tables[0].value


def test_page_metrics_charts_and_a_json_prediction(reference_service: Any) -> None:
    at = open_page(reference_service.url)
    assert not at.error
    values = metric_values(at)
    assert list(values) == ["Total requests", "Error rate", "Average latency", "p95 latency"]
    total = int(values["Total requests"].replace(",", ""))
    assert total == ServiceClient(reference_service.url).metrics().total
    assert len(at.get("plotly_chart")) == 2
    assert "iris" in at.markdown[0].value and "1.0.0" in at.markdown[0].value
    body = json.loads(at.text_area(key="json_text").value)
    assert body == {"features": dict.fromkeys(FEATURES, 1.0)}  # an example built from the schema

    at.text_area(key="json_text").set_value(json.dumps({"features": VIRGINICA}))
    at.button(key="predict_json").click().run()
    assert not at.exception and not at.error
    (success,) = at.success
    assert success.value.startswith("HTTP 200 from json: request id `dash-")
    request_id = success.value.split("`")[1]
    plain, typed = (json.loads(j.value) for j in at.json)
    assert plain["species"] == "virginica" and plain["class_index"] == 2
    assert typed["class_index"] == {"__datason_type__": "numpy.int64", "__datason_value__": 2}
    assert int(metric_values(at)["Total requests"].replace(",", "")) == total + 1  # read after the prediction
    table = recent_table(at)
    assert table["request_id"].tolist() == [request_id] and table["source"].tolist() == ["json"]
    assert table["status"].tolist() == [200] and table["model_version"].tolist() == ["1.0.0"]
    assert table["time"].iloc[0].endswith("+00:00")  # the time with its zone


def test_page_form_file_and_errors(reference_service: Any, tmp_path: Any) -> None:
    at = open_page(reference_service.url)
    for name, value in VIRGINICA.items():
        at.number_input(key=f"field_{name}").set_value(value)
    at.button(key="predict_form_submit").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("HTTP 200 from form")
    assert json.loads(at.json[0].value)["species"] == "virginica"

    typed = datason.dumps({"features": {k: np.float32(v) for k, v in EXAMPLE.items()}}).encode()
    assert b"numpy.float32" in typed  # a typed document: read typed, sent as plain numbers
    at.file_uploader(key="upload").upload("flower.json", typed, "application/json").run()
    at.button(key="predict_file").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("HTTP 200 from file")
    assert json.loads(at.json[0].value)["species"] == "setosa"

    at.text_area(key="json_text").set_value(json.dumps({"features": INVALID}))
    at.button(key="predict_json").click().run()
    assert not at.exception and not at.success
    (error,) = at.error
    assert error.value.startswith("HTTP 422: ") and "petal_width" in error.value and "wide" not in error.value

    at.text_area(key="json_text").set_value('{"features": {"sepal_length": 5.1,')
    at.button(key="predict_json").click().run()
    assert not at.exception
    assert at.error[0].value.startswith("The JSON text is not valid: invalid JSON")

    at.file_uploader(key="upload").upload("broken.json", b"\x00not json", "application/json").run()
    at.button(key="predict_file").click().run()
    assert not at.exception
    assert at.error[0].value.startswith("broken.json is not a document datason can read")

    table = recent_table(at)
    assert table["source"].tolist() == ["json", "file", "form"]  # refused input never reached the service
    assert table["status"].tolist() == [422, 200, 200]
    assert "petal_width" in table["result"].iloc[0]
    assert len(set(table["request_id"])) == 3
    assert "Traceback" not in " ".join(e.value for e in at.error)


def test_page_says_when_the_service_is_unreachable_and_recovers() -> None:
    from datason.serving import ServingConfig, create_app

    url = closed_port_url()
    at = open_page(url)
    messages = [e.value for e in at.error]
    assert any(m.startswith(f"Service unreachable: cannot reach the datason service at {url}") for m in messages)
    assert any(m.startswith("Cannot read the input schema: cannot reach") for m in messages)
    assert not at.metric and not at.get("plotly_chart")
    assert at.button(key="predict_json").disabled

    late = InProcessService(
        create_app(lambda f: {"twice": 2 * f["x"]}, config=ServingConfig(model_id="late", model_version="0.1")),
        port=int(url.rsplit(":", 1)[1]),
    )
    try:
        at.run()  # what the next refresh does: the live section finds it, and the page runs again for the form
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert list(metric_values(at)) == ["Total requests", "Error rate", "Average latency", "p95 latency"]
        assert not at.button(key="predict_json").disabled
        at.text_area(key="json_text").set_value('{"x": 21}')
        at.button(key="predict_json").click().run()
        assert json.loads(at.json[0].value) == {"twice": 42}
    finally:
        late.stop()


def test_page_version_selector_only_with_several_versions(versions: list[InProcessService]) -> None:
    one = open_page(versions[0].url)
    assert not one.selectbox and one.text_input(key="service_url").value == versions[0].url

    at = open_page(versions[0].url, versions[1].url, closed_port_url())
    selector = at.selectbox(key="service_choice")
    assert selector.label == "Model version" and selector.options == ["adder 1.0.0", "adder 2.0.0"]
    assert any("Not answering" in w.value for w in at.sidebar.warning)
    selector.set_value(versions[1].url).run()
    assert "**adder** version **2.0.0**" in at.markdown[0].value
    at.text_area(key="json_text").set_value('{"a": 1.5, "b": 2}')  # the features alone
    at.button(key="predict_json").click().run()
    assert not at.error and at.success[0].value.startswith("HTTP 200 from json")
    assert "model version 2.0.0" in at.success[0].value
    assert json.loads(at.json[0].value) == {"sum": 3.5, "by": "2.0.0"}
    assert recent_table(at)["model_version"].tolist() == ["2.0.0"]
