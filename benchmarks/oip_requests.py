"""OIP request decoding, in-process: datason's ``oip.decode_request`` vs what a hand-written endpoint does.

Usage (from the repository root, with the project's virtualenv):

    .venv/bin/python benchmarks/oip_requests.py                                # prints the table
    .venv/bin/python benchmarks/oip_requests.py --output docs/benchmarks.md    # also writes its block there
    .venv/bin/python benchmarks/oip_requests.py --quick                        # smoke run

The peer is the bare endpoint of ``benchmarks/serving.py``: ``orjson.loads`` of the body, then
``np.array(data, dtype).reshape(shape)`` per input, with no checks at all (a bool or a string in FP64 data is
converted silently, a shape that does not match the data raises a NumPy error). datason checks every field,
keeps the datatype's dtype, names what is wrong, and applies the config's limits. Bodies: compact JSON as
tritonclient and kserve send them: numeric tensors from 82 B to 120 KB, flat and nested (row-major lists), and
BYTES text, which takes datason's general path. Each contender's call decodes the body as many times as takes
about a millisecond;
``timing.interleave`` runs both in every round (order alternating) and the ratio is paired per round.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import docblock  # noqa: E402
import timing  # noqa: E402
from datason.protocols import oip  # noqa: E402

_DTYPES = {"FP64": np.float64, "FP32": np.float32, "INT64": np.int64, "INT32": np.int32, "BOOL": np.bool_}


def _tensor(name: str, datatype: str, shape: list[int], data: Any) -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def bodies() -> dict[str, bytes]:
    """The request bodies, by label (seeded: the same bytes every run)."""
    rng = np.random.default_rng(5)
    docs: dict[str, dict[str, Any]] = {
        "FP64 [1,4] (iris row)": {"inputs": [_tensor("x", "FP64", [1, 4], [5.1, 3.5, 1.4, 0.2])]},
        "FP32 [2,8], with id": {
            "id": "123e4567-e89b-12d3-a456-426614174000",
            "inputs": [_tensor("x", "FP32", [2, 8], rng.random(16).astype(np.float32).tolist())],
        },
        "INT64 [32] (token ids)": {"inputs": [_tensor("ids", "INT64", [32], rng.integers(0, 50_000, 32).tolist())]},
        "3 inputs: FP64, INT32, BOOL": {
            "inputs": [
                _tensor("a", "FP64", [3], [1.5, 2.5, 3.5]),
                _tensor("b", "INT32", [2], [1, 2]),
                _tensor("c", "BOOL", [2], [True, False]),
            ]
        },
        "FP64 [1,100]": {"inputs": [_tensor("x", "FP64", [1, 100], rng.standard_normal(100).tolist())]},
        "FP64 [1,1000]": {"inputs": [_tensor("x", "FP64", [1, 1000], rng.standard_normal(1000).tolist())]},
        "INT64 [4000]": {"inputs": [_tensor("x", "INT64", [4000], rng.integers(-(10**9), 10**9, 4000).tolist())]},
        "FP64 [64,100]": {"inputs": [_tensor("x", "FP64", [64, 100], rng.standard_normal(6400).tolist())]},
        "FP64 [10,100], nested data": {
            "inputs": [_tensor("x", "FP64", [10, 100], rng.standard_normal((10, 100)).tolist())]
        },
        "BYTES [100] (not simple)": {"inputs": [_tensor("x", "BYTES", [100], [f"word {i}" for i in range(100)])]},
    }
    return {label: json.dumps(doc, separators=(",", ":")).encode() for label, doc in docs.items()}


def bare(body: bytes) -> Any:
    """The hand-written endpoint's decode (benchmarks/serving.py's ``_oip_input``; BYTES items as bytes in an
    object array, as the protocol means them and datason gives them)."""
    doc = orjson.loads(body)
    arrays = {}
    for t in doc["inputs"]:
        if t["datatype"] == "BYTES":
            arrays[t["name"]] = np.array([s.encode() for s in t["data"]], dtype=object).reshape(t["shape"])
        else:
            arrays[t["name"]] = np.array(t["data"], dtype=_DTYPES[t["datatype"]]).reshape(t["shape"])
    return next(iter(arrays.values())) if len(arrays) == 1 else arrays


def _repeat(fn: Callable[[bytes], Any], body: bytes, n: int) -> Callable[[], object]:
    def call() -> object:
        for _ in range(n):
            fn(body)
        return None

    return call


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.tolist() == b.tolist()


def measure(rounds: int, target_ms: float) -> list[dict[str, Any]]:
    """One row per body: µs per decode of each contender (median over rounds) and the paired ratio."""
    rows = []
    for label, body in bodies().items():
        mine = oip.decode_request(body).value
        if not _same(mine, bare(body)):
            raise RuntimeError(f"{label}: datason and the bare decode disagree")
        n = 1
        while timing.time_call(_repeat(oip.decode_request, body, n)) < target_ms and n < 1 << 20:
            n *= 2
        stats = timing.interleave(
            {"datason": _repeat(oip.decode_request, body, n), "bare": _repeat(bare, body, n)}, rounds, warmup=1
        )
        rows.append(
            {
                "label": label,
                "bytes": len(body),
                "datason_us": stats["datason"].median * 1000 / n,
                "bare_us": stats["bare"].median * 1000 / n,
                "ratio": timing.paired_ratio(stats["datason"], stats["bare"]),
            }
        )
    return rows


def report(rows: list[dict[str, Any]], rounds: int) -> list[str]:
    """The Markdown block."""
    lines = [
        "## OIP request decoding: `oip.decode_request` vs `orjson.loads` + `np.array` (in-process)",
        "",
        "Generated by `benchmarks/oip_requests.py`; rerun it rather than editing this section.",
        "",
        docblock.machine_line(),
        f"- Method: {rounds} rounds of `timing.interleave` (both contenders each round, order alternating); a "
        "call decodes the body as many times as takes about a millisecond; µs per decode (median over rounds) "
        "and datason / bare paired per round (median). The bare decode checks nothing (benchmarks/serving.py's "
        "endpoint); datason checks every field, keeps the datatype's dtype and applies the config's limits.",
        "",
        "| body | bytes | datason µs | bare µs | datason / bare |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['bytes']} | {r['datason_us']:.2f} | {r['bare_us']:.2f} | {r['ratio']:.2f}x |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Measure, print the block, and write it with --output."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="write the block into this Markdown file")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 rounds of about 0.2 ms")
    args = parser.parse_args(argv)
    rounds, target = (3, 0.2) if args.quick else (21, 1.0)
    lines = report(measure(rounds, target), rounds)
    print("\n".join(lines))
    if args.output:
        docblock.write_block(Path(args.output), "oip_requests", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
