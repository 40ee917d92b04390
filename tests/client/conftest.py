from __future__ import annotations

from collections.abc import Iterator

import pytest

from quantconnect_client import QuantConnectClient, RetryPolicy, Timeouts

#: Fast retries so fault tests take milliseconds, not seconds.
FAST_RETRY = RetryPolicy(max_attempts=3, backoff_seconds=0.01, max_backoff_seconds=0.05)


def make_client(emulator, **overrides) -> QuantConnectClient:
    options = {
        "user_id": emulator.user_id,
        "api_token": emulator.api_token,
        "base_url": emulator.base_url,
        "timeouts": Timeouts(connect=2.0, read=2.0),
        "retry": FAST_RETRY,
    }
    options.update(overrides)
    return QuantConnectClient(**options)


@pytest.fixture
def client(qc_emulator) -> Iterator[QuantConnectClient]:
    with make_client(qc_emulator) as client:
        yield client
