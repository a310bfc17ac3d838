"""LitServe 0.2 + datason, basic: a scikit-learn iris classifier whose endpoint speaks datason.

Run it from the repository root (``PORT`` defaults to 8000):

    python examples/litserve_basic.py

then, from another terminal:

    curl -s -X POST 127.0.0.1:8000/predict -H 'Content-Type: application/json' \\
        -d '{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'
    curl -s -X POST 127.0.0.1:8000/v1/models/iris:predict -H 'Content-Type: application/json' \\
        -d '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'   # KServe v1
    curl -s 127.0.0.1:8000/health       # LitServe's probe: "ok" once its workers are ready
    curl -s 127.0.0.1:8000/metrics      # the toolkit's ml_prediction_* counts

The class is an ordinary LitServe API on another base: ``setup`` builds the model in each inference worker,
``predict`` takes the rows and returns NumPy values, which datason writes as plain JSON for web clients (or
typed, exactly, for a client sending ``Accept: application/vnd.datason+json``). The same ``predict`` answers
datason's ``/predict`` and the Open Inference Protocol, KServe v1, Seldon and MLflow routes; a malformed or
oversized body is answered by the toolkit (400, 413) without reaching a worker. docs/integrations/litserve.md
explains the rest.
"""

from __future__ import annotations

import os
from typing import Any

import litserve as ls
import numpy as np

from datason.integrations.litserve import DatasonLitAPI
from datason.serving import ServingConfig

EXAMPLE = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]  # sepal length, sepal width, petal length, petal width (cm)


class IrisAPI(DatasonLitAPI):
    """Logistic regression on scikit-learn's bundled iris data (nothing downloaded, ~50 ms to fit)."""

    def setup(self, device: str) -> None:
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        iris = load_iris()
        self.model = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
        self.classes = np.asarray(iris.target_names)

    def predict(self, rows: Any) -> dict[str, np.ndarray]:
        """Species and class probabilities for each row of four measurements (a list, an array or a frame)."""
        x = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
        probabilities = self.model.predict_proba(x)
        return {"species": self.classes[probabilities.argmax(axis=1)], "probabilities": probabilities}


if __name__ == "__main__":
    api = IrisAPI(config=ServingConfig(model_id="iris", model_version="1.0.0"))
    server = ls.LitServer(api, accelerator="cpu")
    # LitServe binds 0.0.0.0 unless told otherwise; generate_client_file=False: no client.py written here
    server.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8000")), generate_client_file=False)
