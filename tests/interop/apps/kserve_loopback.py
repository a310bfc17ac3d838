"""Run a KServe model server script on 127.0.0.1: ``python -m tests.interop.apps.kserve_loopback MODULE [ARGS]``.

KServe 0.21 hard-codes its HTTP host to 0.0.0.0 (``kserve/protocol/rest/server.py`` builds ``uvicorn.Config(app,
host="0.0.0.0", ...)``); the tests bind loopback only. This swaps ``uvicorn.Config`` for a subclass that forces
``host="127.0.0.1"``, then runs MODULE as ``__main__`` with ``ARGS`` as its command line (KServe reads
``--http_port``, ``--enable_grpc``, ``--workers``... from ``sys.argv`` when ``kserve.model_server`` is imported),
which is how users start such a script (``python examples/kserve_basic.py --http_port 8080``). With
``--workers N``, KServe pickles the server (this config included) into spawned worker processes, which import
this module and get the same class.
"""

from __future__ import annotations

import runpy
import sys
from typing import Any

import uvicorn

LOOPBACK = "127.0.0.1"


class LoopbackConfig(uvicorn.Config):
    """``uvicorn.Config`` whose host is always 127.0.0.1."""

    def __init__(self, app: Any, **options: Any) -> None:
        options["host"] = LOOPBACK
        super().__init__(app, **options)


def main() -> None:
    import importlib

    module, args = sys.argv[1], sys.argv[2:]
    # The class under this module's importable name (run with -m, this copy is __main__): KServe's workers
    # unpickle the config by that name.
    named = importlib.import_module("tests.interop.apps.kserve_loopback")
    uvicorn.Config = named.LoopbackConfig  # type: ignore[misc]  # what kserve.protocol.rest.server calls
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
