"""Worker that times datason 0.13.0 (run with benchmarks/.venv-datason013/bin/python).

datason 0.13 has the same import name as the new package, so it runs in its own
virtualenv and process (numpy and pandas are installed there too, as for a typical
ML user: without them 0.13's ``loads`` tries and fails to import them for every
list, which made it 3-4x slower still). Its ``dumps`` returns Python objects, not
text, so every encode here adds ``json.dumps``; its ``loads`` is ``json.loads`` plus
"smart" guessing, ``deserialize``/``load_typed`` take already-parsed JSON.

Modes:
  ``--rounds N``  time N interleaved rounds and print one JSON object with medians;
  ``--serve``     print a JSON "ready" line, then for each workload key read on
                  stdin run one round and print ``{name: ms}``; stop at EOF.
Both first print fidelity checks: what came back for UUID and datetime values.
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


def contenders_a(data: list[dict[str, Any]]) -> tuple[dict[str, Callable[[], object]], dict[str, Any]]:
    """Timed calls and fidelity checks for workload A."""
    api = datason.get_api_config()
    typed = SerializationConfig(include_type_hints=True)
    text_default = json.dumps(datason.dumps(data))
    text_api = json.dumps(datason.dumps(data, config=api))
    text_typed = json.dumps(datason.serialize(data, config=typed))
    calls: dict[str, Callable[[], object]] = {
        "old.dumps.api": lambda: json.dumps(datason.dumps(data, config=api)),
        "old.dumps.default": lambda: json.dumps(datason.dumps(data)),
        "old.dumps.typed": lambda: json.dumps(datason.serialize(data, config=typed)),
        "old.loads.default": lambda: datason.loads(text_default),
        "old.loads.typed": lambda: datason.loads(text_typed),
        "old.deserialize.default": lambda: datason.deserialize(json.loads(text_default)),
        "old.load_typed.typed": lambda: datason.load_typed(json.loads(text_typed)),
        "old.rt.loads": lambda: datason.loads(json.dumps(datason.dumps(data))),
        "old.rt.load_typed": lambda: datason.load_typed(json.loads(json.dumps(datason.serialize(data, config=typed)))),
    }
    checks: dict[str, Any] = {
        "dumps() returns": type(datason.dumps(data)).__name__,
        "default JSON": text_default[:150] + "...",
        "typed JSON": text_typed[:200] + "...",
        "loads(api JSON)": describe(datason.loads(text_api), data),
    }
    # every decode and round trip runs once here: it checks fidelity and warms caches
    checks["fidelity"] = {name: describe(fn(), data) for name, fn in calls.items() if ".dumps." not in name}
    return calls, checks


CONTENDERS = {"A": contenders_a}


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
    calls: dict[str, dict[str, Callable[[], object]]] = {}
    checks: dict[str, Any] = {}
    for key in keys:
        calls[key], checks[key] = CONTENDERS[key](workloads.build(key))
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
    print(json.dumps(head), flush=True)
    for line in sys.stdin:
        key = line.strip()
        print(json.dumps({n: timing.time_call(fn) for n, fn in calls[key].items()}), flush=True)


if __name__ == "__main__":
    main()
