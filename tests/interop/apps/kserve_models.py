"""The models one KServe 0.21 ``ModelServer`` serves for tests/interop/frameworks/test_kserve_integration.py.

Run it as a KServe script (on loopback: ``python -m tests.interop.apps.kserve_loopback
tests.interop.apps.kserve_models --http_port N --enable_grpc false``):

- ``echo`` (``DatasonModel``, sync ``predict``): returns what it receives (the typed round trips); a dict with a
  ``fail`` key raises with a message that must never reach a client. Also registered as ``echo-alias``: KServe's
  own routes and dataplane serve that name, then the model's ``__call__`` runs the toolkit's pipeline.
- ``describe`` (async ``predict`` with ``preprocess`` / ``postprocess``): what predict received (type, dtype,
  shape, columns...), with the hooks' marks.
- ``strict`` (``datason_model`` of a function): OIP input specs (FP32 ``[-1, 4]``), a small body cap, a rate
  limit per ``X-API-Key`` and a readiness switch (``{"x": ...}`` of shape ``[1, 4]`` whose first value is -1
  turns the model's ``ready`` off for the given seconds).
- ``bare`` (a plain ``kserve.Model``): the same identity with KServe's own decoding and JSON, for contrast.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kserve
import numpy as np
import pandas as pd
from kserve.protocol.infer_type import InferRequest, InferResponse

from datason.integrations.kserve import DatasonModel, datason_model
from datason.protocols.oip import TensorSpec
from datason.serving import ServingConfig


class Echo(DatasonModel):
    def __init__(self, name: str) -> None:
        super().__init__(name, config=ServingConfig(model_version="3", max_depth=20))
        self.load()

    def load(self) -> bool:
        self.ready = True
        return self.ready

    def predict(self, payload: Any, headers: Any = None, response_headers: Any = None) -> Any:
        if isinstance(payload, dict) and "fail" in payload:
            raise KeyError("secret: /etc/passwd")
        return payload


def describe(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(value).__name__}
    if isinstance(value, np.ndarray):
        out.update(dtype=str(value.dtype), shape=list(value.shape))
    elif isinstance(value, pd.DataFrame):
        out.update(columns=[str(c) for c in value.columns], dtypes=[str(t) for t in value.dtypes])
        out.update(index=[str(i) for i in value.index], index_name=value.index.name)
    elif isinstance(value, dict):
        out.update(keys=list(value), items={k: describe(v) for k, v in value.items()})
    return out


class Describe(DatasonModel):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.ready = True

    async def preprocess(self, payload: Any, headers: Any = None) -> Any:
        return {"received": payload}

    async def predict(self, payload: Any, headers: Any = None, response_headers: Any = None) -> Any:
        await asyncio.sleep(0)
        return describe(payload["received"])

    def postprocess(self, result: Any, headers: Any = None, response_headers: Any = None) -> Any:
        return {**result, "hooks": ["preprocess", "predict", "postprocess"], "headers": headers}


STRICT: Any = None


async def strict(x: np.ndarray) -> np.ndarray:
    if x.shape == (1, 4) and x[0, 0] == -1:
        STRICT.ready = False
        asyncio.get_running_loop().call_later(float(x[0, 1]), setattr, STRICT, "ready", True)
    return x.sum(axis=1)


class Bare(kserve.Model):
    """KServe's own way: v1 gets the parsed dict, v2 an InferRequest; the identity with KServe's types."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.ready = True

    async def predict(self, payload: Any, headers: Any = None, response_headers: Any = None) -> Any:
        if isinstance(payload, InferRequest):
            outputs = []
            for tensor in payload.inputs:
                out = kserve.InferOutput(tensor.name, tensor.shape, tensor.datatype)
                out.set_data_from_numpy(tensor.as_numpy(), binary_data=False)
                outputs.append(out)
            return InferResponse(payload.id or "bare", self.name, outputs)
        if "frame" in payload:  # what a pandas model returns
            return {"predictions": pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=2, tz="UTC")})}
        return {"predictions": payload.get("instances", payload.get("inputs"))}


def models() -> list[Any]:
    global STRICT
    STRICT = datason_model(
        strict,
        "strict",
        config=ServingConfig(max_body_bytes=4096, rate_limit="5/minute"),
        inputs=[TensorSpec("x", "FP32", (-1, 4))],
        outputs=[TensorSpec("x", "FP32", (-1,))],
    )
    return [Echo("echo"), Describe("describe"), STRICT, Bare("bare")]


if __name__ == "__main__":
    served = models()
    server = kserve.ModelServer()
    server.register_model(served[0], name="echo-alias")
    server.start(served)
