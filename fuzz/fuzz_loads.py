"""Coverage-guided fuzz target (atheris) for decoding untrusted JSON with datason.

One input is a config selector byte followed by a JSON document. The document is decoded with
``datason.loads`` under that config by the C accelerator and by the pure-Python reference walkers, and the
stdlib-parsed tree (``datason.json.loads``) with ``deserialize`` and ``auto_deserialize`` under both. Oracles:

- only datason's own errors (``DatasonError``, a ``ValueError``) escape; any other exception (TypeError,
  KeyError, RecursionError, MemoryError, OverflowError, SystemError...) or a crash is a finding;
- the C and Python walkers agree (both fail, or both succeed with the same value);
- an error's path starts at ``$`` and its message never quotes a string value of the document;
- ``deserialize`` leaves its input tree unchanged;
- what decodes re-encodes with ``dumps`` under the same config, and decodes again to the same value
  (typed configs); plain output without marker keys decodes to exactly what ``json.loads`` reads from it.

Half of the mutations are libFuzzer's byte-level ones, half structural (``custom_mutator``,
``custom_crossover``): tags, payload types, keys, declared dtypes/shapes/counts, base64 bodies, splices and deep
nesting, from the same engine tests/test_fuzz.py drives with hypothesis.

Run: ``python fuzz/fuzz_loads.py [libFuzzer flags] [-findings_dir=DIR] CORPUS_DIR... | INPUT_FILE``
(see fuzz/README.md). ``check(data)`` is the whole oracle for one input, importable without atheris.
"""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import hashlib
import json
import math
import os
import random
import re
import struct
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

# Bound by load(): imported inside atheris.instrument_imports() when fuzzing, plainly otherwise.
datason: Any = None
errors: Any = None
_WALKER_MODULES: list[Any] = []
_NATIVE: Any = None  # datason._native: its ``speedups`` is the C accelerator (None when not built)
CONFIGS: list[tuple[str, Any]] = []
PERF: Any = None

TYPE_KEY = "__datason_type__"
VALUE_KEY = "__datason_value__"
HANDLER_MODULES = ("stdlib", "numpy", "pandas", "torch", "scipy", "arrow", "polars", "images", "sklearn", "pydantic")
# Classes the "trusting" config lets skops rebuild (the StandardScaler make_seeds.py writes, and other common ones).
TRUSTED = (
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
    "numpy.dtype",
)
# A message may quote a string of the input this long only if it is structure (a key or a tag) or a type name.
QUOTE_MIN = 16
TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


class Finding(AssertionError):
    """An oracle other than "only datason errors escape" failed."""


def load() -> None:
    """Import datason and every handler module, and build the configs (call once, before ``check``)."""
    global datason, errors, PERF, _NATIVE
    if datason is not None:
        return
    import importlib

    import datason as _datason
    import datason.json
    from datason import _native, decoder, encoder, fastpath
    from datason import config as _config
    from datason import errors as _errors

    for name in HANDLER_MODULES:
        importlib.import_module(f"datason.handlers.{name}")
    datason, errors = _datason, _errors
    _WALKER_MODULES[:] = [decoder, encoder, fastpath]
    _NATIVE = _native
    base = _config.SerializationConfig
    CONFIGS[:] = [
        ("default", _config.get_default_config()),
        ("api", _config.get_api_config()),
        ("strict", _config.get_strict_config()),
        ("ml", _config.get_ml_config()),
        ("performance", _config.get_performance_config()),
        ("plain", base(include_type_hints=False)),
        ("tight", base(max_depth=6, max_size=12, max_string_length=40, max_bytes=4096)),
        ("readable-trusting", base(array_format="readable", sort_keys=True, trusted_types=TRUSTED)),
    ]
    PERF = _config.get_performance_config()
    from datason.registry import REGISTRY

    TAGS[:] = [*sorted(REGISTRY._by_tag), *NEAR_TAGS]


@contextmanager
def python_walkers(on: bool = True) -> Iterator[None]:
    """The pure-Python reference walkers for the block (``on=False``: leave the walkers as they are)."""
    with walkers("python" if on else None):
        yield


@contextmanager
def walkers(kind: str | None) -> Iterator[None]:
    """``"c"``: the C accelerator, ``"python"``: the pure-Python reference walkers, None: unchanged."""
    if kind is None:
        yield
        return
    previous = [module._speedups for module in _WALKER_MODULES]
    for module in _WALKER_MODULES:
        module._speedups = None if kind == "python" else _NATIVE.speedups
    try:
        yield
    finally:
        for module, speedups in zip(_WALKER_MODULES, previous, strict=True):
            module._speedups = speedups


def attempt(call: Callable[[], Any]) -> tuple[bool, Any]:
    """(True, result) or (False, the datason error); any other exception propagates: that is a finding."""
    try:
        return True, call()
    except errors.DatasonError as exc:
        return False, exc


# --- exact comparison ------------------------------------------------------------------------------------------------


def canon(x: Any) -> str:
    """A canonical text for a hashable value (set items, dict keys): order-free and NaN-safe."""
    name = type(x).__name__
    if isinstance(x, set | frozenset):
        return name + "{" + ",".join(sorted(canon(e) for e in x)) + "}"
    if isinstance(x, tuple):
        return name + "(" + ",".join(canon(e) for e in x) + ")"
    if type(x) is float:
        return name + (x.hex() if x == x else "nan")
    return name + repr(x)


def same(a: Any, b: Any, path: str = "$") -> None:
    """Raise ``Finding`` unless ``a`` and ``b`` are the same value of the same type (floats by bits, NaN
    equal to NaN, arrays by dtype, shape and value bits, frames with pandas' exact checks)."""
    ta = type(a)
    if ta is not type(b):
        raise Finding(f"{path}: {ta.__qualname__} != {type(b).__qualname__}")
    module = ta.__module__.partition(".")[0]
    if module in LIBRARIES:
        same_library(a, b, module, path)
    elif ta is float:
        if not (struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))):
            raise Finding(f"{path}: float {a!r} != {b!r}")
    elif ta is complex:
        same(a.real, b.real, path + ".real")
        same(a.imag, b.imag, path + ".imag")
    elif ta in (list, tuple) or isinstance(a, collections.deque):
        if isinstance(a, collections.deque) and a.maxlen != b.maxlen:
            raise Finding(f"{path}: deque maxlen")
        if len(a) != len(b):
            raise Finding(f"{path}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        if len(a) != len(b):
            raise Finding(f"{path}: {len(a)} keys != {len(b)}")
        by_key = {canon(k): (k, v) for k, v in b.items()}
        for k, v in a.items():
            other = by_key.get(canon(k))
            if other is None:
                raise Finding(f"{path}: key {canon(k)[:40]} missing")
            same(k, other[0], path + "<key>")
            same(v, other[1], f"{path}[{canon(k)[:40]}]")
    elif isinstance(a, set | frozenset):
        if sorted(map(canon, a)) != sorted(map(canon, b)):
            raise Finding(f"{path}: sets differ")
    elif ta is decimal.Decimal:
        if str(a) != str(b):
            raise Finding(f"{path}: Decimal {a} != {b}")
    elif ta is range:
        if (a.start, a.stop, a.step) != (b.start, b.stop, b.step):
            raise Finding(f"{path}: range")
    elif isinstance(a, dt.datetime | dt.time):
        if (a.isoformat(), a.fold, repr(a.tzinfo)) != (b.isoformat(), b.fold, repr(b.tzinfo)):
            raise Finding(f"{path}: {a!r} != {b!r}")
    elif a != b:
        raise Finding(f"{path}: {a!r} != {b!r}")


LIBRARIES = frozenset({"numpy", "pandas", "sklearn", "torch", "scipy", "pyarrow", "polars", "PIL"})


def same_library(a: Any, b: Any, module: str, path: str) -> None:
    """Values of the optional libraries (checked before the generic kinds: a SciPy dok_array is a dict, but the
    int types of its keys are not part of its value)."""
    if module == "numpy":
        import numpy as np

        same_array(np.asarray(a), np.asarray(b), path)
    elif module == "pandas":
        same_pandas(a, b, path)
    elif module == "sklearn":  # skops names its members by id(): compare the estimators' states
        same(a.__getstate__(), b.__getstate__(), path + ".state")
    elif encoded(a) != encoded(b):  # torch, scipy, pyarrow, polars, PIL: compact form writes every stored bit
        raise Finding(f"{path}: {type(a).__qualname__} values differ")


def encoded(x: Any) -> Any:
    """``x`` in the performance config's compact form, or the kind of error writing it raises."""
    try:
        return datason.dumps(x, PERF)
    except errors.DatasonError as exc:
        return type(exc)


def same_array(a: Any, b: Any, path: str) -> None:
    """NumPy arrays: same dtype and shape, and the same value bits (padding bytes are not values)."""
    import numpy as np

    if a.dtype != b.dtype or a.dtype.str != b.dtype.str or a.shape != b.shape:
        raise Finding(f"{path}: array {a.dtype}{a.shape} != {b.dtype}{b.shape}")
    if a.dtype.names:
        for name in a.dtype.names:
            same_array(a[name], b[name], f"{path}.{name}")
    elif a.dtype.kind == "O":
        for i, (x, y) in enumerate(zip(a.reshape(-1), b.reshape(-1), strict=True)):
            same(x, y, f"{path}[{i}]")
    elif a.dtype.kind in "fc" and a.dtype.itemsize // (2 if a.dtype.kind == "c" else 1) in (12, 16):
        # x87 long double: 10 value bytes, the rest padding (writers zero it)
        native = a.dtype.newbyteorder("=")
        part = a.dtype.itemsize // (2 if a.dtype.kind == "c" else 1)
        x = np.ascontiguousarray(a.astype(native)).view(np.uint8).reshape(-1, part)[:, :10]
        y = np.ascontiguousarray(b.astype(native)).view(np.uint8).reshape(-1, part)[:, :10]
        if x.tobytes() != y.tobytes():
            raise Finding(f"{path}: long double bits differ")
    elif np.ascontiguousarray(a).tobytes() != np.ascontiguousarray(b).tobytes():
        raise Finding(f"{path}: array bits differ ({a.dtype})")


def same_pandas(a: Any, b: Any, path: str) -> None:
    """pandas values: pandas' own exact checks, object columns and indexes item by item with ``same`` (pandas'
    checker misreads items such as frames inside an object column); scalars by value, unit and zone."""
    import pandas as pd
    import pandas.testing as pdt

    def objects(x: Any) -> bool:
        return getattr(x.dtype, "kind", None) == "O" and not isinstance(x, pd.MultiIndex)

    try:
        if isinstance(a, pd.DataFrame):
            same_pandas(a.index, b.index, path + ".index")
            same_pandas(a.columns, b.columns, path + ".columns")
            if a.flags.allows_duplicate_labels != b.flags.allows_duplicate_labels:
                raise AssertionError("flags differ")
            for i in range(a.shape[1]):
                same_pandas(a.iloc[:, i], b.iloc[:, i], f"{path}.iloc[:, {i}]")
        elif isinstance(a, pd.Series) and objects(a):
            if not objects(b):
                raise AssertionError(f"dtype {a.dtype} != {b.dtype}")
            same(a.name, b.name, path + ".name")
            same_pandas(a.index, b.index, path + ".index")
            same(list(a), list(b), path + ".values")
        elif isinstance(a, pd.Series):
            pdt.assert_series_equal(a, b, check_exact=True, check_freq=True, check_flags=True)
        elif isinstance(a, pd.Index) and objects(a):
            if not objects(b):
                raise AssertionError(f"dtype {a.dtype} != {b.dtype}")
            same(list(a.names), list(b.names), path + ".names")
            same(list(a), list(b), path + ".labels")
        elif isinstance(a, pd.Index):
            pdt.assert_index_equal(a, b, exact=True, check_exact=True, check_categorical=True)
            if getattr(a, "freq", None) != getattr(b, "freq", None):
                raise AssertionError("freq differs")
        elif isinstance(a, pd.api.extensions.ExtensionArray):
            pdt.assert_extension_array_equal(a, b, check_exact=True)
        elif isinstance(a, pd.Interval):
            same(a.left, b.left, path + ".left")
            same(a.right, b.right, path + ".right")
            if a.closed != b.closed:
                raise AssertionError("closed differs")
        elif a is pd.NaT or a is pd.NA:
            if a is not b:
                raise AssertionError("missing marker differs")
        elif (repr(a), getattr(a, "unit", None), repr(getattr(a, "tz", None))) != (
            repr(b),
            getattr(b, "unit", None),
            repr(getattr(b, "tz", None)),
        ) or a != b:
            raise AssertionError(f"{a!r} != {b!r}")
    except Finding:
        raise
    except AssertionError as exc:
        raise Finding(f"{path}: {type(a).__name__}: {str(exc)[:300]}") from None
    except Exception:
        # pandas' checker cannot compare these contents (odd objects in an object column): compare the encoding
        if encoded(a) != encoded(b):
            raise Finding(f"{path}: {type(a).__name__} values differ") from None


# --- structural mutations (the fuzzer's custom mutator, and tests/test_fuzz.py's hypothesis properties) ----------


class Chooser(Protocol):
    """Where a mutation's choices come from: ``random.Random`` for the fuzzer, hypothesis' data in tests."""

    def choice(self, options: Sequence[Any]) -> Any: ...

    def randint(self, low: int, high: int) -> int: ...


class Obj(list[Any]):
    """A JSON object as a list of ``[key, value]`` pairs: keeps the order and allows duplicate keys."""


class Raw:
    """Already-written JSON text inside ``emit``'s work stack."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def parse(text: str | bytes) -> Any:
    """A JSON document as a tree of lists, ``Obj`` objects and scalars."""
    return json.loads(text, object_pairs_hook=lambda pairs: Obj([list(p) for p in pairs]))


def emit(root: Any) -> str:
    """The JSON text of a tree, without recursion (deeply nested documents are the point)."""
    out: list[str] = []
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, Raw):
            out.append(node.text)
        elif isinstance(node, Obj):
            seq: list[Any] = [Raw("{")]
            for i, (key, value) in enumerate(node):
                seq += [Raw(("," if i else "") + json.dumps(key) + ":"), value]
            stack.extend(reversed([*seq, Raw("}")]))
        elif isinstance(node, list):
            seq = [Raw("[")]
            for i, value in enumerate(node):
                seq += [Raw(","), value] if i else [value]
            stack.extend(reversed([*seq, Raw("]")]))
        else:
            out.append(json.dumps(node))
    return "".join(out)


def slots(holder: list[Any]) -> list[tuple[list[Any], int]]:
    """Every place in the tree as (container, index): ``container[index]`` is the node, ``holder[0]`` the root."""
    out: list[tuple[list[Any], int]] = [(holder, 0)]
    stack = [holder[0]]
    while stack:
        node = stack.pop()
        if isinstance(node, Obj):
            for pair in node:
                out.append((pair, 1))
                stack.append(pair[1])
        elif isinstance(node, list):
            for i, item in enumerate(node):
                out.append((node, i))
                stack.append(item)
    return out


def clone(node: Any) -> Any:
    """A copy of a tree, without recursion (``copy.deepcopy`` fails on deep documents)."""
    holder: list[Any] = [None]
    stack: list[tuple[Any, list[Any], int]] = [(node, holder, 0)]
    while stack:
        src, dst, at = stack.pop()
        if isinstance(src, Obj):
            dst[at] = new = Obj([[k, None] for k, _ in src])
            stack.extend((v, pair, 1) for pair, (_, v) in zip(new, src, strict=True))
        elif isinstance(src, list):
            dst[at] = items = [None] * len(src)
            stack.extend((v, items, i) for i, v in enumerate(src))
        else:
            dst[at] = src
    return holder[0]


def is_envelope(node: Any) -> bool:
    return isinstance(node, Obj) and any(k == TYPE_KEY for k, _ in node)


TAGS: list[str] = []  # every registered tag and a few near misses (filled by load())
NEAR_TAGS = ["no.such.Tag", "sklearn.model", "numpy.", "Numpy.ndarray", "", "pydantic.BaseModel"]
DTYPES: list[Any] = [
    "<f8", ">f8", "<f4", "<f2", "|b1", "|i1", "|u1", "<i2", ">i4", "<i8", "<u8", "<c8", "<c16", "<f16", "<c32",
    "<M8[ns]", "<M8[D]", "<M8", "<m8[ms]", "<U3", "|S2", "|V4", "|O", "f8", "=f8", "<i1", "O", "<U0", "|S0",
    "<U99999999999", "|V2147483648", "<M8[3Y]", "int64", "Int64", "float32", "string", "str", "category",
    "datetime64", "timedelta64", "period", "interval", "object", "boolean", "UInt8", "bfloat16", "float8_e4m3fn",
    {"names": ["a"], "formats": ["<i4"], "offsets": [0], "itemsize": 4},
    {"names": ["a", "b"], "formats": ["<i4", "<i4"], "offsets": [0, 2], "itemsize": 4},
    {"names": ["a"], "formats": [{"base": "<f8", "shape": [2**31]}], "offsets": [0], "itemsize": 8},
]  # fmt: skip
MEMBERS = sorted(
    {"dtype", "shape", "data", "base64", "fields", "kind", "name", "index", "columns", "levels", "codes",
     "categories", "ordered", "unit", "tz", "freq", "closed", "storage", "mask", "start", "stop", "step", "value",
     "left", "right", "real", "imag", "iso", "fold", "items", "maxlen", "days", "seconds", "microseconds", "size",
     "indices", "values", "indptr", "coords", "offsets", "format", "mode", "palette", "array", "layout",
     TYPE_KEY, VALUE_KEY, "", "DTYPE", "dtype ", "data\u0000"}
)  # fmt: skip
NUMBERS: list[Any] = [
    0, -1, 1, 2, 255, 2**31, 2**32 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30), 1.5, 1e300, -0.0,
]  # fmt: skip
BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)")
# max_depth of the presets (64 strict, 256 the others; 6 the tight fuzz config) and around them
DEPTHS = [5, 6, 7, 21, 22, 63, 64, 65, 85, 86, 255, 256, 257, 400]
WRAPS = ["list", "object", "dict-tag", "object-array", "tuple", "set", "no.such.Tag", "complex"]


def pick_slot(ch: Chooser, holder: list[Any], keep: Callable[[Any], bool]) -> tuple[list[Any], int] | None:
    candidates = [(c, i) for c, i in slots(holder) if keep(c[i])]
    return ch.choice(candidates) if candidates else None


def swapped_type(node: Any, ch: Chooser) -> Any:
    """The same content in another JSON type (an object's values as an array, a number as a string...)."""
    if isinstance(node, Obj):
        options: list[Any] = [[v for _, v in node], [[k, v] for k, v in node], None, emit(node)]
    elif isinstance(node, list):
        options = [Obj([[str(i), v] for i, v in enumerate(node)]), node[0] if node else None, emit(node), Obj()]
    elif isinstance(node, str):
        options = [[node], len(node), Obj([["value", node]]), None, node.encode("utf-8", "replace").hex()]
    elif isinstance(node, bool) or node is None:
        options = [int(bool(node)), str(node), [node], Obj()]
    else:
        options = [str(node), [node], bool(node), Obj([["value", node]]), None]
    return ch.choice(options)


def mutate_tag(holder: list[Any], ch: Chooser) -> None:
    """Another registered tag (or a near miss) on an envelope; a new envelope around a node if there is none."""
    slot = pick_slot(ch, holder, is_envelope)
    if slot is None:
        container, index = ch.choice(slots(holder))
        container[index] = Obj([[TYPE_KEY, ch.choice(TAGS)], [VALUE_KEY, container[index]]])
        return
    for pair in slot[0][slot[1]]:
        if pair[0] == TYPE_KEY:
            pair[1] = ch.choice(TAGS)


def mutate_payload_type(holder: list[Any], ch: Chooser) -> None:
    container, index = ch.choice(slots(holder))
    container[index] = swapped_type(container[index], ch)


def mutate_keys(holder: list[Any], ch: Chooser) -> None:
    """Delete, duplicate (same or another value), rename, add or reorder a member of an object."""
    slot = pick_slot(ch, holder, lambda n: isinstance(n, Obj) and len(n) > 0)
    if slot is None:
        return
    obj = slot[0][slot[1]]
    i = ch.randint(0, len(obj) - 1)
    action = ch.choice(["delete", "duplicate", "duplicate-other", "rename", "add", "swap"])
    if action == "delete":
        del obj[i]
    elif action == "duplicate":
        obj.insert(ch.randint(0, len(obj)), [obj[i][0], clone(obj[i][1])])
    elif action == "duplicate-other":
        obj.append([obj[i][0], clone(obj[ch.randint(0, len(obj) - 1)][1])])
    elif action == "rename":
        obj[i][0] = ch.choice([*MEMBERS, obj[i][0] + "x", obj[i][0].upper()])
    elif action == "add":
        obj.append([ch.choice(MEMBERS), clone(obj[i][1])])
    else:
        j = ch.randint(0, len(obj) - 1)
        obj[i], obj[j] = obj[j], obj[i]


def mutate_declared(holder: list[Any], ch: Chooser) -> None:
    """Change what a payload declares: a dtype, a shape, a count or index, a list's length."""
    kind = ch.choice(["dtype", "shape", "int", "length"])
    if kind == "dtype":
        slot = pick_slot(ch, holder, lambda n: isinstance(n, Obj) and any(k == "dtype" for k, _ in n))
        if slot is not None:
            for pair in slot[0][slot[1]]:
                if pair[0] == "dtype":
                    pair[1] = parse(json.dumps(ch.choice(DTYPES)))
            return
    if kind == "shape":
        slot = pick_slot(ch, holder, lambda n: isinstance(n, Obj) and any(k in ("shape", "size") for k, _ in n))
        if slot is not None:
            for pair in slot[0][slot[1]]:
                if pair[0] in ("shape", "size") and type(pair[1]) is list:
                    change_dims(pair[1], ch)
            return
    if kind == "length":
        slot = pick_slot(ch, holder, lambda n: type(n) is list and len(n) > 0)
        if slot is not None:
            items = slot[0][slot[1]]
            if ch.choice([True, False]):
                items.pop(ch.randint(0, len(items) - 1))
            else:
                items.append(clone(items[-1]))
            return
    slot = pick_slot(ch, holder, lambda n: type(n) is int)
    if slot is not None:
        n = slot[0][slot[1]]
        slot[0][slot[1]] = ch.choice([n + 1, n - 1, -n, *NUMBERS])


def change_dims(dims: list[Any], ch: Chooser) -> None:
    """A dimension of a shape (or size) grown, shrunk, made huge or negative; one added or dropped."""
    change = ch.choice(["grow", "shrink", "add", "drop", "big", "negative"])
    ints = [k for k, d in enumerate(dims) if type(d) is int]
    if change in ("grow", "shrink", "big", "negative") and ints:
        k = ch.choice(ints)
        dims[k] = {"grow": dims[k] + 1, "shrink": dims[k] - 1, "big": 2**40, "negative": -1}[change]
    elif change == "add":
        dims.append(ch.choice([0, 1, 2, 2**31]))
    elif dims:
        dims.pop()


def mutate_base64(holder: list[Any], ch: Chooser) -> None:
    """Cut, extend or corrupt a base64 body (a compact array, bytes, an image, an Arrow stream)."""
    slot = pick_slot(ch, holder, lambda n: type(n) is str and len(n) >= 4 and BASE64.fullmatch(n) is not None)
    if slot is None:
        mutate_declared(holder, ch)
        return
    s = slot[0][slot[1]]
    k = ch.randint(1, min(8, len(s)))
    slot[0][slot[1]] = ch.choice(
        [s[:-k], s + "AAAA", s + "=", s + "A", s[:-1] + "*", s.replace("=", "A"), "=" + s, s[: len(s) // 2], s * 2]
    )


def splice(holder: list[Any], donor: Any, ch: Chooser) -> None:
    """Put a part of another document (an envelope, a payload, any node) somewhere into this one."""
    container, index = ch.choice(slots([donor]))
    target, at = ch.choice(slots(holder))
    target[at] = clone(container[index])


def wrap(node: Any, kind: str) -> Any:
    """``node`` one level (three for ``dict-tag``, two for envelopes) deeper."""
    if kind == "list":
        return [node]
    if kind == "object":
        return Obj([["k", node]])
    if kind == "dict-tag":
        return Obj([[TYPE_KEY, "dict"], [VALUE_KEY, [["k", node]]]])
    if kind == "object-array":
        return Obj([[TYPE_KEY, "numpy.ndarray"], [VALUE_KEY, Obj([["dtype", "|O"], ["shape", [1]], ["data", [node]]])]])
    return Obj([[TYPE_KEY, kind], [VALUE_KEY, [node] if kind in ("tuple", "set") else node]])


def nest(holder: list[Any], ch: Chooser, depth: int | None = None, kind: str | None = None) -> None:
    """Wrap a node in lists, objects or envelopes to around a preset's ``max_depth``."""
    container, index = ch.choice(slots(holder))
    node = container[index]
    kind = kind or ch.choice(WRAPS)
    for _ in range(depth if depth is not None else ch.choice(DEPTHS)):
        node = wrap(node, kind)
    container[index] = node


MUTATIONS: dict[str, Callable[[list[Any], Chooser], None]] = {
    "tag": mutate_tag,
    "payload-type": mutate_payload_type,
    "keys": mutate_keys,
    "declared": mutate_declared,
    "base64": mutate_base64,
}


def structural(data: bytes, rng: random.Random, donor: bytes | None = None) -> bytes | None:
    """A structural mutation of a fuzz input (config byte, then a JSON document), or None if it is not JSON."""
    if len(data) < 2:
        return None
    try:
        tree = parse(data[1:])
        other = parse(donor[1:]) if donor is not None and len(donor) > 1 else None
    except (ValueError, RecursionError):
        return None
    holder = [tree]
    for _ in range(rng.randint(1, 2)):
        kind = rng.choice([*MUTATIONS, "nest", "splice"] if other is not None else [*MUTATIONS, "nest"])
        if kind == "nest":
            nest(holder, rng)
        elif kind == "splice":
            splice(holder, other, rng)
        else:
            MUTATIONS[kind](holder, rng)
    selector = data[0] if rng.random() < 0.8 else rng.randrange(256)
    return bytes([selector]) + emit(holder[0]).encode("utf-8", "surrogatepass")


def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    """Half libFuzzer's byte-level mutations, half structural ones on the parsed document."""
    import atheris

    rng = random.Random(seed)
    if rng.random() < 0.5:
        out = guarded(lambda: structural(data, rng))
        if out is not None and len(out) <= max_size:
            return out
    return bytes(atheris.Mutate(data, max_size))


def guarded(mutate: Callable[[], bytes | None]) -> bytes | None:
    """A structural mutation, or None if the mutation engine fails (a bug there must not end a campaign;
    tests/test_fuzz.py runs the engine unguarded)."""
    try:
        return mutate()
    except Exception:
        return None


def custom_crossover(data1: bytes, data2: bytes, max_size: int, seed: int) -> bytes:
    """A part of one document spliced into another (falling back to joining the byte strings)."""
    rng = random.Random(seed)
    out = guarded(lambda: structural(data1, rng, donor=data2))
    if out is not None and len(out) <= max_size:
        return out
    cut1, cut2 = rng.randint(0, len(data1)), rng.randint(0, len(data2))
    return (data1[:cut1] + data2[cut2:])[:max_size]


# --- the oracle ------------------------------------------------------------------------------------------------------


def strings(tree: Any, values: set[str], structure: set[str]) -> None:
    """Collect the string values (candidates for a leak) and the keys and tags (structure) of a JSON tree."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if type(node) is str:
            values.add(node)
        elif type(node) is list:
            stack.extend(node)
        elif type(node) is dict:
            for key, item in node.items():
                structure.add(key)
                if key == TYPE_KEY and type(item) is str:
                    structure.add(item)
                else:
                    stack.append(item)


def fingerprint(tree: Any) -> list[Any]:
    """A JSON tree as a flat list of (type, value) tokens, without recursion: equal exactly when the trees are."""
    out: list[Any] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            out.append(("dict", tuple(node)))
            stack.extend(reversed(node.values()))
        elif type(node) is list:
            out.append(("list", len(node)))
            stack.extend(reversed(node))
        else:
            out.append((type(node).__name__, repr(node)))
    return out


def check_error(exc: Any, tree: Any, what: str) -> None:
    """A datason error names a path from the root and quotes no string value of the input."""
    if not (isinstance(exc.path, str) and exc.path.startswith("$")):
        raise Finding(f"{what}: error path {exc.path!r} does not start at $")
    if tree is None:
        return
    values: set[str] = set()
    structure: set[str] = set()
    strings(tree, values, structure)
    message = str(exc)
    for value in values - structure:
        if len(value) >= QUOTE_MIN and value in message and not TYPE_NAME.fullmatch(value):
            raise Finding(f"{what}: the error message quotes a string value of the input: {message[:200]}")


def decode_both(call: Callable[[], Any], what: str, tree: Any) -> tuple[bool, Any]:
    """Run ``call`` under the C and the Python walkers: they must agree. Returns the C outcome."""
    c_ok, c_result = attempt(call)
    with python_walkers():
        py_ok, py_result = attempt(call)
    if c_ok != py_ok:
        failed = py_result if c_ok else c_result
        side = "python" if c_ok else "C"
        raise Finding(f"{what}: walkers disagree: only the {side} walker raises {failed!r}"[:500])
    if c_ok:
        same(c_result, py_result, f"{what}: C vs python $")
    else:
        check_error(c_result, tree, what + " (C)")
        check_error(py_result, tree, what + " (python)")
    return c_ok, c_result


def round_trip(value: Any, cfg: Any, name: str, python: bool) -> None:
    """What decoded re-encodes under the same config; typed output decodes back to the same value."""
    with python_walkers(python):
        if cfg.include_type_hints:
            try:
                text = datason.dumps(value, cfg)
            except errors.SecurityError:
                return  # re-encoding may nest deeper than the document did (a dict holding a marker key)
            except errors.DatasonError as exc:
                raise Finding(f"{name}: a decoded value does not re-encode: {exc!r}"[:500]) from None
            ok, again = attempt(lambda: datason.loads(text, cfg))
            if not ok:
                raise Finding(f"{name}: dumps output does not load back: {again!r}"[:500])
            same(value, again, f"{name}: round trip $")
        else:
            ok, text = attempt(lambda: datason.dumps(value, cfg))
            if not ok or TYPE_KEY in text or VALUE_KEY in text:
                return  # plain output holding marker keys reads back as envelopes: no fixed point
            ok, again = attempt(lambda: datason.loads(text, cfg))
            if not ok:
                raise Finding(f"{name}: plain output does not load back: {again!r}"[:500])
            same(again, json.loads(text), f"{name}: plain round trip $")


def check(data: bytes) -> None:
    """The whole oracle for one fuzz input: ``data[0]`` picks the config, ``data[1:]`` is the document."""
    if not data:
        return
    name, cfg = CONFIGS[data[0] % len(CONFIGS)]
    flags = data[0] // len(CONFIGS)
    doc = data[1:]
    try:
        tree = datason.json.loads(doc)  # the stdlib's parser (it allows NaN tokens and lone surrogates)
    except (ValueError, RecursionError):
        tree = None  # not JSON to the json module (its own errors are the json module's business)

    ok, value = decode_both(lambda: datason.loads(doc, cfg), f"loads[{name}]", tree)
    try:
        text = doc.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        text_ok, text_value = decode_both(lambda: datason.loads(text, cfg), f"loads(str)[{name}]", tree)
        if text_ok != ok:
            raise Finding(f"loads[{name}]: bytes and str inputs disagree")
        if ok:
            same(value, text_value, f"loads[{name}]: bytes vs str $")
    if ok:
        round_trip(value, cfg, f"loads[{name}]", python=bool(flags & 1))

    if tree is not None:
        before = fingerprint(tree)
        decode_both(lambda: datason.deserialize(tree, cfg), f"deserialize[{name}]", tree)
        aggressive = bool(flags & 2)
        decode_both(lambda: datason.auto_deserialize(tree, cfg, aggressive), f"auto_deserialize[{name}]", tree)
        if fingerprint(tree) != before:
            raise Finding(f"deserialize[{name}]: the input tree was modified")


def launcher(argv: list[str]) -> list[str]:
    """``argv`` with argv[0] an executable that reruns this script with this interpreter.

    libFuzzer's ``-fork``/``-jobs`` modes start workers by executing argv[0], which for a Python script is
    not executable on its own: give them a small shell launcher (in a fresh temporary directory).
    """
    import os
    import shlex
    import tempfile

    if not any(arg.startswith(("-fork=", "-jobs=", "-workers=")) for arg in argv[1:]):
        return argv
    path = os.path.join(tempfile.mkdtemp(prefix="datason-fuzz-"), "fuzz_loads")
    script = os.path.abspath(__file__)
    with open(path, "w", encoding="utf-8") as out:
        out.write(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(script)} "$@"\n')
    os.chmod(path, 0o755)
    return [path, *argv[1:]]


def signature(exc: BaseException) -> str:
    """What makes two findings the same: the exception kind and where it was raised (or the oracle's words)."""
    if isinstance(exc, Finding):  # the oracle's words without config names, paths and numbers
        words = re.sub(r"\[[^\]]*\]|\$\S*|[0-9]+", "", str(exc))
        return "Finding " + words[:100]
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "datason" in f.filename and "fuzz_loads" not in f.filename] or frames
    where = f"{os.path.basename(ours[-1].filename)}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__} {where}"


def without_duplicate_keys(data: bytes) -> bytes | None:
    """The input with each object's duplicate keys dropped (the last one kept), or None if it has none."""
    seen_duplicate = False

    def last_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal seen_duplicate
        out = dict(pairs)
        seen_duplicate = seen_duplicate or len(out) != len(pairs)
        return out

    try:
        tree = json.loads(data[1:], object_pairs_hook=last_wins)
    except (ValueError, RecursionError):
        return None
    return data[:1] + json.dumps(tree).encode("utf-8", "surrogatepass") if seen_duplicate else None


def classify(exc: BaseException, data: bytes) -> str:
    """The finding's signature; findings that go away once duplicate keys are dropped share one."""
    if isinstance(exc, Finding):
        deduplicated = without_duplicate_keys(data)
        if deduplicated is not None:
            try:
                check(deduplicated)
            except Exception:
                pass
            else:
                return "Finding decided by duplicate keys (the C parser decodes values a later key replaces)"
    return signature(exc)


def keep_going(directory: str) -> Callable[[bytes], None]:
    """A target that records each distinct finding (its first input, in ``directory``) and fuzzes on."""
    os.makedirs(directory, exist_ok=True)
    seen: set[str] = set()

    def target(data: bytes) -> None:
        try:
            check(data)
        except Exception as exc:
            key = classify(exc, data)
            if key in seen:
                return
            seen.add(key)
            name = "finding-" + hashlib.sha1(data).hexdigest()[:16]
            with open(os.path.join(directory, name), "wb") as out:
                out.write(data)
            print(f"FINDING #{len(seen)} {key} -> {name}: {type(exc).__name__}: {str(exc)[:300]}", flush=True)

    return target


def main() -> None:
    import atheris

    argv = [arg for arg in sys.argv if not arg.startswith("-findings_dir=")]
    findings = [arg.partition("=")[2] for arg in sys.argv if arg.startswith("-findings_dir=")]
    with atheris.instrument_imports(include=["datason"]):
        load()
    warnings.simplefilter("ignore")  # NumPy/Pillow warnings about hostile values: errors are what count
    target = keep_going(findings[-1]) if findings else check
    atheris.Setup(launcher(argv), target, custom_mutator=custom_mutator, custom_crossover=custom_crossover)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
