"""`datason serve --workers 2`: two processes behind one port. With Redis the rate limit holds across the
workers; /metrics sums every worker's requests (prometheus-client's multiprocess mode, in a temporary
directory the CLI removes at exit) and /health gives the same totals whichever worker answers."""

from __future__ import annotations

import concurrent.futures
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from datason import cli
from tests.redis_server import RedisServer, running_redis
from tests.serving.serveproc import Serve

APP = "tests.serving.apps.pids:predict"
# predict's 5 ms on the event loop: a busy worker leaves concurrent connections to the other one (an idle worker
# would otherwise accept nearly every connection, the kernel waking the same waiter first)
BLOCKING = ("--no-sync-in-thread",)


def _samples(text: str, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
    out = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                out.append((s.labels, float(s.value)))
    return out


def _value(text: str, name: str, **labels: str) -> float:
    found = _samples(text, name, **labels)
    assert len(found) == 1, (name, labels, found)
    return found[0][1]


def _send(server: Serve, bodies: list[Any], **headers: str) -> list[tuple[int, Any]]:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda f: server.predict(f, **headers), bodies))


def _stop(server: Serve) -> None:
    assert server.stop() in (0, -15), server.log()[-2000:]  # uvicorn re-raises SIGTERM after a clean shutdown


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    yield from running_redis()


def test_the_limit_holds_across_workers(redis: RedisServer, tmp_path: pathlib.Path) -> None:
    options = ("--workers", "2", "--model-id", "w", "--rate-limit", "10/minute", "--redis-url", redis.url, *BLOCKING)
    server = Serve(tmp_path, APP, *options).start()
    server.wait_workers(2)
    try:
        spread = False
        for round in range(5):  # each round a new client; until the allowed ones came from both workers
            results = _send(server, [[i] for i in range(30)], **{"X-API-Key": f"client-{round}"})
            assert sorted(status for status, _ in results) == [200] * 10 + [429] * 20
            pids = {body["prediction"]["pid"] for status, body in results if status == 200}
            if len(pids) == 2:
                spread = True
                break
        assert spread, "the kernel never gave both workers a request"
    finally:
        _stop(server)


def test_without_redis_each_worker_counts_its_own(tmp_path: pathlib.Path) -> None:
    """The documented difference: in process memory a limit of N is N per worker."""
    server = Serve(tmp_path, APP, "--workers", "2", "--model-id", "m", "--rate-limit", "5/minute", *BLOCKING).start()
    server.wait_workers(2)
    try:
        results = _send(server, [[i] for i in range(40)])
        by_pid: dict[int, int] = {}
        for status, body in results:
            if status == 200:
                by_pid[body["prediction"]["pid"]] = by_pid.get(body["prediction"]["pid"], 0) + 1
        assert all(n <= 5 for n in by_pid.values()), by_pid
        assert len(by_pid) == 2 and sum(by_pid.values()) > 5, by_pid  # more than 5 in all
    finally:
        _stop(server)


def test_metrics_and_health_sum_over_workers(tmp_path: pathlib.Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    server = Serve(tmp_path, APP, "--workers", "2", "--model-id", "summed", env={"TMPDIR": str(scratch)}).start()
    server.wait_workers(2)
    try:
        made = list(scratch.glob("datason-metrics-*"))
        assert len(made) == 1 and any(made[0].glob("*.db"))  # PROMETHEUS_MULTIPROC_DIR, made by the CLI
        ok = _send(server, [[i] for i in range(60)])
        bad = _send(server, ["not a number"] * 7 + [[[[1]]]] * 3)
        assert [s for s, _ in ok] == [200] * 60
        assert [s for s, _ in bad] == [500] * 7 + [200] * 3  # predict fails on a string: 500
        pids = {body["prediction"]["pid"] for _, body in ok}
        assert len(pids) == 2, pids
        successes, failures = 63, 7
        for _ in range(6):  # several scrapes: whichever worker answers, the same sums
            text = server.metrics()
            assert (
                _value(text, "ml_prediction_requests_total", model_id="summed", protocol="datason", status="success")
                == successes
            )
            assert (
                _value(text, "ml_prediction_requests_total", model_id="summed", protocol="datason", status="error")
                == failures
            )
            assert _value(text, "ml_prediction_latency_seconds_count", model_id="summed", protocol="datason") == 70
            assert (
                _value(text, "ml_prediction_errors_total", model_id="summed", protocol="datason", kind="predict")
                == failures
            )
            assert _value(text, "ml_active_models") == 1  # livemax: 1 while a worker serves, not one per worker
            health = server.health()
            assert (health["total_requests"], health["error_count"]) == (70, failures)
    finally:
        _stop(server)
    assert not list(scratch.iterdir())  # the metrics directory is gone


def test_workers_option() -> None:
    args = cli.build_parser().parse_args(["serve", "m:f", "--workers", "3"])
    assert args.workers == 3
    assert cli.main(["serve", "tests.serving.apps.pids:predict", "--workers", "0"]) == 2


def test_versions_behind_workers_keep_their_labels_and_counts(tmp_path: pathlib.Path) -> None:
    """Two versions of a model (``--model``) in each of two workers: counts by ``model_version``, summed."""
    options = ["--workers", "2", "--model-id", "m", "--model", f"m:1={APP}", "--model", f"m:2={APP}"]
    server = Serve(tmp_path, "", *options).start()
    server.wait_workers(2)
    try:
        one = _send(server, [[i] for i in range(20)], **{"X-Model-Version": "1"})
        two = _send(server, [[i] for i in range(12)], **{"X-Model-Version": "2"})
        assert [s for s, _ in one + two] == [200] * 32
        assert {b["model_version"] for _, b in one} == {"1"} and {b["model_version"] for _, b in two} == {"2"}
        for _ in range(4):
            text = server.metrics()
            for version, n in (("1", 20), ("2", 12)):
                labels = {"model_id": "m", "model_version": version, "protocol": "datason"}
                assert _value(text, "ml_prediction_requests_total", status="success", **labels) == n
                assert _value(text, "ml_prediction_latency_seconds_count", **labels) == n
            health = server.health()
            assert {h["model_version"]: h["total_requests"] for h in health["models"]} == {"1": 20, "2": 12}
    finally:
        _stop(server)
