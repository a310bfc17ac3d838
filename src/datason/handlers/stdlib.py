"""Handlers for standard-library types that cost start-up time to import; loaded on first use.

The registry imports this module the first time a value from ``decimal``, ``fractions``,
``pathlib`` or ``zoneinfo`` is encoded, or a tag of those namespaces is read.
What each type becomes (typed payload | plain form):

- ``decimal.Decimal``: tag ``decimal.Decimal``, ``str(d)`` (exponent and sign kept: ``"1.10"``, ``"-0.000"``,
  ``"NaN"``) | the string
- ``fractions.Fraction``: tag ``fractions.Fraction``, ``"num/den"`` in lowest terms | the string
- ``zoneinfo.ZoneInfo``: tag ``zoneinfo.ZoneInfo``, the IANA key | the key
- ``pathlib`` paths: tags ``pathlib.Path`` (concrete paths, rebuilt for this OS), ``pathlib.PurePosixPath``,
  ``pathlib.PureWindowsPath``; the path string | the string
"""

from __future__ import annotations

import decimal
import fractions
import pathlib
import re
import zoneinfo
from typing import Any

from ..errors import DeserializationError, SerializationError
from ..registry import DecodeContext, EncodeContext
from .kit import add_handler, expect, zone

__all__: list[str] = []

_FRACTION = re.compile(r"-?[0-9]+/[0-9]+")


def _dec_decimal(payload: Any, ctx: DecodeContext) -> decimal.Decimal:
    expect(payload, str, "decimal.Decimal payload")
    try:
        return decimal.Decimal(payload)
    except decimal.InvalidOperation:
        raise DeserializationError("not a decimal number") from None


add_handler(decimal.Decimal, "decimal.Decimal", lambda o, c: str(o), _dec_decimal, native="str")


def _dec_fraction(payload: Any, ctx: DecodeContext) -> fractions.Fraction:
    expect(payload, str, "fractions.Fraction payload")
    if _FRACTION.fullmatch(payload) is None:
        raise DeserializationError("fraction payload must look like 'num/den'")
    num, _, den = payload.partition("/")
    return fractions.Fraction(int(num), int(den))


add_handler(fractions.Fraction, "fractions.Fraction", lambda o, c: f"{o.numerator}/{o.denominator}", _dec_fraction)


def _enc_zone(tz: zoneinfo.ZoneInfo, ctx: EncodeContext) -> str:
    if tz.key is None:
        raise SerializationError("a ZoneInfo made from a file has no key to write")
    return tz.key


add_handler(zoneinfo.ZoneInfo, "zoneinfo.ZoneInfo", _enc_zone, lambda p, c: zone(p))


def _path(cls: type[pathlib.PurePath], what: str) -> Any:
    return lambda payload, ctx: cls(expect(payload, str, what))


add_handler(
    (pathlib.PosixPath, pathlib.WindowsPath, pathlib.Path),
    "pathlib.Path",
    lambda o, c: str(o),
    _path(pathlib.Path, "pathlib.Path payload"),
)
add_handler(
    pathlib.PurePosixPath, "pathlib.PurePosixPath", lambda o, c: str(o), _path(pathlib.PurePosixPath, "path payload")
)
add_handler(
    pathlib.PureWindowsPath,
    "pathlib.PureWindowsPath",
    lambda o, c: str(o),
    _path(pathlib.PureWindowsPath, "path payload"),
)
