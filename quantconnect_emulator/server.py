"""Run the emulator in-process: uvicorn in a daemon thread on a loopback port.

Example:
    >>> from quantconnect_emulator import EmulatorServer, FaultKind
    >>> with EmulatorServer(seed=42) as server:  # doctest: +SKIP
    ...     server.base_url                       # 'http://127.0.0.1:54321/api/v2'
    ...     server.inject(FaultKind.CONNECTION_DROP, path="/projects/create")
    ...     server.set_faults(latency_ms=50, fault_rate=0.1)
    ...     server.stats()["peak_in_flight"]

Many servers may run in one process; each has its own state and port.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from quantconnect_emulator.app import Emulator, create_app
from quantconnect_emulator.config import (
    API_PREFIX,
    CONTROL_PREFIX,
    EmulatorConfig,
    FaultConfig,
    FaultKind,
    JobsConfig,
)

_START_TIMEOUT_SECONDS = 10.0


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket (``port=0``: a free port chosen by the OS)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted
    # sockets whose proto is TCP; without it every keep-alive request waits out
    # a Nagle / delayed-ACK stall.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listen at once: connections made before uvicorn's loop runs wait
        # in the backlog instead of being refused.
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def uvicorn_config(app: Any) -> uvicorn.Config:
    """uvicorn settings shared by :class:`EmulatorServer` and the CLI.

    Quiet logs (warnings only, no access log, global logging left alone), h11,
    no lifespan, 30 s keep-alive, short graceful shutdown.
    """
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        log_config=None,
        http="h11",
        lifespan="off",
        timeout_keep_alive=30,
        timeout_graceful_shutdown=2,
        server_header=False,
    )


class EmulatorServer:
    """The emulator served by uvicorn in a background thread.

    Args:
        config: Base configuration (defaults to ``EmulatorConfig()``).
        **overrides: Fields replacing those of ``config``, e.g.
            ``EmulatorServer(seed=1, auth_failure_status=200)``.

    Use as a context manager, or call :meth:`start` / :meth:`stop`.
    """

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any) -> None:
        self.config = (config or EmulatorConfig()).with_overrides(**overrides)
        self.emulator = Emulator(self.config)
        self.app = create_app(emulator=self.emulator)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._port: int | None = None

    def __repr__(self) -> str:
        state = f"running on {self.root_url}" if self.running else "stopped"
        return f"<EmulatorServer {state} user_id={self.user_id}>"

    # --------------------------------------------------------------- lifecycle

    def start(self) -> EmulatorServer:
        """Bind, serve in a daemon thread, and wait until health answers."""
        if self.running:
            return self
        warning = self.config.check_bind()
        if warning:
            print(warning, file=sys.stderr)
        sock = bind_socket(self.config.host, self.config.port)
        self._socket = sock
        self._port = sock.getsockname()[1]
        self.emulator.closing = False
        server = uvicorn.Server(uvicorn_config(self.app))
        self._server = server
        self._thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"qc-emulator-{self._port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the QuantConnect emulator failed to start")
            time.sleep(0.005)
        self._check_health()
        return self

    def stop(self) -> None:
        """Stop serving (stalled answers are released) and free the port.

        Code checks still queued are dropped and their children killed: none outlives the
        server.
        """
        self.emulator.closing = True
        self.emulator.account.checks.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
        self._socket = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    def _check_health(self) -> None:
        host = self.config.host
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        connection = http.client.HTTPConnection(host, self.port, timeout=5)
        try:
            connection.request("GET", f"{CONTROL_PREFIX}/health")
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status != 200 or json.loads(body).get("status") != "ok":
            raise RuntimeError(f"emulator health check failed: HTTP {response.status}")

    # -------------------------------------------------------------- addresses

    @property
    def host(self) -> str:
        """The interface served."""
        return self.config.host

    @property
    def port(self) -> int:
        """The TCP port (known once started)."""
        if self._port is None:
            raise RuntimeError("the emulator has not been started")
        return self._port

    @property
    def root_url(self) -> str:
        """``http://host:port`` without a path."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:54321/api/v2`` (no trailing slash)."""
        return self.root_url + API_PREFIX

    @property
    def control_url(self) -> str:
        """The control endpoints' base URL, e.g. ``http://127.0.0.1:54321/_emulator``."""
        return self.root_url + CONTROL_PREFIX

    @property
    def user_id(self) -> int:
        """The user id requests must be signed with."""
        return self.config.user_id

    @property
    def api_token(self) -> str:
        """The API token requests must be signed with (a secret: don't log it)."""
        return self.config.api_token.get_secret_value()

    @property
    def organization_id(self) -> str:
        """The account's organization id."""
        return self.config.organization_id

    # ---------------------------------------------------------------- control

    def reset(self) -> None:
        """Forget projects, jobs, stats, the request log and queued faults, and send the held
        answers (config kept).

        Ids continue where they were: an id dealt before the reset is never dealt again.
        """
        self.emulator.reset()

    def set_faults(self, faults: FaultConfig | None = None, **fields: Any) -> FaultConfig:
        """Replace the fault configuration.

        Args:
            faults: The new configuration; ``None`` starts from "no faults".
            **fields: :class:`FaultConfig` fields applied on top, e.g.
                ``set_faults(fault_rate=0.3, fault_kinds=["http_500_empty"])``.

        Returns:
            The configuration now in force.
        """
        config = faults or FaultConfig()
        if fields:
            config = FaultConfig.model_validate({**config.model_dump(), **fields})
        self.emulator.set_faults(config)
        return config

    def set_jobs(self, jobs: JobsConfig | None = None, **fields: Any) -> JobsConfig:
        """Change the job settings: nodes, node mode, compile/backtest seconds, lags.

        Args:
            jobs: A whole :class:`JobsConfig`; ``None`` keeps the settings in force.
            **fields: Fields applied on top, e.g. ``set_jobs(backtest_nodes=4,
                node_mode="reject", backtest_seconds=5)``.

        Returns:
            The settings now in force (waiting backtests start if nodes were added).
        """
        config = jobs or self.emulator.account.jobs_config
        if fields:
            config = JobsConfig.model_validate({**config.model_dump(), **fields})
        self.emulator.set_jobs(config)
        return config

    def advance(self, seconds: float) -> float:
        """Move the emulator's job clock forward (compiles and backtests move with it).

        Returns:
            The clock's new time, in Unix seconds.
        """
        return self.emulator.advance(seconds)

    def force_build_error(self, project_id: int, message: str | None = None) -> None:
        """Make the project's next compile end in ``BuildError`` with ``message`` in its logs."""
        from quantconnect_emulator.resources.compiles import Compiles

        Compiles.of(self.emulator.account).force_build_error(project_id, message)

    def force_runtime_error(
        self,
        project_id: int,
        backtest_id: str | None = None,
        *,
        message: str | None = None,
        during_initialization: bool = False,
        at_progress: float = 0.5,
    ) -> None:
        """Fail a running backtest now (``backtest_id``), or the project's next backtest.

        Args:
            project_id: The project.
            backtest_id: A running backtest to fail now; ``None``: the next one created.
            message: The ``error`` text (a default says it was forced).
            during_initialization: Fail as an initialization failure
                (``hasInitializeError``, the service's prefix on ``error``).
            at_progress: For the next backtest: where (0..1) it fails.
        """
        from quantconnect_emulator.resources.backtests import Backtests

        Backtests.of(self.emulator.account).force_runtime_error(
            project_id,
            backtest_id=backtest_id,
            message=message,
            during_initialization=during_initialization,
            at_progress=at_progress,
        )

    def seed_projects(self, names: list[str], language: str = "Py") -> list[int]:
        """Create many projects at once, as ``/projects/create`` would, without latency, faults
        or the request log (a benchmark's large account). Returns their ids."""
        from quantconnect_emulator.resources.projects import Projects

        return Projects.of(self.emulator.account).seed(names, language)

    def backtests(self) -> list[dict[str, Any]]:
        """Snapshot of every backtest: ids, name, status, stage, progress, parameters."""
        from quantconnect_emulator.resources.backtests import Backtests

        return Backtests.of(self.emulator.account).snapshot()

    def inject(self, kind: FaultKind | str, path: str | None = None, count: int = 1) -> None:
        """Force ``kind`` on the next ``count`` API requests to ``path`` (``None``: any)."""
        self.emulator.faults.inject(kind, path, count)

    def release_held(self) -> int:
        """Answer every ``slow_response`` held now at once; how many there were."""
        return self.emulator.faults.release_held()

    def stats(self) -> dict[str, Any]:
        """Counters: requests (total, per path), faults per kind, rate-limited,
        auth failures, current and peak in flight, store counters, and the job
        figures (``peak_running_backtests``...)."""
        return self.emulator.stats()

    def requests_log(self) -> list[dict[str, Any]]:
        """The request log, oldest first (never holds credentials)."""
        return self.emulator.log.entries()

    def projects(self, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Snapshot of the projects (with files and ``inRecycleBin``)."""
        return self.emulator.projects(include_deleted=include_deleted)
