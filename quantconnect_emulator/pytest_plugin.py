"""pytest fixtures that serve the QuantConnect emulator over loopback.

Registered through the ``pytest11`` entry point, so any project that installs
this package gets the fixtures without a ``conftest.py``:

- ``qc_emulator_server`` (session scope): one running
  :class:`~quantconnect_emulator.server.EmulatorServer` for the whole session.
- ``qc_emulator`` (function scope): the same server, reset (no projects, jobs,
  empty stats and request log, no queued faults), with faults switched off and
  the job settings back to their defaults before each test. Jobs move with
  ``qc_emulator.advance(seconds)``; ``set_jobs(...)``, ``force_build_error(...)``,
  ``force_runtime_error(...)`` and ``backtests()`` control them.
- ``qc_object_store`` (function scope): the reset emulator's Object Store, to seed and inspect
  objects in-process (:class:`~quantconnect_emulator.resources.objectstore.ObjectStore`).

Example:
    >>> def test_authenticate(qc_emulator):  # doctest: +SKIP
    ...     url = f"{qc_emulator.base_url}/authenticate"
    ...     ...  # sign with qc_emulator.user_id / qc_emulator.api_token

The emulator itself is imported inside the fixtures: this module loads in every
pytest session and must stay cheap.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from quantconnect_emulator.resources.objectstore import ObjectStore
    from quantconnect_emulator.server import EmulatorServer


@pytest.fixture(scope="session")
def qc_emulator_server() -> Iterator[EmulatorServer]:
    """One emulator on a free loopback port, shared by the whole session."""
    from quantconnect_emulator.server import EmulatorServer

    server = EmulatorServer(seed=20240101)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def qc_emulator(qc_emulator_server: EmulatorServer) -> Iterator[EmulatorServer]:
    """The session emulator, reset and fault-free at the start of the test."""
    qc_emulator_server.reset()
    # A reset sends the answers an earlier (failed) test left held; they stop counting as held
    # once their waits wake, which a test that counts its own holds must not mistake for its own.
    deadline = time.monotonic() + 2.0
    while qc_emulator_server.emulator.faults.holding and time.monotonic() < deadline:
        time.sleep(0.01)
    qc_emulator_server.set_faults(None)
    qc_emulator_server.set_jobs(qc_emulator_server.config.jobs)
    yield qc_emulator_server


@pytest.fixture
def qc_object_store(qc_emulator: EmulatorServer) -> ObjectStore:
    """The reset emulator's Object Store, to seed and inspect objects without requests.

    ``qc_object_store.seed("models/a.json", b"...")``, ``.snapshot()`` (key -> size, md5, ...),
    ``.content(key)``, ``.configure(quota_bytes=..., downloads_enabled=False, get_seconds=...)``.
    """
    from quantconnect_emulator.resources.objectstore import ObjectStore

    return ObjectStore.of(qc_emulator.emulator.account)
