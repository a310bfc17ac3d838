"""BentoML 1.4 + datason, basic: a scikit-learn iris classifier whose endpoints speak datason.

Serve it from the repository root, as any BentoML service:

    BENTOML_DO_NOT_TRACK=true bentoml serve examples.bentoml_basic:IrisClassifier --host 127.0.0.1 --port 3000

then, from another terminal:

    curl -s -X POST 127.0.0.1:3000/predict -H 'Content-Type: application/json' \\
        -d '{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'
    curl -s -X POST 127.0.0.1:3000/v1/models/iris:predict -H 'Content-Type: application/json' \\
        -d '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'   # KServe v1
    curl -s 127.0.0.1:3000/readyz        # BentoML's readiness probe
    curl -s 127.0.0.1:3000/metrics       # BentoML's metrics and the toolkit's ml_prediction_* beside them

The class is an ordinary ``@bentoml.service``: the model is built in ``__init__`` (once per worker; a real
service would load it from the model store, ``bentoml.models.BentoModel``), ``predict`` takes the rows and
returns NumPy values, which the toolkit writes as plain JSON for web clients (or typed, exactly, for a client
sending ``Accept: application/vnd.datason+json``). The same ``predict`` answers datason's ``/predict`` and the
Open Inference Protocol, KServe v1, Seldon and MLflow routes. docs/integrations/bentoml.md explains the rest.
"""

from __future__ import annotations

from typing import Any

import bentoml
import numpy as np

from datason.integrations.bentoml import datason_service
from datason.serving import ServingConfig

EXAMPLE = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]  # sepal length, sepal width, petal length, petal width (cm)


@datason_service(config=ServingConfig(model_id="iris", model_version="1.0.0"))
@bentoml.service(traffic={"timeout": 10})
class IrisClassifier:
    """Logistic regression on scikit-learn's bundled iris data (nothing downloaded, ~50 ms to fit)."""

    def __init__(self) -> None:
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
