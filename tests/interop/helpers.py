"""Helpers shared by the interop groups: exact array/frame comparison, strict JSON, a `datason serve` process.

Only NumPy, pandas and the standard library here: every interop virtualenv has them.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import pandas as pd

from tests.processes import free_port, stop_group

ROOT = pathlib.Path(__file__).resolve().parents[2]


def strict_json(body: bytes | str) -> Any:
    """Parse as RFC 8259 JSON: bare NaN/Infinity tokens fail the test."""

    def reject(token: str) -> Any:
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(body, parse_constant=reject)


def assert_array_exact(got: Any, want: np.ndarray) -> None:
    """Same type, dtype, shape and bits (NaN payloads and -0.0 included); object arrays element by element."""
    assert isinstance(got, np.ndarray), f"{type(got).__name__} is not an ndarray"
    assert got.dtype == want.dtype, f"dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    if want.dtype == np.object_:
        for g, w in zip(got.ravel().tolist(), want.ravel().tolist(), strict=True):
            assert type(g) is type(w) and g == w, f"{g!r} != {w!r}"
    else:
        assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes(), f"{got!r} != {want!r}"


def assert_frame_exact(got: Any, want: pd.DataFrame) -> None:
    """Same columns, dtypes, index (values, dtype and name) and cells."""
    assert isinstance(got, pd.DataFrame), f"{type(got).__name__} is not a DataFrame"
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_dtype=True, check_index_type=True)
    assert got.dtypes.to_dict() == want.dtypes.to_dict()


class Server:
    """One `datason serve MODULE:ATTR` process, as users start it: the venv's `datason` script, its own process
    group, a free loopback port; stopped by signalling the whole group."""

    def __init__(
        self, target: str, model_id: str, *options: str, log_dir: pathlib.Path, script: pathlib.Path | None = None
    ) -> None:
        # The `datason` script of this interpreter's virtualenv unless told otherwise (the seldon group serves
        # from .venv-frameworks: seldon-core pins jsonschema<4, datason[serving] needs >=4.20).
        self.script = script or pathlib.Path(sys.executable).with_name("datason")
        self.target = target
        self.model_id = model_id
        self.options = list(options)
        self.log_path = log_dir / f"{model_id}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.port = 0

    def start(self) -> Server:
        script = self.script
        assert script.exists(), f"{script} is missing (make the virtualenv it belongs to)"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATASON_SERVING_")}
        for _ in range(3):  # a probed free port can be taken before uvicorn binds it: try another
            self.port = free_port()
            cmd = [str(script), "serve", self.target, "--host", "127.0.0.1", "--port", str(self.port)]
            cmd += ["--model-id", self.model_id, *self.options]
            with self.log_path.open("wb") as log:
                self.proc = subprocess.Popen(
                    cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            self.url = f"http://127.0.0.1:{self.port}"
            if self._wait_ready():
                return self
            if "address already in use" not in self.log().lower():
                break
        self.stop()
        raise AssertionError(f"datason serve {self.target} did not start:\n{self.log()[-3000:]}")

    def _wait_ready(self, timeout: float = 60.0) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        stop_group(self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """POST with urllib: (status, lower-cased headers, body), error statuses included."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    request.add_header("Content-Type", (headers or {}).get("Content-Type", "application/json"))
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
