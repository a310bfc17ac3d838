"""The hostile-input corpus as data: what an attacker sends datason, and the exact outcome each input must have.

Every ``Case`` holds the raw document (bytes, built on demand by a small function so that 100,000-deep and
multi-megabyte inputs cost nothing until used), the preset it is decoded under, the entry point, and the
expected outcome: ``Raises(cls)`` (the exact exception class, with the path and type name where they are
fixed) or ``Returns(build)`` (the exact value, built lazily because some are NumPy or pandas objects).
Where today's codec does something else, the case states what is *right* and the test fails on purpose
(the report lists them).

Payloads plant ``SECRET`` in field values; error messages must never show it. They name ``TRIPWIRE_FILE``
(which must never be created) and the ``tripwire`` function and ``Tripwire`` class of this module (which
must never be called), as tags, class paths, skops types and pickle globals.

Policies the cases document (decided here, see docs/wire-format.md):

- duplicate keys: the last one wins, marker keys included, as in the ``json`` module, in both walkers; a value
  a later duplicate replaces never fails the document, and ``max_size`` holds for the object that is left;
- NaN/Infinity tokens: refused by ``loads`` in every preset; ``datason.json.loads`` is the standard module
  and accepts them, as documented (its other documented answers: ``JSONDecodeError`` for bytes that are not
  UTF-8, ``SecurityError`` for nesting beyond the stack);
- plain JSON, marker keys included, never builds anything but dicts and lists unless it is an envelope of a
  registered tag; a user dict holding the marker keys is written with the ``dict`` tag and reads back as data;
- ``max_string_length`` and ``max_depth`` hold for every string and container of the document, inside
  handler payloads too; a value whose decoded size is not backed by the document (a legacy sparse matrix
  or DataFrame built from a shape) counts against ``max_size`` before anything is allocated.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import decimal
import functools
import io
import json
import os
import pickle
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from json import JSONDecodeError
from pathlib import Path
from typing import Any

from datason import DeserializationError, SecurityError
from datason.config import (
    SerializationConfig,
    get_api_config,
    get_ml_config,
    get_performance_config,
    get_strict_config,
)

__all__ = [
    "ACCEPTED_KINDS",
    "CATEGORIES",
    "CORPUS",
    "PICKLES",
    "PRESETS",
    "SECRET",
    "TRIPWIRE_CALLS",
    "TRIPWIRE_FILE",
    "Case",
    "Raises",
    "Returns",
]

SECRET = "SECRET-7f3a"
TRIPWIRE_FILE = Path(tempfile.gettempdir()) / f"datason-hostile-tripwire-7f3a-{os.getpid()}"  # per xdist worker
TRIPWIRE_CALLS: list[tuple[Any, ...]] = []
T = 10**12  # a declared size far beyond any document
TYPE_KEY = "__datason_type__"
VALUE_KEY = "__datason_value__"
DEEP = 100_000

CATEGORIES = (
    "callable-tag",
    "pickle",
    "declared-size",
    "base64",
    "wrong-type",
    "deep-nesting",
    "long-string",
    "huge-number",
    "huge-container",
    "nan-token",
    "duplicate-keys",
    "invalid-unicode",
    "marker-keys",
)


def tripwire(*args: Any, **kwargs: Any) -> None:
    """Must never run: payloads name it as a tag, a class path and a pickle global."""
    TRIPWIRE_CALLS.append(args)
    TRIPWIRE_FILE.write_text("tripwire called")


class Tripwire:
    """Must never be built: skops schemas and tags name it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        tripwire("Tripwire.__init__", *args)

    def __setstate__(self, state: Any) -> None:
        tripwire("Tripwire.__setstate__", state)


_SMALL = 4096  # stand-in limit for presets whose real limits (512 MiB strings, 1e8 items) are too big to test
PRESETS: dict[str, SerializationConfig] = {
    "default": SerializationConfig(),
    "api": get_api_config(),
    "strict": get_strict_config(),
    "ml": get_ml_config(),
    "performance": get_performance_config(),
    "api-strict": get_api_config().replace(strict=True),
    "default-no-depth-limit": SerializationConfig(max_depth=10**7),
    "default-depth-64": SerializationConfig(max_depth=64),
    "strict-no-depth-limit": get_strict_config().replace(max_depth=10**7),
    "default-small": SerializationConfig(max_size=_SMALL, max_string_length=_SMALL),
    "ml-small": get_ml_config().replace(max_size=_SMALL, max_string_length=_SMALL),
    "performance-small": get_performance_config().replace(max_size=_SMALL, max_string_length=_SMALL),
    # Trusts names from modules that are never trusted: the reader must refuse them anyway.
    "strict-trusting-dangerous": get_strict_config().replace(
        trusted_types=("os.system", "builtins.eval", "subprocess.Popen", "posix.system", "builtins.exec")
    ),
    "default-trusting-linreg": SerializationConfig(trusted_types=("sklearn.linear_model._base.LinearRegression",)),
}
DECLARED_PRESETS = ("default", "api", "strict")  # ml and performance share the default's limits
ALL_PRESETS = ("default", "api", "strict", "ml", "performance")
ENTRIES = ("loads", "loads-text", "deserialize", "auto", "json")


@dataclasses.dataclass(frozen=True)
class Raises:
    """The decode raises exactly ``cls``; ``path`` and ``type_name`` are checked when given."""

    cls: type[BaseException]
    path: str | None = None
    type_name: str | None = None


@dataclasses.dataclass(frozen=True)
class Returns:
    """The decode returns exactly ``build()`` (same types and values, bit for bit)."""

    build: Callable[[], Any]


@dataclasses.dataclass(frozen=True)
class Case:
    """One hostile input: the raw document, how it is decoded, and what must happen."""

    id: str
    category: str
    preset: str
    entry: str
    make: Callable[[], bytes]
    expect: Raises | Returns
    tree: Callable[[], Any] | None = None  # for deserialize/auto when json.loads cannot build the tree (depth)
    bounded: bool = False  # the decode must stay under the memory bound (tracemalloc)
    roundtrip: bool = False  # the expected value must also survive dumps/loads (marker keys as data)

    @property
    def payload(self) -> bytes:
        """Exactly what the attacker sends."""
        return self.make()

    @property
    def config(self) -> SerializationConfig:
        return PRESETS[self.preset]


# --- helpers ---------------------------------------------------------------------------------------------------------


def env(tag: Any, payload: Any) -> dict[str, Any]:
    return {TYPE_KEY: tag, VALUE_KEY: payload}


def doc(obj: Any) -> Callable[[], bytes]:
    """A builder for the compact JSON text of ``obj`` (made on demand)."""
    return lambda: json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def raw(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _repeated(prefix: str, unit: str, count: int, suffix: str, sep: str = "") -> Callable[[], bytes]:
    """A builder for ``prefix + unit * count + suffix`` (units joined by ``sep``): megabytes only when used."""
    return lambda: (prefix + sep.join([unit] * count) + suffix).encode()


def _document_of(build: Callable[[], Any]) -> Callable[[], bytes]:
    """A builder for the JSON text of the value ``build`` makes."""
    return lambda: doc(build())()


def _ipc_document(tag: str, stream: Callable[[], bytes]) -> Callable[[], bytes]:
    """A builder for ``{"req": [0, <tag envelope of an Arrow IPC stream>]}``."""
    return lambda: doc(wrap(env(tag, {"format": "arrow-stream", "data": b64(stream())})))()


def wrap(value: Any) -> dict[str, Any]:
    """Hostile values sit at ``$.req[1]`` so that error paths are checked."""
    return {"req": [0, value]}


WRAP_PATH = "$.req[1]"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def same_value(value: Any) -> Returns:
    return Returns(lambda: value)


def raises(cls: type[BaseException], path: str | None = None, type_name: str | None = None) -> Raises:
    return Raises(cls, path, type_name)


def _np() -> Any:
    import numpy

    return numpy


# --- 1. tags naming importable callables ------------------------------------------------------------------------------

CALLABLE_TAGS = (
    "os.system",
    "os.popen",
    "os.execv",
    "os.remove",
    "posix.system",
    "subprocess.Popen",
    "subprocess.run",
    "subprocess.check_output",
    "builtins.eval",
    "builtins.exec",
    "builtins.__import__",
    "builtins.open",
    "builtins.compile",
    "builtins.getattr",
    "importlib.import_module",
    "pickle.loads",
    "marshal.loads",
    "ctypes.CDLL",
    "shutil.rmtree",
    "socket.create_connection",
    "runpy.run_path",
    "dill.loads",
    "joblib.load",
    "numpy.fromfile",
    "numpy.load",
    "numpy.loadtxt",
    "numpy.core.multiarray._reconstruct",
    "numpy.ctypeslib.load_library",
    "pandas.read_pickle",
    "pandas.read_csv",
    "pandas.eval",
    "pandas.io.pickle.read_pickle",
    "sklearn.model",
    "sklearn.utils._joblib.load",
    "sklearn.datasets.fetch_openml",
    "torch.load",
    "torch.jit.load",
    "torch._utils._rebuild_tensor_v2",
    "torch.hub.load",
    "scipy.io.loadmat",
    "PIL.Image.open",
    "pyarrow.parquet.read_table",
    "polars.read_parquet",
    "tests.hostile.corpus.tripwire",
    "tests.hostile.corpus.Tripwire",
    "datason.config.set_default_config",
)


def _command_payloads() -> list[Any]:
    target = str(TRIPWIRE_FILE)
    return [
        f"touch {target}; echo {SECRET}",
        ["touch", target, SECRET],
        {"args": ["sh", "-c", f"touch {target}"], "kwargs": {"shell": True}, "token": SECRET},
        f"__import__('os').system('touch {target}')  # {SECRET}",
        {"path": target, "mode": "w", "data": SECRET},
    ]


def callable_tag_cases() -> Iterator[Case]:
    payloads = _command_payloads()
    for i, tag in enumerate(CALLABLE_TAGS):
        payload = payloads[i % len(payloads)]
        value = wrap(env(tag, payload))
        ok = same_value(value)
        err = raises(DeserializationError, WRAP_PATH, tag)
        # every tag: kept as data by default, refused in strict mode, by loads and by deserialize
        combos: list[tuple[str, str, Raises | Returns]] = [
            ("default", "loads", ok),
            ("strict", "loads", err),
            ("default", "deserialize", ok),
        ]
        # the other presets and entry points, each on a rotating part of the tags
        combos.append(
            [
                ("api", "loads", ok),
                ("api-strict", "loads", err),
                ("ml", "loads", ok),
                ("default", "auto", ok),
                ("strict", "deserialize", err),
                ("performance", "loads", ok),
                ("default", "json", ok),
                ("default", "loads-text", ok),
                ("strict", "auto", err),
            ][i % 9]
        )
        for preset, entry, expect in combos:
            yield Case(f"callable-tag/{tag}/{preset}/{entry}", "callable-tag", preset, entry, doc(value), expect)
    # Class paths inside payloads of known tags: never imported, never honoured.
    target = str(TRIPWIRE_FILE)
    inside: list[tuple[str, Any, Raises | Returns]] = [
        (
            "sklearn.model-popen",
            env("sklearn.model", {"class": "subprocess.Popen", "params": {"args": ["touch", target], "t": SECRET}}),
            None,  # unknown tag: kept as a plain dict
        ),
        (
            "sklearn.model-tripwire",
            env("sklearn.model", {"class": "tests.hostile.corpus.Tripwire", "params": {"x": SECRET}}),
            None,
        ),
        (
            "sklearn.model-underscored",
            env("sklearn.model", {"_class": "os.system", "_params": {"command": f"touch {target}"}, "_fitted": True}),
            None,
        ),
        (
            "numpy-dtype-callable",
            env("numpy.ndarray", {"dtype": "numpy.load", "shape": [1], "data": [SECRET]}),
            raises(DeserializationError, WRAP_PATH, "numpy.ndarray"),
        ),
        (
            "numpy-dtype-object-name",
            env("numpy.ndarray", {"dtype": "object", "shape": [1], "data": [SECRET]}),
            raises(DeserializationError, WRAP_PATH, "numpy.ndarray"),
        ),
        (
            "numpy-struct-format-callable",
            env(
                "numpy.ndarray",
                {
                    "dtype": {"names": ["a"], "formats": ["os.system"], "offsets": [0], "itemsize": 8},
                    "shape": [1],
                    "fields": [{"dtype": "<f8", "shape": [1], "data": [1.0]}],
                },
            ),
            raises(DeserializationError, WRAP_PATH, "numpy.ndarray"),
        ),
        (
            "torch-legacy-dtype-load",
            env("torch.Tensor", {"shape": [1], "dtype": "torch.load", "data": [1.0]}),
            raises(DeserializationError, WRAP_PATH, "torch.Tensor"),
        ),
        ("torch-dtype-callable", env("torch.dtype", "load"), raises(DeserializationError, WRAP_PATH, "torch.dtype")),
        (
            "torch-device-injection",
            env("torch.device", f"cuda:0; touch {target}"),
            raises(DeserializationError, WRAP_PATH, "torch.device"),
        ),
        (
            "pandas-column-dtype-callable",
            env("pandas.array", {"dtype": "pandas.read_pickle", "data": [SECRET]}),
            raises(DeserializationError, WRAP_PATH, "pandas.array"),
        ),
        (
            "pandas-tzlib-os",
            env("pandas.Timestamp", {"value": 0, "unit": "ns", "tz": "UTC", "tzlib": "os"}),
            raises(DeserializationError, WRAP_PATH, "pandas.Timestamp"),
        ),
        (
            "pandas-freq-callable",
            env("pandas.Period", {"ordinal": 1, "freq": "os.system"}),
            raises(DeserializationError, WRAP_PATH, "pandas.Period"),
        ),
        (
            "pandas-tz-module",
            env("pandas.Timestamp", {"value": 0, "unit": "ns", "tz": "subprocess"}),
            raises(DeserializationError, WRAP_PATH, "pandas.Timestamp"),
        ),
        (
            "zoneinfo-module",
            env("zoneinfo.ZoneInfo", "os"),
            raises(DeserializationError, WRAP_PATH, "zoneinfo.ZoneInfo"),
        ),
        (
            "zoneinfo-path",
            env("zoneinfo.ZoneInfo", "../../../../etc/passwd"),
            raises(DeserializationError, WRAP_PATH, "zoneinfo.ZoneInfo"),
        ),
        (
            "datetime-tz-callable",
            env("datetime", {"iso": "2024-01-01T00:00:00", "tz": "subprocess.Popen"}),
            raises(DeserializationError, WRAP_PATH, "datetime"),
        ),
        (
            "pil-mode-callable",
            env("PIL.Image", {"mode": "os.system", "size": [1, 1], "format": "raw", "data": "AA=="}),
            raises(DeserializationError, WRAP_PATH, "PIL.Image"),
        ),
        (
            "pyarrow-format-pickle",
            env("pyarrow.Table", {"format": "pickle", "data": b64(pickle.dumps(SECRET))}),
            raises(DeserializationError, WRAP_PATH, "pyarrow.Table"),
        ),
        (
            "sklearn-estimator-class-popen",
            env("sklearn.estimator", {"format": "skops", "class": "subprocess.Popen", "data": b64(b"PK")}),
            raises(DeserializationError, WRAP_PATH, "sklearn.estimator"),
        ),
        (
            "sklearn-estimator-format-pickle",
            env("sklearn.estimator", {"format": "pickle", "class": "os.system", "data": b64(pickle.dumps(SECRET))}),
            raises(DeserializationError, WRAP_PATH, "sklearn.estimator"),
        ),
    ]
    for name, value, expect in inside:
        wrapped = wrap(value)
        for preset in ("default", "strict"):
            if expect is None:
                outcome: Raises | Returns = (
                    same_value(wrapped) if preset == "default" else raises(DeserializationError, WRAP_PATH)
                )
            else:
                outcome = expect
            yield Case(
                f"callable-tag/inside/{name}/{preset}/loads", "callable-tag", preset, "loads", doc(wrapped), outcome
            )
    # skops schemas naming dangerous types (and this module's tripwire) as the objects to build.
    for name, zipped, claimed, preset, expect in _skops_cases():
        value = wrap(env("sklearn.estimator", {"format": "skops", "class": claimed, "data": b64(zipped)}))
        yield Case(f"callable-tag/skops/{name}/{preset}/loads", "callable-tag", preset, "loads", doc(value), expect)


def _skops_zip(schema: dict[str, Any], files: tuple[tuple[str, bytes], ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, data in files:
            archive.writestr(name, data)
    return buf.getvalue()


def _node(loader: str, module: str, cls: str, **extra: Any) -> dict[str, Any]:
    return {"__class__": cls, "__module__": module, "__loader__": loader, "__id__": 1, **extra}


def _top(node: dict[str, Any]) -> dict[str, Any]:
    return {**node, "protocol": 2, "_skops_version": "0.16.0"}


def _empty_state() -> dict[str, Any]:
    return _node(
        "DictNode", "builtins", "dict", content={}, key_types=_node("ListNode", "builtins", "list", content=[])
    )


def _skops_cases() -> Iterator[tuple[str, bytes, str, str, Raises]]:
    never = raises(SecurityError, WRAP_PATH, "sklearn.estimator")
    gadgets = [
        ("function-os-system", _node("FunctionNode", "os", "system", content={"module": "os", "attr": "system"})),
        ("function-eval", _node("FunctionNode", "builtins", "eval", content={"module": "builtins", "attr": "eval"})),
        ("object-popen", _node("ObjectNode", "subprocess", "Popen", content=_empty_state())),
        ("object-posix-system", _node("ObjectNode", "posix", "system", content=_empty_state())),
    ]
    for name, node in gadgets:
        claimed = f"{node['__module__']}.{node['__class__']}"
        for preset in ("default", "strict-trusting-dangerous"):
            yield name, _skops_zip(_top(node)), claimed, preset, never
    tripwire_node = _node("ObjectNode", "tests.hostile.corpus", "Tripwire", content=_empty_state())
    for preset in ("default", "strict-trusting-dangerous"):
        yield "object-tripwire", _skops_zip(_top(tripwire_node)), "tests.hostile.corpus.Tripwire", preset, never
    # A nested estimator that builds the tripwire: the top class is trusted, the inner one is not.
    linreg = "sklearn.linear_model._base.LinearRegression"
    nested = _node(
        "ObjectNode",
        "sklearn.linear_model._base",
        "LinearRegression",
        content=_node(
            "DictNode",
            "builtins",
            "dict",
            content={"payload": tripwire_node},
            key_types=_node("ListNode", "builtins", "list", content=[_node("TypeNode", "builtins", "str")]),
        ),
    )
    yield "nested-tripwire", _skops_zip(_top(nested)), linreg, "default-trusting-linreg", never


# --- 2. pickle and dill bytes inside payloads -----------------------------------------------------------------------


class _Reduce:
    """Pickles as a call of ``fn(*args)``; pickling never calls it."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.fn, self.args)


def _pickles() -> dict[str, bytes]:
    command = f"touch {TRIPWIRE_FILE}  # {SECRET}"
    blobs = {f"p{p}-os-system": pickle.dumps(_Reduce(os.system, (command,)), protocol=p) for p in range(6)}
    blobs["p2-tripwire"] = b"\x80\x02ctests.hostile.corpus\ntripwire\nX" + struct.pack("<I", len(SECRET))
    blobs["p2-tripwire"] += SECRET.encode() + b"\x85R."
    blobs["p0-tripwire"] = b"ctests.hostile.corpus\ntripwire\n(V" + SECRET.encode() + b"\ntR."
    blobs["p4-eval"] = pickle.dumps(_Reduce(eval, (f"__import__('os').system('{command}')",)), protocol=4)
    # dill's own format: globals from dill._dill that rebuild code objects.
    blobs["dill"] = (
        b"\x80\x02cdill._dill\n_create_function\nX" + struct.pack("<I", len(SECRET)) + SECRET.encode() + b"\x85R."
    )
    # What torch.save writes: a zip holding data.pkl (a pickle naming torch's tensor rebuilder).
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n)R." + SECRET.encode())
        archive.writestr("archive/version", b"3\n")
    blobs["torch-save-zip"] = buf.getvalue()
    return blobs


PICKLES = _pickles()


def _pickle_carriers(blob: bytes) -> list[tuple[str, Any, Raises | Returns]]:
    """(name, JSON value carrying ``blob``, expected) for every bytes-carrying payload."""
    n = len(blob)
    text = b64(blob)
    np = _np
    series_index = {"kind": "range", "start": 0, "stop": 1, "step": 1, "name": None}

    def image() -> Any:
        from PIL import Image

        return Image.frombytes("L", (n, 1), blob)

    def tensor() -> Any:
        import torch

        return torch.frombuffer(bytearray(blob), dtype=torch.uint8)

    def series() -> Any:
        import pandas as pd

        values = np().empty(1, dtype=object)
        values[0] = blob
        return pd.Series(values, index=pd.RangeIndex(1), dtype=object, name=None)

    def object_array() -> Any:
        values = np().empty(1, dtype=object)
        values[0] = blob
        return values

    return [
        ("bytes", env("bytes", text), same_value(blob)),
        ("bytearray", env("bytearray", text), same_value(bytearray(blob))),
        ("latin1-string", blob.decode("latin-1"), same_value(blob.decode("latin-1"))),
        (
            "numpy-object-base64",
            env("numpy.ndarray", {"dtype": "|O", "shape": [n], "base64": text}),
            raises(DeserializationError, WRAP_PATH, "numpy.ndarray"),
        ),
        (
            "numpy-u1-base64",
            env("numpy.ndarray", {"dtype": "|u1", "shape": [n], "base64": text}),
            Returns(lambda: np().frombuffer(blob, dtype=np().uint8)),
        ),
        (
            "numpy-void-base64",
            env("numpy.ndarray", {"dtype": f"|V{n}", "shape": [], "base64": text}),
            Returns(lambda: np().frombuffer(blob, dtype=f"V{n}").reshape(())),
        ),
        (
            "numpy-object-data-bytes",
            env("numpy.ndarray", {"dtype": "|O", "shape": [1], "data": [env("bytes", text)]}),
            Returns(object_array),
        ),
        ("numpy-bytes-scalar", env("numpy.bytes_", text), Returns(lambda: np().bytes_(blob))),
        (
            "pil-png",
            env("PIL.Image", {"mode": "L", "size": [1, 1], "format": "png", "data": text}),
            raises(DeserializationError, WRAP_PATH, "PIL.Image"),
        ),
        ("pil-raw", env("PIL.Image", {"mode": "L", "size": [n, 1], "format": "raw", "data": text}), Returns(image)),
        (
            "sklearn-skops",
            env(
                "sklearn.estimator",
                {"format": "skops", "class": "sklearn.linear_model._base.LinearRegression", "data": text},
            ),
            raises(DeserializationError, WRAP_PATH, "sklearn.estimator"),
        ),
        (
            "torch-array-u1",
            env("torch.Tensor", {"dtype": "uint8", "array": {"dtype": "|u1", "shape": [n], "base64": text}}),
            Returns(tensor),
        ),
        ("torch-payload-string", env("torch.Tensor", text), raises(DeserializationError, WRAP_PATH, "torch.Tensor")),
        (
            "torch-legacy-data-string",
            env("torch.Tensor", {"shape": [n], "dtype": "torch.uint8", "data": text}),
            raises(DeserializationError, WRAP_PATH, "torch.Tensor"),
        ),
        (
            "pyarrow-table",
            env("pyarrow.Table", {"format": "arrow-stream", "data": text}),
            raises(DeserializationError, WRAP_PATH, "pyarrow.Table"),
        ),
        (
            "polars-frame",
            env("polars.DataFrame", {"format": "arrow-stream", "data": text}),
            raises(DeserializationError, WRAP_PATH, "polars.DataFrame"),
        ),
        (
            "pandas-object-column",
            env(
                "pandas.Series",
                {"name": None, "index": series_index, "data": {"dtype": "object", "data": [env("bytes", text)]}},
            ),
            Returns(series),
        ),
    ]


def pickle_cases() -> Iterator[Case]:
    for name, blob in PICKLES.items():
        for preset in ("default",):
            yield Case(
                f"pickle/{name}/raw-document/{preset}/loads",
                "pickle",
                preset,
                "loads",
                raw(blob),
                raises(DeserializationError),
            )
        # datason.json: JSONDecodeError for text and for bytes that are not UTF-8 (documented), never unpickled
        yield Case(f"pickle/{name}/raw-document/json", "pickle", "default", "json", raw(blob), raises(JSONDecodeError))
        for carrier, value, expect in _pickle_carriers(blob):
            wrapped = wrap(value)
            if isinstance(expect, Returns):
                build = expect.build
                expect = Returns(lambda build=build: wrap(build()))
            yield Case(f"pickle/{name}/{carrier}/default/loads", "pickle", "default", "loads", doc(wrapped), expect)
        carried = wrap(env("bytes", b64(blob)))
        for preset, entry in (("strict", "loads"), ("default", "deserialize")):
            yield Case(
                f"pickle/{name}/bytes/{preset}/{entry}",
                "pickle",
                preset,
                entry,
                doc(carried),
                Returns(lambda blob=blob: wrap(blob)),
            )
    # A skops zip whose array file is an object-dtype .npy (a pickle): loaded with allow_pickle off.
    npy = io.BytesIO()
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += " " * (63 - len(header) % 64) + "\n"
    npy.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + PICKLES["p2-tripwire"])
    state = _node(
        "DictNode",
        "builtins",
        "dict",
        content={"coef_": _node("NdArrayNode", "numpy", "ndarray", type="numpy", file="evil.npy")},
        key_types=_node("ListNode", "builtins", "list", content=[_node("TypeNode", "builtins", "str")]),
    )
    schema = _top(_node("ObjectNode", "sklearn.linear_model._base", "LinearRegression", content=state))
    zipped = _skops_zip(schema, (("evil.npy", npy.getvalue()),))
    value = wrap(
        env(
            "sklearn.estimator",
            {"format": "skops", "class": "sklearn.linear_model._base.LinearRegression", "data": b64(zipped)},
        )
    )
    yield Case(
        "pickle/skops-object-npy/default-trusting-linreg/loads",
        "pickle",
        "default-trusting-linreg",
        "loads",
        doc(value),
        raises(DeserializationError, WRAP_PATH, "sklearn.estimator"),
    )
    yield Case(
        "pickle/skops-object-npy/default/loads",
        "pickle",
        "default",
        "loads",
        doc(value),
        raises(SecurityError, WRAP_PATH, "sklearn.estimator"),
    )
    # An Arrow IPC stream whose field says it is PyArrow's pickled extension type: kept as metadata, never unpickled.
    yield from _arrow_extension_cases()


def _arrow_stream(table: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches():
            writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def _pickled_extension_table() -> Any:
    import pyarrow as pa

    metadata = {b"ARROW:extension:name": b"arrow.py_extension_type", b"ARROW:extension:metadata": PICKLES["p4-eval"]}
    field = pa.field("", pa.int64(), metadata=metadata)
    return pa.table([pa.array([1, 2])], schema=pa.schema([field]))


def _arrow_extension_cases() -> Iterator[Case]:
    def payload(tag: str) -> Callable[[], bytes]:
        return lambda: doc(
            wrap(env(tag, {"format": "arrow-stream", "data": b64(_arrow_stream(_pickled_extension_table()))}))
        )()

    yield Case(
        "pickle/arrow-pickled-extension/pyarrow.Table/default/loads",
        "pickle",
        "default",
        "loads",
        payload("pyarrow.Table"),
        Returns(lambda: wrap(_pickled_extension_table())),
    )
    yield Case(
        "pickle/arrow-pickled-extension/polars.DataFrame/default/loads",
        "pickle",
        "default",
        "loads",
        payload("polars.DataFrame"),
        raises(DeserializationError, WRAP_PATH, "polars.DataFrame"),
    )


# --- 3. declared shapes and sizes far beyond the data -----------------------------------------------------------------


def _arr(dtype: Any, shape: list[int], body: str = "data", value: Any = None) -> dict[str, Any]:
    return {"dtype": dtype, "shape": shape, body: [] if value is None else value}


def _null_column_stream(rows: int) -> bytes:
    """An Arrow IPC stream of one null-typed column that claims ``rows`` rows (null columns have no buffers)."""
    import pyarrow as pa

    marker = 12345
    data = _arrow_stream(pa.table({"": pa.nulls(marker)}))
    return data.replace(struct.pack("<q", marker), struct.pack("<q", rows))


def _ree_stream() -> bytes:
    """A run-end encoded column (3 rows from 1 value): valid Arrow that Polars cannot read."""
    import pyarrow as pa

    ree = pa.RunEndEncodedArray.from_arrays(pa.array([3], pa.int32()), pa.array([1.5]))
    return _arrow_stream(pa.table({"": ree}))


def _png(width: int, height: int, idat: bytes | None = None) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\0\0") if idat is None else idat
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def declared_size_cases() -> Iterator[Case]:
    sec = SecurityError
    des = DeserializationError
    nd = "numpy.ndarray"
    empty_i8 = _arr("<i8", [0])
    index_range = {"kind": "range", "start": 0, "stop": T, "step": 1, "name": None}
    small_range = {"kind": "range", "start": 0, "stop": 1, "step": 1, "name": None}
    int_column = {"dtype": "int64", "data": empty_i8}
    items: list[tuple[str, Any, Raises | Returns, tuple[str, ...]]] = [
        ("numpy-shape-data", env(nd, _arr("<f8", [T])), raises(sec, WRAP_PATH, nd), DECLARED_PRESETS),
        ("numpy-shape-base64", env(nd, _arr("<f8", [T], "base64", "")), raises(sec, WRAP_PATH, nd), DECLARED_PRESETS),
        ("numpy-shape-2d", env(nd, _arr("|u1", [T, T])), raises(sec, WRAP_PATH, nd), DECLARED_PRESETS),
        ("numpy-shape-zero-times-huge", env(nd, _arr("<f8", [0, T])), raises(sec, WRAP_PATH, nd), DECLARED_PRESETS),
        ("numpy-shape-64-dims", env(nd, _arr("|u1", [2] * 64)), raises(sec, WRAP_PATH, nd), DECLARED_PRESETS),
        ("numpy-shape-65-dims", env(nd, _arr("|u1", [1] * 65)), raises(des, WRAP_PATH, nd), ("default",)),
        ("numpy-shape-negative", env(nd, _arr("|u1", [-1])), raises(des, WRAP_PATH, nd), ("default",)),
        ("numpy-shape-float", env(nd, _arr("|u1", [1e12])), raises(des, WRAP_PATH, nd), ("default",)),
        ("numpy-shape-bool", env(nd, _arr("|u1", [True])), raises(des, WRAP_PATH, nd), ("default",)),
        ("numpy-object-shape", env(nd, _arr("|O", [T])), raises(sec, WRAP_PATH, nd), DECLARED_PRESETS),
        (
            "numpy-unicode-width",
            env(nd, _arr("<U9999999999", [1], "data", [""])),
            raises(des, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        (
            "numpy-unicode-width-13-digits",
            env(nd, _arr("<U1000000000000", [1], "data", [""])),
            raises(des, WRAP_PATH, nd),
            ("default",),
        ),
        (
            "numpy-bytes-width",
            env(nd, _arr("|S9999999999", [1], "data", [""])),
            raises(des, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        (
            "numpy-void-width",
            env(nd, _arr("|V9999999999", [1], "base64", "")),
            raises(des, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        (
            "numpy-struct-itemsize",
            env(
                nd,
                {
                    "dtype": {"names": ["a"], "formats": ["<f8"], "offsets": [0], "itemsize": T},
                    "shape": [1],
                    "fields": [_arr("<f8", [1], "data", [1.0])],
                },
            ),
            raises(des, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        (
            "numpy-struct-subarray",
            env(
                nd,
                {
                    "dtype": {
                        "names": ["a"],
                        "formats": [{"base": "<f8", "shape": [T]}],
                        "offsets": [0],
                        "itemsize": 8,
                    },
                    "shape": [1],
                    "fields": [],
                },
            ),
            raises(sec, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        ("numpy-scalar-0d-shape", env("numpy.float64", _arr("<f8", [T])), raises(sec, WRAP_PATH, nd), DECLARED_PRESETS),
        # readable data of a numeric dtype holding strings: refused before NumPy infers a huge unicode array
        (
            "numpy-float-data-long-strings",
            env(nd, {"dtype": "<f8", "shape": [100_000], "data": ["x" * 1_000_000] + [""] * 99_999}),
            raises(des, WRAP_PATH, nd),
            ("strict",),
        ),
        (
            "numpy-int-data-long-strings-moderate",
            env(nd, {"dtype": "<i8", "shape": [5001], "data": ["x" * 3500] + [""] * 5000}),
            raises(des, WRAP_PATH, nd),
            ("strict",),
        ),
        # 0.x bare lists: NumPy infers the dtype, so the inferred array's size is the declared size to check
        (
            "numpy-legacy-unicode-amplification",
            env(nd, ["x" * 1_000_000] + [""] * 99_999),
            raises(sec, WRAP_PATH, nd),
            ("strict",),
        ),
        (
            "numpy-legacy-unicode-amplification-moderate",
            env(nd, ["x" * 3500] + [""] * 5000),
            raises(sec, WRAP_PATH, nd),
            ("strict",),
        ),
        (
            "torch-array-shape",
            env("torch.Tensor", {"dtype": "float32", "array": _arr("<f4", [T])}),
            raises(sec, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        (
            "torch-parameter-shape",
            env("torch.nn.Parameter", {"dtype": "float32", "array": _arr("<f4", [T]), "requires_grad": True}),
            raises(sec, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        (
            "torch-legacy-shape",
            env("torch.Tensor", {"shape": [T], "dtype": "torch.float32", "data": []}),
            raises(sec, WRAP_PATH, "torch.Tensor"),
            DECLARED_PRESETS,
        ),
        (
            "torch-sparse-indices-shape",
            env(
                "torch.Tensor",
                {
                    "layout": "sparse_coo",
                    "dtype": "float32",
                    "size": [2, 2],
                    "indices": _arr("<i8", [2, T]),
                    "values": _arr("<f4", [0]),
                    "coalesced": True,
                },
            ),
            raises(sec, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        (
            "torch-sparse-size-overflow",
            env(
                "torch.Tensor",
                {
                    "layout": "sparse_coo",
                    "dtype": "float32",
                    "size": [T, T],
                    "indices": _arr("<i8", [2, 0], "data", [[], []]),
                    "values": _arr("<f4", [0]),
                    "coalesced": True,
                },
            ),
            raises(des, WRAP_PATH, "torch.Tensor"),
            ("default",),
        ),
        ("torch-size-huge", env("torch.Size", [T, T]), Returns(lambda: _torch_size([T, T])), ("default",)),
        (
            "scipy-csr-shape",
            env(
                "scipy.sparse.csr_matrix",
                {
                    "shape": [T, T],
                    "data": _arr("<f8", [0]),
                    "indices": empty_i8,
                    "indptr": _arr("<i8", [1], "data", [0]),
                },
            ),
            raises(des, WRAP_PATH, "scipy.sparse.csr_matrix"),
            DECLARED_PRESETS,
        ),
        (
            "scipy-csr-indptr-declared",
            env(
                "scipy.sparse.csr_matrix",
                {"shape": [2, 2], "data": _arr("<f8", [0]), "indices": empty_i8, "indptr": _arr("<i8", [T])},
            ),
            raises(sec, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        (
            "scipy-coo-coords-declared",
            env("scipy.sparse.coo_array", {"shape": [2, 2], "data": _arr("<f8", [T]), "coords": [empty_i8, empty_i8]}),
            raises(sec, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        (
            "scipy-bsr-blocks-declared",
            env(
                "scipy.sparse.bsr_matrix",
                {"shape": [2, 2], "data": _arr("<f8", [1, T, T]), "indices": empty_i8, "indptr": _arr("<i8", [1])},
            ),
            raises(sec, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        (
            "scipy-dia-data-declared",
            env("scipy.sparse.dia_matrix", {"shape": [2, 2], "data": _arr("<f8", [T, 1]), "offsets": empty_i8}),
            raises(sec, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        # A sparse value's logical shape costs nothing: no stored entries, no allocation.
        (
            "scipy-coo-logical-shape",
            env("scipy.sparse.coo_matrix", {"shape": [T, T], "data": _arr("<f8", [0]), "coords": [empty_i8, empty_i8]}),
            Returns(lambda: _sparse("coo_matrix", (T, T))),
            ("default", "strict"),
        ),
        (
            "scipy-dia-logical-shape",
            env("scipy.sparse.dia_matrix", {"shape": [T, T], "data": _arr("<f8", [0, 0]), "offsets": empty_i8}),
            Returns(lambda: _sparse("dia_matrix", (T, T))),
            ("default",),
        ),
        (
            "scipy-legacy-nnz",
            env(
                "scipy.sparse",
                {"format": "coo", "shape": [2, 2], "dtype": "float64", "data": [], "row": [], "col": [], "nnz": T},
            ),
            raises(des, WRAP_PATH, "scipy.sparse"),
            ("default",),
        ),
        (
            "pandas-range-index",
            env("pandas.Index", index_range),
            raises(sec, WRAP_PATH, "pandas.Index"),
            DECLARED_PRESETS,
        ),
        (
            "pandas-range-index-negative-step",
            env("pandas.Index", {"kind": "range", "start": T, "stop": -T, "step": -1, "name": None}),
            raises(sec, WRAP_PATH, "pandas.Index"),
            ("default",),
        ),
        (
            "pandas-frame-range-index",
            env("pandas.DataFrame", {"index": index_range, "columns": {**small_range, "stop": 0}, "data": []}),
            raises(sec, WRAP_PATH, "pandas.DataFrame"),
            DECLARED_PRESETS,
        ),
        (
            "pandas-series-range-index",
            env("pandas.Series", {"name": None, "index": index_range, "data": int_column}),
            raises(sec, WRAP_PATH, "pandas.Series"),
            DECLARED_PRESETS,
        ),
        (
            "pandas-categorical-codes",
            env(
                "pandas.Categorical",
                {"dtype": "category", "ordered": False, "categories": small_range, "codes": _arr("|i1", [T])},
            ),
            raises(sec, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        (
            "pandas-multiindex-codes",
            env("pandas.Index", {"kind": "multi", "levels": [small_range], "codes": [_arr("|i1", [T])]}),
            raises(sec, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        (
            "pandas-column-data",
            env("pandas.array", {"dtype": "float64", "data": _arr("<f8", [T])}),
            raises(sec, WRAP_PATH, nd),
            DECLARED_PRESETS,
        ),
        (
            "pil-size",
            env("PIL.Image", {"mode": "L", "size": [T, T], "format": "raw", "data": ""}),
            raises(sec, WRAP_PATH, "PIL.Image"),
            DECLARED_PRESETS,
        ),
        (
            "pil-width",
            env("PIL.Image", {"mode": "RGBA", "size": [T, 1], "format": "raw", "data": ""}),
            raises(sec, WRAP_PATH, "PIL.Image"),
            DECLARED_PRESETS,
        ),
        (
            "pil-png-declared",
            env("PIL.Image", {"mode": "L", "size": [T, 1], "format": "png", "data": b64(_png(1, 1))}),
            raises(sec, WRAP_PATH, "PIL.Image"),
            DECLARED_PRESETS,
        ),
        # the PNG's own header claims a huge image: refused before Pillow inflates anything
        (
            "pil-png-header-lies",
            env("PIL.Image", {"mode": "L", "size": [1, 1], "format": "png", "data": b64(_png(100_000, 100_000))}),
            raises(des, WRAP_PATH, "PIL.Image"),
            DECLARED_PRESETS,
        ),
        (
            "pil-png-bomb-strict",
            env(
                "PIL.Image", {"mode": "L", "size": [20_000, 20_000], "format": "png", "data": b64(_png(20_000, 20_000))}
            ),
            raises(sec, WRAP_PATH, "PIL.Image"),
            ("strict", "api"),
        ),
        (
            "deque-maxlen",
            env("collections.deque", {"items": [], "maxlen": T}),
            same_value(collections.deque(maxlen=T)),
            ("default",),
        ),
        (
            "range-stop",
            env("range", {"start": 0, "stop": 10**100, "step": 1}),
            same_value(range(10**100)),
            ("default", "strict"),
        ),
        (
            "timedelta-days",
            env("timedelta", {"days": T, "seconds": 0, "microseconds": 0}),
            raises(des, WRAP_PATH, "timedelta"),
            ("default",),
        ),
        (
            "decimal-exponent",
            env("decimal.Decimal", "1E+999999999999999999"),
            same_value(decimal.Decimal("1E+999999999999999999")),
            ("default",),
        ),
    ]
    for name, value, expect, presets in items:
        wrapped = wrap(value)
        if isinstance(expect, Returns):
            build = expect.build
            expect = Returns(lambda build=build: wrap(build()))
        for preset in presets:
            yield Case(
                f"declared-size/{name}/{preset}/loads",
                "declared-size",
                preset,
                "loads",
                doc(wrapped),
                expect,
                bounded=True,
            )
    # Arrow / Polars streams whose record batch claims 1e12 rows of a buffer-less null column.
    for tag in (
        "pyarrow.Table",
        "pyarrow.Array",
        "pyarrow.RecordBatch",
        "pyarrow.ChunkedArray",
        "polars.DataFrame",
        "polars.Series",
    ):
        for rows, label in ((T, "1e12"), (10**8 + 1, "max-size-plus-one")):
            yield Case(
                f"declared-size/{tag}-null-rows-{label}/default/loads",
                "declared-size",
                "default",
                "loads",
                _ipc_document(tag, functools.partial(_null_column_stream, rows)),
                # Polars refuses 1e12 rows itself (a Rust panic, before allocating): an invalid stream to datason
                raises(des if tag.startswith("polars") and rows == T else sec, WRAP_PATH, tag),
                bounded=True,
            )
    for tag in ("polars.DataFrame", "polars.Series"):
        yield Case(
            f"declared-size/{tag}-run-end-encoded/default/loads",
            "declared-size",
            "default",
            "loads",
            _ipc_document(tag, _ree_stream),
            raises(des, WRAP_PATH, tag),
        )
    # datason 0.x sparse matrices rebuilt from a shape: the rebuilt format's per-row arrays are not in the document.
    for fmt in ("csr", "csc", "lil", "bsr"):
        value = wrap(
            env("scipy.sparse", {"format": fmt, "shape": [T, T], "dtype": "float64", "data": [], "row": [], "col": []})
        )
        for preset in ("default", "strict"):
            yield Case(
                f"declared-size/scipy-legacy-{fmt}-shape/{preset}/loads",
                "declared-size",
                preset,
                "loads",
                doc(value),
                raises(sec, WRAP_PATH, "scipy.sparse"),
                bounded=True,
            )
        rows = wrap(
            env(
                "scipy.sparse",
                {"format": fmt, "shape": [2 * _SMALL, 2], "dtype": "float64", "data": [], "row": [], "col": []},
            )
        )
        yield Case(
            f"declared-size/scipy-legacy-{fmt}-rows-over-max-size/default-small/loads",
            "declared-size",
            "default-small",
            "loads",
            doc(rows),
            raises(sec, WRAP_PATH, "scipy.sparse"),
            bounded=True,
        )
    for fmt in ("coo", "dok", "dia"):
        value = wrap(
            env("scipy.sparse", {"format": fmt, "shape": [T, T], "dtype": "float64", "data": [], "row": [], "col": []})
        )
        yield Case(
            f"declared-size/scipy-legacy-{fmt}-logical-shape/default/loads",
            "declared-size",
            "default",
            "loads",
            doc(value),
            Returns(lambda fmt=fmt: wrap(_sparse(f"{fmt}_matrix", (T, T)))),
            bounded=True,
        )
    # datason 0.x DataFrames whose cells are not in the document: a split layout broadcasting one value, records
    # with disjoint keys, an index-oriented dict of disjoint rows: 1.2e6 cells from a few kB.
    n = 1100  # 1.21e6 cells: over the strict and api presets' max_size of 1e6
    labels = list(range(n))
    legacy_frames = {
        "split-scalar": {"index": labels, "columns": labels, "data": 0},
        "split-null": {"index": labels, "columns": labels, "data": None},
        "split-empty": {"index": labels, "columns": labels, "data": []},
        "records-disjoint": [{f"c{i}": i} for i in range(n)],
        "index-orient-disjoint": {f"r{i}": {f"c{i}": i} for i in range(n)},
    }
    for i, (name, payload) in enumerate(legacy_frames.items()):
        for preset in ("strict", "api")[: 1 + (i == 0)]:
            yield Case(
                f"declared-size/pandas-legacy-frame-{name}/{preset}/loads",
                "declared-size",
                preset,
                "loads",
                doc(wrap(env("pandas.DataFrame", payload))),
                raises(sec, WRAP_PATH, "pandas.DataFrame"),
                bounded=True,
            )


def _torch_size(dims: list[int]) -> Any:
    import torch

    return torch.Size(dims)


def _sparse(cls: str, shape: tuple[int, int]) -> Any:
    import scipy.sparse

    return getattr(scipy.sparse, cls)(shape, dtype="float64")


# --- 4. base64: malformed, or not the declared size -------------------------------------------------------------------


def _malformed(length: int) -> dict[str, str]:
    """Strings of exactly ``length`` characters (a multiple of 4) that are not standard padded base64."""
    fill = max(length, 8)
    return {
        "bang": "!" * fill,
        "url-safe": ("-_" * fill)[:fill],
        "inner-padding": "A" * (fill - 6) + "==AA==",
        "too-much-padding": "A" * (fill - 4) + "====",
        "whitespace": "A" * (fill - 4) + " AA\n",
        "non-ascii": "\u00c0" * fill,
        "secret": (SECRET + "!" * fill)[:fill],
    }


_UNSIZED_MALFORMED = {
    **_malformed(8),
    "unpadded": "AAA",
    "stray-pad-after-quantum": "AAAA=",
    "lone-pad": "A===",
    "data-after-padding": "AA==AA==",
    "only-padding": "====",
}


def _base64_carriers() -> list[tuple[str, Callable[[str], Any], int, str | None]]:
    """(name, payload around a base64 text, decoded size it must have or -1, type name of the error)."""
    nd = "numpy.ndarray"
    index = {"kind": "range", "start": 0, "stop": 2, "step": 1, "name": None}
    return [
        ("bytes", lambda t: env("bytes", t), -1, "bytes"),
        ("bytearray", lambda t: env("bytearray", t), -1, "bytearray"),
        ("numpy-base64-body", lambda t: env(nd, {"dtype": "<f8", "shape": [2], "base64": t}), 16, nd),
        ("numpy-S-item", lambda t: env(nd, {"dtype": "|S6", "shape": [1], "data": [t]}), -1, nd),
        ("numpy-V-item", lambda t: env(nd, {"dtype": "|V6", "shape": [1], "data": [t]}), 6, nd),
        ("numpy-bytes-scalar", lambda t: env("numpy.bytes_", t), -1, "numpy.bytes_"),
        ("numpy-longdouble-0d", lambda t: env("numpy.longdouble", {"dtype": "<f16", "shape": [], "base64": t}), 16, nd),
        (
            "pandas-column",
            lambda t: env("pandas.array", {"dtype": "int64", "data": {"dtype": "<i8", "shape": [2], "base64": t}}),
            16,
            nd,
        ),
        (
            "pandas-frame-column",
            lambda t: env(
                "pandas.DataFrame",
                {
                    "index": index,
                    "columns": {"kind": "range", "start": 0, "stop": 1, "step": 1, "name": None},
                    "data": [{"dtype": "float64", "data": {"dtype": "<f8", "shape": [2], "base64": t}}],
                },
            ),
            16,
            nd,
        ),
        (
            "torch-array",
            lambda t: env("torch.Tensor", {"dtype": "float64", "array": {"dtype": "<f8", "shape": [2], "base64": t}}),
            16,
            nd,
        ),
        (
            "scipy-data",
            lambda t: env(
                "scipy.sparse.coo_array",
                {
                    "shape": [2, 2],
                    "data": {"dtype": "<f8", "shape": [2], "base64": t},
                    "coords": [
                        {"dtype": "<i8", "shape": [2], "data": [0, 1]},
                        {"dtype": "<i8", "shape": [2], "data": [0, 1]},
                    ],
                },
            ),
            16,
            nd,
        ),
        (
            "pil-raw",
            lambda t: env("PIL.Image", {"mode": "L", "size": [4, 3], "format": "raw", "data": t}),
            12,
            "PIL.Image",
        ),
        (
            "pil-png",
            lambda t: env("PIL.Image", {"mode": "L", "size": [1, 1], "format": "png", "data": t}),
            -2,
            "PIL.Image",
        ),
        (
            "pil-palette",
            lambda t: env(
                "PIL.Image",
                {"mode": "P", "size": [1, 1], "format": "raw", "data": "AA==", "palette": {"mode": "RGB", "data": t}},
            ),
            -1,
            "PIL.Image",
        ),
        ("pyarrow-table", lambda t: env("pyarrow.Table", {"format": "arrow-stream", "data": t}), -2, "pyarrow.Table"),
        ("pyarrow-array", lambda t: env("pyarrow.Array", {"format": "arrow-stream", "data": t}), -2, "pyarrow.Array"),
        (
            "polars-frame",
            lambda t: env("polars.DataFrame", {"format": "arrow-stream", "data": t}),
            -2,
            "polars.DataFrame",
        ),
        ("polars-series", lambda t: env("polars.Series", {"format": "arrow-stream", "data": t}), -2, "polars.Series"),
        (
            "sklearn-skops",
            lambda t: env(
                "sklearn.estimator",
                {"format": "skops", "class": "sklearn.linear_model._base.LinearRegression", "data": t},
            ),
            -2,
            "sklearn.estimator",
        ),
    ]


def base64_cases() -> Iterator[Case]:
    for name, build, size, type_name in _base64_carriers():
        if size > 0:
            variants = dict(_malformed(4 * ((size + 2) // 3)))
            variants["short-by-one-byte"] = b64(b"\0" * (size - 1))
            variants["long-by-one-byte"] = b64(b"\0" * (size + 1))
            variants["empty"] = ""
        else:
            variants = dict(_UNSIZED_MALFORMED)
            if size == -2:  # a container format (PNG, Arrow IPC, skops zip): well-formed base64 of the wrong bytes
                variants["valid-base64-of-garbage"] = b64(SECRET.encode() * 3)
        for variant, text in variants.items():
            value = wrap(build(text))
            yield Case(
                f"base64/{name}/{variant}/default/loads",
                "base64",
                "default",
                "loads",
                doc(value),
                raises(DeserializationError, WRAP_PATH, type_name),
            )
        value = wrap(build(_malformed(8)["secret"]))
        for preset in ("strict",):
            yield Case(
                f"base64/{name}/secret/{preset}/loads",
                "base64",
                preset,
                "loads",
                doc(value),
                raises(DeserializationError, WRAP_PATH, type_name),
            )


# --- 5. wrong payload JSON types for every registered tag -------------------------------------------------------------

JSON_KINDS: dict[str, Any] = {
    "null": None,
    "bool": True,
    "int": 7,
    "float": 1.5,
    "string": SECRET,
    "array": [SECRET],
    "object": {"secret": SECRET},
}
_NUMBER_OR_0D = frozenset({"int", "float", "string", "object"})
# Per registered tag: the payload JSON kinds its grammar accepts (docs/wire-format.md); every other kind is wrong.
ACCEPTED_KINDS: dict[str, frozenset[str]] = {
    "int": frozenset({"string"}),
    "float": frozenset({"string"}),
    "dict": frozenset({"array"}),
    "tuple": frozenset({"array"}),
    "set": frozenset({"array"}),
    "frozenset": frozenset({"array"}),
    "bytes": frozenset({"string"}),
    "bytearray": frozenset({"string"}),
    "complex": frozenset({"object"}),
    "decimal.Decimal": frozenset({"string"}),
    "fractions.Fraction": frozenset({"string"}),
    "collections.OrderedDict": frozenset({"array"}),
    "collections.Counter": frozenset({"array"}),
    "collections.deque": frozenset({"object"}),
    "range": frozenset({"object"}),
    "datetime": frozenset({"string", "object"}),
    "date": frozenset({"string"}),
    "time": frozenset({"string", "object"}),
    "timedelta": frozenset({"object"}),
    "datetime.timezone": frozenset({"object"}),
    "zoneinfo.ZoneInfo": frozenset({"string"}),
    "uuid.UUID": frozenset({"string"}),
    "pathlib.Path": frozenset({"string"}),
    "pathlib.PurePosixPath": frozenset({"string"}),
    "pathlib.PureWindowsPath": frozenset({"string"}),
    # datason 0.x bare nested lists or elements (any JSON value but an object) are arrays too
    "numpy.ndarray": frozenset({"null", "bool", "int", "float", "string", "array"}),
    **dict.fromkeys(("numpy.bool_", "numpy.bool"), frozenset({"bool", "object"})),
    **dict.fromkeys(
        (
            "numpy.int8",
            "numpy.int16",
            "numpy.int32",
            "numpy.int64",
            "numpy.uint8",
            "numpy.uint16",
            "numpy.uint32",
            "numpy.uint64",
            "numpy.longlong",
            "numpy.ulonglong",
            "numpy.intc",
            "numpy.uintc",
            "numpy.intp",
            "numpy.uintp",
        ),
        frozenset({"int", "object"}),
    ),
    **dict.fromkeys(
        ("numpy.float16", "numpy.float32", "numpy.float64", "numpy.longdouble", "numpy.float128", "numpy.float96"),
        _NUMBER_OR_0D,
    ),
    **dict.fromkeys(
        ("numpy.complex64", "numpy.complex128", "numpy.clongdouble", "numpy.complex256", "numpy.complex192"),
        frozenset({"object"}),
    ),
    **dict.fromkeys(("numpy.str_", "numpy.bytes_"), frozenset({"string", "object"})),
    **dict.fromkeys(("numpy.datetime64", "numpy.timedelta64", "numpy.void"), frozenset({"object"})),
    **dict.fromkeys(
        (
            "pandas.Timestamp",
            "pandas.Timedelta",
            "pandas.Period",
            "pandas.Interval",
            "pandas.Categorical",
            "pandas.array",
            "pandas.Index",
            "pandas.Series",
        ),
        frozenset({"object"}),
    ),
    "pandas.DataFrame": frozenset({"object", "array"}),
    "pandas.NaT": frozenset({"null"}),
    "pandas.NA": frozenset({"null"}),
    "torch.Tensor": frozenset({"object"}),
    "torch.nn.Parameter": frozenset({"object"}),
    "torch.Size": frozenset({"array"}),
    "torch.dtype": frozenset({"string"}),
    "torch.device": frozenset({"string"}),
    **dict.fromkeys(
        [
            f"scipy.sparse.{fmt}_{kind}"
            for fmt in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok")
            for kind in ("matrix", "array")
        ],
        frozenset({"object"}),
    ),
    "scipy.sparse": frozenset({"object"}),
    **dict.fromkeys(
        (
            "pyarrow.Table",
            "pyarrow.RecordBatch",
            "pyarrow.Array",
            "pyarrow.ChunkedArray",
            "polars.DataFrame",
            "polars.Series",
        ),
        frozenset({"object"}),
    ),
    "PIL.Image": frozenset({"object"}),
    "sklearn.estimator": frozenset({"object"}),
}


# An alias reports the type under its canonical tag.
_CANONICAL = {"scipy.sparse": "scipy.sparse.coo_matrix"}


def wrong_type_cases() -> Iterator[Case]:
    for tag, accepted in ACCEPTED_KINDS.items():
        for kind, sample in JSON_KINDS.items():
            if kind in accepted:
                continue
            value = wrap(env(tag, sample))
            expect = raises(DeserializationError, WRAP_PATH, _CANONICAL.get(tag, tag))
            yield Case(f"wrong-type/{tag}/{kind}/default/loads", "wrong-type", "default", "loads", doc(value), expect)
            if tag in ("int", "tuple", "uuid.UUID", "numpy.float32", "pandas.NaT", "torch.Size"):
                yield Case(
                    f"wrong-type/{tag}/{kind}/strict/deserialize",
                    "wrong-type",
                    "strict",
                    "deserialize",
                    doc(value),
                    expect,
                )


# --- 6. 100,000-deep nesting ---------------------------------------------------------------------------------------


def _nested_text(open_: str, leaf: str, close: str, n: int = DEEP) -> Callable[[], bytes]:
    return lambda: (open_ * n + leaf + close * n).encode()


def _nested_tree(wrapper: Callable[[Any], Any], leaf: Any, n: int = DEEP) -> Callable[[], Any]:
    def build() -> Any:
        value = leaf
        for _ in range(n):
            value = wrapper(value)
        return value

    return build


def _tag_open(tag: str) -> str:
    return '{"' + TYPE_KEY + '":"' + tag + '","' + VALUE_KEY + '":'


_RANGE1 = '{"kind":"range","start":0,"stop":1,"step":1,"name":null}'
# Parts shared by every level of a nested tree (decoders never modify their input): cheap 100,000-deep trees.
_RANGE1_TREE = json.loads(_RANGE1)
_INT_COLUMN_TREE = {"dtype": "int64", "data": {"dtype": "<i8", "shape": [1], "data": [0]}}
# (name, opening text, leaf, closing text, the same nesting as a Python tree)
NESTINGS: list[tuple[str, str, str, str, Callable[[Any], Any]]] = [
    ("json-arrays", "[", "0", "]", lambda v: [v]),
    ("json-objects", '{"k":', "0", "}", lambda v: {"k": v}),
    ("json-mixed", '{"k":[', "0", "]}", lambda v: {"k": [v]}),
    ("tuple-tags", _tag_open("tuple") + "[", "0", "]}", lambda v: env("tuple", [v])),
    ("frozenset-tags", _tag_open("frozenset") + "[", "0", "]}", lambda v: env("frozenset", [v])),
    ("dict-tag-keys", _tag_open("dict") + "[[", "0", ',"v"]]}', lambda v: env("dict", [[v, "v"]])),
    ("dict-tag-values", _tag_open("dict") + '[["k",', "0", "]]}", lambda v: env("dict", [["k", v]])),
    ("unknown-tags", _tag_open("os.system") + "[", "0", "]}", lambda v: env("os.system", [v])),
    ("bare-envelopes", _tag_open("x.y"), "0", "}", lambda v: env("x.y", v)),
    (
        "deque-tags",
        _tag_open("collections.deque") + '{"maxlen":null,"items":[',
        "0",
        "]}}",
        lambda v: env("collections.deque", {"maxlen": None, "items": [v]}),
    ),
    (
        "complex-tags",
        _tag_open("complex") + '{"imag":0,"real":',
        "0",
        "}}",
        lambda v: env("complex", {"imag": 0, "real": v}),
    ),
    (
        "numpy-object-arrays",
        _tag_open("numpy.ndarray") + '{"dtype":"|O","shape":[1],"data":[',
        "0",
        "]}}",
        lambda v: env("numpy.ndarray", {"dtype": "|O", "shape": [1], "data": [v]}),
    ),
    ("numpy-legacy-lists", _tag_open("numpy.ndarray") + "[", "0", "]}", lambda v: env("numpy.ndarray", [v])),
    (
        "pandas-object-columns",
        _tag_open("pandas.array") + '{"dtype":"object","data":[',
        "0",
        "]}}",
        lambda v: env("pandas.array", {"dtype": "object", "data": [v]}),
    ),
    (
        "pandas-series-names",
        _tag_open("pandas.Series")
        + '{"index":'
        + _RANGE1
        + ',"data":{"dtype":"int64","data":{"dtype":"<i8","shape":[1],"data":[0]}},"name":',
        "0",
        "}}",
        lambda v: env("pandas.Series", {"index": _RANGE1_TREE, "data": _INT_COLUMN_TREE, "name": v}),
    ),
    ("pandas-legacy-series", _tag_open("pandas.Series") + '{"a":', "0", "}}", lambda v: env("pandas.Series", {"a": v})),
    (
        "pandas-intervals",
        _tag_open("pandas.Interval") + '{"closed":"left","right":0,"left":',
        "0",
        "}}",
        lambda v: env("pandas.Interval", {"closed": "left", "right": 0, "left": v}),
    ),
]


_EVERY_PRESET_NESTINGS = (
    "json-arrays",
    "json-objects",
    "json-mixed",
    "tuple-tags",
    "unknown-tags",
    "numpy-object-arrays",
)


def deep_nesting_cases() -> Iterator[Case]:
    for i, (name, open_, leaf, close, wrapper) in enumerate(NESTINGS):
        make = _nested_text(open_, leaf, close)
        tree = _nested_tree(wrapper, 0)
        if name in _EVERY_PRESET_NESTINGS:
            presets: tuple[str, ...] = (*ALL_PRESETS, "default-no-depth-limit", "strict-no-depth-limit")
        else:
            presets = ("default", "strict", "default-no-depth-limit")
        for preset in presets:
            yield Case(
                f"deep-nesting/{name}/{preset}/loads", "deep-nesting", preset, "loads", make, raises(SecurityError)
            )
        # the tree entry points, on the same nesting built as Python values
        for preset, entry in (("default", "deserialize"), ("default-no-depth-limit", ("auto", "deserialize")[i % 2])):
            yield Case(
                f"deep-nesting/{name}/{preset}/{entry}",
                "deep-nesting",
                preset,
                entry,
                make,
                raises(SecurityError),
                tree=tree,
            )
        if i % 3 == 0:
            yield Case(
                f"deep-nesting/{name}/strict/loads-text",
                "deep-nesting",
                "strict",
                "loads-text",
                make,
                raises(SecurityError),
            )
        if name.startswith("json-") or name in ("tuple-tags", "unknown-tags"):
            # datason.json: the json module, with nesting beyond the stack raised as SecurityError (documented)
            yield Case(f"deep-nesting/{name}/json", "deep-nesting", "default", "json", make, raises(SecurityError))
        # just past max_depth=64: the limit holds inside handler payloads as it does outside them
        shallow = _nested_text(open_, leaf, close, 70)
        for entry in ("loads", "deserialize"):
            yield Case(
                f"deep-nesting/{name}-70/depth-64/{entry}",
                "deep-nesting",
                "default-depth-64",
                entry,
                shallow,
                raises(SecurityError),
            )
    # unterminated deep documents: a datason error, never a crash
    for name, text in (("arrays", "["), ("objects", '{"a":'), ("tags", _tag_open("tuple") + "[")):
        yield Case(
            f"deep-nesting/unterminated-{name}/default/loads",
            "deep-nesting",
            "default",
            "loads",
            _nested_text(text, "", "", DEEP),
            raises(SecurityError),
        )
    # the legacy torch payload: data nested deeper than any tensor
    torch_text = _tag_open("torch.Tensor") + '{"dtype":"torch.float32","data":' + "[" * DEEP + "1" + "]" * DEEP + "}}"
    for preset in ("default", "default-no-depth-limit"):
        yield Case(
            f"deep-nesting/torch-legacy-data/{preset}/loads",
            "deep-nesting",
            preset,
            "loads",
            raw(torch_text.encode()),
            raises(SecurityError),
        )


# --- 7. very long strings ---------------------------------------------------------------------------------------------


def _long_string_places(n: int) -> list[tuple[str, Callable[[], Any]]]:
    """Where a string of ``n`` characters can sit in a document (built lazily: n may be 16 MiB)."""

    def s() -> str:
        return "x" * n

    return [
        ("value", lambda: [s()]),
        ("key", lambda: {s(): 1}),
        ("nested-value", lambda: {"a": [{"b": s()}]}),
        ("tag-name", lambda: env(s(), 1)),
        ("uuid-payload", lambda: env("uuid.UUID", s())),
        ("decimal-payload", lambda: env("decimal.Decimal", "1" * n)),
        ("bytes-payload", lambda: env("bytes", "A" * (4 * ((n + 3) // 4)))),
        ("tuple-item", lambda: env("tuple", [s()])),
        ("dict-tag-key", lambda: env("dict", [[s(), 1]])),
        ("numpy-unicode-item", lambda: env("numpy.ndarray", {"dtype": f"<U{n}", "shape": [1], "data": [s()]})),
        ("numpy-legacy-item", lambda: env("numpy.ndarray", [s()])),
        ("pandas-string-column", lambda: env("pandas.array", {"dtype": "str", "storage": "python", "data": [s()]})),
        ("pandas-object-column", lambda: env("pandas.array", {"dtype": "object", "data": [s()]})),
        ("pil-mode", lambda: env("PIL.Image", {"mode": s(), "size": [1, 1], "format": "raw", "data": "AA=="})),
        ("torch-dtype", lambda: env("torch.dtype", s())),
        ("sklearn-class", lambda: env("sklearn.estimator", {"format": "skops", "class": s(), "data": ""})),
        ("escaped", lambda: None),  # written by hand below: \u0078 escapes, the decoded length counts
        ("multibyte", lambda: ["\u00e9" * n]),
    ]


def long_string_cases() -> Iterator[Case]:
    limits = {"api": 16 * 1024 * 1024, "strict": 16 * 1024 * 1024}
    limits.update(dict.fromkeys(("default-small", "ml-small", "performance-small"), _SMALL))
    for preset, limit in limits.items():
        over = limit + 1
        for place, build in _long_string_places(over):
            make = _repeated('["', "\\u0078", over, '"]') if place == "escaped" else _document_of(build)
            if limit > _SMALL and place not in ("value", "key", "numpy-unicode-item")[: 1 + 2 * (preset == "strict")]:
                continue  # at 16 MiB only the main places; all of them at the small stand-in limit
            if place == "tag-name" and PRESETS[preset].strict:
                continue  # strict mode refuses the unknown tag whatever its length
            yield Case(
                f"long-string/{place}/{preset}/loads", "long-string", preset, "loads", make, raises(SecurityError)
            )
        if limit > _SMALL and preset != "strict":
            continue  # the boundary and the other entry points once at 16 MiB, everywhere at the small limit
        yield Case(
            f"long-string/value-at-limit/{preset}/loads",
            "long-string",
            preset,
            "loads",
            (lambda limit=limit: doc(["x" * limit])()),
            Returns(lambda limit=limit: ["x" * limit]),
        )
        yield Case(
            f"long-string/value/{preset}/loads-text",
            "long-string",
            preset,
            "loads-text",
            (lambda over=over: doc(["x" * over])()),
            raises(SecurityError),
        )
        yield Case(
            f"long-string/value/{preset}/deserialize",
            "long-string",
            preset,
            "deserialize",
            (lambda over=over: doc(["x" * over])()),
            raises(SecurityError, "$[0]", "str"),
        )
        yield Case(
            f"long-string/value/{preset}/auto",
            "long-string",
            preset,
            "auto",
            (lambda over=over: doc(["x" * over])()),
            raises(SecurityError, "$[0]", "str"),
        )
    # a long string within the default limits is data
    four_mib = 4 * 1024 * 1024
    yield Case(
        "long-string/four-mib-value/default/loads",
        "long-string",
        "default",
        "loads",
        lambda: doc({"s": "y" * four_mib})(),
        Returns(lambda: {"s": "y" * four_mib}),
    )


# --- 8. numbers with 100,000 digits -----------------------------------------------------------------------------------


def huge_number_cases() -> Iterator[Case]:
    digits = "9" * DEEP
    raw_numbers: list[tuple[str, str, Raises | Returns]] = [
        ("int", digits, raises(DeserializationError)),
        ("negative-int", "-" + digits, raises(DeserializationError)),
        ("int-in-array", f"[{digits}]", raises(DeserializationError)),
        ("int-in-object", '{"n":' + digits + "}", raises(DeserializationError)),
        (
            "int-in-tag-payload",
            '{"' + TYPE_KEY + '":"tuple","' + VALUE_KEY + '":[' + digits + "]}",
            raises(DeserializationError),
        ),
        (
            "int-in-numpy-data",
            '{"'
            + TYPE_KEY
            + '":"numpy.ndarray","'
            + VALUE_KEY
            + '":{"dtype":"<i8","shape":[1],"data":['
            + digits
            + "]}}",
            raises(DeserializationError),
        ),
        (
            "int-as-numpy-scalar",
            '{"' + TYPE_KEY + '":"numpy.int64","' + VALUE_KEY + '":' + digits + "}",
            raises(DeserializationError),
        ),
        ("int-with-fraction", digits + ".5", raises(DeserializationError)),
        ("int-with-exponent", digits + "e1", raises(DeserializationError)),
        ("exponent", "1e" + digits, raises(DeserializationError)),
        ("negative-exponent", "1e-" + digits, Returns(lambda: 0.0)),
        ("fraction-digits", "0." + "1" * DEEP, Returns(lambda: float("0." + "1" * DEEP))),
        ("leading-fraction-zeros", "0." + "0" * (DEEP - 1) + "1", Returns(lambda: 0.0)),
        ("negative-underflow", "-0." + "0" * (DEEP - 1) + "1", Returns(lambda: -0.0)),
        ("mantissa-and-exponent", "1." + "1" * DEEP + "e-" + "9" * 10, Returns(lambda: 0.0)),
    ]
    for name, text, expect in raw_numbers:
        for preset in ("default", "api", "strict"):
            yield Case(f"huge-number/{name}/{preset}/loads", "huge-number", preset, "loads", raw(text.encode()), expect)
        yield Case(
            f"huge-number/{name}/default/loads-text", "huge-number", "default", "loads-text", raw(text.encode()), expect
        )
    # the standard library's own answers through datason.json (documented: the json module underneath)
    yield Case("huge-number/int/json", "huge-number", "default", "json", raw(digits.encode()), raises(ValueError))
    yield Case(
        "huge-number/fraction-digits/json",
        "huge-number",
        "default",
        "json",
        raw(("0." + "1" * DEEP).encode()),
        Returns(lambda: float("0." + "1" * DEEP)),
    )
    # numbers carried as strings by tags
    tagged: list[tuple[str, Any, Raises | Returns]] = [
        ("int-tag", env("int", digits), raises(DeserializationError, WRAP_PATH, "int")),
        ("int-tag-negative", env("int", "-" + digits), raises(DeserializationError, WRAP_PATH, "int")),
        (
            "fraction-tag",
            env("fractions.Fraction", digits + "/7"),
            raises(DeserializationError, WRAP_PATH, "fractions.Fraction"),
        ),
        ("decimal-tag", env("decimal.Decimal", digits), Returns(lambda: wrap(decimal.Decimal(digits)))),
        (
            "decimal-tag-exponent",
            env("decimal.Decimal", "1E" + "9" * 30),
            raises(DeserializationError, WRAP_PATH, "decimal.Decimal"),
        ),
        (
            "complex-part",
            env("complex", {"real": 1, "imag": digits}),
            raises(DeserializationError, WRAP_PATH, "complex"),
        ),
        ("timedelta-days", env("timedelta", {"days": 10**30}), raises(DeserializationError, WRAP_PATH, "timedelta")),
        ("range-stop", env("range", {"start": 0, "stop": 10**300, "step": 1}), Returns(lambda: wrap(range(10**300)))),
        (
            "pandas-timestamp-value",
            env("pandas.Timestamp", {"value": 2**63, "unit": "ns"}),
            raises(DeserializationError, WRAP_PATH, "pandas.Timestamp"),
        ),
        ("numpy-uint64-overflow", env("numpy.uint64", 2**64), raises(DeserializationError, WRAP_PATH, "numpy.uint64")),
    ]
    for name, value, expect in tagged:
        for preset in ("default", "strict"):
            yield Case(f"huge-number/{name}/{preset}/loads", "huge-number", preset, "loads", doc(wrap(value)), expect)


# --- 9. huge dicts and lists ------------------------------------------------------------------------------------------


def _container_places(n: int) -> list[tuple[str, Callable[[], bytes]]]:
    """Containers of ``n`` members, written as text directly (fast for a million members, built on demand)."""

    def zeros() -> str:
        return ",".join(["0"] * n)

    def numbers() -> str:
        return ",".join(map(str, range(n)))

    def pairs() -> str:
        return ",".join(f'["k{i}",0]' for i in range(n))

    def tag(t: str, body: str) -> bytes:
        return (_tag_open(t) + body + "}").encode()

    scipy_body = '{"format":"coo","shape":[1,%d],"dtype":"int64","data":[%s],"row":[%s],"col":[%s]}'
    return [
        ("array", lambda: ("[" + zeros() + "]").encode()),
        ("object", lambda: ("{" + ",".join(f'"k{i}":0' for i in range(n)) + "}").encode()),
        ("nested-array", lambda: ('{"a":[[' + zeros() + "]]}").encode()),
        ("tuple-tag", lambda: tag("tuple", "[" + zeros() + "]")),
        ("set-tag", lambda: tag("set", "[" + numbers() + "]")),
        ("dict-tag-pairs", lambda: tag("dict", "[" + pairs() + "]")),
        ("ordered-dict-tag", lambda: tag("collections.OrderedDict", "[" + pairs() + "]")),
        ("counter-tag", lambda: tag("collections.Counter", "[" + pairs() + "]")),
        ("deque-items", lambda: tag("collections.deque", '{"maxlen":null,"items":[' + zeros() + "]}")),
        ("numpy-data", lambda: tag("numpy.ndarray", f'{{"dtype":"<i8","shape":[{n}],"data":[{zeros()}]}}')),
        ("numpy-legacy", lambda: tag("numpy.ndarray", "[" + zeros() + "]")),
        ("pandas-object-column", lambda: tag("pandas.array", '{"dtype":"object","data":[' + zeros() + "]}")),
        ("pandas-legacy-records", lambda: tag("pandas.DataFrame", "[" + ",".join(['{"a":0}'] * n) + "]")),
        ("torch-size", lambda: tag("torch.Size", "[" + zeros() + "]")),
        ("torch-legacy-data", lambda: tag("torch.Tensor", '{"dtype":"torch.int64","data":[' + zeros() + "]}")),
        ("scipy-legacy-data", lambda: tag("scipy.sparse", scipy_body % (n, zeros(), zeros(), numbers()))),
        ("unknown-tag-payload", lambda: tag("os.system", "[" + zeros() + "]")),
    ]


def huge_container_cases() -> Iterator[Case]:
    limits = {"api": 1_000_000, "strict": 1_000_000}
    limits.update(dict.fromkeys(("default-small", "ml-small", "performance-small"), _SMALL))
    for preset, limit in limits.items():
        big = limit > _SMALL
        for place, make in _container_places(limit + 1):
            if big and place not in ("array", "tuple-tag", "numpy-data") + (("object",) if preset == "api" else ()):
                continue  # every place at the small stand-in limit; the main ones at a million
            if place == "unknown-tag-payload" and PRESETS[preset].strict:
                continue  # strict mode refuses the unknown tag whatever its payload
            yield Case(
                f"huge-container/{place}/{preset}/loads", "huge-container", preset, "loads", make, raises(SecurityError)
            )
        if big and preset != "strict":
            continue  # the boundary and the other entry points once at a million, everywhere at the small limit
        yield Case(
            f"huge-container/array-at-limit/{preset}/loads",
            "huge-container",
            preset,
            "loads",
            (lambda limit=limit: ("[" + ",".join(["0"] * limit) + "]").encode()),
            Returns(lambda limit=limit: [0] * limit),
        )
        for entry in ("deserialize", "auto", "loads-text"):
            yield Case(
                f"huge-container/array/{preset}/{entry}",
                "huge-container",
                preset,
                entry,
                (lambda limit=limit: ("[" + ",".join(["0"] * (limit + 1)) + "]").encode()),
                raises(SecurityError, "$", "list"),
            )


# --- 10. NaN and Infinity tokens --------------------------------------------------------------------------------------


def nan_token_cases() -> Iterator[Case]:
    tokens = ("NaN", "Infinity", "-Infinity", "nan", "inf", "-inf", "+Infinity", "-NaN", "Infinityx", "NaN1")
    for token in tokens:
        places = {
            "bare": token,
            "array": f"[1,{token}]",
            "object": '{"x":' + token + "}",
            "float-tag": '{"' + TYPE_KEY + '":"float","' + VALUE_KEY + '":' + token + "}",
            "complex-part": '{"' + TYPE_KEY + '":"complex","' + VALUE_KEY + '":{"real":' + token + ',"imag":0}}',
            "numpy-data": '{"'
            + TYPE_KEY
            + '":"numpy.ndarray","'
            + VALUE_KEY
            + '":{"dtype":"<f8","shape":[1],"data":['
            + token
            + "]}}",
            "numpy-scalar": '{"' + TYPE_KEY + '":"numpy.float32","' + VALUE_KEY + '":' + token + "}",
            "pandas-label": '{"'
            + TYPE_KEY
            + '":"pandas.Index","'
            + VALUE_KEY
            + '":{"kind":"range","start":0,"stop":1,"step":1,"name":'
            + token
            + "}}",
        }
        for place, text in places.items():
            yield Case(
                f"nan-token/{token}/{place}/default/loads",
                "nan-token",
                "default",
                "loads",
                raw(text.encode()),
                raises(DeserializationError),
            )
        for preset in ("api", "strict"):
            yield Case(
                f"nan-token/{token}/array/{preset}/loads",
                "nan-token",
                preset,
                "loads",
                raw(places["array"].encode()),
                raises(DeserializationError),
            )
        yield Case(
            f"nan-token/{token}/array/default/loads-text",
            "nan-token",
            "default",
            "loads-text",
            raw(places["array"].encode()),
            raises(DeserializationError),
        )
        # datason.json is the json module: it accepts exactly the tokens json accepts
        accepted = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
        expect: Raises | Returns = (
            Returns(lambda token=token, accepted=accepted: [1, accepted[token]])
            if token in accepted
            else raises(JSONDecodeError)
        )
        yield Case(
            f"nan-token/{token}/array/json", "nan-token", "default", "json", raw(places["array"].encode()), expect
        )
    # the spelled-out forms datason writes are data
    spelled: list[tuple[str, Any, Callable[[], Any]]] = [
        ("float-tag-nan", env("float", "nan"), lambda: float("nan")),
        ("float-tag-inf", env("float", "-inf"), lambda: float("-inf")),
        ("decimal-nan", env("decimal.Decimal", "NaN"), lambda: decimal.Decimal("NaN")),
        (
            "numpy-specials",
            env("numpy.ndarray", {"dtype": "<f8", "shape": [3], "data": ["nan", "inf", "-inf"]}),
            lambda: _np().array([float("nan"), float("inf"), float("-inf")]),
        ),
        ("plain-strings", ["NaN", "Infinity", "-Infinity"], lambda: ["NaN", "Infinity", "-Infinity"]),
    ]
    for name, value, build in spelled:
        yield Case(
            f"nan-token/spelled/{name}/default/loads",
            "nan-token",
            "default",
            "loads",
            doc(wrap(value)),
            Returns(lambda build=build: wrap(build())),
        )
    for name, value, bad in (
        ("float-tag-NaN", env("float", "NaN"), "float"),
        ("float-tag-Infinity", env("float", "Infinity"), "float"),
    ):
        yield Case(
            f"nan-token/spelled/{name}/default/loads",
            "nan-token",
            "default",
            "loads",
            doc(wrap(value)),
            raises(DeserializationError, WRAP_PATH, bad),
        )
    yield Case(
        "nan-token/spelled/plain-strings/api/auto",
        "nan-token",
        "api",
        "auto",
        doc(["NaN", "Infinity", "-Infinity"]),
        Returns(lambda: ["NaN", "Infinity", "-Infinity"]),
    )


# --- 11. duplicate keys -----------------------------------------------------------------------------------------------


def duplicate_key_cases() -> Iterator[Case]:
    t, v = TYPE_KEY, VALUE_KEY
    uuid_text = "12345678-1234-5678-1234-567812345678"
    texts: list[tuple[str, str, Callable[[], Any], Callable[[], Any] | None]] = [
        # (name, document, expected default/api, expected strict or None for an error) -- the last member wins
        ("plain", '{"a":1,"a":2}', lambda: {"a": 2}, lambda: {"a": 2}),
        ("nested", '{"x":{"a":"' + SECRET + '","a":null}}', lambda: {"x": {"a": None}}, lambda: {"x": {"a": None}}),
        ("escaped-equal-key", '{"a":1,"\\u0061":2}', lambda: {"a": 2}, lambda: {"a": 2}),
        ("value-key-twice", '{"' + t + '":"tuple","' + v + '":[1],"' + v + '":[2]}', lambda: (2,), lambda: (2,)),
        ("type-key-twice", '{"' + t + '":"uuid.UUID","' + t + '":"tuple","' + v + '":[1]}', lambda: (1,), lambda: (1,)),
        (
            "type-key-last-is-callable",
            '{"' + t + '":"tuple","' + v + '":[1],"' + t + '":"os.system"}',
            lambda: {t: "os.system", v: [1]},
            None,
        ),
        (
            "type-key-first-is-callable",
            '{"'
            + t
            + '":"os.system","'
            + v
            + '":"'
            + SECRET
            + '","'
            + t
            + '":"uuid.UUID","'
            + v
            + '":"'
            + uuid_text
            + '"}',
            lambda: __import__("uuid").UUID(uuid_text),
            lambda: __import__("uuid").UUID(uuid_text),
        ),
        ("escaped-marker-key", '{"' + t + '":"tuple","\\u005f_datason_value__":[1]}', lambda: (1,), lambda: (1,)),
        (
            "numpy-dtype-twice",
            '{"' + t + '":"numpy.ndarray","' + v + '":{"dtype":"<f8","dtype":"<i8","shape":[2],"data":[1,2]}}',
            lambda: _np().array([1, 2], dtype="<i8"),
            lambda: _np().array([1, 2], dtype="<i8"),
        ),
        ("dict-tag-pairs", '{"' + t + '":"dict","' + v + '":[["a",1],["a",2]]}', lambda: {"a": 2}, lambda: {"a": 2}),
        (
            "dict-tag-int-pairs",
            '{"' + t + '":"dict","' + v + '":[[1,"x"],[1,"y"]]}',
            lambda: {1: "y"},
            lambda: {1: "y"},
        ),
    ]
    for name, text, plain, strict in texts:
        for preset in ("default", "api"):
            for entry in ("loads", "loads-text"):
                yield Case(
                    f"duplicate-keys/{name}/{preset}/{entry}",
                    "duplicate-keys",
                    preset,
                    entry,
                    raw(text.encode()),
                    Returns(plain),
                )
        strict_expect: Raises | Returns = (
            Returns(strict) if strict is not None else raises(DeserializationError, "$", "os.system")
        )
        yield Case(
            f"duplicate-keys/{name}/strict/loads",
            "duplicate-keys",
            "strict",
            "loads",
            raw(text.encode()),
            strict_expect,
        )
        yield Case(
            f"duplicate-keys/{name}/default/deserialize",
            "duplicate-keys",
            "default",
            "deserialize",
            raw(text.encode()),
            Returns(plain),
        )
    yield Case(
        "duplicate-keys/plain/json",
        "duplicate-keys",
        "default",
        "json",
        raw(b'{"a":1,"a":2}'),
        Returns(lambda: {"a": 2}),
    )
    yield Case(
        "duplicate-keys/value-key-twice/json",
        "duplicate-keys",
        "default",
        "json",
        raw(('{"' + t + '":"tuple","' + v + '":[1],"' + v + '":[2]}').encode()),
        Returns(lambda: {t: "tuple", v: [2]}),
    )
    # Many duplicates of one key: the object is what the last members leave (one key), and max_size holds for
    # that object in both walkers (src/datason/decoder.py ``Decoder.parse``: duplicates collapse first).
    for preset, limit in (("strict", 1_000_000), ("api", 1_000_000), ("default-small", _SMALL)):
        yield Case(
            f"duplicate-keys/members-over-max-size/{preset}/loads",
            "duplicate-keys",
            preset,
            "loads",
            _repeated("{", '"a":0', limit + 1, "}", ","),
            Returns(lambda: {"a": 0}),
        )


# --- 12. invalid UTF-8 and lone surrogates ----------------------------------------------------------------------------

INVALID_UTF8 = {
    "ff": b"\xff",
    "fe": b"\xfe",
    "lone-continuation": b"\x80",
    "overlong-nul": b"\xc0\x80",
    "overlong-slash": b"\xc0\xaf",
    "overlong-3": b"\xe0\x80\xaf",
    "overlong-4": b"\xf0\x80\x80\xaf",
    "encoded-surrogate": b"\xed\xa0\x80",
    "above-10ffff": b"\xf4\x90\x80\x80",
    "five-byte": b"\xf8\x88\x80\x80\x80",
    "truncated-2": b"\xc3",
    "truncated-3": b"\xe2\x82",
    "bad-continuation": b"\xc3\x28",
}
LONE_SURROGATES = {
    "high": "\\ud800",
    "low": "\\udfff",
    "high-then-letter": "\\ud800\\u0041",
    "high-high": "\\ud800\\ud800",
    "low-high": "\\udc00\\ud800",
    "high-at-end": "abc\\udbff",
}


def invalid_unicode_cases() -> Iterator[Case]:
    t, v = TYPE_KEY, VALUE_KEY
    for name, bad in INVALID_UTF8.items():
        places = {
            "value": b'["' + bad + b'"]',
            "key": b'{"k' + bad + b'":1}',
            "tag-name": b'{"' + t.encode() + b'":"x' + bad + b'","' + v.encode() + b'":1}',
            "numpy-unicode": b'{"'
            + t.encode()
            + b'":"numpy.ndarray","'
            + v.encode()
            + b'":{"dtype":"<U4","shape":[1],"data":["'
            + bad
            + b'"]}}',
            "outside-strings": b"[1]" + bad,
        }
        for place, text in places.items():
            yield Case(
                f"invalid-unicode/utf8-{name}/{place}/default/loads",
                "invalid-unicode",
                "default",
                "loads",
                raw(text),
                raises(DeserializationError),
            )
        yield Case(
            f"invalid-unicode/utf8-{name}/value/strict/loads",
            "invalid-unicode",
            "strict",
            "loads",
            raw(places["value"]),
            raises(DeserializationError),
        )
        # datason.json: JSONDecodeError for bytes that are not UTF-8 (documented); like json it decodes with
        # "surrogatepass", so an encoded surrogate is a str to it
        json_expect: Raises | Returns = (
            Returns(lambda: ["\ud800"]) if name == "encoded-surrogate" else raises(JSONDecodeError)
        )
        yield Case(
            f"invalid-unicode/utf8-{name}/value/json",
            "invalid-unicode",
            "default",
            "json",
            raw(places["value"]),
            json_expect,
        )
    for name, escape in LONE_SURROGATES.items():
        places_s = {
            "value": '["' + escape + '"]',
            "key": '{"' + escape + '":1}',
            "tag-name": '{"' + t + '":"' + escape + '","' + v + '":1}',
            "uuid-payload": '{"' + t + '":"uuid.UUID","' + v + '":"' + escape + '"}',
            "numpy-unicode": '{"'
            + t
            + '":"numpy.ndarray","'
            + v
            + '":{"dtype":"<U4","shape":[1],"data":["'
            + escape
            + '"]}}',
            "pandas-string": '{"'
            + t
            + '":"pandas.array","'
            + v
            + '":{"dtype":"str","storage":"python","data":["'
            + escape
            + '"]}}',
            "pil-mode": '{"'
            + t
            + '":"PIL.Image","'
            + v
            + '":{"mode":"'
            + escape
            + '","size":[1,1],"format":"raw","data":"AA=="}}',
        }
        for place, text in places_s.items():
            for preset in ("default",):
                yield Case(
                    f"invalid-unicode/surrogate-{name}/{place}/{preset}/loads",
                    "invalid-unicode",
                    preset,
                    "loads",
                    raw(text.encode()),
                    raises(DeserializationError),
                )
            if place in ("value", "key", "tag-name"):
                yield Case(
                    f"invalid-unicode/surrogate-{name}/{place}/strict/loads-text",
                    "invalid-unicode",
                    "strict",
                    "loads-text",
                    raw(text.encode()),
                    raises(DeserializationError),
                )
        decoded = json.loads('"' + escape + '"')
        yield Case(
            f"invalid-unicode/surrogate-{name}/value/json",
            "invalid-unicode",
            "default",
            "json",
            raw(places_s["value"].encode()),
            Returns(lambda decoded=decoded: [decoded]),
        )
    # a raw lone surrogate inside a str document (only a str can hold one)
    for name, char in (("high", "\ud800"), ("low", "\udfff")):
        text = '["a' + char + '"]'
        yield Case(
            f"invalid-unicode/raw-surrogate-{name}/default/loads-text",
            "invalid-unicode",
            "default",
            "loads-text",
            raw(text.encode("utf-8", "surrogatepass")),
            raises(DeserializationError),
        )
    others: list[tuple[str, bytes, Raises | Returns]] = [
        ("bom", b"\xef\xbb\xbf[1]", raises(DeserializationError)),
        ("raw-control-char", b'["a\x01b"]', raises(DeserializationError)),
        ("raw-nul", b'["a\x00b"]', raises(DeserializationError)),
        ("nul-escape", b'["a\\u0000b"]', Returns(lambda: ["a\x00b"])),
        ("surrogate-pair", b'["\\ud83d\\ude00"]', Returns(lambda: ["\U0001f600"])),
        ("utf16-document", '["x"]'.encode("utf-16"), raises(DeserializationError)),
    ]
    for name, text, expect in others:
        for preset in ("default", "strict"):
            yield Case(f"invalid-unicode/{name}/{preset}/loads", "invalid-unicode", preset, "loads", raw(text), expect)


# --- 13. the marker keys as ordinary data -----------------------------------------------------------------------------


def marker_key_cases() -> Iterator[Case]:
    t, v = TYPE_KEY, VALUE_KEY
    uuid_text = "12345678-1234-5678-1234-567812345678"
    # (name, document as a JSON value, expected value) -- documents as datason writes user dicts holding marker keys
    escaped: list[tuple[str, Any, Any]] = [
        (
            "callable-lookalike",
            env("dict", [[t, "os.system"], [v, f"touch {TRIPWIRE_FILE}"]]),
            {t: "os.system", v: f"touch {TRIPWIRE_FILE}"},
        ),
        ("tuple-lookalike", env("dict", [[t, "tuple"], [v, [1, 2]]]), {t: "tuple", v: [1, 2]}),
        ("uuid-lookalike", env("dict", [[t, "uuid.UUID"], [v, uuid_text]]), {t: "uuid.UUID", v: uuid_text}),
        ("dict-tag-lookalike", env("dict", [[t, "dict"], [v, [[1, 2]]]]), {t: "dict", v: [[1, 2]]}),
        (
            "numpy-lookalike",
            env("dict", [[t, "numpy.ndarray"], [v, {"dtype": "|O", "shape": [1], "data": [SECRET]}]]),
            {t: "numpy.ndarray", v: {"dtype": "|O", "shape": [1], "data": [SECRET]}},
        ),
        (
            "tripwire-lookalike",
            env("dict", [[t, "tests.hostile.corpus.tripwire"], [v, [SECRET]]]),
            {t: "tests.hostile.corpus.tripwire", v: [SECRET]},
        ),
        ("only-type-key", env("dict", [[t, "tuple"]]), {t: "tuple"}),
        (
            "nested-lookalike",
            env("dict", [[t, "tuple"], [v, env("dict", [[t, "tuple"], [v, [1]]])]]),
            {t: "tuple", v: {t: "tuple", v: [1]}},
        ),
        (
            "typed-values-inside",
            env("dict", [[t, env("tuple", [1, 2])], [v, env("uuid.UUID", uuid_text)]]),
            {t: (1, 2), v: __import__("uuid").UUID(uuid_text)},
        ),
        (
            "int-key-beside",
            env("dict", [[1, "one"], [t, "datetime"], [v, "2024-01-01"]]),
            {1: "one", t: "datetime", v: "2024-01-01"},
        ),
        (
            "in-a-tuple",
            env("tuple", [env("dict", [[t, "range"], [v, {"start": 0, "stop": 1, "step": 1}]])]),
            ({t: "range", v: {"start": 0, "stop": 1, "step": 1}},),
        ),
    ]
    for name, value, expected in escaped:
        for preset in ("default", "strict", "api"):
            yield Case(
                f"marker-keys/escaped/{name}/{preset}/loads",
                "marker-keys",
                preset,
                "loads",
                doc(wrap(value)),
                Returns(lambda expected=expected: wrap(expected)),
                roundtrip=preset == "default",
            )
        yield Case(
            f"marker-keys/escaped/{name}/default/deserialize",
            "marker-keys",
            "default",
            "deserialize",
            doc(wrap(value)),
            Returns(lambda expected=expected: wrap(expected)),
        )
    # Objects that are not envelopes stay ordinary dicts, whatever their marker keys say.
    ordinary: list[tuple[str, Any]] = [
        ("only-type-key", {t: "subprocess.Popen"}),
        ("only-value-key", {v: [SECRET]}),
        ("extra-member", {t: "os.system", v: "touch x", "extra": SECRET}),
        ("upper-case", {t.upper(): "os.system", v.upper(): "touch x"}),
        ("trailing-space", {t + " ": "os.system", v: "touch x"}),
        ("marker-as-value", {"type": t, "value": v}),
        ("marker-in-list", [t, v, SECRET]),
    ]
    for name, value in ordinary:
        for preset in ("default", "strict", "api"):
            yield Case(
                f"marker-keys/ordinary/{name}/{preset}/loads",
                "marker-keys",
                preset,
                "loads",
                doc(wrap(value)),
                Returns(lambda value=value: wrap(value)),
            )
        yield Case(
            f"marker-keys/ordinary/{name}/default/json",
            "marker-keys",
            "default",
            "json",
            doc(wrap(value)),
            Returns(lambda value=value: wrap(value)),
        )
    # Envelopes whose tag is not a string: ordinary data by default, an error in strict mode.
    for kind, tag in (("int", 5), ("null", None), ("list", ["uuid.UUID"]), ("object", {"a": SECRET}), ("bool", True)):
        value = wrap(env(tag, {"k": SECRET}))
        yield Case(
            f"marker-keys/non-string-tag/{kind}/default/loads",
            "marker-keys",
            "default",
            "loads",
            doc(value),
            Returns(lambda value=value: value),
        )
        yield Case(
            f"marker-keys/non-string-tag/{kind}/strict/loads",
            "marker-keys",
            "strict",
            "loads",
            doc(value),
            raises(DeserializationError, WRAP_PATH, f"<{type(tag).__name__}>"),
        )
    # What the json drop-in returns for a document holding envelopes: exactly json's dicts.
    value = wrap(env("tuple", [1, 2]))
    yield Case("marker-keys/envelope/json", "marker-keys", "default", "json", doc(value), Returns(lambda: value))


# --- the corpus -------------------------------------------------------------------------------------------------------

_GENERATORS = (
    callable_tag_cases,
    pickle_cases,
    declared_size_cases,
    base64_cases,
    wrong_type_cases,
    deep_nesting_cases,
    long_string_cases,
    huge_number_cases,
    huge_container_cases,
    nan_token_cases,
    duplicate_key_cases,
    invalid_unicode_cases,
    marker_key_cases,
)
CORPUS: list[Case] = [case for generate in _GENERATORS for case in generate()]
