"""KServe 0.21 + datason, basic: a scikit-learn iris classifier as a ``kserve.Model`` that speaks datason.

Run it as any KServe model server script (KServe listens on 0.0.0.0; ``--http_port`` and the other flags are
KServe's own):

    python examples/kserve_basic.py --http_port 8080 --enable_grpc false

then, from another terminal:

    curl -s -X POST 127.0.0.1:8080/v1/models/iris:predict -H 'Content-Type: application/json' \\
        -d '{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'
    curl -s -X POST 127.0.0.1:8080/v2/models/iris/infer -H 'Content-Type: application/json' \\
        -d '{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}'
    curl -s 127.0.0.1:8080/v2/models/iris/ready     # KServe's readiness
    curl -s 127.0.0.1:8080/metrics                  # KServe's metrics, and the toolkit's ml_prediction_*

The only change from a plain KServe model: the class derives from ``DatasonModel``, and ``predict`` takes the
decoded rows (an ndarray from v1 ``instances`` or a v2 tensor) and returns NumPy values, which datason writes:
strict JSON for v1, typed tensors for v2 (``species`` as BYTES, ``probabilities`` as FP64, bit for bit).
docs/integrations/kserve.md explains the rest.
"""

from __future__ import annotations

from typing import Any

import kserve
import numpy as np

from datason.integrations.kserve import DatasonModel
from datason.serving import ServingConfig


class IrisClassifier(DatasonModel):
    """Logistic regression on scikit-learn's bundled iris data (nothing downloaded, ~50 ms to fit)."""

    def __init__(self, name: str) -> None:
        super().__init__(name, config=ServingConfig.from_env(model_version="1.0.0"))  # + DATASON_SERVING_* variables
        self.load()

    def load(self) -> bool:
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        iris = load_iris()
        self.model = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
        self.classes = np.asarray(iris.target_names)
        self.ready = True
        return self.ready

    def predict(self, payload: Any, headers: Any = None, response_headers: Any = None) -> dict[str, np.ndarray]:
        """Species and class probabilities for each row of four measurements (sepal and petal, in cm)."""
        x = np.asarray(payload, dtype=np.float64).reshape(-1, 4)
        probabilities = self.model.predict_proba(x)
        return {"species": self.classes[probabilities.argmax(axis=1)], "probabilities": probabilities}


if __name__ == "__main__":
    kserve.ModelServer().start([IrisClassifier("iris")])
