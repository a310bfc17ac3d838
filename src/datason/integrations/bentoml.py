"""A predict function, or a ``@bentoml.service`` class, as a BentoML 1.4 service that speaks datason.

``datason_service(predict_or_class, config=..., schema=...)`` returns an ordinary ``bentoml.Service``, so
``bentoml serve module:Service``, ``bentoml build`` and BentoCloud deployments work unchanged. Every route of
the toolkit (``datason.serving.routes``: ``/predict``, OIP v2, KServe v1, Seldon, MLflow, ``/health``,
``/ready``...) is answered by the toolkit's own app (``datason.serving.create_app``): request pipeline,
limits, rate limits, validation, request ids, error envelope and statuses are the toolkit's. What each
BentoML hook does here:

- ``Service.mount_asgi_app`` (what ``@bentoml.asgi_app(app, path="/")`` calls): mounts the toolkit's app at
  ``path``. BentoML's own routes (``/metrics``, ``/readyz``, ``/livez``, ``/healthz``, its docs page and any
  ``@bentoml.api`` method) come first; its middleware (tracing, access log, traffic metrics, timeout and
  concurrency limits, CORS, ``add_asgi_middleware`` ones) wraps the mounted app too. A ``@bentoml.api`` route
  that would hide a toolkit prediction route is refused here (``ValueError``).
- ``@bentoml.on_startup`` (``_datason_startup``): runs in each worker once BentoML created the service
  instance; the toolkit then calls that instance's ``method`` (the model loaded in ``__init__``), and the
  toolkit's service is started (ready).
- ``@bentoml.on_shutdown`` (``_datason_shutdown``): marks the toolkit's service stopped (not ready).
- ``__is_ready__``: BentoML's ``/readyz`` is 200 only while the toolkit's service is ready and the class's
  own ``__is_ready__`` (if any) says so.
- ``__metrics__``: BentoML's ``/metrics`` text (after the class's own ``__metrics__``, if any) gets the
  toolkit's families it lacks appended. Under ``bentoml serve`` prometheus_client runs in multiprocess mode:
  the toolkit's prometheus_client metrics (``ml_active_models``, cache and batch families) are already in
  BentoML's text, summed across workers; its per-request tallies (``ml_prediction_requests_total``,
  ``..._latency_seconds``, ``..._errors_total``: a collector over counts kept in memory) are added here. They
  are per worker process and a scrape reaches one worker, so with several workers they carry a
  ``worker_index`` label.

Typed answers: the toolkit's ``/predict`` negotiation holds here too: a request with
``Accept: application/vnd.datason+json`` (``TYPED_MEDIA_TYPE``) gets the prediction in datason's typed form,
any other client plain JSON.

BentoML is imported inside the functions that need it: ``pip install bentoml`` (1.4).
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..serving import TYPED_MEDIA_TYPE, ModelService, ServingConfig, ServingError, create_app
from ..serving.config import env_var
from ..serving.routes import ROUTES

__all__ = ["TYPED_MEDIA_TYPE", "datason_service", "model_service"]

_HOOKED = "_datason_model_service"  # the attribute of a hooked class that holds its ModelService


def datason_service(
    target: Any = None,
    /,
    *,
    config: ServingConfig | None = None,
    schema: Any = None,
    inputs: Sequence[Any] = (),
    outputs: Sequence[Any] = (),
    method: str = "predict",
    name: str | None = None,
    path: str = "/",
    service_options: Mapping[str, Any] | None = None,
) -> Any:
    """A BentoML service whose routes are the toolkit's, calling ``target``; a decorator without ``target``.

    ``target`` is a predict function (sync or async; a new service named ``name``, default the model id), a
    ``@bentoml.service`` class, or a plain class (made one with ``bentoml.service(**service_options)``).
    For a class, the toolkit calls ``method`` of the instance BentoML creates in each worker (sync or async,
    plain or ``@bentoml.api``). ``config``, ``schema``, ``inputs`` and ``outputs`` are ``ModelService``'s;
    without ``config``, ``ServingConfig.from_env()`` whose ``model_id`` defaults to the BentoML service name.
    ``path`` is where the toolkit's routes are mounted (``/`` keeps the protocols' standard paths).
    Returns the ``bentoml.Service``; ``model_service(svc)`` gives its ``ModelService``.
    """
    if target is None:
        caller = _caller_module()
        return lambda t: _build(t, config, schema, inputs, outputs, method, name, path, service_options, caller)
    return _build(target, config, schema, inputs, outputs, method, name, path, service_options, _caller_module())


def model_service(service: Any) -> ModelService:
    """The ``ModelService`` of a service made by ``datason_service`` (the service, its class or an instance)."""
    inner = getattr(service, "inner", service)
    found = getattr(inner if isinstance(inner, type) else type(inner), _HOOKED, None)
    if not isinstance(found, ModelService):
        raise TypeError("not a service made by datason.integrations.bentoml.datason_service")
    return found


# -- building the service ------------------------------------------------------------------------------------


def _build(
    target: Any,
    config: ServingConfig | None,
    schema: Any,
    inputs: Sequence[Any],
    outputs: Sequence[Any],
    method: str,
    name: str | None,
    path: str,
    service_options: Mapping[str, Any] | None,
    caller: str,
) -> Any:
    bentoml = _bentoml()
    options = dict(service_options or {})
    if name is not None:
        options["name"] = name
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError("path must start with '/'")
    if isinstance(target, bentoml.Service):
        if options:
            raise TypeError(
                "name and service_options are for a function or a plain class: give them to @bentoml.service"
            )
        if getattr(target.inner, _HOOKED, None) is not None:
            raise ValueError(f"service {target.name!r} already serves datason")
        svc = target
        predict: Callable[[Any], Any] = _method_caller(svc.inner, method)
    elif isinstance(target, type):
        svc = bentoml.service(**options)(target)
        svc._caller_module = caller  # made here, but the user's module holds it (bentoml build, serve)
        predict = _method_caller(svc.inner, method)
    elif callable(target):
        model_id = config.model_id if config is not None else _env_model_id()
        fallback = getattr(target, "__name__", "")
        options.setdefault("name", model_id or (fallback if fallback.isidentifier() else "model"))
        inner = type(_class_name(options["name"]), (), {"__doc__": getattr(target, "__doc__", None)})
        inner.__module__ = caller
        svc = bentoml.service(**options)(inner)
        svc._caller_module = caller
        predict = target
    else:
        raise TypeError("datason_service takes a predict function, a class or a bentoml.Service")
    if config is None:
        config = ServingConfig.from_env()
        if _env_model_id() is None:
            config = config.replace(model_id=svc.name)
    service = ModelService(predict, config=config, schema=schema, inputs=inputs, outputs=outputs)
    _check_routes(svc, service, path)
    svc.mount_asgi_app(create_app(service), path=path, name="datason")
    _install_hooks(svc, service, predict)
    return svc


def _bentoml() -> Any:
    try:
        import bentoml
    except ImportError as exc:  # pragma: no cover - the frameworks virtualenv has it
        raise ImportError("datason.integrations.bentoml needs BentoML 1.4: pip install bentoml") from exc
    if not hasattr(bentoml, "asgi_app"):
        raise ImportError(
            f"datason.integrations.bentoml needs BentoML 1.4 (found {bentoml.__version__}): pip install -U bentoml"
        )
    return bentoml


def _env_model_id() -> str | None:
    return os.environ.get(env_var("model_id")) or None


def _class_name(name: str) -> str:
    text = "".join(ch if ch.isalnum() else "_" for ch in name)
    return text if text[:1].isalpha() else "Service_" + text


def _caller_module() -> str:
    """The module calling into this one (BentoML looks the service up there for ``bentoml build``)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back  # type: ignore[assignment]
    return str(frame.f_globals.get("__name__", "__main__")) if frame is not None else "__main__"


def _join(*parts: str | None) -> str:
    """URL path segments joined by single slashes (``"/"`` for none; None and empty parts skipped)."""
    return "/" + "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def _check_routes(svc: Any, service: ModelService, path: str) -> None:
    """Refuse a ``@bentoml.api`` route that would hide one of the toolkit's prediction routes (POST, like it:
    BentoML's routes are matched first; its POST-only routes do not hide the toolkit's GET routes)."""
    ours = {_join(path, r.path) for r in ROUTES if r.kind == "predict" and r.protocol in service.adapters}
    for api_name, api in svc.apis.items():
        route = _join(api.route)
        if route in ours:
            raise ValueError(
                f"@bentoml.api {api_name!r} answers {route}, which hides datason's route there: give it another "
                f"route (@bentoml.api(route=...)) or mount datason elsewhere (path=...)"
            )


# -- calling the worker's instance ---------------------------------------------------------------------------


class _InstanceMethod:
    """Calls ``method`` of the service instance of this worker (bound by the startup hook)."""

    __slots__ = ("bound", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.bound: Callable[[Any], Any] | None = None

    def __call__(self, value: Any) -> Any:
        bound = self.bound
        if bound is None:
            raise ServingError("the BentoML service instance is not created yet")
        return bound(value)


class _AsyncInstanceMethod(_InstanceMethod):
    __slots__ = ()

    async def __call__(self, value: Any) -> Any:  # the toolkit sees an async predict and awaits it
        bound = self.bound
        if bound is None:
            raise ServingError("the BentoML service instance is not created yet")
        return await bound(value)


def _method_caller(cls: type, method: str) -> _InstanceMethod:
    found = inspect.getattr_static(cls, method, None)
    if _is_api_method(found):
        found = found.func
    if not callable(found) or isinstance(found, staticmethod | classmethod):
        raise TypeError(f"{cls.__name__}.{method} is not a method the toolkit can call with the features")
    is_async = inspect.iscoroutinefunction(found)
    return _AsyncInstanceMethod(method) if is_async else _InstanceMethod(method)


def _is_api_method(value: Any) -> bool:
    """A ``@bentoml.api`` method (``_bentoml_sdk.method.APIMethod``, not exported): its function is ``.func``."""
    return type(value).__name__ == "APIMethod" and callable(getattr(value, "func", None))


def _bind(caller: _InstanceMethod, instance: Any) -> None:
    found = inspect.getattr_static(type(instance), caller.name)
    if _is_api_method(found):
        caller.bound = functools.partial(found.func, instance)  # the function itself, not BentoML's proxy
    else:
        caller.bound = getattr(instance, caller.name)


# -- hooks ---------------------------------------------------------------------------------------------------


def _install_hooks(svc: Any, service: ModelService, predict: Callable[[Any], Any]) -> None:
    bentoml = _bentoml()
    cls = svc.inner
    user_ready = getattr(cls, "__is_ready__", None)  # the class's own hooks (or its bases'), kept
    user_metrics = getattr(cls, "__metrics__", None)
    workers = svc.config.get("workers") or 1
    many = (workers == "cpu_count" and (os.cpu_count() or 1) > 1) or (isinstance(workers, int) and workers > 1)

    def _datason_startup(self: Any) -> None:
        if isinstance(predict, _InstanceMethod):
            _bind(predict, self)
        service.start()

    def _datason_shutdown(self: Any) -> None:
        service.stop()

    async def __is_ready__(self: Any) -> bool:
        if not service.ready:
            return False
        if user_ready is None:
            return True
        result = user_ready(self)
        if inspect.isawaitable(result):
            result = await result
        return bool(result)

    async def __metrics__(self: Any, content: str) -> str:
        if user_metrics is not None:
            result = user_metrics(self, content)
            content = await result if inspect.isawaitable(result) else result
        return content + _toolkit_metrics(service, content, many)

    setattr(cls, _HOOKED, service)
    cls._datason_startup = bentoml.on_startup(_datason_startup)
    cls._datason_shutdown = bentoml.on_shutdown(_datason_shutdown)
    cls.__is_ready__ = __is_ready__
    cls.__metrics__ = __metrics__


def _toolkit_metrics(service: ModelService, bentoml_text: str, per_worker: bool) -> str:
    """The toolkit's metric families that BentoML's text does not already hold, as Prometheus text.

    Under ``bentoml serve`` prometheus_client runs in multiprocess mode, so the toolkit's prometheus_client
    metrics (``ml_active_models``, cache and batch families) are already in BentoML's text, summed across
    workers; its per-request tallies (a custom collector) are not, and are added here.
    """
    from prometheus_client import generate_latest

    present = {line.split(" ", 3)[2] for line in bentoml_text.splitlines() if line.startswith("# TYPE ")}
    worker = None
    if per_worker:
        from bentoml import server_context

        worker = str(server_context.worker_index or 0)
    return generate_latest(_Missing(service.registry, present, worker)).decode()


class _Missing:
    """The families of ``registry`` not in ``present`` (exposed names), each sample labelled with the worker."""

    def __init__(self, registry: Any, present: set[str], worker: str | None) -> None:
        self.registry = registry
        self.present = present
        self.worker = worker

    def collect(self) -> Iterator[Any]:
        for metric in self.registry.collect():
            exposed = metric.name + "_total" if metric.type == "counter" else metric.name
            if exposed in self.present or metric.name in self.present:
                continue
            if self.worker is not None:
                label = {"worker_index": self.worker}
                metric.samples = [s._replace(labels={**s.labels, **label}) for s in metric.samples]
            yield metric
