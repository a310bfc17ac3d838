"""PyTorch: every dtype, shape, view and encoding round-trips bit for bit; 0.x documents load; bad payloads raise."""

from __future__ import annotations

import collections
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

import datason
from datason import DeserializationError, SecurityError
from datason.config import SerializationConfig

from .conftest import strict_json

READABLE = SerializationConfig(array_format="readable")
COMPACT = SerializationConfig(array_format="compact")
AUTO = SerializationConfig(array_format="auto", compact_threshold=4)
CONFIGS = {"readable": READABLE, "compact": COMPACT, "auto": AUTO}
PLAIN = SerializationConfig(include_type_hints=False)
TAG, VALUE = "__datason_type__", "__datason_value__"

_BITS = {torch.bfloat16: torch.uint16}
_FLOAT8 = [getattr(torch, n) for n in ("float8_e4m3fn", "float8_e5m2") if hasattr(torch, n)]
DTYPES = [
    torch.bool,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.uint16,
    torch.uint32,
    torch.uint64,
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
    torch.complex64,
    torch.complex128,
    *_FLOAT8,
]
SHAPES = [(), (0,), (7,), (2, 3), (3, 0, 2), (2, 3, 4)]


# --- helpers ------------------------------------------------------------------------------------------


def raw_bytes(t: torch.Tensor) -> bytes:
    """The values' bits in C order (NaN payloads and -0.0 included)."""
    t = t.detach().cpu().resolve_conj().resolve_neg().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.uint16)
    elif t.dtype in _FLOAT8:
        t = t.view(torch.uint8)
    return bytes(t.numpy().tobytes())


def assert_tensor_same(got: Any, want: torch.Tensor) -> None:
    assert type(got) is type(want), (type(got), type(want))
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.layout == want.layout
    assert got.requires_grad == want.requires_grad
    assert got.device.type == "cpu"
    if want.layout == torch.sparse_coo:
        assert got.is_coalesced() == want.is_coalesced()
        assert_tensor_same(got._indices(), want._indices())
        assert_tensor_same(got._values(), want._values().detach())
        return
    assert got.is_leaf
    assert raw_bytes(got) == raw_bytes(want)
    if want.dtype not in _FLOAT8:
        floating = want.is_floating_point() or want.is_complex()
        assert torch.equal(got.detach(), want.detach()) or (floating and torch.isnan(want).any())


def round_trips(value: Any, config: SerializationConfig) -> Iterator[Any]:
    """``loads(dumps(x))`` (engine-written, keys as given and sorted) and the tree path through ``json``."""
    yield datason.loads(datason.dumps(value, config), config)
    yield datason.loads(datason.dumpb(value, config, sort_keys=True), config)
    yield datason.deserialize(json.loads(json.dumps(datason.serialize(value, config))), config)


def envelope(tag: str, value: Any) -> str:
    return json.dumps({TAG: tag, VALUE: value})


def sample(dtype: torch.dtype, shape: tuple[int, ...], seed: int = 7) -> torch.Tensor:
    """Values of ``dtype`` mixing ordinary values with the edge cases of its kind (random bits for 16-bit floats)."""
    n = math.prod(shape)
    rng = np.random.default_rng(seed)
    if dtype == torch.bool:
        return torch.from_numpy(rng.integers(0, 2, n).astype(bool)).reshape(shape)
    if dtype in _BITS or dtype in _FLOAT8 or dtype == torch.float16:
        size = torch.empty((), dtype=dtype).element_size()
        raw = rng.integers(0, 2 ** (8 * size), n, dtype=np.uint64).astype(f"u{size}")
        carrier = torch.uint8 if size == 1 else torch.uint16
        return torch.from_numpy(raw).view(carrier).view(dtype).reshape(shape)
    if not (dtype.is_floating_point or dtype.is_complex):
        info = torch.iinfo(dtype)
        np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
        values = rng.integers(info.min, info.max, n, dtype=np_dtype, endpoint=True)
        values[: min(n, 3)] = [info.min, info.max, 0][: min(n, 3)]
        return torch.from_numpy(values).reshape(shape)
    real_dtype = torch.float32 if dtype == torch.complex64 else torch.float64 if dtype.is_complex else dtype
    edges = torch.tensor([math.nan, -math.nan, math.inf, -math.inf, -0.0, 0.1], dtype=torch.float64)
    base = torch.from_numpy(rng.standard_normal(n) * 10.0 ** rng.integers(-5, 5, n))
    base[: min(n, 6)] = edges[: min(n, 6)]
    real = base.to(real_dtype)
    if dtype.is_complex:
        return torch.complex(real, real.flip(0)).reshape(shape)
    return real.reshape(shape)


# --- the matrix: dtypes x shapes x encodings x walkers ----------------------------------------------------


@pytest.mark.parametrize("fmt", CONFIGS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_dtype_shape_matrix(walker: str, dtype: torch.dtype, fmt: str) -> None:
    config = CONFIGS[fmt]
    for shape in SHAPES:
        t = sample(dtype, shape)
        for got in round_trips(t, config):
            assert_tensor_same(got, t)


@pytest.mark.parametrize("fmt", CONFIGS)
def test_non_contiguous_views_keep_values(walker: str, fmt: str) -> None:
    base = sample(torch.float32, (4, 6))
    cplx = sample(torch.complex128, (3, 4))
    views = [
        base.t(),
        base[::2, 1::3],
        base[:, 2],
        base.unsqueeze(0).expand(3, 4, 6),
        sample(torch.bfloat16, (4, 6)).t(),
        cplx.conj(),
        cplx.t().conj(),
        torch.ones(3).neg(),
        torch.arange(10).flip(0),
    ]
    for v in views:
        want = v.resolve_conj().resolve_neg().contiguous()
        for got in round_trips(v, CONFIGS[fmt]):
            assert_tensor_same(got, want)


def test_readable_payload_shape() -> None:
    t = torch.tensor([[1.5, math.nan], [-math.inf, -0.0]])
    doc = strict_json(datason.dumps(t, READABLE))
    assert doc == {
        TAG: "torch.Tensor",
        VALUE: {"dtype": "float32", "array": {"dtype": "<f4", "shape": [2, 2], "data": [[1.5, "nan"], ["-inf", -0.0]]}},
    }
    bf = torch.tensor([1.0, -2.0], dtype=torch.bfloat16)
    doc = strict_json(datason.dumps(bf, READABLE))
    assert doc[VALUE] == {"dtype": "bfloat16", "array": {"dtype": "<u2", "shape": [2], "data": [16256, 49152]}}
    doc = strict_json(datason.dumps(bf, COMPACT))
    assert doc[VALUE]["array"]["dtype"] == "<u2" and "base64" in doc[VALUE]["array"]


# --- autograd, parameters, modules -----------------------------------------------------------------------


def test_requires_grad_kept(walker: str) -> None:
    leaf = sample(torch.float64, (3,)).requires_grad_(True)
    for got in round_trips(leaf, COMPACT):
        assert_tensor_same(got, leaf)
    derived = leaf * 2  # not a leaf: written detached, read back as a leaf that requires grad
    assert strict_json(datason.dumps(derived, READABLE))[VALUE]["requires_grad"] is True
    got = datason.loads(datason.dumps(derived))
    assert got.requires_grad and got.is_leaf and raw_bytes(got) == raw_bytes(derived)
    assert "requires_grad" not in strict_json(datason.dumps(torch.ones(2)))[VALUE]


def test_parameter_kept(walker: str) -> None:
    for requires_grad in (True, False):
        p = torch.nn.Parameter(sample(torch.float32, (2, 3)), requires_grad=requires_grad)
        for got in round_trips(p, READABLE):
            assert type(got) is torch.nn.Parameter
            assert got.requires_grad is requires_grad
            assert raw_bytes(got) == raw_bytes(p)
        doc = strict_json(datason.dumps(p))
        assert doc[TAG] == "torch.nn.Parameter" and doc[VALUE]["requires_grad"] is requires_grad


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(2, 3, 3)
        self.norm = torch.nn.BatchNorm1d(3)  # int64 num_batches_tracked buffer
        self.head = torch.nn.Linear(3, 2).to(torch.float64)
        self.emb = torch.nn.Embedding(5, 4).to(torch.bfloat16)


@pytest.mark.parametrize("fmt", ["readable", "compact"])
def test_state_dict_round_trip(walker: str, fmt: str) -> None:
    torch.manual_seed(0)
    model = _Net()
    model.norm(torch.randn(4, 3, 5))  # move the running stats off their defaults
    state = model.state_dict()
    got = datason.loads(datason.dumps(state, CONFIGS[fmt]), CONFIGS[fmt])
    assert type(got) is collections.OrderedDict and list(got) == list(state)
    for key, want in state.items():
        assert_tensor_same(got[key], want)
    fresh = _Net()
    fresh.load_state_dict(got)
    for key, want in state.items():
        assert raw_bytes(fresh.state_dict()[key]) == raw_bytes(want)


def test_module_parameters_list(walker: str) -> None:
    params = list(torch.nn.Linear(3, 2).parameters())
    got = datason.loads(datason.dumps(params))
    assert [type(p) for p in got] == [torch.nn.Parameter] * 2
    assert all(raw_bytes(g) == raw_bytes(w) for g, w in zip(got, params, strict=True))


# --- sparse COO ----------------------------------------------------------------------------------------


def _coo(indices: torch.Tensor, values: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    return torch.sparse_coo_tensor(indices, values, size, check_invariants=True)


def _sparse_cases() -> list[torch.Tensor]:
    idx = torch.tensor([[0, 2, 0, 1], [1, 0, 1, 3]])
    return [
        _coo(idx, torch.tensor([1.0, -0.0, 2.5, math.nan]), (3, 4)),  # uncoalesced (repeat)
        _coo(idx, torch.tensor([1.0, 2.0, 3.0, 4.0]), (3, 4)).coalesce(),
        _coo(idx[:, :2], sample(torch.complex64, (2, 5)), (3, 4, 5)),  # hybrid
        _coo(torch.zeros(2, 0, dtype=torch.int64), torch.zeros(0), (3, 4)),
        _coo(idx, sample(torch.bfloat16, (4,)), (3, 4)),
        _coo(idx, torch.tensor([1, 2, 3, 4], dtype=torch.int16), (3, 4)).coalesce(),
        _coo(idx, torch.ones(4, dtype=torch.float64), (3, 4)).requires_grad_(True),
    ]


@pytest.mark.parametrize("fmt", ["readable", "compact"])
def test_sparse_coo_round_trip(walker: str, fmt: str) -> None:
    for t in _sparse_cases():
        for got in round_trips(t, CONFIGS[fmt]):
            assert_tensor_same(got, t)


def test_sparse_payload_and_plain() -> None:
    t = _sparse_cases()[1]
    doc = strict_json(datason.dumps(t, READABLE))[VALUE]
    assert doc["layout"] == "sparse_coo" and doc["size"] == [3, 4] and doc["coalesced"] is True
    assert doc["indices"]["dtype"] == "<i8" and doc["indices"]["shape"] == [2, 3]
    plain = strict_json(datason.dumps(t, PLAIN))
    assert plain == {"size": [3, 4], "indices": [[0, 1, 2], [1, 3, 0]], "values": [4.0, 4.0, 2.0]}


# --- device --------------------------------------------------------------------------------------------


def test_device_config_moves_decoded_tensors() -> None:
    t = sample(torch.float32, (2, 2))
    text = datason.dumps(t)
    assert datason.loads(text).device.type == "cpu"
    assert datason.loads(text, SerializationConfig(device="cpu")).device.type == "cpu"
    meta = datason.loads(text, SerializationConfig(device="meta"))  # a device every torch build has
    assert meta.device.type == "meta" and meta.shape == t.shape and meta.dtype == t.dtype
    grad = datason.loads(datason.dumps(t.requires_grad_(True)), SerializationConfig(device="meta"))
    assert grad.device.type == "meta" and grad.requires_grad and grad.is_leaf


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensor_encodes_from_host() -> None:  # pragma: no cover - no GPU on CI
    t = sample(torch.float32, (3,)).cuda()
    got = datason.loads(datason.dumps(t))
    assert got.device.type == "cpu" and raw_bytes(got) == raw_bytes(t)


# --- small companions ------------------------------------------------------------------------------------


def test_size_dtype_device_round_trip(walker: str) -> None:
    values = [torch.Size([2, 3]), torch.Size([]), torch.bfloat16, torch.uint64, torch.device("cpu")]
    values += [torch.device("cuda", 1), torch.device("meta")]
    for v in values:
        for got in round_trips(v, READABLE):
            assert type(got) is type(v) and got == v
    mixed = {"shape": torch.Size([4]), "dtype": torch.float16, "device": torch.device("cpu")}
    assert datason.loads(datason.dumps(mixed)) == mixed


def test_plain_mode_is_strict_json() -> None:
    t = torch.tensor([[1.5, math.nan], [math.inf, -0.0]])
    assert strict_json(datason.dumps(t, PLAIN)) == [[1.5, None], [None, -0.0]]
    text = datason.dumps(t, PLAIN.replace(nan_handling="string"))
    assert strict_json(text)[0][0] == 1.5
    bf = torch.tensor([1.0, 0.5, math.nan], dtype=torch.bfloat16)
    assert strict_json(datason.dumps(bf, PLAIN)) == [1.0, 0.5, None]
    doc = {
        "w": torch.nn.Parameter(torch.ones(2)),
        "i": torch.arange(3, dtype=torch.int16),
        "c": torch.tensor([1 + 2j]),
        "b": torch.tensor(True),
        "size": torch.Size([2, 3]),
        "dtype": torch.float32,
        "device": torch.device("cpu"),
    }
    assert strict_json(datason.dumps(doc, PLAIN)) == {
        "w": [1.0, 1.0],
        "i": [0, 1, 2],
        "c": [{"real": 1.0, "imag": 2.0}],
        "b": True,
        "size": [2, 3],
        "dtype": "torch.float32",
        "device": "cpu",
    }


# --- datason 0.x documents -------------------------------------------------------------------------------


def test_legacy_documents_load() -> None:
    old = {"shape": [2, 2], "dtype": "torch.float32", "data": [[1.0, 2.0], [3.0, 4.5]], "device": "cpu"}
    got = datason.loads(envelope("torch.Tensor", {**old, "requires_grad": False}))
    assert_tensor_same(got, torch.tensor([[1.0, 2.0], [3.0, 4.5]]))
    got = datason.loads(envelope("torch.Tensor", {**old, "requires_grad": True}))
    assert got.requires_grad and got.is_leaf
    ints = {"shape": [3], "dtype": "torch.int64", "data": [1, -2, 3], "device": "cuda:0", "requires_grad": False}
    assert_tensor_same(datason.loads(envelope("torch.Tensor", ints)), torch.tensor([1, -2, 3]))
    flags = {"shape": [2], "dtype": "torch.bool", "data": [True, False], "device": "cpu", "requires_grad": False}
    assert_tensor_same(datason.loads(envelope("torch.Tensor", flags)), torch.tensor([True, False]))
    bf = {"shape": [2], "dtype": "torch.bfloat16", "data": [1.5, -2.0], "device": "cpu", "requires_grad": False}
    assert_tensor_same(datason.loads(envelope("torch.Tensor", bf)), torch.tensor([1.5, -2.0], dtype=torch.bfloat16))
    scalar = {"shape": [], "dtype": "torch.float64", "data": 2.5, "device": "cpu", "requires_grad": False}
    assert_tensor_same(datason.loads(envelope("torch.Tensor", scalar)), torch.tensor(2.5, dtype=torch.float64))
    nan = {"shape": [2], "dtype": "torch.float32", "data": [None, 1.0], "device": "cpu", "requires_grad": False}
    assert math.isnan(datason.loads(envelope("torch.Tensor", nan))[0].item())
    nested = {"model": {"w": {TAG: "torch.Tensor", VALUE: {**old, "requires_grad": False}}}}
    assert datason.loads(json.dumps(nested))["model"]["w"].shape == (2, 2)


# --- bad payloads ----------------------------------------------------------------------------------------

_ARR = {"dtype": "<f4", "shape": [2], "data": [1.0, 2.0]}
_IDX = {"dtype": "<i8", "shape": [2, 2], "data": [[0, 1], [1, 0]]}
_VALS = {"dtype": "<f4", "shape": [2], "data": [1.0, 2.0]}
_SPARSE = {"layout": "sparse_coo", "dtype": "float32", "size": [2, 2], "indices": _IDX, "values": _VALS}
BAD: list[tuple[str, Any, type[Exception]]] = [
    ("torch.Tensor", [1, 2], DeserializationError),
    ("torch.Tensor", {"dtype": "__class__", "array": _ARR}, DeserializationError),
    ("torch.Tensor", {"dtype": "Tensor", "array": _ARR}, DeserializationError),
    ("torch.Tensor", {"dtype": ["float32"], "array": _ARR}, DeserializationError),
    ("torch.Tensor", {"dtype": "float64", "array": _ARR}, DeserializationError),  # carrier mismatch
    ("torch.Tensor", {"dtype": "bfloat16", "array": _ARR}, DeserializationError),
    ("torch.Tensor", {"dtype": "float32", "array": _ARR, "extra": 1}, DeserializationError),
    ("torch.Tensor", {"dtype": "float32"}, DeserializationError),
    ("torch.Tensor", {"dtype": "float32", "array": _ARR, "requires_grad": "yes"}, DeserializationError),
    (
        "torch.Tensor",
        {"dtype": "int64", "array": {**_ARR, "dtype": "<i8", "data": [1, 2]}, "requires_grad": True},
        DeserializationError,
    ),
    ("torch.Tensor", {"dtype": "float32", "array": {**_ARR, "shape": [3]}}, DeserializationError),
    (
        "torch.Tensor",
        {"dtype": "float32", "array": {"dtype": "<f4", "shape": [10**9, 10**9], "base64": ""}},
        SecurityError,
    ),
    ("torch.Tensor", {"dtype": "float32", "array": {"dtype": "|O", "shape": [1], "data": [1]}}, DeserializationError),
    ("torch.Tensor", {**_SPARSE, "coalesced": False, "layout": "sparse_csr"}, DeserializationError),
    ("torch.Tensor", _SPARSE, DeserializationError),  # coalesced missing
    ("torch.Tensor", {**_SPARSE, "coalesced": False, "size": [2]}, DeserializationError),
    ("torch.Tensor", {**_SPARSE, "coalesced": False, "size": [2, 1]}, DeserializationError),  # index out of range
    ("torch.Tensor", {**_SPARSE, "coalesced": False, "size": [2, -1]}, DeserializationError),
    (
        "torch.Tensor",
        {**_SPARSE, "coalesced": False, "values": {**_VALS, "shape": [3], "data": [1.0] * 3}},
        DeserializationError,
    ),
    ("torch.Tensor", {**_SPARSE, "coalesced": False, "indices": {**_IDX, "dtype": "<f8"}}, DeserializationError),
    ("torch.Tensor", {**_SPARSE, "coalesced": True}, DeserializationError),  # (0,1),(1,0) sorted -> ok? see below
    ("torch.Tensor", {"shape": [3], "dtype": "torch.float32", "data": [1.0, 2.0]}, DeserializationError),
    ("torch.Tensor", {"shape": [2], "dtype": "float32", "data": [1.0, 2.0]}, DeserializationError),
    ("torch.Tensor", {"shape": [2], "dtype": "torch.evil", "data": [1.0, 2.0]}, DeserializationError),
    ("torch.Tensor", {"shape": [2], "dtype": "torch.int32", "data": [1.5, 2]}, DeserializationError),
    ("torch.Tensor", {"shape": [1], "dtype": "torch.int8", "data": [300]}, DeserializationError),
    ("torch.Tensor", {"shape": [10**6, 10**6], "dtype": "torch.int8", "data": []}, SecurityError),
    ("torch.nn.Parameter", {"dtype": "float32"}, DeserializationError),
    ("torch.nn.Parameter", "x", DeserializationError),
    ("torch.Size", [2, -1], DeserializationError),
    ("torch.Size", "2,3", DeserializationError),
    ("torch.dtype", "float", DeserializationError),
    ("torch.dtype", "__builtins__", DeserializationError),
    ("torch.device", "evil:0", DeserializationError),
    ("torch.device", "cuda:x", DeserializationError),
    ("torch.device", 3, DeserializationError),
    ("torch.NoSuchThing", {}, DeserializationError),
]
# The coalesced case above: indices [[0, 1], [1, 0]] are sorted and unique, so it is valid; swap to make it bad.
BAD[20] = (
    "torch.Tensor",
    {**_SPARSE, "coalesced": True, "indices": {**_IDX, "data": [[1, 0], [0, 1]]}},
    DeserializationError,
)


@pytest.mark.parametrize(("tag", "payload", "error"), BAD, ids=[f"{i}-{b[0]}" for i, b in enumerate(BAD)])
def test_bad_payloads_raise(tag: str, payload: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        datason.loads(envelope(tag, payload), SerializationConfig(strict=True))


def test_max_size_checked_before_allocation() -> None:
    config = SerializationConfig(max_size=10)
    text = datason.dumps(torch.zeros(11), COMPACT)
    with pytest.raises(SecurityError):
        datason.loads(text, config)
    datason.loads(datason.dumps(torch.zeros(10), COMPACT), config)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_unsupported_tensors_refused() -> None:
    with pytest.raises(datason.SerializationError):
        datason.dumps(torch.zeros(2, 2).to_sparse_csr())
    with pytest.raises(datason.SerializationError):
        datason.dumps(torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.qint8))


# --- imports ---------------------------------------------------------------------------------------------


def test_import_datason_does_not_import_torch() -> None:
    code = (
        "import sys, datason\n"
        "datason.loads(datason.dumps({'a': [1, 2.5]}))\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_torch_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "import datason\n"
        "try:\n"
        '    datason.loads(\'{"__datason_type__": "torch.Tensor", "__datason_value__": {}}\')\n'
        "except datason.DeserializationError as exc:\n"
        "    assert 'datason[torch]' in str(exc), str(exc)\n"
        "else:\n"
        "    raise AssertionError('no error')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
