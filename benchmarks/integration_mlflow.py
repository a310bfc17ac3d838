"""Load benchmark: a datason pyfunc (``datason.integrations.mlflow``) vs the same model logged as a plain pyfunc,
both served by MLflow's own scoring server (``mlflow models serve --env-manager local``).

Usage (from the repository root, with the frameworks virtualenv; needs ``wrk``; on the shared machine, under
the benchmark lock):

    flock /tmp/datason-bench.lock .venv-frameworks/bin/python benchmarks/integration_mlflow.py \\
        --output docs/benchmarks.md
    .venv-frameworks/bin/python benchmarks/integration_mlflow.py --quick     # smoke run: 1 round x 2 s

Each scenario's model is logged twice into a SQLite store in a temporary folder: with ``log_model`` (datason's
wrapper; default ``split`` answers) and with ``mlflow.pyfunc.log_model`` (the model as it is; MLflow writes the
answer). Both are served by ``mlflow models serve -m models:/m-<id> --env-manager local`` (one uvicorn worker,
MLflow's defaults) and get the same ``POST /invocations`` body:

- trivial: ``predict`` returns ``[1]`` for ``{"inputs": [[1.0, 2.0]]}`` (a float64 tensor signature; the model
  is a plain function, which MLflow wraps in its own ``PythonModel`` for the bare app): the
  wrapper's own cost per request (params, the encoding step) against MLflow's.
- iris-1: ``examples/mlflow_basic.py``'s ``IrisModel`` (scikit-learn ``LogisticRegression``; the ``context``
  form) on one row sent as ``dataframe_split`` with an index; a 1-row DataFrame of species and float32
  probabilities answers (split with its index vs MLflow's records).
- iris-100: the same model on 100 rows: the encoding of a 100-row DataFrame answer.

Each round starts every server of a scenario alone (the cold start, process start to ``/ping`` 200, shares the
machine with no other start-up), checks both answer the same prediction, then runs ``wrk -t1 -c16`` on each
app back to back, alternating which goes first, after a 1 s untimed warm-up; the servers are stopped
(SIGTERM to the process group) at the end of the round. Reported: cold start, requests/s, p50/p99, non-2xx,
server CPU per request (every process of the server's group), and the datason/bare throughput ratio (median
of the per-round ratios). Target: at least 0.85x the bare pyfunc's throughput, zero non-2xx. Timings are never
asserted: a MISS is reported, not raised.
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
for path in (str(ROOT), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

import docblock  # noqa: E402

CONNECTIONS = 16
TARGET_RATIO = 0.85
BIN = Path(sys.executable).parent
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
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


# ---------------------------------------------------------------- the models


def constant(model_input: Any) -> list[int]:
    """The trivial model: one constant answer (a function: MLflow wraps it in its own PythonModel)."""
    return [1]


def bodies() -> dict[str, bytes]:
    import pandas as pd

    from datason.protocols import mlflow as scoring

    rng = np.random.default_rng(11)
    rows = rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(100, 4)).round(1).astype(np.float32)
    frame = pd.DataFrame(rows, columns=FEATURES, index=[f"f-{i}" for i in range(100)])
    return {
        "trivial": b'{"inputs": [[1.0, 2.0]]}',
        "iris-1": scoring.encode_request(frame.iloc[:1]),
        "iris-100": scoring.encode_request(frame),
    }


def log_models(workdir: Path) -> dict[str, dict[str, str]]:
    """Each scenario's model logged twice (datason, bare) into a SQLite store under ``workdir``: model URIs."""
    import mlflow
    from examples.mlflow_basic import IrisModel, train

    from datason.integrations.mlflow import log_model

    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = mlflow.create_experiment("bench", artifact_location=(workdir / "artifacts").as_uri())
    estimator, x, _, species = train()
    example = x.iloc[:2]
    pair = np.array([[1.0, 2.0]])  # a float64 tensor signature
    uris: dict[str, dict[str, str]] = {}
    with mlflow.start_run(experiment_id=experiment):
        uris["trivial"] = {
            "datason": log_model(constant, name="trivial", input_example=pair).model_uri,
            "bare": mlflow.pyfunc.log_model(name="trivial-bare", python_model=constant, input_example=pair).model_uri,
        }
        config = {"species": species}
        iris = {
            "datason": log_model(IrisModel(estimator), name="iris", input_example=example, model_config=config),
            "bare": mlflow.pyfunc.log_model(
                name="iris-bare", python_model=IrisModel(estimator), input_example=example, model_config=config
            ),
        }
        uris["iris-1"] = uris["iris-100"] = {app: info.model_uri for app, info in iris.items()}
    return uris


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


def group_cpu_ticks(pgid: int) -> int:
    """utime + stime of every live process in process group ``pgid``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    total += int(fields[11]) + int(fields[12])
    return total


class Server:
    """`mlflow models serve -m URI --env-manager local` in its own process group on a free loopback port."""

    def __init__(self, scenario: str, app: str, model_uri: str, store: str, log_dir: Path) -> None:
        self.scenario, self.app, self.model_uri, self.store = scenario, app, model_uri, store
        self.log_path = log_dir / f"{scenario}-{app}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> float:
        """Start it and wait for /ping 200; returns the seconds from process start to that answer."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATASON_SERVING_")}
        env.update(MLFLOW_TRACKING_URI=self.store, PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
        env["MLFLOW_DISABLE_TELEMETRY"] = "true"  # no usage reports from either server (no network here anyway)
        for _ in range(3):
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            cmd = [str(BIN / "mlflow"), "models", "serve", "-m", self.model_uri, "--env-manager", "local"]
            cmd += ["-h", "127.0.0.1", "-p", str(port)]
            t0 = time.monotonic()
            with self.log_path.open("ab") as log:
                self.proc = subprocess.Popen(
                    cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            while time.monotonic() - t0 < 120:
                if self.proc.poll() is not None:
                    break
                with contextlib.suppress(OSError):
                    if get(self.url + "/ping", timeout=2)[0] == 200:
                        return time.monotonic() - t0
                time.sleep(0.02)
            self.stop()
            if "address already in use" not in self.log_path.read_text(errors="replace").lower():
                break
        raise RuntimeError(f"{self.model_uri} did not start:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def cpu_ticks(self) -> int:
        return group_cpu_ticks(self.proc.pid) if self.proc else 0

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


def run_wrk(wrk: str, url: str, script: Path, seconds: float) -> dict[str, Any]:
    cmd = [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "10s", "--latency", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^WRK_RESULT (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    return dict(json.loads(match.group(1)))


def answer_rows(app: str, body: bytes) -> Any:
    """The prediction as rows: the datason app answers the split layout, the bare one MLflow's records."""
    predictions = json.loads(body)["predictions"]  # the bare app may write NaN: Python's reader takes it
    if isinstance(predictions, dict):
        return predictions["data"]
    if predictions and isinstance(predictions[0], dict):
        return [list(record.values()) for record in predictions]
    return predictions


def same(a: Any, b: Any) -> bool:
    """Equal rows, floats compared as float32 (the bare app writes float32 with float64's digits)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return bool(np.float32(a) == np.float32(b))
    return bool(a == b)


def check_answers(servers: dict[str, Server], body: bytes) -> None:
    answers = {}
    for app, server in servers.items():
        status, answer = post(server.url + "/invocations", body)
        if status != 200:
            raise RuntimeError(f"{server.model_uri} ({app}) answered {status}: {answer[:300]!r}")
        answers[app] = answer_rows(app, answer)
    if not same(answers["datason"], answers["bare"]):
        raise RuntimeError(f"the apps disagree: {answers}")


# ---------------------------------------------------------------- the run


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    uris = log_models(workdir)
    store = f"sqlite:///{workdir / 'mlflow.db'}"
    scripts = {}
    payloads = bodies()
    for scenario, body in payloads.items():
        scripts[scenario] = workdir / f"{scenario}.lua"
        scripts[scenario].write_text(LUA % body.decode())
    runs: list[dict[str, Any]] = []
    cold: dict[tuple[str, str], list[float]] = {}
    for rnd in range(1, args.rounds + 1):
        for s_index, scenario in enumerate(scripts):
            order = ["datason", "bare"] if (rnd + s_index) % 2 else ["bare", "datason"]
            servers = {app: Server(scenario, app, uris[scenario][app], store, workdir) for app in order}
            try:
                for app in order:
                    cold.setdefault((scenario, app), []).append(servers[app].start())
                check_answers(servers, payloads[scenario])
                for app in order:
                    server = servers[app]
                    url = server.url + "/invocations"
                    run_wrk(args.wrk, url, scripts[scenario], 1)  # warm-up, untimed
                    cpu0 = server.cpu_ticks()
                    res = run_wrk(args.wrk, url, scripts[scenario], args.seconds)
                    cpu1 = server.cpu_ticks()
                    runs.append(
                        {
                            "scenario": scenario,
                            "app": app,
                            "round": rnd,
                            "rps": res["requests"] / (res["duration_us"] / 1e6),
                            "p50_ms": res["p50_us"] / 1000,
                            "p99_ms": res["p99_us"] / 1000,
                            "non_2xx": res["non_2xx"],
                            "socket_errors": res["socket_errors"],
                            "cpu_us_per_req": (cpu1 - cpu0) / os.sysconf("SC_CLK_TCK") / max(1, res["requests"]) * 1e6,
                        }
                    )
                    last = runs[-1]
                    print(
                        f"round {rnd} {scenario:9} {app:8} {last['rps']:7.0f} req/s  p50 {last['p50_ms']:.2f} "
                        f"p99 {last['p99_ms']:.2f} ms  non-2xx {res['non_2xx']}  "
                        f"cold {cold[(scenario, app)][-1]:.1f} s",
                        flush=True,
                    )
            finally:
                for server in servers.values():
                    server.stop()
    return {"runs": runs, "cold": cold, "bodies": {k: len(v) for k, v in payloads.items()}}


def summarize(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    runs = result["runs"]
    for scenario in result["bodies"]:
        mine = [r for r in runs if r["scenario"] == scenario]
        by = {app: [r for r in mine if r["app"] == app] for app in ("datason", "bare")}
        ratios = []
        for rnd in sorted({r["round"] for r in mine}):
            t = next(r for r in by["datason"] if r["round"] == rnd)
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
                "datason_non_2xx": sum(r["non_2xx"] for r in by["datason"]),
                "bare_non_2xx": sum(r["non_2xx"] for r in by["bare"]),
                "socket_errors": sum(r["socket_errors"] for r in mine),
            }
        )
    return rows


def versions() -> str:
    names = ("mlflow", "uvicorn", "fastapi", "starlette", "numpy", "pandas", "scikit-learn", "orjson")
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return ", ".join(found)


def section(
    rows: list[dict[str, Any]],
    args: argparse.Namespace,
    result: dict[str, Any],
    seconds: float,
    load: tuple[float, float],
) -> list[str]:
    wrk_v = subprocess.run([args.wrk, "-v"], capture_output=True, text=True)
    wrk_line = (wrk_v.stdout or wrk_v.stderr).splitlines()[0].split(" Copyright")[0]
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sizes = ", ".join(f"{k} {v} B" for k, v in result["bodies"].items())
    lines = [
        "## MLflow integration: a datason pyfunc vs the same model as a plain pyfunc, both under `mlflow models serve`",
        "",
        f"Generated by `benchmarks/integration_mlflow.py` on {when}; rerun it rather than editing this section "
        "(it rewrites only its own block of this file).",
        "",
        "Reproduce (from the repository root, with the frameworks virtualenv; needs `wrk`):",
        "",
        "    flock /tmp/datason-bench.lock .venv-frameworks/bin/python benchmarks/integration_mlflow.py "
        "--output docs/benchmarks.md",
        "",
        docblock.machine_line() + f"; shared: 1-min load average {load[0]:.1f} before, {load[1]:.1f} after. "
        f"Whole run {seconds:.0f} s.",
        f"- Python {platform.python_version()}; {versions()}; {wrk_line}.",
        "- Servers: `mlflow models serve -m models:/m-<id> --env-manager local -h 127.0.0.1 -p N` (MLflow's "
        "defaults: one uvicorn worker, its access log on, to a file; `MLFLOW_DISABLE_TELEMETRY=true`), each in "
        "its own process group, the models "
        "in a SQLite store in a temporary folder; each round starts them one at a time and stops them at its end.",
        f"- Load: `wrk -t1 -c{CONNECTIONS} -d{args.seconds:g}s --timeout 10s --latency`, a Lua script POSTing the "
        f"scenario's body to `/invocations` (the same body for both apps; {sizes}); {args.rounds} round(s), the two "
        "apps of a scenario back to back, alternating which goes first; 1 s untimed warm-up before each timed run.",
        "- datason: `datason.integrations.mlflow.log_model(model, name=...)` (the default `split` answers, the "
        "default config). Bare: `mlflow.pyfunc.log_model(name=..., python_model=model)`, MLflow writing the "
        "answer (records; float32 with float64's digits; NaN as a bare token). Both answers are checked equal "
        "(as float32) before timing.",
        '- trivial: a function returning `[1]` for `{"inputs": [[1.0, 2.0]]}` (float64 tensor signature); iris-1 '
        "and iris-100: `examples/mlflow_basic.py`'s `IrisModel` (scikit-learn `LogisticRegression`, float32 "
        "signature from the example) on 1 and 100 rows sent as `dataframe_split` with an index, answering a "
        "DataFrame of species and float32 probabilities.",
        "- Cold start: process start to the first `/ping` 200 (median over rounds). Server CPU: user+system time of "
        "every process of the server's group during the run, per request.",
        "",
        f"Target: the datason pyfunc's throughput at least {TARGET_RATIO}x the bare pyfunc's, zero non-2xx (ratio: "
        "median of the per-round ratios; requests/s, p50, p99, CPU: medians over rounds).",
        "",
        "| scenario | datason req/s | bare req/s | datason/bare (rounds) | target | result "
        "| datason p50 / p99 ms | bare p50 / p99 ms | non-2xx datason / bare "
        "| server CPU µs/req datason / bare | cold start s datason / bare |",
        "|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ok = r["ratio"] >= TARGET_RATIO and r["datason_non_2xx"] == 0 and r["socket_errors"] == 0
        ratios = ", ".join(f"{x:.2f}" for x in r["ratios"])
        lines.append(
            f"| {r['scenario']} | {r['datason_rps']:.0f} | {r['bare_rps']:.0f} | {r['ratio']:.2f} ({ratios}) "
            f"| >= {TARGET_RATIO} | {'PASS' if ok else 'MISS'} "
            f"| {r['datason_p50_ms']:.1f} / {r['datason_p99_ms']:.1f} "
            f"| {r['bare_p50_ms']:.1f} / {r['bare_p99_ms']:.1f} "
            f"| {r['datason_non_2xx']} / {r['bare_non_2xx']} "
            f"| {r['datason_cpu_us_per_req']:.0f} / {r['bare_cpu_us_per_req']:.0f} "
            f"| {r['datason_cold_s']:.2f} / {r['bare_cold_s']:.2f} |"
        )
    lines += [
        "",
        "Per-request overhead of the datason pyfunc (server CPU, datason minus bare, median over rounds): "
        + "; ".join(f"{r['scenario']} {r['datason_cpu_us_per_req'] - r['bare_cpu_us_per_req']:+.0f} µs" for r in rows)
        + f". Socket errors in the timed runs: {sum(r['socket_errors'] for r in rows)}.",
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
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"  # before MLflow is imported
    t0 = time.monotonic()
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as tmp:
        result = measure(args, Path(tmp))
    rows = summarize(result)
    lines = section(rows, args, result, time.monotonic() - t0, (load0, os.getloadavg()[0]))
    print("\n".join(lines))
    if args.output is not None and not args.quick:
        docblock.write_block(args.output, "mlflow", lines)
        print(f"wrote the mlflow block of {args.output}")
    return 1 if any(r["datason_non_2xx"] or r["socket_errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
