"""Interop groups run in their own virtualenvs (.venv-frameworks, .venv-mlserver, .venv-seldon; see
docs/interop.md), so `make interop` passes ``--confcutdir=tests/interop``: tests/conftest.py, which imports
the main virtualenv's test dependencies, is not loaded; what the groups share is in ``helpers.py``.

A skip is never a pass here: a missing framework (an ``importorskip``, a skip mark) fails the run.
"""

from __future__ import annotations

import pytest

_skipped: list[str] = []


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped:
        terminalreporter.write_line(f"interop: {len(_skipped)} skipped, counted as failures: {_skipped}", red=True)
