"""Score a datason pyfunc served by MLflow's own scoring server: every MLflow input format, strict JSON out.

Start the iris model of examples/mlflow_basic.py first (from the directory where that script ran):

    mlflow models serve -m models:/iris/latest --env-manager local -h 127.0.0.1 -p 5000

then:

    python examples/mlflow_scoring.py http://127.0.0.1:5000

Requests are written with datason's MLflow codec (``datason.protocols.mlflow.encode_request``: float32 with
its own shortest digits, ``dataframe_split`` with the index), so any HTTP client would do. The answers are
strict JSON (a parser that refuses ``NaN`` reads them); with the model's default ``datason_output`` (``split``)
a DataFrame answer keeps the index the request sent; ``params={"datason_output": "typed"}`` gives datason's
typed form, which ``datason.loads`` turns back into the DataFrame with its float32 columns; ``"records"`` is
MLflow's own layout, which ``mlflow.deployments.PredictionsResponse`` reads.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import pandas as pd

import datason
from datason.protocols import mlflow as scoring

FLOWERS = pd.DataFrame(
    np.array([[5.1, 3.5, 1.4, 0.2], [7.0, 3.2, 4.7, 1.4], [6.3, 3.3, 6.0, 2.5]], dtype=np.float32),
    columns=["sepal_length", "sepal_width", "petal_length", "petal_width"],
    index=["f-17", "f-18", "f-19"],
)


def invoke(url: str, body: bytes) -> bytes:
    """POST ``body`` to ``/invocations``; the answer's bytes (an error status raises, with MLflow's message)."""
    request = urllib.request.Request(
        url.rstrip("/") + "/invocations", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{exc.code}: {exc.read().decode(errors='replace')}") from None


def strict(body: bytes) -> Any:
    """``body`` parsed as RFC 8259 JSON: a bare ``NaN`` or ``Infinity`` (what MLflow itself writes) fails."""

    def refuse(token: str) -> Any:
        raise ValueError(f"the answer is not JSON: it holds {token}")

    return json.loads(body, parse_constant=refuse)


def from_split(predictions: dict[str, Any]) -> pd.DataFrame:
    """A DataFrame from the ``split`` layout (``{"columns", "index", "data"}``)."""
    return pd.DataFrame(predictions["data"], index=predictions["index"], columns=predictions["columns"])


def main(url: str = "http://127.0.0.1:5000") -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for form in ("dataframe_split", "dataframe_records", "instances", "inputs"):
        doc = strict(invoke(url, scoring.encode_request(FLOWERS, form=form)))
        answers[form] = from_split(doc["predictions"])  # the model's default layout: split
        print(f"{form:17} index {answers[form].index.tolist()}  species {answers[form]['species'].tolist()}")

    typed_body = scoring.encode_request(FLOWERS, params={"datason_output": "typed"})
    typed = datason.loads(invoke(url, typed_body))["predictions"]  # datason's reader is strict too
    assert isinstance(typed, pd.DataFrame) and typed["p_setosa"].dtype == np.float32
    answers["typed"] = typed
    print(f"typed: {dict(typed.dtypes.astype(str))}, index {typed.index.tolist()}")

    records = strict(invoke(url, scoring.encode_request(FLOWERS, params={"datason_output": "records"})))
    answers["records"] = records["predictions"]
    print(f"records (MLflow's layout, no index): {records['predictions'][0]}")
    return answers


if __name__ == "__main__":
    main(*sys.argv[1:2])
