"""Browser safety over real HTTP with authentication off (the default): the Content-Type rule on every
prediction route (415 for what a browser sends without a preflight, JSON types and no type at all accepted,
octet-stream only on OIP), CORS closed by default and open for a configured origin, security headers on every
response, and security events (log line and counter) for rate-limit hits, oversized and invalid requests."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from datason.protocols import oip
from tests.serving.test_auth import PREDICT_ROUTES, TARGET, expected_error, shape
from tests.test_serving_http import Server

ORIGIN = "https://app.example"
BROWSER_SIMPLE = ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data")
JSON_TYPES = ("application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.datason+json")
HEADERS = {
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=31536000",
}


@contextlib.contextmanager
def running(tmp_path_factory: pytest.TempPathFactory, name: str, *options: str) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp(name), TARGET, "--model-id", "m", "--model-version", "1", *options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory, "open", "--rate-limit", "3/minute", "--max-body-bytes", "2048") as server:
        yield server


def post(server: Server, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(server.url + path, content=body, headers=headers, timeout=30)


@pytest.mark.parametrize(("protocol", "path", "body"), PREDICT_ROUTES, ids=[r[1] for r in PREDICT_ROUTES])
def test_content_type_rule_on_every_route(open_server: Server, protocol: str, path: str, body: bytes) -> None:
    envelope = shape(expected_error(protocol))
    client = {"X-API-Key": f"ct-{path}"}  # the client id of the rate limit (3/minute per client)
    refused = (*BROWSER_SIMPLE, "application/xml", "application/octet-stream" if protocol != "oip" else "text/csv")
    for media in refused:
        r = post(open_server, path, body, {**client, "Content-Type": media})
        assert r.status_code == 415, (media, r.text)
        assert shape(r.json()) == envelope and "Content-Type" in r.text
        assert r.headers["x-request-id"]
    # no Content-Type at all (tritonclient, wrk, raw HTTP clients): read as JSON, but not from a browser
    raw = httpx.Request("POST", open_server.url + path, content=body, headers={"X-API-Key": f"none-{path}"})
    with httpx.Client(timeout=30) as c:
        assert "content-type" not in raw.headers
        assert c.send(raw).status_code == 200
        browser = httpx.Request("POST", open_server.url + path, content=body, headers={"Origin": ORIGIN})
        assert "content-type" not in browser.headers
        assert c.send(browser).status_code == 415
    for i, media in enumerate(JSON_TYPES[:3]):
        r = post(open_server, path, body, {"X-API-Key": f"json-{i}-{path}", "Content-Type": media})
        assert r.status_code == 200, (media, r.text)


def test_typed_json_and_binary_tensors_where_allowed(open_server: Server) -> None:
    r = post(open_server, "/predict", b'{"features": [1]}', {"Content-Type": "application/vnd.datason+json"})
    assert r.status_code == 200
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    enc = oip.encode_request({"x": x}, binary=True)
    headers = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(enc.header_length),
        "X-API-Key": "binary",
    }
    r = post(open_server, "/v2/models/m/infer", enc.body, headers)
    assert r.status_code == 200, r.text
    assert np.array_equal(oip.decode_response(r.content).value, x)


def test_security_headers_on_every_response(open_server: Server) -> None:
    responses = [
        post(open_server, "/predict", b'{"features": 1}', {"Content-Type": "application/json", "X-API-Key": "h1"}),
        post(open_server, "/predict", b"{", {"Content-Type": "application/json", "X-API-Key": "h2"}),
        httpx.get(open_server.url + "/health"),
        httpx.get(open_server.url + "/metrics"),
        httpx.get(open_server.url + "/nowhere"),
        httpx.get(open_server.url + "/predict"),
    ]
    assert [r.status_code for r in responses] == [200, 400, 200, 200, 404, 405]
    for r in responses:
        for name, value in HEADERS.items():
            assert r.headers[name] == value, (r.url, name)


def test_cors_is_closed_by_default(open_server: Server) -> None:
    preflight = httpx.options(
        open_server.url + "/predict",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x"},
    )
    assert preflight.status_code == 405 and "access-control-allow-origin" not in preflight.headers
    r = post(open_server, "/predict", b'{"features": 1}', {"Content-Type": "application/json", "Origin": ORIGIN})
    assert "access-control-allow-origin" not in r.headers


def test_cors_opens_for_a_configured_origin(tmp_path_factory: pytest.TempPathFactory) -> None:
    with running(tmp_path_factory, "cors", "--cors-origins", ORIGIN) as server:
        asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-api-key"}
        ok = httpx.options(server.url + "/predict", headers={"Origin": ORIGIN, **asked})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ORIGIN
        assert "POST" in ok.headers["access-control-allow-methods"]
        assert "x-api-key" in ok.headers["access-control-allow-headers"].lower()
        other = httpx.options(server.url + "/predict", headers={"Origin": "https://evil.example", **asked})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
        headers = {"Content-Type": "application/json", "Origin": ORIGIN}
        r = post(server, "/predict", b'{"features": 1}', headers)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
        assert r.headers["x-content-type-options"] == "nosniff"
        r = post(server, "/predict", b'{"features": 1}', {"Content-Type": "text/plain", "Origin": ORIGIN})
        assert r.status_code == 415  # CORS lets the origin in; the Content-Type rule still applies


def test_security_events_without_authentication(open_server: Server) -> None:
    json_type = {"Content-Type": "application/json"}
    limited = [
        post(open_server, "/predict", b'{"features": 1}', {**json_type, "X-API-Key": "events"}) for _ in range(4)
    ]
    assert [r.status_code for r in limited] == [200, 200, 200, 429]
    big = post(open_server, "/predict", b"[" + b"1," * 2000 + b"1]", {**json_type, "X-Request-ID": "ev-413"})
    bad = post(open_server, "/predict", b"{", {**json_type, "X-Request-ID": "ev-400", "X-API-Key": "ev"})
    assert (big.status_code, bad.status_code) == (413, 400)
    time.sleep(0.5)
    events = [line for line in open_server.log_lines() if line.get("event")]
    by_id = {line["request_id"]: line for line in events}
    assert by_id["ev-413"]["event"] == "too_large" and by_id["ev-400"]["event"] == "invalid_request"
    assert by_id["ev-400"]["client"].startswith("key:") and by_id["ev-400"]["key_name"] is None
    limited_event = by_id[limited[3].headers["x-request-id"]]
    assert limited_event["event"] == "rate_limited" and limited_event["path"] == "/predict"
    text = httpx.get(open_server.url + "/metrics").text
    for kind in ("rate_limited", "too_large", "invalid_request"):
        line = next(s for s in text.splitlines() if s.startswith(f'ml_security_events_total{{kind="{kind}"'))
        assert float(line.rsplit(" ", 1)[1]) >= 1
