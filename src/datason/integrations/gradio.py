"""Gradio helpers: any datason-serializable value in ``gr.JSON`` and ``gr.DataFrame``, and uploads read by datason.

Gradio's own conversions lose what ML values carry: ``gr.JSON`` writes values orjson cannot (datetimes,
Decimals, DataFrames...) with ``str()`` (``2024-01-01 00:00:00+01:00``, a DataFrame's repr), and
``gr.DataFrame`` sends NaN as ``null``, which its table sorted as 0 (gradio-app/gradio#12544) and shows as the
text ``null``. These helpers hand each component a value datason already wrote:

- ``json_value(obj)``: a value for ``gr.JSON`` (dicts, lists, strings, numbers, booleans, ``null`` only).
  By default datason's plain JSON: datetimes ISO 8601 with their offset as they are (naive ones stay naive),
  dates and times ISO, timedeltas ISO 8601 durations (``PT1H``), UUIDs and Decimals strings (``"19.90"``),
  NaN, ±Infinity, ``NaT`` and ``pd.NA`` ``null``, NumPy scalars numbers (float32 with its own shortest
  digits), bytes base64, sets and tuples lists, Enums their value, dataclasses, attrs classes and pydantic
  models objects. With ``dtypes=True`` (the default), a NumPy array met in dicts, lists and tuples becomes
  ``{"dtype": "float32", "shape": [2, 3], "data": [[...]]}`` (nested lists), a pandas DataFrame
  ``{"dtypes": {column: dtype}, "shape": [rows, columns], "index": [...], "data": [records]}`` (``index`` only
  when it is not the default 0..n-1), a Series ``{"dtype", "name", "index", "data"}``, an Index
  ``{"dtype", "name", "data"}``, a Categorical ``{"dtype": "category", "categories", "ordered", "data"}``: a
  reader sees ``datetime64[ns, Europe/Paris]``, ``Int64`` or ``float32`` where plain lists would hide them.
  With ``typed=True``: datason's typed wire form instead (every type exact; copy it from the component and
  ``datason.loads`` rebuilds the value).
- ``dataframe_value(obj)``: a value for ``gr.DataFrame`` (``{"headers", "data", "metadata"}``) from a
  DataFrame, a Series, a 1-D or 2-D array, or records. Each cell's value is datason's plain JSON (numbers stay
  numbers, so the table sorts numerically; datetimes are ISO strings with their offset; missing values and
  infinities are ``null``), and its displayed text shows what the cell holds: ``NaN``, ``NaT``, ``<NA>``,
  ``None``, ``inf``, ``-inf``, the datetime with its offset. Headers carry each column's dtype
  (``score (float32)``, ``at (datetime64[ns, Europe/Paris])``, ``label (category)``); a non-default index is
  shown as the first column(s). ``dataframe(obj, **component_options)`` builds the ``gr.DataFrame`` itself,
  with a numeric, boolean or text ``datatype`` per column, read-only unless told otherwise.
- ``read_upload(file)``: the value of an uploaded JSON file (``gr.File``'s path, a path, bytes, or an object
  with ``.path``/``.name``), decoded by ``datason.loads``: datason's typed JSON comes back typed (arrays with
  their dtype and shape, DataFrames, datetimes, UUIDs...), and ``type=`` validates into a declared type as
  ``datason.loads(..., type=...)`` does. A file that is not valid JSON, too large (``max_bytes``) or that does
  not fit ``type`` raises datason's ``DeserializationError``/``SecurityError`` (``ValueError``) naming the file
  and the place: turn it into ``gr.Error(str(exc))`` to show it on the page.

Gradio is imported only by ``dataframe``: ``pip install "datason[gradio]"``.
"""

from __future__ import annotations

import math
import os
import pathlib
import sys
from typing import Any

from ..api import loads, serialize
from ..config import SerializationConfig, get_api_config, get_default_config
from ..errors import DatasonError, DeserializationError, SecurityError

__all__ = ["dataframe", "dataframe_value", "json_value", "read_upload"]

_INSTALL_HINT = 'Gradio is not installed: pip install "datason[gradio]"'


# --- gr.JSON ------------------------------------------------------------------------------------------------------


def json_value(obj: Any, *, typed: bool = False, dtypes: bool = True, config: SerializationConfig | None = None) -> Any:
    """``obj`` as a JSON-safe value for ``gr.JSON`` (see the module docstring for what each type becomes).

    ``typed``: datason's typed wire form (exact) instead of the readable plain form. ``dtypes``: wrap arrays and
    pandas objects with their dtype and shape (plain form only). ``config``: limits and formats (its
    ``include_type_hints`` is replaced by ``typed``); defaults: ``get_api_config()`` plain,
    ``get_default_config()`` typed. Raises datason's ``SerializationError`` for a value it cannot write.
    """
    base = config or (get_default_config() if typed else get_api_config())
    cfg = base if base.include_type_hints == typed else base.replace(include_type_hints=typed)
    if not typed and dtypes:
        obj = _with_dtypes(obj, cfg.max_depth, 0)
    return serialize(obj, cfg)


def _with_dtypes(obj: Any, max_depth: int, depth: int) -> Any:
    """``obj`` with each array and pandas object in its dicts, lists and tuples wrapped with its dtype."""
    t = type(obj)
    if t is dict or t is list or t is tuple:
        if depth >= max_depth:
            raise SecurityError(f"nesting deeper than max_depth={max_depth}", type_name=t.__name__)
        if t is dict:
            return {k: _with_dtypes(v, max_depth, depth + 1) for k, v in obj.items()}
        return [_with_dtypes(v, max_depth, depth + 1) for v in obj]
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.ndarray):
        return {"dtype": str(obj.dtype), "shape": list(obj.shape), "data": obj}
    pd = sys.modules.get("pandas")
    if pd is None:
        return obj
    if isinstance(obj, pd.DataFrame):
        out: dict[str, Any] = {"dtypes": {str(c): str(d) for c, d in obj.dtypes.items()}, "shape": list(obj.shape)}
        if not _default_index(pd, obj.index):
            out["index"] = obj.index
        out["data"] = obj
        return out
    if isinstance(obj, pd.Series):
        out = {"dtype": str(obj.dtype), "name": obj.name}
        if not _default_index(pd, obj.index):
            out["index"] = obj.index
        out["data"] = obj
        return out
    if isinstance(obj, pd.Index):
        return {"dtype": str(obj.dtype), "name": obj.name, "data": obj}
    if isinstance(obj, pd.Categorical):
        return {"dtype": "category", "categories": obj.categories, "ordered": bool(obj.ordered), "data": obj}
    return obj


def _default_index(pd: Any, index: Any) -> bool:
    """True for an unnamed RangeIndex 0, 1, ..., n-1 (what pandas gives when none was set)."""
    return isinstance(index, pd.RangeIndex) and index.name is None and index.start == 0 and index.step == 1


# --- gr.DataFrame -------------------------------------------------------------------------------------------------


def dataframe_value(
    obj: Any, *, index: bool | None = None, dtypes: bool = True, config: SerializationConfig | None = None
) -> dict[str, Any]:
    """A ``gr.DataFrame`` value (``{"headers", "data", "metadata": {"display_value", "styling"}}``) for ``obj``.

    ``obj``: a DataFrame, Series, 1-D or 2-D NumPy array, list of records or rows, or dict of columns.
    ``index``: show the index as leading column(s): ``None`` (default) when it is not the default 0..n-1.
    ``dtypes``: add each column's dtype to its header. ``config``: the plain datason config writing the cells
    (default ``get_api_config()``). Raises ``SerializationError`` (a ``ValueError``) for what it cannot show.
    """
    frame = _as_frame(obj)
    cfg = (config or get_api_config()).replace(include_type_hints=False, nan_handling="null")
    pd = sys.modules["pandas"]
    show_index = (not _default_index(pd, frame.index)) if index is None else index
    if show_index:
        names = [
            str(n) if n is not None else ("index" if frame.index.nlevels == 1 else f"level_{i}")
            for i, n in enumerate(frame.index.names)
        ]
        if set(names) & {str(c) for c in frame.columns}:
            names = [f"{n} (index)" for n in names]
        levels = [frame.index.get_level_values(i) for i in range(frame.index.nlevels)]
        columns: list[tuple[str, Any]] = [(n, pd.Series(lv, name=n)) for n, lv in zip(names, levels, strict=True)]
    else:
        columns = []
    columns += [(str(c), frame.iloc[:, i]) for i, c in enumerate(frame.columns)]
    headers, cells, shown = [], [], []
    for name, column in columns:
        headers.append(f"{name} ({column.dtype})" if dtypes else name)
        values, texts = _column_cells(pd, column.reset_index(drop=True), cfg)
        cells.append(values)
        shown.append(texts)
    rows = len(frame)
    data = [[col[r] for col in cells] for r in range(rows)]
    display = [[col[r] for col in shown] for r in range(rows)]
    styling = [[""] * len(columns) for _ in range(rows)]
    return {"headers": headers, "data": data, "metadata": {"display_value": display, "styling": styling}}


def dataframe(obj: Any, *, index: bool | None = None, dtypes: bool = True, **component_options: Any) -> Any:
    """A ``gr.DataFrame`` showing ``obj`` (``dataframe_value``), numeric columns typed ``number`` so they sort as
    numbers; ``component_options`` go to ``gr.DataFrame`` (``label``, ``interactive``, default read-only...).
    Works at build time and as an event handler's return value (an update of the output component)."""
    try:
        import gradio as gr
    except ImportError as exc:  # pragma: no cover - the extra is installed in the test environment
        raise ImportError(_INSTALL_HINT) from exc
    value = dataframe_value(obj, index=index, dtypes=dtypes)
    frame = _as_frame(obj)
    pd = sys.modules["pandas"]
    show_index = (not _default_index(pd, frame.index)) if index is None else index
    kinds = [_datatype(pd, frame.index.get_level_values(i).dtype) for i in range(frame.index.nlevels)]
    datatype = (kinds if show_index else []) + [_datatype(pd, d) for d in frame.dtypes]
    component_options.setdefault("interactive", False)
    component_options.setdefault("datatype", datatype or "str")
    return gr.DataFrame(value=value, **component_options)


def _datatype(pd: Any, dtype: Any) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "number"
    return "str"


def _as_frame(obj: Any) -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - the extra is installed in the test environment
        raise ImportError('pandas is not installed: pip install "datason[gradio]"') from exc
    from ..errors import SerializationError

    if isinstance(obj, pd.DataFrame):
        return obj
    if isinstance(obj, pd.Series):
        return obj.to_frame(name=obj.name if obj.name is not None else "value")
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.ndarray):
        if obj.ndim > 2 or (obj.ndim == 0):
            raise SerializationError(f"a table needs a 1-D or 2-D array, got {obj.ndim}-D", type_name="numpy.ndarray")
        return pd.DataFrame(obj if obj.ndim == 2 or obj.dtype.names else obj.reshape(-1, 1))
    if isinstance(obj, (list, tuple, dict)):
        try:
            return pd.DataFrame(obj)
        except (ValueError, TypeError) as exc:
            raise SerializationError(f"cannot lay this out as a table: {exc}", type_name=type(obj).__name__) from None
    raise SerializationError(
        "a table needs a DataFrame, Series, array, records or dict of columns", type_name=type(obj).__name__
    )


def _column_cells(pd: Any, column: Any, cfg: SerializationConfig) -> tuple[list[Any], list[str]]:
    """One column's cell values (datason's plain JSON; missing and infinite: None) and their displayed texts."""
    values = serialize(column, cfg)
    if not isinstance(values, list) or len(values) != len(column):  # a handler's plain form that is not per-row
        values = [serialize(v, cfg) for v in column.tolist()]
    missing = column.isna().to_numpy()
    default_missing = _missing_text(pd, column.dtype)
    texts: list[str] = []
    for i, value in enumerate(values):
        if missing[i]:
            raw = column.iloc[i]
            texts.append(default_missing if default_missing is not None else _text_of_missing(pd, raw))
            values[i] = None
        elif value is None:  # an infinity (plain mode writes null), or None in an object column
            raw = column.iloc[i]
            infinite = isinstance(raw, float) or type(raw).__module__ == "numpy"
            if infinite and _is_inf(raw):
                texts.append("inf" if raw > 0 else "-inf")
            else:
                texts.append("None")
        else:
            texts.append(_text(value))
    return values, texts


def _missing_text(pd: Any, dtype: Any) -> str | None:
    """How pandas shows a missing value of this dtype; None for object columns (it depends on the value)."""
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):  # its own marker: Int64 <NA>, str NaN, tz NaT...
        return _text_of_missing(pd, dtype.na_value)
    kind = getattr(dtype, "kind", "O")
    if kind in "mM":
        return "NaT"
    if kind in "fc":
        return "NaN"
    return None


def _text_of_missing(pd: Any, raw: Any) -> str:
    if raw is None:
        return "None"
    if raw is pd.NaT:
        return "NaT"
    if raw is pd.NA:
        return "<NA>"
    return "NaN"


def _is_inf(raw: Any) -> bool:
    try:
        return math.isinf(raw)
    except (TypeError, ValueError, OverflowError):
        return False


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    from ..engine import write

    return write(value, sort_keys=False, indent=None, ensure_ascii=False).decode("utf-8")


# --- uploads ------------------------------------------------------------------------------------------------------


def read_upload(file: Any, *, type: Any = None, config: SerializationConfig | None = None) -> Any:
    """The value of an uploaded JSON file, decoded by ``datason.loads`` (typed JSON comes back typed).

    ``file``: what ``gr.File``/``gr.UploadButton`` give a handler (a path string, or an object with ``.path``
    or ``.name``), a ``pathlib.Path``, or the bytes. ``type``: validate into this type (as ``loads(...,
    type=...)``). ``config``: limits and decoding (default ``get_default_config()``). Raises
    ``DeserializationError`` (no file, unreadable, not JSON, does not fit ``type``) or ``SecurityError`` (over
    ``max_bytes``, too deep...), both ``ValueError`` and naming the file and the place, never the content.
    """
    cfg = config or get_default_config()
    data, name = _read_bytes(file, cfg.max_bytes)
    try:
        return loads(data, cfg, type=type)
    except DatasonError as exc:
        raise _named(exc, name) from None
    except ValueError as exc:  # a declared type's own validation (pydantic...)
        raise DeserializationError(
            f"{name}: does not match the requested type ({_first_line(exc)})",
            type_name=getattr(type, "__name__", None),
        ) from None


def _read_bytes(file: Any, max_bytes: int) -> tuple[bytes, str]:
    if file is None:
        raise DeserializationError("no file was uploaded")
    if isinstance(file, (bytes, bytearray, memoryview)):
        return bytes(file), "the upload"
    path = _path_of(file)
    if path is None:
        raise DeserializationError("not an uploaded file", type_name=type(file).__name__)
    name = path.name or "the upload"
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SecurityError(f"{name}: file of {size} bytes is larger than max_bytes={max_bytes}")
        return path.read_bytes(), name
    except OSError as exc:
        raise DeserializationError(f"{name}: cannot be read ({exc.strerror or type(exc).__name__})") from None


def _path_of(file: Any) -> pathlib.Path | None:
    if isinstance(file, (str, os.PathLike)):
        return pathlib.Path(file)
    if isinstance(file, dict):  # a FileData payload as JSON
        file = file.get("path") or file.get("name")
        return pathlib.Path(file) if isinstance(file, str) else None
    for attr in ("path", "name"):  # gradio's FileData, a NamedString, a tempfile wrapper
        value = getattr(file, attr, None)
        if isinstance(value, (str, os.PathLike)):
            return pathlib.Path(value)
    return None


def _named(exc: DatasonError, name: str) -> DatasonError:
    """The same datason error with the file's name in front of its reason."""
    return type(exc)(f"{name}: {exc.reason}", path=exc.path, type_name=exc.type_name)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
