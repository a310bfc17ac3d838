"""The serving load benchmark runs end to end (a smoke run of benchmarks/serving.py --quick; no timing asserted).

It needs the ``wrk`` binary: without it this test fails (not skips) and says how to install it.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "serving.py"
ROW = re.compile(
    r"^\| (?P<label>[^|]+?) \| (?P<rps>[0-9.]+) \| (?P<p50>[0-9.]+) \| (?P<p99>[0-9.]+) \| (?P<cpu>[0-9.]+) "
    r"\| (?P<non2xx>\d+) \| (?P<errors>\d+/\d+/\d+/\d+) \| (?P<wrk>\d+) / (?P<server>\d+) \|$",
    re.M,
)


def test_quick_serving_benchmark_reports_both_servers(tmp_path: pathlib.Path) -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed: run `apt-get install -y wrk` (as root) or `make wrk`")
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nearlier text\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--output", str(doc)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "both servers answer 200 with the same prediction" in done.stderr
    rows = {m["label"]: m for m in ROW.finditer(out)}
    assert set(rows) == {"datason.serving `create_app`", "bare Starlette + `json`"}, out
    for label, row in rows.items():
        rps, p50, p99, cpu = (float(row[k]) for k in ("rps", "p50", "p99", "cpu"))
        assert rps > 0 and p50 > 0 and p99 >= p50 and cpu > 0, label
        assert int(row["non2xx"]) == 0, f"{label} answered non-2xx under load"
        assert row["errors"] == "0/0/0/0", f"{label} had socket errors (connect/read/write/timeout)"
        completed, counted = int(row["wrk"]), int(row["server"])
        assert completed > 0
        assert completed <= counted <= completed + 64, f"{label}: wrk got {completed}, server counted {counted}"
    assert re.search(r"\| toolkit: zero 5xx under 64 connections \| 0 non-2xx \(wrk\), 0 5xx", out), out
    assert re.search(r"\| toolkit throughput overhead vs bare [^|]*\| -?[0-9.]+% \(toolkit/bare [0-9.]+x", out)
    # --output put the section between its markers and kept what was there
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nearlier text\n")
    assert text.count("<!-- serving:begin -->") == 1 and text.count("<!-- serving:end -->") == 1
    assert "## Serving: datason.serving vs a bare Starlette endpoint" in text


def _serving_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    spec = importlib.util.spec_from_file_location("bench_serving", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_write_block_replaces_its_section_in_place(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serving = _serving_module(monkeypatch)
    doc = tmp_path / "benchmarks.md"
    serving.write_block(doc, ["## Serving", "first"])  # creates the file
    doc.write_text(doc.read_text() + "\n## After\n")
    serving.write_block(doc, ["## Serving", "second"])
    text = doc.read_text()
    assert text == "<!-- serving:begin -->\n## Serving\nsecond\n<!-- serving:end -->\n\n## After\n"


def test_run_py_output_keeps_the_serving_section(tmp_path: pathlib.Path) -> None:
    doc = tmp_path / "benchmarks.md"
    block = "<!-- serving:begin -->\n## Serving\nkept figures\n<!-- serving:end -->\n"
    doc.write_text("# Benchmarks\n\nstale report\n\n" + block)
    cmd = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--skip-old", "--workload", "A"]
    subprocess.run([*cmd, "--rounds", "1", "--output", str(doc)], capture_output=True, timeout=300, check=True)
    text = doc.read_text()
    assert "stale report" not in text and "## Workload A:" in text  # rewritten from scratch...
    assert text.endswith("\n" + block) and text.count("<!-- serving:begin -->") == 1  # ...but the section is kept
