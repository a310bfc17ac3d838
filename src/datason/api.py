"""The public functions: serialize/deserialize (Python trees), dumps/loads (JSON text) and friends."""

from __future__ import annotations

import threading
from typing import IO, Any

from . import decoder as _decoder_module
from .config import SerializationConfig, get_default_config
from .convert import convert
from .decoder import Decoder
from .encoder import Encoder
from .engine import write
from .errors import SecurityError
from .fastpath import plain_dumpb

__all__ = ["auto_deserialize", "deserialize", "dump", "dumpb", "dumps", "load", "loads", "serialize"]


def serialize(obj: Any, config: SerializationConfig | None = None) -> Any:
    """``obj`` as a JSON-safe Python value (dict, list, str, int, float, bool, None)."""
    return Encoder(config or get_default_config()).encode(obj)


def deserialize(data: Any, config: SerializationConfig | None = None, *, type: Any = None) -> Any:
    """Rebuild the typed values that ``serialize`` produced; with ``type``, validate into that type."""
    cfg = config or get_default_config()
    return _finish(Decoder(cfg).decode(data), type)


def auto_deserialize(
    data: Any, config: SerializationConfig | None = None, aggressive: bool = False, *, type: Any = None
) -> Any:
    """Like ``deserialize``, also recognising ISO datetimes and UUID strings in untyped JSON.

    ``parse_dates`` and ``parse_uuids`` in the config switch each on; ``aggressive``
    adds numeric strings. Containers are never guessed: a dict stays a dict.
    """
    cfg = config or get_default_config()
    return _finish(Decoder(cfg, auto=True, aggressive=aggressive).decode(data), type)


def dumpb(
    obj: Any,
    config: SerializationConfig | None = None,
    *,
    indent: int | str | None = None,
    sort_keys: bool | None = None,
) -> bytes:
    """``dumps`` as UTF-8 bytes (what servers write to a socket), without the decode step."""
    cfg = config or get_default_config()
    sort = cfg.sort_keys if sort_keys is None else sort_keys
    out: bytes | None = None
    if indent is None and not cfg.ensure_ascii:
        out = plain_dumpb(obj, cfg, sort_keys=sort)
        if out is None:
            out = Encoder(cfg, native_ok=True).dumpb(obj, sort_keys=sort)
    else:
        tree = Encoder(cfg).encode(obj)
        out = write(tree, sort_keys=sort, indent=indent, ensure_ascii=cfg.ensure_ascii)
    if len(out) > cfg.max_bytes:
        raise SecurityError(f"document larger than max_bytes={cfg.max_bytes}", type_name=type(obj).__name__)
    return out


def dumps(
    obj: Any,
    config: SerializationConfig | None = None,
    *,
    indent: int | str | None = None,
    sort_keys: bool | None = None,
) -> str:
    """``obj`` as a JSON document (strict RFC 8259: never a bare NaN or Infinity)."""
    return dumpb(obj, config, indent=indent, sort_keys=sort_keys).decode("utf-8")


def loads(
    s: str | bytes | bytearray | memoryview, config: SerializationConfig | None = None, *, type: Any = None
) -> Any:
    """Parse a JSON document and rebuild its typed values; with ``type``, validate into that type."""
    cfg = config or get_default_config()
    if _byte_size(s, cfg.max_bytes) > cfg.max_bytes:
        raise SecurityError(f"document larger than max_bytes={cfg.max_bytes}")
    entry = _decoder_for(cfg)
    if entry is None:  # a nested call on this thread while its decoder is in use: a fresh one
        return _finish(Decoder(cfg, in_place=True).parse(s), type)
    entry[2] = True
    try:
        value = entry[1].parse(s)
    finally:
        entry[2] = False
    return _finish(value, type)


# Building a Decoder costs more than parsing a small document (1.2 µs against 0.25 µs for a request body):
# each thread keeps the decoders of the configs it used last (configs are immutable; a few per program).
# An entry is [config, decoder, busy, accelerator]; a decoder is never shared between threads or nested
# calls, and is rebuilt when the C accelerator was switched (tests run both paths in one process).
_LOCAL = threading.local()
_DECODERS_KEPT = 8


def _decoder_for(cfg: SerializationConfig) -> list[Any] | None:
    cache: dict[int, list[Any]] | None = getattr(_LOCAL, "decoders", None)
    if cache is None:
        cache = _LOCAL.decoders = {}
    entry = cache.get(id(cfg))
    accelerator = _decoder_module._speedups
    if entry is not None and entry[0] is cfg and entry[3] is accelerator:
        return None if entry[2] else entry
    if len(cache) >= _DECODERS_KEPT:
        cache.clear()
    entry = cache[id(cfg)] = [cfg, Decoder(cfg, in_place=True), False, accelerator]
    return entry


def dump(obj: Any, fp: IO[str], config: SerializationConfig | None = None, **kwargs: Any) -> None:
    """Write ``dumps(obj)`` to a text file."""
    fp.write(dumps(obj, config, **kwargs))


def load(fp: IO[str] | IO[bytes], config: SerializationConfig | None = None, *, type: Any = None) -> Any:
    """``loads`` of a file's whole content."""
    return loads(fp.read(), config, type=type)


def _byte_size(s: str | bytes | bytearray | memoryview, limit: int) -> int:
    """The document's size in bytes, encoding a str only when its length leaves the answer open."""
    if isinstance(s, str) and limit // 4 < len(s) <= limit:
        return len(s.encode("utf-8", "surrogatepass"))
    return len(s) if not isinstance(s, memoryview) else s.nbytes


def _finish(value: Any, target: Any) -> Any:
    return value if target is None else convert(value, target)
