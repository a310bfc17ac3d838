"""Load benchmark: datason.integrations.litserve vs a bare LitServe 0.2 ``LitAPI``, both under ``LitServer.run``.

Usage (from the repository root, with the frameworks virtualenv; needs ``wrk``; on the shared machine, under
the benchmark lock):

    flock /tmp/datason-bench.lock .venv-frameworks/bin/python benchmarks/integration_litserve.py \\
        --output docs/benchmarks.md
    .venv-frameworks/bin/python benchmarks/integration_litserve.py --quick     # smoke run: 1 round x 2 s

Scenarios. Each is served twice, once by the integration and once by a bare ``litserve.LitAPI`` doing the same
predict with LitServe's own JSON (``request.json()`` in, FastAPI's encoder out). Both get the same
``POST /predict`` with the same body, ``{"features": [[5.1, 3.5, 1.4, 0.2]]}``:

- trivial: predict returns ``{"ok": 1}``. Integration: a ``DatasonLitAPI`` subclass. Bare: a ``LitAPI``
  returning the same dict.
- iris: ``examples/litserve_basic.py`` as it ships (NumPy values out, written by datason) against a bare
  ``LitAPI`` fitting the same model in ``setup`` and returning ``.tolist()`` lists in a dict.

Every server is ``LitServer(api, accelerator="cpu")`` with LitServe's defaults: one inference worker, one
API server process, its access log on, to a file. It runs in its own process group, started by
``python SCRIPT`` with ``PORT`` set, as a user starts it. Each round starts every server of a scenario alone,
so the cold start (process start to the first ``/health`` 200) shares the machine with no other start-up.
It then runs ``wrk -t1 -c16`` on each app back to back, alternating which goes first, after a 1 s warm-up, and
stops the servers at the end of the round (SIGTERM to the group, then any process of it left, by pid).
Reported: cold start, requests/s, p50/p99, non-2xx (wrk's count) and 5xx (the toolkit's ``/metrics``), server
CPU per request (every process of the server), and the integration/bare throughput ratio (the median of the
per-round ratios). Target: the integration within 15% of the bare endpoint's throughput (ratio >= 0.85)
with zero 5xx. Run as ``python benchmarks/integration_litserve.py serve SCENARIO APP``, this file is also the
servers it measures (except the shipped example).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path
from typing import Any

import litserve as ls
import numpy as np

from datason.integrations.litserve import DatasonLitAPI
from datason.serving import ServingConfig

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONNECTIONS = 16
TARGET_RATIO = 0.85
ROWS = [[5.1, 3.5, 1.4, 0.2]]
BODY = json.dumps({"features": ROWS}).encode()


# ---------------------------------------------------------------- the servers (``serve SCENARIO APP``)


class ToolkitTrivial(DatasonLitAPI):
    def predict(self, features: Any) -> dict[str, int]:
        return {"ok": 1}


class BareTrivial(ls.LitAPI):
    def predict(self, request: Any) -> dict[str, int]:
        return {"ok": 1}


class BareIris(ls.LitAPI):
    """The model of examples/litserve_basic.py, answered with LitServe's own JSON."""

    def setup(self, device: str) -> None:
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        iris = load_iris()
        self.model = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
        self.classes = np.asarray(iris.target_names)

    def decode_request(self, request, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
        # unannotated: LitServe passes the parsed JSON body (an annotation would become FastAPI's parameter type)
        return request["features"]

    def predict(self, rows: Any) -> dict[str, list[Any]]:
        x = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
        probabilities = self.model.predict_proba(x)
        species = self.classes[probabilities.argmax(axis=1)]
        return {"species": species.tolist(), "probabilities": probabilities.tolist()}


def serve(scenario: str, app: str) -> None:
    api: ls.LitAPI
    if (scenario, app) == ("trivial", "toolkit"):
        api = ToolkitTrivial(config=ServingConfig(model_id="trivial"))
    elif (scenario, app) == ("trivial", "bare"):
        api = BareTrivial()
    elif (scenario, app) == ("iris", "bare"):
        api = BareIris()
    else:
        raise SystemExit(f"no server {scenario} {app} here (the iris integration is examples/litserve_basic.py)")
    server = ls.LitServer(api, accelerator="cpu")
    server.run(host="127.0.0.1", port=int(os.environ["PORT"]), generate_client_file=False)


SCRIPTS: dict[str, dict[str, list[str]]] = {
    "trivial": {
        "toolkit": ["benchmarks/integration_litserve.py", "serve", "trivial", "toolkit"],
        "bare": ["benchmarks/integration_litserve.py", "serve", "trivial", "bare"],
    },
    "iris": {
        "toolkit": ["examples/litserve_basic.py"],
        "bare": ["benchmarks/integration_litserve.py", "serve", "iris", "bare"],
    },
}


# ---------------------------------------------------------------- processes, servers and wrk


def get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def post(url: str, body: bytes, timeout: float = 10) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stat(pid: int) -> list[str]:
    """Fields 3 and on of /proc/PID/stat (state, ppid, pgrp, ...); the name may hold spaces."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _identity(pid: int) -> tuple[str, bytes] | None:
    """(start time, command line) of a live process, to tell it from a later process given the same pid."""
    try:
        stat = _stat(pid)
        return None if stat[0] == "Z" else (stat[19], Path(f"/proc/{pid}/cmdline").read_bytes())
    except (OSError, IndexError):
        return None


def family(pid: int) -> dict[int, tuple[str, bytes]]:
    """``pid`` and its live descendants (LitServe's manager, inference workers, API servers, resource tracker)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
    found: dict[int, tuple[str, bytes]] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        ident = _identity(p)
        if ident is not None:
            found[p] = ident
        todo.extend(children.get(p, []))
    return found


def cpu_ticks(pids: list[int]) -> int:
    """utime + stime of the processes ``pids`` (those still alive)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = _stat(pid)
            total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return total


class LitServeProcess:
    """``python SCRIPT`` (``LitServer(...).run(host="127.0.0.1", port=$PORT)``) in its own process group."""

    def __init__(self, scenario: str, app: str, script: list[str], log_dir: Path) -> None:
        self.scenario, self.app, self.script = scenario, app, script
        self.log_path = log_dir / f"{scenario}-{app}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.members: dict[int, tuple[str, bytes]] = {}

    def start(self) -> float:
        """Start it and wait for /health 200; returns the seconds from process start to that answer."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATASON_SERVING_", "LIT_"))}
        for _ in range(3):
            port = free_port()
            env["PORT"] = str(port)
            self.url = f"http://127.0.0.1:{port}"
            t0 = time.monotonic()
            with self.log_path.open("ab") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, *self.script],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            while time.monotonic() - t0 < 120:
                if self.proc.poll() is not None:
                    break
                with contextlib.suppress(OSError):
                    if get(self.url + "/health", timeout=2)[0] == 200:
                        self.members = family(self.proc.pid)
                        return time.monotonic() - t0
                time.sleep(0.02)
            self.stop()
            if "address already in use" not in self.log_path.read_text(errors="replace").lower():
                break
        raise RuntimeError(f"{self.script} did not start:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def cpu_ticks(self) -> int:
        return cpu_ticks(list(family(self.proc.pid))) if self.proc else 0

    def errors_5xx(self) -> int | None:
        """The toolkit's count of 5xx answers (its ``ml_prediction_errors_total`` of server-side kinds)."""
        if self.app != "toolkit":
            return None
        text = get(self.url + "/metrics")[1].decode()
        kinds = ("predict", "serialization", "internal")
        return int(
            sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("ml_prediction_errors_total{") and any(f'kind="{k}"' in line for k in kinds)
            )
        )

    def stop(self) -> None:
        """SIGTERM the group, SIGKILL it after 30 s; then SIGKILL, by pid, any of its processes still alive (same
        start time and command line: still this server's)."""
        if self.proc is None:
            return
        known = {**self.members, **family(self.proc.pid)}
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_identity(p) == i for p, i in known.items()):
            time.sleep(0.05)
        for pid, ident in known.items():
            if _identity(pid) == ident:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


LUA = """\
wrk.method = "POST"
wrk.body = [==[%s]==]
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"socket_errors\\": %%d, \\"non_2xx\\": %%d, " ..
    "\\"p50_us\\": %%d, \\"p99_us\\": %%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


def run_wrk(wrk: str, url: str, script: Path, seconds: float) -> dict[str, Any]:
    cmd = [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "10s", "--latency", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^WRK_RESULT (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    return dict(json.loads(match.group(1)))


def prediction(app: str, body: bytes) -> Any:
    doc = json.loads(body)
    return doc["prediction"] if app == "toolkit" else doc


def same(a: Any, b: Any) -> bool:
    """JSON values equal up to float rounding."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return bool(np.isclose(a, b, rtol=1e-12, atol=0))
    return bool(a == b)


def check_answers(servers: dict[str, LitServeProcess]) -> None:
    """Both apps answer 200 and the same prediction (up to float rounding) before anything is timed."""
    answers = {}
    for app, server in servers.items():
        status, body = post(server.url + "/predict", BODY)
        if status != 200:
            raise RuntimeError(f"{server.script} answered {status}: {body[:300]!r}")
        answers[app] = prediction(app, body)
    if not same(answers["toolkit"], answers["bare"]):
        raise RuntimeError(f"the apps disagree: {answers}")


# ---------------------------------------------------------------- the run


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    script = workdir / "post.lua"
    script.write_text(LUA % BODY.decode())
    runs: list[dict[str, Any]] = []
    cold: dict[tuple[str, str], list[float]] = {}
    for rnd in range(1, args.rounds + 1):
        for s_index, (scenario, scripts) in enumerate(SCRIPTS.items()):
            order = ["toolkit", "bare"] if (rnd + s_index) % 2 else ["bare", "toolkit"]
            servers = {app: LitServeProcess(scenario, app, scripts[app], workdir) for app in order}
            try:
                for app in order:  # one at a time: a cold start shares the machine with no other start-up
                    cold.setdefault((scenario, app), []).append(servers[app].start())
                check_answers(servers)
                for app in order:
                    server = servers[app]
                    run_wrk(args.wrk, server.url + "/predict", script, 1)  # warm-up, untimed
                    e0, cpu0 = server.errors_5xx(), server.cpu_ticks()
                    res = run_wrk(args.wrk, server.url + "/predict", script, args.seconds)
                    cpu1, e1 = server.cpu_ticks(), server.errors_5xx()
                    secs = res["duration_us"] / 1e6
                    runs.append(
                        {
                            "scenario": scenario,
                            "app": app,
                            "round": rnd,
                            "rps": res["requests"] / secs,
                            "p50_ms": res["p50_us"] / 1000,
                            "p99_ms": res["p99_us"] / 1000,
                            "non_2xx": res["non_2xx"],
                            "socket_errors": res["socket_errors"],
                            "server_5xx": None if e0 is None or e1 is None else e1 - e0,
                            "cpu_us_per_req": (cpu1 - cpu0) / os.sysconf("SC_CLK_TCK") / max(1, res["requests"]) * 1e6,
                        }
                    )
                    last = runs[-1]
                    print(
                        f"round {rnd} {scenario:8} {app:8} {last['rps']:8.0f} req/s  p50 {last['p50_ms']:.2f} "
                        f"p99 {last['p99_ms']:.2f} ms  non-2xx {res['non_2xx']}  "
                        f"cold {cold[(scenario, app)][-1]:.2f} s",
                        flush=True,
                    )
            finally:
                for server in servers.values():
                    server.stop()
    return {"runs": runs, "cold": cold}


def summarize(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    runs = result["runs"]
    for scenario in SCRIPTS:
        mine = [r for r in runs if r["scenario"] == scenario]
        by = {app: [r for r in mine if r["app"] == app] for app in ("toolkit", "bare")}
        ratios = []
        for rnd in sorted({r["round"] for r in mine}):
            t = next(r for r in by["toolkit"] if r["round"] == rnd)
            b = next(r for r in by["bare"] if r["round"] == rnd)
            ratios.append(t["rps"] / b["rps"])

        def med(app: str, key: str, by: dict[str, list[dict[str, Any]]] = by) -> float:
            return statistics.median(r[key] for r in by[app])

        rows.append(
            {
                "scenario": scenario,
                "ratio": statistics.median(ratios),
                "ratios": ratios,
                **{f"{app}_{k}": med(app, k) for app in by for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")},
                **{f"{app}_cold_s": statistics.median(result["cold"][(scenario, app)]) for app in by},
                "toolkit_non_2xx": sum(r["non_2xx"] for r in by["toolkit"]),
                "bare_non_2xx": sum(r["non_2xx"] for r in by["bare"]),
                "toolkit_5xx": sum(r["server_5xx"] or 0 for r in by["toolkit"]),
                "socket_errors": sum(r["socket_errors"] for r in mine),
            }
        )
    return rows


def versions() -> str:
    names = ("litserve", "fastapi", "uvicorn", "starlette", "prometheus-client", "numpy", "scikit-learn", "orjson")
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return ", ".join(found)


def section(
    rows: list[dict[str, Any]], args: argparse.Namespace, seconds: float, load: tuple[float, float]
) -> list[str]:
    sys.path.insert(0, str(HERE))
    import docblock

    wrk_v = subprocess.run([args.wrk, "-v"], capture_output=True, text=True)
    wrk_line = (wrk_v.stdout or wrk_v.stderr).splitlines()[0].split(" Copyright")[0]
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## LitServe integration: `datason.integrations.litserve` vs a bare `litserve.LitAPI` (load test)",
        "",
        f"Generated by `benchmarks/integration_litserve.py` on {when}; rerun it rather than editing this section "
        "(it rewrites only its own block of this file).",
        "",
        "Reproduce (from the repository root, with the frameworks virtualenv; needs `wrk`):",
        "",
        "    flock /tmp/datason-bench.lock .venv-frameworks/bin/python benchmarks/integration_litserve.py "
        "--output docs/benchmarks.md",
        "",
        docblock.machine_line() + f"; shared: 1-min load average {load[0]:.1f} before, {load[1]:.1f} after. "
        f"Whole run {seconds:.0f} s.",
        f"- Python {platform.python_version()}; {versions()}; {wrk_line}.",
        '- Servers: `LitServer(api, accelerator="cpu").run(host="127.0.0.1", port=N)` with LitServe\'s defaults '
        "(one inference worker, one API server process, its access log on, to a file), each started as "
        "`python SCRIPT` in its own process group; each round starts them one at a time and stops them at its end.",
        f"- Load: `wrk -t1 -c{CONNECTIONS} -d{args.seconds:g}s --timeout 10s --latency`, a Lua script POSTing "
        f"`{BODY.decode()}` to `/predict` (the same body and path for both apps); {args.rounds} round(s), the two "
        "apps of a scenario back to back, alternating which goes first; 1 s untimed warm-up before each timed run.",
        "- Integration: a `DatasonLitAPI` subclass with `ServingConfig(model_id=...)`, otherwise default (every "
        "protocol on, no rate limit, no cache, metrics, request ids; the toolkit's request log off). Bare: a "
        "`litserve.LitAPI` whose body LitServe parses with `request.json()` and whose dict FastAPI writes.",
        '- trivial: `{"ok": 1}`; iris: `examples/litserve_basic.py` as shipped vs the same scikit-learn '
        "`LogisticRegression` in a bare `LitAPI` returning `.tolist()` lists (both answers checked equal before "
        "timing).",
        "- Cold start: process start to the first `/health` 200 (median over rounds). Server CPU: user+system "
        "time of every process of the server (main, manager, inference worker, API server) during the run, per "
        "request.",
        "",
        f"Target: the integration's throughput at least {TARGET_RATIO}x the bare endpoint's (overhead at most 15%), "
        "zero 5xx (ratio: median of the per-round ratios; requests/s, p50, p99, CPU: medians over rounds).",
        "",
        "| scenario | integration req/s | bare req/s | integration/bare (rounds) | target | result "
        "| integration p50 / p99 ms | bare p50 / p99 ms | non-2xx integration / bare | integration 5xx "
        "| server CPU µs/req integration / bare | cold start s integration / bare |",
        "|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ok = r["ratio"] >= TARGET_RATIO and r["toolkit_5xx"] == 0 and r["socket_errors"] == 0
        ratios = ", ".join(f"{x:.2f}" for x in r["ratios"])
        lines.append(
            f"| {r['scenario']} | {r['toolkit_rps']:.0f} | {r['bare_rps']:.0f} | {r['ratio']:.2f} ({ratios}) "
            f"| >= {TARGET_RATIO} | {'PASS' if ok else 'MISS'} "
            f"| {r['toolkit_p50_ms']:.1f} / {r['toolkit_p99_ms']:.1f} "
            f"| {r['bare_p50_ms']:.1f} / {r['bare_p99_ms']:.1f} "
            f"| {r['toolkit_non_2xx']} / {r['bare_non_2xx']} | {r['toolkit_5xx']} "
            f"| {r['toolkit_cpu_us_per_req']:.0f} / {r['bare_cpu_us_per_req']:.0f} "
            f"| {r['toolkit_cold_s']:.2f} / {r['bare_cold_s']:.2f} |"
        )
    lines += [
        "",
        "The integration answers `/predict` with the toolkit's envelope (request id, model version, timestamp, "
        "processing time) after its parsing, validation, limits and metrics in LitServe's API server, then the "
        "request takes LitServe's queue to the worker like the bare one. Socket errors in the timed runs: "
        f"{sum(r['socket_errors'] for r in rows)}.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        serve(*argv[1:3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each timed wrk run")
    parser.add_argument("--quick", action="store_true", help="1 round x 2 s (smoke run; not for the docs)")
    parser.add_argument("--wrk", default="/usr/bin/wrk")
    parser.add_argument("--output", type=Path, help="write the section into this Markdown file (docs/benchmarks.md)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 1, 2.0
    if not Path(args.wrk).exists():
        print(f"{args.wrk} is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-litserve-") as tmp:
        result = measure(args, Path(tmp))
    rows = summarize(result)
    lines = section(rows, args, time.monotonic() - t0, (load0, os.getloadavg()[0]))
    print("\n".join(lines))
    if args.output is not None and not args.quick:
        sys.path.insert(0, str(HERE))
        import docblock

        docblock.write_block(args.output, "litserve", lines)
        print(f"wrote the litserve block of {args.output}")
    failed = [r["scenario"] for r in rows if r["toolkit_5xx"] or r["socket_errors"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
