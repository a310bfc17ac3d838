"""Metrics: the documented names and labels, exact values after known calls, and one registry per service so
two services in one process (even with the same model_id) never collide."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from datason.serving import ModelService, ServingConfig
from datason.serving.metrics import ServiceMetrics


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_names_labels_and_values() -> None:
    m = ServiceMetrics("iris", (0.001, 0.01, 0.1), ("datason", "oip"))
    m.request(True, 0.005)
    m.request(True, 0.05)
    m.request(False, 0.0005, "validation")
    m.request(False, 0.2, "malformed", protocol="oip")
    m.cache(True)
    m.cache(False)
    m.batch(4)
    m.active_models.set(1)
    got = samples(m.render())
    ds, oip = ("model_id", "iris"), ("protocol", "datason")
    assert got[("ml_prediction_requests_total", (ds, oip, ("status", "success")))] == 2
    assert got[("ml_prediction_requests_total", (ds, oip, ("status", "error")))] == 1
    assert got[("ml_prediction_requests_total", (ds, ("protocol", "oip"), ("status", "error")))] == 1
    assert got[("ml_prediction_requests_total", (ds, ("protocol", "oip"), ("status", "success")))] == 0
    assert got[("ml_prediction_errors_total", (("kind", "validation"), ds, oip))] == 1
    assert got[("ml_prediction_errors_total", (("kind", "predict"), ds, oip))] == 0
    assert got[("ml_prediction_errors_total", (("kind", "malformed"), ds, ("protocol", "oip")))] == 1
    assert got[("ml_prediction_latency_seconds_count", (ds, oip))] == 3
    assert got[("ml_prediction_latency_seconds_bucket", (("le", "0.001"), ds, oip))] == 1
    assert got[("ml_prediction_latency_seconds_bucket", (("le", "0.01"), ds, oip))] == 2
    assert abs(got[("ml_prediction_latency_seconds_sum", (ds, oip))] - 0.0555) < 1e-9
    assert got[("ml_prediction_latency_seconds_count", (ds, ("protocol", "oip")))] == 1
    assert got[("ml_prediction_cache_hits_total", (("model_id", "iris"),))] == 1
    assert got[("ml_prediction_cache_misses_total", (("model_id", "iris"),))] == 1
    assert got[("ml_prediction_batch_size_sum", (("model_id", "iris"),))] == 4
    assert got[("ml_active_models", ())] == 1
    assert m.content_type.startswith("text/plain")


def test_two_services_in_one_process_keep_separate_counts() -> None:
    first = ModelService(lambda f: 1, config=ServingConfig(model_id="same"))
    second = ModelService(lambda f: 2, config=ServingConfig(model_id="same"))

    async def traffic() -> None:
        for _ in range(3):
            await first.predict_request(b'{"features": {}}', headers={}, client="c")
        await second.predict_request(b"oops", headers={}, client="c")

    asyncio.run(traffic())
    a, b = samples(first.metrics()[0]), samples(second.metrics()[0])
    ok = ("ml_prediction_requests_total", (("model_id", "same"), ("protocol", "datason"), ("status", "success")))
    bad = ("ml_prediction_requests_total", (("model_id", "same"), ("protocol", "datason"), ("status", "error")))
    assert (a[ok], a[bad], b[ok], b[bad]) == (3, 0, 0, 1)
    assert first.registry is not second.registry
