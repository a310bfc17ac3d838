"""The dashboard page against real datason services on loopback.

The page runs under Streamlit's ``AppTest`` (the real script runner, no browser) beside the reference service
(examples/demo.py, the iris model) and services started in this process (test_service_client.py's: several
model versions and a pydantic input schema): metrics row, charts, predictions by JSON, form and file, the typed
response, validation errors and bad input as messages, recent predictions with request ids, a form field
that is JSON text, the version selector and an unreachable service. The client itself is tested in
test_service_client.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from examples.demo import EXAMPLE, FEATURES, INVALID
from streamlit.testing.v1 import AppTest

import datason
from datason.integrations.service_client import ServiceClient

from .test_service_client import InProcessService, closed_port_url, running_services

VIRGINICA = {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}


@pytest.fixture(scope="module", name="versions")
def versions_fixture() -> Iterator[list[InProcessService]]:
    yield from running_services()


# --- the page (AppTest) --------------------------------------------------------------------------------------------
def page(urls: list[str]) -> None:
    from datason.integrations.dashboard.page import render

    render(urls, refresh=None)


def open_page(*urls: str) -> AppTest:
    at = AppTest.from_function(page, kwargs={"urls": list(urls)}, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def recent_table(at: AppTest) -> Any:
    tables = [d for d in at.dataframe if "request_id" in d.value.columns]
    assert len(tables) == 1
    return tables[0].value


def test_page_metrics_charts_and_a_json_prediction(reference_service: Any) -> None:
    at = open_page(reference_service.url)
    assert not at.error
    values = metric_values(at)
    assert list(values) == ["Total requests", "Error rate", "Average latency", "p95 latency"]
    total = int(values["Total requests"].replace(",", ""))
    assert total == ServiceClient(reference_service.url).metrics().total
    assert len(at.get("plotly_chart")) == 2
    assert "iris" in at.markdown[0].value and "1.0.0" in at.markdown[0].value
    body = json.loads(at.text_area(key="json_text").value)
    assert body == {"features": dict.fromkeys(FEATURES, 1.0)}  # an example built from the schema

    at.text_area(key="json_text").set_value(json.dumps({"features": VIRGINICA}))
    at.button(key="predict_json").click().run()
    assert not at.exception and not at.error
    (success,) = at.success
    assert success.value.startswith("HTTP 200 from json: request id `dash-")
    request_id = success.value.split("`")[1]
    plain, typed = (json.loads(j.value) for j in at.json)
    assert plain["species"] == "virginica" and plain["class_index"] == 2
    assert typed["class_index"] == {"__datason_type__": "numpy.int64", "__datason_value__": 2}
    assert int(metric_values(at)["Total requests"].replace(",", "")) == total + 1  # read after the prediction
    table = recent_table(at)
    assert table["request_id"].tolist() == [request_id] and table["source"].tolist() == ["json"]
    assert table["status"].tolist() == [200] and table["model_version"].tolist() == ["1.0.0"]
    assert table["time"].iloc[0].endswith("+00:00")  # the time with its zone


def test_page_form_file_and_errors(reference_service: Any, tmp_path: Any) -> None:
    at = open_page(reference_service.url)
    for name, value in VIRGINICA.items():
        at.number_input(key=f"field_{name}").set_value(value)
    at.button(key="predict_form_submit").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("HTTP 200 from form")
    assert json.loads(at.json[0].value)["species"] == "virginica"

    typed = datason.dumps({"features": {k: np.float32(v) for k, v in EXAMPLE.items()}}).encode()
    assert b"numpy.float32" in typed  # a typed document: read typed, sent as plain numbers
    at.file_uploader(key="upload").upload("flower.json", typed, "application/json").run()
    at.button(key="predict_file").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("HTTP 200 from file")
    assert json.loads(at.json[0].value)["species"] == "setosa"

    at.text_area(key="json_text").set_value(json.dumps({"features": INVALID}))
    at.button(key="predict_json").click().run()
    assert not at.exception and not at.success
    (error,) = at.error
    assert error.value.startswith("HTTP 422: ") and "petal_width" in error.value and "wide" not in error.value

    at.text_area(key="json_text").set_value('{"features": {"sepal_length": 5.1,')
    at.button(key="predict_json").click().run()
    assert not at.exception
    assert at.error[0].value.startswith("The JSON text is not valid: invalid JSON")

    at.file_uploader(key="upload").upload("broken.json", b"\x00not json", "application/json").run()
    at.button(key="predict_file").click().run()
    assert not at.exception
    assert at.error[0].value.startswith("broken.json is not a document datason can read")

    table = recent_table(at)
    assert table["source"].tolist() == ["json", "file", "form"]  # refused input never reached the service
    assert table["status"].tolist() == [422, 200, 200]
    assert "petal_width" in table["result"].iloc[0]
    assert len(set(table["request_id"])) == 3
    assert "Traceback" not in " ".join(e.value for e in at.error)


def test_page_says_when_the_service_is_unreachable_and_recovers() -> None:
    from datason.serving import ServingConfig, create_app

    url = closed_port_url()
    at = open_page(url)
    messages = [e.value for e in at.error]
    assert any(m.startswith(f"Service unreachable: cannot reach the datason service at {url}") for m in messages)
    assert any(m.startswith("Cannot read the input schema: cannot reach") for m in messages)
    assert not at.metric and not at.get("plotly_chart")
    assert at.button(key="predict_json").disabled

    late = InProcessService(
        create_app(lambda f: {"twice": 2 * f["x"]}, config=ServingConfig(model_id="late", model_version="0.1")),
        port=int(url.rsplit(":", 1)[1]),
    )
    try:
        at.run()  # what the next refresh does: the live section finds it, and the page runs again for the form
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert list(metric_values(at)) == ["Total requests", "Error rate", "Average latency", "p95 latency"]
        assert not at.button(key="predict_json").disabled
        at.text_area(key="json_text").set_value('{"x": 21}')
        at.button(key="predict_json").click().run()
        assert json.loads(at.json[0].value) == {"twice": 42}
    finally:
        late.stop()


def test_page_version_selector_only_with_several_versions(versions: list[InProcessService]) -> None:
    one = open_page(versions[0].url)
    assert not one.selectbox and one.text_input(key="service_url").value == versions[0].url

    at = open_page(versions[0].url, versions[1].url, closed_port_url())
    selector = at.selectbox(key="service_choice")
    assert selector.label == "Model version" and selector.options == ["adder 1.0.0", "adder 2.0.0"]
    assert any("Not answering" in w.value for w in at.sidebar.warning)
    selector.set_value(versions[1].url).run()
    assert "**adder** version **2.0.0**" in at.markdown[0].value
    at.text_area(key="json_text").set_value('{"a": 1.5, "b": 2}')  # the features alone
    at.button(key="predict_json").click().run()
    assert not at.error and at.success[0].value.startswith("HTTP 200 from json")
    assert "model version 2.0.0" in at.success[0].value
    assert json.loads(at.json[0].value) == {"sum": 3.5, "by": "2.0.0"}
    assert recent_table(at)["model_version"].tolist() == ["2.0.0"]


def test_page_form_with_a_json_field(versions: list[InProcessService]) -> None:
    at = open_page(versions[2].url)  # the pydantic Flower: sizes is list[float] | None, a JSON text box
    assert at.text_area(key="field_sizes").label == "sizes (optional) (JSON)"
    assert at.text_area(key="field_sizes").value == "[]"
    assert at.selectbox(key="field_colour").options == ["white", "blue"]
    at.number_input(key="field_petal_length").set_value(2.0)
    at.text_area(key="field_sizes").set_value("[1.5, 2]")
    at.button(key="predict_form_submit").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success[0].value.startswith("HTTP 200 from form: request id `dash-")
    assert json.loads(at.json[0].value) == {"petals": 5, "sizes": [1.5, 2.0]}
    at.text_area(key="field_sizes").set_value("[1.5,")
    at.button(key="predict_form_submit").click().run()
    assert not at.exception
    assert at.error[0].value == "The form is not valid: sizes: invalid JSON: unexpected end of input at byte 5 at $[1]"
