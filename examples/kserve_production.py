"""KServe 0.21 + datason, production: a pandas model with typed frames, input specs, limits and hooks.

Run it as a KServe model server script with two worker processes (KServe pickles the model into each):

    python examples/kserve_production.py --http_port 8080 --enable_grpc false --workers 2

A transaction scorer: it takes a DataFrame of transactions (zone-aware ``ts``, ``amount``, categorical
``merchant``, indexed by transaction id) and answers a DataFrame (``ts``, ``score`` as float32, ``flag``) with
the same index. Over v2 (Open Inference Protocol) the frame travels one tensor per column, and datason's codec
rebuilds it exactly on both sides: zone, categories, float32 and index included, where KServe's own v2 writes
``datetime64`` as ``str()`` of its integer nanoseconds. A v1 client sends records (``{"instances": [{...}]}``,
turned into a frame by ``preprocess``), or datason's typed form in ``inputs``.

What the toolkit adds: the v2 inputs must be the declared ``ts``/``amount``/``merchant`` tensors (400 naming the
input otherwise, where KServe answers a mismatch with 500), bodies over 256 KiB are refused (413), each API key
may make 600 requests a minute (429 with Retry-After), every answer carries an ``X-Request-ID``, failures name
the exception class only, one JSON log line per request goes to stderr, and ``ml_prediction_*`` counters appear
at KServe's ``/metrics`` (per worker).
The InferenceService manifest in docs/integrations/kserve.md deploys this kind of script.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import kserve
import numpy as np
import pandas as pd

from datason.integrations.kserve import DatasonModel
from datason.protocols.oip import TensorSpec
from datason.serving import ServingConfig
from datason.serving.requestlog import LineHandler

MERCHANTS = ["grocery", "travel", "electronics", "gambling"]
EXAMPLE = pd.DataFrame(
    {
        "ts": pd.to_datetime(["2024-03-30 23:10", "2024-03-31 03:45", "2024-03-31 12:00"]).tz_localize("Europe/Paris"),
        "amount": [12.5, 980.0, 43.2],
        "merchant": pd.Categorical(["grocery", "gambling", "travel"], categories=MERCHANTS),
    },
    index=pd.Index(["t-1001", "t-1002", "t-1003"], name="txn"),
)

CONFIG = ServingConfig(
    model_version="2024.06",
    max_body_bytes=256 * 1024,
    rate_limit="600/minute",  # per X-API-Key (client_id_header), else per peer address
)

# One JSON line per request (request id, hashed client, status, latency, error kind) on stderr. At module level:
# KServe's worker processes import this module, they do not run its __main__ block.
_log = logging.getLogger("datason.serving")
if not _log.handlers:
    _log.addHandler(LineHandler(sys.stderr))
    _log.setLevel(logging.INFO)
    _log.propagate = False


class FraudScorer(DatasonModel):
    """A logistic score on log-amount, night hours (Paris time) and merchant risk; fixed weights for the example."""

    def __init__(self, name: str) -> None:
        super().__init__(
            name,
            config=CONFIG,
            inputs=[
                TensorSpec("ts", "BYTES", (-1,)),
                TensorSpec("amount", "FP64", (-1,)),
                TensorSpec("merchant", "BYTES", (-1,)),
            ],
        )
        self.load()

    def load(self) -> bool:
        self.bias, self.per_log_amount, self.night = -6.0, 0.8, 1.5
        self.risk = {"grocery": 0.0, "travel": 0.5, "electronics": 1.0, "gambling": 2.5}
        self.ready = True
        return self.ready

    def preprocess(self, payload: Any, headers: Any = None) -> pd.DataFrame:
        """v2 and typed v1 requests arrive as the frame itself; v1 records become one."""
        if isinstance(payload, pd.DataFrame):
            return payload
        frame = pd.DataFrame.from_records(payload)
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
        return frame

    def predict(self, payload: pd.DataFrame, headers: Any = None, response_headers: Any = None) -> pd.DataFrame:
        hour = payload["ts"].dt.tz_convert("Europe/Paris").dt.hour
        z = self.bias + self.per_log_amount * np.log1p(payload["amount"].to_numpy(dtype=np.float64))
        z = (
            z
            + self.night * ((hour < 6).to_numpy())
            + payload["merchant"].astype(str).map(self.risk).fillna(1.0).to_numpy()
        )
        score = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
        return pd.DataFrame({"ts": payload["ts"], "score": score, "flag": score > 0.5}, index=payload.index)


if __name__ == "__main__":
    kserve.ModelServer().start([FraudScorer("fraud")])
