"""One adapter per protocol: a request body into what predict receives, a result or an error into a response body.

The request pipeline (``ModelService.handle``) is the same for every protocol; an adapter is the only part
that knows a wire format, and it delegates that format to ``datason.protocols``:

- ``datason``: ``POST /predict`` ``{"features": ...}`` -> the (validated) features; the result is written with
  the service's datason config inside ``{"request_id", "prediction", "model_version", "timestamp",
  "processing_time_ms"}``; errors are the envelope ``{"request_id", "status": "error", "error", "timestamp"}``.
- ``oip``: Open Inference Protocol v2 (``datason.protocols.oip``, JSON and binary tensors); errors ``{"error"}``.
- ``kserve_v1``: ``{"instances"|"inputs"}`` -> ``{"predictions"}`` (``datason.protocols.kserve_v1``).
- ``seldon``: Seldon Core v1 SeldonMessages, answered in the request's form (``datason.protocols.seldon``).
- ``mlflow``: the MLflow scoring server's four input formats -> ``{"predictions"}`` (``datason.protocols.mlflow``).

Adapters raise ``ServingError`` subclasses only: a codec's ``DeserializationError`` becomes 400 (413/422 for
size and depth limits), a result the protocol cannot carry a ``ResponseSerializationError`` whose client
message is ``prediction failed (SerializationError)`` while ``detail`` (logged only) keeps datason's reason.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from ..api import dumpb
from ..config import SerializationConfig
from ..errors import DatasonError
from .config import PROTOCOLS
from .errors import (
    MalformedRequestError,
    ResponseSerializationError,
    ServingError,
    error_body,
    from_decode_error,
    utc_timestamp,
)
from .validation import RequestDecoder

__all__ = ["TYPED_MEDIA_TYPE", "Adapter", "Parsed", "Rendered", "build_adapters"]

JSON = "application/json"
#: The media type of datason's typed JSON: a client sending ``Accept: application/vnd.datason+json`` to
#: ``/predict`` gets the prediction with its types (``datason.loads`` rebuilds them), in this content type.
TYPED_MEDIA_TYPE = "application/vnd.datason+json"
_TYPED_TOKEN = "vnd.datason"
_LOG = logging.getLogger("datason.serving")


class Parsed(NamedTuple):
    """A decoded request: ``value`` is what predict receives, ``request`` the codec's request object."""

    value: Any
    request: Any = None


class Rendered(NamedTuple):
    """A response body and its content type, plus headers of the protocol's own."""

    body: bytes
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()


class Adapter:
    """Base adapter: parse, render, error. Subclasses set ``name`` and the codec they use."""

    name = ""
    #: The JSON levels a protocol puts around the payload (counted by the decoder's ``max_depth``).
    envelope_depth = 1

    def __init__(self, *, model_id: str, model_version: str, serialization: SerializationConfig) -> None:
        self.model_id = model_id
        self.model_version = model_version
        self.serialization = serialization

    def parse(self, body: bytes, headers: dict[str, str]) -> Parsed:
        raise NotImplementedError

    # ``parse`` in two steps, for tracing's decode and validate spans (``parse`` itself stays one call):
    def read(self, body: bytes, headers: dict[str, str]) -> Any:
        """The wire format decoded within the limits, not yet validated (``check`` finishes ``parse``)."""
        return self.parse(body, headers)

    def check(self, read: Any, headers: dict[str, str]) -> Parsed:
        """What ``read`` gave, validated: the ``Parsed`` that ``parse`` returns."""
        result: Parsed = read
        return result

    def render(self, result: Any, parsed: Parsed, rid: str, elapsed: float) -> Rendered:
        raise NotImplementedError

    def error(self, rid: str, error: ServingError) -> bytes:
        """The protocol's error body for ``error`` (the message is already client-safe)."""
        return orjson.dumps({"error": str(error)})


class DatasonAdapter(Adapter):
    """datason's own ``{"features": ...}`` request and prediction envelope.

    The prediction is written with the service's datason config (plain JSON by default, for any client); a
    request whose ``Accept`` names ``TYPED_MEDIA_TYPE`` gets it in datason's typed form instead (the same config
    with type hints: dtypes, shapes, frames, datetimes, UUIDs and Decimals come back exactly through
    ``datason.loads``), answered with that content type. ``Parsed.request`` is True for such a request.
    """

    name = "datason"

    def __init__(self, *, decoder: RequestDecoder, **kw: Any) -> None:
        super().__init__(**kw)
        self.decoder = decoder
        self._version = orjson.dumps(self.model_version)
        self._typed = self.serialization.replace(include_type_hints=True, uuid_format="object")

    def parse(self, body: bytes, headers: dict[str, str]) -> Parsed:
        accept = headers.get("accept")
        typed = accept is not None and _TYPED_TOKEN in accept.lower()
        return Parsed(self.decoder.decode(body), typed)

    def read(self, body: bytes, headers: dict[str, str]) -> Any:
        return self.decoder.parse(body)

    def check(self, read: Any, headers: dict[str, str]) -> Parsed:
        accept = headers.get("accept")
        return Parsed(self.decoder.check(read), accept is not None and _TYPED_TOKEN in accept.lower())

    def render(self, result: Any, parsed: Parsed, rid: str, elapsed: float) -> Rendered:
        typed = parsed.request is True
        prediction = _dump(result, self._typed if typed else self.serialization, "$.prediction")
        body = b"".join(
            (
                b'{"request_id":"',
                rid.encode(),
                b'","prediction":',
                prediction,
                b',"model_version":',
                self._version,
                b',"timestamp":"',
                utc_timestamp().encode(),
                b'","processing_time_ms":',
                b"%.3f" % (elapsed * 1000.0),  # one formatting (round() then repr() format twice)
                b"}",
            )
        )
        return Rendered(body, TYPED_MEDIA_TYPE if typed else JSON)

    def error(self, rid: str, error: ServingError) -> bytes:
        return error_body(rid, str(error))


class _CodecAdapter(Adapter):
    """An adapter whose wire format is one ``datason.protocols`` module."""

    module = ""

    def __init__(self, *, max_depth: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.codec: Any = importlib.import_module(f"datason.protocols.{self.module}")
        self._decode_request = self.codec.decode_request
        self._encode_response = self.codec.encode_response
        self._max_depth = max_depth
        base = self.serialization
        self.config = base.replace(max_depth=min(base.max_depth, max_depth + self.envelope_depth))

    def decode(self, body: bytes, **kw: Any) -> Any:
        """The codec's request object, codec errors as serving errors (depth named by the service's limit)."""
        try:
            return self._decode_request(body, config=self.config, **kw)
        except Exception as exc:
            raise self._decode_failed(exc) from None

    def encode(self, result: Any, **kw: Any) -> Any:
        """The codec's response to ``result``, codec errors as serving errors."""
        try:
            return self._encode_response(result, config=self.serialization, **kw)
        except Exception as exc:
            raise self._encode_failed(exc) from None

    def _decode_failed(self, exc: Exception) -> Exception:
        if isinstance(exc, DatasonError):
            return from_decode_error(exc, max_depth=self._max_depth)
        if isinstance(exc, ServingError):
            return exc
        # a codec fault on odd input: still a client error, never a traceback
        return MalformedRequestError(f"request could not be decoded ({type(exc).__name__})")

    @staticmethod
    def _encode_failed(exc: Exception) -> ServingError:
        if isinstance(exc, DatasonError) and "requested output" in exc.reason and exc.path.startswith("$.outputs["):
            # a requested output the result lacks: the request's fault (400, as Triton answers)
            return MalformedRequestError("requested output is not produced by the model", path=exc.path)
        return _unserializable(exc)


class OipAdapter(_CodecAdapter):
    """Open Inference Protocol v2: tensors in, tensors out, binary extension included."""

    name = "oip"
    module = "oip"
    envelope_depth = 3  # {"inputs": [{"data": ...}]}

    def __init__(self, *, inputs: Sequence[Any] = (), outputs: Sequence[Any] = (), **kw: Any) -> None:
        super().__init__(**kw)
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)

    def parse(self, body: bytes, headers: dict[str, str]) -> Parsed:
        try:  # decode(), inlined: the hot path of every OIP request
            request = self._decode_request(
                body, header_length=headers.get("inference-header-content-length"), config=self.config
            )
        except Exception as exc:
            raise self._decode_failed(exc) from None
        return self.check(request, headers)

    def read(self, body: bytes, headers: dict[str, str]) -> Any:
        return self.decode(body, header_length=headers.get("inference-header-content-length"))

    def check(self, read: Any, headers: dict[str, str]) -> Parsed:
        if self.inputs:
            try:
                self.codec.check_inputs(read, self.inputs)
            except DatasonError as exc:
                raise MalformedRequestError(exc.reason, path=exc.path, type_name=exc.type_name) from None
        return Parsed(read.value, read)

    def render(self, result: Any, parsed: Parsed, rid: str, elapsed: float) -> Rendered:
        request = parsed.request
        try:  # encode(), inlined
            encoded = self._encode_response(
                result,
                model_name=self.model_id,
                model_version=self.model_version,
                id=request.id if request.id is not None else rid,
                request=request,
                config=self.serialization,
            )
        except Exception as exc:
            raise self._encode_failed(exc) from None
        if encoded.header_length is None:
            return Rendered(encoded.body)
        return Rendered(
            encoded.body,
            "application/octet-stream",
            (("inference-header-content-length", str(encoded.header_length)),),
        )

    def error(self, rid: str, error: ServingError) -> bytes:
        return bytes(self.codec.error_body(str(error)))


class KServeV1Adapter(_CodecAdapter):
    """KServe v1: ``{"instances": [...]}`` or ``{"inputs": ...}`` -> ``{"predictions": [...]}``."""

    name = "kserve_v1"
    module = "kserve_v1"

    def parse(self, body: bytes, headers: dict[str, str]) -> Parsed:
        request = self.decode(body)
        return Parsed(request.value, request)

    def render(self, result: Any, parsed: Parsed, rid: str, elapsed: float) -> Rendered:
        return Rendered(self.encode(result, request=parsed.request))

    def error(self, rid: str, error: ServingError) -> bytes:
        return bytes(self.codec.error_body(str(error), status=error.status))


class SeldonAdapter(KServeV1Adapter):
    """Seldon Core v1 SeldonMessage, answered in the request's form."""

    name = "seldon"
    module = "seldon"
    envelope_depth = 2  # {"data": {"ndarray": ...}}


class MlflowAdapter(KServeV1Adapter):
    """The MLflow scoring server's ``dataframe_split``/``dataframe_records``/``instances``/``inputs``."""

    name = "mlflow"
    module = "mlflow"
    envelope_depth = 2  # {"dataframe_split": {"data": ...}}


_ADAPTERS: dict[str, type[_CodecAdapter]] = {
    "oip": OipAdapter,
    "kserve_v1": KServeV1Adapter,
    "seldon": SeldonAdapter,
    "mlflow": MlflowAdapter,
}


def build_adapters(
    names: Sequence[str],
    *,
    model_id: str,
    model_version: str,
    serialization: SerializationConfig,
    decoder: RequestDecoder,
    max_depth: int,
    inputs: Sequence[Any] = (),
    outputs: Sequence[Any] = (),
) -> dict[str, Adapter]:
    """The adapters of the protocols in ``names`` (datason's own is always built: integrations call it)."""
    common = {"model_id": model_id, "model_version": model_version, "serialization": serialization}
    out: dict[str, Adapter] = {"datason": DatasonAdapter(decoder=decoder, **common)}
    for name in names:
        if name == "datason":
            continue
        if name not in _ADAPTERS:
            raise ValueError(f"unknown protocol; expected one of {PROTOCOLS}")
        extra: dict[str, Any] = {"inputs": inputs, "outputs": outputs} if name == "oip" else {}
        try:
            out[name] = _ADAPTERS[name](max_depth=max_depth, **extra, **common)
        except ImportError as exc:  # NumPy (or pandas) missing: serve the other protocols, and say why
            _LOG.warning("protocol %s is off: %s (pip install 'datason[serving,pandas]')", name, exc)
    return out


def _dump(result: Any, config: SerializationConfig, root: str) -> bytes:
    try:
        return dumpb(result, config)
    except DatasonError as exc:
        raise _unserializable(exc, root) from None
    except Exception as exc:
        raise _unserializable(exc, root) from None


def _unserializable(exc: BaseException, root: str = "$") -> ResponseSerializationError:
    """The client sees the exception class only; ``detail`` (server logs) keeps datason's reason and path."""
    error = ResponseSerializationError(f"prediction failed ({type(exc).__name__})")
    if isinstance(exc, DatasonError):
        error.detail = f"prediction could not be serialized: {exc.reason} ({exc.type_name}) at {root}{exc.path[1:]}"
    else:
        error.detail = f"prediction could not be serialized ({type(exc).__name__})"
    return error
