"""The `datason serve` processes the frameworks group talks to (one per app, for the whole session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.helpers import Server


def _serve(factory: pytest.TempPathFactory, app: str, model_id: str, *options: str) -> Iterator[Server]:
    server = Server(f"tests.interop.apps.{app}:predict", model_id, *options, log_dir=factory.mktemp(model_id))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def echo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """OIP echo: each input comes back as the output of the same name."""
    yield from _serve(tmp_path_factory, "echo", "echo", "--model-version", "1")


@pytest.fixture(scope="session")
def identity_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(tmp_path_factory, "identity", "identity")


@pytest.fixture(scope="session")
def describe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(tmp_path_factory, "describe", "describe")
