"""OpenTelemetry tracing (``ServingConfig.tracing``): spans collected by the SDK's in-memory exporter.

In process (the ASGI app driven by httpx's ASGI transport): one request span per prediction with decode,
validate, predict and encode as its children in that order; an incoming ``traceparent``'s trace continued and
the response's ``traceparent`` naming the request span; HTTP and datason attributes; a failing stage marked
ERROR with no request value or predict message recorded; log lines carrying the trace and span ids; the
context reaching a predict run in a worker thread and a batched predict; nothing recorded, no header and no
wrapper when tracing is off. Over real HTTP: `datason serve --tracing` exporting to an OTLP/HTTP collector on
127.0.0.1 (a small protobuf-decoding server here) configured only by ``OTEL_*`` variables.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import pathlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from datason import cli
from datason.serving import ModelService, ServingConfig, create_app
from datason.serving.adapters import DatasonAdapter, KServeV1Adapter
from datason.serving.config import ServingConfig as Cfg
from datason.serving.tracing import setup_provider
from tests.serving.apps import models
from tests.test_serving_http import Server

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"
SCHEMA = {
    "type": "object",
    "properties": {"x": {"type": "number", "maximum": 100}, "mode": {"type": "string"}},
    "required": ["x"],
}
STAGES = ["datason.decode", "datason.validate", "datason.predict", "datason.encode"]


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """An in-memory exporter on the process's SDK TracerProvider (set here unless a test already set one)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield memory
    memory.shutdown()


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    exporter.clear()
    return exporter


def _post(app: Any, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent = {"content-type": "application/json", **(headers or {})}
            return await client.post(path, content=content, headers=sent)

    return asyncio.run(go())


def _app(**config: Any) -> Any:
    cfg = ServingConfig(model_id="iris", model_version="2.1.0", tracing=True, **config)
    return create_app(models.predict, config=cfg, schema=SCHEMA)


def _by_name(finished: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    names = [s.name for s in finished]
    assert len(names) == len(set(names)), names
    return {s.name: s for s in finished}


def _request_span(finished: tuple[ReadableSpan, ...]) -> ReadableSpan:
    roots = [s for s in finished if s.name.startswith("POST")]
    assert len(roots) == 1, [s.name for s in finished]
    return roots[0]


def _hex(span: ReadableSpan) -> tuple[str, str]:
    ctx = span.get_span_context()
    return trace.format_trace_id(ctx.trace_id), trace.format_span_id(ctx.span_id)


def _everything_recorded(finished: tuple[ReadableSpan, ...]) -> str:
    parts = []
    for s in finished:
        parts.append(s.name + repr(dict(s.attributes or {})) + repr(s.status.description))
        parts.extend(e.name + repr(dict(e.attributes or {})) for e in s.events)
    return " ".join(parts)


def test_request_span_with_decode_validate_predict_encode_children(spans: InMemorySpanExporter) -> None:
    response = _post(
        _app(),
        "/predict",
        {"features": {"x": 3}},
        {"traceparent": TRACEPARENT, "tracestate": "vendor=opaque", "x-request-id": "req-7", "user-agent": "t/1"},
    )
    assert response.status_code == 200 and response.json()["prediction"]["x"] == 3
    finished = spans.get_finished_spans()
    server = _request_span(finished)
    assert server.name == "POST /predict" and server.kind is SpanKind.SERVER
    # the caller's trace continues: same trace id, the caller's span is the parent (remote)
    assert server.parent is not None and server.parent.is_remote
    assert trace.format_span_id(server.parent.span_id) == PARENT
    trace_id, span_id = _hex(server)
    assert trace_id == TRACE
    assert response.headers["traceparent"] == f"00-{TRACE}-{span_id}-01"
    assert response.headers["tracestate"] == "vendor=opaque"
    assert dict(server.attributes or {}) == {
        "http.request.method": "POST",
        "url.path": "/predict",
        "http.route": "/predict",
        "http.response.status_code": 200,
        "client.address": "10.1.2.3",
        "user_agent.original": "t/1",
        "datason.protocol": "datason",
        "datason.model_id": "iris",
        "datason.model_version": "2.1.0",
        "datason.request_id": "req-7",
    }
    assert server.status.status_code is StatusCode.UNSET
    children = sorted((s for s in finished if s is not server), key=lambda s: s.start_time or 0)
    assert [s.name for s in children] == STAGES
    previous_end = server.start_time or 0
    for child in children:
        assert child.parent is not None and child.parent.span_id == server.context.span_id
        assert child.context.trace_id == server.context.trace_id and child.kind is SpanKind.INTERNAL
        assert child.status.status_code is StatusCode.UNSET
        assert (child.start_time or 0) >= previous_end and (child.end_time or 0) <= (server.end_time or 0)
        previous_end = child.end_time or 0
    by_name = _by_name(finished)
    assert by_name["datason.decode"].attributes == {"datason.body_bytes": len(b'{"features": {"x": 3}}')}
    assert by_name["datason.encode"].attributes == {"datason.body_bytes": len(response.content)}


def test_without_traceparent_a_new_trace_starts_and_is_returned(spans: InMemorySpanExporter) -> None:
    response = _post(_app(), "/predict", {"features": {"x": 1}})
    server = _request_span(spans.get_finished_spans())
    assert server.parent is None
    trace_id, span_id = _hex(server)
    assert trace_id != TRACE and response.headers["traceparent"].startswith(f"00-{trace_id}-{span_id}-")
    assert "tracestate" not in response.headers


def test_a_protocol_route_is_named_by_its_template(spans: InMemorySpanExporter) -> None:
    body = {"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [1.5, 2.5]}]}
    app = create_app(
        lambda value: value * 2, config=ServingConfig(model_id="iris", model_version="2.1.0", tracing=True)
    )
    response = _post(app, "/v2/models/iris/infer", body, {"traceparent": TRACEPARENT})
    assert response.status_code == 200 and response.json()["outputs"][0]["data"] == [3.0, 5.0]
    finished = spans.get_finished_spans()
    server = _request_span(finished)
    assert server.name == "POST /v2/models/{name}/infer"
    attributes = dict(server.attributes or {})
    assert attributes["http.route"] == "/v2/models/{name}/infer" and attributes["url.path"] == "/v2/models/iris/infer"
    assert attributes["datason.protocol"] == "oip" and _hex(server)[0] == TRACE
    assert sorted(s.name for s in finished if s is not server) == sorted(STAGES)


def test_a_client_error_marks_the_failing_stage_not_the_request(spans: InMemorySpanExporter) -> None:
    response = _post(_app(), "/predict", {"features": {"x": 98765.4321}}, {"traceparent": TRACEPARENT})
    assert response.status_code == 422
    finished = spans.get_finished_spans()
    server = _request_span(finished)
    by_name = _by_name(finished)
    assert set(by_name) == {"POST /predict", "datason.decode", "datason.validate"}  # no predict, no encode
    validate = by_name["datason.validate"]
    assert validate.status.status_code is StatusCode.ERROR
    (event,) = validate.events
    assert event.name == "exception" and dict(event.attributes or {}) == {
        "exception.type": "ValidationFailedError",
        "exception.message": "does not match the schema (maximum=100) at $.features.x",
        "datason.error_kind": "validation",
    }
    assert by_name["datason.decode"].status.status_code is StatusCode.UNSET
    # HTTP server conventions: a 4xx leaves the server span's status unset, error.type names the status
    assert server.status.status_code is StatusCode.UNSET
    assert server.attributes is not None and server.attributes["http.response.status_code"] == 422
    assert server.attributes["error.type"] == "422"
    assert "98765" not in _everything_recorded(finished)
    assert response.headers["traceparent"] == f"00-{TRACE}-{_hex(server)[1]}-01"


def test_a_malformed_body_marks_decode(spans: InMemorySpanExporter) -> None:
    response = _post(_app(), "/predict", b'{"features": {"x": tok-99}', {"traceparent": TRACEPARENT})
    assert response.status_code == 400
    by_name = _by_name(spans.get_finished_spans())
    assert set(by_name) == {"POST /predict", "datason.decode"}
    decode = by_name["datason.decode"]
    assert decode.status.status_code is StatusCode.ERROR
    assert decode.events[0].attributes is not None and decode.events[0].attributes["datason.error_kind"] == "malformed"
    assert "tok-99" not in _everything_recorded(spans.get_finished_spans())


@pytest.mark.parametrize(
    ("predict", "options"),
    [
        (models.predict, {"sync_in_thread": False}),
        (models.predict, {"sync_in_thread": True}),  # the span's context goes into the worker thread
        (models.predict_async, {}),
    ],
    ids=["sync-inline", "sync-thread", "async"],
)
def test_a_failing_predict_is_an_error_without_its_message(
    spans: InMemorySpanExporter, predict: Any, options: dict[str, Any]
) -> None:
    cfg = ServingConfig(model_id="iris", tracing=True, **options)
    app = create_app(predict, config=cfg, schema=SCHEMA)
    ok = _post(app, "/predict", {"features": {"x": 2}}, {"traceparent": TRACEPARENT})
    assert ok.status_code == 200
    first = spans.get_finished_spans()
    server = _request_span(first)
    assert _by_name(first)["datason.predict"].parent.span_id == server.context.span_id  # type: ignore[union-attr]
    spans.clear()
    response = _post(app, "/predict", {"features": {"x": 2, "mode": "boom"}}, {"traceparent": TRACEPARENT})
    assert response.status_code == 500 and response.json()["error"] == "prediction failed (RuntimeError)"
    finished = spans.get_finished_spans()
    server = _request_span(finished)
    by_name = _by_name(finished)
    predict_span = by_name["datason.predict"]
    assert predict_span.parent is not None and predict_span.parent.span_id == server.context.span_id
    assert predict_span.status.status_code is StatusCode.ERROR
    assert predict_span.status.description == "RuntimeError"
    assert [dict(e.attributes or {}) for e in predict_span.events] == [
        {"exception.type": "RuntimeError", "exception.message": "prediction failed (RuntimeError)"}
    ]
    assert "datason.encode" not in by_name
    assert server.status.status_code is StatusCode.ERROR
    assert server.attributes is not None and server.attributes["error.type"] == "500"
    recorded = _everything_recorded(finished)
    assert "secret-token-123" not in recorded and "/srv/internal" not in recorded


def test_log_lines_carry_the_trace_and_span_ids(spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture) -> None:
    app = _app()
    with caplog.at_level(logging.INFO, logger="datason.serving"):
        _post(app, "/predict", {"features": {"x": 5}}, {"traceparent": TRACEPARENT})
        _post(app, "/predict", {"features": {"x": 500}}, {"traceparent": TRACEPARENT})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "datason.serving"]
    servers = sorted((s for s in spans.get_finished_spans() if s.name.startswith("POST")), key=lambda s: s.start_time)
    assert [line["status"] for line in lines] == [200, 422] and len(servers) == 2
    for line, server in zip(lines, servers, strict=True):
        assert (line["trace_id"], line["span_id"]) == _hex(server)
        assert line["trace_id"] == TRACE


def test_a_request_refused_before_its_body_is_traced(spans: InMemorySpanExporter) -> None:
    response = _post(_app(), "/predict", b"x=1", {"content-type": "text/plain", "traceparent": TRACEPARENT})
    assert response.status_code == 415
    server = _request_span(spans.get_finished_spans())
    assert server.attributes is not None and server.attributes["http.response.status_code"] == 415
    assert server.attributes["error.type"] == "415" and _hex(server)[0] == TRACE
    assert response.headers["traceparent"] == f"00-{TRACE}-{_hex(server)[1]}-01"


def test_a_batched_predict_span_belongs_to_one_of_its_requests(spans: InMemorySpanExporter) -> None:
    cfg = ServingConfig(model_id="iris", tracing=True, batch_max_size=2, batch_max_wait_ms=2000)
    service = ModelService(models.predict_batch, config=cfg)

    async def two() -> list[Any]:
        return await asyncio.gather(
            *(
                service.predict_request(json.dumps({"features": {"x": i}}).encode(), headers={}, client=None)
                for i in (1, 2)
            )
        )

    assert [r.status for r in asyncio.run(two())] == [200, 200]
    finished = spans.get_finished_spans()
    servers = {s.context.span_id for s in finished if s.name == "POST /predict"}
    predicts = [s for s in finished if s.name == "datason.predict"]
    assert len(servers) == 2 and len(predicts) == 1
    assert predicts[0].attributes == {"datason.batch_size": 2}
    assert predicts[0].parent is not None and predicts[0].parent.span_id in servers


def test_under_a_framework_span_the_request_span_is_its_child(spans: InMemorySpanExporter) -> None:
    service = ModelService(models.predict, config=ServingConfig(model_id="iris", tracing=True))
    tracer = trace.get_tracer("a-framework")

    async def call() -> Any:
        with tracer.start_as_current_span("framework request", kind=SpanKind.SERVER):
            return await service.predict_request(b'{"features": {"x": 1}}', headers={}, client=None)

    assert asyncio.run(call()).status == 200
    by_name = _by_name(spans.get_finished_spans())
    outer, mine = by_name["framework request"], by_name["POST /predict"]
    assert mine.kind is SpanKind.INTERNAL and mine.parent is not None
    assert mine.parent.span_id == outer.context.span_id


@pytest.mark.parametrize("in_thread", [False, True], ids=["inline", "thread"])
def test_spans_a_predict_opens_are_children_of_the_predict_span(spans: InMemorySpanExporter, in_thread: bool) -> None:
    tracer = trace.get_tracer("a-model")

    def predict(features: Any) -> Any:
        with tracer.start_as_current_span("feature lookup"):
            return {"y": features["x"] + 1}

    cfg = ServingConfig(model_id="m", tracing=True, sync_in_thread=in_thread)
    response = asyncio.run(
        ModelService(predict, config=cfg).predict_request(b'{"features": {"x": 1}}', headers={}, client=None)
    )
    assert response.status == 200
    by_name = _by_name(spans.get_finished_spans())
    inner, predict_span = by_name["feature lookup"], by_name["datason.predict"]
    assert inner.parent is not None and inner.parent.span_id == predict_span.context.span_id


def test_an_adapter_installed_after_construction_is_traced(spans: InMemorySpanExporter) -> None:
    """Integrations (KServe, Seldon) put their own adapter in after building the service: it gets the spans,
    and its own parse still runs."""
    service = ModelService(lambda rows: [sum(r) for r in rows], config=ServingConfig(model_id="m", tracing=True))
    parsed: list[bytes] = []

    class Mine(KServeV1Adapter):
        def parse(self, body: bytes, headers: dict[str, str]) -> Any:
            parsed.append(body)
            return super().parse(body, headers)

    original = service.adapters["kserve_v1"]
    assert type(original) is KServeV1Adapter  # not wrapped before a request uses it
    service.adapters["kserve_v1"] = Mine(
        max_depth=32, model_id="m", model_version="0.0.0", serialization=service.config.serialization
    )
    body = b'{"instances": [[1, 2], [3, 4]]}'
    response = asyncio.run(service.predict_request(body, headers={}, client=None, protocol="kserve_v1"))
    assert response.status == 200 and json.loads(response.body) == {"predictions": [3, 7]}
    assert parsed == [body]
    by_name = _by_name(spans.get_finished_spans())
    assert set(by_name) == {"POST /v1/models/{name}:predict", *STAGES}
    server = by_name["POST /v1/models/{name}:predict"]
    assert all(by_name[s].parent.span_id == server.context.span_id for s in STAGES)  # type: ignore[union-attr]


def test_tracing_off_records_nothing_and_wraps_nothing(
    spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(models.predict, config=ServingConfig(model_id="iris"), schema=SCHEMA)
    with caplog.at_level(logging.INFO, logger="datason.serving"):
        ok = _post(app, "/predict", {"features": {"x": 1}}, {"traceparent": TRACEPARENT})
        bad = _post(app, "/predict", {"features": {"x": 1000}}, {"traceparent": TRACEPARENT})
    assert (ok.status_code, bad.status_code) == (200, 422)
    assert spans.get_finished_spans() == ()
    assert "traceparent" not in ok.headers and "traceparent" not in bad.headers
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "datason.serving"]
    assert len(lines) == 2 and all("trace_id" not in line for line in lines)
    service = app.service
    assert "handle" not in vars(service) and "reject_request" not in vars(service)
    assert service.predict is models.predict and type(service.adapters["datason"]) is DatasonAdapter
    assert service._log.trace_ids is None


def test_the_setting_from_env_and_cli() -> None:
    assert Cfg().tracing is False
    assert Cfg.from_env({"DATASON_SERVING_TRACING": "on"}).tracing is True
    with pytest.raises(ValueError, match="DATASON_SERVING_TRACING must be bool"):
        Cfg.from_env({"DATASON_SERVING_TRACING": "sometimes"})
    with pytest.raises(ValueError, match="tracing must be True or False"):
        Cfg(tracing="yes")  # type: ignore[arg-type]
    args = cli.build_parser().parse_args(["serve", "m:f", "--tracing"])
    assert cli._overrides(args)["tracing"] is True
    assert "tracing" not in cli._overrides(cli.build_parser().parse_args(["serve", "m:f"]))


def test_a_provider_already_set_is_kept(exporter: InMemorySpanExporter) -> None:
    before = trace.get_tracer_provider()
    assert setup_provider("iris", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}) == "global"
    assert trace.get_tracer_provider() is before


# -- a real `datason serve --tracing` exporting over OTLP/HTTP to a collector on 127.0.0.1 ------------------------


class _Collector(http.server.ThreadingHTTPServer):
    """Receives OTLP/HTTP protobuf trace exports (POST /v1/traces) and keeps their spans."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CollectorHandler)
        self.spans: list[tuple[Any, dict[str, Any]]] = []  # (span, resource attributes)
        self.paths: list[str] = []
        self.lock = threading.Lock()


class _CollectorHandler(http.server.BaseHTTPRequestHandler):
    server: _Collector

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.server.lock:
            self.server.paths.append(self.path)
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    self.server.spans.extend((span, resource) for span in scope_spans.spans)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_datason_serve_exports_spans_to_an_otlp_collector(tmp_path: pathlib.Path) -> None:
    collector = _Collector()
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_address[1]}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "DATASON_SERVING_TRACING": "true",
    }
    server = Server(tmp_path, f"{models.__name__}:predict", "--model-id", "otlp-iris", env=env).start()
    try:
        response = httpx.post(
            server.url + "/predict",
            json={"features": {"x": 4}},
            headers={"traceparent": TRACEPARENT, "x-request-id": "otlp-1"},
            timeout=10,
        )
        assert response.status_code == 200 and response.json()["prediction"]["x"] == 4
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with collector.lock:
                if len(collector.spans) >= 5:
                    break
            time.sleep(0.05)
    finally:
        server.stop()
        collector.shutdown()
        collector.server_close()
    assert set(collector.paths) == {"/v1/traces"}
    named = {span.name: (span, resource) for span, resource in collector.spans}
    assert set(named) == {"POST /predict", *STAGES}
    request, resource = named["POST /predict"]
    assert resource["service.name"] == "otlp-iris"
    assert request.trace_id.hex() == TRACE and request.parent_span_id.hex() == PARENT
    assert response.headers["traceparent"] == f"00-{TRACE}-{request.span_id.hex()}-01"
    for name in STAGES:
        assert named[name][0].parent_span_id == request.span_id and named[name][0].trace_id == request.trace_id
    attributes = {a.key: a.value for a in request.attributes}
    assert attributes["datason.request_id"].string_value == "otlp-1"
    assert attributes["http.response.status_code"].int_value == 200
    (line,) = [line for line in server.log_lines() if line.get("request_id") == "otlp-1"]
    assert line["trace_id"] == TRACE and line["span_id"] == request.span_id.hex()
