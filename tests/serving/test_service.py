"""ModelService without a server: the response and envelope for every status, sync/async/thread dispatch,
NaN and numpy/pandas outputs, sanitized failures, health, readiness, cache and batching."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from datason.config import get_api_config
from datason.serving import ModelService, ServingConfig, ServingResponse
from datason.serving.errors import PayloadTooLargeError

SCHEMA = {
    "type": "object",
    "properties": {"x": {"type": "number"}, "password": {"type": "string"}},
    "required": ["x"],
    "additionalProperties": False,
}


def call(service: ModelService, body: bytes | str, **headers: str) -> tuple[ServingResponse, dict[str, Any]]:
    raw = body.encode() if isinstance(body, str) else body
    response = asyncio.run(service.predict_request(raw, headers=headers, client="10.1.2.3"))
    return response, json.loads(response.body)


def header(response: ServingResponse, name: str) -> str | None:
    return dict(response.headers).get(name)


def test_success_envelope() -> None:
    service = ModelService(lambda f: {"y": f["x"] * 2}, config=ServingConfig(model_version="1.2.3"), schema=SCHEMA)
    response, body = call(service, '{"features": {"x": 2}}')
    assert response.status == 200 and header(response, "content-type") == "application/json"
    assert body.keys() == {"request_id", "prediction", "model_version", "timestamp", "processing_time_ms"}
    assert body["prediction"] == {"y": 4} and body["model_version"] == "1.2.3"
    assert header(response, "x-request-id") == body["request_id"] and len(body["request_id"]) == 32
    assert body["timestamp"].endswith("Z") and isinstance(body["processing_time_ms"], float)
    assert body["processing_time_ms"] >= 0


def test_numpy_pandas_and_nan_become_clean_json() -> None:
    def predict(f: Any) -> Any:
        return {
            "probs": np.array([0.25, 0.75], dtype=np.float32),
            "label": np.str_("cat"),
            "count": np.int64(3),
            "frame": pd.DataFrame({"a": [1, 2]}),
            "missing": float("nan"),
            "inf": np.float64("inf"),
        }

    response, body = call(ModelService(predict, config=ServingConfig()), '{"features": {}}')
    assert response.status == 200
    json.loads(response.body, parse_constant=lambda token: pytest.fail(f"bare {token} in the response"))
    assert body["prediction"] == {
        "probs": [0.25, 0.75],
        "label": "cat",
        "count": 3,
        "frame": [{"a": 1}, {"a": 2}],
        "missing": None,
        "inf": None,
    }


def test_nan_under_an_error_config_is_a_500_whose_log_names_the_path(caplog: pytest.LogCaptureFixture) -> None:
    cfg = ServingConfig(datason_config=get_api_config().replace(nan_handling="error"))
    with caplog.at_level(logging.INFO, logger="datason.serving"):
        response, body = call(ModelService(lambda f: {"v": [1.0, float("nan")]}, config=cfg), '{"features": {}}')
    assert response.status == 500 and body["error"] == "prediction failed (SerializationError)"
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.levelno >= logging.ERROR]
    assert "$.prediction.v[1]" in line["detail"] and "nan_handling" in line["detail"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ("{", 400, "invalid JSON"),
        ("[1]", 400, "JSON object"),
        (b"\xff\xfe", 400, "invalid JSON"),
        ('{"nofeatures": 1}', 422, "$.features"),
        ('{"features": {"x": "hunter2-secret"}}', 422, "$.features.x"),
        ('{"features": {"x": 1, "extra": 2}}', 422, "$.features.extra"),
        ('{"features": {"x": 1, "pad": "%s"}}' % ("z" * 300), 413, "max_body_bytes=200"),
    ],
)
def test_client_errors(body: str | bytes, status: int, words: str) -> None:
    service = ModelService(lambda f: 1, config=ServingConfig(max_body_bytes=200), schema=SCHEMA)
    response, payload = call(service, body, **{"X-Request-ID": "client-id-1"})
    assert response.status == status
    assert payload.keys() == {"request_id", "status", "error", "timestamp"} and payload["status"] == "error"
    assert payload["request_id"] == "client-id-1" == header(response, "x-request-id")
    assert words in payload["error"] and "hunter2" not in payload["error"]


def test_predict_failure_is_sanitized() -> None:
    def predict(f: Any) -> Any:
        raise FileNotFoundError("/srv/models/secret-weights.bin")

    response, body = call(ModelService(predict, config=ServingConfig()), '{"features": {}}')
    assert response.status == 500 and body["error"] == "prediction failed (FileNotFoundError)"
    assert b"srv" not in response.body and b"Traceback" not in response.body


def test_unserializable_prediction_is_a_500_whose_hint_stays_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="datason.serving"):
        response, body = call(ModelService(lambda f: {"obj": object()}, config=ServingConfig()), '{"features": {}}')
    assert response.status == 500 and body["error"] == "prediction failed (SerializationError)"
    assert b"register_type" not in response.body and b"$.prediction" not in response.body
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.levelno >= logging.ERROR]
    assert line["error"] == body["error"] and line["error_kind"] == "serialization"
    assert "register it with datason.register_type" in line["detail"] and "$.prediction.obj" in line["detail"]
    assert "(object)" in line["detail"]


def test_rate_limit_gives_429_with_retry_after_per_client() -> None:
    service = ModelService(lambda f: 1, config=ServingConfig(rate_limit="2/minute"))

    async def run() -> list[ServingResponse]:
        out = []
        for key in ("a", "a", "a", "b"):
            out.append(await service.predict_request(b'{"features": 1}', headers={"X-Api-Key": key}, client="c"))
        out.append(await service.predict_request(b'{"features": 1}', headers={}, client="c"))
        return out

    statuses = asyncio.run(run())
    assert [r.status for r in statuses] == [200, 200, 429, 200, 200]
    retry = header(statuses[2], "retry-after")
    assert retry is not None and 1 <= int(retry) <= 60


def test_sync_predict_runs_in_a_worker_thread_unless_inline() -> None:
    seen: list[str] = []

    def predict(f: Any) -> Any:
        seen.append(threading.current_thread().name)
        return 1

    call(ModelService(predict, config=ServingConfig(sync_in_thread=True)), '{"features": {}}')
    call(ModelService(predict, config=ServingConfig(sync_in_thread=False)), '{"features": {}}')
    assert seen[0] != threading.main_thread().name and seen[1] == threading.main_thread().name


@pytest.mark.parametrize("cost", [0.0, 0.008])
def test_auto_mode_runs_cheap_predicts_inline_and_slow_ones_in_a_thread(cost: float) -> None:
    import time

    seen: list[bool] = []

    def predict(f: Any) -> Any:
        seen.append(threading.current_thread() is threading.main_thread())
        if cost:
            time.sleep(cost)
        return 1

    service = ModelService(predict, config=ServingConfig())  # sync_in_thread=None: auto

    async def run() -> None:
        for _ in range(6):
            assert (await service.predict_request(b'{"features": 1}', headers={}, client=None)).status == 200

    asyncio.run(run())
    assert seen[0] is False  # the first call, of unknown cost, runs in a thread
    if cost:
        assert seen[1:] == [False] * 5
    else:  # a trivial predict stays inline (a preempted call may send one to a thread)
        assert sum(seen[1:]) >= 3


def test_auto_mode_moves_a_predict_that_turns_slow_to_a_thread() -> None:
    import time

    seen: list[bool] = []

    def predict(f: Any) -> Any:
        seen.append(threading.current_thread() is threading.main_thread())
        if len(seen) == 4:
            time.sleep(0.02)
        return 1

    service = ModelService(predict, config=ServingConfig())

    async def run() -> None:
        for _ in range(6):
            await service.predict_request(b'{"features": 1}', headers={}, client=None)

    asyncio.run(run())
    assert seen[1:4] == [True, True, True] and seen[4] is False


def test_async_predicts_and_awaitables_are_awaited() -> None:
    async def predict(f: Any) -> Any:
        await asyncio.sleep(0)
        return {"async": f}

    class Model:
        async def __call__(self, f: Any) -> Any:
            return "called"

    def returns_awaitable(f: Any) -> Awaitable[Any]:
        return predict(f)

    assert call(ModelService(predict, config=ServingConfig()), '{"features": 5}')[1]["prediction"] == {"async": 5}
    assert call(ModelService(Model(), config=ServingConfig()), '{"features": 5}')[1]["prediction"] == "called"
    got = call(ModelService(returns_awaitable, config=ServingConfig()), '{"features": 6}')[1]
    assert got["prediction"] == {"async": 6}


def test_pydantic_schema_passes_the_instance() -> None:
    import pydantic

    class In(pydantic.BaseModel):
        x: float

    service = ModelService(lambda f: type(f).__name__ + str(f.x), config=ServingConfig(), schema=In)
    assert call(service, '{"features": {"x": 2}}')[1]["prediction"] == "In2.0"
    response, body = call(service, '{"features": {"x": "two"}}')
    assert response.status == 422 and "$.features.x" in body["error"]


def test_health_counts_and_degrades_over_the_threshold() -> None:
    def predict(f: Any) -> Any:
        if f == "fail":
            raise ValueError("x")
        return 1

    cfg = ServingConfig(min_requests_for_health=4, degraded_error_rate=0.25, model_version="7")
    service = ModelService(predict, config=cfg)
    assert service.health()["total_requests"] == 0 and service.health()["status"] == "healthy"
    for body in ('{"features": 1}', '{"features": 1}', '{"features": "fail"}', "nope"):
        call(service, body)
    health = service.health()
    assert health["status"] == "healthy"  # 1 of 4 is 0.25: not above the threshold
    assert (health["total_requests"], health["error_count"], health["client_error_count"]) == (4, 1, 1)
    assert health["error_rate"] == 0.25 and health["model_version"] == "7" and health["avg_latency_ms"] >= 0
    call(service, '{"features": "fail"}')
    health = service.health()
    assert health["status"] == "degraded" and health["error_rate"] == 0.4
    assert service.health_response().status == 200


def test_degraded_needs_min_requests() -> None:
    service = ModelService(lambda f: 1 / 0, config=ServingConfig(min_requests_for_health=3))
    call(service, '{"features": 1}')
    call(service, '{"features": 1}')
    assert service.health()["error_rate"] == 1.0 and service.health()["status"] == "healthy"
    call(service, '{"features": 1}')
    assert service.health()["status"] == "degraded"


def test_ready_lifecycle_and_active_models() -> None:
    service = ModelService(lambda f: 1, config=ServingConfig())
    assert not service.ready and service.ready_response().status == 503
    assert b"ml_active_models 0.0" in service.metrics()[0]
    call(service, '{"features": 1}')  # the first request starts a service run without lifespan
    assert service.ready and service.ready_response().status == 200
    assert json.loads(service.ready_response().body)["ready"] is True
    assert b"ml_active_models 1.0" in service.metrics()[0]
    service.stop()
    assert not service.ready and service.ready_response().status == 503
    assert b"ml_active_models 0.0" in service.metrics()[0]


def test_reject_request_counts_as_a_prediction_request() -> None:
    service = ModelService(lambda f: 1, config=ServingConfig())
    response = service.reject_request(PayloadTooLargeError("too big"), headers={"X-Request-ID": "r1"}, client=None)
    assert response.status == 413 and json.loads(response.body)["request_id"] == "r1"
    assert service.health()["client_error_count"] == 1


def test_cache_skips_predict_for_equal_inputs() -> None:
    calls: list[Any] = []

    def predict(f: Any) -> Any:
        calls.append(f)
        return {"n": len(calls)}

    service = ModelService(predict, config=ServingConfig(cache_size=8))
    first = call(service, '{"features": {"a": 1, "b": 2}}')[1]
    second = call(service, '{"features": {"b": 2, "a": 1}}')[1]
    third = call(service, '{"features": {"a": 1.0, "b": 2}}')[1]
    assert first["prediction"] == second["prediction"] == {"n": 1} and third["prediction"] == {"n": 2}
    assert first["request_id"] != second["request_id"] and len(calls) == 2
    text = service.metrics()[0].decode()
    assert 'ml_prediction_cache_hits_total{model_id="model"} 1.0' in text
    assert 'ml_prediction_cache_misses_total{model_id="model"} 2.0' in text


def test_failures_are_not_cached() -> None:
    calls: list[Any] = []

    def predict(f: Any) -> Any:
        calls.append(f)
        if len(calls) == 1:
            raise RuntimeError("first time")
        return "ok"

    service = ModelService(predict, config=ServingConfig(cache_size=8))
    assert call(service, '{"features": 1}')[0].status == 500
    assert call(service, '{"features": 1}')[1]["prediction"] == "ok"
    assert call(service, '{"features": 1}')[1]["prediction"] == "ok" and len(calls) == 2


def test_batching_gathers_concurrent_requests() -> None:
    batches: list[list[Any]] = []

    def predict(items: list[Any]) -> list[Any]:
        batches.append(items)
        return [x * 2 for x in items]

    service = ModelService(predict, config=ServingConfig(batch_max_size=4, batch_max_wait_ms=30_000))

    async def run() -> list[ServingResponse]:
        bodies = [b'{"features": %d}' % i for i in range(4)]
        return list(await asyncio.gather(*(service.predict_request(b, headers={}, client="c") for b in bodies)))

    responses = asyncio.run(run())
    assert [json.loads(r.body)["prediction"] for r in responses] == [0, 2, 4, 6]
    assert batches == [[0, 1, 2, 3]]
    assert 'ml_prediction_batch_size_sum{model_id="model"} 4.0' in service.metrics()[0].decode()


def test_predict_must_be_callable_and_config_typed() -> None:
    with pytest.raises(TypeError):
        ModelService("not callable", config=ServingConfig())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ModelService(lambda f: 1, config={"model_id": "x"})  # type: ignore[arg-type]


def test_config_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATASON_SERVING_MODEL_VERSION", "from-env")
    assert call(ModelService(lambda f: 1), '{"features": 1}')[1]["model_version"] == "from-env"
