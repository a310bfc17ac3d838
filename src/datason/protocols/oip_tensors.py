"""One Open Inference Protocol tensor <-> one Python value; DataFrames as one tensor per column.

What each Python value becomes (``datatype``, ``data``, ``parameters``) and what comes back:

- ``bool`` arrays -> BOOL, ``true``/``false``; ``int8``..``uint64`` -> INT8..UINT64; ``float16/32/64`` -> FP16/32/64.
  ``data`` is row-major and flat; ``shape`` is the array's (a 0-d array has shape ``[]`` and one item, a 1-D
  array stays 1-D). Back: an ndarray of that dtype and shape. float32 is written with the shortest digits
  orjson finds, except the rare values whose digits, read as a double and rounded to float32, would land on
  another float32 (7.038531e-26): those get the double's exact digits, so FP32 comes back bit-identical
  (FP16 gets float32 digits, also exact). Non-finite values follow the config's ``nan_handling``, as everywhere
  in datason's plain JSON: ``"null"`` (the API config) writes NaN and +-Infinity as ``null`` (back: NaN; strict
  JSON has no infinity), ``"string"`` writes ``"nan"``/``"inf"``/``"-inf"`` (which FP data always accept, so a
  datason peer gets infinities back), ``"error"`` raises ``SerializationError``. Binary tensors carry every bit.
- BF16 (Triton's bfloat16; NumPy has none): decoded to float32 arrays of values exact in bfloat16. float32
  becomes bfloat16 by truncation to the top 16 bits, as tritonclient's ``serialize_bf16_tensor`` does (NaN stays
  a quiet NaN). JSON data are those values as floats; binary data the 16-bit halves. Ask for BF16 by passing
  ``Tensor(..., datatype="BF16", value=array)`` or an ``ml_dtypes.bfloat16`` array.
- ``complex64/128`` -> FP32/FP64 with a trailing dimension of 2 (real, imaginary), ``datason_dtype``.
- ``datetime64[unit]`` -> BYTES, ``content_type: "datetime"``, ISO 8601 text at the coarsest exact precision
  (``"2024-01-02T03:04:05"``), NaT ``null``, ``datason_dtype: "datetime64[ns]"``. Time-zone-aware pandas values
  are written in UTC with ``+00:00`` (every reader gets the right instant) and the zone in ``datason_tz``
  (``"Europe/Paris"``, ``"+05:30"``, ``"UTC"``; ``datason_tzlib`` names pytz/dateutil zones).
- ``timedelta64[unit]`` -> INT64 counts of the unit, NaT ``null``, ``datason_dtype: "timedelta64[ns]"``.
- ``str`` items (``U`` arrays, object arrays, lists of str) -> BYTES, ``content_type: "str"``, the strings;
  ``U``/``S`` arrays add ``datason_dtype: "<U5"`` / ``"|S3"``. ``bytes`` items -> BYTES: the text when every item
  is UTF-8, else ``content_type: "base64"`` and base64 text; binary tensors carry raw bytes. Back: an object
  ndarray of ``str`` (content type ``str``), ``bytes`` (none, or ``base64``), ``datetime.datetime``
  (``datetime``), or values parsed from JSON text (``pd_json``, MLServer's). Missing items are ``null``.
- object items of other kinds -> BYTES: ``uuid.UUID`` and ``decimal.Decimal`` as their text, ``datetime.date``
  as ISO text (``content_type: "str"`` and ``datason_items: "uuid" | "decimal" | "date"``), ``datetime.datetime``
  as ISO text (``content_type: "datetime"``), anything else as datason's typed JSON text of each item
  (``content_type: "pd_json"``). An object column whose missing items are NaN (not None) adds ``datason_na: "nan"``.
- pandas ``Series`` and extension arrays -> one tensor as a column (below) with ``datason_series: true``;
  ``datason_name`` holds the name (datason JSON text) when it is not the tensor's, ``datason_index`` a
  non-default index. Back: a ``Series``. Values with a pandas-only dtype always come back as a ``Series``.

A DataFrame column (``frame_to_tensors``): the tensor of its values, shape ``[N]``, plus, where the
datatype does not say it: nullable ``Int8``..``UInt64``/``Float32``/``Float64``/``boolean`` -> their NumPy
datatype, ``null`` for NA, ``datason_dtype: "Int64"``...; ``string``/``str`` dtypes -> BYTES ``str``,
``datason_dtype: "string" | "str"`` and ``datason_storage`` (``python``/``pyarrow``); ``object`` ->
``datason_dtype: "object"``; ``category`` -> the labels as a column of the categories' kind, ``datason_dtype:
"category"``, ``datason_categories`` (datason JSON text of the categories index) and ``datason_ordered``;
``period[M]`` -> BYTES ``str`` of each period, ``datason_dtype: "period[M]"``; other pandas dtypes (interval,
sparse...) -> object items (``pd_json``). The request (response) carries
``content_type: "pd"`` (MLServer's PandasCodec), ``datason_index`` (datason JSON text of the index, unless
it is the default ``RangeIndex``) and ``datason_columns`` (of the column labels, unless they are unique
unnamed strings; inputs are then named ``str(label)``, made unique with ``#i``). Every ``datason_*`` value
is a string or a bool, so Triton's and KServe's parameter rules accept them; readers without datason
see plain tensors.

Decoding is strict: JSON data must fit the datatype (no strings or bools in numeric data, ints only in
integer data, in range; ``null`` only in FP data or where ``datason_dtype`` is nullable), nested data must
match the shape, and every error is a ``DeserializationError`` naming the field (``$.inputs[1].data``),
raised before anything large is allocated. ``datason_*`` values go through whitelists; datason JSON texts
are read with ``datason.loads`` under the caller's config (only registered types revive).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import functools
import math
import re
import sys
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import orjson

from .. import encoder as _encoder
from ..api import dumpb as _dumpb
from ..api import dumps as _dumps
from ..api import loads as _loads
from ..config import SerializationConfig, get_api_config
from ..errors import DatasonError, DeserializationError, SecurityError, SerializationError
from . import oip_binary as _bin

__all__ = [
    "CONTENT_TYPES",
    "DATATYPES",
    "Tensor",
    "datatype_of",
    "decode_tensor",
    "encode_tensor",
    "frame_from_tensors",
    "frame_to_tensors",
]

DATATYPES: Mapping[str, np.dtype[Any]] = MappingProxyType(
    {
        "BOOL": np.dtype(np.bool_),
        "UINT8": np.dtype(np.uint8),
        "UINT16": np.dtype(np.uint16),
        "UINT32": np.dtype(np.uint32),
        "UINT64": np.dtype(np.uint64),
        "INT8": np.dtype(np.int8),
        "INT16": np.dtype(np.int16),
        "INT32": np.dtype(np.int32),
        "INT64": np.dtype(np.int64),
        "FP16": np.dtype(np.float16),
        "FP32": np.dtype(np.float32),
        "FP64": np.dtype(np.float64),
        "BF16": np.dtype(np.float32),
        "BYTES": np.dtype(object),
    }
)
CONTENT_TYPES = ("np", "pd", "str", "base64", "datetime", "pd_json")

_BY_DTYPE: dict[np.dtype[Any], str] = {v: k for k, v in DATATYPES.items() if k not in ("BF16", "BYTES")}
_NUMPY_OPT = orjson.OPT_SERIALIZE_NUMPY
_INTS = frozenset({"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"})
_FLOATS = frozenset({"FP16", "FP32", "FP64", "BF16"})
# Narrow float datatypes: the smallest magnitude that rounds to infinity (max + half an ulp).
_OVERFLOW = {"FP16": 65520.0, "FP32": float(2**128 - 2**103), "BF16": float(2**128 - 2**103)}
_API = get_api_config()  # made once: building a config costs microseconds, and it is immutable
_NONE = type(None)
_SPECIAL = {"nan": math.nan, "-nan": -math.nan, "inf": math.inf, "-inf": -math.inf}
_UNITS = ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns")
_TIME_DTYPE = re.compile(r"(datetime64|timedelta64)\[(Y|M|W|D|h|m|s|ms|us|ns)\]")
_TEXT_DTYPE = re.compile(r"[<>]U[1-9][0-9]{0,8}|\|S[1-9][0-9]{0,8}")
_MASKED_NAMES = frozenset("Int8 Int16 Int32 Int64 UInt8 UInt16 UInt32 UInt64 Float32 Float64 boolean".split())
_PERIOD_DTYPE = re.compile(r"period\[[A-Za-z0-9\-]{1,40}\]")
_ITEMS = ("uuid", "decimal", "date")
_STORAGES = ("python", "pyarrow")
_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


@dataclass(slots=True, eq=False)
class Tensor:
    """One decoded tensor: its header fields and ``value``, the Python value a model receives."""

    name: str
    shape: tuple[int, ...]
    datatype: str
    parameters: dict[str, Any] = field(default_factory=dict)
    value: Any = None


def datatype_of(dtype: Any) -> str:
    """The OIP datatype that carries a NumPy dtype (BYTES for text, object, datetime64)."""
    dt_ = np.dtype(dtype)
    name = _BY_DTYPE.get(dt_.newbyteorder("=")) if dt_.kind in "biuf" else None
    if name is not None:
        return name
    if dt_.kind == "c":
        return "FP32" if dt_.itemsize == 8 else "FP64"
    if dt_.kind == "m":
        return "INT64"
    if dt_.kind in "OUSM":
        return "BYTES"
    raise SerializationError("NumPy dtype has no OIP datatype", type_name=dt_.name)


# --- encoding -------------------------------------------------------------------------------------------


class _Wire:
    """A value laid out for the wire: fixed-size ``array`` (with ``nulls`` to write as null) or BYTES ``items``."""

    __slots__ = ("array", "base64", "datatype", "items", "nulls", "params", "shape")

    def __init__(
        self,
        datatype: str,
        shape: Sequence[int],
        params: dict[str, Any],
        *,
        array: np.ndarray[Any, Any] | None = None,
        nulls: np.ndarray[Any, Any] | None = None,
        items: list[Any] | None = None,
        base64: bool = False,
    ) -> None:
        self.datatype = datatype
        self.shape = [int(n) for n in shape]
        self.params = params
        self.array = array
        self.nulls = nulls if nulls is not None and nulls.any() else None
        self.items = items
        self.base64 = base64  # BYTES items are bytes that are not all UTF-8: base64 text in JSON


@functools.lru_cache(maxsize=16)
def _typed(config: SerializationConfig) -> SerializationConfig:
    """The config for ``datason_*`` JSON texts: the caller's limits, typed output."""
    return config.replace(include_type_hints=True, uuid_format="object", nan_handling="null", sort_keys=False)


def _text(value: Any, config: SerializationConfig) -> str:
    return _dumps(value, _typed(config))


def _pandas() -> Any:
    """pandas if it is already imported (a pandas value exists only then), else None."""
    return sys.modules.get("pandas")


def wire_of(value: Any, config: SerializationConfig, *, name: str) -> _Wire:
    """Lay out any supported value (see the module docstring)."""
    if isinstance(value, Tensor):
        return _forced(value, config, name=name)
    pd = _pandas()
    if pd is not None:
        if isinstance(value, pd.DataFrame):
            raise SerializationError("a DataFrame is one tensor per column, not one tensor", type_name="DataFrame")
        if isinstance(value, pd.Series):
            return _series_wire(value, config, name=name)
        if isinstance(value, (pd.Index, pd.api.extensions.ExtensionArray)):
            return _series_wire(pd.Series(value, copy=False), config, name=name)
    if isinstance(value, np.ndarray):
        return _array_wire(value, config)
    if isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value) if value else np.asarray(value, dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            raise SerializationError("ragged or mixed list has no tensor form", type_name="list") from None
        if arr.dtype.kind in "USO" or arr.dtype.kind == "V":
            arr = _object_array(value)
        return _array_wire(arr, config)
    if isinstance(value, (str, bytes, dt.date, uuid.UUID, decimal.Decimal)) or value is None:
        return _array_wire(_object_array([value]).reshape(()), config)
    try:
        arr = np.asarray(value)
    except Exception:
        raise SerializationError("value has no OIP tensor form", type_name=type(value).__name__) from None
    if arr.dtype.kind == "O" and arr.ndim == 0 and not isinstance(value, np.generic):
        raise SerializationError("value has no OIP tensor form", type_name=type(value).__name__)
    return _array_wire(arr, config)


def _object_array(items: Any) -> np.ndarray[Any, Any]:
    """A 1-D object array of a sequence's items, whatever they are (lists stay items; nested lists become rows)."""
    arr = np.asarray(items, dtype=object)
    if arr.ndim == 0 or any(isinstance(x, (list, tuple)) for x in arr.reshape(-1)[:1].tolist()):
        out = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):
            out[i] = item
        return out
    return arr


def _array_wire(a: np.ndarray[Any, Any], config: SerializationConfig) -> _Wire:
    kind, shape = a.dtype.kind, a.shape
    if kind in "biu" or (kind == "f" and a.dtype.itemsize in (2, 4, 8)):
        return _Wire(_BY_DTYPE[a.dtype.newbyteorder("=")], shape, {}, array=a)
    if kind == "c" and a.dtype.itemsize in (8, 16):
        half = np.dtype(f"f{a.dtype.itemsize // 2}")
        pairs = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("="), copy=False).view(half)
        pairs = pairs.reshape((*shape, 2))
        return _Wire(_BY_DTYPE[half], pairs.shape, {"datason_dtype": a.dtype.name}, array=pairs)
    if kind == "M":
        unit = np.datetime_data(a.dtype)[0]
        if unit not in _UNITS:
            raise SerializationError("datetime64 unit has no ISO 8601 text here", type_name=a.dtype.name)
        params = {"content_type": "datetime", "datason_dtype": f"datetime64[{unit}]"}
        return _Wire("BYTES", shape, params, items=_iso_items(a, unit, None))
    if kind == "m":
        unit = np.datetime_data(a.dtype)[0]
        if unit not in _UNITS:
            raise SerializationError("timedelta64 unit is not supported", type_name=a.dtype.name)
        counts = a.astype(a.dtype.newbyteorder("="), copy=False).view(np.int64)
        return _Wire("INT64", shape, {"datason_dtype": f"timedelta64[{unit}]"}, array=counts, nulls=np.isnat(a))
    if kind == "U":  # str items, none missing: _items_wire's str layout without looking at each item
        return _Wire(
            "BYTES", shape, {"content_type": "str", "datason_dtype": a.dtype.str}, items=a.reshape(-1).tolist()
        )
    if kind == "S":
        wire = _items_wire(a.reshape(-1).tolist(), shape, config)
        wire.params["datason_dtype"] = a.dtype.str
        return wire
    if kind == "O":
        return _items_wire(a.reshape(-1).tolist(), shape, config)
    if a.dtype.name == "bfloat16":  # ml_dtypes
        return _Wire("BF16", shape, {}, array=_to_bf16(a.astype(np.float32)))
    raise SerializationError("NumPy dtype has no OIP datatype", type_name=a.dtype.name)


def _forced(t: Tensor, config: SerializationConfig, *, name: str) -> _Wire:
    """A ``Tensor`` given as a value: its datatype (and parameters) win."""
    if t.datatype not in DATATYPES:
        raise SerializationError("unknown OIP datatype", type_name="Tensor")
    if t.datatype == "BYTES":
        wire = wire_of(t.value, config, name=name)
        if wire.datatype != "BYTES":
            wire = _items_wire(np.asarray(t.value, dtype=object).reshape(-1).tolist(), wire.shape, config)
    else:
        arr = np.asarray(t.value)
        if arr.dtype.kind not in "biuf":
            raise SerializationError("value does not fit the Tensor's datatype", type_name=arr.dtype.name)
        target = DATATYPES[t.datatype]
        with np.errstate(over="ignore", invalid="ignore"):
            cast = arr.astype(target)
        if t.datatype in _INTS and not np.array_equal(cast, arr):
            raise SerializationError("value does not fit the Tensor's datatype", type_name=arr.dtype.name)
        if t.datatype == "BF16":
            cast = _to_bf16(cast)
        wire = _Wire(t.datatype, cast.shape, {}, array=cast)
    wire.params.update(t.parameters)
    return wire


def _to_bf16(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """float32 values truncated to bfloat16 (the top 16 bits, as tritonclient does); NaN stays a quiet NaN."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) & np.uint32(0xFFFF0000)
    nan = np.isnan(a)
    if nan.any():
        bits[nan] = (bits[nan] & np.uint32(0x80000000)) | np.uint32(0x7FC00000)
    return bits.view(np.float32)


def _iso_items(a: np.ndarray[Any, Any], unit: str, suffix: str | None) -> list[Any]:
    """ISO 8601 texts of a datetime64 array (flat), at the coarsest precision that keeps every value; NaT -> None."""
    flat = a.reshape(-1)
    nat = np.isnat(flat)
    text_unit = unit
    if unit in _NS:
        counts = flat.view(np.int64)[~nat]
        for candidate in ("s", "ms", "us", "ns"):
            if _NS[candidate] >= _NS[unit] and not (counts % (_NS[candidate] // _NS[unit])).any():
                text_unit = candidate
                break
    texts: Any = np.datetime_as_string(flat, unit=text_unit)  # type: ignore[call-overload]
    if suffix:
        texts = np.strings.add(texts, suffix)
    items: list[Any] = texts.tolist()
    for i in np.flatnonzero(nat).tolist():
        items[i] = None
    return items


def _missing(x: Any) -> bool:
    if x is None or (type(x) is float and x != x):
        return True
    pd = _pandas()
    return pd is not None and (x is pd.NA or x is pd.NaT)


def _items_wire(items: list[Any], shape: Sequence[int], config: SerializationConfig) -> _Wire:
    """BYTES layout of object items (see the module docstring for each kind)."""
    present = [x for x in items if not _missing(x)]
    kinds = set(map(type, present))
    params: dict[str, Any] = {}
    if len(present) < len(items) and not any(x is None for x in items):
        params["datason_na"] = "nan"
    out: list[Any]
    if kinds <= {str}:
        out = [None if _missing(x) else x for x in items]
        params["content_type"] = "str"
        return _Wire("BYTES", shape, params, items=out)
    if kinds <= {bytes}:
        out = [None if _missing(x) else x for x in items]
        return _Wire("BYTES", shape, params, items=out, base64=not _all_utf8(present))
    if all(isinstance(x, dt.datetime) for x in present):
        params["content_type"] = "datetime"
        return _Wire("BYTES", shape, params, items=[None if _missing(x) else x.isoformat() for x in items])
    for cls, tag in ((uuid.UUID, "uuid"), (decimal.Decimal, "decimal"), (dt.date, "date")):
        if kinds <= {cls}:
            params.update(content_type="str", datason_items=tag)
            return _Wire("BYTES", shape, params, items=[None if _missing(x) else _plain_text(x) for x in items])
    params["content_type"] = "pd_json"
    params.pop("datason_na", None)
    typed = _typed(config)
    return _Wire("BYTES", shape, params, items=[_dumps(None if _missing(x) else x, typed) for x in items])


def _plain_text(x: Any) -> str:
    return x.isoformat() if isinstance(x, dt.date) else str(x)


def _all_utf8(items: list[bytes]) -> bool:
    try:
        for item in items:
            item.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- pandas values ----------------------------------------------------------------------------------------


def _series_wire(s: Any, config: SerializationConfig, *, name: str) -> _Wire:
    wire = column_wire(s.array, config)
    wire.params["datason_series"] = True
    if not (isinstance(s.name, str) and s.name == name):
        wire.params["datason_name"] = _text(s.name, config)
    if not _default_index(s.index, len(s)):
        wire.params["datason_index"] = _text(s.index, config)
    return wire


def _default_index(index: Any, n: int) -> bool:
    import pandas as pd

    return (
        type(index) is pd.RangeIndex and index.start == 0 and index.step == 1 and index.stop == n and index.name is None
    )


def column_wire(values: Any, config: SerializationConfig) -> _Wire:
    """One 1-D pandas array (a column) laid out as a tensor of shape ``[N]``, with its dtype's parameters."""
    import pandas as pd

    from ..handlers.pandas import tz_fields

    if type(values) is pd.arrays.NumpyExtensionArray:  # exact type: pandas' string arrays subclass it
        values = values.to_numpy()
    dtype = values.dtype
    n = len(values)
    if isinstance(dtype, np.dtype):
        arr = np.asarray(values)
        wire = _array_wire(arr, config)
        if dtype.kind == "O":
            wire.params["datason_dtype"] = "object"
        return wire
    if isinstance(dtype, pd.DatetimeTZDtype):
        utc = values.tz_convert("UTC").tz_localize(None)
        unit = dtype.unit
        params: dict[str, Any] = {"content_type": "datetime", "datason_dtype": f"datetime64[{unit}]"}
        params.update({"datason_" + k: v for k, v in tz_fields(dtype.tz).items()})
        items = _iso_items(np.asarray(utc, dtype=f"M8[{unit}]"), unit, "+00:00")
        return _Wire("BYTES", (n,), params, items=items)
    if isinstance(dtype, pd.StringDtype):
        items = values.to_numpy(dtype=object, na_value=None).tolist()
        kind = "string" if dtype.na_value is pd.NA else "str"
        params = {"content_type": "str", "datason_dtype": kind, "datason_storage": str(dtype.storage)}
        return _Wire("BYTES", (n,), params, items=items)
    if isinstance(dtype, pd.CategoricalDtype):
        codes = np.asarray(values.codes)
        missing = codes < 0
        labels = dtype.categories.take(np.where(missing, 0, codes)) if len(dtype.categories) else None
        if labels is None:
            wire = _Wire("BYTES", (n,), {"content_type": "str"}, items=[None] * n)
        else:
            wire = column_wire(labels.array, config)
            _null_out(wire, missing)
        wire.params = {k: v for k, v in wire.params.items() if k == "content_type"}
        wire.params.update(
            datason_dtype="category",
            datason_categories=_text(dtype.categories, config),
            datason_ordered=bool(dtype.ordered),
        )
        return wire
    if isinstance(dtype, pd.PeriodDtype):
        items = [None if p is pd.NaT else str(p) for p in values]
        return _Wire("BYTES", (n,), {"content_type": "str", "datason_dtype": f"period[{values.freqstr}]"}, items=items)
    name = getattr(dtype, "name", None)
    if name in _MASKED_NAMES:
        data, mask = values._data, values._mask
        wire = _array_wire(np.asarray(data), config)
        wire.nulls = mask if mask.any() else None
        wire.params["datason_dtype"] = name
        return wire
    # period, interval and other extension dtypes: their items, each as datason JSON text
    wire = _items_wire(np.asarray(values, dtype=object).tolist(), (n,), config)
    return wire


def _null_out(wire: _Wire, missing: np.ndarray[Any, Any]) -> None:
    """Mark ``missing`` positions of a 1-D wire as null."""
    if not missing.any():
        return
    if wire.items is not None:
        for i in np.flatnonzero(missing).tolist():
            wire.items[i] = None
    else:
        wire.nulls = missing if wire.nulls is None else (wire.nulls | missing)


def frame_to_tensors(df: Any, config: SerializationConfig) -> tuple[list[tuple[str, _Wire]], dict[str, Any]]:
    """A DataFrame as ``(name, wire)`` per column plus the request-level parameters (see the module docstring)."""
    labels = list(df.columns)
    names = [label if isinstance(label, str) else str(label) for label in labels]
    plain = all(isinstance(label, str) for label in labels) and df.columns.name is None
    if len(set(names)) != len(names):
        names = [f"{n}#{i}" for i, n in enumerate(names)]
        plain = False
    params: dict[str, Any] = {"content_type": "pd"}
    if not _default_index(df.index, len(df)):
        params["datason_index"] = _text(df.index, config)
    if not plain:
        params["datason_columns"] = _text(df.columns, config)
    wires = []
    for i, name in enumerate(names):
        try:
            wires.append((name, column_wire(df.iloc[:, i].array, config)))
        except DatasonError as exc:
            raise exc.with_parent(f"[{i}]") from None
    return wires, params


# --- rendering ---------------------------------------------------------------------------------------------


def render(
    wire: _Wire, name: str, *, binary: bool, config: SerializationConfig, path: str
) -> tuple[dict[str, Any], Any]:
    """``(tensor dict, binary chunk or None)``; the dict's ``data`` may hold NumPy arrays or orjson fragments.

    A tensor with null items (NA, NaT, missing strings) stays JSON even when binary is asked for: the
    binary extension has no null.
    """
    params = dict(wire.params)
    out: dict[str, Any] = {"name": name, "shape": wire.shape, "datatype": wire.datatype}
    items = wire.items
    if binary and wire.nulls is None and (items is None or None not in items):
        if items is not None:
            if params.get("content_type") == "base64":
                params.pop("content_type")
            chunk: Any = _bin.bytes_elements([x if type(x) is bytes else x.encode("utf-8") for x in items])
        else:
            chunk = _bin.array_buffer(_contiguous(wire.array), wire.datatype)
        params["binary_data_size"] = len(chunk) if isinstance(chunk, bytes) else chunk.nbytes
        out["parameters"] = params
        return out, chunk
    if items is not None:
        if wire.base64:
            params["content_type"] = "base64"
            out["data"] = [None if x is None else base64.b64encode(x).decode("ascii") for x in items]
        else:
            out["data"] = [x.decode("utf-8") if type(x) is bytes else x for x in items]
    else:
        out["data"] = _json_numbers(wire, config, path)
    if params:
        out["parameters"] = params
    return out, None


def _contiguous(a: Any) -> np.ndarray[Any, Any]:
    arr: np.ndarray[Any, Any] = np.ascontiguousarray(a)
    return arr


def _json_numbers(wire: _Wire, config: SerializationConfig, path: str) -> Any:
    """What orjson writes as a fixed-size tensor's ``data``: a flat array, an orjson fragment, or a list."""
    assert wire.array is not None
    flat = _contiguous(wire.array).reshape(-1)
    if not flat.dtype.isnative:
        flat = flat.astype(flat.dtype.newbyteorder("="))
    special: list[tuple[str, np.ndarray[Any, Any]]] = []
    if flat.dtype.kind == "f" and flat.size and not np.isfinite(flat).all():
        nan, inf = np.isnan(flat), np.isinf(flat)
        if config.nan_handling == "string":
            sign = np.signbit(flat)
            special = [("nan", nan), ("inf", inf & ~sign), ("-inf", inf & sign)]
        elif config.nan_handling == "error":
            raise SerializationError(
                "non-finite float in JSON data under nan_handling='error': send the tensor binary "
                "or use nan_handling='null' or 'string'",
                path=path + ".data",
                type_name=wire.datatype,
            )
    if wire.nulls is None and not special:
        if flat.dtype == np.float32:
            return orjson.Fragment(float32_text(flat))
        return flat
    text = float32_text(flat) if flat.dtype == np.float32 else orjson.dumps(flat, option=_NUMPY_OPT)
    values = orjson.loads(text)
    for word, mask in special:
        for i in np.flatnonzero(mask).tolist():
            values[i] = word
    if wire.nulls is not None:
        for i in np.flatnonzero(wire.nulls.reshape(-1)).tolist():
            values[i] = None
    return values


# float32 data as plain JSON: datason's own writer gives each value its shortest float32 digits, or the exact double
# where reading those digits as a double and rounding to float32 would land on another value (see wire-format.md).
_F32_JSON = SerializationConfig(include_type_hints=False, nan_handling="null", max_size=2**62, max_bytes=2**62)


_F32_FINITE = _F32_JSON.replace(nan_handling="error")


def float32_text(flat: np.ndarray[Any, Any], *, finite: bool = False) -> bytes:
    """float32 data as JSON whose every number reads back (as a double, then float32) to the same bits.

    NaN and infinity become null; with ``finite``, they raise ``SerializationError`` instead (a caller's
    finiteness check and the writing in one pass).
    """
    speedups = _encoder._speedups
    text = speedups.array_json(flat) if speedups is not None else None
    return text if text is not None else _dumpb(flat, _F32_FINITE if finite else _F32_JSON)


def finite_float_text(flat: np.ndarray[Any, Any]) -> bytes | None:
    """A flat native float32 or float64 array as a JSON list of each value's shortest digits (float32's own
    for float32, as ``float32_text``), or None when a value is NaN or infinite.

    float32 goes through datason's C writer (digits and the finiteness check in one pass); float64 through
    orjson's writer (the same text) after the C finiteness check: orjson is 5-10% faster on values of mixed
    magnitudes (normal, uniform over [0, 1000), lognormal), datason's writer 20% faster on values in [0, 1)
    alone (probabilities), and the general case decides.
    """
    speedups = _encoder._speedups
    if flat.dtype == np.float32:
        if speedups is not None:
            return speedups.array_json(flat)
        return float32_text(flat) if np.isfinite(flat).all() else None
    finite = speedups.finite_floats(flat) if speedups is not None else bool(np.isfinite(flat).all())
    return orjson.dumps(flat, option=_NUMPY_OPT) if finite else None


# --- decoding ----------------------------------------------------------------------------------------------


def _fail(message: str, path: str, type_name: str | None = None) -> DeserializationError:
    return DeserializationError(message, path=path, type_name=type_name)


def header_fields(tensor: Any, path: str, config: SerializationConfig) -> tuple[str, list[int], str, dict[str, Any]]:
    """``(name, shape, datatype, parameters)`` of a tensor dict, each checked."""
    if type(tensor) is not dict:
        raise _fail("tensor must be an object", path, type(tensor).__name__)
    name = tensor.get("name")
    if type(name) is not str:
        raise _fail("name is missing or not a string", path + ".name", type(name).__name__)
    shape = tensor.get("shape")
    if type(shape) is not list:
        raise _fail("shape is missing or not a list", path + ".shape", type(shape).__name__)
    if len(shape) > 64 or not all(type(n) is int and n >= 0 for n in shape):
        raise _fail("shape must be a list of non-negative ints", path + ".shape")
    datatype = tensor.get("datatype")
    if type(datatype) is not str or datatype not in DATATYPES:
        raise _fail("datatype is missing or unknown", path + ".datatype", type(datatype).__name__)
    params = tensor.get("parameters")
    if params is None:
        params = {}
    elif type(params) is not dict:
        raise _fail("parameters must be an object", path + ".parameters", type(params).__name__)
    if math.prod(shape) > config.max_size:
        raise SecurityError(f"tensor larger than max_size={config.max_size}", path=path + ".shape")
    return name, shape, datatype, params


def decode_tensor(
    tensor: Any,
    *,
    path: str = "$.inputs[0]",
    binary: bytes | bytearray | memoryview | None = None,
    config: SerializationConfig | None = None,
    default_content_type: str | None = None,
) -> Tensor:
    """A tensor dict (and its binary slice, when ``parameters.binary_data_size`` is set) as a ``Tensor``.

    ``default_content_type`` is the request's ``parameters.content_type``, for tensors that have none.
    """
    cfg = config or _API
    name, shape, datatype, params = header_fields(tensor, path, cfg)
    ct = params.get("content_type", default_content_type)
    if ct is not None and type(ct) is not str:
        raise _fail("content_type must be a string", path + ".parameters.content_type", type(ct).__name__)
    dd = params.get("datason_dtype")
    if dd is not None and type(dd) is not str:
        raise _fail("datason_dtype must be a string", path + ".parameters.datason_dtype", type(dd).__name__)
    nullable = dd is not None and (dd in _MASKED_NAMES or dd == "category" or dd.startswith("timedelta64"))
    count = math.prod(shape)
    size = params.get("binary_data_size")
    if binary is None and size is not None:
        raise _fail("binary_data_size is set but the body has no binary part", path + ".parameters.binary_data_size")
    mask: np.ndarray[Any, Any] | None = None
    items: list[Any] | None = None
    arr: np.ndarray[Any, Any] | None = None
    if binary is not None:
        view = memoryview(binary).cast("B") if not isinstance(binary, memoryview) else binary
        if size is not None and size != len(view):
            raise _fail("binary_data_size does not match the binary data", path + ".parameters.binary_data_size")
        if datatype == "BYTES":
            raw = _bin.read_bytes_elements(view, count, path=path, max_length=cfg.max_string_length)
            items = _bytes_items(raw, ct, dd, path, cfg)
        else:
            arr = _bin.read_array(view, datatype, shape, path=path)
    else:
        if "data" not in tensor:
            raise _fail("data is missing", path + ".data")
        flat = _flat(tensor["data"], shape, count, path)
        if datatype == "BYTES":
            items = _json_items(flat, ct, dd, path, cfg)
        else:
            arr, mask = _numbers(flat, datatype, shape, nullable, path)
    value = _finish(arr, mask, items, name, shape, datatype, params, ct, dd, path, cfg)
    return Tensor(name, tuple(shape), datatype, params, value)


def _flat(data: Any, shape: list[int], count: int, path: str) -> list[Any]:
    """The row-major items of ``data``: flat, or nested exactly as deep and as long as ``shape`` says."""
    if type(data) is not list:
        raise _fail("data must be a list", path + ".data", type(data).__name__)
    if len(shape) <= 1 or (len(data) == count and (not count or type(data[0]) is not list)):
        flat = data
    else:
        from ..handlers.numpy import flatten_nested

        try:
            flat = flatten_nested(data, shape, tag="data")
        except DeserializationError:
            raise _fail("nested data do not match the shape", path + ".data") from None
    if len(flat) != count:
        raise _fail("data length does not match the shape", path + ".data")
    return flat


def _numbers(
    flat: list[Any], datatype: str, shape: list[int], nullable: bool, path: str
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    """A numeric tensor from JSON items, strictly typed; ``null`` -> NaN (FP) or a mask (nullable columns)."""
    where = path + ".data"
    types = set(map(type, flat))
    target = DATATYPES[datatype]
    mask = None
    if datatype == "BOOL":
        allowed: set[type] = {bool}
    elif datatype in _INTS:
        allowed = {int}
    else:
        allowed = {int, float}
    if _NONE in types and (nullable or datatype in _FLOATS):
        types.discard(_NONE)
        if nullable:
            mask = np.fromiter((x is None for x in flat), dtype=bool, count=len(flat))
            fill = False if datatype == "BOOL" else 0
            flat = [fill if x is None else x for x in flat]
    if str in types and datatype in _FLOATS:
        if not all(type(x) is not str or x in _SPECIAL for x in flat):
            raise _fail(f"{datatype} data hold a string other than nan/inf/-inf", where, datatype)
        flat = [_SPECIAL[x] if type(x) is str else x for x in flat]
        types.discard(str)
    if not types <= allowed:
        bad = sorted("null" if t is _NONE else t.__name__ for t in types - allowed)[0]
        raise _fail(f"{datatype} data hold a {bad}", where, datatype)
    limit = _OVERFLOW.get(datatype)
    try:
        arr = np.array(flat, dtype=target if limit is None else np.float64)
    except OverflowError:
        raise _fail(f"value out of range for {datatype}", where, datatype) from None
    if limit is not None:  # narrow floats: a finite value that would round to infinity does not fit
        if arr.size and float(np.abs(arr).max()) >= limit:
            big = np.abs(arr) >= limit
            if np.isfinite(arr[big]).any():
                raise _fail(f"value out of range for {datatype}", where, datatype)
        arr = arr.astype(np.float32 if datatype == "BF16" else target)
        if datatype == "BF16":
            arr = _to_bf16(arr)
    return arr.reshape(shape), mask


def _json_items(flat: list[Any], ct: str | None, dd: str | None, path: str, cfg: SerializationConfig) -> list[Any]:
    if not set(map(type, flat)) <= {str, _NONE}:
        raise _fail("BYTES data items must be strings", path + ".data", "BYTES")
    if _wants_text(ct, dd):
        return _text_items(flat, ct, dd, path, cfg)
    if ct == "base64":
        return [None if x is None else _b64(x, path) for x in flat]
    try:
        return [None if x is None else x.encode("utf-8") for x in flat]
    except UnicodeEncodeError:
        raise _fail("BYTES data item is not valid Unicode", path + ".data", "BYTES") from None


def _bytes_items(raw: list[bytes], ct: str | None, dd: str | None, path: str, cfg: SerializationConfig) -> list[Any]:
    """Binary BYTES elements -> items per content type (text content types read the bytes as UTF-8)."""
    if _wants_text(ct, dd):
        try:
            texts: list[Any] = [x.decode("utf-8") for x in raw]
        except UnicodeDecodeError:
            raise _fail("BYTES element is not UTF-8 text", path + ".data", "BYTES") from None
        return _text_items(texts, ct, dd, path, cfg)
    if ct == "base64":
        return [_b64(x.decode("ascii", "replace"), path) for x in raw]
    return list(raw)


def _wants_text(ct: str | None, dd: str | None) -> bool:
    if ct in ("str", "datetime", "pd_json"):
        return True
    return dd is not None and (dd.startswith("datetime64") or dd in ("string", "str") or dd[1:2] == "U")


def _text_items(texts: list[Any], ct: str | None, dd: str | None, path: str, cfg: SerializationConfig) -> list[Any]:
    """Text items for a text content type; datetimes wait for the dtype when ``datason_dtype`` names one."""
    if ct == "pd_json":
        out = []
        for x in texts:
            try:
                out.append(None if x is None else _loads(x, cfg))
            except DatasonError:
                raise _fail("pd_json item is not valid JSON within the limits", path + ".data", "BYTES") from None
        return out
    if ct == "datetime" and (dd is None or dd in ("object", "category")):
        try:
            return [None if x is None else dt.datetime.fromisoformat(x) for x in texts]
        except ValueError:
            raise _fail("datetime item is not ISO 8601 text", path + ".data", "BYTES") from None
    return texts


def _b64(text: str, path: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _fail("base64 item is not valid base64", path + ".data", "BYTES") from None


def _finish(
    arr: np.ndarray[Any, Any] | None,
    mask: np.ndarray[Any, Any] | None,
    items: list[Any] | None,
    name: str,
    shape: list[int],
    datatype: str,
    params: dict[str, Any],
    ct: str | None,
    dd: str | None,
    path: str,
    cfg: SerializationConfig,
) -> Any:
    """The tensor's Python value: datason parameters first (exact types), else the datatype's ndarray."""
    where = path + ".parameters.datason_dtype"
    if items is not None:
        kind = params.get("datason_items")
        if kind is not None:
            items = _typed_items(items, kind, path)
        if params.get("datason_na") == "nan":
            items = [math.nan if x is None else x for x in items]
    if dd is None:
        if mask is not None:  # pragma: no cover - masks exist only with a nullable datason_dtype
            raise _fail("null in data", path + ".data", datatype)
        out = _ndarray(arr, items, shape)
        return _maybe_series(out, params, name, path, cfg)
    if dd.startswith("complex"):
        if dd not in ("complex64", "complex128") or arr is None or not shape or shape[-1] != 2:
            raise _fail("complex data need FP32/FP64 with a trailing dimension of 2", where, datatype)
        if np.dtype(dd).itemsize != 2 * arr.dtype.itemsize:
            raise _fail("complex dtype does not match the datatype", where, datatype)
        pairs = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("="), copy=False)
        return _maybe_series(pairs.view(dd).reshape(shape[:-1]), params, name, path, cfg)
    match = _TIME_DTYPE.fullmatch(dd)
    if match is not None:
        times = _times(match, arr, mask, items, shape, params, path)
        if not isinstance(times, np.ndarray):
            return _series(times, params, name, path, cfg)
        return _maybe_series(times, params, name, path, cfg)
    if _TEXT_DTYPE.fullmatch(dd):
        if items is None or None in items:
            raise _fail("text dtype needs BYTES data without nulls", where, datatype)
        try:
            text_arr = np.array(items, dtype=dd) if items else np.zeros(0, dtype=dd)
        except (ValueError, TypeError, UnicodeError):
            raise _fail("items do not fit the text dtype", path + ".data", datatype) from None
        return _maybe_series(text_arr.reshape(shape), params, name, path, cfg)
    if dd == "object":
        return _maybe_series(_ndarray(arr, items, shape), params, name, path, cfg)
    import pandas as pd

    n = _column_length(shape, path)
    if dd in _MASKED_NAMES:
        if arr is None:
            raise _fail("nullable dtype needs numeric data", where, datatype)
        from ..handlers.pandas import MASKED_DTYPES

        numpy_dtype, cls = MASKED_DTYPES[dd]
        if arr.dtype != numpy_dtype:
            raise _fail("nullable dtype does not match the datatype", where, datatype)
        data = arr.reshape(n)
        values: Any = cls(data, mask.reshape(n) if mask is not None else np.zeros(n, dtype=bool))
    elif dd in ("string", "str"):
        if items is None:
            raise _fail("string dtype needs BYTES data", where, datatype)
        if not set(map(type, items)) <= {str, _NONE, float}:
            raise _fail("string items must be text", path + ".data", datatype)
        values = pd.array(items, dtype=_string_dtype(dd, params, path))
    elif dd == "category":
        values = _categorical(arr, mask, items, n, params, path, cfg)
    elif _PERIOD_DTYPE.fullmatch(dd):
        if items is None or not set(map(type, items)) <= {str, _NONE}:
            raise _fail("period dtype needs BYTES text data", where, datatype)
        try:
            values = pd.array(items, dtype=pd.PeriodDtype(dd[7:-1]))
        except (ValueError, TypeError):
            raise _fail("period items do not fit the dtype", path + ".data", datatype) from None
    else:
        raise _fail("unknown datason_dtype", where, datatype)
    return _series(values, params, name, path, cfg)


def _ndarray(arr: np.ndarray[Any, Any] | None, items: list[Any] | None, shape: list[int]) -> np.ndarray[Any, Any]:
    if arr is not None:
        return arr
    assert items is not None
    return np.fromiter(items, dtype=object, count=len(items)).reshape(shape)


def _typed_items(items: list[Any], kind: Any, path: str) -> list[Any]:
    where = path + ".data"
    if kind not in _ITEMS:
        raise _fail("unknown datason_items", path + ".parameters.datason_items")
    if not set(map(type, items)) <= {str, _NONE}:
        raise _fail("typed items must be text", where, "BYTES")
    try:
        if kind == "uuid":
            return [None if x is None else uuid.UUID(x) for x in items]
        if kind == "decimal":
            return [None if x is None else _decimal(x) for x in items]
        return [None if x is None else dt.date.fromisoformat(x) for x in items]
    except (ValueError, decimal.InvalidOperation):
        raise _fail(f"item is not {kind} text", where, "BYTES") from None


def _decimal(text: str) -> decimal.Decimal:
    if len(text) > 4300:
        raise ValueError("decimal text too long")
    return decimal.Decimal(text)


def _times(
    match: re.Match[str],
    arr: np.ndarray[Any, Any] | None,
    mask: np.ndarray[Any, Any] | None,
    items: list[Any] | None,
    shape: list[int],
    params: dict[str, Any],
    path: str,
) -> Any:
    kind, unit = match.group(1), match.group(2)
    where = path + ".parameters.datason_dtype"
    if kind == "timedelta64":
        if arr is None or arr.dtype != np.int64:
            raise _fail("timedelta64 needs INT64 data", where)
        out = arr.view(f"m8[{unit}]")
        if mask is not None:
            out = out.copy()
            out.reshape(-1)[mask] = np.timedelta64("NaT")
        return out
    if items is None or not set(map(type, items)) <= {str, _NONE}:
        raise _fail("datetime64 needs BYTES text data", where)
    tz = params.get("datason_tz")
    try:
        if tz is None:
            texts = ["NaT" if x is None else x for x in items]
            return np.array(texts, dtype=f"M8[{unit}]").reshape(shape)
        import pandas as pd

        from ..handlers.pandas import tz_from_fields

        try:
            zone = tz_from_fields(
                {"tz": tz, **({"tzlib": params["datason_tzlib"]} if "datason_tzlib" in params else {})}
            )
        except DeserializationError as exc:
            raise _fail(exc.reason, path + ".parameters.datason_tz") from None
        n = _column_length(shape, path)
        parsed = pd.to_datetime(pd.Index(items, dtype=object), format="ISO8601", utc=True)
        if unit not in ("s", "ms", "us", "ns"):
            raise _fail("a zoned datetime64 unit must be s, ms, us or ns", where)
        values = parsed.as_unit(unit).tz_convert(zone).array
        if len(values) != n:  # pragma: no cover - the length was checked with the data
            raise _fail("datetime data do not match the shape", path + ".data")
        return values
    except DeserializationError:
        raise
    except (ValueError, TypeError, OverflowError, KeyError):
        raise _fail("datetime item is not ISO 8601 text the dtype can hold", path + ".data", "BYTES") from None


def _string_dtype(kind: str, params: dict[str, Any], path: str) -> Any:
    from ..handlers.pandas import string_dtype as handler_string_dtype

    storage = params.get("datason_storage")
    if storage is not None and storage not in _STORAGES:
        raise _fail("unknown datason_storage", path + ".parameters.datason_storage")
    return handler_string_dtype(kind, storage)


def _categorical(
    arr: np.ndarray[Any, Any] | None,
    mask: np.ndarray[Any, Any] | None,
    items: list[Any] | None,
    n: int,
    params: dict[str, Any],
    path: str,
    cfg: SerializationConfig,
) -> Any:
    import pandas as pd

    categories = _index_param(params, "datason_categories", path, cfg)
    ordered = params.get("datason_ordered", False)
    if type(ordered) is not bool:
        raise _fail("datason_ordered must be a bool", path + ".parameters.datason_ordered")
    if categories is None or not categories.is_unique or categories.hasnans:
        raise _fail("category needs unique datason_categories", path + ".parameters.datason_categories")
    if items is not None:
        labels: list[Any] = items
    else:
        assert arr is not None
        labels = arr.reshape(n).tolist()
        if mask is not None:
            for i in np.flatnonzero(mask).tolist():
                labels[i] = None
    if isinstance(categories.dtype, pd.DatetimeTZDtype) or getattr(categories.dtype, "kind", "") == "M":
        labels = [None if x is None else pd.Timestamp(x) for x in labels]
    try:
        with warnings.catch_warnings():  # pandas warns (and will raise) on labels outside the categories
            warnings.simplefilter("ignore")
            values = pd.Categorical(labels, dtype=pd.CategoricalDtype(categories, ordered=ordered))
    except (ValueError, TypeError):
        raise _fail("category data hold a value that is not among the categories", path + ".data") from None
    given = sum(x is not None and not (type(x) is float and x != x) for x in labels)
    if int((values.codes >= 0).sum()) != given:
        raise _fail("category data hold a value that is not among the categories", path + ".data")
    return values


def _column_length(shape: list[int], path: str) -> int:
    if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
        return shape[0]
    raise _fail("a pandas column's shape must be [N] or [N, 1]", path + ".shape")


def _index_param(params: dict[str, Any], key: str, path: str, cfg: SerializationConfig) -> Any:
    """A pandas Index from a ``datason_*`` parameter (datason JSON text, or an already revived value)."""
    import pandas as pd

    where = f"{path}.parameters.{key}"
    raw = params.get(key)
    if raw is None:
        return None
    try:
        value = _loads(raw, cfg) if type(raw) is str else raw
        if type(value) is dict:
            from ..api import deserialize

            value = deserialize(value, cfg)
    except SecurityError as exc:
        raise SecurityError(exc.reason, path=where) from None
    except DatasonError:
        raise _fail("not a datason serialization of a pandas Index", where) from None
    if not isinstance(value, pd.Index):
        raise _fail("not a datason serialization of a pandas Index", where, type(value).__name__)
    return value


def _maybe_series(value: Any, params: dict[str, Any], name: str, path: str, cfg: SerializationConfig) -> Any:
    if params.get("datason_series") is not True:
        return value
    if isinstance(value, np.ndarray):
        value = value.reshape(_column_length(list(value.shape), path)) if value.ndim != 1 else value
    return _series(value, params, name, path, cfg)


def _series(values: Any, params: dict[str, Any], name: str, path: str, cfg: SerializationConfig) -> Any:
    import pandas as pd

    index = _index_param(params, "datason_index", path, cfg)
    if index is not None and len(index) != len(values):
        raise _fail("datason_index length does not match the data", path + ".parameters.datason_index")
    label: Any = name
    if "datason_name" in params:
        raw = params["datason_name"]
        if type(raw) is not str:
            raise _fail("datason_name must be datason JSON text", path + ".parameters.datason_name")
        try:
            label = _loads(raw, cfg)
        except DatasonError:
            raise _fail("datason_name must be datason JSON text", path + ".parameters.datason_name") from None
    dtype = object if isinstance(values, np.ndarray) and values.dtype == object else None
    return pd.Series(values, index=index, name=label, dtype=dtype, copy=False)


def frame_from_tensors(tensors: Sequence[Tensor], params: dict[str, Any], path: str, cfg: SerializationConfig) -> Any:
    """A DataFrame from column tensors and the request-level parameters (``path`` is ``$.inputs``)."""
    import pandas as pd

    columns: dict[int, Any] = {}
    length: int | None = None
    for i, t in enumerate(tensors):
        value = t.value
        if isinstance(value, pd.Series):
            col = value.array
        else:
            col = value.reshape(_column_length(list(value.shape), f"{path}[{i}]"))
        if length is None:
            length = len(col)
        elif len(col) != length:
            raise _fail("pandas columns differ in length", f"{path}[{i}].shape")
        dtype = col.dtype if not isinstance(col, np.ndarray) or col.dtype != object else None
        if isinstance(col, np.ndarray) and col.dtype == object and t.parameters.get("datason_dtype") == "object":
            dtype = object
        columns[i] = pd.Series(col, dtype=dtype, copy=False)
    root = path.rpartition(".")[0] or "$"
    index = _index_param(params, "datason_index", root, cfg)
    labels = _index_param(params, "datason_columns", root, cfg)
    df = pd.DataFrame(columns)
    if index is not None:
        if len(index) != (length or 0):
            raise _fail("datason_index length does not match the columns", root + ".parameters.datason_index")
        df.index = index
    if labels is not None:
        if len(labels) != len(tensors):
            raise _fail("datason_columns do not match the tensors", root + ".parameters.datason_columns")
        df.columns = labels
    else:
        df.columns = pd.Index([t.name for t in tensors])
    return df


def encode_tensor(
    name: str, value: Any, *, binary: bool = False, config: SerializationConfig | None = None
) -> tuple[dict[str, Any], bytes | None]:
    """One value as ``(tensor dict, binary bytes or None)``; the dict is plain JSON-ready Python."""
    cfg = config or _API
    path = "$"
    wire = wire_of(value, cfg, name=name)
    out, chunk = render(wire, name, binary=binary, config=cfg, path=path)
    if "data" in out and not isinstance(out["data"], list):
        out["data"] = orjson.loads(orjson.dumps(out["data"], option=_NUMPY_OPT))
    return out, (bytes(chunk) if chunk is not None else None)
