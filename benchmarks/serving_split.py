"""Where a request's time goes inside a loaded server, beside the same apps called in-process.

Usage (from the repository root; needs ``wrk``, as ``benchmarks/serving.py``):

    .venv/bin/python benchmarks/serving_split.py                        # 50 records on OIP, 3 rounds x 6 s
    .venv/bin/python benchmarks/serving_split.py --scenario records --route datason --rounds 2 --seconds 4

``benchmarks/serving.py`` compares requests/s and reports each app's cost called in-process; this script shows
why the two can disagree. It serves one row of that benchmark (the same two apps, predict and body) from
uvicorn with the same options, each app wrapped to time, per request: the whole ASGI call, the two ASGI sends
(response start, which uvicorn turns into the header write, and body) and, for the toolkit, the protocol
adapter's ``parse`` and ``render``. wrk loads each server in turn (rounds alternate which goes first); the
same wrapped apps are then called in this process, one request at a time (the fastest batch of 200). Printed:
µs per request of each part, in the server (median over rounds) and in-process, with requests/s and the
server's CPU per request.
No target and nothing written: a profile aid.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import serving  # noqa: E402

SPLIT_PATH = "/__split"  # GET: the parts so far as JSON; with ?reset=1, then zeroed
ROUTE_ENV = "DATASON_BENCH_ROUTE"  # the toolkit's adapter to time (the row's protocol)
PARTS = ("app", "parse", "render", "send start", "send body", "app minus sends")

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Any, Any], Awaitable[None]]


class Split:
    """Accumulated seconds and counts per part."""

    def __init__(self) -> None:
        self.parts: dict[str, list[float]] = {}

    def add(self, part: str, seconds: float) -> None:
        entry = self.parts.setdefault(part, [0, 0.0])
        entry[0] += 1
        entry[1] += seconds

    def wrap(self, obj: Any, method: str) -> None:
        """Time ``obj.method`` (an instance attribute shadows the class's method)."""
        inner = getattr(obj, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.add(method, time.perf_counter() - t0)

        setattr(obj, method, timed)

    def per_request(self) -> dict[str, float]:
        """µs per request of each part (per call of the whole app)."""
        calls = self.parts.get("app", [0, 0.0])[0]
        out = {part: total / calls * 1e6 for part, (_, total) in self.parts.items()} if calls else {}
        if calls:
            out["app minus sends"] = out["app"] - out.get("send start", 0.0) - out.get("send body", 0.0)
            out["requests"] = calls
        return out


def instrument(app: Any, split: Split) -> ASGI:
    """``app`` with its HTTP calls and sends timed into ``split``; GET SPLIT_PATH answers the figures."""

    async def wrapped(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if scope["path"] == SPLIT_PATH:
            body = json.dumps(split.per_request()).encode()
            if b"reset=1" in scope.get("query_string", b""):
                split.parts.clear()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return

        async def timed_send(message: MutableMapping[str, Any]) -> None:
            t0 = time.perf_counter()
            await send(message)
            part = "send start" if message["type"] == "http.response.start" else "send body"
            split.add(part, time.perf_counter() - t0)

        t0 = time.perf_counter()
        await app(scope, receive, timed_send)
        split.add("app", time.perf_counter() - t0)

    return wrapped


def toolkit_app(split: Split | None = None) -> ASGI:
    """uvicorn factory: serving.py's toolkit app, timed, its ROUTE_ENV adapter's parse and render too."""
    split = split or Split()
    app = serving.toolkit_app()
    adapter = app.service.adapters[os.environ[ROUTE_ENV]]
    split.wrap(adapter, "parse")
    split.wrap(adapter, "render")
    return instrument(app, split)


def bare_app(split: Split | None = None) -> ASGI:
    """uvicorn factory: serving.py's bare app, timed."""
    return instrument(serving.bare_app(), split or Split())


def fetch_split(server: serving.Server, reset: bool) -> dict[str, float]:
    status, body = serving.get(server.url(SPLIT_PATH + ("?reset=1" if reset else "")))
    if status != 200:
        raise RuntimeError(f"{server.name} {SPLIT_PATH} answered {status}")
    figures: dict[str, float] = json.loads(body)
    return figures


def in_process(row: serving.Row, requests: int) -> dict[str, dict[str, float]]:
    """The wrapped apps called directly, one request at a time (after 200 untimed ones): the fastest of
    ``requests // 200`` batches of 200 per app, the apps interleaved, as serving.py's in-process column."""
    path = serving.ROUTES[row.route]
    scope = serving.request_scope(row)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": row.body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"in-process request to {path} answered {message['status']}")

    async def batch(app: ASGI, split: Split) -> dict[str, float]:
        split.parts.clear()
        for _ in range(200):
            await app(dict(scope), receive, send)
        return split.per_request()

    async def drive() -> dict[str, dict[str, float]]:
        splits = {"toolkit": Split(), "bare": Split()}
        apps = {"toolkit": toolkit_app(splits["toolkit"]), "bare": bare_app(splits["bare"])}
        best: dict[str, dict[str, float]] = {}
        for name in apps:
            await batch(apps[name], splits[name])  # untimed: imports, the auto inline/thread choice
        for i in range(max(1, requests // 200)):  # batches interleaved: a slow phase of the machine hits both
            for name in apps if i % 2 == 0 else list(apps)[::-1]:
                figures = await batch(apps[name], splits[name])
                if name not in best or figures["app"] < best[name]["app"]:
                    best[name] = figures
        return best

    try:
        return asyncio.run(drive())
    finally:
        serving.configure_request_log(None)


def table(server: dict[str, list[dict[str, float]]], local: dict[str, dict[str, float]]) -> list[str]:
    """The Markdown table: per part, µs per request in the server (median of rounds) and in-process."""
    lines = [
        "| part | toolkit in server | toolkit in-process | bare in server | bare in-process |",
        "|---|---:|---:|---:|---:|",
    ]

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.1f}" if values else "—"

    for part in (*PARTS, "server CPU µs/request", "requests/s"):
        cells = []
        for app in ("toolkit", "bare"):
            cells.append(cell([r[part] for r in server[app] if part in r]))
            cells.append(f"{local[app][part]:.1f}" if part in local[app] else "—")
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="records", help=f"one of {', '.join(serving.SCENARIOS)} (records)")
    parser.add_argument("--route", default="oip", help=f"one of {', '.join(serving.ROUTES)} (oip)")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per server (3)")
    parser.add_argument("--seconds", type=int, default=6, help="seconds per wrk run (6)")
    parser.add_argument("--requests", type=int, default=3000, help="in-process requests per app, in batches of 200")
    args = parser.parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit(serving.WRK_INSTALL)
    rows = serving.select_rows(serving.parse_args(["--scenarios", args.scenario, "--routes", args.route]))
    row = next(r for r in rows if not r.scenario.log)
    os.environ[serving.KIND_ENV] = row.kind  # the servers inherit both; in_process reads them here
    os.environ[ROUTE_ENV] = row.route
    loop, http = serving.event_loop_and_parser()
    servers = [serving.Server(app, row.kind, module="serving_split") for app in ("toolkit", "bare")]
    figures: dict[str, list[dict[str, float]]] = {"toolkit": [], "bare": []}
    with tempfile.TemporaryDirectory() as tmp, serving.running(servers, loop, http):
        script = serving.lua_script(row, Path(tmp))
        tick = os.sysconf("SC_CLK_TCK")
        for rnd in range(args.rounds):
            for server in servers if rnd % 2 == 0 else servers[::-1]:
                url = server.url(serving.ROUTES[row.route])
                if rnd == 0:
                    serving.run_wrk(wrk, url, script, 1, 1)
                fetch_split(server, reset=True)
                cpu0 = server.cpu_ticks()
                result = serving.run_wrk(wrk, url, script, args.seconds, 1)
                cpu1 = server.cpu_ticks()
                parts = fetch_split(server, reset=False)
                if result["non_2xx_3xx"]:
                    raise RuntimeError(f"{server.name}: {result['non_2xx_3xx']} non-2xx answers")
                parts["server CPU µs/request"] = (cpu1 - cpu0) / tick / max(1, result["requests"]) * 1e6
                parts["requests/s"] = result["requests"] / (result["duration_us"] / 1e6)
                figures[server.app].append(parts)
                print(f"round {rnd + 1} {server.app}: {parts['requests/s']:.0f} req/s", file=sys.stderr)
    local = in_process(row, args.requests)
    print(f"{row.key}: µs per request, {args.rounds} x {args.seconds} s of wrk -c{serving.CONNECTIONS} per server")
    print()
    print("\n".join(table(figures, local)))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
