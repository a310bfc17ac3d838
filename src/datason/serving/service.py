"""ModelService: a user's predict function behind one request pipeline shared by every protocol.

The pipeline: authentication (when ``api_keys`` or ``jwt_key_file`` is set: ``datason.serving.auth``; scope
``predict``), rate limit (per key name and tier with authentication, else per client), inflate a compressed
body, parse and validate (the protocol's adapter), cache, batch, predict, encode (the adapter again), metrics,
one log line, and a security event for failures that are one (``datason.serving.security``). It is
framework-agnostic: it takes a body, headers and the peer address and returns a ``ServingResponse`` (status,
headers, body bytes), so any server (the ASGI app here, BentoML, Ray Serve, KServe, Seldon) can wrap it.
Everything that does not depend on the request is prepared at construction.
With ``tracing`` on, ``datason.serving.tracing`` puts the steps of the instance in OpenTelemetry spans (off:
nothing is imported or wrapped).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import threading
import time
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson

from .adapters import Adapter, Parsed, build_adapters
from .auth import Authenticator, Principal, unauthorized_headers
from .batching import MicroBatcher
from .cache import PredictionCache
from .compression import decompress
from .config import ServingConfig
from .errors import (
    RateLimitedError,
    ServingError,
    prediction_failed,
    utc_timestamp,
)
from .metrics import ServiceMetrics
from .ratelimit import client_identity
from .requestlog import RequestLogger, request_id
from .security import SecurityEvents
from .sharedstate import RedisPredictionCache, SharedState, rate_limiter
from .validation import RequestDecoder

__all__ = ["ModelService", "ServingResponse"]

JSON = "application/json"
_TRACE = logging.getLogger("datason.serving.predict")
# The path a log line names when the caller (an integration) does not say which route was called.
_PATHS = {
    "datason": "/predict",
    "oip": "/v2/models/{name}/infer",
    "kserve_v1": "/v1/models/{name}:predict",
    "seldon": "/api/v1.0/predictions",
    "mlflow": "/invocations",
}

#: ``sync_in_thread=None`` (auto): a sync predict runs inline while the moving average of its duration stays
#: under INLINE_BELOW seconds, and moves to a worker thread (for every later call) once one call takes longer
#: than THREAD_ABOVE or the average passes INLINE_BELOW. A thread hop costs about 80 µs of server CPU per
#: request (measured: the iris model, ~100 µs of predict, 323 vs 237 µs/request) and brings no parallelism to
#: a predict that holds the GIL; below half a millisecond, the loop is better off running it itself.
INLINE_BELOW = 500e-6
THREAD_ABOVE = 5e-3


def _awaitable(value: Any) -> bool:
    """What ``await`` accepts (``inspect.isawaitable`` without its ABC check, which costs more than a cheap
    predict): an object whose type has ``__await__``, or a generator-based coroutine."""
    t = type(value)
    return hasattr(t, "__await__") or (t is types.GeneratorType and inspect.isawaitable(value))


class ServingResponse(NamedTuple):
    """What to send back: HTTP status, headers (lower-case names) and the body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class ModelService:
    """Serves ``predict`` (sync or async) under ``config`` for every protocol in ``config.protocols``.

    ``schema`` (a JSON Schema dict, a pydantic model or a type) validates datason's ``/predict`` features;
    ``inputs`` and ``outputs`` (``datason.protocols.oip.TensorSpec``) describe and check OIP tensors and
    are listed in the model's metadata. ``predict`` receives the same kind of value whatever the protocol
    (see docs/protocols.md); with ``batch_max_size > 1`` it receives a list of them and returns a list.
    """

    def __init__(
        self,
        predict: Callable[[Any], Any],
        *,
        config: ServingConfig | None = None,
        schema: Any = None,
        inputs: Sequence[Any] = (),
        outputs: Sequence[Any] = (),
    ) -> None:
        if not callable(predict):
            raise TypeError("predict must be callable")
        cfg = ServingConfig.from_env() if config is None else config
        if not isinstance(cfg, ServingConfig):
            raise TypeError("config must be a ServingConfig")
        self.config = cfg
        self.predict = predict
        self.schema = schema
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self._async = _is_async(predict)
        self._in_thread = cfg.sync_in_thread
        self._auto = cfg.sync_in_thread is None
        self._cost = 0.0  # moving average of a sync predict's duration (auto mode)
        self._thread_next = True  # auto mode: the first call, of unknown cost, runs in a thread
        self.adapters: dict[str, Adapter] = build_adapters(
            cfg.protocols,
            model_id=cfg.model_id,
            model_version=cfg.model_version,
            serialization=cfg.serialization,
            decoder=RequestDecoder(cfg, schema),
            max_depth=cfg.max_depth,
            inputs=self.inputs,
            outputs=self.outputs,
        )
        self._metrics = ServiceMetrics(cfg.model_id, cfg.latency_buckets, tuple(self.adapters))
        # -- shared state (issue 18): with redis_url, limits and the cache live in Redis for every process --
        #: The service's Redis (``datason.serving.sharedstate.SharedState``), None: limits and cache in memory.
        self.shared = (
            SharedState(cfg.redis_url, model_id=cfg.model_id, registry=self.registry) if cfg.redis_url else None
        )
        limit, strategy = cfg.rate_limit, cfg.rate_limit_strategy
        self._limiter = rate_limiter(limit, strategy, self.shared, "rate") if limit else None
        self._client_header = cfg.client_id_header.lower() if cfg.client_id_header else None
        # With authentication on, an unauthenticated caller is named by its address (or a proxy's client
        # header), never by a hash of the credential it presented.
        header = self._client_header
        self._anon_header = None if header in ("x-api-key", "authorization") else header
        #: The access checks (``datason.serving.auth.Authenticator``), None when authentication is off.
        self.auth: Authenticator | None = (
            Authenticator(cfg, self._limiter, shared=self.shared) if cfg.auth_enabled else None
        )
        self._events = SecurityEvents(cfg.model_id, self._metrics.security_event)
        self._log = RequestLogger(
            cfg.model_id, model_version=cfg.model_version, log_payloads=cfg.log_payloads, redact_keys=cfg.redact_keys
        )
        self._cache: PredictionCache | RedisPredictionCache | None = None
        if cfg.cache_size and self.shared is not None:
            version = cfg.model_version
            self._cache = RedisPredictionCache(
                self.shared, ttl=cfg.cache_ttl, model_id=cfg.model_id, model_version=version
            )
        elif cfg.cache_size:
            self._cache = PredictionCache(cfg.cache_size, cfg.cache_ttl)
        self._batcher = (
            MicroBatcher(
                self._invoke,
                max_size=cfg.batch_max_size,
                max_wait=cfg.batch_max_wait_ms / 1000.0,
                on_batch=self._metrics.batch,
                on_error=self._predict_failed,
            )
            if cfg.batch_max_size > 1
            else None
        )
        self._lock = threading.Lock()
        self._total = self._server_errors = self._client_errors = 0
        self._latency_sum = 0.0
        self._started = self._stopped = False
        self._started_at = time.monotonic()
        # -- issue 18, tracing: off, nothing is imported and no method is wrapped (datason.serving.tracing)
        if cfg.tracing:
            from .tracing import instrument

            instrument(self)

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Mark the service ready (lifespan startup, or the first request)."""
        self._started, self._stopped = True, False
        self._started_at = time.monotonic()
        self._metrics.active_models.set(1)

    def stop(self) -> None:
        """Mark the service not ready (lifespan shutdown)."""
        self._stopped = True
        self._metrics.active_models.set(0)

    @property
    def ready(self) -> bool:
        """True once started and until stopped."""
        return self._started and not self._stopped

    def join(self, front: ModelService) -> None:
        """Serve as one version in a ``ModelSet`` whose first service is ``front``: share its access checks and
        rate limits (a client's limit holds across versions), and label metrics with ``model_version``."""
        self.auth = front.auth
        self._limiter = front._limiter
        self._metrics.model_version = self.config.model_version

    # -- requests --------------------------------------------------------------------------------------

    async def predict_request(
        self, body: bytes, *, headers: Mapping[str, str], client: str | None, protocol: str = "datason"
    ) -> ServingResponse:
        """Answer one prediction request of ``protocol``; ``client`` is the peer address (None if unknown)."""
        return await self.handle(body, {k.lower(): v for k, v in headers.items()}, client, protocol)

    def adapter(self, protocol: str) -> Adapter:
        """The adapter of ``protocol``; ValueError when the service does not answer it."""
        try:
            return self.adapters[protocol]
        except KeyError:
            raise ValueError(f"this service does not answer the {protocol} protocol") from None

    async def handle(
        self,
        body: bytes,
        headers: dict[str, str],
        client: str | None,
        protocol: str = "datason",
        path: str | None = None,
        *,
        principal: Principal | None = None,
        shadow: bool = False,
    ) -> ServingResponse:
        """``predict_request`` for headers already keyed by lower-case names (what ASGI servers give).

        ``path`` is the route called, for the log line (default: the protocol's prediction route). With
        authentication on, the caller is checked here (scope ``predict``) unless ``principal`` is the one the
        server already admitted (the ASGI app checks before reading the body). ``shadow``: a copy of a request
        another version answered (``datason.serving.models``), not counted again by the rate limits.
        """
        t0 = time.perf_counter()
        adapter = self.adapters.get(protocol) or self.adapter(protocol)
        if not self._started:
            self.start()
        rid = request_id(headers.get("x-request-id"))
        parsed: Parsed | None = None
        try:
            if self.auth is not None:
                if principal is None:
                    principal = self.admit(headers, client, "predict")
                limiter = self.auth.limiter(principal)
                if limiter is not None and not shadow:
                    retry = limiter.check(principal.name)
                    if retry is not None:
                        raise RateLimitedError(retry)
            elif self._limiter is not None and not shadow:
                retry = self._limiter.check(client_identity(headers, self._client_header, client))
                if retry is not None:
                    raise RateLimitedError(retry)
            encoding = headers.get("content-encoding")
            if encoding is not None:
                body = decompress(body, encoding, self.config.max_body_bytes)
            parsed = adapter.parse(body, headers)
            value = parsed.value
            cached: tuple[Any] | None = None
            key: bytes | None = None
            if self._cache is not None:
                key = self._cache.key(value)
                cached = self._cache.get(key) if key is not None else None
                self._metrics.cache(cached is not None)
            if cached is not None:
                result = cached[0]
            else:
                if self._batcher is not None:
                    result = await self._batcher.submit(value)
                else:  # the common cases (async, or a cheap sync predict run inline) called here, no extra frames
                    try:
                        if self._async:
                            result = await self.predict(value)
                        elif self._auto and not self._thread_next:
                            result = self._timed(value)
                            if _awaitable(result):
                                result = await result
                        else:
                            result = await self._invoke(value)
                    except ServingError:
                        raise
                    except Exception as exc:
                        raise self._predict_failed(exc) from None
                if key is not None and self._cache is not None:
                    self._cache.put(key, result)
            rendered = adapter.render(result, parsed, rid, time.perf_counter() - t0)
        except ServingError as exc:
            return self._failure(adapter, exc, rid, headers, client, t0, parsed, path, principal)
        except Exception:  # a fault of the service itself: still an envelope, never a traceback
            error = ServingError("internal error")
            return self._failure(adapter, error, rid, headers, client, t0, parsed, path, principal)
        elapsed = time.perf_counter() - t0
        self._count(adapter.name, 200, elapsed, None)
        if self._log.enabled(logging.INFO):
            who = self._who(headers, client, principal)
            payload = parsed.value if self._log.payloads else None
            self._log.log(
                logging.INFO,
                rid,
                who,
                "POST",
                path or _PATHS[adapter.name],
                200,
                elapsed * 1000.0,
                payload=payload,
                protocol=adapter.name,
            )
        out = [("content-type", rendered.content_type), ("x-request-id", rid), *rendered.headers]
        return ServingResponse(200, out, rendered.body)

    def reject_request(
        self,
        error: ServingError,
        *,
        headers: Mapping[str, str],
        client: str | None,
        protocol: str = "datason",
        path: str | None = None,
        principal: Principal | None = None,
    ) -> ServingResponse:
        """Answer a prediction request refused before its body was read (e.g. 413 from Content-Length).

        ``path`` is the route called and ``principal`` the caller already admitted, for the log line.
        """
        lower = {k.lower(): v for k, v in headers.items()}
        if not self._started:
            self.start()
        rid = request_id(lower.get("x-request-id"))
        t0 = time.perf_counter()
        return self._failure(self.adapter(protocol), error, rid, lower, client, t0, None, path, principal)

    def admit(self, headers: Mapping[str, str], client: str | None, scope: str) -> Principal:
        """The authenticated caller of a request allowed ``scope`` (headers keyed by lower-case names).

        Raises ``UnauthorizedError`` (401), ``ForbiddenError`` (403) or ``RateLimitedError`` (429: too many
        failed attempts from this client); ValueError when authentication is off.
        """
        if self.auth is None:
            raise ValueError("authentication is off for this service (no api_keys, no jwt_key_file)")
        return self.auth.admit(headers, client_identity(headers, self._anon_header, client), scope)

    def refuse_metrics(
        self, headers: Mapping[str, str], client: str | None, path: str = "/metrics"
    ) -> ServingResponse | None:
        """For ``/metrics`` answered outside ``ServingApp`` (Ray's deployment-wide one, LitServe's): with
        ``metrics_auth``, the 401/403/429 for a caller without the ``metrics`` scope; None when it may read them."""
        if self.auth is None or not self.config.metrics_auth:
            return None
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            self.admit(lower, client, "metrics")
        except ServingError as exc:
            return self.error_response(exc, headers=lower, client=client, method="GET", path=path)
        return None

    def _who(self, headers: Mapping[str, str], client: str | None, principal: Principal | None) -> str:
        """The client id of logs: the principal's name, else the client header's hash or the peer address."""
        if principal is not None:
            return principal.name
        return client_identity(headers, self._client_header if self.auth is None else self._anon_header, client)

    def error_response(
        self,
        error: ServingError,
        *,
        headers: Mapping[str, str],
        client: str | None,
        method: str,
        path: str,
        protocol: str = "datason",
    ) -> ServingResponse:
        """The envelope for a request that is not a prediction (404, 405); logged, not counted in metrics."""
        lower = {k.lower(): v for k, v in headers.items()}
        rid = request_id(lower.get("x-request-id"))
        adapter = self.adapters.get(protocol) or self.adapters["datason"]
        level = self._log.level(error.status)
        who = error.client if error.client is not None else self._who(lower, client, None)
        self._event(error, rid, who, None, method, path, adapter.name)
        if self._log.enabled(level):
            self._log.log(
                level,
                rid,
                who,
                method,
                path,
                error.status,
                0.0,
                error=str(error),
                kind=error.kind,
                protocol=adapter.name,
            )
        headers_out = [("content-type", JSON), ("x-request-id", rid), *unauthorized_headers(error)]
        if isinstance(error, RateLimitedError):
            headers_out.append(("retry-after", str(error.retry_after)))
        return ServingResponse(error.status, headers_out, adapter.error(rid, error))

    async def _invoke(self, arg: Any) -> Any:
        """Call predict: awaited when async; a sync one in a worker thread or inline (see ``INLINE_BELOW``)."""
        if self._async:
            return await self.predict(arg)
        if self._auto:
            result = await self._invoke_auto(arg)
        elif self._in_thread:
            # the request's context (its trace span, use_config) goes with predict into the thread
            ctx = contextvars.copy_context()
            result = await asyncio.get_running_loop().run_in_executor(None, ctx.run, self.predict, arg)
        else:
            result = self.predict(arg)
        if _awaitable(result):
            result = await result
        return result

    async def _invoke_auto(self, arg: Any) -> Any:
        if self._thread_next:
            ctx = contextvars.copy_context()
            return await asyncio.get_running_loop().run_in_executor(None, ctx.run, self._timed, arg)
        return self._timed(arg)

    def _timed(self, arg: Any) -> Any:
        """Run a sync predict and fold its duration into the moving average that picks inline or thread."""
        t0 = time.perf_counter()
        try:
            return self.predict(arg)
        finally:
            took = time.perf_counter() - t0
            self._cost = cost = 0.8 * self._cost + 0.2 * took if self._cost else took
            self._thread_next = took > THREAD_ABOVE or cost > INLINE_BELOW

    def _predict_failed(self, exc: BaseException) -> ServingError:
        if _TRACE.isEnabledFor(logging.DEBUG):
            _TRACE.debug("predict raised %s", type(exc).__name__, exc_info=exc)
        return prediction_failed(exc)

    def _failure(
        self,
        adapter: Adapter,
        exc: ServingError,
        rid: str,
        headers: dict[str, str],
        client: str | None,
        t0: float,
        parsed: Parsed | None = None,
        path: str | None = None,
        principal: Principal | None = None,
    ) -> ServingResponse:
        elapsed = time.perf_counter() - t0
        status = exc.status
        message = str(exc)
        self._count(adapter.name, status, elapsed, exc.kind)
        headers_out = [("content-type", JSON), ("x-request-id", rid), *unauthorized_headers(exc)]
        if isinstance(exc, RateLimitedError):
            headers_out.append(("retry-after", str(exc.retry_after)))
        level = self._log.level(status)
        who = exc.client if principal is None and exc.client is not None else self._who(headers, client, principal)
        self._event(exc, rid, who, principal, "POST", path or _PATHS[adapter.name], adapter.name)
        if self._log.enabled(level):
            payload = parsed.value if parsed is not None and self._log.payloads else None
            self._log.log(
                level,
                rid,
                who,
                "POST",
                path or _PATHS[adapter.name],
                status,
                elapsed * 1000.0,
                error=message,
                kind=exc.kind,
                payload=payload,
                protocol=adapter.name,
                detail=exc.detail,
            )
        return ServingResponse(status, headers_out, adapter.error(rid, exc))

    def _event(
        self,
        exc: ServingError,
        rid: str,
        who: str,
        principal: Principal | None,
        method: str,
        path: str,
        protocol: str,
    ) -> None:
        self._events.record(
            exc.kind,
            rid=rid,
            client=who,
            key_name=principal.name if principal is not None else exc.client,
            method=method,
            path=path,
            status=exc.status,
            protocol=protocol,
            auth_failures=exc.from_auth_failures if isinstance(exc, RateLimitedError) else False,
        )

    def _count(self, protocol: str, status: int, elapsed: float, kind: str | None) -> None:
        with self._lock:
            self._total += 1
            self._latency_sum += elapsed
            if status >= 500:
                self._server_errors += 1
            elif status >= 400:
                self._client_errors += 1
        self._metrics.request(status < 400, elapsed, kind, protocol)

    # -- health, readiness, metrics --------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Counts since start: ``status`` is ``degraded`` when the 5xx share exceeds ``degraded_error_rate``."""
        counts = self._metrics.totals()  # several workers (issue 18): the sums over all of them
        if counts is not None:
            total, errors, client_errors, latency = counts
        else:
            with self._lock:
                total, errors, client_errors, latency = (
                    self._total,
                    self._server_errors,
                    self._client_errors,
                    self._latency_sum,
                )
        cfg = self.config
        rate = errors / total if total else 0.0
        degraded = total >= cfg.min_requests_for_health and rate > cfg.degraded_error_rate
        shared = self.shared
        body: dict[str, Any] = {
            "status": "degraded" if degraded or (shared is not None and not shared.up) else "healthy",
            "model_id": cfg.model_id,
            "model_version": cfg.model_version,
            "ready": self.ready,
            "total_requests": total,
            "error_count": errors,
            "client_error_count": client_errors,
            "error_rate": round(rate, 6),
            "avg_latency_ms": round(latency / total * 1000.0, 3) if total else 0.0,
            "uptime_seconds": round(time.monotonic() - self._started_at, 3) if self._started else 0.0,
            "timestamp": utc_timestamp(),
        }
        if shared is not None:  # issue 18: whether Redis answers (limits and cache fall back while it does not)
            body["shared_state"] = shared.health()
        return body

    def metrics(self) -> tuple[bytes, str]:
        """The Prometheus text of this service's registry and its content type."""
        return self._metrics.render(), self._metrics.content_type

    @property
    def registry(self) -> Any:
        """This service's ``prometheus_client.CollectorRegistry`` (to expose it elsewhere)."""
        return self._metrics.registry

    def health_response(self, rid: str | None = None) -> ServingResponse:
        """``GET /health``: always 200, whether healthy or degraded."""
        return _answer(200, orjson.dumps(self.health()), rid)

    def ready_response(self, rid: str | None = None) -> ServingResponse:
        """``GET /ready``: 200 once started, 503 before that and after shutdown."""
        ready = self.ready
        cfg = self.config
        body = {"ready": ready, "model_id": cfg.model_id, "model_version": cfg.model_version}
        body["timestamp"] = utc_timestamp()
        return _answer(200 if ready else 503, orjson.dumps(body), rid)

    def metrics_response(self, rid: str | None = None) -> ServingResponse:
        """``GET /metrics`` in the Prometheus text format."""
        text, content_type = self.metrics()
        return _answer(200, text, rid, content_type)


def _answer(status: int, body: bytes, rid: str | None, content_type: str = JSON) -> ServingResponse:
    """A non-prediction response; every response carries an ``x-request-id`` (the client's, or a new one)."""
    return ServingResponse(status, [("content-type", content_type), ("x-request-id", request_id(rid))], body)


def _is_async(fn: Callable[..., Any]) -> bool:
    """Whether calling ``fn`` gives a coroutine: async functions and objects with an async ``__call__``."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - looking for an async __call__, not callability
    return call is not None and inspect.iscoroutinefunction(call)
