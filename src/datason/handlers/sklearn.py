"""Handlers for scikit-learn estimators; loaded the first time an estimator or a ``sklearn.*`` tag is met.

Estimators (fitted or not, pipelines, meta-estimators, whatever holds NumPy arrays) cross the wire in
skops' secure format: a zip of a JSON schema and ``.npy`` arrays that names every type it holds and is
loaded without pickle. What each type becomes (typed payload | plain form):

- ``sklearn.base.BaseEstimator`` and subclasses: tag ``sklearn.estimator``,
  ``{"format": "skops", "class": "module.QualName", "data": base64 of skops.io.dumps(est)}`` |
  ``{"class": "module.QualName", "params": est.get_params(deep=False)}`` (nested estimators in the same
  plain form). The plain form describes the estimator for humans and logs; it is never decoded.

Decoding rebuilds only what the caller trusts (``SerializationConfig.trusted_types``, fully qualified
names such as ``"sklearn.linear_model._logistic.LogisticRegression"``): every estimator class in the data
and every type skops itself does not trust by default must be listed, or ``SecurityError`` names the
missing ones. Types that run code or touch the system (``builtins.eval``, ``os.system``, ``subprocess``...)
are refused even when listed. Only then does ``skops.io.loads(data, trusted=trusted_types)`` run, and skops
checks every type again while it loads. Nothing is unpickled and no class named by the payload is imported
by datason. The 0.x tag ``sklearn.model`` (a class name and params) is never decoded.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import sklearn.base

from ..errors import DeserializationError, SecurityError, SerializationError
from ..registry import DecodeContext, EncodeContext
from .kit import add_handler, b64decode, b64encode, expect

__all__: list[str] = []

_TAG = "sklearn.estimator"
_FORMAT = "skops"
# skops loaders that build an arbitrary class (estimators and the like): the caller must name each one.
# (Functions, types and skops' primitive nodes are left to skops' own trust list and ``get_untrusted_types``.)
_OBJECT_LOADERS = frozenset({"ObjectNode", "ReduceNode"})
# Modules whose names are never trusted, whatever trusted_types says: they run code or reach the system.
_NEVER_TRUSTED = frozenset(
    {
        "builtins",
        "os",
        "posix",
        "nt",
        "sys",
        "subprocess",
        "shutil",
        "socket",
        "importlib",
        "pickle",
        "marshal",
        "ctypes",
        "runpy",
        "code",
        "codeop",
        "pty",
        "multiprocessing",
        "io",
        "pathlib",
        "tempfile",
        "webbrowser",
        "operator",
        "functools",
        "types",
        "inspect",
        "gc",
        "signal",
        "threading",
        "asyncio",
        "pdb",
        "timeit",
    }
)
_MAX_LISTED = 20  # type names shown in one error message


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _skops() -> Any:
    try:
        import skops.io
    except ImportError:
        raise DeserializationError("decoding sklearn.estimator needs skops (pip install 'datason[sklearn]')") from None
    return skops.io


def _encode(est: sklearn.base.BaseEstimator, ctx: EncodeContext) -> dict[str, str]:
    try:
        import skops.io
    except ImportError:
        raise SerializationError("typed estimators need skops (pip install 'datason[sklearn]')") from None
    try:
        data = skops.io.dumps(est)
    except Exception as exc:  # skops refuses what it cannot store safely (lambdas, unknown C types...)
        raise SerializationError(f"skops cannot store this estimator ({type(exc).__name__})") from None
    return {"format": _FORMAT, "class": _class_name(type(est)), "data": b64encode(data)}


def _plain(est: sklearn.base.BaseEstimator, ctx: EncodeContext) -> dict[str, Any]:
    return {"class": _class_name(type(est)), "params": est.get_params(deep=False)}


def _names(names: list[str]) -> str:
    shown = [name[:120] for name in names[:_MAX_LISTED]]
    rest = len(names) - len(shown)
    return ", ".join(shown) + (f" and {rest} more" if rest > 0 else "")


def _schema_types(data: bytes, max_bytes: int) -> tuple[str | None, set[str]]:
    """The top-level class and the classes built by object loaders, read from the zip's schema.json."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            schema = None if unpacked > max_bytes else json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, OSError, RuntimeError, NotImplementedError):
        raise DeserializationError("malformed skops data") from None
    if schema is None:
        raise SecurityError(f"skops data unpacks to more than max_bytes={max_bytes}")
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("__loader__") in _OBJECT_LOADERS:
                found.add(f"{node.get('__module__')}.{node.get('__class__')}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    top = f"{schema.get('__module__')}.{schema.get('__class__')}" if isinstance(schema, dict) else None
    return top, found


def _decode(payload: Any, ctx: DecodeContext) -> Any:
    expect(payload, dict, f"{_TAG} payload")
    if payload.get("format") != _FORMAT:
        raise DeserializationError("unsupported estimator format (expected 'skops')")
    claimed = payload.get("class")
    if type(claimed) is not str:
        raise DeserializationError("estimator payload needs a 'class' string")
    data = b64decode(payload.get("data"))
    sio = _skops()
    top, built = _schema_types(data, ctx.config.max_bytes)
    if top != claimed:
        raise DeserializationError("estimator 'class' does not match its skops data")
    try:
        untrusted = set(sio.get_untrusted_types(data=data))
    except Exception:  # skops' own parse of a malformed schema
        raise DeserializationError("malformed skops data") from None
    named = untrusted | built
    forbidden = sorted(n for n in named if n.partition(".")[0] in _NEVER_TRUSTED)
    if forbidden:
        raise SecurityError(f"skops data names types that are never trusted: {_names(forbidden)}", type_name=_TAG)
    trusted = set(ctx.config.trusted_types)
    missing = sorted(named - trusted)
    if missing:
        raise SecurityError(f"skops data holds types not in trusted_types: {_names(missing)}", type_name=_TAG)
    try:
        return sio.loads(data, trusted=sorted(trusted))
    except DeserializationError:
        raise
    except Exception as exc:
        if type(exc).__name__ == "UntrustedTypesFoundException":
            raise SecurityError("skops refused a type not in trusted_types", type_name=_TAG) from None
        raise DeserializationError(f"skops cannot load this data ({type(exc).__name__})") from None


add_handler(sklearn.base.BaseEstimator, _TAG, _encode, _decode, _plain, subclasses=True, keeps_class=True)
