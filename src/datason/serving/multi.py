"""The routes of a ``ServingApp`` serving a ``ModelSet`` (several models, several versions of a model).

Every route of ``routes.ROUTES`` (for the protocols the first service answers) plus ``routes.ADMIN_ROUTES``:

- **Which model**: the ``{name}`` of the path (OIP, KServe v1); on ``/predict``, Seldon and MLflow routes the
  ``X-Model-Name`` header, else the set's default model.
- **Which version**: the ``{version}`` of the path (``/v2/models/{name}/versions/{v}/...``), else the
  ``X-Model-Version`` header (a pin), else a draw by the model's weights (``ModelSet.pick``). An unknown model
  or version is a 404 in the route's protocol error body, the body unread.
- **The answer** is the version's own ``ModelService.handle`` (its envelope, OIP body and metrics say which
  version answered) plus an ``X-Model-Version`` response header. Then, the response sent, a shadow copy may
  start (``ModelSet.start_shadow``).
- **Metadata and readiness**: ``/v2/models/{name}`` lists the model's versions (inputs and outputs of its
  heaviest version), ``/v2/models/{name}/versions/{v}`` one version; ``/v1/models`` every model; ``/health``
  every version (``ModelSet.health``); ``/metrics`` every version's series with a ``model_version`` label.
- **Admin**: ``GET``/``PUT /admin/models/{name}/traffic`` read and replace a model's ``TrafficPolicy``
  (``{"weights": {...}, "shadow": "v" | null, "shadow_fraction": 0.1}``). With authentication on they need the
  ``admin`` scope; with it off they answer only when ``admin_without_auth`` is set (403 otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from .errors import (
    ForbiddenError,
    MalformedRequestError,
    MethodNotAllowedError,
    NotFoundError,
    ServingError,
    UnsupportedMediaTypeError,
)
from .models import ModelSet, TrafficPolicy
from .routes import ADMIN_ROUTES, ROUTES, RouteSpec, scope_needed
from .security import media_type_allowed
from .service import JSON, ModelService

if TYPE_CHECKING:
    from .asgi import Extra, Receive, Scope, Send, ServingApp

__all__ = ["set_routes"]

_PRINCIPAL = "datason.principal"
_JSON_TYPES = (JSON, None)


def set_routes(app: ServingApp, models: ModelSet) -> tuple[tuple[RouteSpec, ...], list[tuple[str, Any]]]:
    """The routes ``app`` answers for ``models`` and one ASGI endpoint per path."""
    front = models.front
    routes = tuple(r for r in ROUTES if r.protocol in front.adapters) + ADMIN_ROUTES
    by_path: dict[str, dict[str, RouteSpec]] = {}
    for route in routes:
        by_path.setdefault(route.path, {})[route.method] = route
    return routes, [(path, _SetEndpoint(app, models, methods)) for path, methods in by_path.items()]


class _SetEndpoint:
    """One path: checks the method and the caller, then runs the route kind's handler."""

    __slots__ = ("app", "extra", "front", "handlers", "models", "needs", "routes")

    def __init__(self, app: ServingApp, models: ModelSet, routes: dict[str, RouteSpec]) -> None:
        self.app = app
        self.models = models
        self.front: ModelService = models.front
        self.extra: Extra = app._extra
        self.routes = routes
        cfg = self.front.config
        auth = self.front.auth is not None
        self.needs = {m: scope_needed(r, auth=auth, metrics_auth=cfg.metrics_auth) for m, r in routes.items()}
        self.handlers = {m: getattr(self, "_" + r.kind) for m, r in routes.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from .asgi import _error, _headers, _send

        headers = _headers(scope)
        method = scope["method"]
        route = self.routes.get(method)
        if route is None:
            any_route = next(iter(self.routes.values()))
            error = MethodNotAllowedError("method not allowed")
            response = _error(self.front, error, scope, headers, any_route.protocol)
            response.headers.append(("allow", ", ".join(self.routes)))
            await _send(send, response, self.extra)
            return
        needs = self.needs[method]
        if needs is not None:
            peer = scope.get("client")
            client = peer[0] if peer else None
            try:
                scope[_PRINCIPAL] = self.front.admit(headers, client, needs)
            except ServingError as exc:
                if route.kind == "predict":
                    response = self.front.reject_request(
                        exc, headers=headers, client=client, protocol=route.protocol, path=scope["path"]
                    )
                    response.headers.append(("connection", "close"))
                else:
                    response = _error(self.front, exc, scope, headers, route.protocol)
                await _send(send, response, self.extra)
                return
        params = scope.get("path_params") or {}
        try:
            await self.handlers[method](scope, receive, send, headers, params, route)
        except ServingError as exc:  # unknown model or version, a refused admin call: the protocol's error body
            await _send(send, _error(self.front, exc, scope, headers, route.protocol), self.extra)

    # -- predictions -------------------------------------------------------------------------------------

    async def _predict(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], params: Any, route: RouteSpec
    ) -> None:
        from .asgi import _send

        models = self.models
        service = models.pick(
            params.get("name") or headers.get("x-model-name"),
            params.get("version") or headers.get("x-model-version"),
        )
        protocol = route.protocol
        peer = scope.get("client")
        client = peer[0] if peer else None
        content_type = headers.get("content-type")
        binary = protocol == "oip"
        if content_type != JSON and not media_type_allowed(content_type, headers.get("origin"), binary=binary):
            body: Any = UnsupportedMediaTypeError("unsupported Content-Type; send application/json")
        else:
            body = await self.app._read_body(receive, headers)
            if body is None:
                return  # client went away
        principal = scope.get(_PRINCIPAL)
        path = scope["path"]
        if isinstance(body, bytes):
            response = await service.handle(body, headers, client, protocol, path, principal=principal)
        else:
            response = service.reject_request(
                body, headers=headers, client=client, protocol=protocol, path=path, principal=principal
            )
            response.headers.append(("connection", "close"))
        response.headers.append(("x-model-version", service.config.model_version))
        await _send(send, response, self.extra)
        if isinstance(body, bytes) and not 400 <= response.status < 500:  # a refused request (4xx) is not copied
            shadow = models.shadow_of(service)
            if shadow is not None:
                models.start_shadow(shadow, service, response, body, headers, client, protocol, path, principal)

    # -- state ---------------------------------------------------------------------------------------------

    async def _health(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], *_: Any) -> None:
        from .asgi import _send

        await _send(send, self.models.health_response(headers.get("x-request-id")), self.extra)

    async def _ready(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], *_: Any) -> None:
        from .asgi import _send

        await _send(send, self.models.ready_response(headers.get("x-request-id")), self.extra)

    async def _metrics(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], *_: Any) -> None:
        from .asgi import _send

        await _send(send, self.models.metrics_response(headers.get("x-request-id")), self.extra)

    async def _openapi(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], *_: Any) -> None:
        await self.app._openapi(scope, receive, send, headers)

    async def _live(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], *_: Any) -> None:
        await self.app._live(scope, receive, send, headers)

    async def _server_metadata(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], *_: Any
    ) -> None:
        await self.app._server_metadata(scope, receive, send, headers)

    async def _server_ready(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], *_: Any) -> None:
        await self._answer(send, headers, 200 if self.models.ready else 503, {"ready": self.models.ready})

    async def _ping(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], *_: Any) -> None:
        from .asgi import _json, _send

        await _send(send, _json(200 if self.models.ready else 503, b"\n", headers), self.extra)

    async def _model_list(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], *_: Any) -> None:
        await self._answer(send, headers, 200, {"models": list(self.models.names)})

    async def _model_metadata(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], params: Any, route: RouteSpec
    ) -> None:
        from ..protocols.oip import model_metadata

        name, version = params["name"], params.get("version")
        versions = self.models.versions(name)
        if version is None:
            service, listed = self.models.primary(name), tuple(versions)
        elif version in versions:
            service, listed = versions[version], (version,)
        else:
            raise NotFoundError("unknown model version")
        body = model_metadata(name, versions=listed, inputs=service.inputs, outputs=service.outputs)
        await self._answer(send, headers, 200, body)

    async def _model_ready(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], params: Any, route: RouteSpec
    ) -> None:
        name, version = params["name"], params.get("version")
        versions = self.models.versions(name)
        if version is None:
            ready = all(s.ready for s in versions.values())
        elif version in versions:
            ready = versions[version].ready
        else:
            raise NotFoundError("unknown model version")
        await self._answer(send, headers, 200 if ready else 503, {"name": name, "ready": ready})

    # -- admin -----------------------------------------------------------------------------------------------

    async def _traffic(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], params: Any, route: RouteSpec
    ) -> None:
        if self.front.auth is None and not self.front.config.admin_without_auth:
            raise ForbiddenError("admin routes need authentication (or admin_without_auth)")
        name = params["name"]
        policy = self.models.traffic(name)  # 404 for an unknown model
        if route.method == "PUT":
            if headers.get("content-type") not in _JSON_TYPES:
                raise UnsupportedMediaTypeError("unsupported Content-Type; send application/json")
            body = await self.app._read_body(receive, headers)
            if body is None:
                return
            if not isinstance(body, bytes):
                raise body
            try:
                policy = self.models.set_traffic(name, TrafficPolicy.from_mapping(orjson.loads(body)))
            except orjson.JSONDecodeError:
                raise MalformedRequestError("body is not valid JSON") from None
            except ServingError:
                raise
            except ValueError as exc:
                raise MalformedRequestError(str(exc)) from None
        await self._answer(send, headers, 200, {"model": name, **policy.as_dict()})

    async def _answer(self, send: Send, headers: dict[str, str], status: int, body: Any) -> None:
        from .asgi import _json, _send

        await _send(send, _json(status, orjson.dumps(body), headers), self.extra)
