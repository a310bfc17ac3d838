"""Ray Serve: the datason deployment vs a bare Ray Serve deployment doing the same predict (one Ray, one proxy).

Usage (from the repository root, in the frameworks virtualenv; needs ``wrk``; the machine's 2 cores are shared,
so take the benchmark lock):

    flock /tmp/datason-bench.lock .venv-frameworks/bin/python benchmarks/integration_ray_serve.py
    .venv-frameworks/bin/python benchmarks/integration_ray_serve.py --quick --output -     # smoke run, prints only

One local Ray (``num_cpus=2``, 127.0.0.1, no dashboard) started in this process; Serve's proxy on a free port.

- datason: ``datason.integrations.ray_serve.deployment(predict, config=ServingConfig(model_id="bench"))`` at
  route prefix ``/``; wrk POSTs ``{"features": {...}}`` to ``/predict``.
- bare: ``@serve.deployment`` class whose ``async def __call__(self, request)`` reads ``await request.json()``,
  calls the same predict on ``features`` and returns ``{"prediction": result}``, which Serve writes with its own
  JSON encoder (NumPy through ``tolist()``); at route prefix ``/bare``, the same body.

Both have one replica with the same options, both are deployed before the first timed run, and rounds alternate
which goes first. Measured: cold start (``serve.run`` of a fresh application until its first 200), then
requests/s, p50 and p99 under ``wrk -t1 -c16`` and non-2xx / 5xx counts. The section between
``<!-- ray_serve:begin -->`` and ``<!-- ray_serve:end -->`` of ``--output`` (docs/benchmarks.md) is rewritten.
Timings are never asserted: a MISS is reported, not raised.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
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
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import docblock  # noqa: E402

CONNECTIONS = 16
TARGET_RATIO = 0.85  # datason/bare requests/s: at most 15% overhead
NOISY_OTHERS_PCT = 25  # other processes using more than this share of one core make the figures unreliable
MAX_ONGOING = 64  # per replica, both apps: above the 16 connections, so Ray queues nothing at the proxy
LABELS = ("setosa", "versicolor", "virginica")
CENTROIDS = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
BODY = json.dumps({"features": dict(zip(FEATURES, (5.1, 3.5, 1.4, 0.2), strict=True))}).encode()
LUA = """\
wrk.method = "POST"
wrk.body = %s
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"connect\\": %%d, \\"read\\": %%d, " ..
    "\\"write\\": %%d, \\"timeout\\": %%d, \\"non_2xx_3xx\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


def predict(features: dict[str, float]) -> dict[str, Any]:
    """A nearest-centroid iris classifier: NumPy in, a label and a float64 array out."""
    x = np.array([features[name] for name in FEATURES])
    logits = -np.linalg.norm(CENTROIDS - x, axis=1)
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    return {"label": LABELS[int(probabilities.argmax())], "probabilities": probabilities}


def apps(log_level: str | None = "INFO") -> dict[str, tuple[Any, str, str]]:
    """name -> (application, route prefix, URL path wrk POSTs to)."""
    from ray import serve
    from starlette.requests import Request

    from datason.integrations.ray_serve import deployment
    from datason.serving import ServingConfig

    options = {"max_ongoing_requests": MAX_ONGOING, "ray_actor_options": {"num_cpus": 0}}
    config = ServingConfig(model_id="bench", rate_limit=None)
    datason_app = deployment(predict, config=config, log_level=log_level, **options)

    @serve.deployment(name="bare", **options)
    class Bare:
        async def __call__(self, request: Request) -> dict[str, Any]:
            payload = await request.json()
            return {"prediction": predict(payload["features"])}

    return {"datason": (datason_app.bind(), "/", "/predict"), "bare": (Bare.bind(), "/bare", "/bare")}


def post(url: str, body: bytes = BODY) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def health(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(base + "/health", timeout=30) as response:
        doc: dict[str, Any] = json.loads(response.read())
    return doc


def cold_start(name: str, base: str, rounds: int, log_level: str | None) -> list[float]:
    """Seconds from ``serve.run`` of a fresh application to its first 200, ``rounds`` times (deleted after each)."""
    from ray import serve

    app, prefix, path = apps(log_level)[name]
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        serve.run(app, name=f"cold-{name}", route_prefix=prefix)
        while post(base + path)[0] != 200:
            if time.perf_counter() - t0 > 120:
                raise RuntimeError(f"{name} did not answer 200 within 120 s")
            time.sleep(0.005)
        out.append(time.perf_counter() - t0)
        serve.delete(f"cold-{name}")
    return out


def busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot (``/proc/stat``, every core)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def our_cpu_seconds(ours: Any) -> float:
    """CPU seconds used so far by this process and the Ray processes it started (``ours()`` lists them)."""
    total = 0.0
    for proc in ours():
        try:
            times = proc.cpu_times()
        except Exception:  # gone meanwhile
            continue
        total += times.user + times.system
    return total


def run_wrk(url: str, script: Path, seconds: int, ours: Any = None) -> dict[str, Any]:
    """One wrk run; with ``ours``, also the CPU share (of one core) other processes used meanwhile."""
    wrk = shutil.which("wrk") or "/usr/bin/wrk"
    cmd = [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s", str(script), url]
    busy0, ours0 = busy_seconds(), our_cpu_seconds(ours) if ours else 0.0
    wrk0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    wrk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, ours1 = busy_seconds(), our_cpu_seconds(ours) if ours else 0.0
    wrk_cpu = (wrk1.ru_utime + wrk1.ru_stime) - (wrk0.ru_utime + wrk0.ru_stime)
    match = re.search(r"^WRK_RESULT (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["socket_errors"] = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    if ours:
        others = (busy1 - busy0) - (ours1 - ours0) - wrk_cpu
        result["others_pct"] = max(0.0, others) / (result["duration_us"] / 1e6) * 100.0
        result["cpu_ms_per_request"] = (ours1 - ours0) / max(result["requests"], 1) * 1000.0
    return result


def wrk_version() -> str:
    wrk = shutil.which("wrk") or "/usr/bin/wrk"
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True)
    text = out.stdout or out.stderr
    return text.splitlines()[0].split(" Copyright")[0] if text else "?"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import psutil
    import ray
    from ray import serve

    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    temp_dir = tempfile.mkdtemp(prefix="dsbench-", dir="/tmp")
    me = psutil.Process()
    others = {p.pid for p in me.children()}

    def ours() -> list[Any]:  # this process, and the Ray daemons it started with their workers and replicas
        return [me, *(q for c in me.children() if c.pid not in others for q in (c, *c.children(recursive=True)))]

    load_before = os.getloadavg()[0]
    t_start = time.perf_counter()
    # the benchmark's own module must be importable by the replicas (predict is pickled by reference)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp_dir,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT / "src")])}},
    )
    try:
        port = _free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        ray_up = time.perf_counter() - t_start
        base = f"http://127.0.0.1:{port}"
        cold: dict[str, list[float]] = {"datason": [], "bare": []}
        for i in range(args.cold):
            for name in ("datason", "bare") if i % 2 == 0 else ("bare", "datason"):
                cold[name] += cold_start(name, base, 1, args.log_level)
        built = apps(args.log_level)
        for name, (app, prefix, _) in built.items():
            serve.run(app, name=name, route_prefix=prefix)
        urls = {name: base + path for name, (_, _, path) in built.items()}
        answers = {name: json.loads(post(url)[1])["prediction"] for name, url in urls.items()}
        if answers["datason"] != answers["bare"]:
            raise RuntimeError(f"the apps answer differently: {answers}")
        with tempfile.TemporaryDirectory() as scratch:
            script = Path(scratch) / "post.lua"
            script.write_text(LUA % ("[==[" + BODY.decode() + "]==]"))
            for name in urls:  # warm-up: JIT-free, but Ray's routers, connections and caches settle
                run_wrk(urls[name], script, args.warmup)
            runs: dict[str, list[dict[str, Any]]] = {"datason": [], "bare": []}
            for r in range(args.rounds):
                for name in ("datason", "bare") if r % 2 == 0 else ("bare", "datason"):
                    before = health(base) if name == "datason" else None
                    result = run_wrk(urls[name], script, args.duration, ours)
                    if before is not None:
                        after = health(base)
                        result["5xx"] = after["error_count"] - before["error_count"]
                        result["served"] = after["total_requests"] - before["total_requests"]
                    runs[name].append(result)
        versions = {p: metadata.version(p) for p in ("ray", "starlette", "uvicorn", "numpy", "orjson")}
        return {
            "cold": cold,
            "runs": runs,
            "ray_up": ray_up,
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
            "elapsed": time.perf_counter() - t_start,
            "versions": versions,
            "wrk": wrk_version(),
        }
    finally:
        started = ours()[1:]
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
            _, alive = psutil.wait_procs(started, timeout=20)
            for proc in alive:
                proc.kill()
            psutil.wait_procs(alive, timeout=10)
            shutil.rmtree(temp_dir, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def markdown(result: dict[str, Any], args: argparse.Namespace) -> list[str]:
    runs = result["runs"]
    ratios = [d["rps"] / b["rps"] for d, b in zip(runs["datason"], runs["bare"], strict=True) if b["rps"] > 0]
    ratio = statistics.median(ratios)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    non2xx = {n: sum(r["non_2xx_3xx"] for r in runs[n]) for n in runs}
    socket_errors = {n: sum(r["socket_errors"] for r in runs[n]) for n in runs}
    five = sum(r["5xx"] for r in runs["datason"])
    lost = sum(r["requests"] - r["served"] for r in runs["datason"] if r["requests"] > r["served"])
    ok = ratio >= TARGET_RATIO and five == 0 and non2xx["datason"] == 0 and socket_errors["datason"] == 0
    cold = {n: statistics.median(v) for n, v in result["cold"].items()}
    others = [r["others_pct"] for name in runs for r in runs[name]]
    cpu_ratio = statistics.median(
        d["cpu_ms_per_request"] / b["cpu_ms_per_request"] for d, b in zip(runs["datason"], runs["bare"], strict=True)
    )
    cmd = "flock /tmp/datason-bench.lock .venv-frameworks/bin/python benchmarks/integration_ray_serve.py"
    if args.quick:
        cmd += " --quick"
    for flag in ("rounds", "duration", "warmup", "cold"):
        if getattr(args, f"{flag}_given"):
            cmd += f" --{flag} {getattr(args, flag)}"
    if args.log_level != "INFO":
        cmd += f" --log-level {args.log_level}"
    versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items())
    fmt_rounds = ", ".join(f"{x:.2f}" for x in ratios)
    return [
        "## Ray Serve: the datason deployment vs a bare Ray Serve deployment (load test)",
        "",
        f"Generated by `benchmarks/integration_ray_serve.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
        "rerun it rather than editing this section.",
        "",
        "Reproduce (from the repository root; needs `wrk`):",
        "",
        f"    {cmd}",
        "",
        docblock.machine_line() + f"; shared with other work: 1-min load average {result['load_before']:.1f} before, "
        f"{result['load_after']:.1f} after; CPU used by other processes during the timed runs: median "
        f"{statistics.median(others):.0f}% of one core (max {max(others):.0f}%). Whole run "
        f"{result['elapsed']:.0f} s (Ray and Serve start: {result['ray_up']:.1f} s)."
        + (
            " **The machine was busy: requests/s and their ratio are dominated by noise; rerun on a quiet machine "
            "before judging the target.**"
            if statistics.median(others) > NOISY_OTHERS_PCT
            else ""
        ),
        f"- Python {platform.python_version()}; {versions}; {result['wrk']}.",
        "- Ray: one local Ray in the benchmark process (`ray.init(num_cpus=2, include_dashboard=False, "
        '_node_ip_address="127.0.0.1")`), Serve\'s HTTP proxy on a free 127.0.0.1 port; both applications have one '
        f'replica with the same options (`max_ongoing_requests={MAX_ONGOING}`, `ray_actor_options={{"num_cpus": 0}}`), '
        "are deployed before the first timed run and are idle while the other runs.",
        '- datason: `deployment(predict, config=ServingConfig(model_id="bench", rate_limit=None), '
        f"log_level={args.log_level!r})` at route prefix `/`, POST `/predict`: the toolkit's whole pipeline (parse, "
        "limits, metrics, request id, envelope"
        + (
            ", a JSON log line per request to the replica's stderr, which Ray's log monitor tails)."
            if args.log_level
            else "; request log off)."
        ),
        "- bare: a `@serve.deployment` class, `async def __call__(self, request)`: `await request.json()`, the same "
        'predict on `features`, `return {"prediction": result}` written by Serve\'s own JSON encoder; route prefix '
        "`/bare`. The two answers' `prediction` are checked equal before timing.",
        "- predict: a nearest-centroid iris classifier (NumPy: a label and a float64 probability array); body "
        f"`{BODY.decode()}` ({len(BODY)} B) for both.",
        f"- Load: `wrk -t1 -c{CONNECTIONS} -d{args.duration}s --timeout 10s --latency`, a Lua script POSTing the "
        f"body; {args.rounds} round(s), each runs both apps back to back, alternating which goes first; "
        f"{args.warmup} s untimed warm-up per app. Cold start: `serve.run` of a fresh application (a new replica "
        f"process) until its first 200, {args.cold} time(s) per app, alternating, Ray and Serve already up.",
        "- CPU per request: user+system CPU time of this process and every Ray process it started (GCS, raylet, "
        "proxy, controller, both replicas) during a run, divided by the requests wrk completed (median over rounds; "
        "ratio: median of per-round ratios): what the machine spends per request, less sensitive to other work on "
        "the machine than requests/s.",
        "",
        "| | datason | bare Ray Serve | datason/bare |",
        "|---|---:|---:|---|",
        f"| requests/s (median of rounds) | {med('datason', 'rps'):.0f} | {med('bare', 'rps'):.0f} | "
        f"{ratio:.2f} ({fmt_rounds}) |",
        f"| p50 ms | {med('datason', 'p50_us') / 1000:.1f} | {med('bare', 'p50_us') / 1000:.1f} | |",
        f"| p99 ms | {med('datason', 'p99_us') / 1000:.1f} | {med('bare', 'p99_us') / 1000:.1f} | |",
        f"| CPU ms per request (Ray's processes) | {med('datason', 'cpu_ms_per_request'):.2f} | "
        f"{med('bare', 'cpu_ms_per_request'):.2f} | {cpu_ratio:.2f} |",
        f"| non-2xx / socket errors | {non2xx['datason']} / {socket_errors['datason']} | {non2xx['bare']} / "
        f"{socket_errors['bare']} | |",
        f"| 5xx counted by datason's /health | {five} | | |",
        f"| cold start to first 200, s (median) | {cold['datason']:.2f} | {cold['bare']:.2f} | "
        f"{cold['datason'] / cold['bare']:.2f} |",
        "",
        f"Target: datason/bare requests/s at least {TARGET_RATIO:.2f} (at most {100 - TARGET_RATIO * 100:.0f}% "
        f"overhead) with zero 5xx and zero socket errors: **{'PASS' if ok else 'MISS'}**"
        + (f" (datason's /health counted {lost} fewer requests than wrk completed)" if lost else "")
        + ".",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, help="timed rounds per app (default 5; quick 1)")
    parser.add_argument("--duration", type=int, help="seconds per timed wrk run (default 10; quick 2)")
    parser.add_argument("--warmup", type=int, help="untimed wrk seconds per app before the rounds (default 3; quick 1)")
    parser.add_argument("--cold", type=int, help="cold starts per app (default 3; quick 1)")
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument(
        "--log-level", default="INFO", help='the datason deployment\'s log_level (default INFO; "none": off)'
    )
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"), help="markdown file, or - to print")
    args = parser.parse_args()
    args.log_level = None if str(args.log_level).lower() == "none" else args.log_level.upper()
    defaults = {"rounds": (5, 1), "duration": (10, 2), "warmup": (3, 1), "cold": (3, 1)}
    for flag, (full, quick) in defaults.items():
        setattr(args, f"{flag}_given", getattr(args, flag) is not None)
        if getattr(args, flag) is None:
            setattr(args, flag, quick if args.quick else full)
    result = measure(args)
    lines = markdown(result, args)
    print("\n".join(lines))
    if args.output != "-":
        docblock.write_block(Path(args.output), "ray_serve", lines)
        print(f"wrote the ray_serve block of {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
