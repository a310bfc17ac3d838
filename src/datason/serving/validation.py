"""Request body -> validated features: byte, depth and feature-count limits, then a JSON Schema or a type.

The body is parsed once by datason (limits checked in the same pass, depth counted from the
``features`` value). Features are then checked by a compiled JSON Schema validator (``jsonschema``)
or decoded into a type: a pydantic model is validated by pydantic, any other type datason's typed
decode accepts (dataclasses, TypedDicts, ``list[...]``...) goes through ``datason.convert``. Errors
name the field path (``$.features.petal_width``) and the rule, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from ..api import loads
from ..convert import convert
from ..errors import DatasonError, path_segment
from .config import ServingConfig
from .errors import (
    MalformedRequestError,
    PayloadTooLargeError,
    ValidationFailedError,
    from_decode_error,
)

__all__ = ["RequestDecoder", "compile_schema"]

_FEATURES = "$.features"
_SHOWN_MAX = 60  # schema constraint values longer than this are not quoted in messages


class RequestDecoder:
    """Turns a request body into the features ``predict`` receives, or raises a ``ServingError``."""

    __slots__ = ("_check", "_config", "_max_body", "_max_depth", "_max_features")

    def __init__(self, config: ServingConfig, schema: Any = None) -> None:
        base = config.serialization
        # +1: the request object around ``features`` is one level of nesting.
        self._config = base.replace(
            max_depth=min(base.max_depth, config.max_depth + 1),
            max_bytes=min(base.max_bytes, config.max_body_bytes),
        )
        self._max_body = config.max_body_bytes
        self._max_depth = config.max_depth
        self._max_features = config.max_features
        self._check = compile_schema(schema, format_check=config.schema_format_check)

    def parse(self, body: bytes | bytearray | memoryview) -> Any:
        """The raw ``features`` of ``body`` (``{"features": ...}``), within every limit; ``check`` validates them."""
        if len(body) > self._max_body:
            raise PayloadTooLargeError(f"body larger than max_body_bytes={self._max_body}")
        try:
            document = loads(body, self._config)
        except DatasonError as exc:  # the decoder counted the request object too: name the service's depth limit
            raise from_decode_error(exc, max_depth=self._max_depth) from None
        if type(document) is not dict:
            raise MalformedRequestError("request body must be a JSON object", type_name=type(document).__name__)
        try:
            features = document["features"]
        except KeyError:
            raise ValidationFailedError("required field is missing", path=_FEATURES) from None
        if (type(features) is dict or type(features) is list) and len(features) > self._max_features:
            raise ValidationFailedError(
                f"more than max_features={self._max_features} features",
                path=_FEATURES,
                type_name=type(features).__name__,
            )
        return features

    def check(self, features: Any) -> Any:
        """What predict receives: ``features`` checked against the schema (or decoded into the type)."""
        return features if self._check is None else self._check(features)

    def decode(self, body: bytes | bytearray | memoryview) -> Any:
        """``check(parse(body))``."""
        features = self.parse(body)
        return features if self._check is None else self._check(features)


def compile_schema(schema: Any, *, format_check: bool = False) -> Callable[[Any], Any] | None:
    """A checker for ``schema`` (JSON Schema dict, pydantic model class or type), or None for no schema.

    The checker returns the features to pass to predict (the same object for a JSON Schema, the
    decoded instance for a type) or raises ``ValidationFailedError``.
    """
    if schema is None:
        return None
    if isinstance(schema, dict):
        return _json_schema_checker(schema, format_check)
    if isinstance(schema, str | bytes | int | float | list | tuple):
        raise TypeError("schema must be a JSON Schema dict, a pydantic model class or a type")
    return _type_checker(schema)  # pydantic models too: datason's typed decode validates them with pydantic


def _json_schema_checker(schema: dict[str, Any], format_check: bool) -> Callable[[Any], Any]:
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from None
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER if format_check else None)
    iter_errors = validator.iter_errors
    best_match = jsonschema.exceptions.best_match
    accept = fast_accept(schema, cls)
    if accept is None:
        accept = _never

    def check(features: Any) -> Any:
        if accept(features):
            return features
        errors = iter_errors(features)
        first = next(errors, None)
        if first is None:
            return features
        error = best_match([first, *errors])
        reason, path = _describe(error)
        raise ValidationFailedError(reason, path=path)

    return check


def _never(features: Any) -> bool:
    return False


_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "examples", "default", "deprecated", "readOnly", "writeOnly"}
)
_OBJECT_KEYWORDS = _ANNOTATIONS | {"type", "properties", "required", "additionalProperties"}
_LEAF_KEYWORDS = _ANNOTATIONS | {
    "type",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "enum",
}
_LEAF_TYPES = frozenset({"number", "integer", "string", "boolean", "null"})
_FAST_DRAFTS = ("Draft6Validator", "Draft7Validator", "Draft201909Validator", "Draft202012Validator")


def fast_accept(schema: Any, cls: Any) -> Callable[[Any], bool] | None:
    """A quick test that only ever accepts instances ``schema`` accepts, for the common flat-object schemas.

    ``schema`` must be an object of scalar properties (type, bounds, lengths, string/bool/null enums,
    required, additionalProperties as a bool) under draft 6 or later; anything else gives None. A False
    answer decides nothing: the full jsonschema validator then judges (and explains) the instance, so
    results are exactly jsonschema's, only faster for valid requests.
    """
    if getattr(cls, "__name__", "") not in _FAST_DRAFTS or not isinstance(schema, dict):
        return None
    if set(schema) - _OBJECT_KEYWORDS or schema.get("type", "object") != "object":
        return None
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    additional = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list) or type(additional) is not bool:
        return None
    if not all(isinstance(r, str) for r in required):
        return None
    checks: dict[str, Callable[[Any], bool]] = {}
    for name, sub in properties.items():
        leaf = _leaf(sub)
        if leaf is None:
            return None
        checks[name] = leaf
    need = tuple(required)

    def accept(instance: Any) -> bool:
        if type(instance) is not dict:
            return False
        for name in need:
            if name not in instance:
                return False
        for key, value in instance.items():
            leaf = checks.get(key)
            if leaf is None:
                if not additional:
                    return False
            elif not leaf(value):
                return False
        return True

    return accept


def _leaf(sub: Any) -> Callable[[Any], bool] | None:
    """A conservative test for one scalar property schema, or None when the schema is outside the subset."""
    if sub is True or (isinstance(sub, dict) and set(sub) <= _ANNOTATIONS):
        return _always
    if not isinstance(sub, dict) or set(sub) - _LEAF_KEYWORDS:
        return None
    kinds = sub.get("type", list(_LEAF_TYPES))
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if not isinstance(kinds, list) or not set(kinds) <= _LEAF_TYPES:
        return None
    bounds = [sub.get(k) for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")]
    lengths = [sub.get(k) for k in ("minLength", "maxLength")]
    if not all(b is None or type(b) in (int, float) for b in bounds):
        return None
    if not all(n is None or type(n) is int for n in lengths):
        return None
    lo, hi, xlo, xhi = bounds
    min_len, max_len = lengths
    number, integer = "number" in kinds, "integer" in kinds
    string, boolean, null = "string" in kinds, "boolean" in kinds, "null" in kinds
    enum = sub.get("enum")
    if enum is not None and not isinstance(enum, list):
        return None
    strings = frozenset(e for e in enum if type(e) is str) if enum is not None else None
    bools = frozenset(e for e in enum if type(e) is bool) if enum is not None else None
    has_null = enum is None or any(e is None for e in enum)

    def leaf(value: Any) -> bool:
        t = type(value)
        if t is int or t is float:
            if enum is not None or not (number or (integer and t is int)):
                return False  # numbers in enums, and 1.0 as an integer, are left to jsonschema
            return (
                (lo is None or value >= lo)
                and (hi is None or value <= hi)
                and (xlo is None or value > xlo)
                and (xhi is None or value < xhi)
            )
        if t is str:
            return (
                string
                and (strings is None or value in strings)
                and (min_len is None or len(value) >= min_len)
                and (max_len is None or len(value) <= max_len)
            )
        if t is bool:
            return boolean and (bools is None or value in bools)
        if value is None:
            return null and has_null
        return False

    return leaf


def _always(value: Any) -> bool:
    return True


def _describe(error: Any) -> tuple[str, str]:
    """A value-free reason and the field path of a jsonschema ``ValidationError``."""
    path = _FEATURES + "".join(path_segment(p) for p in error.absolute_path)
    keyword = str(error.validator)
    instance = error.instance
    if keyword == "required" and isinstance(instance, dict):
        missing = [name for name in error.validator_value if name not in instance]
        if missing:
            return "required property is missing", path + path_segment(missing[0])
    if keyword == "additionalProperties" and isinstance(instance, dict):
        extra = _unexpected(instance, error.schema)
        if extra:
            return "property is not allowed by the schema", path + path_segment(extra[0])
    shown = _short(error.validator_value)
    rule = f"{keyword}={shown}" if shown is not None else keyword
    return f"does not match the schema ({rule})", path


def _unexpected(instance: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [k for k in instance if k not in properties and not any(re.search(p, k) for p in patterns)]


def _short(value: Any) -> str | None:
    """A schema constraint (never request data) as short JSON, or None when it is long or structured."""
    if isinstance(value, dict):
        return None
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        return None
    return text if len(text) <= _SHOWN_MAX else None


def _type_checker(target: Any) -> Callable[[Any], Any]:
    def check(features: Any) -> Any:
        try:
            return convert(features, target)
        except DatasonError as exc:
            raise ValidationFailedError(exc.reason, path=_FEATURES + exc.path[1:], type_name=exc.type_name) from None

    return check
