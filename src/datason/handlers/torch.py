"""Handlers for PyTorch tensors and their small companions (imported lazily: ``import datason`` never imports torch).

What each type becomes (typed payload | plain form); docs/wire-format.md §10 has the exact grammar:

- ``torch.Tensor`` (strided): tag ``torch.Tensor``, ``{"dtype": NAME, "array": ARRAY, "requires_grad"?: true}``
  | nested lists. ``NAME`` is the torch dtype name (``"float32"``, ``"bfloat16"``, ``"uint16"``, ...) from a
  fixed table; ``ARRAY`` is a NumPy array payload (``numpy.ndarray``'s, readable or compact per the config)
  holding the values in C order. bfloat16 and the float8 types have no NumPy dtype: their array carries the
  raw bits as ``<u2`` / ``|u1`` and ``NAME`` says how to read them. Tensors on CUDA/MPS are written from host
  memory; a tensor that needs grad is detached for writing and ``requires_grad`` is kept.
- ``torch.Tensor`` (sparse COO): the same tag, ``{"layout": "sparse_coo", "dtype": NAME, "size": [...],
  "indices": ARRAY (int64, [sparse_dim, nnz]), "values": ARRAY ([nnz, *dense_dims]), "coalesced": bool,
  "requires_grad"?: true}`` | ``{"size", "indices", "values"}`` with nested lists.
- ``torch.nn.Parameter``: tag ``torch.nn.Parameter``, the strided tensor payload with ``requires_grad`` always
  written | nested lists.
- ``torch.Size``: tag ``torch.Size``, a list of ints | the list.
- ``torch.dtype``: tag ``torch.dtype``, ``NAME`` | ``"torch.float32"`` (``str(dtype)``).
- ``torch.device``: tag ``torch.device``, ``"cpu"``, ``"cuda:0"``, ... | the same string.

Decoded tensors go to the CPU, or to ``config.device`` when it is set. datason 0.x documents still load:
``torch.Tensor`` with ``{"shape", "dtype": "torch.float32", "data": nested lists, "device", "requires_grad"}``
(the device is ignored: decoded tensors go where the config says).

Decoding never looks a name up on ``torch``: dtype names, layouts and device types go through fixed tables;
array sizes are checked against ``max_size`` / ``max_bytes`` before anything is allocated (by the NumPy
array decoder), and part lengths must agree. Nothing is unpickled (``torch.load`` is never used).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import torch

from ..errors import DeserializationError, SecurityError, SerializationError
from ..registry import DecodeContext, EncodeContext
from .kit import JSON_PAYLOAD, add_handler
from .numpy import array_from_payload, array_payload, flatten_nested, plain_array

__all__: list[str] = []

_TAG = "torch.Tensor"
_PARAM_TAG = "torch.nn.Parameter"
_MAX_NDIM = 64

# torch dtype name -> (dtype, the NumPy dtype its array payload holds, whether that array is the raw bits).
# The only names ever read: a payload's dtype text is a key into this table, never an attribute of torch.
_DTYPES: dict[str, tuple[torch.dtype, np.dtype, bool]] = {}
for _name, _np_name, _bits in (
    ("bool", "?", False),
    ("uint8", "u1", False),
    ("int8", "i1", False),
    ("int16", "i2", False),
    ("int32", "i4", False),
    ("int64", "i8", False),
    ("uint16", "u2", False),
    ("uint32", "u4", False),
    ("uint64", "u8", False),
    ("float16", "f2", False),
    ("float32", "f4", False),
    ("float64", "f8", False),
    ("complex64", "c8", False),
    ("complex128", "c16", False),
    ("bfloat16", "u2", True),
    ("float8_e4m3fn", "u1", True),
    ("float8_e4m3fnuz", "u1", True),
    ("float8_e5m2", "u1", True),
    ("float8_e5m2fnuz", "u1", True),
    ("float8_e8m0fnu", "u1", True),
):
    _dt = getattr(torch, _name, None)  # fixed names from this table, never payload text
    if isinstance(_dt, torch.dtype):
        _DTYPES[_name] = (_dt, np.dtype(_np_name), _bits)
_NAMES: dict[torch.dtype, str] = {dt: name for name, (dt, _, _) in _DTYPES.items()}
_BITS_VIEW = {1: torch.uint8, 2: torch.uint16}
_DEVICE = re.compile(r"(?:cpu|cuda|mps|xpu|meta|hpu|xla|privateuseone)(?::[0-9]{1,4})?")
_TENSOR_KEYS = frozenset({"dtype", "array", "requires_grad"})
_SPARSE_KEYS = frozenset({"layout", "dtype", "size", "indices", "values", "coalesced", "requires_grad"})
_LEGACY_KEYS = frozenset({"shape", "dtype", "data", "device", "requires_grad"})


# --- encoding ---------------------------------------------------------------------------------------


def _dtype_name(dt: torch.dtype, tag: str = _TAG) -> str:
    name = _NAMES.get(dt)
    if name is None:
        raise SerializationError(f"tensor dtype {dt} is not supported", type_name=tag)
    return name


def _host_array(t: torch.Tensor, tag: str = _TAG) -> np.ndarray:
    """A strided tensor's values as a NumPy array on the host (bits for dtypes NumPy lacks)."""
    name = _dtype_name(t.dtype, tag)
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.resolve_conj().resolve_neg()
    if _DTYPES[name][2]:
        t = t.view(_BITS_VIEW[t.element_size()])
    return t.numpy()


def _check_strided(t: torch.Tensor, tag: str) -> None:
    if t.layout != torch.strided:
        raise SerializationError(f"tensor layout {t.layout} is not supported", type_name=tag)
    if t.is_quantized or t.device.type == "meta":
        raise SerializationError("quantized and meta tensors are not supported", type_name=tag)


def _enc_tensor(t: torch.Tensor, ctx: EncodeContext) -> dict[str, Any]:
    if t.layout == torch.sparse_coo:
        return _enc_sparse(t, ctx)
    _check_strided(t, _TAG)
    out: dict[str, Any] = {"dtype": _dtype_name(t.dtype), "array": array_payload(_host_array(t), ctx)}
    if t.requires_grad:
        out["requires_grad"] = True
    return out


def _enc_sparse(t: torch.Tensor, ctx: EncodeContext) -> dict[str, Any]:
    name = _dtype_name(t.dtype)
    requires_grad = t.requires_grad
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    out: dict[str, Any] = {
        "layout": "sparse_coo",
        "dtype": name,
        "size": list(t.shape),
        "indices": array_payload(t._indices().numpy(), ctx),
        "values": array_payload(_host_array(t._values()), ctx),
        "coalesced": bool(t.is_coalesced()),
    }
    if requires_grad:
        out["requires_grad"] = True
    return out


def _enc_parameter(p: torch.nn.Parameter, ctx: EncodeContext) -> dict[str, Any]:
    _check_strided(p, _PARAM_TAG)
    return {
        "dtype": _dtype_name(p.dtype, _PARAM_TAG),
        "array": array_payload(_host_array(p, _PARAM_TAG), ctx),
        "requires_grad": bool(p.requires_grad),
    }


def _plain_values(t: torch.Tensor, ctx: EncodeContext, tag: str = _TAG) -> Any:
    """Nested lists; bfloat16 / float8 as float32 (which holds each of their values exactly)."""
    name = _dtype_name(t.dtype, tag)
    if _DTYPES[name][2]:
        t = t.detach().cpu().to(torch.float32)
    return plain_array(_host_array(t, tag), ctx)


def _plain_tensor(t: torch.Tensor, ctx: EncodeContext) -> Any:
    if t.layout == torch.sparse_coo:
        t = t.detach().cpu()
        return {
            "size": list(t.shape),
            "indices": plain_array(t._indices().numpy(), ctx),
            "values": _plain_values(t._values(), ctx),
        }
    _check_strided(t, _TAG)
    return _plain_values(t, ctx)


def _plain_parameter(p: torch.nn.Parameter, ctx: EncodeContext) -> Any:
    _check_strided(p, _PARAM_TAG)
    return _plain_values(p, ctx, _PARAM_TAG)


# --- decoding ---------------------------------------------------------------------------------------


def _entry(name: Any, tag: str) -> tuple[torch.dtype, np.dtype, bool]:
    entry = _DTYPES.get(name) if type(name) is str else None
    if entry is None:
        raise DeserializationError("dtype is not a supported torch dtype name", type_name=tag)
    return entry


def _flag(payload: dict[str, Any], key: str, tag: str) -> bool:
    value = payload.get(key, False)
    if type(value) is not bool:
        raise DeserializationError(f"{key} must be true or false", type_name=tag)
    return value


def _tensor_from_array(arr: np.ndarray, entry: tuple[torch.dtype, np.dtype, bool], tag: str) -> torch.Tensor:
    dt, carrier, bits = entry
    if arr.dtype.newbyteorder("=") != carrier:
        raise DeserializationError("array dtype does not match the tensor dtype", type_name=tag)
    if arr.dtype != carrier or not arr.flags.c_contiguous or not arr.flags.writeable:
        arr = arr.astype(carrier, order="C")  # np.ascontiguousarray would make a 0-d array 1-d
    t = torch.from_numpy(arr)
    return t.view(dt) if bits else t


def _place(t: torch.Tensor, ctx: DecodeContext, requires_grad: bool, tag: str) -> torch.Tensor:
    device = ctx.config.device
    if device is not None:
        t = t.to(device)
    if requires_grad:
        if not (t.is_floating_point() or t.is_complex()):
            raise DeserializationError("only floating point and complex tensors can require grad", type_name=tag)
        t.requires_grad_(True)
    return t


def _dec_tensor(payload: Any, ctx: DecodeContext) -> torch.Tensor:
    if type(payload) is not dict:
        raise DeserializationError("tensor payload must be an object", type_name=_TAG)
    if "layout" in payload:
        return _dec_sparse(payload, ctx)
    if "array" not in payload and "data" in payload:
        return _dec_legacy(payload, ctx)
    return _dense(payload, ctx, _TAG)


def _dense(payload: dict[str, Any], ctx: DecodeContext, tag: str) -> torch.Tensor:
    if not payload.keys() <= _TENSOR_KEYS or "dtype" not in payload or "array" not in payload:
        raise DeserializationError("tensor payload needs dtype and array (and optionally requires_grad)", type_name=tag)
    entry = _entry(payload["dtype"], tag)
    requires_grad = _flag(payload, "requires_grad", tag)
    t = _tensor_from_array(array_from_payload(payload["array"], ctx), entry, tag)
    return _place(t, ctx, requires_grad, tag)


def _size(value: Any, tag: str) -> list[int]:
    if type(value) is not list or len(value) > _MAX_NDIM or not all(type(n) is int and n >= 0 for n in value):
        raise DeserializationError("size must be a list of at most 64 non-negative ints", type_name=tag)
    return value


def _dec_sparse(payload: dict[str, Any], ctx: DecodeContext) -> torch.Tensor:
    keys = payload.keys()
    if not keys <= _SPARSE_KEYS or not keys >= _SPARSE_KEYS - {"requires_grad"}:
        raise DeserializationError("sparse tensor payload needs layout, dtype, size, indices, values, coalesced")
    if payload["layout"] != "sparse_coo":
        raise DeserializationError("tensor layout is not supported", type_name=_TAG)
    entry = _entry(payload["dtype"], _TAG)
    size = _size(payload["size"], _TAG)
    coalesced = _flag(payload, "coalesced", _TAG)
    requires_grad = _flag(payload, "requires_grad", _TAG)
    indices = array_from_payload(payload["indices"], ctx)
    values = array_from_payload(payload["values"], ctx)
    if indices.dtype.newbyteorder("=") != np.dtype("i8") or indices.ndim != 2:
        raise DeserializationError("sparse indices must be a 2-d int64 array", type_name=_TAG)
    sparse_dim, nnz = indices.shape
    if values.ndim < 1 or values.shape[0] != nnz or sparse_dim + values.ndim - 1 != len(size):
        raise DeserializationError("sparse indices, values and size do not agree", type_name=_TAG)
    if list(values.shape[1:]) != size[sparse_dim:]:
        raise DeserializationError("sparse values do not match the dense dims of size", type_name=_TAG)
    if nnz and ((indices < 0).any() or (indices >= np.array(size[:sparse_dim]).reshape(-1, 1)).any()):
        raise DeserializationError("sparse index out of range", type_name=_TAG)
    idx = torch.from_numpy(np.ascontiguousarray(indices, dtype=np.int64).copy())
    vals = _tensor_from_array(values, entry, _TAG)
    t = torch.sparse_coo_tensor(idx, vals, size, dtype=entry[0], check_invariants=True)
    if coalesced:
        c = t.coalesce()
        if c._nnz() != nnz or not torch.equal(c._indices(), idx):
            raise DeserializationError(
                "sparse tensor marked coalesced has unsorted or repeated indices", type_name=_TAG
            )
        t = c
    return _place(t, ctx, requires_grad, _TAG)


def _dec_legacy(payload: dict[str, Any], ctx: DecodeContext) -> torch.Tensor:
    """datason 0.x: ``{"shape", "dtype": "torch.float32", "data": nested lists, "device", "requires_grad"}``."""
    if not payload.keys() <= _LEGACY_KEYS:
        raise DeserializationError("unexpected members in a datason 0.x tensor payload", type_name=_TAG)
    name = payload.get("dtype", "torch.float32")
    if type(name) is not str or not name.startswith("torch."):
        raise DeserializationError("dtype is not a supported torch dtype name", type_name=_TAG)
    dt, carrier, bits = _entry(name[len("torch.") :], _TAG)
    requires_grad = _flag(payload, "requires_grad", _TAG)
    data = payload["data"]
    shape = _size(payload["shape"], _TAG) if "shape" in payload else _infer_shape(data)
    cfg = ctx.config
    if math.prod(shape) > cfg.max_size or any(n > cfg.max_size for n in shape):
        raise SecurityError(f"array larger than max_size={cfg.max_size}", type_name=_TAG)
    flat = flatten_nested(data, shape, tag=_TAG)
    kind = "f" if bits else carrier.kind
    items: list[Any] = []
    for item in flat:
        t = type(item)
        if kind == "b" and t is bool:
            items.append(item)
        elif kind in "iu" and t is int:
            items.append(item)
        elif kind in "fc" and t in (int, float):
            items.append(item)
        elif kind in "fc" and item is None:
            items.append(math.nan)  # 0.x wrote NaN as null
        elif kind == "c" and t is dict and item.keys() == {"real", "imag"}:
            items.append(complex(item["real"], item["imag"]))
        else:
            raise DeserializationError("tensor data does not match its dtype", type_name=_TAG)
    try:
        out = torch.tensor(items, dtype=dt).reshape(shape)
    except (OverflowError, RuntimeError, TypeError):
        raise DeserializationError("tensor data does not fit its dtype", type_name=_TAG) from None
    return _place(out, ctx, requires_grad, _TAG)


def _infer_shape(data: Any) -> list[int]:
    shape: list[int] = []
    while type(data) is list and len(shape) < _MAX_NDIM:
        shape.append(len(data))
        if not data:
            break
        data = data[0]
    return shape


def _dec_parameter(payload: Any, ctx: DecodeContext) -> torch.nn.Parameter:
    if type(payload) is not dict:
        raise DeserializationError("parameter payload must be an object", type_name=_PARAM_TAG)
    t = _dense(payload, ctx, _PARAM_TAG)
    requires_grad = t.requires_grad
    return torch.nn.Parameter(t.detach(), requires_grad=requires_grad)


def _dec_size(payload: Any, ctx: DecodeContext) -> torch.Size:
    return torch.Size(_size(payload, "torch.Size"))


def _dec_dtype(payload: Any, ctx: DecodeContext) -> torch.dtype:
    return _entry(payload, "torch.dtype")[0]


def _dec_device(payload: Any, ctx: DecodeContext) -> torch.device:
    if type(payload) is not str or _DEVICE.fullmatch(payload) is None:
        raise DeserializationError("device must be a device type with an optional :index", type_name="torch.device")
    return torch.device(payload)


# Payloads reach the decoders as parsed: the NumPy handler's helpers read their array parts.
_RAW = {"revive_payload": False}
add_handler(torch.Tensor, _TAG, _enc_tensor, _dec_tensor, _plain_tensor, **_RAW)
add_handler(torch.nn.Parameter, _PARAM_TAG, _enc_parameter, _dec_parameter, _plain_parameter, **_RAW)
add_handler(torch.Size, "torch.Size", lambda s, c: list(s), _dec_size, lambda s, c: list(s), **JSON_PAYLOAD)
add_handler(
    torch.dtype, "torch.dtype", lambda d, c: _dtype_name(d, "torch.dtype"), _dec_dtype, lambda d, c: str(d), **_RAW
)
add_handler(torch.device, "torch.device", lambda d, c: str(d), _dec_device, lambda d, c: str(d), **_RAW)
