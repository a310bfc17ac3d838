"""Open Inference Protocol v2 (KServe v2, Triton, MLServer, Seldon Core 2): requests and responses, JSON and binary.

Server side: ``decode_request(body, header_length=...)`` -> ``InferRequest`` whose ``value`` is what predict
receives; ``encode_response(result, model_name=...)`` -> ``Encoded(body, header_length)``. Client side:
``encode_request`` and ``decode_response``. ``header_length`` is the ``Inference-Header-Content-Length``
HTTP header: None means the whole body is JSON (``application/json``); a number means a JSON header of that
many bytes followed by binary tensors (``application/octet-stream``).

What predict receives (``InferRequest.value``):

- one input: its value (``oip_tensors`` says what each datatype and content type gives: an ndarray of the
  datatype's dtype and the request's shape, BYTES as an object array of ``str``/``bytes``/``datetime``...);
- several inputs: a dict by input name (in request order);
- request ``parameters.content_type == "pd"``: a DataFrame, one column per input (MLServer's PandasCodec form;
  BYTES columns without a content type read as text, as MLServer reads them), rebuilt exactly from the
  ``datason_*`` parameters when a datason peer wrote it.

A request-level ``content_type`` of ``str``, ``base64``, ``datetime`` or ``pd_json`` applies to every tensor
that has none; ``np`` and unknown content types change nothing.

What a result becomes (``encode_response``):

- an array-like (ndarray, list, scalar, anything ``np.asarray`` takes) or a Series: one output, named after the
  single requested output, else the single request input, else ``output-0`` (a Series with a string name
  keeps it);
- a dict: one output per key (keys are output names);
- a DataFrame: one output per column and response ``parameters.content_type = "pd"`` (plus ``datason_index`` /
  ``datason_columns`` when needed).

Requested ``outputs`` keep only those names, in the request's order (a requested name the result lacks raises
``SerializationError``). Outputs are binary when the request set ``parameters.binary_data_output`` or the
output's ``parameters.binary_data``: tritonclient's default JSON-only ``infer`` sets the former (and may send
``Inference-Header-Content-Length`` equal to the whole body), so it gets binary outputs back. An output that
holds nulls stays JSON (the binary extension cannot say null). A body whose header length is 0 (Triton's raw
single input) is refused.

Parameters datason writes (strings or bools, so Triton's and KServe's parameter rules accept them; readers
without datason ignore them and still get plain tensors; ``oip_tensors`` details each):

- tensor level: ``datason_dtype`` (``"complex128"``, ``"datetime64[ns]"``, ``"timedelta64[us]"``, ``"<U5"``,
  ``"Int64"``, ``"boolean"``, ``"string"``, ``"str"``, ``"object"``, ``"category"``, ``"period[M]"``...),
  ``datason_tz`` / ``datason_tzlib`` (zone of an aware datetime column), ``datason_storage`` (string storage),
  ``datason_categories`` (datason JSON text of the categories) and ``datason_ordered``, ``datason_items``
  (``"uuid"``, ``"decimal"``, ``"date"``), ``datason_na`` (``"nan"``: missing items were NaN, not None),
  ``datason_series`` (the value was a Series), ``datason_name`` and ``datason_index`` (its name and index, as
  datason JSON text);
- request / response level: ``content_type: "pd"`` with ``datason_index`` and ``datason_columns`` (datason
  JSON text of the frame's index and column labels, written only when they are not the defaults).

Errors: malformed messages raise ``DeserializationError`` naming the field (``$.inputs[1].shape``); limits
(config ``max_size``, ``max_bytes``...) raise ``SecurityError``; results OIP cannot carry raise
``SerializationError``. ``error_body(message)`` is the ``{"error": message}`` body.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import orjson

from .. import encoder as _encoder
from ..api import loads as _loads
from ..api import serialize as _serialize
from ..config import SerializationConfig, get_api_config
from ..errors import DatasonError, DeserializationError, SecurityError, SerializationError
from . import oip_binary as _bin
from .oip_tensors import (
    DATATYPES,
    Tensor,
    datatype_of,
    decode_tensor,
    encode_tensor,
    finite_float_text,
    frame_from_tensors,
    frame_to_tensors,
)
from .oip_tensors import render as _render
from .oip_tensors import wire_of as _wire_of

__all__ = [
    "DATATYPES",
    "Encoded",
    "InferRequest",
    "InferResponse",
    "RequestedOutput",
    "Tensor",
    "TensorSpec",
    "check_inputs",
    "decode_request",
    "decode_response",
    "decode_tensor",
    "encode_request",
    "encode_response",
    "encode_tensor",
    "error_body",
    "model_metadata",
]

_NUMPY_OPT = orjson.OPT_SERIALIZE_NUMPY
_API = get_api_config()  # made once: building a config costs microseconds, and it is immutable
_DEFAULT_CT = frozenset({"str", "base64", "datetime", "pd_json"})
_DATATYPE_OF = {np.dtype(t): datatype_of(t) for t in ("bool", "int8", "int16", "int32", "int64", "float32", "float64")}
_DATATYPE_OF.update({np.dtype(t): datatype_of(t) for t in ("uint8", "uint16", "uint32", "uint64")})


class Encoded(NamedTuple):
    """An encoded message: ``body``, and ``header_length`` (None: plain JSON; else the JSON header's bytes)."""

    body: bytes
    header_length: int | None


@dataclass(frozen=True, slots=True)
class RequestedOutput:
    """One entry of a request's ``outputs``: a name and its parameters (``binary_data``...)."""

    name: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def binary(self) -> bool:
        """Whether the client asked for this output in binary (``parameters.binary_data``)."""
        return self.parameters.get("binary_data") is True


@dataclass(slots=True, eq=False)
class InferRequest:
    """A decoded inference request; ``value`` is what the model's predict receives."""

    id: str | None
    parameters: dict[str, Any]
    inputs: list[Tensor]
    outputs: list[RequestedOutput]
    binary_output: bool
    value: Any


@dataclass(slots=True, eq=False)
class InferResponse:
    """A decoded inference response; ``value`` is the outputs as one Python value (as ``InferRequest.value``)."""

    model_name: str
    model_version: str | None
    id: str | None
    parameters: dict[str, Any]
    outputs: list[Tensor]
    value: Any


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """A model input or output as metadata describes it; ``-1`` in ``shape`` means any size."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError("TensorSpec.name must be a string")
        if self.datatype not in DATATYPES:
            raise ValueError("TensorSpec.datatype must be an OIP datatype")
        shape = tuple(self.shape)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= -1 for n in shape):
            raise ValueError("TensorSpec.shape must hold ints >= -1")
        object.__setattr__(self, "shape", shape)

    def to_dict(self) -> dict[str, Any]:
        """The metadata form: ``{"name", "datatype", "shape"}``."""
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


# --- server side ------------------------------------------------------------------------------------------


def decode_request(
    body: bytes | bytearray | memoryview | str | dict[str, Any],
    *,
    header_length: int | str | None = None,
    config: SerializationConfig | None = None,
) -> InferRequest:
    """Decode an inference request body (and binary tensors after ``header_length`` bytes of JSON)."""
    cfg = config or _API
    if header_length is None and type(body) is bytes:
        small = _small_request(body, cfg)
        if small is not None:
            return small
    doc, rest = _parse(body, header_length, cfg)
    if rest is None or not len(rest):  # no binary part
        simple = _simple_request(doc)
        if simple is not None:
            return simple
    return _general_request(doc, rest, cfg)


def _general_request(doc: dict[str, Any], rest: Any, cfg: SerializationConfig) -> InferRequest:
    """``decode_request`` of any parsed document (every datatype, content type and the binary part)."""
    rid = _optional_str(doc, "id")
    params = _parameters(doc.get("parameters"), "$.parameters")
    binary_output = params.get("binary_data_output", False)
    if type(binary_output) is not bool:
        raise DeserializationError("binary_data_output must be a bool", path="$.parameters.binary_data_output")
    rct = _content_type(params, "$.parameters.content_type")
    inputs = _tensors(doc, "inputs", rest, cfg, rct)
    outputs = _requested(doc.get("outputs"))
    return InferRequest(rid, params, inputs, outputs, binary_output, _value(inputs, params, rct, "$.inputs", cfg))


def encode_response(
    result: Any,
    *,
    model_name: str,
    model_version: str | None = None,
    id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    request: InferRequest | None = None,
    config: SerializationConfig | None = None,
) -> Encoded:
    """Encode a model's result as a response to ``request`` (its outputs, names and binary choices)."""
    cfg = config or _API
    if not parameters and (request is None or not (request.outputs or request.binary_output)):
        simple = _simple_response(result, model_name, model_version, id, request, cfg)
        if simple is not None:
            return simple
    wires, extra = _outputs_of(result, request, cfg)
    if request is not None and request.outputs:
        produced = {name: (name, wire) for name, wire in wires}
        for i, wanted in enumerate(request.outputs):
            if wanted.name not in produced:
                raise SerializationError("a requested output is not in the result", path=f"$.outputs[{i}].name")
        wires = [produced[wanted.name] for wanted in request.outputs]
        asked = {o.name: o.binary for o in request.outputs}
    else:
        asked = {}
    all_binary = request is not None and request.binary_output
    doc: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        doc["model_version"] = model_version
    rid = id if id is not None else (request.id if request is not None else None)
    if rid is not None:
        doc["id"] = rid
    merged = _user_parameters(parameters, cfg)
    merged.update(extra)
    if merged:
        doc["parameters"] = merged
    tensors, chunks = [], []
    for i, (name, wire) in enumerate(wires):
        path = f"$.outputs[{i}]"
        out, chunk = _render(wire, name, binary=all_binary or asked.get(name, False), config=cfg, path=path)
        tensors.append(out)
        if chunk is not None:
            chunks.append(chunk)
    doc["outputs"] = tensors
    return _finish(doc, chunks, cfg)


# --- client side ------------------------------------------------------------------------------------------


def encode_request(
    inputs: Any,
    *,
    id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    outputs: Iterable[str | RequestedOutput] | None = None,
    binary: bool = False,
    binary_output: bool = False,
    config: SerializationConfig | None = None,
) -> Encoded:
    """Encode an inference request: a DataFrame (one input per column), a dict (one input per key), a list of
    ``Tensor`` (their names and datatypes) or one array-like (``input-0``); ``binary`` sends tensors binary,
    ``binary_output`` asks for binary outputs."""
    cfg = config or _API
    wires, extra = _inputs_of(inputs, cfg)
    doc: dict[str, Any] = {}
    if id is not None:
        doc["id"] = id
    merged = _user_parameters(parameters, cfg)
    merged.update(extra)
    if binary_output:
        merged["binary_data_output"] = True
    if merged:
        doc["parameters"] = merged
    tensors, chunks = [], []
    for i, (name, wire) in enumerate(wires):
        out, chunk = _render(wire, name, binary=binary, config=cfg, path=f"$.inputs[{i}]")
        tensors.append(out)
        if chunk is not None:
            chunks.append(chunk)
    doc["inputs"] = tensors
    if outputs is not None:
        wanted = []
        for o in outputs:
            if isinstance(o, RequestedOutput):
                entry: dict[str, Any] = {"name": o.name}
                if o.parameters:
                    entry["parameters"] = dict(o.parameters)
            elif isinstance(o, str):
                entry = {"name": o, "parameters": {"binary_data": True}} if binary_output else {"name": o}
            else:
                raise SerializationError("an output must be a name or a RequestedOutput", type_name=type(o).__name__)
            wanted.append(entry)
        doc["outputs"] = wanted
    return _finish(doc, chunks, cfg)


def decode_response(
    body: bytes | bytearray | memoryview | str | dict[str, Any],
    *,
    header_length: int | str | None = None,
    config: SerializationConfig | None = None,
) -> InferResponse:
    """Decode an inference response body (and binary outputs after ``header_length`` bytes of JSON)."""
    cfg = config or _API
    doc, rest = _parse(body, header_length, cfg)
    model_name = doc.get("model_name")
    if type(model_name) is not str:
        raise DeserializationError("model_name is missing or not a string", path="$.model_name")
    version = _optional_str(doc, "model_version")
    rid = _optional_str(doc, "id")
    params = _parameters(doc.get("parameters"), "$.parameters")
    rct = _content_type(params, "$.parameters.content_type")
    outputs = _tensors(doc, "outputs", rest, cfg, rct)
    return InferResponse(model_name, version, rid, params, outputs, _value(outputs, params, rct, "$.outputs", cfg))


# --- metadata and errors ----------------------------------------------------------------------------------


def model_metadata(
    name: str,
    *,
    versions: Iterable[str] = (),
    platform: str = "datason",
    inputs: Iterable[TensorSpec] = (),
    outputs: Iterable[TensorSpec] = (),
) -> dict[str, Any]:
    """The ``GET /v2/models/{name}`` body."""
    return {
        "name": name,
        "versions": [str(v) for v in versions],
        "platform": platform,
        "inputs": [spec.to_dict() for spec in inputs],
        "outputs": [spec.to_dict() for spec in outputs],
    }


def check_inputs(request: InferRequest, specs: Iterable[TensorSpec]) -> None:
    """Raise ``DeserializationError`` unless the request's inputs are exactly the specs' (``-1``: any size)."""
    by_name = {spec.name: spec for spec in specs}
    for i, t in enumerate(request.inputs):
        spec = by_name.get(t.name)
        path = f"$.inputs[{i}]"
        if spec is None:
            raise DeserializationError("input is not one the model declares", path=path + ".name")
        if t.datatype != spec.datatype:
            raise DeserializationError("datatype does not match the model's input", path=path + ".datatype")
        if len(t.shape) != len(spec.shape) or any(s not in (-1, n) for s, n in zip(spec.shape, t.shape, strict=True)):
            raise DeserializationError("shape does not match the model's input", path=path + ".shape")
    given = {t.name for t in request.inputs}
    for spec in by_name.values():
        if spec.name not in given:
            raise DeserializationError("an input the model declares is missing", path="$.inputs")


def error_body(message: str) -> bytes:
    """``{"error": message}`` as JSON bytes (the protocol's error body)."""
    text = str(message).encode("utf-8", "replace").decode("utf-8")
    return orjson.dumps({"error": text})


# --- fast paths -------------------------------------------------------------------------------------------
# The messages most requests carry (a few numeric tensors in plain JSON: no parameters, flat data) are read
# and written here in a few microseconds; anything else, or anything these checks do not settle, takes the
# general path, which gives the same result (tests compare both on generated messages).

_TENSOR_KEYS = frozenset({"name", "shape", "datatype", "data"})
_REQUEST_KEYS = frozenset({"id", "inputs", "outputs", "parameters"})
_SMALL_KEYS = frozenset({"id", "inputs", "parameters"})
_PARAMETER_KEYS = frozenset({"binary_data_output"})
_INTS = frozenset({int})
_NUMBERS = frozenset({int, float})
_BOOLS = frozenset({bool})
# datatype -> (the Python types its data may hold, its dtype, whether finite JSON numbers may overflow it, the
# struct code the C accelerator's list_buffer fills, None for FP16)
_SIMPLE_KINDS: dict[str, tuple[frozenset[type], np.dtype[Any], bool, str | None]] = {
    "BOOL": (_BOOLS, DATATYPES["BOOL"], False, "?"),
    "FP64": (_NUMBERS, DATATYPES["FP64"], False, "d"),
    "FP32": (_NUMBERS, DATATYPES["FP32"], True, "f"),
    "FP16": (_NUMBERS, DATATYPES["FP16"], True, None),
}
_INT_CODES = {"INT8": "b", "INT16": "h", "INT32": "i", "INT64": "q", "UINT8": "B", "UINT16": "H", "UINT32": "I"}
_SIMPLE_KINDS.update({t: (_INTS, DATATYPES[t], False, code) for t, code in (*_INT_CODES.items(), ("UINT64", "Q"))})
_SIMPLE_DTYPES = frozenset(np.dtype(t) for t in ("bool", "int8", "int16", "int32", "int64", "float64"))
_SIMPLE_DTYPES |= frozenset(np.dtype(t) for t in ("uint8", "uint16", "uint32", "uint64", "float32"))
# What the fast response does per dtype: (datatype, floats): ints and bools written by orjson as they are,
# floats by datason's writer (shortest digits, float32's own for FP32), which checks finiteness as it writes.
_SIMPLE_OUT = {d: (_DATATYPE_OF[d], d.kind == "f") for d in _SIMPLE_DTYPES}
# A request body of up to _SMALL_BYTES is first read by orjson (a third of datason's reader's time on a body of
# a few numbers) when the config's limits cannot be reached by it: no string or container of a body of n bytes
# holds more than n characters or items, and the simple shape nests four deep. A body that is not a simple
# request is then read again by datason's reader: the size cap bounds what that costs (a few microseconds;
# larger bodies go to datason's reader directly, and list_buffer does most of what orjson would save there).
_SMALL_BYTES = 4096
_SIMPLE_DEPTH = 4


def _small_request(body: bytes, cfg: SerializationConfig) -> InferRequest | None:
    """The simple request of a small all-JSON body without ``outputs``, read by orjson; None for any other (the
    caller reads it again with datason's reader, which names what is wrong, and gives every other message)."""
    n = len(body)
    if n > _SMALL_BYTES or n > cfg.max_bytes or n > cfg.max_size or n > cfg.max_string_length:
        return None
    if cfg.max_depth < _SIMPLE_DEPTH or b'"BYTES"' in body:  # text tensors: common, never simple, costly to read twice
        return None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    # "outputs" may hold objects datason's reader rebuilds (type envelopes): left to it
    if type(doc) is not dict or not doc.keys() <= _SMALL_KEYS:
        return None
    return _simple_request(doc)


def _simple_request(doc: dict[str, Any]) -> InferRequest | None:
    """The request when it is plain numeric tensors with flat data and no parameters, else None."""
    if not doc.keys() <= _REQUEST_KEYS:
        return None
    params = doc.get("parameters")
    if params is None:
        params, binary_output = {}, False
    elif type(params) is dict and params.keys() <= _PARAMETER_KEYS:
        binary_output = params.get("binary_data_output", False)
        if type(binary_output) is not bool:
            return None
    else:
        return None
    rid = doc.get("id")
    items = doc.get("inputs")
    if (rid is not None and type(rid) is not str) or type(items) is not list or not items:
        return None
    if "outputs" in doc and type(doc["outputs"]) is not list:
        return None
    tensors = []
    for t in items:
        if type(t) is not dict or t.keys() != _TENSOR_KEYS:
            return None
        name, shape, datatype, data = t["name"], t["shape"], t["datatype"], t["data"]
        simple = _SIMPLE_KINDS.get(datatype) if type(datatype) is str else None
        if simple is None or type(name) is not str or type(shape) is not list or type(data) is not list:
            return None
        kinds, dtype, narrow, code = simple
        size = 1
        for n in shape:
            if type(n) is not int or n < 0:
                return None
            size *= n
        nested = len(shape) > 1 and size > 0 and type(data[0]) is list  # row-major nested lists, shape-deep
        if size != len(data) and not nested:
            return None
        speedups = _encoder._speedups
        buffer = None
        if speedups is not None and code is not None:
            buffer = speedups.list_buffer(data, code, shape if nested else [size])
        if buffer is not None:  # every item of an exact type, converted exactly: NumPy's values, in one C pass
            tensors.append(Tensor(name, tuple(shape), datatype, {}, np.frombuffer(buffer, dtype).reshape(shape)))
            continue
        if nested or not set(map(type, data)) <= kinds:  # nested data not read in C: the general path flattens it
            return None
        try:
            if narrow:
                with np.errstate(over="ignore"):  # a finite JSON number beyond FP32/FP16 becomes inf here...
                    array = np.array(data, dtype=dtype).reshape(shape)
                if not np.isfinite(array).all():
                    return None  # ... and the general path refuses it, naming the field
            else:
                array = np.array(data, dtype=dtype).reshape(shape)
        except (OverflowError, ValueError):  # an int out of the datatype's range: the general path says where
            return None
        tensors.append(Tensor(name, tuple(shape), datatype, {}, array))
    if len(tensors) > 1 and len({t.name for t in tensors}) != len(tensors):
        return None
    value = tensors[0].value if len(tensors) == 1 else {t.name: t.value for t in tensors}
    return InferRequest(rid, params, tensors, _requested(doc.get("outputs")), binary_output, value)


def _simple_response(
    result: Any,
    model_name: str,
    model_version: str | None,
    rid: str | None,
    request: InferRequest | None,
    cfg: SerializationConfig,
) -> Encoded | None:
    """The JSON response when every output is a numeric ndarray with finite values or a str array, else None."""
    if type(result) is np.ndarray:
        named: Mapping[Any, Any] = {_default_name(request): result}
    elif type(result) is dict:
        named = result
    else:
        return None
    outputs = []
    for name, a in named.items():
        if type(name) is not str or type(a) is not np.ndarray:
            return None
        if not a.flags.c_contiguous:
            return None  # a strided view (a[::2], a.T): the general path lays it out
        dtype = a.dtype
        layout = _SIMPLE_OUT.get(dtype)
        if layout is None:
            if dtype.kind != "U":
                return None
            # str items: BYTES with MLServer's str content type, as _array_wire lays them out
            params = {"content_type": "str", "datason_dtype": dtype.str}
            items = (a if a.ndim == 1 else a.reshape(-1)).tolist()
            outputs.append(
                {"name": name, "shape": list(a.shape), "datatype": "BYTES", "data": items, "parameters": params}
            )
            continue
        datatype, floats = layout
        data: Any = a if a.ndim == 1 else a.reshape(-1)
        if floats:
            text = finite_float_text(data)
            if text is None:
                return None  # NaN and infinity follow the config's nan_handling: the general path
            data = orjson.Fragment(text)
        outputs.append({"name": name, "shape": list(a.shape), "datatype": datatype, "data": data})
    doc: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        doc["model_version"] = model_version
    if rid is None and request is not None:
        rid = request.id
    if rid is not None:
        doc["id"] = rid
    doc["outputs"] = outputs
    return _finish(doc, (), cfg)


# --- internals --------------------------------------------------------------------------------------------


def _parse(body: Any, header_length: int | str | None, cfg: SerializationConfig) -> tuple[dict[str, Any], Any]:
    """(JSON document, binary part or None) of a body."""
    if type(body) is dict:
        return body, None
    if header_length is None and type(body) is bytes:  # the common case: all JSON (loads checks max_bytes)
        return _document(_loads(body, cfg)), None
    if isinstance(body, str):
        if header_length is None:
            return _document(_loads(body, cfg)), None
        body = body.encode("utf-8", "surrogatepass")
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise DeserializationError("body must be bytes, str or a parsed dict", type_name=type(body).__name__)
    size = body.nbytes if isinstance(body, memoryview) else len(body)
    if size > cfg.max_bytes:
        raise SecurityError(f"body larger than max_bytes={cfg.max_bytes}")
    n = _bin.parse_header_length(header_length, size)
    head, rest = _bin.split_body(body, n)
    return _document(_loads(head, cfg)), rest


def _document(doc: Any) -> dict[str, Any]:
    if type(doc) is not dict:
        raise DeserializationError("body must be a JSON object", type_name=type(doc).__name__)
    return doc


def _optional_str(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is not None and type(value) is not str:
        raise DeserializationError(f"{key} must be a string", path="$." + key, type_name=type(value).__name__)
    return value


def _parameters(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise DeserializationError("parameters must be an object", path=path, type_name=type(value).__name__)
    return value


def _content_type(params: dict[str, Any], path: str) -> str | None:
    ct = params.get("content_type")
    if ct is not None and type(ct) is not str:
        raise DeserializationError("content_type must be a string", path=path, type_name=type(ct).__name__)
    return ct


def _tensors(doc: dict[str, Any], key: str, rest: Any, cfg: SerializationConfig, rct: str | None) -> list[Tensor]:
    """Decode ``doc[key]``: names unique, binary slices cut in order before any tensor is decoded."""
    items = doc.get(key)
    if type(items) is not list:
        raise DeserializationError(f"{key} is missing or not a list", path="$." + key)
    if key == "inputs" and not items:
        raise DeserializationError("inputs must not be empty", path="$.inputs")
    if len(items) > cfg.max_size:
        raise SecurityError(f"more tensors than max_size={cfg.max_size}", path="$." + key)
    sizes: list[tuple[str, Any]] = []
    binary_at: list[int] = []
    names: set[str] = set()
    for i, t in enumerate(items):
        path = f"$.{key}[{i}]"
        if type(t) is not dict:
            raise DeserializationError("tensor must be an object", path=path, type_name=type(t).__name__)
        name = t.get("name")
        if type(name) is str:
            if name in names:
                raise DeserializationError("duplicate tensor name", path=path + ".name")
            names.add(name)
        params = t.get("parameters")
        if type(params) is dict and "binary_data_size" in params:
            if "data" in t:
                raise DeserializationError("a tensor has both data and binary_data_size", path=path + ".data")
            if rest is None:
                raise DeserializationError(
                    "binary_data_size needs the raw body, not a parsed dict", path=path + ".parameters.binary_data_size"
                )
            sizes.append((path, params["binary_data_size"]))
            binary_at.append(i)
    slices: dict[int, Any] = {}
    if rest is not None:
        slices = dict(zip(binary_at, _bin.slice_tensors(sizes, rest), strict=True))
    default_ct = "str" if rct == "pd" else (rct if rct in _DEFAULT_CT else None)
    return [
        decode_tensor(t, path=f"$.{key}[{i}]", binary=slices.get(i), config=cfg, default_content_type=default_ct)
        for i, t in enumerate(items)
    ]


def _requested(value: Any) -> list[RequestedOutput]:
    if value is None:
        return []
    if type(value) is not list:
        raise DeserializationError("outputs must be a list", path="$.outputs", type_name=type(value).__name__)
    out, seen = [], set()
    for i, o in enumerate(value):
        path = f"$.outputs[{i}]"
        if type(o) is not dict:
            raise DeserializationError("requested output must be an object", path=path, type_name=type(o).__name__)
        name = o.get("name")
        if type(name) is not str:
            raise DeserializationError("name is missing or not a string", path=path + ".name")
        if name in seen:
            raise DeserializationError("duplicate requested output", path=path + ".name")
        seen.add(name)
        params = _parameters(o.get("parameters"), path + ".parameters")
        if "binary_data" in params and type(params["binary_data"]) is not bool:
            raise DeserializationError("binary_data must be a bool", path=path + ".parameters.binary_data")
        out.append(RequestedOutput(name, params))
    return out


def _value(tensors: list[Tensor], params: dict[str, Any], rct: str | None, path: str, cfg: SerializationConfig) -> Any:
    if rct == "pd":
        return frame_from_tensors(tensors, params, path, cfg)
    if len(tensors) == 1:
        return tensors[0].value
    return {t.name: t.value for t in tensors}


def _default_name(request: InferRequest | None) -> str:
    if request is not None:
        if len(request.outputs) == 1:
            return request.outputs[0].name
        if len(request.inputs) == 1:
            return request.inputs[0].name
    return "output-0"


def _outputs_of(
    result: Any, request: InferRequest | None, cfg: SerializationConfig
) -> tuple[list[Any], dict[str, Any]]:
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(result, pd.DataFrame):
        try:
            return frame_to_tensors(result, cfg)
        except DatasonError as exc:
            raise exc.with_parent(".outputs") from None
    if isinstance(result, Mapping):
        return _named_wires(result, cfg, "outputs"), {}
    name = _default_name(request)
    if pd is not None and isinstance(result, pd.Series) and isinstance(result.name, str) and result.name:
        if request is None or not request.outputs:
            name = result.name
    return _named_wires({name: result}, cfg, "outputs"), {}


def _inputs_of(inputs: Any, cfg: SerializationConfig) -> tuple[list[Any], dict[str, Any]]:
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(inputs, pd.DataFrame):
        try:
            return frame_to_tensors(inputs, cfg)
        except DatasonError as exc:
            raise exc.with_parent(".inputs") from None
    if isinstance(inputs, Mapping):
        return _named_wires(inputs, cfg, "inputs"), {}
    if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(t, Tensor) for t in inputs):
        return _named_wires({t.name: t for t in inputs}, cfg, "inputs"), {}
    if isinstance(inputs, Tensor):
        return _named_wires({inputs.name: inputs}, cfg, "inputs"), {}
    return _named_wires({"input-0": inputs}, cfg, "inputs"), {}


def _named_wires(values: Mapping[Any, Any], cfg: SerializationConfig, key: str) -> list[Any]:
    out = []
    for i, (name, value) in enumerate(values.items()):
        if not isinstance(name, str):
            raise SerializationError("tensor names must be strings", path=f"$.{key}[{i}].name")
        try:
            out.append((name, _wire_of(value, cfg, name=name)))
        except DatasonError as exc:
            raise exc.with_parent(f".{key}[{i}]") from None
    return out


def _user_parameters(parameters: Mapping[str, Any] | None, cfg: SerializationConfig) -> dict[str, Any]:
    if not parameters:
        return {}
    plain = _serialize(dict(parameters), cfg.replace(include_type_hints=False) if cfg.include_type_hints else cfg)
    if type(plain) is not dict:  # pragma: no cover - a dict serializes to a dict
        raise SerializationError("parameters must be a mapping")
    return plain


def _finish(doc: dict[str, Any], chunks: Sequence[Any], cfg: SerializationConfig) -> Encoded:
    try:
        header = orjson.dumps(doc, option=_NUMPY_OPT)
    except orjson.JSONEncodeError:
        raise SerializationError("message is not JSON-safe (invalid text or a value orjson refuses)") from None
    if not chunks:
        if len(header) > cfg.max_bytes:
            raise SecurityError(f"message larger than max_bytes={cfg.max_bytes}")
        return Encoded(header, None)
    total = len(header) + sum(c.nbytes if isinstance(c, memoryview) else len(c) for c in chunks)
    if total > cfg.max_bytes:
        raise SecurityError(f"message larger than max_bytes={cfg.max_bytes}")
    return Encoded(_bin.build_body(header, chunks), len(header))
