"""BentoML 1.4 + datason, production: validation, limits, rate limits, request ids, metrics, health, logs.

Serve it from the repository root:

    BENTOML_DO_NOT_TRACK=true bentoml serve examples.bentoml_production:IrisService --host 127.0.0.1 --port 3000

    curl -s -X POST 127.0.0.1:3000/predict -H 'Content-Type: application/json' -H 'X-Request-ID: order-17' \\
        -H 'X-API-Key: team-a' -d '{"features": {"sepal_length": 5.1, "sepal_width": 3.5,
        "petal_length": 1.4, "petal_width": 0.2}}'
    curl -s -X POST 127.0.0.1:3000/predict -H 'Content-Type: application/json' \\
        -d '{"features": {"sepal_length": -1}}'  # 422 naming the field
    curl -s 127.0.0.1:3000/health      # the toolkit's counts, error rate, latency
    curl -s 127.0.0.1:3000/readyz      # BentoML's probe: 200 while the toolkit's service is ready
    curl -s 127.0.0.1:3000/metrics     # BentoML's metrics, iris_species_total, and ml_prediction_*

What the toolkit adds to the service: the request must match ``Flower`` (a pydantic model: 422 naming the
field otherwise), bodies over 16 KiB are refused (413), each API key may make 600 requests a minute (429
with Retry-After), every answer carries an ``X-Request-ID`` (the client's, or a new one), failures answer
the error envelope (never a traceback), one JSON log line per request goes to stderr, and the request,
latency and error counters appear at BentoML's ``/metrics`` beside BentoML's own and this service's
``iris_species_total``. ``bentoml build`` packages it with the ``bentofile.yaml`` shown in
docs/integrations/bentoml.md.
"""

from __future__ import annotations

import logging
import sys

import bentoml
import numpy as np
import pydantic

from datason.integrations.bentoml import datason_service
from datason.serving import ServingConfig
from datason.serving.requestlog import LineHandler

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
EXAMPLE = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}

CONFIG = ServingConfig(
    model_id="iris",
    model_version="1.0.0",
    max_body_bytes=16_384,
    rate_limit="600/minute",  # per X-API-Key (client_id_header), else per peer address
    degraded_error_rate=0.05,
)

# One JSON line per request (request id, hashed client, status, latency, error kind) on stderr.
_log = logging.getLogger("datason.serving")
if not _log.handlers:
    _log.addHandler(LineHandler(sys.stderr))
    _log.setLevel(logging.INFO)
    _log.propagate = False

SPECIES = bentoml.metrics.Counter(
    name="iris_species_total", documentation="Predictions by species.", labelnames=["species"]
)


class Flower(pydantic.BaseModel):
    """One flower's measurements in centimetres."""

    model_config = pydantic.ConfigDict(extra="forbid")
    sepal_length: float = pydantic.Field(gt=0, le=30)
    sepal_width: float = pydantic.Field(gt=0, le=30)
    petal_length: float = pydantic.Field(gt=0, le=30)
    petal_width: float = pydantic.Field(gt=0, le=30)


@datason_service(config=CONFIG, schema=Flower)
@bentoml.service(traffic={"timeout": 10, "max_concurrency": 64}, workers=1)
class IrisService:
    """Iris species from four measurements; the model is fitted once per worker."""

    def __init__(self) -> None:
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        iris = load_iris()
        self.model = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
        self.classes = [str(name) for name in iris.target_names]

    def predict(self, flower: Flower) -> dict[str, object]:
        """The species, its index and every class's probability (NumPy values, written as plain JSON)."""
        row = np.array([[getattr(flower, name) for name in FEATURES]])
        probabilities = self.model.predict_proba(row)[0]
        best = int(np.argmax(probabilities))
        SPECIES.labels(species=self.classes[best]).inc()
        return {
            "species": self.classes[best],
            "class_index": best,
            "probabilities": dict(zip(self.classes, probabilities, strict=True)),
        }
