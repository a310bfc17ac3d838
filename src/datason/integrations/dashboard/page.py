"""The monitoring dashboard of a running datason service: a Streamlit page (``datason dashboard``).

``streamlit run page.py -- --url http://127.0.0.1:8000 [--url ...] [--refresh 2]`` (what ``datason dashboard``
runs). Everything shown is read from the service; the page keeps no counters of its own:

- header: model id, version and status from ``/health``;
- metrics row: total prediction requests and error rate (4xx and 5xx) from ``ml_prediction_requests_total``,
  average and p95 latency from the ``ml_prediction_latency_seconds`` histogram (``histogram_quantile``);
- charts (plotly): latency over time (average and p95 of the requests answered between two refreshes; the
  first point is since the service started) and cumulative requests and errors;
- predict: by JSON text (a request body ``{"features": ...}`` or the features alone, read by datason), by a
  form generated from the features schema in ``/openapi.json`` (an object of named fields; one that is not
  a number, integer, string, boolean or enum is a JSON text box), or by an uploaded JSON file (datason typed
  JSON is read typed); the response is shown as datason reads it back (the service is
  asked for its typed form), a failure as the service's own message (422: the rule and the field path);
- recent predictions: time, request id (sent as ``X-Request-ID``, read back from the response), source,
  status, model version, round trip and result;
- model version: one service serves one model version, so each ``--url`` is one (model, version); with
  several, a sidebar selector picks the service the page shows and predicts with (only when more than one
  answers);
- refresh: the metrics, charts and status are a fragment re-run every ``--refresh`` seconds, without a page
  reload; a service that cannot be reached is an error message that clears once it answers again (then the
  whole page is run once more, for the form its schema gives).

``render(urls, refresh=...)`` draws the page (tests drive it with Streamlit's ``AppTest``); ``main(argv)`` reads
the options. Every request goes through ``datason.integrations.service_client`` (the Gradio demo's client
too). Needs ``pip install "datason[dashboard]"``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from datason.integrations.service_client import (
    FormField,
    MetricsSnapshot,
    PredictionResult,
    ServiceClient,
    ServiceError,
    ServiceUnreachableError,
    form_features,
    form_fields,
    request_features,
)
from datason.integrations.streamlit import display_json, read_upload, show_dataframe, show_json

__all__ = ["DEFAULT_URL", "main", "render"]

DEFAULT_URL = "http://127.0.0.1:8000"
HISTORY = 240  # metric snapshots kept per service (8 minutes at the default refresh)
RECENT = 50  # predictions kept in the table
REQUEST_PREFIX = "dash-"  # the X-Request-ID of the page's predictions: dash- and 16 hex digits


def main(argv: Sequence[str] | None = None) -> None:
    """Parse ``--url`` (repeatable) and ``--refresh``, then draw the page."""
    import sys

    parser = argparse.ArgumentParser(prog="datason dashboard page")
    parser.add_argument("--url", action="append", default=None, help=f"a datason service (default {DEFAULT_URL})")
    parser.add_argument("--refresh", type=float, default=2.0, help="seconds between refreshes; 0: off (default 2)")
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    render(args.url or [DEFAULT_URL], refresh=args.refresh or None)


def render(urls: Sequence[str], *, refresh: float | None = 2.0) -> None:
    """The whole page for the services at ``urls``; ``refresh`` seconds between live updates (None: off)."""
    import streamlit as st

    st.set_page_config(page_title="datason dashboard", layout="wide")
    state = st.session_state
    state.setdefault("recent", [])
    state.setdefault("history", {})
    url = _choose_service(st, list(urls) or [DEFAULT_URL])
    try:
        client = ServiceClient(url, request_prefix=REQUEST_PREFIX)
    except ServiceError as exc:
        st.error(str(exc))
        return
    st.title("datason model service")
    live = st.sidebar.toggle("Live refresh", value=refresh is not None, key="live", disabled=refresh is None)

    @st.fragment(run_every=refresh if live and refresh else None)
    def live_section() -> None:
        _draw_live(st, client)

    live_section()
    _draw_predict(st, client)
    _draw_response(st)
    _draw_recent(st)


# --- service and version ---------------------------------------------------------------------------------------
def _choose_service(st: Any, urls: list[str]) -> str:
    """The service the page shows: the URL field (one service) or the version selector (several)."""
    st.sidebar.header("Service")
    if len(urls) == 1:
        return str(st.sidebar.text_input("Service URL", value=urls[0], key="service_url")).strip() or urls[0]
    offers: dict[str, str] = {}
    down = []
    for url in urls:
        try:
            health = ServiceClient(url, timeout=2.0).health()
        except ServiceError:
            down.append(url)
            continue
        offers[url] = f"{health['model_id']} {health.get('model_version', '?')}"
    if down:
        st.sidebar.warning("Not answering: " + ", ".join(down))
    if len(offers) > 1:
        labels = list(offers.values())
        duplicated = {label for label in labels if labels.count(label) > 1}
        return str(
            st.sidebar.selectbox(
                "Model version",
                list(offers),
                format_func=lambda u: offers[u] + (f" ({u})" if offers[u] in duplicated else ""),
                key="service_choice",
            )
        )
    chosen = next(iter(offers), urls[0])
    st.sidebar.caption(f"{offers.get(chosen, chosen)} at {chosen}")
    return chosen


# --- live: status, metrics, charts -----------------------------------------------------------------------------
def _draw_live(st: Any, client: ServiceClient) -> None:
    try:
        health = client.health()
        snapshot = client.metrics()
    except ServiceUnreachableError as exc:
        st.error(f"Service unreachable: {exc}. The page retries on every refresh.")
        return
    except ServiceError as exc:
        st.error(f"The service at {client.url} answered unexpectedly: {exc}")
        return
    pending = st.session_state.get("schema_pending", set())
    if client.url in pending:  # the service is back: the whole page again (the form needs its schema)
        pending.discard(client.url)
        st.rerun()
    history: list[MetricsSnapshot] = st.session_state["history"].setdefault(client.url, [])
    history.append(snapshot)
    del history[:-HISTORY]
    previous = history[-2] if len(history) > 1 else None

    ready = "ready" if health.get("ready") else "not ready"
    st.markdown(
        f"**{health['model_id']}** version **{health.get('model_version', '?')}** at `{client.url}`: "
        f"{health.get('status', '?')}, {ready}, up {_duration(health.get('uptime_seconds'))}"
    )
    total, rate = snapshot.total, snapshot.error_rate
    average, p95 = snapshot.average_ms, snapshot.quantile_ms(0.95)
    cols = st.columns(4)
    cols[0].metric(
        "Total requests",
        f"{total:,.0f}",
        delta=f"{total - previous.total:+,.0f}" if previous and total != previous.total else None,
    )
    cols[1].metric("Error rate", "n/a" if rate is None else f"{rate:.1%}", help="4xx and 5xx answers / all")
    cols[2].metric("Average latency", _ms(average), help="ml_prediction_latency_seconds sum / count")
    cols[3].metric("p95 latency", _ms(p95), help="histogram_quantile(0.95) of ml_prediction_latency_seconds")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(_latency_figure(history), key="latency_chart")
    with right:
        st.plotly_chart(_requests_figure(history), key="requests_chart")


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _when(snapshot: MetricsSnapshot) -> dt.datetime:
    return dt.datetime.fromtimestamp(snapshot.at, dt.UTC)


def latency_series(history: Sequence[MetricsSnapshot]) -> list[tuple[dt.datetime, float | None, float | None]]:
    """(time, average ms, p95 ms) per refresh: the requests since the previous one (the first: since start)."""
    points = []
    for i, snap in enumerate(history):
        window = snap if i == 0 else snap.since(history[i - 1])
        points.append((_when(snap), window.average_ms, window.quantile_ms(0.95)))
    return points


def _latency_figure(history: Sequence[MetricsSnapshot]) -> Any:
    import plotly.graph_objects as go

    points = latency_series(history)
    times = [p[0] for p in points]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=times, y=[p[1] for p in points], name="average", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=times, y=[p[2] for p in points], name="p95", mode="lines+markers"))
    fig.update_layout(
        title="Latency over time (ms, per refresh)", height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10}
    )
    fig.update_xaxes(title_text="time (UTC)")
    fig.update_yaxes(title_text="ms", rangemode="tozero")
    return fig


def _requests_figure(history: Sequence[MetricsSnapshot]) -> Any:
    import plotly.graph_objects as go

    times = [_when(s) for s in history]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=times, y=[s.total for s in history], name="requests", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=times, y=[s.error for s in history], name="errors", mode="lines+markers"))
    fig.update_layout(title="Requests and errors (cumulative)", height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    fig.update_xaxes(title_text="time (UTC)")
    fig.update_yaxes(title_text="requests", rangemode="tozero")
    return fig


# --- predicting ----------------------------------------------------------------------------------------------
def _schema(st: Any, client: ServiceClient) -> tuple[bool, list[FormField] | None]:
    """(the service answered, form fields of its features schema), kept per URL once read."""
    cache = st.session_state.setdefault("schemas", {})
    if client.url not in cache:
        try:
            cache[client.url] = form_fields(client.features_schema())
        except ServiceError as exc:
            st.error(f"Cannot read the input schema: {exc}")
            if isinstance(exc, ServiceUnreachableError):  # the live section reruns the page once it answers
                st.session_state.setdefault("schema_pending", set()).add(client.url)
            return False, None
    return True, cache[client.url]


def _draw_predict(st: Any, client: ServiceClient) -> None:
    st.header("Predict")
    answered, fields = _schema(st, client)
    example = json.dumps({"features": {f.name: f.example for f in fields} if fields else {}}, indent=2)
    state = st.session_state
    if state.get("json_text") in (None, state.get("json_example")):  # not edited: follow the service's schema
        state["json_text"] = example
    state["json_example"] = example
    by_json, by_form, by_file = st.tabs(["JSON", "Form", "File"])
    with by_json:
        st.text_area("Request body or features (JSON; datason typed JSON is read typed)", height=180, key="json_text")
        st.button("Predict", key="predict_json", on_click=_submit_json, args=(client.url,), disabled=not answered)
    with by_form:
        if not answered:
            st.info("The form is built from the service's input schema, which could not be read.")
        elif fields is None:
            st.info("The service's features schema is not an object of named fields: predict by JSON or a file.")
        else:
            with st.form("predict_form"):
                for field in fields:
                    _field_input(st, field)
                st.form_submit_button(
                    "Predict", key="predict_form_submit", on_click=_submit_form, args=(client.url, fields)
                )
    with by_file:
        st.file_uploader(
            "JSON file: a request body or its features (datason typed JSON is read typed)",
            type=["json"],
            key="upload",
        )
        st.button("Predict from file", key="predict_file", on_click=_submit_file, args=(client.url,))


def _field_input(st: Any, field: FormField) -> None:
    key = f"field_{field.name}"
    label = field.name + ("" if field.required else " (optional)")
    help_text = field.description or None
    if field.kind == "boolean":
        st.checkbox(label, value=bool(field.example), key=key, help=help_text)
    elif field.kind == "enum":
        st.selectbox(label, list(field.options), key=key, help=help_text)
    elif field.kind == "string":
        st.text_input(label, value=str(field.example or ""), key=key, help=help_text)
    elif field.kind == "json":
        text = "" if field.example is None else json.dumps(field.example)
        st.text_area(f"{label} (JSON)", value=text, key=key, help=help_text, height=80)
    else:
        integer = field.kind == "integer"
        st.number_input(
            label,
            value=int(field.example) if integer else float(field.example),
            step=1 if integer else 0.1,
            format=None if integer else "%.4g",
            key=key,
            help=help_text,
        )


def _submit_json(url: str) -> None:
    import streamlit as st

    import datason

    try:
        body = datason.loads(st.session_state.get("json_text") or "")
    except ValueError as exc:
        _record_problem(f"The JSON text is not valid: {exc}")
        return
    _send(url, body, "json")


def _submit_form(url: str, fields: Sequence[FormField]) -> None:
    import streamlit as st

    values = {field.name: st.session_state.get(f"field_{field.name}") for field in fields}
    try:
        features = form_features(fields, values)
    except ValueError as exc:
        _record_problem(f"The form is not valid: {exc}")
        return
    _send(url, features, "form")


def _submit_file(url: str) -> None:
    import streamlit as st

    upload = st.session_state.get("upload")
    if upload is None:
        _record_problem("Choose a JSON file first.")
        return
    try:
        body = read_upload(upload)
    except ValueError as exc:
        _record_problem(str(exc))
        return
    _send(url, body, "file")


def _send(url: str, body: Any, source: str) -> None:
    """Predict with ``body`` (a request body, or the features alone) and keep the outcome for the page."""
    import streamlit as st

    features = body if source == "form" else request_features(body, st.session_state.get("schemas", {}).get(url))
    try:
        result = ServiceClient(url, request_prefix=REQUEST_PREFIX).predict(features, source=source)
    except ServiceError as exc:
        _record_problem(f"The prediction was not sent: {exc}")
        return
    st.session_state["last"] = result
    recent = st.session_state.setdefault("recent", [])
    recent.insert(0, result)
    del recent[RECENT:]


def _record_problem(message: str) -> None:
    import streamlit as st

    st.session_state["last"] = message


def _draw_response(st: Any) -> None:
    last = st.session_state.get("last")
    if last is None:
        return
    st.subheader("Response")
    if isinstance(last, str):
        st.error(last)
        return
    result: PredictionResult = last
    if result.ok:
        service_ms = "" if result.processing_time_ms is None else f", {result.processing_time_ms:.2f} ms in the service"
        st.success(
            f"HTTP 200 from {result.source}: request id `{result.request_id}`, "
            f"model version {result.model_version}{service_ms}"
        )
        show_json(result.prediction)
        with st.expander("As datason's typed JSON (dtypes and types of each value)"):
            show_json(result.prediction, typed=True)
    else:
        st.error(f"HTTP {result.status}: {result.error}")
        st.caption(f"request id `{result.request_id}`")


def recent_rows(results: Sequence[PredictionResult]) -> list[dict[str, Any]]:
    """The rows of the recent predictions table, newest first."""
    rows = []
    for r in results:
        outcome = display_json(r.prediction) if r.ok else str(r.error)
        rows.append(
            {
                "time": r.sent_at.replace(microsecond=r.sent_at.microsecond // 1000 * 1000),
                "request_id": r.request_id,
                "source": r.source,
                "status": r.status,
                "model_version": r.model_version or "",
                "round_trip_ms": round(r.round_trip_ms, 2),
                "result": outcome if len(outcome) <= 160 else outcome[:157] + "...",
            }
        )
    return rows


def _draw_recent(st: Any) -> None:
    st.header("Recent predictions")
    recent = st.session_state.get("recent") or []
    if not recent:
        st.caption("No predictions from this page yet.")
        return
    import pandas as pd

    show_dataframe(pd.DataFrame(recent_rows(recent)), hide_index=True, key="recent_table")


if __name__ == "__main__":
    main()
