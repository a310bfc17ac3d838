"""KServe v1 (TensorFlow Serving's REST layout): ``{"instances"}`` / ``{"inputs"}`` in, ``{"predictions"}`` out.

Requests carry exactly one of ``instances`` (a list, one item per instance) or ``inputs`` (any JSON value;
an object is a set of named tensors), plus an optional ``parameters`` object. Other keys are ignored.

What ``Request.value`` (what predict receives) is:

- a list that is rectangular and numeric -> ``numpy.ndarray``: all booleans -> bool, all ints -> int64, ints and
  floats -> float64, numbers and ``null`` -> float64 with NaN, ``[]`` -> empty float64. An int beyond int64,
  strings, objects, bools mixed with numbers, ragged lists -> the list as is (lists of dicts, of strings...);
- ``inputs`` as an object -> a dict with each value read by the rule above; any other ``inputs`` -> as is.

What results become (``encode_response``, strict JSON, keys in insertion order):

- ``numpy.ndarray`` -> nested lists (float16/32 with their shortest digits); NumPy scalars -> numbers;
- ``pandas.DataFrame`` -> a list of records ``[{"col": value}, ...]`` (the index is not written);
  ``pandas.Series`` -> a list; lists, tuples and dicts -> arrays and objects;
- ``datetime`` / ``pandas.Timestamp`` -> ISO 8601 strings with their offset; ``datetime64`` -> ISO strings;
- ``UUID``, ``Decimal`` -> strings; NaN, Infinity, ``NaT``, ``pd.NA`` -> ``null``; ``bytes`` -> base64.

Round trips: JSON carries no dtypes, so int arrays come back int64, float arrays float64 (float32 values as the
float64 of their shortest digits), bool arrays bool; NaN comes back as NaN in a float array. A result is written
as given: a dict that already holds ``predictions`` is nested, not merged.

Errors: ``{"error": "..."}`` (``error_body``). Malformed requests raise ``DeserializationError`` naming the field
(``$.instances``, ``$.parameters``); values JSON cannot carry raise ``SerializationError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..config import SerializationConfig
from ..errors import DeserializationError, SerializationError
from ._values import (
    API_CONFIG,
    error_text,
    is_batch,
    json_type,
    optional_dict,
    parse,
    request_value,
    type_label,
    write,
)

__all__ = ["Request", "decode_request", "decode_response", "encode_request", "encode_response", "error_body"]

Key = Literal["instances", "inputs"]
_REQUEST_KEYS = ("instances", "inputs")
_RESPONSE_KEYS = ("predictions", "explanations")


@dataclass(frozen=True, slots=True)
class Request:
    """A decoded KServe v1 request: ``value`` is what predict receives; ``key`` the field it came in."""

    value: Any
    key: Key
    parameters: dict[str, Any] | None = None


def decode_request(body: Any, *, config: SerializationConfig | None = None) -> Request:
    """Read a request body (bytes, str, or an already-parsed dict) into a ``Request``."""
    cfg = config or API_CONFIG
    doc = parse(body, cfg, "request")
    key = _one_of(doc, _REQUEST_KEYS)
    value = doc[key]
    if key == "instances" and type(value) is not list:
        raise DeserializationError("instances must be an array", path="$.instances", type_name=json_type(value))
    return Request(request_value(value, cfg, "$." + key), key, optional_dict(doc, "parameters"))  # type: ignore[arg-type]


def encode_response(
    result: Any,
    *,
    request: Request | None = None,
    key: str = "predictions",
    config: SerializationConfig | None = None,
) -> bytes:
    """``{"predictions": result}`` (``key="explanations"`` for ``:explain``) as strict JSON bytes.

    ``request`` is accepted for symmetry with the other protocols: KServe v1 answers every request the same way.
    """
    if key not in _RESPONSE_KEYS:
        raise ValueError(f"key must be 'predictions' or 'explanations', got {key!r}")
    return write({key: result}, config or API_CONFIG)


def encode_request(
    value: Any,
    *,
    key: str = "instances",
    parameters: dict[str, Any] | None = None,
    config: SerializationConfig | None = None,
) -> bytes:
    """A request body: ``{"instances": value}`` (array-likes only) or ``{"inputs": value}``, plus ``parameters``."""
    if key not in _REQUEST_KEYS:
        raise ValueError(f"key must be 'instances' or 'inputs', got {key!r}")
    if key == "instances" and not is_batch(value):
        raise SerializationError(
            "instances must be a list of instances", path="$.instances", type_name=type_label(value)
        )
    doc: dict[str, Any] = {key: value}
    if parameters is not None:
        if not isinstance(parameters, dict):
            raise SerializationError("parameters must be a dict", path="$.parameters", type_name=type_label(parameters))
        doc["parameters"] = parameters
    return write(doc, config or API_CONFIG)


def decode_response(body: Any, *, config: SerializationConfig | None = None) -> Any:
    """The ``predictions`` (or ``explanations``) of a response body, arrays read as in requests."""
    cfg = config or API_CONFIG
    doc = parse(body, cfg, "response")
    if "error" in doc and not any(k in doc for k in _RESPONSE_KEYS):
        raise DeserializationError("the response is an error", path="$.error", type_name=json_type(doc["error"]))
    key = _one_of(doc, _RESPONSE_KEYS)
    return request_value(doc[key], cfg, "$." + key)


def error_body(message: object, *, status: int = 400) -> bytes:
    """KServe's error envelope ``{"error": message}`` (the HTTP status is the caller's to set)."""
    return write({"error": error_text(message)}, API_CONFIG)


def _one_of(doc: dict[str, Any], keys: tuple[str, str]) -> str:
    first, second = keys[0] in doc, keys[1] in doc
    if first is second:
        what = "both" if first else "neither"
        raise DeserializationError(f"exactly one of {keys[0]!r} or {keys[1]!r} is required, found {what}")
    return keys[0] if first else keys[1]
