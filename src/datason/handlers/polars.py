"""Handlers for Polars DataFrame and Series (imported lazily: ``import datason`` never imports Polars).

What each type becomes (typed payload | plain form); docs/wire-format.md section 11 has the exact layout:

- ``polars.DataFrame``: tag ``polars.DataFrame``, ``{"format": "arrow-stream", "data": BASE64}``, the frame
  as Polars writes an Arrow IPC stream (``write_ipc_stream``, uncompressed): every dtype is kept, including
  ``Categorical``, ``Enum`` (its categories and their order), ``Datetime`` unit and time zone, ``Date``,
  ``Duration``, ``Decimal``, ``List``, ``Struct`` and ``Null`` | per ``dataframe_orient``: ``records``
  (default), ``split``, ``columns``, ``index``, ``values`` as pandas lays them out for a frame with a default
  ``RangeIndex``; values in their plain forms (datetimes ISO, NaN per ``nan_handling``, categoricals as
  strings)
- ``polars.Series``: tag ``polars.Series``, the same payload for a one-column frame whose column is the
  series (its name is the column name) | list of values

Readers decode the base64 (its length checked against ``max_bytes`` first) and read it with
``polars.read_ipc_stream`` from memory only; the row count is checked against ``max_size``. Anything
malformed raises ``DeserializationError`` naming only the kind of failure. PyArrow is not needed.

Every read of a user's frame holds one module lock: Polars deadlocks when one frame is written as IPC in
one thread while another thread reads it (a write lock held across a GIL release, as in pola-rs/polars#27396).
"""

from __future__ import annotations

import io
import threading
from typing import Any

import polars as pl

from ..errors import DeserializationError, SecurityError
from ..registry import DecodeContext, EncodeContext
from .ipcstream import stream_bytes, stream_payload
from .kit import JSON_PAYLOAD, add_handler, check_rows, plain_frame

__all__: list[str] = []

_FRAMES = threading.Lock()  # see the module docstring


# --- typed mode ----------------------------------------------------------------------------------------


def _enc_frame(df: pl.DataFrame, ctx: EncodeContext) -> dict[str, str]:
    buf = io.BytesIO()
    with _FRAMES:
        df.write_ipc_stream(buf, compression="uncompressed")
    return stream_payload(buf.getbuffer())


def _read(payload: Any, ctx: DecodeContext, what: str) -> pl.DataFrame:
    cfg = ctx.config
    raw = stream_bytes(payload, ctx, what)
    try:
        df = pl.read_ipc_stream(io.BytesIO(raw))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # polars' messages may quote the bytes; its Rust panics are BaseExceptions
        raise DeserializationError(f"invalid Arrow IPC stream ({type(exc).__name__})") from None
    if df.height > cfg.max_size:
        raise SecurityError(f"{what} has more rows than max_size={cfg.max_size}")
    if df.estimated_size() > cfg.max_bytes:
        raise SecurityError(f"{what} larger than max_bytes={cfg.max_bytes}")
    return df


def _dec_frame(payload: Any, ctx: DecodeContext) -> pl.DataFrame:
    return _read(payload, ctx, "polars.DataFrame")


def _enc_series(s: pl.Series, ctx: EncodeContext) -> dict[str, str]:
    with _FRAMES:
        frame = s.to_frame()
    return _enc_frame(frame, ctx)


def _dec_series(payload: Any, ctx: DecodeContext) -> pl.Series:
    df = _read(payload, ctx, "polars.Series")
    if df.width != 1:
        raise DeserializationError("polars.Series stream must have exactly one column")
    return df.to_series(0)


# --- plain mode ----------------------------------------------------------------------------------------


def _plain_frame(df: pl.DataFrame, ctx: EncodeContext) -> Any:
    """Laid out as pandas does with a default RangeIndex (the same as the pandas handler for ``to_pandas()``)."""
    with _FRAMES:
        n = df.height
        check_rows(n, ctx)
        names = df.columns
        columns = [s.to_list() for s in df.get_columns()]
    return plain_frame(names, columns, n, ctx, "polars frames")


def _plain_series(s: pl.Series, ctx: EncodeContext) -> Any:
    with _FRAMES:
        check_rows(len(s), ctx)
        values = s.to_list()
    return ctx.encode(values)


# --- registration ----------------------------------------------------------------------------------------


# IPC payloads are JSON already and decode whole: the codec neither walks nor revives them.
add_handler(pl.DataFrame, "polars.DataFrame", _enc_frame, _dec_frame, _plain_frame, **JSON_PAYLOAD)
add_handler(pl.Series, "polars.Series", _enc_series, _dec_series, _plain_series, **JSON_PAYLOAD)
