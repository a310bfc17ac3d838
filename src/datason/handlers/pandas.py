"""Handlers for pandas: scalars, Index, Categorical, Series and DataFrame (loaded lazily, on first use).

What each type becomes (typed payload | plain form); docs/wire-format.md specifies the layouts:

- ``Timestamp``: tag ``pandas.Timestamp``, ``{"value": int, "unit": "ns", "tz"?: "Europe/Paris", "tzlib"?}``
  (``value`` counts ``unit`` since the epoch, UTC) | ISO string (or epoch seconds/ms per ``date_format``)
- ``Timedelta``: tag ``pandas.Timedelta``, ``{"value": int, "unit": "ns"}`` | ISO 8601 duration (``P1DT2H``)
- ``Period``: tag ``pandas.Period``, ``{"ordinal": int, "freq": "M"}`` | ``str(period)`` (``"2024-01"``)
- ``Interval``: tag ``pandas.Interval``, ``{"left", "right", "closed"}`` | the same object, endpoints plain
- ``NaT``, ``NA``: tags ``pandas.NaT`` / ``pandas.NA``, ``null`` | per ``nan_handling``: ``null``, ``"NaT"`` /
  ``"NA"``, or an error
- ``Categorical``: tag ``pandas.Categorical``, a *column* with dtype ``category`` | list of values
- every ``Index`` class (``RangeIndex``, ``MultiIndex``, ``DatetimeIndex``, ...): tag ``pandas.Index``, an
  *index* (``{"kind": "range" | "index" | "multi", ...}``) | list of labels (tuples as lists)
- ``Series``: tag ``pandas.Series``, ``{"name", "index": index, "data": column}`` | per ``dataframe_orient``:
  a list (``records``, ``values``), ``{"name", "index", "data"}`` (``split``), ``{label: value}`` (``index``,
  ``columns``), ``{"schema", "data"}`` (``table``)
- ``DataFrame``: tag ``pandas.DataFrame``, ``{"index": index, "columns": index, "data": [column, ...]}``
  (one column per column, in order) | per ``dataframe_orient`` as pandas' ``to_json`` lays it out:
  ``records`` (default), ``split``, ``columns``, ``index``, ``values``, ``table``
- other pandas extension arrays (``IntegerArray``, ``DatetimeArray``, ...): tag ``pandas.array``, a column
  | list of values

A *column* is ``{"dtype": NAME, ...}``: NumPy numeric dtypes hold one array payload (the NumPy handler's
layout, readable or compact), nullable ones (``Int64``, ``boolean``, ...) add a ``mask``, ``str``/``string``
and ``object`` hold a JSON list, ``category`` holds ``categories`` (an index) and ``codes``,
``datetime64``/``timedelta64``/``period`` hold int64 counts (``NaT`` is the int64 minimum), ``interval``
holds ``left`` and ``right`` columns. Each column is one array payload, so big numeric columns go compact.

Labels, names and ``object`` items may be any value datason encodes (nested tags). dtype names, units,
frequencies and zone keys read from a payload go through whitelists or pandas' own parsers; nothing is
imported, evaluated or unpickled because a payload names it. datason 0.x documents (a Series as
``{"_series_name", "0": ...}``, a DataFrame as a list of records) still load.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DeserializationError, SecurityError, SerializationError
from ..registry import DecodeContext, EncodeContext
from .kit import JSON_PAYLOAD, add_handler, expect, zone_key
from .numpy import array_from_payload, array_payload, plain_array

__all__: list[str] = []

_INT64_MIN = np.iinfo(np.int64).min  # NaT in datetime64 / timedelta64 / period counts
_UNITS = ("s", "ms", "us", "ns")
_UNIT_SCALE = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
_CLOSED = ("left", "right", "both", "neither")
_FREQ = re.compile(r"[A-Za-z0-9\-]{1,40}")
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{6}))?)?")
_NUMPY_DTYPES = {
    name: np.dtype(name)
    for name in (
        "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 float64 complex64 complex128"
    ).split()
}
# Nullable (masked) dtypes: wire name -> (NumPy dtype of the data, array class); the mask is bool.
MASKED_DTYPES: dict[str, tuple[np.dtype[Any], Any]] = {
    **{name: (np.dtype(name.lower()), pd.arrays.IntegerArray) for name in "Int8 Int16 Int32 Int64".split()},
    **{name: (np.dtype(name.lower()), pd.arrays.IntegerArray) for name in "UInt8 UInt16 UInt32 UInt64".split()},
    "Float32": (np.dtype("float32"), pd.arrays.FloatingArray),
    "Float64": (np.dtype("float64"), pd.arrays.FloatingArray),
    "boolean": (np.dtype("bool"), pd.arrays.BooleanArray),
}
_STRING_STORAGES = ("python", "pyarrow", "pyarrow_numpy")
_LEGACY_SERIES_KEYS = ("_series_name", "_dtype", "_categories", "_ordered")
_DECIMAL_KEY = re.compile(r"-?[0-9]{1,18}")


# --- shared helpers ----------------------------------------------------------------------------------


def _int(payload: Any, what: str) -> int:
    if type(payload) is not int:
        raise DeserializationError(f"{what} must be an int")
    return int(payload)


def _choice(payload: Any, allowed: tuple[str, ...], what: str) -> str:
    if type(payload) is not str or payload not in allowed:
        raise DeserializationError(f"unknown {what}")
    return str(payload)


def _freq(payload: Any) -> str:
    if type(payload) is not str or _FREQ.fullmatch(payload) is None:
        raise DeserializationError("frequency must be an offset alias such as 'D' or 'Q-DEC'")
    return str(payload)


def _check_size(n: int, config: Any, what: str) -> None:
    if n > config.max_size:
        raise SecurityError(f"{what} larger than max_size={config.max_size}")


def _unit_of(dtype: Any) -> str:
    unit = str(np.datetime_data(dtype)[0])
    if unit not in _UNITS:
        raise SerializationError(f"datetime unit {unit!r} is not one pandas stores")
    return unit


def tz_fields(tz: dt.tzinfo) -> dict[str, str]:
    """``{"tz": text, "tzlib"?: library}``: ``UTC``, an IANA key, or a fixed offset ``+05:30`` (a custom offset
    name is dropped); ``tzlib`` names the zone library when it is not zoneinfo (``pytz``, ``dateutil``)."""
    offset = tz.utcoffset(None)
    if tz is dt.UTC or (offset is not None and not offset and "utc" in type(tz).__name__.lower()):
        return {"tz": "UTC"}
    library = type(tz).__module__.partition(".")[0]
    key = zone_key(tz)
    if key is None and library == "dateutil":
        path = getattr(tz, "_filename", None)  # dateutil zones read from the tz database
        key = path.rpartition("zoneinfo/")[2] if isinstance(path, str) and "zoneinfo/" in path else None
    if key is not None:
        if key == "UTC":
            return {"tz": "UTC"}
        return {"tz": key, "tzlib": library} if library in _TZ_LIBRARIES else {"tz": key}
    if offset is None:
        raise SerializationError(f"time zone {type(tz).__name__} has neither a key nor a fixed offset")
    text = dt.datetime(2000, 1, 1, tzinfo=dt.timezone(offset)).isoformat()[19:] or "+00:00"
    return {"tz": text, "tzlib": "pytz"} if library == "pytz" else {"tz": text}


def tz_from_fields(payload: dict[str, Any]) -> dt.tzinfo:
    """The zone ``tz_fields`` described; an IANA key is checked against the tz database before any library
    sees it (no path, no file name), and falls back to zoneinfo when the named library is not installed."""
    text, library = expect(payload.get("tz"), str, "time zone"), payload.get("tzlib")
    if library is not None and library not in _TZ_LIBRARIES:  # a fixed set: never a module to look up
        raise DeserializationError("tzlib is not a known time zone library")
    match = _OFFSET.fullmatch(text)
    if match is not None:
        sign, hours, minutes, seconds, micros = match.groups()
        offset = dt.timedelta(
            hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0), microseconds=int(micros or 0)
        )
        fixed = dt.timezone(-offset if sign == "-" else offset)
        return (_pytz_offset(fixed) or fixed) if library == "pytz" else fixed
    if text == "UTC":
        return dt.UTC
    try:
        zone = zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise DeserializationError("unknown time zone key") from None
    if library is None:
        return zone
    return _TZ_LIBRARIES[_choice(library, tuple(_TZ_LIBRARIES), "time zone library")](text) or zone


def _pytz_zone(key: str) -> dt.tzinfo | None:
    try:
        import pytz
    except ImportError:
        return None
    zone: dt.tzinfo = pytz.timezone(key)
    return zone


def _pytz_offset(fixed: dt.timezone) -> dt.tzinfo | None:
    offset = fixed.utcoffset(None)
    try:
        import pytz
    except ImportError:
        return None
    if offset % dt.timedelta(minutes=1):
        return None
    zone: dt.tzinfo = pytz.FixedOffset(offset // dt.timedelta(minutes=1))
    return zone


def _dateutil_zone(key: str) -> dt.tzinfo | None:
    try:
        import dateutil.tz
    except ImportError:
        return None
    zone = dateutil.tz.gettz(key)
    return zone if "zoneinfo/" in str(getattr(zone, "_filename", "")) else None  # not dateutil's bundled copy


_TZ_LIBRARIES: dict[str, Callable[[str], dt.tzinfo | None]] = {"pytz": _pytz_zone, "dateutil": _dateutil_zone}


class _Writer:
    """Encoding state for one pandas value: the context and, made on first need, a datason encoder."""

    __slots__ = ("ctx",)

    def __init__(self, ctx: EncodeContext) -> None:
        self.ctx = ctx

    def value(self, obj: Any) -> Any:
        """Any datason value (a label, a name, object-column items) as JSON, in the context's mode."""
        t = type(obj)
        if obj is None or t is bool or (t is int and -(2**63) <= obj < 2**63):
            return obj
        if t is str and len(obj) <= self.ctx.config.max_string_length:
            return obj
        return self.ctx.encode(obj)

    def array(self, a: np.ndarray[Any, Any]) -> Any:
        return array_payload(a, self.ctx)


class _Reader:
    """Decoding state for one pandas value."""

    __slots__ = ("config", "ctx")

    def __init__(self, ctx: DecodeContext) -> None:
        self.ctx = ctx
        self.config = ctx.config

    def value(self, node: Any) -> Any:
        """Revive a label, a name or a list of object values (nested tags decoded)."""
        t = type(node)
        if node is None or t is bool or t is int or t is float:
            return node
        return self.ctx.decode(node)

    def array(self, payload: Any, dtype: np.dtype[Any], what: str) -> np.ndarray[Any, Any]:
        """A 1-D array of exactly ``dtype`` from an array payload, writable."""
        a = array_from_payload(payload, self.ctx)
        if not isinstance(a, np.ndarray) or a.ndim != 1 or a.dtype != dtype:
            raise DeserializationError(f"{what} must be a 1-D {dtype.name} array")
        return a if a.flags.writeable else a.copy()

    def codes(self, payload: Any, n_categories: int, what: str) -> np.ndarray[Any, Any]:
        """Integer codes into ``n_categories`` values, -1 for missing, range-checked."""
        a = array_from_payload(payload, self.ctx)
        if not isinstance(a, np.ndarray) or a.ndim != 1 or a.dtype.kind not in "iu":
            raise DeserializationError(f"{what} must be a 1-D integer array")
        if len(a) and (int(a.min()) < -1 or int(a.max()) >= n_categories):
            raise DeserializationError(f"{what} out of range for {n_categories} categories")
        return a


# --- columns: one array of any supported dtype ---------------------------------------------------------


def _column(values: Any, w: _Writer) -> dict[str, Any]:
    """A 1-D pandas or NumPy array as a column object (see the module docstring)."""
    if type(values) is pd.arrays.NumpyExtensionArray:
        values = values.to_numpy()
    dtype = values.dtype
    if isinstance(dtype, np.dtype):
        return _numpy_column(np.asarray(values), w)
    if isinstance(dtype, pd.CategoricalDtype):
        return {
            "dtype": "category",
            "ordered": bool(dtype.ordered),
            "categories": _index(dtype.categories, w),
            "codes": w.array(np.asarray(values.codes)),
        }
    if isinstance(dtype, pd.DatetimeTZDtype):
        return {"dtype": "datetime64", "unit": dtype.unit, **tz_fields(dtype.tz), "data": w.array(values.asi8)}
    if isinstance(dtype, pd.StringDtype):
        kind = "string" if dtype.na_value is pd.NA else "str"
        items = values.to_numpy(dtype=object, na_value=None).tolist()
        return {"dtype": kind, "storage": dtype.storage, "data": w.value(items)}
    if isinstance(dtype, pd.PeriodDtype):
        return {"dtype": "period", "freq": values.freqstr, "data": w.array(values.asi8)}
    if isinstance(dtype, pd.IntervalDtype):
        return {
            "dtype": "interval",
            "closed": values.closed,
            "left": _column(values.left.array, w),
            "right": _column(values.right.array, w),
        }
    name = getattr(dtype, "name", None)
    if name in MASKED_DTYPES:
        data, mask = values._data, values._mask
        if not mask.any():
            return {"dtype": name, "data": w.array(data)}
        # Slots under the mask hold whatever pandas left there: written as 0, so equal values give equal text.
        return {"dtype": name, "data": w.array(np.where(mask, 0, data).astype(data.dtype)), "mask": w.array(mask)}
    raise SerializationError(f"pandas dtype {str(dtype)[:40]!r} is not supported")


def _numpy_column(a: np.ndarray[Any, Any], w: _Writer) -> dict[str, Any]:
    kind = a.dtype.kind
    if a.dtype.name in _NUMPY_DTYPES:
        return {"dtype": a.dtype.name, "data": w.array(a)}
    if kind == "O":
        return {"dtype": "object", "data": w.value(a.tolist())}
    if kind in "Mm":
        name = "datetime64" if kind == "M" else "timedelta64"
        return {"dtype": name, "unit": _unit_of(a.dtype), "data": w.array(a.view(np.int64))}
    raise SerializationError(f"NumPy dtype {a.dtype.name!r} in a pandas object is not supported")


def _read_column(payload: Any, r: _Reader) -> Any:
    """A column object back to a NumPy array or pandas extension array."""
    expect(payload, dict, "column")
    name = payload.get("dtype")
    if type(name) is not str:
        raise DeserializationError("column dtype must be a string")
    numpy_dtype = _NUMPY_DTYPES.get(name)
    if numpy_dtype is not None:
        return r.array(payload.get("data"), numpy_dtype, "column data")
    reader = _COLUMN_READERS.get(name)
    if reader is None:
        raise DeserializationError("unknown column dtype")
    return reader(payload, r)


def _as_index(values: Any, name: Any = None) -> Any:
    """An Index over decoded column values (object arrays stay object: pandas 3 would infer ``str``)."""
    dtype = object if isinstance(values, np.ndarray) and values.dtype == object else None
    return pd.Index(values, dtype=dtype, name=name, copy=False, tupleize_cols=False)


def _read_object(payload: dict[str, Any], r: _Reader) -> np.ndarray[Any, Any]:
    items = r.value(expect(payload.get("data"), list, "object column data"))
    return np.fromiter(items, dtype=object, count=len(items))


def _read_masked(payload: dict[str, Any], r: _Reader) -> Any:
    numpy_dtype, cls = MASKED_DTYPES[payload["dtype"]]
    data = r.array(payload.get("data"), numpy_dtype, "column data")
    if "mask" in payload:
        mask = r.array(payload["mask"], np.dtype(bool), "column mask")
        if len(mask) != len(data):
            raise DeserializationError("column mask and data differ in length")
    else:
        mask = np.zeros(len(data), dtype=bool)
    return cls(data, mask)


def string_dtype(kind: str, storage: Any) -> Any:
    """The pandas string dtype for a wire name: ``str`` (NaN for missing, pandas 3's default) or ``string`` (NA)."""
    if storage is not None:
        _choice(storage, _STRING_STORAGES, "string storage")
    if kind == "string":
        if storage in ("python", "pyarrow"):
            try:
                return pd.StringDtype(storage)
            except ImportError:  # pyarrow not installed here: same values, python storage
                pass
        return pd.StringDtype("python")
    for candidate in (storage, "python"):
        if candidate in ("python", "pyarrow"):
            try:
                return pd.StringDtype(candidate, na_value=np.nan)
            except (ImportError, TypeError):  # no pyarrow; or pandas 2.2 (no na_value)
                continue
    try:
        return pd.StringDtype("pyarrow_numpy")  # pandas 2.2's NaN-semantics string dtype
    except (ImportError, TypeError, ValueError):
        return np.dtype(object)


def _read_string(payload: dict[str, Any], r: _Reader) -> Any:
    items = expect(payload.get("data"), list, "string column data")
    if not set(map(type, items)) <= {str, type(None)}:
        raise DeserializationError("string column items must be strings or null")
    dtype = string_dtype(payload["dtype"], payload.get("storage"))
    if isinstance(dtype, np.dtype):
        return np.fromiter(items, dtype=object, count=len(items))
    return pd.array(items, dtype=dtype)


def _read_category(payload: dict[str, Any], r: _Reader) -> Any:
    categories = _read_flat_index(payload.get("categories"), r, "categories")
    ordered = payload.get("ordered", False)
    if type(ordered) is not bool:
        raise DeserializationError("category 'ordered' must be a bool")
    codes = r.codes(payload.get("codes"), len(categories), "category codes")
    dtype = pd.CategoricalDtype(categories, ordered=ordered)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _read_datetime(payload: dict[str, Any], r: _Reader) -> Any:
    unit = _choice(payload.get("unit"), _UNITS, "datetime unit")
    counts = r.array(payload.get("data"), np.dtype(np.int64), "datetime data")
    values = pd.array(counts.view(f"M8[{unit}]"))
    if "tz" in payload:
        return values.tz_localize("UTC").tz_convert(tz_from_fields(payload))
    return values


def _read_timedelta(payload: dict[str, Any], r: _Reader) -> Any:
    unit = _choice(payload.get("unit"), _UNITS, "timedelta unit")
    counts = r.array(payload.get("data"), np.dtype(np.int64), "timedelta data")
    return pd.array(counts.view(f"m8[{unit}]"))


def _read_period(payload: dict[str, Any], r: _Reader) -> Any:
    dtype = pd.PeriodDtype(_freq(payload.get("freq")))
    ordinals = r.array(payload.get("data"), np.dtype(np.int64), "period data")
    return pd.arrays.PeriodArray(ordinals, dtype=dtype)


def _read_interval(payload: dict[str, Any], r: _Reader) -> Any:
    closed = _choice(payload.get("closed"), _CLOSED, "interval closed side")
    left, right = _read_column(payload.get("left"), r), _read_column(payload.get("right"), r)
    if len(left) != len(right):
        raise DeserializationError("interval left and right differ in length")
    dtype = pd.IntervalDtype(left.dtype, closed=closed)
    return pd.arrays.IntervalArray.from_arrays(left, right, closed=closed, dtype=dtype)


_COLUMN_READERS: dict[str, Callable[[dict[str, Any], _Reader], Any]] = {
    "object": _read_object,
    "str": _read_string,
    "string": _read_string,
    "category": _read_category,
    "datetime64": _read_datetime,
    "timedelta64": _read_timedelta,
    "period": _read_period,
    "interval": _read_interval,
    **dict.fromkeys(MASKED_DTYPES, _read_masked),
}


# --- Index ----------------------------------------------------------------------------------------------


def _index(index: Any, w: _Writer) -> dict[str, Any]:
    """Any Index as an index object: ``range``, ``multi`` or ``index`` (class follows the column dtype)."""
    if type(index) is pd.RangeIndex:
        return {
            "kind": "range",
            "start": index.start,
            "stop": index.stop,
            "step": index.step,
            "name": w.value(index.name),
        }
    if type(index) is pd.MultiIndex:
        return {
            "kind": "multi",
            "levels": [_index(level, w) for level in index.levels],  # each named as its MultiIndex level
            "codes": [w.array(np.asarray(codes)) for codes in index.codes],
        }
    out = {"kind": "index", "name": w.value(index.name), "data": _column(index.array, w)}
    freq = getattr(index, "freq", None) if type(index) in (pd.DatetimeIndex, pd.TimedeltaIndex) else None
    if freq is not None:
        out["freq"] = index.freqstr
    return out


def _read_index(payload: Any, r: _Reader) -> Any:
    expect(payload, dict, "index")
    kind = payload.get("kind")
    if kind == "range":
        return _read_range(payload, r)
    if kind == "multi":
        return _read_multi(payload, r)
    if kind != "index":
        raise DeserializationError("unknown index kind")
    values = _read_column(payload.get("data"), r)
    name = r.value(payload.get("name"))
    if "freq" in payload:
        freq = _freq(payload["freq"])
        if isinstance(values.dtype, pd.DatetimeTZDtype) or values.dtype.kind == "M":
            return pd.DatetimeIndex(values, freq=freq, name=name)
        if values.dtype.kind == "m":
            return pd.TimedeltaIndex(values, freq=freq, name=name)
        raise DeserializationError("only datetime and timedelta indexes have a freq")
    return _as_index(values, name)


def _read_range(payload: dict[str, Any], r: _Reader) -> Any:
    start, stop, step = (_int(payload.get(key), f"range {key}") for key in ("start", "stop", "step"))
    if step == 0:
        raise DeserializationError("range step must not be zero")
    _check_size(max(0, (stop - start + step - (1 if step > 0 else -1)) // step), r.config, "range index")
    return pd.RangeIndex(start, stop, step, name=r.value(payload.get("name")))


def _read_multi(payload: dict[str, Any], r: _Reader) -> Any:
    levels_in = expect(payload.get("levels"), list, "multi-index levels")
    codes_in = expect(payload.get("codes"), list, "multi-index codes")
    if len(levels_in) != len(codes_in) or not levels_in:
        raise DeserializationError("multi-index levels and codes differ in number")
    levels = [_read_flat_index(level, r, "multi-index levels") for level in levels_in]
    codes = [r.codes(c, len(level), "multi-index codes") for c, level in zip(codes_in, levels, strict=True)]
    if len({len(c) for c in codes}) > 1:
        raise DeserializationError("multi-index codes differ in length")
    names = [level.name for level in levels]
    return pd.MultiIndex(levels=levels, codes=codes, names=names, verify_integrity=False)


def _read_flat_index(payload: Any, r: _Reader, what: str) -> Any:
    """A level or a set of categories: a ``range`` or ``index`` object of unique, non-missing labels."""
    if type(payload) is dict and payload.get("kind") == "multi":
        raise DeserializationError(f"{what} must not be a multi-index")
    index = _read_index(payload, r)
    if not index.is_unique or index.hasnans:
        raise DeserializationError(f"{what} must be unique and not missing")
    return index


# --- Series and DataFrame -------------------------------------------------------------------------------


def _enc_series(s: Any, ctx: EncodeContext) -> dict[str, Any]:
    w = _Writer(ctx)
    return {"name": w.value(s.name), "index": _index(s.index, w), "data": _column(s.array, w)}


def _dec_series(payload: Any, ctx: DecodeContext) -> Any:
    r = _Reader(ctx)
    if not _is_current_series(payload):
        return _legacy_series(payload, r)
    index = _read_index(payload["index"], r)
    values = _read_column(payload["data"], r)
    if len(values) != len(index):
        raise DeserializationError("series data and index differ in length")
    dtype = object if isinstance(values, np.ndarray) and values.dtype == object else None
    return pd.Series(values, index=index, dtype=dtype, name=r.value(payload.get("name")), copy=False)


def _is_current_series(payload: Any) -> bool:
    """This version's layout: ``index`` and ``data`` are objects (a 0.x payload maps labels to values)."""
    if type(payload) is not dict or type(payload.get("index")) is not dict or type(payload.get("data")) is not dict:
        return False
    if payload.keys() != {"name", "index", "data"}:
        raise DeserializationError("Series payload must have exactly name, index and data")
    return True


def _frame_columns(df: Any) -> Iterable[Any]:
    """The columns' arrays, in order (pandas' internal iterator when present: ten times faster)."""
    fast = getattr(df, "_iter_column_arrays", None)
    if fast is not None:
        return fast()
    return (s.array for _, s in df.items())


def _enc_frame(df: Any, ctx: EncodeContext) -> dict[str, Any]:
    w = _Writer(ctx)
    _check_size(df.shape[1], ctx.config, "DataFrame columns")
    return {
        "index": _index(df.index, w),
        "columns": _index(df.columns, w),
        "data": [_column(values, w) for values in _frame_columns(df)],
    }


def _is_current_frame(payload: Any) -> bool:
    """This version's layout: ``index`` is an object (0.x wrote records, rows, or pandas' ``to_dict`` layouts)."""
    if type(payload) is not dict or type(payload.get("index")) is not dict:
        return False
    if payload.keys() != {"index", "columns", "data"}:
        raise DeserializationError("DataFrame payload must have exactly index, columns and data")
    return True


def _dec_frame(payload: Any, ctx: DecodeContext) -> Any:
    r = _Reader(ctx)
    if not _is_current_frame(payload):
        return _legacy_frame(payload, r)
    index = _read_index(payload["index"], r)
    columns = _read_index(payload["columns"], r)
    data = expect(payload["data"], list, "DataFrame data")
    if len(data) != len(columns):
        raise DeserializationError("DataFrame data and columns differ in number")
    arrays: dict[int, Any] = {}
    for i, column in enumerate(data):
        values = _read_column(column, r)
        if len(values) != len(index):
            raise DeserializationError("a DataFrame column and the index differ in length")
        if isinstance(values, np.ndarray) and values.dtype == object:
            values = pd.Series(values, index=index, dtype=object, copy=False)  # keep object (no str inference)
        arrays[i] = values
    df = pd.DataFrame(arrays, index=index, copy=False)
    df.columns = columns
    return df


# --- datason 0.x documents ------------------------------------------------------------------------------


def _legacy_series(payload: Any, r: _Reader) -> Any:
    """0.x: ``{"_series_name"?, "<label>": value, ..., "_dtype"?, "_categories"?, "_ordered"?}``."""
    expect(payload, dict, "Series payload")
    items = {k: r.value(v) for k, v in payload.items() if k not in _LEGACY_SERIES_KEYS}
    labels: list[Any] = list(items)
    if all(_DECIMAL_KEY.fullmatch(k) for k in labels):
        numbers = [int(k) for k in labels]
        index = pd.RangeIndex(len(numbers)) if numbers == list(range(len(numbers))) else pd.Index(numbers)
    else:
        index = pd.Index(labels, dtype=object) if not labels else pd.Index(labels)
    name = r.value(payload.get("_series_name"))
    values = list(items.values())
    if payload.get("_dtype") == "category":
        categories = r.value(expect(payload.get("_categories", []), list, "0.x categories"))
        ordered = bool(payload.get("_ordered", False))
        cat = pd.Categorical(values, categories=categories, ordered=ordered)
        return pd.Series(cat, index=index, name=name)
    if not values:
        return pd.Series(values, index=index, name=name, dtype=object)
    return pd.Series(values, index=index, name=name)


def _legacy_frame(payload: Any, r: _Reader) -> Any:
    """0.x: a list of records (or of rows), a ``split`` dict, or an ``index``-oriented dict."""
    value = r.value(payload)
    limit = r.ctx.config.max_size
    if type(value) is list:
        rows = [row for row in value if type(row) is list]
        if rows and (len(rows) != len(value) or len({len(row) for row in rows}) > 1):
            raise DeserializationError("0.x DataFrame rows must all be lists of one length")
        _check_cells(len(value), _union_width(value), limit)
        return pd.DataFrame(value)
    expect(value, dict, "DataFrame payload")
    if value.keys() >= {"index", "columns", "data"}:
        index, columns = value["index"], value["columns"]
        if type(index) is not list or type(columns) is not list:
            raise DeserializationError("0.x DataFrame index and columns must be lists")
        _check_cells(len(index), len(columns), limit)  # a scalar ``data`` is broadcast to every cell
        return pd.DataFrame(data=value["data"], index=index, columns=columns)
    _check_cells(len(value), _union_width(list(value.values())), limit)
    return pd.DataFrame.from_dict(value, orient="index")


def _union_width(rows: list[Any]) -> int:
    """Columns of a frame built from records: the union of their keys (or the row length)."""
    keys: set[Any] = set()
    width = 0
    for row in rows:
        if type(row) is dict:
            keys.update(row)
        elif type(row) is list:
            width = max(width, len(row))
    return max(width, len(keys))


def _check_cells(rows: int, columns: int, limit: int) -> None:
    """Cells the frame will hold, present in the document or not (missing ones become NaN)."""
    if rows * columns > limit:
        raise SecurityError(f"DataFrame cells more than max_size={limit}")


# --- Index, Categorical and extension arrays on their own -----------------------------------------------


def _enc_index(index: Any, ctx: EncodeContext) -> dict[str, Any]:
    return _index(index, _Writer(ctx))


def _dec_index(payload: Any, ctx: DecodeContext) -> Any:
    return _read_index(payload, _Reader(ctx))


def _enc_array(values: Any, ctx: EncodeContext) -> dict[str, Any]:
    return _column(values, _Writer(ctx))


def _dec_categorical(payload: Any, ctx: DecodeContext) -> Any:
    expect(payload, dict, "Categorical payload")
    if payload.get("dtype") != "category":
        raise DeserializationError("Categorical payload must have dtype 'category'")
    return _read_column(payload, _Reader(ctx))


def _dec_array(payload: Any, ctx: DecodeContext) -> Any:
    values = _read_column(payload, _Reader(ctx))
    return pd.arrays.NumpyExtensionArray(values) if isinstance(values, np.ndarray) else values


# --- scalars --------------------------------------------------------------------------------------------


def _enc_timestamp(ts: Any, ctx: EncodeContext) -> dict[str, Any]:
    out = {"value": int(ts.asm8.view(np.int64)), "unit": ts.unit}
    if ts.tz is not None:
        out.update(tz_fields(ts.tz))
    return out


def _dec_timestamp(payload: Any, ctx: DecodeContext) -> Any:
    expect(payload, dict, "Timestamp payload")
    unit = _choice(payload.get("unit"), _UNITS, "Timestamp unit")
    value = _int(payload.get("value"), "Timestamp value")
    if not _INT64_MIN < value < 2**63:
        raise DeserializationError("Timestamp value out of the int64 range")
    ts = pd.Timestamp(np.int64(value).view(f"M8[{unit}]"))
    if "tz" in payload:
        ts = ts.tz_localize("UTC").tz_convert(tz_from_fields(payload))
    return ts


def _plain_timestamp(ts: Any, ctx: EncodeContext) -> Any:
    fmt = ctx.config.date_format
    if fmt == "iso":
        return ts.isoformat()
    seconds = int(ts.asm8.view(np.int64)) / _UNIT_SCALE[ts.unit]  # naive: read as UTC
    return seconds if fmt == "unix" else seconds * 1000


def _enc_timedelta(td: Any, ctx: EncodeContext) -> dict[str, Any]:
    return {"value": int(td.asm8.view(np.int64)), "unit": td.unit}


def _dec_timedelta(payload: Any, ctx: DecodeContext) -> Any:
    expect(payload, dict, "Timedelta payload")
    unit = _choice(payload.get("unit"), _UNITS, "Timedelta unit")
    value = _int(payload.get("value"), "Timedelta value")
    if not _INT64_MIN < value < 2**63:
        raise DeserializationError("Timedelta value out of the int64 range")
    return pd.Timedelta(np.int64(value).view(f"m8[{unit}]"))


def _plain_timedelta(td: Any, ctx: EncodeContext) -> str:
    """ISO 8601 duration as datason writes ``datetime.timedelta`` (``P1DT2H3M4.5S``), nanoseconds kept."""
    total = int(td.asm8.view(np.int64)) * (10**9 // _UNIT_SCALE[td.unit])  # Python ints: no overflow
    sign = "-" if total < 0 else ""
    days, rest = divmod(abs(total), 86400 * 10**9)
    seconds, nanos = divmod(rest, 10**9)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or nanos or not (days or clock):
        clock += f"{seconds}" + (f".{nanos:09d}".rstrip("0") if nanos else "") + "S"
    return f"{sign}P" + (f"{days}D" if days else "") + ("T" + clock if clock else "")


def _enc_period(p: Any, ctx: EncodeContext) -> dict[str, Any]:
    return {"ordinal": int(p.ordinal), "freq": p.freqstr}


def _dec_period(payload: Any, ctx: DecodeContext) -> Any:
    expect(payload, dict, "Period payload")
    return pd.Period(ordinal=_int(payload.get("ordinal"), "Period ordinal"), freq=_freq(payload.get("freq")))


def _enc_interval(iv: Any, ctx: EncodeContext) -> dict[str, Any]:
    w = _Writer(ctx)
    return {"left": w.value(iv.left), "right": w.value(iv.right), "closed": iv.closed}


def _dec_interval(payload: Any, ctx: DecodeContext) -> Any:
    expect(payload, dict, "Interval payload")
    closed = _choice(payload.get("closed"), _CLOSED, "interval closed side")
    return pd.Interval(ctx.decode(payload.get("left")), ctx.decode(payload.get("right")), closed=closed)


def _missing_plain(text: str) -> Callable[[Any, EncodeContext], Any]:
    def plain(obj: Any, ctx: EncodeContext) -> Any:
        handling = ctx.config.nan_handling
        if handling == "error":
            raise SerializationError(f"missing value {text} with nan_handling='error'")
        return text if handling == "string" else None

    return plain


def _dec_singleton(value: Any) -> Callable[[Any, DecodeContext], Any]:
    def decode(payload: Any, ctx: DecodeContext) -> Any:
        if payload is not None:
            raise DeserializationError("payload must be null")
        return value

    return decode


# --- plain mode -----------------------------------------------------------------------------------------


class _Plain:
    """Plain-mode state: the datason encoder for values, a readable-array context for NumPy columns."""

    __slots__ = ("array_ctx", "ctx")

    def __init__(self, ctx: EncodeContext) -> None:
        self.ctx = ctx
        self.array_ctx = EncodeContext(ctx.config.replace(array_format="readable"))

    def values(self, values: Any) -> list[Any]:
        """A column's values as a plain JSON list (NaN, NaT, NA per ``nan_handling``)."""
        if type(values) is pd.arrays.NumpyExtensionArray:
            values = values.to_numpy()
        dtype = values.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            return self.numbers(values)
        if getattr(dtype, "name", None) in MASKED_DTYPES:
            out = self.numbers(values._data)
            missing = values._mask.nonzero()[0]
            if len(missing):
                na = _missing_plain("NA")(pd.NA, self.ctx)
                for i in missing.tolist():
                    out[i] = na
            return out
        return self.json(list(values))

    def numbers(self, a: np.ndarray[Any, Any]) -> list[Any]:
        """Numbers as the NumPy handler writes them; non-finite floats then follow ``nan_handling``."""
        out = plain_array(a, self.array_ctx)
        if type(out) is not list:
            out = a.tolist()
        return self.json(out) if a.dtype.kind == "f" else out

    def labels(self, index: Any) -> list[Any]:
        """An Index as a JSON list (MultiIndex tuples as lists)."""
        if type(index) is pd.MultiIndex:
            return self.json([list(label) for label in index])
        return self.values(index.array)

    def keys(self, index: Any, what: str) -> list[Any]:
        """Labels as dict keys, unique as pandas requires; MultiIndex tuples as pandas writes them: ``"('a', 'x')"``."""
        if not index.is_unique:
            raise SerializationError(f"{what} must be unique for dataframe_orient={self.ctx.config.dataframe_orient!r}")
        if type(index) is pd.MultiIndex:
            return [str(label) for label in index]
        return list(index)

    def json(self, obj: Any) -> Any:
        return self.ctx.encode(obj)


def _plain_series(s: Any, ctx: EncodeContext) -> Any:
    p = _Plain(ctx)
    orient = ctx.config.dataframe_orient
    if orient in ("records", "values"):
        return p.values(s.array)
    if orient == "split":
        return {"name": p.json(s.name), "index": p.labels(s.index), "data": p.values(s.array)}
    if orient == "table":
        return _plain_table(s.to_frame(name="values" if s.name is None else s.name), p, schema_of=s)
    return p.json(dict(zip(p.keys(s.index, "Series index"), p.values(s.array), strict=True)))


def _plain_frame(df: Any, ctx: EncodeContext) -> Any:
    p = _Plain(ctx)
    orient = ctx.config.dataframe_orient
    if orient == "table":
        return _plain_table(df, p, schema_of=df)
    columns = [p.values(values) for values in _frame_columns(df)]
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in range(len(df))]
    if orient == "values":
        return rows
    if orient == "split":
        return {"columns": p.labels(df.columns), "index": p.labels(df.index), "data": rows}
    labels = p.keys(df.columns, "DataFrame columns")
    if orient == "records":
        return p.json([dict(zip(labels, row, strict=True)) for row in rows])
    keys = p.keys(df.index, "DataFrame index")
    if orient == "index":
        return p.json({key: dict(zip(labels, row, strict=True)) for key, row in zip(keys, rows, strict=True)})
    return p.json({label: dict(zip(keys, col, strict=True)) for label, col in zip(labels, columns, strict=True)})


def _plain_table(df: Any, p: _Plain, schema_of: Any) -> dict[str, Any]:
    """pandas' ``table`` orient: a Table Schema plus records that include the index columns."""
    schema = pd.io.json.build_table_schema(schema_of, version=True)
    index_names = [f["name"] for f in schema["fields"][: df.index.nlevels]]
    flat = df.copy(deep=False)
    flat.index = flat.index.set_names(index_names)
    flat = flat.reset_index()
    labels = p.keys(flat.columns, "DataFrame columns and index names")
    columns = [p.values(values) for values in _frame_columns(flat)]
    records = [dict(zip(labels, row, strict=True)) for row in zip(*columns, strict=True)]
    return {"schema": p.json(schema), "data": p.json(records)}


def _plain_index(index: Any, ctx: EncodeContext) -> list[Any]:
    return _Plain(ctx).labels(index)


def _plain_array(values: Any, ctx: EncodeContext) -> list[Any]:
    return _Plain(ctx).values(values)


def _plain_interval(iv: Any, ctx: EncodeContext) -> Any:
    return ctx.encode({"left": iv.left, "right": iv.right, "closed": iv.closed})


# --- registration ---------------------------------------------------------------------------------------


# Every payload is finished JSON, decoded whole: the codec neither walks nor revives it.
add_handler(pd.Timestamp, "pandas.Timestamp", _enc_timestamp, _dec_timestamp, _plain_timestamp, **JSON_PAYLOAD)
add_handler(pd.Timedelta, "pandas.Timedelta", _enc_timedelta, _dec_timedelta, _plain_timedelta, **JSON_PAYLOAD)
add_handler(pd.Period, "pandas.Period", _enc_period, _dec_period, lambda p, c: str(p), **JSON_PAYLOAD)
add_handler(pd.Interval, "pandas.Interval", _enc_interval, _dec_interval, _plain_interval, **JSON_PAYLOAD)
add_handler(
    type(pd.NaT), "pandas.NaT", lambda o, c: None, _dec_singleton(pd.NaT), _missing_plain("NaT"), **JSON_PAYLOAD
)
add_handler(type(pd.NA), "pandas.NA", lambda o, c: None, _dec_singleton(pd.NA), _missing_plain("NA"), **JSON_PAYLOAD)
add_handler(pd.Categorical, "pandas.Categorical", _enc_array, _dec_categorical, _plain_array, **JSON_PAYLOAD)
add_handler(
    (
        pd.Index,
        pd.RangeIndex,
        pd.MultiIndex,
        pd.DatetimeIndex,
        pd.TimedeltaIndex,
        pd.PeriodIndex,
        pd.IntervalIndex,
        pd.CategoricalIndex,
    ),
    "pandas.Index",
    _enc_index,
    _dec_index,
    _plain_index,
    **JSON_PAYLOAD,
)
add_handler(pd.Series, "pandas.Series", _enc_series, _dec_series, _plain_series, **JSON_PAYLOAD)
add_handler(pd.DataFrame, "pandas.DataFrame", _enc_frame, _dec_frame, _plain_frame, **JSON_PAYLOAD)
# Extension arrays on their own: the public classes exactly, any other subclass too (its dtype decides).
add_handler(
    (
        pd.api.extensions.ExtensionArray,
        pd.arrays.IntegerArray,
        pd.arrays.FloatingArray,
        pd.arrays.BooleanArray,
        pd.arrays.StringArray,
        pd.arrays.ArrowStringArray,
        pd.arrays.DatetimeArray,
        pd.arrays.TimedeltaArray,
        pd.arrays.PeriodArray,
        pd.arrays.IntervalArray,
        pd.arrays.NumpyExtensionArray,
    ),
    "pandas.array",
    _enc_array,
    _dec_array,
    _plain_array,
    subclasses=True,
    **JSON_PAYLOAD,
)
