"""A Seldon Core v1 component for tests/interop/seldon/test_seldon_integration.py, served as users serve one:

    seldon-core-microservice tests.interop.apps.seldon_models.Echo --service-type MODEL ...

``Echo`` answers with what it was sent; the request's ``meta.tags.op`` asks for something else: ``describe``
(what predict received), ``wrap`` (``{"value": X, "names": names}``, a jsonData answer), ``numpy`` (a dict of
NumPy values: seldon-core#5165), ``response`` (a ``SeldonResponse`` with runtime tags and metrics),
``bad_metrics``, ``fail`` (predict raises) and ``unserializable``. ``Bare`` is a plain seldon-core component
with some of the same ops, to show what seldon-core does alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from seldon_core.user_model import SeldonResponse

from datason.integrations.seldon import DatasonComponent
from datason.serving import ServingConfig


def _type(value: Any) -> str:
    t = type(value)
    return f"{t.__module__.split('.')[0]}.{t.__qualname__}"


def describe(X: Any, names: list[str], meta: dict[str, Any] | None) -> dict[str, Any]:
    """What predict received, as plain JSON values."""
    out: dict[str, Any] = {"type": _type(X), "names": names, "meta": meta}
    if isinstance(X, np.ndarray):
        out.update(dtype=str(X.dtype), shape=list(X.shape), items=[_type(v) for v in X.ravel()[:4].tolist()])
    elif isinstance(X, pd.DataFrame):
        out.update(columns=[str(c) for c in X.columns], dtypes=[str(t) for t in X.dtypes], rows=len(X))
    return out


class Echo(DatasonComponent):
    """Identity, unless ``meta.tags.op`` says otherwise (see the module doc)."""

    serving_config = ServingConfig(model_id="echo", model_version="1.0.0", max_body_bytes=65_536)
    metrics_interval = 0  # hand the toolkit's counts to seldon-core with every dict and gRPC answer

    def tags(self) -> dict[str, Any]:
        return {"component": "echo"}

    def predict(self, X: Any, names: list[str], meta: dict[str, Any] | None = None) -> Any:
        op = ((meta or {}).get("tags") or {}).get("op")
        if op is None:
            return X
        if op == "describe":
            return describe(X, names, meta)
        if op == "wrap":
            return {"value": X, "names": names}
        if op == "numpy":
            x = np.asarray(X, dtype=np.float64)
            return {"scores": x.astype(np.float32), "count": np.int64(x.size), "mean": x.mean(), "ok": np.bool_(True)}
        if op == "response":
            rows = int(np.asarray(X).shape[0])
            return SeldonResponse(
                np.asarray(X) * 2,
                tags={"runtime": "yes"},
                metrics=[{"type": "GAUGE", "key": "echo_rows", "value": rows}],
            )
        if op == "bad_metrics":
            return SeldonResponse(X, metrics=[{"key": "no_type_no_value"}])
        if op == "fail":
            raise RuntimeError("secret-token-4242 must never reach a client")
        if op == "unserializable":
            return {"handle": object()}
        raise ValueError(f"unknown op {op!r}")


class Bare:
    """The same ops as a plain seldon-core component (seldon-core's own decoding and JSON), for comparison."""

    def predict(self, X: Any, names: list[str], meta: dict[str, Any] | None = None) -> Any:
        op = ((meta or {}).get("tags") or {}).get("op")
        if op == "describe":
            return describe(X, names, None)
        if op == "numpy":
            return {"scores": np.asarray(X, dtype=np.float32)}
        if op == "float32":
            return np.asarray(X, dtype=np.float32)
        if op == "fail":
            raise RuntimeError("secret-token-4242 must never reach a client")
        return X
