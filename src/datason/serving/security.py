"""Browser and transport safety of the served routes: the Content-Type rule, security headers, CORS, events.

- **Content-Type** of a prediction request (``media_type_allowed``, checked by the ASGI app before the body is
  read; 415 otherwise): ``application/json`` with any parameters, any ``application/*+json`` (such as
  ``application/vnd.datason+json``), and on OIP routes ``application/octet-stream`` (the binary tensor
  extension, whose JSON part the ``Inference-Header-Content-Length`` header delimits). No Content-Type at all
  is read as JSON (tritonclient, ``curl --data-binary`` with ``-H 'Content-Type:'``, wrk and most HTTP
  libraries send none for raw bytes) unless the request carries an ``Origin`` header: a browser can send a
  body without a Content-Type cross-site without a CORS preflight, exactly what ``text/plain`` and form types
  allow and what this rule refuses. Everything a browser may send without a preflight is therefore a 415.
- **Security headers** (``ServingConfig.security_headers``, on by default) on every response of the app:
  ``X-Content-Type-Options: nosniff``, ``Cache-Control: no-store``, ``X-Frame-Options: DENY``,
  ``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'``, ``Referrer-Policy: no-referrer``
  and ``Strict-Transport-Security: max-age=31536000`` (browsers ignore it over plain HTTP).
- **CORS** (``ServingConfig.cors_origins``): off by default, so a preflight is answered 405 and a browser
  never sends the cross-origin request; with origins, Starlette's ``CORSMiddleware`` answers preflights for
  them (the methods and headers the routes use; no credentials mode: keys travel in headers, not cookies).
- **Security events** (``SecurityEvents``): one JSON line at WARNING on the ``datason.serving.security``
  logger per failed authentication, scope denial, rate-limit hit, oversized or invalid (malformed, wrong
  media type) request, with the event kind, client, key name, method, path, status and request id; and
  ``ml_security_events_total{kind}`` in the service's registry.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

__all__ = ["EVENT_KINDS", "SECURITY_HEADERS", "SecurityEvents", "cors_middleware", "media_type_allowed"]

EVENT_KINDS: tuple[str, ...] = (
    "auth_failed",
    "scope_denied",
    "rate_limited",
    "auth_rate_limited",
    "too_large",
    "invalid_request",
)
#: The security event of each error kind (``ServingError.kind``); kinds not listed are no security event.
EVENT_OF_KIND: dict[str, str] = {
    "unauthorized": "auth_failed",
    "forbidden": "scope_denied",
    "rate_limited": "rate_limited",
    "too_large": "too_large",
    "malformed": "invalid_request",
    "unsupported_media_type": "invalid_request",
}
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000"),
)
LOGGER_NAME = "datason.serving.security"
_JSON = "application/json"


def media_type_allowed(content_type: str | None, origin: str | None, *, binary: bool = False) -> bool:
    """Whether a prediction request with this ``Content-Type`` (and ``Origin``) may be read; see the module doc."""
    if content_type is None or not content_type.strip():
        return origin is None
    media = content_type.split(";", 1)[0].strip().lower()
    if media == _JSON or (media.startswith("application/") and media.endswith("+json")):
        return True
    return binary and media == "application/octet-stream"


def cors_middleware(app: Any, origins: tuple[str, ...]) -> Any:
    """``app`` behind Starlette's ``CORSMiddleware`` allowing ``origins`` (``*``: any) to call it."""
    from starlette.middleware.cors import CORSMiddleware

    return CORSMiddleware(
        app,
        allow_origins=list(origins),
        allow_methods=["GET", "POST"],
        allow_headers=[
            "content-type",
            "content-encoding",
            "authorization",
            "x-api-key",
            "x-request-id",
            "inference-header-content-length",
        ],
        expose_headers=["x-request-id", "retry-after", "www-authenticate", "inference-header-content-length"],
        allow_credentials=False,
        max_age=600,
    )


class SecurityEvents:
    """Writes security events (log line and counter) for one service; see the module doc."""

    __slots__ = ("_count", "logger", "model_id")

    def __init__(self, model_id: str, count: Any) -> None:
        self.logger = logging.getLogger(LOGGER_NAME)
        self.model_id = model_id
        self._count = count

    def record(
        self,
        error_kind: str,
        *,
        rid: str,
        client: str,
        key_name: str | None,
        method: str,
        path: str,
        status: int,
        protocol: str,
        auth_failures: bool = False,
    ) -> None:
        """The event of a failure of ``error_kind`` (if it is one): counted, and logged when WARNING is on."""
        event = EVENT_OF_KIND.get(error_kind)
        if event is None:
            return
        if auth_failures and event == "rate_limited":
            event = "auth_rate_limited"
        self._count(event)
        logger = self.logger
        if not logger.isEnabledFor(logging.WARNING):
            return
        line = {
            "event": event,
            "request_id": rid,
            "client": client,
            "key_name": key_name,
            "method": method,
            "path": path if len(path) <= 256 else path[:253] + "...",
            "status": status,
            "model_id": self.model_id,
            "protocol": protocol,
        }
        logger.handle(
            logger.makeRecord(logger.name, logging.WARNING, __file__, 0, orjson.dumps(line).decode(), (), None)
        )
