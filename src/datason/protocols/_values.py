"""What the KServe v1, Seldon Core v1 and MLflow codecs share: reading bodies, JSON lists as arrays, writing results.

- ``parse``: a body (bytes, str, or an already-parsed dict) as a dict, through ``datason.loads`` and its limits.
- ``numeric_array``: a JSON list as an ndarray when it is rectangular and numeric, else None. Leaves decide
  the dtype: all ``true``/``false`` -> bool; all ints -> int64 (None when one does not fit); ints and floats
  -> float64; numbers and ``null`` -> float64 with NaN (strict JSON writes NaN as ``null``); no leaves at all
  (``[]``, ``[[], []]``) -> float64 of that shape. Bools mixed with numbers, strings, objects, ``null`` alone
  and ragged lists are not numeric. The leaf types are checked before NumPy sees the list, so a list of
  strings never reaches NumPy (a ``<U`` array of a long and many short strings would be huge).
- ``array_or_list`` / ``request_value``: the KServe v1 and MLflow ``instances`` / ``inputs`` rule (an ndarray
  when numeric, else the list as is; a dict of those per key).
- ``object_array``: any rectangular list as an ndarray (numeric as above, else dtype object): Seldon's ``ndarray``.
- ``write``: a result as strict plain JSON bytes (``datason.dumpb`` under plain settings: ISO dates with their
  offset, UUIDs and Decimals as strings, NaN/NaT as ``null``, NumPy values as numbers and lists, DataFrames in
  the orient the protocol wants), keys in insertion order (a frame's columns stay in order).
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np

from ..api import dumpb, loads
from ..config import SerializationConfig, get_api_config
from ..errors import DeserializationError, SecurityError, path_segment
from ..limits import check_tree

__all__ = [
    "API_CONFIG",
    "array_or_list",
    "check_cells",
    "error_text",
    "is_batch",
    "is_frame",
    "json_type",
    "numeric_array",
    "object_array",
    "optional_dict",
    "parse",
    "request_value",
    "type_label",
    "write",
]

API_CONFIG = get_api_config()  # made once: building a config costs microseconds, and it is immutable

_BOOL = np.dtype(np.bool_)
_INT = np.dtype(np.int64)
_FLOAT = np.dtype(np.float64)
_NONE = type(None)
_NUMBERS = frozenset({int, float})
_NULLABLE = frozenset({int, float, _NONE})
_MAX_NDIM = 64  # NumPy's limit; also stops a self-referencing list handed in as a dict
_JSON_NAMES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_MAX_ERROR_TEXT = 65536
_DERIVED: dict[tuple[int, str], tuple[SerializationConfig, SerializationConfig]] = {}


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type (``object``, ``array``, ``null``...), else its Python name."""
    if value is None:
        return "null"
    return _JSON_NAMES.get(type(value)) or type(value).__name__


def type_label(value: Any) -> str:
    """A Python value's type as errors name it: ``dict``, ``numpy.ndarray``, ``pandas.DataFrame`` (top package only)."""
    t = type(value)
    module = t.__module__.split(".")[0]
    return t.__qualname__ if module == "builtins" else f"{module}.{t.__qualname__}"


def is_frame(value: Any) -> bool:
    """Whether ``value`` is a pandas DataFrame (without importing pandas)."""
    t = type(value)
    return t.__name__ == "DataFrame" and t.__module__.startswith("pandas")


def is_batch(value: Any) -> bool:
    """Whether ``value`` is written as a JSON array: lists, tuples, ndarrays of 1+ dimensions, Series, DataFrames."""
    if isinstance(value, list | tuple):
        return True
    t = type(value)
    if t.__module__.startswith("numpy"):
        return getattr(value, "ndim", 0) >= 1
    return t.__module__.startswith("pandas") and t.__name__ in ("DataFrame", "Series")


def parse(body: Any, config: SerializationConfig, what: str, *, nan_tokens: bool = False) -> dict[str, Any]:
    """``body`` as a JSON object: parsed by ``datason.loads`` under ``config``, or taken as is when a dict.

    ``nan_tokens``: also read the bare ``NaN`` / ``Infinity`` / ``-Infinity`` tokens MLflow's own client and
    server write for missing values (not JSON; datason's reader refuses them), under the same limits.
    """
    if isinstance(body, dict):
        return body
    if isinstance(body, bytes | bytearray | memoryview | str):
        try:
            doc = loads(body, config)
        except DeserializationError:
            if not nan_tokens or not _has_nan_token(body):
                raise
            doc = _loads_with_nan_tokens(body, config)
    else:
        raise TypeError(f"body must be bytes, str or an already-parsed dict, got {type(body).__name__}")
    if type(doc) is not dict:
        raise DeserializationError(f"{what} must be a JSON object", type_name=json_type(doc))
    return doc


def _has_nan_token(body: bytes | bytearray | memoryview | str) -> bool:
    raw = body.encode() if isinstance(body, str) else bytes(body)
    return b"NaN" in raw or b"Infinity" in raw


def _loads_with_nan_tokens(body: bytes | bytearray | memoryview | str, config: SerializationConfig) -> Any:
    """The stdlib reader, which takes NaN/Infinity tokens, then datason's limits on the tree it built."""
    import json

    raw = body.encode() if isinstance(body, str) else bytes(body)
    if len(raw) > config.max_bytes:
        raise SecurityError(f"document larger than max_bytes={config.max_bytes}")
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise SecurityError(f"nesting deeper than max_depth={config.max_depth}") from None
    except ValueError as exc:  # JSONDecodeError and invalid UTF-8: position only, never the text
        raise DeserializationError(f"invalid JSON at byte {getattr(exc, 'pos', 0)}") from None
    check_tree(doc, 0, config.max_depth, config.max_size, config.max_string_length)
    return doc


def optional_dict(doc: dict[str, Any], key: str) -> dict[str, Any] | None:
    """``doc[key]``, an object (``parameters``, ``params``), or None when absent or ``null`` (as MLflow reads it)."""
    value = doc.get(key)
    if value is None:
        return None
    if type(value) is not dict:
        raise DeserializationError(f"{key} must be an object", path="$" + path_segment(key), type_name=json_type(value))
    return value


# --- JSON lists as arrays -------------------------------------------------------------------------------


def _scan(value: list[Any]) -> tuple[int, set[type], int] | None:
    """Depth, leaf types and leaf count of ``value`` when every leaf sits at one depth; else None.

    Lengths are left to NumPy, which refuses ragged lists itself.
    """
    types = set(map(type, value))
    if list not in types:
        return 1, types, len(value)
    rows = value
    ndim = 1
    while len(types) == 1 and ndim < _MAX_NDIM:  # only lists at this depth: one level down
        ndim += 1
        types = set()
        for row in rows:
            types.update(map(type, row))
        if list not in types:
            return ndim, types, sum(map(len, rows))
        rows = list(chain.from_iterable(rows))
    return None


def _numeric_dtype(types: set[type]) -> np.dtype[Any] | None:
    if not types or types <= _NUMBERS:
        return _INT if types == {int} else _FLOAT
    if types == {bool}:
        return _BOOL
    if types <= _NULLABLE and (int in types or float in types):
        return _FLOAT
    return None


def numeric_array(value: list[Any], config: SerializationConfig, path: str) -> np.ndarray[Any, Any] | None:
    """``value`` as a bool, int64 or float64 ndarray when it is rectangular and numeric; None otherwise.

    Like a NumPy payload, an array holds at most ``max_size`` elements (``SecurityError`` at ``path``).
    """
    found = _scan(value)
    if found is None:
        return None
    dtype = _numeric_dtype(found[1])
    if dtype is None:
        return None
    _check_size(found[2], config, path)
    try:
        return np.array(value, dtype=dtype)
    except (ValueError, TypeError, OverflowError):  # ragged, or an int beyond int64 / a float
        return None


def array_or_list(value: Any, config: SerializationConfig, path: str) -> Any:
    """A list as an ndarray when rectangular and numeric, else unchanged (any other value too)."""
    if type(value) is list:
        array = numeric_array(value, config, path)
        if array is not None:
            return array
    return value


def request_value(value: Any, config: SerializationConfig, path: str) -> Any:
    """KServe v1 / MLflow ``instances`` and ``inputs``: ``array_or_list``, key by key for a dict of named tensors."""
    if type(value) is dict:
        return {key: array_or_list(item, config, path + path_segment(key)) for key, item in value.items()}
    return array_or_list(value, config, path)


def object_array(value: list[Any], config: SerializationConfig, path: str) -> np.ndarray[Any, Any]:
    """Any rectangular list as an ndarray: numeric as ``numeric_array``, else dtype object holding the leaves."""
    found = _scan(value)
    if found is not None:
        ndim, types, count = found
        _check_size(count, config, path)
        dtype = _numeric_dtype(types)
        if dtype is not None:
            try:
                return np.array(value, dtype=dtype)
            except OverflowError:
                pass  # an int beyond int64: kept exactly, in an object array
            except (ValueError, TypeError):
                raise DeserializationError("ndarray is not rectangular", path=path, type_name="array") from None
        try:
            array = np.array(value, dtype=object)
        except (ValueError, TypeError):
            array = None
        if array is not None and array.ndim == ndim:
            return array
    raise DeserializationError("ndarray is not rectangular", path=path, type_name="array")


def _check_size(count: int, config: SerializationConfig, path: str) -> None:
    if count > config.max_size:
        raise SecurityError(f"array larger than max_size={config.max_size}", path=path, type_name="array")


def check_cells(rows: int, columns: int, config: SerializationConfig, path: str) -> None:
    """A DataFrame about to be built holds at most ``max_size`` cells (missing ones would become NaN)."""
    if rows * columns > config.max_size:
        raise SecurityError(f"DataFrame cells more than max_size={config.max_size}", path=path, type_name="DataFrame")


# --- writing ----------------------------------------------------------------------------------------------


def write(obj: Any, config: SerializationConfig, *, orient: str = "records") -> bytes:
    """``obj`` as strict plain JSON bytes under ``config``'s limits; DataFrames in ``orient``, keys in order.

    ``datason.dumpb`` in plain mode: JSON types alone go to orjson after datason's C check, anything else
    (NumPy arrays and scalars, datetimes, ...) through the C writer, which also raises the errors, with paths.
    """
    return dumpb(obj, _plain(config, orient), sort_keys=False)


def _plain(config: SerializationConfig, orient: str) -> SerializationConfig:
    if (
        not config.include_type_hints
        and config.uuid_format == "string"
        and config.date_format == "iso"
        and config.nan_handling == "null"
        and config.dataframe_orient == orient
    ):
        return config
    key = (id(config), orient)
    cached = _DERIVED.get(key)
    if cached is not None and cached[0] is config:  # the config is kept alive by the entry: its id is not reused
        return cached[1]
    derived = config.replace(
        include_type_hints=False, uuid_format="string", date_format="iso", nan_handling="null", dataframe_orient=orient
    )
    if len(_DERIVED) >= 64:
        _DERIVED.clear()
    _DERIVED[key] = (config, derived)
    return derived


def error_text(message: object) -> str:
    """An error message that any JSON writer takes: valid Unicode, at most 64 KiB characters."""
    text = message if type(message) is str else str(message)
    if len(text) > _MAX_ERROR_TEXT:
        text = text[: _MAX_ERROR_TEXT - 3] + "..."
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates become \udXXX
    return text
