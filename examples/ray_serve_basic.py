"""A predict function on Ray Serve through datason: every toolkit route, exact types, one replica.

Run it (a local Ray on 127.0.0.1, then a request, then shutdown):

    .venv-frameworks/bin/python examples/ray_serve_basic.py

or serve ``app`` with Ray's own CLI (from ``examples/``): ``serve run ray_serve_basic:app``.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from typing import Any

import numpy as np

from datason.config import get_ml_config
from datason.integrations.ray_serve import deployment
from datason.serving import ServingConfig


def predict(features: dict[str, Any]) -> dict[str, Any]:
    """Mean and range-scaled values of ``x``; NumPy in, NumPy out (dtype and shape survive the wire)."""
    x = np.asarray(features["x"])
    return {"mean": x.mean(dtype=np.float64), "scaled": (x - x.min()) / (x.max() - x.min())}


# get_ml_config(): responses keep their types (datason.loads gives back float32 arrays, datetimes...).
app = deployment(
    predict,
    config=ServingConfig(model_id="basic", datason_config=get_ml_config()),
    ray_actor_options={"num_cpus": 0.25},
).bind()


def demo(url: str) -> dict[str, Any]:
    """What a client does: a typed request (datason.dumps) and the typed answer (datason.loads)."""
    import datason

    features = {"x": np.array([[1.0, 2.0], [3.0, 5.0]], dtype=np.float32)}
    body = datason.dumps({"features": features}, get_ml_config()).encode()
    request = urllib.request.Request(url + "/predict", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = datason.loads(response.read())
    scaled = answer["prediction"]["scaled"]
    print(f"scaled: {scaled.dtype} {scaled.shape}\n{scaled}")  # float32 (2, 2): the wire kept both
    with urllib.request.urlopen(url + "/health", timeout=30) as response:
        print("health:", json.loads(response.read())["status"])
    return answer


def main(port: int = 8000) -> dict[str, Any]:
    """Serve ``app`` at ``/basic`` on a local Ray (or the Ray this process already joined) and call it once."""
    import ray
    from ray import serve

    started = not ray.is_initialized()
    if started:  # loopback only, no dashboard, no usage stats
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1")
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(app, name="basic", route_prefix="/basic")
        return demo(f"http://127.0.0.1:{port}/basic")
    finally:
        if started:
            serve.shutdown()
            ray.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
