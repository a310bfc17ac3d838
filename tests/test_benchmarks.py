"""The benchmark harness runs end to end (a smoke run: it reports, it never asserts timings)."""

from __future__ import annotations

import pathlib
import re
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
    for workload in ("A", "B", "C"):
        assert f"## Workload {workload}:" in out
        assert f"| {workload}: datason" in out  # its targets are in the Targets table
    assert "### Peak memory while encoding" in out
    assert "unavailable" not in out  # every datason contender ran
    targets = out.split("## Targets", 1)[1].split("\n## ", 1)[0]
    unmeasured = [line for line in targets.splitlines() if "not measured" in line]
    assert all("0.13" in line for line in unmeasured)  # only the targets vs skipped datason 0.13 lack numbers
    new_rows = [line for line in out.splitlines() if line.startswith("| **datason")]
    assert new_rows and all(
        "**no**" not in row and "fails" not in row for row in new_rows
    )  # decodes gave the input back
    decode_rows = [row for row in new_rows if row.rstrip().endswith("| yes |")]
    assert len(decode_rows) >= 8  # decodes and round trips, each checked: A 2, B 4, C 2
    assert re.search(r"\| B: datason compact `dumps` at least 1 GB/s[^|]*\| [0-9.]+ GB/s", out)
