"""ModelService: a user's predict function wrapped with validation, limits, metrics, logs, cache and batching.

Framework-agnostic: it takes a body, headers and the peer address and returns a ``ServingResponse``
(status, headers, body bytes), so any server (the ASGI app here, BentoML, Ray Serve, KServe, Seldon)
can wrap it. Everything that does not depend on the request is prepared at construction.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import orjson

from ..api import dumpb
from ..errors import DatasonError
from .batching import MicroBatcher
from .cache import PredictionCache
from .config import ServingConfig
from .errors import (
    RateLimitedError,
    ResponseSerializationError,
    ServingError,
    error_body,
    prediction_failed,
    utc_timestamp,
)
from .metrics import ServiceMetrics
from .ratelimit import RateLimiter, client_identity
from .requestlog import RequestLogger, request_id
from .validation import RequestDecoder

__all__ = ["ModelService", "ServingResponse"]

JSON = "application/json"
_TRACE = logging.getLogger("datason.serving.predict")


class ServingResponse(NamedTuple):
    """What to send back: HTTP status, headers (lower-case names) and the JSON body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class ModelService:
    """Serves ``predict`` (sync or async) under ``config``; ``schema`` is a JSON Schema dict or a type.

    ``predict`` receives the decoded features (the model instance when ``schema`` is a pydantic model
    or another type); with ``batch_max_size > 1`` it receives a list of them and returns a list.
    """

    def __init__(
        self,
        predict: Callable[[Any], Any],
        *,
        config: ServingConfig | None = None,
        schema: Any = None,
    ) -> None:
        if not callable(predict):
            raise TypeError("predict must be callable")
        cfg = ServingConfig.from_env() if config is None else config
        if not isinstance(cfg, ServingConfig):
            raise TypeError("config must be a ServingConfig")
        self.config = cfg
        self.predict = predict
        self._async = _is_async(predict)
        self._in_thread = cfg.sync_in_thread
        self._decoder = RequestDecoder(cfg, schema)
        self._out = cfg.serialization
        self._limiter = RateLimiter(cfg.rate_limit, cfg.rate_limit_strategy) if cfg.rate_limit else None
        self._client_header = cfg.client_id_header.lower() if cfg.client_id_header else None
        self._metrics = ServiceMetrics(cfg.model_id, cfg.latency_buckets)
        self._log = RequestLogger(cfg.model_id, log_payloads=cfg.log_payloads, redact_keys=cfg.redact_keys)
        self._cache = PredictionCache(cfg.cache_size, cfg.cache_ttl) if cfg.cache_size else None
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
        self._version = orjson.dumps(cfg.model_version)
        self._lock = threading.Lock()
        self._total = self._server_errors = self._client_errors = 0
        self._latency_sum = 0.0
        self._started = self._stopped = False
        self._started_at = time.monotonic()

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

    # -- requests --------------------------------------------------------------------------------------

    async def predict_request(self, body: bytes, *, headers: Mapping[str, str], client: str | None) -> ServingResponse:
        """Answer one ``POST /predict`` body; ``client`` is the peer address (None if unknown)."""
        return await self.handle(body, {k.lower(): v for k, v in headers.items()}, client)

    async def handle(self, body: bytes, headers: dict[str, str], client: str | None) -> ServingResponse:
        """``predict_request`` for headers already keyed by lower-case names (what ASGI servers give)."""
        t0 = time.perf_counter()
        if not self._started:
            self.start()
        rid = request_id(headers.get("x-request-id"))
        who = client_identity(headers, self._client_header, client)
        raw: Any = None
        try:
            if self._limiter is not None:
                retry = self._limiter.check(who)
                if retry is not None:
                    raise RateLimitedError(retry)
            raw = self._decoder.parse(body)
            features = self._decoder.check(raw)
            prediction: bytes | None = None
            key: bytes | None = None
            if self._cache is not None:
                key = self._cache.key(features)
                prediction = self._cache.get(key) if key is not None else None
                self._metrics.cache(prediction is not None)
            if prediction is None:
                if self._batcher is not None:
                    result = await self._batcher.submit(features)
                else:
                    result = await self._predict_one(features)
                prediction = self._dump(result)
                if key is not None and self._cache is not None:
                    self._cache.put(key, prediction)
        except ServingError as exc:
            return self._failure(exc, rid, who, t0, raw)
        except Exception:  # a fault of the service itself: still an envelope, never a traceback
            return self._failure(ServingError("internal error"), rid, who, t0, raw)
        elapsed = time.perf_counter() - t0
        out = b"".join(
            (
                b'{"request_id":"',
                rid.encode(),
                b'","prediction":',
                prediction,
                b',"model_version":',
                self._version,
                b',"timestamp":"',
                utc_timestamp().encode(),
                b'","processing_time_ms":',
                repr(round(elapsed * 1000.0, 3)).encode(),
                b"}",
            )
        )
        self._count(200, elapsed, None)
        if self._log.enabled(logging.INFO):
            self._log.log(logging.INFO, rid, who, "POST", "/predict", 200, elapsed * 1000.0, payload=raw)
        return ServingResponse(200, [("content-type", JSON), ("x-request-id", rid)], out)

    def reject_request(self, error: ServingError, *, headers: Mapping[str, str], client: str | None) -> ServingResponse:
        """Answer a ``/predict`` request refused before its body was read (e.g. 413 from Content-Length)."""
        lower = {k.lower(): v for k, v in headers.items()}
        if not self._started:
            self.start()
        rid = request_id(lower.get("x-request-id"))
        return self._failure(error, rid, client_identity(lower, self._client_header, client), time.perf_counter())

    def error_response(
        self, error: ServingError, *, headers: Mapping[str, str], client: str | None, method: str, path: str
    ) -> ServingResponse:
        """The envelope for a request that is not a prediction (404, 405); logged, not counted in metrics."""
        lower = {k.lower(): v for k, v in headers.items()}
        rid = request_id(lower.get("x-request-id"))
        who = client_identity(lower, self._client_header, client)
        level = self._log.level(error.status)
        if self._log.enabled(level):
            self._log.log(level, rid, who, method, path, error.status, 0.0, error=str(error), kind=error.kind)
        headers_out = [("content-type", JSON), ("x-request-id", rid)]
        return ServingResponse(error.status, headers_out, error_body(rid, str(error)))

    async def _predict_one(self, features: Any) -> Any:
        try:
            return await self._invoke(features)
        except Exception as exc:
            raise self._predict_failed(exc) from None

    async def _invoke(self, arg: Any) -> Any:
        """Call predict: awaited when async, in a worker thread when sync (unless configured inline)."""
        if self._async:
            return await self.predict(arg)
        if self._in_thread:
            result = await asyncio.get_running_loop().run_in_executor(None, self.predict, arg)
        else:
            result = self.predict(arg)
        if inspect.isawaitable(result):
            result = await result
        return result

    def _predict_failed(self, exc: BaseException) -> ServingError:
        if _TRACE.isEnabledFor(logging.DEBUG):
            _TRACE.debug("predict raised %s", type(exc).__name__, exc_info=exc)
        return prediction_failed(exc)

    def _dump(self, result: Any) -> bytes:
        try:
            return dumpb(result, self._out)
        except DatasonError as exc:
            raise ResponseSerializationError(
                f"prediction could not be serialized: {exc.reason}",
                path="$.prediction" + exc.path[1:],
                type_name=exc.type_name,
            ) from None
        except Exception as exc:
            raise ResponseSerializationError(f"prediction could not be serialized ({type(exc).__name__})") from None

    def _failure(self, exc: ServingError, rid: str, who: str, t0: float, raw: Any = None) -> ServingResponse:
        elapsed = time.perf_counter() - t0
        status = exc.status
        message = str(exc)
        self._count(status, elapsed, exc.kind)
        headers = [("content-type", JSON), ("x-request-id", rid)]
        if isinstance(exc, RateLimitedError):
            headers.append(("retry-after", str(exc.retry_after)))
        level = self._log.level(status)
        if self._log.enabled(level):
            self._log.log(
                level, rid, who, "POST", "/predict", status, elapsed * 1000.0, error=message, kind=exc.kind, payload=raw
            )
        return ServingResponse(status, headers, error_body(rid, message))

    def _count(self, status: int, elapsed: float, kind: str | None) -> None:
        with self._lock:
            self._total += 1
            self._latency_sum += elapsed
            if status >= 500:
                self._server_errors += 1
            elif status >= 400:
                self._client_errors += 1
        self._metrics.request(status < 400, elapsed, kind)

    # -- health, readiness, metrics --------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Counts since start: ``status`` is ``degraded`` when the 5xx share exceeds ``degraded_error_rate``."""
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
        return {
            "status": "degraded" if degraded else "healthy",
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

    def metrics(self) -> tuple[bytes, str]:
        """The Prometheus text of this service's registry and its content type."""
        return self._metrics.render(), self._metrics.content_type

    @property
    def registry(self) -> Any:
        """This service's ``prometheus_client.CollectorRegistry`` (to expose it elsewhere)."""
        return self._metrics.registry

    def health_response(self) -> ServingResponse:
        """``GET /health``: always 200, whether healthy or degraded."""
        return ServingResponse(200, [("content-type", JSON)], orjson.dumps(self.health()))

    def ready_response(self) -> ServingResponse:
        """``GET /ready``: 200 once started, 503 before that and after shutdown."""
        ready = self.ready
        body = orjson.dumps(
            {"ready": ready, "model_id": self.config.model_id, "model_version": self.config.model_version}
        )
        return ServingResponse(200 if ready else 503, [("content-type", JSON)], body)

    def metrics_response(self) -> ServingResponse:
        """``GET /metrics`` in the Prometheus text format."""
        text, content_type = self.metrics()
        return ServingResponse(200, [("content-type", content_type)], text)


def _is_async(fn: Callable[..., Any]) -> bool:
    """Whether calling ``fn`` gives a coroutine: async functions and objects with an async ``__call__``."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - looking for an async __call__, not callability
    return call is not None and inspect.iscoroutinefunction(call)
