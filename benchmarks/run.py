"""Benchmark datason against stdlib json, orjson, msgspec, pandas, MLServer and datason 0.13.0 in one interleaved run.

Usage (from the repository root, with the project's virtualenv):

    .venv/bin/python benchmarks/run.py                 # full run, rewrites docs/benchmarks.md
    .venv/bin/python benchmarks/run.py --quick         # smoke run (< 1 min with --skip-old), prints only
    .venv/bin/python benchmarks/run.py --workload B --output docs/benchmarks.md

Workloads (workloads.py): A records with UUIDs and datetimes, B a 1e6-element float64
array, C a 1000x20 mixed-dtype DataFrame. Every round runs every contender once;
packages that cannot share the project's virtualenv run in persistent worker
processes of their own virtualenvs, one call per round (datason 0.13.0:
old_datason_worker.py; MLServer 1.7.1: mlserver_worker.py). Tables report medians,
minimums, ratios to a reference peer and PASS/MISS per target. Timings are never
asserted: a MISS is reported, not raised. The new datason is imported from src/;
while its API is incomplete its rows are marked unavailable. Workload B also
measures peak memory while encoding, each encoder in a fresh process
(``--memory-probe``, internal).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import gc
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

try:
    import msgspec
    import orjson
except ImportError as exc:  # pragma: no cover - a hint for the wrong interpreter
    raise SystemExit(f"{exc}: run with the project's virtualenv, e.g. .venv/bin/python benchmarks/run.py") from exc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "src"
HEAVY = ("numpy", "pandas", "torch")
sys.path.insert(0, str(HERE))

import docblock  # noqa: E402
import timing  # noqa: E402
import workloads  # noqa: E402

SECTIONS = ("encode", "decode", "round trip")
# reference peer per workload and section: ratios in the tables are paired per round against it (timing.paired_ratio)
REFERENCE = {
    "A": {"encode": "orjson.dumps", "decode": "msgspec.decode", "round trip": "msgspec.rt"},
    "B": {"encode": "orjson.dumps", "decode": "orjson.loads", "round trip": "orjson.rt"},
    "C": {"encode": "orjson.dumps", "decode": "orjson.loads", "round trip": "orjson.rt"},
}
FULL_ROUNDS = {"A": 25, "B": 10, "C": 25}  # B's slow contenders (stdlib, 0.13) take seconds per round
PAYLOAD_BYTES = {"B": workloads.N_ARRAY * 8}  # GB/s = these bytes / median seconds
EXACT_HEADER = {
    "A": "gives input back",
    "B": "gives input back (ndarray, dtype, shape, bits)",
    "C": "exact? (`assert_frame_equal`, check_exact)",
}


@dataclasses.dataclass(frozen=True)
class Foreign:
    """A package that needs its own virtualenv, timed through a worker process speaking timing.serve's protocol."""

    key: str
    name: str
    venv: str
    setup: str
    script: str
    workloads: tuple[str, ...]

    @property
    def python(self) -> Path:
        return HERE / self.venv / "bin" / "python"


FOREIGN = {
    "old": Foreign(
        "old", "datason 0.13.0", ".venv-datason013", "setup_old_datason.sh", "old_datason_worker.py", ("A", "B", "C")
    ),
    "mlserver": Foreign(
        "mlserver", "MLServer 1.7.1", ".venv-mlserver", "setup_mlserver.sh", "mlserver_worker.py", ("B", "C")
    ),
}


@dataclasses.dataclass(frozen=True)
class Contender:
    """One timed call. ``expect`` is what a decode or round trip must give back (``==``), or ``check``
    describes what came back ({"exact": bool, "lost": str}); neither: not checked."""

    key: str
    section: str
    label: str
    fn: Callable[[], object]
    expect: object = None
    check: Callable[[Any], Mapping[str, Any]] | None = None


@dataclasses.dataclass(frozen=True)
class Target:
    """A verdict on measured values; PASS when the value is <= limit (>= for ``at_least``).

    kind "ratio": paired ratio of ``num`` (the worst of several) to ``den``; "gbps": PAYLOAD_BYTES of the
    workload over ``num``'s median time; "memory": ``num``'s peak traced memory while encoding over its
    output size. A target naming ``needs_exact`` contenders is a MISS unless they gave the input back.
    """

    label: str
    num: tuple[str, ...]
    den: str
    limit: float
    at_least: bool = False
    needs_exact: tuple[str, ...] = ()
    kind: str = "ratio"

    def limit_text(self) -> str:
        op = ">=" if self.at_least else "<="
        return {"gbps": f"{op} {self.limit:g} GB/s", "memory": f"{op} {self.limit:g}x output"}.get(
            self.kind, f"{op} {self.limit:g}x"
        )


@dataclasses.dataclass
class Result:
    """Everything measured for one workload."""

    key: str
    rounds: int
    rows: list[tuple[str, str]]  # (section, key) in display order
    labels: dict[str, str]
    stats: dict[str, timing.Stats]
    exact: dict[str, bool | str]  # True, False, or what was lost (not exact)
    errors: dict[str, str]  # contenders that failed: not timed
    sizes: dict[str, int]  # encode output bytes
    targets: list[Target]
    notes: list[str]
    memory: dict[str, dict[str, Any]]


# ---------------------------------------------------------------- contenders


def load_new_datason() -> tuple[ModuleType | None, str]:
    """Import the new datason from src/; return (module, "") or (None, why it is unavailable)."""
    sys.path.insert(0, str(SRC))
    try:
        import datason

        datason.loads(datason.dumps({"a": 1}))
        datason.config.get_api_config()
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return datason, ""


class Rec(msgspec.Struct):
    """Workload A's schema for msgspec's typed encode/decode."""

    id: uuid.UUID
    ts: dt.datetime
    x: float
    tags: list[str]


def contenders_a(data: Any, new: ModuleType | None, remote: Mapping[str, Any]) -> tuple[list[Contender], list[str]]:
    """Local contenders for workload A (records with UUID and datetime values)."""
    revive = workloads.revive_records
    text_std = json.dumps(data, default=str)
    blob_orjson = orjson.dumps(data)
    structs = [Rec(**r) for r in data]
    blob_msgspec = msgspec.json.encode(structs)
    decoder = msgspec.json.Decoder(list[Rec])
    out = [
        Contender(
            "stdlib.dumps", "encode", "stdlib `json.dumps(d, default=str)`", lambda: json.dumps(data, default=str)
        ),
        Contender("orjson.dumps", "encode", "orjson `dumps(d)`", lambda: orjson.dumps(data)),
        Contender("msgspec.encode", "encode", "msgspec `json.encode(list[Rec])`", lambda: msgspec.json.encode(structs)),
        Contender(
            "stdlib.loads", "decode", "stdlib `json.loads` + manual rebuild", lambda: revive(json.loads(text_std)), data
        ),
        Contender(
            "orjson.loads", "decode", "orjson `loads` + manual rebuild", lambda: revive(orjson.loads(blob_orjson)), data
        ),
        Contender(
            "msgspec.decode", "decode", "msgspec `Decoder(list[Rec])`", lambda: decoder.decode(blob_msgspec), structs
        ),
        Contender(
            "stdlib.rt",
            "round trip",
            "stdlib dumps + loads + rebuild",
            lambda: revive(json.loads(json.dumps(data, default=str))),
            data,
        ),
        Contender(
            "orjson.rt",
            "round trip",
            "orjson dumps + loads + rebuild",
            lambda: revive(orjson.loads(orjson.dumps(data))),
            data,
        ),
        Contender(
            "msgspec.rt",
            "round trip",
            "msgspec typed encode + decode",
            lambda: decoder.decode(msgspec.json.encode(structs)),
            structs,
        ),
    ]
    notes: list[str] = []
    if new is not None:
        try:
            ds, api = new, new.config.get_api_config()
            typed_text = ds.dumps(data)
            same = orjson.loads(ds.dumps(data, config=api)) == orjson.loads(blob_orjson)
        except Exception as exc:
            notes.append(f"datason (new) failed on workload A: {type(exc).__name__}: {exc}")
            return out, notes
        notes.append(f"datason (new) API dumps writes {'the same' if same else 'different'} JSON as orjson.")
        out += [
            Contender(
                "new.dumps.api",
                "encode",
                "**datason `dumps(d, config=get_api_config())`**",
                lambda: ds.dumps(data, config=api),
            ),
            Contender("new.dumps.typed", "encode", "**datason `dumps(d)`** (typed)", lambda: ds.dumps(data)),
            Contender(
                "new.loads.typed", "decode", "**datason `loads(s)`** (typed)", lambda: ds.loads(typed_text), data
            ),
            Contender(
                "new.rt.typed",
                "round trip",
                "**datason `loads(dumps(d))`** (typed)",
                lambda: ds.loads(ds.dumps(data)),
                data,
            ),
        ]
    return out, notes


TARGETS_A = [
    Target("datason API dumps within 1.3x of orjson.dumps", ("new.dumps.api",), "orjson.dumps", 1.3),
    Target(
        "datason typed round trip within 2x of msgspec typed round trip",
        ("new.rt.typed",),
        "msgspec.rt",
        2.0,
        needs_exact=("new.rt.typed",),
    ),
    Target("datason API dumps >= 30x faster than 0.13", ("old.dumps.api",), "new.dumps.api", 30.0, at_least=True),
    Target(
        "datason typed round trip >= 30x faster than 0.13 (its fastest: typed + `load_typed`)",
        ("old.rt.loads", "old.rt.load_typed"),
        "new.rt.typed",
        30.0,
        at_least=True,
        needs_exact=("new.rt.typed",),
    ),
    Target(
        "same, vs 0.13's default `loads(json.dumps(dumps(d)))` (gives a DataFrame back)",
        ("old.rt.loads",),
        "new.rt.typed",
        30.0,
        at_least=True,
        needs_exact=("new.rt.typed",),
    ),
]
HOW_TO_READ_A = [
    "- Contenders: stdlib and orjson decode with a schema-aware manual rebuild (`UUID(...)`, "
    "`datetime.fromisoformat(...)`); msgspec encodes/decodes `list[Rec]` (a `msgspec.Struct` with the "
    "same four typed fields), built once outside the timing. datason 0.13.0's `dumps` returns Python "
    "objects, so `json.dumps` is added to every encode of it.",
    '- "gives input back": the decoded value `==` the input (UUID and aware datetime objects, every record).',
    "- Targets vs 0.13 compare with 0.13's API-config `dumps`, and with its fastest round trip (the verdict "
    "that counts) and its default one (for information).",
]


class Arr(msgspec.Struct):
    """Workload B's compact schema for msgspec: raw bytes in a ``bytes`` field (msgspec writes base64)."""

    dtype: str
    shape: tuple[int, ...]
    data: bytes


def encoders_b(new: ModuleType | None, memory: bool = False) -> dict[str, tuple[str, Callable[[Any], Any]]]:
    """Workload B's encoders {key: (label, fn(array) -> JSON)}; ``memory`` adds the rows only the memory table has."""
    numpy_opt = orjson.OPT_SERIALIZE_NUMPY
    out: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "stdlib.dumps": ("stdlib `json.dumps(a.tolist())`", lambda a: json.dumps(a.tolist())),
        "orjson.dumps": ("orjson `dumps(a, option=OPT_SERIALIZE_NUMPY)`", lambda a: orjson.dumps(a, option=numpy_opt)),
        "msgspec.list.dumps": ("msgspec `json.encode(a.tolist())`", lambda a: msgspec.json.encode(a.tolist())),
        "msgspec.b64.dumps": (
            "msgspec `json.encode(Arr(dtype, shape, data=a.data))` (base64 `bytes` field)",
            lambda a: msgspec.json.encode(Arr(a.dtype.str, a.shape, a.data)),
        ),
    }
    if new is not None:
        config = new.config.SerializationConfig
        readable, compact = config(array_format="readable"), config(array_format="compact")
        out["new.dumps.readable"] = (
            '**datason `dumps(a, config=SerializationConfig(array_format="readable"))`**',
            lambda a: new.dumps(a, config=readable),
        )
        out["new.dumps.compact"] = (
            '**datason `dumps(a, config=SerializationConfig(array_format="compact"))`**',
            lambda a: new.dumps(a, config=compact),
        )
        if memory:
            out["new.dumpb.readable"] = (
                "datason `dumpb(a, readable)` (bytes)",
                lambda a: new.dumpb(a, config=readable),
            )
            out["new.dumpb.compact"] = ("datason `dumpb(a, compact)` (bytes)", lambda a: new.dumpb(a, config=compact))
    return out


def contenders_b(a: Any, new: ModuleType | None, remote: Mapping[str, Any]) -> tuple[list[Contender], list[str]]:
    """Local contenders for workload B (1e6 float64): readable (numbers) and compact (base64) forms."""
    import numpy as np

    encoders = encoders_b(new)
    texts = {key: fn(a) for key, (_, fn) in encoders.items()}
    arr_decoder = msgspec.json.Decoder(Arr)

    def from_arr(r: Arr) -> Any:
        return np.frombuffer(r.data, dtype=np.dtype(r.dtype)).reshape(r.shape)

    # decode key -> (label, fn(text) -> ndarray, encode key, round-trip key, round-trip label)
    decoders: dict[str, tuple[str, Callable[[Any], Any], str, str, str]] = {
        "stdlib.loads": (
            "stdlib `np.array(json.loads(s))`",
            lambda s: np.array(json.loads(s)),
            "stdlib.dumps",
            "stdlib.rt",
            "stdlib dumps + loads",
        ),
        "orjson.loads": (
            "orjson `np.array(orjson.loads(s))`",
            lambda s: np.array(orjson.loads(s)),
            "orjson.dumps",
            "orjson.rt",
            "orjson dumps + loads",
        ),
        "msgspec.list.loads": (
            "msgspec `np.array(json.decode(s))`",
            lambda s: np.array(msgspec.json.decode(s)),
            "msgspec.list.dumps",
            "msgspec.list.rt",
            "msgspec list encode + decode",
        ),
        "msgspec.b64.loads": (
            "msgspec `Decoder(Arr)` + `np.frombuffer` (read-only view)",
            lambda s: from_arr(arr_decoder.decode(s)),
            "msgspec.b64.dumps",
            "msgspec.b64.rt",
            "msgspec base64 encode + decode",
        ),
    }
    if new is not None:
        decoders["new.loads.readable"] = (
            "**datason `loads(s)`** (readable)",
            new.loads,
            "new.dumps.readable",
            "new.rt.readable",
            "**datason `loads(dumps(a))`** (readable)",
        )
        decoders["new.loads.compact"] = (
            "**datason `loads(s)`** (compact)",
            new.loads,
            "new.dumps.compact",
            "new.rt.compact",
            "**datason `loads(dumps(a))`** (compact)",
        )

    def check(got: Any) -> dict[str, Any]:
        return workloads.describe_array(got, a)

    out = [Contender(key, "encode", label, lambda fn=fn: fn(a)) for key, (label, fn) in encoders.items()]
    out += [
        Contender(key, "decode", label, lambda fn=fn, s=texts[src]: fn(s), check=check)
        for key, (label, fn, src, _, _) in decoders.items()
    ]
    out += [
        Contender(rt, "round trip", rt_label, lambda fn=fn, enc=encoders[src][1]: fn(enc(a)), check=check)
        for _, (_, fn, src, rt, rt_label) in decoders.items()
    ]
    notes = []
    if new is not None:
        auto = new.dumps(a)
        notes.append(
            'datason\'s default config (`array_format="auto"`) writes this array '
            + ("compact" if auto == texts["new.dumps.compact"] else "readable")
            + " (compact above `compact_threshold`, 256 elements)."
        )
    return out, notes


TARGETS_B = [
    Target(
        "B: datason readable `dumps` within 1.5x of `orjson.dumps(a, option=OPT_SERIALIZE_NUMPY)`",
        ("new.dumps.readable",),
        "orjson.dumps",
        1.5,
    ),
    Target(
        "B: datason readable `loads` (to an ndarray) within 1.5x of `np.array(orjson.loads(s))`",
        ("new.loads.readable",),
        "orjson.loads",
        1.5,
        needs_exact=("new.loads.readable",),
    ),
    Target(
        "B: datason compact `dumps` at least 1 GB/s (8e6 bytes / median time)",
        ("new.dumps.compact",),
        "",
        1.0,
        at_least=True,
        kind="gbps",
    ),
    Target(
        "B: datason compact `loads` at least 1 GB/s",
        ("new.loads.compact",),
        "",
        1.0,
        at_least=True,
        kind="gbps",
        needs_exact=("new.loads.compact",),
    ),
    Target(
        "B: datason readable `dumps` peak extra memory at most 3x its output (tracemalloc)",
        ("new.dumps.readable",),
        "",
        3.0,
        kind="memory",
    ),
    Target(
        "B: datason compact `dumps` peak extra memory at most 3x its output (tracemalloc)",
        ("new.dumps.compact",),
        "",
        3.0,
        kind="memory",
    ),
]
HOW_TO_READ_B = [
    "- Readable form (JSON numbers) vs orjson's native numpy support and stdlib/msgspec on `a.tolist()`; "
    "compact form (raw bytes as base64) vs msgspec with a `bytes` field (base64 done in C), "
    "`Arr(dtype: str, shape: tuple[int, ...], data: bytes)`; its decode returns a read-only "
    "`np.frombuffer` view (no copy), datason's a writable array.",
    '- "gives input back": an `ndarray` with the same dtype and shape and the same bytes (`tobytes()`).',
    "- GB/s: 8e6 bytes (the array's size) / median time, for encode and decode alike.",
    "- Memory: each encoder runs in a fresh process (after one call on a 1000-element slice to load "
    "lazy imports); peak = `tracemalloc`'s peak traced memory during the call, which includes the output "
    "itself (so 1x is the floor); RSS rise = the process's high-water mark (reset through "
    "`/proc/self/clear_refs`) minus its RSS before the call, as a cross-check that sees untraced memory.",
    "- datason 0.13.0 refuses arrays over 100,000 elements with its default limits (`dumps` returns a "
    "`security_error` dict, shown as a failure); its timed calls pass `max_size=10**7`. MLServer: "
    "`NumpyRequestCodec` with pydantic JSON, as client and server use it.",
]


def split_lists(df: Any) -> dict[str, Any]:
    """``df`` as orjson needs it in the split layout: {"columns", "index", "data": rows of JSON-able values}.

    The fastest conversion found: per column ``tolist()`` (float NaN -> orjson writes null; str and
    category missing values are NaN too); tz-aware datetimes as int64 epoch nanoseconds (as datason
    writes them), NaT -> None; other extension dtypes (nullable Int64) via ``to_numpy(object,
    na_value=None)``. Rows are tuples (orjson writes them as arrays).
    """
    import numpy as np
    import pandas as pd

    columns = []
    for _, s in df.items():
        if s.dtype.kind == "M":
            values = s.array.asi8.tolist()
            for i in np.flatnonzero(s.isna().to_numpy()):
                values[i] = None
        elif isinstance(s.dtype, np.dtype | pd.CategoricalDtype):
            values = s.tolist()
        else:
            values = s.to_numpy(dtype=object, na_value=None).tolist()
        columns.append(values)
    return {"columns": df.columns.tolist(), "index": df.index.tolist(), "data": list(zip(*columns, strict=True))}


def rebuild_frame(d: Mapping[str, Any], dtypes: Mapping[str, Any]) -> Any:
    """Schema-aware rebuild of a DataFrame from ``split_lists`` JSON, given the original dtypes."""
    import numpy as np
    import pandas as pd

    nat = np.iinfo(np.int64).min
    arrays: dict[str, Any] = {}
    for name, values in zip(d["columns"], zip(*d["data"], strict=True), strict=True):
        dtype = dtypes[name]
        if isinstance(dtype, pd.DatetimeTZDtype):
            ints = np.array([nat if v is None else v for v in values], dtype=np.int64)
            utc = pd.DatetimeIndex(ints.view(f"M8[{dtype.unit}]")).tz_localize("UTC")
            arrays[name] = utc.tz_convert(dtype.tz).array
        elif isinstance(dtype, np.dtype):
            arrays[name] = np.array(values, dtype=dtype)
        else:
            arrays[name] = pd.array(values, dtype=dtype)
    return pd.DataFrame(arrays, index=pd.Index(d["index"]))


def contenders_c(df: Any, new: ModuleType | None, remote: Mapping[str, Any]) -> tuple[list[Contender], list[str]]:
    """Local contenders for workload C (1000x20 mixed-dtype DataFrame)."""
    import pandas as pd

    split = split_lists(df)
    blob = orjson.dumps(split)
    dtypes = df.dtypes.to_dict()
    orients = ("split", "table")

    def to_json(orient: str) -> str:
        return str(df.to_json(orient=orient, date_format="iso", date_unit="ns"))

    def read_json(text: str, orient: str) -> Any:
        return pd.read_json(io.StringIO(text), orient=orient)

    def check(got: Any) -> dict[str, Any]:
        return workloads.describe_frame(got, df)

    texts = {orient: to_json(orient) for orient in orients}
    out = [
        Contender(
            "orjson.dumps",
            "encode",
            "orjson `dumps(split_lists(df))` (conversion counted)",
            lambda: orjson.dumps(split_lists(df)),
        ),
        Contender(
            "orjson.dumps.pre",
            "encode",
            "orjson `dumps(split)`, lists prebuilt (conversion not counted)",
            lambda: orjson.dumps(split),
        ),
        *(
            Contender(f"pandas.{o}.dumps", "encode", f'pandas `df.to_json(orient="{o}")`', lambda o=o: to_json(o))
            for o in orients
        ),
        Contender(
            "orjson.loads",
            "decode",
            "orjson `loads(s)` (a dict of lists: no DataFrame)",
            lambda: orjson.loads(blob),
            check=check,
        ),
        Contender(
            "orjson.loads.frame",
            "decode",
            'orjson `loads` + `pd.DataFrame(d["data"], columns=..., index=...)`',
            lambda: (lambda d: pd.DataFrame(d["data"], columns=d["columns"], index=d["index"]))(orjson.loads(blob)),
            check=check,
        ),
        Contender(
            "orjson.loads.schema",
            "decode",
            "orjson `loads` + schema-aware rebuild (dtypes known)",
            lambda: rebuild_frame(orjson.loads(blob), dtypes),
            check=check,
        ),
        *(
            Contender(
                f"pandas.{o}.loads",
                "decode",
                f'pandas `read_json(s, orient="{o}")`',
                lambda o=o: read_json(texts[o], o),
                check=check,
            )
            for o in orients
        ),
        Contender(
            "orjson.rt",
            "round trip",
            "orjson conversion + `dumps` + `loads` (no DataFrame)",
            lambda: orjson.loads(orjson.dumps(split_lists(df))),
            check=check,
        ),
        Contender(
            "orjson.rt.pre",
            "round trip",
            "orjson `dumps` + `loads`, lists prebuilt (conversion not counted)",
            lambda: orjson.loads(orjson.dumps(split)),
            check=check,
        ),
        Contender(
            "orjson.rt.schema",
            "round trip",
            "orjson conversion + `dumps` + `loads` + schema-aware rebuild",
            lambda: rebuild_frame(orjson.loads(orjson.dumps(split_lists(df))), dtypes),
            check=check,
        ),
        *(
            Contender(
                f"pandas.{o}.rt",
                "round trip",
                f'pandas `to_json` + `read_json` (orient="{o}")',
                lambda o=o: read_json(to_json(o), o),
                check=check,
            )
            for o in orients
        ),
    ]
    notes: list[str] = []
    if new is not None:
        ds = new
        text = ds.dumps(df)
        out += [
            Contender("new.dumps.typed", "encode", "**datason `dumps(df)`**", lambda: ds.dumps(df)),
            Contender("new.loads.typed", "decode", "**datason `loads(s)`**", lambda: ds.loads(text), check=check),
            Contender(
                "new.rt.typed",
                "round trip",
                "**datason `loads(dumps(df))`**",
                lambda: ds.loads(ds.dumps(df)),
                check=check,
            ),
        ]
        subset = remote.get("mlserver", {}).get("subset")
        if subset:
            sub = df[subset]
            out.append(
                Contender(
                    "new.rt.subset",
                    "round trip",
                    f"**datason `loads(dumps(df[...]))`** on MLServer's {len(subset)} columns",
                    lambda: ds.loads(ds.dumps(sub)),
                    check=lambda got: workloads.describe_frame(got, sub),
                )
            )
    return out, notes


TARGETS_C = [
    Target(
        "C: datason typed round trip within 2x of orjson split round trip (conversion from the DataFrame "
        "counted, no DataFrame rebuilt)",
        ("new.rt.typed",),
        "orjson.rt",
        2.0,
        needs_exact=("new.rt.typed",),
    ),
    Target(
        "same, vs orjson `dumps` + `loads` of prebuilt lists (conversion not counted; for information)",
        ("new.rt.typed",),
        "orjson.rt.pre",
        2.0,
        needs_exact=("new.rt.typed",),
    ),
]
HOW_TO_READ_C = [
    '- orjson peer (the reference): the split layout `{"columns", "index", "data": rows}`, **starting '
    "from the DataFrame**: its encode counts the conversion to what orjson accepts (`split_lists` in "
    "run.py: per column `tolist()`, tz-aware datetimes as int64 epoch nanoseconds as datason writes them, "
    "nullable Int64 via `to_numpy(object, na_value=None)`, rows as tuples; the fastest conversion found, "
    'faster than `df.to_dict("split")` + a `default` hook), its decode is `orjson.loads` alone and '
    "gives back a dict of lists, not a DataFrame. Rows for prebuilt lists (conversion not counted) and "
    "for a schema-aware rebuild (`pd.DataFrame` with the original dtypes, known to the reader) are shown "
    "beside it.",
    '- pandas: `to_json(orient=..., date_format="iso", date_unit="ns")` + `read_json(StringIO(s), orient=...)`, '
    "the most faithful settings. MLServer: `PandasCodec.encode_request(df).model_dump_json()` and "
    "`PandasCodec.decode_request(InferenceRequest.model_validate_json(s))`; it raises on some dtypes "
    '(shown as "fails"), so it is also timed on the columns it can handle alone, and datason on the same '
    "columns beside it.",
    '- "exact?": `pd.testing.assert_frame_equal(got, df, check_exact=True)` passes (dtypes with time zones '
    "and categories, index, column names, every value with NaN/NaT/NA by position); otherwise what "
    'differs, per kind of column ("(values ...)" when `astype` back to the original dtype does not '
    "restore the values).",
]
CONTENDERS: dict[str, Callable[[Any, ModuleType | None, Mapping[str, Any]], tuple[list[Contender], list[str]]]] = {
    "A": contenders_a,
    "B": contenders_b,
    "C": contenders_c,
}
TARGETS: dict[str, list[Target]] = {"A": TARGETS_A, "B": TARGETS_B, "C": TARGETS_C}
HOW_TO_READ: dict[str, list[str]] = {"A": HOW_TO_READ_A, "B": HOW_TO_READ_B, "C": HOW_TO_READ_C}
HOW_TO_READ_ALL = [
    "- ratio: median over rounds of the per-round ratio to the reference (paired: a slow phase of the "
    "machine slows every contender of a round alike and cancels), so it can differ from the ratio of medians.",
    '- "gives input back" / "exact?": checked once before timing; a target on a decode or round trip is a '
    'MISS when it does not give the input back. "fails": the call raised (or returned an error as data) '
    "and is not timed; the failure is the result.",
    "- Foreign virtualenvs: datason 0.13.0 in `benchmarks/.venv-datason013` with numpy and pandas installed, "
    "as an ML user has them (without them its `loads` retries a failing import per list and is 3-4x slower "
    "still); MLServer 1.7.1 in `benchmarks/.venv-mlserver`. Each runs in a persistent worker process that "
    "runs its contenders once per round, right after the local ones.",
]


# ---------------------------------------------------------------- foreign workers


def foreign_env() -> dict[str, str]:
    """Environment for foreign-virtualenv subprocesses: no PYTHONPATH, so src/ can never shadow them."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def ensure_venv(foreign: Foreign) -> str:
    """Run the foreign package's setup script (idempotent); return "" when ready or why it is skipped."""
    try:
        proc = subprocess.run(
            ["bash", str(HERE / foreign.setup)], capture_output=True, text=True, timeout=900, env=foreign_env()
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{foreign.setup} failed: {exc}"
    if proc.returncode != 0 or not foreign.python.exists():
        return f"{foreign.setup} exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
    return ""


class Worker:
    """A persistent worker process (``--serve``): one call = one round of a workload's contenders."""

    def __init__(self, foreign: Foreign, keys: list[str]) -> None:
        self.foreign = foreign
        cmd = [str(foreign.python), str(HERE / foreign.script), "--serve"]
        cmd += [arg for k in keys for arg in ("--workload", k)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=foreign_env())
        self.info: dict[str, Any] = json.loads(self._readline())

    def _readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.foreign.name} worker exited with {self.proc.wait()}")
        return line

    def remote(self, key: str) -> timing.Remote:
        """A callable running one round of workload ``key`` in the worker."""

        def run_round() -> dict[str, float]:
            assert self.proc.stdin is not None
            self.proc.stdin.write(key + "\n")
            self.proc.stdin.flush()
            return dict(json.loads(self._readline()))

        return run_round

    def close(self) -> None:
        """Close stdin (the worker exits at EOF) and wait for it."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=120)


def start_workers(keys: list[str], skip: Mapping[str, str]) -> tuple[list[Worker], dict[str, str]]:
    """Set up and start a worker per foreign package that a requested workload needs; return (workers, why
    each other one is skipped)."""
    workers: list[Worker] = []
    reasons: dict[str, str] = {}
    for foreign in FOREIGN.values():
        wanted = [k for k in keys if k in foreign.workloads]
        if not wanted:
            continue
        why = skip.get(foreign.key) or ensure_venv(foreign)
        if not why:
            try:
                workers.append(Worker(foreign, wanted))
            except (OSError, RuntimeError, ValueError) as exc:
                why = f"worker failed: {exc}"
        if why:
            reasons[foreign.key] = why
            print(f"NOTE: {foreign.name} skipped: {why}", file=sys.stderr)
    return workers, reasons


# ---------------------------------------------------------------- memory (workload B)


def _proc_status() -> dict[str, int]:
    """VmRSS and VmHWM of this process in bytes (empty off Linux)."""
    with contextlib.suppress(OSError):
        text = Path("/proc/self/status").read_text()
        return {m[1]: int(m[2]) * 1024 for m in re.finditer(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M)}
    return {}


def memory_probe(name: str) -> None:
    """In a fresh process: peak memory of one workload-B encoder; print {"out", "peak", "rss"} as JSON."""
    new, _ = load_new_datason()
    _, fn = encoders_b(new, memory=True)[name]
    a = workloads.build("B")
    fn(a[:1000])  # lazy imports and first-call set-up, out of the measurement
    gc.collect()
    reset = False
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        reset = True
    before = _proc_status().get("VmRSS")
    tracemalloc.start()
    out = fn(a)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    hwm = _proc_status().get("VmHWM")
    rss = hwm - before if reset and hwm is not None and before is not None else None
    size = len(out.encode() if isinstance(out, str) else out)
    print(json.dumps({"out": size, "peak": peak, "rss": rss}))


MEMORY_QUICK = ("orjson.dumps", "new.dumps.readable", "new.dumps.compact")  # --quick: the targets and their peer


def measure_memory(new: ModuleType | None, quick: bool) -> dict[str, dict[str, Any]]:
    """Run memory_probe for each workload-B encoder (``quick``: MEMORY_QUICK only) in its own process."""
    results: dict[str, dict[str, Any]] = {}
    for name, (label, _) in encoders_b(new, memory=True).items():
        if quick and name not in MEMORY_QUICK:
            continue
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--memory-probe", name], capture_output=True, text=True
        )
        if proc.returncode != 0:
            results[name] = {"label": label, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
        else:
            results[name] = {"label": label, **json.loads(proc.stdout)}
    return results


# ---------------------------------------------------------------- import time


def import_times(runs: int, old_ok: bool) -> list[dict[str, Any]]:
    """Median wall time of ``python -c "import datason"`` minus ``python -c pass``, plus heavy-module check."""
    probe = f"import sys, json, datason; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    # warm bytecode caches, as an installed package has them, kept out of src/ (PYTHONDONTWRITEBYTECODE,
    # set on this machine, would otherwise recompile src/datason on every run)
    cache = {"PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "datason-bench-pycache")}
    base_env = {k: v for k, v in foreign_env().items() if k != "PYTHONDONTWRITEBYTECODE"} | cache
    setups = [("datason (new, src/)", sys.executable, base_env | {"PYTHONPATH": str(SRC)})]
    if old_ok:
        setups.append(("datason 0.13.0", str(FOREIGN["old"].python), base_env))
    cmds = {
        f"{name}|{which}": (py, env, code)
        for name, py, env in setups
        for which, code in (("base", "pass"), ("imp", "import datason"))
    }
    samples: dict[str, list[float]] = {k: [] for k in cmds}
    for i in range(runs + 1):  # first round warms the OS caches, untimed
        for key, (py, env, code) in cmds.items():
            start = time.perf_counter()
            proc = subprocess.run([py, "-c", code], env=env, capture_output=True, text=True)
            if proc.returncode == 0 and i > 0:
                samples[key].append((time.perf_counter() - start) * 1e3)
    out: list[dict[str, Any]] = []
    for name, py, env in setups:
        base, imp = samples[f"{name}|base"], samples[f"{name}|imp"]
        proc = subprocess.run([py, "-c", probe], env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not imp:
            out.append({"name": name, "error": proc.stderr.strip().splitlines()[-1:] or ["failed"]})
            continue
        net = statistics.median(imp) - statistics.median(base)
        best = min(imp) - min(base)
        out.append(
            {"name": name, "net": net, "best": best, "base": statistics.median(base), "heavy": json.loads(proc.stdout)}
        )
    return out


# ---------------------------------------------------------------- running and reporting


def verdict(info: Mapping[str, Any]) -> bool | str:
    """A fidelity check as a table value: True, or what was lost (False when not said)."""
    if info.get("exact") is True:
        return True
    return str(info.get("lost") or "") or False


def run_workload(
    key: str, new: ModuleType | None, workers: list[Worker], rounds: int, warmup: int, quick: bool
) -> Result:
    """Build workload ``key``, check fidelity once, then time all contenders interleaved."""
    data = workloads.build(key)
    infos = {w.foreign.key: w.info["checks"][key] for w in workers if key in w.info["checks"]}
    local, notes = CONTENDERS[key](data, new, infos)
    exact: dict[str, bool | str] = {}
    errors: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for c in local:  # each call runs once untimed: failures are reported, not timed
        try:
            got = c.fn()
        except Exception as exc:
            errors[c.key] = f"{type(exc).__name__}: {exc}"
            continue
        if c.section == "encode" and isinstance(got, str | bytes):
            sizes[c.key] = len(got.encode() if isinstance(got, str) else got)
        if c.check is not None:
            exact[c.key] = verdict(c.check(got))
        elif c.expect is not None:
            exact[c.key] = got == c.expect
        del got
    labels = {c.key: c.label for c in local}
    sections = {c.key: c.section for c in local}
    remotes: list[timing.Remote] = []
    for w in workers:
        info = infos.get(w.foreign.key)
        if info is None:
            continue
        remotes.append(w.remote(key))
        for name, (section, label) in info["labels"].items():
            labels[name], sections[name] = label, section
        for name, fidelity in info["fidelity"].items():
            if "error" in fidelity:
                errors[name] = fidelity["error"]
            else:
                exact[name] = verdict(fidelity)
        sizes.update(info.get("sizes", {}))
    ok = {c.key: c.fn for c in local if c.key not in errors}
    stats = timing.interleave(ok, rounds, warmup, tuple(remotes))
    rows = [(s, k) for s in SECTIONS for k in labels if sections[k] == s and (k in stats or k in exact or k in errors)]
    memory = measure_memory(new, quick) if key == "B" else {}
    return Result(key, rounds, rows, labels, stats, exact, errors, sizes, TARGETS[key], notes, memory)


def gbps(r: Result, key: str) -> float | None:
    """Payload bytes per second of ``key``'s median time, in GB/s (None when not measured or no payload)."""
    st, payload = r.stats.get(key), PAYLOAD_BYTES.get(r.key)
    return payload / (st.median / 1e3) / 1e9 if st is not None and payload else None


def judge(t: Target, r: Result) -> tuple[str, str]:
    """(measured text, PASS/MISS/n/a) for one target."""
    values: list[float] = []
    detail = ""
    for k in t.num:
        if t.kind == "ratio" and k in r.stats and t.den in r.stats:
            values.append(timing.paired_ratio(r.stats[k], r.stats[t.den]))
        elif t.kind == "gbps" and (v := gbps(r, k)) is not None:
            values.append(v)
            detail = f" ({r.stats[k].median:.2f} ms median)"
        elif t.kind == "memory" and "peak" in r.memory.get(k, {}):
            m = r.memory[k]
            values.append(m["peak"] / m["out"])
            detail = f" ({m['peak'] / 1e6:.1f} MB peak for {m['out'] / 1e6:.1f} MB out)"
    if not values:
        return "not measured", "n/a"
    value = min(values) if t.at_least else max(values)
    ok = value >= t.limit if t.at_least else value <= t.limit
    inexact = [k for k in t.needs_exact if r.exact.get(k) is not True]
    unit = " GB/s" if t.kind == "gbps" else "x"
    text = f"{value:.2f}{unit}{detail}" + (" (not exact)" if inexact else "")
    return text, "PASS" if ok and not inexact else "MISS"


def fmt_exact(v: bool | str | None) -> str:
    """Table cell for a fidelity check."""
    return "" if v is None else "yes" if v is True else "**no**" if v is False else f"**no**: {v}"


def workload_markdown(r: Result, new_reason: str, skipped: Mapping[str, str]) -> list[str]:
    """Markdown tables for one workload."""
    lines = [f"## Workload {r.key}: {workloads.WORKLOADS[r.key].title}", "", *HOW_TO_READ[r.key], ""]
    for section in SECTIONS:
        ref = REFERENCE[r.key][section]
        extra = (["output MB"] if section == "encode" else []) + (
            ["GB/s"] if r.key in PAYLOAD_BYTES and section != "round trip" else []
        )
        head = ["contender", "median ms", "min ms", "ratio (paired)", *extra, EXACT_HEADER[r.key]]
        lines += [
            f"### {section} (ratio to {r.labels.get(ref, ref)})",
            "",
            "| " + " | ".join(head) + " |",
            "|---|" + "---:|" * (len(head) - 2) + "---|",
        ]
        for s, k in r.rows:
            if s != section:
                continue
            st = r.stats.get(k)
            cells = [r.labels[k]]
            if st is None:
                cells += ["—", "—", "—"]
            else:
                ratio = timing.paired_ratio(st, r.stats[ref]) if ref in r.stats else float("nan")
                cells += [f"{st.median:.2f}", f"{st.min:.2f}", f"{ratio:.2f}x"]
            if "output MB" in extra:
                cells.append(f"{r.sizes[k] / 1e6:.2f}" if k in r.sizes else "")
            if "GB/s" in extra:
                v = gbps(r, k)
                cells.append(f"{v:.2f}" if v is not None else "")
            cells.append(f"fails: {r.errors[k]}" if k in r.errors else fmt_exact(r.exact.get(k)))
            lines.append("| " + " | ".join(cells) + " |")
        blank = [""] * (len(head) - 3)
        if new_reason:
            lines.append("| " + " | ".join(["datason (new)", "unavailable", *blank, new_reason]) + " |")
        for fkey, why in skipped.items():
            if r.key in FOREIGN[fkey].workloads:
                lines.append("| " + " | ".join([FOREIGN[fkey].name, "skipped", *blank, why]) + " |")
        lines.append("")
    if r.memory:
        lines += [
            "### Peak memory while encoding (fresh process per row)",
            "",
            "| encoder | output MB | peak traced MB | peak / output | RSS rise MB | RSS rise / output |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for m in r.memory.values():
            if "error" in m:
                lines.append(f"| {m['label']} | fails: {m['error']} | | | | |")
                continue
            out, peak, rss = m["out"], m["peak"], m["rss"]
            rss_cells = f"{rss / 1e6:.1f} | {rss / out:.2f}x" if rss is not None else "n/a | n/a"
            lines.append(f"| {m['label']} | {out / 1e6:.2f} | {peak / 1e6:.1f} | {peak / out:.2f}x | {rss_cells} |")
        lines.append("")
    lines += [f"- {n}" for n in r.notes]
    return lines + ([""] if r.notes else [])


def import_target_row(imp: Mapping[str, Any], new_reason: str) -> str:
    """Targets-table row for the new datason's import time and heavy modules (n/a until its API works)."""
    label = f"`import datason` (new) under 60 ms, no {'/'.join(HEAVY)}"
    if "error" in imp or new_reason:
        return f"| {label} | {imp['error'][0] if 'error' in imp else 'API unavailable'} | < 60 ms | n/a |"
    ok = imp["net"] < 60 and not imp["heavy"]
    heavy = ", ".join(imp["heavy"]) or "none heavy"
    return f"| {label} | {imp['net']:.1f} ms, {heavy} | < 60 ms | {'PASS' if ok else 'MISS'} |"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions_lines(new: ModuleType | None, workers: list[Worker], skipped: Mapping[str, str]) -> list[str]:
    """Python and library versions, here and in each foreign virtualenv."""
    new_v = getattr(new, "__version__", "src") if new is not None else "unavailable"
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    rev = sha.stdout.strip() or "no commit yet"
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"], capture_output=True, text=True
    )
    rev += " + uncommitted changes in src/" if dirty.stdout.strip() else ""
    here = ", ".join(f"{d} {_version(d)}" for d in ("orjson", "msgspec", "numpy", "pandas", "pybase64"))
    lines = [f"- Python {platform.python_version()}; {here}; datason (new) {new_v} from src/ at git {rev}"]
    for w in workers:
        v = w.info["versions"]
        others = ", ".join(f"{d} {ver}" for d, ver in v.items() if not w.foreign.name.lower().startswith(d))
        lines.append(f"- {w.foreign.name}: own venv `benchmarks/{w.foreign.venv}` with {others}")
    lines += [f"- {FOREIGN[k].name}: skipped ({why})" for k, why in skipped.items()]
    return lines


def fidelity_text(info: Mapping[str, Any]) -> str:
    """A worker's fidelity check as text: a failure, yes / **no**: what was lost, or the raw details."""
    if "error" in info:
        return f"fails: {info['error']}"
    if set(info) <= {"exact", "lost"}:
        return fmt_exact(verdict(info))
    return json.dumps(info, ensure_ascii=False)


def fidelity_lines(workers: list[Worker]) -> list[str]:
    """What each foreign package gave back, per workload and call."""
    lines: list[str] = []
    for w in workers:
        lines += [f"## {w.foreign.name}: what came back", ""]
        for key, checks in w.info["checks"].items():
            lines += [f"Workload {key}:", ""]
            lines += [f"- {n}" for n in checks.get("notes", [])]
            lines += [f"- warning raised: `{msg}`" for msg in checks.get("warnings", [])]
            lines += [f"- {title}: `{text}`" for title, text in checks.get("samples", {}).items()]
            for name, info in checks["fidelity"].items():
                lines.append(f"- {checks['labels'].get(name, ['', name])[1]}: {fidelity_text(info)}")
            lines += [f"- {title}: {fidelity_text(info)}" for title, info in checks.get("extra", {}).items()]
            lines.append("")
    return lines


def main() -> None:
    """Parse arguments, run, print and write the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few rounds (smoke test); writes no file unless --output")
    parser.add_argument("--workload", action="append", choices=sorted(CONTENDERS), help="repeatable; default: all")
    parser.add_argument("--output", help="markdown report path (default docs/benchmarks.md; '-' for none)")
    parser.add_argument("--rounds", type=int, help="timed rounds (default 3 quick; full: A 25, B 10, C 25)")
    parser.add_argument("--skip-old", action="store_true", help="run no foreign virtualenv (datason 0.13, MLServer)")
    parser.add_argument("--skip-mlserver", action="store_true", help="do not run MLServer")
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(args.memory_probe)
        return
    keys = args.workload or sorted(CONTENDERS)
    rounds = {k: args.rounds or (3 if args.quick else FULL_ROUNDS[k]) for k in keys}
    warmup = 0 if args.quick else 2  # plus, always, the untimed check call of every contender
    output = args.output or ("-" if args.quick else str(ROOT / "docs" / "benchmarks.md"))

    new, new_reason = load_new_datason()
    if new_reason:
        print(f"NOTE: datason (new) skipped: {new_reason}", file=sys.stderr)
    skip = {k: "--skip-old given" for k in FOREIGN} if args.skip_old else {}
    if args.skip_mlserver:
        skip.setdefault("mlserver", "--skip-mlserver given")
    workers, skipped = start_workers(keys, skip)
    old = next((w for w in workers if w.foreign.key == "old"), None)

    started, load_before = time.perf_counter(), os.getloadavg()[0]
    try:
        results = [run_workload(k, new, workers, rounds[k], warmup, args.quick) for k in keys]
    finally:
        for w in workers:
            w.close()
    imports = import_times(3 if args.quick else 9, old is not None)
    elapsed, load_after = time.perf_counter() - started, os.getloadavg()[0]

    cmd = (
        "python benchmarks/run.py"
        + (" --quick" if args.quick else "")
        + "".join(f" --workload {k}" for k in args.workload or [])
        + (f" --rounds {args.rounds}" if args.rounds else "")
        + (" --skip-old" if args.skip_old else "")
        + (" --skip-mlserver" if args.skip_mlserver else "")
    )
    round_text = ", ".join(f"{k} {n}" for k, n in rounds.items())
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `benchmarks/run.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
        "rerun it rather than editing this file.",
        "",
        "Reproduce (from the repository root; run.py creates the foreign virtualenvs itself if missing):",
        "",
        "    bash benchmarks/setup_old_datason.sh && bash benchmarks/setup_mlserver.sh",
        f"    .venv/bin/{cmd} --output docs/benchmarks.md",
        "",
        docblock.machine_line(),
        *versions_lines(new, workers, skipped),
        f"- Method: timed rounds per workload ({round_text}) after one untimed call of each contender (the "
        f"fidelity check) and {warmup} warm-up rounds; each round runs every "
        "contender once (foreign packages in their worker processes), `gc.collect()` before each call; "
        f"median and min in ms; whole run {elapsed:.0f} s, 1-min load average {load_before:.1f} before and "
        f"{load_after:.1f} after (this process adds ~1). Shared, noisy 2-core machine: read ratios, not "
        "absolute times.",
        *HOW_TO_READ_ALL,
        "",
        "## Targets",
        "",
        "| target | measured | limit | result |",
        "|---|---:|---:|---|",
    ]
    for r in results:
        for t in r.targets:
            text, result = judge(t, r)
            label = t.label if t.label.startswith(("same", f"{r.key}:")) else f"{r.key}: {t.label}"
            lines.append(f"| {label} | {text} | {t.limit_text()} | {result} |")
    lines += [import_target_row(imp, new_reason) for imp in imports if imp["name"].startswith("datason (new")]
    lines.append("")
    for r in results:
        lines += workload_markdown(r, new_reason, skipped)
    lines += [
        "## Import time (fresh process, median, minus `python -c pass`)",
        "",
        "Bytecode caches warm (`PYTHONPYCACHEPREFIX` in a temp dir), as for an installed package.",
        "",
        "| package | net ms (median) | net ms (min) | baseline ms | heavy modules after import |",
        "|---|---:|---:|---:|---|",
    ]
    for imp in imports:
        if "error" in imp:
            lines.append(f"| {imp['name']} | failed | | | {imp['error'][0]} |")
        else:
            heavy = ", ".join(imp["heavy"]) or "none"
            lines.append(f"| {imp['name']} | {imp['net']:.1f} | {imp['best']:.1f} | {imp['base']:.1f} | {heavy} |")
    lines.append("")
    lines += fidelity_lines(workers)
    report = "\n".join(lines).rstrip() + "\n"
    print(report)
    if output != "-":
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        # keep every section another benchmark script wrote (serving, protocols, shapes, each integration's,
        # workers...): each sits between its own <!-- NAME:begin --> and <!-- NAME:end --> markers
        old_text = Path(output).read_text() if Path(output).exists() else ""
        kept = [
            m.group(0).rstrip("\n") + "\n"
            for name in dict.fromkeys(re.findall(r"<!-- ([a-z0-9_]+):begin -->", old_text))
            if (m := docblock.pattern(name).search(old_text))
        ]
        Path(output).write_text(report + "".join("\n" + block for block in kept))
        print(f"wrote {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
