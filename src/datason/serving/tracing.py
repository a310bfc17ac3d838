"""OpenTelemetry tracing of the request pipeline: on with ``ServingConfig(tracing=True)``, off (and free) by default.

What a traced ``ModelService`` records, through ``opentelemetry-api`` (``pip install "datason[tracing]"``):

- **One request span** per prediction request (``handle``, and ``reject_request`` for requests refused before
  their body was read), named ``POST {http.route}`` (``POST /predict``, ``POST /v2/models/{name}/infer``) as
  OpenTelemetry's HTTP server conventions say, of kind SERVER; of kind INTERNAL when the hosting framework's own
  instrumentation already opened a span (it is then the parent). Attributes: ``http.request.method``,
  ``url.path``, ``http.route``, ``http.response.status_code``, ``client.address``, ``user_agent.original``,
  ``error.type`` (the status code, for 4xx and 5xx), and datason's ``datason.protocol``, ``datason.model_id``,
  ``datason.model_version``, ``datason.request_id`` (and ``datason.shadow`` on a shadow copy of a request).
- **Four children** of it, in pipeline order: ``datason.decode`` (the wire format read within the limits),
  ``datason.validate`` (the schema or OIP input specs; empty for protocols with nothing to validate),
  ``datason.predict`` (absent for a cache hit; ``datason.batch_size`` with micro-batching, under the request
  that opened the batch) and ``datason.encode`` (the protocol's response).
- **W3C trace context** in and out: a request's ``traceparent``/``tracestate`` headers make its span a child of
  the caller's (the trace continues; read by the global propagator, so ``OTEL_PROPAGATORS`` can add B3 or
  others); every traced response carries a ``traceparent`` (and ``tracestate``) header naming the request span.
- **Errors**: the stage that failed (decode, validate, predict, encode) gets status ERROR and an ``exception``
  event holding the exception's class and the client-safe message of the answer (rules and paths, never request
  values; a failing predict's own message and traceback are never recorded: they may quote its input). The
  request span gets ERROR for a 5xx; for a 4xx it keeps status UNSET with ``error.type``, as the HTTP server
  conventions require (the client's fault is not the server's error).
- **Log lines**: while a request is traced, its JSON log line carries ``trace_id`` and ``span_id``.

Where spans go: the global ``TracerProvider`` (``opentelemetry.trace.set_tracer_provider``, or the one
``opentelemetry-instrument`` sets up). When none is set and an OTLP endpoint is named by the standard variables
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, or ``OTEL_TRACES_EXPORTER=otlp``),
``setup_provider`` sets one up: the SDK's ``TracerProvider`` (resource from ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES``, ``service.name`` defaulting to the model id), a ``BatchSpanProcessor`` and the
OTLP/HTTP exporter, which reads every other ``OTEL_EXPORTER_OTLP_*`` variable itself. ``OTEL_SDK_DISABLED=true``
turns that off. With neither, spans are not recorded but ``traceparent`` is still passed on.

Off, nothing here is imported and the pipeline is the same code: ``instrument`` replaces, on one service
instance, ``handle``, ``reject_request`` and ``predict`` by traced wrappers, and each protocol's adapter on its
first request (so an adapter an integration installs after construction, as KServe's and Seldon's do, is
traced too).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .adapters import Adapter, Parsed, Rendered
from .errors import ServingError
from .routes import ROUTES

if TYPE_CHECKING:
    from .service import ModelService, ServingResponse

__all__ = ["current_ids", "instrument", "setup_provider"]

INSTRUMENTATION = "datason.serving"
_LOG = logging.getLogger("datason.serving")
_OTLP_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_HINT = 'tracing needs OpenTelemetry: pip install "datason[tracing]"'


def _api() -> Any:
    try:
        from opentelemetry import trace
    except ImportError as exc:
        raise ImportError(_HINT) from exc
    return trace


def setup_provider(service_name: str, environ: dict[str, str] | None = None) -> str:
    """Make sure spans have somewhere to go; returns what it found or did.

    ``"global"``: a TracerProvider was already set (kept as is). ``"otlp"``: none was set and the ``OTEL_*``
    variables name an OTLP endpoint, so the SDK's provider with an OTLP/HTTP exporter is now the global one.
    ``"disabled"``: ``OTEL_SDK_DISABLED`` is true. ``"none"``: nothing records spans (traceparent still flows).
    """
    trace = _api()
    env = os.environ if environ is None else environ
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return "global"
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "disabled"
    exporters = [e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()]
    if "otlp" not in exporters and not any(env.get(name) for name in _OTLP_VARS):
        return "none"
    if exporters and "otlp" not in exporters:  # e.g. OTEL_TRACES_EXPORTER=none or console: not ours to build
        return "none"
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ImportError(
            'an OTLP endpoint is set (OTEL_EXPORTER_OTLP_*): pip install "datason[tracing]" for the SDK and exporter'
        ) from exc
    named = env.get("OTEL_SERVICE_NAME") or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
    resource = Resource.create({} if named else {"service.name": service_name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return "otlp"


def current_ids() -> dict[str, str] | None:
    """``{"trace_id", "span_id"}`` of the current span (hex, as in ``traceparent``), None outside one."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return {"trace_id": trace.format_trace_id(context.trace_id), "span_id": trace.format_span_id(context.span_id)}


def instrument(service: ModelService) -> None:
    """Trace ``service`` (its config has ``tracing=True``): wrap its pipeline's steps on this instance."""
    trace = _api()
    from opentelemetry import context as otel_context
    from opentelemetry import propagate
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from .. import __version__

    cfg = service.config
    how = setup_provider(cfg.model_id)
    if how == "none":
        _LOG.warning(
            "tracing is on but no TracerProvider is set and no OTEL_EXPORTER_OTLP_ENDPOINT is given: "
            "spans are not recorded (traceparent is still passed on)"
        )
    tracer = trace.get_tracer(INSTRUMENTATION, __version__)
    service._log.trace_ids = current_ids
    adapters = service.adapters
    batched = cfg.batch_max_size > 1
    predict = service.predict
    service.predict = _traced_async(predict, tracer, batched) if service._async else _traced(predict, tracer, batched)
    fixed = {
        "datason.model_id": cfg.model_id,
        "datason.model_version": cfg.model_version,
        "http.request.method": "POST",
    }
    routes = _RouteNames()
    handle = service.handle
    reject = service.reject_request
    server, internal = trace.SpanKind.SERVER, trace.SpanKind.INTERNAL
    w3c = TraceContextTextMapPropagator()  # responses carry W3C headers whatever OTEL_PROPAGATORS reads

    def start(headers: dict[str, str], client: str | None, protocol: str, path: str | None) -> tuple[Any, Any]:
        adapter = adapters.get(protocol)
        if adapter is not None and type(adapter) is not _TracedAdapter:  # also one an integration put in later
            adapters[protocol] = _TracedAdapter(adapter, tracer)
        current = trace.get_current_span()
        if current.get_span_context().is_valid:  # a framework's own instrumentation opened the request's span
            parent, kind = None, internal
        else:
            parent, kind = propagate.extract(headers), server
        route = routes.route(protocol, path)
        attributes: dict[str, Any] = {**fixed, "datason.protocol": protocol, "url.path": path or route}
        if route:
            attributes["http.route"] = route
        if client:
            attributes["client.address"] = client
        agent = headers.get("user-agent")
        if agent:
            attributes["user_agent.original"] = agent
        span = tracer.start_span(f"POST {route}" if route else "POST", parent, kind, attributes)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        return span, token

    def finish(span: Any, token: Any, response: ServingResponse) -> ServingResponse:
        otel_context.detach(token)
        status = response.status
        span.set_attribute("http.response.status_code", status)
        for key, value in response.headers:
            if key == "x-request-id":
                span.set_attribute("datason.request_id", value)
                break
        if status >= 400:
            span.set_attribute("error.type", str(status))
            if status >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
        carrier: dict[str, str] = {}
        w3c.inject(carrier, trace.set_span_in_context(span))
        response.headers.extend(carrier.items())
        span.end()
        return response

    def failed(span: Any, token: Any, exc: BaseException) -> None:
        otel_context.detach(token)
        span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
        span.set_attribute("error.type", type(exc).__name__)
        span.end()

    async def traced_handle(
        body: bytes,
        headers: dict[str, str],
        client: str | None,
        protocol: str = "datason",
        path: str | None = None,
        **kwargs: Any,
    ) -> ServingResponse:
        span, token = start(headers, client, protocol, path)
        if kwargs.get("shadow"):  # a copy of a request another model version answered (datason.serving.models)
            span.set_attribute("datason.shadow", True)
        try:
            response = await handle(body, headers, client, protocol, path, **kwargs)
        except BaseException as exc:  # cancelled (client gone): handle answers every error itself
            failed(span, token, exc)
            raise
        return finish(span, token, response)

    def traced_reject(
        error: ServingError,
        *,
        headers: Any,
        client: str | None,
        protocol: str = "datason",
        path: str | None = None,
        **kwargs: Any,
    ) -> ServingResponse:
        lower = {k.lower(): v for k, v in headers.items()}
        span, token = start(lower, client, protocol, path)
        try:
            response = reject(error, headers=lower, client=client, protocol=protocol, path=path, **kwargs)
        except BaseException as exc:
            failed(span, token, exc)
            raise
        return finish(span, token, response)

    # On this instance only: the class's methods, and every untraced service, stay as they are.
    vars(service)["handle"] = traced_handle
    vars(service)["reject_request"] = traced_reject


class _RouteNames:
    """The route template (``http.route``) of a prediction path, per protocol, remembered (bounded)."""

    def __init__(self) -> None:
        self._patterns: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        for r in ROUTES:
            if r.kind == "predict":
                parts = re.split(r"\{[^}]*\}", r.path.lstrip("/"))
                regex = "(?:^|/)" + "[^/]+".join(re.escape(part) for part in parts) + "$"
                self._patterns.setdefault(r.protocol, []).append((re.compile(regex), r.path))
        self._seen: dict[tuple[str, str | None], str] = {}

    def route(self, protocol: str, path: str | None) -> str:
        key = (protocol, path)
        found = self._seen.get(key)
        if found is not None:
            return found
        patterns = self._patterns.get(protocol, ())
        if path is None:
            found = patterns[0][1] if patterns else ""
        else:  # a path under a prefix (Ray Serve's route_prefix, a mount) ends with the route
            found = next((template for regex, template in patterns if regex.search(path)), "")
        if len(self._seen) < 1024:
            self._seen[key] = found
        return found


def _record(span: Any, exc: BaseException, trace: Any) -> None:
    """Status ERROR and an ``exception`` event: the class, and the answer's client-safe message only."""
    kind = type(exc).__name__
    attributes = {"exception.type": kind, "exception.message": str(exc) if isinstance(exc, ServingError) else ""}
    if isinstance(exc, ServingError):
        attributes["datason.error_kind"] = exc.kind
    span.add_event("exception", attributes)
    span.set_status(trace.Status(trace.StatusCode.ERROR, kind))


def _traced(predict: Callable[[Any], Any], tracer: Any, batched: bool) -> Callable[[Any], Any]:
    """``predict`` in a ``datason.predict`` span (a sync function stays sync: it may run in a worker thread)."""
    from opentelemetry import trace

    def traced_predict(features: Any) -> Any:
        with _predict_span(tracer, features, batched) as span:
            try:
                return predict(features)
            except BaseException as exc:
                _record_predict(span, exc, trace)
                raise

    traced_predict.__wrapped__ = predict  # type: ignore[attr-defined]
    return traced_predict


def _traced_async(predict: Callable[[Any], Any], tracer: Any, batched: bool) -> Callable[[Any], Any]:
    """``predict`` (a coroutine function, or an object with an async ``__call__``) in a ``datason.predict`` span."""
    from opentelemetry import trace

    async def traced_predict(features: Any) -> Any:
        with _predict_span(tracer, features, batched) as span:
            try:
                return await predict(features)
            except BaseException as exc:
                _record_predict(span, exc, trace)
                raise

    traced_predict.__wrapped__ = predict  # type: ignore[attr-defined]
    return traced_predict


def _predict_span(tracer: Any, features: Any, batched: bool) -> Any:
    """The current span around one predict call: spans predict opens itself become its children."""
    attributes = {"datason.batch_size": len(features)} if batched else None
    return tracer.start_as_current_span(
        "datason.predict", attributes=attributes, record_exception=False, set_status_on_exception=False
    )


def _record_predict(span: Any, exc: BaseException, trace: Any) -> None:
    """A failing predict: its class only (its message may quote the input), as the client's answer names it."""
    if isinstance(exc, ServingError):  # raised on purpose with a client-safe message
        _record(span, exc, trace)
        return
    kind = type(exc).__name__
    attributes = {"exception.type": kind, "exception.message": f"prediction failed ({kind})"}
    span.add_event("exception", attributes)
    span.set_status(trace.Status(trace.StatusCode.ERROR, kind))


class _TracedAdapter(Adapter):
    """An adapter whose ``parse`` is two spans (decode, validate) and whose ``render`` is one (encode)."""

    def __init__(self, inner: Adapter, tracer: Any) -> None:  # no super().__init__: attributes are the inner's
        from opentelemetry import trace

        self.inner = inner
        self.name = inner.name
        self.envelope_depth = inner.envelope_depth
        self._tracer = tracer
        self._trace = trace

    def __getattr__(self, name: str) -> Any:  # model_id, decoder, codec...: the inner adapter's
        if name == "inner":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    # Leaf spans: started under the current (request) span but not made current themselves, which saves the
    # context attach and detach of each (nothing runs inside them that could open a span).
    def parse(self, body: bytes, headers: dict[str, str]) -> Parsed:
        span = self._tracer.start_span("datason.decode", attributes={"datason.body_bytes": len(body)})
        try:
            read = self.inner.read(body, headers)
        except BaseException as exc:
            _record(span, exc, self._trace)
            raise
        finally:
            span.end()
        span = self._tracer.start_span("datason.validate")
        try:
            return self.inner.check(read, headers)
        except BaseException as exc:
            _record(span, exc, self._trace)
            raise
        finally:
            span.end()

    def read(self, body: bytes, headers: dict[str, str]) -> Any:
        return self.inner.read(body, headers)

    def check(self, read: Any, headers: dict[str, str]) -> Parsed:
        return self.inner.check(read, headers)

    def render(self, result: Any, parsed: Parsed, rid: str, elapsed: float) -> Rendered:
        span = self._tracer.start_span("datason.encode")
        try:
            rendered = self.inner.render(result, parsed, rid, elapsed)
            span.set_attribute("datason.body_bytes", len(rendered.body))
            return rendered
        except BaseException as exc:
            _record(span, exc, self._trace)
            raise
        finally:
            span.end()

    def error(self, rid: str, error: ServingError) -> bytes:
        return self.inner.error(rid, error)
