"""Payload shapes: datason against its peers, side by side in one run, as ratios (issue 13, "Targets").

Usage (from the repository root, with the project's virtualenv):

    .venv/bin/python benchmarks/shapes.py                            # full matrix, prints the tables
    .venv/bin/python benchmarks/shapes.py --output docs/benchmarks.md  # also rewrites its block there
    .venv/bin/python benchmarks/shapes.py --quick --only tz_zoneinfo,embedding   # smoke run

Rows (``SHAPES``) are payload shapes, built deterministically from a seed: time zones of every kind, NumPy
scalars and arrays, stdlib scalars, dataclasses, pydantic models, a dict of long lists, a record mixing
everything, and workload A itself (the no-regression row). Each row runs three comparisons, each a pair of
contenders timed in one ``timing.interleave`` call (every round runs both; ratios are paired per round):

- (a) API dumps: ``datason.dumps(d, config=get_api_config())`` vs ``orjson.dumps(d, option=OPT_SERIALIZE_NUMPY
  | OPT_SORT_KEYS, default=...)``, the ``default`` writing what datason's plain mode writes. Checked once,
  untimed: both documents parse to the same values, strictly typed. Target: ratio <= 1.3.
- (b) typed round trip: ``datason.loads(datason.dumps(d))`` (default config; ``type=list[Model]`` for
  classes datason leaves untagged by design) vs msgspec's schema-typed round trip (a Struct, or the
  dataclass, mirroring the record) where msgspec can express the record, else (NumPy values) orjson's lossy
  round trip. Checked: datason gives the input back, same types, bits, dtypes and time zones. Target: <= 2.0.
- (c) loads + auto_deserialize: the row's plain JSON (orjson's output from (a)) through
  ``datason.auto_deserialize(orjson.loads(text), get_api_config())`` (``loads`` alone leaves ISO strings as
  text) vs ``msgspec.json.Decoder(<plain-form schema>).decode(text)``, the schema mirroring what
  ``auto_deserialize`` revives. Checked: both give the same values. Target: <= 2.0.

A MISS is reported, never raised. ``--output`` replaces the block between ``<!-- shapes:begin -->`` and
``<!-- shapes:end -->`` (appending it when absent) and leaves the rest of the file alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import decimal
import enum
import math
import os
import platform
import random
import string
import struct
import subprocess
import sys
import time
import typing
import uuid
import zoneinfo
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

try:
    import msgspec
    import numpy as np
    import orjson
    import pydantic
except ImportError as exc:  # pragma: no cover - a hint for the wrong interpreter
    raise SystemExit(f"{exc}: run with the project's virtualenv, e.g. .venv/bin/python benchmarks/shapes.py") from exc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "src"
sys.path.insert(0, str(HERE))

import docblock  # noqa: E402
import timing  # noqa: E402
import workloads  # noqa: E402

SEED = workloads.SEED
FULL_ROUNDS, QUICK_ROUNDS = 11, 3
QUICK_SCALE = 10  # --quick builds a tenth of each row's records
TARGETS = {"a": 1.3, "b": 2.0, "c": 2.0}
NUMPY_OPT = orjson.OPT_SERIALIZE_NUMPY
API_OPT = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_SORT_KEYS
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
LETTERS = string.ascii_lowercase


# ---------------------------------------------------------------- record types


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Level(enum.Enum):
    LOW = 1
    MID = 2
    HIGH = 3


@dataclasses.dataclass
class Item:
    id: int
    x: float
    name: str
    ts: dt.datetime
    tags: list[str]


class ItemModel(pydantic.BaseModel):
    id: int
    x: float
    name: str
    ts: dt.datetime
    tags: list[str]


# msgspec schemas: typed ones for (b) mirror the record; plain ones for (c) mirror what auto_deserialize
# gives back from the plain JSON (datetimes revived; UUIDs (parse_uuids=False), dates, times, durations,
# Decimals and Enum values stay str/int; NumPy values are numbers and lists).


class Rec(msgspec.Struct):
    id: uuid.UUID
    ts: dt.datetime
    x: float
    tags: list[str]


class RecPlain(msgspec.Struct):
    id: str
    ts: dt.datetime
    x: float
    tags: list[str]


class Money(msgspec.Struct):
    day: dt.date
    amount: decimal.Decimal
    n: int
    x: float


class MoneyPlain(msgspec.Struct):
    day: str
    amount: str
    n: int
    x: float


class Stdlib(msgspec.Struct):
    t: dt.time
    dur: dt.timedelta
    id: uuid.UUID
    color: Color
    level: Level


class StdlibPlain(msgspec.Struct):
    t: str
    dur: str
    id: str
    color: str
    level: int


class PredictionPlain(msgspec.Struct):
    label: str
    score: float
    probs: dict[str, float]
    idx: int


class ComplexPlain(msgspec.Struct):
    imag: float
    real: float


class ScalarsPlain(msgspec.Struct):
    b: bool
    i8: int
    i16: int
    i32: int
    i64: int
    u8: int
    u16: int
    u32: int
    u64: int
    f16: float
    f32: float
    f64: float
    c64: ComplexPlain
    c128: ComplexPlain


class EmbeddingPlain(msgspec.Struct):
    id: str
    vec: list[float]
    norm: float


class Params(msgspec.Struct):
    k: int
    threshold: float


class Meta(msgspec.Struct):
    model: str
    version: str
    count: int
    took_ms: float
    params: Params


class Response(msgspec.Struct):
    ids: list[int]
    scores: list[float]
    labels: list[str]
    meta: Meta


class ItemStruct(msgspec.Struct):
    id: int
    x: float
    name: str
    ts: dt.datetime
    tags: list[str]


class MixedMeta(msgspec.Struct):
    source: str
    rank: int
    ok: bool


class MixedPlain(msgspec.Struct):
    id: str
    ts: dt.datetime
    day: str
    amount: str
    score: float
    count: int
    vec: list[float]
    kind: str
    meta: MixedMeta
    tags: list[str]
    note: None
    flag: bool


# ---------------------------------------------------------------- orjson defaults: datason's plain forms


def iso_duration(value: dt.timedelta) -> str:
    """ISO 8601 duration as datason's plain mode (and pydantic) write it: ``P1DT2H3M4.5S``, ``-PT1S``."""
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or value.microseconds or not (value.days or clock):
        clock += f"{seconds}{f'.{value.microseconds:06d}'.rstrip('0') if value.microseconds else ''}S"
    return f"{sign}P" + (f"{value.days}D" if value.days else "") + (f"T{clock}" if clock else "")


def default_stdlib(obj: Any) -> Any:
    """orjson ``default`` for the stdlib types it does not write: Decimal as text, timedelta as ISO duration;
    and ``time`` as ``isoformat()`` for rows passing times through (``OPT_PASSTHROUGH_DATETIME``: orjson 3.13
    drops the leading zero of microseconds 10000..99999 in a ``time``, ``"21:33:17.60196"`` for .060196)."""
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, dt.timedelta):
        return iso_duration(obj)
    if isinstance(obj, dt.date | dt.time):
        return obj.isoformat()
    raise TypeError(type(obj).__name__)


def default_numpy(obj: Any) -> Any:
    """orjson ``default`` for NumPy complex scalars (``{"imag", "real"}`` in their own precision) and Decimal."""
    if isinstance(obj, np.complexfloating):
        return {"real": obj.real, "imag": obj.imag}
    return default_stdlib(obj)


def default_model(obj: Any) -> Any:
    """orjson ``default`` for pydantic models: ``model_dump()`` (python mode: orjson writes the datetimes
    itself as ``+00:00``, as datason does; ``mode="json"`` would write ``Z``)."""
    if isinstance(obj, pydantic.BaseModel):
        return obj.model_dump()
    raise TypeError(type(obj).__name__)


# ---------------------------------------------------------------- builders


def tz_records(make_tz: Callable[[], Any], localize: Callable[[Any, dt.datetime], dt.datetime] | None = None) -> Any:
    """Builder of workload A's records with ``ts`` moved to the zone ``make_tz()`` (``localize(tz, utc_ts)``
    for zone objects that need their own conversion)."""

    def build(seed: int, n: int) -> list[dict[str, Any]]:
        tz = make_tz()
        move = localize or (lambda tz, ts: ts.astimezone(tz))
        return [{**r, "ts": move(tz, r["ts"])} for r in workloads.build_records(seed, n)]

    return build


def _pytz_new_york() -> Any:
    import pytz  # not a dependency: the row reports "skipped" without it

    return pytz.timezone("America/New_York")


def _dateutil_kolkata() -> Any:
    import dateutil.tz

    return dateutil.tz.gettz("Asia/Kolkata")


def build_predictions(seed: int, n: int) -> list[dict[str, Any]]:
    """A classifier's answers: label, float32 score, 10 float64 class probabilities, int64 class index."""
    rng = np.random.default_rng(seed)
    names = [f"c{j}" for j in range(10)]
    labels = ["cat", "dog", "bird", "fish", "frog", "horse", "ship", "truck", "plane", "car"]
    probs = rng.dirichlet(np.ones(10), n)
    idx = probs.argmax(axis=1).astype(np.int64)
    score = probs.max(axis=1).astype(np.float32)
    return [
        {
            "label": labels[int(idx[i])],
            "score": score[i],
            "probs": {name: probs[i, j] for j, name in enumerate(names)},
            "idx": idx[i],
        }
        for i in range(n)
    ]


def build_numpy_scalars(seed: int, n: int) -> list[dict[str, Any]]:
    """Every NumPy scalar type, random over its whole range (floats finite, float16 within +-1000)."""
    rng = np.random.default_rng(seed)
    ints = {
        f"{kind}{bits}": rng.integers(
            np.iinfo(f"{kind}{bits}").min, np.iinfo(f"{kind}{bits}").max, n, dtype=f"{kind}{bits}", endpoint=True
        )
        for kind in ("int", "uint")
        for bits in (8, 16, 32, 64)
    }
    cols: dict[str, Any] = {"b": rng.random(n) > 0.5}
    cols |= {name.replace("uint", "u").replace("int", "i"): values for name, values in ints.items()}
    cols["f16"] = (rng.standard_normal(n) * 300).astype(np.float16)
    cols["f32"] = (rng.standard_normal(n) * 1e4).astype(np.float32)
    cols["f64"] = rng.standard_normal(n) * 1e6
    cols["c64"] = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
    cols["c128"] = rng.standard_normal(n) * 1e3 + 1j * rng.standard_normal(n)
    return [{key: values[i] for key, values in cols.items()} for i in range(n)]


def build_money(seed: int, n: int) -> list[dict[str, Any]]:
    """The issue's row: ``{"day": date, "amount": Decimal (2 places), "n": int, "x": float}``."""
    rng = random.Random(seed)
    start = dt.date(2024, 1, 1)
    return [
        {
            "day": start + dt.timedelta(days=rng.randrange(366)),
            "amount": decimal.Decimal(rng.randrange(-(10**8), 10**8)).scaleb(-2),
            "n": rng.randrange(-(2**40), 2**40),
            "x": rng.uniform(-1e6, 1e6),
        }
        for _ in range(n)
    ]


def build_stdlib(seed: int, n: int) -> list[dict[str, Any]]:
    """time (with microseconds), timedelta (either sign), UUID, and members of a str- and an int-valued Enum."""
    rng = random.Random(seed)
    colors, levels = list(Color), list(Level)
    return [
        {
            "t": dt.time(rng.randrange(24), rng.randrange(60), rng.randrange(60), rng.randrange(1_000_000)),
            "dur": dt.timedelta(microseconds=rng.randrange(-(10**12), 10**12)),
            "id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "color": rng.choice(colors),
            "level": rng.choice(levels),
        }
        for _ in range(n)
    ]


def build_embedding(seed: int, n: int) -> list[dict[str, Any]]:
    """``{"id": str, "vec": float32 ndarray (16,), "norm": float}``."""
    vecs = np.random.default_rng(seed).standard_normal((n, 16)).astype(np.float32)
    return [{"id": f"doc-{i:06d}", "vec": vecs[i].copy(), "norm": float(np.linalg.norm(vecs[i]))} for i in range(n)]


def build_response(seed: int, n: int) -> dict[str, Any]:
    """One dict of lists: ``n`` ids, scores and labels, and a small nested ``meta``."""
    rng = random.Random(seed)
    return {
        "ids": [rng.randrange(10**12) for _ in range(n)],
        "scores": [rng.random() for _ in range(n)],
        "labels": ["".join(rng.choices(LETTERS, k=rng.randint(3, 10))) for _ in range(n)],
        "meta": {
            "model": "ranker-v3",
            "version": "1.4.2",
            "count": n,
            "took_ms": 12.5,
            "params": {"k": n, "threshold": 0.25},
        },
    }


def _item_fields(seed: int, n: int) -> list[dict[str, Any]]:
    rng = random.Random(seed + 1)
    return [
        {"id": i, "x": r["x"], "name": "".join(rng.choices(LETTERS, k=8)), "ts": r["ts"], "tags": r["tags"]}
        for i, r in enumerate(workloads.build_records(seed, n))
    ]


def build_dataclasses(seed: int, n: int) -> list[Item]:
    """Dataclass instances: int, float, str, UTC datetime, list[str]."""
    return [Item(**f) for f in _item_fields(seed, n)]


def build_models(seed: int, n: int) -> list[ItemModel]:
    """pydantic v2 models with the same fields."""
    return [ItemModel(**f) for f in _item_fields(seed, n)]


def build_mixed(seed: int, n: int) -> list[dict[str, Any]]:
    """Everything at once: UUID, New York datetime, date, Decimal, np.float32, np.int64, float32 ndarray (4,),
    Enum, nested dict, list of str, None, bool."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    scores = nrng.standard_normal(n).astype(np.float32)
    counts = nrng.integers(-(2**62), 2**62, n)
    vecs = nrng.standard_normal((n, 4)).astype(np.float32)
    base = workloads.build_records(seed, n)
    return [
        {
            "id": r["id"],
            "ts": r["ts"].astimezone(NEW_YORK),
            "day": r["ts"].date(),
            "amount": decimal.Decimal(rng.randrange(10**9)).scaleb(-2),
            "score": scores[i],
            "count": counts[i],
            "vec": vecs[i].copy(),
            "kind": rng.choice(list(Color)),
            "meta": {
                "source": rng.choice(["web", "api", "batch"]),
                "rank": rng.randrange(100),
                "ok": rng.random() > 0.5,
            },
            "tags": r["tags"],
            "note": None,
            "flag": rng.random() > 0.5,
        }
        for i, r in enumerate(base)
    ]


@dataclasses.dataclass(frozen=True)
class Shape:
    """One row of the matrix.

    ``typed``: the record type msgspec round-trips in (b) (a Struct, or the dataclass itself), None when msgspec
    cannot express the record (NumPy values: orjson's lossy round trip is the peer). ``plain``: the record's
    schema for msgspec's decode in (c). ``default``: orjson's ``default``, writing datason's plain forms;
    ``option``: orjson options added to ``OPT_SERIALIZE_NUMPY`` (and ``OPT_SORT_KEYS`` in (a)).
    ``loads_type``: the ``type=`` datason's typed ``loads`` needs to rebuild the record (classes datason leaves
    untagged by design), as msgspec's decoder needs its schema. ``single``: the payload is one object of the
    schema, not a list of records.
    """

    name: str
    title: str
    build: Callable[[int, int], Any]
    typed: type | None
    plain: type
    default: Callable[[Any], Any] | None = None
    option: int = 0
    n: int = workloads.N_RECORDS
    loads_type: Any = None
    single: bool = False


SHAPES = [
    Shape("A_utc", "workload A: {id: UUID4, ts: UTC datetime (µs), x: float, tags: 3 str}", workloads.build_records,
          Rec, RecPlain),
    Shape("tz_offset", "workload A, ts at fixed offset `timezone(timedelta(hours=2))`",
          tz_records(lambda: dt.timezone(dt.timedelta(hours=2))), Rec, RecPlain),
    Shape("tz_negative", "workload A, ts at `timezone(timedelta(hours=-5, minutes=-30))`",
          tz_records(lambda: dt.timezone(dt.timedelta(hours=-5, minutes=-30))), Rec, RecPlain),
    Shape("tz_zoneinfo", 'workload A, ts in `ZoneInfo("Europe/Paris")` (both DST sides)',
          tz_records(lambda: PARIS), Rec, RecPlain),
    Shape("tz_pytz", 'workload A, ts in pytz `timezone("America/New_York")` (`normalize(astimezone)`)',
          tz_records(_pytz_new_york, lambda tz, ts: tz.normalize(ts.astimezone(tz))), Rec, RecPlain),
    Shape("tz_dateutil", 'workload A, ts in `dateutil.tz.gettz("Asia/Kolkata")`',
          tz_records(_dateutil_kolkata), Rec, RecPlain),
    Shape("predictions", '{label: str, score: np.float32, probs: {"c0".."c9": np.float64}, idx: np.int64}',
          build_predictions, None, PredictionPlain, n=5_000),
    Shape("numpy_scalars", "np.bool_, int8..64, uint8..64, float16/32/64, complex64/128 scalars",
          build_numpy_scalars, None, ScalarsPlain, default_numpy),
    Shape("stdlib_scalars", "{day: date, amount: Decimal (2 places), n: int, x: float}",
          build_money, Money, MoneyPlain, default_stdlib),
    Shape("stdlib_types", "{t: time (µs), dur: timedelta (+-), id: UUID, color: Enum (str), level: Enum (int)}",
          build_stdlib, Stdlib, StdlibPlain, default_stdlib, orjson.OPT_PASSTHROUGH_DATETIME),
    Shape("embedding", "{id: str, vec: float32 ndarray (16,), norm: float}", build_embedding, None, EmbeddingPlain),
    Shape("nested_response", "one dict {ids: 10,000 int, scores: 10,000 float, labels: 10,000 str, meta: {...}}",
          build_response, Response, Response, single=True),
    Shape("dataclasses", "dataclass instances {id: int, x: float, name: str, ts: UTC datetime, tags: list[str]}",
          build_dataclasses, Item, ItemStruct, loads_type=list[Item]),
    Shape("pydantic", "pydantic v2 `BaseModel` instances, same fields", build_models, ItemStruct, ItemStruct,
          default_model, loads_type=list[ItemModel]),
    Shape("mixed", "{UUID, New York datetime, date, Decimal, np.float32, np.int64, float32 ndarray (4,), Enum, "
          "nested dict, list[str], None, bool}", build_mixed, None, MixedPlain, default_numpy),
]  # fmt: skip
SHAPE_NAMES = [s.name for s in SHAPES]


# ---------------------------------------------------------------- strict comparison


def _tz_key(tz: Any) -> Any:
    """What identifies a time zone: its IANA key (zoneinfo, pytz, dateutil file), else its fixed offset."""
    if tz is None:
        return None
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    filename = getattr(tz, "_filename", None)
    if key is None and isinstance(filename, str) and "zoneinfo/" in filename:
        key = filename.split("zoneinfo/", 1)[1]
    return key or ("offset", tz.utcoffset(None))


def _short(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.time) and value.tzinfo is not None:
        key = _tz_key(value.tzinfo)
        zone = f"{key[1]} fixed" if isinstance(key, tuple) else key
        return f"{value.isoformat()} ({type(value.tzinfo).__name__} {zone})"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _tname(value: Any) -> str:
    t = type(value)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _fields(value: Any) -> dict[str, Any] | None:
    """The fields of a dataclass, pydantic model or msgspec Struct instance, else None."""
    if isinstance(value, msgspec.Struct):
        return {f: getattr(value, f) for f in value.__struct_fields__}
    if isinstance(value, pydantic.BaseModel):
        return dict(value.__dict__)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return None


def diff(got: Any, want: Any, notes: set[str], path: str = "$") -> str | None:
    """The first difference between ``got`` and ``want`` in type or value, recursively, or None.

    Floats and NumPy values compare by bits (NumPy: and dtype), Decimals by digits and exponent, datetimes
    and times by wall clock, fold and zone (IANA key or fixed offset). A zone given back as another class
    with the same key (dateutil's ``tzfile`` -> ``ZoneInfo``) counts as the same zone and is noted in ``notes``.
    """
    if type(got) is not type(want):
        return f"{path}: {_tname(want)} {_short(want)} -> {_tname(got)} {_short(got)}"
    if isinstance(want, dict):
        if got.keys() != want.keys():
            return f"{path}: keys {sorted(set(want) - set(got))[:3]} lost, {sorted(set(got) - set(want))[:3]} added"
        return next((d for k in want if (d := diff(got[k], want[k], notes, f"{path}.{k}"))), None)
    if isinstance(want, list | tuple):
        if len(got) != len(want):
            return f"{path}: length {len(want)} -> {len(got)}"
        return next(
            (d for i, (g, w) in enumerate(zip(got, want, strict=True)) if (d := diff(g, w, notes, f"{path}[{i}]"))),
            None,
        )
    if isinstance(want, np.ndarray | np.generic):
        if got.dtype != want.dtype or got.shape != want.shape or got.tobytes() != want.tobytes():
            return (
                f"{path}: {want.dtype}{list(want.shape)} {_short(want)} -> {got.dtype}{list(got.shape)} {_short(got)}"
            )
        return None
    if isinstance(want, float):
        same = struct.pack("<d", got) == struct.pack("<d", want) or (math.isnan(got) and math.isnan(want))
        if not same and path.endswith(".f16") and np.float16(got) == np.float16(want):
            # datason writes a float16 with its own shortest digits (415.2), orjson its exact value (415.25)
            notes.add("float16 written with its shortest digits where orjson writes the exact value: same float16")
            return None
        return None if same else f"{path}: {want!r} -> {got!r}"
    if isinstance(want, decimal.Decimal):
        return None if got.as_tuple() == want.as_tuple() else f"{path}: {want!r} -> {got!r}"
    if isinstance(want, dt.datetime | dt.time):
        # fold only means something to zones that use it: pytz marks the repeated hour by the offset alone
        fold_kept = type(got.tzinfo) is not type(want.tzinfo) or got.fold == want.fold
        wall = got.replace(tzinfo=None, fold=0) == want.replace(tzinfo=None, fold=0) and fold_kept
        if not wall or _tz_key(got.tzinfo) != _tz_key(want.tzinfo) or got.utcoffset() != want.utcoffset():
            return f"{path}: {_short(want)} -> {_short(got)}"
        if type(got.tzinfo) is not type(want.tzinfo):
            notes.add(f"tzinfo {_tname(want.tzinfo)} -> {_tname(got.tzinfo)} (same zone)")
        return None
    if isinstance(want, enum.Enum):
        return None if got is want else f"{path}: {want!r} -> {got!r}"
    fields = _fields(want)
    if fields is not None:
        return diff(_fields(got), fields, notes, path)
    return None if got == want else f"{path}: {_short(want)} -> {_short(got)}"


def as_builtins(value: Any) -> Any:
    """msgspec Structs as dicts, recursively (other values unchanged), to compare with datason's dicts."""
    if isinstance(value, msgspec.Struct):
        return {f: as_builtins(getattr(value, f)) for f in value.__struct_fields__}
    if isinstance(value, list):
        return [as_builtins(v) for v in value]
    if isinstance(value, dict):
        return {k: as_builtins(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- measuring


@dataclasses.dataclass
class Cell:
    """One comparison of one row: datason against its peer."""

    peer: str
    datason_label: str = ""
    stats: dict[str, timing.Stats] = dataclasses.field(default_factory=dict)
    ratio: float = math.nan
    ok: bool = False  # the fidelity check passed
    check: str = ""  # the fidelity check, as text
    peer_check: str = ""  # (b): the peer's own exactness
    error: str = ""
    floor: str = ""  # what bounds datason from below here (timed in the same rounds), e.g. "orjson.loads alone"
    floor_ratio: float = math.nan  # floor / peer

    def result(self, limit: float) -> str:
        if self.error:
            return "ERROR"
        reasons = ([] if self.ratio <= limit else ["slower"]) + ([] if self.ok else ["fidelity"])
        return "PASS" if not reasons else f"MISS ({', '.join(reasons)})"


@dataclasses.dataclass
class RowResult:
    shape: Shape
    n: int
    skipped: str = ""
    plain_bytes: int = 0
    cells: dict[str, Cell] = dataclasses.field(default_factory=dict)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:160]}"


def _verdict(difference: str | None, notes: set[str]) -> tuple[bool, str]:
    if difference is not None:
        return False, f"**no**: `{difference}`"
    return True, "yes" + (f" ({'; '.join(sorted(notes))})" if notes else "")


def timed(cell: Cell, calls: Mapping[str, Callable[[], object]], rounds: int) -> None:
    """Time datason and the peer in the same rounds; the ratio is paired per round."""
    stats = timing.interleave(calls, rounds, warmup=1)
    cell.stats = stats
    cell.ratio = timing.paired_ratio(stats["datason"], stats["peer"])
    if "floor" in stats:
        cell.floor_ratio = timing.paired_ratio(stats["floor"], stats["peer"])


def compare_api(ds: Any, api: Any, data: Any, shape: Shape, rounds: int) -> tuple[Cell, bytes]:
    """(a): datason's API dumps vs orjson's dumps writing the same content; returns the plain text too."""
    option, default = API_OPT | shape.option, shape.default
    cell = Cell(f"orjson `dumps(d, option={_options(option)}" + (", default)`" if default else ")`"))
    peer_text = orjson.dumps(data, option=option, default=default)
    try:
        ours = ds.dumps(data, config=api)
    except Exception as exc:
        cell.error = _error(exc)
        return cell, peer_text
    notes: set[str] = set()
    cell.ok, cell.check = _verdict(diff(orjson.loads(ours), orjson.loads(peer_text), notes), notes)
    if cell.ok and ours.encode() == peer_text:
        cell.check += ", byte-identical"
    calls = {
        "datason": lambda: ds.dumps(data, config=api),
        "peer": lambda: orjson.dumps(data, option=option, default=default),
    }
    timed(cell, calls, rounds)
    return cell, peer_text


def to_typed(data: Any, shape: Shape) -> Any:
    """The row's records as instances of ``shape.typed`` (``msgspec.convert`` takes no Enum member for an
    int-valued Enum field, so flat records are passed field by field)."""
    assert shape.typed is not None
    if shape.single:
        return msgspec.convert(data, shape.typed, from_attributes=True)
    typed = shape.typed
    return [r if type(r) is typed else typed(**(r if isinstance(r, dict) else _fields(r))) for r in data]


def compare_typed(ds: Any, data: Any, shape: Shape, rounds: int) -> Cell:
    """(b): datason's typed round trip vs msgspec's schema-typed one, or orjson's lossy one (NumPy rows)."""
    loads_type = shape.loads_type
    option, default = NUMPY_OPT | shape.option, shape.default

    def ours() -> Any:
        return ds.loads(ds.dumps(data), type=loads_type)

    peer: Callable[[], Any]
    if shape.typed is None:
        cell = Cell(f"orjson `loads(dumps(d, option={_options(option)}" + (", default))`" if default else "))`"))
        want_peer = data

        def peer() -> Any:
            return orjson.loads(orjson.dumps(data, option=option, default=default))

    else:
        schema = shape.typed if shape.single else list[shape.typed]  # type: ignore[name-defined]
        structs = to_typed(data, shape)  # built once, outside the timing
        decoder = msgspec.json.Decoder(schema)
        what = "the dataclass" if dataclasses.is_dataclass(shape.typed) else f"Struct `{shape.typed.__name__}`"
        cell = Cell(f"msgspec, {what}")
        want_peer = structs

        def peer() -> Any:
            return decoder.decode(msgspec.json.encode(structs))

    cell.datason_label = "`loads(dumps(d)" + (f", type={_type_text(loads_type)})`" if loads_type else ")`")
    try:
        got = ours()
    except Exception as exc:
        cell.error = _error(exc)
        return cell
    notes: set[str] = set()
    cell.ok, cell.check = _verdict(diff(got, data, notes), notes)
    notes = set()
    cell.peer_check = _verdict(diff(peer(), want_peer, notes), notes)[1]
    calls = {"datason": ours, "peer": peer}
    if loads_type is not None and _is_pydantic(loads_type):  # pydantic's own JSON round trip bounds any library
        adapter = pydantic.TypeAdapter(loads_type)
        cell.floor = "pydantic's own `TypeAdapter.validate_json(dump_json(d))`"
        calls["floor"] = lambda: adapter.validate_json(adapter.dump_json(data))
    timed(cell, calls, rounds)
    return cell


def _is_pydantic(t: Any) -> bool:
    """Whether ``t`` is a pydantic model or a list of them."""
    inner = typing.get_args(t)[0] if typing.get_origin(t) is list else t
    return isinstance(inner, type) and issubclass(inner, pydantic.BaseModel)


def _type_text(t: Any) -> str:
    if isinstance(t, type):
        return t.__name__
    return str(t).replace(f"{__name__}.", "").replace("__main__.", "")


def _options(option: int) -> str:
    names = ("OPT_SERIALIZE_NUMPY", "OPT_SORT_KEYS", "OPT_PASSTHROUGH_DATETIME")
    return " \\| ".join(n for n in names if option & getattr(orjson, n))


def compare_auto(ds: Any, api: Any, text: bytes, shape: Shape, rounds: int) -> Cell:
    """(c): the plain JSON through datason's auto_deserialize vs msgspec's decode into the plain-form schema."""
    schema = shape.plain if shape.single else list[shape.plain]  # type: ignore[name-defined]
    decoder = msgspec.json.Decoder(schema)
    cell = Cell(f"msgspec `Decoder({_type_text(schema)}).decode(s)`")

    def ours() -> Any:
        return ds.auto_deserialize(orjson.loads(text), api)

    try:
        got = ours()
    except Exception as exc:
        cell.error = _error(exc)
        return cell
    notes: set[str] = set()
    cell.ok, cell.check = _verdict(diff(got, as_builtins(decoder.decode(text)), notes), notes)
    cell.floor = "`orjson.loads(s)` alone (the dicts and lists any untyped decode builds)"
    calls = {"datason": ours, "peer": lambda: decoder.decode(text), "floor": lambda: orjson.loads(text)}
    timed(cell, calls, rounds)
    return cell


def run_row(ds: Any, shape: Shape, quick: bool, rounds: int) -> RowResult:
    n = max(1, shape.n // QUICK_SCALE) if quick else shape.n
    row = RowResult(shape, n)
    try:
        data = shape.build(SEED, n)
    except ImportError as exc:
        row.skipped = f"{exc.name or exc} not installed"
        return row
    api = ds.config.get_api_config()
    text = b""
    # a failure of datason's own call is reported in its cell; anything else (a peer, a check) here, per cell
    try:
        row.cells["a"], text = compare_api(ds, api, data, shape, rounds)
        row.plain_bytes = len(text)
    except Exception as exc:
        row.cells["a"] = Cell("orjson", error=_error(exc))
    compares = {
        "b": lambda: compare_typed(ds, data, shape, rounds),
        "c": lambda: compare_auto(ds, api, text, shape, rounds),
    }
    for key, compare in compares.items():
        try:
            row.cells[key] = compare()
        except Exception as exc:
            row.cells[key] = Cell("?", error=_error(exc))
    return row


# ---------------------------------------------------------------- report


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions_line(ds: Any) -> str:
    git = ["git", "-C", str(ROOT)]
    rev = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "src"], capture_output=True, text=True).stdout
    rev = (rev or "no commit yet") + (" + uncommitted changes in src/" if dirty.strip() else "")
    accel = "C accelerator on" if getattr(ds.decoder, "_speedups", None) is not None else "no C accelerator"
    libs = ("orjson", "msgspec", "numpy", "pydantic", "pytz", "python-dateutil")
    return (
        f"- Python {platform.python_version()}; {', '.join(f'{d} {_version(d)}' for d in libs)}; "
        f"datason {getattr(ds, '__version__', '?')} from src/ at git {rev} ({accel})"
    )


SECTIONS = {
    "a": (
        "API dumps: datason `dumps(d, config=get_api_config())` vs orjson writing the same content",
        "same content (first difference: orjson -> datason)",
    ),
    "b": (
        "typed round trip: datason (default config) vs msgspec's schema-typed round trip (orjson's for NumPy rows)",
        "datason exact (input -> datason)",
    ),
    "c": (
        "loads + auto_deserialize: datason `auto_deserialize(orjson.loads(s), get_api_config())` vs msgspec's "
        "typed decode of the same plain JSON",
        "same values as msgspec (msgspec -> datason)",
    ),
}


def markdown(rows: list[RowResult], args: argparse.Namespace, meta: Mapping[str, Any]) -> list[str]:
    """The shapes section of docs/benchmarks.md."""
    cmd = "python benchmarks/shapes.py" + (" --quick" if args.quick else "")
    cmd += (f" --only {args.only}" if args.only else "") + (f" --rounds {args.rounds}" if args.rounds_given else "")
    lines = [
        "## Payload shapes: datason vs orjson and msgspec, side by side",
        "",
        f"Generated by `benchmarks/shapes.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; rerun it rather "
        "than editing this section.",
        "",
        "Reproduce (from the repository root; `make bench-shapes` runs the full matrix):",
        "",
        f"    .venv/bin/{cmd} --output docs/benchmarks.md",
        "",
        docblock.machine_line()
        + f"; 1-min load average {meta['load_before']:.1f} before, {meta['load_after']:.1f} after; "
        f"whole run {meta['elapsed']:.0f} s.",
        meta["versions"],
        f"- Method: per row and comparison, one `timing.interleave` call timing the pair: 1 untimed warm-up round "
        f"and {meta['rounds']} timed rounds, each running both (order alternating), `gc.collect()` before each "
        "call; ms are medians; ratio = median over rounds of datason/peer in the same round (`paired_ratio`). "
        "Fidelity checks run once, untimed, before. Seed "
        f"{SEED}; {'quick run: a tenth of the records' if args.quick else 'records per row as listed'}.",
        "- (a) orjson gets `OPT_SORT_KEYS` (the API config sorts keys) and a `default` writing datason's plain "
        "forms (Decimal as text, timedelta as ISO 8601 duration, complex as `{imag, real}`, pydantic via "
        "`model_dump()`; `time` via `OPT_PASSTHROUGH_DATETIME` and `isoformat()`: orjson 3.13 writes "
        '`time(21, 33, 17, 60196)` as `"21:33:17.60196"`); same content: both documents parsed with '
        "`orjson.loads` and compared with strict types (an int is not a float), first difference shown.",
        "- (b) datason `loads(dumps(d))` with the default (typed) config; dataclasses and pydantic models are "
        "untagged by design (rebuilt only into a type the caller names), so those rows pass `type=` as "
        "msgspec's decoder gets its schema; the Enum classes are registered (`datason.register_type(Color)`), "
        "as a user who wants them back registers them (datason never imports a class a payload names). "
        "Peer: msgspec's `Decoder(list[schema]).decode(json.encode(records))` "
        "(records converted to the Struct once, outside the timing; the dataclass row encodes its instances) "
        "where msgspec can express the record, else (NumPy values) orjson's lossy `loads(dumps(d))`. Exact: "
        "the same types recursively, floats and NumPy values by bits (and dtype, shape), Decimals by digits and "
        "exponent, datetimes by wall clock, fold and zone (IANA key or fixed offset).",
        "- (c) datason's `loads(s, config=get_api_config())` alone revives nothing in plain JSON (it is untagged), "
        "so this measures `auto_deserialize(orjson.loads(s), get_api_config())`: it revives ISO datetimes "
        "(`parse_dates`); UUIDs stay text (the API config has `parse_uuids=False`), as do dates, times, "
        "durations and Decimals. msgspec's schema mirrors that (datetime fields, str for the rest, float and "
        "`list[float]` for NumPy values), so both do the same work; same values: datason's result equals "
        "msgspec's (Structs as dicts), strictly typed.",
        "",
        "### Rows",
        "",
        "| row | payload | records | plain JSON bytes |",
        "|---|---|---:|---:|",
    ]
    for r in rows:
        size = "skipped: " + r.skipped if r.skipped else f"{r.plain_bytes:,}"
        lines.append(f"| {r.shape.name} | {r.shape.title} | {1 if r.shape.single else r.n:,} | {size} |")
    verdicts: list[str] = []
    for key, (title, check_header) in SECTIONS.items():
        limit = TARGETS[key]
        extra = " | datason call | peer exact (input -> peer)" if key == "b" else ""
        lines += [
            "",
            f"### ({key}) {title}",
            "",
            f"Target: datason/peer <= {limit:g}x and the check passing.",
            "",
            f"| row | peer | datason ms | peer ms | ratio | target | result | floor / peer | {check_header}{extra} |",
            "|---|---|---:|---:|---:|---:|---|---:|---|" + ("---|---|" if key == "b" else ""),
        ]
        for r in rows:
            cell = r.cells.get(key)
            if cell is None:
                lines.append(
                    f"| {r.shape.name} | | | | | <= {limit:g} | skipped: {r.skipped} | | |" + " | |" * bool(extra)
                )
                continue
            more = f" | {cell.datason_label} | {cell.peer_check}" if key == "b" else ""
            if cell.error:
                lines.append(f"| {r.shape.name} | {cell.peer} | | | | <= {limit:g} | ERROR | | `{cell.error}`{more} |")
            else:
                ds_ms, peer_ms = cell.stats["datason"].median, cell.stats["peer"].median
                floor = f"{cell.floor_ratio:.2f}" if cell.floor else ""
                lines.append(
                    f"| {r.shape.name} | {cell.peer} | {ds_ms:.2f} | {peer_ms:.2f} | {cell.ratio:.2f} | <= {limit:g} "
                    f"| {cell.result(limit)} | {floor} | {cell.check}{more} |"
                )
        mine = [cell.result(limit) for r in rows if (cell := r.cells.get(key)) is not None]
        lines += ["", f"({key}): {sum(v == 'PASS' for v in mine)} of {len(mine)} rows PASS."]
        floors = sorted({cell.floor for r in rows if (cell := r.cells.get(key)) is not None and cell.floor})
        if floors:
            lines += [
                "",
                "Floor / peer: the same rounds timed "
                + "; ".join(floors)
                + ", against the peer: what no implementation producing the same Python objects does better than; "
                "a floor above the target makes the target out of reach for that row.",
            ]
        verdicts += mine
    passed = sum(v == "PASS" for v in verdicts)
    lines += ["", f"Verdicts: {passed} of {len(verdicts)} PASS."]
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke run: {QUICK_ROUNDS} rounds, a tenth of the records"
    )
    parser.add_argument("--only", help=f"comma-separated rows: {','.join(SHAPE_NAMES)} (default: all)")
    parser.add_argument(
        "--rounds", type=int, help=f"timed rounds per comparison (default {FULL_ROUNDS}; quick {QUICK_ROUNDS})"
    )
    parser.add_argument("--output", help="write the section between the shapes markers of this Markdown file")
    args = parser.parse_args(argv)
    args.rounds_given = args.rounds is not None
    args.rounds = args.rounds or (QUICK_ROUNDS if args.quick else FULL_ROUNDS)
    if args.only:
        unknown = sorted(set(args.only.split(",")) - set(SHAPE_NAMES))
        if unknown:
            parser.error(f"unknown rows {unknown}; choose from {SHAPE_NAMES}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.path.insert(0, str(SRC))
    import datason

    # As a user who wants Enums back exactly registers them (datason never imports a class a payload names);
    # msgspec gets them from its schema.
    for enum_class in (Color, Level):
        datason.register_type(enum_class)
    wanted = set(args.only.split(",")) if args.only else set(SHAPE_NAMES)
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    rows = []
    for shape in SHAPES:
        if shape.name in wanted:
            print(f"{shape.name} ...", file=sys.stderr, flush=True)
            rows.append(run_row(datason, shape, args.quick, args.rounds))
    meta = {
        "elapsed": time.perf_counter() - started,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "rounds": args.rounds,
        "versions": versions_line(datason),
    }
    lines = markdown(rows, args, meta)
    print("\n".join(lines))
    if args.output:
        docblock.write_block(Path(args.output), "shapes", lines)
        print(f"wrote the shapes block of {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
