"""The `datason serve` command line: every option documented in --help with its variable, options parsed to
the config's types, targets loaded from MODULE:ATTR, and clear exit-2 errors (no server started here)."""

from __future__ import annotations

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
        (["serve", "tests.serving.apps.models:predict", "--max-depth", "deep"], "DATASON_SERVING_MAX_DEPTH"),
    ],
)
def test_errors_exit_2_with_a_message(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    assert words in capsys.readouterr().err


def test_console_entry_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "datason.cli", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stdout.startswith("datason ")
