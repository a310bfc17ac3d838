"""Shared state in a real Redis (``redis_url``): rate limits (the service's, key tiers, failed authentications)
and the prediction cache hold across services; Redis going away leaves the service answering (cache fails open,
limits fall back to process memory), says so once in the log, in ``/health`` and in metrics, and recovers.

The services here share one process (each ``ModelService`` has its own connection pool, limiter and cache,
exactly what separate processes have); test_shared_state_http.py runs the same against ``datason serve``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

import datason
from datason.config import get_ml_config
from datason.serving import TYPED_MEDIA_TYPE, ModelService, ServingConfig, sharedstate
from datason.serving.auth import KeyStore
from tests.redis_server import RedisServer, running_redis


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    yield from running_redis()


@pytest.fixture
def own_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """A Redis of the test's own, to stop and start again; retries after 0.2 s instead of 1 s."""
    monkeypatch.setattr(sharedstate, "RETRY_EVERY_S", 0.2)
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


def _call(service: ModelService, body: bytes = b'{"features": [1, 2]}', **headers: str) -> Any:
    return asyncio.run(service.predict_request(body, headers=headers, client="10.0.0.7"))


def _statuses(services: list[ModelService], n: int, **headers: str) -> list[int]:
    return [_call(services[i % len(services)], **headers).status for i in range(n)]


def _metric(service: ModelService, name: str, **labels: str) -> float:
    text, _ = service.metrics()
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    raise AssertionError(f"no sample {name} {labels}")


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, features: Any) -> dict[str, Any]:
        self.calls += 1
        return {
            "scores": np.asarray(features, dtype=np.float32) / 4,
            "frame": pd.Series([1.5, None], index=pd.Index(["a", "b"], name="k"), dtype="Float64"),
            "calls": self.calls,
        }


def test_the_rate_limit_holds_across_services(redis: RedisServer) -> None:
    cfg = ServingConfig(model_id="limits-a", rate_limit="5/minute", redis_url=redis.url)
    services = [ModelService(lambda f: f, config=cfg) for _ in range(3)]
    assert _statuses(services, 9) == [200] * 5 + [429] * 4
    other = ModelService(lambda f: f, config=cfg.replace(model_id="limits-b"))
    assert _call(other).status == 200  # another model's limits are its own
    memory = [ModelService(lambda f: f, config=cfg.replace(model_id="limits-c", redis_url=None)) for _ in range(2)]
    assert _statuses(memory, 12) == [200] * 10 + [429] * 2  # without Redis: 5 per process


@pytest.mark.parametrize("strategy", ["fixed-window", "sliding-window-counter"])
def test_other_strategies_and_several_limits(redis: RedisServer, strategy: str) -> None:
    cfg = ServingConfig(
        model_id=f"multi-{strategy}", rate_limit="3/minute;100/hour", rate_limit_strategy=strategy, redis_url=redis.url
    )
    services = [ModelService(lambda f: f, config=cfg) for _ in range(2)]
    responses = [_call(services[i % 2]) for i in range(5)]
    assert [r.status for r in responses] == [200, 200, 200, 429, 429]
    retry = int(dict(responses[-1].headers)["retry-after"])
    assert 1 <= retry <= 60


def test_key_tiers_and_failed_authentications_are_shared(redis: RedisServer) -> None:
    store = KeyStore()
    store.set_tier("gold", "4/minute")
    gold = store.create("gold-client", tier="gold")
    plain = store.create("plain-client")
    cfg = ServingConfig(
        model_id="auth-shared",
        rate_limit="2/minute",
        api_keys=json.dumps(store.document()),
        auth_failure_limit="3/minute",
        redis_url=redis.url,
    )
    services = [ModelService(lambda f: f, config=cfg) for _ in range(2)]
    assert _statuses(services, 6, **{"X-API-Key": gold}) == [200] * 4 + [429] * 2
    assert _statuses(services, 3, **{"X-API-Key": plain}) == [200, 200, 429]
    # three failures spread over both services use up the client's failure allowance in Redis
    assert _statuses(services, 3, **{"X-API-Key": "dsk_00000000_wrong"}) == [401, 401, 401]
    for service in services:  # each has seen a failure: both refuse before looking at the (right) key
        refused = _call(service, **{"X-API-Key": plain})
        assert refused.status == 429 and json.loads(refused.body)["error"].startswith("rate limit exceeded")


def test_the_cache_is_shared_and_exact(redis: RedisServer) -> None:
    cfg = ServingConfig(model_id="cache", cache_size=100, cache_ttl=60, redis_url=redis.url, datason_config=None)
    first, second = Counting(), Counting()
    a, b = ModelService(first, config=cfg), ModelService(second, config=cfg)
    body = b'{"features": [1.0, 2.0, 3.0]}'
    computed = _call(a, body, Accept=TYPED_MEDIA_TYPE)
    cached = _call(b, body, Accept=TYPED_MEDIA_TYPE)
    assert computed.status == cached.status == 200
    assert (first.calls, second.calls) == (1, 0)  # b answered from what a stored
    assert _metric(b, "ml_prediction_cache_hits_total", model_id="cache") == 1
    assert _metric(a, "ml_prediction_cache_misses_total", model_id="cache") == 1
    got = datason.loads(cached.body)["prediction"]
    want = datason.loads(computed.body)["prediction"]
    assert got["scores"].dtype == np.float32 and got["scores"].tolist() == [0.25, 0.5, 0.75]
    np.testing.assert_array_equal(got["scores"], want["scores"])
    pd.testing.assert_series_equal(got["frame"], want["frame"], check_exact=True)
    assert str(got["frame"].dtype) == "Float64" and got["frame"].index.name == "k"
    assert got["calls"] == 1
    # a different input (or type: 1 vs 1.0) is another entry; another version has its own cache
    _call(b, b'{"features": [1, 2, 3]}')
    assert second.calls == 1
    other = ModelService(Counting(), config=cfg.replace(model_version="2"))
    _call(other, body)
    assert other.predict.calls == 1  # type: ignore[attr-defined]


def test_cache_entries_expire_in_redis(redis: RedisServer) -> None:
    import redis as redis_client

    cfg = ServingConfig(model_id="ttl", cache_size=1, cache_ttl=30, redis_url=redis.url)
    _call(ModelService(Counting(), config=cfg))
    client = redis_client.Redis.from_url(redis.url)
    keys = client.keys("datason:ttl:*")
    assert len(keys) == 1 and keys[0].startswith(b"datason:ttl:0.0.0:cache:") and len(keys[0]) == 24 + 64
    assert 0 < client.pttl(keys[0]) <= 30_000
    assert datason.loads(client.get(keys[0]))["scores"].dtype == np.float32  # the value: typed datason JSON
    client.close()


def test_redis_away_the_service_answers_says_so_once_and_recovers(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    import time

    cfg = ServingConfig(model_id="outage", rate_limit="3/minute", cache_size=10, redis_url=own_redis.url)
    predict = Counting()
    service = ModelService(predict, config=cfg)
    assert _call(service).status == 200
    assert service.health()["shared_state"]["status"] == "ok"
    own_redis.stop()
    caplog.set_level(logging.INFO, logger="datason.serving.sharedstate")
    statuses = [_call(service).status for _ in range(5)]
    # 2 left of the 3 in Redis were never used: the fallback counts 3 in this process from the outage on
    assert statuses == [200, 200, 200, 429, 429]
    assert predict.calls == 4  # cache off while Redis is away: predict ran every time (no entry stored)
    health = service.health()
    assert health["status"] == "degraded"
    assert health["shared_state"]["status"] == "unavailable"
    assert health["shared_state"]["error"] in ("ConnectionError", "StorageError", "TimeoutError")
    assert _metric(service, "ml_shared_state_up", model_id="outage") == 0
    assert _metric(service, "ml_shared_state_errors_total", model_id="outage", component="rate_limit") >= 1
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "datason.serving.sharedstate"]
    assert [line["event"] for line in lines] == ["shared_state_unavailable"]
    assert lines[0]["url"] == own_redis.url and lines[0]["component"] in ("rate_limit", "cache")

    own_redis.start()  # back, empty (no persistence)
    time.sleep(0.3)
    assert _call(service).status == 200  # this request tries Redis again: a fresh window there
    health = service.health()
    assert health["status"] == "healthy" and health["shared_state"] == {
        "backend": "redis",
        "url": own_redis.url,
        "status": "ok",
    }
    assert _metric(service, "ml_shared_state_up", model_id="outage") == 1
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "datason.serving.sharedstate"]
    assert [line["event"] for line in lines] == ["shared_state_unavailable", "shared_state_restored"]
    second = ModelService(Counting(), config=cfg)
    assert _statuses([service, second], 3) == [200, 200, 429]  # shared again: 3 per minute in Redis


def test_redis_url_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="redis_url must start with redis://"):
        ServingConfig(redis_url="http://cache:6379")
    assert ServingConfig.from_env({"DATASON_SERVING_REDIS_URL": "none"}).redis_url is None
    cfg = ServingConfig.from_env({"DATASON_SERVING_REDIS_URL": "redis://:s3cret@127.0.0.1:1/2"})
    service = ModelService(lambda f: f, config=cfg)  # no connection is made before a request needs one
    shown = service.health()["shared_state"]
    assert shown["url"] == "redis://***@127.0.0.1:1/2" and "s3cret" not in json.dumps(shown)
    assert ModelService(lambda f: f).health().get("shared_state") is None  # no Redis: health unchanged


def test_a_hit_renders_as_the_miss_did(redis: RedisServer) -> None:
    """The service writes plain JSON; the cache stores typed values, so a hit renders exactly as a miss."""
    cfg = ServingConfig(model_id="plain-vs-typed", cache_size=10, redis_url=redis.url, datason_config=get_ml_config())
    a, b = ModelService(Counting(), config=cfg), ModelService(Counting(), config=cfg)
    miss, hit = _call(a), _call(b)
    volatile = ("request_id", "timestamp", "processing_time_ms")
    assert [{k: v for k, v in json.loads(r.body).items() if k not in volatile} for r in (miss, hit)] == [
        {k: v for k, v in json.loads(miss.body).items() if k not in volatile}
    ] * 2
