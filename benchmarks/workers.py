"""Load benchmark: ``datason serve --workers 1`` vs ``--workers 2``, and the cost of rate limits in Redis.

Usage (from the repository root, with the project's virtualenv; needs the Debian packages ``wrk`` and
``redis-server``; on the shared machine, under the benchmark lock):

    flock /tmp/datason-bench.lock .venv/bin/python benchmarks/workers.py --output docs/benchmarks.md
    .venv/bin/python benchmarks/workers.py --quick          # smoke run: 1 round x 2 s, printed only

Rows, each a ``datason serve workers:trivial --app-dir benchmarks`` (an ``async`` predict returning ``{"ok": 1}``)
in its own process group on a free 127.0.0.1 port, ``--log-level warning`` (no request lines), all started
before the first run and idle while another runs:

- ``1 worker`` and ``2 workers``: no rate limit (what ``--workers`` buys on this machine);
- ``1 worker, memory limit``: ``--rate-limit 1000/minute`` per client (``moving-window``, the default), never
  reached: wrk sends each request as one of 1000 clients (``X-API-Key: client-N``, N random), as every row does;
- ``1 worker, Redis limit``: the same limit with ``--redis-url`` to a ``redis-server`` started here on a free
  port (``--save '' --appendonly no``);
- ``2 workers, Redis limit``: both.

wrk POSTs ``{"features": [1, 2, 3]}`` over 32 keep-alive connections with one thread (``wrk -t1 -c32``) for
``--seconds`` after a 1 s warm-up; each round runs every row, in an order rotated from round to round. Reported
per row: requests/s (median over rounds), p50/p99, non-2xx, the ratio to its baseline (``1 worker`` for the
one-worker rows and ``2 workers``, ``2 workers`` for the last), and the wall time each request added over the
baseline (``1e6/rps - 1e6/rps_baseline``, µs). A second table times ``ModelService.handle`` in-process (no HTTP,
``timeit``) with no limit, the memory limit and the Redis limit. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import re
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
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import docblock  # noqa: E402

# benchmarks/limits.py would hide the ``limits`` package the rate limits import
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

BLOCK = "workers"
BODY = b'{"features": [1, 2, 3]}'
LIMIT = "1000/minute"  # per client; wrk's 1000 clients (X-API-Key) each send far fewer in a minute
CLIENTS = 1000
CONNECTIONS = 32
HEADERS = {"content-type": "application/json"}
# The served module, written to the run's directory: ``--app-dir benchmarks`` would put benchmarks/limits.py
# ahead of the ``limits`` package on the workers' sys.path.
APP = """async def trivial(features):
    return {"ok": 1}
"""


async def trivial(features: Any) -> dict[str, int]:
    """The served predict: as cheap as a predict gets, so the rows measure the server."""
    return {"ok": 1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Redis:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="dsbench-redis-")
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            [*cmd, "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        _stop_group(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass


class Server:
    def __init__(self, name: str, workers: int, options: list[str], log_dir: Path) -> None:
        self.name = name
        self.workers = workers
        self.port = free_port()
        self.log = log_dir / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}.log"
        cmd = [sys.executable, "-m", "datason.cli", "serve", "dsbench_app:trivial", "--app-dir", str(log_dir)]
        cmd += ["--port", str(self.port), "--workers", str(workers), "--log-level", "warning", *options]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATASON_SERVING_", "PROMETHEUS_MULTIPROC"))}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=2) as r:
                    if r.status == 200:
                        # one worker answered; the others import and start alongside (--log-level warning
                        # hides uvicorn's start-up lines): give them the time they take on this machine
                        time.sleep(0 if self.workers == 1 else 4)
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")


LUA = """\
local body = '%s'
request = function()
  local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = "client-" .. math.random(1, %d)}
  return wrk.format("POST", nil, headers, body)
end
done = function(summary, latency, requests)
  io.write(string.format("WRK_RESULT {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"non_2xx\\": %%d, " ..
    "\\"errors\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d}\\n", summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def run_wrk(url: str, script: Path, seconds: float) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^WRK_RESULT (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def in_process(redis_url: str, number: int) -> dict[str, float]:
    """µs per ``ModelService.handle`` call (best of 5 repeats) with no limit, a memory and a Redis limit."""
    from datason.serving import ModelService, ServingConfig

    configs = {
        "no limit": ServingConfig(model_id="bench"),
        "memory limit": ServingConfig(model_id="bench", rate_limit=LIMIT),
        "Redis limit": ServingConfig(model_id="bench", rate_limit=LIMIT, redis_url=redis_url),
    }
    out = {}
    loop = asyncio.new_event_loop()
    try:
        for name, cfg in configs.items():
            service = ModelService(trivial, config=cfg)

            keys = [{**HEADERS, "x-api-key": f"client-{i}"} for i in range(CLIENTS)]
            turn = iter(range(10**9))

            def call(service: ModelService = service, keys: list[dict[str, str]] = keys, turn: Any = turn) -> None:
                headers = dict(keys[next(turn) % CLIENTS])
                loop.run_until_complete(service.handle(BODY, headers, "127.0.0.1"))

            for _ in range(200):
                call()
            best = min(timeit.repeat(call, number=number, repeat=5))
            out[name] = best / number * 1e6
    finally:
        loop.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="1 round x 2 s, printed only")
    parser.add_argument("--output", default=None, help="write the block into this Markdown file")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 1, 2.0
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed: apt-get install -y {tool} (make tools)", file=sys.stderr)
            return 2
    load_before = os.getloadavg()
    started = dt.datetime.now(dt.UTC)
    work = Path(tempfile.mkdtemp(prefix="dsbench-workers-"))
    (work / "dsbench_app.py").write_text(APP)
    redis = Redis()
    servers: list[Server] = []
    try:
        rows = [
            ("1 worker", 1, []),
            ("2 workers", 2, []),
            ("1 worker, memory limit", 1, ["--rate-limit", LIMIT]),
            ("1 worker, Redis limit", 1, ["--rate-limit", LIMIT, "--redis-url", redis.url]),
            ("2 workers, Redis limit", 2, ["--rate-limit", LIMIT, "--redis-url", redis.url]),
        ]
        servers = [Server(name, workers, options, work) for name, workers, options in rows]
        for server in servers:
            server.wait_ready()
        script = work / "post.lua"
        script.write_text(LUA % (BODY.decode(), CLIENTS))
        results: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
        for r in range(args.rounds):
            order = servers[r % len(servers) :] + servers[: r % len(servers)]
            for server in order:
                run_wrk(server.url + "/predict", script, 1.0)  # warm-up
                results[server.name].append(run_wrk(server.url + "/predict", script, args.seconds))
                print(f"round {r + 1} {server.name}: {results[server.name][-1]['rps']:.0f} req/s", flush=True)
        handle = in_process(redis.url, 2000 if args.quick else 20000)
    finally:
        for server in servers:
            _stop_group(server.proc)
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    def median(name: str, key: str) -> float:
        return statistics.median(x[key] for x in results[name])

    baseline = {
        "1 worker": "1 worker",
        "2 workers": "1 worker",
        "1 worker, memory limit": "1 worker",
        "1 worker, Redis limit": "1 worker",
        "2 workers, Redis limit": "2 workers",
    }
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("uvicorn", "redis", "limits", "prometheus-client"))
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    lines = [
        "## `datason serve --workers` and rate limits in Redis",
        "",
        f"Generated by `benchmarks/workers.py` on {started:%Y-%m-%d %H:%M} UTC; rerun it rather than editing this "
        "section (it rewrites only its own block of this file).",
        "",
        "    flock /tmp/datason-bench.lock .venv/bin/python benchmarks/workers.py --output docs/benchmarks.md",
        "",
        docblock.machine_line(),
        f"- Python {platform.python_version()}; {versions}; Redis server {redis_version}",
        f"- Load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after (the machine is shared).",
        f"- {args.rounds} rounds x {args.seconds:g} s per row (after 1 s of warm-up), `wrk -t1 -c{CONNECTIONS}`, "
        "rows rotated from round to round; `datason serve` of an async predict returning "
        '`{"ok": 1}`, `--log-level warning`; the limit is ' + f"`{LIMIT}` per client (moving window), never reached: "
        f"each request comes from one of {CLIENTS} clients (`X-API-Key`).",
        "",
        "| row | req/s | p50 ms | p99 ms | non-2xx | vs | ratio | added µs/request |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for name in results:
        base = baseline[name]
        rps, base_rps = median(name, "rps"), median(base, "rps")
        non_2xx = sum(x["non_2xx"] + x["errors"] for x in results[name])
        added = "" if base == name else f"{1e6 / rps - 1e6 / base_rps:+.1f}"
        ratio = "" if base == name else f"{rps / base_rps:.2f}"
        lines.append(
            f"| {name} | {rps:,.0f} | {median(name, 'p50_us') / 1000:.2f} | {median(name, 'p99_us') / 1000:.2f} "
            f"| {non_2xx} | {'' if base == name else base} | {ratio} | {added} |"
        )
    gain = median("2 workers", "rps") / median("1 worker", "rps")
    lines += [
        "",
        "In process (`ModelService.handle`, no HTTP, best of 5 x timeit): "
        + ", ".join(f"{k} {v:.1f} µs" for k, v in handle.items())
        + f" per request (the Redis limit adds {handle['Redis limit'] - handle['no limit']:.1f} µs: one Lua "
        "script round trip to a Redis on the same machine).",
        "",
        f"Reading it: `--workers 2` {'gained' if gain > 1 else 'lost'} {abs(gain - 1) * 100:.0f}% on this run. The "
        "two workers share the two cores with wrk, redis-server in the Redis rows and, on a shared machine, whatever "
        "else runs (the load average above), so a second worker buys only what the cores leave free. The memory "
        "limit's cost is the `limits` package's `MemoryStorage`: every moving-window hit schedules its expiry (a "
        "`threading.Timer`, a new thread whenever the previous one has fired, walking every client's window every "
        "10 ms), which with 1000 clients costs about what the Redis round trip costs; a Redis limit blocks the "
        "worker's event loop for one Lua-script round trip per request.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.output:
        docblock.write_block(Path(args.output), BLOCK, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
