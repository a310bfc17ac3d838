"""The generated sections of docs/benchmarks.md: each benchmark script owns the block between its markers.

``<!-- NAME:begin -->`` ... ``<!-- NAME:end -->``: a script rewrites its own block in place (or appends it) and
leaves the rest of the file alone; ``run.py``, which rewrites the file, keeps the other scripts' blocks.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
from pathlib import Path

__all__ = ["machine_line", "markers", "pattern", "write_block"]


def machine_line() -> str:
    """The blocks' machine line: uname, CPU model and cores."""
    cpu = "unknown"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        )
    u = platform.uname()
    return f"- Machine: `{u.system} {u.release} {u.machine}`; CPU {cpu}; {os.cpu_count()} cores"


def markers(name: str) -> tuple[str, str]:
    """The begin and end markers of block ``name``."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def pattern(name: str) -> re.Pattern[str]:
    """Matches block ``name``, markers included, and the newline after it if any."""
    begin, end = markers(name)
    return re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)


def write_block(path: Path, name: str, lines: list[str]) -> None:
    """Replace block ``name`` in ``path`` with ``lines``, or append it (creating the file)."""
    begin, end = markers(name)
    block = "\n".join([begin, *lines, end])
    old = path.read_text() if path.exists() else ""
    found = pattern(name)
    if found.search(old):
        new = found.sub(lambda _: block + "\n", old, count=1)
    else:
        new = (old.rstrip() + "\n\n" if old.strip() else "") + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new.rstrip() + "\n")
