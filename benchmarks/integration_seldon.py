"""Load benchmark: datason.integrations.seldon vs a plain seldon-core 1.18 component, both under
seldon-core-microservice.

Usage (from the repository root, with the seldon virtualenv; needs ``wrk``; on the shared machine, under the
benchmark lock):

    flock /tmp/datason-bench.lock .venv-seldon/bin/python benchmarks/integration_seldon.py \\
        --output docs/benchmarks.md
    .venv-seldon/bin/python benchmarks/integration_seldon.py --quick     # smoke run: 1 round x 2 s

Scenarios. Each one is served three ways: by the integration as seldon-core hands it a dict (its default),
by the integration with ``PAYLOAD_PASSTHROUGH=true`` (bytes), and by a plain seldon-core component doing the
same predict with seldon-core's own decoding and JSON. All three get the same ``POST /api/v1.0/predictions``
with the same body ``{"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}``:

- trivial: predict returns ``X``;
- iris: ``examples/seldon_basic.py``'s ``IrisClassifier`` as it ships (NumPy probabilities, ``class_names``),
  against a plain component whose ``predict`` is that same function (``BareIris``).

Each round starts every server alone (so the cold start, from process start to ``/health/ping``, shares the
machine with no other start-up). It then runs ``wrk -t1 -c16`` on each app of a scenario back to back, after
a 1 s warm-up, rotating which goes first. The servers are stopped (SIGTERM to the process group) at the end
of the round.

Reported, per app: cold start, requests/s, p50/p99, non-2xx and 5xx (wrk's count, and the toolkit's error
count from ``/health/status``), and server CPU per request over every process of the server's group. The
integration/bare throughput ratios are the median of the per-round ratios. Target: the integration within
15% of the bare component's throughput (ratio >= 0.85), with zero 5xx.

This module also holds the components that seldon-core-microservice imports
(``benchmarks.integration_seldon.BareIris`` ...).
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

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run as a script: `examples` from the repository

from examples.seldon_basic import CLASSES, MEANS, IrisClassifier  # noqa: E402

from datason.integrations.seldon import DatasonComponent  # noqa: E402

CONNECTIONS = 16
ROWS = [[5.1, 3.5, 1.4, 0.2]]
BODY = json.dumps({"data": {"ndarray": ROWS}}).encode()
PATH = "/api/v1.0/predictions"
APPS = ("toolkit", "passthrough", "bare")


# ---------------------------------------------------------------- the components seldon-core-microservice imports


class Trivial(DatasonComponent):
    def predict(self, X: Any, names: list[str], meta: dict[str, Any] | None = None) -> Any:
        return X


class BareTrivial:
    def predict(self, X: Any, features_names: list[str] | None = None, meta: dict[str, Any] | None = None) -> Any:
        return X


class BareIris:
    """examples/seldon_basic.py's model as a plain seldon-core component: the same predict, seldon's own JSON."""

    def load(self) -> None:
        self.centroids = np.array(MEANS)

    def class_names(self) -> list[str]:
        return list(CLASSES)

    def predict(self, X: Any, features_names: list[str] | None = None, meta: dict[str, Any] | None = None) -> Any:
        return IrisClassifier.predict(self, X, list(features_names or []))  # type: ignore[arg-type]


SCENARIOS: dict[str, dict[str, str]] = {
    "trivial": {
        "toolkit": "benchmarks.integration_seldon.Trivial",
        "bare": "benchmarks.integration_seldon.BareTrivial",
    },
    "iris": {"toolkit": "examples.seldon_basic.IrisClassifier", "bare": "benchmarks.integration_seldon.BareIris"},
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


def group_cpu_ticks(pgid: int) -> int:
    """utime + stime of the live processes of process group ``pgid`` (seldon-core's gunicorn master and worker,
    its metrics server and the multiprocessing Manager that holds its metrics)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = _stat(int(entry.name))
                if int(fields[2]) == pgid:
                    total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return total


class SeldonServer:
    """`seldon-core-microservice TARGET` in its own process group; HTTP, gRPC and metrics ports free."""

    def __init__(self, scenario: str, app: str, target: str, log_dir: Path) -> None:
        self.scenario, self.app, self.target = scenario, app, target
        self.log_path = log_dir / f"{scenario}-{app}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> float:
        """Start it and wait for /health/ping; returns the seconds from process start to that answer."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATASON_SERVING_", "PAYLOAD_PASSTHROUGH"))}
        env["PYTHONPATH"] = str(ROOT)  # seldon-core appends the working directory to sys.path; put it first
        if self.app == "passthrough":
            env["PAYLOAD_PASSTHROUGH"] = "true"
        script = Path(sys.executable).with_name("seldon-core-microservice")
        for _ in range(3):
            http, grpc_port, metrics = free_port(), free_port(), free_port()
            self.url = f"http://127.0.0.1:{http}"
            cmd = [str(script), self.target, "--service-type", "MODEL", "--http-port", str(http)]
            cmd += ["--grpc-port", str(grpc_port), "--metrics-port", str(metrics), "--workers", "1"]
            cmd += ["--grpc-workers", "0"]
            t0 = time.monotonic()
            with self.log_path.open("ab") as log:
                self.proc = subprocess.Popen(
                    cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            while time.monotonic() - t0 < 60:
                if self.proc.poll() is not None:
                    break
                with contextlib.suppress(OSError):
                    if get(self.url + "/health/ping", timeout=2) == (200, b"pong"):
                        return time.monotonic() - t0
                time.sleep(0.02)
            self.stop()
            if "address already in use" not in self.log_path.read_text(errors="replace").lower():
                break
        raise RuntimeError(f"{self.target} did not start:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def cpu_ticks(self) -> int:
        return group_cpu_ticks(self.proc.pid) if self.proc else 0

    def errors_5xx(self) -> int | None:
        """The toolkit's own count of 5xx answers (``/health/status``); None for the bare app."""
        if self.app == "bare":
            return None
        return int(json.loads(get(self.url + "/health/status")[1])["jsonData"]["error_count"])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)


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


def check_answers(servers: dict[str, SeldonServer]) -> None:
    """Every app answers 200 with the same data (values up to float rounding; names too, but for seldon-core's
    default ``t:0, t:1...`` of an unnamed 2-D result, which datason leaves out) before any timing."""
    answers = {}
    for app, server in servers.items():
        status, body = post(server.url + PATH, BODY)
        if status != 200:
            raise RuntimeError(f"{server.target} ({app}) answered {status}: {body[:300]!r}")
        data = json.loads(body)["data"]
        if data["names"] == [f"t:{i}" for i in range(len(data["names"]))]:
            data["names"] = []
        answers[app] = data
    base = answers["bare"]
    for data in answers.values():
        if data["names"] != base["names"] or not np.allclose(data["ndarray"], base["ndarray"], rtol=1e-12, atol=0):
            raise RuntimeError(f"the apps disagree: {answers}")


# ---------------------------------------------------------------- the run


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    script = workdir / "post.lua"
    script.write_text(LUA % BODY.decode())
    runs: list[dict[str, Any]] = []
    cold: dict[tuple[str, str], list[float]] = {}
    for rnd in range(1, args.rounds + 1):
        for s_index, (scenario, targets) in enumerate(SCENARIOS.items()):
            shift = (rnd + s_index) % len(APPS)
            order = list(APPS[shift:] + APPS[:shift])
            servers = {
                app: SeldonServer(scenario, app, targets["bare" if app == "bare" else "toolkit"], workdir)
                for app in order
            }
            try:
                for app in order:  # one at a time: a cold start shares the machine with no other start-up
                    cold.setdefault((scenario, app), []).append(servers[app].start())
                check_answers(servers)
                for app in order:
                    server = servers[app]
                    run_wrk(args.wrk, server.url + PATH, script, 1)  # warm-up, untimed
                    e0, cpu0 = server.errors_5xx(), server.cpu_ticks()
                    res = run_wrk(args.wrk, server.url + PATH, script, args.seconds)
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
                        f"round {rnd} {scenario:8} {app:12} {last['rps']:8.0f} req/s  p50 {last['p50_ms']:.2f} "
                        f"p99 {last['p99_ms']:.2f} ms  non-2xx {res['non_2xx']}  cpu {last['cpu_us_per_req']:.0f} "
                        f"us/req  cold {cold[(scenario, app)][-1]:.2f} s",
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
        by = {app: {r["round"]: r for r in mine if r["app"] == app} for app in APPS}
        row: dict[str, Any] = {"scenario": scenario, "socket_errors": sum(r["socket_errors"] for r in mine)}
        for app in APPS:
            got = list(by[app].values())
            for key in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req"):
                row[f"{app}_{key}"] = statistics.median(r[key] for r in got)
            row[f"{app}_cold_s"] = statistics.median(result["cold"][(scenario, app)])
            row[f"{app}_non_2xx"] = sum(r["non_2xx"] for r in got)
            row[f"{app}_5xx"] = sum(r["server_5xx"] or 0 for r in got)
            if app != "bare":
                ratios = [by[app][n]["rps"] / by["bare"][n]["rps"] for n in sorted(by[app])]
                row[f"{app}_ratios"] = ratios
                row[f"{app}_ratio"] = statistics.median(ratios)
        rows.append(row)
    return rows


def versions() -> str:
    names = ("seldon-core", "flask", "gunicorn", "prometheus-client", "numpy", "pandas", "orjson")
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
        "## Seldon Core v1 integration: `datason.integrations.seldon` vs a plain seldon-core component (load test)",
        "",
        f"Generated by `benchmarks/integration_seldon.py` on {when}; rerun it rather than editing this section "
        "(it rewrites only its own block of this file).",
        "",
        "Reproduce (from the repository root, with the seldon virtualenv; needs `wrk`):",
        "",
        "    flock /tmp/datason-bench.lock .venv-seldon/bin/python benchmarks/integration_seldon.py "
        "--output docs/benchmarks.md",
        "",
        docblock.machine_line() + f"; shared: 1-min load average {load[0]:.1f} before, {load[1]:.1f} after. "
        f"Whole run {seconds:.0f} s.",
        f"- Python {platform.python_version()}; {versions()}; {wrk_line}.",
        "- Servers: `seldon-core-microservice CLASS --service-type MODEL --http-port N --grpc-port M --metrics-port K "
        "--workers 1 --grpc-workers 0` (seldon-core's defaults otherwise: one gunicorn sync worker, one thread, "
        "a connection per request, its metrics server and metrics Manager process running), each in its own "
        "process group; each round starts them one at a time and stops them at its end.",
        f"- Load: `wrk -t1 -c{CONNECTIONS} -d{args.seconds:g}s --timeout 10s --latency`, a Lua script POSTing "
        f"`{BODY.decode()}` to `{PATH}` (the same body and path for every app); {args.rounds} round(s), the apps "
        "of a scenario back to back, rotating which goes first; 1 s untimed warm-up before each timed run.",
        "- Integration: a `DatasonComponent` as shipped (the toolkit's pipeline: Seldon codec, body limit, request "
        "ids, metrics handed to seldon-core at most once a second, and its JSON request log line at INFO through "
        "seldon-core's logging, one per request). `toolkit`: seldon-core's default, `predict_raw` gets the dict "
        "Flask parsed; `passthrough`: `PAYLOAD_PASSTHROUGH=true`, it gets the body's bytes. Bare: a plain class "
        "with the same `predict`, read by seldon-core's `extract_request_parts_json` and written by "
        "`construct_response_json` and Flask's `jsonify`.",
        "- trivial: predict returns `X`; iris: `examples/seldon_basic.py`'s `IrisClassifier` as shipped vs "
        "`BareIris` (the same predict function and `class_names`); every app's answer checked equal before timing.",
        "- Cold start: process start to the first `/health/ping` answer (median over rounds). Server CPU: "
        "user+system time of every process of the server's group during the run, per request.",
        "",
        "Target: the integration's throughput at least 0.85x the bare component's (overhead at most 15%), zero 5xx "
        "(ratio: median of the per-round ratios; requests/s, p50, p99, CPU: medians over rounds).",
        "",
        "| scenario | app | req/s | vs bare (rounds) | target | result | p50 / p99 ms | non-2xx | 5xx "
        "| server CPU µs/req | cold start s |",
        "|---|---|---:|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        for app in APPS:
            if app == "bare":
                versus, target, result = "1.00", "", ""
            else:
                ok = r[f"{app}_ratio"] >= 0.85 and r[f"{app}_5xx"] == 0 and r["socket_errors"] == 0
                ratios = ", ".join(f"{x:.2f}" for x in r[f"{app}_ratios"])
                versus, target, result = f"{r[f'{app}_ratio']:.2f} ({ratios})", ">= 0.85", "PASS" if ok else "MISS"
            lines.append(
                f"| {r['scenario']} | {app} | {r[f'{app}_rps']:.0f} | {versus} | {target} | {result} "
                f"| {r[f'{app}_p50_ms']:.1f} / {r[f'{app}_p99_ms']:.1f} | {r[f'{app}_non_2xx']} "
                f"| {r[f'{app}_5xx'] if app != 'bare' else '-'} | {r[f'{app}_cpu_us_per_req']:.0f} "
                f"| {r[f'{app}_cold_s']:.2f} |"
            )
    lines += [
        "",
        "The integration answers after the toolkit's decoding, limits, tallies and log line; the bare component "
        "after seldon-core's `np.array` of the parsed lists and Flask's JSON. Socket errors in the timed runs: "
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
    with tempfile.TemporaryDirectory(prefix="bench-seldon-") as tmp:
        result = measure(args, Path(tmp))
    rows = summarize(result)
    lines = section(rows, args, time.monotonic() - t0, (load0, os.getloadavg()[0]))
    print("\n".join(lines))
    if args.output is not None and not args.quick:
        sys.path.insert(0, str(HERE))
        import docblock

        docblock.write_block(args.output, "seldon", lines)
        print(f"wrote the seldon block of {args.output}")
    failed = [r["scenario"] for r in rows if r["socket_errors"] or any(r[f"{a}_5xx"] for a in APPS)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
