"""One LitServer with three APIs, run as users run LitServe: ``PORT=N python -m tests.interop.apps.litserve_app``.

- ``EchoAPI`` (``DatasonLitAPI`` at ``/predict``, model ``echo`` version 2, ``async`` predict with
  ``enable_async``, 3 requests a minute per ``X-API-Key``): returns what it receives (the typed round trips);
  ``{"fail": ...}`` raises with a message that must never reach the client, ``{"whoami": ...}`` names the
  process and device of the inference worker that ran it, ``{"refuse": status}`` raises an ``HTTPException``,
  ``{"reject": ...}`` a datason ``ValidationFailedError``.
- ``BatchAPI`` (``DatasonLitAPI`` at ``/batch/predict``, its other routes under ``/batch``, model ``batch``,
  LitServe batching of up to 4 requests, a JSON Schema): predict receives the list LitServe's ``batch`` makes
  and answers each request with its own item and the size of the batch it was in; ``"tag": "boom"`` fails the
  batch, ``"tag": "slow"`` holds the worker past the server's queue timeout.
- ``Announce``: LitServe's ``on_request``/``on_response`` callbacks print a line each.
- ``BareAPI`` (a plain ``litserve.LitAPI`` at ``/bare``): what LitServe does alone with the same bodies.
- ``LockedAPI`` (``DatasonLitAPI`` under ``/locked``, model ``locked``): access control on with the key store
  the test gives in ``LOCKED_KEYS`` (JSON), ``/locked/metrics`` behind the ``metrics`` scope.
"""

from __future__ import annotations

import os
import time
from typing import Any

import litserve as ls
import numpy as np
from fastapi import HTTPException

from datason.integrations.litserve import DatasonLitAPI
from datason.serving import ServingConfig
from datason.serving.errors import ValidationFailedError

ECHO = ServingConfig(
    model_id="echo",
    model_version="2",
    max_body_bytes=65_536,
    max_depth=20,
    rate_limit="3/minute",  # per X-API-Key: the tests give every request its own key unless they test the limit
)
BATCH = ServingConfig(model_id="batch", model_version="1", protocols=("oip",))
TIMEOUT_S = 3  # LitServer(timeout=...): longest wait in LitServe's queue before a 504
SLOW_S = 4
BATCH_SCHEMA = {
    "type": "object",
    "properties": {"x": {}, "tag": {"type": "string", "maxLength": 8}},
    "required": ["x", "tag"],
    "additionalProperties": False,
}


class EchoAPI(DatasonLitAPI):
    def setup(self, device: str) -> None:
        self.device_name = device  # LitServe calls setup in each inference worker

    async def predict(self, value: Any) -> Any:
        if isinstance(value, dict) and "fail" in value:
            raise KeyError("secret detail from /etc/passwd")
        if isinstance(value, dict) and "whoami" in value:
            return {"pid": os.getpid(), "device": self.device_name}
        if isinstance(value, dict) and "refuse" in value:
            raise HTTPException(int(value["refuse"]), detail="the model refuses this input")
        if isinstance(value, dict) and "reject" in value:
            raise ValidationFailedError("the model needs a non-empty list", path="$.features.reject")
        return value


class BatchAPI(DatasonLitAPI):
    def predict(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if any(item["tag"] == "boom" for item in items):
            raise ZeroDivisionError("the whole batch fails")
        if any(item["tag"] == "slow" for item in items):
            time.sleep(SLOW_S)  # the requests queued behind this batch wait longer than the server's timeout
        return [{"y": item["x"] * 2, "tag": item["tag"], "batch": len(items), "pid": os.getpid()} for item in items]


class Announce(ls.Callback):
    """LitServe's request callbacks, which run in the API server: one line each in the server's output."""

    def on_request(self, *args: Any, **kwargs: Any) -> None:
        print("callback: on_request", flush=True)

    def on_response(self, *args: Any, **kwargs: Any) -> None:
        print("callback: on_response", flush=True)


class BareAPI(ls.LitAPI):
    def predict(self, value: Any) -> Any:
        if isinstance(value, dict) and value.get("numpy"):
            return {"score": np.float32(0.5)}
        return value


class LockedAPI(DatasonLitAPI):
    def predict(self, value: Any) -> Any:
        return value


def server() -> ls.LitServer:
    locked = ServingConfig(model_id="locked", api_keys=os.environ["LOCKED_KEYS"], metrics_auth=True)
    apis = [
        EchoAPI(config=ECHO, enable_async=True),
        BatchAPI(
            config=BATCH,
            schema=BATCH_SCHEMA,
            api_path="/batch/predict",
            route_prefix="/batch",
            max_batch_size=4,
            batch_timeout=0.25,
        ),
        BareAPI(api_path="/bare"),
        LockedAPI(config=locked, api_path="/locked/predict", route_prefix="/locked"),
    ]
    return ls.LitServer(apis, accelerator="cpu", timeout=TIMEOUT_S, callbacks=[Announce()])


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    server().run(host="127.0.0.1", port=port, num_api_servers=1, generate_client_file=False)
