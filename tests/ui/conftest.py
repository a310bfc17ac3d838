"""Fixtures shared by the UI tests: the reference service (examples/demo.py) and a headless Chromium.

``reference_service`` is the demo's iris service started as users start it (``examples/demo.py --port 0``, its
own process group, stopped by signalling the group); one per test module. ``browser`` is Debian's Chromium
driven by Playwright (``/usr/bin/chromium``: Playwright's own browser download does not work on these
machines); one per test module.
"""

from __future__ import annotations

import os
import pathlib
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
STARTUP_TIMEOUT = 120.0  # seconds: imports and training on a loaded 2-core machine


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: this checkout's ``src`` first on the path, no telemetry."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH")])),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        **extra,
    }


class Process:
    """A child process in its own process group whose stdout lines are collected; stderr goes to a file."""

    def __init__(self, argv: list[str], *, env: dict[str, str] | None = None) -> None:
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            cwd=ROOT,
            env=env or child_env(),
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = STARTUP_TIMEOUT) -> re.Match[str]:
        """The first printed line matching ``pattern``; fails with everything printed if none comes."""
        try:
            while True:
                line = self._queue.get(timeout=timeout)
                if line is None:
                    break
                self.lines.append(line)
                match = re.search(pattern, line)
                if match:
                    return match
        except queue.Empty:
            pass
        pytest.fail(f"{pattern!r} never printed; stdout:\n" + "\n".join(self.lines) + "\nstderr:\n" + self.err())

    def err(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def stop(self) -> int:
        """SIGTERM to the whole group, SIGKILL after 20 s; the exit status."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                return self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(timeout=10)


class ReferenceService:
    """The running demo service: its base URL and its process."""

    def __init__(self, process: Process, url: str) -> None:
        self.process = process
        self.url = url

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            body: bytes = response.read()
            return body


@pytest.fixture(scope="module")
def reference_service() -> Iterator[ReferenceService]:
    """examples/demo.py on a free loopback port, ready (its curl lines printed) before the tests start."""
    process = Process([sys.executable, str(DEMO), "--port", "0", "--log-level", "warning"])
    try:
        url = process.wait_for(r"with datason\.serving at (http://127\.0\.0\.1:\d+)").group(1)
        process.wait_for(r"Serving until Ctrl-C")
        yield ReferenceService(process, url)
    finally:
        process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's) through Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
