"""A real ``redis-server`` (the Debian package, /usr/bin/redis-server) on a free 127.0.0.1 port, for the
shared-state tests: no persistence (``--save ''``, ``--appendonly no``), its own process group, stopped by
SIGTERM then SIGKILL. ``stop()`` and ``start()`` again on the same port stand for Redis going away and coming
back. Standard library only: the interop virtualenvs import it too.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

from tests.processes import free_port, stop_group

REDIS_SERVER = "/usr/bin/redis-server"


class RedisServer:
    """``redis-server`` on 127.0.0.1:``port``; ``url`` is what ``ServingConfig.redis_url`` takes."""

    def __init__(self, port: int | None = None) -> None:
        assert shutil.which(REDIS_SERVER), f"{REDIS_SERVER} is missing: apt-get install redis-server (make unit does)"
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="dsredis-")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        cmd = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        cmd += ["--dir", self.dir, "--protected-mode", "yes"]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=self.dir
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"redis-server exited with {self.proc.returncode} on port {self.port}")
            if self.command("PING") == "+PONG":
                return self
            time.sleep(0.05)
        self.stop()
        raise AssertionError("redis-server did not answer PING")

    def command(self, *words: str) -> str | None:
        """One inline command over a raw socket; the first line of the answer, or None if nobody answers."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall((" ".join(words) + "\r\n").encode())
                return s.recv(4096).split(b"\r\n", 1)[0].decode()
        except OSError:
            return None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        stop_group(proc, timeout=10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def running_redis() -> Iterator[RedisServer]:
    """A started ``RedisServer`` for a fixture to yield from; closed (stopped, its directory removed) after."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()
