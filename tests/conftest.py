"""Test-wide set-up: Prefect never touches the user's own Prefect home."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Generator
from typing import Any

import pytest

from tests import figures

# Before anything imports Prefect: its settings are read at import time.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="qc-tests-prefect-home-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "quantconnect_client")
# Client log lines outside a flow run stay local instead of warning about the API.
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
for _key in ("QC_USER_ID", "QC_API_TOKEN", "QC_BASE_URL", "QC_ORGANIZATION_ID"):
    os.environ.pop(_key, None)


# Reliability figures (tests/figures.py) ride on each test's report, so that they reach this
# process's terminal summary from pytest-xdist workers too.
_COLLECTED_FIGURES: list[tuple[str, list[str]]] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    report.user_properties.extend(figures.take_pending())
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == figures.PROPERTY:
            _COLLECTED_FIGURES.append(figures.decode(value))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _COLLECTED_FIGURES:
        return
    terminalreporter.section("reliability figures")
    for title, lines in _COLLECTED_FIGURES:
        terminalreporter.write_line(f"-- {title}")
        for line in lines:
            terminalreporter.write_line(f"   {line}")
