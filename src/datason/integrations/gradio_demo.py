"""A Gradio demo of a running datason service: a form built from its schema, its typed answer, a probability plot.

``build_demo(url)`` returns a ``gr.Blocks`` app that is a client of the datason service at ``url`` (default
``http://127.0.0.1:8000``, where ``make demo`` serves the iris classifier); ``launch(url, port=...)`` (what
``datason gradio`` runs) serves it on 127.0.0.1. What it does:

- at build time it reads the service's ``GET /openapi.json`` and takes the ``features`` schema of
  ``/predict``: an object of named properties becomes a form (``number``: a number box, ``integer``: a whole
  number box, ``boolean``: a checkbox, a string ``enum``: a dropdown, ``string``: a text box, anything else: a
  JSON text box), each labelled with its name and described by its ``description``. The service title and
  version come from the document's ``info``.
- three ways to send features, each an API endpoint that ``gradio_client`` calls by name:
  ``/predict_json`` (JSON text, parsed by ``datason.loads``: typed JSON is accepted), ``/predict_form`` (the
  form's fields in schema order; an empty field is left out, so the service names it as missing) and
  ``/predict_file`` (an uploaded JSON file, read by ``read_upload``). JSON text and files hold the features,
  or a whole request body ``{"features": ...}``.
- the request is ``POST /predict`` with the features as plain JSON and ``Accept:
  application/vnd.datason+json``: the service answers datason's typed form, which ``datason.loads`` rebuilds
  (``np.float64`` probabilities, ``np.int64`` indices, arrays with their dtype...). The page shows a summary
  line, the probabilities as a bar plot (``gr.BarPlot``) and a table (``gr.DataFrame`` through
  ``dataframe_value``: the dtype in the header), the response (``gr.JSON`` through ``json_value``), and its
  typed wire form (exact, in a closed accordion). Probabilities are the prediction's ``probabilities`` key
  (``probabilities=`` names another): a mapping class -> probability, or a list.
- errors are messages on the page (``gr.Error``; ``gradio_client`` raises ``AppError`` with the same text),
  never a traceback: invalid JSON (the position), a bad file (its name and the place), the service's 4xx/5xx
  (its status and its error message, such as ``does not match the schema (type="number") at
  $.features.petal_width``), an unreachable service (the URL and the reason). ``build_demo`` raises
  ``ServiceError`` (a ``ValueError``) when it cannot read the schema.
- ``launch`` binds 127.0.0.1, never creates a share link, turns Gradio's analytics and version check off
  (``analytics_enabled=False``) and uses system fonts (Gradio's default theme loads Google Fonts), so it
  makes no connection outside the machine besides the service's URL.

Gradio and httpx (a Gradio dependency) are imported when the demo is built: ``pip install "datason[gradio]"``.
"""

from __future__ import annotations

import html
import signal
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ..api import dumps, loads
from ..config import get_api_config, get_default_config
from ..errors import DatasonError
from ..serving import TYPED_MEDIA_TYPE
from .gradio import dataframe_value, json_value, read_upload

__all__ = ["DEFAULT_URL", "ServiceError", "build_demo", "launch"]

DEFAULT_URL = "http://127.0.0.1:8000"
_INSTALL_HINT = 'Gradio is not installed: pip install "datason[gradio]"'
_REF = "#/components/schemas/"


class ServiceError(DatasonError):
    """The service could not be reached, or answered an error; ``status`` is its HTTP status (None: no answer)."""

    status: int | None = None

    def _render(self) -> str:
        text = super()._render()
        return text[:-5] if text.endswith(" at $") else text


def _gradio() -> Any:
    try:
        import gradio as gr
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return gr


# --- the service --------------------------------------------------------------------------------------------------


class _Service:
    """The datason service at ``url``: its OpenAPI document and ``POST /predict`` (typed answers)."""

    def __init__(self, url: str, timeout: float) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, timeout=timeout, trust_env=False)
        self.httpx = httpx

    def get_json(self, path: str) -> Any:
        response = self._send("GET", path)
        if response.status_code != 200:
            raise self._refused(response)
        try:
            return loads(response.content, get_api_config())
        except DatasonError as exc:
            raise ServiceError(f"{self.url}{path} is not JSON ({exc.reason})") from None

    def predict(self, features: Any) -> Any:
        body = dumps({"features": features}, get_api_config())
        headers = {"Content-Type": "application/json", "Accept": TYPED_MEDIA_TYPE}
        response = self._send("POST", "/predict", content=body.encode("utf-8"), headers=headers)
        if response.status_code != 200:
            raise self._refused(response)
        try:
            return loads(response.content, get_default_config())
        except DatasonError as exc:
            raise ServiceError(f"the service's answer could not be decoded ({exc.reason})") from None

    def _send(self, method: str, path: str, **options: Any) -> Any:
        try:
            return self.client.request(method, path, **options)
        except self.httpx.TimeoutException:
            raise ServiceError(f"the service at {self.url} did not answer in time") from None
        except self.httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise ServiceError(f"cannot reach the service at {self.url} ({reason})") from None

    def _refused(self, response: Any) -> ServiceError:
        try:
            message = loads(response.content, get_api_config()).get("error")
        except (DatasonError, AttributeError):
            message = None
        detail = f": {message}" if isinstance(message, str) else ""
        error = ServiceError(f"the service answered {response.status_code}{detail}")
        error.status = response.status_code
        return error


def _features_schema(document: Any) -> tuple[dict[str, Any], str]:
    """The ``features`` schema of ``/predict`` (refs resolved) and the service's title from an OpenAPI document."""
    if not isinstance(document, dict):
        raise ServiceError("the service's /openapi.json is not an OpenAPI document")
    components = document.get("components", {}).get("schemas", {})

    def resolve(schema: Any) -> dict[str, Any]:
        for _ in range(32):  # a chain of refs, never a loop
            if not isinstance(schema, dict) or "$ref" not in schema:
                break
            ref = schema["$ref"]
            name = ref[len(_REF) :] if isinstance(ref, str) and ref.startswith(_REF) else None
            schema = components.get(name) if name else None
        return schema if isinstance(schema, dict) else {}

    try:
        body = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    except (KeyError, TypeError):
        raise ServiceError("the service's /openapi.json has no POST /predict with a JSON body") from None
    features = resolve(resolve(body).get("properties", {}).get("features", {}))
    if features.get("type") == "object" and isinstance(features.get("properties"), dict):
        features = {**features, "properties": {k: resolve(v) for k, v in features["properties"].items()}}
    info = document.get("info", {})
    title = " ".join(str(info[k]) for k in ("title", "version") if info.get(k)) or "datason service"
    return features, title


# --- the page -----------------------------------------------------------------------------------------------------


def _field_kind(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):  # ["number", "null"]
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and isinstance(schema.get("anyOf"), list):  # pydantic's Optional[...]
        kinds = [s.get("type") for s in schema["anyOf"] if isinstance(s, dict) and s.get("type") != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    if kind == "string" and isinstance(schema.get("enum"), list):
        return "enum"
    return kind if kind in ("number", "integer", "boolean", "string") else "json"


def _initial(name: str, schema: Mapping[str, Any], example: Mapping[str, Any] | None) -> Any:
    if example is not None and name in example:
        return example[name]
    if "default" in schema:
        return schema["default"]
    examples = schema.get("examples")
    return examples[0] if isinstance(examples, list) and examples else None


def _field(gr: Any, name: str, schema: Mapping[str, Any], value: Any) -> tuple[Any, str]:
    info = schema.get("description") if isinstance(schema.get("description"), str) else None
    kind = _field_kind(schema)
    if kind in ("number", "integer"):
        component = gr.Number(label=name, info=info, value=value, precision=0 if kind == "integer" else None)
    elif kind == "boolean":
        component = gr.Checkbox(label=name, info=info, value=bool(value))
    elif kind == "enum":
        component = gr.Dropdown(label=name, info=info, choices=[str(c) for c in schema["enum"]], value=value)
    elif kind == "string":
        component = gr.Textbox(label=name, info=info, value=value)
    else:
        text = "" if value is None else dumps(value, get_api_config())
        component = gr.Textbox(label=f"{name} (JSON)", info=info, value=text)
    return component, kind


def _unwrap(value: Any, names: Sequence[str]) -> Any:
    """A whole request body ``{"features": ...}`` gives its features (unless the schema has a ``features`` field)."""
    if isinstance(value, dict) and list(value) == ["features"] and "features" not in names:
        return value["features"]
    return value


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
    service = _Service(url, timeout)
    features, service_title = _features_schema(service.get_json("/openapi.json"))
    props: dict[str, Any] = features.get("properties", {}) if features.get("type") == "object" else {}
    names = list(props)
    heading = title or f"{service_title} · Gradio demo"

    def answer(value: Any) -> tuple[Any, ...]:
        try:
            envelope = service.predict(_unwrap(value, names))
        except ServiceError as exc:
            raise gr.Error(_html(str(exc)), print_exception=False) from None
        prediction = envelope.get("prediction") if isinstance(envelope, dict) else envelope
        probs = _probabilities(prediction, probabilities)
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
        out: dict[str, Any] = {}
        for (name, kind), value in zip(kinds, values, strict=True):
            if value is None or (kind == "json" and not str(value).strip()):
                continue  # left empty: the service names what is missing
            if kind == "integer" and isinstance(value, float) and value.is_integer():
                value = int(value)
            elif kind == "json":
                try:
                    value = loads(value, get_default_config())
                except DatasonError as exc:
                    raise gr.Error(_html(f"{name}: {exc}"), print_exception=False) from None
            out[name] = value
        return answer(out)

    def from_file(file: Any) -> tuple[Any, ...]:
        try:
            value = read_upload(file)
        except ValueError as exc:
            raise gr.Error(_html(str(exc)), print_exception=False) from None
        return answer(value)

    skeleton = {name: _initial(name, schema, example) for name, schema in props.items()}
    start = example if example is not None else (skeleton if props else None)
    start_text = "" if start is None else dumps(start, get_api_config(), indent=2)
    kinds: list[tuple[str, str]] = []
    with gr.Blocks(title=heading, analytics_enabled=False) as demo:
        gr.Markdown(f"# {heading}\nA client of the datason service at `{service.url}` (`POST /predict`).")
        with gr.Row():
            with gr.Column(scale=1):
                with gr.Tab("Form"):
                    fields = []
                    for name, schema in props.items():
                        component, kind = _field(gr, name, schema, _initial(name, schema, example))
                        fields.append(component)
                        kinds.append((name, kind))
                    if not props:
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
        form_button.click(from_form, inputs=fields, outputs=outputs, api_name="predict_form")
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
