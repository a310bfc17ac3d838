"""Worker that times datason 0.13.0 (run with benchmarks/.venv-datason013/bin/python).

datason 0.13 has the same import name as the new package, so it runs in its own
virtualenv and process (numpy and pandas are installed there too, as for a typical
ML user: without them 0.13's ``loads`` tries and fails to import them for every
list, which made it 3-4x slower still). Its ``dumps`` returns Python objects, not
text, so every encode here adds ``json.dumps``; its ``loads`` is ``json.loads`` plus
"smart" guessing, ``deserialize``/``load_typed`` take already-parsed JSON.

Workload B: with its default limits 0.13 refuses arrays over 100,000 elements (``dumps``
returns a ``security_error`` dict, ``loads`` raises), so the timed calls pass
``max_size=10**7``; the default calls are reported as failures.

Modes:
  ``--rounds N``  time N interleaved rounds and print one JSON object with medians;
  ``--serve``     print a JSON "ready" line, then for each workload key read on
                  stdin run one round and print ``{name: ms}``; stop at EOF.
Both first print fidelity checks: what came back, per call (timing.check_calls).
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

# datason 0.13.0 from this worker's virtualenv; typed as Any so checkers never confuse it with src/datason
datason: Any = importlib.import_module("datason")
SerializationConfig: Any = datason.config.SerializationConfig
BIG = 10**7  # max_size that lets 0.13 take workload B (its default is 100,000)


def describe(value: Any, original: list[dict[str, Any]]) -> dict[str, Any]:
    """What a decode gave back for workload A, compared with the input."""
    if hasattr(value, "dtypes") and hasattr(value, "iloc"):  # a pandas DataFrame: 0.13 guessed one
        row = value.iloc[0].to_dict()
        cells = ", ".join(f"{k}: {type(v).__module__}.{type(v).__name__}" for k, v in row.items())
        return {"exact": False, "got": f"pandas.DataFrame {value.shape}, first row cells {{{cells}}}"}
    if not isinstance(value, list) or not value or not isinstance(value[0], dict):
        return {"exact": False, "got": type(value).__name__}
    first = value[0]
    ts = first.get("ts")
    return {
        "exact": value == original,
        "records_differing": sum(a != b for a, b in zip(value, original, strict=False))
        + abs(len(value) - len(original)),
        "id_type": type(first.get("id")).__name__,
        "ts_type": type(ts).__name__,
        "ts_value": repr(ts),
    }


def refuse(out: object) -> str:
    """Why an encode's output is no answer: 0.13 returns limit violations as data."""
    text = out if isinstance(out, str) else ""
    if '"__datason_type__": "security_error"' in text[:100]:
        return "returns a `security_error` dict, not the data: " + json.loads(text)["__datason_value__"]
    return ""


def bare_nan(text: str) -> bool:
    """True when ``text`` holds NaN/Infinity tokens (not RFC 8259 JSON)."""

    def reject(token: str) -> None:
        raise ValueError(token)

    try:
        json.loads(text, parse_constant=reject)
    except ValueError:
        return True
    return False


def api_specs(data: Any, d: str) -> dict[str, timing.Spec]:
    """0.13's encode, decode and round-trip calls on ``data``, named ``d`` in labels (workloads A and C)."""
    api = datason.get_api_config()
    typed = SerializationConfig(include_type_hints=True)
    text_default = json.dumps(datason.dumps(data))
    text_typed = json.dumps(datason.serialize(data, config=typed))
    return {
        "old.dumps.api": (
            "encode",
            f"datason 0.13 `json.dumps(dumps({d}, config=get_api_config()))`",
            lambda: json.dumps(datason.dumps(data, config=api)),
        ),
        "old.dumps.default": (
            "encode",
            f"datason 0.13 `json.dumps(dumps({d}))`",
            lambda: json.dumps(datason.dumps(data)),
        ),
        "old.dumps.typed": (
            "encode",
            f"datason 0.13 `json.dumps(serialize({d}, include_type_hints=True))`",
            lambda: json.dumps(datason.serialize(data, config=typed)),
        ),
        "old.loads.default": ("decode", "datason 0.13 `loads(s)` (default JSON)", lambda: datason.loads(text_default)),
        "old.loads.typed": ("decode", "datason 0.13 `loads(s)` (typed JSON)", lambda: datason.loads(text_typed)),
        "old.deserialize.default": (
            "decode",
            "datason 0.13 `deserialize(json.loads(s))` (default JSON)",
            lambda: datason.deserialize(json.loads(text_default)),
        ),
        "old.load_typed.typed": (
            "decode",
            "datason 0.13 `load_typed(json.loads(s))` (typed JSON)",
            lambda: datason.load_typed(json.loads(text_typed)),
        ),
        "old.rt.loads": (
            "round trip",
            f"datason 0.13 `loads(json.dumps(dumps({d})))`",
            lambda: datason.loads(json.dumps(datason.dumps(data))),
        ),
        "old.rt.load_typed": (
            "round trip",
            "datason 0.13 typed `serialize` + `json` + `load_typed`",
            lambda: datason.load_typed(json.loads(json.dumps(datason.serialize(data, config=typed)))),
        ),
    }


def samples(data: Any, width: int) -> dict[str, str]:
    """The start of 0.13's default and typed JSON for ``data``."""
    typed = SerializationConfig(include_type_hints=True)
    return {
        "default JSON": json.dumps(datason.dumps(data))[:150] + "...",
        "typed JSON": json.dumps(datason.serialize(data, config=typed))[:width] + "...",
    }


def contenders_a(data: list[dict[str, Any]]) -> tuple[dict[str, Callable[[], object]], dict[str, Any]]:
    """Timed calls and fidelity checks for workload A."""
    calls, checks = timing.check_calls(api_specs(data, "d"), lambda got: describe(got, data), refuse)
    text_api = json.dumps(datason.dumps(data, config=datason.get_api_config()))
    checks["notes"] = [
        f"`dumps()` returns a `{type(datason.dumps(data)).__name__}` (not text; JSON needs `json.dumps`)."
    ]
    checks["samples"] = samples(data, 200)
    checks["extra"] = {"datason 0.13 `loads(s)` (API config JSON)": describe(datason.loads(text_api), data)}
    return calls, checks


def contenders_b(a: Any) -> tuple[dict[str, Callable[[], object]], dict[str, Any]]:
    """Timed calls and fidelity checks for workload B (1e6 float64)."""
    typed_big = SerializationConfig(include_type_hints=True, max_size=BIG)
    text_typed = json.dumps(datason.serialize(a, config=typed_big))
    specs: dict[str, timing.Spec] = {
        "old.dumps.default": ("encode", "datason 0.13 `json.dumps(dumps(a))`", lambda: json.dumps(datason.dumps(a))),
        "old.dumps.typed": (
            "encode",
            "datason 0.13 `json.dumps(serialize(a, include_type_hints=True, max_size=10**7))`",
            lambda: json.dumps(datason.serialize(a, config=typed_big)),
        ),
        "old.loads.typed": ("decode", "datason 0.13 `loads(s)` (typed JSON)", lambda: datason.loads(text_typed)),
        "old.load_typed.typed": (
            "decode",
            "datason 0.13 `load_typed(json.loads(s), include_type_hints=True, max_size=10**7)`",
            lambda: datason.load_typed(json.loads(text_typed), config=typed_big),
        ),
        "old.rt.load_typed": (
            "round trip",
            "datason 0.13 typed `serialize` + `json` + `load_typed` (max_size=10**7)",
            lambda: datason.load_typed(
                json.loads(json.dumps(datason.serialize(a, config=typed_big))), config=typed_big
            ),
        ),
    }
    calls, checks = timing.check_calls(specs, lambda got: workloads.describe_array(got, a), refuse)
    checks["notes"] = [
        "Typed JSON holds the nested list only, no dtype and no shape: this float64 vector comes back "
        "float64 because 0.13 guesses float64 for a list of floats, and the shape is the nesting's.",
    ]
    checks["samples"] = {"typed JSON": text_typed[:150] + "..."}
    import numpy as np

    typed = SerializationConfig(include_type_hints=True)
    checks["extra"] = {}
    for small in (np.arange(6, dtype=np.float32).reshape(2, 3) / 3, np.arange(6, dtype=np.int32).reshape(2, 3)):
        back = datason.load_typed(json.loads(json.dumps(datason.serialize(small, config=typed))))
        title = f"for contrast, a {small.dtype} {small.shape} array, typed `serialize` + `load_typed`"
        checks["extra"][title] = workloads.describe_array(back, small)
    return calls, checks


def contenders_c(df: Any) -> tuple[dict[str, Callable[[], object]], dict[str, Any]]:
    """Timed calls and fidelity checks for workload C (1000x20 mixed DataFrame): the same calls as A."""
    calls, checks = timing.check_calls(api_specs(df, "df"), lambda got: workloads.describe_frame(got, df), refuse)
    text_default = json.dumps(datason.dumps(df))
    text_api = json.dumps(datason.dumps(df, config=datason.get_api_config()))
    checks["notes"] = [
        f"`dumps()` returns a `{type(datason.dumps(df)).__name__}` (not text; JSON needs `json.dumps`).",
        f"`json.dumps(dumps(df))` holds bare NaN tokens (not RFC 8259 JSON): {bare_nan(text_default)}; "
        f"with the API config: {bare_nan(text_api)}.",
    ]
    checks["samples"] = samples(df, 300)
    return calls, checks


CONTENDERS = {"A": contenders_a, "B": contenders_b, "C": contenders_c}


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
    versions = {name: _version(name) for name in ("datason", "numpy", "pandas")}
    head = {
        "version": getattr(datason, "__version__", versions["datason"]),
        "versions": versions,
        "module_file": datason.__file__,
        "python": sys.version.split()[0],
        "checks": checks,
    }
    if not args.serve:
        stats = {k: timing.interleave(calls[k], args.rounds, args.warmup) for k in keys}
        head["stats"] = {k: {n: {"median": s.median, "min": s.min} for n, s in v.items()} for k, v in stats.items()}
        print(json.dumps(head))
        return
    timing.serve(calls, head)


if __name__ == "__main__":
    main()
