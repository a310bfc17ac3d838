"""datason's exceptions: all are ``ValueError`` subclasses that name a type and a path.

A path is a JSONPath-like string such as ``$.features[3].ts``: ``$`` is the
root, ``.name`` a string key, ``[3]`` a list index and ``[<key>]`` any other key.
Messages name types and paths, never the values of fields, so they are safe to
log and to send to clients.
"""

from __future__ import annotations

__all__ = ["DatasonError", "DeserializationError", "SecurityError", "SerializationError"]


class DatasonError(ValueError):
    """Base class of every error datason raises."""

    def __init__(self, message: str, *, path: str = "$", type_name: str | None = None) -> None:
        self.reason = message
        self.path = path
        self.type_name = type_name
        super().__init__(self._render())

    def _render(self) -> str:
        path = self.path if len(self.path) <= 160 else self.path[:100] + "..." + self.path[-50:]
        where = f" at {path}"
        what = f" ({self.type_name})" if self.type_name else ""
        return f"{self.reason}{what}{where}"

    def with_parent(self, segment: str) -> DatasonError:
        """Prefix the path with one more outer segment (used while unwinding)."""
        self.path = "$" + segment + self.path[1:]
        self.args = (self._render(),)
        return self

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.reason, self.path, self.type_name))


def _rebuild(cls: type[DatasonError], reason: str, path: str, type_name: str | None) -> DatasonError:
    return cls(reason, path=path, type_name=type_name)


class SerializationError(DatasonError):
    """A value cannot be encoded (unsupported type, non-finite float under ``nan_handling="error"``...)."""


class DeserializationError(DatasonError):
    """A document cannot be decoded: invalid JSON, an unknown tag in strict mode, a malformed payload."""


class SecurityError(DatasonError):
    """A configured limit was exceeded (depth, size, string length, bytes) or a circular reference met."""


def path_segment(key: object) -> str:
    """The path segment for a dict key or list index."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"[{key}]"
    if isinstance(key, str) and key.isidentifier():
        return "." + key
    if isinstance(key, str):
        return "[" + _quote(key) + "]"
    return f"[<{type(key).__name__}>]"


def _quote(key: str) -> str:
    # Keys are structure, not field values; still cap them so a hostile key cannot flood a log.
    shown = key if len(key) <= 64 else key[:61] + "..."
    return '"' + shown.replace("\\", "\\\\").replace('"', '\\"') + '"'
