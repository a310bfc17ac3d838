"""Request ids, redaction, and the one structured JSON log line written per request.

Lines go to the ``datason.serving`` logger through ``logging``: when that logger is disabled or
filtered out, nothing is built. 5xx lines are logged at ERROR, everything else at INFO (health,
readiness and metrics probes at DEBUG).
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
from collections.abc import Callable, Iterable
from typing import IO, Any

import orjson

__all__ = ["LOGGER_NAME", "REDACTED", "LineHandler", "RequestLogger", "redact", "request_id"]

LOGGER_NAME = "datason.serving"
REDACTED = "[REDACTED]"
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


# New ids are random version-4 UUIDs drawn from a per-process generator seeded from os.urandom (and reseeded
# in a forked child): ``uuid.uuid4()`` reads os.urandom on every call, a system call that cost a tenth of a
# trivial request's server time. Request ids correlate log lines; they are not secrets.
_RANDOM = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _RANDOM.seed(os.urandom(32)))
_VERSION_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_BITS = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def request_id(incoming: str | None) -> str:
    """``incoming`` when it is a sane id (1-128 of ``A-Z a-z 0-9 . _ : -``), else a new uuid4 hex."""
    if incoming and _SANE_ID.fullmatch(incoming):
        return incoming
    return "%032x" % (_RANDOM.getrandbits(128) & _VERSION_MASK | _VERSION_BITS)


def redact(value: Any, keys: Iterable[str]) -> Any:
    """A copy of ``value`` with the value of every dict key containing one of ``keys`` replaced.

    Matching is case-insensitive on the key text; lists, tuples and nested dicts are walked.
    """
    words = tuple(k.lower() for k in keys)
    return _redact(value, words)


def _redact(value: Any, words: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = str(key).lower()
            out[key] = REDACTED if any(w in name for w in words) else _redact(item, words)
        return out
    if isinstance(value, list | tuple):
        return [_redact(item, words) for item in value]
    return value


class RequestLogger:
    """Writes one JSON line per request: id, client, method, path, status, latency_ms, model_id, model_version
    (when given: the version that answered), protocol.

    ``trace_ids`` (set by ``datason.serving.tracing`` when tracing is on) gives the current ``trace_id`` and
    ``span_id`` to add to the line.
    """

    __slots__ = ("_redact", "logger", "model_id", "model_version", "payloads", "trace_ids")

    def __init__(
        self,
        model_id: str,
        *,
        model_version: str | None = None,
        log_payloads: bool = False,
        redact_keys: Iterable[str] = (),
    ) -> None:
        self.logger = logging.getLogger(LOGGER_NAME)
        self.model_id = model_id
        self.model_version = model_version
        self.payloads = log_payloads
        self._redact = tuple(k.lower() for k in redact_keys)
        self.trace_ids: Callable[[], dict[str, str] | None] | None = None

    def level(self, status: int) -> int:
        return logging.ERROR if status >= 500 else logging.INFO

    def enabled(self, level: int) -> bool:
        return self.logger.isEnabledFor(level)

    def log(
        self,
        level: int,
        rid: str,
        client: str,
        method: str,
        path: str,
        status: int,
        latency_ms: float,
        *,
        error: str | None = None,
        kind: str | None = None,
        payload: Any = None,
        protocol: str = "datason",
        detail: str | None = None,
    ) -> None:
        """Write the line (callers check ``enabled(level)`` first to skip building it).

        ``detail`` is a server-side explanation (why a prediction could not be serialized, say) that the
        client never sees.
        """
        line: dict[str, Any] = {
            "request_id": rid,
            "client": client,
            "method": method,
            "path": path if len(path) <= 256 else path[:253] + "...",
            "status": status,
            "latency_ms": round(latency_ms, 3),
            "model_id": self.model_id,
            "protocol": protocol,
        }
        if self.model_version is not None:
            line["model_version"] = self.model_version
        if kind is not None:
            line["error_kind"] = kind
            line["error"] = error
            if detail is not None:
                line["detail"] = detail
        if self.payloads and payload is not None:
            line["features"] = _redact(payload, self._redact)
        if self.trace_ids is not None:  # tracing on (issue 18): the request's trace and span
            ids = self.trace_ids()
            if ids is not None:
                line.update(ids)
        logger = self.logger
        # makeRecord + handle: what Logger.log does, minus the stack walk that finds the caller's line.
        logger.handle(logger.makeRecord(logger.name, level, __file__, 0, _dump(line), (), None))


def _dump(line: dict[str, Any]) -> str:
    try:
        return orjson.dumps(line, default=_plain).decode()
    except TypeError:  # a payload orjson cannot write even through ``_plain``
        line["features"] = "<unserializable>"
        return orjson.dumps(line, default=str).decode()


def _plain(value: Any) -> Any:
    from ..api import serialize
    from ..config import get_api_config

    return serialize(value, get_api_config())


class LineHandler(logging.Handler):
    """Writes each record's message as one line to ``stream``, flushing at most every ``interval`` seconds.

    ``logging.StreamHandler`` flushes after every line: one system call per request, which cost a request
    log line about 25 µs of server time. Here lines are written to the stream's buffer at once and flushed by
    a daemon thread every ``interval`` seconds, at once for records at ERROR and above, and when the handler
    is flushed or closed (``logging.shutdown`` at exit), so a line is on its way out within ``interval``.
    """

    def __init__(self, stream: IO[str], *, interval: float = 0.2) -> None:
        super().__init__()
        self.stream = stream
        self.interval = interval
        self._dirty = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._flusher, name="datason-log-flush", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = record.getMessage() if self.formatter is None else self.format(record)
            with self.lock:  # type: ignore[union-attr]  # Handler.createLock made it
                self.stream.write(line + "\n")
                self._dirty = True
                if record.levelno >= logging.ERROR:
                    self.stream.flush()
                    self._dirty = False
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._dirty:
                self._dirty = False
                self.stream.flush()

    def close(self) -> None:
        self._stopped.set()
        try:
            self.flush()
        finally:
            super().close()

    def _flusher(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.flush()
            except (OSError, ValueError):  # the stream went away (closed at exit): nothing more to do
                return
