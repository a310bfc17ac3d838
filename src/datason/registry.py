"""The type registry: which Python types datason encodes, under which wire tag, and how.

Every type datason knows, built in or user-defined, is a ``TypeHandler`` here.
Encoding looks handlers up by the value's exact type (then, for handlers that
accept subclasses, along its MRO); decoding looks them up by tag only. Nothing
is imported or called because a payload names it: a tag that is not registered
is unknown.

Handlers for optional libraries (NumPy, pandas, ...) live in ``datason.handlers``
and are imported lazily: the first time a value from such a library is met, or
a tag of its namespace is read (``LIBRARIES`` has one row per such module).
"""

from __future__ import annotations

import enum
import importlib
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["DecodeContext", "EncodeContext", "TypeHandler", "register_type", "unregister_type"]


class EncodeContext:
    """What an encode hook may consult: the config, whether the output is typed, and ``encode``."""

    __slots__ = ("_value", "config", "depth", "native_ok", "typed")

    def __init__(self, config: Any, *, native_ok: bool = False) -> None:
        self.config = config
        self.typed: bool = config.include_type_hints
        # True when dumps writes the tree itself, so a handler may put RawJSON (pre-encoded JSON) in it.
        self.native_ok = native_ok
        self.depth = 1  # where the hook's payload sits; the encoder sets it around each hook call
        self._value: Callable[[Any, int], Any] | None = None

    def encode(self, value: Any) -> Any:
        """Encode a part of a payload (a label, an object item) now, one level inside the payload."""
        if self._value is None:
            raise RuntimeError("EncodeContext.encode is only available inside an encoder's hook call")
        return self._value(value, self.depth + 1)


class DecodeContext:
    """What a decode hook may consult: the config, and ``decode`` for payload parts it revives itself."""

    __slots__ = ("_value", "config", "depth")

    def __init__(self, config: Any, value: Callable[[Any, int], Any]) -> None:
        self.config = config
        self.depth = 1  # where the hook's payload sits; the decoder sets it around each hook call
        self._value = value

    def decode(self, node: Any) -> Any:
        """Decode a part of the payload now, one level inside the payload (depth keeps counting)."""
        return self._value(node, self.depth + 1)


class TypeHandler:
    """How one type crosses the wire.

    - ``encode(obj, ctx)`` returns the typed-mode payload; datason encodes that
      payload further (it may hold other supported values) unless ``payload_is_json``.
    - ``decode(payload, ctx)`` rebuilds the object. The payload's own tagged values
      are already decoded, unless ``revive_payload`` is False (then call ``ctx.decode``).
    - ``plain(obj, ctx)`` returns the plain-mode (untagged) form; defaults to ``encode``.
    - ``keeps_class``: with ``subclasses``, the payload records the exact class (an Arrow IPC schema,
      a skops file), so subclasses round-trip too and strict mode accepts them.
    - ``untagged``: a family of user classes (pydantic models, ...) that has a natural JSON form but
      no tag to rebuild the class from: typed mode writes that form untagged (strict mode refuses),
      and ``loads(s, type=Cls)`` rebuilds it.
    - ``native``: the C accelerator writes (and reads) exact instances of ``types`` itself, the same
      way these hooks do: one of its kinds (``"datetime"``, ``"date"``, ``"time"``, ``"timedelta"``,
      ``"str"`` for ``str(value)``, ``"np_bool"``, ``"np_int"``, ``"np_float"``, ``"np_float32"``,
      ``"np_float16"``, ``"np_complex64"``, ``"np_complex128"``, ``"ndarray"``; ``"untagged"``: C calls
      ``plain or encode`` itself for each class of the family, which must not read ``ctx.depth``;
      ``"enum_tagged"``: an Enum on ``register_type``'s default hooks). Only datason sets it;
      tests/test_native_types.py checks each against its hooks.
    """

    __slots__ = (
        "aliases",
        "decode",
        "encode",
        "keeps_class",
        "native",
        "payload_is_json",
        "plain",
        "revive_payload",
        "subclasses",
        "tag",
        "types",
        "untagged",
    )

    def __init__(
        self,
        types: tuple[type, ...],
        tag: str,
        encode: Callable[[Any, EncodeContext], Any],
        decode: Callable[[Any, DecodeContext], Any],
        plain: Callable[[Any, EncodeContext], Any] | None = None,
        *,
        subclasses: bool = False,
        payload_is_json: bool = False,
        revive_payload: bool = True,
        aliases: tuple[str, ...] = (),
        untagged: bool = False,
        keeps_class: bool = False,
        native: str | None = None,
    ) -> None:
        self.types = types
        self.native = native
        self.keeps_class = keeps_class
        self.untagged = untagged
        self.tag = tag
        self.encode = encode
        self.decode = decode
        self.plain = plain
        self.subclasses = subclasses
        self.payload_is_json = payload_is_json
        self.revive_payload = revive_payload
        self.aliases = aliases

    def __repr__(self) -> str:
        return f"TypeHandler(tag={self.tag!r}, types={self.types!r})"


class Library(NamedTuple):
    """An optional library (or slow-to-import stdlib modules) whose handler module is imported lazily.

    The registry imports ``handler_module`` the first time it meets a value whose type (or a base class of
    it) is defined in one of ``type_modules`` (top-level module names), or reads a tag starting with one of
    ``tag_prefixes``. When that import fails, ``install_hint`` tells what to install.
    """

    handler_module: str
    type_modules: tuple[str, ...]
    tag_prefixes: tuple[str, ...]
    install_hint: str | None = None


# One row per lazily imported handler module. A new handler module for an optional library needs its row.
LIBRARIES: tuple[Library, ...] = (
    Library("datason.handlers.numpy", ("numpy",), ("numpy.",), "numpy (pip install 'datason[numpy]')"),
    Library("datason.handlers.pandas", ("pandas",), ("pandas.",), "pandas (pip install 'datason[pandas]')"),
    Library("datason.handlers.torch", ("torch",), ("torch.",), "torch (pip install 'datason[torch]')"),
    Library("datason.handlers.scipy", ("scipy",), ("scipy.",), "scipy (pip install 'datason[scipy]')"),
    Library("datason.handlers.polars", ("polars",), ("polars.",), "polars (pip install 'datason[polars]')"),
    Library("datason.handlers.arrow", ("pyarrow",), ("pyarrow.",), "pyarrow (pip install 'datason[arrow]')"),
    Library("datason.handlers.images", ("PIL",), ("PIL.",), "Pillow (pip install 'datason[images]')"),
    Library(
        "datason.handlers.sklearn",
        ("sklearn",),
        ("sklearn.",),
        "scikit-learn and skops (pip install 'datason[sklearn]')",
    ),
    # pydantic values travel untagged (rebuilt only into a type the caller names): no tag loads them.
    Library("datason.handlers.pydantic", ("pydantic",), ()),
    # Always installed; lazy only because these modules are slow to import.
    Library(
        "datason.handlers.stdlib",
        ("decimal", "fractions", "pathlib", "zoneinfo"),
        ("decimal.", "fractions.", "pathlib.", "zoneinfo."),
    ),
)
# The lookups, derived once: top-level module of a value's type, and tag prefix, to the handler module.
_BY_TYPE_MODULE = {name: lib.handler_module for lib in LIBRARIES for name in lib.type_modules}
_BY_TAG_PREFIX = {prefix: lib.handler_module for lib in LIBRARIES for prefix in lib.tag_prefixes}
_INSTALL_HINTS = {lib.handler_module: lib.install_hint for lib in LIBRARIES if lib.install_hint is not None}
# Tags of datason 0.x that named a class to import: never decoded, never a reason to load a handler.
_NEVER_DECODED = frozenset({"sklearn.model"})


class Registry:
    """Maps exact types and tags to handlers. Reads are lock-free dict lookups."""

    def __init__(self) -> None:
        self._by_type: dict[type, TypeHandler] = {}
        self._by_tag: dict[str, TypeHandler] = {}
        self._subclass_handlers: list[TypeHandler] = []
        self._by_subclass: dict[type, TypeHandler] = {}  # classes resolved through _subclass_handlers
        self._loaded: dict[str, bool] = {}  # handler module -> imported successfully
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every ``add`` and ``remove`` (the C accelerator forgets what it cached)."""
        self._listeners.append(listener)

    def add(self, handler: TypeHandler, *, replace: bool = False) -> None:
        with self._lock:
            for tag in (handler.tag, *handler.aliases):
                old = self._by_tag.get(tag)
                if old is not None and not replace and old.types != handler.types:
                    raise ValueError(f"tag {tag!r} is already registered for {old.types[0].__qualname__}")
            by_type = dict(self._by_type)
            by_tag = dict(self._by_tag)
            for cls in handler.types:
                by_type[cls] = handler
            for tag in (handler.tag, *handler.aliases):
                by_tag[tag] = handler
            subs = [h for h in self._subclass_handlers if h.tag != handler.tag]
            if handler.subclasses:
                subs.append(handler)
            # Swap whole dicts so concurrent readers never see a half-made update.
            self._by_type, self._by_tag, self._subclass_handlers = by_type, by_tag, subs
            self._by_subclass = {}
            for listener in self._listeners:
                listener()

    def remove(self, cls: type) -> None:
        with self._lock:
            handler = self._by_type.get(cls)
            if handler is None:
                return
            self._by_type = {t: h for t, h in self._by_type.items() if h is not handler}
            self._by_tag = {t: h for t, h in self._by_tag.items() if h is not handler}
            self._subclass_handlers = [h for h in self._subclass_handlers if h is not handler]
            self._by_subclass = {}
            for listener in self._listeners:
                listener()

    def for_type(self, cls: type) -> TypeHandler | None:
        handler = self._by_type.get(cls) or self._by_subclass.get(cls)
        if handler is not None:
            return handler
        # A library's own types, or a user class built on one (a pydantic model): load its handlers.
        for base in cls.__mro__[:-1]:
            module = _BY_TYPE_MODULE.get(base.__module__.partition(".")[0])
            if module is not None and module not in self._loaded:
                self._load(module)
                handler = self._by_type.get(cls)
                if handler is not None:
                    return handler
        for candidate in self._subclass_handlers:
            if issubclass(cls, candidate.types):
                if len(self._by_subclass) >= 4096:  # classes made on the fly: keep the cache bounded
                    self._by_subclass = {}
                self._by_subclass[cls] = candidate  # a user class (a pydantic model): found once
                return candidate
        return None

    def for_tag(self, tag: str) -> TypeHandler | None:
        handler = self._by_tag.get(tag)
        if handler is not None or tag in _NEVER_DECODED:
            return handler
        for prefix, module in _BY_TAG_PREFIX.items():
            if tag.startswith(prefix) and module not in self._loaded:
                self._load(module)
                return self._by_tag.get(tag)
        return None

    def missing_library(self, tag: str) -> str | None:
        """The install hint when ``tag`` belongs to an optional library that is not installed."""
        if tag in _NEVER_DECODED:
            return None
        for prefix, module in _BY_TAG_PREFIX.items():
            if tag.startswith(prefix) and self._loaded.get(module) is False:
                return _INSTALL_HINTS.get(module)
        return None

    def _load(self, module: str) -> None:
        with self._lock:
            if module in self._loaded:
                return
            try:
                importlib.import_module(module)
            except ImportError:
                self._loaded[module] = False
            else:
                self._loaded[module] = True


REGISTRY = Registry()


def register_type(
    cls: type,
    *,
    tag: str | None = None,
    encode: Callable[[Any], Any] | None = None,
    decode: Callable[[Any], Any] | None = None,
    plain: Callable[[Any], Any] | None = None,
    subclasses: bool = False,
    replace: bool = False,
) -> TypeHandler:
    """Register ``cls`` so typed output tags it and ``loads`` rebuilds it.

    ``tag`` defaults to ``module.QualName``. Dataclasses and Enum classes need no
    hooks: a dataclass becomes a dict of its fields, an Enum member its value.
    Otherwise pass ``encode(obj) -> payload`` and ``decode(payload) -> obj``; the
    payload may hold any value datason supports. ``plain(obj)`` gives the untagged
    form for plain mode (default: the payload).
    """
    if not isinstance(cls, type):
        raise TypeError("register_type expects a class")
    if tag is None:
        tag = f"{cls.__module__}.{cls.__qualname__}"
    # An Enum on the default hooks: the C accelerator writes the member's value and calls the class on it.
    native = "enum_tagged" if issubclass(cls, enum.Enum) and not (encode or decode or plain or subclasses) else None
    if encode is None or decode is None:
        default_encode, default_decode = _default_hooks(cls)
        encode = encode or default_encode
        decode = decode or default_decode
    enc, dec = encode, decode
    handler = TypeHandler(
        types=(cls,),
        tag=tag,
        encode=lambda obj, ctx: enc(obj),
        decode=lambda payload, ctx: dec(payload),
        plain=None if plain is None else (lambda obj, ctx: plain(obj)),
        subclasses=subclasses,
        native=native,
    )
    REGISTRY.add(handler, replace=replace)
    return handler


def unregister_type(cls: type) -> None:
    """Forget the handler registered for ``cls`` (no error if there is none)."""
    REGISTRY.remove(cls)


def _default_hooks(cls: type) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    if issubclass(cls, enum.Enum):
        return (lambda member: member.value), cls
    if is_dataclass_type(cls):
        return dataclass_fields, lambda payload: build_dataclass(cls, payload)
    raise TypeError(
        f"register_type({cls.__qualname__}) needs encode= and decode= (only dataclasses and Enums have defaults)"
    )


def is_dataclass_type(cls: type) -> bool:
    """``dataclasses.is_dataclass`` for a class, without importing dataclasses (slow to import)."""
    return hasattr(cls, "__dataclass_fields__")


def dataclass_fields(obj: Any) -> dict[str, Any]:
    """A dataclass instance's fields as a dict (not recursive: datason walks the values)."""
    import dataclasses  # already imported: obj is a dataclass instance

    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def build_dataclass(cls: type, payload: Any) -> Any:
    """Rebuild a dataclass from its fields; ``init=False`` fields are set after construction."""
    import dataclasses  # already imported: cls is a dataclass

    if not isinstance(payload, dict):
        raise TypeError(f"expected an object of fields, got {type(payload).__name__}")
    fields = dataclasses.fields(cls)
    init_args = {f.name: payload[f.name] for f in fields if f.init and f.name in payload}
    obj = cls(**init_args)
    for f in fields:
        if not f.init and f.name in payload:
            object.__setattr__(obj, f.name, payload[f.name])
    return obj
