"""Benchmark datason against stdlib json, orjson, msgspec and datason 0.13.0 in one interleaved run.

Usage (from the repository root, with the project's virtualenv):

    .venv/bin/python benchmarks/run.py                 # full run, rewrites docs/benchmarks.md
    .venv/bin/python benchmarks/run.py --quick         # smoke run (< 1 min), prints only
    .venv/bin/python benchmarks/run.py --workload A --output docs/benchmarks.md

Every round runs every contender once (datason 0.13.0 in a persistent worker
process of its own virtualenv, see old_datason_worker.py); tables report medians,
minimums, ratios to a reference peer and PASS/MISS per target. Timings are never
asserted: a MISS is reported, not raised. The new datason is imported from src/;
while its API is incomplete its rows are marked unavailable.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
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
OLD_PYTHON = HERE / ".venv-datason013" / "bin" / "python"
HEAVY = ("numpy", "pandas", "torch")
sys.path.insert(0, str(HERE))

import timing  # noqa: E402
import workloads  # noqa: E402

SECTIONS = ("encode", "decode", "round trip")
# reference peer per section: ratios in the tables are paired per round against it (timing.paired_ratio)
REFERENCE = {"encode": "orjson.dumps", "decode": "msgspec.decode", "round trip": "msgspec.rt"}
OLD_LABELS = {
    "old.dumps.api": ("encode", "datason 0.13 `json.dumps(dumps(d, config=get_api_config()))`"),
    "old.dumps.default": ("encode", "datason 0.13 `json.dumps(dumps(d))`"),
    "old.dumps.typed": ("encode", "datason 0.13 `json.dumps(serialize(d, include_type_hints=True))`"),
    "old.loads.default": ("decode", "datason 0.13 `loads(s)` (default JSON)"),
    "old.loads.typed": ("decode", "datason 0.13 `loads(s)` (typed JSON)"),
    "old.deserialize.default": ("decode", "datason 0.13 `deserialize(json.loads(s))` (default JSON)"),
    "old.load_typed.typed": ("decode", "datason 0.13 `load_typed(json.loads(s))` (typed JSON)"),
    "old.rt.loads": ("round trip", "datason 0.13 `loads(json.dumps(dumps(d)))`"),
    "old.rt.load_typed": ("round trip", "datason 0.13 typed `serialize` + `json` + `load_typed`"),
}


@dataclasses.dataclass(frozen=True)
class Contender:
    """One timed call; ``expect`` is what a decode or round trip must give back (None: not checked)."""

    key: str
    section: str
    label: str
    fn: Callable[[], object]
    expect: object = None


@dataclasses.dataclass(frozen=True)
class Target:
    """Paired ratio of ``num`` (the worst of several) to ``den``; PASS when <= limit (>= for ``at_least``)."""

    label: str
    num: tuple[str, ...]
    den: str
    limit: float
    at_least: bool = False
    needs_exact: tuple[str, ...] = ()


@dataclasses.dataclass
class Result:
    """Everything measured for one workload."""

    key: str
    rows: list[tuple[str, str]]  # (section, key) in display order
    labels: dict[str, str]
    stats: dict[str, timing.Stats]
    exact: dict[str, bool | str]
    targets: list[Target]
    notes: list[str]


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


def contenders_a(data: Any, new: ModuleType | None) -> tuple[list[Contender], list[str]]:
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
HOW_TO_READ = [
    "- Contenders: stdlib and orjson decode with a schema-aware manual rebuild (`UUID(...)`, "
    "`datetime.fromisoformat(...)`); msgspec encodes/decodes `list[Rec]` (a `msgspec.Struct` with the "
    "same four typed fields), built once outside the timing. datason (new) is imported from `src/`. "
    "datason 0.13.0 runs in `benchmarks/.venv-datason013` with numpy and pandas installed, as an ML user "
    "has them (without them its `loads` retries a failing import per list and is 3-4x slower still); "
    "its `dumps` returns Python objects, so `json.dumps` is added to every encode.",
    '- "gives input back": the decoded value `==` the input (UUID and aware datetime objects, every '
    "record), checked once before timing. A round trip target is a MISS when it does not.",
    "- ratio: median over rounds of the per-round ratio to the reference (paired: a slow phase of the "
    "machine slows every contender of a round alike and cancels), so it can differ from the ratio of medians.",
    "- Targets vs 0.13 compare with 0.13's API-config `dumps`, and with its fastest round trip (the verdict "
    "that counts) and its default one (for information).",
    "",
]
CONTENDERS: dict[str, Callable[[Any, ModuleType | None], tuple[list[Contender], list[str]]]] = {"A": contenders_a}
TARGETS: dict[str, list[Target]] = {"A": TARGETS_A}


# ---------------------------------------------------------------- datason 0.13 worker


def old_env() -> dict[str, str]:
    """Environment for datason 0.13 subprocesses: no PYTHONPATH, so src/ can never shadow it."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def ensure_old_venv() -> str:
    """Run setup_old_datason.sh (idempotent); return "" when ready or why datason 0.13 is skipped."""
    try:
        proc = subprocess.run(
            ["bash", str(HERE / "setup_old_datason.sh")], capture_output=True, text=True, timeout=600, env=old_env()
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"setup_old_datason.sh failed: {exc}"
    if proc.returncode != 0 or not OLD_PYTHON.exists():
        return f"setup_old_datason.sh exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
    return ""


class OldWorker:
    """A persistent old_datason_worker.py --serve process: one call = one round of its contenders."""

    def __init__(self, keys: list[str]) -> None:
        cmd = [str(OLD_PYTHON), str(HERE / "old_datason_worker.py"), "--serve"]
        cmd += [arg for k in keys for arg in ("--workload", k)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=old_env())
        self.info: dict[str, Any] = json.loads(self._readline())

    def _readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"datason 0.13 worker exited with {self.proc.wait()}")
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
        self.proc.wait(timeout=60)


# ---------------------------------------------------------------- import time


def import_times(runs: int, old_ok: bool) -> list[dict[str, Any]]:
    """Median wall time of ``python -c "import datason"`` minus ``python -c pass``, plus heavy-module check."""
    probe = f"import sys, json, datason; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    # warm bytecode caches, as an installed package has them, kept out of src/ (PYTHONDONTWRITEBYTECODE,
    # set on this machine, would otherwise recompile src/datason on every run)
    cache = {"PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "datason-bench-pycache")}
    base_env = {k: v for k, v in old_env().items() if k != "PYTHONDONTWRITEBYTECODE"} | cache
    setups = [("datason (new, src/)", sys.executable, base_env | {"PYTHONPATH": str(SRC)})]
    if old_ok:
        setups.append(("datason 0.13.0", str(OLD_PYTHON), base_env))
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


def run_workload(key: str, new: ModuleType | None, worker: OldWorker | None, rounds: int, warmup: int) -> Result:
    """Build workload ``key``, check fidelity once, then time all contenders interleaved."""
    data = workloads.build(key)
    local, notes = CONTENDERS[key](data, new)
    exact: dict[str, bool | str] = {}
    for c in local:  # each call runs once untimed: failures are reported, not timed
        try:
            got = c.fn()
        except Exception as exc:
            exact[c.key] = f"error: {type(exc).__name__}: {exc}"
            continue
        if c.expect is not None:
            exact[c.key] = got == c.expect
    remotes: tuple[timing.Remote, ...] = ()
    if worker is not None:
        remotes = (worker.remote(key),)
        for name, info in worker.info["checks"][key]["fidelity"].items():
            exact[name] = info.get("exact", False)
    ok = {c.key: c.fn for c in local if not isinstance(exact.get(c.key), str)}
    stats = timing.interleave(ok, rounds, warmup, remotes)
    labels = {c.key: c.label for c in local} | {k: v[1] for k, v in OLD_LABELS.items()}
    sections = {c.key: c.section for c in local} | {k: v[0] for k, v in OLD_LABELS.items()}
    rows = [(s, k) for s in SECTIONS for k in labels if sections[k] == s and (k in stats or k in exact)]
    return Result(key, rows, labels, stats, exact, TARGETS[key], notes)


def judge(t: Target, r: Result) -> tuple[str, str]:
    """(measured text, PASS/MISS/n/a) for one target."""
    ratios = [timing.paired_ratio(r.stats[k], r.stats[t.den]) for k in t.num if k in r.stats and t.den in r.stats]
    if not ratios:
        return "not measured", "n/a"
    ratio = min(ratios) if t.at_least else max(ratios)
    ok = ratio >= t.limit if t.at_least else ratio <= t.limit
    inexact = [k for k in t.needs_exact if r.exact.get(k) is not True]
    text = f"{ratio:.2f}x" + (" (round trip not exact)" if inexact else "")
    return text, "PASS" if ok and not inexact else "MISS"


def fmt_exact(v: bool | str | None) -> str:
    """Table cell for a fidelity check."""
    return "" if v is None else "yes" if v is True else "**no**" if v is False else v


def workload_markdown(r: Result, new_reason: str, old_reason: str) -> list[str]:
    """Markdown tables for one workload."""
    lines = [f"## Workload {r.key}: {workloads.WORKLOADS[r.key].title}", ""]
    for section in SECTIONS:
        ref = REFERENCE[section]
        lines += [
            f"### {section} (ratio to {r.labels[ref]})",
            "",
            "| contender | median ms | min ms | ratio (paired) | gives input back |",
            "|---|---:|---:|---:|---|",
        ]
        for s, k in r.rows:
            if s != section:
                continue
            st, ex = r.stats.get(k), fmt_exact(r.exact.get(k))
            if st is None:
                lines.append(f"| {r.labels[k]} | — | — | — | {ex} |")
                continue
            ratio = timing.paired_ratio(st, r.stats[ref]) if ref in r.stats else float("nan")
            lines.append(f"| {r.labels[k]} | {st.median:.2f} | {st.min:.2f} | {ratio:.2f}x | {ex} |")
        if new_reason:
            lines.append(f"| datason (new) | unavailable | | | {new_reason} |")
        if old_reason:
            lines.append(f"| datason 0.13.0 | skipped | | | {old_reason} |")
        lines.append("")
    lines += [f"- {n}" for n in r.notes]
    return lines + ([""] if r.notes else [])


def machine_lines() -> list[str]:
    """uname, CPU model and cores."""
    cpu = "unknown"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        )
    u = platform.uname()
    return [f"- Machine: `{u.system} {u.release} {u.machine}`; CPU {cpu}; {os.cpu_count()} cores"]


def import_target_row(imp: Mapping[str, Any], new_reason: str) -> str:
    """Targets-table row for the new datason's import time and heavy modules (n/a until its API works)."""
    label = f"`import datason` (new) under 60 ms, no {'/'.join(HEAVY)}"
    if "error" in imp or new_reason:
        return f"| {label} | {imp['error'][0] if 'error' in imp else 'API unavailable'} | < 60 ms | n/a |"
    ok = imp["net"] < 60 and not imp["heavy"]
    heavy = ", ".join(imp["heavy"]) or "none heavy"
    return f"| {label} | {imp['net']:.1f} ms, {heavy} | < 60 ms | {'PASS' if ok else 'MISS'} |"


def versions_line(new: ModuleType | None, old_info: Mapping[str, Any] | None) -> str:
    """Python and library versions."""
    new_v = getattr(new, "__version__", "src") if new is not None else "unavailable"
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    rev = sha.stdout.strip() or "no commit yet"
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"], capture_output=True, text=True
    )
    rev += " + uncommitted changes in src/" if dirty.stdout.strip() else ""
    old = "0.13.0 skipped"
    if old_info is not None:
        v = old_info["versions"]
        old = f"{old_info['version']} (own venv with numpy {v['numpy']}, pandas {v['pandas']})"
    return (
        f"- Python {platform.python_version()}; orjson {metadata.version('orjson')}; "
        f"msgspec {metadata.version('msgspec')}; "
        f"datason (new) {new_v} from src/ at git {rev}; datason {old}"
    )


def fidelity_lines(old_info: Mapping[str, Any]) -> list[str]:
    """What datason 0.13.0 gave back, per call."""
    lines = ["## datason 0.13.0: what came back", ""]
    for key, checks in old_info["checks"].items():
        lines.append(
            f"Workload {key}: `dumps()` returns a `{checks['dumps() returns']}` (not text; JSON needs `json.dumps`)."
        )
        lines += ["", f"- default JSON: `{checks['default JSON']}`", f"- typed JSON: `{checks['typed JSON']}`"]
        for name, info in checks["fidelity"].items():
            lines.append(f"- {OLD_LABELS.get(name, ('', name))[1]}: {json.dumps(info)}")
        lines += [f"- datason 0.13 `loads(s)` (API config JSON): {json.dumps(checks['loads(api JSON)'])}", ""]
    return lines


def main() -> None:
    """Parse arguments, run, print and write the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few rounds (smoke test); writes no file unless --output")
    parser.add_argument("--workload", action="append", choices=sorted(CONTENDERS), help="repeatable; default: all")
    parser.add_argument("--output", help="markdown report path (default docs/benchmarks.md; '-' for none)")
    parser.add_argument("--rounds", type=int, help="timed rounds (default 3 quick, 25 full)")
    parser.add_argument("--skip-old", action="store_true", help="do not run datason 0.13.0")
    args = parser.parse_args()
    keys = args.workload or sorted(CONTENDERS)
    rounds = args.rounds or (3 if args.quick else 25)
    warmup = 1 if args.quick else 2
    output = args.output or ("-" if args.quick else str(ROOT / "docs" / "benchmarks.md"))

    new, new_reason = load_new_datason()
    old_reason = "--skip-old given" if args.skip_old else ensure_old_venv()
    worker = None
    if not old_reason:
        try:
            worker = OldWorker(keys)
        except (OSError, RuntimeError, ValueError) as exc:
            old_reason = f"worker failed: {exc}"
    for who, why in (("datason (new)", new_reason), ("datason 0.13.0", old_reason)):
        if why:
            print(f"NOTE: {who} skipped: {why}", file=sys.stderr)

    started, load_before = time.perf_counter(), os.getloadavg()[0]
    try:
        results = [run_workload(k, new, worker, rounds, warmup) for k in keys]
    finally:
        if worker is not None:
            worker.close()
    imports = import_times(3 if args.quick else 9, worker is not None)
    elapsed, load_after = time.perf_counter() - started, os.getloadavg()[0]

    cmd = (
        "python benchmarks/run.py"
        + (" --quick" if args.quick else "")
        + "".join(f" --workload {k}" for k in args.workload or [])
        + (f" --rounds {args.rounds}" if args.rounds else "")
        + (" --skip-old" if args.skip_old else "")
    )
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `benchmarks/run.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
        "rerun it rather than editing this file.",
        "",
        "Reproduce (from the repository root; run.py creates datason 0.13.0's virtualenv itself if missing):",
        "",
        "    bash benchmarks/setup_old_datason.sh",
        f"    .venv/bin/{cmd} --output docs/benchmarks.md",
        "",
        *machine_lines(),
        versions_line(new, worker.info if worker else None),
        f"- Method: {rounds} timed rounds after {warmup} warm-up; each round runs every contender once "
        "(datason 0.13 in its worker process), `gc.collect()` before each call; median and min in ms; "
        f"whole run {elapsed:.0f} s, 1-min load average {load_before:.1f} before and {load_after:.1f} after "
        "(this process adds ~1). Shared, noisy 2-core machine: read ratios, not absolute times.",
        *HOW_TO_READ,
        "## Targets",
        "",
        "| target | measured | limit | result |",
        "|---|---:|---:|---|",
    ]
    for r in results:
        for t in r.targets:
            text, verdict = judge(t, r)
            lines.append(f"| {t.label} | {text} | {'>=' if t.at_least else '<='} {t.limit:g}x | {verdict} |")
    lines += [import_target_row(imp, new_reason) for imp in imports if imp["name"].startswith("datason (new")]
    lines.append("")
    for r in results:
        lines += workload_markdown(r, new_reason, old_reason)
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
    if worker is not None:
        lines += fidelity_lines(worker.info)
    report = "\n".join(lines).rstrip() + "\n"
    print(report)
    if output != "-":
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(report)
        print(f"wrote {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
