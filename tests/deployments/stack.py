"""Real processes for the end-to-end tests: a PostgreSQL cluster, a Prefect server, workers.

Everything listens on loopback, lives in a temporary directory and is stopped by the caller's
``finally`` (workers first, then the server, then the database).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.harness import seed_database

VENV_BIN = Path(sys.executable).parent
PREFECT = str(VENV_BIN / "prefect")

#: Inherited variables that would point a child at another Prefect or QuantConnect.
_SCRUBBED_PREFIXES = ("PREFECT_", "QC_")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without Prefect or QuantConnect settings, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env.update(overrides)
    return env


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 15) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers. Never raises."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def spawn(
    args: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``args`` in its own process group, output to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            list(args),
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


# --- PostgreSQL -----------------------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb`` (Debian layout)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def runuser_path() -> str | None:
    """``runuser``, also where a ``PATH`` without the system folders would not find it."""
    return shutil.which("runuser") or shutil.which(
        "runuser", path=os.pathsep.join(("/usr/sbin", "/sbin", "/usr/bin", "/bin"))
    )


def postgres_unavailable_reason() -> str | None:
    """Why a private PostgreSQL cluster cannot be started here, or None if it can."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        return (
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); "
            ".ci/run installs it with `apt-get install -y postgresql`"
        )
    if os.geteuid() == 0 and runuser_path() is None:
        return "running as root and no `runuser` to start PostgreSQL as an unprivileged user"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run PostgreSQL as"
    return None


def _run(args: Sequence[str]) -> None:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=120, cwd="/")
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr}{done.stdout}")


@dataclass
class PostgresCluster:
    """A throw-away PostgreSQL cluster in ``directory``, trusting loopback connections.

    As root, ``directory`` must be reachable by the ``postgres`` user (e.g. a fresh
    ``tempfile.mkdtemp()`` in ``/tmp``): the cluster runs as that user.
    """

    directory: Path
    port: int = field(default_factory=free_port)
    database: str = "prefect"
    user: str = "postgres"

    def _as_owner(self, args: Sequence[str]) -> list[str]:
        # initdb and postgres refuse to run as root.
        if os.geteuid() == 0:
            return [runuser_path() or "runuser", "-u", "postgres", "--", *args]
        return list(args)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> None:
        bin_dir = postgres_bin_dir()
        assert bin_dir is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        data = self.directory / "data"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        _run(
            self._as_owner(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            ),
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.directory} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _run(
            self._as_owner(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(self.directory / "postgres.log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
        )
        _run(
            [
                str(bin_dir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                self.database,
            ],
        )

    def stop(self) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None or not (self.directory / "data" / "postmaster.pid").exists():
            return
        subprocess.run(
            self._as_owner(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(self.directory / "data"),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ]
            ),
            capture_output=True,
            timeout=60,
            cwd="/",
            check=False,
        )


# --- Prefect ----------------------------------------------------------------------------------


@dataclass
class PrefectServer:
    """``prefect server start`` with its own home, on a free loopback port."""

    home: Path
    log_dir: Path
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def log(self) -> Path:
        return self.log_dir / "server.log"

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of any Prefect client of this server (CLI, worker, flow runs)."""
        return clean_env(
            PREFECT_HOME=str(self.home),
            PREFECT_API_URL=self.api_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            **overrides,
        )

    def start(self, timeout: float = 120) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        server_env = {
            # Schedule new runs soon after a deployment appears, not once a minute.
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
            "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "1",
            "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        }
        if self.database_url:
            server_env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = self.database_url
        else:
            # Prefect's default database, already migrated (tests/harness.py).
            seed_database(self.home / "prefect.db")
        self.process = spawn(
            [
                PREFECT,
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-ui",
                "--analytics-off",
            ],
            self.env(**server_env),
            self.log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prefect server exited:\n{tail(self.log)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.3)
        raise TimeoutError(f"prefect server not healthy after {timeout} s:\n{tail(self.log)}")

    def stop(self) -> None:
        stop(self.process)


def run_cli(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; fail with its output if it fails."""
    done = subprocess.run(
        list(args), env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
        )
    return done


@contextlib.contextmanager
def worker(
    server: PrefectServer, pool: str, log_dir: Path, cwd: Path, limit: int = 4
) -> Iterator[subprocess.Popen[bytes]]:
    """A ``prefect worker start`` process polling ``pool`` every second."""
    process = spawn(
        [
            PREFECT,
            "--no-prompt",
            "worker",
            "start",
            "--pool",
            pool,
            "--type",
            "process",
            "--limit",
            str(limit),
            "--prefetch-seconds",
            "5",
            "--install-policy",
            "never",
            "--no-create-pool-if-not-found",
        ],
        server.env(PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_HEARTBEAT_SECONDS="5"),
        log_dir / "worker.log",
        cwd=cwd,
    )
    try:
        yield process
    finally:
        stop(process)
