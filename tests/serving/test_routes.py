"""Every route of the service in-process (httpx's ASGI transport): each protocol's prediction route gives predict
the same kind of value and answers in its own format; health, readiness and metadata routes; 404/405 in the
protocol's error body; protocols switched off; every response has an x-request-id; /openapi.json."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pydantic
import pytest

from datason.protocols import oip
from datason.serving import TYPED_MEDIA_TYPE, ModelService, ServingConfig, create_app
from datason.serving.routes import ROUTES


def strict(body: bytes) -> Any:
    def refuse(token: str) -> Any:
        raise AssertionError(f"bare {token} in a response")

    return json.loads(body, parse_constant=refuse)


def request(app: Any, method: str, path: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.request(method, path, **kw)

    return asyncio.run(go())


class Recorder:
    """A predict that records what it received and returns ``answer(value)``."""

    def __init__(self, answer: Callable[[Any], Any]) -> None:
        self.seen: list[Any] = []
        self.answer = answer

    def __call__(self, value: Any) -> Any:
        self.seen.append(value)
        return self.answer(value)


def make(answer: Callable[[Any], Any] = lambda v: v, **cfg: Any) -> tuple[Any, Recorder]:
    rec = Recorder(answer)
    return create_app(rec, config=ServingConfig(model_id="m", model_version="3", **cfg)), rec


# --- prediction routes ------------------------------------------------------------------------------------


def test_oip_json_round_trip_keeps_dtype_and_shape() -> None:
    app, rec = make(lambda a: a * 2)
    x = np.array([[1.5, 2.25], [3.0, -0.1]], dtype=np.float32)
    enc = oip.encode_request({"x": x})
    r = request(app, "POST", "/v2/models/m/infer", content=enc.body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    (seen,) = rec.seen
    assert isinstance(seen, np.ndarray) and seen.dtype == np.float32 and seen.shape == (2, 2)
    assert seen.tobytes() == x.tobytes()
    body = strict(r.content)
    assert body["model_name"] == "m" and body["model_version"] == "3"
    back = oip.decode_response(r.content)
    (out,) = back.outputs
    assert out.name == "x" and out.datatype == "FP32"  # named after the single input
    assert back.value.dtype == np.float32 and back.value.tobytes() == (x * 2).tobytes()
    assert r.headers["x-request-id"]


def test_oip_binary_request_and_response() -> None:
    app, rec = make(lambda a: a + 1)
    x = np.arange(12, dtype=np.int64).reshape(3, 4)
    enc = oip.encode_request({"x": x}, binary=True, binary_output=True)
    assert enc.header_length is not None
    headers = {"inference-header-content-length": str(enc.header_length), "content-type": "application/octet-stream"}
    r = request(app, "POST", "/v2/models/m/versions/3/infer", content=enc.body, headers=headers)
    assert r.status_code == 200, r.text
    assert rec.seen[0].dtype == np.int64 and rec.seen[0].shape == (3, 4)
    length = int(r.headers["inference-header-content-length"])
    back = oip.decode_response(r.content, header_length=length)
    assert back.value.dtype == np.int64 and np.array_equal(back.value, x + 1)


def test_oip_several_inputs_give_a_dict_and_dict_results_give_several_outputs() -> None:
    app, rec = make(lambda d: {"sum": d["a"] + d["b"], "first": d["a"][:1]})
    a, b = np.array([1, 2, 3], dtype=np.int32), np.array([10, 20, 30], dtype=np.int32)
    r = request(app, "POST", "/v2/models/m/infer", content=oip.encode_request({"a": a, "b": b}).body)
    assert r.status_code == 200, r.text
    assert set(rec.seen[0]) == {"a", "b"}
    outputs = {t.name: t.value for t in oip.decode_response(r.content).outputs}
    assert outputs["sum"].dtype == np.int32 and outputs["sum"].shape == (3,)  # 1-D stays 1-D
    assert np.array_equal(outputs["sum"], a + b) and np.array_equal(outputs["first"], a[:1])


def test_oip_dataframe_request_gives_predict_a_dataframe() -> None:
    app, rec = make(lambda df: df.assign(y=df["x"] * 2))
    frame = pd.DataFrame({"x": np.array([1.0, 2.0], dtype=np.float32), "s": ["a", "é"]})
    r = request(app, "POST", "/v2/models/m/infer", content=oip.encode_request(frame).body)
    assert r.status_code == 200, r.text
    seen = rec.seen[0]
    assert isinstance(seen, pd.DataFrame) and list(seen.columns) == ["x", "s"] and seen["x"].dtype == np.float32
    back = oip.decode_response(r.content).value
    assert isinstance(back, pd.DataFrame) and list(back.columns) == ["x", "s", "y"]
    assert back["y"].dtype == np.float32 and list(back["s"]) == ["a", "é"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2]}]}, "$.inputs[0]"),
        ({"inputs": [{"name": "x", "shape": [2], "datatype": "NOPE", "data": [1, 2]}]}, "$.inputs[0].datatype"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "data": [1, 2]}]}, "$.inputs[0].shape"),
        ({"nothing": 1}, "$.inputs"),
    ],
)
def test_oip_malformed_is_400_naming_the_field(body: dict[str, Any], field: str) -> None:
    app, rec = make()
    r = request(app, "POST", "/v2/models/m/infer", json=body)
    assert r.status_code == 400 and set(strict(r.content)) == {"error"}
    assert field in r.json()["error"] and rec.seen == []


def test_oip_unknown_model_and_version_are_404_in_oip_form() -> None:
    app, _ = make()
    enc = oip.encode_request({"x": np.zeros(2)})
    for path in ("/v2/models/other/infer", "/v2/models/m/versions/9/infer", "/v2/models/other"):
        method = "GET" if path == "/v2/models/other" else "POST"
        r = request(app, method, path, content=enc.body)
        assert r.status_code == 404 and set(r.json()) == {"error"}, path


def test_kserve_v1_instances_give_an_ndarray() -> None:
    app, rec = make(lambda a: a.sum(axis=1))
    r = request(app, "POST", "/v1/models/m:predict", json={"instances": [[1, 2], [3, 4]]})
    assert r.status_code == 200, r.text
    assert isinstance(rec.seen[0], np.ndarray) and rec.seen[0].shape == (2, 2)
    assert strict(r.content) == {"predictions": [3, 7]}
    assert request(app, "POST", "/v1/models/nope:predict", json={"instances": [1]}).status_code == 404
    bad = request(app, "POST", "/v1/models/m:predict", json={"instances": 3})
    assert bad.status_code == 400 and "$.instances" in bad.json()["error"]


def test_seldon_answers_in_the_request_form() -> None:
    app, rec = make(lambda v: v)
    r = request(app, "POST", "/api/v1.0/predictions", json={"data": {"ndarray": [[1.5, 2.5]]}})
    assert r.status_code == 200, r.text
    assert isinstance(rec.seen[0], np.ndarray)
    assert strict(r.content)["data"]["ndarray"] == [[1.5, 2.5]]
    r = request(app, "POST", "/api/v1.0/predictions", json={"jsonData": {"k": [1, 2]}})
    assert r.status_code == 200 and strict(r.content)["jsonData"] == {"k": [1, 2]}
    r = request(app, "POST", "/api/v1.0/predictions", json={"binData": base64.b64encode(b"\x00\xff").decode()})
    assert rec.seen[-1] == b"\x00\xff" and base64.b64decode(strict(r.content)["binData"]) == b"\x00\xff"
    bad = request(app, "POST", "/api/v1.0/predictions", json={"data": {"tensor": {"shape": [3], "values": [1]}}})
    assert bad.status_code == 400 and bad.json()["status"]["status"] == "FAILURE"


def test_mlflow_dataframe_split_keeps_the_index_and_answers_strict_json() -> None:
    app, rec = make(lambda df: df["a"] / 0.0)  # NaN and inf in the prediction
    split = {"columns": ["a"], "data": [[1.0], [0.0]], "index": [10, 20]}
    r = request(app, "POST", "/invocations", json={"dataframe_split": split})
    assert r.status_code == 200, r.text
    seen = rec.seen[0]
    assert isinstance(seen, pd.DataFrame) and list(seen.index) == [10, 20]
    body = strict(r.content)  # no bare NaN / Infinity
    assert body["predictions"][1] is None
    assert request(app, "GET", "/ping").status_code == 200
    bad = request(app, "POST", "/invocations", json={"dataframe_split": {"data": [[1]]}})
    assert bad.status_code == 400 and bad.json()["error_code"] == "BAD_REQUEST"


def test_predict_gets_the_same_value_from_every_tensor_protocol() -> None:
    app, rec = make(lambda a: a)
    rows = [[1.0, 2.0], [3.0, 4.0]]
    request(app, "POST", "/v1/models/m:predict", json={"instances": rows})
    request(app, "POST", "/invocations", json={"inputs": rows})
    request(app, "POST", "/api/v1.0/predictions", json={"data": {"ndarray": rows}})
    tensor = {"shape": [2, 2], "values": [v for row in rows for v in row]}
    request(app, "POST", "/api/v1.0/predictions", json={"data": {"tensor": tensor}})
    request(app, "POST", "/v2/models/m/infer", content=oip.encode_request({"x": np.array(rows)}).body)
    assert len(rec.seen) == 5
    for value in rec.seen:
        assert isinstance(value, np.ndarray) and value.dtype == np.float64 and value.tolist() == rows


# --- metadata, health, readiness, errors --------------------------------------------------------------------


def test_oip_metadata_lists_inputs_and_outputs() -> None:
    service = ModelService(
        lambda a: a,
        config=ServingConfig(model_id="m", model_version="3"),
        inputs=[oip.TensorSpec("x", "FP32", (-1, 4))],
        outputs=[oip.TensorSpec("y", "INT64", (-1,))],
    )
    app = create_app(service)
    meta = request(app, "GET", "/v2/models/m").json()
    assert meta["name"] == "m" and meta["versions"] == ["3"]
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    assert meta["outputs"] == [{"name": "y", "datatype": "INT64", "shape": [-1]}]
    ok = oip.encode_request({"x": np.zeros((2, 4), dtype=np.float32)}).body
    assert request(app, "POST", "/v2/models/m/infer", content=ok).status_code == 200
    wrong = oip.encode_request({"x": np.zeros((2, 3), dtype=np.float32)}).body
    r = request(app, "POST", "/v2/models/m/infer", content=wrong)
    assert r.status_code == 400 and "$.inputs[0]" in r.json()["error"]


def test_health_and_readiness_routes_of_every_protocol() -> None:
    app, _ = make()
    assert request(app, "GET", "/v2/health/live").json() == {"live": True}
    for path in ("/v2/health/ready", "/v2/models/m/ready", "/v2/models/m/versions/3/ready", "/ready", "/ping"):
        assert request(app, "GET", path).status_code == 503, path  # not started yet (no lifespan, no request)
    request(app, "POST", "/predict", json={"features": 1})  # the first request starts it
    for path in ("/v2/health/ready", "/v2/models/m/ready", "/ready", "/ping", "/v1/models/m"):
        assert request(app, "GET", path).status_code == 200, path
    assert request(app, "GET", "/v1/models/m").json() == {"name": "m", "ready": True}
    assert request(app, "GET", "/v1/models").json() == {"models": ["m"]}
    server = request(app, "GET", "/v2").json()
    assert server["name"] == "datason" and "binary_tensor_data" in server["extensions"]


def test_every_response_has_a_request_id_and_ready_has_a_timestamp() -> None:
    app, _ = make()
    for route in ROUTES:
        path = route.path.replace("{name}", "m").replace("{version}", "3")
        r = request(app, route.method, path, content=b"{}")
        assert r.headers.get("x-request-id"), path
    r = request(app, "GET", "/ready", headers={"x-request-id": "abc-1"})
    assert r.headers["x-request-id"] == "abc-1" and r.json()["timestamp"].endswith("Z")
    assert request(app, "GET", "/health", headers={"x-request-id": "h-2"}).headers["x-request-id"] == "h-2"


def raw_call(app: Any, method: str, path: str, body: bytes, root_path: str = "") -> tuple[int, Any]:
    """One ASGI call with a hand-made scope: (status, JSON body without its request id and timestamps)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": root_path + path,
        "root_path": root_path,
        "query_string": b"",
        "headers": [(b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 5000),
    }
    asyncio.run(app(scope, receive, send))
    headers = dict(sent[0]["headers"])
    assert headers[b"x-request-id"]
    if headers[b"content-type"] != b"application/json":
        return sent[0]["status"], headers[b"content-type"]  # Prometheus text: its counts move between calls
    doc = json.loads(sent[1]["body"]) if sent[1]["body"].strip() else sent[1]["body"]  # /ping: "\n", as MLflow's
    if isinstance(doc, dict):
        for volatile in ("request_id", "timestamp", "id", "processing_time_ms", "uptime_seconds"):
            doc.pop(volatile, None)
    return sent[0]["status"], doc


@pytest.mark.parametrize("model_id", ["m", "a:b", "a/b", "ü x"])
def test_paths_found_by_one_lookup_answer_as_the_router_does(model_id: str) -> None:
    """The service finds its own paths (/predict, /v2/models/<id>/infer...) in one dict lookup and leaves the
    rest to Starlette's router; under a root_path everything goes through the router: the answers agree."""
    enc = oip.encode_request({"x": np.arange(3.0)}).body
    bodies = {"oip": enc, "kserve_v1": b'{"instances": [1]}', "seldon": b'{"data": {"ndarray": [1]}}'}
    bodies |= {"mlflow": b'{"inputs": [1]}', "datason": b'{"features": 1}'}
    app = create_app(lambda v: v, config=ServingConfig(model_id=model_id, model_version="3"))
    paths = []
    for name in (model_id, "other"):
        for version in ("3", "9"):
            paths += [(r, r.path.replace("{name}", name).replace("{version}", version)) for r in ROUTES]
    paths += [(ROUTES[0], "/nope"), (ROUTES[0], "/v2/models/")]
    seen_ok = set()
    for route, path in paths:
        body = bodies[route.protocol] if route.method == "POST" else b""
        direct = raw_call(app, route.method, path, body)
        routed = raw_call(app, route.method, path, body, root_path="/under")
        assert direct == routed, (path, direct, routed)
        if direct[0] == 200:
            seen_ok.add(route.path)
    if "/" not in model_id:  # Starlette's {name} matches no "/": such a model is only /predict's
        assert seen_ok == {r.path for r in ROUTES if r.path != "/openapi.json"} | {"/openapi.json"}


def test_wrong_method_is_405_in_the_protocol_form_with_allow() -> None:
    app, _ = make()
    r = request(app, "GET", "/v1/models/m:predict")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and set(r.json()) == {"error"}
    r = request(app, "GET", "/invocations")
    assert r.status_code == 405 and r.json()["error_code"]
    r = request(app, "POST", "/health")
    assert r.status_code == 405 and r.json()["status"] == "error"


def test_protocols_can_be_switched_off() -> None:
    app, _ = make(protocols=("oip",))
    assert request(app, "POST", "/invocations", json={"inputs": [1]}).status_code == 404
    assert request(app, "POST", "/v1/models/m:predict", json={"instances": [1]}).status_code == 404
    assert request(app, "POST", "/predict", json={"features": 1}).status_code == 200  # always on
    assert request(app, "GET", "/v2/health/live").status_code == 200
    assert {r.protocol for r in app.routes} == {"datason", "oip"}


def test_metrics_carry_the_protocol_label() -> None:
    app, _ = make()
    request(app, "POST", "/v1/models/m:predict", json={"instances": [1, 2]})
    request(app, "POST", "/invocations", json={"nothing": 1})
    text = request(app, "GET", "/metrics").text
    assert 'ml_prediction_requests_total{model_id="m",protocol="kserve_v1",status="success"} 1.0' in text
    assert 'ml_prediction_errors_total{kind="malformed",model_id="m",protocol="mlflow"} 1.0' in text


def test_cache_is_shared_across_protocols() -> None:
    app, rec = make(lambda a: a * 3, cache_size=4)
    request(app, "POST", "/v1/models/m:predict", json={"instances": [[1.0, 2.0]]})
    r = request(app, "POST", "/invocations", json={"inputs": [[1.0, 2.0]]})
    assert len(rec.seen) == 1 and strict(r.content) == {"predictions": [[3.0, 6.0]]}
    request(app, "POST", "/invocations", json={"inputs": [[1, 2]]})  # int64, not float64: another input
    assert len(rec.seen) == 2


# --- OpenAPI ------------------------------------------------------------------------------------------------


class Flower(pydantic.BaseModel):
    petal_length: float = pydantic.Field(gt=0)


@dataclasses.dataclass
class Point:
    x: float
    y: int


@pytest.mark.parametrize(
    ("schema", "check"),
    [
        ({"type": "object", "properties": {"a": {"type": "number"}}}, lambda f, c: f["properties"]["a"]),
        (Flower, lambda f, c: f["properties"]["petal_length"]["exclusiveMinimum"] == 0),
        (Point, lambda f, c: c[f["$ref"].rsplit("/", 1)[1]]["properties"]["y"]["type"] == "integer"),
        (None, lambda f, c: f == {}),
    ],
)
def test_openapi_document_describes_every_route_and_the_schema(schema: Any, check: Any) -> None:
    app = create_app(lambda f: f, config=ServingConfig(model_id="m"), schema=schema)
    doc = request(app, "GET", "/openapi.json").json()
    assert doc["openapi"].startswith("3.1") and doc["info"]["title"].startswith("m")
    described = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    assert described == {(r.path, r.method) for r in app.routes}
    components = doc["components"]["schemas"]
    features = components["PredictRequest"]["properties"]["features"]
    assert check(features, components)
    for ops in doc["paths"].values():  # every $ref points at a component that exists
        for ref in _refs(ops):
            assert ref.rsplit("/", 1)[1] in components, ref


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_oip_requested_output_the_model_lacks_is_400_naming_it() -> None:
    app, _ = make(lambda a: {"y": a})
    enc = oip.encode_request({"x": np.zeros(2)}, outputs=["y", "zzz"])
    r = request(app, "POST", "/v2/models/m/infer", content=enc.body)
    assert r.status_code == 400 and "$.outputs[1].name" in r.json()["error"]
    enc = oip.encode_request({"x": np.zeros(2)}, outputs=["y"])
    assert request(app, "POST", "/v2/models/m/infer", content=enc.body).status_code == 200


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw"])
def test_compressed_request_bodies_are_inflated(encoding: str) -> None:
    import gzip
    import zlib

    app, rec = make(lambda a: a)
    raw = oip.encode_request({"x": np.arange(4, dtype=np.int16)}).body
    if encoding == "gzip":
        body = gzip.compress(raw)
    elif encoding == "deflate":
        body = zlib.compress(raw)
    else:
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body, encoding = packer.compress(raw) + packer.flush(), "deflate"
    r = request(app, "POST", "/v2/models/m/infer", content=body, headers={"content-encoding": encoding})
    assert r.status_code == 200, r.text
    assert rec.seen[0].dtype == np.int16 and rec.seen[0].tolist() == [0, 1, 2, 3]


def test_compression_bombs_unknown_encodings_and_garbage_are_refused() -> None:
    import gzip

    app, rec = make(max_body_bytes=10_000)
    bomb = gzip.compress(b'{"features": "' + b"a" * 10_000_000 + b'"}')
    assert len(bomb) < 20_000
    gz = {"content-encoding": "gzip"}
    r = request(app, "POST", "/predict", content=bomb, headers=gz)
    assert r.status_code == 413 and "decompressed" in r.json()["error"]
    r = request(app, "POST", "/predict", content=b'{"features": 1}', headers={"content-encoding": "br"})
    assert r.status_code == 415
    assert request(app, "POST", "/predict", content=b"not gzip at all", headers=gz).status_code == 400
    r = request(app, "POST", "/predict", content=gzip.compress(b'{"features": 1}')[:-6], headers=gz)
    assert r.status_code == 400 and "truncated" in r.json()["error"]
    assert rec.seen == []


def test_log_lines_name_the_route_called_and_the_protocol(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    app, _ = make()
    with caplog.at_level(logging.INFO, logger="datason.serving"):
        request(app, "POST", "/v2/models/m/versions/3/infer", content=oip.encode_request({"x": np.ones(2)}).body)
        request(app, "POST", "/invocations", json={"nope": 1})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "datason.serving"]
    assert [(x["path"], x["protocol"], x["status"]) for x in lines] == [
        ("/v2/models/m/versions/3/infer", "oip", 200),
        ("/invocations", "mlflow", 400),
    ]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", {"features": [[[[1]]]]}),
        ("/v1/models/m:predict", {"instances": [[[[[1]]]]]}),
        ("/invocations", {"inputs": [[[[[1]]]]]}),
    ],
)
def test_too_deep_is_422_naming_the_service_limit(path: str, body: Any) -> None:
    app, rec = make(max_depth=3)
    r = request(app, "POST", path, json=body)
    assert r.status_code == 422 and "max_depth=3" in r.text and rec.seen == []


def test_predict_answers_typed_when_the_client_accepts_datasons_media_type() -> None:
    """``Accept: application/vnd.datason+json`` gets the prediction with its types (what ``datason.loads``
    rebuilds exactly); any other client gets plain JSON, as before. Typed or plain requests alike."""
    import datetime as dt
    import decimal
    import uuid

    import pandas as pd

    import datason

    frame = pd.DataFrame(
        {"when": pd.date_range("2026-03-29", periods=3, freq="h", tz="Europe/Paris"), "n": [1, 2, 3]},
        index=pd.Index([10, 20, 30], name="row"),
    )
    result = {
        "probs": np.array([[0.25, 0.5]], dtype=np.float32),
        "ids": np.array([3, 4], dtype=np.int16),
        "frame": frame,
        "at": dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=-3))),
        "key": uuid.UUID(int=7),
        "price": decimal.Decimal("1.10"),
    }
    app, _ = make(lambda v: result)
    for accept in (TYPED_MEDIA_TYPE, f"text/html, {TYPED_MEDIA_TYPE};q=0.9", "APPLICATION/VND.DATASON+JSON"):
        for body in (b'{"features": [1]}', datason.dumps({"features": np.float32([1])}).encode()):
            r = request(app, "POST", "/predict", content=body, headers={"accept": accept})
            assert r.status_code == 200 and r.headers["content-type"] == TYPED_MEDIA_TYPE
            got = datason.loads(r.content)["prediction"]
            assert got["probs"].dtype == np.float32 and got["probs"].shape == (1, 2)
            assert got["probs"].tobytes() == result["probs"].tobytes()
            assert got["ids"].dtype == np.int16 and got["ids"].tolist() == [3, 4]
            pd.testing.assert_frame_equal(got["frame"], frame, check_exact=True)
            assert got["at"] == result["at"] and got["at"].utcoffset() == dt.timedelta(hours=-3)
            assert got["key"] == result["key"] and str(got["price"]) == "1.10"
    for accept in (None, "application/json", "*/*"):
        headers = {"accept": accept} if accept else {}
        r = request(app, "POST", "/predict", json={"features": [1]}, headers=headers)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        plain = strict(r.content)["prediction"]
        assert plain["probs"] == [[0.25, 0.5]] and plain["key"] == str(uuid.UUID(int=7))
        assert "__datason_type__" not in r.text
    r = request(app, "POST", "/predict", content=b"{", headers={"accept": TYPED_MEDIA_TYPE})
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"  # errors: the plain envelope
