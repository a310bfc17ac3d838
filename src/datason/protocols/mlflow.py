"""The MLflow scoring server's JSON: four input layouts (``dataframe_split``...) in, ``{"predictions"}`` out.

A request holds exactly one of the four input fields plus an optional ``params`` object (other keys are
ignored; MLflow's unwrapped LLM payloads are not read). What ``Request.value`` (what predict receives) is:

- ``dataframe_split`` ``{"columns": [...], "data": [[...]], "index"?: [...]}`` (pandas' split layout without
  dtypes, as MLflow writes it) -> ``pandas.DataFrame`` with those columns in order and that index (a
  ``RangeIndex`` when the labels are 0..n-1; labels written as arrays -> a ``MultiIndex``). Each column's dtype
  is inferred on its own: ints -> int64, floats or numbers with ``null`` -> float64, bools -> bool, strings -> str.
- ``dataframe_records`` ``[{"col": value}, ...]`` -> ``pandas.DataFrame`` (columns in first-seen order; a key
  missing from a record is NaN there).
- ``instances`` (an array) and ``inputs`` (any JSON value) -> a ``numpy.ndarray`` when the list is rectangular
  and numeric (all booleans -> bool, all ints -> int64, ints and floats -> float64, numbers and ``null`` ->
  float64 with NaN), else the list as is (lists of dicts, strings, ragged); ``inputs`` as an object -> a dict
  with each value read that way (named tensors / columns).

What results become (``encode_response``: ``{"predictions": ...}``, strict JSON): a DataFrame -> a list of
records as MLflow writes it (the index is not written), a Series -> a list, ndarrays -> nested lists (NumPy
scalars as numbers), datetimes -> ISO 8601 strings with their offset, UUID and Decimal -> strings, NaN,
Infinity, NaT and ``pd.NA`` -> ``null`` (MLflow's own encoder lets a bare ``NaN`` through: this never does).

``encode_request`` writes a DataFrame as ``dataframe_split`` with its index (``form="dataframe_records"`` or
``"instances"`` as records, ``"inputs"`` as ``{column: [values]}``), anything else as ``inputs``. JSON carries
no dtypes: ints come back int64, floats float64, datetimes as ISO strings.

MLflow's own client and server write missing values as bare ``NaN`` tokens (not JSON): requests and responses
holding them are read too (as NaN, within the same limits), so MLflow clients call a datason service unchanged.

Errors: ``{"error_code": "BAD_REQUEST", "message": "..."}`` (``error_body``; the code follows MLflow's mapping
of the HTTP status). Malformed requests raise ``DeserializationError`` naming the field
(``$.dataframe_split.data[3]``, ``$.params``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..config import SerializationConfig
from ..errors import DeserializationError, SerializationError, path_segment
from ._values import (
    API_CONFIG,
    check_cells,
    error_text,
    is_batch,
    is_frame,
    json_type,
    optional_dict,
    parse,
    request_value,
    type_label,
    write,
)

__all__ = ["Request", "decode_request", "decode_response", "encode_request", "encode_response", "error_body"]

Form = Literal["dataframe_split", "dataframe_records", "instances", "inputs"]
_FORMS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_SPLIT_KEYS = frozenset({"columns", "data", "index"})
_LABELS = frozenset({str, int, float, bool, type(None)})
# MLflow's HTTP status -> error code (mlflow.exceptions); other 4xx are bad requests, the rest internal errors.
_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True, slots=True)
class Request:
    """A decoded scoring request: ``value`` is what predict receives, ``params`` its inference parameters."""

    value: Any
    form: Form
    params: dict[str, Any] | None = None


def decode_request(body: Any, *, config: SerializationConfig | None = None) -> Request:
    """Read a scoring request body (bytes, str, or an already-parsed dict) into a ``Request``."""
    cfg = config or API_CONFIG
    doc = parse(body, cfg, "request", nan_tokens=True)
    present = [key for key in _FORMS if key in doc]
    if len(present) != 1:
        found = "none" if not present else ", ".join(present)
        raise DeserializationError(f"exactly one of {', '.join(_FORMS)} is required, found {found}")
    form: Form = present[0]  # type: ignore[assignment]
    params = optional_dict(doc, "params")
    raw = doc[form]
    value: Any
    if form == "dataframe_split":
        value = _split(raw, cfg)
    elif form == "dataframe_records":
        value = _records(raw, cfg)
    else:
        if form == "instances" and type(raw) is not list:
            raise DeserializationError("instances must be an array", path="$.instances", type_name=json_type(raw))
        value = request_value(raw, cfg, "$." + form)
    return Request(value, form, params)


def encode_response(result: Any, *, request: Request | None = None, config: SerializationConfig | None = None) -> bytes:
    """``{"predictions": result}`` as strict JSON bytes (DataFrames as records, whatever the request's form)."""
    return write({"predictions": result}, config or API_CONFIG)


def encode_request(
    value: Any,
    *,
    form: str | None = None,
    params: dict[str, Any] | None = None,
    config: SerializationConfig | None = None,
) -> bytes:
    """A scoring request: a DataFrame as ``dataframe_split`` with its index, anything else as ``inputs``."""
    frame = is_frame(value)
    if form is None:
        form = "dataframe_split" if frame else "inputs"
    elif form not in _FORMS:
        raise ValueError(f"form must be one of {_FORMS}, got {form!r}")
    orient = "split" if form == "dataframe_split" else "records"
    if form == "dataframe_split" and not frame:
        raise SerializationError("dataframe_split needs a pandas DataFrame", path="$", type_name=type_label(value))
    if form == "dataframe_records" and not (frame or _is_records(value)):
        path = "$.dataframe_records"
        raise SerializationError("dataframe_records needs a DataFrame or dicts", path=path, type_name=type_label(value))
    if form == "instances" and not is_batch(value):
        raise SerializationError(
            "instances must be a list of instances", path="$.instances", type_name=type_label(value)
        )
    if form == "inputs" and frame:
        value = _columns(value)
    doc: dict[str, Any] = {form: value}
    if params is not None:
        if not isinstance(params, dict):
            raise SerializationError("params must be a dict", path="$.params", type_name=type_label(params))
        doc["params"] = params
    return write(doc, config or API_CONFIG, orient=orient)


def decode_response(body: Any, *, config: SerializationConfig | None = None) -> Any:
    """The ``predictions`` of a response body, arrays read as in ``instances`` (records stay a list of dicts)."""
    cfg = config or API_CONFIG
    doc = parse(body, cfg, "response", nan_tokens=True)
    if "predictions" not in doc:
        if "error_code" in doc or "message" in doc:
            raise DeserializationError("the response is an error", path="$.error_code", type_name="object")
        raise DeserializationError("predictions is required")
    return request_value(doc["predictions"], cfg, "$.predictions")


def error_body(message: object, *, status: int = 400) -> bytes:
    """MLflow's error JSON: ``{"error_code": ..., "message": ...}``, the code matching the HTTP status."""
    code = int(status)
    error_code = _ERROR_CODES.get(code) or ("BAD_REQUEST" if 400 <= code < 500 else "INTERNAL_ERROR")
    return write({"error_code": error_code, "message": error_text(message)}, API_CONFIG)


# --- DataFrames --------------------------------------------------------------------------------------------


def _split(split: Any, cfg: SerializationConfig) -> Any:
    base = "$.dataframe_split"
    if type(split) is not dict:
        raise DeserializationError("dataframe_split must be an object", path=base, type_name=json_type(split))
    for key in split:
        if key not in _SPLIT_KEYS:
            raise DeserializationError("unknown dataframe_split field", path=base + path_segment(key))
    for key in ("columns", "data"):
        if key not in split:
            raise DeserializationError(f"dataframe_split needs {key}", path=base, type_name="object")
        if type(split[key]) is not list:
            path = f"{base}.{key}"
            raise DeserializationError(f"{key} must be an array", path=path, type_name=json_type(split[key]))
    columns, data = split["columns"], split["data"]
    width = len(columns)
    for i, row in enumerate(data):
        if type(row) is not list:
            raise DeserializationError("rows must be arrays", path=f"{base}.data[{i}]", type_name=json_type(row))
        if len(row) != width:
            raise DeserializationError(f"row length differs from columns ({width})", path=f"{base}.data[{i}]")
    index = split.get("index")
    if index is not None:
        if type(index) is not list:
            raise DeserializationError("index must be an array", path=f"{base}.index", type_name=json_type(index))
        if len(index) != len(data):
            raise DeserializationError(f"index length differs from data ({len(data)} rows)", path=f"{base}.index")
    check_cells(len(data), width, cfg, base)
    import pandas as pd

    labels = _labels(columns, f"{base}.columns")
    rows = _labels(index, f"{base}.index") if index is not None else None
    try:
        return pd.DataFrame(data, columns=labels, index=rows)
    except (ValueError, TypeError) as exc:
        raise DeserializationError(f"cannot build a DataFrame ({type(exc).__name__})", path=base) from None


def _labels(items: list[Any], path: str) -> Any:
    """Axis labels: JSON scalars (0..n-1 -> RangeIndex), or arrays of scalars of one length (-> MultiIndex)."""
    import pandas as pd

    types = set(map(type, items))
    if types <= {int} and items == list(range(len(items))):
        return pd.RangeIndex(len(items))
    if list in types:
        width = len(items[0]) if type(items[0]) is list else 0
        for i, item in enumerate(items):
            if type(item) is not list or not item or len(item) != width:
                raise DeserializationError("labels must all be scalars or arrays of one length", path=f"{path}[{i}]")
            if not set(map(type, item)) <= _LABELS:
                raise DeserializationError("a label must hold scalars", path=f"{path}[{i}]", type_name="array")
        return pd.MultiIndex.from_tuples([tuple(item) for item in items])
    if not types <= _LABELS:
        i = next(i for i, item in enumerate(items) if type(item) not in _LABELS)
        raise DeserializationError("a label must be a scalar", path=f"{path}[{i}]", type_name=json_type(items[i]))
    return pd.Index(items)


def _records(records: Any, cfg: SerializationConfig) -> Any:
    base = "$.dataframe_records"
    if type(records) is not list:
        raise DeserializationError("dataframe_records must be an array", path=base, type_name=json_type(records))
    keys: set[str] = set()
    for i, record in enumerate(records):
        if type(record) is not dict:
            raise DeserializationError("records must be objects", path=f"{base}[{i}]", type_name=json_type(record))
        keys.update(record)
    check_cells(len(records), len(keys), cfg, base)
    import pandas as pd

    try:
        return pd.DataFrame(records)
    except (ValueError, TypeError) as exc:
        raise DeserializationError(f"cannot build a DataFrame ({type(exc).__name__})", path=base) from None


def _columns(frame: Any) -> dict[Any, Any]:
    """A DataFrame as ``{column: Series}`` for ``inputs`` (one named tensor per column)."""
    if not frame.columns.is_unique:
        raise SerializationError("inputs needs unique column labels", path="$.inputs", type_name="DataFrame")
    return {label: frame[label] for label in frame.columns}


def _is_records(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(item, dict) for item in value)
