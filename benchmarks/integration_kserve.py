"""Load benchmark: datason.integrations.kserve vs a bare ``kserve.Model``, both under KServe 0.21's ModelServer.

Usage (from the repository root, with the frameworks virtualenv; needs ``wrk``; on the shared machine, under
the benchmark lock):

    flock /tmp/datason-bench.lock .venv-frameworks/bin/python benchmarks/integration_kserve.py \\
        --output docs/benchmarks.md
    .venv-frameworks/bin/python benchmarks/integration_kserve.py --quick     # smoke run: 1 round x 2 s

Two servers, each ``kserve.ModelServer(http_port=N, enable_grpc=False).start([iris, trivial])`` in its own
process (this module with ``--serve toolkit|bare``; uvicorn's host forced to 127.0.0.1, KServe hard-codes
0.0.0.0), everything else KServe's defaults (1 worker, its access log and per-request latency log on):

- toolkit: ``examples/kserve_basic.py``'s ``IrisClassifier`` as it ships (a ``DatasonModel``; sync ``predict``,
  NumPy values out, written by datason) and ``datason_model(trivial, "trivial")``.
- bare: plain ``kserve.Model`` subclasses doing the same predict with KServe's own decoding and JSON: v1 reads
  ``payload["instances"]`` and returns ``{"predictions": {...: .tolist()}}`` (ORJSONResponse writes it); v2
  reads ``inputs[0].as_numpy()`` and returns an ``InferResponse`` built with ``InferOutput.set_data_from_numpy``.

Scenarios (same path and body for both servers): ``iris-v1`` POST ``/v1/models/iris:predict``
``{"instances": [[5.1, 3.5, 1.4, 0.2]]}``; ``iris-v2`` POST ``/v2/models/iris/infer`` with one FP64 [1, 4] JSON
tensor; ``trivial-v1`` POST ``/v1/models/trivial:predict`` (predict returns ``{"ok": 1}``).

Each round starts both servers (one at a time), checks that they answer the same predictions, then runs
``wrk -t1 -c16`` on each server for each scenario back to back, alternating which goes first, after a 1 s
warm-up; servers are stopped (SIGTERM to the process group) at the end of the round. Reported: requests/s,
p50/p99, non-2xx, server CPU per request, cold start, and the toolkit/bare throughput ratio (median of the
per-round ratios). Target: the integration within 15% of the bare model's throughput (ratio >= 0.85), no 5xx.
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONNECTIONS = 16
ROWS = [[5.1, 3.5, 1.4, 0.2]]
SCENARIOS: dict[str, tuple[str, bytes]] = {
    "iris-v1": ("/v1/models/iris:predict", json.dumps({"instances": ROWS}).encode()),
    "iris-v2": (
        "/v2/models/iris/infer",
        json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROWS[0]}]}).encode(),
    ),
    "trivial-v1": ("/v1/models/trivial:predict", json.dumps({"instances": ROWS}).encode()),
}
APPS = ("toolkit", "bare")


# ---------------------------------------------------------------- the servers (run as --serve APP)


def trivial(value: Any) -> dict[str, int]:
    return {"ok": 1}


def serve(app: str, port: int) -> None:
    """Run one ModelServer on 127.0.0.1:port with the iris and trivial models of ``app``."""
    import uvicorn

    class LoopbackConfig(uvicorn.Config):
        def __init__(self, application: Any, **options: Any) -> None:
            options["host"] = "127.0.0.1"
            super().__init__(application, **options)

    uvicorn.Config = LoopbackConfig  # type: ignore[misc]  # what kserve.protocol.rest.server builds
    sys.argv = sys.argv[:1]  # KServe reads its flags from sys.argv when kserve.model_server is imported
    import kserve

    if app == "toolkit":
        sys.path.insert(0, str(ROOT))
        from examples.kserve_basic import IrisClassifier

        from datason.integrations.kserve import datason_model

        models = [IrisClassifier("iris"), datason_model(trivial, "trivial")]
    else:
        models = _bare_models()
    kserve.ModelServer(http_port=port, enable_grpc=False).start(models)


def _bare_models() -> list[Any]:
    import kserve
    import numpy as np
    from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    class BareIris(kserve.Model):
        """examples/kserve_basic.py's model, the KServe way."""

        def __init__(self, name: str) -> None:
            super().__init__(name)
            iris = load_iris()
            self.model = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
            self.classes = np.asarray(iris.target_names)
            self.ready = True

        def predict(self, payload: Any, headers: Any = None, response_headers: Any = None) -> Any:
            if isinstance(payload, InferRequest):
                x = payload.inputs[0].as_numpy().astype(np.float64).reshape(-1, 4)
            else:
                x = np.asarray(payload["instances"], dtype=np.float64).reshape(-1, 4)
            probabilities = self.model.predict_proba(x)
            species = self.classes[probabilities.argmax(axis=1)]
            if isinstance(payload, InferRequest):
                s = InferOutput("species", list(species.shape), "BYTES")
                s.set_data_from_numpy(species.astype(np.object_), binary_data=False)
                p = InferOutput("probabilities", list(probabilities.shape), "FP64")
                p.set_data_from_numpy(probabilities, binary_data=False)
                return InferResponse(payload.id or "bare", self.name, [s, p])
            return {"predictions": {"species": species.tolist(), "probabilities": probabilities.tolist()}}

    class BareTrivial(kserve.Model):
        def __init__(self, name: str) -> None:
            super().__init__(name)
            self.ready = True

        async def predict(self, payload: Any, headers: Any = None, response_headers: Any = None) -> Any:
            return {"predictions": {"ok": 1}}

    return [BareIris("iris"), BareTrivial("trivial")]


# ---------------------------------------------------------------- driving them


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


def cpu_ticks(pid: int) -> int:
    """utime + stime of process ``pid`` (fields 14 and 15 of proc(5))."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    return 0


class KServeServer:
    """This module with ``--serve APP`` in its own process group on a free loopback port."""

    def __init__(self, app: str, log_dir: Path) -> None:
        self.app = app
        self.log_path = log_dir / f"{app}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> float:
        """Start it and wait until both models are ready; the seconds from process start to that answer."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATASON_SERVING_")}
        for _ in range(3):
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", self.app, "--port", str(port)]
            t0 = time.monotonic()
            with self.log_path.open("ab") as log:
                self.proc = subprocess.Popen(
                    cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            while time.monotonic() - t0 < 120:
                if self.proc.poll() is not None:
                    break
                with contextlib.suppress(OSError):
                    if all(get(f"{self.url}/v2/models/{m}/ready", timeout=2)[0] == 200 for m in ("iris", "trivial")):
                        return time.monotonic() - t0
                time.sleep(0.02)
            self.stop()
            if "address already in use" not in self.log_path.read_text(errors="replace").lower():
                break
        raise RuntimeError(f"{self.app} did not start:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def cpu_ticks(self) -> int:
        return cpu_ticks(self.proc.pid) if self.proc else 0

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


def answer(scenario: str, body: bytes) -> Any:
    """The prediction, whatever the writer: v1 ``predictions``; v2 outputs by name as lists."""
    doc = json.loads(body)
    if scenario.endswith("v1"):
        return doc["predictions"]
    return {o["name"]: o["data"] for o in doc["outputs"]}


def check_answers(servers: dict[str, KServeServer]) -> None:
    """Both servers answer 200 and the same predictions for every scenario before anything is timed."""
    for scenario, (path, body) in SCENARIOS.items():
        got = {}
        for app, server in servers.items():
            status, text = post(server.url + path, body)
            if status != 200:
                raise RuntimeError(f"{app} {scenario} answered {status}: {text[:300]!r}")
            got[app] = answer(scenario, text)
        if got["toolkit"] != got["bare"]:
            raise RuntimeError(f"{scenario}: the servers disagree: {got}")


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    cold: dict[str, list[float]] = {app: [] for app in APPS}
    scripts = {}
    for scenario, (_, body) in SCENARIOS.items():
        scripts[scenario] = workdir / f"{scenario}.lua"
        scripts[scenario].write_text(LUA % body.decode())
    for rnd in range(1, args.rounds + 1):
        servers = {app: KServeServer(app, workdir) for app in APPS}
        try:
            for app in APPS:  # one at a time: a cold start shares the machine with no other start-up
                cold[app].append(servers[app].start())
            check_answers(servers)
            for s_index, (scenario, (path, _)) in enumerate(SCENARIOS.items()):
                order = list(APPS) if (rnd + s_index) % 2 else list(reversed(APPS))
                for app in order:
                    server = servers[app]
                    run_wrk(args.wrk, server.url + path, scripts[scenario], 1)  # warm-up, untimed
                    cpu0 = server.cpu_ticks()
                    res = run_wrk(args.wrk, server.url + path, scripts[scenario], args.seconds)
                    cpu1 = server.cpu_ticks()
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
                            "cpu_us_per_req": (cpu1 - cpu0) / os.sysconf("SC_CLK_TCK") / max(1, res["requests"]) * 1e6,
                        }
                    )
                    last = runs[-1]
                    print(
                        f"round {rnd} {scenario:10} {app:8} {last['rps']:8.0f} req/s  p50 {last['p50_ms']:.2f} "
                        f"p99 {last['p99_ms']:.2f} ms  non-2xx {res['non_2xx']}  cpu {last['cpu_us_per_req']:.0f} us",
                        flush=True,
                    )
        finally:
            for server in servers.values():
                server.stop()
    return {"runs": runs, "cold": cold}


def summarize(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for scenario in SCENARIOS:
        mine = [r for r in result["runs"] if r["scenario"] == scenario]
        by = {app: [r for r in mine if r["app"] == app] for app in APPS}
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
                "path": SCENARIOS[scenario][0],
                "ratio": statistics.median(ratios),
                "ratios": ratios,
                **{f"{app}_{k}": med(app, k) for app in APPS for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")},
                **{f"{app}_non_2xx": sum(r["non_2xx"] for r in by[app]) for app in APPS},
                "socket_errors": sum(r["socket_errors"] for r in mine),
            }
        )
    return rows


def versions() -> str:
    names = ("kserve", "fastapi", "uvicorn", "starlette", "prometheus-client", "numpy", "scikit-learn", "orjson")
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return ", ".join(found)


def section(
    rows: list[dict[str, Any]],
    result: dict[str, Any],
    args: argparse.Namespace,
    seconds: float,
    load: tuple[float, float],
) -> list[str]:
    sys.path.insert(0, str(HERE))
    import docblock

    wrk_v = subprocess.run([args.wrk, "-v"], capture_output=True, text=True)
    wrk_line = (wrk_v.stdout or wrk_v.stderr).splitlines()[0].split(" Copyright")[0]
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cold = {app: statistics.median(result["cold"][app]) for app in APPS}
    lines = [
        "## KServe integration: `datason.integrations.kserve` vs a bare `kserve.Model` (load test)",
        "",
        f"Generated by `benchmarks/integration_kserve.py` on {when}; rerun it rather than editing this section "
        "(it rewrites only its own block of this file).",
        "",
        "Reproduce (from the repository root, with the frameworks virtualenv; needs `wrk`):",
        "",
        "    flock /tmp/datason-bench.lock .venv-frameworks/bin/python benchmarks/integration_kserve.py "
        "--output docs/benchmarks.md",
        "",
        docblock.machine_line() + f"; shared: 1-min load average {load[0]:.1f} before, {load[1]:.1f} after. "
        f"Whole run {seconds:.0f} s.",
        f"- Python {platform.python_version()}; {versions()}; {wrk_line}.",
        "- Servers: `kserve.ModelServer(http_port=N, enable_grpc=False).start([iris, trivial])`, one process each "
        "(KServe's defaults otherwise: 1 worker, uvicorn's access log and KServe's per-request timing and latency "
        "log lines on, to a file), uvicorn's host forced to 127.0.0.1; each round starts them one at a time and "
        "stops them at its end.",
        f"- Load: `wrk -t1 -c{CONNECTIONS} -d{args.seconds:g}s --timeout 10s --latency`, a Lua script POSTing the "
        f"same body to the same path on both servers; {args.rounds} round(s), the two servers back to back per "
        "scenario, alternating which goes first; 1 s untimed warm-up before each timed run.",
        "- Integration: `examples/kserve_basic.py`'s `IrisClassifier` as shipped (a `DatasonModel`, defaults: "
        "no rate limit, no cache, metrics, request ids; the toolkit's request log has no handler under KServe) "
        'and `datason_model(trivial, "trivial")`. Bare: `kserve.Model` subclasses with the same scikit-learn '
        'model, v1 answering `{"predictions": {...: .tolist()}}` (ORJSONResponse), v2 an `InferResponse` of '
        "`InferOutput.set_data_from_numpy(..., binary_data=False)` (answers checked equal before timing).",
        f"- Cold start (process start to both models ready, median): integration {cold['toolkit']:.2f} s, bare "
        f"{cold['bare']:.2f} s. Server CPU: user+system time of the server process during the run, per request.",
        "",
        "Target: the integration's throughput at least 0.85x the bare model's (overhead at most 15%), no 5xx "
        "(ratio: median of the per-round ratios; requests/s, p50, p99, CPU: medians over rounds).",
        "",
        "| scenario | path | integration req/s | bare req/s | integration/bare (rounds) | target | result "
        "| integration p50 / p99 ms | bare p50 / p99 ms | non-2xx integration / bare "
        "| server CPU µs/req integration / bare |",
        "|---|---|---:|---:|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        ok = r["ratio"] >= 0.85 and r["toolkit_non_2xx"] == 0 and r["socket_errors"] == 0
        ratios = ", ".join(f"{x:.2f}" for x in r["ratios"])
        lines.append(
            f"| {r['scenario']} | `{r['path']}` | {r['toolkit_rps']:.0f} | {r['bare_rps']:.0f} | {r['ratio']:.2f} "
            f"({ratios}) | >= 0.85 | {'PASS' if ok else 'MISS'} "
            f"| {r['toolkit_p50_ms']:.1f} / {r['toolkit_p99_ms']:.1f} "
            f"| {r['bare_p50_ms']:.1f} / {r['bare_p99_ms']:.1f} "
            f"| {r['toolkit_non_2xx']} / {r['bare_non_2xx']} "
            f"| {r['toolkit_cpu_us_per_req']:.0f} / {r['bare_cpu_us_per_req']:.0f} |"
        )
    lines += [
        "",
        "The integration's routes run the toolkit's pipeline (datason's codec on the raw body, limits, metrics, "
        "request id) in place of KServe's FastAPI/pydantic parsing, `Model.__call__` and its latency log line; "
        "the bare model writes its result with KServe's own JSON. Socket errors in the timed runs: "
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
    parser.add_argument("--serve", choices=APPS, help=argparse.SUPPRESS)  # a server process of this benchmark
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return 0
    if args.quick:
        args.rounds, args.seconds = 1, 2.0
    if not Path(args.wrk).exists():
        print(f"{args.wrk} is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-kserve-") as tmp:
        result = measure(args, Path(tmp))
    rows = summarize(result)
    lines = section(rows, result, args, time.monotonic() - t0, (load0, os.getloadavg()[0]))
    print("\n".join(lines))
    if args.output is not None and not args.quick:
        sys.path.insert(0, str(HERE))
        import docblock

        docblock.write_block(args.output, "kserve", lines)
        print(f"wrote the kserve block of {args.output}")
    return 1 if any(r["toolkit_non_2xx"] or r["socket_errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
