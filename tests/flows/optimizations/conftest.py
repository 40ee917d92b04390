"""Optimizer flow tests: the quick-jobs ``emulator`` and the Prefect harness of
tests/flows/conftest.py."""

from __future__ import annotations

import pytest

from tasks.credentials import QuantConnectCredentials
from tests.helpers import credentials_for


@pytest.fixture
def credentials(emulator) -> QuantConnectCredentials:
    return credentials_for(emulator)
