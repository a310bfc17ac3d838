"""`make demo` works end to end: examples/demo.py serves the iris model and every curl command it prints works.

The demo runs as a real subprocess (``--port 0``, its own session); its printed commands run with the real
``curl`` binary; the process group is then stopped by a signal and must exit 0. examples/roundtrip.py (the
codec showcase the demo used to be) must still run.
"""

from __future__ import annotations

import json
import os
import pathlib
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo.py"
CURL = shutil.which("curl") or "/usr/bin/curl"
CLASSES = ["setosa", "versicolor", "virginica"]
STARTUP_TIMEOUT = 120  # seconds: imports and training on a loaded 2-core machine


class Demo:
    """A running examples/demo.py: its process, the lines it printed so far, and its stderr file."""

    def __init__(self) -> None:
        self.stderr = tempfile.TemporaryFile()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
        }
        self.proc = subprocess.Popen(
            [sys.executable, str(DEMO), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            cwd=ROOT,
            env=env,
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

    def wait_for(self, pattern: str, timeout: float = STARTUP_TIMEOUT) -> str:
        """Collect printed lines until one matches ``pattern``; fail with everything printed if none does."""
        try:
            while True:
                line = self._queue.get(timeout=timeout)
                if line is None:
                    break
                self.lines.append(line)
                if re.search(pattern, line):
                    return line
        except queue.Empty:
            pass
        pytest.fail(f"demo never printed {pattern!r}; stdout:\n" + "\n".join(self.lines) + "\nstderr:\n" + self.err())

    def err(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def stop(self, sig: int) -> int:
        """Signal the demo's process group and wait for it to exit."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            pytest.fail(f"demo did not exit within 30 s of signal {sig}; stderr:\n{self.err()}")

    def rest(self) -> list[str]:
        """Lines printed after the last wait_for (call once the process has exited)."""
        out = []
        while (line := self._queue.get(timeout=10)) is not None:
            out.append(line)
        return out


@pytest.fixture
def demo() -> Iterator[Demo]:
    d = Demo()
    try:
        yield d
    finally:
        if d.proc.poll() is None:
            os.killpg(d.proc.pid, signal.SIGKILL)
            d.proc.wait(timeout=10)


def run_curl(command: str) -> tuple[str, int | None]:
    """Run a printed curl command with the real curl; (body, HTTP status from its -w trailer or None)."""
    argv = shlex.split(command)
    assert argv[0] == "curl"
    done = subprocess.run([CURL, *argv[1:]], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    match = re.search(r"\nHTTP (\d{3})\n?$", done.stdout)
    if match is None:
        return done.stdout, None
    return done.stdout[: match.start()], int(match.group(1))


def sample(families: dict[str, Any], name: str, **labels: str) -> float:
    """The value of the sample ``name`` whose labels include ``labels`` (0 when absent)."""
    for family in families.values():
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def test_demo_serves_and_its_curl_commands_work(demo: Demo) -> None:
    trained = demo.wait_for(r"training accuracy")
    accuracy = float(re.search(r"training accuracy ([0-9.]+)", trained).group(1))  # type: ignore[union-attr]
    assert 0.9 <= accuracy <= 1.0
    assert "version 1.0.0" in trained
    serving = demo.wait_for(r"Serving iris .* at http://")
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)", serving).group(1))  # type: ignore[union-attr]
    assert port != 0  # --port 0 printed the real port
    demo.wait_for(r"Serving until Ctrl-C")
    commands = [line.strip() for line in demo.lines if line.strip().startswith("curl ")]
    assert len(commands) == 4, demo.lines
    assert all(f"http://127.0.0.1:{port}/" in c for c in commands)
    predict_cmd, invalid_cmd, health_cmd, metrics_cmd = commands

    body, status = run_curl(predict_cmd)
    assert status == 200, body
    reply = json.loads(body)
    assert set(reply) >= {"request_id", "prediction", "model_version", "timestamp", "processing_time_ms"}
    assert reply["model_version"] == "1.0.0" and reply["request_id"]
    prediction = reply["prediction"]
    assert prediction["species"] in CLASSES
    probs = prediction["probabilities"]
    assert list(probs) == CLASSES and all(isinstance(p, float) and 0 <= p <= 1 for p in probs.values())
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)
    assert prediction["species"] == max(probs, key=probs.__getitem__)
    assert prediction["class_index"] == CLASSES.index(prediction["species"])  # a NumPy int64, sent as a JSON int
    assert prediction["species"] == "setosa"  # the example is the first flower of the data set, a setosa

    body, status = run_curl(invalid_cmd)
    assert status == 422, body
    error = json.loads(body)
    assert error["status"] == "error" and error["request_id"] and error["timestamp"]
    assert "petal_width" in error["error"]
    assert "wide" not in error["error"]  # errors name the field, never the value

    body, status = run_curl(health_cmd)
    assert status == 200, body
    health = json.loads(body)
    assert health["status"] == "healthy" and health["model_version"] == "1.0.0"
    assert health["total_requests"] == 2  # the prediction and the validation error just made
    assert health["error_count"] == 0  # no server-side failure (the 422 is the client's)

    body, status = run_curl(metrics_cmd)
    assert status is None  # the metrics command prints the Prometheus text only
    families = {f.name: f for f in text_string_to_metric_families(body)}
    total = "ml_prediction_requests_total"
    assert sample(families, total, model_id="iris", status="success") == 1
    assert sample(families, total, model_id="iris", status="error") == 1
    assert sample(families, "ml_prediction_latency_seconds_count", model_id="iris") >= 1

    assert demo.stop(signal.SIGTERM) == 0, demo.err()
    assert "Stopped cleanly." in demo.rest()
    assert "Traceback" not in demo.err()


def test_demo_stops_cleanly_on_ctrl_c(demo: Demo) -> None:
    demo.wait_for(r"Serving until Ctrl-C")
    assert demo.stop(signal.SIGINT) == 0, demo.err()  # what a terminal sends the foreground group on Ctrl-C
    assert "Stopped cleanly." in demo.rest()
    assert "Traceback" not in demo.err()


def test_roundtrip_example_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "roundtrip.py")], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert "round trip exact (types, dtypes, index, time zones): True" in done.stdout
