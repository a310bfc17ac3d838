"""Handlers for Python's built-in and standard-library types.

What each type becomes (typed payload | plain form):

- ``bytes``, ``bytearray``: tag ``bytes`` / ``bytearray``, standard base64 | base64 string
- ``complex``: tag ``complex``, ``{"real": r, "imag": i}`` | the same object
- ``tuple``, ``set``, ``frozenset``: tags ``tuple`` / ``set`` / ``frozenset``, a list (sets sorted when
  their items compare) | the list
- ``range``: tag ``range``, ``{"start", "stop", "step"}`` | the same object
- ``collections.OrderedDict`` / ``Counter``: tags of those names, ``[[key, value], ...]`` | an object;
  ``collections.deque``: ``{"items": [...], "maxlen": n | null}`` | the list
- ``datetime``: tag ``datetime``, ISO 8601 string; ``{"iso", "tz"?, "tzname"?, "fold"?}`` when the ISO
  string alone would lose the zone name or fold | ISO string (or epoch seconds/ms per ``date_format``)
- ``date``: tag ``date``, ``"YYYY-MM-DD"``; ``time``: tag ``time``, ISO string or the object form above
- ``timedelta``: tag ``timedelta``, ``{"days", "seconds", "microseconds"}`` | ISO 8601 duration (``P1DT2H``)
- ``datetime.timezone``: tag ``datetime.timezone``, ``{"seconds", "microseconds", "name"?}`` | ``"+05:30"``
- ``uuid.UUID``: tag ``uuid.UUID``, canonical string | the string (also untagged in typed mode when
  ``uuid_format="string"``)
- ``decimal.Decimal``, ``fractions.Fraction``, ``zoneinfo.ZoneInfo`` and ``pathlib`` paths: see ``stdlib``
  (loaded the first time such a value or tag is met)

Ints outside the 64-bit range (tag ``int``, decimal string) and non-finite floats (tag ``float``,
``"nan"``/``"inf"``/``"-inf"``) and dicts whose keys are not all strings (tag ``dict``, ``[[k, v], ...]``)
are handled by the codec itself.
"""

from __future__ import annotations

import binascii
import collections
import datetime as dt
import re
import uuid
from typing import Any

from ..errors import DeserializationError, SerializationError
from ..registry import REGISTRY, DecodeContext, EncodeContext, TypeHandler

__all__: list[str] = []

_INT = re.compile(r"-?[0-9]+")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _expect(payload: Any, kind: type, what: str) -> Any:
    if type(payload) is not kind:
        raise DeserializationError(f"{what} payload must be {kind.__name__}, got {type(payload).__name__}")
    return payload


def _add(types: type | tuple[type, ...], tag: str, encode: Any, decode: Any, plain: Any = None, **kw: Any) -> None:
    REGISTRY.add(
        TypeHandler(
            types=types if isinstance(types, tuple) else (types,),
            tag=tag,
            encode=encode,
            decode=decode,
            plain=plain,
            **kw,
        )
    )


# --- bytes -----------------------------------------------------------------------------------------


def b64encode(data: bytes | bytearray | memoryview) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def b64decode(text: Any) -> bytes:
    _expect(text, str, "base64")
    # strict_mode still takes padding beyond the last quantum ("AAAA=", "AAAA===="): refuse it here
    if len(text) % 4 or len(text) - len(text.rstrip("=")) > 2:
        raise DeserializationError("malformed base64")
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise DeserializationError("malformed base64") from None


_add(bytes, "bytes", lambda o, c: b64encode(o), lambda p, c: b64decode(p))
_add(bytearray, "bytearray", lambda o, c: b64encode(o), lambda p, c: bytearray(b64decode(p)))

# --- numbers ---------------------------------------------------------------------------------------


def _dec_complex(payload: Any, ctx: DecodeContext) -> complex:
    _expect(payload, dict, "complex")
    real, imag = payload.get("real"), payload.get("imag")
    for part in (real, imag):
        if type(part) not in (int, float):
            raise DeserializationError("complex parts must be numbers")
    return complex(real, imag)


_add(complex, "complex", lambda o, c: {"real": o.real, "imag": o.imag}, _dec_complex)


def _dec_int(payload: Any, ctx: DecodeContext) -> int:
    if _INT.fullmatch(_expect(payload, str, "int")) is None:
        raise DeserializationError("int payload must be a decimal string")
    return int(payload)


_NON_FINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


def _dec_float(payload: Any, ctx: DecodeContext) -> float:
    value = _NON_FINITE.get(_expect(payload, str, "float"))
    if value is None:
        raise DeserializationError("float payload must be 'nan', 'inf' or '-inf'")
    return value


def _dec_dict(payload: Any, ctx: DecodeContext) -> dict[Any, Any]:
    out = {}
    for pair in _expect(payload, list, "dict"):
        if type(pair) is not list or len(pair) != 2:
            raise DeserializationError("dict payload must be a list of [key, value] pairs")
        try:
            out[pair[0]] = pair[1]
        except TypeError:
            raise DeserializationError(f"dict key of type {type(pair[0]).__name__} is not hashable") from None
    return out


def _codec_only(obj: Any, ctx: EncodeContext) -> Any:
    raise AssertionError("the codec encodes this tag itself")


# Tags the codec writes itself (big ints, non-finite floats, dicts with other keys): decode side only.
_add((), "int", _codec_only, _dec_int)
_add((), "float", _codec_only, _dec_float)
_add((), "dict", _codec_only, _dec_dict)

# --- containers ------------------------------------------------------------------------------------


def _pairs(obj: Any, ctx: EncodeContext) -> list[list[Any]]:
    return [[k, v] for k, v in obj.items()]


def _from_pairs(payload: Any, what: str) -> list[tuple[Any, Any]]:
    pairs = []
    for pair in _expect(payload, list, what):
        if type(pair) is not list or len(pair) != 2:
            raise DeserializationError(f"{what} payload must be a list of [key, value] pairs")
        pairs.append((pair[0], pair[1]))
    return pairs


def _dec_deque(payload: Any, ctx: DecodeContext) -> collections.deque[Any]:
    _expect(payload, dict, "collections.deque")
    maxlen = payload.get("maxlen")
    if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
        raise DeserializationError("deque maxlen must be a non-negative int or null")
    return collections.deque(_expect(payload.get("items"), list, "deque items"), maxlen)


def _dec_counter(payload: Any, ctx: DecodeContext) -> collections.Counter[Any]:
    try:
        return collections.Counter(dict(_from_pairs(payload, "collections.Counter")))
    except TypeError:
        raise DeserializationError("Counter key is not hashable") from None


_add(
    collections.OrderedDict,
    "collections.OrderedDict",
    _pairs,
    lambda p, c: collections.OrderedDict(_from_pairs(p, "collections.OrderedDict")),
    lambda o, c: dict(o),
)
_add(
    collections.deque,
    "collections.deque",
    lambda o, c: {"items": list(o), "maxlen": o.maxlen},
    _dec_deque,
    lambda o, c: list(o),
)
_add(collections.Counter, "collections.Counter", _pairs, _dec_counter, lambda o, c: dict(o))


def _set_items(obj: set[Any] | frozenset[Any], ctx: EncodeContext) -> list[Any]:
    try:
        return sorted(obj)  # deterministic output whenever the items compare
    except TypeError:
        return list(obj)


def _items(payload: Any, what: str) -> list[Any]:
    return _expect(payload, list, what)


_add(tuple, "tuple", lambda o, c: list(o), lambda p, c: tuple(_items(p, "tuple")))
_add(set, "set", _set_items, lambda p, c: set(_items(p, "set")))
_add(frozenset, "frozenset", _set_items, lambda p, c: frozenset(_items(p, "frozenset")))


def _dec_range(payload: Any, ctx: DecodeContext) -> range:
    _expect(payload, dict, "range")
    parts = [payload.get(k) for k in ("start", "stop", "step")]
    if any(type(p) is not int for p in parts):
        raise DeserializationError("range start, stop and step must be ints")
    return range(*parts)


_add(range, "range", lambda o, c: {"start": o.start, "stop": o.stop, "step": o.step}, _dec_range)

# --- time zones ------------------------------------------------------------------------------------


def zone_key(tz: dt.tzinfo) -> str | None:
    """The IANA key of a named zone (zoneinfo, pytz, dateutil-style ``key``/``zone``), else None."""
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    return key if isinstance(key, str) else None


def _tz_fields(tz: dt.tzinfo | None, fold: int) -> dict[str, Any]:
    """Extra fields an ISO string cannot carry: zone key, non-default fixed-offset name, fold."""
    extra: dict[str, Any] = {}
    if tz is not None and type(tz) is not dt.timezone:
        key = zone_key(tz)
        if key is not None:
            extra["tz"] = key
        elif tz.utcoffset(None) is None:
            raise SerializationError(f"tzinfo {type(tz).__name__} has neither a zone key nor a fixed offset")
    elif tz is not None:
        name = tz.tzname(None)
        offset = tz.utcoffset(None)
        if offset is not None and offset.microseconds:  # fromisoformat (3.11) drops sub-second offsets
            extra["utcoffset"] = {"seconds": offset.days * 86400 + offset.seconds, "microseconds": offset.microseconds}
        if offset is not None and name != dt.timezone(offset).tzname(None):
            extra["tzname"] = name
    if fold:
        extra["fold"] = 1
    return extra


def _enc_datetime(value: dt.datetime, ctx: EncodeContext) -> Any:
    tz = value.tzinfo
    if (tz is None or tz is dt.UTC) and not value.fold:
        return value.isoformat()
    extra = _tz_fields(tz, value.fold)
    if tz is not None and "tz" not in extra and type(tz) is not dt.timezone:
        # A fixed-offset tzinfo of another library: keep the instant as a datetime.timezone.
        value = value.replace(tzinfo=dt.timezone(tz.utcoffset(value)))  # type: ignore[arg-type]
        extra = _tz_fields(value.tzinfo, value.fold)
    if "utcoffset" in extra:
        value = value.replace(tzinfo=None)  # the wall time; the offset travels beside it
    return {"iso": value.isoformat(), **extra} if extra else value.isoformat()


def _apply_tz_fields(value: Any, payload: dict[str, Any]) -> Any:
    if "tz" in payload:
        value = value.replace(tzinfo=_zone(payload["tz"]))
    elif "utcoffset" in payload:
        offset = _dec_offset(payload["utcoffset"])
        name = payload.get("tzname")
        tz = dt.timezone(offset) if name is None else dt.timezone(offset, _expect(name, str, "tzname"))
        value = value.replace(tzinfo=tz)
    elif "tzname" in payload:
        offset = value.utcoffset()
        if offset is None:
            raise DeserializationError("tzname given without an offset")
        value = value.replace(tzinfo=dt.timezone(offset, _expect(payload["tzname"], str, "tzname")))
    fold = payload.get("fold", 0)
    if fold not in (0, 1) or type(fold) is not int:
        raise DeserializationError("fold must be 0 or 1")
    return value.replace(fold=fold) if fold else value


def _dec_datetime(payload: Any, ctx: DecodeContext) -> dt.datetime:
    if type(payload) is str:
        return dt.datetime.fromisoformat(payload)
    _expect(payload, dict, "datetime")
    return _apply_tz_fields(dt.datetime.fromisoformat(_expect(payload.get("iso"), str, "datetime iso")), payload)


def _plain_datetime(value: dt.datetime, ctx: EncodeContext) -> Any:
    fmt = ctx.config.date_format
    if fmt == "iso":
        return value.isoformat()
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    delta = aware - _EPOCH
    if fmt == "unix":
        return delta.total_seconds()
    return delta // dt.timedelta(microseconds=1) / 1000  # unix_ms, microseconds kept as the fraction


_add(dt.datetime, "datetime", _enc_datetime, _dec_datetime, _plain_datetime)


def _dec_date(payload: Any, ctx: DecodeContext) -> dt.date:
    return dt.date.fromisoformat(_expect(payload, str, "date"))


_add(dt.date, "date", lambda o, c: o.isoformat(), _dec_date)


def _enc_time(value: dt.time, ctx: EncodeContext) -> Any:
    tz = value.tzinfo
    extra = _tz_fields(tz, value.fold)
    if tz is not None and not extra.get("tz") and type(tz) is not dt.timezone:
        value = value.replace(tzinfo=dt.timezone(tz.utcoffset(None)))  # type: ignore[arg-type]
        extra = _tz_fields(value.tzinfo, value.fold)
    if "tz" in extra or "utcoffset" in extra:
        value = value.replace(tzinfo=None)  # the wall time; the zone or offset travels beside it
    return {"iso": value.isoformat(), **extra} if extra else value.isoformat()


def _dec_time(payload: Any, ctx: DecodeContext) -> dt.time:
    if type(payload) is str:
        return dt.time.fromisoformat(payload)
    _expect(payload, dict, "time")
    return _apply_tz_fields(dt.time.fromisoformat(_expect(payload.get("iso"), str, "time iso")), payload)


def _plain_time(value: dt.time, ctx: EncodeContext) -> str:
    return value.isoformat()


_add(dt.time, "time", _enc_time, _dec_time, _plain_time)


def _dec_timedelta(payload: Any, ctx: DecodeContext) -> dt.timedelta:
    _expect(payload, dict, "timedelta")
    parts = [payload.get(k, 0) for k in ("days", "seconds", "microseconds")]
    if any(type(p) is not int for p in parts):
        raise DeserializationError("timedelta parts must be ints")
    return dt.timedelta(days=parts[0], seconds=parts[1], microseconds=parts[2])


def iso_duration(value: dt.timedelta) -> str:
    """ISO 8601 duration, as pydantic writes it: ``P1DT2H3M4.5S``, ``-PT1S``."""
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    out = f"{sign}P{value.days}D" if value.days else f"{sign}P"
    clock = ""
    if hours:
        clock += f"{hours}H"
    if minutes:
        clock += f"{minutes}M"
    if seconds or value.microseconds or not (value.days or clock):
        frac = f".{value.microseconds:06d}".rstrip("0") if value.microseconds else ""
        clock += f"{seconds}{frac}S"
    return out + ("T" + clock if clock else "")


_add(
    dt.timedelta,
    "timedelta",
    lambda o, c: {"days": o.days, "seconds": o.seconds, "microseconds": o.microseconds},
    _dec_timedelta,
    lambda o, c: iso_duration(o),
)


def _enc_timezone(tz: dt.timezone, ctx: EncodeContext) -> dict[str, Any]:
    offset = tz.utcoffset(None)
    out: dict[str, Any] = {"seconds": offset.days * 86400 + offset.seconds, "microseconds": offset.microseconds}
    fields = _tz_fields(tz, 0)
    if "tzname" in fields:
        out["name"] = fields["tzname"]
    return out


def _dec_offset(payload: Any) -> dt.timedelta:
    _expect(payload, dict, "utc offset")
    seconds, micros = payload.get("seconds"), payload.get("microseconds", 0)
    if type(seconds) is not int or type(micros) is not int:
        raise DeserializationError("timezone offset must be ints")
    return dt.timedelta(seconds=seconds, microseconds=micros)


def _dec_timezone(payload: Any, ctx: DecodeContext) -> dt.timezone:
    offset = _dec_offset(payload)
    name = payload.get("name")
    return dt.timezone(offset) if name is None else dt.timezone(offset, _expect(name, str, "timezone name"))


def _plain_timezone(tz: dt.timezone, ctx: EncodeContext) -> str:
    text = dt.datetime(2000, 1, 1, tzinfo=tz).isoformat()
    return text[19:] or "+00:00"


_add(dt.timezone, "datetime.timezone", _enc_timezone, _dec_timezone, _plain_timezone)


def _zone(key: Any) -> dt.tzinfo:
    from .stdlib import zone

    return zone(key)


# --- identifiers and paths -------------------------------------------------------------------------


def _dec_uuid(payload: Any, ctx: DecodeContext) -> uuid.UUID:
    return uuid.UUID(_expect(payload, str, "uuid.UUID"))


_add(uuid.UUID, "uuid.UUID", lambda o, c: str(o), _dec_uuid)
