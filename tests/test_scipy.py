"""SciPy sparse: every format, matrix and array class, dtype and encoding round-trips exactly; bad payloads raise."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

import datason
from datason import DeserializationError, SecurityError
from datason.config import SerializationConfig

from .conftest import strict_json

READABLE = SerializationConfig(array_format="readable")
COMPACT = SerializationConfig(array_format="compact")
CONFIGS = {"readable": READABLE, "compact": COMPACT, "auto": SerializationConfig(compact_threshold=4)}
PLAIN = SerializationConfig(include_type_hints=False)
TAG, VALUE = "__datason_type__", "__datason_value__"
FORMATS = ["csr", "csc", "coo", "bsr", "dia", "lil", "dok"]
DTYPES = ["?", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8", "c8", "c16"]
SHAPES = [(6, 4), (0, 3), (4, 0), (1, 1)]


def dense(shape: tuple[int, int], dtype: str, seed: int = 3) -> np.ndarray:
    """About half zeros; floats include NaN, -inf and -0.0 (which sparse formats keep as stored values)."""
    rng = np.random.default_rng(seed)
    n = shape[0] * shape[1]
    values = rng.integers(-100, 100, n).astype(np.float64) * 1.25
    if np.dtype(dtype).kind in "fc" and n >= 4:
        values[:3] = [np.nan, -np.inf, 0.1]
    values[rng.random(n) < 0.5] = 0
    out = values.astype(dtype) if np.dtype(dtype).kind != "u" else np.abs(values).astype(dtype)
    if np.dtype(dtype).kind == "c":
        with np.errstate(invalid="ignore"):
            out = out + 1j * out[::-1]
    return out.reshape(shape).astype(dtype)


def make(fmt: str, kind: str, a: np.ndarray) -> Any:
    cls = getattr(sp, f"{fmt}_{kind}")
    if fmt == "bsr" and a.shape[0] % 2 == 0 and a.shape[1] % 2 == 0 and a.size:
        return cls(a, blocksize=(2, 2))
    return cls(a)


def assert_sparse_same(got: Any, want: Any) -> None:
    assert type(got) is type(want), (type(got), type(want))
    assert got.format == want.format and got.shape == want.shape and got.dtype == want.dtype
    assert got.toarray().tobytes() == want.toarray().tobytes()
    if want.format in ("csr", "csc", "bsr", "coo", "dia"):
        assert got.nnz == want.nnz  # explicit zeros and duplicates kept
    if want.format == "bsr":
        assert got.blocksize == want.blocksize


def round_trips(value: Any, config: SerializationConfig) -> Iterator[Any]:
    yield datason.loads(datason.dumps(value, config), config)
    yield datason.loads(datason.dumpb(value, config, sort_keys=True), config)
    yield datason.deserialize(json.loads(json.dumps(datason.serialize(value, config))), config)


def envelope(tag: str, value: Any) -> str:
    return json.dumps({TAG: tag, VALUE: value})


@pytest.mark.parametrize("fmt_name", CONFIGS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_format_dtype_shape_matrix(walker: str, fmt: str, fmt_name: str) -> None:
    config = CONFIGS[fmt_name]
    for kind in ("matrix", "array"):
        for dtype in DTYPES:
            for shape in SHAPES:
                m = make(fmt, kind, dense(shape, dtype))
                for got in round_trips(m, config):
                    assert_sparse_same(got, m)


def test_explicit_zeros_duplicates_and_unsorted_indices_kept(walker: str) -> None:
    csr = sp.csr_matrix((np.array([0.0, 2.0, 3.0]), np.array([2, 0, 2]), np.array([0, 2, 3])), shape=(2, 3))
    coo = sp.coo_array((np.array([1.0, 2.0, -0.0]), (np.array([0, 0, 1]), np.array([1, 1, 0]))), shape=(2, 2))
    for m in (csr, coo):
        for got in round_trips(m, READABLE):
            assert_sparse_same(got, m)
    got = datason.loads(datason.dumps(csr))
    assert got.indices.tolist() == [2, 0, 2] and got.data.tolist() == [0.0, 2.0, 3.0]


def test_other_shapes_of_array_classes(walker: str) -> None:
    cases = [sp.coo_array(np.arange(24.0).reshape(2, 3, 4) % 3), sp.coo_array(np.array([0, 1, 0, 2]))]
    cases += [sp.csr_array(np.array([0.0, 1.5, 0.0])), sp.dok_array(np.array([0, 3, 0]))]
    for m in cases:
        for got in round_trips(m, COMPACT):
            assert_sparse_same(got, m)


def test_payload_forms() -> None:
    m = sp.csr_array(np.array([[0.0, 1.5], [2.0, 0.0]]))
    doc = strict_json(datason.dumps(m, READABLE))
    assert doc[TAG] == "scipy.sparse.csr_array"
    p = doc[VALUE]
    assert set(p) == {"shape", "data", "indices", "indptr"} and p["shape"] == [2, 2]
    assert p["data"] == {"dtype": "<f8", "shape": [2], "data": [1.5, 2.0]}
    coo = strict_json(datason.dumps(sp.coo_matrix(m), READABLE))
    assert coo[TAG] == "scipy.sparse.coo_matrix" and set(coo[VALUE]) == {"shape", "data", "coords"}
    dia = strict_json(datason.dumps(sp.dia_matrix(m), READABLE))
    assert set(dia[VALUE]) == {"shape", "data", "offsets"}
    assert strict_json(datason.dumps(sp.lil_matrix(m)))[TAG] == "scipy.sparse.lil_matrix"


def test_plain_mode_is_coo_triplets() -> None:
    a = np.array([[0.0, np.nan], [2.0, 0.0]])
    for fmt in FORMATS:
        for kind in ("matrix", "array"):
            # dok classes subclass dict: the core's plain fast path (nan_handling="null") writes them as {}
            config = PLAIN.replace(nan_handling="string") if fmt == "dok" else PLAIN
            doc = strict_json(datason.dumps(make(fmt, kind, a), config))
            assert doc["format"] == "coo" and doc["shape"] == [2, 2]
            stored = zip(doc["row"], doc["col"], doc["data"], strict=True)  # bsr/dia also store zeros
            triplets = sorted((x for x in stored if x[2] != 0), key=lambda x: (x[0], x[1]))
            assert triplets == [(0, 1, None if fmt != "dok" else "NaN"), (1, 0, 2.0)], (fmt, kind)
    doc = strict_json(datason.dumps(sp.coo_array(np.ones((1, 1, 2))), PLAIN))
    assert doc == {"format": "coo", "shape": [1, 1, 2], "coords": [[0, 0], [0, 0], [0, 1]], "data": [1.0, 1.0]}
    big = sp.eye(10**6, format="csr")  # a dense list would hold 10**12 numbers
    assert len(strict_json(datason.dumps(big, PLAIN))["data"]) == 10**6


def test_plain_dok_on_fast_path() -> None:
    """dok matrices are dict subclasses: the plain fast path must leave them to their handler."""
    assert strict_json(datason.dumps(sp.dok_matrix(np.eye(2)), PLAIN))["format"] == "coo"


def test_legacy_documents_load() -> None:
    old = {"format": "csr", "shape": [2, 3], "dtype": "float64", "data": [1.5, 2.0], "row": [0, 1], "col": [2, 0]}
    want = np.array([[0, 0, 1.5], [2.0, 0, 0]])
    for fmt in FORMATS:
        got = datason.loads(envelope("scipy.sparse", {**old, "format": fmt, "nnz": 2}))
        assert type(got) is getattr(sp, f"{fmt}_matrix") and got.dtype == np.float64
        assert got.toarray().tobytes() == want.tobytes()
    ints = datason.loads(envelope("scipy.sparse", {**old, "dtype": "int32", "data": [1, 2], "nnz": 2}))
    assert ints.dtype == np.int32 and ints.toarray().tolist() == [[0, 0, 1], [2, 0, 0]]


_A = {"dtype": "<f8", "shape": [2], "data": [1.0, 2.0]}
_I = {"dtype": "<i4", "shape": [2], "data": [0, 1]}
_P = {"dtype": "<i4", "shape": [3], "data": [0, 1, 2]}
_CSR = {"shape": [2, 2], "data": _A, "indices": _I, "indptr": _P}
_COO = {"shape": [2, 2], "data": _A, "coords": [_I, _I]}
_OLD = {"format": "csr", "shape": [2, 2], "dtype": "float64", "data": [1.0], "row": [0], "col": [1], "nnz": 1}
BAD: list[tuple[str, Any, type[Exception]]] = [
    ("scipy.sparse.csr_matrix", [1], DeserializationError),
    ("scipy.sparse.csr_matrix", {**_CSR, "extra": 1}, DeserializationError),
    ("scipy.sparse.csr_matrix", {**_CSR, "indptr": {**_P, "shape": [2], "data": [0, 2]}}, DeserializationError),
    ("scipy.sparse.csr_matrix", {**_CSR, "indptr": {**_P, "data": [0, 2, 1]}}, DeserializationError),
    ("scipy.sparse.csr_matrix", {**_CSR, "indptr": {**_P, "data": [1, 1, 2]}}, DeserializationError),
    ("scipy.sparse.csr_matrix", {**_CSR, "indices": {**_I, "data": [0, 2]}}, DeserializationError),
    ("scipy.sparse.csr_matrix", {**_CSR, "indices": {**_I, "data": [0, -1]}}, DeserializationError),
    ("scipy.sparse.csr_matrix", {**_CSR, "indices": {**_I, "dtype": "<f8"}}, DeserializationError),
    ("scipy.sparse.csr_matrix", {**_CSR, "data": {**_A, "shape": [3], "data": [1.0] * 3}}, DeserializationError),
    ("scipy.sparse.csr_matrix", {**_CSR, "data": {"dtype": "|O", "shape": [2], "data": [1, 2]}}, DeserializationError),
    ("scipy.sparse.csr_matrix", {**_CSR, "shape": [2]}, DeserializationError),
    ("scipy.sparse.csr_matrix", {**_CSR, "shape": [2, -2]}, DeserializationError),
    ("scipy.sparse.csr_matrix", {**_CSR, "data": {"dtype": "<f8", "shape": [10**10], "base64": ""}}, SecurityError),
    (
        "scipy.sparse.bsr_matrix",
        {**_CSR, "data": {"dtype": "<f8", "shape": [2, 3, 1], "base64": "A" * 64}},
        DeserializationError,
    ),
    ("scipy.sparse.coo_array", {**_COO, "coords": [_I]}, DeserializationError),
    ("scipy.sparse.coo_array", {**_COO, "coords": [_I, {**_I, "data": [0, 5]}]}, DeserializationError),
    ("scipy.sparse.coo_array", {**_COO, "coords": [_I, {**_I, "shape": [1], "data": [0]}]}, DeserializationError),
    ("scipy.sparse.dok_matrix", {**_COO, "coords": "x"}, DeserializationError),
    (
        "scipy.sparse.dia_matrix",
        {"shape": [2, 2], "data": {**_A, "shape": [1, 2], "data": [[1.0, 2.0]]}, "offsets": _I},
        DeserializationError,
    ),
    (
        "scipy.sparse.dia_matrix",
        {"shape": [2, 2], "data": {**_A, "shape": [2, 1], "data": [[1.0], [2.0]]}, "offsets": {**_I, "data": [0, 0]}},
        DeserializationError,
    ),
    ("scipy.sparse", {**_OLD, "format": "evil"}, DeserializationError),
    ("scipy.sparse", {**_OLD, "dtype": "object"}, DeserializationError),
    ("scipy.sparse", {**_OLD, "nnz": 2}, DeserializationError),
    ("scipy.sparse", {**_OLD, "row": [0, 1]}, DeserializationError),
    ("scipy.sparse", {**_OLD, "col": [7]}, DeserializationError),
    ("scipy.sparse", {**_OLD, "data": ["1.5"]}, DeserializationError),
    ("scipy.sparse", {**_OLD, "class": "os.system"}, DeserializationError),
    ("scipy.sparse.nope_matrix", _CSR, DeserializationError),
]


@pytest.mark.parametrize(("tag", "payload", "error"), BAD, ids=[f"{i}-{b[0]}" for i, b in enumerate(BAD)])
def test_bad_payloads_raise(tag: str, payload: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        datason.loads(envelope(tag, payload), SerializationConfig(strict=True))


def test_legacy_max_size() -> None:
    old = {**_OLD, "data": [1.0] * 20, "row": [0] * 20, "col": [0] * 20, "nnz": 20}
    with pytest.raises(SecurityError):
        datason.loads(envelope("scipy.sparse", old), SerializationConfig(max_size=10))


def test_import_datason_does_not_import_scipy() -> None:
    code = "import sys, datason\ndatason.loads(datason.dumps({'a': [1, 2.5]}))\nassert 'scipy' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_scipy_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['scipy'] = None\n"
        "import datason\n"
        "try:\n"
        '    datason.loads(\'{"__datason_type__": "scipy.sparse.csr_matrix", "__datason_value__": {}}\')\n'
        "except datason.DeserializationError as exc:\n"
        "    assert 'datason[scipy]' in str(exc), str(exc)\n"
        "else:\n"
        "    raise AssertionError('no error')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
