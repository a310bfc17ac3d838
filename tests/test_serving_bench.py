"""The serving load benchmark runs end to end (a smoke run of benchmarks/serving.py --quick; no timing asserted):
three rows (trivial async on /predict, 50 records on OIP, the request-log row), both apps, zero errors or losses.

It needs the ``wrk`` binary: without it this test fails (not skips) and says how to install it.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
import shutil
import subprocess
import sys
from typing import Any

import pytest

from tests.processes import run_script

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "serving.py"
ROW = re.compile(
    r"^\| (?P<scenario>[^|]+?) \| (?P<route>[a-z0-9_]+) `(?P<path>[^`]+)` \| (?P<t_rps>[0-9.]+) \| (?P<b_rps>[0-9.]+) "
    r"\| (?P<ratio>[0-9.]+) \([0-9., ]+\) \| (?P<target>[^|]+?) \| (?P<result>PASS|MISS \([a-z, ]+\)|—) "
    r"\| (?P<t_p50>[0-9.]+) / (?P<t_p99>[0-9.]+) \| (?P<b_p50>[0-9.]+) / (?P<b_p99>[0-9.]+) "
    r"\| (?P<non2xx>\d+) / (?P<x5xx>\d+) \| (?P<t_lost>\d+) / (?P<b_lost>\d+) "
    r"\| (?P<t_cpu>[0-9.]+) / (?P<b_cpu>[0-9.]+) \| (?P<t_in>[0-9.]+) / (?P<b_in>[0-9.]+) \|$",
    re.M,
)
RUN = re.compile(
    r"^\| (?P<round>\d+) \| (?P<row>[a-z]+/[a-z0-9_]+) \| (?P<app>toolkit|bare) \| (?P<requests>\d+) \| [0-9.]+ "
    r"\| (?P<rps>[0-9.]+) \| (?P<p50>[0-9.]+) \| (?P<p99>[0-9.]+) \| (?P<non2xx>\d+) \| (?P<x5xx>\d+|—) "
    r"\| (?P<errors>\d+) \| (?P<counted>\d+) \(\+-?\d+\) \| (?P<cpu>[0-9.]+) \| [0-9.]+ \|$",
    re.M,
)


def test_quick_serving_benchmark_reports_every_row(tmp_path: pathlib.Path) -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed: run `apt-get install -y wrk` (as root) or `make wrk`")
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nearlier text\n")
    done = run_script(SCRIPT, "--quick", "--output", str(doc), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "both servers answer 200 with the same prediction" in done.stderr
    # the quick rows: trivial async on /predict, 50 records on OIP (tensors), the request-log row
    rows = {(m["scenario"], m["route"]): m for m in ROW.finditer(out)}
    assert set(rows) == {
        ("trivial async", "datason"),
        ("50-record NumPy response", "oip"),
        ("trivial async, request log on", "datason"),
    }, out
    for key, row in rows.items():
        for app in ("t", "b"):
            rps, p50, p99, cpu, direct = (float(row[f"{app}_{k}"]) for k in ("rps", "p50", "p99", "cpu", "in"))
            assert rps > 0 and p50 > 0 and p99 >= p50 and cpu > 0 and direct > 0, (key, app)
        assert float(row["ratio"]) > 0, key
        assert int(row["non2xx"]) == 0 and int(row["x5xx"]) == 0, f"{key}: the toolkit answered non-2xx/5xx"
        assert row["t_lost"] == "0" and row["b_lost"] == "0", f"{key}: requests lost"
    assert rows[("trivial async", "datason")]["target"] == ">= 0.75"
    assert rows[("50-record NumPy response", "oip")]["target"] == ">= 0.85"
    assert rows[("trivial async, request log on", "datason")]["result"] == "—"
    runs = list(RUN.finditer(out))
    assert len(runs) == 6, out  # 3 rows x 2 apps x 1 round
    for run in runs:
        assert run["errors"] == "0", f"{run['row']} {run['app']} had socket errors"
        assert run["non2xx"] == "0" and run["x5xx"] in ("0", "—")
        completed, counted = int(run["requests"]), int(run["counted"])
        assert 0 < completed <= counted <= completed + 64, f"{run['row']} {run['app']}: {completed} vs {counted}"
    logged = re.search(r"holds (\d+) lines for the (\d+) requests it served", out)
    assert logged and logged[1] == logged[2] and int(logged[1]) > 0, out  # one INFO line per request
    assert re.search(r"Rows with a target: \d of 2 PASS\.", out), out
    # --output put the section between its markers and kept what was there
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nearlier text\n")
    assert text.count("<!-- serving:begin -->") == 1 and text.count("<!-- serving:end -->") == 1
    assert "## Serving: datason.serving's request pipeline vs a bare Starlette + orjson endpoint" in text


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


SPLIT_ROW = re.compile(r"^\| (?P<part>[a-zA-Z/µ ]+?) \| (?P<cells>[^\n]+) \|$", re.M)


def test_split_benchmark_times_each_part_in_the_server_and_in_process() -> None:
    """benchmarks/serving_split.py (one short round): every part of both apps timed in the server and in-process;
    the toolkit's parse and render lie inside its whole call, and the sends happen only in the server."""
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed: run `apt-get install -y wrk` (as root) or `make wrk`")
    split = ROOT / "benchmarks" / "serving_split.py"
    done = run_script(split, "--rounds", "1", "--seconds", "1", "--requests", "400", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("records/oip: µs per request"), done.stdout
    cells = {m["part"]: m["cells"].split(" | ") for m in SPLIT_ROW.finditer(done.stdout) if m["part"] != "part"}
    assert set(cells) >= {"app", "parse", "render", "send start", "send body", "app minus sends", "requests/s"}
    app = [float(x) for x in cells["app"]]  # toolkit server, toolkit in-process, bare server, bare in-process
    assert all(x > 0 for x in app), cells
    for part in ("parse", "render"):
        server, local = float(cells[part][0]), float(cells[part][1])
        assert 0 < server < app[0] and 0 < local < app[1], (part, cells)
        assert cells[part][2:] == ["—", "—"], cells  # the bare app has no adapter
    assert float(cells["requests/s"][0]) > 0 and float(cells["requests/s"][2]) > 0, cells
