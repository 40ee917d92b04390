"""The services a benchmark talks to, each in its own process.

The emulator runs in a subprocess so its request handling never competes with the measured code
for the GIL; the Prefect server runs as ``prefect server start`` with its own ``PREFECT_HOME``,
as a user's long-lived server would. Both are stopped by their process id.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from quantconnect_emulator.config import DEFAULT_API_TOKEN, DEFAULT_USER_ID

_PREFECT_START_TIMEOUT = 120.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_memory_mb(pid: int | str = "self") -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` of a process, in MiB (Linux ``/proc``; empty elsewhere)."""
    found: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                key = line.split(":", 1)[0]
                if key in ("VmRSS", "VmHWM"):
                    found[key] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return found


def _stop(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


class EmulatorProcess:
    """``python -m quantconnect_emulator`` in a subprocess, driven through its control API.

    Example:
        >>> with EmulatorProcess(latency_ms=100) as emulator:  # doctest: +SKIP
        ...     emulator.reset()
        ...     emulator.stats()["peak_in_flight"]
        0
    """

    user_id: int = DEFAULT_USER_ID
    api_token: str = DEFAULT_API_TOKEN

    def __init__(self, latency_ms: float = 100.0) -> None:
        self.latency_ms = latency_ms
        self.base_url = ""
        self.control_url = ""
        self._process: subprocess.Popen[str] | None = None
        self._control = requests.Session()

    def start(self) -> EmulatorProcess:
        """Start the emulator on a free port and wait for its announcement."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "quantconnect_emulator", "--port", "0", "--seed", "1",
             "--latency-ms", str(self.latency_ms)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._process.stdout is not None
        for line in self._process.stdout:  # the banner ends with "Press Ctrl+C to stop."
            if "listening on" in line:
                self.base_url = line.split()[-1]
            if line.startswith("Press Ctrl+C"):
                break
        if not self.base_url:
            _stop(self._process)
            raise RuntimeError("the emulator did not start")
        self.control_url = self.base_url.rsplit("/api/", 1)[0] + "/_emulator"
        return self

    def stop(self) -> None:
        """Stop the emulator process."""
        if self._process is not None:
            _stop(self._process)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        self._control.close()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _get(self, path: str) -> Any:
        response = self._control.get(self.control_url + path, timeout=30)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Forget projects, counters (peak in flight included) and the request log."""
        self._control.post(self.control_url + "/reset", timeout=30).raise_for_status()

    def set_latency(self, latency_ms: float) -> None:
        """Replace the fault configuration by a fixed latency and no faults."""
        self._control.put(
            self.control_url + "/faults", json={"latency_ms": latency_ms, "fault_rate": 0},
            timeout=30,
        ).raise_for_status()

    def set_jobs(self, **fields: Any) -> dict[str, Any]:
        """Change some job settings (nodes, node mode, compile and backtest seconds, lags)."""
        response = self._control.put(self.control_url + "/jobs", json=fields, timeout=30)
        response.raise_for_status()
        config: dict[str, Any] = response.json()
        return config

    def backtests(self) -> list[dict[str, Any]]:
        """Every backtest with its status and moments (``settled_at``... on the job clock)."""
        found: list[dict[str, Any]] = self._get("/backtests")["backtests"]
        return found

    def jobs(self) -> list[dict[str, Any]]:
        """Every job of every kind, with ``submitted_at`` and ``started_at`` on the job clock."""
        found: list[dict[str, Any]] = self._get("/jobs")["jobs"]
        return found

    def seed_projects(self, names: list[str], language: str = "Py") -> list[int]:
        """Create many projects at once through the emulator's control (no latency, no log)."""
        ids: list[int] = []
        for start in range(0, len(names), 10_000):
            response = self._control.post(
                self.control_url + "/projects/seed",
                json={"names": names[start : start + 10_000], "language": language}, timeout=120,
            )
            response.raise_for_status()
            ids += response.json()["projectIds"]
        return ids

    @property
    def pid(self) -> int:
        """The emulator's process id (for ``/proc/<pid>/status``)."""
        assert self._process is not None, "not started"
        return self._process.pid

    def stats(self) -> dict[str, Any]:
        """The emulator's counters since the last reset."""
        stats: dict[str, Any] = self._get("/stats")
        return stats

    def requests_log(self) -> list[dict[str, Any]]:
        """The request log since the last reset, oldest first."""
        entries: list[dict[str, Any]] = self._get("/requests")["requests"]
        return entries


class PrefectServer:
    """``prefect server start`` with its own ``PREFECT_HOME``, until stopped.

    Example:
        >>> with PrefectServer(home) as server:  # doctest: +SKIP
        ...     os.environ["PREFECT_API_URL"] = server.api_url
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.started_in_seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = home / "server.log"

    def start(self) -> PrefectServer:
        """Start the server and wait until ``/api/health`` answers.

        Raises:
            RuntimeError: The server exited or did not answer in time (its log is kept).
        """
        env = dict(os.environ, PREFECT_HOME=str(self.home),
                   PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false")
        env.pop("PREFECT_API_URL", None)
        started = time.monotonic()
        with open(self._log, "wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                 "--port", str(self.port), "--no-ui", "--analytics-off"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"the Prefect server exited; see {self._log}")
            if time.monotonic() - started > _PREFECT_START_TIMEOUT:
                self.stop()
                raise RuntimeError(f"the Prefect server did not answer; see {self._log}")
            try:
                if requests.get(self.api_url + "/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.25)
        self.started_in_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Stop the server process."""
        if self._process is not None:
            _stop(self._process, timeout=15)
            self._process = None

    def __enter__(self) -> PrefectServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
