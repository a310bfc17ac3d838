"""Errors: datason errors map to 400/413/422 by kind, predict failures keep only the class name, the envelope
has exactly its four fields, and timestamps are ISO 8601 UTC with a Z."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from datason import DeserializationError, SecurityError
from datason.serving.errors import (
    ERROR_KINDS,
    MalformedRequestError,
    PayloadTooLargeError,
    RateLimitedError,
    ServingError,
    ValidationFailedError,
    error_body,
    from_decode_error,
    prediction_failed,
    utc_timestamp,
)


@pytest.mark.parametrize(
    ("exc", "cls", "status"),
    [
        (DeserializationError("invalid JSON: unexpected end", path="$.a"), MalformedRequestError, 400),
        (SecurityError("document larger than max_bytes=10"), PayloadTooLargeError, 413),
        (SecurityError("container larger than max_size=3", path="$.f", type_name="list"), PayloadTooLargeError, 413),
        (SecurityError("string longer than max_string_length=5", type_name="str"), PayloadTooLargeError, 413),
        (SecurityError("nesting deeper than max_depth=3", path="$.f.a"), ValidationFailedError, 422),
    ],
)
def test_decode_errors_map_by_kind(exc: Exception, cls: type[ServingError], status: int) -> None:
    got = from_decode_error(exc)  # type: ignore[arg-type]
    assert type(got) is cls and got.status == status
    assert got.path == exc.path and got.reason == exc.reason  # type: ignore[attr-defined]
    assert isinstance(got, ValueError)


def test_prediction_failed_keeps_only_the_class_name() -> None:
    try:
        raise KeyError("/srv/app/model.py: api_key=sk-123")
    except KeyError as exc:
        err = prediction_failed(exc)
    assert str(err) == "prediction failed (KeyError)" and err.status == 500 and err.kind == "predict"


def test_rate_limited_carries_retry_after() -> None:
    err = RateLimitedError(7)
    assert err.retry_after == 7 and err.status == 429 and "7 s" in str(err)


def test_envelope_has_exactly_four_fields() -> None:
    body = json.loads(error_body("rid", "bad thing at $.x"))
    assert body.keys() == {"request_id", "status", "error", "timestamp"}
    assert body["status"] == "error" and body["request_id"] == "rid" and body["error"] == "bad thing at $.x"


def test_timestamp_is_iso_utc_with_z() -> None:
    at = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    assert utc_timestamp(at.timestamp()) == "2024-05-06T07:08:09.123Z"
    assert utc_timestamp(at.timestamp() + 1.5) == "2024-05-06T07:08:10.623Z"  # the cached second moves on
    now = utc_timestamp()
    parsed = dt.datetime.fromisoformat(now.replace("Z", "+00:00"))
    assert parsed.utcoffset() == dt.timedelta(0) and now.endswith("Z")


def test_error_kinds_are_the_metric_labels() -> None:
    assert set(ERROR_KINDS) == {
        "malformed",
        "too_large",
        "validation",
        "unsupported_media_type",
        "rate_limited",
        "unauthorized",
        "forbidden",
        "predict",
        "serialization",
        "internal",
    }
