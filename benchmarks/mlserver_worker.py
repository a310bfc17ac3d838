"""Worker that times MLServer 1.7.1's codecs (run with benchmarks/.venv-mlserver/bin/python).

MLServer cannot share the project's virtualenv (its pins), so it runs in its own
virtualenv and process, like old_datason_worker.py, and speaks the same protocol.
Only the codecs run, the way a client and the server use them on the wire (no
server is started): encode = ``<Codec>.encode_request(x).model_dump_json()``,
decode = ``<Codec>.decode_request(InferenceRequest.model_validate_json(text))``.

- Workload B: ``NumpyRequestCodec`` (content type ``np``).
- Workload C: ``PandasCodec`` (content type ``pd``, one input per column). It raises on
  some column dtypes; that failure is the result for the whole frame, and the frame is
  also timed on the subset of columns that round-trip alone without raising (the
  subset's names go to run.py, which times datason on the same subset).

Modes: ``--serve`` (a JSON "ready" line, then one round per workload key read on
stdin) or ``--rounds N`` (print medians), as in old_datason_worker.py.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import timing
import workloads

# MLServer from this worker's virtualenv, typed as Any (no stubs needed to read this file)
codecs: Any = importlib.import_module("mlserver.codecs")
types: Any = importlib.import_module("mlserver.types")


def encoder(codec: Any, value: Any) -> Callable[[], object]:
    """``codec.encode_request(value)`` serialized to JSON text, as a client sends it."""
    return lambda: codec.encode_request(value).model_dump_json()


def decoder(codec: Any, text: str) -> Callable[[], object]:
    """JSON text parsed to an ``InferenceRequest`` (as the server does) and decoded by ``codec``."""
    parse = types.InferenceRequest.model_validate_json
    return lambda: codec.decode_request(parse(text))


def specs_for(codec: Any, value: Any, prefix: str, what: str) -> dict[str, timing.Spec]:
    """Encode, decode and round-trip specs for ``value``; decode needs an encode that works."""
    name = codec.__name__
    try:
        text = encoder(codec, value)()
        decode = decoder(codec, str(text))
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"

        def decode() -> object:
            raise RuntimeError(f"nothing to decode: encode fails ({why})")

    return {
        f"{prefix}.encode": (
            "encode",
            f"MLServer `{name}.encode_request({what}).model_dump_json()`",
            encoder(codec, value),
        ),
        f"{prefix}.decode": (
            "decode",
            f"MLServer `{name}.decode_request(InferenceRequest.model_validate_json(s))`{suffix(what)}",
            decode,
        ),
        f"{prefix}.rt": (
            "round trip",
            f"MLServer `{name}` encode + JSON + decode{suffix(what)}",
            lambda: decoder(codec, str(encoder(codec, value)()))(),
        ),
    }


def suffix(what: str) -> str:
    """Label suffix naming a column subset."""
    return "" if what in ("a", "df") else f" on `{what}`"


def contenders_b(a: Any) -> tuple[dict[str, Callable[[], object]], dict[str, Any]]:
    """NumpyRequestCodec on workload B."""
    specs = specs_for(codecs.NumpyRequestCodec, a, "mls", "a")
    calls, checks = timing.check_calls(specs, lambda got: workloads.describe_array(got, a))
    checks["notes"] = ["`NumpyRequestCodec` writes the values as a flat JSON list with `shape` and `datatype`."]
    return calls, checks


def column_errors(df: Any) -> dict[str, str]:
    """Per column: why PandasCodec cannot round-trip that column alone ("" when it can)."""
    errors = {}
    for column in df.columns:
        try:
            decoder(codecs.PandasCodec, encoder(codecs.PandasCodec, df[[column]])())()
        except Exception as exc:
            errors[column] = f"{type(exc).__name__}: {exc}"
        else:
            errors[column] = ""
    return errors


def contenders_c(df: Any) -> tuple[dict[str, Callable[[], object]], dict[str, Any]]:
    """PandasCodec on workload C: the whole frame, and the subset of columns it can handle."""
    errors = column_errors(df)
    subset = [c for c, why in errors.items() if not why]
    sub = df[subset]
    what = f"df[{len(subset)} of {df.shape[1]} columns]"
    specs = specs_for(codecs.PandasCodec, df, "mls", "df") | specs_for(codecs.PandasCodec, sub, "mls.sub", what)
    calls, checks = timing.check_calls(specs, lambda got: workloads.describe_frame(got, df))
    for name in ("mls.sub.decode", "mls.sub.rt"):  # the subset is checked against the same subset of the input
        if name in calls:
            checks["fidelity"][name] = workloads.describe_frame(calls[name](), sub)
    first = next((c for c, why in errors.items() if why), None)
    for name, info in checks["fidelity"].items():
        if first is not None and "error" in info and not name.startswith("mls.sub."):
            info["error"] += f" (first column it cannot encode: `{first}`, dtype {df[first].dtype})"
    failing: dict[str, list[str]] = {}
    for column, why in errors.items():
        if why:
            failing.setdefault(f"{df[column].dtype} ({why})", []).append(column)
    checks["subset"] = subset
    checks["subset_dtypes"] = sorted({str(df[c].dtype) for c in subset})
    checks["notes"] = [
        f"`PandasCodec` handles {len(subset)} of {df.shape[1]} columns alone: "
        f"{', '.join(checks['subset_dtypes'])}. Fails on: "
        + "; ".join(f"{kind}: {', '.join(cols)}" for kind, cols in failing.items())
        + ".",
    ]
    return calls, checks


CONTENDERS = {"B": contenders_b, "C": contenders_c}


def _version(dist: str) -> str:
    """Installed version of ``dist``, or "not installed"."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def main() -> None:
    """Parse arguments and run the requested mode."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", action="append", choices=sorted(CONTENDERS), help="default: all")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    keys = args.workload or sorted(CONTENDERS)
    calls, checks = timing.build_checked(keys, lambda key: CONTENDERS[key](workloads.build(key)))
    versions = {name: _version(name) for name in ("mlserver", "numpy", "pandas", "pydantic")}
    head = {"version": versions["mlserver"], "versions": versions, "python": sys.version.split()[0], "checks": checks}
    if not args.serve:
        stats = {k: timing.interleave(calls[k], args.rounds, args.warmup) for k in keys}
        head["stats"] = {k: {n: {"median": s.median, "min": s.min} for n, s in v.items()} for k, v in stats.items()}
        print(json.dumps(head))
        return
    timing.serve(calls, head)


if __name__ == "__main__":
    main()
