"""A predict function, or a model class, as a Ray Serve 2.x deployment that speaks datason.

``deployment(predict_or_class, config=..., schema=..., num_replicas=..., ...)`` returns an ordinary
``ray.serve.Deployment``: ``.bind()``, ``.options()``, ``serve.run``, ``serve build`` and ``serve deploy`` work
unchanged. Each replica owns one ``ModelService`` and its ASGI app (``datason.serving.create_app``), so every
route of ``datason.serving.routes`` (``/predict``, OIP v2, KServe v1, Seldon, MLflow, ``/ready``...) and the
request pipeline (validation, limits, rate limits, request ids, error envelope and statuses) are the
toolkit's. Ray's options are passed through as Ray names them today. What each Ray hook does here:

- ``@serve.deployment(**options)``: ``num_replicas`` (int or ``"auto"``), ``max_ongoing_requests``,
  ``max_queued_requests``, ``autoscaling_config``, ``ray_actor_options``, ``user_config``,
  ``health_check_period_s``... go to Ray as given. The removed names (``max_concurrent_queries``,
  ``target_num_ongoing_requests_per_replica``) are refused with a ``ValueError`` naming their replacement,
  where Ray would raise a ``TypeError`` or ignore them.
- ``@serve.ingress`` (late-bound, ``__serve_build_asgi_app__``): after the replica's constructor (which
  creates the model class, once per replica), Ray routes every HTTP request under the application's
  ``route_prefix`` to the replica's toolkit app. Ray's proxy answers ``X-Request-ID`` itself: the toolkit's
  header is dropped when it holds the same id (so the response carries it once), kept when the toolkit
  replaced an id it refuses (the response then also carries Ray's echo of the client's value).
- ASGI lifespan (run by Ray at replica start and stop): ``service.start()`` / ``service.stop()``.
- Replica start-up: with ``log_level`` (default ``"INFO"``), the toolkit's JSON request lines go to the
  replica's stderr, as with ``datason serve`` (Ray keeps them in the worker's ``.err`` log and streams them to
  the driver); Ray's own access log (``ray.serve``) is unchanged.
- ``check_health()``: raises (Ray then replaces the replica) when the toolkit's service is not ready, when it
  is degraded and ``restart_when_degraded`` is set, or when the model's own ``check_health`` raises.
- ``reconfigure(user_config)``: calls the model's ``reconfigure`` (classes that define one; ``user_config``
  needs it).
- ``DeploymentHandle.broadcast``: ``GET /health`` and ``GET /metrics`` ask every running replica of the
  deployment (``datason_replica_health`` / ``datason_replica_metrics``), so either describes the deployment
  as a whole whichever replica answers. ``/health`` sums the counts (``replicas``, ``replicas_unreachable``
  and each replica's own health under ``replica_health``); ``/metrics`` is every replica's toolkit registry
  with a ``replica`` label (the Ray replica id); with ``metrics_auth`` it needs the ``metrics`` scope, as
  ``datason serve``'s does. ``/ready`` stays the answering replica's.
- ``@serve.batch``: with ``batching="ray"``, predict (given lists, as with the toolkit's batching) is wrapped in
  ``serve.batch(max_batch_size=config.batch_max_size, batch_wait_timeout_s=config.batch_max_wait_ms / 1000)``
  instead of the toolkit's micro-batcher.

Ray is imported inside the functions that need it: ``pip install "ray[serve]"`` (2.x). Rate limits and the
cache live in each replica unless ``config.redis_url`` names a Redis, which every replica then shares
(docs/serving.md, "Shared state and workers"); ``ml_prediction_*`` counts live in each replica (see
docs/integrations/ray_serve.md).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

import orjson

from ..serving import ModelService, ServingApp, ServingConfig
from ..serving.errors import utc_timestamp
from ..serving.requestlog import request_id

if TYPE_CHECKING:
    from ray.serve import Deployment

__all__ = ["deployment"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Longest wait, in seconds, for every replica's answer to a ``/health`` or ``/metrics`` broadcast.
GATHER_TIMEOUT_S = 5.0

_REMOVED = {
    "max_concurrent_queries": "max_ongoing_requests",
    "target_num_ongoing_requests_per_replica": 'autoscaling_config["target_ongoing_requests"]',
}
_HEALTH_METHOD = "datason_replica_health"
_METRICS_METHOD = "datason_replica_metrics"
_JSON = b"application/json"


@overload
def deployment(
    target: None = None,
    /,
    *,
    config: ServingConfig | None = None,
    schema: Any = None,
    inputs: Sequence[Any] = (),
    outputs: Sequence[Any] = (),
    method: str = "predict",
    name: str | None = None,
    batching: Literal["toolkit", "ray"] = "toolkit",
    restart_when_degraded: bool = False,
    log_level: str | None = "INFO",
    num_replicas: int | Literal["auto"] | None = None,
    max_ongoing_requests: int | None = None,
    max_queued_requests: int | None = None,
    autoscaling_config: Any = None,
    ray_actor_options: Mapping[str, Any] | None = None,
    user_config: Any = None,
    health_check_period_s: float | None = None,
    health_check_timeout_s: float | None = None,
    **ray_options: Any,
) -> Callable[[Any], Deployment]: ...


@overload
def deployment(
    target: Callable[..., Any],
    /,
    *,
    config: ServingConfig | None = None,
    schema: Any = None,
    inputs: Sequence[Any] = (),
    outputs: Sequence[Any] = (),
    method: str = "predict",
    name: str | None = None,
    batching: Literal["toolkit", "ray"] = "toolkit",
    restart_when_degraded: bool = False,
    log_level: str | None = "INFO",
    num_replicas: int | Literal["auto"] | None = None,
    max_ongoing_requests: int | None = None,
    max_queued_requests: int | None = None,
    autoscaling_config: Any = None,
    ray_actor_options: Mapping[str, Any] | None = None,
    user_config: Any = None,
    health_check_period_s: float | None = None,
    health_check_timeout_s: float | None = None,
    **ray_options: Any,
) -> Deployment: ...


def deployment(
    target: Any = None,
    /,
    *,
    config: ServingConfig | None = None,
    schema: Any = None,
    inputs: Sequence[Any] = (),
    outputs: Sequence[Any] = (),
    method: str = "predict",
    name: str | None = None,
    batching: Literal["toolkit", "ray"] = "toolkit",
    restart_when_degraded: bool = False,
    log_level: str | None = "INFO",
    num_replicas: int | Literal["auto"] | None = None,
    max_ongoing_requests: int | None = None,
    max_queued_requests: int | None = None,
    autoscaling_config: Any = None,
    ray_actor_options: Mapping[str, Any] | None = None,
    user_config: Any = None,
    health_check_period_s: float | None = None,
    health_check_timeout_s: float | None = None,
    **ray_options: Any,
) -> Deployment | Callable[[Any], Deployment]:
    """A Ray Serve ``Deployment`` serving ``target`` with the toolkit; a class decorator without ``target``.

    ``target`` is a predict function (sync or async) or a model class: each replica creates one instance with
    the arguments given to ``.bind(...)`` and the toolkit calls its ``method``. ``config``, ``schema``,
    ``inputs`` and ``outputs`` are ``ModelService``'s (without ``config``: ``ServingConfig.from_env()`` where the
    application is imported). ``name`` is the deployment's name (default: the model id). ``batching="ray"``
    batches with ``@serve.batch`` (``config.batch_max_size`` > 1) instead of the toolkit's batcher.
    ``restart_when_degraded`` makes Ray's ``check_health`` fail (and Ray replace the replica) while the
    toolkit's ``/health`` says ``degraded``. ``log_level``: each replica writes the toolkit's JSON request lines to
    its stderr at this level, as ``datason serve`` does (``None``: logging left as the replica has it). The
    other keywords are ``@serve.deployment``'s, passed as given (``None``: Ray's default); ``**ray_options``
    takes any other option of ``@serve.deployment``.
    """
    options = _ray_options(
        ray_options,
        num_replicas=num_replicas,
        max_ongoing_requests=max_ongoing_requests,
        max_queued_requests=max_queued_requests,
        autoscaling_config=autoscaling_config,
        ray_actor_options=ray_actor_options,
        user_config=user_config,
        health_check_period_s=health_check_period_s,
        health_check_timeout_s=health_check_timeout_s,
    )
    if batching not in ("toolkit", "ray"):
        raise ValueError('batching must be "toolkit" or "ray"')
    cfg = ServingConfig.from_env() if config is None else config
    if not isinstance(cfg, ServingConfig):
        raise TypeError("config must be a ServingConfig")
    if batching == "ray" and cfg.batch_max_size < 2:
        raise ValueError('batching="ray" needs ServingConfig.batch_max_size > 1 (the @serve.batch size)')
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError("name must be a non-empty str")
    if log_level is not None and not isinstance(logging.getLevelName(str(log_level).upper()), int):
        raise ValueError(f"log_level must be a logging level name (DEBUG, INFO, WARNING...), got {log_level!r}")
    settings = _Settings(
        cfg, schema, tuple(inputs), tuple(outputs), method, batching, bool(restart_when_degraded), log_level
    )

    def build(target: Any) -> Deployment:
        return _build(target, settings, name or cfg.model_id, options)

    return build if target is None else build(target)


# -- building the deployment ----------------------------------------------------------------------------------


class _Settings(NamedTuple):
    """What every replica needs to build its service (pickled by Ray with the deployment class)."""

    config: ServingConfig
    schema: Any
    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]
    method: str
    batching: str
    restart_when_degraded: bool
    log_level: str | None


def _serve() -> Any:
    try:
        from ray import serve
    except ImportError as exc:
        raise ImportError('datason.integrations.ray_serve needs Ray Serve 2.x: pip install "ray[serve]"') from exc
    return serve


def _ray_options(extra: dict[str, Any], **named: Any) -> dict[str, Any]:
    """The options for ``@serve.deployment``: the named ones that were given, then the others as they are."""
    for old, new in _REMOVED.items():
        if old in extra:
            raise ValueError(f"{old} was removed from Ray Serve: use {new}")
    if "name" in extra or "_func_or_class" in extra:
        raise TypeError("pass the deployment's name as name=...")
    autoscaling = named.get("autoscaling_config")
    if isinstance(autoscaling, Mapping):
        for old, new in _REMOVED.items():
            if old in autoscaling:
                raise ValueError(f"autoscaling_config[{old!r}] was removed from Ray Serve: use {new}")
        named["autoscaling_config"] = dict(autoscaling)
    if named.get("ray_actor_options") is not None:
        named["ray_actor_options"] = dict(named["ray_actor_options"])
    options = {k: v for k, v in named.items() if v is not None}
    options.update(extra)
    return options


def _build(target: Any, settings: _Settings, name: str, options: dict[str, Any]) -> Deployment:
    serve = _serve()
    if isinstance(target, serve.Deployment):
        raise TypeError("pass the class or function itself (not a @serve.deployment) and Ray's options here")
    if isinstance(target, type):
        predict_of = getattr(target, settings.method, None)
        if not callable(predict_of):
            raise TypeError(f"{target.__name__}.{settings.method} is not a method the toolkit can call")
        has_reconfigure = callable(getattr(target, "reconfigure", None))
    elif callable(target):
        has_reconfigure = False
    else:
        raise TypeError("deployment takes a predict function or a model class")
    if options.get("user_config") is not None and not has_reconfigure:
        raise ValueError("user_config needs a model class with a reconfigure(user_config) method")
    replica = _replica_class(target, settings, has_reconfigure)
    return serve.deployment(serve.ingress(None)(replica), name=name, **options)


def _replica_class(target: Any, settings: _Settings, has_reconfigure: bool) -> type:
    """The deployment class: one model instance, one ``ModelService`` and its app per replica."""
    is_class = isinstance(target, type)

    class DatasonReplica:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if settings.log_level is not None:  # before the model, which may configure logging its own way
                _request_log(settings.log_level)
            if is_class:
                self.model: Any = target(*args, **kwargs)
                predict = getattr(self.model, settings.method)
            else:
                if args or kwargs:
                    raise TypeError("a predict function's deployment takes no bind() arguments")
                self.model = None
                predict = target
            config = settings.config
            if settings.batching == "ray":
                predict = _serve_batch(predict, config)
                config = config.replace(batch_max_size=1)
            self.service = ModelService(
                predict, config=config, schema=settings.schema, inputs=settings.inputs, outputs=settings.outputs
            )
            self._replica_id = _replica_id()
            self._handle: Any = None

        def __serve_build_asgi_app__(self) -> Any:
            return _ReplicaApp(ServingApp(self.service), self)

        async def check_health(self) -> None:
            """Ray's health hook: fails when the service is not ready, degraded (if asked), or the model says so."""
            if not self.service.ready:
                raise RuntimeError("the datason service is not ready")
            if settings.restart_when_degraded:
                health = self.service.health()
                if health["status"] == "degraded":
                    raise RuntimeError(f"the datason service is degraded (error_rate={health['error_rate']})")
            hook = getattr(self.model, "check_health", None)
            if hook is not None:
                result = hook()
                if inspect.isawaitable(result):
                    await result

        async def datason_replica_health(self) -> dict[str, Any]:
            """This replica's toolkit health (what ``/health`` gathers from every replica)."""
            return {"replica": self._replica_id, **self.service.health()}

        async def datason_replica_metrics(self) -> tuple[str, list[Any]]:
            """This replica's toolkit metric families (what ``/metrics`` gathers from every replica)."""
            return self._replica_id, list(self.service.registry.collect())

        async def _gather(self, method: str) -> tuple[list[Any], int]:
            """``method``'s answers from every running replica and how many did not answer."""
            serve = _serve()
            try:
                if self._handle is None:
                    ctx = serve.get_replica_context()
                    self._handle = serve.get_deployment_handle(ctx.deployment, ctx.app_name)
                answers = await self._handle.broadcast(method).results_async(
                    timeout_s=GATHER_TIMEOUT_S, return_exceptions=True
                )
            except Exception:  # no answer at all (timeout, controller away): this replica's own, others unknown
                return [await getattr(self, method)()], max(_world_size() - 1, 1)
            ok = [a for a in answers if not isinstance(a, BaseException)]
            return ok, len(answers) - len(ok)

    if has_reconfigure:
        takes_rank = "rank" in inspect.signature(target.reconfigure).parameters

        async def reconfigure(self: Any, user_config: Any, **kwargs: Any) -> None:
            result = self.model.reconfigure(user_config, **kwargs)
            if inspect.isawaitable(result):
                await result

        if takes_rank:  # Ray passes rank only to a reconfigure whose signature names it

            async def reconfigure_with_rank(self: Any, user_config: Any, rank: Any) -> None:
                await reconfigure(self, user_config, rank=rank)

            DatasonReplica.reconfigure = reconfigure_with_rank  # type: ignore[attr-defined]
        else:
            DatasonReplica.reconfigure = reconfigure  # type: ignore[attr-defined]

    label = getattr(target, "__name__", "predict")
    DatasonReplica.__name__ = DatasonReplica.__qualname__ = f"Datason[{label}]"
    DatasonReplica.__doc__ = getattr(target, "__doc__", None)
    return DatasonReplica


def _request_log(level: str) -> None:
    """The toolkit's JSON request lines to this replica's stderr at ``level`` (``datason serve``'s set-up)."""
    from ..serving.requestlog import LineHandler

    logger = logging.getLogger("datason.serving")
    if not any(isinstance(h, LineHandler) for h in logger.handlers):
        logger.handlers[:] = [LineHandler(sys.stderr)]
    logger.setLevel(level.upper())
    logger.propagate = False


def _replica_id() -> str:
    try:
        return str(_serve().get_replica_context().replica_tag)
    except Exception:  # outside a replica (a test instantiating the class): no Ray context
        return "local"


def _world_size() -> int:
    try:
        return int(_serve().get_replica_context().world_size)
    except Exception:
        return 1


def _serve_batch(predict: Callable[[Any], Any], config: ServingConfig) -> Callable[[Any], Any]:
    """``predict`` (lists in, lists out) behind ``@serve.batch``: the toolkit then calls it with one item."""
    serve = _serve()
    is_async = inspect.iscoroutinefunction(predict) or inspect.iscoroutinefunction(
        getattr(predict, "__call__", None)  # noqa: B004 - an async __call__, not callability
    )
    in_thread = config.sync_in_thread is not False

    async def batch(items: list[Any]) -> Any:
        if is_async:
            return await predict(items)
        if in_thread:
            return await asyncio.get_running_loop().run_in_executor(None, predict, items)
        return predict(items)

    wait_s = config.batch_max_wait_ms / 1000.0
    batched: Callable[[Any], Any] = serve.batch(max_batch_size=config.batch_max_size, batch_wait_timeout_s=wait_s)(
        batch
    )
    return batched


# -- the replica's ASGI app ----------------------------------------------------------------------------------


class _ReplicaApp:
    """The toolkit's app, with ``GET /health`` and ``GET /metrics`` answered for the whole deployment."""

    __slots__ = ("_owner", "_proxy_echoes_id", "app")

    def __init__(self, app: ServingApp, owner: Any) -> None:
        self.app = app
        self._owner = owner
        self._proxy_echoes_id = _proxy_echoes_request_id()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                incoming = value
                break
        if scope["method"] == "GET":
            path = scope["path"]
            root = scope.get("root_path")
            if root and path.startswith(root):
                path = path[len(root) :]
            if path == "/health" or path == "/metrics":
                if path == "/metrics" and not await self._metrics_admitted(scope, send):
                    return
                await self._answer_deployment(path, incoming, send)
                return
        if incoming is None or not self._proxy_echoes_id:
            await self.app(scope, receive, send)
            return

        async def send_once(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [h for h in message["headers"] if h[0] != b"x-request-id" or h[1] != incoming]
            await send(message)

        await self.app(scope, receive, send_once)

    async def _metrics_admitted(self, scope: Scope, send: Send) -> bool:
        """With ``metrics_auth``, the caller of ``/metrics`` needs the ``metrics`` scope (else its 401/403 is sent)."""
        service: ModelService = self.app.service
        peer = scope.get("client")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refused = service.refuse_metrics(headers, peer[0] if peer else None)
        if refused is None:
            return True
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in refused.headers]
        raw.append((b"content-length", str(len(refused.body)).encode()))
        await send({"type": "http.response.start", "status": refused.status, "headers": raw})
        await send({"type": "http.response.body", "body": refused.body})
        return False

    async def _answer_deployment(self, path: str, incoming: bytes | None, send: Send) -> None:
        text = incoming.decode("latin-1") if incoming is not None else None
        rid = request_id(text)
        service: ModelService = self.app.service
        if path == "/health":
            replicas, unreachable = await self._owner._gather(_HEALTH_METHOD)
            body = orjson.dumps(_deployment_health(service.config, replicas, unreachable))
            content_type = _JSON
        else:
            snapshots, _ = await self._owner._gather(_METRICS_METHOD)
            body, content_type = _merge_metrics(snapshots)
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        if not (self._proxy_echoes_id and rid == text):
            headers.append((b"x-request-id", rid.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _proxy_echoes_request_id() -> bool:
    """Whether Ray's HTTP proxy adds ``X-Request-ID`` to responses (its default mode; not with HAProxy)."""
    try:
        from ray.serve._private import constants
    except ImportError:
        return True
    return not getattr(constants, "RAY_SERVE_ENABLE_HA_PROXY", False)


# -- the deployment as a whole ------------------------------------------------------------------------------


def _deployment_health(
    config: ServingConfig, replicas: Sequence[Mapping[str, Any]], unreachable: int
) -> dict[str, Any]:
    """The toolkit's ``/health`` body for the sum of ``replicas`` (each a replica's health plus ``replica``).

    ``status`` follows the toolkit's rule on the summed counts (5xx share above ``degraded_error_rate`` once
    ``min_requests_for_health`` requests were answered), and is ``degraded`` too while a replica does not answer.
    """
    total = sum(int(r["total_requests"]) for r in replicas)
    errors = sum(int(r["error_count"]) for r in replicas)
    client_errors = sum(int(r["client_error_count"]) for r in replicas)
    latency_ms = sum(float(r["avg_latency_ms"]) * int(r["total_requests"]) for r in replicas)
    rate = errors / total if total else 0.0
    degraded = unreachable > 0 or (total >= config.min_requests_for_health and rate > config.degraded_error_rate)
    return {
        "status": "degraded" if degraded else "healthy",
        "model_id": config.model_id,
        "model_version": config.model_version,
        "ready": bool(replicas) and all(r["ready"] for r in replicas),
        "total_requests": total,
        "error_count": errors,
        "client_error_count": client_errors,
        "error_rate": round(rate, 6),
        "avg_latency_ms": round(latency_ms / total, 3) if total else 0.0,
        "uptime_seconds": max((float(r["uptime_seconds"]) for r in replicas), default=0.0),
        "timestamp": utc_timestamp(),
        "replicas": len(replicas),
        "replicas_unreachable": unreachable,
        "replica_health": sorted(
            ({k: v for k, v in r.items() if k not in ("model_id", "model_version", "timestamp")} for r in replicas),
            key=lambda r: str(r["replica"]),
        ),
    }


def _merge_metrics(snapshots: Sequence[tuple[str, Sequence[Any]]]) -> tuple[bytes, bytes]:
    """Every replica's metric families as one Prometheus text, each sample labelled with its ``replica``."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.metrics_core import Metric

    families: dict[str, Any] = {}
    for replica, metrics in sorted(snapshots, key=lambda s: s[0]):
        for metric in metrics:
            family = families.get(metric.name)
            if family is None:
                family = families[metric.name] = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            family.samples.extend(s._replace(labels={**s.labels, "replica": replica}) for s in metric.samples)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(list(families.values())))
    return generate_latest(registry), CONTENT_TYPE_LATEST.encode()


class _Families:
    """A collector yielding ready metric families (``prometheus_client`` renders them)."""

    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> Iterator[Any]:
        return iter(self.families)
