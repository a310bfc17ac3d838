"""A Gradio demo of a running datason service: a form built from its schema, its typed answer, a probability plot.

``build_demo(url)`` returns a ``gr.Blocks`` app that is a client of the datason service at ``url`` (default
``http://127.0.0.1:8000``, where ``make demo`` serves the iris classifier); ``launch(url, port=...)`` (what
``datason gradio`` runs) serves it on 127.0.0.1. What it does:

- every request goes through ``datason.integrations.service_client.ServiceClient`` (the dashboard's client
  too). At build time it reads the service's ``GET /openapi.json`` and takes the ``features`` schema of
  ``/predict`` (``$ref`` resolved): an object of named properties becomes a form through ``form_fields``
  (``number``: a number box, ``integer``: a whole number box, ``boolean``: a checkbox, an ``enum``: a
  dropdown of its values, ``string``: a text box, anything else: a JSON text box; pydantic's optional fields
  as the type they wrap), each labelled with its name and described by its ``description`` (or ``title``).
  The service title and version come from the document's ``info``.
- three ways to send features, each an API endpoint that ``gradio_client`` calls by name:
  ``/predict_json`` (JSON text, parsed by ``datason.loads``: typed JSON is accepted), ``/predict_form`` (the
  form's fields in schema order; an empty field is left out, so the service names it as missing) and
  ``/predict_file`` (an uploaded JSON file, read by ``read_upload``). JSON text and files hold the features,
  or a whole request body ``{"features": ...}``.
- the request is ``POST /predict`` with the features as plain JSON, an ``X-Request-ID`` (``gradio-`` and 16
  hex digits) and ``Accept: application/vnd.datason+json``: the service answers datason's typed form, which
  ``datason.loads`` rebuilds (``np.float64`` probabilities, ``np.int64`` indices, arrays with their
  dtype...). The page shows a summary line, the probabilities as a bar plot (``gr.BarPlot``) and a table
  (``gr.DataFrame`` through ``dataframe_value``: the dtype in the header), the response (``gr.JSON`` through
  ``json_value``), and its typed wire form (exact, in a closed accordion). Probabilities are the prediction's
  ``probabilities`` key (``probabilities=`` names another): a mapping class -> probability, or a list.
- errors are messages on the page (``gr.Error``; ``gradio_client`` raises ``AppError`` with the same text),
  never a traceback: invalid JSON (the position), a bad file (its name and the place), the service's 4xx/5xx
  (its status and its error message, such as ``does not match the schema (type="number") at
  $.features.petal_width``), an unreachable service (the URL and the reason) or one that does not answer
  within ``timeout``. ``build_demo`` raises ``ServiceError`` (a ``ValueError``; ``ServiceUnreachableError``
  or ``ServiceResponseError`` of ``datason.integrations.service_client``) when it cannot read the schema.
- ``launch`` binds 127.0.0.1, never creates a share link, turns Gradio's analytics and version check off
  (``analytics_enabled=False``) and uses system fonts (Gradio's default theme loads Google Fonts), so it
  makes no connection outside the machine besides the service's URL.

Gradio is imported when the demo is built: ``pip install "datason[gradio]"``.
"""

from __future__ import annotations

import html
import signal
import socket
import threading
from collections.abc import Mapping
from typing import Any

from ..api import dumps, loads
from ..config import get_api_config, get_default_config
from ..errors import DatasonError
from .gradio import dataframe_value, json_value, read_upload
from .service_client import FormField, ServiceClient, ServiceError, form_features, form_fields, request_features

__all__ = ["DEFAULT_URL", "ServiceError", "build_demo", "launch"]

DEFAULT_URL = "http://127.0.0.1:8000"
REQUEST_PREFIX = "gradio-"  # the X-Request-ID of the demo's predictions: gradio- and 16 hex digits
_INSTALL_HINT = 'Gradio is not installed: pip install "datason[gradio]"'


def _gradio() -> Any:
    try:
        import gradio as gr
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return gr


# --- the page -----------------------------------------------------------------------------------------------------


def _title(document: Mapping[str, Any]) -> str:
    info = document.get("info")
    info = info if isinstance(info, dict) else {}
    return " ".join(str(info[k]) for k in ("title", "version") if info.get(k)) or "datason service"


def _initial(field: FormField, example: Mapping[str, Any] | None) -> Any:
    """What a field starts with: the ``example`` features' value, else the schema's default or first example."""
    if example is not None and field.name in example:
        return example[field.name]
    return field.default


def _component(gr: Any, field: FormField, value: Any) -> Any:
    info = field.description or None
    if field.kind in ("number", "integer"):
        return gr.Number(label=field.name, info=info, value=value, precision=0 if field.kind == "integer" else None)
    if field.kind == "boolean":
        return gr.Checkbox(label=field.name, info=info, value=bool(value))
    if field.kind == "enum":
        choices = [(str(option), option) for option in field.options]
        return gr.Dropdown(label=field.name, info=info, choices=choices, value=value)
    if field.kind == "string":
        return gr.Textbox(label=field.name, info=info, value=value)
    text = "" if value is None else dumps(value, get_api_config())
    return gr.Textbox(label=f"{field.name} (JSON)", info=info, value=text)


def _probabilities(prediction: Any, key: str | None) -> tuple[list[str], list[float]] | None:
    found = prediction.get(key) if key and isinstance(prediction, dict) else None
    if found is None:
        return None
    try:
        if isinstance(found, Mapping):
            return [str(k) for k in found], [float(v) for v in found.values()]
        values = [float(v) for v in found]
    except (TypeError, ValueError):
        return None
    return [str(i) for i in range(len(values))], values


def build_demo(
    url: str = DEFAULT_URL,
    *,
    example: Mapping[str, Any] | None = None,
    probabilities: str | None = "probabilities",
    timeout: float = 10.0,
    title: str | None = None,
) -> Any:
    """A ``gr.Blocks`` client of the datason service at ``url`` (module docstring: what it shows and does).

    ``example``: features to fill the form and the JSON box with (default: each property's ``default`` or
    first ``examples`` value, else empty). ``probabilities``: the prediction's key holding class probabilities
    (None: no plot). ``timeout``: seconds per request to the service. ``title``: the page title (default the
    service's). Raises ``ServiceError`` when ``/openapi.json`` cannot be read.
    """
    gr = _gradio()
    service = ServiceClient(url, timeout=timeout, request_prefix=REQUEST_PREFIX)
    document = service.openapi()
    fields = form_fields(service.features_schema(document)) or []
    heading = title or f"{_title(document)} · Gradio demo"

    def answer(value: Any) -> tuple[Any, ...]:
        try:
            result = service.predict(request_features(value, fields), source="gradio")
        except ServiceError as exc:
            raise gr.Error(_html(str(exc)), print_exception=False) from None
        if not result.ok:
            raise gr.Error(_html(f"the service answered {result.status}: {result.error}"), print_exception=False)
        envelope = result.response
        probs = _probabilities(result.prediction, probabilities)
        if probs is None:
            plot, table = None, None
        else:
            import pandas as pd

            frame = pd.DataFrame({"class": probs[0], "probability": probs[1]})
            plot, table = frame, dataframe_value(frame)
        summary = _summary(envelope)
        return summary, plot, table, json_value(envelope), json_value(envelope, typed=True)

    def from_json(text: str) -> tuple[Any, ...]:
        try:
            value = loads(text or "", get_default_config())
        except DatasonError as exc:
            raise gr.Error(_html(f"features JSON: {exc}"), print_exception=False) from None
        return answer(value)

    def from_form(*values: Any) -> tuple[Any, ...]:
        try:  # an empty field is left out: the service names what is missing
            features = form_features(fields, {f.name: v for f, v in zip(fields, values, strict=True)})
        except DatasonError as exc:
            raise gr.Error(_html(str(exc)), print_exception=False) from None
        return answer(features)

    def from_file(file: Any) -> tuple[Any, ...]:
        try:
            value = read_upload(file)
        except ValueError as exc:
            raise gr.Error(_html(str(exc)), print_exception=False) from None
        return answer(value)

    skeleton = {field.name: _initial(field, example) for field in fields}
    start = example if example is not None else (skeleton if fields else None)
    start_text = "" if start is None else dumps(start, get_api_config(), indent=2)
    with gr.Blocks(title=heading, analytics_enabled=False) as demo:
        gr.Markdown(f"# {heading}\nA client of the datason service at `{service.url}` (`POST /predict`).")
        with gr.Row():
            with gr.Column(scale=1):
                with gr.Tab("Form"):
                    inputs = [_component(gr, field, _initial(field, example)) for field in fields]
                    if not fields:
                        gr.Markdown("The service's features are not an object of named fields: use the JSON tab.")
                    form_button = gr.Button("Predict", variant="primary", elem_id="predict-form")
                with gr.Tab("JSON"):
                    text = gr.Code(value=start_text, language="json", label="features (JSON)", interactive=True)
                    json_button = gr.Button("Predict from JSON", variant="primary", elem_id="predict-json")
                with gr.Tab("File"):
                    upload = gr.File(label="features (a JSON file; datason's typed JSON too)", file_types=[".json"])
                    file_button = gr.Button("Predict from file", variant="primary", elem_id="predict-file")
            with gr.Column(scale=1):
                summary = gr.Markdown("Send features to see the prediction.", elem_id="summary")
                plot = gr.BarPlot(
                    x="class", y="probability", y_lim=[0, 1], label="class probabilities", elem_id="probabilities"
                )
                table = gr.DataFrame(label="probabilities", interactive=False, datatype=["str", "number"])
                response = gr.JSON(label="response (json_value of the typed answer)", open=True)
                with gr.Accordion("typed response (datason's wire form, exact)", open=False):
                    typed = gr.JSON(label="typed response")
        outputs = [summary, plot, table, response, typed]
        form_button.click(from_form, inputs=inputs, outputs=outputs, api_name="predict_form")
        json_button.click(from_json, inputs=[text], outputs=outputs, api_name="predict_json")
        file_button.click(from_file, inputs=[upload], outputs=outputs, api_name="predict_file")
    return demo


def _html(message: str) -> str:
    """gr.Error renders its message as HTML: the text of a message stays text."""
    return html.escape(message, quote=False)


def _summary(envelope: Any) -> str:
    if not isinstance(envelope, dict):
        return "Prediction received."
    prediction = envelope.get("prediction")
    label = ""
    if isinstance(prediction, dict):
        for key in ("species", "label", "class", "prediction"):
            if isinstance(prediction.get(key), str):
                label = f"**{prediction[key]}** · "
                break
    parts = [f"request `{envelope.get('request_id', '?')}`"]
    if envelope.get("model_version"):
        parts.append(f"model version {envelope['model_version']}")
    if isinstance(envelope.get("processing_time_ms"), int | float):
        parts.append(f"{envelope['processing_time_ms']:.2f} ms")
    return label + " · ".join(parts)


# --- serving the page ---------------------------------------------------------------------------------------------


def _offline_theme() -> Any:
    """Gradio's default theme with system fonts (the default loads Google Fonts from the browser)."""
    gr = _gradio()
    return gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "Consolas", "monospace"]
    )


def launch(
    url: str = DEFAULT_URL,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    example: Mapping[str, Any] | None = None,
    probabilities: str | None = "probabilities",
    timeout: float = 10.0,
    block: bool = True,
    **launch_options: Any,
) -> Any:
    """Build the demo for ``url`` and serve it on ``host``:``port`` (None: Gradio's, 7860 or the next free one;
    0: any free port). Prints ``Gradio demo of <url> at <local url>`` once it answers; with ``block``, serves
    until Ctrl-C or SIGTERM, then closes. ``launch_options`` go to ``Blocks.launch`` (never ``share``)."""
    if launch_options.get("share"):
        raise ValueError("launch() never creates a share link: serve it behind your own proxy")
    demo = build_demo(url, example=example, probabilities=probabilities, timeout=timeout)
    if port == 0:
        port = _free_port(host)
    for name, value in (("share", False), ("inbrowser", False), ("ssr_mode", False), ("mcp_server", False)):
        launch_options.setdefault(name, value)
    launch_options.setdefault("theme", _offline_theme())
    launch_options.setdefault("enable_monitoring", False)
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=True, **launch_options)
    print(f"Gradio demo of {url} at {demo.local_url}", flush=True)
    if block:
        _serve_until_stopped(demo)
    return demo


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _serve_until_stopped(demo: Any) -> None:
    """Wait for Ctrl-C or SIGTERM (main thread) and close the server."""
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        print("Stopped.", flush=True)
