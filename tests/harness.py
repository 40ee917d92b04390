"""One Prefect test server per session, whichever test folder asks for it first."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

#: How long a test server may take to answer its health check.
STARTUP_TIMEOUT_SECONDS = 180
#: The database file ``prefect_test_harness`` keeps in the temporary folder it makes.
HARNESS_DATABASE = "prefect-test.db"


def migrated_database() -> Path | None:
    """A SQLite database with Prefect's migrations applied, made once per machine, user, Python
    and Prefect version; None if it cannot be made (each server then migrates its own).

    Every Prefect server a test starts would otherwise run all of Prefect's migrations on an
    empty database first: the largest part of its start, paid once per xdist worker and per
    end-to-end stack, all at the same time at the start of the suite. Parallel workers take a
    file lock, so the first one migrates and the others copy; a failure is noted beside the
    lock for an hour, so the workers waiting behind it do not each try again.
    """
    import prefect

    try:
        folder = Path(tempfile.gettempdir()) / f"qc-prefect-databases-{os.getuid()}"
        folder.mkdir(exist_ok=True)
        key = f"prefect-{prefect.__version__}-py{sys.version_info[0]}.{sys.version_info[1]}"
        database, failed = folder / f"{key}.db", folder / f"{key}.failed"
        with (folder / f"{key}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if database.exists():
                return database
            if failed.exists() and time.time() - failed.stat().st_mtime < 3600:
                return None
            made = _migrate(folder)
            if made is None:
                failed.write_text("prefect server database upgrade failed\n")
                return None
            # Whole or not at all: a reader never copies a half-written file.
            made.replace(database)
            return database
    except (OSError, subprocess.SubprocessError, sqlite3.Error):
        return None


def _migrate(folder: Path) -> Path | None:
    """A new database file in ``folder`` with every migration applied, or None."""
    scratch = Path(tempfile.mkdtemp(prefix="migrate-", dir=folder))
    try:
        partial = scratch / "prefect.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(PREFECT_HOME=str(scratch),
                   PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{partial}")
        done = subprocess.run(
            [str(Path(sys.executable).parent / "prefect"), "server", "database", "upgrade", "-y"],
            env=env, capture_output=True, timeout=600, check=False,
        )
        if done.returncode != 0 or not partial.exists():
            return None
        # One file, with nothing left in a write-ahead log beside it: that is what gets copied.
        with contextlib.closing(sqlite3.connect(partial)) as connection:
            connection.execute("PRAGMA journal_mode=DELETE")
        made = folder / f"{scratch.name}.db"
        partial.replace(made)
        return made
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def seed_database(target: Path) -> None:
    """Copy the migrated database to ``target`` unless a database is there already (nothing
    when there is no migrated one)."""
    database = migrated_database()
    if database is not None and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(database, target)


@contextlib.contextmanager
def _seeded_harness_folder() -> Iterator[None]:
    """While it is held, the folder ``prefect_test_harness`` makes holds a migrated database.

    The harness names neither the folder nor the file as an option, so its ``mkdtemp`` is
    wrapped; a Prefect that names them differently just migrates as before.
    """
    import prefect.testing.utilities as utilities

    made = getattr(utilities, "mkdtemp", None)
    if made is None:
        yield
        return

    def seeded(*args: object, **kwargs: object) -> str:
        folder: str = made(*args, **kwargs)
        seed_database(Path(folder) / HARNESS_DATABASE)
        return folder

    setattr(utilities, "mkdtemp", seeded)  # noqa: B010 (not a name the module exports)
    try:
        yield
    finally:
        setattr(utilities, "mkdtemp", made)  # noqa: B010


def release_prefect_services() -> None:
    """Drain and stop this process's Prefect event and log workers.

    Both are process-wide singletons that keep the API URL they started with: after a test has
    pointed Prefect at another server (the end-to-end stack's), they would go on sending events
    and logs there, and the task runs that Prefect creates from events would never reach the
    next server. The next use starts them again against the current URL.
    """
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        for result in (APILogWorker.drain_all(), EventsWorker.drain_all()):
            if inspect.isawaitable(result):
                await result

    run_coro_as_sync(drain())


def prefect_harness() -> Iterator[str]:
    """Yield the Prefect API URL: the running harness of another folder if there is one (one
    temporary server per session, not two), else a new one for as long as the caller holds it."""
    import prefect.settings
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.testing.utilities import prefect_test_harness

    running = SubprocessASGIServer._instances.get(None)
    current = prefect.settings.PREFECT_API_URL.value()
    if running is not None and current and current == running.api_url:
        yield current
        return
    release_prefect_services()
    # The server starts in a subprocess that runs its migrations first: on a loaded 2-core
    # machine (three xdist workers each starting one) that took over a minute (make test-compat,
    # 2026-12-06), so the bound is generous; a healthy start takes a few seconds.
    with contextlib.ExitStack() as stack:
        with _seeded_harness_folder():
            stack.enter_context(
                prefect_test_harness(server_startup_timeout=STARTUP_TIMEOUT_SECONDS))
        yield str(prefect.settings.PREFECT_API_URL.value())
