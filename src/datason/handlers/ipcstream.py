"""The payload Arrow and Polars share: ``{"format": "arrow-stream", "data": BASE64}`` of an Arrow IPC stream.

Needs neither library (Polars frames travel without PyArrow): it builds the payload from stream bytes and
gives the bytes back from a payload, its shape checked and its size against ``max_bytes`` before decoding.
"""

from __future__ import annotations

from typing import Any

from ..errors import DeserializationError, SecurityError
from ..registry import DecodeContext
from .kit import b64decode, b64encode

__all__ = ["FORMAT", "stream_bytes", "stream_payload"]

FORMAT = "arrow-stream"


def stream_payload(data: bytes | bytearray | memoryview) -> dict[str, str]:
    """The payload of one IPC stream."""
    return {"format": FORMAT, "data": b64encode(data)}


def stream_bytes(payload: Any, ctx: DecodeContext, what: str) -> bytes:
    """The raw bytes of an ``{"format", "data"}`` payload, its size checked before decoding."""
    if type(payload) is not dict or set(payload) != {"format", "data"}:
        raise DeserializationError(f"{what} payload must be an object with format and data")
    if payload["format"] != FORMAT:
        raise DeserializationError(f"{what} payload format must be {FORMAT!r}")
    data = payload["data"]
    if type(data) is not str:
        raise DeserializationError(f"{what} data must be a base64 string")
    if len(data) // 4 * 3 > ctx.config.max_bytes:
        raise SecurityError(f"{what} data larger than max_bytes={ctx.config.max_bytes}")
    return b64decode(data)
