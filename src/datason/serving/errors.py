"""Request failures as HTTP statuses with a sanitized message, and the error envelope clients receive.

Every failure is a ``ServingError`` (a ``DatasonError``, so a ``ValueError`` naming a type and a path)
carrying its HTTP ``status`` and a metrics ``kind``. Messages never quote field values, user
exception text, tracebacks or file paths: datason errors give their type and path, a failing predict
gives only its exception class name.
"""

from __future__ import annotations

import time
from typing import ClassVar

import orjson

from ..errors import DatasonError, SecurityError

__all__ = [
    "ERROR_KINDS",
    "ForbiddenError",
    "MalformedRequestError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PredictionError",
    "RateLimitedError",
    "ResponseSerializationError",
    "ServingError",
    "UnauthorizedError",
    "UnsupportedMediaTypeError",
    "ValidationFailedError",
    "error_body",
    "from_decode_error",
    "prediction_failed",
    "utc_timestamp",
]


class ServingError(DatasonError):
    """A request that cannot be answered with a prediction; ``status`` is its HTTP status."""

    status: ClassVar[int] = 500
    kind: ClassVar[str] = "internal"
    #: Server-side explanation for the log line only (never sent to the client).
    detail: str | None = None
    #: The authenticated caller's name when known (a 403, or a 429 of its tier), for the security event.
    client: str | None = None

    def _render(self) -> str:
        # A request-level failure (path "$") reads better without " at $"; deeper paths are kept.
        text = super()._render()
        return text[:-5] if text.endswith(" at $") else text


class MalformedRequestError(ServingError):
    """Body is not JSON, not UTF-8, or not a JSON object (400)."""

    status = 400
    kind = "malformed"


class PayloadTooLargeError(ServingError):
    """Body over ``max_body_bytes``, or a datason size limit met while decoding it (413)."""

    status = 413
    kind = "too_large"


class ValidationFailedError(ServingError):
    """Features missing, too deep, too many, or not matching the schema (422)."""

    status = 422
    kind = "validation"


class UnsupportedMediaTypeError(ServingError):
    """A body in an encoding or media type the service does not read (415)."""

    status = 415
    kind = "unsupported_media_type"


class RateLimitedError(ServingError):
    """The client used up its rate limit (429); ``retry_after`` is in whole seconds."""

    status = 429
    kind = "rate_limited"
    #: True when the client is refused for too many failed authentications (the security event says so).
    from_auth_failures: bool = False

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"rate limit exceeded; retry after {retry_after} s")


class UnauthorizedError(ServingError):
    """Credentials missing, unknown, revoked, expired or for another audience: one answer for all (401)."""

    status = 401
    kind = "unauthorized"


class ForbiddenError(ServingError):
    """Valid credentials whose scopes do not include what the route needs (403)."""

    status = 403
    kind = "forbidden"


class PredictionError(ServingError):
    """The predict function raised or returned something unusable (500)."""

    status = 500
    kind = "predict"


class ResponseSerializationError(ServingError):
    """The prediction could not be written as JSON under the service's datason config (500)."""

    status = 500
    kind = "serialization"


class NotFoundError(ServingError):
    """No such route (404)."""

    status = 404
    kind = "not_found"


class MethodNotAllowedError(ServingError):
    """Route exists, method does not (405)."""

    status = 405
    kind = "method_not_allowed"


ERROR_KINDS: tuple[str, ...] = tuple(
    cls.kind
    for cls in (
        MalformedRequestError,
        PayloadTooLargeError,
        ValidationFailedError,
        UnsupportedMediaTypeError,
        RateLimitedError,
        UnauthorizedError,
        ForbiddenError,
        PredictionError,
        ResponseSerializationError,
        ServingError,
    )
)
"""The ``kind`` label values of ``ml_prediction_errors_total`` (the /predict failures)."""

_SIZE_WORDS = ("max_bytes", "max_size", "max_string_length")


def from_decode_error(exc: DatasonError, *, max_depth: int | None = None) -> ServingError:
    """The serving error for a datason error met while decoding a request body.

    Size limits (bytes, container size, string length) are 413; nesting depth is 422 (a schema-level
    limit); anything else (invalid JSON, invalid UTF-8, bad tagged payloads) is 400. ``max_depth`` is the
    limit the service was given, named instead of the decoder's (which also counts the protocol's envelope).
    """
    cls: type[ServingError] = MalformedRequestError
    if max_depth is not None and isinstance(exc, SecurityError) and "max_depth" in exc.reason:
        return ValidationFailedError(
            f"nesting deeper than max_depth={max_depth}", path=exc.path, type_name=exc.type_name
        )
    if isinstance(exc, SecurityError):
        cls = PayloadTooLargeError if any(w in exc.reason for w in _SIZE_WORDS) else ValidationFailedError
    return cls(exc.reason, path=exc.path, type_name=exc.type_name)


def prediction_failed(exc: BaseException) -> PredictionError:
    """The client-safe error for an exception raised by user code: its class name only."""
    return PredictionError(f"prediction failed ({type(exc).__name__})")


_last_second: tuple[int, str] = (-1, "")
_last_milli: tuple[int, str] = (-1, "")


def utc_timestamp(now: float | None = None) -> str:
    """ISO 8601 UTC with milliseconds and a ``Z`` suffix, e.g. ``2024-05-06T07:08:09.123Z``."""
    global _last_second, _last_milli
    t = time.time() if now is None else now
    milli, text = _last_milli  # a busy service answers several requests per millisecond: the same text
    now_milli = int(t * 1000)
    if now_milli == milli:
        return text
    seconds = int(t)
    second, prefix = _last_second  # the formatted second is reused within that second (one tuple: thread-safe)
    if second != seconds:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _last_second = (seconds, prefix)
    text = f"{prefix}.{int((t - seconds) * 1000):03d}Z"
    _last_milli = (now_milli, text)
    return text


def error_body(request_id: str, message: str, timestamp: str | None = None) -> bytes:
    """The error envelope ``{"request_id", "status": "error", "error", "timestamp"}`` as JSON bytes."""
    return orjson.dumps(
        {
            "request_id": request_id,
            "status": "error",
            "error": message,
            "timestamp": utc_timestamp() if timestamp is None else timestamp,
        }
    )
