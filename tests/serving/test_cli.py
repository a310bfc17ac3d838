"""The `datason serve` command line: every option documented in --help with its variable, options parsed to
the config's types, targets loaded from MODULE:ATTR, and clear exit-2 errors (no server started here)."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import pytest

from datason import cli
from datason.serving import ModelService
from datason.serving.config import FIELDS


def test_help_documents_every_option_and_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["serve", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for name, env, _, _ in FIELDS:
        assert "--" + name.replace("_", "-") in text and env in text
    for option in ("--host", "--port", "--log-level", "--schema", "--access-log", "--app-dir", "MODULE:ATTR"):
        assert option in text
    assert "default 127.0.0.1" in text


def test_options_become_typed_config_values() -> None:
    args = cli.build_parser().parse_args(
        [
            "serve",
            "m:f",
            "--rate-limit",
            "3/minute",
            "--max-body-bytes",
            "99",
            "--cache-ttl",
            "2.5",
            "--log-payloads",
            "--no-sync-in-thread",
            "--redact-keys",
            "pin,cvv",
            "--datason-config",
            "strict",
        ]
    )
    got = cli._overrides(args)
    assert got["rate_limit"] == "3/minute" and got["max_body_bytes"] == 99 and got["cache_ttl"] == 2.5
    assert got["log_payloads"] is True and got["sync_in_thread"] is False
    assert got["redact_keys"] == ("pin", "cvv") and got["datason_config"].strict is True
    assert "model_id" not in got  # options not given leave the environment and defaults alone
    assert (args.host, args.port) == ("127.0.0.1", 8000)


def test_load_target() -> None:
    assert isinstance(cli.load_target("tests.serving.apps.models:service"), ModelService)
    assert callable(cli.load_target("tests.serving.apps.models:predict"))
    assert cli.load_target("tests.serving.apps.models:Iris.model_validate") is not None
    with pytest.raises(ValueError):
        cli.load_target("no_colon")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["serve", "tests.serving.apps.models:missing"], "missing"),
        (["serve", "no_such_module_xyz:f"], "no_such_module_xyz"),
        (["serve", "tests.serving.apps.models:SCHEMA"], "neither"),
        (["serve", "tests.serving.apps.models:service", "--rate-limit", "1/second"], "already a ModelService"),
        (["serve", "tests.serving.apps.models:predict", "--max-depth", "deep"], "--max-depth must be int"),
        (["serve", "tests.serving.apps.models:predict", "--datason-config", "bogus"], "--datason-config must be"),
        (["serve", "tests.serving.apps.models:predict", "--protocols", "oip,grpc"], "--protocols must be"),
        (["serve", "tests.serving.apps.models:predict", "--sync-in-thread", "maybe"], "unrecognized"),
    ],
)
def test_errors_exit_2_with_a_message(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    with contextlib.suppress(SystemExit):  # argparse exits 2 itself on an unknown form
        assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "DATASON_SERVING" not in err  # the flag was given: name the flag, not the variable


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from datason.serving import ServingConfig

    monkeypatch.setenv("DATASON_SERVING_DATASON_CONFIG", "bogus")
    with pytest.raises(ValueError, match="DATASON_SERVING_DATASON_CONFIG must be a preset name"):
        ServingConfig.from_env()
    monkeypatch.setenv("DATASON_SERVING_DATASON_CONFIG", "ml")
    monkeypatch.setenv("DATASON_SERVING_PROTOCOLS", "oip, mlflow")
    monkeypatch.setenv("DATASON_SERVING_SYNC_IN_THREAD", "auto")
    cfg = ServingConfig.from_env()
    assert cfg.protocols == ("oip", "mlflow") and cfg.sync_in_thread is None


def test_console_entry_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "datason.cli", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stdout.startswith("datason ")
