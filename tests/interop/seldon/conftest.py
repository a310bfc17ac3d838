"""seldon-core 1.18's generated protobuf modules warn on import (deprecated descriptor calls): not ours."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning")
