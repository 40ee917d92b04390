"""Helpers of the live reliability tests: an emulator with quick live jobs, and a ledger of every
live algorithm it started (the figures' source of truth for "never two deployments")."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from quantconnect_emulator import EmulatorServer
from quantconnect_emulator.resources.live import Live
from tests.reliability.backtest_soak import quick_jobs

#: Live jobs in tenths of a second: queued, initializing, then a simulated day every 0.2 s.
QUICK_LIVE: dict[str, float] = {
    "live_queue_seconds": 0.1,
    "live_initializing_seconds": 0.1,
    "live_day_seconds": 0.2,
}


class LiveLedger:
    """Every live algorithm the emulator started, as it started it: (project id, deploy id)."""

    def __init__(self, server: EmulatorServer) -> None:
        self.created: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        live = Live.of(server.emulator.account)
        original = live.create

        def recording(project_id: int, *args: Any, **kwargs: Any) -> Any:
            deployment = original(project_id, *args, **kwargs)
            with self._lock:
                self.created.append((project_id, deployment.deploy_id))
            return deployment

        live.create = recording  # type: ignore[method-assign]

    def by_project(self) -> Counter[int]:
        """How many live algorithms were started in each project."""
        with self._lock:
            return Counter(project_id for project_id, _ in self.created)


@contextmanager
def live_emulator(seed: int, *, live_nodes: int, log_size: int = 20_000,
                  **jobs: float) -> Iterator[EmulatorServer]:
    """An emulator of its own with quick compiles, backtests and live jobs on ``live_nodes``
    live nodes, and a request log of ``log_size`` entries."""
    with EmulatorServer(seed=seed, request_log_size=log_size) as server:
        quick_jobs(server, live_nodes=live_nodes, **{**QUICK_LIVE, **jobs})
        yield server


__all__ = ["QUICK_LIVE", "LiveLedger", "live_emulator"]
