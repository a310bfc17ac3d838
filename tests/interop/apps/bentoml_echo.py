"""A ``@bentoml.service`` class served through datason: `bentoml serve tests.interop.apps.bentoml_echo:Echo`.

``predict`` returns what it receives (the typed round trips); ``{"fail": ...}`` makes it raise with a message
that must never reach the client; ``{"whoami": ...}`` answers with the instance BentoML created. Two
``@bentoml.api`` methods sit beside the toolkit's routes: ``readiness`` flips the toolkit's readiness and the
class's own ``__is_ready__``, ``instance`` names the instance. The class's ``__metrics__`` adds one sample.
"""

from __future__ import annotations

import os
from typing import Any

import bentoml

from datason.integrations.bentoml import datason_service, model_service
from datason.serving import ServingConfig

CONFIG = ServingConfig(
    model_id="echo",
    model_version="2",
    max_body_bytes=65_536,
    max_depth=20,
    rate_limit="3/minute",  # per X-API-Key: the tests give every request its own key unless they test the limit
)


@datason_service(config=CONFIG)
@bentoml.service(name="echo")
class Echo:
    """Identity model: the model is "loaded" in ``__init__``, once per worker."""

    def __init__(self) -> None:
        self.token = f"{os.getpid()}-{id(self)}"  # which instance answered
        self.model_ready = True

    def predict(self, value: Any) -> Any:
        if isinstance(value, dict) and "fail" in value:
            raise KeyError("secret detail from /etc/passwd")
        if isinstance(value, dict) and "whoami" in value:
            return {"token": self.token}
        return value

    def __is_ready__(self) -> bool:
        return self.model_ready

    def __metrics__(self, content: str) -> str:
        return content + "# TYPE echo_model_loaded gauge\necho_model_loaded 1.0\n"

    @bentoml.api
    def readiness(self, toolkit: bool = True, model: bool = True) -> dict[str, bool]:
        service = model_service(self)
        if toolkit:
            service.start()
        else:
            service.stop()
        self.model_ready = model
        return {"toolkit": service.ready, "model": self.model_ready}

    @bentoml.api
    def instance(self) -> dict[str, str]:
        return {"token": self.token}
