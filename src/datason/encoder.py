"""Python values -> a JSON-safe tree (dict, list, str, int, float, bool, None).

Typed mode wraps every non-JSON value in a ``{"__datason_type__", "__datason_value__"}``
envelope from its registered handler; plain mode writes the handler's plain form.
Limits are checked in the same single pass: ``max_depth`` against the depth of the
tree being built, ``max_size`` per container, ``max_string_length`` per string.
Errors carry the path of the offending value, added while the stack unwinds, so
the happy path pays nothing for it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from ._native import register_encode, register_natural
from ._native import speedups as _speedups
from .config import SerializationConfig
from .engine import write
from .errors import DatasonError, SecurityError, SerializationError, path_segment
from .limits import check_tree
from .registry import REGISTRY, EncodeContext, dataclass_fields, is_dataclass_type
from .wire import TYPE_KEY, VALUE_KEY, RawJSON

__all__ = ["Encoder"]

_INT_MIN, _INT_MAX = -(2**63), 2**64  # what JSON engines write as numbers; beyond: tag "int"
_MAX_INT_DIGITS = 4300
_BUILTIN_BASES: tuple[Callable[[Any], Any], ...] = (
    str,
    int,
    float,
    list,
    dict,
    tuple,
    set,
    frozenset,
)  # CPython's int<->str conversion limit


def type_name(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


class Encoder:
    """One encoding pass under one config. Not shared between threads (cheap to create)."""

    __slots__ = ("_walker", "ctx", "max_depth", "max_size", "max_str", "nan", "plain_tags", "strict", "typed", "value")

    def __init__(self, config: SerializationConfig, *, native_ok: bool = False) -> None:
        self.typed = config.include_type_hints
        self.ctx = EncodeContext(config, native_ok=native_ok)
        self.max_depth = config.max_depth
        self.max_size = config.max_size
        self.max_str = config.max_string_length
        self.nan = config.nan_handling
        self.strict = config.strict
        self.plain_tags: frozenset[str] = frozenset({"uuid.UUID"} if config.uuid_format == "string" else ())
        # ``value`` encodes one value at a depth: the C walker when built, else ``py_value``.
        self.value: Callable[[Any, int], Any] = self.py_value
        self._walker: Any = None
        if _speedups is not None:
            self._walker = walker = _speedups.Walker(
                self.py_value,
                self.ctx,
                self.max_depth,
                self.max_size,
                self.max_str,
                self.typed,
                self.typed and not self.plain_tags,
                config.date_format == "iso",
                config.strict,
                {"auto": 1, "readable": 2}.get(config.array_format, 0),
                config.compact_threshold,
            )
            self.value = walker.value
        self.ctx._value = self.value

    def encode(self, obj: Any) -> Any:
        try:
            return self.value(obj, 1)
        except RecursionError:
            raise SecurityError("nesting too deep for the interpreter stack; lower max_depth") from None
        except SecurityError as exc:
            raise _circular(obj, exc, self.max_depth) from None

    def dumpb(self, obj: Any, *, sort_keys: bool) -> bytes:
        """Compact JSON bytes: written in one C pass when built, else the tree through the JSON engine."""
        if self._walker is not None:
            try:
                return bytes(self._walker.dumpb(obj, sort_keys))
            except RecursionError:
                raise SecurityError("nesting too deep for the interpreter stack; lower max_depth") from None
            except SecurityError as exc:
                raise _circular(obj, exc, self.max_depth) from None
        return write(self.encode(obj), sort_keys=sort_keys)

    # --- dispatch ------------------------------------------------------------------------------------

    def py_value(self, obj: Any, depth: int) -> Any:
        """Encode ``obj``, which sits at ``depth`` if it is a container (the reference implementation)."""
        t = type(obj)
        if t is str:
            self.check_text(obj)
            return obj
        if t is float:
            return obj if obj - obj == 0.0 else self.non_finite(obj, depth)
        if t is int:
            return obj if _INT_MIN <= obj < _INT_MAX else self.big_int(obj, depth)
        if t is bool or obj is None:
            return obj
        if t is list:
            return self.seq(obj, depth)
        if t is dict:
            return self.mapping(obj, depth)
        return self.other(obj, t, depth)

    def seq(self, obj: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
        self.check_container(obj, depth)
        value, child = self.value, depth + 1
        out = []
        i = 0
        try:
            for i, item in enumerate(obj):  # noqa: B007 - i names the failing index
                out.append(value(item, child))
        except DatasonError as exc:
            raise exc.with_parent(f"[{i}]") from None
        return out

    def mapping(self, obj: dict[Any, Any], depth: int) -> Any:
        self.check_container(obj, depth)
        if TYPE_KEY in obj or VALUE_KEY in obj:
            return self.pairs(obj, depth)
        value, child = self.value, depth + 1
        out = {}
        key: Any = None
        try:
            for key, item in obj.items():
                if type(key) is not str or not self.text_ok(key):
                    break
                out[key] = value(item, child)
            else:
                return out
        except DatasonError as exc:
            raise exc.with_parent(path_segment(key)) from None
        if type(key) is str:
            self.check_text(key)  # raises about the key itself, at this dict's path: the key is never quoted
        return self.pairs(obj, depth)

    def pairs(self, obj: dict[Any, Any], depth: int) -> Any:
        """A dict whose keys are not all plain strings (or that holds the marker keys)."""
        if not self.typed:
            if len(obj) == 2 and TYPE_KEY in obj and VALUE_KEY in obj:
                # plain JSON has no escape for it, and it would read back as a typed value: refuse, lose nothing
                raise SerializationError("plain mode cannot write a dict of just the two marker keys", type_name="dict")
            return self.plain_keys(obj, depth)
        self.check_envelope(obj, depth)
        self.check_depth(obj, depth + 2)
        value, child = self.value, depth + 3
        out = []
        key: Any = None
        try:
            for key, item in obj.items():
                out.append([value(key, child), value(item, child)])
        except DatasonError as exc:
            raise exc.with_parent(path_segment(key)) from None
        return {TYPE_KEY: "dict", VALUE_KEY: out}

    def plain_keys(self, obj: dict[Any, Any], depth: int) -> dict[str, Any]:
        """Plain mode: keys become strings the way the json module writes them; collisions raise."""
        value, child = self.value, depth + 1
        out: dict[str, Any] = {}
        key: Any = None
        for key, item in obj.items():
            try:
                text = self.key_text(key, depth)  # only a non-str key fails here: its segment names its type
            except DatasonError as exc:
                raise exc.with_parent(path_segment(key)) from None
            self.check_text(text)  # errors about the key's text stop at this dict's path: it is never quoted
            if text in out:
                raise SerializationError("two keys write the same JSON key", type_name=type_name(type(key)))
            try:
                out[text] = value(item, child)
            except DatasonError as exc:
                raise exc.with_parent(path_segment(key)) from None
        return out

    def key_text(self, key: Any, depth: int) -> str:
        t = type(key)
        if t is str:
            return key
        if key is None or t is bool:
            return "null" if key is None else ("true" if key else "false")
        if t is int:
            return str(key)
        if t is float:
            return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}.get(repr(key), repr(key))
        encoded = self.value(key, depth)
        if type(encoded) is str:
            return encoded
        raise SerializationError("dict key has no plain JSON string form", type_name=type_name(t))

    def other(self, obj: Any, t: type, depth: int) -> Any:
        if t is RawJSON and self.ctx.native_ok:
            return obj  # a handler's pre-encoded JSON, written verbatim by dumps
        handler = REGISTRY.for_type(t)
        if handler is None:
            return self.unregistered(obj, t, depth)
        if handler.native is not None and self._walker is not None:
            register_encode(t, handler)  # C writes the next ones itself
        if self.strict and (handler.untagged or (t not in handler.types and not handler.keeps_class)):
            raise SerializationError("strict mode: this type would not round-trip; register it", type_name=type_name(t))
        ctx, outer = self.ctx, self.ctx.depth
        try:
            if self.typed and not handler.untagged and handler.tag not in self.plain_tags:
                self.check_envelope(obj, depth)
                ctx.depth = depth + 1
                payload = handler.encode(obj, ctx)
                if type(payload) is str:
                    self.check_text(payload)
                elif not handler.payload_is_json:
                    payload = self.value(payload, depth + 1)
                else:
                    check_tree(payload, depth + 1, self.max_depth, self.max_size, self.max_str)
                return {TYPE_KEY: handler.tag, VALUE_KEY: payload}
            ctx.depth = depth
            result = (handler.plain or handler.encode)(obj, ctx)
            if handler.payload_is_json and type(result) is not str:
                check_tree(result, depth, self.max_depth, self.max_size, self.max_str)
                return result
            return self.value(result, depth)
        except DatasonError as exc:
            if exc.type_name is None:
                exc.type_name = type_name(t)
                exc.args = (exc._render(),)
            raise
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise SerializationError(f"cannot encode ({type(exc).__name__})", type_name=type_name(t)) from None
        finally:
            ctx.depth = outer

    def unregistered(self, obj: Any, t: type, depth: int) -> Any:
        """Natural JSON for unregistered Enums, dataclasses and builtin subclasses (refused in strict mode)."""
        natural: Any
        fast = self._walker is not None and not self.strict  # C writes the next ones itself
        if isinstance(obj, enum.Enum):
            natural = obj.value
            if fast:
                register_natural(t, None)
        elif is_dataclass_type(t):
            natural = dataclass_fields(obj)
            if fast:
                register_natural(t, tuple(natural))
        elif hasattr(t, "__attrs_attrs__"):  # an attrs class: its fields, as attrs.asdict(recurse=False)
            natural = {a.name: getattr(obj, a.name) for a in t.__attrs_attrs__}
            if fast:
                register_natural(t, tuple(natural))
        else:
            for base in _BUILTIN_BASES:
                if isinstance(obj, base):  # type: ignore[arg-type]
                    natural = base(obj)
                    break
            else:
                raise SerializationError(
                    "cannot serialize this type; register it with datason.register_type", type_name=type_name(t)
                )
        if self.strict:
            raise SerializationError(
                "strict mode: unregistered type would not round-trip; register it", type_name=type_name(t)
            )
        return self.value(natural, depth)

    # --- numbers -------------------------------------------------------------------------------------

    def non_finite(self, obj: float, depth: int) -> Any:
        if self.nan == "error":
            raise SerializationError("non-finite float with nan_handling='error'", type_name="float")
        text = "nan" if obj != obj else ("inf" if obj > 0 else "-inf")
        if self.typed:
            self.check_envelope(obj, depth)
            return {TYPE_KEY: "float", VALUE_KEY: text}
        if self.nan == "null":
            return None
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[text]

    def big_int(self, obj: int, depth: int) -> Any:
        try:
            digits = str(obj)
        except ValueError:  # beyond CPython's int/str digit limit: no reader could take it back
            raise SerializationError(f"int with more than {_MAX_INT_DIGITS} digits", type_name="int") from None
        if self.typed:
            self.check_envelope(obj, depth)
            self.check_text(digits)
            return {TYPE_KEY: "int", VALUE_KEY: digits}
        return obj

    # --- limits --------------------------------------------------------------------------------------

    def text_ok(self, text: str) -> bool:
        """Whether ``check_text`` would pass, without raising."""
        return len(text) <= self.max_str and (text.isascii() or valid_unicode(text))

    def check_text(self, text: str) -> None:
        """A string the output will hold: within max_string_length, and valid Unicode (no lone surrogate)."""
        if len(text) > self.max_str:
            raise SecurityError(f"string longer than max_string_length={self.max_str}", type_name="str")
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise SerializationError("string is not valid Unicode (lone surrogate)", type_name="str") from None

    def check_container(self, obj: Any, depth: int) -> None:
        self.check_depth(obj, depth)
        if len(obj) > self.max_size:
            raise SecurityError(f"container larger than max_size={self.max_size}", type_name=type(obj).__name__)

    def check_envelope(self, obj: Any, depth: int) -> None:
        """A typed value becomes a 2-member object at ``depth``: both limits apply to it."""
        self.check_depth(obj, depth)
        if self.max_size < 2:
            raise SecurityError(f"typed value needs max_size >= 2, got {self.max_size}", type_name=type(obj).__name__)

    def check_depth(self, obj: Any, depth: int) -> None:
        if depth > self.max_depth:
            raise SecurityError(f"nesting deeper than max_depth={self.max_depth}", type_name=type(obj).__name__)


def _circular(root: Any, exc: SecurityError, max_depth: int) -> DatasonError:
    """A depth error is reworded as a circular reference when the value reaches itself (error path only)."""
    if exc.reason.startswith("nesting deeper") and _has_cycle(root, max_depth + 1):
        return SerializationError("circular reference", path=exc.path, type_name=exc.type_name)
    return exc


def _children(node: Any) -> Any:
    if isinstance(node, dict):
        return [*node.keys(), *node.values()]
    if isinstance(node, list | tuple | set | frozenset):
        return node
    if is_dataclass_type(type(node)):
        return list(dataclass_fields(node).values())
    return ()


def _has_cycle(root: Any, limit: int) -> bool:
    """Whether a container reaches itself within ``limit`` levels (iterative DFS).

    A cycle shorter than the depth limit repeats on the path that hit the limit, so looking
    that deep is enough; a longer one is reported as the depth error it also is.
    """
    on_path, done = {id(root)}, set()
    stack = [(root, iter(_children(root)))]
    while stack:
        node, items = stack[-1]
        for child in items if len(stack) <= limit else ():
            cid = id(child)
            if cid in on_path:
                return True
            if cid in done or not _children(child):
                continue
            on_path.add(cid)
            stack.append((child, iter(_children(child))))
            break
        else:
            stack.pop()
            on_path.discard(id(node))
            done.add(id(node))
    return False


def valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
