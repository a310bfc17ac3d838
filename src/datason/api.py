"""The public functions: serialize/deserialize (Python trees), dumps/loads (JSON text) and friends."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import IO, Any

from . import decoder as _decoder_module
from . import encoder as _encoder_module
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
            out = _with_kept(
                "encoders", cfg, _encoder_module._speedups, _dump_encoder, lambda e: e.dumpb(obj, sort_keys=sort)
            )
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
    value = _with_kept("decoders", cfg, _decoder_module._speedups, _load_decoder, lambda d: d.parse(s))
    return _finish(value, type)


# Building a Decoder or an Encoder costs more than a small document (1.2-1.5 µs against 0.25 µs for a request
# body): each thread keeps the ones of the configs it used last (configs are immutable; a few per program).
# An entry is [config, coder, busy, accelerator]; a coder is never shared between threads or nested calls,
# and is rebuilt when the C accelerator was switched (tests run both paths in one process).
_LOCAL = threading.local()
_KEPT = 8


def _with_kept(
    slot: str, cfg: SerializationConfig, accelerator: Any, build: Callable[[SerializationConfig], Any], use: Any
) -> Any:
    """``use(coder)`` with this thread's coder for ``cfg`` in ``slot`` (built on first use), marked busy meanwhile;
    a nested call on this thread while it is busy gets a fresh one."""
    cache: dict[int, list[Any]] | None = getattr(_LOCAL, slot, None)
    if cache is None:
        cache = {}
        setattr(_LOCAL, slot, cache)
    entry = cache.get(id(cfg))
    if entry is None or entry[0] is not cfg or entry[3] is not accelerator:
        if len(cache) >= _KEPT:
            cache.clear()
        entry = cache[id(cfg)] = [cfg, build(cfg), False, accelerator]
    elif entry[2]:
        return use(build(cfg))
    entry[2] = True
    try:
        return use(entry[1])
    finally:
        entry[2] = False


def _load_decoder(cfg: SerializationConfig) -> Decoder:
    return Decoder(cfg, in_place=True)


def _dump_encoder(cfg: SerializationConfig) -> Encoder:
    return Encoder(cfg, native_ok=True)


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
