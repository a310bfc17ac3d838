"""Handlers for pydantic (v2) models; loaded the first time a pydantic value is met.

A user's model class (any ``pydantic.BaseModel`` subclass) has a natural JSON form but no tag that could
rebuild it safely, so it is an *untagged* family: both modes write the model's natural form, strict mode
refuses it, and ``datason.loads(text, type=Model)`` (or ``list[Model]``, ``dict[str, Model]``, a dataclass
with a model field...) validates JSON back into the model with pydantic's own rules.

What each type becomes (typed payload | plain form, identical: no tag):

- ``pydantic.BaseModel`` and subclasses: ``model.model_dump(mode="python", by_alias=True, round_trip=True)``,
  then walked by datason. So nested datetimes, UUIDs, Decimals, NumPy arrays follow datason's config (typed
  mode tags them and ``loads`` revives them; plain mode writes ISO strings, plain lists...), field aliases are
  the keys (what FastAPI writes, and what the model validates by default), ``field_serializer`` and
  ``model_serializer`` hooks apply, and ``Json[...]`` fields dump as JSON text that validates back.
- ``pydantic.AnyUrl`` and the other URL types: the URL string.
- ``pydantic.SecretStr`` / ``SecretBytes``: the masked text ``"**********"`` (never the secret).

The tag ``pydantic.BaseModel`` is reserved: no payload is ever decoded under it (a document carrying it reads
as an unknown tag: left as is, refused in strict mode).
"""

from __future__ import annotations

from typing import Any

import pydantic
import pydantic.networks

from ..errors import DeserializationError
from ..registry import DecodeContext, EncodeContext
from ..wire import TYPE_KEY, VALUE_KEY
from .kit import add_handler

__all__: list[str] = []

_MODEL_TAG = "pydantic.BaseModel"


def _dump(model: pydantic.BaseModel, ctx: EncodeContext) -> Any:
    return model.model_dump(mode="python", by_alias=True, round_trip=True)


def _never(tag: str) -> Any:
    def decode(payload: Any, ctx: DecodeContext) -> Any:
        # Same outcome as an unknown tag: a model is rebuilt only into a type the caller names.
        if ctx.config.strict:
            raise DeserializationError("unknown type tag (strict mode)", type_name=tag)
        return {TYPE_KEY: tag, VALUE_KEY: ctx.decode(payload)}

    return decode


def _masked(secret: Any, ctx: EncodeContext) -> str:
    return "**********" if len(secret) else ""


def _untagged(types: tuple[type, ...], tag: str, encode: Any, native: str | None = None) -> None:
    add_handler(types, tag, encode, _never(tag), subclasses=True, untagged=True, revive_payload=False, native=native)


# The C accelerator calls _dump itself for each model class it has met (the dict it returns is walked as usual).
_untagged((pydantic.BaseModel,), _MODEL_TAG, _dump, native="untagged")

_URL_TYPES: tuple[type, ...] = tuple(
    cls
    for cls in (getattr(pydantic.networks, "_BaseUrl", None), getattr(pydantic.networks, "_BaseMultiHostUrl", None))
    if isinstance(cls, type)
)
if _URL_TYPES:
    _untagged(_URL_TYPES, "pydantic.AnyUrl", lambda o, c: str(o))
_untagged((pydantic.SecretStr, pydantic.SecretBytes), "pydantic.Secret", _masked)
