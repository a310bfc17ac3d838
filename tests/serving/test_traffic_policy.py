"""ModelSet and TrafficPolicy in process: validation, the seeded per-request draw, pins, shared rate limits
across versions (shadow copies not counted), the models file's errors and reload, the `datason serve` options,
and a single-model app left exactly as it was (no admin route, no version header or label)."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import httpx
import pytest

from datason import cli
from datason.serving import ModelService, ServingApp, ServingConfig, create_app
from datason.serving.models import ModelSet, TrafficPolicy
from datason.serving.routes import ADMIN_ROUTES
from tests.serving.apps import versions

APPS = "tests.serving.apps.versions"


def make_set(*, seed: int | None = 7, **cfg: Any) -> ModelSet:
    base = ServingConfig(model_id="m", **cfg)
    return ModelSet(
        [
            ModelService(versions.v1, config=base.replace(model_version="1")),
            ModelService(versions.v2, config=base.replace(model_version="2")),
            ModelService(versions.other, config=base.replace(model_version="3")),
        ],
        seed=seed,
    )


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"weights": {}}, "non-empty"),
        ({"weights": {"1": -1}}, "must not be negative"),
        ({"weights": {"1": float("nan")}}, "must be a number"),
        ({"weights": {"1": True}}, "must be a number"),
        ({"weights": {"1": 0, "2": 0}}, "not all be 0"),
        ({"weights": {"1": 1}, "shadow_fraction": 1.5}, "from 0 to 1"),
        ({"weights": {"1": 1}, "shadow": ""}, "version name or null"),
        ({"weights": {"1": 1}, "extra": 1}, "unknown field"),
        ([1, 2], "must be an object"),
    ],
)
def test_policy_validation(doc: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        TrafficPolicy.from_mapping(doc)


def test_seeded_draws_repeat_and_zero_weights_are_never_drawn() -> None:
    draws = []
    for _ in range(2):
        models = make_set(seed=42)
        models.set_traffic("m", {"weights": {"1": 3, "2": 1, "3": 0}})
        draws.append([models.pick(None, None).config.model_version for _ in range(400)])
    assert draws[0] == draws[1]
    assert set(draws[0]) == {"1", "2"}  # version 3 (weight 0) only by pin
    assert make_set().pick("m", "3").config.model_version == "3"


def test_first_version_takes_the_traffic_and_errors_name_the_problem() -> None:
    models = make_set()
    assert {models.pick(None, None).config.model_version for _ in range(50)} == {"1"}
    assert models.traffic("m").weights == {"1": 1.0, "2": 0.0, "3": 0.0}
    assert models.default.config.model_version == "1"
    with pytest.raises(ValueError, match="no version '9'"):
        models.set_traffic("m", {"weights": {"9": 1}})
    assert models.traffic("m").weights == {"1": 1.0, "2": 0.0, "3": 0.0}  # unchanged
    models.set_traffic("m", {"weights": {"2": 5, "1": 1}})
    assert models.default.config.model_version == "2"  # the heaviest version
    with pytest.raises(ValueError, match="already has a version"):
        models.add(ModelService(versions.v1, config=ServingConfig(model_id="m", model_version="1")))
    with pytest.raises(ValueError, match="must not contain '/'"):
        models.add(ModelService(versions.v1, config=ServingConfig(model_id="a/b")))
    with pytest.raises(TypeError):
        models.add(versions.v1)  # type: ignore[arg-type]


async def _post(app: ServingApp, path: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        return await c.post(path, **kw)


def test_rate_limit_holds_across_versions_and_shadows_do_not_count() -> None:
    models = make_set(rate_limit="4/minute")
    models.set_traffic("m", {"weights": {"1": 1}, "shadow": "3"})
    app = create_app(models)

    async def scenario() -> list[int]:
        models.start()
        statuses = []
        for version in ("1", "2", "1", "2", "1"):
            r = await _post(app, "/predict", json={"features": {}}, headers={"X-Model-Version": version})
            statuses.append(r.status_code)
        await models.drain_shadows()
        return statuses

    # four allowed in the minute whatever the version (the shadow copies are free); a refused request
    # (429) is not copied to the shadow
    assert asyncio.run(scenario()) == [200, 200, 200, 200, 429]
    assert models.shadow_counts() == {("m", "1", "3", "differ"): 2, ("m", "2", "3", "differ"): 2}


def test_a_single_model_app_is_unchanged() -> None:
    app = create_app(versions.v1, config=ServingConfig(model_id="solo"))
    assert app.models is None
    assert not any(r.kind == "traffic" for r in app.routes)

    async def scenario() -> tuple[httpx.Response, httpx.Response, str]:
        r = await _post(app, "/predict", json={"features": {}})
        missing = await _post(app, "/admin/models/solo/traffic", json={"weights": {"0.0.0": 1}})
        return r, missing, app.service.metrics()[0].decode()

    r, missing, text = asyncio.run(scenario())
    assert r.status_code == 200 and "x-model-version" not in r.headers
    assert missing.status_code == 404
    assert 'ml_prediction_requests_total{model_id="solo",protocol="datason",status="success"} 1.0' in text
    assert "model_version=" not in text


def test_set_app_routes_and_service() -> None:
    models = make_set()
    app = ServingApp(models)
    assert app.models is models and app.service is models.default
    assert set(ADMIN_ROUTES) <= set(app.routes)


TOML = """
[models.m.versions]
"1" = {{ target = "{apps}:v1", weight = 1 }}
"2" = {{ target = "{apps}:v2", weight = 0 }}
"""


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("models = 3", "table per model"),
        ("[models.m]\nshadow = '1'", "needs a versions table"),
        ("x = 1\n" + TOML, "unknown top-level key"),
        ("default = 'z'\n" + TOML, "default names no model"),
        (TOML + "[models.m.extra]\n", "unknown key"),
        (TOML.replace("weight = 0", "weight = 0, size = 1"), "expected"),
        ("[models.m]\nshadow = '9'\n" + TOML.replace("[models.m.versions]", "[models.m.versions]"), "no version '9'"),
        ("[models", "not valid TOML"),
    ],
)
def test_models_file_errors(tmp_path: pathlib.Path, text: str, words: str) -> None:
    file = tmp_path / "models.toml"
    file.write_text(text.replace("{apps}", APPS).replace("{{", "{").replace("}}", "}"))
    with pytest.raises(ValueError, match=words):
        ModelSet.from_file(file, load=cli.load_target)


def test_models_file_reload_applies_only_changes(tmp_path: pathlib.Path) -> None:
    file = tmp_path / "models.toml"
    file.write_text(TOML.format(apps=APPS))
    models = ModelSet.from_file(file, load=cli.load_target, config=ServingConfig(max_depth=5))
    assert models.traffic("m").weights == {"1": 1.0, "2": 0.0}
    assert models.versions("m")["2"].config.max_depth == 5
    assert models.reload() is False  # unchanged
    file.write_text(TOML.format(apps=APPS).replace("weight = 0", "weight = 2"))
    assert models.reload() is True
    assert models.traffic("m").weights == {"1": 1.0, "2": 2.0}
    file.write_text("[models")
    assert models.reload() is False
    assert models.traffic("m").weights == {"1": 1.0, "2": 2.0}
    file.unlink()
    assert models.reload() is False


def test_models_file_service_target_must_match(tmp_path: pathlib.Path) -> None:
    file = tmp_path / "models.toml"
    file.write_text('[models.m.versions]\n"1" = "tests.serving.apps.models:service"\n')
    with pytest.raises(ValueError, match="is a ModelService named"):
        ModelSet.from_file(file, load=cli.load_target)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["serve", f"{APPS}:v1", f"{APPS}:v2"], "name them|--model NAME"),
        (["serve", "--model", f"m={APPS}:v1", "--traffic", "m=1"], "--traffic expects"),
        (["serve", "--model", f"m={APPS}:v1", "--traffic", "m=0.0.0:x"], "--traffic expects"),
        (["serve", "--model", f"m={APPS}:v1", "--shadow", "z=1"], "no model 'z'"),
        (["serve", "--model", f"m={APPS}:v1", "--shadow", "m=2"], "no version '2'"),
        (["serve", "--model", f"{APPS}:v1"], "--model expects"),
        (["serve", "--model", "m=tests.serving.apps.models:service"], "is a ModelService"),
        (["serve"], "give one MODULE:ATTR"),
    ],
)
def test_serve_model_option_errors(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("datason serve: error:")
    assert any(w in err for w in words.split("|")), err


def test_serve_options_build_the_set() -> None:
    args = cli.build_parser().parse_args(
        [
            "serve",
            f"{APPS}:v1",
            "--model",
            f"m:2={APPS}:v2",
            "--model",
            f"n={APPS}:v1",
            "--model-id",
            "m",
            "--model-version",
            "1",
            "--traffic",
            "m=1:3,2:1",
            "--shadow",
            "m=2@0.25",
        ]
    )
    models = cli._models(args, ServingConfig.from_env(**cli._overrides(args)), None)
    assert models.names == ("m", "n")
    assert models.traffic("m") == TrafficPolicy({"1": 3, "2": 1}, "2", 0.25)
    assert list(models.versions("n")) == ["1"]
