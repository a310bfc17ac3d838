"""Concurrency: 16 threads and many asyncio tasks, each under its own config, get exactly the serial results.

Every encode (``dumps``, ``dumpb``, ``dumps(indent=2)``, ``serialize``) and decode (``loads``, ``deserialize``,
``auto_deserialize``, typed ``loads(type=...)``) of a mixed ML workload, under eleven configs, is first run
serially; then 16 threads released together by a barrier (or 16 interleaving asyncio tasks) run the same
operations in different orders, passing the config explicitly or through ``use_config``, and must produce
byte-identical text and values equal in type, dtype, shape and bits (errors: same class and message).
Also covered: ``set_default_config`` seen across threads, ``register_type``/``unregister_type`` racing with
encodes, and decodes after garbage collection and id reuse (no cache keyed by object identity).
Both the C accelerator and the pure-Python walkers run every test (the ``walker`` fixture).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import datetime as dt
import decimal
import enum
import fractions
import gc
import json
import os
import pathlib
import random
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any, TypedDict

import numpy as np
import pandas as pd
import polars as pl
import pydantic
import pytest
import scipy.sparse as sp
import torch

import datason
from datason.config import (
    SerializationConfig,
    get_api_config,
    get_default_config,
    get_ml_config,
    get_performance_config,
    get_strict_config,
    set_default_config,
    use_config,
)
from datason.registry import REGISTRY

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
THREADS = 16
JOIN_TIMEOUT = 120.0

# --- user classes: a pydantic model, unregistered and registered dataclasses, a hooked class, an Enum ------------


class Prediction(pydantic.BaseModel):
    label: str
    score: float
    at: dt.datetime


@dataclasses.dataclass
class Row:
    name: str
    ts: dt.datetime
    weights: list[float]


@dataclasses.dataclass(frozen=True)
class Reading:
    sensor: uuid.UUID
    value: float
    at: dt.datetime


class Money:
    """A class with encode/decode hooks (not a dataclass)."""

    def __init__(self, amount: decimal.Decimal, currency: str) -> None:
        self.amount = amount
        self.currency = currency


class Unit(enum.Enum):
    CELSIUS = "C"
    KELVIN = "K"


datason.register_type(Reading, tag="tests.concurrency.Reading")
datason.register_type(
    Money,
    tag="tests.concurrency.Money",
    encode=lambda m: {"amount": m.amount, "currency": m.currency},
    decode=lambda p: Money(p["amount"], p["currency"]),
)
datason.register_type(Unit, tag="tests.concurrency.Unit")


class CoreDoc(TypedDict):
    ids: list[uuid.UUID]
    utc: dt.datetime
    prices: list[decimal.Decimal]
    shape: tuple[int, int]
    tags: set[str]
    by_class: dict[int, float]


class ModelsDoc(TypedDict):
    pred: Prediction
    preds: list[Prediction]
    row: Row


# --- exact comparison: a fingerprint holding type, dtype, shape and bits, never object identity ----------------


def fingerprint(x: Any) -> Any:
    """A comparable, identity-free description of ``x``: types, dtypes, shapes, and floats/arrays as raw bits."""
    t = type(x)
    if x is None or t in (bool, int, str):
        return (t.__name__, x)
    if t is float:
        return ("float", struct.pack("<d", x))
    if t is complex:
        return ("complex", struct.pack("<dd", x.real, x.imag))
    if isinstance(x, np.ndarray):
        if x.dtype.hasobject:
            return ("ndarray", x.dtype.str, x.shape, tuple(fingerprint(i) for i in x.reshape(-1).tolist()))
        return ("ndarray", repr(x.dtype.descr), x.shape, np.ascontiguousarray(x).tobytes())
    if isinstance(x, np.generic):
        return (t.__name__, x.dtype.str, x.tobytes())
    if isinstance(x, torch.Tensor):
        return _tensor_fingerprint(x)
    if sp.issparse(x):
        c = x.tocoo()
        return (t.__name__, x.format, x.shape, str(x.dtype), fingerprint(np.asarray(c.coords)), fingerprint(c.data))
    if isinstance(x, pd.DataFrame):
        columns = tuple(fingerprint(x.iloc[:, i]) for i in range(x.shape[1]))
        return ("DataFrame", fingerprint(x.columns), fingerprint(x.index), columns)
    if isinstance(x, pd.Series):
        return ("Series", fingerprint(x.name), str(x.dtype), fingerprint(x.index), _array_fingerprint(x.array))
    if isinstance(x, pd.MultiIndex):
        levels = tuple(fingerprint(level) for level in x.levels)
        return ("MultiIndex", fingerprint(list(x.names)), levels, tuple(c.tobytes() for c in x.codes))
    if isinstance(x, pd.Index):
        freq = getattr(x, "freqstr", None)
        return (t.__name__, str(x.dtype), fingerprint(x.name), freq, _array_fingerprint(x.array))
    if isinstance(x, pd.Timestamp):
        return ("Timestamp", x.value, x.unit, str(x.tz))
    if isinstance(x, pl.DataFrame):
        schema = tuple((name, str(dtype)) for name, dtype in x.schema.items())
        return ("polars.DataFrame", schema, tuple(fingerprint(s.to_list()) for s in x.get_columns()))
    if isinstance(x, pydantic.BaseModel):
        return (t.__qualname__, tuple((k, fingerprint(getattr(x, k))) for k in type(x).model_fields))
    if dataclasses.is_dataclass(x):
        return (t.__qualname__, tuple((f.name, fingerprint(getattr(x, f.name))) for f in dataclasses.fields(x)))
    if isinstance(x, dict):
        return (t.__name__, tuple((fingerprint(k), fingerprint(v)) for k, v in x.items()))
    if isinstance(x, list | tuple):
        return (t.__name__, tuple(fingerprint(i) for i in x))
    if isinstance(x, set | frozenset):
        return (t.__name__, tuple(sorted((fingerprint(i) for i in x), key=repr)))
    if isinstance(x, dt.datetime | dt.time):
        return (t.__name__, x.isoformat(), x.fold, type(x.tzinfo).__name__, str(x.tzinfo))
    if isinstance(x, enum.Enum):
        return (t.__qualname__, x.name, fingerprint(x.value))
    if isinstance(x, Money):
        return ("Money", fingerprint(x.amount), x.currency)
    return (t.__qualname__, repr(x))  # Decimal, UUID, date, timedelta, Fraction, paths, pd.NA...


def _tensor_fingerprint(x: torch.Tensor) -> Any:
    head = (type(x).__name__, str(x.dtype), str(x.layout), tuple(x.shape), x.requires_grad, str(x.device))
    if x.is_sparse:
        c = x.detach().coalesce()
        return (*head, _tensor_fingerprint(c.indices()), _tensor_fingerprint(c.values()))
    raw = x.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    return (*head, raw)


def _array_fingerprint(a: Any) -> Any:
    if isinstance(a, pd.Categorical):
        return ("Categorical", fingerprint(a.categories), a.ordered, a.codes.tobytes())
    if isinstance(a, pd.arrays.DatetimeArray | pd.arrays.TimedeltaArray):
        return (str(a.dtype), a.asi8.tobytes())
    if isinstance(a, pd.arrays.NumpyExtensionArray):
        return ("numpy", fingerprint(a.to_numpy()))
    return (type(a).__name__, str(a.dtype), tuple(fingerprint(v) for v in a))


# --- the workload -------------------------------------------------------------------------------------------------


def build_cases() -> dict[str, Any]:
    """One value per family; each is a fresh object (nothing shared with other tests)."""
    utc = dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    return {
        "core": {
            "ids": [uuid.UUID(int=i * 7919 + 1) for i in range(6)],
            "utc": utc,
            "paris": dt.datetime(2024, 7, 1, 12, 30, tzinfo=PARIS),
            "fold": dt.datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=NEW_YORK),
            "offset": dt.datetime(2024, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
            "naive": dt.datetime(2024, 1, 2, 3, 4, 5),
            "day": dt.date(1999, 12, 31),
            "clock": dt.time(23, 59, 59, 999999),
            "span": dt.timedelta(days=-3, seconds=5, microseconds=7),
            "prices": [decimal.Decimal("19.90"), decimal.Decimal("-0.000"), decimal.Decimal("1E+2")],
            "blob": b"\x00\x01\xfe\xff binary",
            "buffer": bytearray(b"\x00abc"),
            "tags": {"beta", "alpha", "gamma"},
            "frozen": frozenset({3, 1, 2}),
            "shape": (3, 4),
            "by_class": {0: 0.25, 1: 0.75, -2: -0.0},
            "nan": float("nan"),
            "inf": float("-inf"),
            "big": 2**70,
            "z": complex(1.5, -2.0),
            "third": fractions.Fraction(-1, 3),
            "path": pathlib.PurePosixPath("/data/train.csv"),
            "nested": [[1, "a", None], {"k": (True, 2.5)}],
        },
        "numpy": {
            "f32": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
            "f16": np.array([1.5, np.nan, -0.0, np.inf], dtype=np.float16),
            "f64": np.array([0.1, 5e-324, -1e300]),
            "when": np.array(["2024-01-01T00:00:00.123", "NaT", "1969-12-31T23:59:59.999"], dtype="datetime64[ms]"),
            "span": np.array([1, -2, "NaT"], dtype="timedelta64[s]"),
            "i16": np.arange(100, dtype=np.int16),  # compact under ml (64), readable under default (256)
            "i64": np.arange(300, dtype=np.int64) * 3,
            "big_endian": np.arange(6, dtype=">i4").reshape(2, 3),
            "c128": np.array([1 + 2j, complex(0, -np.inf)]),
            "flags": np.array([True, False, True]),
            "u8": np.array([0, 255], dtype=np.uint8),
            "text": np.array(["ab", "héllo"]),
            "scalar": np.float32(0.1),
            "count": np.int64(-7),
        },
        "pandas": {
            "frame": pd.DataFrame(
                {
                    "score": np.array([0.5, np.nan, 2.25], dtype=np.float32),
                    "label": pd.Categorical(["cat", "dog", "cat"], categories=["dog", "cat"], ordered=True),
                    "at": pd.date_range("2024-01-01", periods=3, freq="h", tz="Europe/Paris"),
                    "count": pd.array([1, None, 3], dtype="Int64"),
                    "name": ["a", "b", None],
                },
                index=pd.Index([10, 20, 30], name="id"),
            ),
            "series": pd.Series(
                [1.5, -0.0, np.nan], index=pd.date_range("2024-03-31", periods=3, freq="D", tz="UTC"), name="s"
            ),
        },
        "torch": {
            "f32": torch.arange(12, dtype=torch.float32).reshape(3, 4) / 3,
            "bf16": torch.tensor([1.5, -2.0, float("nan")], dtype=torch.bfloat16),
            "i64": torch.tensor([[1, -2], [3, 2**40]]),
            "mask": torch.tensor([True, False]),
            "grad": torch.ones(2, 2, requires_grad=True),
        },
        "scipy": {
            "csr": sp.csr_matrix(np.array([[0, 1.5, 0], [2.0, 0, -0.0]])),
            "coo": sp.coo_array(np.arange(6, dtype=np.int32).reshape(2, 3)),
            "csc": sp.csc_matrix(np.eye(3, dtype=np.float32)),
        },
        "polars": pl.DataFrame(
            {
                "a": [1, 2, 3],
                "b": ["x", None, "z"],
                "c": [0.5, float("nan"), -0.0],
                "at": [dt.datetime(2024, 1, i + 1, tzinfo=dt.UTC) for i in range(3)],
            }
        ),
        "models": {
            "pred": Prediction(label="cat", score=0.9, at=dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)),
            "preds": [Prediction(label=f"p{i}", score=i / 8, at=dt.datetime(2024, 2, i + 1)) for i in range(3)],
            "row": Row("r", dt.datetime(2024, 1, 1, 8, 30), [0.5, 1.5]),
        },
        "registered": {
            "reading": Reading(uuid.UUID(int=42), 21.5, dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)),
            "money": [Money(decimal.Decimal("9.99"), "EUR"), Money(decimal.Decimal("-1E+3"), "JPY")],
            "unit": [Unit.CELSIUS, Unit.KELVIN],
        },
    }


TARGETS: dict[str, Any] = {"core": CoreDoc, "models": ModelsDoc}

# Decoded but never encoded: the error paths (and an unknown tag, an error only in strict mode).
MALFORMED: dict[str, str] = {
    "truncated": '{"a": [1, 2',
    "nan-token": '{"a": NaN}',
    "trailing": '{"a": 1} x',
    "bad-utf8-escape": '["\\ud800"]',
    "uuid-payload": '{"x": [0, {"__datason_type__": "uuid.UUID", "__datason_value__": 5}]}',
    "unknown-tag": '{"x": {"__datason_type__": "no.such.Tag", "__datason_value__": {"k": [1, 2]}}}',
    "numpy-dtype": '{"__datason_type__": "numpy.ndarray", "__datason_value__": {"dtype": "<q9", "shape": [1], '
    '"data": [1]}}',
    "numpy-shape": '{"__datason_type__": "numpy.ndarray", "__datason_value__": {"dtype": "<f4", "shape": [3], '
    '"data": [1.0]}}',
    "pandas-zone": '{"__datason_type__": "pandas.Timestamp", "__datason_value__": {"value": 0, "unit": "ns", '
    '"tz": "Mars/Base"}}',
    "torch-dtype": '{"__datason_type__": "torch.Tensor", "__datason_value__": {"dtype": "float99", "array": null, '
    '"requires_grad": false}}',
    "deep": "[" * 80 + "]" * 80,
    "long-key": '{"' + "k" * 40 + '": 1}',
}


def _plain_cfg(**changes: Any) -> SerializationConfig:
    return SerializationConfig(include_type_hints=False, **changes)


CONFIGS: dict[str, SerializationConfig] = {
    "default": SerializationConfig(),
    "api": get_api_config(),
    "ml": get_ml_config(),
    "strict": get_strict_config(),
    "performance": get_performance_config(),
    "plain-unix-split": _plain_cfg(date_format="unix", nan_handling="string", dataframe_orient="split", sort_keys=True),
    "plain-ms-columns": _plain_cfg(date_format="unix_ms", uuid_format="string", dataframe_orient="columns"),
    "plain-error-table": _plain_cfg(nan_handling="error", dataframe_orient="table", array_format="compact"),
    "plain-index-values": _plain_cfg(dataframe_orient="index", ensure_ascii=True),
    "typed-uuid-readable-sorted": SerializationConfig(uuid_format="string", array_format="readable", sort_keys=True),
    "typed-small-limits": SerializationConfig(max_depth=5, max_size=12, max_string_length=24, compact_threshold=4),
}

Outcome = tuple[Any, ...]
Key = tuple[str, str, str]  # (case, config, operation)


def _encode_ops() -> dict[str, Callable[[Any, str, SerializationConfig | None], Any]]:
    return {
        "dumps": lambda v, text, cfg: datason.dumps(v, cfg),
        "dumpb": lambda v, text, cfg: datason.dumpb(v, cfg, sort_keys=True),
        "dumps-indent": lambda v, text, cfg: datason.dumps(v, cfg, indent=2),
        "serialize": lambda v, text, cfg: fingerprint(datason.serialize(v, cfg)),
    }


def _decode_ops() -> dict[str, Callable[[Any, str, SerializationConfig | None], Any]]:
    return {
        "loads": lambda v, text, cfg: fingerprint(datason.loads(text, cfg)),
        "loads-bytes": lambda v, text, cfg: fingerprint(datason.loads(text.encode("utf-8", "surrogatepass"), cfg)),
        "deserialize": lambda v, text, cfg: fingerprint(datason.deserialize(json.loads(text), cfg)),
        "auto_deserialize": lambda v, text, cfg: fingerprint(datason.auto_deserialize(json.loads(text), cfg)),
    }


ENCODE_OPS = _encode_ops()
DECODE_OPS = _decode_ops()


def outcome(call: Callable[[], Any]) -> Outcome:
    """The result, or the exception's class, message and path: what a concurrent run must reproduce."""
    try:
        return ("ok", call())
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc), getattr(exc, "path", None))


@dataclasses.dataclass
class Workload:
    """Every task of the mixed workload, its input and its serial outcome."""

    values: dict[str, Any]
    texts: dict[tuple[str, str], str]  # (case, config) -> the document decoded under that config
    expected: dict[Key, Outcome]

    def call(self, key: Key, cfg: SerializationConfig | None) -> Any:
        case, cname, op = key
        value, text = self.values.get(case), self.texts.get((case, cname), "")
        if op in ENCODE_OPS:
            return ENCODE_OPS[op](value, text, cfg)
        if op in DECODE_OPS:
            return DECODE_OPS[op](value, text, cfg)
        return fingerprint(datason.loads(text, cfg, type=TARGETS[case]))

    def private_copy(self) -> Workload:
        """The same workload with its own copy of the polars frame, for one thread.

        Every other input object is shared by all threads. A polars DataFrame is not: polars deadlocks when
        one frame is written to IPC in one thread while another reads it (see
        ``test_one_polars_frame_encoded_from_threads_at_once``).
        """
        values = {**self.values, "polars": self.values["polars"].clone()}
        return Workload(values, self.texts, self.expected)

    def run(self, key: Key, mode: str) -> Outcome:
        """Run one task, passing the config explicitly, through ``use_config``, or explicitly inside another scope."""
        cfg = CONFIGS[key[1]]
        if mode == "explicit":
            return outcome(lambda: self.call(key, cfg))
        if mode == "scoped":
            with use_config(cfg):
                return outcome(lambda: self.call(key, None))
        with use_config(CONFIGS["api"] if key[1] != "api" else CONFIGS["strict"]):  # explicit wins over scope
            return outcome(lambda: self.call(key, cfg))


MODES = ("explicit", "scoped", "explicit-in-other-scope")


def build_workload() -> Workload:
    """Serial outcomes of every (case, config, operation), with the config passed explicitly."""
    values = build_cases()
    texts: dict[tuple[str, str], str] = {}
    keys: list[Key] = []
    for cname, cfg in CONFIGS.items():
        for case, value in values.items():
            try:
                texts[case, cname] = datason.dumps(value, cfg)
            except datason.DatasonError:
                texts[case, cname] = datason.dumps(value)  # decode the typed document under this config instead
            keys += [(case, cname, op) for op in (*ENCODE_OPS, *DECODE_OPS)]
            if case in TARGETS:
                keys.append((case, cname, "typed"))
        for case, text in MALFORMED.items():
            texts[case, cname] = text
            keys += [(case, cname, op) for op in ("loads", "loads-bytes")]
    work = Workload(values, texts, {})
    work.expected = {key: work.run(key, "explicit") for key in keys}
    return work


_SERIAL: dict[str, Workload] = {}


@pytest.fixture
def workload(walker: str) -> Workload:
    """The workload and its serial outcomes under the walker being tested (computed once per walker)."""
    if walker not in _SERIAL:
        _SERIAL[walker] = build_workload()
    return _SERIAL[walker]


@contextlib.contextmanager
def fast_switching(interval: float = 1e-4) -> Iterator[None]:
    """Let the interpreter switch threads every ``interval`` s (default 5 ms) so threads preempt inside calls."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def run_threads(target: Callable[[int], None], count: int) -> list[BaseException]:
    """Start ``count`` threads on ``target(i)``, join them, and return what they raised."""
    errors: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,), name=f"datason-{i}") for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    return errors


def countdown(count: int, done: threading.Event) -> Callable[[], None]:
    """A function that sets ``done`` on its ``count``-th call (each worker calls it once when it finishes)."""
    lock = threading.Lock()
    left = [count]

    def finished() -> None:
        with lock:
            left[0] -= 1
            if left[0] == 0:
                done.set()

    return finished


# --- the serial baseline itself ---------------------------------------------------------------------------------


def test_serial_baseline_is_deterministic_and_configs_differ(workload: Workload) -> None:
    # The workload exercises every operation, both successes and errors, and each config writes it differently:
    # a thread that used another thread's config would be caught.
    outcomes = workload.expected
    for op in (*ENCODE_OPS, *DECODE_OPS, "typed"):
        kinds = {outcomes[k][0] for k in outcomes if k[2] == op}
        assert kinds == {"ok", "error"}, op
    signatures = {cname: tuple(outcomes[case, cname, "dumps"] for case in workload.values) for cname in CONFIGS}
    assert len(set(signatures.values())) == len(CONFIGS)
    # A second serial run, through use_config, gives the same outcomes (and the same fingerprints).
    again = {key: workload.run(key, "scoped") for key in outcomes}
    assert again == outcomes


def test_every_document_written_under_a_config_reads_back_under_it(workload: Workload) -> None:
    """docs/wire-format.md section 7: "A document dumps wrote under a config is read by loads under the same
    config". The serial baseline must hold it, or threads could not be compared on it."""
    unreadable = [
        (case, cname, workload.expected[case, cname, "loads"][1:3])
        for case, cname, op in workload.expected
        if op == "dumps"
        and workload.expected[case, cname, op][0] == "ok"
        and workload.expected[case, cname, "loads"][0] == "error"
    ]
    assert not unreadable


def test_loads_and_deserialize_apply_the_same_limits(workload: Workload) -> None:
    """``deserialize(json.loads(text))`` is ``loads(text)`` on a parsed tree: same value, or an error of the same
    class (limits inside handler payloads included)."""
    differ = []
    for (case, cname, op), got in workload.expected.items():
        if op != "loads" or (case, cname, "deserialize") not in workload.expected:
            continue
        tree = workload.expected[case, cname, "deserialize"]
        if got[:2] != tree[:2]:
            differ.append(
                (case, cname, got[1:3] if got[0] == "error" else "ok", tree[1:3] if tree[0] == "error" else "ok")
            )
    assert not differ


# --- 16 threads -------------------------------------------------------------------------------------------------


def test_sixteen_threads_match_serial_runs(workload: Workload) -> None:
    # Thread i takes the tasks whose index is i, i+5 or i+11 (mod 16) of one shuffled list, in its own order:
    # every task runs in three threads at once, each thread mixing every config, case and operation.
    tasks = sorted(workload.expected)
    random.Random(0).shuffle(tasks)
    shares = [
        [k for j, k in enumerate(tasks) if j % THREADS in {i, (i + 5) % THREADS, (i + 11) % THREADS}]
        for i in range(THREADS)
    ]
    copies = [workload.private_copy() for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    done = [0] * THREADS
    mismatches: list[tuple[int, Key, str, Outcome]] = []

    def work(i: int) -> None:
        order = shares[i][:]
        random.Random(i).shuffle(order)
        barrier.wait(timeout=60)
        for n, key in enumerate(order):
            mode = MODES[(i + n) % len(MODES)]
            got = copies[i].run(key, mode)
            if got != workload.expected[key]:
                mismatches.append((i, key, mode, got))
            done[i] += 1

    with fast_switching():
        errors = run_threads(work, THREADS)
    assert not errors
    assert done == [len(share) for share in shares]
    assert sum(done) == 3 * len(tasks)
    assert not mismatches, [(i, key, mode, got[:3]) for i, key, mode, got in mismatches[:5]]
    # the threads left no scoped config behind in this thread
    assert get_default_config() == SerializationConfig()


def test_threads_decoding_one_shared_document_do_not_disturb_each_other(walker: str) -> None:
    """Many threads decode the *same* str, bytes and parsed tree at once: each gets a fresh, exact value,
    and ``deserialize`` / ``auto_deserialize`` leave the shared tree as it was."""
    values = build_cases()
    docs = {case: datason.dumps(value) for case, value in values.items()}
    blobs = {case: text.encode() for case, text in docs.items()}
    trees = {case: json.loads(text) for case, text in docs.items()}
    expected = {case: fingerprint(datason.loads(text)) for case, text in docs.items()}
    expected_auto = {case: fingerprint(datason.auto_deserialize(json.loads(text))) for case, text in docs.items()}
    barrier = threading.Barrier(THREADS)
    mismatches: list[tuple[int, str, str]] = []

    def work(i: int) -> None:
        barrier.wait(timeout=60)
        for n in range(4):
            for case in sorted(docs, key=lambda c: hash((c, i, n))):
                way = (i + n) % 4
                if way == 0:
                    got, want = datason.loads(docs[case]), expected[case]
                elif way == 1:
                    got, want = datason.loads(blobs[case]), expected[case]
                elif way == 2:
                    got, want = datason.deserialize(trees[case]), expected[case]
                else:
                    got, want = datason.auto_deserialize(trees[case]), expected_auto[case]
                if fingerprint(got) != want:
                    mismatches.append((i, case, str(way)))

    with fast_switching():
        errors = run_threads(work, THREADS)
    assert not errors
    assert not mismatches
    assert {case: json.dumps(tree) for case, tree in trees.items()} == {
        case: json.dumps(json.loads(text)) for case, text in docs.items()
    }


POLARS_SHARED_FRAME = """
import sys, threading
import polars as pl
import datason
from datason.config import get_api_config

sys.setswitchinterval(1e-4)
frame = pl.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"]})
plain = get_api_config()
want = {0: datason.dumps(frame, plain), 1: datason.dumps(frame)}
bad = []

def work(i):
    for n in range(3000):
        if datason.dumps(frame, plain if i % 2 == 0 else None) != want[i % 2]:
            bad.append(i)
        if n % 100 == 0:
            print("progress", flush=True)

threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("mismatches", len(bad), flush=True)
"""
STALL_SECONDS = 10.0  # no progress for this long: the child is deadlocked (it prints every 100 encodes per thread)


def test_one_polars_frame_encoded_from_threads_at_once() -> None:
    """One polars DataFrame encoded by several threads at once (typed and plain), as a server sharing a frame would.

    Run in a child process watched for progress, because it can hang the interpreter: polars (2.1) deadlocks when
    ``write_ipc_stream`` (typed mode) and ``DataFrame.height`` (plain mode) meet on one frame (a write lock held
    across a GIL release, like pola-rs/polars#27396 for ``to_pandas``).
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", POLARS_SHARED_FRAME],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: stopped by signalling the group
    )
    lines: list[str] = []
    last_progress = [time.monotonic()]

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            last_progress[0] = time.monotonic()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stalled = False
    while proc.poll() is None:
        if time.monotonic() - last_progress[0] > STALL_SECONDS:
            stalled = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        time.sleep(0.05)
    reader.join(timeout=10)
    stderr = proc.stderr.read() if proc.stderr is not None else ""
    assert not stalled, f"encoding one polars DataFrame from 4 threads deadlocked after {len(lines)} progress lines"
    assert proc.returncode == 0, stderr[-2000:]
    assert "mismatches 0" in lines
    assert sum(line.count("progress") for line in lines) == 4 * 30  # (threads' prints may share a line)


# --- asyncio tasks ----------------------------------------------------------------------------------------------


def test_asyncio_tasks_with_different_configs_interleave_inside_use_config(workload: Workload) -> None:
    names = list(CONFIGS)
    by_config: dict[str, list[Key]] = {name: [] for name in names}
    for key in sorted(workload.expected):
        by_config[key[1]].append(key)

    async def task(j: int) -> tuple[int, int]:
        rng = random.Random(1000 + j)
        in_thread = workload.private_copy()  # to_thread runs beside the loop: it must not share the polars frame
        mine = names[j % len(names)]
        mine_keys = rng.sample(by_config[mine], 30)
        others = rng.sample(sorted(workload.expected), 8)
        checked = 0
        with use_config(CONFIGS[mine]):
            steps = [*((k, "scoped") for k in mine_keys), *((k, "explicit") for k in others)]
            rng.shuffle(steps)
            for n, (key, mode) in enumerate(steps):
                await asyncio.sleep(0)  # every other task runs here, inside its own use_config block
                assert get_default_config() is CONFIGS[mine]
                if mode == "scoped":
                    got = outcome(lambda key=key: workload.call(key, None))
                else:
                    got = outcome(lambda key=key: workload.call(key, CONFIGS[key[1]]))
                assert got == workload.expected[key], (j, key, mode)
                checked += 1
                if n % 7 == 0:  # a nested scope inside the task, across an await
                    inner = names[(j + 3) % len(names)]
                    with use_config(CONFIGS[inner]):
                        await asyncio.sleep(0)
                        nested = ("core", inner, "dumps")
                        assert outcome(lambda k=nested: workload.call(k, None)) == workload.expected[nested]
                    assert get_default_config() is CONFIGS[mine]
                if n % 11 == 0:  # to_thread copies the task's context: the worker thread sees the scope too
                    got = await asyncio.to_thread(outcome, lambda key=key: in_thread.call(key, None))
                    if mode == "scoped":
                        assert got == workload.expected[key], (j, key, "to_thread")
        return j, checked

    async def main() -> tuple[list[tuple[int, int]], SerializationConfig]:
        results = await asyncio.gather(*(task(j) for j in range(THREADS)))
        return list(results), get_default_config()

    results, after = asyncio.run(main())
    assert sorted(j for j, _ in results) == list(range(THREADS))
    assert [checked for _, checked in results] == [30 + 8] * THREADS
    assert after == SerializationConfig()
    assert get_default_config() == SerializationConfig()


def test_asyncio_tasks_and_threads_at_once(workload: Workload) -> None:
    # Threads each run an event loop of tasks: the ContextVar is per task, the loop per thread.
    keys = sorted(workload.expected)
    barrier = threading.Barrier(4)
    mismatches: list[tuple[int, Key]] = []

    copies = [workload.private_copy() for _ in range(4)]

    async def task(mine: Workload, seed: int) -> None:
        rng = random.Random(seed)
        for key in rng.sample(keys, 40):
            with use_config(CONFIGS[key[1]]):
                await asyncio.sleep(0)
                if outcome(lambda key=key: mine.call(key, None)) != workload.expected[key]:
                    mismatches.append((seed, key))

    def work(i: int) -> None:
        async def loop() -> None:
            await asyncio.gather(*(task(copies[i], 100 * i + j) for j in range(4)))

        barrier.wait(timeout=60)
        asyncio.run(loop())

    with fast_switching():
        errors = run_threads(work, 4)
    assert not errors
    assert not mismatches


# --- set_default_config across threads --------------------------------------------------------------------------


def test_set_default_config_is_process_wide_and_use_config_is_not(walker: str) -> None:
    """``set_default_config`` sets one process-wide default: every thread and task not inside ``use_config``
    (and not passing ``config=``) sees the latest one. ``use_config`` is per thread/task (a ContextVar), and a
    new thread starts with an empty context (unless the interpreter copies it), so it sees the process default."""
    value = build_cases()["core"]
    typed, api = datason.dumps(value), datason.dumps(value, get_api_config())
    assert typed != api
    seen: dict[str, str] = {}

    def probe(name: str) -> Callable[[int], None]:
        def run(i: int) -> None:
            seen[name] = datason.dumps(value)

        return run

    try:
        set_default_config(get_api_config())
        assert not run_threads(probe("after-set"), 1)
        with use_config(SerializationConfig()):
            assert datason.dumps(value) == typed  # this thread's scope wins over the process default
            assert not run_threads(probe("thread-started-in-scope"), 1)
            ctx = contextvars.copy_context()
            assert not run_threads(lambda i: seen.__setitem__("copied-context", ctx.run(datason.dumps, value)), 1)
    finally:
        set_default_config(None)
    assert not run_threads(probe("after-reset"), 1)
    assert seen["after-set"] == api
    inherits = bool(getattr(sys.flags, "thread_inherit_context", 0))
    assert seen["thread-started-in-scope"] == (typed if inherits else api)
    assert seen["copied-context"] == typed
    assert seen["after-reset"] == typed


def test_set_default_config_flipping_while_threads_encode(walker: str) -> None:
    value = build_cases()["core"]
    scoped_names = ["plain-unix-split", "plain-ms-columns", "typed-uuid-readable-sorted", "ml"]
    expected = {name: datason.dumps(value, CONFIGS[name]) for name in [*scoped_names, "default", "api"]}
    either = {expected["default"], expected["api"]}
    barrier = threading.Barrier(THREADS + 1)
    stop = threading.Event()
    finished = countdown(THREADS, stop)
    bad: list[tuple[int, str]] = []
    flips = [0]

    def flipper(_: int) -> None:
        barrier.wait(timeout=60)
        while not stop.is_set() or flips[0] < 20:
            set_default_config(get_api_config() if flips[0] % 2 == 0 else None)
            flips[0] += 1

    def worker(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            for n in range(60):
                if i % 4 == 0:  # no scope, no argument: one of the two process defaults, never a mixture
                    if datason.dumps(value) not in either:
                        bad.append((i, "unscoped"))
                elif i % 4 == 1:  # an explicit config ignores the process default
                    name = scoped_names[n % len(scoped_names)]
                    if datason.dumps(value, CONFIGS[name]) != expected[name]:
                        bad.append((i, name))
                else:  # a use_config scope ignores it too
                    name = scoped_names[(i + n) % len(scoped_names)]
                    with use_config(CONFIGS[name]):
                        if datason.dumps(value) != expected[name]:
                            bad.append((i, name))
        finally:
            finished()

    def target(i: int) -> None:
        (flipper if i == THREADS else worker)(i)

    try:
        with fast_switching():
            errors = run_threads(target, THREADS + 1)
    finally:
        stop.set()
        set_default_config(None)
    assert not errors
    assert not bad
    assert flips[0] >= 20
    assert get_default_config() == SerializationConfig()


# --- register_type / unregister_type racing with encodes ------------------------------------------------------------


def test_register_and_unregister_racing_with_encodes_of_other_types(walker: str) -> None:
    """The registry is built for it: writers copy its dicts under a lock and swap them whole, readers never lock."""
    values = build_cases()
    stable = {case: values[case] for case in ("core", "numpy", "registered")}
    expected = {case: datason.dumps(v) for case, v in stable.items()}
    expected_back = {case: fingerprint(datason.loads(text)) for case, text in expected.items()}

    @dataclasses.dataclass
    class Churn:
        x: int
        at: dt.date

    churn = Churn(5, dt.date(2024, 1, 2))
    natural = datason.dumps(churn)  # unregistered: the natural form
    datason.register_type(Churn, tag="tests.concurrency.Churn")
    tagged = datason.dumps(churn)
    datason.unregister_type(Churn)
    unknown = datason.loads(tagged)  # unregistered: the unknown-tag dict (its payload decoded)
    assert natural != tagged
    assert unknown != churn
    barrier = threading.Barrier(8)
    stop = threading.Event()
    finished = countdown(6, stop)
    bad: list[tuple[int, str]] = []
    mutations = [0, 0]

    def mutator(i: int) -> None:
        barrier.wait(timeout=60)
        n = 0
        while not stop.is_set() or n < 50:
            cls = dataclasses.make_dataclass(f"Dyn{i}_{n}", [("v", int)])
            datason.register_type(cls, tag=f"tests.concurrency.dyn.{i}.{n}")
            datason.register_type(Churn, tag="tests.concurrency.Churn", replace=True)
            if n % 3 == 0:
                datason.register_type(cls, tag=f"tests.concurrency.dyn.{i}.{n}", replace=True)
            datason.unregister_type(cls)
            datason.unregister_type(Churn)
            n += 1
        mutations[i] = n

    def reader(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            for _ in range(25):
                for case, value in stable.items():
                    text = datason.dumps(value)
                    if text != expected[case]:
                        bad.append((i, case))
                    if fingerprint(datason.loads(text)) != expected_back[case]:
                        bad.append((i, case + "-back"))
                text = datason.dumps(churn)  # the type being toggled: one of its two exact forms
                if text not in (natural, tagged):
                    bad.append((i, "churn"))
                back = datason.loads(tagged)  # an instance, or the unknown-tag dict: never anything else
                if back != churn and back != unknown:
                    bad.append((i, "churn-back"))
        finally:
            finished()

    def target(i: int) -> None:
        (mutator if i < 2 else reader)(i)

    try:
        with fast_switching():
            errors = run_threads(target, 8)
    finally:
        stop.set()
        datason.unregister_type(Churn)
    assert not errors
    assert not bad
    assert min(mutations) >= 50
    assert REGISTRY.for_type(Churn) is None
    assert not [tag for tag in REGISTRY._by_tag if tag.startswith("tests.concurrency.dyn.")]
    assert REGISTRY.for_tag("tests.concurrency.Reading") is not None
    assert datason.dumps(churn) == natural


# --- no cache keyed by object identity ------------------------------------------------------------------------------


def test_decoding_fresh_texts_after_gc_and_id_reuse(walker: str) -> None:
    """Each document is a new str that often lands at a freed one's address; results must follow the text.

    The C parser caches object keys (1024 slots, by content, holding a reference): churn it with colliding,
    look-alike keys of the same lengths and compare every decode with the standard json module."""
    rng = random.Random(7)
    seen_ids: set[int] = set()
    reused = 0
    # The same documents, rebuilt as new objects now and then: each decode equals the first one.
    fixed = [datason.dumps(v) for v in build_cases().values()]
    first = [fingerprint(datason.loads(text)) for text in fixed]
    for n in range(1200):
        if n % 100 == 0:
            again = ["".join(list(text)) for text in fixed]  # equal text, new objects
            assert [fingerprint(datason.loads(text)) for text in again] == first, n
        width = rng.choice((1, 2, 8, 63, 64, 65))
        keys = [f"{chr(97 + (n + j) % 26)}{(n * 31 + j) % 997:0{width}d}"[:width] or "x" for j in range(4)]
        doc = {k: [n, k, {k[::-1]: n % 3 == 0}] for k in keys}
        text = json.dumps(doc)
        reused += id(text) in seen_ids
        seen_ids.add(id(text))
        got = datason.loads(text) if n % 2 else datason.loads(text.encode())
        want = json.loads(text)
        assert fingerprint(got) == fingerprint(want), n
        del got, want, text
        if n % 500 == 0:
            gc.collect()
    assert reused > 0  # the test did exercise reused addresses


def test_encoding_fresh_objects_after_gc_and_id_reuse(walker: str) -> None:
    """Short-lived values of one type, freed before the next is made (so addresses repeat), each encode exactly."""
    seen_ids: set[int] = set()
    reused = 0
    plain = get_api_config()
    for n in range(300):
        u = uuid.UUID(int=n * 2654435761 % 2**128)
        reading = Reading(u, n / 7, dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=n))
        row = Row(f"r{n}", dt.datetime(2000, 1, 1) + dt.timedelta(days=n), [n / 3, -n / 5])
        arr = np.arange(n % 7 + 1, dtype=np.float32) * n
        frame = pd.DataFrame({"v": [n, n + 1]}, index=pd.Index([n, -n], name="i")) if n % 15 == 0 else None
        value = {"u": u, "reading": reading, "row": row, "arr": arr, "frame": frame}
        reused += any(id(v) in seen_ids for v in (u, reading, row, arr))
        seen_ids.update(id(v) for v in (u, reading, row, arr))
        typed = datason.dumps(value)
        want = fingerprint(value)
        back = datason.loads(typed)
        for name in ("u", "reading", "arr", "frame"):
            assert fingerprint(back[name]) == fingerprint(value[name]), (n, name)
        assert back["row"] == {"name": row.name, "ts": row.ts, "weights": row.weights}, n  # unregistered: its fields
        assert json.loads(datason.dumps(u, plain)) == str(u)
        assert json.loads(datason.dumps(row, plain)) == {
            "name": row.name,
            "ts": row.ts.isoformat(),
            "weights": row.weights,
        }
        assert want == fingerprint(value)  # encoding did not change the inputs
        del u, reading, row, arr, frame, value, back
        if n % 150 == 0:
            gc.collect()
    assert reused > 0


def test_typed_decode_into_fresh_classes_with_reused_names() -> None:
    """Classes made, used and freed one after another (same name, different fields): each decode uses its own class.

    Covers msgspec's per-class type info, the pydantic ``TypeAdapter`` cache (``convert._cached_adapter``, keyed by
    the type: it holds a reference, so a cached class is never freed and its id never reused) and the dec_hook.
    """
    for n in range(40):
        field_type: Any = int if n % 2 else str
        good = {"v": n if n % 2 else str(n)}
        bad = {"v": str(n) if n % 2 else n}  # valid for the previous class of the same name, not for this one
        model = pydantic.create_model("Item", v=(field_type, ...), __config__=pydantic.ConfigDict(strict=True))
        data_cls = dataclasses.make_dataclass("Item", [("v", field_type)])
        other = pydantic.create_model("Other", w=(int, ...))
        cases: list[tuple[Any, Any, Any]] = [
            (model, good, bad),
            (data_cls, good, bad),
            (list[model], [good], [bad]),
            (model | other, good, bad),  # msgspec refuses the union: pydantic's (cached) TypeAdapter decides
        ]
        for target, ok, wrong in cases:
            got = datason.loads(json.dumps(ok), type=target)
            item = got[0] if isinstance(got, list) else got
            assert type(item) is (data_cls if target is data_cls else model), (n, target)
            assert item.v == good["v"]
            with pytest.raises(datason.DeserializationError):
                datason.loads(json.dumps(wrong), type=target)
        del model, data_cls, other, cases, got, item
        if n % 15 == 0:
            gc.collect()
