"""LitServe 0.2 + datason, production: validation, LitServe batching, two workers, limits, metrics, logs.

Run it from the repository root (``PORT`` defaults to 8000; every ``DATASON_SERVING_*`` variable applies):

    DATASON_SERVING_RATE_LIMIT=600/minute python examples/litserve_production.py

    curl -s -X POST 127.0.0.1:8000/predict -H 'Content-Type: application/json' \\
        -H 'X-Request-ID: order-17' -H 'X-API-Key: team-a' \\
        -d '{"features": {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}}'
    curl -s -X POST 127.0.0.1:8000/predict -H 'Content-Type: application/json' \\
        -d '{"features": {"sepal_length": -1}}'   # 422 naming the field
    curl -s 127.0.0.1:8000/health       # LitServe's probe
    curl -s 127.0.0.1:8000/metrics      # ml_prediction_* of the API server process that answers the scrape

What each part does: the body must match ``Flower`` (a pydantic model, checked in LitServe's API server
process: a refused request never reaches a worker), bodies over 16 KiB are refused (413), every answer carries
an ``X-Request-ID``, failures answer the error envelope (never a traceback), one JSON log line per request goes
to stderr. LitServe runs two inference workers (``workers_per_device=2``, so two API server processes) and
batches up to 8 concurrent requests (``max_batch_size``, ``batch_timeout``): ``decode_request`` turns each
validated ``Flower`` into a row, LitServe's ``batch`` stacks the rows into one array, ``predict`` scores the
batch at once, LitServe's ``unbatch`` splits the answer and ``encode_response`` names each row's species.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import litserve as ls
import numpy as np
import pydantic

from datason.integrations.litserve import DatasonLitAPI
from datason.serving import ServingConfig
from datason.serving.requestlog import LineHandler

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
EXAMPLE = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
SPECIES = ("setosa", "versicolor", "virginica")


class Flower(pydantic.BaseModel):
    """One flower's measurements in centimetres."""

    model_config = pydantic.ConfigDict(extra="forbid")
    sepal_length: float = pydantic.Field(gt=0, le=30)
    sepal_width: float = pydantic.Field(gt=0, le=30)
    petal_length: float = pydantic.Field(gt=0, le=30)
    petal_width: float = pydantic.Field(gt=0, le=30)


class IrisAPI(DatasonLitAPI):
    """Iris species from four measurements; the model is fitted once per inference worker."""

    def setup(self, device: str) -> None:
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        iris = load_iris()
        self.model = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)

    def decode_request(self, request: Flower, **kwargs: Any) -> np.ndarray:
        """A validated Flower (the toolkit checked it) as one row; LitServe stacks the rows of a batch."""
        return np.array([getattr(request, name) for name in FEATURES])

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Class probabilities for a batch of rows, shape (n, 3)."""
        return self.model.predict_proba(rows)

    def encode_response(self, output: np.ndarray, **kwargs: Any) -> dict[str, Any]:
        """One row of probabilities (NumPy values, written as plain JSON by datason)."""
        best = int(np.argmax(output))
        return {"species": SPECIES[best], "class_index": best, "probabilities": dict(zip(SPECIES, output, strict=True))}


def server() -> ls.LitServer:
    config = ServingConfig.from_env(model_id="iris", model_version="1.0.0", max_body_bytes=16_384)
    api = IrisAPI(config=config, schema=Flower, max_batch_size=8, batch_timeout=0.01)
    return ls.LitServer(api, accelerator="cpu", workers_per_device=2, timeout=10)


if __name__ == "__main__":
    # One JSON line per request (request id, hashed client, status, latency, error kind) on stderr.
    log = logging.getLogger("datason.serving")
    log.addHandler(LineHandler(sys.stderr))
    log.setLevel(logging.INFO)
    log.propagate = False
    server().run(host="127.0.0.1", port=int(os.environ.get("PORT", "8000")), generate_client_file=False)
