"""A LitServe 0.2 ``LitAPI`` whose HTTP side is datason's serving toolkit: exact payloads in and out.

Subclass ``DatasonLitAPI`` instead of ``litserve.LitAPI`` and serve it as usual
(``litserve.LitServer(api, ...).run(host="127.0.0.1", port=...)``). LitServe gives a ``LitAPI`` no JSON hook
(Lightning-AI/LitServe#436): its route parses the body with ``request.json()`` before ``decode_request``
(a malformed body is a 500, bare ``NaN`` tokens pass) and writes ``encode_response``'s value with FastAPI's
``jsonable_encoder`` (NumPy values fail, fastapi/fastapi#2222). So this base takes LitServe's ``spec`` slot,
the hook its OpenAI spec uses to own a route, and answers the route with the toolkit
(``datason.serving.create_app`` around a ``ModelService``): datason reads the body bytes and writes the
response, with the toolkit's limits, validation, rate limits, request ids, error envelope and statuses,
metrics and logs, in LitServe's API server processes; LitServe's inference workers run the model. What each
LitServe hook does here:

- ``LitAPI.__init__`` (``DatasonLitAPI(config=..., schema=..., max_batch_size=..., api_path=...)``): builds
  the ``ModelService`` (model id, limits, schema, protocols) whose predict is LitServe's request queue.
- ``LitSpec.endpoints`` (read by ``LitServer(...)``): ``POST api_path`` is datason's ``/predict``; the
  toolkit's other routes (OIP v2, KServe v1, Seldon, MLflow, ``/ready``, ``/metrics``, OIP health and
  metadata) follow at their standard paths under ``route_prefix``. Paths LitServe or FastAPI already answer
  (``/health``, ``/openapi.json``) stay theirs; a second ``DatasonLitAPI`` of the same server whose routes
  would collide is refused (``ValueError``: give it another ``route_prefix``). LitServe's auth
  (``LIT_SERVER_API_KEY``, ``authorize``), middlewares and callbacks (``on_request``, ``on_response``) apply.
- the request queue: a request that passed the toolkit's checks is put on LitServe's queue with its
  features (typed values; LitServe pickles them to the worker), the answer awaited from LitServe's response
  buffer. A request the toolkit refuses never reaches a worker.
- ``decode_request(request)`` (worker): receives those features (a pydantic model instance with such a
  ``schema``); ``batch``/``unbatch``: LitServe's, with ``max_batch_size``/``batch_timeout`` (NumPy arrays are
  stacked, other features listed); ``predict`` as usual; ``encode_response(output)``: its value is what the
  toolkit writes. An exception in these hooks is ``prediction failed (ExceptionClass)`` (500); an
  ``HTTPException`` keeps its status and detail; a datason ``ServingError`` its own; LitServe's queue
  timeout is a 504.
- ``LitSpec.setup`` (``run()``, before the API servers fork): starts the service (ready), and makes SIGTERM to
  LitServe's main process shut the server down as Ctrl+C does (LitServe leaves its workers running
  otherwise) when no SIGTERM handler is set.
- ``health()`` (LitServe's ``/health``): True while the toolkit's service is ready.

On the wire (the toolkit's ``/predict``): a request with ``Accept: application/vnd.datason+json``
(``TYPED_MEDIA_TYPE``) gets the prediction in datason's typed form (float32/int64 arrays with dtype and shape,
DataFrames with index, zones and categories, datetimes, UUIDs, Decimals: ``datason.loads`` rebuilds them
exactly); any other client plain strict JSON (NaN as null, float32 with its own shortest digits, UUIDs and
Decimals as strings). Counts (``/metrics``, ``/ready``, rate limits, the cache) are per LitServe API server
process; ``/metrics`` samples carry an ``api_server`` label (LitServe's index of the process that answered)
and, with ``metrics_auth``, need the ``metrics`` scope as ``datason serve``'s do.

LitServe is imported when ``DatasonLitAPI`` is first used: ``pip install litserve`` (0.2).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from http import HTTPStatus
from typing import Any

from ..serving import TYPED_MEDIA_TYPE, ModelService, ServingConfig, ServingError, create_app
from ..serving.requestlog import request_id
from ..serving.routes import RouteSpec

__all__ = ["TYPED_MEDIA_TYPE", "DatasonLitAPI"]  # noqa: F822 - DatasonLitAPI: module __getattr__

_CLASSES = ("DatasonLitAPI", "_DatasonSpec", "_Forward")
_MARK = "_datason_litserve"  # set on the endpoint functions this module registers
_BUILD_LOCK = threading.Lock()
_KINDS = {400: "malformed", 413: "too_large", 415: "unsupported_media_type", 429: "rate_limited", 504: "internal"}


def __getattr__(name: str) -> Any:
    """``DatasonLitAPI`` (and its spec) are LitServe subclasses: built on first use, so importing needs no LitServe."""
    if name in _CLASSES:
        with _BUILD_LOCK:  # once: pickle needs the one class object the module names
            if name not in globals():
                globals().update(_build_classes())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class WorkerError(Exception):
    """A LitServe worker failed without an exception the API server can rebuild (it died, or it is unpicklable)."""


class _WorkerHTTPError(ServingError):
    """An ``HTTPException`` from the worker: the model's own refusal, or LitServe's queue timeout (504)."""

    kind = "predict"

    def __init__(self, status: int, detail: Any) -> None:
        status = status if 400 <= status <= 599 else 500
        super().__init__(detail if isinstance(detail, str) and detail else HTTPStatus(status).phrase)
        self.status = status  # type: ignore[misc]  # per instance: the status the worker chose
        self.kind = _KINDS.get(status, "validation" if status < 500 else "predict")  # type: ignore[misc]


def _worker_error(response: Any) -> Exception:
    """The exception to raise for a failed worker answer (LitServe sends a pickled exception or an HTTPException)."""
    from starlette.exceptions import HTTPException

    if isinstance(response, bytes):
        try:  # LitServe's own channel between its processes (it unpickles these itself)
            response = pickle.loads(response)
        except Exception:
            return WorkerError("the worker's exception could not be rebuilt")
    if isinstance(response, ServingError):
        return response
    if isinstance(response, HTTPException):
        return _WorkerHTTPError(response.status_code, response.detail)
    if isinstance(response, Exception):
        return response  # the toolkit answers "prediction failed (<its class>)", nothing more
    return WorkerError("the worker answered no result")


def _prefix(route_prefix: str) -> str:
    if not isinstance(route_prefix, str) or (route_prefix and not route_prefix.startswith("/")):
        raise ValueError("route_prefix must be '' or start with '/'")
    return route_prefix.rstrip("/")


def _sigterm_as_interrupt() -> None:
    """In LitServe's main process (main thread, SIGTERM not handled yet): SIGTERM shuts down as Ctrl+C does.

    LitServe stops its API servers and inference workers on KeyboardInterrupt only; a SIGTERM to its main
    process (``docker stop``, Kubernetes) would end that process and orphan the others. Processes forked later
    inherit the handler: there it does what SIGTERM did before (uvicorn re-raises the signal when it stops).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    main_pid = os.getpid()

    def on_sigterm(signum: int, frame: Any) -> None:
        if os.getpid() == main_pid:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, on_sigterm)


async def _passthrough_request(request: Any, **kwargs: Any) -> Any:
    return request


async def _passthrough_output(output: Any, **kwargs: Any) -> Any:
    return output


def _build_classes() -> dict[str, Any]:
    try:
        import litserve
        from litserve.callbacks import EventTypes
        from litserve.specs.base import LitSpec
        from litserve.utils import LitAPIStatus, ResponseBufferItem
        from starlette.requests import Request
        from starlette.responses import Response
    except ImportError as exc:  # pragma: no cover - the frameworks virtualenv has it
        raise ImportError("datason.integrations.litserve needs LitServe 0.2: pip install litserve") from exc

    class _Forward(Response):
        """Hands the request, body unread, to the toolkit's ASGI app, under the path that app knows the route by:
        ``fixed`` (``/predict`` served at another ``api_path``), or the request's path less ``strip`` (the prefix).
        """

        def __init__(self, app: Any, fixed: str | None, strip: str) -> None:
            super().__init__()
            self.app = app
            self.fixed = fixed
            self.strip = strip

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if self.fixed is not None or self.strip:
                root = scope.get("root_path", "")
                path = scope["path"]
                relative = path[len(root) :] if root and path.startswith(root) else path
                relative = self.fixed if self.fixed is not None else relative[len(self.strip) :]
                scope = {**scope, "path": root + relative}
            await self.app(scope, receive, send)
            if self.background is not None:
                await self.background()

    class _DatasonSpec(LitSpec):
        """The LitServe spec behind ``DatasonLitAPI``: the toolkit's routes, predict through LitServe's queue."""

        def __init__(
            self,
            *,
            api_path: str,
            route_prefix: str,
            config: ServingConfig | None,
            schema: Any,
            inputs: Sequence[Any],
            outputs: Sequence[Any],
        ) -> None:
            super().__init__()
            cfg = ServingConfig.from_env() if config is None else config
            if isinstance(cfg, ServingConfig) and cfg.batch_max_size > 1:
                raise ValueError(
                    "batch the LitServe way: DatasonLitAPI(max_batch_size=..., batch_timeout=...) "
                    "(ServingConfig.batch_max_size must stay 1)"
                )
            self.api_path = api_path
            self.route_prefix = _prefix(route_prefix)
            self.service: ModelService | None = ModelService(
                self._predict, config=cfg, schema=schema, inputs=inputs, outputs=outputs
            )
            self.app: Any = create_app(self.service)

        def __getstate__(self) -> dict[str, Any]:
            state: dict[str, Any] = super().__getstate__()  # LitServe pickles the API (and us) to its workers
            state.update(service=None, app=None)  # the toolkit lives in the API servers only
            return state

        # -- LitServe's spec hooks --------------------------------------------------------------------------

        @property
        def endpoints(self) -> list[tuple[str, Callable[..., Any], list[str]]]:
            """The toolkit's routes as (path, endpoint, methods), less the paths the app already answers."""
            taken: dict[tuple[str, str], Any] = {}
            if self._server is not None:  # LitServer sets it just before reading this
                for route in self._server.app.routes:
                    for method in getattr(route, "methods", None) or ():
                        taken[(route.path, method)] = getattr(route, "endpoint", None)
            out = []
            for route in self.app.routes:
                path = self.api_path if route.path == "/predict" else self.route_prefix + route.path
                key = (path, route.method)
                if key in taken:
                    if getattr(taken[key], _MARK, False):
                        raise ValueError(
                            f"{route.method} {path} is already answered by another DatasonLitAPI of this server: "
                            "give each its own route_prefix= (and api_path=)"
                        )
                    continue  # LitServe's own /health, FastAPI's /openapi.json: theirs
                endpoint = self._endpoint(route, path)
                taken[key] = endpoint
                out.append((path, endpoint, [route.method]))
            return out

        def setup(self, server: Any) -> None:
            super().setup(server)
            if self.service is not None:
                self.service.start()
            _sigterm_as_interrupt()

        def decode_request(self, request: Any, context_kwargs: Any = None) -> Any:
            return request

        def encode_response(self, output: Any, context_kwargs: Any = None) -> Any:
            return output

        # -- the routes -------------------------------------------------------------------------------------

        def _endpoint(self, route: RouteSpec, path: str) -> Callable[..., Any]:
            app = self.app
            if route.kind == "metrics":

                async def endpoint(request: Request) -> Response:
                    return self._metrics(request)

            else:
                fixed = route.path if route.path == "/predict" and path != route.path else None
                strip = self.route_prefix if fixed is None else ""

                async def endpoint(request: Request) -> Response:
                    return _Forward(app, fixed, strip)

            endpoint.__annotations__ = {"request": Request, "return": Response}  # FastAPI reads them
            endpoint.__name__ = f"datason_{route.protocol}_{route.kind}"
            setattr(endpoint, _MARK, True)
            return endpoint

        def _metrics(self, request: Any) -> Any:
            from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

            assert self.service is not None
            refused = self.service.refuse_metrics(request.headers, request.client.host if request.client else None)
            if refused is not None:
                return Response(refused.body, status_code=refused.status, headers=dict(refused.headers))
            labels = {"api_server": str(self.response_queue_id or 0)}
            text = generate_latest(_Labelled(self.service.registry, labels))
            rid = request_id(request.headers.get("x-request-id"))
            return Response(text, headers={"content-type": CONTENT_TYPE_LATEST, "x-request-id": rid})

        async def _predict(self, features: Any) -> Any:
            """The toolkit's predict: one request on LitServe's queue, its worker's answer awaited."""
            server = self._server
            queue = self.request_queue
            if server is None or queue is None or self.response_queue_id is None:
                raise ServingError("the LitServe server is not running")
            uid = str(uuid.uuid4())
            buffer = self.response_buffer
            buffer[uid] = ResponseBufferItem(event=asyncio.Event())
            runner = server._callback_runner
            runner.trigger_event(EventTypes.ON_REQUEST.value, active_requests=server.active_requests, litserver=server)
            try:
                queue.put((self.response_queue_id, uid, time.monotonic(), features))
                await buffer[uid].event.wait()
                response, status = buffer[uid].response
            finally:
                buffer.pop(uid, None)
            runner.trigger_event(EventTypes.ON_RESPONSE.value, litserver=server)
            if status == LitAPIStatus.ERROR:
                raise _worker_error(response)
            return response

    class DatasonLitAPI(litserve.LitAPI):
        """A ``litserve.LitAPI`` whose route is datason's: subclass it, write ``setup`` and ``predict`` as usual.

        ``config``, ``schema``, ``inputs`` and ``outputs`` are ``ModelService``'s (without ``config``,
        ``ServingConfig.from_env()``; batch with ``max_batch_size``, not the config's ``batch_max_size``).
        ``api_path`` is datason's ``/predict``; the toolkit's other routes are served under ``route_prefix``
        (``""``: their standard paths). ``max_batch_size``, ``batch_timeout``, ``enable_async`` and
        ``litapi_options`` (``loop``, ``mcp``) are LitServe's. ``decode_request`` receives the validated
        features; what ``encode_response`` returns is written by datason.
        """

        def __init__(
            self,
            *,
            config: ServingConfig | None = None,
            schema: Any = None,
            inputs: Sequence[Any] = (),
            outputs: Sequence[Any] = (),
            api_path: str = "/predict",
            route_prefix: str = "",
            max_batch_size: int = 1,
            batch_timeout: float = 0.0,
            enable_async: bool = False,
            **litapi_options: Any,
        ) -> None:
            if "spec" in litapi_options or "stream" in litapi_options:
                raise TypeError("DatasonLitAPI answers whole JSON documents: no spec= nor stream=")
            spec = _DatasonSpec(
                api_path=api_path,
                route_prefix=route_prefix,
                config=config,
                schema=schema,
                inputs=inputs,
                outputs=outputs,
            )
            if enable_async:  # LitServe would run the pass-through hooks in a thread (and warn) otherwise
                cls = type(self)
                if cls.decode_request is DatasonLitAPI.decode_request:
                    self.__dict__["decode_request"] = _passthrough_request
                if cls.encode_response is DatasonLitAPI.encode_response:
                    self.__dict__["encode_response"] = _passthrough_output
            super().__init__(
                max_batch_size=max_batch_size,
                batch_timeout=batch_timeout,
                api_path=api_path,
                spec=spec,
                enable_async=enable_async,
                **litapi_options,
            )

        @property
        def service(self) -> ModelService:
            """The toolkit's ``ModelService`` of this process (LitServe's API servers; not in workers)."""
            found = self.spec.service
            if found is None:
                raise RuntimeError("the toolkit's service lives in LitServe's API server processes, not in workers")
            return found

        def decode_request(self, request: Any, **kwargs: Any) -> Any:
            """The features of one request, decoded and validated by datason: return what ``predict`` takes."""
            return request

        def encode_response(self, output: Any, **kwargs: Any) -> Any:
            """One prediction: the value datason writes (plain JSON, or typed for a datason client)."""
            return output

        def health(self) -> bool:
            """LitServe's ``/health``: the toolkit's service is ready (override it with ``super().health() and``)."""
            found = self.spec.service
            return bool(found is not None and found.ready)

    classes = {"DatasonLitAPI": DatasonLitAPI, "_DatasonSpec": _DatasonSpec, "_Forward": _Forward}
    for name, cls in classes.items():  # module attributes (pickle finds LitServe's API and its spec by name)
        cls.__module__, cls.__qualname__ = __name__, name
    return classes


class _Labelled:
    """The metrics of ``registry`` with ``labels`` added to every sample."""

    def __init__(self, registry: Any, labels: dict[str, str]) -> None:
        self.registry = registry
        self.labels = labels

    def collect(self) -> Iterator[Any]:
        for metric in self.registry.collect():
            metric.samples = [s._replace(labels={**s.labels, **self.labels}) for s in metric.samples]
            yield metric
