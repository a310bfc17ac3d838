"""Handlers for NumPy arrays and scalars (imported lazily: ``import datason`` never imports NumPy).

What each type becomes (typed payload | plain form); docs/wire-format.md has the exact grammar:

- ``numpy.ndarray``: tag ``numpy.ndarray``, ``{"dtype", "shape", BODY}`` | nested lists.
  ``dtype`` is the dtype string with its byte order (``"<f8"``, ``">i4"``, ``"|b1"``, ``"<M8[ns]"``,
  ``"<U5"``, ``"|S3"``, ``"|V8"``, ``"|O"``) or, for a structured dtype, ``{"names", "formats",
  "offsets", "itemsize", "titles"?, "aligned"?}``; ``shape`` is a list of ints. BODY is one of:

  - ``"data"`` (readable): nested lists in C order. Bools and ints as JSON numbers; floats as numbers
    (float16/32 with the shortest digits that come back exactly) and ``"nan"``, ``"-nan"``, ``"inf"``,
    ``"-inf"`` strings; complex as ``[real, imag]`` pairs of those; datetime64 as ISO strings (``"NaT"``);
    timedelta64 as int counts of the unit (``"NaT"``); ``U`` as strings; ``S`` and unstructured ``V`` items
    as base64 strings; object arrays as their elements, encoded by datason (typed values stay typed).
  - ``"base64"`` (compact): the C-order raw bytes, in the dtype's byte order, standard base64.
  - ``"fields"`` (readable structured arrays): one array payload per field, in ``names`` order.

  ``array_format="auto"`` writes compact when ``size > compact_threshold``; ``"readable"`` and
  ``"compact"`` force one. Object arrays are always readable. A readable form that could not keep every
  bit falls back to compact: long double, a NaN other than the default quiet NaN (either sign), a ``U``
  code point that is not a Unicode scalar value, a datetime64 that ISO text does not bring back.
- NumPy scalars: tag ``numpy.<name>`` (``numpy.float32``, ``numpy.int64``, ``numpy.bool_``, ...):
  bool -> ``true``/``false`` | the same; ints -> the number | the same; floats -> the number or a special
  string as above | the number (``nan_handling`` for NaN/Infinity); complex -> ``{"real", "imag"}`` | the
  same; ``str_`` -> the string; ``bytes_`` -> base64 | the same; datetime64, timedelta64, void, long
  double and any value a number cannot carry exactly -> the 0-d array payload | ISO string (``null`` for
  NaT; epoch numbers per ``date_format``), ISO 8601 duration (``null`` for NaT), a record dict or base64,
  the nearest double.

Plain mode: datetime64 follows ``date_format``, floats ``nan_handling``, structured arrays become lists of
``{field: value}`` records. datason 0.x documents still load: ``numpy.ndarray`` with a bare nested list
(dtype inferred) and scalar tags with a bare number or bool.

Decoding never imports or looks up names from the payload: dtypes are checked against a whitelist of
kinds (``b i u f c M m U S V``; object only with a readable body), the declared element count against
``max_size`` and its bytes against ``max_bytes`` before anything is allocated, and a compact body's
length against the dtype and shape before it is decoded.
"""

from __future__ import annotations

import binascii
import math
import re
import sys
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import orjson

from ..errors import DeserializationError, SecurityError, SerializationError
from ..registry import DecodeContext, EncodeContext
from ..wire import RawJSON
from .kit import add_handler, b64decode, b64encode

_pybase64: Any
try:  # SIMD base64: ~20x binascii on large arrays (the ``numpy`` extra installs it)
    import pybase64 as _pybase64
except ImportError:  # pragma: no cover - exercised only without the extra
    _pybase64 = None

__all__ = ["array_from_payload", "array_payload", "plain_array"]

_TAG = "numpy.ndarray"
_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_BODIES = ("data", "base64", "fields")
_MAX_NDIM = 64
_MAX_DTYPE_DEPTH = 16
_INEXACT = object()  # a readable form cannot keep every bit: write compact instead
# Value bytes of a long double stored as x87 80-bit extended (12 or 16 bytes with padding), else 0.
_X87_BYTES = 10 if np.finfo(np.longdouble).nmant == 63 and sys.byteorder == "little" else 0

# Every dtype string this module writes (``dtype.str``); anything else is refused on decode.
_DTYPE_STR = re.compile(
    r"\|b1|\|[iu]1|[<>][iu][248]|[<>]f(?:2|4|8|12|16)|[<>]c(?:8|16|24|32)"
    r"|[<>][Mm]8(?:\[(?:[1-9][0-9]{0,8})?(?:Y|M|W|D|h|m|s|ms|us|ns|ps|fs|as)\])?"
    r"|[<>]U[1-9][0-9]{0,9}|\|[SV][1-9][0-9]{0,9}"
)
# What np.datetime_as_string writes: a year of any width, then ever finer fields; no zone.
_DATETIME_TEXT = re.compile(
    r"NaT|[-+]?[0-9]{1,20}(?:-[0-9]{2}(?:-[0-9]{2}(?:T[0-9]{2}(?::[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,18})?)?)?)?)?)?"
)
_STRUCT_KEYS = frozenset({"names", "formats", "offsets", "itemsize", "titles", "aligned"})
_STRUCT_REQUIRED = frozenset({"names", "formats", "offsets", "itemsize"})

# By float size: the default quiet NaN's bits without the sign, and the mask that clears the sign.
# Readable floats write only these NaNs (as "nan" / "-nan"); any other NaN goes compact.
_QNAN = {2: np.uint16(0x7E00), 4: np.uint32(0x7FC00000), 8: np.uint64(0x7FF8000000000000)}
_NOSIGN = {2: np.uint16(0x7FFF), 4: np.uint32(0x7FFFFFFF), 8: np.uint64(0x7FFFFFFFFFFFFFFF)}
_SPECIAL_FLOATS = {"nan": math.nan, "-nan": -math.nan, "inf": math.inf, "-inf": -math.inf}
_ATTOSECONDS = {
    "W": 7 * 86400 * 10**18,
    "D": 86400 * 10**18,
    "h": 3600 * 10**18,
    "m": 60 * 10**18,
    "s": 10**18,
    "ms": 10**15,
    "us": 10**12,
    "ns": 10**9,
    "ps": 10**6,
    "fs": 10**3,
    "as": 1,
}


# --- shared helpers ---------------------------------------------------------------------------------


def _native(a: np.ndarray) -> np.ndarray:
    """``a`` in native byte order and C order (0-d stays 0-d)."""
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return a if a.flags.c_contiguous else a.copy(order="C")


def _check_size(a: np.ndarray, max_size: int) -> None:
    if a.size > max_size:
        raise SecurityError(f"array larger than max_size={max_size}", type_name=_TAG)


def _json_numbers(b: np.ndarray, native: bool) -> Any:
    """Nested lists of a native, C-ordered bool/int/float64 array: pre-encoded by orjson when allowed."""
    if native and b.ndim:
        return RawJSON(orjson.dumps(b, option=_NUMPY))
    return b.tolist()


def _exact_short(b: np.ndarray) -> np.ndarray:
    """float64 values whose shortest digits bring back ``b`` (finite, native, C order) exactly.

    float16/32 values get their own type's shortest digits (orjson's for float32, numpy's for float16),
    except the rare ones where parsing those digits as a double and rounding again lands elsewhere
    (7.038531e-26 in float32): those keep the exact double value.
    """
    if b.dtype.itemsize == 8:
        return b
    flat = b.reshape(-1)
    if b.dtype.itemsize == 2:
        values = flat.astype("U16").astype(np.float64)
    else:
        values = np.array(orjson.loads(orjson.dumps(flat, option=_NUMPY)), dtype=np.float64)
    uint = np.dtype(f"u{b.dtype.itemsize}")
    wrong = values.astype(b.dtype).view(uint) != flat.view(uint)
    if wrong.any():
        values[wrong] = flat[wrong]
    return values.reshape(b.shape)


def _special_masks(b: np.ndarray) -> list[tuple[str, np.ndarray]] | None:
    """Where ``b`` holds each non-finite value; None when a NaN is not the default quiet NaN."""
    size = b.dtype.itemsize
    nan = np.isnan(b)
    if (nan & ((b.view(f"u{size}") & _NOSIGN[size]) != _QNAN[size])).any():
        return None
    sign = np.signbit(b)
    return [("nan", nan & ~sign), ("-nan", nan & sign), ("inf", np.isposinf(b)), ("-inf", np.isneginf(b))]


def _complex_pairs(b: np.ndarray) -> np.ndarray:
    """A native complex array as floats with a trailing axis of 2 (real, imag)."""
    half = np.dtype(f"f{b.dtype.itemsize // 2}")
    return b.reshape(-1).view(half).reshape((*b.shape, 2))


def _base64_items(b: np.ndarray) -> Any:
    """Nested lists of base64 strings, one per ``S``/``V`` item."""
    out = np.empty(b.size, dtype=object)
    out[:] = [b64encode(item) for item in b.reshape(-1).tolist()]
    return out.reshape(b.shape).tolist()


def _b64encode(buf: Any) -> bytes:
    if _pybase64 is not None:
        return bytes(_pybase64.b64encode(buf))
    return binascii.b2a_base64(buf, newline=False)


def _b64decode(text: str) -> bytearray:
    try:
        if _pybase64 is not None:
            out: bytearray = _pybase64.b64decode_as_bytearray(text, validate=True)
            return out
        return bytearray(binascii.a2b_base64(text.encode("ascii"), strict_mode=True))
    except (ValueError, TypeError, UnicodeEncodeError):
        raise DeserializationError("malformed base64", type_name=_TAG) from None


# --- dtypes on the wire -----------------------------------------------------------------------------


def _dtype_json(dt: np.dtype) -> Any:
    """A dtype as JSON: its string, a structured-dtype object, or (a field format) a subarray object."""
    if dt.fields is not None:
        names = list(dt.names or ())
        fields = [dt.fields[name] for name in names]
        spec: dict[str, Any] = {
            "names": names,
            "formats": [_dtype_json(field[0]) for field in fields],
            "offsets": [field[1] for field in fields],
            "itemsize": dt.itemsize,
        }
        titles = [field[2] if len(field) > 2 else None for field in fields]
        if any(title is not None for title in titles):
            if not all(title is None or type(title) is str for title in titles):
                raise SerializationError("structured dtype titles must be strings", type_name=_TAG)
            spec["titles"] = titles
        if dt.isalignedstruct:
            spec["aligned"] = True
        return spec
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        return {"base": _dtype_json(base), "shape": list(shape)}
    if dt.kind == "O":
        return "|O"
    if _DTYPE_STR.fullmatch(dt.str) is None:
        raise SerializationError(f"dtype kind {dt.kind!r} is not supported", type_name=_TAG)
    return dt.str


def _dtype_from_json(spec: Any, cfg: Any, *, allow_object: bool = False, depth: int = 0) -> np.dtype:
    """The dtype a payload declares, checked against the whitelist (nothing is looked up by name)."""
    if type(spec) is str:
        if spec == "|O":
            if allow_object:
                return np.dtype(object)
            raise DeserializationError("object dtype is only allowed with a readable data body", type_name=_TAG)
        if _DTYPE_STR.fullmatch(spec) is None:
            raise DeserializationError("dtype is not an allowed dtype string", type_name=_TAG)
        try:
            dt = np.dtype(spec)
        except (TypeError, ValueError):
            raise DeserializationError("dtype is not available on this platform", type_name=_TAG) from None
        if dt.str != spec:
            raise DeserializationError("dtype string is not in canonical form", type_name=_TAG)
        return dt
    if type(spec) is dict and depth < _MAX_DTYPE_DEPTH:
        return _struct_dtype(spec, cfg, depth)
    raise DeserializationError("dtype must be a dtype string or a structured dtype object", type_name=_TAG)


def _struct_dtype(spec: dict[str, Any], cfg: Any, depth: int) -> np.dtype:
    keys = spec.keys()
    if not keys <= _STRUCT_KEYS or not keys >= _STRUCT_REQUIRED:
        raise DeserializationError("structured dtype needs names, formats, offsets and itemsize", type_name=_TAG)
    names, formats, offsets, itemsize = spec["names"], spec["formats"], spec["offsets"], spec["itemsize"]
    titles, aligned = spec.get("titles"), spec.get("aligned", False)
    if not (type(names) is list and type(formats) is list and type(offsets) is list):
        raise DeserializationError("structured dtype names, formats and offsets must be lists", type_name=_TAG)
    if not len(names) == len(formats) == len(offsets) or len(names) > cfg.max_size:
        raise DeserializationError("structured dtype lists differ in length", type_name=_TAG)
    if not all(type(name) is str for name in names) or type(aligned) is not bool:
        raise DeserializationError("structured dtype names must be strings", type_name=_TAG)
    if not all(_is_count(o) for o in offsets) or not _is_count(itemsize) or itemsize > cfg.max_bytes:
        raise DeserializationError("structured dtype offsets and itemsize must be non-negative ints", type_name=_TAG)
    out: dict[str, Any] = {
        "names": names,
        "formats": [_field_dtype(f, cfg, depth + 1) for f in formats],
        "offsets": offsets,
        "itemsize": itemsize,
    }
    if titles is not None:
        if type(titles) is not list or len(titles) != len(names):
            raise DeserializationError("structured dtype titles must be a list like names", type_name=_TAG)
        if not all(title is None or type(title) is str for title in titles):
            raise DeserializationError("structured dtype titles must be strings or null", type_name=_TAG)
        out["titles"] = titles
    try:
        return np.dtype(cast(Any, out), align=aligned)
    except (TypeError, ValueError):
        raise DeserializationError("structured dtype is inconsistent", type_name=_TAG) from None


def _field_dtype(spec: Any, cfg: Any, depth: int) -> np.dtype:
    """A field format: a dtype, or ``{"base": dtype, "shape": [...]}`` for a subarray field."""
    if type(spec) is dict and "base" in spec:
        if spec.keys() != {"base", "shape"}:
            raise DeserializationError("subarray dtype needs exactly base and shape", type_name=_TAG)
        shape = _shape(spec["shape"], cfg)
        if not shape:
            raise DeserializationError("subarray dtype shape must not be empty", type_name=_TAG)
        return np.dtype((_dtype_from_json(spec["base"], cfg, depth=depth + 1), tuple(shape)))
    return _dtype_from_json(spec, cfg, depth=depth)


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _shape(value: Any, cfg: Any) -> list[int]:
    """A declared shape, checked: ints >= 0, at most 64 dims, element count within ``max_size``."""
    if type(value) is not list or len(value) > _MAX_NDIM or not all(_is_count(n) for n in value):
        raise DeserializationError("shape must be a list of at most 64 non-negative ints", type_name=_TAG)
    if math.prod(value) > cfg.max_size or any(n > cfg.max_size for n in value):
        raise SecurityError(f"array larger than max_size={cfg.max_size}", type_name=_TAG)
    return value


# --- typed encoding ---------------------------------------------------------------------------------


def array_payload(a: np.ndarray, ctx: EncodeContext) -> dict[str, Any]:
    """The typed payload of ``a``: readable or compact as ``ctx.config`` decides.

    The payload may hold ``RawJSON`` (only when ``ctx.native_ok``) and, for object arrays, any value
    datason encodes: hand it to the codec with ``payload_is_json=False``.
    """
    cfg = ctx.config
    _check_size(a, cfg.max_size)
    if a.dtype.hasobject:
        if a.dtype.kind != "O":
            raise SerializationError("structured dtypes with object fields are not supported", type_name=_TAG)
        return {"dtype": "|O", "shape": list(a.shape), "data": a.tolist()}
    fmt = cfg.array_format
    compact = fmt == "compact" or (fmt == "auto" and a.size > cfg.compact_threshold)
    return _payload(a, ctx, compact=compact)


def _payload(a: np.ndarray, ctx: EncodeContext, *, compact: bool) -> dict[str, Any]:
    dtype = _dtype_json(a.dtype)
    shape = list(a.shape)
    if not compact:
        if a.dtype.names is not None:
            return {
                "dtype": dtype,
                "shape": shape,
                "fields": [_payload(a[n], ctx, compact=False) for n in a.dtype.names],
            }
        data = _readable(a, ctx.native_ok)
        if data is not _INEXACT:
            return {"dtype": dtype, "shape": shape, "data": data}
    return {"dtype": dtype, "shape": shape, "base64": _base64_body(a, ctx)}


def _readable(a: np.ndarray, native: bool) -> Any:
    """The ``data`` body of an unstructured array, or ``_INEXACT`` when only compact keeps every bit."""
    kind, size = a.dtype.kind, a.dtype.itemsize
    b = _native(a)
    if kind in "biu":
        return _json_numbers(b, native)
    if kind == "f" and size in (2, 4, 8):
        return _readable_floats(b, native)
    if kind == "c" and size in (8, 16):
        return _readable_floats(_complex_pairs(b), native)
    if kind == "M":
        return _readable_datetimes(b)
    if kind == "m":
        counts = b.view(np.int64)
        nat = np.isnat(b)
        if not nat.any():
            return counts.tolist()
        out = counts.astype(object)
        out[nat] = "NaT"
        return out.tolist()
    if kind == "U":
        codes = b.reshape(-1).view(np.uint32)
        bad = ((codes >= 0xD800) & (codes <= 0xDFFF)) | (codes > 0x10FFFF)
        return _INEXACT if bad.any() else b.tolist()
    if kind in "SV":
        return _base64_items(b)
    return _INEXACT


def _readable_floats(b: np.ndarray, native: bool) -> Any:
    finite = np.isfinite(b)
    if finite.all():
        return _json_numbers(_exact_short(b), native)
    masks = _special_masks(b)
    if masks is None:
        return _INEXACT
    out = _exact_short(np.where(finite, b, 0)).astype(object)
    for name, mask in masks:
        out[mask] = name
    return out.tolist()


def _readable_datetimes(b: np.ndarray) -> Any:
    """ISO strings, when numpy parses every one of them back to the same value (and readers accept them)."""
    try:
        text = np.datetime_as_string(b)
        same = np.array(text, dtype=b.dtype).view(np.int64) == b.view(np.int64)
    except (ValueError, OverflowError):
        return _INEXACT
    items = text.tolist()
    if not same.all() or not all(_DATETIME_TEXT.fullmatch(item) for item in text.reshape(-1).tolist()):
        return _INEXACT
    return items


def _base64_body(a: np.ndarray, ctx: EncodeContext) -> Any:
    """The compact body: the raw C-order bytes as base64 (a ``RawJSON`` string when the engine writes)."""
    raw = a if a.flags.c_contiguous else a.copy(order="C")
    if _X87_BYTES and a.dtype.kind in "fc" and a.dtype.isnative and a.dtype.itemsize in (12, 16, 24, 32):
        raw = raw.copy()  # x87 long doubles: zero the 2-6 padding bytes (stale memory, not value bits)
        part = raw.dtype.itemsize // (2 if a.dtype.kind == "c" else 1)
        raw.reshape(-1).view(np.uint8).reshape(-1, part)[:, _X87_BYTES:] = 0
    text = _b64encode(raw.reshape(-1).view(np.uint8)) if raw.nbytes else b""
    if len(text) > ctx.config.max_string_length:
        raise SecurityError(f"encoded string longer than max_string_length={ctx.config.max_string_length}")
    if ctx.native_ok:
        return RawJSON(b"".join((b'"', text, b'"')))
    return text.decode("ascii")


# --- typed decoding ---------------------------------------------------------------------------------


def array_from_payload(payload: Any, ctx: DecodeContext, *, revived: bool = False) -> np.ndarray:
    """The array a typed payload describes, validated against its dtype, shape and the config's limits.

    The payload is expected raw (as parsed), as handlers with ``revive_payload=False`` receive it; pass
    ``revived=True`` if its tagged values were already decoded (only object arrays hold any).
    """
    cfg = ctx.config
    if type(payload) is not dict:
        raise DeserializationError("array payload must be an object", type_name=_TAG)
    bodies = [key for key in _BODIES if key in payload]
    if len(bodies) != 1 or len(payload) != 3 or "dtype" not in payload or "shape" not in payload:
        raise DeserializationError("array payload needs dtype, shape and one of data, base64, fields", type_name=_TAG)
    body = bodies[0]
    dtype = _dtype_from_json(payload["dtype"], cfg, allow_object=body == "data")
    shape = _shape(payload["shape"], cfg)
    count = math.prod(shape)
    if count * dtype.itemsize > cfg.max_bytes:
        raise SecurityError(f"array larger than max_bytes={cfg.max_bytes}", type_name=_TAG)
    if body == "base64":
        return _from_base64(payload["base64"], dtype, shape, count)
    if body == "fields":
        return _from_fields(payload["fields"], dtype, shape, ctx, revived)
    if dtype.names is not None:
        raise DeserializationError("a structured array's readable body is fields", type_name=_TAG)
    with np.errstate(all="ignore"):
        return _from_data(payload["data"], dtype, shape, ctx, revived)


def _from_base64(text: Any, dtype: np.dtype, shape: list[int], count: int) -> np.ndarray:
    if type(text) is not str:
        raise DeserializationError("base64 body must be a string", type_name=_TAG)
    nbytes = count * dtype.itemsize
    if len(text) != 4 * ((nbytes + 2) // 3):  # checked before decoding anything
        raise DeserializationError("base64 length does not match dtype and shape", type_name=_TAG)
    raw = _b64decode(text)
    if len(raw) != nbytes:
        raise DeserializationError("base64 length does not match dtype and shape", type_name=_TAG)
    if not nbytes:
        return np.zeros(shape, dtype)
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _from_fields(fields: Any, dtype: np.dtype, shape: list[int], ctx: DecodeContext, revived: bool) -> np.ndarray:
    names = dtype.names
    if names is None or type(fields) is not list or len(fields) != len(names):
        raise DeserializationError("fields must hold one array payload per field of the dtype", type_name=_TAG)
    out = np.zeros(shape, dtype)
    for name, sub in zip(names, fields, strict=True):
        field = dtype.fields[name][0]  # type: ignore[index]
        base, sub_shape = field.subdtype if field.subdtype is not None else (field, ())
        arr = array_from_payload(sub, ctx, revived=revived)
        if arr.dtype != base or arr.shape != (*shape, *sub_shape):
            raise DeserializationError("a field's payload does not match the dtype", type_name=_TAG)
        out[name] = arr
    return out


def _from_data(data: Any, dtype: np.dtype, shape: list[int], ctx: DecodeContext, revived: bool) -> np.ndarray:
    kind = dtype.kind
    if kind == "O":
        flat = flatten_nested(data if revived else ctx.decode(data), shape)
        out = np.empty(len(flat), dtype=object)
        for i, item in enumerate(flat):
            out[i] = item
        return out.reshape(shape)
    native = dtype.newbyteorder("=")
    if kind == "b":
        arr = _numbers(data, shape, "b")
    elif kind in "iu":
        arr = _integers(data, shape, native)
    elif kind == "f":
        arr = _floats(data, shape, native)
    elif kind == "c":
        arr = _floats(data, [*shape, 2], np.dtype(f"f{native.itemsize // 2}")).reshape(-1).view(native)
    elif kind == "M":
        arr = np.array(_datetimes(data, shape), dtype=native)
    elif kind == "m":
        arr = _timedeltas(data, shape, native)
    elif kind == "U":
        arr = _unicode(data, shape, native)
    else:  # S, V
        arr = _byte_items(data, shape, native)
    return arr.reshape(shape).astype(dtype, copy=False)


def flatten_nested(data: Any, shape: list[int], *, tag: str = "numpy.ndarray") -> list[Any]:
    """The items of nested lists exactly ``len(shape)`` deep, checking every length on the way."""
    level = [data]
    for n in shape:
        nxt: list[Any] = []
        for item in level:
            if type(item) is not list or len(item) != n:
                raise DeserializationError("data does not match the declared shape", type_name=tag)
            nxt.extend(item)
        level = nxt
    return level


def _numbers(data: Any, shape: list[int], kinds: str) -> np.ndarray:
    """``np.array`` of the data, which must come out with the declared shape and one of ``kinds``."""
    if not math.prod(shape):
        flatten_nested(data, shape)
        return np.zeros(shape, dtype="b" if kinds == "b" else "i8")
    if _holds_text(data, len(shape)):  # np.array would infer a unicode array: up to 4 bytes x longest x count
        raise DeserializationError("data does not match the declared dtype", type_name=_TAG)
    try:
        arr = np.array(data)
    except (ValueError, TypeError, OverflowError):
        raise DeserializationError("data does not match the declared shape", type_name=_TAG) from None
    if arr.shape != tuple(shape):
        raise DeserializationError("data does not match the declared shape", type_name=_TAG)
    if arr.dtype.kind not in kinds:
        raise DeserializationError("data does not match the declared dtype", type_name=_TAG)
    return arr


def _holds_text(data: Any, ndim: int) -> bool:
    """Whether nested lists ``ndim`` deep hold a string among their items (C-speed scan of each row)."""
    if type(data) is not list:
        return type(data) is str
    if ndim <= 1:
        return str in map(type, data)
    return any(_holds_text(row, ndim - 1) for row in data)


def _text_cells(data: Any) -> tuple[int, int]:
    """(number of items, longest string) of arbitrarily nested lists: what NumPy's inferred array costs."""
    if type(data) is str:
        return 1, len(data)
    if type(data) is not list:
        return 1, 0
    count = longest = 0
    for item in data:
        n, m = _text_cells(item)
        count, longest = count + n, max(longest, m)
    return count, longest


def _integers(data: Any, shape: list[int], dtype: np.dtype) -> np.ndarray:
    try:
        arr = _numbers(data, shape, "iu")
    except DeserializationError:  # numpy infers float64 for ints mixing both sides of 2**63: go item by item
        flat = flatten_nested(data, shape)
        if not all(type(item) is int for item in flat):
            raise DeserializationError("integer data must be ints", type_name=_TAG) from None
        try:
            return np.array(flat, dtype=dtype)
        except OverflowError:
            raise DeserializationError("value out of range for the dtype", type_name=_TAG) from None
    info = np.iinfo(dtype)
    if arr.size and (int(arr.min()) < info.min or int(arr.max()) > info.max):
        raise DeserializationError("value out of range for the dtype", type_name=_TAG)
    return arr.astype(dtype)


def _floats(data: Any, shape: list[int], dtype: np.dtype) -> np.ndarray:
    """Numbers and the special strings, converted once to ``dtype`` (no double rounding but JSON's)."""
    try:
        values = _numbers(data, shape, "iuf")
    except DeserializationError:
        values = _special_floats(data, shape)
    values = values.astype(np.float64, copy=False)
    out = values.astype(dtype, copy=False)
    if dtype.itemsize < 8 and (np.isinf(out) & np.isfinite(values)).any():
        raise DeserializationError("value out of range for the dtype", type_name=_TAG)
    return out


def _special_floats(data: Any, shape: list[int]) -> np.ndarray:
    out: list[float] = []
    for item in flatten_nested(data, shape):
        t = type(item)
        if t is float or t is int:
            out.append(item)
        elif t is str and item in _SPECIAL_FLOATS:
            out.append(_SPECIAL_FLOATS[item])
        else:
            raise DeserializationError("float data must be numbers or 'nan', '-nan', 'inf', '-inf'", type_name=_TAG)
    return np.array(out, dtype=np.float64)


def _strings(data: Any, shape: list[int]) -> list[str]:
    flat = flatten_nested(data, shape)
    if not all(type(item) is str for item in flat):
        raise DeserializationError("data items must be strings for this dtype", type_name=_TAG)
    return flat


def _datetimes(data: Any, shape: list[int]) -> list[str]:
    """ISO strings as numpy writes them (no time zone, no ``"now"``), or ``"NaT"``."""
    flat = _strings(data, shape)
    if not all(_DATETIME_TEXT.fullmatch(item) for item in flat):
        raise DeserializationError("datetime data must be ISO strings without a time zone, or 'NaT'", type_name=_TAG)
    return flat


def _timedeltas(data: Any, shape: list[int], dtype: np.dtype) -> np.ndarray:
    counts = []
    for item in flatten_nested(data, shape):
        if type(item) is int:
            counts.append(item)
        elif item == "NaT":
            counts.append(-(2**63))
        else:
            raise DeserializationError("timedelta data must be int counts or 'NaT'", type_name=_TAG)
    return np.array(counts, dtype=np.int64).view(dtype)


def _unicode(data: Any, shape: list[int], dtype: np.dtype) -> np.ndarray:
    flat = _strings(data, shape)
    width = dtype.itemsize // 4
    if any(len(item) > width for item in flat):
        raise DeserializationError("string longer than the dtype holds", type_name=_TAG)
    return np.array(flat, dtype=dtype)


def _byte_items(data: Any, shape: list[int], dtype: np.dtype) -> np.ndarray:
    items = [b64decode(item) for item in _strings(data, shape)]
    width = dtype.itemsize
    if any(len(item) > width for item in items) or (dtype.kind == "V" and any(len(i) != width for i in items)):
        raise DeserializationError("bytes item does not fit the dtype", type_name=_TAG)
    raw = bytearray(b"".join(item.ljust(width, b"\0") for item in items))
    return np.frombuffer(raw, dtype=dtype) if raw else np.zeros(len(items), dtype)


def _legacy_array(payload: Any, ctx: DecodeContext) -> np.ndarray:
    """datason 0.x: a bare nested list (or scalar); the dtype is whatever numpy infers."""
    value = ctx.decode(payload)
    count, longest = _text_cells(value)
    if longest and count * longest * 4 > ctx.config.max_bytes:  # the unicode array NumPy would infer
        raise SecurityError(f"array larger than max_bytes={ctx.config.max_bytes}", type_name=_TAG)
    try:
        arr = np.array(value)
    except (ValueError, TypeError, OverflowError):
        raise DeserializationError("nested lists are not rectangular", type_name=_TAG) from None
    _check_size(arr, ctx.config.max_size)
    return arr


def _dec_ndarray(payload: Any, ctx: DecodeContext) -> np.ndarray:
    if type(payload) is dict:
        return array_from_payload(payload, ctx)
    return _legacy_array(payload, ctx)


# --- plain mode -------------------------------------------------------------------------------------


def plain_array(a: np.ndarray, ctx: EncodeContext) -> Any:
    """The plain-mode form of ``a``: nested lists of plain JSON values (``RawJSON`` when ``ctx.native_ok``)."""
    _check_size(a, ctx.config.max_size)
    kind = a.dtype.kind
    if kind == "O":
        return a.tolist()
    if a.dtype.names is not None:
        sub = EncodeContext(ctx.config)  # nested lists, to zip into records
        columns = [plain_array(a[name], sub) for name in a.dtype.names]
        return _records(list(a.dtype.names), columns, a.shape)
    b = _native(a)
    native = ctx.native_ok and b.ndim > 0
    if kind in "biu":
        return _json_numbers(b, native)
    if kind == "f":
        return _plain_floats(b, ctx.config, native)
    if kind == "c":
        real = _plain_floats(_native(b.real), ctx.config, False)
        imag = _plain_floats(_native(b.imag), ctx.config, False)
        return _pairs(real, imag, b.ndim)
    if kind == "M":
        return _plain_datetimes(b, ctx.config.date_format)
    if kind == "m":
        return _plain_timedeltas(b)
    if kind in "UT":  # T: numpy 2's variable-width StringDType (plain mode only)
        return b.tolist()
    if kind in "SV":
        return _base64_items(b)
    raise SerializationError(f"dtype kind {kind!r} has no plain form", type_name=_TAG)


def _plain_floats(b: np.ndarray, cfg: Any, native: bool) -> Any:
    """Shortest-digit floats; NaN/Infinity left as Python floats for the codec's ``nan_handling``."""
    if b.dtype.itemsize not in (2, 4, 8):
        with np.errstate(all="ignore"):
            b = b.astype(np.float64)  # long double: the nearest double
    finite = np.isfinite(b)
    if finite.all():
        return _json_numbers(_exact_short(b), native)
    values = _exact_short(np.where(finite, b, 0)).astype(np.float64)
    values[~finite] = b[~finite]
    if native and cfg.nan_handling == "null":
        return RawJSON(orjson.dumps(values, option=_NUMPY))  # orjson writes null for them
    return values.tolist()


def _pairs(real: Any, imag: Any, ndim: int) -> Any:
    if not ndim:
        return {"real": real, "imag": imag}
    return [_pairs(r, i, ndim - 1) for r, i in zip(real, imag, strict=True)]


def _records(names: list[str], columns: list[Any], shape: tuple[int, ...]) -> Any:
    if not shape:
        return dict(zip(names, columns, strict=True))
    return [_records(names, [c[i] for c in columns], shape[1:]) for i in range(shape[0])]


def _plain_datetimes(b: np.ndarray, date_format: str) -> Any:
    nat = np.isnat(b)
    if date_format == "iso":
        out = np.asarray(np.datetime_as_string(b)).astype(object)
    else:
        unit = np.timedelta64(1, "s" if date_format == "unix" else "ms")
        with np.errstate(all="ignore"):
            out = np.asarray((b - np.datetime64(0, "s")) / unit).astype(object)
    out[nat] = None
    return out.tolist()


def _plain_timedeltas(b: np.ndarray) -> Any:
    unit, step = np.datetime_data(b.dtype)
    nat = np.isnat(b).reshape(-1).tolist()
    counts = b.view(np.int64).reshape(-1).tolist()
    out = np.empty(b.size, dtype=object)
    out[:] = [None if missing else _duration(n * step, unit) for n, missing in zip(counts, nat, strict=True)]
    return out.reshape(b.shape).tolist()


def _duration(count: int, unit: str) -> Any:
    """ISO 8601 duration of ``count`` units, written like the ``timedelta`` handler's (``P1DT2H``)."""
    if unit == "generic":
        return count
    sign = "-" if count < 0 else ""
    count = abs(count)
    if unit in ("Y", "M"):
        return f"{sign}P{count}{unit}"
    days, rest = divmod(count * _ATTOSECONDS[unit], 86400 * 10**18)
    seconds, fraction = divmod(rest, 10**18)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    out = f"{sign}P{days}D" if days else f"{sign}P"
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or fraction or not (days or clock):
        clock += f"{seconds}{f'.{fraction:018d}'.rstrip('0') if fraction else ''}S"
    return out + ("T" + clock if clock else "")


# --- scalars ----------------------------------------------------------------------------------------

# Tag names, in preference order: the first name of a type is its tag, later ones (and the names
# numpy 1.x or 2.x gave the same type) are decode-only aliases. Only these names are ever tags.
_SCALAR_NAMES = (
    "bool_",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "longlong",
    "ulonglong",
    "intc",
    "uintc",
    "intp",
    "uintp",
    "float16",
    "float32",
    "float64",
    "longdouble",
    "complex64",
    "complex128",
    "clongdouble",
    "datetime64",
    "timedelta64",
    "str_",
    "bytes_",
    "void",
)
_EXTRA_ALIASES = {
    "bool_": ("bool",),
    "longdouble": ("float128", "float96"),
    "clongdouble": ("complex256", "complex192"),
}


def _enc_scalar(x: np.generic, ctx: EncodeContext) -> Any:
    kind = x.dtype.kind
    if kind == "b":
        return bool(x)
    if kind in "iu":
        return int(x)
    if kind == "U":
        return str.__str__(x)  # str(x) would drop trailing NULs
    if kind == "S":
        return b64encode(cast(bytes, x))
    arr = np.asarray(x)
    if kind in "fc":
        data = _readable(arr, False)
        if data is not _INEXACT:
            return {"real": data[0], "imag": data[1]} if kind == "c" else data
    return _payload(arr, ctx, compact=False)  # readable 0-d array (compact when it must be)


def _plain_scalar(x: np.generic, ctx: EncodeContext) -> Any:
    if type(x) is np.float64:  # the commonest (predict_proba): exact as a float; NaN per nan_handling
        return float(x)
    kind = x.dtype.kind
    if kind == "b":
        return bool(x)
    if kind in "iu":
        return int(x)
    if kind == "U":
        return str.__str__(x)  # str(x) would drop trailing NULs
    if kind == "S":
        return b64encode(cast(bytes, x))
    return plain_array(np.asarray(x), EncodeContext(ctx.config))


def _scalar_decoder(t: type) -> Callable[[Any, DecodeContext], Any]:
    """The decode hook for scalar type ``t``: this format's payloads and 0.x's bare numbers."""
    dt = np.dtype(t)
    kind = dt.kind

    def decode(payload: Any, ctx: DecodeContext) -> Any:
        if type(payload) is dict and "dtype" in payload:
            arr = array_from_payload(payload, ctx)
            if arr.shape != () or arr.dtype.kind != kind or (kind in "biufc" and arr.dtype.itemsize != dt.itemsize):
                raise DeserializationError("0-d array payload does not match the scalar type")
            value = arr[()]
            return value if type(value) is t else t(value)
        with np.errstate(all="ignore"):
            return _scalar_value(payload, t, dt)

    return decode


def _scalar_value(payload: Any, t: type, dt: np.dtype) -> Any:
    kind, p = dt.kind, type(payload)
    if kind == "b" and p is bool:
        return t(payload)
    if kind in "iu" and p is int:
        info = np.iinfo(dt)
        if not info.min <= payload <= info.max:
            raise DeserializationError("value out of range for the type")
        return t(payload)
    if kind == "f" and p in (int, float, str):
        return t(_float_part(payload, dt))
    if kind == "c" and p is dict and payload.keys() == {"real", "imag"}:
        half = np.dtype(f"f{dt.itemsize // 2}")
        return t(complex(_float_part(payload["real"], half), _float_part(payload["imag"], half)))
    if kind == "U" and p is str:
        return t(payload)
    if kind == "S" and p is str:
        return t(b64decode(payload))
    raise DeserializationError("payload does not fit the type")


def _float_part(value: Any, dt: np.dtype) -> float:
    """A number or special string as a float that ``dt`` holds (overflow raises)."""
    if type(value) is str:
        if value not in _SPECIAL_FLOATS:
            raise DeserializationError("float payload must be a number or 'nan', '-nan', 'inf', '-inf'")
        return _SPECIAL_FLOATS[value]
    if type(value) not in (int, float):
        raise DeserializationError("float payload must be a number")
    number = float(value)
    if math.isfinite(number) and dt.itemsize < 8 and not np.isfinite(dt.type(number)):
        raise DeserializationError("value out of range for the type")
    return number


# Scalars the C accelerator writes and reads itself (dtype kind + itemsize -> its kind): the others (long double,
# datetime64, timedelta64, str_, bytes_, void) take the hooks above.
_NATIVE_KINDS = {
    "b1": "np_bool",
    "f8": "np_float",
    "f4": "np_float32",
    "f2": "np_float16",
    "c8": "np_complex64",
    "c16": "np_complex128",
} | {f"{kind}{size}": "np_int" for kind in "iu" for size in (1, 2, 4, 8)}


def _register() -> None:
    add_handler(np.ndarray, _TAG, array_payload, _dec_ndarray, plain_array, revive_payload=False, native="ndarray")
    tags: dict[type, list[str]] = {}
    for name in _SCALAR_NAMES:
        t = getattr(np, name, None)  # fixed names from the table above, never payload text
        if isinstance(t, type) and issubclass(t, np.generic):
            tags.setdefault(t, []).extend(f"numpy.{alias}" for alias in (name, *_EXTRA_ALIASES.get(name, ())))
    for t, names in tags.items():
        aliases = tuple(dict.fromkeys(names[1:]))
        native = _NATIVE_KINDS.get(np.dtype(t).kind + str(np.dtype(t).itemsize))
        add_handler(
            t,
            names[0],
            _enc_scalar,
            _scalar_decoder(t),
            _plain_scalar,
            revive_payload=False,
            aliases=aliases,
            native=native,
        )


_register()
