"""Open Inference Protocol codecs side by side: datason.protocols.oip vs MLServer 1.7.1 vs kserve 0.21.

Usage (from the repository root, with the project's virtualenv):

    .venv/bin/python benchmarks/protocols.py --output docs/benchmarks.md   # full run, rewrites its block
    .venv/bin/python benchmarks/protocols.py --quick                       # smoke run, prints only
    .venv/bin/python benchmarks/protocols.py --quick --datason-only        # no foreign virtualenv

Cases (protocols_worker.CASES): a 1e6-element FP32 tensor as JSON and with the binary tensor extension,
and workload C (the 1000 x 20 mixed DataFrame, workloads.build_frame) as JSON. Each library encodes a
request as a client does and decodes that body (bytes) as a server does (and, for the binary tensor, a
response the other way round); "exact?" compares what came
back with what was sent (tensor: dtype, shape, bits, NaN positions; frame: ``assert_frame_equal`` with
``check_exact``). datason runs here, from src/; MLServer and kserve cannot share this virtualenv, so each
runs in a worker process of its own (protocols_worker.py; ``.venv-mlserver`` and ``.venv-frameworks``
from the Makefile, or benchmarks/.venv-mlserver from setup_mlserver.sh when the first is missing). Every
round runs every library once, the order rotating between rounds; tables report medians (and minimums)
and ratios to datason paired round by round. Timings are never asserted: the 1 GB/s target of the binary
path reports PASS or MISS.

``--output`` replaces the block between ``<!-- protocols:begin -->`` and ``<!-- protocols:end -->`` in
the file (appending it when absent) and leaves the rest of the file alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "src"
sys.path.insert(0, str(HERE))

import docblock  # noqa: E402
import protocols_worker as pw  # noqa: E402
import timing  # noqa: E402

LIBS = {
    "datason": "datason `protocols.oip`",
    "mlserver": "MLServer 1.7.1 codecs",
    "kserve": "kserve 0.21 `InferRequest`",
}
FULL_ROUNDS, QUICK_ROUNDS = 21, 3
TENSOR_BYTES = 4 * 1_000_000  # the FP32 tensor's payload: GB/s = these bytes / median time
TARGET_GBPS = 1.0
DIRECTIONS = ("encode", "decode")


# ---------------------------------------------------------------- datason (this process)


def load_oip() -> tuple[Any, Any, str]:
    """Import datason from src/ and its OIP codec; return (oip, decode config, "") or (None, None, why not)."""
    sys.path.insert(0, str(SRC))
    try:
        import datason
        from datason.protocols import oip

        config = datason.config.get_api_config().replace(max_size=10_000_000, max_bytes=1 << 30)
    except Exception as exc:
        return None, None, pw.error_text(exc)
    return oip, config, ""


def datason_rows(oip: Any, config: Any) -> tuple[dict[str, Callable[[], object]], dict[str, Any]]:
    """datason's encode/decode of requests (and of the binary response) on every case, checked once (as the
    workers do), plus the untimed special-values checks."""
    tensor, frame = pw.build_tensor(), pw.build("frame")

    def encode(value: Any, binary: bool) -> pw.Encode:
        return lambda: oip.encode_request(value, binary=binary, config=config)

    def decode(out: Any) -> Any:
        return oip.decode_request(out.body, header_length=out.header_length, config=config).value

    asks_binary = oip.encode_request(tensor[:1], binary_output=True, config=config)
    request = oip.decode_request(asks_binary.body, header_length=asks_binary.header_length, config=config)

    def respond() -> Any:
        return oip.encode_response(tensor, model_name=pw.MODEL, request=request, config=config)

    def decode_response(out: Any) -> Any:
        return oip.decode_response(out.body, header_length=out.header_length, config=config).value

    specs = {
        "tensor.json": (tensor, encode(tensor, False), "`oip.encode_request(a, config=...)`"),
        "tensor.binary": (tensor, encode(tensor, True), "`oip.encode_request(a, binary=True, config=...)`"),
        "frame": (frame, encode(frame, False), "`oip.encode_request(df, config=...)`"),
    }
    calls: dict[str, Callable[[], object]] = {}
    rows: dict[str, Any] = {}
    decode_label = "`oip.decode_request(body, header_length=..., config=...).value`"
    for case, (value, enc, enc_label) in specs.items():
        name = f"datason.{case}"
        got, rows[name] = pw.check_row(name, case, value, enc, decode, (enc_label, decode_label))
        calls |= got
    name = "datason.tensor.binary.response"
    labels = (
        "`oip.encode_response(a, model_name=..., request=..., config=...)` (the request set `binary_data_output`)",
        "`oip.decode_response(body, header_length=..., config=...).value`",
    )
    got, rows[name] = pw.check_row(name, "tensor.binary.response", tensor, respond, decode_response, labels)
    calls |= got

    def encoder(binary: bool) -> Callable[[Any], Any]:
        return lambda a: oip.encode_request(a, binary=binary, config=config)

    specials = {kind: pw.special_check(encoder(binary), decode) for kind, binary in (("JSON", False), ("binary", True))}
    as_text = config.replace(nan_handling="string")
    special_text = {
        "JSON": pw.special_check(
            lambda a: oip.encode_request(a, config=as_text),
            lambda out: oip.decode_request(out.body, header_length=out.header_length, config=as_text).value,
        )
    }
    return calls, {"rows": rows, "notes": [], "special": specials, "special_text": special_text}


# ---------------------------------------------------------------- foreign virtualenvs


@dataclasses.dataclass
class Venv:
    """Where a foreign library's worker runs: ``python`` (None: skipped) and how it was found or why not."""

    lib: str
    python: Path | None
    how: str


def foreign_env() -> dict[str, str]:
    """Environment for worker processes: no PYTHONPATH, so src/ or this venv can never shadow theirs."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _has(python: Path, check: str) -> bool:
    """``python -c check`` exits 0."""
    if not python.exists():
        return False
    try:
        proc = subprocess.run([str(python), "-c", check], capture_output=True, timeout=120, env=foreign_env())
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


CHECKS = {
    "mlserver": 'import importlib.metadata as m, sys, mlserver.codecs; sys.exit(m.version("mlserver") != "1.7.1")',
    "kserve": 'import importlib.metadata as m, sys, kserve; sys.exit(not m.version("kserve").startswith("0.21."))',
}


def find_venv(lib: str) -> Venv:
    """The Makefile's virtualenv for ``lib`` when it is there and works; for MLServer, else
    benchmarks/.venv-mlserver built by setup_mlserver.sh."""
    made = {"mlserver": ROOT / ".venv-mlserver", "kserve": ROOT / ".venv-frameworks"}[lib]
    python = made / "bin" / "python"
    if _has(python, CHECKS[lib]):
        return Venv(lib, python, f"`{made.name}` (the Makefile's)")
    if lib == "kserve":
        return Venv(lib, None, f"`{made.name}` missing or without kserve 0.21 (run `make interop-frameworks`)")
    try:
        proc = subprocess.run(
            ["bash", str(HERE / "setup_mlserver.sh")], capture_output=True, text=True, timeout=900, env=foreign_env()
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Venv(lib, None, f"`{made.name}` missing; setup_mlserver.sh failed: {exc}")
    python = HERE / ".venv-mlserver" / "bin" / "python"
    if proc.returncode != 0 or not python.exists():
        return Venv(lib, None, f"setup_mlserver.sh exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return Venv(
        lib, python, "`benchmarks/.venv-mlserver` (setup_mlserver.sh; the Makefile's `.venv-mlserver` is missing)"
    )


class Worker:
    """A protocols_worker.py process (``--serve``): its head line, then one round of its calls per call."""

    def __init__(self, venv: Venv) -> None:
        assert venv.python is not None
        self.venv = venv
        cmd = [str(venv.python), str(HERE / "protocols_worker.py"), "--lib", venv.lib, "--serve"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=foreign_env())
        self.head: dict[str, Any] = json.loads(self._readline())

    def _readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.venv.lib} worker exited with {self.proc.wait()}")
        return line

    def round(self) -> dict[str, float]:
        """Run one round of the worker's calls; {name: ms}."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("round\n")
        self.proc.stdin.flush()
        return dict(json.loads(self._readline()))

    def close(self) -> None:
        """Close stdin (the worker exits at EOF) and wait for it."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_workers(libs: list[str]) -> tuple[list[Worker], dict[str, str]]:
    """A worker per foreign library; return (workers, {lib: why skipped})."""
    workers: list[Worker] = []
    skipped: dict[str, str] = {}
    for lib in libs:
        venv = find_venv(lib)
        if venv.python is None:
            skipped[lib] = venv.how
        else:
            try:
                workers.append(Worker(venv))
            except (OSError, RuntimeError, ValueError) as exc:
                skipped[lib] = f"worker failed in {venv.how}: {exc}"
        if lib in skipped:
            print(f"NOTE: {LIBS[lib]} skipped: {skipped[lib]}", file=sys.stderr)
    return workers, skipped


# ---------------------------------------------------------------- timing


def run_rounds(
    local: Mapping[str, Callable[[], object]], workers: list[Worker], rounds: int, warmup: int
) -> dict[str, timing.Stats]:
    """``warmup`` + ``rounds`` rounds; each runs every library once (datason's calls here, each worker's in
    its process), the libraries' order rotating from round to round and datason's own calls reversed on
    odd rounds. Returns stats of the timed rounds by call name."""
    names = list(local)

    def here(i: int) -> dict[str, float]:
        order = names if i % 2 == 0 else names[::-1]
        return {name: timing.time_call(local[name]) for name in order}

    def remote(w: Worker) -> Callable[[int], Mapping[str, float]]:
        return lambda _: w.round()

    parts: list[Callable[[int], Mapping[str, float]]] = [here, *map(remote, workers)]
    samples: dict[str, list[float]] = {}
    for i in range(warmup + rounds):
        shift = i % len(parts)
        for part in parts[shift:] + parts[:shift]:
            got = part(i)
            if i >= warmup:
                for name, ms in got.items():
                    samples.setdefault(name, []).append(ms)
    return timing.summarize(samples)


# ---------------------------------------------------------------- report


def gbps(st: timing.Stats | None) -> float | None:
    """The tensor's payload over a median time, GB/s."""
    return TENSOR_BYTES / (st.median / 1e3) / 1e9 if st is not None else None


def exact_text(row: Mapping[str, Any]) -> str:
    """A row's exactness cell: yes, **no**: what was lost, what raised, or why not applicable."""
    if "na" in row:
        return row["na"]
    if "error" in row:
        return f"**raises**: {row['error']}"
    fid = row.get("fidelity", {})
    return "yes" if fid.get("exact") else f"**no**: {fid.get('lost') or 'differs'}"


def target_lines(rows: Mapping[str, Any], stats: Mapping[str, timing.Stats], why_not: str) -> list[str]:
    """The 1 GB/s targets of datason's binary path, encode and decode (decode must also be exact)."""
    lines = ["| target | measured | limit | result |", "|---|---:|---:|---|"]
    for case, direction in [(c, d) for c in ("tensor.binary", "tensor.binary.response") for d in DIRECTIONS]:
        row = rows.get(f"datason.{case}", {})
        what = {"tensor.binary": "request", "tensor.binary.response": "response"}[case]
        call = {"encode": f"encode_{what}", "decode": f"decode_{what}"}[direction]
        label = f"datason binary {what}, `{call}` of the 1e6 FP32 tensor at least 1 GB/s (4e6 bytes / median time)"
        st = stats.get(f"datason.{case}.{direction}")
        if st is None:
            reason = why_not or row.get("error") or "not measured"
            lines.append(f"| {label} | {reason} | >= {TARGET_GBPS:g} GB/s | MISS |")
            continue
        v = gbps(st) or 0.0
        inexact = direction == "decode" and not row.get("fidelity", {}).get("exact")
        ok = v >= TARGET_GBPS and not inexact
        text = f"{v:.2f} GB/s ({st.median:.2f} ms median)" + (" (not exact)" if inexact else "")
        lines.append(f"| {label} | {text} | >= {TARGET_GBPS:g} GB/s | {'PASS' if ok else 'MISS'} |")
    return lines


def results_lines(
    rows: Mapping[str, Any], stats: Mapping[str, timing.Stats], libs: list[str], skipped: Mapping[str, str]
) -> list[str]:
    """The main table: one row per case and library."""
    head = [
        "case",
        "library",
        "body MB",
        "encode ms (min)",
        "decode ms (min)",
        "encode vs datason",
        "decode vs datason",
        "GB/s encode / decode",
        "exact?",
    ]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * 6 + "---|"]
    for case, title in pw.CASES.items():
        for lib in libs:
            name = f"{lib}.{case}"
            row = rows.get(name)
            if row is None:
                why = skipped.get(lib, "not run")
                lines.append(f"| {title} | {LIBS[lib]} | | | | | | | skipped: {why} |")
                continue
            cells = [title, LIBS[lib], f"{row['size'] / 1e6:.2f}" if "size" in row else ""]
            per = {d: stats.get(f"{name}.{d}") for d in DIRECTIONS}
            cells += [f"{st.median:.2f} ({st.min:.2f})" if st else "—" for st in per.values()]
            for d, st in per.items():
                ref = stats.get(f"datason.{case}.{d}")
                cells.append(
                    "1.00x"
                    if lib == "datason" and st
                    else f"{timing.paired_ratio(st, ref):.2f}x"
                    if st and ref
                    else "—"
                )
            if case.startswith("tensor.binary") and any(per.values()):
                cells.append(" / ".join(f"{v:.3g}" if (v := gbps(st)) is not None else "—" for st in per.values()))
            else:
                cells.append("")
            cells.append(exact_text(row))
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def calls_lines(rows: Mapping[str, Any], libs: list[str]) -> list[str]:
    """What each library's encode and decode call is, per case."""
    lines = ["| case | library | encode | decode |", "|---|---|---|---|"]
    for case, title in pw.CASES.items():
        for lib in libs:
            row = rows.get(f"{lib}.{case}")
            if row is None or "na" in row:
                continue
            lines.append(f"| {title} | {LIBS[lib]} | {row['encode_label']} | {row['decode_label']} |")
    return lines


def special_lines(specials: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Untimed: the special FP32 values through each library's JSON and binary paths ({row label: {kind: info}})."""
    lines = ["| library | JSON | binary |", "|---|---|---|"]
    for label, kinds in specials.items():
        cells = []
        for kind in ("JSON", "binary"):
            info = kinds.get(kind)
            if info is None:
                cells.append("not applicable" if label.startswith("MLServer") else "—")
            elif "error" in info:
                cells.append(f"**raises**: {info['error']}")
            elif info.get("exact"):
                cells.append("yes")
            else:
                cells.append(f"**no**: {info['lost']}; back: `{info['got']}`")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_rev() -> str:
    """Short HEAD, and whether src/ has uncommitted changes."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"], capture_output=True, text=True
    )
    return (sha.stdout.strip() or "no commit") + (" + uncommitted changes in src/" if dirty.stdout.strip() else "")


def report(
    args: argparse.Namespace,
    rows: Mapping[str, Any],
    stats: Mapping[str, timing.Stats],
    workers: list[Worker],
    skipped: Mapping[str, str],
    why_not: str,
    notes: list[str],
    specials: Mapping[str, Mapping[str, Any]],
    run: Mapping[str, float],
) -> list[str]:
    """The Markdown block (without its markers)."""
    libs = [
        "datason",
        *(lib for lib in LIBS if lib != "datason" and (lib in skipped or any(w.venv.lib == lib for w in workers))),
    ]
    cmd = (
        "python benchmarks/protocols.py"
        + (" --quick" if args.quick else "")
        + (f" --rounds {args.rounds}" if args.rounds else "")
        + (" --datason-only" if args.datason_only else "")
    )
    here = ", ".join(f"{d} {_version(d)}" for d in ("numpy", "pandas", "orjson"))
    lines = [
        "## Open Inference Protocol codecs: datason vs MLServer vs kserve",
        "",
        f"Generated by `benchmarks/protocols.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; rerun it rather "
        "than editing this section (it rewrites only what is between its markers).",
        "",
        "Reproduce (from the repository root; `make bench-protocols`):",
        "",
        f"    .venv/bin/{cmd} --output docs/benchmarks.md",
        "",
        docblock.machine_line(),
        f"- datason {'unavailable: ' + why_not if why_not else 'from src/'} at git {git_rev()}; "
        f"Python {platform.python_version()}; {here} (`.venv`).",
    ]
    for w in workers:
        h = w.head
        versions = ", ".join(f"{d} {v}" for d, v in h["versions"].items())
        lines.append(f"- {h['title']}: worker process in {w.venv.how}, Python {h['python']}; {versions}.")
    lines += [f"- {LIBS[lib]}: skipped ({why})." for lib, why in skipped.items()]
    lines += [
        f"- Method: {run['rounds']:.0f} timed rounds after {run['warmup']:.0f} warm-up rounds and one untimed call of "
        "each (the exactness check); every round runs every library once (MLServer and kserve in their worker "
        "processes), the libraries' order rotating from round to round; `gc.collect()` before each call; median "
        f"and min in ms. Whole run {run['elapsed']:.0f} s; 1-min load average {run['load_before']:.1f} before, "
        f"{run['load_after']:.1f} after. Shared, noisy 2-core machine: read ratios, not absolute times.",
        "- encode: the client's side, the value to the request body (bytes; binary: the JSON header and the "
        "tensor bytes joined, plus the JSON header's length); decode: the server's side, that body as `bytes` "
        "(what an ASGI server hands over) to the value a model receives. Each library decodes the body its own "
        "encode wrote.",
        "- ratio vs datason: median over rounds of (library's time / datason's time in the same round) for "
        "the same case and direction. GB/s: the tensor's 4e6 payload bytes / median time.",
        "- exact?: checked once before timing. Tensor: an ndarray with the same dtype and shape and the same "
        "bits (so NaN positions too); frame: `pd.testing.assert_frame_equal(got, df, check_exact=True)` "
        "(dtypes with time zones and categories, index, column names, every value with NaN/NaT/NA by position), "
        "else what differs per kind of column. **raises**: the call raised; that is the row's result and it is "
        "not timed.",
        "- Data: FP32 tensor = `workloads.build_array()` (seeded standard normal, 1e6) as float32, shape "
        "[1000, 1000], no NaN; frame = workload C (`workloads.build_frame`: float32, int64, str, category, "
        "Europe/Paris datetime, bool, nullable Int64, cycled; some NaN/None/NaT/NA), built in each process "
        "with that process's pandas.",
        "",
        "### Targets",
        "",
        *target_lines(rows, stats, why_not),
        "",
        "### Results",
        "",
        *results_lines(rows, stats, libs, skipped),
        "",
        "### Calls timed",
        "",
        *calls_lines(rows, libs),
        "",
        "### Special FP32 values (untimed)",
        "",
        "NaN, +inf, -inf, -0.0, the smallest subnormal, the largest float32, 0.1 and 1.0 (a 2 x 4 FP32 tensor) "
        "through each library's encode and decode: exact?",
        "",
        *special_lines(specials),
        "",
    ]
    if notes:
        lines += ["### Notes", "", *(f"- {n}" for n in notes), ""]
    return lines


def write_block(path: Path, lines: list[str]) -> None:
    """Replace the protocols block in ``path``, or append it (creating the file)."""
    docblock.write_block(path, "protocols", lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print the Markdown block (and write it with --output)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROUNDS} rounds, no warm-up (smoke test)")
    parser.add_argument("--rounds", type=int, help=f"timed rounds (default {FULL_ROUNDS}; quick {QUICK_ROUNDS})")
    parser.add_argument("--datason-only", action="store_true", help="start no foreign virtualenv")
    parser.add_argument("--output", help="Markdown file whose protocols block to rewrite (default: print only)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else FULL_ROUNDS)
    warmup = 0 if args.quick else 2

    oip, config, why_not = load_oip()
    if why_not:
        print(f"NOTE: datason.protocols.oip unavailable: {why_not}", file=sys.stderr)
    local, info = datason_rows(oip, config) if oip is not None else ({}, {"rows": {}, "notes": [], "special": {}})
    workers, skipped = start_workers([] if args.datason_only else ["mlserver", "kserve"])
    rows: dict[str, Any] = dict(info["rows"])
    notes: list[str] = list(info["notes"])
    specials: dict[str, Mapping[str, Any]] = {}
    if oip is not None:
        specials[LIBS["datason"]] = info["special"]
        specials[LIBS["datason"] + ', config `nan_handling="string"`'] = info["special_text"]
    for w in workers:
        rows |= w.head["rows"]
        notes += w.head["notes"] + [f"{w.head['title']} warned: `{m}`" for m in w.head.get("warnings", [])]
        specials[LIBS[w.venv.lib]] = w.head["special"]

    started, load_before = time.perf_counter(), os.getloadavg()[0]
    try:
        stats = run_rounds(local, workers, rounds, warmup)
    finally:
        for w in workers:
            w.close()
    run = {
        "rounds": rounds,
        "warmup": warmup,
        "elapsed": time.perf_counter() - started,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    lines = report(args, rows, stats, workers, skipped, why_not, notes, specials, run)
    print("\n".join(lines))
    if args.output:
        write_block(Path(args.output), lines)
        print(f"wrote the protocols block of {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
