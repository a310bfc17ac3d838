"""The payload-shapes benchmark runs end to end (a smoke run of benchmarks/shapes.py --quick; no timing asserted).

Three rows (a time zone, stdlib scalars, NumPy arrays), each in the three comparisons: every row reports
times, a ratio and a verdict, datason's output matches orjson's content, round-trips exactly and auto-decodes
to msgspec's values; ``--output`` rewrites only the block between its markers. Also checks the strict
comparison the fidelity columns rely on, and that orjson's ``default`` writes datason's plain forms.
"""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.util
import pathlib
import re
import subprocess
import sys
import zoneinfo
from typing import Any

import numpy as np
import pytest

import datason
from tests.processes import run_script

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "shapes.py"
ROWS = ("tz_zoneinfo", "stdlib_scalars", "embedding")
NUM = r"[0-9.]+"
ROW = re.compile(
    rf"^\| (?P<row>\w+) \| (?P<peer>[^|]*(?:\\\|[^|]*)*) \| (?P<ds>{NUM}) \| (?P<peer_ms>{NUM}) \| (?P<ratio>{NUM}) "
    r"\| <= (?P<limit>[0-9.]+) \| (?P<result>PASS|MISS \([a-z, ]+\)) \| (?P<floor>[0-9.]*) \| (?P<check>[^|]*)\|",
    re.M,
)


def _module(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench_shapes", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_quick_run_reports_every_comparison_and_writes_its_block(tmp_path: pathlib.Path) -> None:
    doc = tmp_path / "benchmarks.md"
    before = "# Benchmarks\n\nearlier text\n\n<!-- serving:begin -->\nserving\n<!-- serving:end -->\n"
    doc.write_text(before)
    done = run_script(SCRIPT, "--quick", "--only", ",".join(ROWS), "--output", str(doc), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    sections = re.split(r"^### \(([abc])\) ", out, flags=re.M)
    tables = dict(zip(sections[1::2], sections[2::2], strict=True))
    assert sorted(tables) == ["a", "b", "c"], out
    for key, table in tables.items():
        rows = {m["row"]: m for m in ROW.finditer(table)}
        assert sorted(rows) == sorted(ROWS), f"({key}): {table}"
        for name, m in rows.items():
            assert float(m["ds"]) > 0 and float(m["peer_ms"]) > 0, m.group(0)
            assert m["limit"] == ("1.3" if key == "a" else "2"), m.group(0)
            assert m["check"].strip().startswith("yes"), f"({key}) {name}: {m['check']}"
            if key == "c":  # the floor (orjson.loads alone) is timed beside every (c) row
                assert float(m["floor"]) > 0, m.group(0)
    assert re.search(r"^Verdicts: \d+ of 9 PASS\.$", out, re.M), out
    text = doc.read_text()
    assert text.startswith(before)
    assert text.count("<!-- shapes:begin -->") == 1 and text.count("<!-- shapes:end -->") == 1
    block = text.split("<!-- shapes:begin -->", 1)[1]
    assert "## Payload shapes" in block and "--quick --only " + ",".join(ROWS) in block


def test_unknown_row_is_refused() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--only", "nope"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "unknown rows ['nope']" in done.stderr


def test_diff_is_strict_about_types_bits_and_zones(monkeypatch: pytest.MonkeyPatch) -> None:
    shapes = _module(monkeypatch)
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    ts = dt.datetime(2024, 10, 27, 2, 30, tzinfo=paris)
    notes: set[str] = set()
    assert shapes.diff([{"a": 1.5, "t": ts}], [{"a": 1.5, "t": ts}], notes) is None and not notes
    assert "$.a" in shapes.diff({"a": 1}, {"a": 1.0}, notes)  # an int is not a float
    assert shapes.diff(-0.0, 0.0, notes) is not None  # equal numbers, different bits
    assert shapes.diff(np.float32(1), np.float64(1), notes) is not None
    assert shapes.diff(np.zeros(2, "f4"), np.zeros(2, "f8"), notes) is not None
    assert shapes.diff(decimal.Decimal("1.2"), decimal.Decimal("1.20"), notes) is not None
    assert shapes.diff(ts.replace(fold=1), ts, notes) is not None  # the other 02:30 of that night
    fixed = ts.astimezone(dt.timezone(ts.utcoffset()))
    assert shapes.diff(fixed, ts, notes) is not None  # same instant and offset, zone lost
    assert shapes.diff(shapes.Color.RED, shapes.Color.RED, notes) is None
    assert shapes.diff("red", shapes.Color.RED, notes) is not None
    assert shapes.diff([1, 2], [1, 2, 3], notes) == "$: length 3 -> 2"


def test_orjson_default_writes_datasons_plain_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    shapes = _module(monkeypatch)
    api = datason.config.get_api_config()
    values = [
        dt.timedelta(0),
        dt.timedelta(days=1, hours=2, microseconds=5),
        dt.timedelta(seconds=-1),
        dt.timedelta(days=-3, seconds=5),
        dt.timedelta(minutes=61, seconds=0.25),
        decimal.Decimal("-12.30"),
        dt.time(21, 33, 17, 60196),
    ]
    for value in values:
        assert f'"{shapes.default_stdlib(value)}"' == datason.dumps(value, config=api), value
