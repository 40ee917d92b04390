"""Reliability and security tests: real Prefect, the real emulator over loopback, and figures.

Passing tests' stdout is captured by pytest, so each test hands its figures to
:func:`report_figures` (from ``tests/figures.py``); ``tests/conftest.py`` prints them all at the end
of every run (``make test`` included, in parallel workers too), under "reliability figures".
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.figures import report_figures
from tests.harness import prefect_harness

__all__ = ["report_figures", "start_python", "subprocess_env", "table"]

REPO_ROOT = Path(__file__).resolve().parents[2]


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A plain-text table with aligned columns."""
    cells = [list(map(str, header)), *[list(map(str, row)) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return lines


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> Iterator[str]:
    """The Prefect API URL: the flow tests' harness if one runs already, else a new one."""
    yield from prefect_harness()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``pytest.mark.anyio``) run on asyncio, as Prefect does."""
    return "asyncio"


def subprocess_env(api_url: str, **extra: str) -> dict[str, str]:
    """Environment for a child Python that talks to this session's Prefect server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QC_")}
    env.update(
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PYTHONPATH=str(REPO_ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start_python(code: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Run ``python -c code`` in the repository, its output going to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``condition()`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
