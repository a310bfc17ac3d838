"""Seldon Core v1 models that speak datason: subclass ``DatasonComponent`` and write ``predict(X, names, meta)``.

``seldon-core-microservice module.Model`` serves the class as any seldon-core 1.18 component (REST, gRPC and
the metrics port). Each prediction goes through the serving toolkit (``datason.serving.ModelService``: body
limit, rate limits, request ids, one log line, ``ml_prediction_*`` tallies, error statuses and bodies) and
the SeldonMessage codec (``datason.protocols.seldon``). What each seldon-core hook does here:

- ``predict_raw(msg)``: seldon-core calls it before its own ``predict`` path (which reads ``ndarray`` with
  ``np.array`` or protobuf and writes results with Flask's JSON encoder): datason decodes the message, the
  subclass's ``predict(X, names, meta)`` runs, datason writes its result in the request's form. ``msg`` is
  what seldon-core hands over, and the answer is given back in kind:

  - bytes, with ``PAYLOAD_PASSTHROUGH=true``: the body as sent; the answer is the toolkit's bytes, with its
    status and headers (``X-Request-ID``, ``Retry-After``) set on Flask's response. Nothing is parsed twice.
  - a dict (REST, seldon-core's default): the body Flask parsed (ints stay ints), written back to bytes for
    the toolkit; the answer goes back as a dict (Flask writes it; ``status.code`` is the HTTP status).
  - a ``SeldonMessage`` (gRPC): read through protobuf's JSON form (there every ``ndarray`` and ``jsonData``
    number is a double: seldon-core#3681 is protobuf's); answered as a ``SeldonMessage``, errors with
    ``status`` set.
- ``health_status()``: the toolkit's health dict (``/health/status`` answers it as ``jsonData``); a 503 once
  the service is stopped.
- ``metrics()``: the toolkit's tallies since the previous call, as seldon-core custom metrics: COUNTERs
  ``ml_prediction_requests`` (tag ``status``), ``ml_prediction_errors`` (tag ``kind``) and
  ``ml_prediction_seconds``. seldon-core calls it on ``/health/status``; for dict and gRPC messages the
  component also hands them to seldon-core in a response's ``meta.metrics``, at most every
  ``metrics_interval`` seconds (bytes answers are not read by seldon-core).
- ``load()``: builds and starts the toolkit's service (seldon-core calls it in every worker).
- ``init_metadata()``: ``name`` and ``versions`` from the toolkit's config (``/metadata``).
- ``tags()`` and ``class_names()`` of a subclass, and a ``SeldonResponse`` returned by predict (its data,
  tags and metrics), go into the answer's ``meta`` and ``names`` as seldon-core would put them.

What ``X`` is and what results become is ``datason.protocols.seldon``'s rule: ints stay int64 in ``ndarray``
and ``tensor``; ``names`` with a 2-D payload give a DataFrame with a dtype per column; NumPy and pandas
results are written by datason (never "Object of type ndarray is not JSON serializable"). ``jsonData``
written in datason's typed form is read typed (DataFrames with index, zones and categories, UUIDs, Decimals,
float32 arrays); a REST client that sends ``Accept: application/vnd.datason+json`` (``TYPED_MEDIA_TYPE``) to
a ``jsonData`` request gets the ``jsonData`` answer in that form too (a DataFrame result inside a dict).

An unnamed 2-D result has no ``names`` (seldon-core writes ``t:0, t:1...``): ``class_names()`` names it.

Under seldon-core 1.18 (jsonschema<4) ``datason[serving]`` cannot be installed; the component needs none of
it: the toolkit's metrics work with seldon-core's prometheus-client 0.8. ``rate_limit`` needs ``limits`` and
``cache_size`` needs ``cachetools`` (an ``ImportError`` says so); ``batch_max_size > 1`` is refused (each
worker thread answers one request on an event loop of its own). seldon-core (and its Flask and protobuf) is
imported inside the functions that need it: ``pip install "seldon-core==1.18.2" "setuptools<81"``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import orjson

from ..api import dumpb
from ..serving import TYPED_MEDIA_TYPE, ModelService, ServingConfig, ServingResponse
from ..serving.adapters import Parsed, Rendered, SeldonAdapter
from ..serving.config import env_var
from ..serving.errors import MalformedRequestError, PayloadTooLargeError, PredictionError

__all__ = ["TYPED_MEDIA_TYPE", "DatasonComponent"]

_TYPED_TOKEN = "vnd.datason"
_GRPC_PATH = "/seldon.protos.Model/Predict"
_BUILD_LOCK = threading.Lock()


class _Input(NamedTuple):
    """What one request gives predict: the decoded payload, the column names and the message's meta."""

    X: Any
    names: list[str]
    meta: dict[str, Any]


class DatasonComponent:
    """Base class of a Seldon Core v1 model whose input is decoded and output written by datason.

    Subclasses define ``predict(self, X, names, meta=None)`` (sync or async) and may define ``load``
    (calling ``super().load()``), ``tags``, ``class_names`` and ``init_metadata``. seldon-core creates the
    class with the graph's parameters as keyword arguments; without an ``__init__`` of its own a subclass
    keeps them in ``self.parameters``. ``self.model_service`` is the toolkit's ``ModelService`` (one per
    process).
    """

    #: The toolkit's settings; None: ``ServingConfig.from_env()`` with ``model_id`` from ``PREDICTIVE_UNIT_ID``
    #: (else the class name) and ``model_version`` from the tag of ``PREDICTIVE_UNIT_IMAGE``, unless the
    #: ``DATASON_SERVING_*`` variables say otherwise.
    serving_config: ClassVar[ServingConfig | None] = None
    #: Least seconds between two hand-overs of ``metrics()`` to seldon-core inside dict and gRPC answers
    #: (0: with every answer; None: never, only ``/health/status``).
    metrics_interval: ClassVar[float | None] = 1.0

    def __init__(self, **parameters: Any) -> None:
        self.parameters = parameters

    def predict(self, X: Any, names: list[str], meta: dict[str, Any] | None = None) -> Any:
        """The model: ``X`` decoded by datason, ``names`` the request's column names, ``meta`` its meta."""
        raise NotImplementedError(f"{type(self).__name__} must define predict(self, X, names, meta=None)")

    # -- seldon-core hooks -----------------------------------------------------------------------------------

    @property
    def model_service(self) -> ModelService:
        """The toolkit's ``ModelService`` of this component (built and started on first use)."""
        return self._datason().service

    def load(self) -> None:
        """Build and start the toolkit's service (seldon-core calls ``load`` in each worker)."""
        self.model_service.start()

    def predict_raw(self, msg: Any) -> Any:
        """Answer one SeldonMessage (bytes, a parsed dict or a protobuf message) through the toolkit."""
        return self._datason().answer(msg)

    def health_status(self) -> dict[str, Any]:
        """The toolkit's health (``/health/status``); 503 when the service is not ready."""
        service = self.model_service
        if not service.ready:
            from seldon_core.flask_utils import SeldonMicroserviceException

            raise SeldonMicroserviceException("model is not ready", status_code=503, reason="MICROSERVICE_NOT_READY")
        return service.health()

    def metrics(self) -> list[dict[str, Any]]:
        """The toolkit's counts since the previous call, as seldon-core COUNTERs (added to seldon's totals)."""
        return self._datason().metrics_delta()

    def init_metadata(self) -> dict[str, Any]:
        """seldon-core's model metadata: ``name`` and ``versions`` from the toolkit's config."""
        cfg = self.model_service.config
        return {"name": cfg.model_id, "versions": [cfg.model_version]}

    def _datason(self) -> _State:
        state: _State | None = self.__dict__.get("_datason_state")
        if state is None:
            with _BUILD_LOCK:
                state = self.__dict__.get("_datason_state")
                if state is None:
                    state = self.__dict__["_datason_state"] = _State(self)
        return state


# -- configuration -------------------------------------------------------------------------------------------


def _config(cls: type) -> ServingConfig:
    """The class's config, or one from the environment (Seldon's unit id and image tag as model id/version)."""
    cfg = getattr(cls, "serving_config", None)
    if cfg is None:
        cfg = ServingConfig.from_env()
        changes: dict[str, Any] = {}
        if not os.environ.get(env_var("model_id")):
            changes["model_id"] = os.environ.get("PREDICTIVE_UNIT_ID") or cls.__name__
        image = os.environ.get("PREDICTIVE_UNIT_IMAGE", "")
        if not os.environ.get(env_var("model_version")) and ":" in image.rsplit("/", 1)[-1]:
            changes["model_version"] = image.rsplit(":", 1)[1]
        cfg = cfg.replace(**changes) if changes else cfg
    elif not isinstance(cfg, ServingConfig):
        raise TypeError(f"{cls.__name__}.serving_config must be a ServingConfig or None")
    if cfg.batch_max_size > 1:
        raise ValueError(
            "batch_max_size > 1 is not supported under seldon-core: each worker thread answers one request at a "
            "time (use seldon-core's workers and threads)"
        )
    # Only Seldon's route exists here; a sync predict runs inline (seldon-core's worker threads already keep
    # requests apart: a hop to another thread would cost time and buy nothing).
    return cfg.replace(protocols=("seldon",), sync_in_thread=bool(cfg.sync_in_thread))


# -- the per-process state: the service, its event loops, the metrics hand-over ------------------------------


class _State:
    """A component's toolkit service and what answering needs: one per process (seldon-core forks workers)."""

    def __init__(self, component: DatasonComponent) -> None:
        cls = type(component)
        if getattr(cls, "predict", None) is DatasonComponent.predict:
            raise TypeError(f"{cls.__name__} must define predict(self, X, names, meta=None)")
        _seldon_core()
        from seldon_core.proto import prediction_pb2

        self.message_type = prediction_pb2.SeldonMessage
        try:
            cfg = _config(cls)
            service = ModelService(_predict_caller(component), config=cfg)
        except ImportError as exc:  # rate limits need `limits`, the cache `cachetools`
            name = exc.name or "the missing package"
            raise ImportError(
                f"datason.integrations.seldon: this ServingConfig needs {name} (rate_limit: limits, cache_size: "
                f"cachetools), which datason[serving] would bring but cannot be installed beside seldon-core 1.18 "
                f"(jsonschema<4): pip install {name}"
            ) from exc
        service.adapters["seldon"] = _ComponentAdapter(component, cfg)
        service.start()
        self.service = service
        self.max_body = cfg.max_body_bytes
        self.interval = cls.metrics_interval
        self.lock = threading.Lock()
        self.reported: dict[tuple[str, str, str], float] = {}
        self.handed = time.monotonic()
        self.local = threading.local()

    # requests

    def answer(self, msg: Any) -> Any:
        if isinstance(msg, bytes | bytearray | memoryview | str):
            return self._rest(msg.encode() if isinstance(msg, str) else bytes(msg), raw=True)
        if isinstance(msg, self.message_type):
            return self._grpc(msg)
        return self._rest(_dump(msg), raw=False)  # what Flask parsed (a dict; any other JSON value is a 400)

    def _rest(self, body: bytes, *, raw: bool) -> Any:
        from flask import after_this_request, has_request_context, request

        if has_request_context():
            headers = {k.lower(): v for k, v in request.headers.items()}
            if not raw:
                headers.pop("content-encoding", None)  # the body is ours now, written from Flask's parse
            response = self._run(body, headers, request.remote_addr, request.path)
            after_this_request(_HttpAnswer(response))
        else:
            response = self._run(body, {}, None, None)
        if raw:
            return response.body
        return self._with_metrics(orjson.loads(response.body))

    def _grpc(self, msg: Any) -> Any:
        from google.protobuf import json_format

        response = self._run(json_format.MessageToJson(msg).encode(), {}, None, _GRPC_PATH)
        doc = self._with_metrics(orjson.loads(response.body))
        return json_format.ParseDict(doc, self.message_type())

    def _run(self, body: bytes, headers: dict[str, str], client: str | None, path: str | None) -> ServingResponse:
        service = self.service
        if len(body) > self.max_body:
            error = PayloadTooLargeError(f"body larger than max_body_bytes={self.max_body}")
            return service.reject_request(error, headers=headers, client=client, protocol="seldon")
        return self._loop().run_until_complete(service.handle(body, headers, client, "seldon", path))

    def _loop(self) -> asyncio.AbstractEventLoop:
        """This thread's event loop (one per thread and process: seldon-core forks its workers)."""
        local = self.local
        loop: asyncio.AbstractEventLoop | None = getattr(local, "loop", None)
        if loop is None or local.pid != os.getpid():
            loop = local.loop = asyncio.new_event_loop()
            local.pid = os.getpid()
        return loop

    # metrics

    def _with_metrics(self, doc: dict[str, Any]) -> dict[str, Any]:
        interval = self.interval
        if interval is None or time.monotonic() - self.handed < interval:
            return doc
        delta = self.metrics_delta()
        if delta:
            meta = doc.setdefault("meta", {})
            meta["metrics"] = [*meta.get("metrics", ()), *delta]
        return doc

    def metrics_delta(self) -> list[dict[str, Any]]:
        with self.lock:  # one reader at a time: each count is handed over once
            now = _tallies(self.service)
            self.handed = time.monotonic()
            out = []
            for (key, tag, value), total in now.items():
                change = total - self.reported.get((key, tag, value), 0.0)
                if change:  # never a 0: protobuf's JSON drops it, and seldon-core then fails on the missing value
                    metric: dict[str, Any] = {"type": "COUNTER", "key": key, "value": change}
                    if tag:
                        metric["tags"] = {tag: value}
                    out.append(metric)
            self.reported = now
        return out


def _tallies(service: ModelService) -> dict[tuple[str, str, str], float]:
    """The toolkit's request, error and latency totals, from its registry (all protocols summed)."""
    totals: dict[tuple[str, str, str], float] = {}
    for family in service.registry.collect():
        for sample in family.samples:
            if sample.name == "ml_prediction_requests_total":
                key = ("ml_prediction_requests", "status", sample.labels["status"])
            elif sample.name == "ml_prediction_errors_total":
                key = ("ml_prediction_errors", "kind", sample.labels["kind"])
            elif sample.name == "ml_prediction_latency_seconds_sum":
                key = ("ml_prediction_seconds", "", "")
            else:
                continue
            totals[key] = totals.get(key, 0.0) + float(sample.value)
    return totals


class _HttpAnswer:
    """Flask ``after_this_request`` callback: the toolkit's status, content type and headers on the response."""

    __slots__ = ("response",)

    def __init__(self, response: ServingResponse) -> None:
        self.response = response

    def __call__(self, flask_response: Any) -> Any:
        flask_response.status_code = self.response.status
        for name, value in self.response.headers:
            flask_response.headers[name] = value
        return flask_response


def _dump(doc: Any) -> bytes:
    """A message Flask parsed, as JSON bytes again (ints beyond 64 bits by the stdlib)."""
    try:
        return orjson.dumps(doc, default=_text)
    except TypeError:  # orjson.JSONEncodeError: an int beyond 64 bits
        return json.dumps(doc, default=_text).encode()


def _text(value: Any) -> str:
    if isinstance(value, bytes):  # seldon-core's multipart form path gives binData as base64 bytes
        return value.decode("ascii")
    raise TypeError


def _seldon_core() -> Any:
    try:
        import seldon_core
    except ImportError as exc:  # pragma: no cover - the seldon virtualenv has it
        raise ImportError(
            'datason.integrations.seldon needs seldon-core 1.18: pip install "seldon-core==1.18.2" "setuptools<81"'
        ) from exc
    return seldon_core


# -- predict and the adapter -----------------------------------------------------------------------------


def _predict_caller(component: DatasonComponent) -> Callable[[_Input], Any]:
    """``component.predict`` called with a request's ``_Input`` (``meta`` only when predict takes it)."""
    predict = component.predict
    params = inspect.signature(predict).parameters
    with_meta = "meta" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())

    if inspect.iscoroutinefunction(predict):

        async def call_async(item: _Input) -> Any:
            if with_meta:
                return await predict(item.X, item.names, meta=item.meta)
            return await predict(item.X, item.names)

        return call_async

    def call(item: _Input) -> Any:
        if with_meta:
            return predict(item.X, item.names, meta=item.meta)
        return predict(item.X, item.names)

    return call


class _ComponentAdapter(SeldonAdapter):
    """The toolkit's Seldon adapter, giving predict ``(X, names, meta)`` and putting the component's tags,
    class names and ``SeldonResponse`` parts into the answer, typed for a client that accepts datason's form."""

    def __init__(self, component: DatasonComponent, cfg: ServingConfig) -> None:
        super().__init__(
            max_depth=cfg.max_depth,
            model_id=cfg.model_id,
            model_version=cfg.model_version,
            serialization=cfg.serialization,
        )
        from seldon_core.metrics import validate_metrics
        from seldon_core.user_model import SeldonResponse
        from seldon_core.utils import get_request_path

        cls = type(component)
        self._response_type = SeldonResponse
        self._validate_metrics = validate_metrics
        self._tags: Callable[[], Any] | None = component.tags if callable(getattr(cls, "tags", None)) else None  # type: ignore[attr-defined]
        self._class_names: Callable[[], Any] | None = (
            component.class_names if callable(getattr(cls, "class_names", None)) else None  # type: ignore[attr-defined]
        )
        self._request_path: dict[str, str] = get_request_path()
        self._typed = self.serialization.replace(include_type_hints=True, uuid_format="object")

    def parse(self, body: bytes, headers: dict[str, str]) -> Parsed:
        request = self.decode(body)
        sent = request.meta.get("metrics")
        if sent and not self._validate_metrics(sent):  # echoed into the answer, where seldon-core reads them
            raise MalformedRequestError("metrics must be seldon metrics (key, type, value)", path="$.meta.metrics")
        accept = headers.get("accept")
        typed = accept is not None and _TYPED_TOKEN in accept.lower()
        return Parsed(_Input(request.value, request.names or [], request.meta), (request, typed))

    def render(self, result: Any, parsed: Parsed, rid: str, elapsed: float) -> Rendered:
        request, typed = parsed.request
        meta: dict[str, Any] = {}
        if self._request_path:
            meta["requestPath"] = dict(self._request_path)
        tags = dict(self._tags() or {}) if self._tags is not None else {}
        if isinstance(result, self._response_type):
            tags.update(result.tags or {})
            if result.metrics:
                if not self._validate_metrics(result.metrics):
                    raise PredictionError("prediction failed (its SeldonResponse metrics are not valid)")
                meta["metrics"] = list(result.metrics)
            result = result.data
        if tags:
            meta["tags"] = tags
        names = None
        if self._class_names is not None and not _is_frame(result) and _ndim(result) == 2:
            names = [str(n) for n in self._class_names()]
        if typed and request.form == "jsonData" and not _is_frame(result) and not _is_bytes(result):
            return Rendered(self._typed_answer(result, request, meta), TYPED_MEDIA_TYPE)
        return Rendered(self.encode(result, request=request, names=names, meta=meta or None))

    def _typed_answer(self, result: Any, request: Any, meta: dict[str, Any]) -> bytes:
        """``jsonData`` in datason's typed form: the codec writes the message around it (it writes plain JSON)."""
        try:
            value = dumpb(result, self._typed)
        except Exception as exc:
            raise self._encode_failed(exc) from None
        doc = orjson.loads(self.encode(None, request=request, meta=meta or None))
        doc["jsonData"] = orjson.Fragment(value)
        return orjson.dumps(doc)


def _is_frame(value: Any) -> bool:
    t = type(value)
    return t.__name__ == "DataFrame" and t.__module__.startswith("pandas")


def _ndim(value: Any) -> int:
    import numpy as np

    try:
        return int(np.ndim(value))
    except (TypeError, ValueError):  # a ragged list: not a matrix
        return 0


def _is_bytes(value: Any) -> bool:
    return isinstance(value, bytes | bytearray | memoryview)
