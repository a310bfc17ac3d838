"""The binary tensor extension of the Open Inference Protocol (Triton's, also KServe's): framing only.

A binary body is a JSON header followed by raw tensor bytes. The ``Inference-Header-Content-Length`` HTTP
header gives the JSON part's length in bytes; each tensor whose ``parameters.binary_data_size`` is set
takes that many bytes, in the order the tensors appear in the header. What each tensor's bytes hold:

- BOOL: one byte per element, 0 or 1 (anything else is refused);
- UINT8..UINT64, INT8..INT64, FP16, FP32, FP64: the elements' little-endian bytes, row-major;
- BF16: the top 16 bits of each float32 (little-endian ``uint16``); decoded to float32;
- BYTES: per element a 4-byte little-endian length, then that many bytes.

Decoding fixed-size tensors is ``np.frombuffer`` on a memoryview slice of the body: a zero-copy view when
the body is a writable buffer (``bytearray``, a writable memoryview) and the slice is aligned for the
dtype; otherwise one copy, so every array handed to a model is writeable and aligned (a ``bytes`` body,
what Starlette's ``await request.body()`` gives, is read-only: views of it would break in-place model code
and ``torch.from_numpy``). Encoding copies each tensor once, into the joined body.

Sizes are checked against the body and against ``shape`` x itemsize before any array exists; errors are
``DeserializationError`` naming the field (``$.inputs[2].parameters.binary_data_size``). A body without a
JSON header (``Inference-Header-Content-Length: 0``, Triton's raw single-input form) is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DeserializationError, SecurityError, SerializationError

__all__ = [
    "FIXED_DTYPES",
    "array_buffer",
    "build_body",
    "bytes_elements",
    "parse_header_length",
    "read_array",
    "read_bytes_elements",
    "slice_tensors",
    "split_body",
]

# Wire dtype of each fixed-size datatype (BF16 travels as the uint16 top half of a float32).
FIXED_DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype("|b1"),
    "UINT8": np.dtype("|u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("|i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BF16": np.dtype("<u2"),
}
_HEADER = "Inference-Header-Content-Length"
_LEN = np.dtype("<u4")


def parse_header_length(value: int | str | None, body_size: int) -> int | None:
    """The JSON part's length from the header value: None (whole body is JSON) or 1..``body_size``."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 19:
            raise DeserializationError(f"{_HEADER} must be a decimal byte count", type_name="str")
        n = int(text)
    elif isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        raise DeserializationError(f"{_HEADER} must be an int or a decimal string", type_name=type(value).__name__)
    if n == 0:
        raise DeserializationError(
            f"{_HEADER}: 0 (a raw body without a JSON header) is not supported; send the JSON header", type_name="int"
        )
    if n < 0 or n > body_size:
        raise DeserializationError(f"{_HEADER} is outside the body", type_name="int")
    return n


def split_body(body: bytes | bytearray | memoryview, header_length: int | None) -> tuple[memoryview, memoryview]:
    """(JSON header, binary part) of a body; the binary part is empty when ``header_length`` is None."""
    view = memoryview(body)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    if header_length is None:
        return view, view[len(view) :]
    return view[:header_length], view[header_length:]


def slice_tensors(sizes: Sequence[tuple[str, Any]], rest: memoryview) -> list[memoryview]:
    """The binary part cut into one slice per ``(path, binary_data_size)``, in order; sizes must add up to it.

    ``path`` names the tensor (``$.inputs[2]``); errors name ``<path>.parameters.binary_data_size``.
    """
    out: list[memoryview] = []
    offset, total = 0, len(rest)
    for path, size in sizes:
        where = path + ".parameters.binary_data_size"
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise DeserializationError("binary_data_size must be a non-negative int", path=where)
        if size > total - offset:
            raise DeserializationError("binary_data_size goes beyond the end of the body", path=where)
        out.append(rest[offset : offset + size])
        offset += size
    if offset != total:
        raise DeserializationError("binary data sizes do not add up to the binary part of the body", path="$")
    return out


def read_array(buf: memoryview, datatype: str, shape: Sequence[int], *, path: str) -> np.ndarray[Any, Any]:
    """A fixed-size datatype's tensor from its slice: native-order, writeable, aligned (see the module doc)."""
    wire = FIXED_DTYPES[datatype]
    count = math.prod(shape)
    if count * wire.itemsize != len(buf):
        raise DeserializationError(
            "binary_data_size does not match the shape and datatype", path=path + ".parameters.binary_data_size"
        )
    arr: np.ndarray[Any, Any] = np.frombuffer(buf, dtype=wire, count=count)
    if datatype == "BF16":
        return (arr.astype(np.uint32) << 16).view(np.float32).reshape(shape)
    if datatype == "BOOL":
        as_bytes = arr.view(np.uint8)
        if count and int(as_bytes.max()) > 1:
            raise DeserializationError("BOOL binary data must be bytes 0 or 1", path=path + ".data")
    if not arr.dtype.isnative:
        arr = arr.astype(wire.newbyteorder("="))
    elif not (arr.flags.writeable and arr.flags.aligned):
        arr = arr.copy()
    return arr.reshape(shape)


def read_bytes_elements(buf: memoryview, count: int, *, path: str, max_length: int) -> list[bytes]:
    """``count`` length-prefixed BYTES elements filling ``buf`` exactly."""
    out: list[bytes] = []
    offset, end = 0, len(buf)
    where = path + ".parameters.binary_data_size"
    for _ in range(count):
        if end - offset < 4:
            raise DeserializationError("BYTES binary data end inside an element's length", path=where)
        n = int.from_bytes(buf[offset : offset + 4], "little")
        offset += 4
        if n > end - offset:
            raise DeserializationError("a BYTES element's length goes beyond its binary data", path=where)
        if n > max_length:
            raise SecurityError(f"BYTES element longer than max_string_length={max_length}", path=path + ".data")
        out.append(bytes(buf[offset : offset + n]))
        offset += n
    if offset != end:
        raise DeserializationError("BYTES binary data hold more than the shape's elements", path=where)
    return out


def array_buffer(arr: np.ndarray[Any, Any], datatype: str) -> memoryview:
    """The wire bytes of a fixed-size tensor (no copy when ``arr`` is already little-endian and C-ordered)."""
    if datatype == "BF16":
        bits = np.ascontiguousarray(arr, dtype=np.float32).view(np.uint32)
        halves: Any = (bits >> 16).astype(FIXED_DTYPES["BF16"]).reshape(-1)
        return memoryview(halves).cast("B")
    wire = FIXED_DTYPES[datatype]
    flat: Any = np.ascontiguousarray(arr, dtype=wire).reshape(-1)
    return memoryview(flat).cast("B")


def bytes_elements(items: Sequence[bytes]) -> bytes:
    """BYTES elements framed as 4-byte little-endian length + bytes, concatenated."""
    if not items:
        return b""
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    if int(lengths.max()) >= 2**32:
        raise SerializationError("a BYTES element is longer than 4 GiB, the binary extension's limit")
    prefixes = lengths.astype(_LEN).tobytes()
    parts: list[bytes | memoryview] = []
    view = memoryview(prefixes)
    for i, item in enumerate(items):
        parts.append(view[4 * i : 4 * i + 4])
        parts.append(item)
    return b"".join(parts)


def build_body(header: bytes, chunks: Sequence[Any]) -> bytes:
    """The JSON header followed by each tensor's bytes (one copy of each)."""
    return b"".join([header, *chunks])
