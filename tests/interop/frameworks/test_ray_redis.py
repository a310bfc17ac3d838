"""Ray Serve with two replicas sharing one real Redis (``ServingConfig(redis_url=...)``): the rate limit holds
across the replicas together, and the prediction cache of one replica answers the other's requests.

One local Ray for the module (``num_cpus=2``, 127.0.0.1 only, no dashboard, its own temporary directory), as in
test_ray_serve.py; the replicas import datason and ``tests.serving.apps.pids`` from this checkout.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
import ray
from ray import serve
from ray.serve.api import RunTarget

from datason.integrations.ray_serve import deployment
from datason.serving import ServingConfig
from tests.interop.helpers import ROOT, free_port
from tests.redis_server import RedisServer, running_redis
from tests.serving.apps import pids


class Cluster:
    def __init__(self, port: int) -> None:
        self.port = port

    def metrics(self, path: str) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            assert r.status == 200
            return r.read().decode()
        finally:
            conn.close()

    def predict(self, path: str, features: Any, **headers: str) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            body = json.dumps({"features": features}).encode()
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
            r = conn.getresponse()
            return r.status, json.loads(r.read())
        finally:
            conn.close()


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    yield from running_redis()


@pytest.fixture(scope="module")
def cluster(redis: RedisServer) -> Iterator[Cluster]:
    env = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    temp_dir = tempfile.mkdtemp(prefix="dsrayr-", dir="/tmp")
    me = psutil.Process()
    others = {p.pid for p in me.children()}  # the Redis server and anything else not Ray's
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp_dir,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}},
    )
    try:
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        limited = deployment(
            pids.predict,
            config=ServingConfig(model_id="limited", rate_limit="8/minute", redis_url=redis.url, sync_in_thread=False),
            num_replicas=2,
            max_ongoing_requests=4,
            ray_actor_options={"num_cpus": 0},
        )
        cached = deployment(
            pids.predict,
            config=ServingConfig(model_id="cached", cache_size=100, redis_url=redis.url, sync_in_thread=False),
            num_replicas=2,
            ray_actor_options={"num_cpus": 0},
        )
        serve.run_many(
            [
                RunTarget(limited.bind(), name="limited", route_prefix="/limited"),
                RunTarget(cached.bind(), name="cached", route_prefix="/cached"),
            ]
        )
        yield Cluster(port)
    finally:
        started = [q for c in me.children() if c.pid not in others for q in (c, *c.children(recursive=True))]
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
            _, alive = psutil.wait_procs(started, timeout=20)
            for proc in alive:
                proc.kill()
            psutil.wait_procs(alive, timeout=10)
            shutil.rmtree(temp_dir, ignore_errors=True)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _send(cluster: Cluster, path: str, n: int, **headers: str) -> list[tuple[int, Any]]:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: cluster.predict(path, [i], **headers), range(n)))


def test_the_limit_holds_across_two_replicas(cluster: Cluster) -> None:
    spread = False
    for round in range(5):  # a new client each round, until the allowed requests came from both replicas
        results = _send(cluster, "/limited/predict", 24, **{"X-API-Key": f"client-{round}"})
        assert sorted(status for status, _ in results) == [200] * 8 + [429] * 16, results
        answered = {body["prediction"]["pid"] for status, body in results if status == 200}
        if len(answered) == 2:
            spread = True
            break
    assert spread, "Ray never routed an allowed request to the second replica"


def test_the_cache_is_shared_by_the_replicas(cluster: Cluster) -> None:
    status, first = cluster.predict("/cached/predict", [3, 4])
    assert status == 200 and first["prediction"]["scores"] == [6.0, 8.0]
    for _ in range(5):  # until both replicas have answered [3, 4]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: cluster.predict("/cached/predict", [3, 4]), range(16)))
        assert all(status == 200 and body["prediction"] == first["prediction"] for status, body in answers)
        hits = _by_replica(cluster.metrics("/cached/metrics"), "ml_prediction_cache_hits_total")
        if len(hits) == 2 and all(v > 0 for v in hits.values()):
            break
    misses = _by_replica(cluster.metrics("/cached/metrics"), "ml_prediction_cache_misses_total")
    assert len(hits) == 2 and all(v > 0 for v in hits.values()), hits  # each replica answered from the cache
    assert sum(misses.values()) == 1, misses  # predict ran once in the whole deployment: Redis held the answer


def _by_replica(text: str, name: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("model_id") == "cached":
                out[sample.labels["replica"]] = sample.value
    return out
