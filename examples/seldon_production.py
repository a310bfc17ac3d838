"""Seldon Core v1 + datason, production: a transaction scorer configured by its environment, as Seldon deploys it.

Serve it from the repository root (the seldon virtualenv); in a SeldonDeployment the operator sets
``PREDICTIVE_UNIT_ID`` (the graph node's name) and ``PREDICTIVE_UNIT_IMAGE``, which name the model and its
version here, and the ``DATASON_SERVING_*`` variables of the container tune the toolkit:

    PREDICTIVE_UNIT_ID=fraud PREDICTIVE_UNIT_IMAGE=registry.local/fraud:2.1.0 \\
    DATASON_SERVING_MAX_BODY_BYTES=262144 DATASON_SERVING_MAX_DEPTH=8 \\
        seldon-core-microservice examples.seldon_production.FraudScorer --service-type MODEL \\
        --http-port 9000 --grpc-port 5000 --metrics-port 6000 --workers 2

Any Seldon client sends rows with column names (the datetimes as ISO strings); a datason client sends the
frame itself as typed ``jsonData`` (``datason.dumps({"jsonData": frame})``: index, zones, categories and
Decimals travel) and, with ``Accept: application/vnd.datason+json``, gets the scores back as a Series indexed
by transaction id:

    curl -s -X POST 127.0.0.1:9000/api/v1.0/predictions -H 'Content-Type: application/json' -d '{"data":
        {"names": ["amount", "ts", "merchant"], "ndarray": [[1250.0, "2024-05-06T02:10:00+02:00", "crypto"]]}}'
    curl -s 127.0.0.1:6000/metrics | grep -E 'fraud_|ml_prediction_'

``predict`` returns a ``SeldonResponse``: its tags go into the answer's ``meta.tags`` and its metrics (how many
transactions were flagged) to seldon-core's metrics port beside the toolkit's ``ml_prediction_*`` counts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from seldon_core.user_model import SeldonResponse

from datason.integrations.seldon import DatasonComponent

RISKY = {"crypto": 2.0, "gift_cards": 1.5, "travel": 0.5}
THRESHOLD = 0.5


class FraudScorer(DatasonComponent):
    """A logistic rule on amount, hour of day (UTC) and merchant kind; configured from the environment."""

    serving_config = None  # ServingConfig.from_env(): DATASON_SERVING_*, PREDICTIVE_UNIT_ID, PREDICTIVE_UNIT_IMAGE

    def init_metadata(self) -> dict[str, Any]:
        meta = super().init_metadata()  # name and versions from the config
        columns = {"names": ["amount", "ts", "merchant"]}
        meta["inputs"] = [{"messagetype": "ndarray", "schema": columns}, {"messagetype": "jsonData"}]
        meta["outputs"] = [{"messagetype": "ndarray"}, {"messagetype": "jsonData"}]
        return meta

    def predict(self, X: Any, names: list[str], meta: dict[str, Any] | None = None) -> SeldonResponse:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=names or None)
        amount = frame["amount"].map(lambda v: float(v) if isinstance(v, Decimal) else v).astype(np.float64)
        hour = pd.to_datetime(frame["ts"], utc=True).dt.hour.to_numpy()
        merchant = frame["merchant"].astype(str).map(RISKY).fillna(0.0).to_numpy(dtype=np.float64)
        logit = -4.0 + amount.to_numpy() / 500.0 + np.where(hour < 6, 1.5, 0.0) + merchant
        scores = 1.0 / (1.0 + np.exp(-logit))
        flagged = int((scores >= THRESHOLD).sum())
        metrics = [{"type": "GAUGE", "key": "fraud_batch_rows", "value": len(frame)}]
        if flagged:
            metrics.append({"type": "COUNTER", "key": "fraud_flagged", "value": flagged})
        if isinstance(X, pd.DataFrame) and not names:  # a whole frame came (jsonData): answer by its index
            result: Any = {"scores": pd.Series(scores, index=frame.index, name="score"), "flagged": flagged}
        else:
            result = scores
        return SeldonResponse(result, tags={"scorer": "rules-v2"}, metrics=metrics)
