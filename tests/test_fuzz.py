"""Fuzzing in the test suite: a short coverage-guided atheris run of fuzz/fuzz_loads.py over the seed corpus,
hypothesis mutations of valid typed documents (NumPy and pandas included) that may only fail with datason's
own errors, every saved fuzz finding (fuzz/regressions/) replayed through the fuzz oracle, and the findings of the
fuzz campaign as plain tests (limits skipped inside self-decoded payloads, writers that ignore payload depth,
duplicate keys decided by overwritten values): those fail until the decoder and encoder are fixed.

The mutations extend tests/test_properties.py (random payloads, builtin tag swaps, truncation and byte flips of
builtin documents) to every registered tag and to structural changes: payload JSON types, envelope and payload
keys deleted, duplicated or renamed, declared dtypes/shapes/counts/lengths changed, base64 bodies cut or
extended, bytes flipped in library documents, payloads spliced between documents and deep nesting at the limits.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
import subprocess
import sys
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import datason
from datason import DatasonError, SecurityError
from datason.config import (
    SerializationConfig,
    get_api_config,
    get_default_config,
    get_ml_config,
    get_performance_config,
    get_strict_config,
)

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
_spec = importlib.util.spec_from_file_location("fuzz_loads", FUZZ / "fuzz_loads.py")
assert _spec is not None and _spec.loader is not None
fuzz_loads = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz_loads)
fuzz_loads.load()

TYPE_KEY = "__datason_type__"
VALUE_KEY = "__datason_value__"
PRESETS = [
    ("default", get_default_config()),
    ("api", get_api_config()),
    ("strict", get_strict_config()),
    ("ml", get_ml_config()),
    ("performance", get_performance_config()),
]
WRITERS = [
    get_default_config(),
    get_ml_config(),
    get_performance_config(),
    SerializationConfig(array_format="readable"),
]
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- 1. the short atheris run ----------------------------------------------------------------------------------------

# ~20 s on a 2-core machine: ~10 s of start-up (imports), the seed corpus, then mutations at a few hundred per second.
FUZZ_RUNS = 4000


def test_short_atheris_run(tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    """libFuzzer runs every seed and then mutations of them through the whole oracle, with no finding."""
    corpus = tmp_path / "corpus"  # new inputs go here, never into fuzz/seeds
    corpus.mkdir()
    findings = tmp_path / "findings"
    seeds = len(list((FUZZ / "seeds").iterdir()))
    command = [
        sys.executable,
        str(FUZZ / "fuzz_loads.py"),
        f"-runs={FUZZ_RUNS}",
        "-seed=1",
        "-max_total_time=240",  # a guard for a very slow machine; the run ends on -runs
        "-timeout=60",
        f"-dict={FUZZ / 'datason.dict'}",
        f"-findings_dir={findings}",  # every distinct finding, not just the first
        f"-artifact_prefix={tmp_path}/",
        str(corpus),
        str(FUZZ / "seeds"),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False)
    log = proc.stdout + proc.stderr
    artifacts = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert proc.returncode == 0, f"crash, timeout or out of memory (artifacts {artifacts}):\n{log[-4000:]}"
    reported = [line[:600] for line in log.splitlines() if line.startswith("FINDING")]
    assert not reported, "fuzz findings (inputs in {}):\n{}".format(findings, "\n".join(reported))
    done = re.search(r"Done (\d+) runs in (\d+) second", log)
    final = re.findall(r"#\d+\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)", log)
    assert done is not None and final, log[-2000:]
    executions = int(done.group(1))
    cov, features, corpus_size = map(int, final[-1])
    record_property("fuzz_executions", executions)
    record_property("fuzz_coverage", f"cov {cov} ft {features} corp {corpus_size}")
    print(f"atheris: {executions} executions, cov {cov}, ft {features}, corpus {corpus_size}")
    assert executions == FUZZ_RUNS > seeds  # every seed, then mutations
    assert cov > 0 and features >= cov and corpus_size > 0


# --- 2. hypothesis: valid typed documents, structurally mutated -----------------------------------------------------

ZONES = [zoneinfo.ZoneInfo(k) for k in ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata")]
timezones = st.one_of(
    st.none(),
    st.just(dt.UTC),
    st.integers(-1439, 1439).map(lambda m: dt.timezone(dt.timedelta(minutes=m))),
    st.sampled_from(ZONES),
)
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**80), 2**80),
    st.floats(),
    texts,
    st.binary(max_size=12),
    st.datetimes(timezones=timezones),
    st.dates(),
    st.timedeltas(),
    st.uuids(),
    st.decimals(places=3, allow_nan=True),
)
hashables = st.one_of(st.integers(), texts, st.uuids(), st.tuples(st.integers(), texts))
dtypes = st.sampled_from(
    ["?", "i1", "u2", ">i4", "<i8", "<u8", "<f2", "<f4", ">f8", "<c8", "M8[ns]", "m8[ms]", "U3", "S2"]
)
arrays = dtypes.flatmap(lambda d: hnp.arrays(np.dtype(d), hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))


@st.composite
def frames(draw: st.DrawFn) -> Any:
    """Small pandas frames and series: numeric, nullable, string, categorical, zoned datetime and object columns."""
    n = draw(st.integers(0, 4))
    columns = {
        "i": draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n)),
        "f": np.array(draw(st.lists(st.floats(width=32), min_size=n, max_size=n)), dtype=np.float32),
        "n": pd.array(draw(st.lists(st.one_of(st.none(), st.integers(-5, 5)), min_size=n, max_size=n)), dtype="Int64"),
        "s": pd.array(draw(st.lists(st.one_of(st.none(), texts), min_size=n, max_size=n)), dtype="string"),
        "c": pd.Categorical(draw(st.lists(st.sampled_from(["x", "y", None]), min_size=n, max_size=n))),
        "t": pd.date_range("2024-01-01", periods=n, freq="h", tz=draw(st.sampled_from(["UTC", "Europe/Paris"]))),
        "o": draw(st.lists(st.one_of(st.integers(), texts, st.tuples(st.integers())), min_size=n, max_size=n)),
    }
    names = draw(st.lists(st.sampled_from(sorted(columns)), min_size=1, max_size=4, unique=True))
    index = draw(
        st.sampled_from(
            [
                pd.RangeIndex(n),
                pd.Index([f"r{i}" for i in range(n)], name="row"),
                pd.date_range("2024-01-01", periods=n, freq="D", name="day"),
                pd.MultiIndex.from_arrays([list(range(n)), ["a"] * n]),
            ]
        )
    )
    frame = pd.DataFrame({name: columns[name] for name in names}, index=index)
    return frame if draw(st.booleans()) else frame[names[0]]


values = st.recursive(
    st.one_of(leaves, arrays, frames()),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(texts, children, max_size=3),
        st.dictionaries(hashables, children, max_size=3),
        st.sets(hashables, max_size=3),
        st.frozensets(hashables, max_size=3),
    ),
    max_leaves=6,
)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A valid typed document: ``dumps`` of a generated value under a typed writer config."""
    library = st.one_of(arrays, frames())
    value = draw(st.one_of(library, st.lists(library, min_size=1, max_size=3), values))
    return datason.dumps(value, draw(st.sampled_from(WRITERS)))


class Draw:
    """The fuzzer's mutation engine (fuzz_loads: ``mutate_*``, ``splice``, ``nest``) choosing through hypothesis."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def choice(self, options: Any) -> Any:
        return self.data.draw(st.sampled_from(list(options)))

    def randint(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high))


parse, emit = fuzz_loads.parse, fuzz_loads.emit


def only_datason_errors(text: str | bytes) -> list[tuple[Any, Any]]:
    """Decode under every preset (``loads``; ``deserialize`` and ``auto_deserialize`` of the stdlib's tree):
    each succeeds or raises a datason error (or ``json.JSONDecodeError``); anything else propagates and fails
    the test. Returns the (config, value) pairs ``loads`` decoded."""
    decoded = []
    for _, cfg in PRESETS:
        try:
            decoded.append((cfg, datason.loads(text, cfg)))
        except (DatasonError, json.JSONDecodeError):
            pass
    try:
        tree = json.loads(text)
    except (ValueError, RecursionError):
        return decoded  # not JSON to the stdlib either
    for _, cfg in PRESETS:
        for call in (datason.deserialize, datason.auto_deserialize):
            try:
                call(tree, cfg)
            except DatasonError:
                pass
    return decoded


def decodes_and_round_trips(text: str | bytes) -> None:
    """``only_datason_errors``, and what a typed preset decoded re-encodes and decodes back the same."""
    for cfg, value in only_datason_errors(text):
        if cfg.include_type_hints:
            fuzz_loads.round_trip(value, cfg, "mutated", python=False)  # the walker fixture chose the walkers


@settings(SETTINGS, max_examples=100)
@given(text=documents(), data=st.data(), kinds=st.lists(st.sampled_from(sorted(fuzz_loads.MUTATIONS)), max_size=3))
def test_structural_mutations_only_raise_datason_errors(
    text: str, data: st.DataObject, kinds: list[str], walker: str
) -> None:
    """Tags swapped for any registered tag, payload JSON types swapped, envelope/payload keys deleted, duplicated,
    renamed or added, declared dtypes/shapes/counts/lengths changed, base64 bodies cut or extended."""
    holder = [parse(text)]
    for kind in kinds or ["tag"]:
        fuzz_loads.MUTATIONS[kind](holder, Draw(data))
    decodes_and_round_trips(emit(holder[0]))


@SETTINGS
@given(text=documents(), data=st.data())
def test_flipped_bytes_in_library_documents(text: str, data: st.DataObject, walker: str) -> None:
    raw = bytearray(text.encode("utf-8"))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    decodes_and_round_trips(bytes(raw))


@SETTINGS
@given(text=documents(), other=documents(), data=st.data(), retag=st.booleans())
def test_spliced_documents(text: str, other: str, data: st.DataObject, retag: bool, walker: str) -> None:
    """A part of one document (an envelope, a payload, any value) put into another, maybe under another tag."""
    holder = [parse(text)]
    fuzz_loads.splice(holder, parse(other), Draw(data))
    if retag:
        fuzz_loads.mutate_tag(holder, Draw(data))
    decodes_and_round_trips(emit(holder[0]))


@SETTINGS
@given(
    text=documents(),
    data=st.data(),
    kind=st.sampled_from(fuzz_loads.WRAPS),
    depth=st.sampled_from(fuzz_loads.DEPTHS),
)
def test_deep_nesting_at_the_limits(text: str, data: st.DataObject, kind: str, depth: int, walker: str) -> None:
    """A document (or one of its parts) wrapped in lists, objects or envelopes around each preset's max_depth
    (64 strict, 256 the others): refused with SecurityError or decoded, never a RecursionError."""
    holder = [parse(text)]
    fuzz_loads.nest(holder, Draw(data), depth, kind)
    decodes_and_round_trips(emit(holder[0]))


# --- 3. saved fuzz findings ----------------------------------------------------------------------------------------

REGRESSIONS = sorted((FUZZ / "regressions").glob("*")) if (FUZZ / "regressions").is_dir() else []


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_fuzz_regression(path: Path) -> None:
    """An input the fuzzer once found a problem with passes the whole oracle (both walkers, every check)."""
    fuzz_loads.check(path.read_bytes())


# --- 4. what the fuzz campaign found (these fail until the decoder/encoder is fixed) ---------------------------------

STRICT = get_strict_config()  # max_depth=64


def nested_in_lists(node: Any, levels: int) -> Any:
    for _ in range(levels):
        node = [node]
    return node


def test_max_depth_counts_the_payload_of_a_self_decoding_handler(walker: str) -> None:
    """wire-format §7: max_depth counts every container of the document, an envelope as one level and its
    payload's containers as more. A pandas.Timestamp envelope under 63 lists sits at depth 64 and its payload
    object at 65, so the strict preset (max_depth=64) refuses it. The C parser does; the Python walker and
    ``deserialize`` (both walkers) do not count the payload of handlers that decode it themselves
    (revive_payload=False: NumPy, pandas, PyTorch, SciPy, Arrow, Polars, Pillow)."""
    doc = json.dumps(nested_in_lists({TYPE_KEY: "pandas.Timestamp", VALUE_KEY: {"value": 0, "unit": "s"}}, 63))
    with pytest.raises(SecurityError):
        datason.loads(doc, STRICT)
    with pytest.raises(SecurityError):
        datason.deserialize(json.loads(doc), STRICT)


@pytest.mark.parametrize(
    "payload",
    [
        {TYPE_KEY: "pandas.array", VALUE_KEY: {"dtype": "object", "data": nested_in_lists(1, 63)}},
        {TYPE_KEY: "numpy.ndarray", VALUE_KEY: {"dtype": "|O", "shape": [1], "data": [nested_in_lists(1, 62)]}},
    ],
    ids=["pandas-object-column", "numpy-object-array"],
)
def test_max_depth_does_not_restart_inside_object_items(payload: Any, walker: str) -> None:
    """The items of an object column or object array are decoded through ``DecodeContext.decode``, which starts
    counting depth at 1 again: 65 levels pass max_depth=64 (and nested object arrays pass any limit). Only the
    C parser of ``loads`` refuses them."""
    doc = json.dumps(payload)
    with pytest.raises(SecurityError):
        datason.loads(doc, STRICT)
    with pytest.raises(SecurityError):
        datason.deserialize(json.loads(doc), STRICT)


def test_max_string_length_applies_inside_self_decoded_payloads(walker: str) -> None:
    """wire-format §7: max_string_length bounds every string of the document. A compact array body longer than the
    limit is refused by the C parser; the Python walker and ``deserialize`` (both walkers) hand it to the NumPy
    handler unchecked (the same for string columns, Arrow/Polars streams and images)."""
    cfg = SerializationConfig(max_string_length=8)
    doc = json.dumps(
        {TYPE_KEY: "numpy.ndarray", VALUE_KEY: {"dtype": "<i4", "shape": [3], "base64": "AQAAAAIAAAADAAAA"}}
    )
    with pytest.raises(SecurityError):
        datason.loads(doc, cfg)
    with pytest.raises(SecurityError):
        datason.deserialize(json.loads(doc), cfg)


def _depth_leaves() -> dict[str, Any]:
    import polars as pl
    import pyarrow as pa
    from PIL import Image

    return {
        "pandas.Timestamp": pd.Timestamp(0, unit="s"),
        "pandas.Series": pd.Series([1]),
        "pyarrow.Array": pa.array([1]),
        "polars.Series": pl.Series([1]),
        "PIL.Image": Image.new("L", (1, 1)),
    }


@pytest.mark.parametrize("kind", sorted(_depth_leaves()))
def test_what_dumps_writes_at_the_depth_limit_loads_back(kind: str, walker: str) -> None:
    """wire-format §7: "A document dumps wrote under a config is read by loads under the same config". Writers of
    JSON payloads (pandas, Arrow, Polars, Pillow) do not count their payload's containers, so at the strict
    limit ``dumps`` writes documents that the C parser then refuses: dumps must raise SecurityError instead."""
    for levels in (62, 63):
        try:
            text = datason.dumps(nested_in_lists(_depth_leaves()[kind], levels), STRICT)
        except SecurityError:
            continue
        for reader in ("c", "python"):
            with fuzz_loads.walkers(reader):
                datason.loads(text, STRICT)


def test_duplicate_keys_the_last_one_wins_before_anything_is_decoded(walker: str) -> None:
    """wire-format §1: duplicate object keys, the last one wins. The C parser decodes envelopes as they close,
    so a malformed envelope under a key that a later duplicate replaces still fails the whole document; the
    Python walker (msgspec, then decode) never sees it."""
    doc = '{"a": {"__datason_type__": "datetime.timezone", "__datason_value__": 1}, "a": 2}'
    assert datason.loads(doc) == {"a": 2}
