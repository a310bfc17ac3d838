"""The benchmark harness runs end to end (a smoke run: it reports, it never asserts timings)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_quick_benchmark_run_reports_every_section() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--skip-old"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = result.stdout
    for section in ("## Targets", "### encode", "### decode", "### round trip", "## Import time"):
        assert section in out
    assert "unavailable" not in out  # every datason contender ran
    new_rows = [line for line in out.splitlines() if line.startswith("| **datason")]
    assert new_rows and all("**no**" not in row for row in new_rows)  # decodes gave the input back
