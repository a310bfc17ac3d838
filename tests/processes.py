"""Child processes the tests start: a free loopback port for a server, stopping a server's process group, and
running one of the repository's scripts. Standard library only: the interop virtualenvs import it too."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_group(proc: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    """Stop a server started in a process group of its own: SIGTERM to the group, SIGKILL after ``timeout`` s."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass


def run_script(script: pathlib.Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run one of the repository's scripts (a benchmark) with this interpreter from the repository root, with
    ``src`` first on PYTHONPATH; stdout and stderr captured as text, the exit code left to the caller."""
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    cmd = [sys.executable, str(script), *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env={**os.environ, "PYTHONPATH": path}
    )
