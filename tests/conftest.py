"""Test-wide set-up: Prefect never touches the user's own Prefect home."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Generator
from pathlib import Path
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


def _one_certificate_bundle(folder: str) -> str:
    """A CA file holding one certificate of certifi's bundle, written into ``folder``.

    Every Prefect API client builds an ``ssl.SSLContext`` from its CA file, also for the
    ``http://`` servers the tests run, and a flow run outside a session builds two of them:
    parsing certifi's whole bundle is most of a client's start. No test talks TLS to Prefect, so
    one certificate serves as well; it also takes the place of a user's ``SSL_CERT_FILE``, which
    Prefect would otherwise read. (For a local ``http://`` server, a script of one's own can set
    ``PREFECT_API_SSL_CERT_FILE`` the same way.)
    """
    import certifi

    bundle = Path(certifi.where()).read_text(encoding="utf-8")
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----\n"
    first = bundle[bundle.index(begin):bundle.index(end) + len(end)]
    path = Path(folder, "one-ca.pem")
    path.write_text(first, encoding="utf-8")
    return str(path)


if "PREFECT_API_SSL_CERT_FILE" not in os.environ:  # xdist workers inherit the controller's
    os.environ["PREFECT_API_SSL_CERT_FILE"] = _one_certificate_bundle(os.environ["PREFECT_HOME"])


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



# Parallel runs (`pytest -n N`, pytest-xdist): the tests of one end-to-end stack (a Prefect server,
# a worker and their database, a module-scoped fixture per test file and database) must run on one
# worker, one after the other, or each worker would start that stack again. One stack per file
# and database, not per database: each ran ~300 s in series, the suite's critical path. xdist's
# own `xdist_group` mark does not reach its scheduler under pytest 9 (it renames a node id field
# pytest no longer reads), so the scope is taken from the node id here: the database is the first
# parameter id.
_STACK_TEST = re.compile(r"^tests/deployments/(test_e2e\w*)\.py::\w+\[(sqlite|postgresql)\b")
# The longest-running folders start first, so that no worker is left with one of them at the end.
_FIRST = ("tests/deployments/", "tests/reliability/", "tests/benchmarks/")


def stack_scope(nodeid: str) -> str:
    """The xdist scope of a test: its end-to-end stack (test file and database), or the test.

    Examples:
        >>> stack_scope("tests/deployments/test_e2e.py::test_x[postgresql]")
        'stack-test_e2e-postgresql'
        >>> stack_scope("tests/deployments/test_e2e_backtests.py::test_y[sqlite-empty-grid]")
        'stack-test_e2e_backtests-sqlite'
        >>> stack_scope("tests/client/test_units.py::test_z")
        'tests/client/test_units.py::test_z'
    """
    match = _STACK_TEST.match(nodeid)
    return f"stack-{match.group(1)}-{match.group(2)}" if match else nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class OneStackPerWorker(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return stack_scope(nodeid)

    return OneStackPerWorker(config, log)


# The runs that exist to print a figure (soaks, kills, concurrency, the quick benchmark) take most
# of the suite's CPU; `make test` runs them, the quick loop (`make test-fast`) leaves them out.
_FIGURE_RUN = re.compile(
    r"^tests/(reliability/test_\w*(soak|kill|concurrency)\w*|benchmarks/test_benchmark_quick)\.py::"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _FIGURE_RUN.match(item.nodeid):
            item.add_marker(pytest.mark.figures)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: not item.nodeid.startswith(_FIRST))
