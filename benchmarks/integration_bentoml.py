"""Load benchmark: datason.integrations.bentoml vs a bare BentoML 1.4 endpoint, both under `bentoml serve`.

Usage (from the repository root, with the frameworks virtualenv; needs ``wrk``; on the shared machine, under
the benchmark lock):

    flock /tmp/datason-bench.lock .venv-frameworks/bin/python benchmarks/integration_bentoml.py \\
        --output docs/benchmarks.md
    .venv-frameworks/bin/python benchmarks/integration_bentoml.py --quick     # smoke run: 1 round x 2 s

Scenarios (each served twice, by the integration and by a bare ``@bentoml.api`` endpoint doing the same
predict with BentoML's own JSON, on the same ``POST /predict`` with the same body ``{"features": [[5.1, 3.5,
1.4, 0.2]]}``: BentoML keys a JSON body by parameter name, so a ``features`` parameter reads it):

- trivial: ``async def predict(features) -> {"ok": 1}``; the integration's function form
  (``datason_service(predict)``), the bare one an ``async`` ``@bentoml.api`` typed ``list[list[float]]``.
- iris: ``examples/bentoml_basic.py``'s ``IrisClassifier`` as it ships (the class form; sync ``predict``, NumPy
  values out, written by the toolkit) against a bare ``async`` ``@bentoml.api`` fitting the same model and
  returning ``.tolist()`` lists in a dict (async, so BentoML calls it on the loop rather than in its
  thread pool: the faster of its two forms).

Each round starts every server alone (so the cold start, process start to ``/readyz`` 200, is not shared with
another start-up), then runs ``wrk -t1 -c16`` on each app of a scenario back to back, alternating which goes
first, after a 1 s warm-up; servers are stopped (SIGTERM to the process group) at the end of the round.
Reported: cold start, requests/s, p50/p99, non-2xx and 5xx (wrk's count, and the toolkit's ``/health``
error count), server CPU per request (every process of the server's group), and the integration/bare
throughput ratio (median of the per-round ratios). Target: the integration within 15% of the bare
endpoint's throughput (ratio >= 0.85) with zero 5xx. This module also holds the bare services and the
trivial integration service ``bentoml serve`` imports (``benchmarks.integration_bentoml:BareIris`` ...).
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

import bentoml
import numpy as np

from datason.integrations.bentoml import datason_service
from datason.serving import ServingConfig

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONNECTIONS = 16
ROWS = [[5.1, 3.5, 1.4, 0.2]]
BODY = json.dumps({"features": ROWS}).encode()


# ---------------------------------------------------------------- the services bentoml serve imports


async def trivial(features: Any) -> dict[str, int]:
    return {"ok": 1}


ToolkitTrivial = datason_service(trivial, config=ServingConfig(model_id="trivial"), name="toolkit_trivial")


@bentoml.service(name="bare_trivial")
class BareTrivial:
    @bentoml.api
    async def predict(self, features: list[list[float]]) -> dict[str, int]:
        return {"ok": 1}


@bentoml.service(name="bare_iris", traffic={"timeout": 10})
class BareIris:
    """The model of examples/bentoml_basic.py, answered with BentoML's own JSON."""

    def __init__(self) -> None:
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        iris = load_iris()
        self.model = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
        self.classes = np.asarray(iris.target_names)

    @bentoml.api
    async def predict(self, features: list[list[float]]) -> dict[str, list[Any]]:
        x = np.asarray(features, dtype=np.float64).reshape(-1, 4)
        probabilities = self.model.predict_proba(x)
        species = self.classes[probabilities.argmax(axis=1)]
        return {"species": species.tolist(), "probabilities": probabilities.tolist()}


SCENARIOS: dict[str, dict[str, str]] = {
    "trivial": {
        "toolkit": "benchmarks.integration_bentoml:ToolkitTrivial",
        "bare": "benchmarks.integration_bentoml:BareTrivial",
    },
    "iris": {"toolkit": "examples.bentoml_basic:IrisClassifier", "bare": "benchmarks.integration_bentoml:BareIris"},
}


# ---------------------------------------------------------------- servers and wrk


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


def family(pid: int) -> list[int]:
    """``pid`` and its live descendants: bentoml's circus arbiter starts each worker in a session of its own."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
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


class BentoServer:
    """`bentoml serve TARGET` in its own process group on a free loopback port."""

    def __init__(self, scenario: str, app: str, target: str, home: Path, log_dir: Path) -> None:
        self.scenario, self.app, self.target = scenario, app, target
        self.home = home
        self.log_path = log_dir / f"{scenario}-{app}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> float:
        """Start it and wait for /readyz 200; returns the seconds from process start to that answer."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATASON_SERVING_", "BENTOML_"))}
        env.update(BENTOML_DO_NOT_TRACK="true", BENTOML_HOME=str(self.home))
        script = Path(sys.executable).with_name("bentoml")
        for _ in range(3):
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            cmd = [str(script), "serve", self.target, "--host", "127.0.0.1", "--port", str(port)]
            t0 = time.monotonic()
            with self.log_path.open("ab") as log:
                self.proc = subprocess.Popen(
                    cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            while time.monotonic() - t0 < 120:
                if self.proc.poll() is not None:
                    break
                with contextlib.suppress(OSError):
                    if get(self.url + "/readyz", timeout=2)[0] == 200:
                        return time.monotonic() - t0
                time.sleep(0.02)
            self.stop()
            if "address already in use" not in self.log_path.read_text(errors="replace").lower():
                break
        raise RuntimeError(f"{self.target} did not start:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def cpu_ticks(self) -> int:
        """CPU time of the server: the arbiter and its workers."""
        return cpu_ticks(family(self.proc.pid)) if self.proc else 0

    def errors_5xx(self) -> int | None:
        """The toolkit's own count of 5xx answers (``/health``); None for the bare app."""
        if self.app != "toolkit":
            return None
        return int(json.loads(get(self.url + "/health")[1])["error_count"])

    def stop(self) -> None:
        """SIGTERM the server's group (bentoml stops its workers); SIGKILL whatever of it is left after 20 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        members = family(self.proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)
        for pid in members[1:]:  # workers live in sessions of their own: end any the arbiter left behind
            with contextlib.suppress(OSError):
                if b"bentoml" in Path(f"/proc/{pid}/cmdline").read_bytes():  # still that worker, not a reused id
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


def check_answers(servers: dict[str, BentoServer]) -> None:
    """Both apps answer 200 and the same prediction (up to float rounding) before anything is timed."""
    answers = {}
    for app, server in servers.items():
        status, body = post(server.url + "/predict", BODY)
        if status != 200:
            raise RuntimeError(f"{server.target} answered {status}: {body[:300]!r}")
        answers[app] = prediction(app, body)
    if not same(answers["toolkit"], answers["bare"]):
        raise RuntimeError(f"the apps disagree: {answers}")


# ---------------------------------------------------------------- the run


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    wrk = args.wrk
    script = workdir / "post.lua"
    script.write_text(LUA % BODY.decode())
    runs: list[dict[str, Any]] = []
    cold: dict[tuple[str, str], list[float]] = {}
    for rnd in range(1, args.rounds + 1):
        for s_index, (scenario, targets) in enumerate(SCENARIOS.items()):
            order = ["toolkit", "bare"] if (rnd + s_index) % 2 else ["bare", "toolkit"]
            servers = {
                app: BentoServer(scenario, app, targets[app], workdir / f"home-{scenario}-{app}", workdir)
                for app in order
            }
            try:
                for app in order:  # one at a time: a cold start shares the machine with no other start-up
                    cold.setdefault((scenario, app), []).append(servers[app].start())
                check_answers(servers)
                for app in order:
                    server = servers[app]
                    run_wrk(wrk, server.url + "/predict", script, 1)  # warm-up, untimed
                    e0, cpu0 = server.errors_5xx(), server.cpu_ticks()
                    res = run_wrk(wrk, server.url + "/predict", script, args.seconds)
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
    for scenario in SCENARIOS:
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
    names = ("bentoml", "uvicorn", "starlette", "pydantic", "prometheus-client", "numpy", "scikit-learn", "orjson")
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
        "## BentoML integration: `datason.integrations.bentoml` vs a bare `@bentoml.api` endpoint (load test)",
        "",
        f"Generated by `benchmarks/integration_bentoml.py` on {when}; rerun it rather than editing this section "
        "(it rewrites only its own block of this file).",
        "",
        "Reproduce (from the repository root, with the frameworks virtualenv; needs `wrk`):",
        "",
        "    flock /tmp/datason-bench.lock .venv-frameworks/bin/python benchmarks/integration_bentoml.py "
        "--output docs/benchmarks.md",
        "",
        docblock.machine_line() + f"; shared: 1-min load average {load[0]:.1f} before, {load[1]:.1f} after. "
        f"Whole run {seconds:.0f} s.",
        f"- Python {platform.python_version()}; {versions()}; {wrk_line}.",
        "- Servers: `bentoml serve MODULE:SERVICE --host 127.0.0.1 --port N` (BentoML's defaults: 1 worker, its "
        "access log on, to a file; tracing and traffic metrics on), each in its own process group and "
        "`BENTOML_HOME`; each round starts them one at a time and stops them at its end.",
        f"- Load: `wrk -t1 -c{CONNECTIONS} -d{args.seconds:g}s --timeout 10s --latency`, a Lua script POSTing "
        f"`{BODY.decode()}` to `/predict` (the same body and path for both apps); {args.rounds} round(s), the two "
        "apps of a scenario back to back, alternating which goes first; 1 s untimed warm-up before each timed run.",
        "- Integration: `datason_service(...)` with `ServingConfig(model_id=...)` otherwise default (all protocols "
        "on, no rate limit, no cache, metrics, request ids; the toolkit's request log off, as BentoML configures "
        "logging). Bare: `@bentoml.api async def predict(self, features: list[list[float]]) -> dict`, the same "
        "predict, its result as plain lists (`.tolist()`) written by BentoML.",
        '- trivial: `{"ok": 1}`; iris: `examples/bentoml_basic.py`\'s `IrisClassifier` as shipped vs the same '
        "scikit-learn `LogisticRegression` in the bare service (both answers checked equal before timing).",
        "- Cold start: process start to the first `/readyz` 200 (median over rounds; the iris services fit their "
        "model in `__init__`, ~1 s with the scikit-learn import). Server CPU: user+system time of every process "
        "of the server's group during the run, per request.",
        "",
        "Target: the integration's throughput at least 0.85x the bare endpoint's (overhead at most 15%), zero 5xx "
        "(ratio: median of the per-round ratios; requests/s, p50, p99, CPU: medians over rounds).",
        "",
        "| scenario | integration req/s | bare req/s | integration/bare (rounds) | target | result "
        "| integration p50 / p99 ms | bare p50 / p99 ms | non-2xx integration / bare | integration 5xx "
        "| server CPU µs/req integration / bare | cold start s integration / bare |",
        "|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ok = r["ratio"] >= 0.85 and r["toolkit_5xx"] == 0 and r["socket_errors"] == 0
        ratios = ", ".join(f"{x:.2f}" for x in r["ratios"])
        lines.append(
            f"| {r['scenario']} | {r['toolkit_rps']:.0f} | {r['bare_rps']:.0f} | {r['ratio']:.2f} ({ratios}) "
            f"| >= 0.85 | {'PASS' if ok else 'MISS'} "
            f"| {r['toolkit_p50_ms']:.1f} / {r['toolkit_p99_ms']:.1f} "
            f"| {r['bare_p50_ms']:.1f} / {r['bare_p99_ms']:.1f} "
            f"| {r['toolkit_non_2xx']} / {r['bare_non_2xx']} | {r['toolkit_5xx']} "
            f"| {r['toolkit_cpu_us_per_req']:.0f} / {r['bare_cpu_us_per_req']:.0f} "
            f"| {r['toolkit_cold_s']:.2f} / {r['bare_cold_s']:.2f} |"
        )
    lines += [
        "",
        "The integration answers `/predict` with the toolkit's envelope (request id, model version, timestamp, "
        "processing time) after its validation, limits and metrics; the bare endpoint validates the body with "
        "BentoML's pydantic input model and writes the bare result. Socket errors in the timed runs: "
        f"{sum(r['socket_errors'] for r in rows)}.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
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
    with tempfile.TemporaryDirectory(prefix="bench-bentoml-") as tmp:
        result = measure(args, Path(tmp))
    rows = summarize(result)
    lines = section(rows, args, time.monotonic() - t0, (load0, os.getloadavg()[0]))
    print("\n".join(lines))
    if args.output is not None and not args.quick:
        sys.path.insert(0, str(HERE))
        import docblock

        docblock.write_block(args.output, "bentoml", lines)
        print(f"wrote the bentoml block of {args.output}")
    failed = [r["scenario"] for r in rows if r["toolkit_5xx"] or r["socket_errors"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
