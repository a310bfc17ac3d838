"""Request bodies sent with ``Content-Encoding: gzip`` or ``deflate`` (tritonclient's request compression).

The body is inflated with ``zlib`` up to ``max_body_bytes`` of output: a body that inflates past the cap is
refused (413) without inflating the rest, so a small compressed bomb costs at most the cap. ``deflate`` is
read as zlib-wrapped (what tritonclient and browsers send) or raw. Other encodings are 415.
"""

from __future__ import annotations

import zlib

from .errors import MalformedRequestError, PayloadTooLargeError, UnsupportedMediaTypeError

__all__ = ["decompress"]

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decompress(body: bytes, encoding: str, cap: int) -> bytes:
    """``body`` decoded from ``encoding`` (a Content-Encoding header value), at most ``cap`` bytes of it."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return body
    wbits = _WBITS.get(name)
    if wbits is None:
        raise UnsupportedMediaTypeError("unsupported Content-Encoding (use gzip, deflate or identity)")
    try:
        return _inflate(body, wbits, cap)
    except zlib.error:
        if name != "deflate":
            raise MalformedRequestError(f"body is not valid {name} data") from None
    try:
        return _inflate(body, -zlib.MAX_WBITS, cap)  # raw deflate, without the zlib wrapper
    except zlib.error:
        raise MalformedRequestError("body is not valid deflate data") from None


def _inflate(body: bytes, wbits: int, cap: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(body, cap + 1)
    if len(out) > cap or inflater.unconsumed_tail:
        raise PayloadTooLargeError(f"decompressed body larger than max_body_bytes={cap}")
    if not inflater.eof:
        raise MalformedRequestError("compressed body is truncated")
    return out
