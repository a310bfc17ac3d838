"""The hostile-input corpus (tests/hostile/corpus.py) through both walkers: the exact outcome, no secret in any
error, no side effect, bounded memory where a declared size is far beyond the data.

Side effects are watched while each case decodes: a ``sys.addaudithook`` hook (gated by a flag, since hooks
cannot be removed) records imports, code compiled or run, files opened, processes, sockets, ctypes, unpickling
and marshal loads; ``sys.modules`` must gain nothing; a file and a function of the corpus are tripwires. Before
the corpus runs, every handler is imported and a legitimate value of every handler is decoded under both
walkers, so what a library loads lazily on a normal decode is loaded already. One thing is allowed: zoneinfo
opening a file of the tz database read-only, which is how it answers whether a zone key exists.
"""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import fractions
import gc
import importlib
import json
import os
import pathlib
import pickle
import pickletools
import subprocess
import sys
import traceback
import tracemalloc
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest

import datason
import datason.json
from datason import DatasonError, decoder, encoder, fastpath
from datason.config import SerializationConfig
from datason.registry import LIBRARIES

from .conftest import assert_same
from .hostile import corpus
from .hostile.corpus import CATEGORIES, CORPUS, SECRET, TRIPWIRE_CALLS, TRIPWIRE_FILE, Case, Raises, Returns

MEMORY_BOUND = 50 * 1024 * 1024  # tracemalloc peak allowed while decoding a declared-size case

# --- the side-effect recorder -----------------------------------------------------------------------------------------

# Audit events that mean code ran, a file, process, socket or library was touched, or something was unpickled.
_DANGEROUS_EVENTS = frozenset(
    {"import", "exec", "compile", "open", "code.__new__", "function.__new__", "builtins.input", "sys.settrace"}
)
_DANGEROUS_PREFIXES = (
    "os.",
    "subprocess.",
    "_posixsubprocess.",
    "shutil.",
    "socket.",
    "ctypes.",
    "pickle.",
    "marshal.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "webbrowser.",
    "sqlite3.",
    "mmap.",
    "tempfile.",
    "glob.",
    "fcntl.",
    "pty.",
    "signal.",
    "cpython.run_",
)
_recording = False
_events: list[tuple[str, str]] = []


def _tz_dirs() -> tuple[str, ...]:
    """Where zoneinfo reads zone files: TZPATH and the tzdata package."""
    dirs = [os.path.realpath(p) for p in zoneinfo.TZPATH]
    try:
        import tzdata.zoneinfo  # noqa: F401  (zoneinfo's fallback database)

        dirs.append(os.path.realpath(os.path.dirname(sys.modules["tzdata.zoneinfo"].__file__ or "")))
    except ImportError:
        pass
    return tuple(d + os.sep for d in dirs)


_TZ_DIRS = _tz_dirs()


def _allowed_open(args: tuple[Any, ...]) -> bool:
    """A read-only open of a zone file in the tz database: how zoneinfo answers "is this a zone key?"."""
    path, mode, flags = [*args, None, None, None][:3]
    if not isinstance(path, str) or not os.path.realpath(path).startswith(_TZ_DIRS):
        return False
    if isinstance(mode, str):
        return not set(mode) & set("wax+")
    return isinstance(flags, int) and not flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _recording:
        return
    if event in _DANGEROUS_EVENTS or event.startswith(_DANGEROUS_PREFIXES):
        if event == "open" and _allowed_open(args):
            return
        _events.append((event, repr(args)[:160]))


sys.addaudithook(_audit)  # audit hooks cannot be removed: ``_recording`` gates it to the decoding window


def _new_modules(before: set[str]) -> set[str]:
    return set(sys.modules) - before


# --- warming up: datason, every handler and what the libraries load lazily on a legitimate decode ---------------------


def _legit_values() -> list[Any]:
    import numpy as np
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    import scipy.sparse as sp
    import torch
    from PIL import Image

    paris = zoneinfo.ZoneInfo("Europe/Paris")
    frame = pd.DataFrame(
        {
            "f": np.array([0.5, np.nan], dtype=np.float32),
            "c": pd.Categorical(["a", "b"]),
            "t": pd.date_range("2024-01-01", periods=2, freq="h", tz="Europe/Paris"),
            "n": pd.array([1, None], dtype="Int64"),
            "s": pd.array(["x", None], dtype="string"),
            "o": np.array([(1, 2), b"x"], dtype=object),
            "p": pd.period_range("2024-01", periods=2, freq="M"),
            "i": pd.interval_range(0, 2),
            "d": pd.to_timedelta([1, 2], unit="s"),
        },
        index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", None]),
    )
    structured = np.zeros(2, dtype=[("x", "<f4"), ("pos", "<i2", (2,))])
    values: list[Any] = [
        (1, 2),
        {1, 2},
        frozenset({3}),
        b"\x00\xff",
        bytearray(b"ab"),
        complex(1, -2),
        decimal.Decimal("1.10"),
        fractions.Fraction(1, 3),
        collections.OrderedDict(a=1),
        collections.Counter("aab"),
        collections.deque([1], maxlen=3),
        range(3),
        dt.datetime(2024, 7, 1, 12, tzinfo=paris),
        dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1), "CET")),
        dt.date(2024, 1, 2),
        dt.time(1, 2, tzinfo=paris),
        dt.timedelta(days=1),
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        paris,
        uuid.UUID(int=7),
        pathlib.Path("/tmp/x"),
        pathlib.PurePosixPath("/x"),
        pathlib.PureWindowsPath("C:\\x"),
        2**70,
        float("nan"),
        {1: "x", (1, 2): "y"},
        np.arange(6, dtype=">i4").reshape(2, 3),
        np.linspace(0, 1, 300),
        np.array(["a", "bc"]),
        np.array([b"a"], dtype="S3"),
        np.array([1, "x", None], dtype=object),
        np.array(["2024-01-02"], dtype="M8[D]"),
        np.array([5], dtype="m8[10ms]"),
        structured,
        np.float32(0.1),
        np.longdouble(1) / 3,
        np.complex64(1 - 2j),
        np.datetime64("2024-01-02"),
        np.void(b"ab"),
        np.bytes_(b"x"),
        frame,
        frame.reset_index(),
        pd.Series([1.5, 2.5], index=["x", "y"], name="s"),
        pd.RangeIndex(3),
        pd.Timestamp("2024-01-01", tz="UTC"),
        pd.Timedelta(1),
        pd.Period("2024-01", freq="M"),
        pd.Interval(0, 1),
        pd.NaT,
        pd.NA,
        torch.arange(6, dtype=torch.float32).reshape(2, 3),
        torch.tensor([1.0], dtype=torch.bfloat16),
        torch.sparse_coo_tensor([[0, 1], [1, 0]], [1.0, 2.0], (2, 2), check_invariants=True),
        torch.nn.Parameter(torch.ones(2)),
        torch.Size([2, 3]),
        torch.float16,
        torch.device("cpu"),
        Image.new("L", (2, 2)),
        Image.new("F", (1, 1)),
        Image.new("P", (1, 1)),
        pa.table({"a": [1, 2], "b": ["x", None]}),
        pa.record_batch({"a": [1]}),
        pa.array([1, None]),
        pa.chunked_array([[1], [2]]),
        pl.DataFrame({"a": [1, 2], "c": ["x", "y"]}, schema_overrides={"c": pl.Categorical}),
        pl.Series("s", [1.5]),
    ]
    for fmt in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok"):
        for kind in ("matrix", "array"):
            values.append(getattr(sp, f"{fmt}_{kind}")(np.eye(2)))
    return values


def _legacy_documents() -> list[str]:
    """Documents datason 0.x wrote (each handler's legacy reader is a lazy path of its own)."""
    env = corpus.env
    return [
        json.dumps(env("numpy.ndarray", [[1, 2], [3, 4]])),
        json.dumps(env("numpy.float32", 1.5)),
        json.dumps(env("pandas.Series", {"_series_name": "s", "0": 1, "1": 2})),
        json.dumps(env("pandas.DataFrame", [{"a": 1}, {"a": 2}])),
        json.dumps(env("pandas.DataFrame", {"index": [0], "columns": ["a"], "data": [[1]]})),
        json.dumps(env("torch.Tensor", {"shape": [2], "dtype": "torch.float32", "data": [1.0, None]})),
        json.dumps(
            env(
                "scipy.sparse",
                {"format": "csr", "shape": [2, 2], "dtype": "float64", "data": [1.0], "row": [0], "col": [1]},
            )
        ),
    ]


@pytest.fixture(scope="module", autouse=True)
def _warm_up() -> None:
    """Import every handler and let every library load what it loads lazily on a legitimate decode, under both
    walkers, so that any import recorded while a hostile case decodes is one that case caused."""
    from sklearn.linear_model import LinearRegression

    for module in sorted(lib.handler_module for lib in LIBRARIES if lib.tag_prefixes):  # those that decode tags
        importlib.import_module(module)
    importlib.import_module("importlib.resources")  # zoneinfo's lookup machinery for keys not in TZPATH
    for key in ("Not/A_Zone", "Not_A_Zone"):  # both of zoneinfo's lookup paths (a sub-package, the top package)
        try:
            zoneinfo.ZoneInfo(key)
        except zoneinfo.ZoneInfoNotFoundError:
            pass
    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    trusted = SerializationConfig(trusted_types=("sklearn.linear_model._base.LinearRegression",))
    values = _legit_values()
    compact = SerializationConfig(array_format="compact")
    documents = [datason.dumps(value) for value in values]
    documents += [datason.dumps(v, compact) for v in values if type(v).__module__.partition(".")[0] == "numpy"]
    documents += _legacy_documents()
    with pytest.MonkeyPatch.context() as mp:
        for walker in ("c", "python"):
            if walker == "python":
                for module in (encoder, decoder, fastpath):
                    mp.setattr(module, "_speedups", None)
            for text in documents:
                datason.loads(text)
                datason.loads(text.encode(), corpus.PRESETS["strict"].replace(strict=False))
                datason.deserialize(json.loads(text))
                datason.auto_deserialize(json.loads(text))
            datason.loads(datason.dumps(model, trusted), trusted)
            datason.json.loads('{"a": [1.5, null]}')


# --- running one case -------------------------------------------------------------------------------------------------


def _call(case: Case) -> Callable[[], Any]:
    """The decode the case asks for; its input is prepared here, outside the recorded window."""
    payload = case.payload
    config = case.config
    if case.entry == "loads":
        return lambda: datason.loads(payload, config)
    if case.entry == "loads-text":
        text = payload.decode("utf-8", "surrogatepass")
        return lambda: datason.loads(text, config)
    if case.entry == "json":
        return lambda: datason.json.loads(payload)
    tree = case.tree() if case.tree is not None else json.loads(payload)
    if case.entry == "deserialize":
        return lambda: datason.deserialize(tree, config)
    if case.entry == "auto":
        return lambda: datason.auto_deserialize(tree, config)
    raise AssertionError(f"unknown entry {case.entry}")


def _run(case: Case) -> tuple[Any, BaseException | None, list[tuple[str, str]], set[str], int | None]:
    """Decode under the recorder: (result, exception, dangerous events, new modules, tracemalloc peak)."""
    global _recording
    gc.disable()  # 100,000-deep trees and million-member documents: full collections would dominate the run time
    try:
        return _run_recorded(case)
    finally:
        gc.enable()


def _run_recorded(case: Case) -> tuple[Any, BaseException | None, list[tuple[str, str]], set[str], int | None]:
    global _recording
    call = _call(case)
    before = set(sys.modules)
    _events.clear()
    result: Any = None
    error: BaseException | None = None
    peak: int | None = None
    if case.bounded:
        tracemalloc.start()
    _recording = True
    try:
        result = call()
    except BaseException as exc:  # the case says which exception, if any, is right
        error = exc
    finally:
        _recording = False
        if case.bounded:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    return result, error, list(_events), _new_modules(before), peak


def _error_problems(case: Case, expect: Raises, error: BaseException | None, result: Any) -> list[str]:
    if error is None:
        return [f"returned {type(result).__name__} instead of raising {expect.cls.__name__}"]
    problems = []
    if type(error) is not expect.cls:
        problems.append(f"raised {type(error).__name__} ({str(error)[:200]}) instead of {expect.cls.__name__}")
    if isinstance(error, DatasonError):
        assert isinstance(error, ValueError)
        if not error.path.startswith("$") or " at $" not in str(error):
            problems.append(f"message does not name the path: {str(error)[:200]}")
        if expect.path is not None and error.path != expect.path:
            problems.append(f"path {error.path[:80]!r} instead of {expect.path!r}")
        if expect.type_name is not None and (error.type_name != expect.type_name or expect.type_name not in str(error)):
            problems.append(f"type {error.type_name!r} instead of {expect.type_name!r}")
    elif expect.cls.__module__ == "datason.errors":
        problems.append("not a datason error")
    shown = [str(error), repr(error), repr(error.args), "".join(traceback.format_exception(error))]
    if any(SECRET in text for text in shown):
        problems.append("the error shows the planted secret")
    return problems


def _value_problems(expect: Returns, error: BaseException | None, result: Any) -> list[str]:
    if error is not None:
        return [f"raised {type(error).__name__} ({str(error)[:200]}) instead of returning"]
    try:
        same(result, expect.build())
    except AssertionError as exc:
        return [f"returned a different value: {str(exc)[:300]}"]
    return []


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_hostile_case(case: Case, walker: str) -> None:
    assert not TRIPWIRE_FILE.exists(), "the tripwire file exists before the case ran"
    result, error, events, modules, peak = _run(case)
    if isinstance(case.expect, Raises):
        problems = _error_problems(case, case.expect, error, result)
    else:
        problems = _value_problems(case.expect, error, result)
    if events:
        problems.append(f"audit events: {events[:5]}")
    if modules:
        problems.append(f"new modules imported: {sorted(modules)[:10]}")
    if TRIPWIRE_CALLS:
        problems.append(f"the tripwire function ran: {TRIPWIRE_CALLS[:3]}")
        TRIPWIRE_CALLS.clear()
    if TRIPWIRE_FILE.exists():
        problems.append("the tripwire file was created")
        TRIPWIRE_FILE.unlink()
    if peak is not None and peak >= MEMORY_BOUND:
        problems.append(f"tracemalloc peak {peak / 2**20:.0f} MiB (bound {MEMORY_BOUND / 2**20:.0f} MiB)")
    assert not problems, "; ".join(problems)


# --- comparing results exactly ----------------------------------------------------------------------------------------


_EXACT_SCALARS = (int, str, bool, type(None))


def same(got: Any, want: Any, path: str = "$") -> None:
    """Equal in type and value, recursively: ``assert_same`` plus the library types the corpus returns."""
    lib = type(want).__module__.partition(".")[0]
    if lib == "numpy":
        import numpy as np

        assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
        a, b = np.asarray(got), np.asarray(want)
        assert (a.dtype, a.shape) == (b.dtype, b.shape), f"{path}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        if b.dtype == object:
            for i, (x, y) in enumerate(zip(a.ravel(), b.ravel(), strict=True)):
                same(x, y, f"{path}[{i}]")
        else:
            assert a.tobytes() == b.tobytes(), f"{path}: array bytes differ"
    elif lib == "torch":
        import torch

        assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
        if isinstance(want, torch.Tensor):
            assert got.dtype == want.dtype and got.shape == want.shape and torch.equal(got, want), path
        else:
            assert got == want, path
    elif lib == "scipy":
        assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
        assert got.shape == want.shape and got.dtype == want.dtype and got.nnz == want.nnz, path
        # the stored parts, never a conversion: a 1e12 x 1e12 matrix must not be densified (or made CSR) to compare
        if want.format == "dia":
            parts = [(got.data, want.data), (got.offsets, want.offsets)]
        elif want.format == "dok":
            parts = [(sorted(got.items()), sorted(want.items()))]
        else:
            a, b = got.tocoo(), want.tocoo()
            parts = list(zip((*a.coords, a.data), (*b.coords, b.data), strict=True))
        for x, y in parts:
            assert list(x) == list(y), f"{path}: stored entries differ"
    elif lib == "PIL":
        assert (got.mode, got.size, got.tobytes()) == (want.mode, want.size, want.tobytes()), path
    elif lib == "pyarrow":
        assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
        assert got.equals(want), path
        assert got.schema.equals(want.schema, check_metadata=True), f"{path}: schema or metadata differ"
    elif lib == "pandas":
        import pandas as pd

        assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
        pd.testing.assert_series_equal(got, want, check_exact=True)
    elif isinstance(want, dict):
        assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
        assert list(got) == list(want), f"{path}: keys {list(got)[:5]} != {list(want)[:5]}"
        for key in want:
            same(got[key], want[key], f"{path}[{key!r}]")
    elif isinstance(want, list | tuple):
        assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
        assert len(got) == len(want), f"{path}: length {len(got)} != {len(want)}"
        if all(type(w) in _EXACT_SCALARS for w in want):  # a million zeros: compare in one step, types included
            assert list(map(type, got)) == list(map(type, want)) and got == want, f"{path}: items differ"
            return
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            same(g, w, f"{path}[{i}]")
    elif isinstance(want, collections.deque):
        assert_same(got, want, path)
        assert got.maxlen == want.maxlen, f"{path}: maxlen {got.maxlen} != {want.maxlen}"
    else:
        assert_same(got, want, path)


# --- the corpus itself ------------------------------------------------------------------------------------------------


def test_corpus_shape() -> None:
    ids = [case.id for case in CORPUS]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    counts = collections.Counter(case.category for case in CORPUS)
    assert set(counts) == set(CATEGORIES), "every category of the issue has cases, and no other category"
    assert min(counts.values()) >= 20
    for case in CORPUS:
        assert case.preset in corpus.PRESETS and case.entry in corpus.ENTRIES, case.id
        assert case.id.startswith(case.category + "/"), case.id


def test_every_registered_tag_has_wrong_type_cases() -> None:
    """The wrong-type table covers every tag datason decodes (a new handler needs its row)."""
    # datason's own tags, listed in a fresh interpreter: tests in this process register classes of their own
    script = (
        "import importlib, json\n"
        "from datason.registry import LIBRARIES, REGISTRY\n"
        "for lib in LIBRARIES:\n"
        "    if lib.tag_prefixes: importlib.import_module(lib.handler_module)\n"
        "print(json.dumps(sorted(REGISTRY._by_tag)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    registered = set(json.loads(out.stdout))
    assert registered == set(corpus.ACCEPTED_KINDS)
    covered = {case.id.split("/")[1] for case in CORPUS if case.category == "wrong-type"}
    assert covered == registered


def test_every_base64_carrier_is_covered() -> None:
    """Every tag whose payload carries base64 has malformed-base64 cases."""
    carriers = {case.id.split("/")[1] for case in CORPUS if case.category == "base64"}
    wanted = {"bytes", "bytearray", "numpy-base64-body", "numpy-S-item", "numpy-V-item", "numpy-bytes-scalar"}
    wanted |= {"torch-array", "scipy-data", "pandas-column", "pil-raw", "pil-png", "pil-palette"}
    wanted |= {"pyarrow-table", "pyarrow-array", "polars-frame", "polars-series", "sklearn-skops"}
    assert wanted <= carriers


def test_pickle_payloads_cover_every_protocol() -> None:
    """Protocols 0 to 5 of a pickle calling os.system, each a well-formed pickle (read opcode by opcode, not run)."""
    for protocol in range(6):
        blob = corpus.PICKLES[f"p{protocol}-os-system"]
        ops = [(op.name, arg) for op, arg, _ in pickletools.genops(blob)]
        assert ops[-1][0] == "STOP"
        assert ("PROTO", protocol) in ops if protocol >= 2 else all(name != "PROTO" for name, _ in ops)
        assert any(name in ("GLOBAL", "STACK_GLOBAL") for name, _ in ops) and b"system" in blob


# --- the detectors are live (a proof that finds nothing must be able to find something) -------------------------------


def _recorded(action: Callable[[], Any]) -> tuple[list[tuple[str, str]], set[str]]:
    """The dangerous events and new modules ``action`` causes, as the corpus run records them."""
    global _recording
    before = set(sys.modules)
    _events.clear()
    _recording = True
    try:
        action()
    finally:
        _recording = False
    events = list(_events)
    _events.clear()
    return events, _new_modules(before)


def test_the_recorder_sees_unpickling_and_the_tripwires() -> None:
    events, _ = _recorded(lambda: pickle.loads(corpus.PICKLES["p2-tripwire"]))  # what must never happen
    try:
        assert ("pickle.find_class" in {event for event, _ in events}) and TRIPWIRE_CALLS and TRIPWIRE_FILE.exists()
    finally:
        TRIPWIRE_CALLS.clear()
        TRIPWIRE_FILE.unlink(missing_ok=True)


def test_the_recorder_sees_imports_files_and_processes(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hostile_probe_module.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "hostile_probe_module", raising=False)
    events, modules = _recorded(lambda: __import__("hostile_probe_module"))
    assert {"import", "exec"} <= {event for event, _ in events} and "hostile_probe_module" in modules
    sys.modules.pop("hostile_probe_module")
    events, modules = _recorded(lambda: importlib.import_module("hostile_probe_module"))  # no "import" event here
    assert "exec" in {event for event, _ in events} and "hostile_probe_module" in modules
    events, _ = _recorded(lambda: (tmp_path / "written.txt").write_text("x"))
    assert "open" in {event for event, _ in events}
    events, _ = _recorded(lambda: os.system("true"))  # a harmless command, to see it recorded
    assert "os.system" in {event for event, _ in events}
    events, _ = _recorded(lambda: eval("1 + 1"))  # a harmless expression, to see it recorded
    assert {"compile", "exec"} & {event for event, _ in events}
    # zone files of the tz database are the one read allowed (zoneinfo answering "is this a zone key?")
    events, _ = _recorded(lambda: zoneinfo.ZoneInfo.no_cache("Europe/Paris"))
    assert events == []


def test_the_memory_bound_sees_numpy_allocations() -> None:
    import numpy as np

    tracemalloc.start()
    try:
        block = np.ones(MEMORY_BOUND // 8 + 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del block
    assert peak >= MEMORY_BOUND


# --- marker keys as data: written and read back -----------------------------------------------------------------------


@pytest.mark.parametrize("case", [c for c in CORPUS if c.roundtrip], ids=[c.id for c in CORPUS if c.roundtrip])
def test_marker_key_data_round_trips(case: Case, walker: str) -> None:
    assert isinstance(case.expect, Returns)
    value = case.expect.build()
    text = datason.dumps(value)
    assert json.loads(text)["req"][1][corpus.TYPE_KEY] in ("dict", "tuple")  # escaped, never written bare
    same(datason.loads(text), value)
    same(datason.loads(text, corpus.PRESETS["strict"]), value)


@pytest.mark.parametrize(
    "value",
    [
        {corpus.TYPE_KEY: "tuple", corpus.VALUE_KEY: [1, 2]},
        {corpus.TYPE_KEY: "numpy.ndarray", corpus.VALUE_KEY: {"dtype": "<f8", "shape": [1], "data": [1.0]}},
        {"user": {corpus.TYPE_KEY: "uuid.UUID", corpus.VALUE_KEY: "12345678-1234-5678-1234-567812345678"}},
    ],
    ids=["tuple", "numpy", "uuid-nested"],
)
def test_plain_mode_never_turns_user_data_into_a_typed_value(value: Any, walker: str) -> None:
    """JSON-native user data written under the api preset reads back as the same data under it (or is refused on
    write): a dict that happens to hold both marker keys must not come back as a tuple, an array or a UUID."""
    config = corpus.PRESETS["api"]
    try:
        text = datason.dumps(value, config)
    except datason.SerializationError:
        return
    same(datason.loads(text, config), value)
