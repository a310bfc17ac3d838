"""Wire-format constants shared by the encoder and decoder (see docs/wire-format.md)."""

from __future__ import annotations

__all__ = ["FORMAT_VERSION", "TYPE_KEY", "VALUE_KEY", "envelope"]

FORMAT_VERSION = 1
TYPE_KEY = "__datason_type__"
VALUE_KEY = "__datason_value__"


def envelope(tag: str, payload: object) -> dict[str, object]:
    """A typed value as it appears on the wire."""
    return {TYPE_KEY: tag, VALUE_KEY: payload}
