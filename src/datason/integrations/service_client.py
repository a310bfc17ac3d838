"""A small HTTP client of a running datason service, shared by the dashboard and the Gradio demo.

``ServiceClient(url, timeout=..., request_prefix=..., api_key=...)``: one HTTP request per call, through the
standard library's ``urllib``, straight to ``url`` (proxy variables are not used: the client talks to the service
and nothing else). A service with access control on (``datason serve --api-keys``) needs a key: ``api_key``, or
the ``DATASON_API_KEY`` environment variable (how ``datason dashboard`` and ``datason gradio`` get one, so it never
shows on a command line), sent as ``X-API-Key`` on every request (``/metrics`` with ``--metrics-auth`` needs the
key's ``metrics`` scope too). What each call reads:

- ``health()``: ``GET /health`` as a dict (status, model id and version, counts, uptime).
- ``metrics()``: ``GET /metrics`` parsed by ``prometheus_client.parser`` into a ``MetricsSnapshot``: the
  ``ml_prediction_requests_total`` samples summed over protocols (success, error), the
  ``ml_prediction_errors_total`` counts by kind, the ``ml_prediction_latency_seconds`` histogram (count,
  sum, cumulative buckets); ``average_ms`` is sum/count and ``quantile_ms(0.95)`` is Prometheus'
  ``histogram_quantile`` (linear inside the bucket that holds the rank; the largest finite bound when the
  rank falls in ``+Inf``). ``snapshot.since(older)`` is the same for the requests between two scrapes.
- ``openapi()``: ``GET /openapi.json``; ``features_schema()`` is the ``features`` property of the JSON body of
  ``POST /predict`` in it, every local ``#/components/schemas/...`` ``$ref`` resolved (a ref inside itself is
  left as a ref); None when the service declares no schema.
- ``versions(model_id)``: ``GET /v2/models/{model_id}``'s ``versions`` (Open Inference Protocol metadata).
- ``predict(features, source=...)``: ``POST /predict`` with ``features`` as plain JSON, a fresh
  ``X-Request-ID`` (``request_prefix`` + 16 hex digits) and ``Accept: application/vnd.datason+json``. The
  answer is a ``PredictionResult``: ``prediction`` and ``response`` (the whole answer) rebuilt by
  ``datason.loads``, typed (NumPy scalars and arrays, frames, datetimes come back as the model made them);
  on a 4xx/5xx ``error`` is the service's own message (422: the rule and the field path), not an exception.

``form_fields(schema)`` turns an object schema into ``FormField`` rows, one per property in schema order:
``number``, ``integer``, ``string``, ``boolean``, ``enum`` (any ``enum``, or a single ``const``) and
``json`` (anything else: arrays, objects, unions), with bounds (``exclusiveMinimum``/``exclusiveMaximum``
too), required flags, description (or title), the schema's ``default`` or first ``examples`` value
(``default``) and a value the schema accepts (``example``). pydantic's ``Optional`` (``anyOf``/``oneOf`` with
``null``), ``type: [..., "null"]`` and a lone ``allOf`` are read as the type they wrap. ``form_features``
turns what a form holds back into features (empty fields left out, whole numbers as ``int``, JSON fields
read by datason); ``request_features`` takes the features out of a whole request body ``{"features": ...}``.

Errors are ``ServiceError`` (a datason ``ValueError``; one line, ``status`` the HTTP status when the service
answered): ``ServiceUnreachableError`` when nothing answers at the URL (refused, timed out, not HTTP, not an
http(s) URL), ``ServiceResponseError`` when the answer is not what a datason service answers (an error
status on a read, not JSON, no prediction). ``prometheus_client`` is imported by ``metrics()`` only
(``pip install "datason[dashboard]"``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..api import dumps, loads
from ..config import get_api_config
from ..errors import DatasonError, DeserializationError
from ..serving import TYPED_MEDIA_TYPE

__all__ = [
    "FormField",
    "MetricsSnapshot",
    "PredictionResult",
    "ServiceClient",
    "ServiceError",
    "ServiceResponseError",
    "ServiceUnreachableError",
    "form_features",
    "form_fields",
    "request_features",
]

#: The environment variable holding the API key the client sends when none is given.
API_KEY_ENV = "DATASON_API_KEY"
_REQUESTS = "ml_prediction_requests"
_LATENCY = "ml_prediction_latency_seconds"
_ERRORS = "ml_prediction_errors"
_REF = "#/components/schemas/"
_SCALARS = ("number", "integer", "string", "boolean")


class ServiceError(DatasonError):
    """A failure talking to a datason service: one line (no path suffix); ``status`` is its HTTP status."""

    status: int | None = None

    def _render(self) -> str:
        return self.reason if self.path == "$" else super()._render()


class ServiceUnreachableError(ServiceError):
    """Nothing answers at the service URL (refused, timed out, not HTTP, not an http(s) URL)."""


class ServiceResponseError(ServiceError):
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
    """One ``POST /predict``: the typed prediction, or the service's error message and status."""

    source: str
    status: int
    request_id: str
    sent_at: dt.datetime
    round_trip_ms: float
    prediction: Any = None
    model_version: str | None = None
    processing_time_ms: float | None = None
    error: str | None = None
    response: Any = None  # the whole answer as datason read it (the error envelope on a refusal)

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclasses.dataclass(frozen=True, kw_only=True)
class FormField:
    """One input of a prediction form, from a property of the features schema."""

    name: str
    kind: str  # "number", "integer", "string", "boolean", "enum", "json"
    required: bool
    example: Any  # a value the schema accepts (the default, first example or option, else made inside the bounds)
    default: Any = None  # the schema's own default or first example; None when it gives neither
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    options: tuple[Any, ...] = ()
    description: str = ""


class ServiceClient:
    """A datason service at ``url`` (``http://127.0.0.1:8000``); every call is one HTTP request."""

    def __init__(
        self, url: str, *, timeout: float = 5.0, request_prefix: str = "datason-", api_key: str | None = None
    ) -> None:
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ServiceUnreachableError(f"the service URL must start with http:// or https://, got {url!r}")
        self.url = url
        self.timeout = timeout
        self.request_prefix = request_prefix
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        # sent as X-API-Key on every request (a service with access control on); never shown or logged
        self._auth = {"X-API-Key": key} if key else {}
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # --- reading -------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        body = self._json("/health")
        if not isinstance(body, dict) or "model_id" not in body or "total_requests" not in body:
            raise ServiceResponseError(f"{self.url}/health is not a datason service's health document")
        return body

    def metrics(self) -> MetricsSnapshot:
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError('reading /metrics needs prometheus_client: pip install "datason[dashboard]"') from exc
        raw = self._read("/metrics")
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
        body = self._json("/openapi.json")
        if not isinstance(body, dict) or not isinstance(body.get("paths"), dict):
            raise ServiceResponseError(f"{self.url}/openapi.json is not an OpenAPI document")
        return body

    def features_schema(self, document: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The JSON Schema of ``/predict``'s ``features`` (refs resolved) in ``document`` (default: the
        service's ``/openapi.json``); None when the service declares none. Raises ``ServiceResponseError``
        when the document has no ``POST /predict`` taking JSON."""
        doc = document if document is not None else self.openapi()
        components = doc.get("components", {}).get("schemas", {})
        try:
            body = doc["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        except (KeyError, TypeError):
            raise ServiceResponseError(f"{self.url}/openapi.json has no POST /predict with a JSON body") from None
        request = _resolve(body, components)
        properties = request.get("properties") if isinstance(request, dict) else None
        features = properties.get("features") if isinstance(properties, dict) else None
        return features if isinstance(features, dict) and features else None

    def versions(self, model_id: str) -> list[str]:
        """The versions the service's OIP model metadata lists (empty when it does not answer OIP)."""
        try:
            body = self._json(f"/v2/models/{urllib.parse.quote(model_id, safe='')}")
        except ServiceResponseError:
            return []
        versions = body.get("versions") if isinstance(body, dict) else None
        return [str(v) for v in versions] if isinstance(versions, list) else []

    # --- predicting ----------------------------------------------------------------------------------
    def predict(self, features: Any, *, source: str = "json", request_id: str | None = None) -> PredictionResult:
        """``POST /predict`` with ``features`` (any datason-serializable value, sent as plain JSON)."""
        rid = request_id or f"{self.request_prefix}{uuid.uuid4().hex[:16]}"
        body = dumps({"features": features}, get_api_config().replace(sort_keys=False)).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": TYPED_MEDIA_TYPE, "X-Request-ID": rid}
        sent = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        status, reply_headers, raw = self._request("POST", "/predict", body, headers)
        elapsed = 1000.0 * (time.perf_counter() - started)
        rid = reply_headers.get("x-request-id", rid)
        common: dict[str, Any] = {"source": source, "status": status, "sent_at": sent, "round_trip_ms": elapsed}
        if status == 200:
            try:
                reply = loads(raw)
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
                response=reply,
            )
        envelope = _json_or_none(raw)
        message = _error_message(envelope) or raw[:200].decode("utf-8", "replace").strip() or f"HTTP {status}"
        return PredictionResult(**common, request_id=rid, error=message, response=envelope)

    # --- HTTP ----------------------------------------------------------------------------------------
    def _read(self, path: str) -> bytes:
        """The body of ``GET path``; any status but 200 is a ``ServiceResponseError`` with the service's message."""
        status, _, raw = self._request("GET", path)
        if status != 200:
            message = _error_message(_json_or_none(raw))
            error = ServiceResponseError(
                f"{self.url}{path} answered HTTP {status}" + (f": {message}" if message else "")
            )
            error.status = status
            raise error
        return raw

    def _json(self, path: str) -> Any:
        body = _json_or_none(self._read(path))
        if body is None:
            raise ServiceResponseError(f"{self.url}{path} did not answer JSON")
        return body

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.url + path, data=body, method=method, headers={**(headers or {}), **self._auth}
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
        except urllib.error.HTTPError as exc:  # an answer with an error status: the caller reads it
            with exc:
                return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError | socket.timeout):
                message = f"the datason service at {self.url} did not answer within {self.timeout:g} s"
            else:
                message = f"cannot reach the datason service at {self.url} ({reason})"
            raise ServiceUnreachableError(message) from None


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _error_message(envelope: Any) -> str | None:
    """The ``error`` of datason's error envelope, when ``envelope`` is one."""
    message = envelope.get("error") if isinstance(envelope, dict) else None
    return message if isinstance(message, str) and message else None


def _resolve(schema: Any, components: Mapping[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """``schema`` with local ``#/components/schemas/...`` refs replaced; a ref met inside itself stays a ref."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF) and ref not in seen and len(seen) < 32:
            target = components.get(ref[len(_REF) :])
            if isinstance(target, dict):
                merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
                return _resolve(merged, components, (*seen, ref))
        return {k: _resolve(v, components, seen) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_resolve(v, components, seen) for v in schema]
    return schema


# --- forms ---------------------------------------------------------------------------------------------------
def form_fields(schema: Mapping[str, Any] | None) -> list[FormField] | None:
    """The inputs of a form for an object schema, in its order; None when it is not an object of named
    properties (then JSON or a file is the way)."""
    if not schema or schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        return None
    required = set(schema.get("required", ()))
    fields = []
    for name, raw in schema["properties"].items():
        prop = _plain(raw)
        kind = _kind(prop)
        low = high = None
        xlow = xhigh = False
        if kind in ("number", "integer"):
            low, high = prop.get("minimum"), prop.get("maximum")
            if _is_number(prop.get("exclusiveMinimum")):
                low, xlow = prop["exclusiveMinimum"], True
            if _is_number(prop.get("exclusiveMaximum")):
                high, xhigh = prop["exclusiveMaximum"], True
        options = tuple(prop["enum"]) if kind == "enum" and "enum" in prop else (prop.get("const"),)
        default = prop.get("default")
        if default is None and isinstance(prop.get("examples"), list) and prop["examples"]:
            default = prop["examples"][0]
        field = FormField(
            name=str(name),
            kind=kind,
            required=name in required,
            example=None,
            default=default,
            minimum=low,
            maximum=high,
            exclusive_minimum=xlow,
            exclusive_maximum=xhigh,
            options=options if kind == "enum" else (),
            description=str(prop.get("description") or prop.get("title") or ""),
        )
        fields.append(dataclasses.replace(field, example=_example(field, prop)))
    return fields


def form_features(fields: Sequence[FormField], values: Mapping[str, Any]) -> dict[str, Any]:
    """The features a form holds (``values`` by field name): an empty field is left out (the service names a
    required one as missing), an optional string left blank too, a whole float of an integer field is an
    ``int``, a JSON field's text is read by ``datason.loads`` (typed JSON too). A JSON field that does not
    parse raises ``DeserializationError`` naming the field."""
    features: dict[str, Any] = {}
    for field in fields:
        value = values.get(field.name)
        if value is None or (isinstance(value, str) and not value.strip() and field.kind in ("json", "enum")):
            continue
        if value == "" and field.kind == "string" and not field.required:
            continue
        if field.kind == "integer" and isinstance(value, float) and value.is_integer():
            value = int(value)
        elif field.kind == "json" and isinstance(value, str):
            try:
                value = loads(value)
            except DatasonError as exc:
                raise DeserializationError(
                    f"{field.name}: {exc.reason}", path=exc.path, type_name=exc.type_name
                ) from None
        features[field.name] = value
    return features


def request_features(body: Any, fields: Sequence[FormField] | None = None) -> Any:
    """The features of ``body``: a whole request body ``{"features": ...}`` gives its ``features`` (unless the
    schema has a field of that name); anything else is the features as they are."""
    named = {f.name for f in fields or ()}
    if isinstance(body, dict) and "features" in body and "features" not in named:
        return body["features"]
    return body


def _plain(prop: Any) -> dict[str, Any]:
    """A property without its ``null`` alternative (pydantic's ``Optional``) or a lone ``allOf`` wrapper."""
    if not isinstance(prop, dict):
        return {}
    for key in ("anyOf", "oneOf", "allOf"):
        options = prop.get(key)
        if isinstance(options, list) and options:
            kept = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            if len(kept) == 1 and isinstance(kept[0], dict):
                rest = {k: v for k, v in prop.items() if k != key}
                return _plain({**kept[0], **rest})
    kind = prop.get("type")
    if isinstance(kind, list):  # ["number", "null"]
        kinds = [k for k in kind if k != "null"]
        if len(kinds) == 1:
            return {**prop, "type": kinds[0]}
    return prop


def _kind(prop: Mapping[str, Any]) -> str:
    if (isinstance(prop.get("enum"), list) and prop["enum"]) or "const" in prop:
        return "enum"
    if any(k in prop for k in ("anyOf", "oneOf", "allOf")):
        return "json"  # still a union: its text
    kind = prop.get("type")
    return kind if kind in _SCALARS else "json"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _example(field: FormField, prop: Mapping[str, Any]) -> Any:
    """A value the schema accepts: its default, first example, first option; else one made from its type (1
    moved inside the bounds for numbers, ``minLength`` x's for text, an empty array or object)."""
    if field.default is not None:
        return field.default
    if field.options:
        return field.options[0]
    if field.kind == "boolean":
        return False
    if field.kind == "string":
        return "x" * int(prop.get("minLength", 0))
    if field.kind == "json":
        return {"array": [], "object": {}}.get(str(prop.get("type")))
    value = 1.0
    step = 1.0 if field.kind == "integer" else 0.1
    if field.minimum is not None and (value < field.minimum or (field.exclusive_minimum and value <= field.minimum)):
        value = float(field.minimum) + (step if field.exclusive_minimum else 0.0)
    if field.maximum is not None and (value > field.maximum or (field.exclusive_maximum and value >= field.maximum)):
        value = float(field.maximum) - (step if field.exclusive_maximum else 0.0)
    return int(value) if field.kind == "integer" else value
