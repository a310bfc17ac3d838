"""Seldon Core v1 + datason, basic: an iris classifier whose input is read and output written by datason.

Serve it from the repository root, as any seldon-core 1.18 component (the seldon virtualenv):

    seldon-core-microservice examples.seldon_basic.IrisClassifier --service-type MODEL \\
        --http-port 9000 --grpc-port 5000 --metrics-port 6000

then, from another terminal:

    curl -s -X POST 127.0.0.1:9000/api/v1.0/predictions -H 'Content-Type: application/json' \\
        -d '{"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}'
    curl -s -X POST 127.0.0.1:9000/api/v1.0/predictions -H 'Content-Type: application/json' \\
        -d '{"data": {"names": ["petal_width", "petal_length", "sepal_width", "sepal_length"],
                      "ndarray": [[0.2, 1.4, 3.5, 5.1]]}}'
    curl -s 127.0.0.1:9000/health/status     # the toolkit's health (counts, error rate, latency)
    curl -s 127.0.0.1:6000/metrics           # seldon-core's metrics port: ml_prediction_* among them

``predict`` gets the rows as a NumPy array (a ``tensor`` or ``ndarray`` of numbers), or as a DataFrame when the
request names its columns or sends a frame as typed ``jsonData`` (in any column order: the model picks them by
name); it returns NumPy probabilities, which datason writes in the request's form with the class names of
``class_names()``. The model is a nearest-centroid
classifier on the iris class means (so nothing is downloaded or fitted); a real one is loaded in ``load()``.
docs/integrations/seldon.md explains the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from datason.integrations.seldon import DatasonComponent
from datason.serving import ServingConfig

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")  # cm
CLASSES = ("setosa", "versicolor", "virginica")
MEANS = [[5.006, 3.428, 1.462, 0.246], [5.936, 2.770, 4.260, 1.326], [6.588, 2.974, 5.552, 2.026]]
EXAMPLE = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


class IrisClassifier(DatasonComponent):
    """Class probabilities for rows of four measurements: softmax of minus the distance to each class mean."""

    serving_config = ServingConfig(model_id="iris", model_version="1.0.0")

    def load(self) -> None:
        self.centroids = np.array(MEANS)  # a real model: joblib.load(...), mlflow.pyfunc.load_model(...)
        super().load()  # starts the toolkit's service (seldon-core calls load() in every worker)

    def class_names(self) -> list[str]:
        return list(CLASSES)

    def predict(self, X: Any, names: list[str], meta: dict[str, Any] | None = None) -> np.ndarray:
        if isinstance(X, pd.DataFrame):  # named columns (``names``, or a typed frame): pick the features by name
            X = X[list(FEATURES)]
        x = np.asarray(X, dtype=np.float64).reshape(-1, len(FEATURES))
        distance = np.linalg.norm(x[:, None, :] - self.centroids[None, :, :], axis=2)
        weight = np.exp(distance.min(axis=1, keepdims=True) - distance)
        return weight / weight.sum(axis=1, keepdims=True)
