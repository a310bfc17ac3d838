"""Handlers for SciPy sparse matrices and arrays (imported lazily: ``import datason`` never imports SciPy).

Every format has a matrix class and an array class; each class has its own tag, ``scipy.sparse.<class>``
(``scipy.sparse.csr_matrix``, ``scipy.sparse.csr_array``, ...). What each becomes (typed payload | plain
form); docs/wire-format.md §10 has the exact grammar. ``A`` is a NumPy array payload (``numpy.ndarray``'s,
readable or compact per the config); the values' dtype is the ``data`` array's dtype:

- csr, csc, bsr: ``{"shape", "data": A, "indices": A, "indptr": A}`` (bsr: ``data`` is ``[nblocks, R, C]``,
  which also gives the block size). Index arrays, explicit zeros, duplicates and index order are kept.
- lil: as csr (its rows are written in CSR form; ``tolil()`` rebuilds it).
- coo, dok: ``{"shape", "data": A, "coords": [A, ...]}``, one index array per dimension (dok in COO form).
- dia: ``{"shape", "data": A ([n_diagonals, L]), "offsets": A}``.

Plain mode writes every format as COO triplets, ``{"format": "coo", "shape", "row", "col", "data"}``
(``"coords": [[...], ...]`` instead of ``row``/``col`` when the array is not 2-d), with nested-list data:
its size follows the stored entries, where a dense list of a 100000 x 100000 matrix would hold 10**10
numbers, and any client (SciPy, pandas, JavaScript) can rebuild it from the triplets.

datason 0.x documents still load: tag ``scipy.sparse`` with ``{"format", "shape", "dtype", "data", "row",
"col", "nnz"}`` (COO triplets) gives the ``<format>_matrix``.

Decoding checks, before building anything: the array parts against ``max_size`` / ``max_bytes`` (by the
NumPy array decoder), index arrays are integer, parts agree in length (``indptr`` has one entry per row
plus one, starts at 0, never decreases and ends at ``len(indices) == len(data)``; every coordinate array is
as long as ``data``), every index is inside the shape. Class and dtype names come from fixed tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import DeserializationError, SecurityError, SerializationError
from ..registry import DecodeContext, EncodeContext
from .kit import add_handler
from .numpy import array_from_payload, array_payload, plain_array

__all__: list[str] = []

_LEGACY_TAG = "scipy.sparse"
_FORMATS = ("csr", "csc", "coo", "bsr", "dia", "lil", "dok")
_MAX_NDIM = 64
_VALUE_KINDS = "biufc"
# datason 0.x wrote ``str(dtype)``: only these names are read.
_LEGACY_DTYPES = {
    name: np.dtype(name)
    for name in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    )
}


def _classes(kind: str) -> dict[str, type]:
    return {fmt: getattr(sp, f"{fmt}_{kind}") for fmt in _FORMATS}  # fixed names, never payload text


_MATRIX = _classes("matrix")
_ARRAY = _classes("array")


# --- encoding ---------------------------------------------------------------------------------------


def _check_dtype(m: Any, tag: str) -> None:
    if m.dtype.kind not in _VALUE_KINDS:
        raise SerializationError(f"sparse dtype kind {m.dtype.kind!r} is not supported", type_name=tag)


def _encoder(fmt: str, tag: str) -> Any:
    def encode(m: Any, ctx: EncodeContext) -> dict[str, Any]:
        _check_dtype(m, tag)
        out: dict[str, Any] = {"shape": list(m.shape)}
        if fmt in ("csr", "csc", "bsr", "lil"):
            c = m.tocsr() if fmt == "lil" else m
            out["data"] = array_payload(c.data, ctx)
            out["indices"] = array_payload(c.indices, ctx)
            out["indptr"] = array_payload(c.indptr, ctx)
        elif fmt in ("coo", "dok"):
            c = m.tocoo() if fmt == "dok" else m
            out["data"] = array_payload(c.data, ctx)
            out["coords"] = [array_payload(np.asarray(x), ctx) for x in c.coords]
        else:  # dia
            out["data"] = array_payload(m.data, ctx)
            out["offsets"] = array_payload(m.offsets, ctx)
        return out

    return encode


def _plain(m: Any, ctx: EncodeContext) -> dict[str, Any]:
    c = m.tocoo()
    out: dict[str, Any] = {"format": "coo", "shape": list(c.shape)}
    coords = [plain_array(np.asarray(x), ctx) for x in c.coords]
    if c.ndim == 2:
        out["row"], out["col"] = coords
    else:
        out["coords"] = coords
    out["data"] = plain_array(c.data, ctx)
    return out


# --- decoding ---------------------------------------------------------------------------------------


def _fail(message: str, tag: str) -> DeserializationError:
    return DeserializationError(message, type_name=tag)


def _native(a: np.ndarray) -> np.ndarray:
    return a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("="))


def _values(payload: Any, ctx: DecodeContext, tag: str, ndim: int) -> np.ndarray:
    a = array_from_payload(payload, ctx)
    if a.dtype.kind not in _VALUE_KINDS or a.ndim != ndim:
        raise _fail(f"data must be a {ndim}-d array of bool, int, float or complex", tag)
    return _native(a)


def _index(payload: Any, ctx: DecodeContext, tag: str, ndim: int = 1) -> np.ndarray:
    a = array_from_payload(payload, ctx)
    if a.dtype.kind not in "iu" or a.ndim != ndim:
        raise _fail("index arrays must be integer arrays", tag)
    return _native(a)


def _in_range(idx: np.ndarray, bound: int, tag: str) -> None:
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= bound):
        raise _fail("sparse index out of range", tag)


def _shape(value: Any, tag: str, ndims: tuple[int, ...]) -> tuple[int, ...]:
    if type(value) is not list or not all(type(n) is int and n >= 0 for n in value) or len(value) > _MAX_NDIM:
        raise _fail("shape must be a list of non-negative ints", tag)
    if ndims and len(value) not in ndims:
        raise _fail("shape has the wrong number of dimensions for this class", tag)
    return tuple(value)


def _keys(payload: Any, keys: set[str], tag: str) -> dict[str, Any]:
    if type(payload) is not dict or payload.keys() != keys:
        raise _fail(f"sparse payload needs exactly {', '.join(sorted(keys))}", tag)
    return payload


def _compressed(payload: Any, ctx: DecodeContext, fmt: str, cls: type, tag: str) -> Any:
    is_array = cls is _ARRAY[fmt]
    ndims = (1, 2) if is_array and fmt in ("csr", "lil") else (2,)
    p = _keys(payload, {"shape", "data", "indices", "indptr"}, tag)
    shape = _shape(p["shape"], tag, ndims)
    data = _values(p["data"], ctx, tag, 3 if fmt == "bsr" else 1)
    indices = _index(p["indices"], ctx, tag)
    indptr = _index(p["indptr"], ctx, tag)
    if len(shape) == 1:
        majors, minor = 1, shape[0]
    elif fmt == "bsr":
        r, c = data.shape[1:]
        if r == 0 or c == 0 or shape[0] % r or shape[1] % c:
            raise _fail("bsr block size does not divide the shape", tag)
        majors, minor = shape[0] // r, shape[1] // c
    else:
        majors, minor = (shape[1], shape[0]) if fmt == "csc" else shape
    if len(indptr) != majors + 1:
        raise _fail("indptr must have one entry per row (column for csc) plus one", tag)
    if int(indptr[0]) != 0 or (np.diff(indptr) < 0).any() or int(indptr[-1]) != len(indices):
        raise _fail("indptr must start at 0, never decrease and end at the number of indices", tag)
    if len(indices) != len(data):
        raise _fail("indices and data differ in length", tag)
    _in_range(indices, minor, tag)
    if fmt == "lil":
        csr = (_ARRAY if is_array else _MATRIX)["csr"]
        return csr((data, indices, indptr), shape=shape).tolil()
    return cls((data, indices, indptr), shape=shape)


def _coordinate(payload: Any, ctx: DecodeContext, fmt: str, cls: type, tag: str) -> Any:
    is_array = cls is _ARRAY[fmt]
    ndims: tuple[int, ...] = ((1, 2) if fmt == "dok" else ()) if is_array else (2,)
    p = _keys(payload, {"shape", "data", "coords"}, tag)
    shape = _shape(p["shape"], tag, ndims)
    data = _values(p["data"], ctx, tag, 1)
    if type(p["coords"]) is not list or len(p["coords"]) != len(shape):
        raise _fail("coords must hold one index array per dimension", tag)
    coords = tuple(_index(c, ctx, tag) for c in p["coords"])
    for idx, bound in zip(coords, shape, strict=True):
        if len(idx) != len(data):
            raise _fail("coords and data differ in length", tag)
        _in_range(idx, bound, tag)
    if fmt == "dok":
        coo = (_ARRAY if is_array else _MATRIX)["coo"]
        return coo((data, coords), shape=shape).todok()
    return cls((data, coords), shape=shape)


def _diagonal(payload: Any, ctx: DecodeContext, cls: type, tag: str) -> Any:
    p = _keys(payload, {"shape", "data", "offsets"}, tag)
    shape = _shape(p["shape"], tag, (2,))
    data = _values(p["data"], ctx, tag, 2)
    offsets = _index(p["offsets"], ctx, tag)
    if len(offsets) != data.shape[0]:
        raise _fail("offsets and data rows differ in length", tag)
    if len(np.unique(offsets)) != len(offsets):
        raise _fail("offsets repeat", tag)
    return cls((data, offsets), shape=shape)


def _legacy(payload: dict[str, Any], ctx: DecodeContext) -> Any:
    """datason 0.x: ``{"format", "shape", "dtype", "data", "row", "col", "nnz"}`` -> the ``<format>_matrix``."""
    tag = _LEGACY_TAG
    if not payload.keys() <= {"format", "shape", "dtype", "data", "row", "col", "nnz"}:
        raise _fail("unexpected members in a datason 0.x sparse payload", tag)
    fmt = payload.get("format", "coo")
    if type(fmt) is not str or fmt not in _MATRIX:
        raise _fail("format is not a sparse format", tag)
    dtype = _LEGACY_DTYPES.get(payload.get("dtype", "float64"))
    if dtype is None:
        raise _fail("dtype is not a supported dtype name", tag)
    shape = _shape(payload.get("shape"), tag, (2,))
    compressed = max(shape) if fmt in ("csr", "csc", "bsr", "lil") else 0
    if compressed > ctx.config.max_size:  # these formats (and converting to them) cost per row or column
        raise SecurityError(f"{fmt} rows larger than max_size={ctx.config.max_size}", type_name=tag)
    data, row, col = (payload.get(k) for k in ("data", "row", "col"))
    if type(data) is not list or type(row) is not list or type(col) is not list:
        raise _fail("data, row and col must be lists", tag)
    n = len(data)
    if n > ctx.config.max_size:
        raise SecurityError(f"array larger than max_size={ctx.config.max_size}", type_name=tag)
    if len(row) != n or len(col) != n or payload.get("nnz", n) != n:
        raise _fail("data, row, col and nnz differ in length", tag)
    if not all(type(i) is int for i in row) or not all(type(i) is int for i in col):
        raise _fail("row and col must be ints", tag)
    number = (bool,) if dtype.kind == "b" else (int,) if dtype.kind in "iu" else (int, float)
    if not all(type(x) in number or (x is None and dtype.kind in "fc") for x in data):
        raise _fail("data items do not match the dtype", tag)
    values = np.array([np.nan if x is None else x for x in data], dtype=dtype)
    rows, cols = np.array(row, dtype=np.int64), np.array(col, dtype=np.int64)
    _in_range(rows, shape[0], tag)
    _in_range(cols, shape[1], tag)
    return _MATRIX["coo"]((values, (rows, cols)), shape=shape).asformat(fmt)


def _decoder(fmt: str, cls: type, tag: str) -> Any:
    def decode(payload: Any, ctx: DecodeContext) -> Any:
        if fmt == "coo" and cls is _MATRIX["coo"] and type(payload) is dict and "row" in payload:
            return _legacy(payload, ctx)
        if fmt in ("csr", "csc", "bsr", "lil"):
            return _compressed(payload, ctx, fmt, cls, tag)
        if fmt in ("coo", "dok"):
            return _coordinate(payload, ctx, fmt, cls, tag)
        return _diagonal(payload, ctx, cls, tag)

    return decode


def _register() -> None:
    for classes in (_MATRIX, _ARRAY):
        for fmt, cls in classes.items():
            tag = f"scipy.sparse.{cls.__name__}"
            aliases = (_LEGACY_TAG,) if cls is _MATRIX["coo"] else ()
            encode, decode = _encoder(fmt, tag), _decoder(fmt, cls, tag)
            add_handler(cls, tag, encode, decode, _plain, revive_payload=False, aliases=aliases)


_register()
