"""Load benchmark: the datason.serving reference service vs a bare Starlette + stdlib json endpoint, under wrk.

Usage (from the repository root, with the project's virtualenv; needs the Debian package ``wrk``):

    .venv/bin/python benchmarks/serving.py                                # full run (5 rounds x 10 s), prints
    .venv/bin/python benchmarks/serving.py --output docs/benchmarks.md    # also writes its block there
    .venv/bin/python benchmarks/serving.py --quick                        # smoke run (1 round x 2 s)

Both servers serve the iris classifier of ``examples/demo.py`` (the same ``predict``), each with uvicorn in a
process group of its own on a free 127.0.0.1 port, with identical uvicorn options. wrk POSTs the same JSON body
over 64 keep-alive connections; rounds alternate the order of the two servers so that a noisy phase of the
shared machine hits both. Reported per server: requests/s, p50/p99 latency, non-2xx responses, socket errors,
the server's CPU time per request, and how many requests the server itself counted (proof that none was lost).
Timings are never asserted: a MISS is reported, not raised. This module also holds the two app factories
uvicorn imports (``serving:toolkit_app`` and ``serving:bare_app`` with ``--app-dir benchmarks``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import importlib.util
import json
import logging
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "src"
EXAMPLES = ROOT / "examples"
BEGIN, END = "<!-- serving:begin -->", "<!-- serving:end -->"
CONNECTIONS = 64
OVERHEAD_LIMIT = 0.15  # the toolkit may cost at most 15% of the bare endpoint's throughput
LIMIT_CONCURRENCY = 1024  # uvicorn answers 503 above this many connections+tasks: far above the load
BACKLOG = 2048
NOISY_OTHERS_PCT = 25  # other processes using more than this share of one core make the figures unreliable
WRK_INSTALL = "wrk is not installed: run `apt-get install -y wrk` (Debian/Ubuntu, as root) or `make wrk`"
# How both apps call the (sync) predict, the same for both servers (--inline; passed to them in this variable):
# "threadpool" (default: off the event loop, as datason.serving does for a sync predict) or "inline".
PREDICT_ENV = "DATASON_BENCH_PREDICT_CALL"
PREDICT_DESCRIPTION = {
    "threadpool": "off the event loop in a worker thread (toolkit: `ServingConfig(sync_in_thread=True)`, its "
    "default, i.e. `loop.run_in_executor(None, ...)`; bare: `await starlette.concurrency.run_in_threadpool(...)`, "
    "what a Starlette `def` endpoint does)",
    "inline": "inline on the event loop (toolkit: `ServingConfig(sync_in_thread=False)`; bare: a direct call)",
}


def predict_call() -> str:
    """The predict-call mode the servers were started with."""
    mode = os.environ.get(PREDICT_ENV, "threadpool")
    if mode not in PREDICT_DESCRIPTION:
        raise ValueError(f"{PREDICT_ENV} must be one of {sorted(PREDICT_DESCRIPTION)}")
    return mode


# ---------------------------------------------------------------- the two apps (imported by uvicorn)


def _iris() -> tuple[Callable[[Mapping[str, float]], dict[str, Any]], dict[str, Any], dict[str, Any], str, str]:
    """The demo's model and predict: (predict, schema, example features, model id, model version)."""
    sys.path.insert(0, str(EXAMPLES))
    import demo

    model, classes, _ = demo.train()
    return demo.make_predict(model, classes), demo.SCHEMA, demo.EXAMPLE, demo.MODEL_ID, demo.MODEL_VERSION


def toolkit_app() -> Any:
    """datason.serving's reference app: JSON Schema validation, metrics, request ids, logging at its defaults,
    rate limiting off."""
    from datason.serving import ServingConfig, create_app

    predict, schema, _, model_id, version = _iris()
    threaded = predict_call() == "threadpool"
    config = ServingConfig(model_id=model_id, model_version=version, rate_limit=None, sync_in_thread=threaded)
    app = create_app(predict, config=config, schema=schema)
    logger = logging.getLogger("datason.serving")
    level = logging.getLevelName(logger.getEffectiveLevel())
    print(f"BENCH_LOGGING level={level} handlers={logger.hasHandlers()}", file=sys.stderr, flush=True)
    return app


def bare_app() -> Any:
    """What users write by hand: Starlette, ``json.loads`` of the body, the same predict, NumPy values converted
    by hand, ``json.dumps`` of the same response shape. No validation, metrics or logging; one request counter
    (GET /count) so that the benchmark can check that no request was lost."""
    import uuid

    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    predict, _, _, _, version = _iris()
    threaded = predict_call() == "threadpool"
    served = 0

    async def call(features: Mapping[str, float]) -> dict[str, Any]:
        if threaded:
            return await run_in_threadpool(predict, features)
        return predict(features)

    async def predict_endpoint(request: Request) -> Response:
        nonlocal served
        started = time.perf_counter()
        features = json.loads(await request.body())["features"]
        out = await call(features)
        prediction = {
            "species": out["species"],
            "class_index": int(out["class_index"]),
            "probabilities": {k: float(v) for k, v in out["probabilities"].items()},
        }
        body = {
            "request_id": uuid.uuid4().hex,
            "prediction": prediction,
            "model_version": version,
            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
            "processing_time_ms": (time.perf_counter() - started) * 1000,
        }
        served += 1
        return Response(json.dumps(body), media_type="application/json")

    async def count(request: Request) -> Response:
        return JSONResponse({"total_requests": served})

    return Starlette(routes=[Route("/predict", predict_endpoint, methods=["POST"]), Route("/count", count)])


# ---------------------------------------------------------------- servers and wrk


def process_cpu_ticks(pid: int) -> int:
    """utime + stime of process ``pid`` (all its threads) in clock ticks; 0 where /proc is unavailable."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # the name may hold spaces
        return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5); the list starts at field 3
    return 0


def machine_busy_ticks() -> int:
    """All cores' non-idle clock ticks since boot (user+nice+system+irq+softirq+steal)."""
    with contextlib.suppress(OSError):
        v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
    return 0


@dataclasses.dataclass
class Server:
    """One uvicorn process serving ``factory`` on a socket bound here (no port race)."""

    name: str
    label: str
    factory: str
    count_path: str
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    log: Any = None

    def start(self, loop: str, http: str) -> None:
        """Bind a free 127.0.0.1 port and start uvicorn on its fd in a new session (``wait_ready`` waits)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(BACKLOG)
        self.port = sock.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
        self.log = tempfile.TemporaryFile()
        cmd = [sys.executable, "-m", "uvicorn", "--factory", f"serving:{self.factory}", "--app-dir", str(HERE)]
        cmd += ["--fd", str(sock.fileno()), *uvicorn_options(loop, http)]
        try:
            self.proc = subprocess.Popen(
                cmd, pass_fds=(sock.fileno(),), stdout=self.log, stderr=self.log, env=env, start_new_session=True
            )
        finally:
            sock.close()

    def wait_ready(self) -> None:
        """Wait until the server answers its count endpoint; fail with its output if it exits or hangs."""
        assert self.proc is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited with {self.proc.returncode}:\n{self.output()}")
            with contextlib.suppress(OSError):
                get(self.url(self.count_path), timeout=2)
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.label} did not answer within 120 s:\n{self.output()}")

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def output(self) -> str:
        """What the server wrote to stdout/stderr so far."""
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def cpu_ticks(self) -> int:
        """utime + stime of the server process (all its threads), in clock ticks."""
        return process_cpu_ticks(self.proc.pid) if self.proc else 0

    def stop(self) -> int | None:
        """SIGTERM the server's process group; SIGKILL it if it does not exit in 10 s. Returns the exit code."""
        if self.proc is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(timeout=10)


def uvicorn_options(loop: str, http: str) -> list[str]:
    """The uvicorn options both servers get."""
    return [
        *("--workers", "1", "--loop", loop, "--http", http),
        *("--limit-concurrency", str(LIMIT_CONCURRENCY), "--backlog", str(BACKLOG), "--no-access-log"),
    ]


def event_loop_and_parser() -> tuple[str, str]:
    """uvloop and httptools when installed, else asyncio and h11."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return loop, "httptools" if importlib.util.find_spec("httptools") else "h11"


def get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    """GET ``url``: (status, body); HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def post(url: str, body: bytes, timeout: float = 10) -> tuple[int, bytes]:
    """POST a JSON body: (status, body); HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def served_count(server: Server) -> int:
    """Requests the server itself counted on /predict (toolkit: /health total_requests; bare: /count)."""
    status, body = get(server.url(server.count_path))
    if status != 200:
        raise RuntimeError(f"{server.label} {server.count_path} answered {status}")
    return int(json.loads(body)["total_requests"])


def settled_count(server: Server, timeout: float = 60) -> int:
    """The server's request count once it stops changing: requests wrk left in flight have been answered."""
    last, deadline = served_count(server), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = served_count(server)
        if now == last:
            return now
        last = now
    raise RuntimeError(f"{server.label} kept counting requests for {timeout:g} s after wrk stopped")


def toolkit_5xx(server: Server) -> int | None:
    """The toolkit's own count of server-side failures (/health error_count); None for the bare app."""
    if server.name != "toolkit":
        return None
    return int(json.loads(get(server.url("/health"))[1])["error_count"])


LUA = """\
wrk.method = "POST"
wrk.body = %s
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"bytes\\": %%d, \\"connect\\": %%d, " ..
    "\\"read\\": %%d, \\"write\\": %%d, \\"timeout\\": %%d, \\"non_2xx_3xx\\": %%d, \\"p50_us\\": %%d, " ..
    "\\"p90_us\\": %%d, \\"p99_us\\": %%d, \\"max_us\\": %%d, \\"mean_us\\": %%.1f}\\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def lua_script(body: bytes, directory: Path) -> Path:
    """A wrk script that POSTs ``body`` and prints its summary as one JSON line."""
    text = body.decode()
    if "]==]" in text:
        raise ValueError("the body would end the Lua long string early")
    path = directory / "post.lua"
    path.write_text(LUA % ("[==[" + text + "]==]"))
    return path


def wrk_version(wrk: str) -> str:
    """wrk's version line (wrk -v exits 1 after printing it)."""
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True)
    return (out.stdout or out.stderr).splitlines()[0].split(" Copyright")[0] if (out.stdout or out.stderr) else "?"


def run_wrk(wrk: str, url: str, script: Path, seconds: int, threads: int) -> dict[str, Any]:
    """Run wrk for ``seconds`` against ``url``; its Lua summary plus the CPU seconds wrk used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [wrk, f"-t{threads}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    out = subprocess.run([*cmd, "-s", str(script), url], capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = re.search(r"^WRK_RESULT (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(match.group(1))
    result["wrk_cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result


@dataclasses.dataclass
class Run:
    """One timed wrk run against one server."""

    server: str
    round: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: dict[str, int]
    server_counted: int
    server_5xx: int | None
    server_cpu_us_per_req: float
    others_cpu_pct: float  # CPU used on the machine by processes other than this server and wrk, in % of one core

    @property
    def in_flight(self) -> int:
        """Requests the server answered after wrk stopped reading (at most one per connection)."""
        return self.server_counted - self.requests

    @property
    def lost(self) -> bool:
        """True when a request went unanswered: a socket error, or the server counted fewer than wrk got."""
        return any(self.socket_errors.values()) or not 0 <= self.in_flight <= CONNECTIONS


def timed_run(server: Server, rnd: int, wrk: str, script: Path, seconds: int, threads: int) -> Run:
    """One measured wrk run with the server's own request count and CPU time around it."""
    tick = os.sysconf("SC_CLK_TCK")
    count0 = settled_count(server)
    cpu0, busy0 = server.cpu_ticks(), machine_busy_ticks()
    res = run_wrk(wrk, server.url("/predict"), script, seconds, threads)
    cpu1, busy1 = server.cpu_ticks(), machine_busy_ticks()
    count1 = settled_count(server)
    secs = res["duration_us"] / 1e6
    server_cpu = (cpu1 - cpu0) / tick
    others = max(0.0, (busy1 - busy0) / tick - server_cpu - res["wrk_cpu_s"])
    return Run(
        server=server.name,
        round=rnd,
        requests=res["requests"],
        seconds=secs,
        rps=res["requests"] / secs,
        p50_ms=res["p50_us"] / 1000,
        p99_ms=res["p99_us"] / 1000,
        non_2xx=res["non_2xx_3xx"],
        socket_errors={k: res[k] for k in ("connect", "read", "write", "timeout")},
        server_counted=count1 - count0,
        server_5xx=toolkit_5xx(server),
        server_cpu_us_per_req=server_cpu / max(1, res["requests"]) * 1e6,
        others_cpu_pct=100 * others / secs,
    )


@contextlib.contextmanager
def running(servers: list[Server], loop: str, http: str) -> Iterator[None]:
    """Start every server (in parallel); stop every one (process group) afterwards, whatever happened."""
    try:
        for s in servers:
            s.start(loop, http)
        for s in servers:
            s.wait_ready()
        yield
    finally:
        for s in servers:
            s.stop()
            if s.log is not None:
                s.log.close()


def check_answers(servers: list[Server], body: bytes) -> dict[str, Any]:
    """POST the benchmark body once to each server: both must answer 200 with the same prediction."""
    predictions: dict[str, Any] = {}
    for s in servers:
        status, text = post(s.url("/predict"), body)
        if status != 200:
            raise RuntimeError(f"{s.label} answered {status}: {text[:300]!r}")
        reply = json.loads(text)
        missing = {"request_id", "prediction", "model_version", "timestamp", "processing_time_ms"} - set(reply)
        if missing:
            raise RuntimeError(f"{s.label} reply lacks {sorted(missing)}")
        predictions[s.name] = reply["prediction"]
    first, *rest = predictions.values()
    if any(p != first for p in rest):
        raise RuntimeError(f"the servers disagree: {predictions}")
    return first


def in_process_us(body: bytes, repeats: int) -> dict[str, float]:
    """µs per request of each app called directly as an ASGI app in this process (no HTTP server, predict
    inline), best of ``repeats`` batches of 200, interleaved: the apps' own work, far less noisy than wrk."""
    import asyncio

    previous = os.environ.get(PREDICT_ENV)
    os.environ[PREDICT_ENV] = "inline"
    try:
        apps = {"toolkit": toolkit_app(), "bare": bare_app()}
    finally:
        os.environ[PREDICT_ENV] = previous or "threadpool"
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "query_string": b"",
        "root_path": "",
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def one(app: Any) -> None:
        status: list[int] = []

        async def send(message: Mapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(dict(scope), receive, send)
        if status != [200]:
            raise RuntimeError(f"in-process request answered {status}")

    async def measure() -> dict[str, float]:
        best = dict.fromkeys(apps, float("inf"))
        for i in range(repeats):
            for name in apps if i % 2 == 0 else list(apps)[::-1]:
                t0 = time.perf_counter()
                for _ in range(200):
                    await one(apps[name])
                best[name] = min(best[name], (time.perf_counter() - t0) / 200 * 1e6)
        return best

    return asyncio.run(measure())


# ---------------------------------------------------------------- report


def median(xs: list[float]) -> float:
    """Median (NaN for no values)."""
    return statistics.median(xs) if xs else float("nan")


def toolkit_logging_note(server: Server, lines_during_runs: int) -> str:
    """What the toolkit's request log did in the server process (its level there, and lines written)."""
    match = re.search(r"BENCH_LOGGING level=(\S+) handlers=(\S+)", server.output())
    level, handlers = match.groups() if match else ("not reported", "not reported")
    filtered = " (so its INFO line per request is filtered out by level)" if level in ("WARNING", "ERROR") else ""
    return (
        f"request logging as the toolkit leaves it under uvicorn's default logging config: logger "
        f"`datason.serving` at effective level {level}, handlers {handlers}{filtered}; {lines_during_runs} "
        "log lines written during the timed runs"
    )


def versions() -> str:
    """Versions of everything on the request path."""
    names = ("uvicorn", "starlette", "uvloop", "httptools", "jsonschema", "prometheus-client", "scikit-learn")
    parts = []
    for n in names:
        try:
            parts.append(f"{n} {metadata.version(n)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{n} not installed")
    return ", ".join(parts)


def markdown(
    runs: list[Run], args: argparse.Namespace, meta: Mapping[str, Any], labels: Mapping[str, str]
) -> list[str]:
    """The serving section of docs/benchmarks.md."""
    by = {name: [r for r in runs if r.server == name] for name in ("toolkit", "bare")}
    rounds = sorted({r.round for r in runs})
    ratios = []
    for rnd in rounds:
        t = next(r for r in by["toolkit"] if r.round == rnd)
        b = next(r for r in by["bare"] if r.round == rnd)
        ratios.append(t.rps / b.rps)
    ratio = median(ratios)
    overhead = 1 - ratio
    t_runs = by["toolkit"]
    t_5xx = sum(r.non_2xx for r in t_runs) + sum(r.server_5xx or 0 for r in t_runs[-1:])
    t_lost = [r for r in t_runs if r.lost]
    b_bad = sum(r.non_2xx for r in by["bare"]), [r for r in by["bare"] if r.lost]
    ok = "PASS", "MISS"
    cmd = "python benchmarks/serving.py" + (" --quick" if args.quick else "")
    cmd += f" --rounds {args.rounds}" if args.rounds_given else ""
    cmd += " --inline" if args.inline else ""
    cmd += f" --duration {args.duration}" if args.duration_given else ""
    lines = [
        "## Serving: datason.serving vs a bare Starlette endpoint (load test)",
        "",
        f"Generated by `benchmarks/serving.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; rerun it rather "
        "than editing this section (`benchmarks/run.py` keeps it when it rewrites this file).",
        "",
        "Reproduce (from the repository root; needs `wrk`: `apt-get install -y wrk`):",
        "",
        f"    .venv/bin/{cmd} --output docs/benchmarks.md",
        "",
        f"- Machine: `{platform.system()} {platform.release()} {platform.machine()}`; {os.cpu_count()} cores, "
        f"shared with other work: 1-min load average {meta['load_before']:.1f} before, {meta['load_after']:.1f} "
        f"after; CPU used by other processes during the timed runs: median {meta['others_median']:.0f}% of one "
        f"core (max {meta['others_max']:.0f}%). Whole run {meta['elapsed']:.0f} s."
        + (
            " **The machine was busy: requests/s and their ratio are dominated by noise here; rerun on a quiet "
            "machine before judging the overhead target.**"
            if meta["others_median"] > NOISY_OTHERS_PCT
            else ""
        ),
        f"- Python {platform.python_version()}; {meta['versions']}; {meta['wrk']}.",
        f"- Model: `examples/demo.py`'s scikit-learn `LogisticRegression` on iris; `predict` (one "
        f"`predict_proba` call, {meta['predict_us']:.0f} µs at best, timed in this process) returns NumPy values. "
        f"Both apps call it {meta['predict_call']}.",
        f"- Load: `wrk -t{args.threads} -c{CONNECTIONS} -d{args.duration}s --timeout 10s --latency` with a Lua "
        f'script POSTing the same {meta["body_bytes"]}-byte JSON body (`{{"features": {{...4 numbers}}}}`); '
        f"{len(rounds)} round(s), each runs both servers, alternating which goes first; "
        f"{args.warmup} s untimed warm-up before every timed run.",
        f"- Servers: uvicorn, each in its own process group on a free 127.0.0.1 port, same options "
        f"`{' '.join(uvicorn_options(meta['loop'], meta['http']))}`.",
        f'- {labels["toolkit"]}: `create_app(predict, config=ServingConfig(model_id="iris", model_version="1.0.0", '
        f"rate_limit=None), schema=SCHEMA)` — on: JSON Schema validation of the features (types, ranges, required, "
        f"no extra fields), body/depth/feature-count limits, Prometheus metrics, request ids (`X-Request-ID`), "
        f"datason API-config response encoding; {meta['logging']}; off: rate limiting, cache, batching.",
        f"- {labels['bare']}: one `async def` Starlette route: `json.loads(await request.body())`, the same predict, "
        "NumPy values converted by hand, `json.dumps` of the same response shape (request id, prediction, model "
        'version, timestamp, processing time), `Response(media_type="application/json")`; no validation, metrics '
        "or logging; a request counter for the lost-request check.",
        "- Lost requests: wrk's socket errors (connect/read/write/timeout) must be 0 and the server's own count of "
        "/predict requests during the run (toolkit: `/health` total_requests; bare: its counter) must be at least "
        f"wrk's completed count and at most {CONNECTIONS} more (requests still in flight when wrk stopped reading).",
        "- Server CPU/request: the uvicorn process's user+system CPU time during the run divided by the requests: "
        "less sensitive to the shared machine than requests/s.",
        "",
        "### Targets",
        "",
        "| target | measured | limit | result |",
        "|---|---:|---:|---|",
        f"| toolkit throughput overhead vs bare Starlette + json (median of per-round ratios) | {overhead:.1%} "
        f"(toolkit/bare {ratio:.2f}x; rounds: {', '.join(f'{x:.2f}' for x in ratios)}) | <= 15% | "
        f"{ok[overhead > OVERHEAD_LIMIT]} |",
        f"| toolkit: zero 5xx under {CONNECTIONS} connections | {sum(r.non_2xx for r in t_runs)} non-2xx (wrk), "
        f"{t_runs[-1].server_5xx if t_runs else '?'} 5xx (`/health` error_count) | 0 | {ok[t_5xx > 0]} |",
        f"| toolkit: zero lost requests under {CONNECTIONS} connections | {len(t_lost)} run(s) with a socket error "
        f"or a count mismatch | 0 | {ok[bool(t_lost)]} |",
        f"| bare (reference): zero non-2xx, zero lost | {b_bad[0]} non-2xx, {len(b_bad[1])} run(s) losing requests "
        f"| 0 | {ok[bool(b_bad[0] or b_bad[1])]} |",
        "",
        "### Per server (medians over rounds)",
        "",
        "| server | requests/s | p50 ms | p99 ms | server CPU µs/request | non-2xx | socket errors c/r/w/t "
        "| wrk completed / server counted |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for name in ("toolkit", "bare"):
        rs = by[name]
        errs = "/".join(str(sum(r.socket_errors[k] for r in rs)) for k in ("connect", "read", "write", "timeout"))
        lines.append(
            f"| {labels[name]} | {median([r.rps for r in rs]):.0f} | {median([r.p50_ms for r in rs]):.1f} | "
            f"{median([r.p99_ms for r in rs]):.1f} | {median([r.server_cpu_us_per_req for r in rs]):.0f} | "
            f"{sum(r.non_2xx for r in rs)} | {errs} | {sum(r.requests for r in rs)} / "
            f"{sum(r.server_counted for r in rs)} |"
        )
    direct = meta["direct"]
    t_cpu = median([r.server_cpu_us_per_req for r in by["toolkit"]])
    b_cpu = median([r.server_cpu_us_per_req for r in by["bare"]])
    lines += [
        "",
        f"Server CPU per request, toolkit vs bare: {t_cpu:.0f} vs {b_cpu:.0f} µs ({t_cpu - b_cpu:+.0f} µs, "
        f"{t_cpu / b_cpu:.2f}x).",
        "",
        f"Each app called directly in the benchmark process (as an ASGI app, predict inline, no HTTP server; best "
        f"batch of 200, interleaved): toolkit {direct['toolkit']:.0f} µs, bare {direct['bare']:.0f} µs per request "
        f"(predict alone {meta['predict_us']:.0f} µs): toolkit minus bare {direct['toolkit'] - direct['bare']:+.0f} "
        "µs per request, the cost of the toolkit's own work over the hand-written endpoint's.",
        "",
        "### Every run",
        "",
        "| round | server | requests | s | requests/s | p50 ms | p99 ms | non-2xx | socket errors | server counted "
        "| CPU µs/req | others' CPU % |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r.round} | {r.server} | {r.requests} | {r.seconds:.1f} | {r.rps:.0f} | {r.p50_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.non_2xx} | {sum(r.socket_errors.values())} | {r.server_counted} "
            f"(+{r.in_flight}) | {r.server_cpu_us_per_req:.0f} | {r.others_cpu_pct:.0f} |"
        )
    return lines


def write_block(path: Path, lines: list[str]) -> None:
    """Replace the block between the serving markers in ``path``, or append it (creating the file)."""
    block = "\n".join([BEGIN, *lines, END])
    old = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if pattern.search(old):
        new = pattern.sub(lambda _: block, old, count=1)
    else:
        new = (old.rstrip() + "\n\n" if old.strip() else "") + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new.rstrip() + "\n")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the rounds, print the Markdown section (and write it with --output)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 2 s per server")
    parser.add_argument("--rounds", type=int, help="rounds, each runs both servers (default 5; quick 1)")
    parser.add_argument("--duration", type=int, help="whole seconds per timed wrk run (default 10; quick 2)")
    parser.add_argument("--warmup", type=int, help="untimed wrk seconds before each run (default 2; quick 1)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: leaves a core to the server)")
    parser.add_argument("--inline", action="store_true", help="both apps call predict on the event loop, not a thread")
    parser.add_argument("--output", help="write the section between the serving markers of this Markdown file")
    args = parser.parse_args(argv)
    args.rounds_given, args.duration_given = args.rounds is not None, args.duration is not None
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.duration = args.duration or (2 if args.quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)

    os.environ[PREDICT_ENV] = "inline" if args.inline else "threadpool"  # the servers inherit it
    wrk = shutil.which("wrk")
    if wrk is None:
        print(WRK_INSTALL, file=sys.stderr)
        return 2
    sys.path.insert(0, str(EXAMPLES))
    import demo

    body = json.dumps({"features": demo.EXAMPLE}).encode()
    loop, http = event_loop_and_parser()
    labels = {"toolkit": "datason.serving `create_app`", "bare": "bare Starlette + `json`"}
    servers = [
        Server("toolkit", labels["toolkit"], "toolkit_app", "/health"),
        Server("bare", labels["bare"], "bare_app", "/count"),
    ]
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp, running(servers, loop, http):
        script = lua_script(body, Path(tmp))
        prediction = check_answers(servers, body)
        print(f"both servers answer 200 with the same prediction: {json.dumps(prediction)}", file=sys.stderr)
        log_lines = len(servers[0].output().splitlines())
        for rnd in range(1, args.rounds + 1):
            for server in servers if rnd % 2 else servers[::-1]:
                if args.warmup > 0:
                    run_wrk(wrk, server.url("/predict"), script, args.warmup, args.threads)
                run = timed_run(server, rnd, wrk, script, args.duration, args.threads)
                runs.append(run)
                print(
                    f"round {rnd} {server.name}: {run.rps:.0f} req/s, p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} "
                    f"ms, non-2xx {run.non_2xx}, socket errors {sum(run.socket_errors.values())}, "
                    f"server counted {run.server_counted} (wrk {run.requests})",
                    file=sys.stderr,
                )
        log_lines = len(servers[0].output().splitlines()) - log_lines
        logging_note = toolkit_logging_note(servers[0], log_lines)
        for s in servers:
            s.stop()
        graceful = {s.name: "Finished server process" in s.output() for s in servers}
    others = [r.others_cpu_pct for r in runs]
    predict, *_ = _iris()
    predict_s = min(timeit.repeat(lambda: predict(demo.EXAMPLE), number=200, repeat=5)) / 200
    direct = in_process_us(body, 5 if args.quick else 20)
    meta = {
        "direct": direct,
        "predict_us": predict_s * 1e6,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "others_median": median(others),
        "others_max": max(others),
        "elapsed": time.perf_counter() - started,
        "versions": versions(),
        "wrk": wrk_version(wrk),
        "predict_call": PREDICT_DESCRIPTION[predict_call()],
        "body_bytes": len(body),
        "loop": loop,
        "http": http,
        "logging": logging_note,
    }
    lines = markdown(runs, args, meta, labels)
    shutdown = ", ".join(f"{n} {'graceful' if ok else '**not graceful**'}" for n, ok in graceful.items())
    lines += ["", f"Servers stopped by SIGTERM to their process group: {shutdown} (uvicorn's shutdown completed)."]
    print("\n".join(lines))
    if args.output:
        write_block(Path(args.output), lines)
        print(f"wrote the serving section of {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
