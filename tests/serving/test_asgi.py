"""The ASGI app driven in-process with raw ASGI messages: routing, 404/405 envelopes, the body cap (declared or
streamed), lifespan readiness, and what it does when the client disconnects."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from datason.serving import ModelService, ServingApp, ServingConfig, create_app


class Exchange:
    """One HTTP request through the app: feeds body chunks, records what the app sent and how much it read."""

    def __init__(self, chunks: list[bytes], *, disconnect: bool = False) -> None:
        self.chunks = chunks
        self.disconnect = disconnect
        self.reads = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.reads += 1
        if self.reads > len(self.chunks):
            return {"type": "http.disconnect"}
        last = self.reads == len(self.chunks)
        if self.disconnect and last:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": self.chunks[self.reads - 1], "more_body": not last}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.sent[0]["headers"]}

    @property
    def json(self) -> Any:
        return json.loads(self.sent[1]["body"])


def run(
    app: ServingApp,
    method: str,
    path: str,
    chunks: list[bytes] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    disconnect: bool = False,
) -> Exchange:
    ex = Exchange(chunks if chunks is not None else [b""], disconnect=disconnect)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "headers": headers or [],
        "client": ("127.0.0.9", 5555),
    }
    asyncio.run(app(scope, ex.receive, ex.send))
    return ex


def make(**changes: Any) -> ServingApp:
    return create_app(lambda f: {"echo": f}, config=ServingConfig(**changes))


def test_predict_route_and_content_length() -> None:
    ex = run(make(), "POST", "/predict", [b'{"features": ', b'{"a": [1, 2]}}'])
    assert ex.status == 200 and ex.json["prediction"] == {"echo": {"a": [1, 2]}}
    assert int(ex.headers["content-length"]) == len(ex.sent[1]["body"])
    assert ex.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/predict", 405), ("POST", "/health", 405), ("DELETE", "/metrics", 405), ("GET", "/nope", 404)],
)
def test_unknown_routes_and_methods(method: str, path: str, status: int) -> None:
    ex = run(make(), method, path, headers=[(b"x-request-id", b"abc")])
    assert ex.status == status and ex.json["status"] == "error" and ex.json["request_id"] == "abc"
    assert ex.json.keys() == {"request_id", "status", "error", "timestamp"}
    if status == 405:
        assert ex.headers["allow"] in ("GET", "POST")


def test_declared_length_over_the_cap_is_413_without_reading() -> None:
    ex = run(make(max_body_bytes=100), "POST", "/predict", [b"x" * 10], headers=[(b"content-length", b"101")])
    assert ex.status == 413 and ex.reads == 0 and ex.headers["connection"] == "close"


def test_streamed_body_over_the_cap_stops_reading() -> None:
    chunks = [b"x" * 40] * 10
    ex = run(make(max_body_bytes=100), "POST", "/predict", chunks)
    assert ex.status == 413 and ex.reads == 3  # 120 bytes seen: no further chunk read
    assert "max_body_bytes=100" in ex.json["error"]


def test_single_chunk_over_the_cap_is_413() -> None:
    ex = run(make(max_body_bytes=10), "POST", "/predict", [b'{"features": 12345}'])
    assert ex.status == 413


def test_invalid_content_length_is_400() -> None:
    ex = run(make(), "POST", "/predict", [b"{}"], headers=[(b"content-length", b"-5")])
    assert ex.status == 400


def test_disconnect_sends_nothing() -> None:
    ex = run(make(), "POST", "/predict", [b'{"fea', b'tures": 1}'], disconnect=True)
    assert ex.sent == []


def test_lifespan_drives_readiness() -> None:
    app = make()

    async def scenario() -> list[int]:
        statuses = []
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def ready() -> int:
            ex = Exchange([b""])
            await app({"type": "http", "method": "GET", "path": "/ready", "headers": []}, ex.receive, ex.send)
            return ex.status

        statuses.append(await ready())
        task = asyncio.create_task(app({"type": "lifespan"}, queue.get, send))
        await queue.put({"type": "lifespan.startup"})
        while not sent:
            await asyncio.sleep(0)
        statuses.append(await ready())
        await queue.put({"type": "lifespan.shutdown"})
        await task
        statuses.append(await ready())
        assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        return statuses

    assert asyncio.run(scenario()) == [503, 200, 503]


def test_health_and_metrics_routes() -> None:
    app = make(model_id="m1")
    run(app, "POST", "/predict", [b'{"features": 1}'])
    health = run(app, "GET", "/health")
    assert health.status == 200 and health.json["total_requests"] == 1 and health.json["status"] == "healthy"
    metrics = run(app, "GET", "/metrics")
    assert metrics.status == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert (
        b'ml_prediction_requests_total{model_id="m1",protocol="datason",status="success"} 1.0'
        in metrics.sent[1]["body"]
    )


def test_websocket_scope_is_ignored() -> None:
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(make()({"type": "websocket", "path": "/predict"}, receive, send))
    assert sent == []


def test_create_app_accepts_a_service_but_not_extra_config() -> None:
    service = ModelService(lambda f: 1, config=ServingConfig())
    assert create_app(service).service is service
    with pytest.raises(TypeError):
        create_app(service, config=ServingConfig())
