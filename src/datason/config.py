"""Configuration: one immutable ``SerializationConfig`` plus presets and a scoped override.

Typed mode (``include_type_hints=True``, the default) writes tagged values that
``loads`` turns back into the same types. Plain mode writes clean JSON for web
clients; ``auto_deserialize`` can rebuild dates and UUIDs from it.

The default config is process-wide (``set_default_config``); ``use_config`` overrides
it for one block of code, per thread and per asyncio task (a ``ContextVar``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Literal

__all__ = [
    "SerializationConfig",
    "get_api_config",
    "get_default_config",
    "get_ml_config",
    "get_performance_config",
    "get_strict_config",
    "set_default_config",
    "use_config",
]

DateFormat = Literal["iso", "unix", "unix_ms"]
UuidFormat = Literal["object", "string"]
NanHandling = Literal["null", "string", "error"]
DataframeOrient = Literal["records", "split", "columns", "index", "values", "table"]
ArrayFormat = Literal["auto", "readable", "compact"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "date_format": ("iso", "unix", "unix_ms"),
    "uuid_format": ("object", "string"),
    "nan_handling": ("null", "string", "error"),
    "dataframe_orient": ("records", "split", "columns", "index", "values", "table"),
    "array_format": ("auto", "readable", "compact"),
}

MiB = 1024 * 1024


class SerializationConfig:
    """How values are encoded and decoded. Immutable: derive variants with ``replace``.

    Limits apply to both directions and raise ``SecurityError``:
    ``max_depth`` is the deepest nesting of JSON containers (a tagged value's
    envelope counts as one level), ``max_size`` the most items in one container
    (list, dict, set, array elements), ``max_string_length`` the longest string
    in characters, ``max_bytes`` the longest document in bytes.

    ``device`` names where decoded tensors go (``"cpu"`` when None); ``trusted_types``
    lists the fully qualified class names a secure model format may rebuild (for example
    scikit-learn estimators through skops): nothing else is ever instantiated.
    """

    __slots__ = (
        "array_format",
        "compact_threshold",
        "dataframe_orient",
        "date_format",
        "device",
        "ensure_ascii",
        "include_type_hints",
        "max_bytes",
        "max_depth",
        "max_size",
        "max_string_length",
        "nan_handling",
        "parse_dates",
        "parse_uuids",
        "sort_keys",
        "strict",
        "trusted_types",
        "uuid_format",
    )

    include_type_hints: bool
    date_format: DateFormat
    uuid_format: UuidFormat
    parse_uuids: bool
    parse_dates: bool
    nan_handling: NanHandling
    dataframe_orient: DataframeOrient
    array_format: ArrayFormat
    compact_threshold: int
    sort_keys: bool
    ensure_ascii: bool
    strict: bool
    max_depth: int
    max_size: int
    max_string_length: int
    max_bytes: int
    device: str | None
    trusted_types: tuple[str, ...]

    def __init__(
        self,
        *,
        include_type_hints: bool = True,
        date_format: DateFormat = "iso",
        uuid_format: UuidFormat = "object",
        parse_uuids: bool = True,
        parse_dates: bool = True,
        nan_handling: NanHandling = "null",
        dataframe_orient: DataframeOrient = "records",
        array_format: ArrayFormat = "auto",
        compact_threshold: int = 256,
        sort_keys: bool = False,
        ensure_ascii: bool = False,
        strict: bool = False,
        max_depth: int = 256,
        max_size: int = 100_000_000,
        max_string_length: int = 512 * MiB,
        max_bytes: int = 2048 * MiB,
        device: str | None = None,
        trusted_types: tuple[str, ...] = (),
    ) -> None:
        values = locals()
        values["trusted_types"] = tuple(trusted_types)
        for name in self.__slots__:
            object.__setattr__(self, name, values[name])
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"SerializationConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if device is not None and not isinstance(device, str):
            raise ValueError(f"SerializationConfig.device must be a device name or None, got {device!r}")
        if not all(isinstance(t, str) for t in self.trusted_types):
            raise ValueError("SerializationConfig.trusted_types must be type names (str)")
        for name in ("max_depth", "max_size", "max_string_length", "max_bytes", "compact_threshold"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"SerializationConfig.{name} must be a non-negative int, got {value!r}")

    def replace(self, **changes: Any) -> SerializationConfig:
        """A copy with the given fields changed."""
        unknown = set(changes) - set(self.__slots__)
        if unknown:
            raise TypeError(f"SerializationConfig has no field {sorted(unknown)[0]!r}")
        return SerializationConfig(**{**self._asdict(), **changes})

    def _asdict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"SerializationConfig is immutable; use .replace({name}=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("SerializationConfig is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not SerializationConfig:
            return NotImplemented
        return self._asdict() == other._asdict()

    def __hash__(self) -> int:
        return hash(tuple(self._asdict().values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._asdict().items())
        return f"SerializationConfig({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._asdict(),))


def _rebuild(fields: dict[str, Any]) -> SerializationConfig:
    return SerializationConfig(**fields)


_DEFAULT = SerializationConfig()
_global_default: SerializationConfig = _DEFAULT
_scoped: ContextVar[SerializationConfig | None] = ContextVar("datason_config", default=None)


def get_default_config() -> SerializationConfig:
    """The config used when a call passes none: the innermost ``use_config`` or the process default."""
    scoped = _scoped.get()
    return _global_default if scoped is None else scoped


def set_default_config(config: SerializationConfig | None) -> None:
    """Set the process-wide default (``None`` restores the built-in default)."""
    global _global_default
    if config is not None and not isinstance(config, SerializationConfig):
        raise TypeError("set_default_config expects a SerializationConfig")
    _global_default = _DEFAULT if config is None else config


@contextlib.contextmanager
def use_config(config: SerializationConfig) -> Iterator[SerializationConfig]:
    """Use ``config`` as the default inside the block, for this thread or asyncio task only."""
    if not isinstance(config, SerializationConfig):
        raise TypeError("use_config expects a SerializationConfig")
    token = _scoped.set(config)
    try:
        yield config
    finally:
        _scoped.reset(token)


def get_api_config() -> SerializationConfig:
    """Plain JSON for web clients and pydantic models: no tags, ISO dates, UUID strings, sorted keys.

    Limits are sized for untrusted request bodies.
    """
    return SerializationConfig(
        include_type_hints=False,
        uuid_format="string",
        parse_uuids=False,
        parse_dates=True,
        sort_keys=True,
        array_format="readable",
        max_depth=256,
        max_size=1_000_000,
        max_string_length=16 * MiB,
        max_bytes=64 * MiB,
    )


def get_ml_config() -> SerializationConfig:
    """Typed and exact, arrays in compact form whenever they are large: for artefacts and model I/O."""
    return SerializationConfig(array_format="auto", compact_threshold=64)


def get_strict_config() -> SerializationConfig:
    """Typed, and refuses what it cannot round-trip: unknown tags, unregistered classes and subclasses.

    Limits are sized for untrusted input.
    """
    return SerializationConfig(
        strict=True,
        max_depth=64,
        max_size=1_000_000,
        max_string_length=16 * MiB,
        max_bytes=64 * MiB,
    )


def get_performance_config() -> SerializationConfig:
    """Typed, compact arrays from the smallest size, no key sorting: the fastest exact setting."""
    return SerializationConfig(array_format="compact", compact_threshold=0)
