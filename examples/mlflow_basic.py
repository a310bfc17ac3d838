"""MLflow 3 + datason, basic: typed run artifacts, and an iris classifier logged, registered and loaded back.

Run it from any directory: MLflow keeps its store where ``MLFLOW_TRACKING_URI`` points, by default
``./mlflow.db`` (SQLite: runs, the model registry) with the artifacts under ``./mlruns``:

    python examples/mlflow_basic.py

It trains a scikit-learn model on the bundled iris data (nothing downloaded), logs its evaluation with
``log_result`` (a confusion matrix, a per-class DataFrame, coefficients in float32, a UTC timestamp: each
comes back as the same type with ``load_result``, where ``mlflow.log_dict`` would write arrays as
``"[0 1 2]"``), then logs the model with ``log_model`` and registers it as ``iris``: a
``mlflow.pyfunc.PythonModel`` in the ``context`` form, whose answers datason writes. The signature comes from a
float32 input example, so it says float32. The model is loaded back by ``models:/iris/latest`` and by version.

Then serve it with MLflow's own scoring server and score it in every MLflow input format:

    mlflow models serve -m models:/iris/latest --env-manager local -h 127.0.0.1 -p 5000
    python examples/mlflow_scoring.py http://127.0.0.1:5000

docs/integrations/mlflow.md explains the rest.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from datason.integrations.mlflow import load_result, log_model, log_result

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]  # centimetres


class IrisModel(mlflow.pyfunc.PythonModel):
    """Species and class probabilities for each row; the answer keeps the request's index."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.species: list[str] = []

    def load_context(self, context: Any) -> None:
        self.species = list(context.model_config["species"])  # the model_config given to log_model

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        x = model_input[FEATURES].to_numpy(dtype=np.float32)
        probabilities = self.estimator.predict_proba(x).astype(np.float32)
        answer = pd.DataFrame(probabilities, columns=[f"p_{s}" for s in self.species], index=model_input.index)
        answer.insert(0, "species", np.asarray(self.species)[probabilities.argmax(axis=1)])
        return answer


def train() -> tuple[Any, pd.DataFrame, np.ndarray, list[str]]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris()
    x = pd.DataFrame(iris.data.astype(np.float32), columns=FEATURES)
    estimator = LogisticRegression(max_iter=1000).fit(x.to_numpy(), iris.target)
    return estimator, x, iris.target, [str(name) for name in iris.target_names]


def evaluate(estimator: Any, x: pd.DataFrame, y: np.ndarray, species: list[str]) -> dict[str, Any]:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    predicted = estimator.predict(x.to_numpy())
    precision, recall, f1, support = precision_recall_fscore_support(y, predicted)
    return {
        "accuracy": float(np.mean(predicted == y)),
        "confusion": confusion_matrix(y, predicted),  # int64, 3x3
        "per_class": pd.DataFrame(
            {"precision": precision, "recall": recall, "f1": f1, "support": support},
            index=pd.Index(species, name="species"),
        ),
        "coefficients": estimator.coef_.astype(np.float32),
        "evaluated_at": dt.datetime.now(dt.UTC),
    }


def main() -> dict[str, Any]:
    estimator, x, y, species = train()
    mlflow.set_experiment("datason-iris")
    with mlflow.start_run() as run:
        evaluation = evaluate(estimator, x, y, species)
        evaluation_uri = log_result(evaluation, "evaluation.json")
        info = log_model(
            IrisModel(estimator),
            name="iris",
            input_example=x.iloc[:2],  # float32 columns: the signature says float32
            registered_model_name="iris",
            model_config={"species": species},
        )
    back = load_result(evaluation_uri)  # the same types: int64 matrix, DataFrame with its index, aware datetime
    assert back["confusion"].dtype == np.int64 and back["confusion"].shape == (3, 3)
    assert back["per_class"].index.name == "species" and back["coefficients"].dtype == np.float32
    assert back["evaluated_at"] == evaluation["evaluated_at"] and back["evaluated_at"].tzinfo is not None
    print(f"run {run.info.run_id}: accuracy {back['accuracy']:.3f}, evaluation at {evaluation_uri}")

    version = info.registered_model_version
    flowers = x.iloc[[0, 50, 100]]
    for uri in ("models:/iris/latest", f"models:/iris/{version}"):
        model = mlflow.pyfunc.load_model(uri)  # outside a server, predict returns the model's own DataFrame
        answer = model.predict(flowers)
        assert answer.index.tolist() == [0, 50, 100] and answer["p_setosa"].dtype == np.float32
        print(f"{uri}: {answer['species'].tolist()}")
    print(f"signature inputs: {info.signature.inputs}")
    print("serve it: mlflow models serve -m models:/iris/latest --env-manager local -h 127.0.0.1 -p 5000")
    return {"run_id": run.info.run_id, "evaluation_uri": evaluation_uri, "version": version}


if __name__ == "__main__":
    main()
