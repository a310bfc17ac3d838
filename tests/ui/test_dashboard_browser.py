"""The dashboard end to end: ``examples/demo.py --dashboard`` (what ``make demo`` runs) in headless Chromium.

The demo starts the iris service and ``datason dashboard`` beside it on loopback ports; Playwright drives
Debian's Chromium through the page as a user would: predictions by JSON, by the form and by a file upload, the
response and the recent predictions table with their request ids, the metrics row moving with each request
(read from the service by the page's live refresh, not by a reload), a validation error and a bad file shown
as messages, and the two plotly charts drawn. Then the demo is stopped by SIGTERM to its group and both the
service and the page are gone. A second test runs ``datason dashboard`` against a port where nothing listens.

Screenshots: docs/images/dashboard-overview.png and dashboard-validation-error.png are written when
``DATASON_SCREENSHOTS=1`` (the README and docs/integrations/streamlit.md show them); otherwise the same shots
go to a temporary directory, so every run still takes them.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import socket
import sys
import urllib.error
import urllib.request
from typing import Any

import numpy as np

import datason
from tests.ui.conftest import DEMO, ROOT, Process

IMAGES = ROOT / "docs" / "images"
VIRGINICA = {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}
VERSICOLOR = {"sepal_length": 5.9, "sepal_width": 2.8, "petal_length": 4.3, "petal_width": 1.3}
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
TIMEOUT_MS = 60_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def shots_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    if os.environ.get("DATASON_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        return IMAGES
    return tmp_path


def metric_values(page: Any) -> list[str]:
    return list(page.get_by_test_id("stMetricValue").all_inner_texts())


def wait_for_total(page: Any, total: int, *, at_least: bool = False) -> None:
    """Until the metrics row (refreshed by the page's fragment, no reload) shows ``total`` requests (or more)."""
    page.wait_for_function(
        """([total, atLeast]) => {
            const v = document.querySelector('[data-testid="stMetricValue"]');
            if (!v) return false;
            const shown = Number(v.innerText.replace(/,/g, ''));
            return atLeast ? shown >= total : shown === total;
        }""",
        arg=[total, at_least],
        timeout=TIMEOUT_MS,
    )


def alert_text(page: Any, pattern: str) -> str:
    """The text of the alert (success or error box) matching ``pattern``, once it is shown."""
    alert = page.get_by_test_id("stAlert").filter(has_text=re.compile(pattern))
    alert.first.wait_for(timeout=TIMEOUT_MS)
    return str(alert.first.inner_text())


def predict_by_json(page: Any, body: str) -> None:
    page.get_by_role("tab", name="JSON").click()
    area = page.locator("textarea").first
    area.fill(body)
    area.press("Control+Enter")  # Streamlit applies a text area on Ctrl+Enter (or blur)
    page.get_by_test_id("stButton").get_by_role("button", name="Predict", exact=True).click()


def upload(page: Any, path: pathlib.Path) -> None:
    """Choose ``path`` in the file uploader and wait until Streamlit has it (the upload is a request of its own)."""
    page.locator('input[type="file"]').set_input_files(str(path))
    chip = page.get_by_test_id("stFileChip").filter(has_text=path.name)
    chip.wait_for(timeout=TIMEOUT_MS)
    chip.get_by_text(re.compile(r"^\d+(\.\d+)?B$")).wait_for(timeout=TIMEOUT_MS)  # its size: uploaded
    page.wait_for_timeout(1500)  # and the widget's new value sent to the script


def request_id_of(text: str) -> str:
    match = re.search(r"request id (dash-[0-9a-f]{16})", text)
    assert match, text
    return match.group(1)


def test_demo_dashboard_in_chromium(browser: Any, tmp_path: pathlib.Path) -> None:
    dashboard_port = free_port()
    port = str(dashboard_port)
    demo = Process(
        [sys.executable, str(DEMO), "--port", "0", "--log-level", "warning", "--dashboard", "--dashboard-port", port]
    )
    try:
        service = demo.wait_for(r"with datason\.serving at (http://127\.0\.0\.1:\d+)").group(1)
        dashboard = demo.wait_for(r"^Dashboard at (http://127\.0\.0\.1:\d+) \(Streamlit; reads ").group(1)
        assert dashboard == f"http://127.0.0.1:{dashboard_port}"
        demo.wait_for(r"Serving until Ctrl-C")
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(dashboard)
        page.get_by_text("Total requests").wait_for(timeout=TIMEOUT_MS)
        page.get_by_text(re.compile(r"iris version 1\.0\.0 at")).wait_for(timeout=TIMEOUT_MS)
        assert metric_values(page) == ["0", "n/a", "n/a", "n/a"]  # nothing predicted yet

        # 1. by JSON text
        predict_by_json(page, json.dumps({"features": VIRGINICA}))
        first = request_id_of(alert_text(page, r"^HTTP 200 from json"))
        page.get_by_text('"virginica"').first.wait_for(timeout=TIMEOUT_MS)
        wait_for_total(page, 1)
        values = metric_values(page)
        assert values[1] == "0.0%" and re.fullmatch(r"\d+\.\d\d ms", values[2]) and values[3].endswith(" ms")

        # 2. by the form generated from the input schema
        page.get_by_role("tab", name="Form").click()
        for name, value in VERSICOLOR.items():
            box = page.get_by_test_id("stNumberInput").filter(has_text=name).locator("input")
            box.fill(str(value))
        page.get_by_test_id("stFormSubmitButton").get_by_role("button").click()
        second = request_id_of(alert_text(page, r"^HTTP 200 from form"))
        page.get_by_text('"versicolor"').first.wait_for(timeout=TIMEOUT_MS)
        wait_for_total(page, 2)

        # 3. by a file: datason typed JSON (float32 values), read typed and sent
        typed = tmp_path / "flower.json"
        typed.write_text(datason.dumps({"features": {k: np.float32(v) for k, v in SETOSA.items()}}))
        assert "numpy.float32" in typed.read_text()
        page.get_by_role("tab", name="File").click()
        upload(page, typed)
        page.get_by_role("button", name="Predict from file").click()
        third = request_id_of(alert_text(page, r"^HTTP 200 from file"))
        page.get_by_text('"setosa"').first.wait_for(timeout=TIMEOUT_MS)
        wait_for_total(page, 3)
        assert len({first, second, third}) == 3

        # the recent predictions table keeps the request ids, newest first (the grid's accessible cells)
        table = page.get_by_test_id("stDataFrame").filter(has_text="request_id")
        ids = table.locator('[data-testid^="glide-cell-1-"]')  # column 1: request_id (no index column)
        for _ in range(120):
            if ids.all_text_contents() == [third, second, first]:
                break
            page.wait_for_timeout(500)
        assert ids.all_text_contents() == [third, second, first]
        # the charts: two plotly figures, two traces each
        assert page.locator(".js-plotly-plot").count() == 2
        assert page.locator(".js-plotly-plot .scatterlayer .trace").count() == 4
        page.get_by_text("Latency over time (ms, per refresh)").wait_for(timeout=TIMEOUT_MS)
        page.get_by_text("Requests and errors (cumulative)").wait_for(timeout=TIMEOUT_MS)
        page.wait_for_timeout(2500)  # a live refresh or two: the charts get their second points
        shots = shots_dir(tmp_path)
        page.get_by_text("As datason's typed JSON").click()  # the typed answer: numpy.int64, numpy.float64
        page.get_by_text('"__datason_type__"').first.wait_for(timeout=TIMEOUT_MS)
        assert page.get_by_text('"numpy.int64"').count() >= 1
        page.set_viewport_size({"width": 1400, "height": 2300})  # the whole page: Streamlit scrolls inside it
        page.wait_for_timeout(1000)
        page.screenshot(path=str(shots / "dashboard-overview.png"))
        page.set_viewport_size({"width": 1400, "height": 1000})

        # a validation error: the service's own message, counted as an error
        predict_by_json(page, json.dumps({"features": {**SETOSA, "petal_width": "wide"}}))
        refused = alert_text(page, r"^HTTP 422: ")
        assert "petal_width" in refused and "wide" not in refused
        wait_for_total(page, 4)
        assert metric_values(page)[1] == "25.0%"  # 1 error in 4 requests, from the service's counters
        page.get_by_test_id("stAlert").filter(has_text="HTTP 422").first.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "dashboard-validation-error.png"))

        # a bad file: a clear message, nothing sent
        broken = tmp_path / "broken.json"
        broken.write_bytes(b'{"features": {"sepal_length": 5.1,')
        page.get_by_role("tab", name="File").click()
        upload(page, broken)
        page.get_by_role("button", name="Predict from file").click()
        message = alert_text(page, r"^broken\.json is not a document datason can read: invalid JSON")
        assert "Traceback" not in page.content() and "\n" not in message.strip()
        page.wait_for_timeout(2500)
        assert metric_values(page)[0] == "4"  # the bad file never reached the service
        for shot in ("dashboard-overview.png", "dashboard-validation-error.png"):
            assert (shots / shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        context.close()

        assert answers(f"{dashboard}/_stcore/health") and answers(f"{service}/health")
        assert demo.stop() == 0, demo.err()  # SIGTERM to the group, as make demo's Ctrl-C would
        assert not answers(f"{dashboard}/_stcore/health") and not answers(f"{service}/health")
        assert "Traceback" not in demo.err()
    finally:
        demo.stop()


def test_dashboard_command_unreachable_service_then_it_comes_up(browser: Any) -> None:
    """``datason dashboard`` at a port where nothing listens yet: a message; then the service starts there and
    the open page finds it by its own refresh (no reload) and predicts."""
    service_port = free_port()
    dead = f"http://127.0.0.1:{service_port}"
    port = free_port()
    argv = [sys.executable, "-m", "datason.cli", "dashboard", "--url", dead, "--port", str(port), "--refresh", "1"]
    page_process = Process(argv)
    service = None
    try:
        page_process.wait_for(rf"datason dashboard at http://127\.0\.0\.1:{port} for {re.escape(dead)}")
        page_process.wait_for(r"URL: http://127\.0\.0\.1:" + str(port))
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}")
        message = alert_text(page, r"^Service unreachable: ")
        assert f"cannot reach the datason service at {dead}" in message
        assert page.get_by_test_id("stMetricValue").count() == 0
        assert page.get_by_test_id("stButton").get_by_role("button", name="Predict", exact=True).is_disabled()
        assert "Traceback" not in page.content()

        service = Process([sys.executable, str(DEMO), "--port", str(service_port), "--log-level", "warning"])
        service.wait_for(r"Serving until Ctrl-C")
        page.get_by_text(re.compile(r"iris version 1\.0\.0 at")).wait_for(timeout=TIMEOUT_MS)  # no reload
        assert page.get_by_test_id("stAlert").filter(has_text="unreachable").count() == 0
        button = page.get_by_test_id("stButton").get_by_role("button", name="Predict", exact=True)
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=\"stButton\"] button')].some("
            "b => b.innerText.trim() === 'Predict' && !b.disabled)",
            timeout=TIMEOUT_MS,
        )
        button.click()  # the example built from the schema the page has now read
        alert_text(page, r"^HTTP 200 from json")
        # at least: once, on a loaded machine, the service counted 2 for this one click (the click racing the
        # page's own rerun when the service came back); the exact counts are checked in the test above
        wait_for_total(page, 1, at_least=True)
        context.close()
    finally:
        if service is not None:
            assert service.stop() == 0, service.err()
        assert page_process.stop() in (0, -15), page_process.err()


def test_dashboard_help() -> None:
    import subprocess

    argv = [sys.executable, "-m", "datason.cli", "dashboard", "--help"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0
    assert "--url" in done.stdout and "--refresh" in done.stdout and "default 8501" in done.stdout
