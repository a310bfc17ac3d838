"""The OIP request-decoding benchmark runs end to end (benchmarks/oip_requests.py --quick; no timing asserted).

Every body gets a row with both contenders' times and their ratio, both decodes agree on every body (the script
refuses to time them otherwise), and ``--output`` writes only the block between its markers.
"""

from __future__ import annotations

import pathlib
import re

from tests.processes import run_script

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "oip_requests.py"
ROW = re.compile(
    r"^\| (?P<label>[^|]+) \| (?P<bytes>\d+) \| (?P<ds>[0-9.]+) \| (?P<bare>[0-9.]+) \| (?P<r>[0-9.]+)x \|$", re.M
)


def test_quick_run_reports_every_body_and_writes_its_block(tmp_path: pathlib.Path) -> None:
    doc = tmp_path / "benchmarks.md"
    before = "# Benchmarks\n\nearlier text\n\n<!-- shapes:begin -->\nshapes\n<!-- shapes:end -->\n"
    doc.write_text(before)
    done = run_script(SCRIPT, "--quick", "--output", str(doc), timeout=120)
    assert done.returncode == 0, done.stderr
    rows = {m["label"]: m for m in ROW.finditer(done.stdout)}
    assert len(rows) == 10, done.stdout
    assert any("not simple" in label for label in rows) and "FP64 [1,4] (iris row)" in rows
    for m in rows.values():
        assert float(m["ds"]) > 0 and float(m["bare"]) > 0 and float(m["r"]) > 0
    assert int(rows["FP64 [1,4] (iris row)"]["bytes"]) == 82
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nearlier text\n")
    assert "<!-- shapes:begin -->\nshapes\n<!-- shapes:end -->" in text  # other blocks untouched
    block = text.split("<!-- oip_requests:begin -->", 1)[1].split("<!-- oip_requests:end -->", 1)[0]
    assert len(ROW.findall(block)) == 10
