"""Backtest pipeline tests: pure ones need nothing; those that touch Prefect (variables,
artifacts, flows) ask for ``prefect_server``; both from tests/flows/conftest.py, as is the
quick-jobs ``emulator`` the credentials here point at."""

from __future__ import annotations

import pytest

from tasks.credentials import QuantConnectCredentials
from tests.helpers import credentials_for


@pytest.fixture
def credentials(emulator) -> QuantConnectCredentials:
    return credentials_for(emulator)
