"""Load benchmark: datason.serving's request pipeline on every protocol route vs a bare Starlette + orjson endpoint.

Usage (from the repository root, with the project's virtualenv; needs the Debian package ``wrk``):

    .venv/bin/python benchmarks/serving.py                                # full run (5 rounds x 5 s), prints
    .venv/bin/python benchmarks/serving.py --output docs/benchmarks.md    # also writes its block there
    .venv/bin/python benchmarks/serving.py --quick                        # smoke run (1 round x 1 s, 3 rows)

Scenarios (each a predict function served by both apps): a trivial ``async`` predict, a sync predict returning
50 records of NumPy values (a dict of arrays on OIP, which carries tensors only), and the iris classifier of
``examples/demo.py`` on ``/predict``. Each is measured on every prediction route of the toolkit (datason
``/predict``, OIP v2, KServe v1, Seldon v1, MLflow) against a bare Starlette endpoint on the same path, as a
user would write one by hand with orjson: it parses the body with ``orjson.loads``, hands predict what the
toolkit hands it (ndarrays where the protocol gives them), and writes the result in the protocol's response
envelope with ``orjson.dumps(..., option=OPT_SERIALIZE_NUMPY)``, without validation, limits, metrics or logs.
One extra row runs the trivial predict on ``/predict`` with the toolkit's JSON request log on (INFO, to a
file). Every server is uvicorn in a process group of its own on a
free 127.0.0.1 port, with identical options; wrk POSTs the same body over 64 keep-alive connections; rounds
alternate which app of a pair goes first. Reported per row: requests/s of both and their ratio, p50/p99,
non-2xx and 5xx, lost requests, server CPU time per request, and each app's cost called in-process. Timings
are never asserted: a MISS is reported, not raised. This module also holds the app factories uvicorn imports
(``serving:toolkit_app`` and ``serving:bare_app`` with ``--app-dir benchmarks``, configured by environment).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import importlib.util
import inspect
import json
import logging
import math
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

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import docblock  # noqa: E402

SRC = ROOT / "src"
EXAMPLES = ROOT / "examples"
CONNECTIONS = 64
LIMIT_CONCURRENCY = 1024  # uvicorn answers 503 above this many connections+tasks: far above the load
BACKLOG = 2048
NOISY_OTHERS_PCT = 25  # other processes using more than this share of one core make the figures unreliable
WRK_INSTALL = "wrk is not installed: run `apt-get install -y wrk` (Debian/Ubuntu, as root) or `make wrk`"
MODEL_ID = "bench"
KIND_ENV = "DATASON_BENCH_PREDICT"  # which predict a server process serves (see PREDICTS)
LOG_ENV = "DATASON_BENCH_REQUEST_LOG"  # toolkit only: a file for the JSON request log at INFO; unset: WARNING

# route name -> path (the model name is MODEL_ID); the bare app answers the same paths
ROUTES: dict[str, str] = {
    "datason": "/predict",
    "oip": f"/v2/models/{MODEL_ID}/infer",
    "kserve_v1": f"/v1/models/{MODEL_ID}:predict",
    "seldon": "/api/v1.0/predictions",
    "mlflow": "/invocations",
}
ROW = [[5.1, 3.5, 1.4, 0.2]]  # the one instance every protocol's request carries


# ---------------------------------------------------------------- the predict functions (one per kind)


async def trivial(value: Any) -> dict[str, int]:
    """Trivial async predict: plain values."""
    return {"ok": 1}


TRIVIAL_TENSOR = np.array([1.0], dtype=np.float32)


async def trivial_tensor(value: Any) -> np.ndarray:
    """Trivial async predict for OIP (tensors only): one FP32 element."""
    return TRIVIAL_TENSOR


def _records() -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """50 records of NumPy values, and the same data as a dict of arrays (built once, at import)."""
    rng = np.random.default_rng(7)
    probs = rng.random((50, 10))
    probs /= probs.sum(axis=1, keepdims=True)
    labels = [f"class_{int(np.argmax(p))}" for p in probs]
    score = probs.max(axis=1).astype(np.float32)
    idx = np.arange(50, dtype=np.int64)
    records = [
        {
            "label": labels[i],
            "score": score[i],  # np.float32
            "probs": {f"p{k}": probs[i, k] for k in range(10)},  # np.float64
            "idx": idx[i],  # np.int64
        }
        for i in range(50)
    ]
    tensors = {"label": np.array(labels), "score": score, "probs": probs, "idx": idx}
    return records, tensors


RECORDS, RECORD_TENSORS = _records()


def records(value: Any) -> list[dict[str, Any]]:
    """Sync predict: the same 50 records each call."""
    return RECORDS


def records_tensor(value: Any) -> dict[str, np.ndarray]:
    """Sync predict for OIP: the 50 records as label (str), score FP32[50], probs FP64[50,10], idx INT64[50]."""
    return RECORD_TENSORS


def _iris() -> tuple[Callable[[Mapping[str, float]], dict[str, Any]], dict[str, Any], dict[str, float]]:
    """The demo's model and predict: (predict, schema, example features)."""
    sys.path.insert(0, str(EXAMPLES))
    import demo

    model, classes, _ = demo.train()
    return demo.make_predict(model, classes), demo.SCHEMA, demo.EXAMPLE


PREDICTS: dict[str, Callable[[Any], Any]] = {
    "trivial": trivial,
    "trivial_tensor": trivial_tensor,
    "records": records,
    "records_tensor": records_tensor,
}


def predict_and_schema(kind: str) -> tuple[Callable[[Any], Any], Any]:
    """The predict of ``kind`` and the JSON Schema the toolkit validates its features with (iris only)."""
    if kind == "iris":
        predict, schema, _ = _iris()
        return predict, schema
    return PREDICTS[kind], None


# ---------------------------------------------------------------- the two apps (imported by uvicorn)


def configure_request_log(path: str | None) -> str:
    """The toolkit's JSON request log as ``datason serve`` sets it up (bare lines, no propagation), writing to
    ``path`` at INFO; without a path, level WARNING (the INFO line per request is filtered out)."""
    logger = logging.getLogger("datason.serving")
    for old in logger.handlers:
        old.close()
    if path:
        from datason.serving.requestlog import LineHandler

        handler = LineHandler(open(path, "a", encoding="utf-8"))  # the stream lives as long as the server
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
    else:
        logger.handlers[:] = []
        logger.setLevel(logging.WARNING)
    logger.propagate = False
    return logging.getLevelName(logger.getEffectiveLevel())


def make_toolkit(kind: str, log_path: str | None = None) -> Any:
    """datason.serving's app: ``ServingConfig(model_id=..., rate_limit=None)``, defaults otherwise."""
    from datason.serving import ServingConfig, create_app

    predict, schema = predict_and_schema(kind)
    app = create_app(predict, config=ServingConfig(model_id=MODEL_ID, rate_limit=None), schema=schema)
    configure_request_log(log_path)
    return app


def _orjson_default(value: Any) -> Any:
    """What OPT_SERIALIZE_NUMPY leaves out (str arrays): as lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)


# A hand-written endpoint for each protocol, as a user would write one with orjson: the request's payload
# turned into what the toolkit hands predict (an ndarray where the toolkit gives one), and the result in the
# protocol's response envelope; no validation, limits, metrics or logging.
_OIP_DTYPES = {"FP64": np.float64, "FP32": np.float32, "INT64": np.int64, "INT32": np.int32, "BOOL": np.bool_}
_OIP_DATATYPE = {np.dtype(t): name for name, t in _OIP_DTYPES.items()}


def _oip_input(doc: dict[str, Any]) -> Any:
    arrays = {
        t["name"]: np.array(t["data"], dtype=_OIP_DTYPES[t["datatype"]]).reshape(t["shape"]) for t in doc["inputs"]
    }
    return next(iter(arrays.values())) if len(arrays) == 1 else arrays


def _oip_output(result: Any, name: str) -> dict[str, Any]:
    named = result if isinstance(result, dict) else {name: result}
    outputs = [
        {"name": k, "shape": list(a.shape), "datatype": _OIP_DATATYPE.get(a.dtype, "BYTES"), "data": a.reshape(-1)}
        for k, a in named.items()
    ]
    return {"model_name": MODEL_ID, "outputs": outputs}


def _rows(value: Any) -> Any:
    return np.asarray(value) if isinstance(value, list) else value


# route -> (what predict receives from the parsed request, the response document of predict's result)
BARE: dict[str, tuple[Callable[[Any], Any], Callable[[Any, Any], Any]]] = {
    "datason": (lambda doc: doc["features"], lambda doc, r: {"prediction": r}),
    "oip": (_oip_input, lambda doc, r: _oip_output(r, doc["inputs"][0]["name"])),
    "kserve_v1": (lambda doc: _rows(doc["instances"]), lambda doc, r: {"predictions": r}),
    "seldon": (
        lambda doc: _rows(doc["data"]["ndarray"]),
        lambda doc, r: (
            {"jsonData": r, "meta": {}} if isinstance(r, dict) else {"data": {"names": [], "ndarray": r}, "meta": {}}
        ),
    ),
    "mlflow": (lambda doc: _rows(doc["inputs"]), lambda doc, r: {"predictions": r}),
}


def make_bare(kind: str) -> Any:
    """The baseline: bare Starlette, one ``async def`` route per protocol path (``BARE``): ``orjson.loads`` of the
    body, the payload as predict receives it, the same predict (awaited when async, a sync one called inline),
    ``orjson.dumps(<the protocol's envelope>, option=OPT_SERIALIZE_NUMPY)``. No validation, metrics or logging;
    GET /count for the lost-request check."""
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    predict, _ = predict_and_schema(kind)
    is_async = inspect.iscoroutinefunction(predict)
    option = orjson.OPT_SERIALIZE_NUMPY
    served = 0

    def endpoint(route: str) -> Callable[[Request], Any]:
        payload, envelope = BARE[route]

        async def answer(request: Request) -> Response:
            nonlocal served
            doc = orjson.loads(await request.body())
            value = payload(doc)
            result = await predict(value) if is_async else predict(value)
            body = orjson.dumps(envelope(doc, result), option=option, default=_orjson_default)
            served += 1
            return Response(body, media_type="application/json")

        return answer

    async def count(request: Request) -> Response:
        return JSONResponse({"total_requests": served})

    paths = {name: path.replace(MODEL_ID, "{name}") for name, path in ROUTES.items()}
    routes = [Route(paths[name], endpoint(name), methods=["POST"]) for name in ROUTES]
    return Starlette(routes=[*routes, Route("/count", count)])


def toolkit_app() -> Any:
    """uvicorn factory: the toolkit serving the predict named by the environment."""
    app = make_toolkit(os.environ[KIND_ENV], os.environ.get(LOG_ENV) or None)
    level = logging.getLevelName(logging.getLogger("datason.serving").getEffectiveLevel())
    print(f"BENCH_LOGGING level={level}", file=sys.stderr, flush=True)
    return app


def bare_app() -> Any:
    """uvicorn factory: the bare app serving the predict named by the environment."""
    return make_bare(os.environ[KIND_ENV])


# ---------------------------------------------------------------- scenarios, rows and bodies


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A predict served by both apps on ``routes``; OIP rows serve ``tensor_kind`` (tensors only)."""

    name: str
    title: str
    kind: str
    tensor_kind: str
    target: float | None
    routes: tuple[str, ...]
    log: bool = False

    def kind_for(self, route: str) -> str:
        return self.tensor_kind if route == "oip" else self.kind


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("trivial", "trivial async", "trivial", "trivial_tensor", 0.75, tuple(ROUTES)),
        Scenario("records", "50-record NumPy response", "records", "records_tensor", 0.85, tuple(ROUTES)),
        Scenario("iris", "iris (examples/demo.py)", "iris", "iris", None, ("datason",)),
        Scenario("log", "trivial async, request log on", "trivial", "trivial_tensor", None, ("datason",), log=True),
    )
}
QUICK_ROWS = (("trivial", "datason"), ("records", "oip"), ("log", "datason"))


@dataclasses.dataclass(frozen=True)
class Row:
    """One scenario on one route: a toolkit server and a bare server, same predict, same body."""

    scenario: Scenario
    route: str
    body: bytes
    content_type: str = "application/json"

    @property
    def key(self) -> str:
        return f"{self.scenario.name}/{self.route}"

    @property
    def kind(self) -> str:
        return self.scenario.kind_for(self.route)


def body_for(scenario: Scenario, route: str) -> bytes:
    """The request body of ``route`` carrying the scenario's input (the iris features on /predict)."""
    if scenario.kind == "iris":
        return json.dumps({"features": _iris_example()}).encode()
    if route == "oip":
        from datason.protocols import oip

        return bytes(oip.encode_request({"x": np.array(ROW, dtype=np.float64)}).body)
    doc = {
        "datason": {"features": ROW},
        "kserve_v1": {"instances": ROW},
        "seldon": {"data": {"ndarray": ROW}},
        "mlflow": {"inputs": ROW},
    }[route]
    return json.dumps(doc).encode()


def _iris_example() -> dict[str, float]:
    sys.path.insert(0, str(EXAMPLES))
    import demo

    return dict(demo.EXAMPLE)


def select_rows(args: argparse.Namespace) -> list[Row]:
    """The rows to run: every scenario x route (filtered by --scenarios/--routes), or the quick subset."""
    scenarios = args.scenarios.split(",") if args.scenarios else list(SCENARIOS)
    routes = args.routes.split(",") if args.routes else list(ROUTES)
    for name in scenarios:
        if name not in SCENARIOS:
            raise SystemExit(f"unknown scenario {name!r}; expected some of {', '.join(SCENARIOS)}")
    for name in routes:
        if name not in ROUTES:
            raise SystemExit(f"unknown route {name!r}; expected some of {', '.join(ROUTES)}")
    if args.quick and not (args.scenarios or args.routes):
        pairs = list(QUICK_ROWS)
    else:
        pairs = [(s, r) for s in scenarios for r in SCENARIOS[s].routes if r in routes]
    if not pairs:
        raise SystemExit("no rows selected")
    return [Row(SCENARIOS[s], r, body_for(SCENARIOS[s], r)) for s, r in pairs]


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
    """One uvicorn process serving ``factory`` (``toolkit_app`` or ``bare_app``) for predict ``kind``."""

    app: str  # "toolkit" or "bare"
    kind: str
    log_path: str | None = None
    module: str = "serving"  # the module holding the ``<app>_app`` factories (serving_split wraps them)
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    log: Any = None

    @property
    def name(self) -> str:
        return f"{self.app}:{self.kind}" + ("+log" if self.log_path else "")

    @property
    def count_path(self) -> str:
        return "/health" if self.app == "toolkit" else "/count"

    def start(self, loop: str, http: str) -> None:
        """Bind a free 127.0.0.1 port and start uvicorn on its fd in a new session (``wait_ready`` waits)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # uvicorn --fd wraps the fd as AF_UNIX, so the event loop never sets TCP_NODELAY on accepted connections:
        # set it here (Linux copies it to every accepted socket), or Nagle holds each response's body behind
        # its headers until wrk's delayed ACK (~40 ms), capping every server at ~64 requests per 40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(BACKLOG)
        self.port = sock.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
        env[KIND_ENV] = self.kind
        env.pop(LOG_ENV, None)
        if self.log_path:
            env[LOG_ENV] = self.log_path
        self.log = tempfile.TemporaryFile()
        cmd = [sys.executable, "-m", "uvicorn", "--factory", f"{self.module}:{self.app}_app", "--app-dir", str(HERE)]
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
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            with contextlib.suppress(OSError):
                get(self.url(self.count_path), timeout=2)
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer within 120 s:\n{self.output()}")

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

    def counts(self) -> tuple[int, int | None]:
        """(prediction requests the server counted, its 5xx count: toolkit /health error_count, bare None)."""
        status, body = get(self.url(self.count_path))
        if status != 200:
            raise RuntimeError(f"{self.name} {self.count_path} answered {status}")
        doc = json.loads(body)
        return int(doc["total_requests"]), (int(doc["error_count"]) if self.app == "toolkit" else None)

    def settled_counts(self, timeout: float = 60) -> tuple[int, int | None]:
        """``counts`` once they stop changing: requests wrk left in flight have been answered."""
        last, deadline = self.counts(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.counts()
            if now == last:
                return now
            last = now
        raise RuntimeError(f"{self.name} kept counting requests for {timeout:g} s after wrk stopped")

    def stop(self) -> int | None:
        """SIGTERM the server's process group; SIGKILL it if it does not exit in 10 s. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return self.proc.returncode
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(timeout=10)


def uvicorn_options(loop: str, http: str) -> list[str]:
    """The uvicorn options every server gets."""
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


def post(url: str, body: bytes, content_type: str = "application/json", timeout: float = 10) -> tuple[int, bytes]:
    """POST ``body``: (status, body); HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


LUA = """\
wrk.method = "POST"
wrk.body = %s
wrk.headers["Content-Type"] = "%s"
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


def lua_script(row: Row, directory: Path) -> Path:
    """A wrk script that POSTs the row's body and prints its summary as one JSON line."""
    text = row.body.decode()
    if "]==]" in text:
        raise ValueError("the body would end the Lua long string early")
    path = directory / f"{row.key.replace('/', '-')}.lua"
    path.write_text(LUA % ("[==[" + text + "]==]", row.content_type))
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
    """One timed wrk run against one server for one row."""

    row: str
    app: str
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


def timed_run(server: Server, row: Row, rnd: int, wrk: str, script: Path, seconds: int, threads: int) -> Run:
    """One measured wrk run with the server's own request and 5xx counts and its CPU time around it."""
    tick = os.sysconf("SC_CLK_TCK")
    count0, errors0 = server.settled_counts()
    cpu0, busy0 = server.cpu_ticks(), machine_busy_ticks()
    res = run_wrk(wrk, server.url(ROUTES[row.route]), script, seconds, threads)
    cpu1, busy1 = server.cpu_ticks(), machine_busy_ticks()
    count1, errors1 = server.settled_counts()
    secs = res["duration_us"] / 1e6
    server_cpu = (cpu1 - cpu0) / tick
    others = max(0.0, (busy1 - busy0) / tick - server_cpu - res["wrk_cpu_s"])
    return Run(
        row=row.key,
        app=server.app,
        round=rnd,
        requests=res["requests"],
        seconds=secs,
        rps=res["requests"] / secs,
        p50_ms=res["p50_us"] / 1000,
        p99_ms=res["p99_us"] / 1000,
        non_2xx=res["non_2xx_3xx"],
        socket_errors={k: res[k] for k in ("connect", "read", "write", "timeout")},
        server_counted=count1 - count0,
        server_5xx=None if errors0 is None or errors1 is None else errors1 - errors0,
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


# ---------------------------------------------------------------- answers: both apps serve the same predict


def toolkit_prediction(route: str, body: bytes) -> Any:
    """The prediction inside a toolkit response of ``route`` (read with the protocol's own decoder for OIP)."""
    if route == "oip":
        from datason.protocols import oip

        outputs = {t.name: np.asarray(t.value).tolist() for t in oip.decode_response(body).outputs}
        return outputs if len(outputs) > 1 else next(iter(outputs.values()))
    doc = json.loads(body)
    if route == "datason":
        missing = {"request_id", "prediction", "model_version", "timestamp", "processing_time_ms"} - set(doc)
        if missing:
            raise RuntimeError(f"/predict reply lacks {sorted(missing)}")
        return doc["prediction"]
    if route == "seldon":
        data = doc.get("data", {})
        return data["ndarray"] if "ndarray" in data else doc.get("jsonData", doc)
    return doc["predictions"]


def bare_prediction(route: str, body: bytes) -> Any:
    """The prediction inside a bare response of ``route`` (its envelope read as ``toolkit_prediction`` does)."""
    doc = json.loads(body)
    if route == "oip":
        outputs = {o["name"]: np.reshape(o["data"], o["shape"]).tolist() for o in doc["outputs"]}
        return outputs if len(outputs) > 1 else next(iter(outputs.values()))
    if route == "datason":
        return doc["prediction"]
    if route == "seldon":
        return doc["data"]["ndarray"] if "data" in doc else doc["jsonData"]
    return doc["predictions"]


def same(a: Any, b: Any) -> bool:
    """JSON values equal up to float rounding (float32 digits), str and bytes alike."""
    if isinstance(a, bytes):
        a = a.decode()
    if isinstance(b, bytes):
        b = b.decode()
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    return bool(a == b)


def check_answers(row: Row, toolkit: Server, bare: Server) -> str:
    """POST the row's body once to both servers: both must answer 200 with the same prediction."""
    replies = {}
    for server in (toolkit, bare):
        status, text = post(server.url(ROUTES[row.route]), row.body, row.content_type)
        if status != 200:
            raise RuntimeError(f"{server.name} {ROUTES[row.route]} answered {status}: {text[:500]!r}")
        replies[server.app] = text
    mine = toolkit_prediction(row.route, replies["toolkit"])
    theirs = bare_prediction(row.route, replies["bare"])
    if not same(mine, theirs):
        raise RuntimeError(
            f"{row.key}: the apps disagree: toolkit {json.dumps(mine)[:300]} vs bare {json.dumps(theirs)[:300]}"
        )
    return replies["toolkit"][:120].decode(errors="replace")


# ---------------------------------------------------------------- each app called in-process (no HTTP)


def request_scope(row: Row) -> dict[str, Any]:
    """The ASGI scope of the row's POST, as uvicorn would build it (copy it per call: apps may change it)."""
    path = ROUTES[row.route]
    headers = [(b"host", b"127.0.0.1"), (b"content-type", row.content_type.encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [*headers, (b"content-length", str(len(row.body)).encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


def in_process_us(rows: list[Row], repeats: int, log_dir: Path) -> dict[str, dict[str, float]]:
    """Per row, µs per request of each app called directly as an ASGI app in this process (no HTTP server),
    best of ``repeats`` batches of 200, the two apps interleaved: the apps' own work, far less noisy than wrk."""
    import asyncio

    async def one(app: Any, scope: Mapping[str, Any], body: bytes) -> None:
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Mapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(dict(scope), receive, send)
        if status != [200]:
            raise RuntimeError(f"in-process request to {scope['path']} answered {status}")

    async def measure(row: Row, apps: dict[str, Any]) -> dict[str, float]:
        scope = request_scope(row)
        for app in apps.values():  # first calls: imports, the auto inline/thread choice
            for _ in range(5):
                await one(app, scope, row.body)
        best = dict.fromkeys(apps, float("inf"))
        for i in range(repeats):
            for name in apps if i % 2 == 0 else list(apps)[::-1]:
                t0 = time.perf_counter()
                for _ in range(200):
                    await one(apps[name], scope, row.body)
                best[name] = min(best[name], (time.perf_counter() - t0) / 200 * 1e6)
        return best

    out: dict[str, dict[str, float]] = {}
    try:
        for row in rows:
            log_path = str(log_dir / "in-process.log") if row.scenario.log else None
            apps = {"toolkit": make_toolkit(row.kind, log_path), "bare": make_bare(row.kind)}
            out[row.key] = asyncio.run(measure(row, apps))
    finally:
        configure_request_log(None)
    return out


# ---------------------------------------------------------------- report


def median(xs: list[float]) -> float:
    """Median (NaN for no values)."""
    return statistics.median(xs) if xs else float("nan")


def versions() -> str:
    """Versions of everything on the request path."""
    names = ("uvicorn", "starlette", "uvloop", "httptools", "orjson", "numpy", "jsonschema", "prometheus-client")
    parts = []
    for n in (*names, "scikit-learn"):
        try:
            parts.append(f"{n} {metadata.version(n)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{n} not installed")
    return ", ".join(parts)


@dataclasses.dataclass
class Summary:
    """One row's figures over its rounds."""

    row: Row
    toolkit: list[Run]
    bare: list[Run]
    ratios: list[float]

    @property
    def ratio(self) -> float:
        return median(self.ratios)

    @property
    def t_5xx(self) -> int:
        return sum(r.server_5xx or 0 for r in self.toolkit)

    @property
    def t_non_2xx(self) -> int:
        return sum(r.non_2xx for r in self.toolkit)

    @property
    def lost(self) -> tuple[int, int]:
        return sum(r.lost for r in self.toolkit), sum(r.lost for r in self.bare)

    @property
    def result(self) -> str:
        target = self.row.scenario.target
        if target is None:
            return "—"
        reasons = []
        if not self.ratio >= target:
            reasons.append("throughput")
        if self.t_5xx or self.t_non_2xx:
            reasons.append("errors")
        if any(self.lost):
            reasons.append("lost")
        return "PASS" if not reasons else f"MISS ({', '.join(reasons)})"


def summarize(rows: list[Row], runs: list[Run]) -> list[Summary]:
    """Pair each row's toolkit and bare runs round by round."""
    out = []
    for row in rows:
        mine = [r for r in runs if r.row == row.key]
        t = sorted((r for r in mine if r.app == "toolkit"), key=lambda r: r.round)
        b = sorted((r for r in mine if r.app == "bare"), key=lambda r: r.round)
        out.append(Summary(row, t, b, [x.rps / y.rps for x, y in zip(t, b, strict=True) if y.rps > 0]))
    return out


def route_label(route: str) -> str:
    return f"{route} `{ROUTES[route]}`"


def markdown(rows: list[Row], runs: list[Run], args: argparse.Namespace, meta: Mapping[str, Any]) -> list[str]:
    """The serving section of docs/benchmarks.md."""
    sums = summarize(rows, runs)
    direct = meta["direct"]
    cmd = "python benchmarks/serving.py" + (" --quick" if args.quick else "")
    for flag in ("rounds", "duration", "warmup", "scenarios", "routes"):
        if getattr(args, f"{flag}_given"):
            cmd += f" --{flag} {getattr(args, flag)}"
    sizes = ", ".join(f"{route} {len(body_for(SCENARIOS['trivial'], route))} B" for route in ROUTES)
    log_rows = [s for s in sums if s.row.scenario.log]
    lines = [
        "## Serving: datason.serving's request pipeline vs a bare Starlette + orjson endpoint (load test)",
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
            " **The machine was busy: requests/s and their ratios are dominated by noise here; rerun on a quiet "
            "machine before judging the targets.**"
            if meta["others_median"] > NOISY_OTHERS_PCT
            else ""
        ),
        f"- Python {platform.python_version()}; {meta['versions']}; {meta['wrk']}.",
        f"- Load: `wrk -t{args.threads} -c{CONNECTIONS} -d{args.duration}s --timeout 10s --latency`, a Lua script "
        f"POSTing the row's body; {args.rounds} round(s) over every row, each round runs both apps of a row back "
        f"to back, alternating which goes first (by round and by row); {args.warmup} s untimed warm-up before the "
        "first timed run of each app on each row.",
        f"- Servers: one uvicorn process per app and predict, each in its own process group on a free 127.0.0.1 "
        f"port (bound here with `TCP_NODELAY`, which accepted connections inherit, and handed over with `--fd`: "
        "uvicorn takes an `--fd` socket for a Unix one and would not set it, so Nagle's algorithm would hold each "
        "response body behind its headers until the client's delayed ACK, ~40 ms), same options "
        f"`{' '.join(uvicorn_options(meta['loop'], meta['http']))}`; all started before the first run, idle while "
        "another runs.",
        f'- Toolkit: `create_app(predict, config=ServingConfig(model_id="{MODEL_ID}", rate_limit=None))`, every '
        "other setting at its default: all protocols on, `sync_in_thread=None` (auto: a cheap sync predict runs "
        "inline), no cache, no batching, Prometheus metrics, request ids, the protocol's codec on both sides. "
        f"Request log: {meta['logging']}.",
        "- Bare: what a user would write by hand with orjson, one Starlette `async def` route per protocol path "
        "(the same paths): `orjson.loads(await request.body())`; predict is handed what the toolkit hands it "
        "(`/predict`: the `features` value as parsed; OIP: each input as `np.array(data, dtype).reshape(shape)`, "
        "one input alone; KServe v1, Seldon `ndarray` and MLflow `inputs`: `np.asarray` of the rows); the same "
        "predict (awaited when async, a sync one called inline); its result in the protocol's response "
        '(`{"prediction": result}`, `{"predictions": result}`, Seldon `{"jsonData"|"data": {"names": [], '
        '"ndarray"}, "meta": {}}`, OIP `{"model_name", "outputs": [{"name", "shape", "datatype", "data"}]}`) '
        'written by `Response(orjson.dumps(doc, option=OPT_SERIALIZE_NUMPY), media_type="application/json")` '
        "(a `default` turns the str array of the OIP rows, which orjson's NumPy support leaves out, into a "
        "list); no validation, limits, metrics or logging; a request counter for the lost-request check.",
        "- Predicts (the same function in both apps; the apps' answers are checked equal before timing):",
        '  - trivial async: `async def predict(x): return {"ok": 1}`; on OIP (tensors only) it returns '
        "`np.array([1.0], dtype=np.float32)`.",
        "  - 50-record NumPy response: a sync predict returning the same list (built once) of 50 records "
        '`{"label": str, "score": np.float32, "probs": {10 keys: np.float64}, "idx": np.int64}`; on OIP the same '
        "data as a dict of arrays: `label` (str array, BYTES), `score` FP32[50], `probs` FP64[50,10], `idx` "
        "INT64[50] (four output tensors).",
        "  - iris: `examples/demo.py`'s scikit-learn `LogisticRegression` (one `predict_proba` call, "
        f"{meta['iris_us']} at best in this process, NumPy values out), the toolkit with the demo's JSON Schema; "
        "the toolkit's auto mode runs a sync predict in a worker thread once its moving average passes 100 µs, "
        "while the bare app calls it inline. No target: for reference.",
        '- Bodies: one instance `[[5.1, 3.5, 1.4, 0.2]]` in each protocol\'s request: `{"features": ...}`, OIP '
        '`encode_request({"x": float64 array}).body` (JSON, FP64 [1,4]), `{"instances": ...}`, `{"data": '
        f'{{"ndarray": ...}}}}`, `{{"inputs": ...}}` ({sizes}); iris: `{{"features": {{4 named numbers}}}}`.',
        "- Lost requests: wrk's socket errors (connect/read/write/timeout) must be 0 and the server's own count of "
        "prediction requests during the run (toolkit: `/health` total_requests; bare: its counter) must be at "
        f"least wrk's completed count and at most {CONNECTIONS} more (requests still in flight when wrk stopped "
        "reading). 5xx: the toolkit's `/health` error_count during the run, beside wrk's non-2xx count.",
        "- Server CPU µs/request (a profile hint): the uvicorn process's user+system CPU time during the run "
        "divided by the requests, less sensitive to the shared machine than requests/s. In-process µs/request: "
        "each app called directly as an ASGI app in the benchmark process (no HTTP server), best batch of 200, "
        "the two apps interleaved: the apps' own work without uvicorn.",
        "",
        "### Targets: toolkit/bare throughput, per row",
        "",
        "Targets: at least 0.75x the bare app's requests/s for the trivial async predict and 0.85x for the "
        "50-record response, on every route, with zero 5xx and zero lost requests (ratio: median of the per-round "
        "ratios; requests/s, p50 and p99: medians over rounds).",
        "",
        "| scenario | route | toolkit req/s | bare req/s | toolkit/bare (rounds) | target | result "
        "| toolkit p50 / p99 ms | bare p50 / p99 ms | toolkit non-2xx / 5xx | runs losing requests toolkit / bare "
        "| server CPU µs/req toolkit / bare | in-process µs/req toolkit / bare |",
        "|---|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sums:
        t, b = s.toolkit, s.bare
        target = s.row.scenario.target
        d = direct.get(s.row.key, {"toolkit": float("nan"), "bare": float("nan")})
        lines.append(
            f"| {s.row.scenario.title} | {route_label(s.row.route)} | {median([r.rps for r in t]):.0f} | "
            f"{median([r.rps for r in b]):.0f} | {s.ratio:.2f} ({', '.join(f'{x:.2f}' for x in s.ratios)}) | "
            f"{'—' if target is None else f'>= {target:.2f}'} | {s.result} | "
            f"{median([r.p50_ms for r in t]):.1f} / {median([r.p99_ms for r in t]):.1f} | "
            f"{median([r.p50_ms for r in b]):.1f} / {median([r.p99_ms for r in b]):.1f} | "
            f"{s.t_non_2xx} / {s.t_5xx} | {s.lost[0]} / {s.lost[1]} | "
            f"{median([r.server_cpu_us_per_req for r in t]):.0f} / {median([r.server_cpu_us_per_req for r in b]):.0f} "
            f"| {d['toolkit']:.0f} / {d['bare']:.0f} |"
        )
    targeted = [s for s in sums if s.row.scenario.target is not None]
    passed = sum(s.result == "PASS" for s in targeted)
    lines += ["", f"Rows with a target: {passed} of {len(targeted)} PASS."]
    lines += [
        f"Bare app non-2xx: {sum(r.non_2xx for s in sums for r in s.bare)} (it must be 0 for the comparison to hold)."
    ]
    for s in log_rows:
        plain = next((p for p in sums if p.row.key == f"trivial/{s.row.route}"), None)
        cpu = median([r.server_cpu_us_per_req for r in s.toolkit])
        extra = ""
        if plain is not None:
            cpu_off = median([r.server_cpu_us_per_req for r in plain.toolkit])
            extra = (
                f"; the same row with the log off: {plain.ratio:.2f}x, {cpu_off:.0f} µs CPU/request, so the log line "
                f"costs about {cpu - cpu_off:+.0f} µs of server CPU per request"
            )
            if s.row.key in direct and plain.row.key in direct:
                extra += f" ({direct[s.row.key]['toolkit'] - direct[plain.row.key]['toolkit']:+.0f} µs in-process)"
        lines += [
            "",
            f"Request log on (`{ROUTES[s.row.route]}`, trivial async, INFO to a file): toolkit/bare {s.ratio:.2f}x, "
            f"{cpu:.0f} µs server CPU/request{extra}. {meta['log_lines']}",
        ]
    hints = []
    for s in sums:
        t_cpu = median([r.server_cpu_us_per_req for r in s.toolkit])
        b_cpu = median([r.server_cpu_us_per_req for r in s.bare])
        d = direct.get(s.row.key)
        inproc = f", in-process {d['toolkit'] - d['bare']:+.0f} µs" if d else ""
        hints.append((t_cpu - b_cpu, f"{s.row.key} {t_cpu - b_cpu:+.0f} µs ({t_cpu / b_cpu:.1f}x){inproc}"))
    lines += [
        "",
        "Profile hint, toolkit minus bare per request (server CPU, median over rounds; in-process), largest first: "
        + "; ".join(text for _, text in sorted(hints, key=lambda h: -h[0]))
        + ".",
    ]
    lines += [
        "",
        "### Every run",
        "",
        "| round | row | app | requests | s | requests/s | p50 ms | p99 ms | non-2xx | 5xx | socket errors "
        "| server counted | CPU µs/req | others' CPU % |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(runs, key=lambda r: (r.round, [x.key for x in rows].index(r.row))):
        lines.append(
            f"| {r.round} | {r.row} | {r.app} | {r.requests} | {r.seconds:.1f} | {r.rps:.0f} | {r.p50_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.non_2xx} | {'—' if r.server_5xx is None else r.server_5xx} | "
            f"{sum(r.socket_errors.values())} | {r.server_counted} (+{r.in_flight}) | "
            f"{r.server_cpu_us_per_req:.0f} | {r.others_cpu_pct:.0f} |"
        )
    return lines


def write_block(path: Path, lines: list[str]) -> None:
    """Replace the serving block in ``path``, or append it (creating the file)."""
    docblock.write_block(path, "serving", lines)


def iris_us(rows: list[Row]) -> str:
    """The demo predict's best time per call in this process (when an iris row ran)."""
    if not any(row.kind == "iris" for row in rows):
        return "not run"
    predict, _, example = _iris()
    return f"{min(timeit.repeat(lambda: predict(example), number=200, repeat=5)) / 200 * 1e6:.0f} µs"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 1 s, rows " + str(QUICK_ROWS))
    parser.add_argument("--rounds", type=int, help="rounds over every row (default 5; quick 1)")
    parser.add_argument("--duration", type=int, help="whole seconds per timed wrk run (default 5; quick 1)")
    parser.add_argument("--warmup", type=int, help="untimed wrk seconds before each app's first run of a row (1)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: leaves a core to the server)")
    parser.add_argument("--scenarios", help=f"comma-separated subset of {','.join(SCENARIOS)} (default: all)")
    parser.add_argument("--routes", help=f"comma-separated subset of {','.join(ROUTES)} (default: all)")
    parser.add_argument("--output", help="write the section between the serving markers of this Markdown file")
    args = parser.parse_args(argv)
    for flag in ("rounds", "duration", "warmup", "scenarios", "routes"):
        setattr(args, f"{flag}_given", getattr(args, flag) is not None)
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.duration = args.duration or (1 if args.quick else 5)
    args.warmup = args.warmup if args.warmup is not None else 1
    return args


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the rounds, print the Markdown section (and write it with --output)."""
    args = parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        print(WRK_INSTALL, file=sys.stderr)
        return 2
    rows = select_rows(args)
    loop, http = event_loop_and_parser()
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        servers: dict[tuple[str, str, bool], Server] = {}
        for row in rows:
            log = row.scenario.log
            key = ("toolkit", row.kind, log)
            if key not in servers:
                servers[key] = Server("toolkit", row.kind, str(tmpdir / f"{row.kind}.log") if log else None)
            servers.setdefault(("bare", row.kind, False), Server("bare", row.kind))
        pairs = {r.key: (servers[("toolkit", r.kind, r.scenario.log)], servers[("bare", r.kind, False)]) for r in rows}
        with running(list(servers.values()), loop, http):
            scripts = {row.key: lua_script(row, tmpdir) for row in rows}
            for row in rows:
                sample = check_answers(row, *pairs[row.key])
                print(f"{row.key}: both apps answer 200 with the same prediction; toolkit: {sample}", file=sys.stderr)
            print(f"all {len(rows)} rows: both servers answer 200 with the same prediction", file=sys.stderr)
            for rnd in range(1, args.rounds + 1):
                for i, row in enumerate(rows):
                    pair = pairs[row.key] if (rnd + i) % 2 else pairs[row.key][::-1]
                    for server in pair:
                        if rnd == 1 and args.warmup > 0:
                            run_wrk(wrk, server.url(ROUTES[row.route]), scripts[row.key], args.warmup, args.threads)
                        run = timed_run(server, row, rnd, wrk, scripts[row.key], args.duration, args.threads)
                        runs.append(run)
                        print(
                            f"round {rnd} {row.key} {server.app}: {run.rps:.0f} req/s, p50 {run.p50_ms:.1f} ms, "
                            f"p99 {run.p99_ms:.1f} ms, non-2xx {run.non_2xx}, 5xx {run.server_5xx}, socket errors "
                            f"{sum(run.socket_errors.values())}, server counted {run.server_counted} "
                            f"(wrk {run.requests}), CPU {run.server_cpu_us_per_req:.0f} µs/req",
                            file=sys.stderr,
                        )
            logged = [s for s in servers.values() if s.log_path]
            totals = {s.name: s.settled_counts()[0] for s in logged}
            levels = {s.name: re.findall(r"BENCH_LOGGING level=(\S+)", s.output()) for s in servers.values()}
            for s in servers.values():
                s.stop()
            graceful = {s.name: "Finished server process" in s.output() for s in servers.values()}
        log_lines = " ".join(
            f"The log file of {s.name} holds {len(Path(s.log_path).read_bytes().splitlines())} lines for the "
            f"{totals[s.name]} requests it served (timed, warm-up and check requests)."
            for s in logged
            if s.log_path
        )
        direct = in_process_us(rows, 3 if args.quick else 20, tmpdir)
    toolkit_levels = {lv for name, found in levels.items() if name.startswith("toolkit") for lv in found}
    others = [r.others_cpu_pct for r in runs]
    meta = {
        "direct": direct,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "others_median": median(others),
        "others_max": max(others),
        "elapsed": time.perf_counter() - started,
        "versions": versions(),
        "wrk": wrk_version(wrk),
        "loop": loop,
        "http": http,
        "logging": "logger `datason.serving` set to WARNING, no handler (its INFO line per request is filtered out "
        "before it is built) in every row but the request-log row, where it is at INFO with the "
        "`LineHandler` `datason serve` uses (bare JSON lines, flushed in batches every 0.2 s), to a file; levels "
        f"reported by the toolkit servers: {', '.join(sorted(toolkit_levels)) or 'none'}",
        "log_lines": log_lines,
        "iris_us": iris_us(rows),
    }
    lines = markdown(rows, runs, args, meta)
    shutdown = ", ".join(f"{n} {'graceful' if ok else '**not graceful**'}" for n, ok in graceful.items())
    lines += ["", f"Servers stopped by SIGTERM to their process group: {shutdown}."]
    print("\n".join(lines))
    if args.output:
        write_block(Path(args.output), lines)
        print(f"wrote the serving section of {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
