"""`datason serve` as a real process for the shared-state and workers tests: its own process group on a free
127.0.0.1 port, stopped with SIGTERM (then SIGKILL) to the group; requests over a new connection each (so the
kernel spreads them over a server's workers)."""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import subprocess
import sys
import time
from typing import Any

from tests.processes import free_port, stop_group

ROOT = pathlib.Path(__file__).resolve().parents[2]


class Serve:
    def __init__(self, log_dir: pathlib.Path, target: str, *options: str, env: dict[str, str] | None = None) -> None:
        self.target = target
        self.options = list(options)
        self.env = env or {}
        self.log_path = log_dir / f"serve-{id(self)}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> Serve:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATASON_SERVING_", "PROMETHEUS_MULTIPROC"))}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
        env.update(self.env)
        for _ in range(3):  # a probed free port can be taken before uvicorn binds it
            self.port = free_port()
            target = [self.target] if self.target else []  # none: --model options name the models
            cmd = [sys.executable, "-m", "datason.cli", "serve", *target, "--port", str(self.port), *self.options]
            with self.log_path.open("wb") as log:
                self.proc = subprocess.Popen(
                    cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            if self._wait_ready():
                return self
            if "address already in use" not in self.log().lower():
                break
        self.stop()
        raise AssertionError(f"datason serve did not start:\n{self.log()[-3000:]}")

    def wait_workers(self, n: int, timeout: float = 60.0) -> None:
        """Until ``n`` workers have finished their start-up (uvicorn logs one line each)."""
        deadline = time.monotonic() + timeout
        while self.log().count("Application startup complete") < n:
            assert time.monotonic() < deadline, f"{n} workers did not start:\n{self.log()[-3000:]}"
            time.sleep(0.1)

    def _wait_ready(self, timeout: float = 60.0) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.request("GET", "/ready")[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            sent = {"Content-Type": "application/json", **(headers or {})} if body is not None else dict(headers or {})
            conn.request(method, path, body=body, headers=sent)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def predict(self, features: Any, **headers: str) -> tuple[int, Any]:
        status, _, body = self.request("POST", "/predict", json.dumps({"features": features}).encode(), headers)
        return status, json.loads(body)

    def health(self) -> dict[str, Any]:
        status, _, body = self.request("GET", "/health")
        assert status == 200
        return dict(json.loads(body))

    def metrics(self) -> str:
        status, _, body = self.request("GET", "/metrics")
        assert status == 200
        return body.decode()

    def stop(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        stop_group(proc, timeout=30)
        return proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_events(self, event: str) -> list[dict[str, Any]]:
        out = []
        for line in self.log().splitlines():
            if line.startswith("{") and f'"event": "{event}"' in line:
                out.append(json.loads(line))
        return out
