"""Handlers for PyArrow tables, record batches and arrays (imported lazily: ``import datason`` never imports
PyArrow).

What each type becomes (typed payload | plain form); docs/wire-format.md section 11 has the exact layout:

- ``pyarrow.Table``: tag ``pyarrow.Table``, ``{"format": "arrow-stream", "data": BASE64}``, the table as an
  Arrow IPC *stream* (schema with its metadata, then one record batch per chunk) | per ``dataframe_orient``:
  ``records`` (default), ``split``, ``columns``, ``index``, ``values`` as pandas lays them out for a frame with
  a default ``RangeIndex``
- ``pyarrow.RecordBatch``: tag ``pyarrow.RecordBatch``, the same payload holding exactly one batch | as a table
- ``pyarrow.Array`` (every array class): tag ``pyarrow.Array``, a stream whose schema has one field named
  ``""`` and exactly one batch | list of values
- ``pyarrow.ChunkedArray``: tag ``pyarrow.ChunkedArray``, a stream of one field, one batch per chunk | list

The IPC stream is uncompressed and carries every type, null, dictionary and metadata bit, so decoding is
exact (``equals`` plus schema equality with metadata). Readers decode the base64 (its length checked
against ``max_bytes`` first) and read it with ``pyarrow.ipc.open_stream`` from memory only: no file, no
URL, no pickled extension type (PyArrow does not unpickle). Each batch's size is checked against
``max_bytes`` and its rows against ``max_size`` as it is read; anything malformed raises
``DeserializationError`` naming only the kind of failure.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.ipc

from ..errors import DatasonError, DeserializationError, SecurityError
from ..registry import DecodeContext, EncodeContext
from .ipcstream import stream_bytes, stream_payload
from .kit import JSON_PAYLOAD, add_handler, check_rows, plain_frame

__all__: list[str] = []


# --- IPC stream ----------------------------------------------------------------------------------------


def _stream(schema: pa.Schema, batches: list[pa.RecordBatch]) -> dict[str, str]:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return stream_payload(memoryview(sink.getvalue()))


def _read(payload: Any, ctx: DecodeContext, what: str) -> tuple[pa.Schema, list[pa.RecordBatch]]:
    raw = stream_bytes(payload, ctx, what)
    cfg = ctx.config
    try:
        reader = pa.ipc.open_stream(pa.BufferReader(raw))
        batches = []
        nbytes = rows = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            nbytes += batch.get_total_buffer_size()
            rows += batch.num_rows
            if nbytes > cfg.max_bytes:
                raise SecurityError(f"{what} larger than max_bytes={cfg.max_bytes}")
            if rows > cfg.max_size:
                raise SecurityError(f"{what} has more rows than max_size={cfg.max_size}")
            batches.append(batch)
        for batch in batches:
            batch.validate(full=True)
    except DatasonError:
        raise
    except Exception as exc:  # pyarrow's messages may quote the bytes: report only the kind
        raise DeserializationError(f"invalid Arrow IPC stream ({type(exc).__name__})") from None
    return reader.schema, batches


# --- typed mode ----------------------------------------------------------------------------------------


def _enc_table(t: pa.Table, ctx: EncodeContext) -> dict[str, str]:
    columns = t.columns
    chunks = {c.num_chunks for c in columns}
    if len(chunks) == 1 and all(len({len(c.chunk(i)) for c in columns}) == 1 for i in range(chunks.pop())):
        # the same chunk boundaries in every column (empty chunks too): one batch per chunk keeps them
        batches = [
            pa.RecordBatch.from_arrays([c.chunk(i) for c in columns], schema=t.schema)
            for i in range(columns[0].num_chunks)
        ]
    else:
        batches = t.to_batches()
    return _stream(t.schema, batches)


def _dec_table(payload: Any, ctx: DecodeContext) -> pa.Table:
    schema, batches = _read(payload, ctx, "pyarrow.Table")
    return pa.Table.from_batches(batches, schema=schema)


def _enc_batch(b: pa.RecordBatch, ctx: EncodeContext) -> dict[str, str]:
    return _stream(b.schema, [b])


def _dec_batch(payload: Any, ctx: DecodeContext) -> pa.RecordBatch:
    _, batches = _read(payload, ctx, "pyarrow.RecordBatch")
    if len(batches) != 1:
        raise DeserializationError("pyarrow.RecordBatch stream must hold exactly one batch")
    return batches[0]


def _column_schema(type_: pa.DataType) -> pa.Schema:
    return pa.schema([pa.field("", type_)])


def _enc_array(a: pa.Array, ctx: EncodeContext) -> dict[str, str]:
    return _stream(_column_schema(a.type), [pa.RecordBatch.from_arrays([a], schema=_column_schema(a.type))])


def _one_column(schema: pa.Schema, what: str) -> None:
    if len(schema) != 1:
        raise DeserializationError(f"{what} stream must have exactly one field")


def _dec_array(payload: Any, ctx: DecodeContext) -> pa.Array:
    schema, batches = _read(payload, ctx, "pyarrow.Array")
    _one_column(schema, "pyarrow.Array")
    if len(batches) != 1:
        raise DeserializationError("pyarrow.Array stream must hold exactly one batch")
    return batches[0].column(0)


def _enc_chunked(a: pa.ChunkedArray, ctx: EncodeContext) -> dict[str, str]:
    schema = _column_schema(a.type)
    return _stream(schema, [pa.RecordBatch.from_arrays([chunk], schema=schema) for chunk in a.chunks])


def _dec_chunked(payload: Any, ctx: DecodeContext) -> pa.ChunkedArray:
    schema, batches = _read(payload, ctx, "pyarrow.ChunkedArray")
    _one_column(schema, "pyarrow.ChunkedArray")
    return pa.chunked_array([batch.column(0) for batch in batches], type=schema.field(0).type)


# --- plain mode ----------------------------------------------------------------------------------------


def _plain_table(t: pa.Table | pa.RecordBatch, ctx: EncodeContext) -> Any:
    check_rows(t.num_rows, ctx)
    columns = [col.to_pylist() for col in t.columns]
    return plain_frame(list(t.schema.names), columns, t.num_rows, ctx, "pyarrow tables")


def _plain_array(a: pa.Array | pa.ChunkedArray, ctx: EncodeContext) -> Any:
    check_rows(len(a), ctx)
    return ctx.encode(a.to_pylist())


# --- registration ----------------------------------------------------------------------------------------


# IPC payloads are JSON already and decode whole: the codec neither walks nor revives them.
add_handler(pa.Table, "pyarrow.Table", _enc_table, _dec_table, _plain_table, **JSON_PAYLOAD)
add_handler(pa.RecordBatch, "pyarrow.RecordBatch", _enc_batch, _dec_batch, _plain_table, **JSON_PAYLOAD)
add_handler(pa.ChunkedArray, "pyarrow.ChunkedArray", _enc_chunked, _dec_chunked, _plain_array, **JSON_PAYLOAD)
add_handler(
    pa.Array, "pyarrow.Array", _enc_array, _dec_array, _plain_array, subclasses=True, keeps_class=True, **JSON_PAYLOAD
)
