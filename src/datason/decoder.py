"""A parsed JSON tree -> Python values, reviving tagged envelopes through the registry.

Only tags in the registry decode; nothing named by a payload is imported or
called. An unknown tag raises in strict mode and otherwise stays a plain dict.
``auto`` mode (``auto_deserialize``) also recognises ISO datetimes and UUID
strings, and with ``aggressive`` numeric strings; it never turns one container
kind into another. Limits are checked in the same pass.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

from ._native import register_decode
from ._native import speedups as _speedups
from .config import SerializationConfig
from .engine import read
from .errors import DatasonError, DeserializationError, SecurityError, path_segment
from .limits import check_tree
from .registry import REGISTRY, DecodeContext
from .wire import TYPE_KEY, VALUE_KEY

__all__ = ["Decoder"]

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d{0,30})(?:(\.\d{1,30})?(?:[eE][-+]?\d{1,3})?)")
_SCALARS = (int, float, bool, type(None))


class Decoder:
    """One decoding pass under one config."""

    __slots__ = (
        "_parsing",
        "_payloads",
        "_reviver",
        "auto",
        "ctx",
        "dates",
        "max_depth",
        "max_size",
        "max_str",
        "numbers",
        "strict",
        "uuids",
        "value",
    )

    def __init__(
        self, config: SerializationConfig, *, auto: bool = False, aggressive: bool = False, in_place: bool = False
    ) -> None:
        """``in_place``: the tree is ours (fresh from the parser) and may be revived in place."""
        self.max_depth = config.max_depth
        self.max_size = config.max_size
        self.max_str = config.max_string_length
        self.strict = config.strict
        self.auto = auto
        self._parsing = False  # True while the C parser reads: it has counted every payload already
        self.dates = auto and config.parse_dates
        self.uuids = auto and config.parse_uuids
        self.numbers = auto and aggressive
        # Payloads of typed values are the handlers' business: auto mode never rewrites their strings.
        self._payloads: Decoder = Decoder(config, in_place=in_place) if auto else self
        self.ctx = DecodeContext(config, self._payloads.walk)
        # ``value`` decodes one node at a depth: the C reviver when built, else ``py_value``.
        self.value: Callable[[Any, int], Any] = self.py_value
        self._reviver: Any = None
        if _speedups is not None:
            # auto mode's flags: 1 dates, 2 UUIDs, 4 numbers (0: strings stay strings, as string() leaves them)
            flags = self.dates | self.uuids << 1 | self.numbers << 2
            self._reviver = _speedups.Reviver(
                self.py_value,
                self.tagged,
                self.max_depth,
                self.max_size,
                self.max_str,
                config.max_bytes,
                in_place,
                flags,
            )
            self.value = self._reviver.value

    def decode(self, node: Any) -> Any:
        return self.walk(node, 1)

    def walk(self, node: Any, depth: int) -> Any:
        """Decode ``node`` sitting at ``depth`` (what handlers reach through ``DecodeContext.decode``)."""
        try:
            return self.value(node, depth)
        except RecursionError:
            raise SecurityError("nesting too deep for the interpreter stack; lower max_depth") from None

    def parse(self, text: str | bytes | bytearray | memoryview) -> Any:
        """Parse JSON text and decode it: in one C pass when built, else msgspec then ``decode``.

        Duplicate keys keep the last value. The C parser checks and revives each value as soon as it
        closes, so when one fails (a limit, a payload), the document is decoded again by the reference
        path, which dedupes first: a value a later duplicate replaces never fails the document, and both
        paths give the same result and the same error. Only failing documents pay the second pass
        (linear, within the same limits); invalid JSON fails at once.
        """
        if self._reviver is not None and not self.auto:
            self._parsing = True
            try:
                return self._reviver.parse(text)
            except RecursionError:
                raise SecurityError("JSON nested too deeply to parse; lower max_depth") from None
            except DatasonError as exc:
                if exc.reason.startswith("invalid JSON"):
                    raise
            finally:
                self._parsing = False
        return self.decode(read(text))

    def py_value(self, node: Any, depth: int) -> Any:
        """Decode ``node``, which sits at ``depth`` if it is a container (the reference implementation)."""
        t = type(node)
        if t is str:
            if len(node) > self.max_str:
                raise SecurityError(f"string longer than max_string_length={self.max_str}", type_name="str")
            return self.string(node) if self.auto else node
        if t is dict:
            return self.mapping(node, depth)
        if t is list:
            return self.seq(node, depth)
        if t in _SCALARS:
            return node
        raise DeserializationError("not JSON data", type_name=t.__qualname__)

    def seq(self, node: list[Any], depth: int) -> list[Any]:
        self.check(node, depth)
        value, child = self.value, depth + 1
        out = []
        i = 0
        try:
            for i, item in enumerate(node):  # noqa: B007 - i names the failing index
                out.append(value(item, child))
        except DatasonError as exc:
            raise exc.with_parent(f"[{i}]") from None
        return out

    def mapping(self, node: dict[str, Any], depth: int) -> Any:
        self.check(node, depth)
        if len(node) == 2 and TYPE_KEY in node and VALUE_KEY in node:
            return self.tagged(node, depth)
        value, child = self.value, depth + 1
        out = {}
        key: Any = None
        try:
            for key, item in node.items():
                if type(key) is str and len(key) > self.max_str:
                    break
                out[key] = value(item, child)
            else:
                return out
        except DatasonError as exc:
            raise exc.with_parent(path_segment(key)) from None
        # about the key itself: the path stops at this dict, so the key is never quoted
        raise SecurityError(f"key longer than max_string_length={self.max_str}", type_name="str")

    def tagged(self, node: dict[str, Any], depth: int) -> Any:
        tag = node[TYPE_KEY]
        if type(tag) is str and len(tag) > self.max_str:
            raise SecurityError(f"string longer than max_string_length={self.max_str}", type_name="str")
        handler = REGISTRY.for_tag(tag) if type(tag) is str else None
        if handler is None:
            shown = tag[:64] if type(tag) is str else f"<{type(tag).__name__}>"
            hint = REGISTRY.missing_library(tag) if type(tag) is str else None
            if hint is not None:
                raise DeserializationError(f"decoding this tag needs {hint}", type_name=shown)
            if self.strict:
                raise DeserializationError("unknown type tag (strict mode)", type_name=shown)
            return {TYPE_KEY: tag, VALUE_KEY: self._payloads.value(node[VALUE_KEY], depth + 1)}
        payload = node[VALUE_KEY]
        ctx, outer = self.ctx, self.ctx.depth
        try:
            if handler.revive_payload:
                payload = self._payloads.value(payload, depth + 1)
            elif not self._parsing:  # the handler reads it raw: count it as the C parser would have
                check_tree(payload, depth + 1, self.max_depth, self.max_size, self.max_str)
            ctx.depth = depth + 1
            value = handler.decode(payload, ctx)
            if handler.native is not None and self._reviver is not None:
                register_decode(tag, handler)  # C decodes the next ones itself
            return value
        except DatasonError as exc:
            if exc.type_name is None:
                exc.type_name = tag
                exc.args = (exc._render(),)
            raise
        except RecursionError:
            raise
        except MemoryError:  # a size no check foresaw: still a limit, never the interpreter's error
            raise SecurityError("payload needs more memory than is available", type_name=tag) from None
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:  # Exception, and Rust panics (PyO3's PanicException is a BaseException)
            # Libraries raise many kinds on a malformed payload and their messages may quote it:
            # every handler's failure becomes a DeserializationError naming the exception kind only.
            raise DeserializationError(f"invalid payload ({type(exc).__name__})", type_name=tag) from None
        finally:
            ctx.depth = outer

    def string(self, text: str) -> Any:
        """auto mode: ISO datetimes, UUIDs and (aggressive) numbers hidden in plain strings."""
        n = len(text)
        if self.uuids and n == 36 and _UUID.fullmatch(text):
            return uuid.UUID(text)
        if self.dates and 16 <= n <= 40 and _DATETIME.match(text):
            try:
                return dt.datetime.fromisoformat(text)
            except ValueError:
                return text
        if self.numbers and n <= 64 and _NUMBER.fullmatch(text):
            if not any(c in text for c in ".eE"):
                return int(text)
            number = float(text)
            return number if number - number == 0.0 else text  # "1e400" is not a number datason writes
        return text

    def check(self, node: Any, depth: int) -> None:
        if depth > self.max_depth:
            raise SecurityError(f"nesting deeper than max_depth={self.max_depth}", type_name=type(node).__name__)
        if len(node) > self.max_size:
            raise SecurityError(f"container larger than max_size={self.max_size}", type_name=type(node).__name__)
