"""An MLServer 1.7 runtime (the inference server of Seldon Core 2) whose tensors are datason's.

``DatasonModel`` is an ``mlserver.MLModel``: name it (or a subclass) as ``implementation`` in
``model-settings.json`` and ``mlserver start``, ``mlserver build`` and a Seldon Core 2 ``Model`` serve it
unchanged, on MLServer's own REST and gRPC endpoints. Its predict answers the Open Inference Protocol with
datason's codec (``datason.protocols.oip``) through the toolkit's request pipeline
(``datason.serving.ModelService``, protocol ``oip``): limits, rate limits, input checks, ``ml_prediction_*``
metrics, one log line, sanitized errors and their statuses are the toolkit's. What each MLServer hook does here:

- ``__init__(settings)``: the ``ServingConfig`` is ``DATASON_SERVING_*`` variables, then
  ``parameters.extra["datason"]`` (its fields as JSON values); ``model_id`` is the model's name and
  ``model_version`` its version. The settings' ``inputs`` become ``TensorSpec``s every request is checked
  against (400 naming the input). MLServer's adaptive batching (``max_batch_size > 1``) is refused: it
  concatenates tensors and drops their datason parameters; the toolkit's ``batch_max_size`` batches instead.
- ``load()``: imports ``parameters.extra["predict"]`` (``"module:attr"``, found beside the settings file) when
  given, builds and starts the ``ModelService``, and adds its metric families to MLServer's ``/metrics``
  (prometheus_client's default registry, which MLServer serves when ``parallel_workers`` is 0).
- ``predict(payload)``: MLServer has already parsed the body into an ``InferenceRequest``; it is written back
  to JSON without MLServer's own ``parameters.headers`` (nor ``binary_data_output``: MLServer answers JSON
  only), answered by the toolkit, and read into MLServer's ``InferenceResponse`` (``model_version`` as
  MLServer sets it; the id is MLServer's). A toolkit error becomes an ``MLServerError`` with the toolkit's
  status and message: MLServer answers ``{"error": message}`` with that status, or the matching gRPC status.
  Over gRPC (a ``grpc-*`` user agent), BYTES outputs are handed to MLServer as bytes, as its codecs do.
- ``unload()``: stops the service and removes its metric families.
- ``infer(value)``: the model (override it, sync or async), or the function named by ``extra["predict"]``:
  it receives what ``datason.protocols.oip`` decodes (one input: its ndarray or Series; several: a dict by
  name; ``content_type: "pd"``: a DataFrame, rebuilt exactly from datason's parameters) and returns anything
  that codec encodes (an array, a dict of outputs, a DataFrame, UUIDs, datetimes, Decimals...).

What travels: plain OIP tensors any MLServer client reads (``np``, ``pd``, ``str``, ``base64`` and ``datetime``
content types), plus datason's ``datason_*`` parameters that a datason peer reads back exactly: float32 and
every integer width, 1-D shapes, complex, datetime64 and zone-aware columns, pandas ``string``, nullable and
``category`` columns, the index, UUIDs, Decimals and dates (docs/protocols.md).

``DatasonCodec`` is an MLServer ``RequestCodec`` (content type ``"datason"``) doing the same conversions on
MLServer's types without the toolkit: ``encode_request`` / ``decode_response`` for clients holding
``InferenceRequest``/``InferenceResponse`` objects, ``decode_request`` / ``encode_response`` for an
``MLModel`` of one's own. Its ``can_encode`` is False, so MLServer never picks it by payload in place of
its NumPy or pandas codecs.

MLServer is imported when this module is: ``pip install "mlserver>=1.7,<1.8"``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from ..errors import DeserializationError
from ..protocols import oip
from ..serving import ModelService, ServingConfig
from ..serving.config import parse_value
from ..serving.errors import PayloadTooLargeError

try:
    from mlserver import MLModel
    from mlserver.codecs import RequestCodec, register_request_codec
    from mlserver.errors import MLServerError
    from mlserver.settings import ModelSettings
    from mlserver.types import InferenceRequest, InferenceResponse
except ImportError as exc:  # pragma: no cover - the mlserver virtualenv has it
    raise ImportError('datason.integrations.mlserver needs MLServer 1.7: pip install "mlserver>=1.7,<1.8"') from exc

__all__ = ["DatasonCodec", "DatasonModel", "model_service"]

CONTENT_TYPE = "datason"
# What MLServer adds to a request that is not the client's message: the HTTP headers / gRPC metadata, and
# Triton's binary-output requests (MLServer's REST cannot answer binary tensors).
_NOT_THE_MESSAGE: dict[str, Any] = {
    "parameters": {"headers", "binary_data_output"},
    "outputs": {"__all__": {"parameters": {"binary_data"}}},
}


class DatasonModel(MLModel):
    """An MLServer runtime answering with datason's OIP codec through the toolkit (see the module docstring).

    Subclass it and define ``infer(value)`` (``load()`` loads the model), or use it as is with
    ``parameters.extra["predict"] = "module:function"`` in ``model-settings.json``.
    """

    def __init__(self, settings: ModelSettings) -> None:
        super().__init__(settings)
        if (settings.max_batch_size or 0) > 1:
            raise ValueError(
                f"model {settings.name!r}: MLServer's adaptive batching (max_batch_size) drops datason's tensor "
                "parameters; use parameters.extra.datason.batch_max_size (the toolkit's batching) instead"
            )
        extra = _extra(settings)
        self.datason_config = _serving_config(settings, extra.get("datason"))
        self.datason_inputs = tuple(_spec(t) for t in settings.inputs or ())
        self.datason_outputs = tuple(_spec(t) for t in settings.outputs or ())
        target = extra.get("predict")
        if target is not None and not isinstance(target, str):
            raise ValueError(f"model {settings.name!r}: parameters.extra.predict must be 'module:attr'")
        self._predict_path: str | None = target
        self._predict: Any = None
        self._service: ModelService | None = None

    # -- MLServer's hooks --------------------------------------------------------------------------------

    async def load(self) -> bool:
        """Import ``extra["predict"]`` (if named), then build and start the toolkit's service."""
        self._service_now().start()
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        """Answer one OIP request through the toolkit; its errors become ``MLServerError`` with its status."""
        service = self._service or self._service_now()
        headers = _forwarded(payload, service.config)
        try:
            body = payload.model_dump_json(exclude=_NOT_THE_MESSAGE).encode()
        except Exception:  # bytes that are not UTF-8 (gRPC bytes_contents): no JSON text for them
            raise MLServerError("BYTES data must be UTF-8 text here (send binary items base64-encoded)") from None
        if len(body) > service.config.max_body_bytes:  # what the toolkit's ASGI app checks before reading a body
            error = PayloadTooLargeError(f"body larger than max_body_bytes={service.config.max_body_bytes}")
            answer = service.reject_request(error, headers=headers, client=None, protocol="oip")
        else:
            answer = await service.handle(body, headers, None, "oip")
        if answer.status != 200:
            raise MLServerError(_message(answer.body), status_code=answer.status)
        response = InferenceResponse.model_validate_json(answer.body)
        response.model_version = self.version
        if headers.get("user-agent", "").startswith("grpc-"):
            _bytes_for_grpc(response)
        return response

    async def unload(self) -> bool:
        """Stop the toolkit's service and remove its metric families from ``/metrics``."""
        if self._service is not None:
            self._service.stop()
            _FAMILIES.services.pop(id(self), None)
        return True

    # -- the model ---------------------------------------------------------------------------------------

    def infer(self, value: Any) -> Any:
        """The model: ``value`` as datason decoded the request, the result to encode (override it)."""
        if self._predict is None:
            raise NotImplementedError(
                f"{type(self).__name__}: define infer(value), or name a function in parameters.extra.predict"
            )
        return self._predict(value)

    infer._datason_default = True  # type: ignore[attr-defined]  # (MLServer reloads modules: no identity checks)

    @property
    def datason_service(self) -> ModelService:
        """The toolkit's ``ModelService`` answering this model's requests (built on first use)."""
        return self._service or self._service_now()

    def _service_now(self) -> ModelService:
        if self._service is None:
            if not getattr(type(self).infer, "_datason_default", False):
                target = self.infer
            elif self._predict_path is not None:
                target = self._predict = _import(self._predict_path, self.settings)
            else:
                raise NotImplementedError(
                    f"{type(self).__name__}: define infer(value), or name a function in parameters.extra.predict"
                )
            self._service = ModelService(
                target,
                config=self.datason_config,
                inputs=self.datason_inputs,
                outputs=self.datason_outputs,
            )
            _FAMILIES.add(id(self), self._service)
        return self._service


def model_service(model: Any) -> ModelService:
    """The ``ModelService`` of a ``DatasonModel`` instance (its config, ``health()``, ``metrics()``)."""
    service = getattr(model, "datason_service", None)  # duck-typed: MLServer reloads this module per model
    if not isinstance(service, ModelService):
        raise TypeError("not a datason.integrations.mlserver.DatasonModel")
    return service


@register_request_codec
class DatasonCodec(RequestCodec):
    """MLServer's ``RequestCodec`` interface over ``datason.protocols.oip`` (content type ``"datason"``)."""

    ContentType = CONTENT_TYPE
    TypeHint = object

    @classmethod
    def can_encode(cls, payload: Any) -> bool:
        """False: MLServer never picks this codec by payload; call it, or name it as a content type."""
        return False

    @classmethod
    def encode_request(cls, payload: Any, *, use_bytes: bool = True, **kwargs: Any) -> InferenceRequest:
        """A DataFrame, a dict of tensors or one array-like as an ``InferenceRequest`` (``oip.encode_request``
        keywords: ``id``, ``parameters``, ``outputs``, ``config``). ``use_bytes`` (MLServer's codecs' option)
        gives BYTES items as bytes, which MLServer's gRPC converters need; REST writes them as their text."""
        encoded = oip.encode_request(payload, **_keywords(kwargs, ("id", "parameters", "outputs", "config")))
        request = InferenceRequest.model_validate_json(encoded.body)
        if use_bytes:
            _bytes_items(request.inputs)
        return request

    @classmethod
    def decode_request(cls, request: InferenceRequest) -> Any:
        """What predict receives from ``request`` (``oip.decode_request(...).value``)."""
        return oip.decode_request(_message_of(request)).value

    @classmethod
    def encode_response(
        cls, model_name: str, payload: Any, model_version: str | None = None, *, use_bytes: bool = True, **kwargs: Any
    ) -> InferenceResponse:
        """A result as an ``InferenceResponse`` (``oip.encode_response`` keywords: ``id``, ``parameters``,
        ``config``; ``use_bytes`` as in ``encode_request``)."""
        options = _keywords(kwargs, ("id", "parameters", "config"))
        encoded = oip.encode_response(payload, model_name=model_name, model_version=model_version, **options)
        response = InferenceResponse.model_validate_json(encoded.body)
        if use_bytes:
            _bytes_items(response.outputs)
        return response

    @classmethod
    def decode_response(cls, response: InferenceResponse) -> Any:
        """The outputs of ``response`` as one Python value (``oip.decode_response(...).value``)."""
        return oip.decode_response(_message_of(response)).value


# -- settings ------------------------------------------------------------------------------------------------


def _extra(settings: ModelSettings) -> dict[str, Any]:
    params = settings.parameters
    extra = params.extra if params is not None else None
    return dict(extra) if isinstance(extra, Mapping) else {}


def _serving_config(settings: ModelSettings, fields: Any) -> ServingConfig:
    """``DATASON_SERVING_*`` variables, then ``extra["datason"]``; the model's name and version always win."""
    if fields is None:
        fields = {}
    if not isinstance(fields, Mapping):
        raise ValueError(f"model {settings.name!r}: parameters.extra.datason must be an object of ServingConfig fields")
    defaults = ServingConfig()
    overrides: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("model_id", "model_version", "protocols"):
            raise ValueError(
                f"model {settings.name!r}: parameters.extra.datason.{name} is MLServer's (name, version, OIP)"
            )
        if not hasattr(defaults, name):
            raise ValueError(f"model {settings.name!r}: parameters.extra.datason.{name} is not a ServingConfig field")
        source = f"parameters.extra.datason.{name}"
        if isinstance(value, str):
            value = parse_value(name, value, getattr(defaults, name), source=source)
        elif isinstance(value, list):
            value = tuple(value)
        overrides[name] = value
    overrides["model_id"] = settings.name
    overrides["protocols"] = ("oip",)  # MLServer routes nothing else to a model
    if settings.version:
        overrides["model_version"] = settings.version
    try:
        return ServingConfig.from_env(**overrides)
    except TypeError as exc:
        raise ValueError(f"model {settings.name!r}: parameters.extra.datason: {exc}") from None


def _spec(tensor: Any) -> oip.TensorSpec:
    datatype = tensor.datatype.value if hasattr(tensor.datatype, "value") else str(tensor.datatype)
    return oip.TensorSpec(tensor.name, datatype, tuple(tensor.shape))


@contextlib.contextmanager
def _beside(settings: ModelSettings) -> Iterator[None]:
    """The settings file's folder first on ``sys.path`` (as MLServer does to import ``implementation``)."""
    source = settings._source
    folder = os.path.dirname(source) if source else None
    if folder is None:
        yield
        return
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)


def _import(path: str, settings: ModelSettings) -> Any:
    """The callable named ``module:attr`` (or ``module.attr``) by the model's own settings (never a payload)."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"model {settings.name!r}: parameters.extra.predict must be 'module:attr'")
    with _beside(settings):
        module = importlib.import_module(module_name)
    found: Any = module
    for part in attr.split("."):
        if not hasattr(found, part):
            raise ValueError(f"model {settings.name!r}: parameters.extra.predict {path!r}: nothing named {part!r}")
        found = getattr(found, part)
    if not callable(found):
        raise TypeError(f"model {settings.name!r}: {path} is not callable")
    return found


# -- requests and responses ----------------------------------------------------------------------------------


def _forwarded(payload: InferenceRequest, config: ServingConfig) -> dict[str, str]:
    """The headers the toolkit reads: MLServer's request id, the client-id header and the user agent, and with
    authentication on (``api_keys``/``jwt_key_file`` in ``extra.datason``) the credential headers."""
    found = payload.parameters.headers if payload.parameters is not None else None
    headers: dict[str, str] = {}
    if isinstance(found, Mapping):
        lower = {str(k).lower(): v for k, v in found.items()}
        names = [config.client_id_header.lower() if config.client_id_header else None, "user-agent"]
        if config.auth_enabled:
            names += ["x-api-key", "authorization"]
        for name in names:
            if name is not None and isinstance(lower.get(name), str):
                headers[name] = lower[name]
    if payload.id is not None:
        headers["x-request-id"] = payload.id
    return headers


def _message(body: bytes) -> str:
    try:
        error = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        error = None
    return error if isinstance(error, str) else "request failed"


def _bytes_items(tensors: Any) -> None:
    """BYTES items as bytes (MLServer's gRPC converters take nothing else; missing items stay None)."""
    for tensor in tensors:
        if tensor.datatype == "BYTES":
            tensor.data.root = [item.encode() if isinstance(item, str) else item for item in tensor.data.root]


def _bytes_for_grpc(response: InferenceResponse) -> None:
    """``_bytes_items`` for a gRPC answer, refusing missing items (protobuf has no null) with a clear error."""
    for i, output in enumerate(response.outputs):
        if output.datatype == "BYTES" and any(item is None for item in output.data.root):
            raise MLServerError(f"output {i} has missing items, which gRPC cannot carry (use REST)", status_code=500)
    _bytes_items(response.outputs)


def _message_of(message: Any) -> dict[str, Any]:
    """An MLServer request or response as the OIP document datason reads (without MLServer's additions)."""
    try:
        doc = orjson.loads(message.model_dump_json(exclude=_NOT_THE_MESSAGE))
    except Exception:
        raise DeserializationError("BYTES data must be UTF-8 text", type_name=type(message).__name__) from None
    return doc


def _keywords(given: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise TypeError(f"unexpected keyword arguments {unknown}; DatasonCodec takes {list(allowed)}")
    return dict(given)


# -- metrics -------------------------------------------------------------------------------------------------


class _Families:
    """Every started DatasonModel's toolkit families, merged, in prometheus_client's default registry."""

    def __init__(self) -> None:
        self.services: dict[int, ModelService] = {}
        self._registered = False

    def add(self, key: int, service: ModelService) -> None:
        if not self._registered:
            from prometheus_client import REGISTRY

            REGISTRY.register(self)  # registered empty: no names reserved, so no clash with anyone's
            self._registered = True
        self.services[key] = service

    def collect(self) -> Iterator[Any]:
        merged: dict[str, Any] = {}
        for service in list(self.services.values()):
            model_id = service.config.model_id
            for family in service.registry.collect():
                samples = [
                    s if "model_id" in s.labels else s._replace(labels={"model_id": model_id, **s.labels})
                    for s in family.samples
                ]
                if family.name in merged:
                    merged[family.name].samples.extend(samples)
                else:
                    family.samples = samples
                    merged[family.name] = family
        yield from merged.values()


# MLServer reloads the module naming a model's implementation (importlib.reload) on every load: keep the one
# collector registered by the first import, whichever class objects the reloads create.
_FAMILIES: _Families = globals().get("_FAMILIES") or _Families()
