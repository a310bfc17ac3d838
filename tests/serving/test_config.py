"""ServingConfig: keyword-only, immutable, validated; from_env reads DATASON_SERVING_* with arguments winning;
the documented table in docs/serving.md matches the fields exactly."""

from __future__ import annotations

import dataclasses
import pathlib
import re

import pytest

from datason.config import get_api_config, get_strict_config
from datason.serving import ServingConfig
from datason.serving.config import FIELDS, env_var

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "serving.md"


def test_keyword_only_and_immutable() -> None:
    cfg = ServingConfig(model_id="iris", model_version="1.0.0", rate_limit="100/minute")
    with pytest.raises(TypeError):
        ServingConfig("iris")  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.model_id = "other"  # type: ignore[misc]
    changed = cfg.replace(rate_limit=None, cache_size=5)
    assert (changed.rate_limit, changed.cache_size, changed.model_id) == (None, 5, "iris")
    assert cfg.rate_limit == "100/minute"  # the original is untouched


@pytest.mark.parametrize(
    "changes",
    [
        {"max_body_bytes": 0},
        {"max_depth": -1},
        {"max_features": 1.5},
        {"batch_max_size": True},
        {"cache_size": -1},
        {"cache_ttl": float("nan")},
        {"degraded_error_rate": -0.1},
        {"rate_limit": "lots"},
        {"rate_limit_strategy": "token-bucket"},
        {"model_id": ""},
        {"latency_buckets": (0.5, 0.1)},
        {"datason_config": "api"},
    ],
)
def test_invalid_values_raise_value_error(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ServingConfig(**changes)  # type: ignore[arg-type]


def test_serialization_defaults_to_the_api_config_in_predicts_key_order() -> None:
    assert ServingConfig().serialization == get_api_config().replace(sort_keys=False)
    strict = get_strict_config()
    assert ServingConfig(datason_config=strict).serialization is strict


def test_from_env_reads_every_kind_and_arguments_win() -> None:
    env = {
        "DATASON_SERVING_MODEL_ID": "iris",
        "DATASON_SERVING_RATE_LIMIT": "5/second",
        "DATASON_SERVING_MAX_BODY_BYTES": "2048",
        "DATASON_SERVING_CACHE_TTL": "1.5",
        "DATASON_SERVING_LOG_PAYLOADS": "yes",
        "DATASON_SERVING_SYNC_IN_THREAD": "off",
        "DATASON_SERVING_REDACT_KEYS": "pin, ssn",
        "DATASON_SERVING_LATENCY_BUCKETS": "0.1,1",
        "DATASON_SERVING_CLIENT_ID_HEADER": "none",
        "DATASON_SERVING_DATASON_CONFIG": "strict",
        "UNRELATED": "x",
    }
    cfg = ServingConfig.from_env(env, model_version="2.0")
    assert cfg.model_id == "iris" and cfg.model_version == "2.0"
    assert cfg.rate_limit == "5/second" and cfg.max_body_bytes == 2048 and cfg.cache_ttl == 1.5
    assert cfg.log_payloads is True and cfg.sync_in_thread is False
    assert cfg.redact_keys == ("pin", "ssn") and cfg.latency_buckets == (0.1, 1.0)
    assert cfg.client_id_header is None
    assert cfg.datason_config == get_strict_config()
    assert ServingConfig.from_env(env, model_id="override").model_id == "override"


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATASON_SERVING_RATE_LIMIT", "7/minute")
    monkeypatch.setenv("DATASON_SERVING_BATCH_MAX_SIZE", "4")
    cfg = ServingConfig.from_env()
    assert (cfg.rate_limit, cfg.batch_max_size) == ("7/minute", 4)


@pytest.mark.parametrize(
    ("name", "raw"),
    [("MAX_DEPTH", "deep-secret"), ("LOG_PAYLOADS", "maybe-secret"), ("DATASON_CONFIG", "fancy-secret")],
)
def test_bad_env_value_names_the_variable_not_the_value(name: str, raw: str) -> None:
    with pytest.raises(ValueError) as info:
        ServingConfig.from_env({f"DATASON_SERVING_{name}": raw})
    assert f"DATASON_SERVING_{name}" in str(info.value)
    assert "secret" not in str(info.value)


def test_fields_table_covers_every_field() -> None:
    names = [f.name for f in dataclasses.fields(ServingConfig)]
    assert [row[0] for row in FIELDS] == names
    for name, env, default, doc in FIELDS:
        assert env == env_var(name) == "DATASON_SERVING_" + name.upper()
        assert default == repr(getattr(ServingConfig(), name))
        assert doc.strip()


def test_docs_table_matches_fields() -> None:
    """docs/serving.md lists every field with its variable and default, and nothing else."""
    rows = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"\| `(\w+)` \| `(DATASON_SERVING_\w+)` \| `(.*?)` \|", line)
        if match:
            rows[match.group(1)] = (match.group(2), match.group(3))
    assert rows == {name: (env, default) for name, env, default, _ in FIELDS}


def test_pickles_and_hashes_for_worker_processes() -> None:
    import pickle

    cfg = ServingConfig(model_id="x", rate_limit="1/second", datason_config=get_strict_config())
    assert pickle.loads(pickle.dumps(cfg)) == cfg and hash(cfg) == hash(cfg.replace())


def test_a_response_keeps_the_key_order_predict_wrote() -> None:
    import asyncio

    import orjson

    from datason.serving import ModelService

    async def predict(features: object) -> dict[str, object]:
        return {"zeta": 1, "alpha": {"y": 2, "b": 3}}

    async def both() -> tuple[bytes, bytes]:
        in_order = ModelService(predict, config=ServingConfig(model_id="m"))
        sorted_ = ModelService(predict, config=ServingConfig(model_id="m", datason_config=get_api_config()))
        first = await in_order.predict_request(b'{"features": {}}', headers={}, client="c")
        second = await sorted_.predict_request(b'{"features": {}}', headers={}, client="c")
        return first.body, second.body

    kept, sorted_body = asyncio.run(both())
    assert list(orjson.loads(kept)["prediction"]) == ["zeta", "alpha"]
    assert list(orjson.loads(kept)["prediction"]["alpha"]) == ["y", "b"]
    assert list(orjson.loads(sorted_body)["prediction"]) == ["alpha", "zeta"]
    assert list(orjson.loads(sorted_body)["prediction"]["alpha"]) == ["b", "y"]
