"""A model class on Ray Serve through datason, as in production: validation, limits, autoscaling, health, metrics.

- the model is loaded once per replica (``__init__``), ``predict`` is called by the toolkit;
- a JSON Schema validates ``/predict`` features (422 with the field path), bodies over 64 KiB get 413, each
  client (``X-API-Key``, else its address) gets 600 requests a minute per replica (429 past that);
- 2 to 4 replicas (Ray's autoscaler, ``target_ongoing_requests``), a quarter CPU each;
- ``/health`` and ``/metrics`` cover every replica (Ray's ``check_health`` follows the toolkit's health);
- ``user_config`` retunes the model without a restart (``reconfigure``).

``examples/ray_serve_config.yaml`` is this app as ``serve build`` writes it (regenerate, from the repository
root: ``serve build ray_serve_production:app -d examples -o examples/ray_serve_config.yaml``). Run locally:

    .venv-frameworks/bin/python examples/ray_serve_production.py
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

import numpy as np

from datason.integrations.ray_serve import deployment
from datason.serving import ServingConfig

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {name: {"type": "number", "exclusiveMinimum": 0, "maximum": 30} for name in FEATURES},
    "required": list(FEATURES),
    "additionalProperties": False,
}
CONFIG = ServingConfig(
    model_id="iris",
    model_version="1.0.0",
    rate_limit="600/minute",
    max_body_bytes=65_536,
    degraded_error_rate=0.2,
)
AUTOSCALING: dict[str, Any] = {
    "min_replicas": 2,
    "initial_replicas": 2,
    "max_replicas": 4,
    "target_ongoing_requests": 8,
    "upscale_delay_s": 5,
    "downscale_delay_s": 120,
}
RAY_ACTOR_OPTIONS: dict[str, Any] = {"num_cpus": 0.25}
USER_CONFIG: dict[str, Any] = {"temperature": 1.0}


@deployment(
    config=CONFIG,
    schema=SCHEMA,
    autoscaling_config=AUTOSCALING,
    max_ongoing_requests=32,
    max_queued_requests=256,
    ray_actor_options=RAY_ACTOR_OPTIONS,
    user_config=USER_CONFIG,
    health_check_period_s=5,
)
class Iris:
    """A nearest-centroid iris classifier (the centroids stand in for weights loaded from storage)."""

    def __init__(self) -> None:
        self.labels = ("setosa", "versicolor", "virginica")
        self.centroids = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
        self.temperature = 1.0

    def predict(self, features: dict[str, float]) -> dict[str, Any]:
        x = np.array([features[name] for name in FEATURES])
        logits = -np.linalg.norm(self.centroids - x, axis=1) / self.temperature
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        return {"label": self.labels[int(probabilities.argmax())], "probabilities": probabilities}

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        self.temperature = float(user_config["temperature"])

    def check_health(self) -> None:  # Ray calls it every health_check_period_s (after the toolkit's checks)
        if not np.isfinite(self.centroids).all():
            raise RuntimeError("model weights are corrupt")


app = Iris.bind()


def _call(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def demo(url: str) -> dict[str, Any]:
    """A prediction with a request id, a refused one, then the deployment's health and metrics."""
    flower = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    status, headers, body = _call(
        url + "/predict", json.dumps({"features": flower}).encode(), {"X-Request-ID": "order-42"}
    )
    ok = json.loads(body)
    print(status, headers.get("x-request-id"), ok["prediction"]["label"], ok["prediction"]["probabilities"])
    status_bad, _, body_bad = _call(url + "/predict", json.dumps({"features": {**flower, "petal_width": -1}}).encode())
    bad = json.loads(body_bad)
    print(status_bad, bad["error"])  # 422 does not match the schema (exclusiveMinimum=0) at $.features.petal_width
    _, _, health_body = _call(url + "/health")
    health = json.loads(health_body)
    print("health:", health["status"], "replicas:", health["replicas"], "requests:", health["total_requests"])
    _, _, metrics = _call(url + "/metrics")
    lines = [line for line in metrics.decode().splitlines() if line.startswith("ml_prediction_requests_total")]
    print("\n".join(line for line in lines if 'protocol="datason"' in line))
    return {
        "status": status,
        "request_id": headers.get("x-request-id"),
        "prediction": ok,
        "refused": (status_bad, bad),
        "health": health,
        "metrics": metrics.decode(),
    }


def main(port: int = 8000) -> dict[str, Any]:
    """Serve ``app`` at ``/iris`` on a local Ray (or the Ray this process already joined) and call it."""
    import ray
    from ray import serve

    started = not ray.is_initialized()
    if started:  # loopback only, no dashboard, no usage stats
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1")
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(app, name="iris", route_prefix="/iris")
        return demo(f"http://127.0.0.1:{port}/iris")
    finally:
        if started:
            serve.shutdown()
            ray.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
