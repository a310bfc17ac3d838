"""A ``kserve.Model`` whose KServe v1 and v2 (Open Inference Protocol) endpoints speak datason (KServe 0.21).

Subclass ``DatasonModel`` instead of ``kserve.Model`` (or wrap a function with ``datason_model``) and serve it
with ``kserve.ModelServer().start([model])`` as usual. Requests to the model's prediction routes are answered
by the toolkit (``datason.serving.ModelService``): datason's codecs decode the body (``datason.protocols.oip``
with the binary extension, ``datason.protocols.kserve_v1``), the toolkit's pipeline runs (limits, rate limits,
OIP input specs, cache, batching, request ids, ``ml_prediction_*`` metrics, one log line) and errors get the
toolkit's statuses in KServe's ``{"error": ...}`` body: 400 for a malformed body or a shape/data mismatch
(KServe answers 500), 413, 415, 422, 429, 500 naming the exception class only. What each KServe hook does:

- ``start()`` (``ModelServer.start`` calls it for every model, before its server starts): puts the model's
  ``POST /v1/models/{name}:predict``, ``/v2/models/{name}/infer`` and ``/v2/models/{name}/versions/{v}/infer``
  routes ahead of KServe's on ModelServer's FastAPI app (``kserve.model_server.app``), as plain ASGI endpoints
  (another version than the config's ``model_version`` is a 404, where KServe answers 501):
  the body reaches datason's codec as bytes, before FastAPI or pydantic parse it. So tritonclient's default
  JSON-only ``infer`` (no ``Inference-Header-Content-Length``, which KServe refuses with 400), binary tensors,
  FP16 in JSON and datason's typed tensor parameters all work. Then the toolkit's service is started.
- ``stop()``: marks the model and the toolkit's service not ready (the routes then answer 503, as KServe's).
- ``healthy()`` (KServe's readiness: ``/v1/models/{name}``, ``/v2/models/{name}/ready``): kept; the datason
  routes answer 503 ``{"error": "Model with name N is not ready."}`` while it is False, as KServe's routes do.
- ``preprocess`` -> ``predict`` -> ``postprocess``: called by the toolkit with the *decoded* value (what
  docs/protocols.md lists: an ndarray of the tensor's dtype and shape, a dict of them, a DataFrame...) and
  ``headers=None``; what ``postprocess`` (or ``predict``) returns is encoded by datason for the protocol that
  asked. ``preprocess``/``postprocess`` run only when overridden; KServe's ``request_predict_seconds``
  (and ``request_preprocess_seconds`` / ``request_postprocess_seconds`` when they run) are still observed.
- ``__call__`` (KServe's dataplane: the model registered under another name, or gRPC): the same pipeline on
  what KServe parsed (a v1 dict, or an ``InferRequest`` rebuilt as an OIP body); 4xx raise a
  ``kserve.errors.InvalidInput`` subclass, 5xx an ``InferenceError`` one (answered with the toolkit's status
  and body over REST). There KServe has read the body first, with its own limits (FP16 in JSON, JSON-only
  tritonclient requests are refused before the model is called). ``explain`` is KServe's own.
- ``get_input_types()`` / ``get_output_types()``: the ``inputs`` / ``outputs`` tensor specs, for KServe's
  ``GET /v2/models/{name}`` metadata (tritonclient's ``get_model_metadata``).
- KServe's ``GET /metrics`` (prometheus_client's default registry): the toolkit's families
  (``ml_prediction_requests_total``, ``..._latency_seconds``, ``..._errors_total``, ``ml_active_models``...) of
  every ``DatasonModel`` of the process are added to it, labelled by model; per process (a scrape reaches one
  of ``--workers``).
- ``ModelServer(workers=N)`` pickles the models into its worker processes: the toolkit's service is left out
  and rebuilt there, and the routes installed in each worker.

What travels: OIP as ``datason.protocols.oip`` writes it (float32 stays float32 with its bits, datetime64 and
tz-aware columns as ISO 8601 BYTES with ``datason_*`` parameters rather than KServe's ``str()``, DataFrames one
input per column with their index); KServe v1 as strict JSON (NumPy values, DataFrames as records, datetimes
ISO 8601 with offsets, UUIDs and Decimals as strings, NaN as null, where KServe's ORJSONResponse fails on
``pd.Timestamp``, DataFrames and Decimals: kserve/kserve#2556). A v1 request may carry datason's typed form in
``inputs`` (``datason.dumps``), and one with ``Accept: application/vnd.datason+json`` (``TYPED_MEDIA_TYPE``) gets
``{"predictions": ...}`` in datason's typed form with that content type, so ``datason.loads`` rebuilds the
result exactly.

KServe is imported inside the functions that need it: ``pip install kserve`` (0.21).
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from ..serving import TYPED_MEDIA_TYPE, ModelService, ServingApp, ServingConfig, ServingResponse
from ..serving.adapters import KServeV1Adapter, Parsed, Rendered
from ..serving.requestlog import request_id
from ..serving.routes import ROUTES

if TYPE_CHECKING:  # the class is made on first use (it subclasses kserve.Model)
    DatasonModel: Any

__all__ = ["TYPED_MEDIA_TYPE", "DatasonModel", "datason_model"]

_ROUTED = ("oip", "kserve_v1")  # the protocols whose prediction routes KServe also has
_JSON = "application/json"
_HEADER_LENGTH = "inference-header-content-length"


def __getattr__(name: str) -> Any:
    if name == "DatasonModel":
        return _classes()[0]
    if name in ("_SyncFunctionModel", "_AsyncFunctionModel"):  # what pickle looks up for datason_model's models
        return _classes()[1 if name == "_SyncFunctionModel" else 2]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def datason_model(
    predict: Callable[[Any], Any],
    name: str,
    *,
    config: ServingConfig | None = None,
    schema: Any = None,
    inputs: Sequence[Any] = (),
    outputs: Sequence[Any] = (),
) -> Any:
    """A ready ``DatasonModel`` named ``name`` whose predict is ``predict(value)`` (sync or async).

    Options are ``DatasonModel``'s. For ``ModelServer(workers>1)`` the function must be importable (pickled by
    name: a module-level function, not a lambda).
    """
    if not callable(predict):
        raise TypeError("predict must be callable")
    _, sync_cls, async_cls = _classes()
    cls = async_cls if inspect.iscoroutinefunction(predict) else sync_cls
    return cls(name, predict, config=config, schema=schema, inputs=inputs, outputs=outputs)


# -- the classes (made once, on first use) -------------------------------------------------------------------


def _kserve() -> Any:
    try:
        import kserve
    except ImportError as exc:
        raise ImportError("datason.integrations.kserve needs KServe 0.21: pip install kserve") from exc
    return kserve


@functools.cache
def _classes() -> tuple[type, type, type]:
    kserve = _kserve()
    from kserve.errors import InferenceError, InvalidInput
    from kserve.model import InferenceVerb

    base_model = kserve.Model

    class DatasonModel(base_model):  # type: ignore[misc,valid-type]
        """A ``kserve.Model`` whose v1 and v2 prediction routes are datason's (see the module docstring).

        Override ``load`` (set ``self.ready = True``) and ``predict(self, payload, headers=None, ...)``: it receives
        the decoded value and returns any value datason writes. ``config``, ``schema``, ``inputs`` and ``outputs``
        are ``ModelService``'s (``inputs``/``outputs``: ``datason.protocols.oip.TensorSpec``); without ``config``,
        ``ServingConfig.from_env()``. The config's ``model_id`` is the model's ``name``. ``datason_service`` is
        the model's ``ModelService``.
        """

        def __init__(
            self,
            name: str,
            *,
            config: ServingConfig | None = None,
            schema: Any = None,
            inputs: Sequence[Any] = (),
            outputs: Sequence[Any] = (),
        ) -> None:
            super().__init__(name)
            if getattr(type(self), "predict", None) is base_model.predict:
                raise TypeError(f"{type(self).__name__} must define predict(self, payload, headers=None)")
            self._datason_options = (config, schema, tuple(inputs), tuple(outputs))
            self.datason_service: ModelService = _build_service(self)

        def start(self) -> None:
            super().start()
            _install(self)
            self.datason_service.start()

        def stop(self) -> None:
            super().stop()
            self.datason_service.stop()

        def get_input_types(self) -> list[dict[str, Any]]:
            return [spec.to_dict() for spec in self.datason_service.inputs] or super().get_input_types()

        def get_output_types(self) -> list[dict[str, Any]]:
            return [spec.to_dict() for spec in self.datason_service.outputs] or super().get_output_types()

        async def __call__(self, body: Any, headers: Any = None, verb: Any = InferenceVerb.PREDICT) -> Any:
            if verb != InferenceVerb.PREDICT:
                return await super().__call__(body, headers, verb)
            return await _dataplane_call(self, body, headers)

        def __getstate__(self) -> dict[str, Any]:
            state = dict(self.__dict__)
            state.pop("datason_service", None)  # locks, a registry: rebuilt by __setstate__
            return state

        def __setstate__(self, state: dict[str, Any]) -> None:
            self.__dict__.update(state)
            self.datason_service = _build_service(self)
            if self.ready:  # a started model arriving in a ModelServer worker process: serve it there too
                _install(self)
                self.datason_service.start()

    class _SyncFunctionModel(DatasonModel):
        def __init__(self, name: str, function: Callable[[Any], Any], **options: Any) -> None:
            self._function = function
            super().__init__(name, **options)
            self.ready = True

        def predict(self, payload: Any, headers: Any = None, response_headers: Any = None) -> Any:
            return self._function(payload)

    class _AsyncFunctionModel(_SyncFunctionModel):
        async def predict(self, payload: Any, headers: Any = None, response_headers: Any = None) -> Any:
            return await self._function(payload)

    class Refused(InvalidInput):
        """A 4xx answer of the toolkit on KServe's dataplane path (KServe's handler: 400; ours: its status)."""

        def __init__(self, answer: ServingResponse) -> None:
            super().__init__(_message(answer))
            self.answer = answer

    class Failed(InferenceError):
        """A 5xx answer of the toolkit on KServe's dataplane path."""

        def __init__(self, answer: ServingResponse) -> None:
            super().__init__(_message(answer), status=answer.status)
            self.answer = answer

    for cls in (DatasonModel, _SyncFunctionModel, _AsyncFunctionModel):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__  # pickled by name (ModelServer's workers)
    _ERRORS.extend((Refused, Failed))
    return DatasonModel, _SyncFunctionModel, _AsyncFunctionModel


_ERRORS: list[type[Exception]] = []  # Refused, Failed


def _message(answer: ServingResponse) -> str:
    try:
        return str(orjson.loads(answer.body)["error"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return f"request failed with status {answer.status}"


# -- the toolkit's service -----------------------------------------------------------------------------------


def _build_service(model: Any) -> ModelService:
    config, schema, inputs, outputs = model._datason_options
    cfg = ServingConfig.from_env() if config is None else config
    protocols = tuple(p for p in cfg.protocols if p in _ROUTED)  # no KServe route reaches Seldon's or MLflow's
    if cfg.model_id != model.name or protocols != cfg.protocols:
        cfg = cfg.replace(model_id=model.name, protocols=protocols)
    service = ModelService(_pipeline(model), config=cfg, schema=schema, inputs=inputs, outputs=outputs)
    if "kserve_v1" in service.adapters:
        common = {"model_id": cfg.model_id, "model_version": cfg.model_version, "serialization": cfg.serialization}
        service.adapters["kserve_v1"] = _TypedKServeV1(max_depth=cfg.max_depth, **common)
    return service


def _overrides(model: Any, name: str) -> bool:
    return getattr(type(model), name) is not getattr(_kserve().Model, name)


def _pipeline(model: Any) -> Callable[[Any], Any]:
    """What the toolkit calls with the decoded value: predict (with preprocess/postprocess when overridden),
    timed in KServe's histograms. Sync when predict is sync and nothing else runs (the toolkit then picks
    inline or thread by its cost), else async."""
    from kserve.metrics import POST_HIST_TIME, PRE_HIST_TIME, PREDICT_HIST_TIME, get_labels

    labels = get_labels(model.name)
    predict_hist = PREDICT_HIST_TIME.labels(**labels)
    predict = model.predict
    pre = model.preprocess if _overrides(model, "preprocess") else None
    post = model.postprocess if _overrides(model, "postprocess") else None
    if pre is None and post is None and not inspect.iscoroutinefunction(predict):

        def run(value: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return predict(value)
            finally:
                predict_hist.observe(time.perf_counter() - t0)

        return run
    pre_hist, post_hist = PRE_HIST_TIME.labels(**labels), POST_HIST_TIME.labels(**labels)

    async def run_async(value: Any) -> Any:
        if pre is not None:
            with pre_hist.time():
                value = await _result(pre(value, None))
        with predict_hist.time():
            result = await _result(predict(value))
        if post is not None:
            with post_hist.time():
                result = await _result(post(result, None))
        return result

    return run_async


async def _result(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class _TypedKServeV1(KServeV1Adapter):
    """The toolkit's KServe v1 adapter, plus ``/predict``'s negotiation: ``Accept: application/vnd.datason+json``
    gets ``{"predictions": ...}`` in datason's typed form (``Parsed.request`` is True for such a request)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._typed = self.serialization.replace(include_type_hints=True, uuid_format="object")

    def parse(self, body: bytes, headers: dict[str, str]) -> Parsed:
        parsed = super().parse(body, headers)
        accept = headers.get("accept")
        if accept is not None and "vnd.datason" in accept.lower():
            return Parsed(parsed.value, True)
        return parsed

    def render(self, result: Any, parsed: Parsed, rid: str, elapsed: float) -> Rendered:
        if parsed.request is not True:
            return super().render(result, parsed, rid, elapsed)
        from ..api import dumpb

        try:
            return Rendered(dumpb({"predictions": result}, self._typed, sort_keys=False), TYPED_MEDIA_TYPE)
        except Exception as exc:
            raise self._encode_failed(exc) from None


# -- routes on ModelServer's app -----------------------------------------------------------------------------


class _Endpoint:
    """One model's prediction routes: KServe's readiness, then the toolkit's ASGI app."""

    __slots__ = ("app", "model", "name")

    def __init__(self, model: Any, app: ServingApp) -> None:
        self.model = model
        self.name = model.name
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not await self.model.healthy():
            rid = request_id(dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1") or None)
            body = orjson.dumps({"error": f"Model with name {self.name} is not ready."})
            headers = [(b"content-type", _JSON.encode()), (b"x-request-id", rid.encode())]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _install(model: Any) -> None:
    """Put the model's prediction routes first on ModelServer's app; add its metrics to KServe's ``/metrics``."""
    from kserve.model_server import app
    from starlette.routing import Route

    service = model.datason_service
    endpoint = _Endpoint(model, ServingApp(service))
    paths = [  # any {version}: the toolkit answers another version 404 (KServe's route: 501)
        r.path.replace("{name}", model.name)
        for r in ROUTES
        if r.kind == "predict" and r.protocol in _ROUTED and r.protocol in service.adapters
    ]
    routes = app.router.routes
    routes[:] = [r for r in routes if not (isinstance(getattr(r, "app", None), _Endpoint) and r.app.name == model.name)]
    routes[:0] = [Route(path, endpoint) for path in paths]  # ahead of KServe's routes
    for error in _ERRORS:
        app.add_exception_handler(error, _answer_error)
    _families().services[model.name] = service


async def _answer_error(request: Any, exc: Any) -> Any:
    from starlette.responses import Response

    answer: ServingResponse = exc.answer
    return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))


@functools.cache
def _families() -> _Families:
    from prometheus_client import REGISTRY

    families = _Families()
    REGISTRY.register(families)
    return families


class _Families:
    """The toolkit's metric families of every DatasonModel in the process, merged by name (samples of the same
    name and labels, such as the unlabelled ``ml_active_models``, are summed; ``*_created`` keeps the earliest)."""

    def __init__(self) -> None:
        self.services: dict[str, ModelService] = {}

    def describe(self) -> list[Any]:
        return []  # nothing to check against the default registry's names at registration

    def collect(self) -> Iterator[Any]:
        merged: dict[str, Any] = {}
        at: dict[tuple[str, str, tuple[tuple[str, str], ...]], int] = {}  # a sample's place in its merged family
        for service in list(self.services.values()):
            for family in service.registry.collect():  # fresh Metric objects on every collect
                samples = family.samples
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = family
                    family.samples = []
                for sample in samples:
                    key = (family.name, sample.name, tuple(sorted(sample.labels.items())))
                    index = at.get(key)
                    if index is None:
                        at[key] = len(into.samples)
                        into.samples.append(sample)
                        continue
                    old = into.samples[index]
                    first = sample.name.endswith("_created")
                    into.samples[index] = old._replace(
                        value=min(old.value, sample.value) if first else old.value + sample.value
                    )
        yield from merged.values()


# -- KServe's dataplane path ---------------------------------------------------------------------------------


async def _dataplane_call(model: Any, body: Any, headers: Any) -> tuple[Any, dict[str, str]]:
    """The toolkit's pipeline on what KServe's dataplane parsed: a v1 dict (or raw bytes), or an InferRequest."""
    from kserve.protocol.infer_type import InferRequest, InferResponse

    lower = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    for name in ("content-encoding", "content-length", _HEADER_LENGTH):
        lower.pop(name, None)  # the body handed over is not the one those described
    service = model.datason_service
    if isinstance(body, InferRequest):
        raw, header_length = _oip_body(body)
        if header_length is not None:
            lower[_HEADER_LENGTH] = str(header_length)
        answer = await service.handle(raw, lower, None, "oip")
        _raise_for(answer)
        out = dict(answer.headers)
        if getattr(body, "from_grpc", False):
            length = out.get(_HEADER_LENGTH)
            if length is not None:
                return InferResponse.from_bytes(answer.body, int(length)), {}
            return InferResponse.from_rest(orjson.loads(answer.body)), {}
        return answer.body, out
    if isinstance(body, bytes | bytearray | memoryview):
        raw = bytes(body)
    elif isinstance(body, dict):
        raw = orjson.dumps(body)
    else:
        raise _kserve_invalid(f"a v1 request must be a JSON object, got {type(body).__name__}")
    answer = await service.handle(raw, lower, None, "kserve_v1")
    _raise_for(answer)
    return answer.body, dict(answer.headers)


def _kserve_invalid(message: str) -> Exception:
    from kserve.errors import InvalidInput

    return InvalidInput(message)


def _raise_for(answer: ServingResponse) -> None:
    if answer.status >= 400:
        refused, failed = _ERRORS
        raise (refused if answer.status < 500 else failed)(answer)


def _oip_body(request: Any) -> tuple[bytes, int | None]:
    """An ``InferRequest`` (parsed by KServe from REST or gRPC) as an OIP body for datason's codec: JSON data as
    is, raw tensors (gRPC ``raw_input_contents``) and BYTES given as ``bytes`` as binary tensors."""
    from kserve.protocol.infer_type import to_http_parameters

    inputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for tensor in request.inputs:
        params = dict(to_http_parameters(tensor.parameters)) if tensor.parameters else {}
        params.pop("binary_data_size", None)
        entry: dict[str, Any] = {"name": tensor.name, "shape": [int(n) for n in tensor.shape]}
        entry["datatype"] = tensor.datatype
        raw = getattr(tensor, "_raw_data", None)  # KServe keeps binary tensors here (from_grpc, from_bytes)
        data = tensor.data
        if raw is None and hasattr(data, "tolist"):
            data = data.tolist()
        if raw is None and tensor.datatype == "BYTES" and any(not isinstance(x, str) for x in _flat(data)):
            raw = b"".join(len(b).to_bytes(4, "little") + b for b in (_bytes(x) for x in _flat(data)))
        if raw is not None:
            params["binary_data_size"] = len(raw)
            chunks.append(bytes(raw))
        else:
            entry["data"] = data
        if params:
            entry["parameters"] = params
        inputs.append(entry)
    doc: dict[str, Any] = {}
    if request.id:
        doc["id"] = request.id
    if request.parameters:
        doc["parameters"] = to_http_parameters(request.parameters)
    doc["inputs"] = inputs
    if request.request_outputs:
        doc["outputs"] = [
            {"name": o.name, **({"parameters": to_http_parameters(o.parameters)} if o.parameters else {})}
            for o in request.request_outputs
        ]
    header = orjson.dumps(doc)
    if not chunks:
        return header, None
    return header + b"".join(chunks), len(header)


def _flat(data: Any) -> Iterator[Any]:
    if isinstance(data, list | tuple):
        for item in data:
            yield from _flat(item)
    else:
        yield data


def _bytes(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    raise _kserve_invalid(f"a BYTES element must be bytes or str, got {type(item).__name__}")
