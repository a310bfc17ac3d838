"""Seldon Core v1 SeldonMessages: ``data`` (``ndarray`` or ``tensor``), ``jsonData``, ``strData``, ``binData``.

A message holds exactly one payload next to an optional ``meta`` (``puid``, ``tags``, ``routing``,
``requestPath``, ``metrics``; kept as sent, other keys too). What ``Request.value`` (what predict receives) is:

- ``{"data": {"ndarray": [...]}}`` -> ``numpy.ndarray``: rectangular numeric lists as bool / int64 / float64
  (numbers with ``null`` -> float64 with NaN), any other rectangular list as dtype object holding the JSON values
  (strings, objects, mixed; ints beyond int64). A ragged list is refused.
- ``{"data": {"tensor": {"shape": [...], "values": [...]}}}`` -> ``numpy.ndarray`` of that shape (checked against
  the number of values first): int64 when every value is a JSON int that fits (as seldon-core's JSON path reads
  it), else float64 (Seldon's tensor holds doubles); ``null`` and protobuf's ``"NaN"``, ``"Infinity"``,
  ``"-Infinity"`` -> NaN and infinities. A missing ``shape`` or ``values`` is empty (protobuf JSON omits them).
- with non-empty ``names``, a 2-D ``ndarray`` or ``tensor`` -> ``pandas.DataFrame`` with those columns
  (from ``ndarray`` rows, each column's dtype inferred on its own: ``[[1, "a"]]`` gives int64 and str).
- ``jsonData`` -> the JSON value as is; ``strData`` -> ``str``; ``binData`` -> ``bytes`` (strict base64).
  ``tftensor`` and ``customData`` are not supported.

What results become (``encode_response``; the response mirrors the request's form when the result fits it):

- numeric ndarrays (ints, floats; any shape, NumPy scalars as shape ``[]``), numeric lists and Series answer a
  ``tensor`` request as ``tensor``: ``shape`` and flat ``values`` written as the array's own numbers (ints stay
  ints, so the int64 dtype comes back; float32 with its shortest digits); NaN and infinities as protobuf's
  ``"NaN"`` / ``"Infinity"`` / ``"-Infinity"`` strings (a ``null`` there would not parse as a double).
- other array-likes (ndarray, list, tuple, Series; bools, strings, datetimes...) -> ``ndarray`` nested lists,
  NaN/NaT as ``null``, datetimes as ISO strings; a DataFrame -> ``names`` = its columns (as strings),
  ``ndarray`` = its rows. Any result answers a ``jsonData`` request as ``jsonData`` (DataFrames and bytes aside).
- without a request (or when the result does not fit the request's form): ndarray for array-likes, ``tensor``
  for 0-d numeric NumPy values (and numbers answering a ``data`` request), ``jsonData`` for dicts and other JSON
  values, ``strData`` for ``str``, ``binData`` (base64) for ``bytes``.

The response's ``meta`` echoes the request's ``puid``, ``tags``, ``requestPath`` and ``metrics`` (as
seldon-core does), merged with ``meta=`` (tags and requestPath updated, metrics appended, other keys set).

Errors: ``{"status": {"code": 400, "info": "...", "reason": "MICROSERVICE_BAD_DATA", "status": "FAILURE"}}``
(``MICROSERVICE_INTERNAL_ERROR`` from 500 on). seldon-core 1.18's Python microservice writes ``"code": -1``
and ``"status": 1`` there, its Go executor an HTTP code and ``"FAILURE"`` without a reason: all are the protobuf
``Status`` message (``status`` is its ``StatusFlag`` enum, by name or number); this module writes the HTTP
status as ``code`` and the enum by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..config import SerializationConfig
from ..errors import DatasonError, DeserializationError, SecurityError, SerializationError, path_segment
from ..handlers.kit import b64decode, b64encode
from ._values import API_CONFIG, error_text, is_frame, json_type, numeric_array, object_array, parse, type_label, write

__all__ = ["Request", "decode_request", "decode_response", "encode_request", "encode_response", "error_body"]

Form = Literal["ndarray", "tensor", "jsonData", "strData", "binData"]
_FORMS = ("ndarray", "tensor", "jsonData", "strData", "binData")
_PAYLOADS = ("data", "jsonData", "strData", "binData")
_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_NUMBER_TYPES = frozenset({int, float, type(None), str})
_MAX_NDIM = 64
_META_DICTS = ("tags", "requestPath")


@dataclass(frozen=True, slots=True)
class Request:
    """A decoded SeldonMessage: ``value`` is what predict receives; ``form`` the payload it came in."""

    value: Any
    form: Form
    names: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def decode_request(body: Any, *, config: SerializationConfig | None = None) -> Request:
    """Read a SeldonMessage (bytes, str, or an already-parsed dict) into a ``Request``."""
    cfg = config or API_CONFIG
    doc = parse(body, cfg, "SeldonMessage")
    meta = _meta(doc)
    form, value, names = _payload(doc, cfg)
    return Request(value, form, names, meta)


def encode_response(
    result: Any,
    *,
    request: Request | None = None,
    names: list[str] | None = None,
    meta: dict[str, Any] | None = None,
    config: SerializationConfig | None = None,
) -> bytes:
    """A SeldonMessage answering ``request`` (its form when ``result`` fits it) as strict JSON bytes.

    ``names`` label the columns of a ``data`` response (a DataFrame's own columns otherwise); the other forms
    have no names. ``meta`` is merged into the echo of the request's meta (see the module doc).
    """
    cfg = config or API_CONFIG
    form = _response_form(result, request.form if request is not None else None, cfg)
    doc = _message(result, form, names, cfg)
    doc["meta"] = _response_meta(request, meta)
    return write(doc, cfg, orient="values")


def encode_request(
    value: Any,
    *,
    form: str | None = None,
    names: list[str] | None = None,
    meta: dict[str, Any] | None = None,
    config: SerializationConfig | None = None,
) -> bytes:
    """A SeldonMessage carrying ``value``: in ``form``, or the form its type calls for (see the module doc)."""
    cfg = config or API_CONFIG
    if form is None:
        form = _natural_form(value)
    elif form not in _FORMS:
        raise ValueError(f"form must be one of {_FORMS}, got {form!r}")
    elif not _fits(value, form, cfg):
        raise SerializationError(f"{form} cannot carry this value", path="$", type_name=type_label(value))
    doc: dict[str, Any] = {}
    if meta is not None:
        if not isinstance(meta, dict):
            raise SerializationError("meta must be a dict", path="$.meta", type_name=type_label(meta))
        doc["meta"] = meta
    doc.update(_message(value, form, names, cfg))
    return write(doc, cfg, orient="values")


def decode_response(body: Any, *, config: SerializationConfig | None = None) -> Any:
    """The value a SeldonMessage response carries, read as in requests."""
    cfg = config or API_CONFIG
    doc = parse(body, cfg, "SeldonMessage")
    if "status" in doc and not any(k in doc for k in _PAYLOADS):
        raise DeserializationError("the response is an error", path="$.status", type_name=json_type(doc["status"]))
    return _payload(doc, cfg)[1]


def error_body(message: object, *, status: int = 400) -> bytes:
    """seldon-core's failure ``Status``: code, info, reason (bad data below 500, internal error from 500)."""
    code = int(status)
    reason = "MICROSERVICE_BAD_DATA" if code < 500 else "MICROSERVICE_INTERNAL_ERROR"
    return write(
        {"status": {"code": code, "info": error_text(message), "reason": reason, "status": "FAILURE"}}, API_CONFIG
    )


# --- reading ---------------------------------------------------------------------------------------------


def _meta(doc: dict[str, Any]) -> dict[str, Any]:
    meta = doc.get("meta")
    if meta is None:
        return {}
    if type(meta) is not dict:
        raise DeserializationError("meta must be an object", path="$.meta", type_name=json_type(meta))
    _expect(meta, "puid", str, "a string")
    for key in ("tags", "routing", "requestPath"):
        _expect(meta, key, dict, "an object")
    _expect(meta, "metrics", list, "an array")
    for key, value in meta.get("routing", {}).items():
        if type(value) is not int:
            path = "$.meta.routing" + path_segment(key)
            raise DeserializationError("routing values must be ints", path=path, type_name=json_type(value))
    for key, value in meta.get("requestPath", {}).items():
        if type(value) is not str:
            path = "$.meta.requestPath" + path_segment(key)
            raise DeserializationError("requestPath values must be strings", path=path, type_name=json_type(value))
    for i, metric in enumerate(meta.get("metrics", ())):
        if type(metric) is not dict:
            raise DeserializationError(
                "metrics must be objects", path=f"$.meta.metrics[{i}]", type_name=json_type(metric)
            )
    return meta


def _expect(meta: dict[str, Any], key: str, kind: type, what: str) -> None:
    if key in meta and type(meta[key]) is not kind:
        raise DeserializationError(f"{key} must be {what}", path="$.meta." + key, type_name=json_type(meta[key]))


def _payload(doc: dict[str, Any], cfg: SerializationConfig) -> tuple[Form, Any, list[str] | None]:
    present = [key for key in _PAYLOADS if key in doc]
    if not present and "customData" in doc:
        raise DeserializationError(
            "customData is not supported", path="$.customData", type_name=json_type(doc["customData"])
        )
    if len(present) != 1:
        found = "none" if not present else ", ".join(present)
        raise DeserializationError(f"exactly one of data, jsonData, strData, binData is required, found {found}")
    key = present[0]
    value = doc[key]
    if key == "jsonData":
        return "jsonData", value, None
    if key == "strData":
        if type(value) is not str:
            raise DeserializationError("strData must be a string", path="$.strData", type_name=json_type(value))
        return "strData", value, None
    if key == "binData":
        return "binData", _bin_data(value, cfg), None
    return _data(value, cfg)


def _bin_data(value: Any, cfg: SerializationConfig) -> bytes:
    if type(value) is not str:
        raise DeserializationError("binData must be a base64 string", path="$.binData", type_name=json_type(value))
    if len(value) > cfg.max_string_length:  # a parsed body was counted already; a dict handed in was not
        raise SecurityError(f"string longer than max_string_length={cfg.max_string_length}", path="$.binData")
    try:
        return b64decode(value)
    except DatasonError:
        raise DeserializationError("binData is not valid base64", path="$.binData", type_name="string") from None


def _data(data: Any, cfg: SerializationConfig) -> tuple[Form, Any, list[str] | None]:
    if type(data) is not dict:
        raise DeserializationError("data must be an object", path="$.data", type_name=json_type(data))
    names = data.get("names")
    if names is not None:
        if type(names) is not list:
            raise DeserializationError(
                "names must be an array of strings", path="$.data.names", type_name=json_type(names)
            )
        for i, name in enumerate(names):
            if type(name) is not str:
                raise DeserializationError(
                    "names must be strings", path=f"$.data.names[{i}]", type_name=json_type(name)
                )
    if "tftensor" in data:
        raise DeserializationError(
            "tftensor is not supported", path="$.data.tftensor", type_name=json_type(data["tftensor"])
        )
    present = [key for key in ("ndarray", "tensor") if key in data]
    if len(present) != 1:
        found = "both" if present else "neither"
        raise DeserializationError(f"data needs exactly one of ndarray or tensor, found {found}", path="$.data")
    form: Form = present[0]  # type: ignore[assignment]
    raw = data[form]
    if form == "ndarray":
        if type(raw) is not list:
            raise DeserializationError("ndarray must be an array", path="$.data.ndarray", type_name=json_type(raw))
        array = object_array(raw, cfg, "$.data.ndarray")
    else:
        array = _tensor(raw, cfg)
    if names:
        return form, _frame(array, raw if form == "ndarray" else None, names), names
    return form, array, names


def _tensor(tensor: Any, cfg: SerializationConfig) -> np.ndarray[Any, Any]:
    if type(tensor) is not dict:
        raise DeserializationError("tensor must be an object", path="$.data.tensor", type_name=json_type(tensor))
    shape = tensor.get("shape", [])
    values = tensor.get("values", [])
    if type(shape) is not list:
        raise DeserializationError(
            "shape must be an array of ints", path="$.data.tensor.shape", type_name=json_type(shape)
        )
    if type(values) is not list:
        path = "$.data.tensor.values"
        raise DeserializationError("values must be an array of numbers", path=path, type_name=json_type(values))
    if len(shape) > _MAX_NDIM:
        raise DeserializationError(f"shape has more than {_MAX_NDIM} dimensions", path="$.data.tensor.shape")
    for i, dim in enumerate(shape):
        if type(dim) is not int or dim < 0:
            path = f"$.data.tensor.shape[{i}]"
            raise DeserializationError("shape must hold non-negative ints", path=path, type_name=json_type(dim))
    if math.prod(shape) != len(values):
        raise DeserializationError("shape does not match the number of values", path="$.data.tensor.shape")
    for i, dim in enumerate(shape):  # only a shape with a 0 in it gets here with a huge dimension
        if dim > cfg.max_size:
            raise SecurityError(f"dimension larger than max_size={cfg.max_size}", path=f"$.data.tensor.shape[{i}]")
    if len(values) > cfg.max_size:
        raise SecurityError(f"container larger than max_size={cfg.max_size}", path="$.data.tensor.values")
    types = set(map(type, values))
    if not types <= _NUMBER_TYPES:
        _bad_value(values, lambda v: type(v) not in _NUMBER_TYPES)
    if str in types:
        if any(type(v) is str and v not in _SPECIAL for v in values):
            _bad_value(values, lambda v: type(v) is str and v not in _SPECIAL)
        values = [_SPECIAL[v] if type(v) is str else v for v in values]
    try:
        if types == {int}:
            try:
                return np.array(values, dtype=np.int64).reshape(shape)
            except OverflowError:
                pass  # beyond int64: Seldon's doubles
        return np.array(values, dtype=np.float64).reshape(shape)
    except OverflowError:
        raise DeserializationError("a value is beyond the float64 range", path="$.data.tensor.values") from None


def _bad_value(values: list[Any], bad: Any) -> None:
    i = next(i for i, v in enumerate(values) if bad(v))
    path = f"$.data.tensor.values[{i}]"
    raise DeserializationError("values must be numbers", path=path, type_name=json_type(values[i]))


def _frame(array: np.ndarray[Any, Any], rows: list[Any] | None, names: list[str]) -> Any:
    """A DataFrame of a 2-D ``array``: from the JSON ``rows`` when given, so each column's dtype is its own."""
    if array.ndim != 2 or array.shape[1] != len(names):
        shape = "x".join(map(str, array.shape)) or "0-d"
        raise DeserializationError(f"names must match the columns of a 2-D array, got {shape}", path="$.data.names")
    import pandas as pd

    try:
        return pd.DataFrame(array if rows is None else rows, columns=names)
    except (ValueError, TypeError) as exc:
        raise DeserializationError(f"cannot build a DataFrame ({type(exc).__name__})", path="$.data") from None


# --- writing ---------------------------------------------------------------------------------------------


def _response_form(result: Any, requested: str | None, cfg: SerializationConfig) -> str:
    if requested == "tensor" and _numeric(result, cfg) is not None:
        return "tensor"
    if requested == "jsonData" and not _is_bytes(result) and not is_frame(result):
        return "jsonData"
    if requested in ("ndarray", "tensor") and type(result) in (int, float):
        return "tensor"
    return _natural_form(result)


def _natural_form(value: Any) -> str:
    if _is_bytes(value):
        return "binData"
    if isinstance(value, str):
        return "strData"
    if isinstance(value, dict):
        return "jsonData"
    if _is_array_like(value):
        return "ndarray"
    if _is_numpy(value) and np.ndim(value) == 0 and np.asarray(value).dtype.kind in "iuf":
        return "tensor"
    return "jsonData"


def _fits(value: Any, form: str, cfg: SerializationConfig) -> bool:
    if form == "ndarray":
        return _is_array_like(value)
    if form == "tensor":
        return _numeric(value, cfg) is not None
    if form == "strData":
        return isinstance(value, str)
    if form == "binData":
        return _is_bytes(value)
    return not _is_bytes(value) and not is_frame(value)


def _message(value: Any, form: str, names: list[str] | None, cfg: SerializationConfig) -> dict[str, Any]:
    if form == "strData":
        return {"strData": str.__str__(value)}
    if form == "binData":
        return {"binData": b64encode(value)}
    if form == "jsonData":
        return {"jsonData": value}
    if names is not None:
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise SerializationError("names must be a list of str", path="$.data.names", type_name=type_label(names))
        names = list(names)
    elif is_frame(value):
        names = [label if isinstance(label, str) else str(label) for label in value.columns]
    else:
        names = []
    if form == "tensor":
        array = _numeric(value, cfg)
        if array is None:
            raise SerializationError("tensor needs numbers", path="$.data.tensor", type_name=type_label(value))
        tensor = {"shape": list(array.shape), "values": _tensor_values(array)}
        return {"data": {"names": names, "tensor": tensor}}
    return {"data": {"names": names, "ndarray": list(value) if isinstance(value, tuple) else value}}


def _tensor_values(array: np.ndarray[Any, Any]) -> Any:
    """The flat values, as the array's own numbers; non-finite floats as protobuf's JSON strings."""
    flat = array.reshape(-1)
    if flat.dtype.kind != "f":
        return flat
    finite = np.isfinite(flat)
    if finite.all():
        return flat
    values: list[Any] = flat.tolist() if flat.dtype == np.float64 else list(flat)
    for i in np.flatnonzero(~finite).tolist():
        x = float(flat[i])
        values[i] = "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")
    return values


def _numeric(value: Any, cfg: SerializationConfig) -> np.ndarray[Any, Any] | None:
    """``value`` as an int or float ndarray (a tensor's numbers), or None."""
    array: Any = None
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
    elif type(value) in (int, float):
        array = np.asarray(value, dtype=np.int64 if type(value) is int else np.float64) if _fits_int64(value) else None
    elif isinstance(value, list | tuple):
        array = numeric_array(list(value), cfg, "$.data.tensor.values")
    elif type(value).__name__ == "Series" and type(value).__module__.startswith("pandas"):
        array = value.to_numpy() if isinstance(value.dtype, np.dtype) else None
    if array is None or array.dtype.kind not in "iuf":
        return None
    return array


def _fits_int64(value: int | float) -> bool:
    return type(value) is float or -(2**63) <= value < 2**63


def _response_meta(request: Request | None, meta: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if request is not None:
        sent = request.meta
        if "puid" in sent:
            out["puid"] = sent["puid"]
        for key in _META_DICTS:
            if key in sent:
                out[key] = dict(sent[key])
        if "metrics" in sent:
            out["metrics"] = list(sent["metrics"])
    if meta is None:
        return out
    if not isinstance(meta, dict):
        raise SerializationError("meta must be a dict", path="$.meta", type_name=type_label(meta))
    for key, value in meta.items():
        if key in _META_DICTS and isinstance(value, dict) and key in out:
            out[key] = {**out[key], **value}
        elif key == "metrics" and isinstance(value, list | tuple) and key in out:
            out[key] = out[key] + list(value)
        else:
            out[key] = value
    return out


def _is_bytes(value: Any) -> bool:
    return isinstance(value, bytes | bytearray | memoryview)


def _is_numpy(value: Any) -> bool:
    return isinstance(value, np.ndarray | np.generic)


def _is_array_like(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return True
    if isinstance(value, np.ndarray):
        return value.ndim >= 1
    t = type(value)
    return t.__module__.startswith("pandas") and t.__name__ in ("DataFrame", "Series")
