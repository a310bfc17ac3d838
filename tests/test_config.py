"""SerializationConfig: immutable, validated, presets as documented; the default is process-wide and
``use_config`` overrides it per thread and per asyncio task."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import json
import threading
import uuid
from typing import Any

import pytest

import datason
from datason import DeserializationError
from datason.config import (
    SerializationConfig,
    get_api_config,
    get_default_config,
    get_ml_config,
    get_performance_config,
    get_strict_config,
    set_default_config,
    use_config,
)

from .conftest import strict_json

U = uuid.UUID("6f1c2a9e-3b1d-4c8e-9f00-1234567890ab")
VALUE = {
    "b_id": U,
    "a_at": dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC),
    "c_nan": float("nan"),
    "d_list": [3, 1, 2],
}


# --- immutability and validation -------------------------------------------------------------------------------------


def test_config_is_frozen() -> None:
    cfg = SerializationConfig()
    with pytest.raises(AttributeError):
        cfg.max_depth = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        cfg.include_type_hints = False  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        cfg.new_field = 1  # type: ignore[attr-defined]
    assert cfg.max_depth == 256
    assert hash(cfg) == hash(SerializationConfig())
    assert cfg == SerializationConfig()


def test_replace_returns_a_changed_copy() -> None:
    cfg = SerializationConfig()
    other = cfg.replace(max_depth=10, sort_keys=True, date_format="unix")
    assert other is not cfg
    assert (other.max_depth, other.sort_keys, other.date_format) == (10, True, "unix")
    assert (cfg.max_depth, cfg.sort_keys, cfg.date_format) == (256, False, "iso")
    assert other.replace(max_depth=256, sort_keys=False, date_format="iso") == cfg
    assert isinstance(other, SerializationConfig)
    assert cfg.replace() == cfg
    with pytest.raises(TypeError):
        cfg.replace(no_such_field=1)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("date_format", "rfc3339"),
        ("date_format", None),
        ("uuid_format", "hex"),
        ("nan_handling", "drop"),
        ("nan_handling", "NULL"),
        ("dataframe_orient", "rows"),
        ("array_format", "binary"),
        ("max_depth", -1),
        ("max_depth", 1.5),
        ("max_depth", True),
        ("max_depth", "10"),
        ("max_size", -5),
        ("max_string_length", None),
        ("max_bytes", 2.0**40),
        ("compact_threshold", -1),
    ],
)
def test_invalid_values_raise_value_error(field: str, bad: Any) -> None:
    with pytest.raises(ValueError) as info:
        SerializationConfig(**{field: bad})
    assert field in str(info.value)
    with pytest.raises(ValueError):
        SerializationConfig().replace(**{field: bad})
    with pytest.raises(ValueError):
        get_api_config().replace(**{field: bad})


@pytest.mark.parametrize(
    ("field", "good"),
    [
        ("date_format", "unix_ms"),
        ("uuid_format", "string"),
        ("nan_handling", "error"),
        ("dataframe_orient", "table"),
        ("array_format", "compact"),
        ("max_depth", 0),
    ],
)
def test_valid_choices_are_accepted(field: str, good: Any) -> None:
    assert getattr(SerializationConfig(**{field: good}), field) == good


# --- presets ---------------------------------------------------------------------------------------------------------


def test_default_preset_matches_readme() -> None:
    cfg = SerializationConfig()
    assert cfg.include_type_hints is True
    assert (cfg.date_format, cfg.uuid_format, cfg.nan_handling) == ("iso", "object", "null")
    assert (cfg.parse_dates, cfg.parse_uuids, cfg.sort_keys, cfg.ensure_ascii, cfg.strict) == (
        True,
        True,
        False,
        False,
        False,
    )
    assert (cfg.max_depth, cfg.max_size) == (256, 100_000_000)
    assert cfg.max_string_length == 512 * 1024 * 1024
    assert cfg.max_bytes == 2048 * 1024 * 1024
    assert get_default_config() == cfg


def test_presets() -> None:
    api, strict = get_api_config(), get_strict_config()
    assert api.include_type_hints is False and api.sort_keys is True and api.uuid_format == "string"
    assert strict.strict is True and strict.include_type_hints is True
    assert get_ml_config().include_type_hints is True
    assert get_performance_config().include_type_hints is True
    assert get_performance_config().sort_keys is False
    # presets for untrusted input have tighter limits than the default
    default = SerializationConfig()
    for cfg in (api, strict):
        assert cfg.max_depth <= default.max_depth
        assert cfg.max_size < default.max_size
        assert cfg.max_bytes < default.max_bytes
    # each call gives an equal config
    assert get_api_config() == api and get_strict_config() == strict


def _keys_sorted_everywhere(text: str) -> bool:
    ok = True

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal ok
        keys = [k for k, _ in pairs]
        ok = ok and keys == sorted(keys)
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return ok


@pytest.mark.parametrize("indent", [None, 2, 4])
def test_api_config_writes_plain_sorted_json(indent: Any, walker: str) -> None:
    value = {
        "zeta": {"b": 1, "a": [{"y": 1, "x": 2}]},
        "id": U,
        "ids": [uuid.UUID(int=1), uuid.UUID(int=2)],
        "at": dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC),
        "naive": dt.datetime(2024, 5, 6, 7, 8, 9),
        "offset": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "day": dt.date(2024, 5, 6),
        "shape": (3, 4),
        "labels": {"b", "a"},
        "price": decimal.Decimal("19.90"),
        "blob": b"\x00\x01",
        "nan": float("nan"),
        "by_class": {0: 0.25, 1: 0.75},
        "alpha": "é\u2603",
    }
    text = datason.dumps(value, get_api_config(), indent=indent)
    parsed = strict_json(text)
    assert "__datason_type__" not in text and "__datason_value__" not in text
    assert _keys_sorted_everywhere(text)
    assert parsed["id"] == str(U)
    assert parsed["ids"] == [str(uuid.UUID(int=1)), str(uuid.UUID(int=2))]
    assert parsed["at"] == "2024-05-06T07:08:09.123456+00:00"
    assert parsed["naive"] == "2024-05-06T07:08:09"
    assert parsed["offset"] == "2024-05-06T07:08:09+02:00"
    assert parsed["day"] == "2024-05-06"
    assert parsed["shape"] == [3, 4]
    assert parsed["labels"] == ["a", "b"]
    assert parsed["price"] == "19.90"
    assert parsed["nan"] is None
    assert parsed["by_class"] == {"0": 0.25, "1": 0.75}
    assert parsed["alpha"] == "é\u2603"
    assert "\\u" not in text  # ensure_ascii is off
    # same as the serialize() tree written by the json module
    assert parsed == json.loads(json.dumps(datason.serialize(value, get_api_config())))


# --- the process default ---------------------------------------------------------------------------------------------


def test_set_default_config_changes_and_restores_the_default(walker: str) -> None:
    typed_text = datason.dumps({"id": U})
    assert "__datason_type__" in typed_text
    try:
        set_default_config(get_api_config())
        assert get_default_config() == get_api_config()
        assert datason.dumps({"id": U, "b": 1}) == '{"b":1,"id":"' + str(U) + '"}'
        assert datason.serialize({"id": U}) == {"id": str(U)}
        set_default_config(get_strict_config())
        with pytest.raises(DeserializationError):
            datason.loads('{"__datason_type__":"no.such.Tag","__datason_value__":1}')
    finally:
        set_default_config(None)
    assert get_default_config() == SerializationConfig()
    assert datason.dumps({"id": U}) == typed_text
    assert datason.loads('{"__datason_type__":"no.such.Tag","__datason_value__":1}') == {
        "__datason_type__": "no.such.Tag",
        "__datason_value__": 1,
    }


def test_set_default_config_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        set_default_config({"include_type_hints": False})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        with use_config("api"):  # type: ignore[arg-type]
            pass
    assert get_default_config() == SerializationConfig()


def test_use_config_overrides_and_restores(walker: str) -> None:
    api = get_api_config()
    with use_config(api) as cfg:
        assert cfg is api
        assert get_default_config() is api
        assert datason.dumps(U) == '"' + str(U) + '"'
        with use_config(get_strict_config()):
            assert get_default_config().strict
        assert get_default_config() is api
    assert get_default_config() == SerializationConfig()
    with pytest.raises(RuntimeError):
        with use_config(api):
            raise RuntimeError("boom")
    assert get_default_config() == SerializationConfig()


def test_use_config_wins_over_set_default_config(walker: str) -> None:
    try:
        set_default_config(get_api_config())
        with use_config(SerializationConfig()):
            assert "__datason_type__" in datason.dumps(U)
        assert datason.dumps(U) == '"' + str(U) + '"'
    finally:
        set_default_config(None)


# --- isolation per thread and per task --------------------------------------------------------------------------------


def _sixteen_configs() -> list[SerializationConfig]:
    configs = []
    for sort_keys in (False, True):
        for date_format in ("iso", "unix", "unix_ms"):
            for nan in ("null", "string"):
                configs.append(
                    SerializationConfig(
                        include_type_hints=False, sort_keys=sort_keys, date_format=date_format, nan_handling=nan
                    )
                )
        for uuid_format in ("object", "string"):
            configs.append(SerializationConfig(sort_keys=sort_keys, uuid_format=uuid_format))
    assert len(configs) == 16
    return configs


def _serial(configs: list[SerializationConfig]) -> list[str]:
    expected = [datason.dumps(VALUE, cfg) for cfg in configs]
    assert len(set(expected)) == len(configs)  # every config writes this value differently
    return expected


def test_use_config_is_isolated_per_thread(walker: str) -> None:
    configs = _sixteen_configs()
    expected = _serial(configs)
    barrier = threading.Barrier(len(configs) + 1)
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            out = []
            with use_config(configs[i]):
                barrier.wait(timeout=60)
                for _ in range(200):
                    out.append(datason.dumps(VALUE))
                    out.append(datason.dumps(datason.loads(datason.dumps(VALUE))))
            out.append(datason.dumps(VALUE))  # after the block: the default again
            results[i] = out
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(configs))]
    for t in threads:
        t.start()
    barrier.wait(timeout=60)
    # meanwhile this thread still sees the process default
    main_view = [datason.dumps(VALUE) for _ in range(50)]
    for t in threads:
        t.join(timeout=120)
    assert not errors
    default_text = datason.dumps(VALUE, SerializationConfig())
    assert main_view == [default_text] * 50
    for i, cfg in enumerate(configs):
        out = results[i]
        assert out[:-1:2] == [expected[i]] * 200, cfg
        assert out[-1] == default_text


def test_use_config_is_isolated_per_asyncio_task(walker: str) -> None:
    configs = _sixteen_configs()
    expected = _serial(configs)

    async def task(cfg: SerializationConfig) -> list[str]:
        out = []
        with use_config(cfg):
            for _ in range(20):
                await asyncio.sleep(0)  # let the other tasks run inside their own blocks
                out.append(datason.dumps(VALUE))
        return out

    async def main() -> tuple[list[list[str]], str]:
        results = await asyncio.gather(*(task(cfg) for cfg in configs))
        return list(results), datason.dumps(VALUE)

    results, after = asyncio.run(main())
    for i in range(len(configs)):
        assert results[i] == [expected[i]] * 20
    assert after == datason.dumps(VALUE, SerializationConfig())
