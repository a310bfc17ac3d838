"""The OIP codec benchmark runs end to end (benchmarks/protocols.py --quick --datason-only; no timing asserted).

MLServer and kserve need their own virtualenvs (``make bench-protocols`` runs them); this smoke test runs the
datason part only, checks that every datason row gave its input back, that the 1 GB/s targets have a verdict,
and that ``--output`` rewrites only the block between its markers.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
import sys
from typing import Any

import numpy as np
import pytest

from tests.processes import run_script

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "protocols.py"
DATASON_ROW = re.compile(r"^\| (?P<case>[^|]+?) \| datason `protocols\.oip` \|(?P<rest>.*)\|$", re.M)


def _module(monkeypatch: pytest.MonkeyPatch, name: str, path: pathlib.Path) -> Any:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_quick_datason_only_run_reports_exact_rows_and_targets(tmp_path: pathlib.Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nearlier text\n\n<!-- serving:begin -->\nserving\n<!-- serving:end -->\n")
    done = run_script(SCRIPT, "--quick", "--rounds", "1", "--datason-only", "--output", str(doc), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    results = out.split("### Results", 1)[1].split("\n### ", 1)[0]
    rows = {m["case"]: m["rest"] for m in DATASON_ROW.finditer(results)}
    assert len(rows) == 4, out  # tensor JSON, tensor binary, binary response, frame
    for case, rest in rows.items():
        cells = [c.strip() for c in rest.split("|")]
        assert cells[-1] == "yes", f"{case}: {cells[-1]}"  # exact
        assert all(re.fullmatch(r"[0-9.]+ \([0-9.]+\)", c) for c in cells[1:3]), cells  # encode, decode ms
    targets = re.findall(
        r"^\| datason binary (request|response), `\w+` [^|]*\| ([^|]*) \| >= 1 GB/s \| (\w+) \|$", out, re.M
    )
    assert len(targets) == 4, out
    for _, measured, verdict in targets:
        assert re.match(r"[0-9.]+ GB/s", measured) and verdict in ("PASS", "MISS")
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nearlier text\n\n<!-- serving:begin -->\nserving\n<!-- serving:end -->\n")
    assert text.count("<!-- protocols:begin -->") == 1 and text.count("<!-- protocols:end -->") == 1
    assert "## Open Inference Protocol codecs" in text.split("<!-- protocols:begin -->", 1)[1]


def test_write_block_replaces_its_section_in_place(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    protocols = _module(monkeypatch, "bench_protocols", SCRIPT)
    doc = tmp_path / "benchmarks.md"
    protocols.write_block(doc, ["## OIP", "first"])  # creates the file
    doc.write_text(doc.read_text() + "\n## After\n")
    protocols.write_block(doc, ["## OIP", "second"])
    assert doc.read_text() == "<!-- protocols:begin -->\n## OIP\nsecond\n<!-- protocols:end -->\n\n## After\n"


def test_describe_tensor_sees_bits_nan_positions_dtype_and_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    pw = _module(monkeypatch, "protocols_worker", ROOT / "benchmarks" / "protocols_worker.py")
    want = pw.build_special()
    assert pw.describe_tensor(want.copy(), want) == {"exact": True, "lost": ""}
    inf_to_nan = want.copy()
    inf_to_nan[0, 1] = np.nan
    assert "NaN positions differ" in pw.describe_tensor(inf_to_nan, want)["lost"]
    signless = want.copy()
    signless[0, 3] = 0.0  # -0.0 -> 0.0: equal as numbers, not as bits
    assert pw.describe_tensor(signless, want)["lost"] == "bits differ at 1 of 8 elements"
    assert "dtype float32 -> float64" in pw.describe_tensor(want.astype(np.float64), want)["lost"]
    assert "shape (2, 4) -> (8,)" in pw.describe_tensor(want.reshape(-1), want)["lost"]
    assert "not an ndarray" in pw.describe_tensor(want.tolist(), want)["lost"]
