"""The reference service as an ASGI 3 app: every route of ``routes.ROUTES``, routed by Starlette's ``Router``.

Endpoints are plain ASGI callables (no Request objects on the hot path): a prediction route reads the body
with a byte cap (a Content-Length above the cap, or a streamed body growing past it, is answered 413 without
reading further) and hands it to ``ModelService.handle`` with its protocol; the other routes answer from the
service's state. Unknown paths are 404 and wrong methods 405 (with ``Allow``), unknown model names and
versions 404, all in the error body of the route's protocol. Lifespan events start and stop the service.

With authentication on, every route but the health and readiness probes admits the caller before anything
else (``/metrics`` only with ``metrics_auth``): 401/403/429 in the route's protocol form, the body unread. A
prediction route then applies the Content-Type rule (``datason.serving.security.media_type_allowed``: 415,
body unread). Every response carries the security headers (``security_headers``); with ``cors_origins``
Starlette's ``CORSMiddleware`` answers preflights in front of the routes. Other Starlette middleware (HTTPS
redirects, trusted hosts) wraps the app like any Starlette app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from .config import ServingConfig
from .errors import (
    MalformedRequestError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    ServingError,
    UnsupportedMediaTypeError,
)
from .models import ModelSet
from .requestlog import request_id
from .routes import ROUTES, RouteSpec, scope_needed
from .security import SECURITY_HEADERS, cors_middleware, media_type_allowed
from .service import JSON, ModelService, ServingResponse

__all__ = ["ServingApp", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send, dict[str, str]], Awaitable[None]]
Extra = tuple[tuple[bytes, bytes], ...]
_PRINCIPAL = "datason.principal"  # the scope key under which a prediction route hands its admitted caller on


def create_app(
    predict_or_service: Callable[[Any], Any] | ModelService | ModelSet,
    *,
    config: ServingConfig | None = None,
    schema: Any = None,
) -> ServingApp:
    """An ASGI app serving a predict function (wrapped in a ``ModelService``), a ready ``ModelService``, or a
    ``ModelSet`` of several models and versions."""
    if isinstance(predict_or_service, ModelService | ModelSet):
        if config is not None or schema is not None:
            raise TypeError("pass config and schema to the ModelService, not to create_app")
        return ServingApp(predict_or_service)
    return ServingApp(ModelService(predict_or_service, config=config, schema=schema))


class ServingApp:
    """ASGI 3 callable around one ``ModelService`` (``app.service``), or a ``ModelSet`` of several models and
    versions (``app.models``; ``app.service`` is then its default model's heaviest version); ``app.routes``
    lists what it answers."""

    __slots__ = (
        "_cors",
        "_extra",
        "_max_body",
        "_openapi_body",
        "_router",
        "_static",
        "models",
        "routes",
        "service",
    )

    def __init__(self, service: ModelService | ModelSet) -> None:
        from starlette.routing import Route, Router

        #: The models and versions served (``datason.serving.models``), None for one service.
        self.models: ModelSet | None = None
        if isinstance(service, ModelSet):
            self.models, service = service, service.default
        self.service = service
        self._extra: Extra = SECURITY_HEADERS if service.config.security_headers else ()
        self._max_body = service.config.max_body_bytes
        self._openapi_body: bytes | None = None
        cfg = service.config
        if self.models is not None:  # several models or versions: the routes of datason.serving.multi
            from .multi import set_routes

            self.routes, paths = set_routes(self, self.models)
            self._router = Router(
                routes=[Route(path, endpoint) for path, endpoint in paths],
                redirect_slashes=False,
                default=self._not_found,
            )
            self._static: dict[str, Any] = {path: e for path, e in paths if "{" not in path}
        else:
            self.routes = tuple(r for r in ROUTES if r.protocol in service.adapters)
            endpoints = [(r, _Endpoint(r, self._handler(r), service, self._extra)) for r in self.routes]
            self._router = Router(
                routes=[Route(r.path, endpoint) for r, endpoint in endpoints],
                redirect_slashes=False,
                default=self._not_found,
            )
            # Every path this service answers, by one dict lookup: the fixed ones (/predict, /health...) and the
            # model's own (/v2/models/<model_id>/infer...); the router, which scans its routes in order matching
            # a regular expression each, is left for the others (unknown models, wrong versions: 404 from the
            # route).
            self._static = {r.path: e for r, e in endpoints if "{" not in r.path}
            for r, e in endpoints:
                concrete = r.path.replace("{name}", cfg.model_id).replace("{version}", cfg.model_version)
                if concrete.count("/") == r.path.count("/"):  # a model id holding "/" is left to the router
                    self._static.setdefault(concrete, e)
        origins = cfg.cors_origins
        self._cors: Any = cors_middleware(self._http, origins) if origins else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if self._cors is not None:
                await self._cors(scope, receive, send)
                return
            endpoint = None if scope.get("root_path") else self._static.get(scope["path"])
            if endpoint is not None:
                await endpoint(scope, receive, send)
            else:
                await self._router(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        # websocket and other scope types are not served: returning closes them.

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An HTTP request, routed (what ``__call__`` does, behind the CORS middleware)."""
        endpoint = None if scope.get("root_path") else self._static.get(scope["path"])
        if endpoint is not None:
            await endpoint(scope, receive, send)
        else:
            await self._router(scope, receive, send)

    # -- handlers ----------------------------------------------------------------------------------------

    def _handler(self, route: RouteSpec) -> Handler:
        if route.kind == "predict":
            return self._predict_handler(route.protocol)
        handler: Handler = getattr(self, "_" + route.kind)
        return handler

    def _predict_handler(self, protocol: str) -> Handler:
        service = self.service
        binary = protocol == "oip"  # the binary tensor extension: application/octet-stream bodies
        extra = self._extra

        async def predict(scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
            peer = scope.get("client")
            client = peer[0] if peer else None
            content_type = headers.get("content-type")
            if content_type != JSON and not media_type_allowed(content_type, headers.get("origin"), binary=binary):
                body: Any = UnsupportedMediaTypeError("unsupported Content-Type; send application/json")
            else:
                body = await self._read_body(receive, headers)
                if body is None:
                    return  # client went away
            if isinstance(body, bytes):
                principal = scope.get(_PRINCIPAL)
                response = await service.handle(body, headers, client, protocol, scope["path"], principal=principal)
            else:  # refused unread: close the connection rather than drain a body we will not use
                response = service.reject_request(
                    body,
                    headers=headers,
                    client=client,
                    protocol=protocol,
                    path=scope["path"],
                    principal=scope.get(_PRINCIPAL),
                )
                response.headers.append(("connection", "close"))
            await _send(send, response, extra)

        return predict

    async def _health(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        await _send(send, self.service.health_response(headers.get("x-request-id")), self._extra)

    async def _ready(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        await _send(send, self.service.ready_response(headers.get("x-request-id")), self._extra)

    async def _metrics(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        await _send(send, self.service.metrics_response(headers.get("x-request-id")), self._extra)

    async def _openapi(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        if self._openapi_body is None:
            from .openapi import openapi_document

            self._openapi_body = orjson.dumps(openapi_document(self.service, self.routes, models=self.models))
        await _send(send, _json(200, self._openapi_body, headers), self._extra)

    async def _live(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        await _send(send, _json(200, b'{"live":true}', headers), self._extra)

    async def _server_ready(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        ready = self.service.ready
        await _send(send, _json(200 if ready else 503, orjson.dumps({"ready": ready}), headers), self._extra)

    async def _server_metadata(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        from .. import __version__

        body = {"name": "datason", "version": __version__, "extensions": ["binary_tensor_data"]}
        await _send(send, _json(200, orjson.dumps(body), headers), self._extra)

    async def _model_metadata(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        from ..protocols.oip import model_metadata

        cfg = self.service.config
        body = model_metadata(
            cfg.model_id, versions=(cfg.model_version,), inputs=self.service.inputs, outputs=self.service.outputs
        )
        await _send(send, _json(200, orjson.dumps(body), headers), self._extra)

    async def _model_ready(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        ready = self.service.ready
        body = {"name": self.service.config.model_id, "ready": ready}
        await _send(send, _json(200 if ready else 503, orjson.dumps(body), headers), self._extra)

    async def _model_list(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        await _send(send, _json(200, orjson.dumps({"models": [self.service.config.model_id]}), headers), self._extra)

    async def _ping(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        await _send(send, _json(200 if self.service.ready else 503, b"\n", headers), self._extra)

    async def _not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = _headers(scope)
        await _send(send, _error(self.service, NotFoundError("no such route"), scope, headers, "datason"), self._extra)

    # -- body and lifespan -------------------------------------------------------------------------------

    async def _read_body(
        self, receive: Receive, headers: dict[str, str]
    ) -> bytes | PayloadTooLargeError | MalformedRequestError | None:
        """The body, or the error refusing it (413 past the cap), or None when the client disconnected."""
        cap = self._max_body
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return MalformedRequestError("invalid Content-Length header")
            if int(declared) > cap:
                return PayloadTooLargeError(f"body larger than max_body_bytes={cap}")
        message = await receive()
        if message["type"] != "http.request":
            return None
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            return body if len(body) <= cap else PayloadTooLargeError(f"body larger than max_body_bytes={cap}")
        chunks = [body]
        size = len(body)
        while True:
            if size > cap:
                return PayloadTooLargeError(f"body larger than max_body_bytes={cap}")
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                break
        if size > cap:
            return PayloadTooLargeError(f"body larger than max_body_bytes={cap}")
        return b"".join(chunks)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                (self.service if self.models is None else self.models).start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                (self.service if self.models is None else self.models).stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


class _Endpoint:
    """One route's ASGI endpoint: checks the method, the model name and version, then runs the handler."""

    __slots__ = ("extra", "handler", "method", "model_id", "model_version", "needs", "route", "service")

    def __init__(self, route: RouteSpec, handler: Handler, service: ModelService, extra: Extra = ()) -> None:
        self.route = route
        self.method = route.method
        self.handler = handler
        self.service = service
        self.extra = extra
        self.model_id = service.config.model_id
        self.model_version = service.config.model_version
        #: The scope a caller needs here (None: open, or authentication off).
        self.needs = scope_needed(route, auth=service.auth is not None, metrics_auth=service.config.metrics_auth)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        protocol = self.route.protocol
        method = scope["method"]
        if method != self.method:
            response = _error(self.service, MethodNotAllowedError("method not allowed"), scope, headers, protocol)
            response.headers.append(("allow", self.method))
            await _send(send, response, self.extra)
            return
        if self.needs is not None:  # before the model name is checked or the body read
            peer = scope.get("client")
            client = peer[0] if peer else None
            try:
                scope[_PRINCIPAL] = self.service.admit(headers, client, self.needs)
            except ServingError as exc:
                if self.route.kind == "predict":
                    response = self.service.reject_request(
                        exc, headers=headers, client=client, protocol=protocol, path=scope["path"]
                    )
                    response.headers.append(("connection", "close"))
                else:
                    response = _error(self.service, exc, scope, headers, protocol)
                await _send(send, response, self.extra)
                return
        params = scope.get("path_params")
        if params:
            if params.get("name", self.model_id) != self.model_id:
                error: ServingError = NotFoundError("unknown model")
                await _send(send, _error(self.service, error, scope, headers, protocol), self.extra)
                return
            if params.get("version", self.model_version) != self.model_version:
                error = NotFoundError("unknown model version")
                await _send(send, _error(self.service, error, scope, headers, protocol), self.extra)
                return
        await self.handler(scope, receive, send, headers)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _error(service: ModelService, error: ServingError, scope: Scope, headers: dict[str, str], protocol: str) -> Any:
    peer = scope.get("client")
    return service.error_response(
        error,
        headers=headers,
        client=peer[0] if peer else None,
        method=scope["method"],
        path=scope["path"],
        protocol=protocol,
    )


def _json(status: int, body: bytes, headers: dict[str, str]) -> ServingResponse:
    rid = request_id(headers.get("x-request-id"))
    return ServingResponse(status, [("content-type", JSON), ("x-request-id", rid)], body)


async def _send(send: Send, response: ServingResponse, extra: Extra) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    raw.append((b"content-length", str(len(response.body)).encode()))
    raw.extend(extra)
    await send({"type": "http.response.start", "status": response.status, "headers": raw})
    await send({"type": "http.response.body", "body": response.body})
