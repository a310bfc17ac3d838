"""An MLServer model served with datason's runtime: ``mlserver start examples/mlserver_iris``.

``model-settings.json`` names ``iris_model.IrisModel``; MLServer finds this file beside it. The model is a
nearest-centroid classifier on the iris measurements (the class means of the iris data set), so the example
needs nothing beyond NumPy and pandas. It takes a DataFrame (one OIP input per column, float32) and answers a
DataFrame with the same index: the species as a ``category`` column, the confidence as float32 and the time of
scoring, zone-aware; datason's runtime carries all of it back to a datason client exactly.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from datason.integrations.mlserver import DatasonModel

SPECIES = ["setosa", "versicolor", "virginica"]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


class IrisModel(DatasonModel):
    async def load(self) -> bool:
        # A real model is read here (joblib.load(self.settings.parameters.uri), ...).
        self.centroids = np.array(
            [[5.006, 3.428, 1.462, 0.246], [5.936, 2.770, 4.260, 1.326], [6.588, 2.974, 5.552, 2.026]],
            dtype=np.float32,
        )
        return await super().load()  # builds and starts datason's service (and its metrics)

    def infer(self, frame: pd.DataFrame) -> pd.DataFrame:
        x = frame[FEATURES].to_numpy(dtype=np.float32)
        distance = np.linalg.norm(x[:, None, :] - self.centroids[None, :, :], axis=-1)
        weights = np.exp(-distance)
        best = distance.argmin(axis=1)
        return pd.DataFrame(
            {
                "species": pd.Categorical.from_codes(best, categories=SPECIES),
                "confidence": (weights.max(axis=1) / weights.sum(axis=1)).astype(np.float32),
                "scored_at": pd.Timestamp(dt.datetime.now(dt.UTC)).floor("ms"),
            },
            index=frame.index,
        )
