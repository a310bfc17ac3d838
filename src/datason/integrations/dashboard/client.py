"""The dashboard's HTTP client of a running datason service: health, metrics, input schema, predictions.

Everything the dashboard shows comes from the service itself, never from counters of its own:

- ``health()``: ``GET /health`` as a dict (status, model id and version, counts, uptime).
- ``metrics()``: ``GET /metrics`` parsed by ``prometheus_client.parser`` into a ``MetricsSnapshot``: the
  ``ml_prediction_requests_total`` samples summed over protocols (success, error), the
  ``ml_prediction_latency_seconds`` histogram (count, sum, cumulative buckets); ``average_ms`` is sum/count
  and ``quantile_ms(0.95)`` is Prometheus' ``histogram_quantile`` (linear inside the bucket that holds the
  rank; the largest finite bound when the rank falls in ``+Inf``). ``snapshot.since(older)`` is the same
  for the requests between two scrapes.
- ``openapi()`` / ``features_schema()``: ``GET /openapi.json`` and the ``features`` schema of
  ``/predict`` (``$ref`` resolved against its components); ``form_fields(schema)`` turns a flat object
  schema into ``FormField`` rows (number, integer, string, boolean, enum; bounds, required, a valid example).
- ``versions()``: ``GET /v2/models/{model_id}``'s ``versions`` (Open Inference Protocol model metadata).
- ``predict(features, source=...)``: ``POST /predict`` with a fresh ``X-Request-ID`` and
  ``Accept: application/vnd.datason+json``; the answer is a ``PredictionResult`` whose ``prediction`` is
  rebuilt by ``datason.loads`` (typed: NumPy scalars and arrays, frames, datetimes come back as they were
  made) and whose ``error`` is the service's own message (422: the rule and the field path).

A service that cannot be reached raises ``ServiceUnreachableError`` and one that answers something that is
not a datason service ``ServiceResponseError`` (both ``ValueError`` subclasses with a one-line message).
Only the standard library's ``urllib`` talks HTTP; ``prometheus_client`` parses the metrics
(``pip install "datason[dashboard]" prometheus-client``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from typing import Any

from ...config import get_api_config
from ...errors import DatasonError

__all__ = [
    "FormField",
    "MetricsSnapshot",
    "PredictionResult",
    "ServiceClient",
    "ServiceResponseError",
    "ServiceUnreachableError",
    "form_fields",
]

_TYPED = "application/vnd.datason+json"  # datason.serving.TYPED_MEDIA_TYPE (kept literal: no serving import)
_REQUESTS = "ml_prediction_requests"
_LATENCY = "ml_prediction_latency_seconds"
_ERRORS = "ml_prediction_errors"


class DashboardError(DatasonError):
    """A failure talking to the service; the message is one line for the page (no path suffix)."""

    def _render(self) -> str:
        return self.reason if self.path == "$" else super()._render()


class ServiceUnreachableError(DashboardError):
    """Nothing answers at the service URL (refused, timed out, not HTTP)."""


class ServiceResponseError(DashboardError):
    """The service answered, but not what a datason service answers."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetricsSnapshot:
    """``/metrics`` at one moment: prediction counts and the latency histogram, summed over protocols."""

    at: float
    success: float = 0.0
    error: float = 0.0
    latency_count: float = 0.0
    latency_sum: float = 0.0
    buckets: tuple[tuple[float, float], ...] = ()  # (upper bound in seconds, cumulative count), +Inf last
    errors_by_kind: Mapping[str, float] = dataclasses.field(default_factory=dict)

    @property
    def total(self) -> float:
        return self.success + self.error

    @property
    def error_rate(self) -> float | None:
        return self.error / self.total if self.total else None

    @property
    def average_ms(self) -> float | None:
        return 1000.0 * self.latency_sum / self.latency_count if self.latency_count else None

    def quantile_ms(self, q: float) -> float | None:
        """Prometheus' ``histogram_quantile(q, ...)`` in milliseconds; None without observations."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be within [0, 1], got {q}")
        total = self.buckets[-1][1] if self.buckets else 0.0
        if total <= 0:
            return None
        rank = q * total
        lower, below = 0.0, 0.0
        finite = [b for b, _ in self.buckets if math.isfinite(b)]
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if not math.isfinite(bound):
                    return 1000.0 * (finite[-1] if finite else 0.0)
                inside = cumulative - below
                share = (rank - below) / inside if inside else 1.0
                return 1000.0 * (lower + (bound - lower) * share)
            lower, below = bound, cumulative
        return 1000.0 * (finite[-1] if finite else 0.0)

    def since(self, older: MetricsSnapshot) -> MetricsSnapshot:
        """The requests answered between ``older`` and this snapshot (a restart counts from zero)."""
        if self.total < older.total or self.latency_count < older.latency_count:
            return self
        old = dict(older.buckets)
        return MetricsSnapshot(
            at=self.at,
            success=self.success - older.success,
            error=self.error - older.error,
            latency_count=self.latency_count - older.latency_count,
            latency_sum=self.latency_sum - older.latency_sum,
            buckets=tuple((b, c - old.get(b, 0.0)) for b, c in self.buckets),
            errors_by_kind={k: v - older.errors_by_kind.get(k, 0.0) for k, v in self.errors_by_kind.items()},
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class PredictionResult:
    """One ``POST /predict`` as the page shows it."""

    source: str
    status: int
    request_id: str
    sent_at: dt.datetime
    round_trip_ms: float
    prediction: Any = None
    model_version: str | None = None
    processing_time_ms: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclasses.dataclass(frozen=True, kw_only=True)
class FormField:
    """One input of the prediction form, from a property of the features schema."""

    name: str
    kind: str  # "number", "integer", "string", "boolean", "enum"
    required: bool
    example: Any
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    options: tuple[Any, ...] = ()
    description: str = ""


class ServiceClient:
    """A datason service at ``url`` (``http://127.0.0.1:8000``); every call is one HTTP request."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ServiceUnreachableError(f"the service URL must start with http:// or https://, got {url!r}")
        self.url = url
        self.timeout = timeout

    # --- reading -------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        body = self._json("GET", "/health")
        if not isinstance(body, dict) or "model_id" not in body or "total_requests" not in body:
            raise ServiceResponseError(f"{self.url}/health is not a datason service's health document")
        return body

    def metrics(self) -> MetricsSnapshot:
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                'the dashboard parses /metrics with prometheus_client: pip install "datason[dashboard]" '
                "prometheus-client"
            ) from exc
        status, _, raw = self._request("GET", "/metrics")
        if status != 200:
            raise ServiceResponseError(f"{self.url}/metrics answered HTTP {status}")
        try:
            families = list(text_string_to_metric_families(raw.decode("utf-8")))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ServiceResponseError(f"{self.url}/metrics is not the Prometheus text format ({exc})") from None
        success = error = count = seconds = 0.0
        buckets: dict[float, float] = {}
        kinds: dict[str, float] = {}
        found = False
        for family in families:
            for s in family.samples:
                if s.name == _REQUESTS + "_total":
                    found = True
                    if s.labels.get("status") == "success":
                        success += s.value
                    elif s.labels.get("status") == "error":
                        error += s.value
                elif s.name == _LATENCY + "_count":
                    count += s.value
                elif s.name == _LATENCY + "_sum":
                    seconds += s.value
                elif s.name == _LATENCY + "_bucket":
                    bound = float(s.labels["le"])
                    buckets[bound] = buckets.get(bound, 0.0) + s.value
                elif s.name == _ERRORS + "_total":
                    kind = s.labels.get("kind", "")
                    kinds[kind] = kinds.get(kind, 0.0) + s.value
        if not found:
            raise ServiceResponseError(f"{self.url}/metrics has no {_REQUESTS}_total samples")
        return MetricsSnapshot(
            at=time.time(),
            success=success,
            error=error,
            latency_count=count,
            latency_sum=seconds,
            buckets=tuple(sorted(buckets.items())),
            errors_by_kind=kinds,
        )

    def openapi(self) -> dict[str, Any]:
        body = self._json("GET", "/openapi.json")
        if not isinstance(body, dict) or "paths" not in body:
            raise ServiceResponseError(f"{self.url}/openapi.json is not an OpenAPI document")
        return body

    def features_schema(self, document: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The JSON Schema of ``/predict``'s ``features`` (refs resolved); None when the service has none."""
        doc = document if document is not None else self.openapi()
        components = doc.get("components", {}).get("schemas", {})
        request = components.get("PredictRequest", {})
        features = _resolve(request.get("properties", {}).get("features"), components)
        return features or None

    def versions(self, model_id: str) -> list[str]:
        """The versions the service's OIP model metadata lists (empty when it does not answer OIP)."""
        try:
            body = self._json("GET", f"/v2/models/{urllib.parse.quote(model_id, safe='')}")
        except ServiceResponseError:
            return []
        versions = body.get("versions") if isinstance(body, dict) else None
        return [str(v) for v in versions] if isinstance(versions, list) else []

    # --- predicting ----------------------------------------------------------------------------------
    def predict(self, features: Any, *, source: str = "json", request_id: str | None = None) -> PredictionResult:
        """``POST /predict`` with ``features`` (any datason-serializable value, sent as plain JSON)."""
        import datason

        rid = request_id or f"dash-{uuid.uuid4().hex[:16]}"
        body = datason.dumps({"features": features}, get_api_config().replace(sort_keys=False)).encode()
        headers = {"Content-Type": "application/json", "Accept": _TYPED, "X-Request-ID": rid}
        sent = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        status, reply_headers, raw = self._request("POST", "/predict", body, headers)
        elapsed = 1000.0 * (time.perf_counter() - started)
        rid = reply_headers.get("x-request-id", rid)
        common: dict[str, Any] = {"source": source, "status": status, "sent_at": sent, "round_trip_ms": elapsed}
        if status == 200:
            try:
                reply = datason.loads(raw)
            except ValueError as exc:
                raise ServiceResponseError(f"{self.url}/predict answered a body datason cannot read: {exc}") from None
            if not isinstance(reply, dict) or "prediction" not in reply:
                raise ServiceResponseError(f"{self.url}/predict answered 200 without a prediction")
            return PredictionResult(
                **common,
                request_id=str(reply.get("request_id", rid)),
                prediction=reply["prediction"],
                model_version=reply.get("model_version"),
                processing_time_ms=reply.get("processing_time_ms"),
            )
        try:
            envelope = json.loads(raw)
            message = str(envelope.get("error") or envelope)
        except (ValueError, AttributeError):
            message = raw[:200].decode("utf-8", "replace") or f"HTTP {status}"
        return PredictionResult(**common, request_id=rid, error=message)

    # --- HTTP ----------------------------------------------------------------------------------------
    def _json(self, method: str, path: str) -> Any:
        status, _, raw = self._request(method, path)
        if status != 200:
            raise ServiceResponseError(f"{self.url}{path} answered HTTP {status}")
        try:
            return json.loads(raw)
        except ValueError:
            raise ServiceResponseError(f"{self.url}{path} did not answer JSON") from None

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
        except urllib.error.HTTPError as exc:  # an answer with an error status: the caller reads it
            with exc:
                return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServiceUnreachableError(f"cannot reach the datason service at {self.url} ({reason})") from None


def _resolve(schema: Any, components: Mapping[str, Any], depth: int = 0) -> Any:
    """``schema`` with local ``#/components/schemas/...`` refs replaced (to a bounded depth)."""
    if depth > 16:
        return schema
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            target = components.get(ref.rsplit("/", 1)[1], {})
            return _resolve({**target, **{k: v for k, v in schema.items() if k != "$ref"}}, components, depth + 1)
        return {k: _resolve(v, components, depth + 1) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_resolve(v, components, depth + 1) for v in schema]
    return schema


def form_fields(schema: Mapping[str, Any] | None) -> list[FormField] | None:
    """Form inputs for a flat object schema; None when the schema is not one (then JSON or a file is the way)."""
    if not schema or schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        return None
    required = set(schema.get("required", ()))
    fields = []
    for name, prop in schema["properties"].items():
        prop = _non_null(prop)
        if prop is None:
            return None
        kind = "enum" if "enum" in prop else prop.get("type")
        if kind not in ("number", "integer", "string", "boolean", "enum"):
            return None
        low, high = prop.get("minimum"), prop.get("maximum")
        xlow, xhigh = prop.get("exclusiveMinimum"), prop.get("exclusiveMaximum")
        if isinstance(xlow, int | float) and not isinstance(xlow, bool):
            low = xlow
        if isinstance(xhigh, int | float) and not isinstance(xhigh, bool):
            high = xhigh
        field = FormField(
            name=str(name),
            kind=kind,
            required=name in required,
            example=None,
            minimum=low,
            maximum=high,
            exclusive_minimum=xlow is not None and not isinstance(xlow, bool),
            exclusive_maximum=xhigh is not None and not isinstance(xhigh, bool),
            options=tuple(prop.get("enum", ())),
            description=str(prop.get("description") or prop.get("title") or ""),
        )
        fields.append(dataclasses.replace(field, example=_example(field, prop)))
    return fields


def _non_null(prop: Any) -> dict[str, Any] | None:
    """A property without its ``null`` alternative (pydantic's ``Optional``); None when still a union."""
    if not isinstance(prop, dict):
        return None
    options = prop.get("anyOf") or prop.get("oneOf")
    if options:
        kept = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
        if len(kept) != 1 or not isinstance(kept[0], dict):
            return None
        rest = {k: v for k, v in prop.items() if k not in ("anyOf", "oneOf")}
        return {**kept[0], **rest}
    return prop


def _example(field: FormField, prop: Mapping[str, Any]) -> Any:
    """A value the schema accepts: its default, first example, first option; else 1 moved inside the bounds."""
    if "default" in prop and prop["default"] is not None:
        return prop["default"]
    if isinstance(prop.get("examples"), list) and prop["examples"]:
        return prop["examples"][0]
    if field.options:
        return field.options[0]
    if field.kind == "boolean":
        return False
    if field.kind == "string":
        return "x" * int(prop.get("minLength", 0))
    value = 1.0
    step = 1.0 if field.kind == "integer" else 0.1
    if field.minimum is not None and (value < field.minimum or (field.exclusive_minimum and value <= field.minimum)):
        value = float(field.minimum) + (step if field.exclusive_minimum else 0.0)
    if field.maximum is not None and (value > field.maximum or (field.exclusive_maximum and value >= field.maximum)):
        value = float(field.maximum) - (step if field.exclusive_maximum else 0.0)
    return int(value) if field.kind == "integer" else value
