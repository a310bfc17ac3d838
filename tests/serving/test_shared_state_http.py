"""Two `datason serve` processes on one real Redis: the rate limit holds across them, the cache is shared
(the second process answers with the first one's prediction), and Redis killed mid-run leaves both answering,
says so in /health, the log (one line per transition) and /metrics, and both recover when it is back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.redis_server import RedisServer
from tests.serving.serveproc import Serve

APP = "tests.serving.apps.pids:predict"


def _value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    raise AssertionError(f"no sample {name} {labels}")


def _wait(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.fixture
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, Serve, Serve]]:
    redis = RedisServer().start()
    options = ("--model-id", "shared", "--rate-limit", "4/minute", "--cache-size", "100", "--redis-url", redis.url)
    servers: list[Serve] = []
    try:
        for _ in range(2):
            servers.append(Serve(tmp_path_factory.mktemp("serve"), APP, *options).start())
        yield redis, servers[0], servers[1]
    finally:
        codes = [server.stop() for server in servers]  # every process stopped before anything is asserted
        redis.close()
    for server, code in zip(servers, codes, strict=True):
        # uvicorn shuts down gracefully, then re-raises SIGTERM (exit status -15)
        assert code in (0, -15) and "Application shutdown complete" in server.log(), server.log()[-2000:]


def test_limit_and_cache_across_processes_and_redis_killed_mid_run(pair: tuple[RedisServer, Serve, Serve]) -> None:
    redis, a, b = pair
    # the limit: 4 a minute for this client (X-API-Key names the client), whichever process answers
    statuses = [(a, b)[i % 2].predict([i], **{"X-API-Key": "limited"})[0] for i in range(7)]
    assert statuses == [200, 200, 200, 200, 429, 429, 429]

    # the cache: b answers [5, 6] with the prediction a made (a's pid and call count), predict not run in b
    status, first = a.predict([5, 6], **{"X-API-Key": "cache"})
    status_b, second = b.predict([5, 6], **{"X-API-Key": "cache"})
    assert status == status_b == 200
    assert second["prediction"] == first["prediction"] and second["prediction"]["pid"] == a.proc.pid  # type: ignore[union-attr]
    assert second["prediction"]["scores"] == [10.0, 12.0]
    assert _value(b.metrics(), "ml_prediction_cache_hits_total", model_id="shared") == 1
    assert _value(a.metrics(), "ml_prediction_cache_hits_total", model_id="shared") == 0

    # Redis killed: both keep answering (the limit now counted in each process: 4 each), and say so
    redis.stop()
    for server in (a, b):
        results = [server.predict([9], **{"X-API-Key": "outage"})[0] for _ in range(6)]
        assert results == [200] * 4 + [429] * 2
        health = server.health()
        assert health["status"] == "degraded" and health["shared_state"]["status"] == "unavailable"
        assert _value(server.metrics(), "ml_shared_state_up", model_id="shared") == 0
        _wait(lambda server=server: len(server.log_events("shared_state_unavailable")) == 1)
    assert [s.predict([9], **{"X-API-Key": "outage"})[0] for s in (a, b)] == [429, 429]
    time.sleep(0.5)
    for server in (a, b):
        assert len(server.log_events("shared_state_unavailable")) == 1  # one line per transition, not per request

    # Redis back (empty): the next request after the retry interval reconnects; shared again
    redis.start()
    time.sleep(1.2)
    for server in (a, b):
        assert server.predict([1], **{"X-API-Key": "after"})[0] == 200
        assert server.health()["status"] == "healthy"
        assert _value(server.metrics(), "ml_shared_state_up", model_id="shared") == 1
        _wait(lambda server=server: len(server.log_events("shared_state_restored")) == 1)
    statuses = [(a, b)[i % 2].predict([i], **{"X-API-Key": "after"})[0] for i in range(4)]
    assert statuses == [200, 200, 429, 429]  # 4 a minute in Redis again, across both (2 used just above)
