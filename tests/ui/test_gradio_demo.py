"""The Gradio demo end to end: the reference service, ``datason gradio`` as users start it, real clients.

The reference service (examples/demo.py) runs in its own process group; ``datason gradio --url ... --port 0``
in another, on 127.0.0.1, its proxy variables pointing at a trap that records any connection (so a call to
the internet at start-up or while answering would be seen, not hang); ``NO_PROXY`` keeps loopback direct.
``gradio_client`` calls the page's endpoints (form, JSON, file, validation errors); headless Chromium (Debian's,
through Playwright, every non-loopback request refused and recorded) fills the form and sees the prediction,
the plot and the table. examples/gradio_demo.py and the docs page's python blocks run against the same
service. Every process is stopped by signalling its group.
"""

from __future__ import annotations

import json
import pathlib
import re
import socket
import sys
import threading
import types
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import datason

from .conftest import ROOT, Process, ReferenceService, child_env

gradio_client = pytest.importorskip("gradio_client")  # the `dev` extra installs it; never skipped in `make unit`
from gradio_client.exceptions import AppError  # noqa: E402

DATASON = pathlib.Path(sys.executable).with_name("datason")  # the console script, as users run it
EXAMPLE_SCRIPT = ROOT / "examples" / "gradio_demo.py"
DOCS = ROOT / "docs" / "integrations" / "gradio.md"
READY = r"Gradio demo of \S+ at (http://127\.0\.0\.1:\d+/?)"
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VIRGINICA = {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}
FIELDS = ("sepal_length", "sepal_width", "petal_length", "petal_width")


class Trap:
    """A loopback listener standing in for an HTTP proxy: records every connection, answers none."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.seen: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.seen.append(conn.recv(200))
                except OSError:
                    self.seen.append(b"")

    def env(self) -> dict[str, str]:
        names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
        return {**dict.fromkeys(names, self.url), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

    def close(self) -> None:
        self.sock.close()


class Page:
    """A running Gradio demo: its URL, its process, the trap its proxy variables point at."""

    def __init__(self, process: Process, url: str, trap: Trap) -> None:
        self.process, self.url, self.trap = process, url, trap


def start_page(argv: list[str], trap: Trap) -> Page:
    process = Process(argv, env=child_env(**trap.env()))
    try:
        url = process.wait_for(READY).group(1)
    except BaseException:
        process.stop()
        raise
    return Page(process, url, trap)


@pytest.fixture(scope="module")
def trap() -> Iterator[Trap]:
    trap = Trap()
    yield trap
    trap.close()


@pytest.fixture(scope="module")
def page(reference_service: ReferenceService, trap: Trap) -> Iterator[Page]:
    """``datason gradio --url <service> --port 0``, ready (its URL printed once it answers)."""
    argv = [str(DATASON), "gradio", "--url", reference_service.url, "--port", "0", "--example", json.dumps(SETOSA)]
    page = start_page(argv, trap)
    yield page
    page.process.stop()


@pytest.fixture(scope="module")
def client(page: Page) -> Any:
    return gradio_client.Client(page.url, verbose=False)


def service_typed(reference_service: ReferenceService, features: dict[str, float]) -> Any:
    """The service's own typed answer, asked for directly."""
    request = urllib.request.Request(
        reference_service.url + "/predict",
        data=json.dumps({"features": features}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/vnd.datason+json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return datason.loads(response.read())


def check_answer(result: Any, species: str, reference_service: ReferenceService, features: dict[str, float]) -> None:
    """The five outputs of a prediction: summary, plot, table, response, typed response."""
    summary, plot, table, response, typed = result
    assert summary.startswith(f"**{species}** · request `gradio-") and "model version 1.0.0" in summary
    expected = service_typed(reference_service, features)["prediction"]
    classes = list(expected["probabilities"])
    assert classes == ["setosa", "versicolor", "virginica"]
    # the typed wire form: np.int64 index and np.float64 probabilities, equal to the service's own answer
    back = datason.deserialize(typed)
    assert type(back["prediction"]["class_index"]) is np.int64 and back["prediction"]["class_index"] == classes.index(
        species
    )
    probabilities = back["prediction"]["probabilities"]
    assert all(type(p) is np.float64 for p in probabilities.values())
    assert probabilities == expected["probabilities"]
    assert back["request_id"] == response["request_id"] and summary.count(response["request_id"]) == 1
    # the readable response: plain numbers, same values
    assert response["prediction"] == {
        "species": species,
        "class_index": classes.index(species),
        "probabilities": {k: float(v) for k, v in expected["probabilities"].items()},
    }
    # the plot: one bar per class
    assert plot["mark"] == "bar" and plot["columns"] == ["class", "probability"]
    assert [row[0] for row in plot["data"]] == classes
    assert [row[1] for row in plot["data"]] == pytest.approx([float(p) for p in probabilities.values()], abs=1e-9)
    # the table: dtypes in the headers, exact values
    assert table["headers"] == ["class (str)", "probability (float64)"]
    assert table["data"] == [[c, float(p)] for c, p in probabilities.items()]
    assert max(probabilities, key=probabilities.__getitem__) == species


# --- gradio_client --------------------------------------------------------------------------------------------


def test_endpoints_are_named(client: Any) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/predict_form", "/predict_json", "/predict_file"}
    form = [p["label"] for p in endpoints["/predict_form"]["parameters"]]
    assert form == list(FIELDS)  # the form is the service's schema, in its order
    values = {c["props"].get("label"): c["props"].get("value") for c in client.config["components"]}
    assert {name: values[name] for name in FIELDS} == SETOSA  # --example filled the form
    assert json.loads(values["features (JSON)"]) == SETOSA  # and the JSON box


def test_form_prediction(client: Any, reference_service: ReferenceService) -> None:
    result = client.predict(*VIRGINICA.values(), api_name="/predict_form")
    check_answer(result, "virginica", reference_service, VIRGINICA)


def test_json_prediction_plain_typed_and_whole_body(client: Any, reference_service: ReferenceService) -> None:
    check_answer(client.predict(json.dumps(SETOSA), api_name="/predict_json"), "setosa", reference_service, SETOSA)
    typed = datason.dumps({k: np.float32(v) for k, v in VIRGINICA.items()})  # typed JSON is read by datason
    assert "numpy.float32" in typed
    result = client.predict(typed, api_name="/predict_json")
    # float32 values go out with float32's own shortest digits (6.7, not 6.699999809265137): the same answer
    check_answer(result, "virginica", reference_service, VIRGINICA)
    body = json.dumps({"features": SETOSA})
    check_answer(client.predict(body, api_name="/predict_json"), "setosa", reference_service, SETOSA)


def test_file_prediction(client: Any, reference_service: ReferenceService, tmp_path: pathlib.Path) -> None:
    flower = tmp_path / "flower.json"
    flower.write_text(datason.dumps({"features": {k: np.float64(v) for k, v in SETOSA.items()}}))
    result = client.predict(gradio_client.handle_file(str(flower)), api_name="/predict_file")
    check_answer(result, "setosa", reference_service, SETOSA)
    broken = tmp_path / "broken.json"
    broken.write_text('{"sepal_length": 5.1, ')
    with pytest.raises(AppError) as caught:
        client.predict(gradio_client.handle_file(str(broken)), api_name="/predict_file")
    assert str(caught.value) == "broken.json: invalid JSON: expected a string key at byte 22 at $"


def test_errors_are_messages(client: Any) -> None:
    cases = [
        (
            (json.dumps({**SETOSA, "petal_width": "wide"}),),
            "/predict_json",
            'the service answered 422: does not match the schema (type="number") at $.features.petal_width',
        ),
        (
            (5.1, 3.5, 1.4, None),
            "/predict_form",
            "the service answered 422: required property is missing at $.features.petal_width",
        ),
        (
            (5.1, 3.5, 1.4, 99.0),
            "/predict_form",
            "the service answered 422: does not match the schema (maximum=30) at $.features.petal_width",
        ),
        (
            ('{"sepal_length": 5.1,',),
            "/predict_json",
            "features JSON: invalid JSON: expected a string key at byte 21 at $",
        ),
        (
            (json.dumps({**SETOSA, "extra": 1}),),
            "/predict_json",
            "the service answered 422: property is not allowed by the schema at $.features.extra",
        ),
    ]
    for args, api_name, message in cases:
        with pytest.raises(AppError) as caught:
            client.predict(*args, api_name=api_name)
        assert str(caught.value) == message
        assert "Traceback" not in str(caught.value)


def test_no_connection_leaves_the_machine(client: Any, page: Page) -> None:
    client.predict(*SETOSA.values(), api_name="/predict_form")
    assert page.trap.seen == []  # nothing went through the proxy variables: no analytics, no version check


def test_form_from_a_pydantic_schema() -> None:
    """Enums of numbers, optional fields and a list (a JSON box) from a pydantic schema, in the demo's form."""
    from typing import Literal

    import pydantic

    from datason.integrations.gradio_demo import build_demo
    from datason.serving import ServingConfig, create_app

    from .test_service_client import InProcessService

    class Order(pydantic.BaseModel):
        size: Literal[1, 2, 3] = 2
        sauce: Literal["red", "green"] | None = None
        extras: list[str] = pydantic.Field(default_factory=list, description="toppings")
        count: int | None = pydantic.Field(default=None, ge=1)

    service = InProcessService(
        create_app(lambda f: f.model_dump(), config=ServingConfig(model_id="order", model_version="2"), schema=Order)
    )
    demo = build_demo(service.url, probabilities=None)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False)
    try:
        client = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False)
        components = {c["props"].get("label"): c for c in client.config["components"]}
        assert components["size"]["type"] == "dropdown" and components["size"]["props"]["value"] == 2
        assert [c[1] for c in components["size"]["props"]["choices"]] == [1, 2, 3]  # numbers, not their text
        assert components["sauce"]["type"] == "dropdown" and components["count"]["type"] == "number"
        assert components["extras (JSON)"]["props"]["info"] == "toppings"
        assert json.loads(components["features (JSON)"]["props"]["value"]) == {
            "size": 2,
            "sauce": None,
            "extras": None,
            "count": None,
        }
        summary, _, _, response, typed = client.predict(3, "green", '["cheese"]', 2.0, api_name="/predict_form")
        assert summary.startswith("request `gradio-") and "model version 2" in summary
        assert response["prediction"] == {"size": 3, "sauce": "green", "extras": ["cheese"], "count": 2}
        assert datason.deserialize(typed)["prediction"]["count"] == 2
        _, _, _, response, _ = client.predict(1, None, "", None, api_name="/predict_form")  # empty: defaults
        assert response["prediction"] == {"size": 1, "sauce": None, "extras": [], "count": None}
        with pytest.raises(AppError) as caught:
            client.predict(1, None, '["cheese",', None, api_name="/predict_form")
        assert str(caught.value) == "extras: invalid JSON: unexpected end of input at byte 10 at $[1]"
        with pytest.raises(AppError) as caught:
            client.predict(1, None, "", 0.0, api_name="/predict_form")
        assert str(caught.value).startswith("the service answered 422: ") and "$.features.count" in str(caught.value)
    finally:
        demo.close()
        service.stop()


# --- unreachable service ----------------------------------------------------------------------------------------


def test_unreachable_service(reference_service: ReferenceService, trap: Trap) -> None:
    """A page whose service went away answers with a message naming it; the CLI refuses a dead URL at start."""
    import http.server

    document = reference_service.get("/openapi.json")

    class OpenAPIOnly(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OpenAPIOnly)
    gone = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = start_page([str(DATASON), "gradio", "--url", gone, "--port", "0"], trap)
    try:
        server.shutdown()
        server.server_close()  # the schema was read; the service is gone now
        with pytest.raises(AppError) as caught:
            gradio_client.Client(page.url, verbose=False).predict(*SETOSA.values(), api_name="/predict_form")
        assert str(caught.value).startswith(f"cannot reach the datason service at {gone} (")
    finally:
        assert page.process.stop() == 0  # SIGTERM: closed cleanly
    page.process.wait_for(r"^Stopped\.$", timeout=10)
    # at start: no schema, no page; one line, exit status 2
    refused = Process([str(DATASON), "gradio", "--url", gone, "--port", "0"], env=child_env(**trap.env()))
    assert refused.proc.wait(timeout=120) == 2
    assert (
        refused.err()
        .strip()
        .splitlines()[-1]
        .startswith(f"datason gradio: error: cannot reach the datason service at {gone} (")
    )
    assert "Traceback" not in refused.err()


# --- the browser ------------------------------------------------------------------------------------------------


def test_browser_form_prediction_plot_and_error(page: Page, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    outside: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(("http://127.0.0.1", "data:", "blob:")):
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort()

    context.route("**/*", route)
    tab = context.new_page()
    try:
        tab.goto(page.url, wait_until="load", timeout=60_000)
        for name, value in VIRGINICA.items():
            tab.get_by_label(name, exact=True).fill(str(value))
        tab.click("#predict-form")
        tab.locator("#summary").get_by_text("virginica").wait_for(timeout=60_000)
        assert re.match(
            r"virginica · request gradio-[0-9a-f]{16} · model version 1\.0\.0 · ", tab.locator("#summary").inner_text()
        )
        bars = tab.locator("#probabilities svg .mark-rect path")
        bars.first.wait_for(timeout=30_000)
        assert bars.count() == 3  # one bar per class, drawn
        assert tab.locator("#probabilities svg").get_by_text("virginica").count() >= 1
        assert tab.get_by_text("probability (float64)").count() == 1  # the table's header
        # an emptied field: the service names it, the page shows the message (no traceback)
        tab.get_by_label("petal_width", exact=True).fill("")
        tab.click("#predict-form")
        toast = tab.get_by_text("required property is missing at $.features.petal_width")
        toast.first.wait_for(timeout=60_000)
        assert tab.get_by_text("Traceback").count() == 0
        assert outside == []  # the page asked nothing of the internet (fonts, scripts, analytics)
    finally:
        context.close()


def test_browser_table_keeps_missing_values_and_zones_when_sorted(browser: Any) -> None:
    """A ``dataframe()`` table in the page: NaN, NaT, <NA> and offsets shown as they are, also after sorting."""
    import gradio as gr
    import pandas as pd

    from datason.integrations.gradio import dataframe

    table = pd.DataFrame(
        {
            "x": np.array([1.5, np.nan, -2.0], dtype=np.float32),
            "at": pd.to_datetime(["2024-01-01 09:00", None, "2024-07-01 09:00"]).tz_localize("Europe/Paris"),
            "n": pd.array([1, None, 3], dtype="Int64"),
        }
    )
    with gr.Blocks(analytics_enabled=False) as app:
        dataframe(table, elem_id="table")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False)
    tab = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        tab.goto(f"http://127.0.0.1:{port}/", wait_until="load", timeout=60_000)
        cells = tab.locator("#table")
        cells.get_by_text("NaT").wait_for(timeout=30_000)

        def shown() -> list[str]:
            return [word for word in cells.inner_text().split() if word != "\u22ee"]  # not the cell menu's button

        headers = ["x (float32)", "at (datetime64[us, Europe/Paris])", "n (Int64)"]
        rows = [
            ["1.5", "2024-01-01T09:00:00+01:00", "1"],
            ["NaN", "NaT", "<NA>"],
            ["-2.0", "2024-07-01T09:00:00+02:00", "3"],
        ]
        assert shown() == " ".join(headers + rows[0] + rows[1] + rows[2]).split()
        header = cells.locator("th").nth(0)
        header.click()
        header.get_by_label("Open cell menu").click()
        tab.get_by_text("Sort ascending").click()
        # Gradio orders the missing cell where 0 would be (its sort, gradio-app/gradio#10916); the row stays whole
        # and keeps showing NaN, NaT and <NA> (no 0 appears), the zones their offsets
        expected = " ".join(headers + rows[2] + rows[1] + rows[0]).split()
        for _ in range(50):
            if shown() == expected:
                break
            tab.wait_for_timeout(100)
        assert shown() == expected
    finally:
        tab.close()
        app.close()


# --- the example and the docs ---------------------------------------------------------------------------------


def test_example_script(reference_service: ReferenceService, trap: Trap) -> None:
    example = start_page([sys.executable, str(EXAMPLE_SCRIPT), "--url", reference_service.url, "--port", "0"], trap)
    try:
        client = gradio_client.Client(example.url, verbose=False)
        config = client.config
        values = {c["props"].get("label"): c["props"].get("value") for c in config["components"]}
        assert {name: values[name] for name in FIELDS} == SETOSA  # the demo's flower filled in
        summary = client.predict(*SETOSA.values(), api_name="/predict_form")[0]
        assert summary.startswith("**setosa** · request `")
        assert trap.seen == []
    finally:
        assert example.process.stop() == 0  # SIGTERM: closed cleanly
    example.process.wait_for(r"^Stopped\.$", timeout=10)


def test_docs_python_blocks_run(
    page: Page, reference_service: ReferenceService, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = re.findall(r"^```python\n(.*?)^```", DOCS.read_text(), re.S | re.M)
    assert len(blocks) >= 4
    monkeypatch.setenv("SERVICE_URL", reference_service.url)
    monkeypatch.setenv("GRADIO_URL", page.url)
    for i, code in enumerate(blocks):
        module = types.ModuleType(f"docs_gradio_{i}")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile(code, f"{DOCS.name}#{i}", "exec"), module.__dict__)
