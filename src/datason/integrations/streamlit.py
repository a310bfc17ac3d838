"""Streamlit helpers: show ML objects in ``st.json`` and ``st.dataframe`` as they are, read uploaded JSON typed.

Streamlit mangles what ML code hands it: ``st.json`` writes ``json.dumps(body, default=repr)`` (an ndarray
shows as its repr string, a Timestamp as ``Timestamp('...')``), ``st.dataframe`` goes through Arrow, which
turns NaN into an empty "None" cell and NaT into 1677-09-21 (streamlit/streamlit#594), and a JavaScript number
cannot hold an int64 beyond 2**53. What each helper does instead:

- ``show_json(obj, typed=False)``: ``st.json`` of ``display_json(obj)``, the document datason writes in plain
  mode (arrays, frames as records, UUIDs, Decimals, datetimes in ISO 8601 with their UTC offset), with these
  kept visible: NaN, ``inf`` and ``-inf`` as ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; pandas ``NaT`` and
  ``NA`` and NumPy ``NaT`` as ``"NaT"`` and ``"NA"``; integers beyond 2**53 as decimal strings (JavaScript would
  round them); dict keys in their own order. ``typed=True`` shows datason's typed document instead (every
  value tagged: an array's dtype and shape, a frame's index and dtypes, a datetime's zone), what
  ``datason.loads`` rebuilds exactly.
- ``show_dataframe(obj, dtypes=True)``: ``st.dataframe`` of ``display_frame(obj)``. DataFrames, Series, 1-D or
  2-D NumPy arrays (structured ones by field), records (list of dicts), dicts of columns and anything with
  ``to_pandas()`` (polars, Arrow) become a DataFrame. Columns Streamlit shows exactly stay as they are (bool,
  NumPy ints, finite float64, strings, categories without missing values); every other column becomes text,
  cell by cell: datetimes in ISO 8601 with their offset (``2024-01-01T12:00:00+01:00``), NaT as ``NaT``, NaN
  as ``NaN``, ``pd.NA`` as ``<NA>``, float32 with its own shortest digits, timedeltas and periods as pandas
  prints them, nested values (arrays, dicts) as datason's plain JSON, never a repr. With ``dtypes`` each
  column header names the original dtype (``at (datetime64[ns, Europe/Paris])``).
- ``read_upload(file, type=None)``: the bytes of an ``st.file_uploader`` file (or any object with
  ``getvalue()``/``read()``, or bytes) through ``datason.loads``: typed documents come back typed (float32
  arrays, frames with their index and zones, UUIDs); ``type=`` decodes into a declared type. An empty or
  invalid file raises ``DeserializationError`` (``SecurityError`` over a limit), a ``ValueError`` whose message
  names the file and the place in it, never a traceback's worth.
- ``upload_json(label)``: ``st.file_uploader`` plus ``read_upload``; a bad file is an ``st.error`` with that
  message on the page and the call returns None (so does no file).

Streamlit is imported by the functions that draw (``pip install "datason[dashboard]"``); ``display_json`` and
``display_frame`` need only datason (and pandas for frames).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

from ..config import SerializationConfig, get_api_config
from ..errors import DatasonError, DeserializationError, SerializationError

__all__ = ["display_frame", "display_json", "read_upload", "show_dataframe", "show_json", "upload_json"]

_JS_SAFE = 2**53  # largest integer a JavaScript number holds exactly


def _streamlit() -> Any:
    try:
        import streamlit
    except ImportError as exc:
        raise ImportError('datason.integrations.streamlit needs Streamlit: pip install "datason[dashboard]"') from exc
    return streamlit


# --- st.json -----------------------------------------------------------------------------------------------
def display_json(obj: Any, *, typed: bool = False, config: SerializationConfig | None = None) -> str:
    """The JSON text ``show_json`` hands to ``st.json`` (strict RFC 8259)."""
    import datason

    if typed:
        return datason.dumps(obj, config)
    cfg = config or get_api_config().replace(nan_handling="string", sort_keys=False)
    return datason.dumps(_safe_ints(datason.serialize(_visible(obj), cfg)), cfg)


def _visible(obj: Any) -> Any:
    """``obj`` with what plain JSON would hide made visible: NumPy NaT, ``pd.NA``, NumPy ints past 2**53."""
    if obj is None or isinstance(obj, str | float | int):
        return obj
    if isinstance(obj, dict):
        return {k: _visible(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_visible(v) for v in obj]
    module = type(obj).__module__
    if module == "numpy":
        import numpy as np

        if isinstance(obj, np.ndarray):
            if obj.dtype.kind in "Mm":
                cells = np.array([_cell(v) for v in obj.ravel()], dtype=object)
                return cells.reshape(obj.shape).tolist()
            if obj.dtype.kind in "iu" and obj.size and (obj.max() > _JS_SAFE or obj.min() < -_JS_SAFE):
                return obj.tolist()
            if obj.dtype.kind == "O":
                return _visible(obj.tolist())
            return obj
        if isinstance(obj, np.datetime64 | np.timedelta64):
            return _cell(obj)
        return obj
    if module.startswith("pandas") and type(obj).__name__ == "NAType":
        return "NA"
    return obj


def _safe_ints(data: Any) -> Any:
    """Plain JSON data with integers JavaScript would round written as decimal strings."""
    if isinstance(data, bool):
        return data
    if isinstance(data, int):
        return str(data) if abs(data) > _JS_SAFE else data
    if isinstance(data, dict):
        return {k: _safe_ints(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_safe_ints(v) for v in data]
    return data


def show_json(
    obj: Any, *, typed: bool = False, expanded: bool | int = True, config: SerializationConfig | None = None
) -> None:
    """``st.json`` of ``obj`` without reprs or lost values (see the module docstring)."""
    _streamlit().json(display_json(obj, typed=typed, config=config), expanded=expanded)


# --- st.dataframe ------------------------------------------------------------------------------------------
def display_frame(obj: Any) -> tuple[Any, dict[str, str]]:
    """(the DataFrame ``show_dataframe`` draws, each shown column's original dtype by column name)."""
    import pandas as pd

    frame = _as_frame(obj, pd)
    if isinstance(frame.index, pd.MultiIndex):
        frame = frame.reset_index()
    columns: dict[str, Any] = {}
    dtypes: dict[str, str] = {}
    for position in range(frame.shape[1]):
        label = str(frame.columns[position])
        while label in columns:
            label += "'"
        series = frame.iloc[:, position]
        columns[label] = series.array if _shown_as_is(series, pd) else [_cell(v) for v in _values(series)]
        dtypes[label] = str(series.dtype)
    index = frame.index
    if not _index_as_is(index, pd):
        index = pd.Index([_cell(v) for v in _values(index.to_series())], name=index.name, dtype=object)
    shown = pd.DataFrame(columns, index=index)
    return shown, dtypes


def _as_frame(obj: Any, pd: Any) -> Any:
    if isinstance(obj, pd.DataFrame):
        return obj
    if isinstance(obj, pd.Series):
        return obj.to_frame(name=obj.name if obj.name is not None else "value")
    if isinstance(obj, pd.Index):
        return obj.to_frame(index=False, name=obj.name if obj.name is not None else "value")
    if type(obj).__module__ == "numpy" and hasattr(obj, "ndim"):
        if obj.dtype.names:
            return pd.DataFrame({name: obj[name] for name in obj.dtype.names})
        if obj.ndim == 1:
            return pd.DataFrame({"value": obj})
        if obj.ndim == 2:
            return pd.DataFrame(obj)
        raise SerializationError(
            f"show_dataframe takes 1-D or 2-D arrays, got {obj.ndim}-D; use show_json", type_name="numpy.ndarray"
        )
    if hasattr(obj, "to_pandas"):  # polars, Arrow
        return _as_frame(obj.to_pandas(), pd)
    if isinstance(obj, list | Mapping):
        try:
            return pd.DataFrame(obj)
        except (ValueError, TypeError) as exc:
            raise SerializationError(f"cannot show this as a table ({exc})", type_name=type(obj).__name__) from None
    raise SerializationError(
        "show_dataframe takes a DataFrame, Series, array, records or dict of columns; use show_json",
        type_name=type(obj).__name__,
    )


def _shown_as_is(series: Any, pd: Any) -> bool:
    """Whether Streamlit (through Arrow) shows every value of ``series`` exactly as it is."""
    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if isinstance(dtype, pd.CategoricalDtype):
        return not bool(series.isna().any())
    if type(dtype).__module__.startswith("numpy"):
        if kind in "biu":
            return not (kind in "iu" and len(series) and (series.max() > _JS_SAFE or series.min() < -_JS_SAFE))
        if kind == "f":
            return dtype.itemsize == 8 and bool(pd.Series(series).map(math.isfinite).all())
        if kind == "O":
            return all(isinstance(v, str) for v in series.tolist())
        return False
    if isinstance(dtype, pd.StringDtype | pd.BooleanDtype | pd.Int64Dtype | pd.Int32Dtype):
        return not bool(series.isna().any())
    return False


def _values(series: Any) -> list[Any]:
    """The cells of ``series``: NumPy floats stay NumPy scalars (their own digits), the rest as pandas lists them."""
    dtype = series.dtype
    if type(dtype).__module__.startswith("numpy") and dtype.kind == "f":
        return list(series.to_numpy())
    return list(series.tolist())


def _index_as_is(index: Any, pd: Any) -> bool:
    if isinstance(index, pd.RangeIndex):
        return True
    return _shown_as_is(index.to_series(), pd)


def _cell(value: Any) -> str:
    """One value as text: what it is, never a repr."""
    import datason

    if value is None:
        return "None"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    name = type(value).__name__
    if name == "NaTType" or (name in ("datetime64", "timedelta64") and str(value) == "NaT"):
        return "NaT"
    if name == "NAType":
        return "<NA>"
    if isinstance(value, float) or name in ("float16", "float32", "float64", "longdouble"):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return str(value) if name != "float" else repr(number)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if name in ("datetime64", "timedelta64", "Timedelta", "Period", "Interval") or isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, int) or name.startswith(("int", "uint")):
        return str(int(value))
    plain = datason.serialize(_visible(value), get_api_config().replace(nan_handling="string", sort_keys=False))
    return plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False, separators=(",", ":"))


def show_dataframe(obj: Any, *, dtypes: bool = True, **dataframe_options: Any) -> None:
    """``st.dataframe`` of ``display_frame(obj)``; ``dataframe_options`` go to ``st.dataframe`` as they are."""
    st = _streamlit()
    frame, kinds = display_frame(obj)
    if dtypes:
        configured = dict(dataframe_options.pop("column_config", None) or {})
        for label, dtype in kinds.items():
            configured.setdefault(label, st.column_config.Column(label=f"{label} ({dtype})", help=f"dtype {dtype}"))
        dataframe_options["column_config"] = configured
    st.dataframe(frame, **dataframe_options)


# --- uploads -----------------------------------------------------------------------------------------------
def read_upload(file: Any, *, type: Any = None, config: SerializationConfig | None = None) -> Any:
    """The value of an uploaded JSON file, decoded by datason (typed documents come back typed)."""
    import datason

    name = str(getattr(file, "name", "") or "the upload")
    if isinstance(file, bytes | bytearray | memoryview):
        data = bytes(file)
    elif hasattr(file, "getvalue"):
        data = file.getvalue()
    elif hasattr(file, "read"):
        data = file.read()
    else:
        raise DeserializationError(
            "read_upload takes an uploaded file, a file object or bytes", type_name=file.__class__.__name__
        )
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data.strip():
        raise DeserializationError(f"{name} is empty: expected a JSON document")
    try:
        return datason.loads(data, config, type=type)
    except DatasonError as exc:
        raise exc.__class__(
            f"{name} is not a document datason can read: {exc.reason}", path=exc.path, type_name=exc.type_name
        ) from None
    except ValueError as exc:  # a declared type's own validation (pydantic...)
        raise DeserializationError(f"{name} does not match the declared type: {exc}") from None


def upload_json(
    label: str = "JSON file",
    *,
    key: str | None = None,
    type: Any = None,
    config: SerializationConfig | None = None,
    help: str | None = None,
) -> Any:
    """``st.file_uploader`` for a JSON file and its decoded value; a bad file is an ``st.error``, then None."""
    st = _streamlit()
    upload = st.file_uploader(label, type=["json"], key=key, help=help)
    if upload is None:
        return None
    try:
        return read_upload(upload, type=type, config=config)
    except ValueError as exc:
        st.error(str(exc))
        return None
