"""Runtimes `mlserver start` loads for tests/interop/mlserver/test_mlserver_runtime.py (model-settings.json files
under ``mlserver_models/`` name them): datason's runtime as a subclass and as a function, and MLServer's own
idiom (a plain ``MLModel`` with its NumPy/pandas codecs) doing the same echo."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from mlserver import MLModel
from mlserver.codecs import NumpyRequestCodec
from mlserver.types import InferenceRequest, InferenceResponse

from datason.integrations.mlserver import DatasonModel

LABEL = "not a model"  # settings naming this as predict are refused (not callable)


class Echo(DatasonModel):
    """Answers what it received; a dict holding ``boom`` makes predict raise (a secret in the message)."""

    async def load(self) -> bool:
        self.loaded = True  # a model of one's own would be read here; then the toolkit's service is started
        return await super().load()

    def infer(self, value: Any) -> Any:
        if isinstance(value, dict) and "boom" in value:
            raise RuntimeError("secret: /etc/shadow password=hunter2")
        return value


class AsyncEcho(DatasonModel):
    """The same echo, ``async`` (the toolkit awaits it on MLServer's loop)."""

    async def infer(self, value: Any) -> Any:
        return value


def describe(value: Any) -> dict[str, Any]:
    """What predict received, as one JSON text output (``summary``)."""
    info: dict[str, Any] = {"type": type(value).__name__}
    if isinstance(value, np.ndarray):
        info.update(dtype=str(value.dtype), shape=list(value.shape))
    elif isinstance(value, pd.DataFrame):
        info.update(
            dtypes={str(k): str(v) for k, v in value.dtypes.items()},
            index=[str(i) for i in value.index],
            index_name=value.index.name,
            rows=len(value),
        )
    elif isinstance(value, dict):
        info.update(keys=list(value), dtypes={k: str(getattr(v, "dtype", type(v).__name__)) for k, v in value.items()})
    return {"summary": json.dumps(info)}


class BareEcho(MLModel):
    """MLServer's own idiom: decode with its codecs (content types first, NumPy by default), encode the same way."""

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        value = self.decode_request(payload, default_codec=NumpyRequestCodec)
        return self.encode_response(value, default_codec=NumpyRequestCodec)
