"""Every test here runs flows or tasks: the session's Prefect harness is always on."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _prefect(prefect_server: str) -> str:
    return prefect_server
