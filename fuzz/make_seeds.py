"""Writes the fuzz seed corpus, fuzz/seeds/: valid typed documents for every registered tag.

Each seed is one byte choosing the config (the index into ``fuzz_loads.CONFIGS``) followed by a JSON document:
the examples of docs/wire-format.md, ``datason.dumps`` of a rich set of values (Python, NumPy, pandas, PyTorch,
SciPy, Arrow, Polars, Pillow, scikit-learn) under the config the byte names, datason 0.x documents and plain
JSON for ``auto_deserialize``. Deterministic: rerunning rewrites the same files. Run from anywhere:
``python fuzz/make_seeds.py``.
"""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import fractions
import hashlib
import io
import json
import pathlib
import re
import sys
import uuid
import warnings
import zoneinfo
from collections.abc import Iterator
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
SEEDS = HERE / "seeds"
sys.path.insert(0, str(HERE))

import fuzz_loads  # noqa: E402  (needs the path above)

TYPE_KEY = fuzz_loads.TYPE_KEY
VALUE_KEY = fuzz_loads.VALUE_KEY
MAX_SEED_BYTES = 20_000
# Every value is written under these configs (compact and readable arrays, typed and plain).
SEED_CONFIGS = ["default", "performance", "readable-trusting", "api"]


def config_byte(name: str) -> int:
    return [n for n, _ in fuzz_loads.CONFIGS].index(name)


# --- documents from the wire-format spec ----------------------------------------------------------------------------


def doc_examples() -> Iterator[Any]:
    """Every JSON example of docs/wire-format.md: code blocks (whole or line by line) and inline envelopes."""
    text = (ROOT / "docs" / "wire-format.md").read_text(encoding="utf-8")
    for block in re.findall(r"```json\n(.*?)```", text, flags=re.S):
        try:
            yield json.loads(block)
            continue
        except ValueError:
            pass
        for line in block.splitlines():
            try:
                yield json.loads(line)
            except ValueError:
                pass
    for inline in re.findall(r"`(\{\"__datason_type__\".*?\})`(?: \||$)", text, flags=re.M):
        try:
            yield json.loads(inline)
        except ValueError:
            pass


def wrap_fragment(node: Any) -> Any:
    """Payload fragments of the spec (a column, an index) wrapped in the envelope that reads them."""
    if isinstance(node, dict) and TYPE_KEY not in node:
        if "kind" in node:
            return {TYPE_KEY: "pandas.Index", VALUE_KEY: node}
        if "dtype" in node and "shape" not in node:
            return {TYPE_KEY: "pandas.array", VALUE_KEY: node}
    return node


# --- values ----------------------------------------------------------------------------------------------------------


def python_values() -> dict[str, Any]:
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    new_york = zoneinfo.ZoneInfo("America/New_York")
    return {
        "none": None,
        "scalars": [True, False, 0, -1, 2**63 - 1, -(2**63), 2**64 - 1, "", "ünï😀", 1.5, -0.0, 1e308, 5e-324],
        "big-ints": [2**64, -(2**70), 10**40],
        "non-finite": [float("nan"), float("inf"), float("-inf")],
        "bytes": b"\x00\xffbinary",
        "bytearray": bytearray(b"ab"),
        "complex": [complex(1.5, -2), complex(float("nan"), float("inf"))],
        "decimals": [decimal.Decimal(t) for t in ("1.10", "-0.000", "1E+2", "NaN", "-Infinity", "sNaN")],
        "fraction": fractions.Fraction(-1, 3),
        "tuple": (1, "a", (2.5, None)),
        "set": {1, 2, 3},
        "mixed-set": {1, 2.5, (1, 2), (3,)},  # items that do not sort, with hashes that do not vary by run
        "frozenset": frozenset({"x", "y"}),
        "dict-keys": {1: "a", (1, 2): "b", None: "c", 2.5: "d", frozenset({1}): "e"},
        "marker-keys": {TYPE_KEY: "datetime", VALUE_KEY: "x"},
        "one-marker": {TYPE_KEY: "uuid.UUID"},
        "ordered-dict": collections.OrderedDict([("b", 1), (2, None)]),
        "counter": collections.Counter("abracadabra"),
        "deque": collections.deque([1, 2, 3], maxlen=5),
        "range": range(2, 20, 3),
        "datetimes": [
            dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
            dt.datetime(2024, 1, 2, 3, 4, 5),
            dt.datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=new_york),
            dt.datetime(2024, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=1), "CET")),
            dt.datetime(2024, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
            dt.datetime(1, 1, 1),
            dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=paris),
        ],
        "date": dt.date(1999, 12, 31),
        "times": [dt.time(23, 59, 59, 999999), dt.time(1, 2, 3, tzinfo=paris), dt.time(4, 5, tzinfo=dt.UTC)],
        "timedelta": [dt.timedelta(days=-3, seconds=5, microseconds=7), dt.timedelta.max],
        "timezone": [
            dt.timezone(dt.timedelta(hours=5, minutes=30), "IST"),
            dt.UTC,
            dt.timezone(-dt.timedelta(hours=3)),
        ],
        "zoneinfo": paris,
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "paths": [pathlib.Path("/tmp/data/file.csv"), pathlib.PurePosixPath("/a/b"), pathlib.PureWindowsPath("C:\\x")],
        "nested": {"features": [1, 2, {"ts": dt.date(2024, 1, 2), "ids": (uuid.UUID(int=1),)}], "w": {0: 0.25}},
        "deep": [[[[[[[["leaf"]]]]]]]],
    }


def numpy_values() -> dict[str, Any]:
    import numpy as np

    structured = np.dtype({"names": ["x", "pos"], "formats": ["<f4", ("<i2", (2,))], "offsets": [0, 4], "itemsize": 10})
    titled = np.dtype([(("Title", "a"), "<i4"), ("b", ">f8")], align=True)
    nan16 = np.array([0x7E01], dtype=np.uint16).view(np.float16)  # a NaN with payload bits: written compact
    return {
        "bool": np.array([True, False]),
        "int8": np.array([-128, 127], dtype=np.int8),
        "uint8-2d": np.arange(6, dtype=np.uint8).reshape(2, 3),
        "int16-le": np.array([1, -2, 3], dtype="<i2"),
        "int32-be": np.arange(12, dtype=">i4").reshape(3, 4),
        "int64": np.array([-(2**63), 2**63 - 1]),
        "uint64": np.array([0, 2**64 - 1], dtype=np.uint64),
        "float16": np.array([0.1, -0.0, np.inf], dtype=np.float16),
        "float16-nan-payload": nan16,
        "float32": np.array([[1.5, np.nan], [-np.inf, -0.0]], dtype=np.float32),
        "float64-be": np.array([0.1, 1e-310], dtype=">f8"),
        "complex64": np.array([1 + 2j, complex(np.nan, -np.inf)], dtype=np.complex64),
        "complex128": np.array([[1j]], dtype=np.complex128),
        "longdouble": np.array([1 / 3], dtype=np.longdouble),
        "clongdouble": np.array([1 / 3 + 1j], dtype=np.clongdouble),
        "datetime64-ns": np.array(["2024-01-02T03:04:05.123456789", "NaT"], dtype="datetime64[ns]"),
        "datetime64-D": np.array(["2024-01-02", "10000-01-01"], dtype="datetime64[D]"),
        "datetime64-generic": np.array(["NaT"], dtype="datetime64"),
        "timedelta64-10ms": np.array([5, -1, "NaT"], dtype="timedelta64[10ms]"),
        "unicode": np.array(["ab", "ünï", ""], dtype="<U4"),
        "bytes": np.array([b"ab", b"\x00x"], dtype="S3"),
        "void": np.array([b"\x00\x01\x02\x03"], dtype="V4"),
        "object": np.array([1, "a", None, (1, 2), dt.date(2024, 1, 2)], dtype=object),
        "structured": np.zeros(2, dtype=structured),
        "titled-aligned": np.zeros(2, dtype=titled),
        "zero-d": np.array(3.5),
        "empty-0x3": np.zeros((0, 3)),
        "empty-2x0": np.zeros((2, 0), dtype=np.int32),
        "scalars": [
            np.float32(0.1),
            np.uint64(2**64 - 1),
            np.int8(-5),
            np.bool_(True),
            np.complex64(complex(1, -np.inf)),
            np.float16(np.nan),
            np.datetime64("2024-01-02"),
            np.timedelta64(5, "ms"),
            np.longdouble(1) / 3,
            np.clongdouble(1j),
            np.str_("text\x00"),
            np.bytes_(b"raw"),
            np.zeros(1, dtype="V3")[0],
            np.zeros(1, dtype=structured)[0],
        ],
    }


def pandas_values() -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(
        {
            "score": np.array([0.5, np.nan, 2.25], dtype=np.float32),
            "label": pd.Categorical(["cat", "dog", "cat"], categories=["dog", "cat"], ordered=True),
            "at": pd.date_range("2024-01-01", periods=3, freq="h", tz="Europe/Paris"),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "name": pd.array(["x", None, "z"], dtype="string"),
            "obj": [1, "a", (1, 2)],
            "flag": pd.array([True, None, False], dtype="boolean"),
            "span": pd.to_timedelta([1, 2, None], unit="s"),
            "period": pd.period_range("2024-01", periods=3, freq="M"),
        },
        index=pd.Index([10, 20, 30], name="id"),
    )
    multi = pd.MultiIndex.from_tuples([("a", 1), ("b", 1), ("a", 2)], names=["k", None])
    return {
        "timestamp-tz": pd.Timestamp("2024-01-02 03:04:05.123456789", tz="Europe/Paris"),
        "timestamp-s": pd.Timestamp("3000-01-01").as_unit("s"),
        "timestamp-offset": pd.Timestamp("2024-01-02", tz=dt.timezone(dt.timedelta(hours=-1, minutes=-30))),
        "timedelta": pd.Timedelta(days=1, nanoseconds=2),
        "period-M": pd.Period("2024-01", freq="M"),
        "period-Q": pd.Period("2024Q1", freq="Q-DEC"),
        "interval": pd.Interval(0, 5, closed="both"),
        "interval-ts": pd.Interval(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02")),
        "missing": [pd.NaT, pd.NA],
        "categorical": pd.Categorical(["b", "a", None], categories=["a", "b"], ordered=True),
        "int64-na": pd.array([7, None], dtype="Int64"),
        "uint8-na": pd.array([1, None], dtype="UInt8"),
        "float32-na": pd.array([1.5, None, np.nan], dtype="Float32"),
        "string": pd.array(["x", None], dtype="string"),
        "datetime-array": pd.array(pd.date_range("2024-01-01", periods=2, tz="UTC")),
        "period-array": pd.period_range("2024Q1", periods=2, freq="Q").array,
        "interval-array": pd.arrays.IntervalArray.from_breaks([0, 1, 2], closed="left"),
        "range-index": pd.RangeIndex(0, 6, 2, name="row"),
        "str-index": pd.Index(["a", "b"], name="k"),
        "datetime-index": pd.date_range("2024-03-31", periods=2, freq="h", tz="Europe/Paris", name="t"),
        "timedelta-index": pd.timedelta_range("1 day", periods=3, freq="D"),
        "period-index": pd.period_range("2024-01", periods=3, freq="M"),
        "interval-index": pd.interval_range(0, 3),
        "categorical-index": pd.CategoricalIndex(["x", "y", "x"]),
        "multi-index": multi,
        "series": pd.Series([1.5, np.nan], index=["x", "y"], name="s"),
        "series-multi": pd.Series([1, 2, 3], index=multi, name=("a", 1)),
        "frame": frame,
        "frame-multi-columns": pd.DataFrame([[1, 2], [3, 4]], columns=pd.MultiIndex.from_tuples([("a", 1), ("a", 2)])),
        "frame-duplicate-columns": pd.DataFrame([[1, "x"]], columns=["a", "a"]),
        "frame-empty": pd.DataFrame(),
    }


def torch_values() -> dict[str, Any]:
    import torch

    indices, values = torch.tensor([[0, 1], [2, 0]]), torch.tensor([1.5, float("nan")])
    sparse = torch.sparse_coo_tensor(indices, values, (2, 3)).coalesce()
    torch.manual_seed(0)
    return {
        "float32": torch.tensor([[1.5, -0.0], [float("nan"), float("inf")]]),
        "bfloat16-grad": torch.tensor([1.0, -2.0], dtype=torch.bfloat16, requires_grad=True),
        "int64": torch.arange(6).reshape(2, 3),
        "bool": torch.tensor([True, False]),
        "complex64": torch.tensor([1 + 2j]),
        "float8": torch.tensor([0.5, 2.0]).to(torch.float8_e4m3fn),
        "uint16": torch.tensor([1, 65535], dtype=torch.uint16),
        "zero-d": torch.tensor(3),
        "sparse-coo": sparse,
        "sparse-uncoalesced": torch.sparse_coo_tensor(torch.tensor([[0, 0], [1, 1]]), torch.tensor([1.0, 2.0]), (2, 2)),
        "parameter": torch.nn.Parameter(torch.tensor([1.0, -2.0])),
        "size": torch.Size([2, 3]),
        "dtype": torch.float16,
        "device": torch.device("cuda:0"),
        "state-dict": torch.nn.Linear(2, 1).state_dict(),
    }


def scipy_values() -> dict[str, Any]:
    import numpy as np
    import scipy.sparse as sp

    dense = np.array([[0, 0, 1.5], [2.0, 0, 0]])
    out: dict[str, Any] = {}
    for fmt in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok"):
        out[f"{fmt}-matrix"] = getattr(sp, f"{fmt}_matrix")(dense)
        out[f"{fmt}-array"] = getattr(sp, f"{fmt}_array")(dense.astype(np.int32) if fmt == "coo" else dense)
    out["bsr-blocks"] = sp.bsr_matrix(np.arange(16.0).reshape(4, 4), blocksize=(2, 2))
    out["csr-1d"] = sp.csr_array(np.array([0, 1, 0, 2]))
    out["coo-3d"] = sp.coo_array(np.arange(8).reshape(2, 2, 2))
    out["csr-complex"] = sp.csr_matrix(np.array([[1j, 0]]))
    return out


def arrow_polars_values() -> dict[str, Any]:
    import polars as pl
    import pyarrow as pa

    table = pa.table({"a": [1, None, 3], "b": ["x", "y", None]}, metadata={"k": "v"})
    return {
        "table": table,
        "record-batch": table.to_batches()[0],
        "array": pa.array([1, None, 3]),
        "dictionary-array": pa.array(["a", "b", "a"]).dictionary_encode(),
        "struct-array": pa.array([{"x": 1, "y": [1.5]}]),
        "chunked-array": pa.chunked_array([[1, 2], [3]]),
        "polars-frame": pl.DataFrame({"a": [1, 2], "c": pl.Series(["x", "y"], dtype=pl.Categorical)}),
        "polars-series": pl.Series("s", [1.5, None]),
    }


def image_values() -> dict[str, Any]:
    from PIL import Image

    palette = Image.new("P", (2, 2))
    palette.putpalette([255, 0, 0, 0, 255, 0], rawmode="RGB")
    rgba_palette = Image.new("P", (1, 1))
    rgba_palette.putpalette([255, 0, 0, 128], rawmode="RGBA")
    return {
        "L-png": Image.frombytes("L", (2, 1), b"\x00\xff"),
        "RGB-png": Image.new("RGB", (2, 2), (1, 2, 3)),
        "RGBA-png": Image.new("RGBA", (1, 2), (1, 2, 3, 4)),
        "1-png": Image.new("1", (9, 1), 1),
        "I16-png": Image.new("I;16", (2, 1), 513),
        "P-png": palette,
        "P-rgba-raw": rgba_palette,
        "F-raw": Image.frombytes("F", (2, 1), b"\x00\x00\x80\x3f\x00\x00\x00\xc0"),
        "I-raw": Image.new("I", (1, 1), -7),
        "CMYK-raw": Image.new("CMYK", (1, 1), (1, 2, 3, 4)),
        "empty": Image.new("L", (0, 3)),
    }


def sklearn_values() -> dict[str, Any]:
    import numpy as np
    from sklearn.preprocessing import StandardScaler

    return {"standard-scaler": StandardScaler().fit(np.array([[0.0, 1.0], [1.0, 0.0]]))}


LEGACY = {
    "numpy-bare-list": {TYPE_KEY: "numpy.ndarray", VALUE_KEY: [[1, 2], [3, 4]]},
    "numpy-bare-scalar": [{TYPE_KEY: "numpy.float64", VALUE_KEY: 1.5}, {TYPE_KEY: "numpy.int32", VALUE_KEY: 7}],
    "pandas-series-0x": {TYPE_KEY: "pandas.Series", VALUE_KEY: {"_series_name": "s", "0": 1, "1": 2}},
    "pandas-series-category-0x": {
        TYPE_KEY: "pandas.Series",
        VALUE_KEY: {"a": "x", "b": "y", "_dtype": "category", "_categories": ["x", "y"], "_ordered": False},
    },
    "pandas-frame-records-0x": {TYPE_KEY: "pandas.DataFrame", VALUE_KEY: [{"a": 1, "b": "x"}, {"a": 2}]},
    "pandas-frame-rows-0x": {TYPE_KEY: "pandas.DataFrame", VALUE_KEY: [[1, 2], [3, 4]]},
    "pandas-frame-split-0x": {
        TYPE_KEY: "pandas.DataFrame",
        VALUE_KEY: {"index": [0, 1], "columns": ["a"], "data": [[1], [2]]},
    },
    "pandas-frame-dict-0x": {TYPE_KEY: "pandas.DataFrame", VALUE_KEY: {"r1": {"a": 1}, "r2": {"a": 2}}},
    "torch-0x": {
        TYPE_KEY: "torch.Tensor",
        VALUE_KEY: {
            "shape": [2],
            "dtype": "torch.float32",
            "data": [1.0, None],
            "device": "cpu",
            "requires_grad": False,
        },
    },
    "scipy-0x": {
        TYPE_KEY: "scipy.sparse",
        VALUE_KEY: {
            "format": "csr",
            "shape": [2, 2],
            "dtype": "float64",
            "data": [1.0, 2.0],
            "row": [0, 1],
            "col": [1, 0],
            "nnz": 2,
        },
    },
    "sklearn-model-0x": {TYPE_KEY: "sklearn.model", VALUE_KEY: {"class": "os.system", "params": {}}},
    "pydantic-reserved": {TYPE_KEY: "pydantic.BaseModel", VALUE_KEY: {"a": 1}},
    "unknown-tag": {TYPE_KEY: "no.such.Tag", VALUE_KEY: [1, {TYPE_KEY: "tuple", VALUE_KEY: [1]}]},
    "value-first": {VALUE_KEY: "2024-01-02T03:04:05", TYPE_KEY: "datetime"},
}
PLAIN = {
    "plain-dates-uuids": {
        "at": "2024-05-06T07:08:09.123456+00:00",
        "id": "6f1c2a9e-3b1d-4c8e-9f00-1234567890ab",
        "n": ["12", "-3.5e2", "1e400", "0x1"],
        "day": "2024-01-02 03:04",
    },
    "plain-records": [{"a": 1, "b": None, "c": [1.5, "x"]}],
}


def values() -> Iterator[tuple[str, Any]]:
    groups = {
        "py": python_values,
        "np": numpy_values,
        "pd": pandas_values,
        "torch": torch_values,
        "scipy": scipy_values,
        "arrow": arrow_polars_values,
        "img": image_values,
        "sk": sklearn_values,
    }
    for prefix, make in groups.items():
        for name, value in make().items():
            yield f"{prefix}-{name}", value


def seeds() -> Iterator[tuple[str, bytes]]:
    import datason

    for i, node in enumerate(doc_examples()):
        yield f"doc-{i:03d}", bytes([config_byte("default")]) + json.dumps(wrap_fragment(node)).encode()
    for name, node in {**LEGACY, **PLAIN}.items():
        yield f"json-{name}", bytes([config_byte("default")]) + json.dumps(node).encode()
        yield f"json-{name}", bytes([config_byte("api")]) + json.dumps(node).encode()
    for name, value in values():
        cfg_names = ["default", "readable-trusting"] if name.startswith("sk-") else SEED_CONFIGS
        for cfg_name in cfg_names:
            cfg = dict(fuzz_loads.CONFIGS)[cfg_name]
            try:
                text = datason.dumps(value, cfg)
            except datason.DatasonError:
                continue  # not writable under this config (a limit, a plain form that would lose data)
            if name.startswith("sk-"):
                text = fixed_zip_times(text)
            yield f"{name}-{cfg_name}", bytes([config_byte(cfg_name)]) + text.encode()


def fixed_zip_times(text: str) -> str:
    """The estimator document made reproducible: skops names members and nodes by ``id()`` and stamps the
    zip with the time; renumber the ids in order of appearance and fix the times."""
    import base64
    import zipfile

    doc = json.loads(text)
    payload = doc[VALUE_KEY]
    ids: dict[str, str] = {}

    def renumber(s: str) -> str:
        return re.sub(r"\b[0-9]{9,}\b", lambda m: ids.setdefault(m.group(), str(1000 + len(ids))), s)

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(payload["data"]))) as src, zipfile.ZipFile(out, "w") as dst:
        schema = renumber(src.read("schema.json").decode())
        for info in sorted(src.infolist(), key=lambda i: renumber(i.filename)):
            data = schema.encode() if info.filename == "schema.json" else src.read(info)
            fixed = zipfile.ZipInfo(renumber(info.filename), date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = info.compress_type
            dst.writestr(fixed, data)
    payload["data"] = base64.b64encode(out.getvalue()).decode()
    return json.dumps(doc, separators=(",", ":"))


# Member names of every payload in docs/wire-format.md, and values worth splicing in.
MEMBERS = """real imag start stop step items maxlen days seconds microseconds name iso tz tzname fold utcoffset
dtype shape data base64 fields names formats offsets itemsize titles aligned base kind levels codes categories
ordered unit tzlib freq closed storage mask left right value ordinal index columns layout size indices values
coalesced requires_grad array format coords indptr mode palette class params _series_name _dtype _categories
_ordered row col nnz device""".split()
WORDS = """<f8 >f8 <f4 <f2 <f16 <c8 <c16 <c32 |b1 |i1 |u1 <i2 >i4 <i8 <u8 <M8[ns] <M8[D] <M8 <m8[10ms] <m8 <U5 |S3
|V4 |O range index multi python pyarrow pyarrow_numpy str string object category datetime64 timedelta64 period
interval Int64 UInt8 Float32 boolean int64 float64 bool ns us ms s right left both neither UTC Europe/Paris
+05:30 h D M Q-DEC W-SUN min arrow-stream skops png raw RGB RGBA P L F I;16 1 sparse_coo bfloat16
float8_e4m3fn cpu cuda:0 nan -nan inf -inf NaT NaN -Infinity sNaN 1/3 1/0 AAAA A=== P1DT2H""".split()
JSON_TOKENS = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    '"',
    "true",
    "false",
    "null",
    "-0.0",
    "1e308",
    "1e400",
    "5e-324",
    "-9223372036854775808",
    "9223372036854775807",
    "18446744073709551616",
    '"\\u0000"',
    '"\\ud800"',
]


def dictionary_entries() -> Iterator[str]:
    """libFuzzer dictionary lines: tags, marker keys, member names, dtype and other payload words, JSON tokens."""
    from datason.registry import REGISTRY

    def quoted(word: str) -> str:
        return json.dumps(json.dumps(word))

    yield f"# written by fuzz/make_seeds.py: {len(REGISTRY._by_tag)} registered tags, payload words, JSON tokens"
    yield f"marker_type={json.dumps(json.dumps(TYPE_KEY) + ':')}"
    yield f"marker_value={json.dumps(json.dumps(VALUE_KEY) + ':')}"
    yield "envelope=" + json.dumps('{"' + TYPE_KEY + '":"tuple","' + VALUE_KEY + '":[]}')
    for i, tag in enumerate(sorted(REGISTRY._by_tag)):
        yield f"tag_{i}={quoted(tag)}"
    for i, member in enumerate(MEMBERS):
        yield f"member_{i}={json.dumps(json.dumps(member) + ':')}"
    for i, word in enumerate(WORDS):
        yield f"word_{i}={quoted(word)}"
    for i, token in enumerate(JSON_TOKENS):
        yield f"json_{i}={json.dumps(token)}"


def main() -> None:
    warnings.simplefilter("ignore")
    fuzz_loads.load()
    SEEDS.mkdir(exist_ok=True)
    for old in SEEDS.iterdir():
        old.unlink()
    written: set[bytes] = set()
    sizes = []
    for name, data in seeds():
        digest = hashlib.sha1(data).digest()
        if digest in written or len(data) > MAX_SEED_BYTES:
            continue
        written.add(digest)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        path = SEEDS / f"{safe}-{digest.hex()[:8]}"
        path.write_bytes(data)
        sizes.append(len(data))
    print(f"{len(sizes)} seeds, {sum(sizes)} bytes, largest {max(sizes)} bytes in {SEEDS}")
    entries = list(dictionary_entries())
    (HERE / "datason.dict").write_text("\n".join(entries) + "\n", encoding="utf-8")
    print(f"{len(entries) - 1} dictionary entries in {HERE / 'datason.dict'}")


if __name__ == "__main__":
    main()
