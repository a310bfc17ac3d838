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

import collections
import datetime as dt
import re
import uuid
from typing import Any

from ..errors import DeserializationError, SerializationError
from ..registry import DecodeContext, EncodeContext
from ..wire import DATETIME_TAG, UUID_TAG
from .kit import add_handler, b64decode, b64encode, expect, zone, zone_key

__all__: list[str] = []

_INT = re.compile(r"-?[0-9]+")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# --- bytes -----------------------------------------------------------------------------------------


add_handler(bytes, "bytes", lambda o, c: b64encode(o), lambda p, c: b64decode(p))
add_handler(bytearray, "bytearray", lambda o, c: b64encode(o), lambda p, c: bytearray(b64decode(p)))

# --- numbers ---------------------------------------------------------------------------------------


def _dec_complex(payload: Any, ctx: DecodeContext) -> complex:
    expect(payload, dict, "complex payload")
    real, imag = payload.get("real"), payload.get("imag")
    for part in (real, imag):
        if type(part) not in (int, float):
            raise DeserializationError("complex parts must be numbers")
    return complex(real, imag)


add_handler(complex, "complex", lambda o, c: {"real": o.real, "imag": o.imag}, _dec_complex)


def _dec_int(payload: Any, ctx: DecodeContext) -> int:
    if _INT.fullmatch(expect(payload, str, "int payload")) is None:
        raise DeserializationError("int payload must be a decimal string")
    return int(payload)


_NON_FINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


def _dec_float(payload: Any, ctx: DecodeContext) -> float:
    value = _NON_FINITE.get(expect(payload, str, "float payload"))
    if value is None:
        raise DeserializationError("float payload must be 'nan', 'inf' or '-inf'")
    return value


def _dec_dict(payload: Any, ctx: DecodeContext) -> dict[Any, Any]:
    out = {}
    for pair in expect(payload, list, "dict payload"):
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
add_handler((), "int", _codec_only, _dec_int)
add_handler((), "float", _codec_only, _dec_float)
add_handler((), "dict", _codec_only, _dec_dict)

# --- containers ------------------------------------------------------------------------------------


def _pairs(obj: Any, ctx: EncodeContext) -> list[list[Any]]:
    return [[k, v] for k, v in obj.items()]


def _from_pairs(payload: Any, what: str) -> list[tuple[Any, Any]]:
    pairs = []
    for pair in expect(payload, list, f"{what} payload"):
        if type(pair) is not list or len(pair) != 2:
            raise DeserializationError(f"{what} payload must be a list of [key, value] pairs")
        pairs.append((pair[0], pair[1]))
    return pairs


def _dec_deque(payload: Any, ctx: DecodeContext) -> collections.deque[Any]:
    expect(payload, dict, "collections.deque payload")
    maxlen = payload.get("maxlen")
    if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
        raise DeserializationError("deque maxlen must be a non-negative int or null")
    return collections.deque(expect(payload.get("items"), list, "deque items payload"), maxlen)


def _dec_counter(payload: Any, ctx: DecodeContext) -> collections.Counter[Any]:
    try:
        return collections.Counter(dict(_from_pairs(payload, "collections.Counter")))
    except TypeError:
        raise DeserializationError("Counter key is not hashable") from None


add_handler(
    collections.OrderedDict,
    "collections.OrderedDict",
    _pairs,
    lambda p, c: collections.OrderedDict(_from_pairs(p, "collections.OrderedDict")),
    lambda o, c: dict(o),
)
add_handler(
    collections.deque,
    "collections.deque",
    lambda o, c: {"items": list(o), "maxlen": o.maxlen},
    _dec_deque,
    lambda o, c: list(o),
)
add_handler(collections.Counter, "collections.Counter", _pairs, _dec_counter, lambda o, c: dict(o))


def _set_items(obj: set[Any] | frozenset[Any], ctx: EncodeContext) -> list[Any]:
    try:
        return sorted(obj)  # deterministic output whenever the items compare
    except TypeError:
        return list(obj)


add_handler(tuple, "tuple", lambda o, c: list(o), lambda p, c: tuple(expect(p, list, "tuple payload")))
add_handler(set, "set", _set_items, lambda p, c: set(expect(p, list, "set payload")))
add_handler(frozenset, "frozenset", _set_items, lambda p, c: frozenset(expect(p, list, "frozenset payload")))


def _dec_range(payload: Any, ctx: DecodeContext) -> range:
    expect(payload, dict, "range payload")
    parts = [payload.get(k) for k in ("start", "stop", "step")]
    if any(type(p) is not int for p in parts):
        raise DeserializationError("range start, stop and step must be ints")
    return range(*parts)


add_handler(range, "range", lambda o, c: {"start": o.start, "stop": o.stop, "step": o.step}, _dec_range)

# --- time zones ------------------------------------------------------------------------------------


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
        written = value.utcoffset()  # the offset the ISO text carries (None for a time)
        value = value.replace(tzinfo=zone(payload["tz"]))
        if "fold" not in payload and written is not None and value.utcoffset() != written:
            # The repeated hour's second pass from a zone library without fold (pytz, dateutil): the offset says which.
            other = value.replace(fold=1)
            if other.utcoffset() == written:
                value = other
    elif "utcoffset" in payload:
        offset = _dec_offset(payload["utcoffset"])
        name = payload.get("tzname")
        tz = dt.timezone(offset) if name is None else dt.timezone(offset, expect(name, str, "tzname payload"))
        value = value.replace(tzinfo=tz)
    elif "tzname" in payload:
        offset = value.utcoffset()
        if offset is None:
            raise DeserializationError("tzname given without an offset")
        value = value.replace(tzinfo=dt.timezone(offset, expect(payload["tzname"], str, "tzname payload")))
    fold = payload.get("fold", 0)
    if fold not in (0, 1) or type(fold) is not int:
        raise DeserializationError("fold must be 0 or 1")
    return value.replace(fold=fold) if fold else value


def _dec_datetime(payload: Any, ctx: DecodeContext) -> dt.datetime:
    if type(payload) is str:
        return dt.datetime.fromisoformat(payload)
    expect(payload, dict, "datetime payload")
    return _apply_tz_fields(dt.datetime.fromisoformat(expect(payload.get("iso"), str, "datetime iso payload")), payload)


def _plain_datetime(value: dt.datetime, ctx: EncodeContext) -> Any:
    fmt = ctx.config.date_format
    if fmt == "iso":
        return value.isoformat()
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    delta = aware - _EPOCH
    if fmt == "unix":
        return delta.total_seconds()
    return delta // dt.timedelta(microseconds=1) / 1000  # unix_ms, microseconds kept as the fraction


add_handler(dt.datetime, DATETIME_TAG, _enc_datetime, _dec_datetime, _plain_datetime, native="datetime")


def _dec_date(payload: Any, ctx: DecodeContext) -> dt.date:
    return dt.date.fromisoformat(expect(payload, str, "date payload"))


add_handler(dt.date, "date", lambda o, c: o.isoformat(), _dec_date, native="date")


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
    expect(payload, dict, "time payload")
    return _apply_tz_fields(dt.time.fromisoformat(expect(payload.get("iso"), str, "time iso payload")), payload)


def _plain_time(value: dt.time, ctx: EncodeContext) -> str:
    return value.isoformat()


add_handler(dt.time, "time", _enc_time, _dec_time, _plain_time, native="time")


def _dec_timedelta(payload: Any, ctx: DecodeContext) -> dt.timedelta:
    expect(payload, dict, "timedelta payload")
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


add_handler(
    dt.timedelta,
    "timedelta",
    lambda o, c: {"days": o.days, "seconds": o.seconds, "microseconds": o.microseconds},
    _dec_timedelta,
    lambda o, c: iso_duration(o),
    native="timedelta",
)


def _enc_timezone(tz: dt.timezone, ctx: EncodeContext) -> dict[str, Any]:
    offset = tz.utcoffset(None)
    out: dict[str, Any] = {"seconds": offset.days * 86400 + offset.seconds, "microseconds": offset.microseconds}
    fields = _tz_fields(tz, 0)
    if "tzname" in fields:
        out["name"] = fields["tzname"]
    return out


def _dec_offset(payload: Any) -> dt.timedelta:
    expect(payload, dict, "utc offset payload")
    seconds, micros = payload.get("seconds"), payload.get("microseconds", 0)
    if type(seconds) is not int or type(micros) is not int:
        raise DeserializationError("timezone offset must be ints")
    return dt.timedelta(seconds=seconds, microseconds=micros)


def _dec_timezone(payload: Any, ctx: DecodeContext) -> dt.timezone:
    offset = _dec_offset(payload)
    name = payload.get("name")
    return dt.timezone(offset) if name is None else dt.timezone(offset, expect(name, str, "timezone name payload"))


def _plain_timezone(tz: dt.timezone, ctx: EncodeContext) -> str:
    text = dt.datetime(2000, 1, 1, tzinfo=tz).isoformat()
    return text[19:] or "+00:00"


add_handler(dt.timezone, "datetime.timezone", _enc_timezone, _dec_timezone, _plain_timezone)


# --- identifiers and paths -------------------------------------------------------------------------


def _dec_uuid(payload: Any, ctx: DecodeContext) -> uuid.UUID:
    return uuid.UUID(expect(payload, str, "uuid.UUID payload"))


add_handler(uuid.UUID, UUID_TAG, lambda o, c: str(o), _dec_uuid)  # the C accelerator writes and reads UUIDs itself
