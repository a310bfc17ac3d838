"""The reference service as a plain ASGI 3 app: POST /predict, GET /health, /ready, /metrics.

No framework: routes are a dict lookup, the body is read with a byte cap (a Content-Length above the
cap, or a streamed body growing past it, is answered 413 without reading further), lifespan events
start and stop the ``ModelService``. Unknown paths are 404 and wrong methods 405, in the error envelope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .config import ServingConfig
from .errors import MalformedRequestError, MethodNotAllowedError, NotFoundError, PayloadTooLargeError
from .service import ModelService, ServingResponse

__all__ = ["ServingApp", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_ROUTES = {"/predict": "POST", "/health": "GET", "/ready": "GET", "/metrics": "GET"}


def create_app(
    predict_or_service: Callable[[Any], Any] | ModelService,
    *,
    config: ServingConfig | None = None,
    schema: Any = None,
) -> ServingApp:
    """An ASGI app serving a predict function (wrapped in a ``ModelService``) or a ready ``ModelService``."""
    if isinstance(predict_or_service, ModelService):
        if config is not None or schema is not None:
            raise TypeError("pass config and schema to the ModelService, not to create_app")
        return ServingApp(predict_or_service)
    return ServingApp(ModelService(predict_or_service, config=config, schema=schema))


class ServingApp:
    """ASGI 3 callable around one ``ModelService`` (``app.service``)."""

    __slots__ = ("_max_body", "service")

    def __init__(self, service: ModelService) -> None:
        self.service = service
        self._max_body = service.config.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        # websocket and other scope types are not served: returning closes them.

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        peer = scope.get("client")
        client = peer[0] if peer else None
        service = self.service
        allowed = _ROUTES.get(path)
        if allowed is None or method != allowed:
            error = NotFoundError("no such route") if allowed is None else MethodNotAllowedError("method not allowed")
            response = service.error_response(error, headers=headers, client=client, method=method, path=path)
            if allowed is not None:
                response.headers.append(("allow", allowed))
            await _send(send, response)
            return
        if path == "/predict":
            body = await self._read_body(receive, headers)
            if body is None:
                return  # client went away
            if isinstance(body, bytes):
                response = await service.handle(body, headers, client)
            else:  # refused unread: close the connection rather than drain a body we will not use
                response = service.reject_request(body, headers=headers, client=client)
                response.headers.append(("connection", "close"))
        elif path == "/health":
            response = service.health_response()
        elif path == "/ready":
            response = service.ready_response()
        else:
            response = service.metrics_response()
        await _send(send, response)

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
                self.service.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.service.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _send(send: Send, response: ServingResponse) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    raw.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": raw})
    await send({"type": "http.response.body", "body": response.body})
