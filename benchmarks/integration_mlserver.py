"""Load benchmark: datason.integrations.mlserver vs MLServer's own codecs, both under one `mlserver start`.

Usage (from the repository root, with the mlserver virtualenv; needs ``wrk``; on the shared machine, under the
benchmark lock):

    flock /tmp/datason-bench.lock .venv-mlserver/bin/python benchmarks/integration_mlserver.py \\
        --output docs/benchmarks.md
    .venv-mlserver/bin/python benchmarks/integration_mlserver.py --quick     # smoke run: 1 round x 2 s

Scenarios (each model pair served by the same MLServer process, on ``POST /v2/models/{name}/infer``, with the
same body for both models; the same predict: a nearest-centroid iris scorer giving float32 probabilities):

- tensor: ``{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [...]}]}``. datason: a
  ``DatasonModel`` whose ``infer`` gets the float32 ndarray and returns the (1, 3) probabilities. Bare: a plain
  ``MLModel`` doing ``self.decode_request(payload, default_codec=NumpyRequestCodec)`` and
  ``self.encode_response(probabilities, default_codec=NumpyRequestCodec)`` (MLServer's idiom).
- frame: the one-row frame of the four float32 measurements as MLServer's ``PandasCodec.encode_request`` writes
  it (``content_type: "pd"``, one input per column). datason: ``infer`` gets the DataFrame and returns a frame of
  the three probabilities; bare: ``decode_request`` (PandasCodec, by content type) and ``encode_response`` of the
  same frame (PandasCodec, by payload).

Each round starts one ``mlserver start`` (``parallel_workers: 0``; 127.0.0.1; free ports) serving the four
models, checks that each pair answers the same probabilities, then runs ``wrk -t1 -c16`` on each model of a
scenario back to back, alternating which goes first, after a 1 s warm-up; the server is stopped (SIGTERM to its
process group) at the end of the round. Reported: requests/s, p50/p99, non-2xx, server CPU per request, the
datason/bare throughput ratio (median of the per-round ratios). Target: datason within 15% of the bare
model's throughput (ratio >= 0.85) with zero 5xx. This module also holds the four runtimes MLServer loads.
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
import pandas as pd
from mlserver import MLModel
from mlserver.codecs import NumpyRequestCodec, PandasCodec
from mlserver.types import InferenceRequest, InferenceResponse

from datason.integrations.mlserver import DatasonModel

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONNECTIONS = 16
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SPECIES = ["setosa", "versicolor", "virginica"]
CENTROIDS = np.array(
    [[5.006, 3.428, 1.462, 0.246], [5.936, 2.770, 4.260, 1.326], [6.588, 2.974, 5.552, 2.026]], dtype=np.float32
)
ROW = np.array([[5.1, 3.5, 1.4, 0.2]], dtype=np.float32)


def probabilities(x: np.ndarray) -> np.ndarray:
    """The shared predict: softmax of minus the distance to each class centroid, float32 (rows x 3)."""
    weights = np.exp(-np.linalg.norm(x[:, None, :] - CENTROIDS[None, :, :], axis=-1))
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


class DatasonTensor(DatasonModel):
    def infer(self, x: np.ndarray) -> np.ndarray:
        return probabilities(x)


class BareTensor(MLModel):
    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = self.decode_request(payload, default_codec=NumpyRequestCodec)
        return self.encode_response(probabilities(x), default_codec=NumpyRequestCodec)


class DatasonFrame(DatasonModel):
    def infer(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(probabilities(frame[FEATURES].to_numpy(dtype=np.float32)), columns=SPECIES)


class BareFrame(MLModel):
    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        frame = self.decode_request(payload, default_codec=PandasCodec)
        out = pd.DataFrame(probabilities(frame[FEATURES].to_numpy(dtype=np.float32)), columns=SPECIES)
        return self.encode_response(out, default_codec=PandasCodec)


MODELS = {
    ("tensor", "datason"): "DatasonTensor",
    ("tensor", "bare"): "BareTensor",
    ("frame", "datason"): "DatasonFrame",
    ("frame", "bare"): "BareFrame",
}
BODIES = {
    "tensor": json.dumps(
        {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": ROW.ravel().tolist()}]}
    ).encode(),
    "frame": PandasCodec.encode_request(pd.DataFrame(ROW, columns=FEATURES), use_bytes=False)
    .model_dump_json()
    .encode(),
}


def model_name(scenario: str, app: str) -> str:
    return f"{scenario}-{app}"


# ---------------------------------------------------------------- the server and wrk


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


def cpu_ticks(pgid: int) -> int:
    """utime+stime of every live process of a process group."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    total += int(fields[11]) + int(fields[12])
    return total


class Server:
    """One ``mlserver start REPO`` serving the four models, in its own process group."""

    def __init__(self, workdir: Path) -> None:
        self.repo = workdir / "repo"
        self.log = workdir / "mlserver.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> float:
        if self.repo.exists():
            for settings in self.repo.rglob("*.json"):
                settings.unlink()
        for (scenario, app), cls in MODELS.items():
            folder = self.repo / model_name(scenario, app)
            folder.mkdir(parents=True, exist_ok=True)
            doc = {"name": model_name(scenario, app), "implementation": f"benchmarks.integration_mlserver.{cls}"}
            (folder / "model-settings.json").write_text(json.dumps(doc))
        http = free_port()
        settings = {
            "parallel_workers": 0,
            "host": "127.0.0.1",
            "http_port": http,
            "grpc_port": free_port(),
            "metrics_port": free_port(),
            "debug": False,
        }
        (self.repo / "settings.json").write_text(json.dumps(settings))
        self.url = f"http://127.0.0.1:{http}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATASON_SERVING_", "MLSERVER_"))}
        script = Path(sys.executable).with_name("mlserver")
        t0 = time.monotonic()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(script), "start", str(self.repo)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
                names = [model_name(*key) for key in MODELS]
                if all(get(f"{self.url}/v2/models/{n}/ready", 2)[0] == 200 for n in names):
                    return time.monotonic() - t0
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"mlserver did not start:\n{self.log.read_text(errors='replace')[-3000:]}")

    def infer_url(self, scenario: str, app: str) -> str:
        return f"{self.url}/v2/models/{model_name(scenario, app)}/infer"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)
        except ProcessLookupError:
            pass


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


def answer(scenario: str, body: bytes) -> np.ndarray:
    """The probabilities of a response, whoever wrote it (MLServer's codecs read both)."""
    response = InferenceResponse.model_validate_json(body)
    if scenario == "frame":
        return np.asarray(PandasCodec.decode_response(response)[SPECIES].to_numpy(), dtype=np.float32)
    return np.asarray(NumpyRequestCodec.decode_response(response), dtype=np.float32)


def check_answers(server: Server) -> None:
    want = probabilities(ROW)
    for scenario, app in MODELS:
        status, body = post(server.infer_url(scenario, app), BODIES[scenario])
        if status != 200:
            raise RuntimeError(f"{model_name(scenario, app)} answered {status}: {body[:300]!r}")
        got = answer(scenario, body).reshape(want.shape)
        if got.dtype != np.float32 or got.tobytes() != want.tobytes():
            raise RuntimeError(f"{model_name(scenario, app)} answered {got!r}, not {want!r}")


# ---------------------------------------------------------------- the run


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    scripts = {}
    for scenario, body in BODIES.items():
        scripts[scenario] = workdir / f"{scenario}.lua"
        scripts[scenario].write_text(LUA % body.decode())
    runs: list[dict[str, Any]] = []
    cold: list[float] = []
    for rnd in range(1, args.rounds + 1):
        server = Server(workdir)
        try:
            cold.append(server.start())
            check_answers(server)
            assert server.proc is not None
            for s_index, scenario in enumerate(BODIES):
                order = ["datason", "bare"] if (rnd + s_index) % 2 else ["bare", "datason"]
                for app in order:
                    url = server.infer_url(scenario, app)
                    run_wrk(args.wrk, url, scripts[scenario], 1)  # warm-up, untimed
                    cpu0 = cpu_ticks(server.proc.pid)
                    res = run_wrk(args.wrk, url, scripts[scenario], args.seconds)
                    cpu1 = cpu_ticks(server.proc.pid)
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
                        f"round {rnd} {scenario:7} {app:8} {last['rps']:8.0f} req/s  p50 {last['p50_ms']:.2f} "
                        f"p99 {last['p99_ms']:.2f} ms  non-2xx {res['non_2xx']}  cpu {last['cpu_us_per_req']:.0f} us",
                        flush=True,
                    )
        finally:
            server.stop()
    return {"runs": runs, "cold": cold}


def summarize(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    runs = result["runs"]
    for scenario in BODIES:
        mine = [r for r in runs if r["scenario"] == scenario]
        by = {app: [r for r in mine if r["app"] == app] for app in ("datason", "bare")}
        ratios = []
        for rnd in sorted({r["round"] for r in mine}):
            d = next(r for r in by["datason"] if r["round"] == rnd)
            b = next(r for r in by["bare"] if r["round"] == rnd)
            ratios.append(d["rps"] / b["rps"])

        def med(app: str, key: str, by: dict[str, list[dict[str, Any]]] = by) -> float:
            return statistics.median(r[key] for r in by[app])

        rows.append(
            {
                "scenario": scenario,
                "ratio": statistics.median(ratios),
                "ratios": ratios,
                **{f"{app}_{k}": med(app, k) for app in by for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")},
                "datason_non_2xx": sum(r["non_2xx"] for r in by["datason"]),
                "bare_non_2xx": sum(r["non_2xx"] for r in by["bare"]),
                "socket_errors": sum(r["socket_errors"] for r in mine),
            }
        )
    return rows


def versions() -> str:
    names = ("mlserver", "fastapi", "starlette", "uvicorn", "uvloop", "pydantic", "numpy", "pandas", "orjson")
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return ", ".join(found)


def section(
    rows: list[dict[str, Any]], args: argparse.Namespace, seconds: float, load: tuple[float, float], cold: list[float]
) -> list[str]:
    sys.path.insert(0, str(HERE))
    import docblock

    wrk_v = subprocess.run([args.wrk, "-v"], capture_output=True, text=True)
    wrk_line = (wrk_v.stdout or wrk_v.stderr).splitlines()[0].split(" Copyright")[0]
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## MLServer integration: `datason.integrations.mlserver` vs MLServer's own codecs (load test)",
        "",
        f"Generated by `benchmarks/integration_mlserver.py` on {when}; rerun it rather than editing this section "
        "(it rewrites only its own block of this file).",
        "",
        "Reproduce (from the repository root, with the mlserver virtualenv; needs `wrk`):",
        "",
        "    flock /tmp/datason-bench.lock .venv-mlserver/bin/python benchmarks/integration_mlserver.py "
        "--output docs/benchmarks.md",
        "",
        docblock.machine_line() + f"; shared: 1-min load average {load[0]:.1f} before, {load[1]:.1f} after. "
        f"Whole run {seconds:.0f} s.",
        f"- Python {platform.python_version()}; {versions()}; {wrk_line}.",
        "- Server: one `mlserver start REPO` per round (`parallel_workers: 0`, as the tests run it: MLServer 1.7.1's "
        "worker pool crashes with uvloop >= 0.22; `debug: false`, so no access log; metrics on) serving the four "
        f"models; cold start to all four ready: {statistics.median(cold):.2f} s (median).",
        f"- Load: `wrk -t1 -c{CONNECTIONS} -d{args.seconds:g}s --timeout 10s --latency`, a Lua script POSTing the "
        f"scenario's body to `/v2/models/NAME/infer`; {args.rounds} round(s), the two models of a scenario back to "
        "back, alternating which goes first; 1 s untimed warm-up before each timed run.",
        "- datason: a `DatasonModel` subclass (`infer` returns the probabilities; default `ServingConfig`: limits, "
        "metrics, request ids; the toolkit's INFO request line filtered out by MLServer's logging config). Bare: "
        "a plain `MLModel` doing `decode_request`/`encode_response` with `NumpyRequestCodec` (tensor) or "
        "`PandasCodec` (frame). Same predict (a nearest-centroid iris scorer, float32 out); both answers checked "
        "bit-equal before timing.",
        "- tensor: one FP32 `[1, 4]` input; frame: the one-row frame of four float32 columns as `PandasCodec` "
        "writes it (`content_type: pd`), answered as a frame of three float32 columns.",
        "- Server CPU: user+system time of the server's process group during the run, per request.",
        "",
        "Target: datason's throughput at least 0.85x the bare model's (overhead at most 15%), zero 5xx "
        "(ratio: median of the per-round ratios; requests/s, p50, p99, CPU: medians over rounds).",
        "",
        "| scenario | datason req/s | bare req/s | datason/bare (rounds) | target | result "
        "| datason p50 / p99 ms | bare p50 / p99 ms | non-2xx datason / bare | server CPU µs/req datason / bare |",
        "|---|---:|---:|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        ok = r["ratio"] >= 0.85 and r["datason_non_2xx"] == 0 and r["socket_errors"] == 0
        ratios = ", ".join(f"{x:.2f}" for x in r["ratios"])
        lines.append(
            f"| {r['scenario']} | {r['datason_rps']:.0f} | {r['bare_rps']:.0f} | {r['ratio']:.2f} ({ratios}) "
            f"| >= 0.85 | {'PASS' if ok else 'MISS'} "
            f"| {r['datason_p50_ms']:.1f} / {r['datason_p99_ms']:.1f} "
            f"| {r['bare_p50_ms']:.1f} / {r['bare_p99_ms']:.1f} "
            f"| {r['datason_non_2xx']} / {r['bare_non_2xx']} "
            f"| {r['datason_cpu_us_per_req']:.0f} / {r['bare_cpu_us_per_req']:.0f} |"
        )
    lines += [
        "",
        "Both models go through MLServer's own request path (FastAPI, pydantic `InferenceRequest`, the data plane, "
        "its metrics); the datason model then writes the parsed request back to JSON, runs the toolkit's OIP "
        "pipeline (datason's codec, limits, its own metrics) and reads the answer into MLServer's "
        f"`InferenceResponse`. Socket errors in the timed runs: {sum(r['socket_errors'] for r in rows)}.",
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
    with tempfile.TemporaryDirectory(prefix="bench-mlserver-") as tmp:
        result = measure(args, Path(tmp))
    rows = summarize(result)
    lines = section(rows, args, time.monotonic() - t0, (load0, os.getloadavg()[0]), result["cold"])
    print("\n".join(lines))
    if args.output is not None and not args.quick:
        sys.path.insert(0, str(HERE))
        import docblock

        docblock.write_block(args.output, "mlserver", lines)
        print(f"wrote the mlserver block of {args.output}")
    failed = [r["scenario"] for r in rows if r["datason_non_2xx"] or r["socket_errors"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
