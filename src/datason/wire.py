"""Wire-format constants shared by the encoder and decoder (see docs/wire-format.md)."""

from __future__ import annotations

__all__ = ["DATETIME_TAG", "FORMAT_VERSION", "TYPE_KEY", "UUID_TAG", "VALUE_KEY", "RawJSON", "envelope"]

FORMAT_VERSION = 1
TYPE_KEY = "__datason_type__"
VALUE_KEY = "__datason_value__"
# The tags of the two commonest typed values, which the C accelerator writes and reads without a lookup.
UUID_TAG = "uuid.UUID"
DATETIME_TAG = "datetime"


def envelope(tag: str, payload: object) -> dict[str, object]:
    """A typed value as it appears on the wire."""
    return {TYPE_KEY: tag, VALUE_KEY: payload}


class RawJSON:
    """Already-encoded JSON (for example a NumPy array written by orjson) that ``dumps`` copies verbatim.

    Handlers may return it only when ``EncodeContext.native_ok`` is true: it never reaches
    ``serialize`` output, which must be plain Python values.
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data
