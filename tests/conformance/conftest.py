"""Driving the emulator into each stage its answers can have, over HTTP.

Requests are signed by hand with the emulator tests' caller (``tests/emulator/conftest.py``), not
with the project's client: these tests check the emulator's answers, so nothing between the wire
and the strict models (``contract.py``) may repair them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
import requests
from pydantic import BaseModel, ValidationError

from tests.emulator.conftest import Api

M = TypeVar("M", bound=BaseModel)

#: Seconds a backtest runs: long enough that the wall clock never moves a stage on by itself.
LONG = 1_000.0

#: A Python algorithm with literal dates and cash, a parameter and a chart of its own.
PY_MAIN = """\
# region imports
from AlgorithmImports import *
# endregion


class Conformance(QCAlgorithm):

    def initialize(self):
        self.set_start_date(2024, 1, 2)
        self.set_end_date(2024, 6, 28)
        self.set_cash(100000)
        self.add_equity("SPY", Resolution.DAILY)
        self.fast = int(self.get_parameter("fast", 10))

    def on_data(self, data: Slice):
        self.plot("Signals", "fast", self.fast)
        if not self.portfolio.invested:
            self.set_holdings("SPY", 1)
"""

#: The algorithm's period (above) in Unix seconds: a chart request's `start` and `end`.
START, END = 1_704_153_600, 1_719_532_800

#: The algorithm's own chart (``self.plot("Signals", ...)`` above).
OWN_CHART = "Signals"


class World:
    """The emulator and a hand-signed caller, with the set-ups the answers need."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.api = Api(server)

    # ------------------------------------------------------------------ checking answers

    def expect(self, response: requests.Response, model: type[M], *, status: int = 200) -> M:
        """Check ``response`` against ``model`` and its HTTP status; return the parsed answer.

        A mismatch fails with the path, every field that differs and the answer itself.
        """
        where = f"{response.request.method} {response.request.path_url}"
        assert response.status_code == status, (
            f"{where}: HTTP {response.status_code}, expected {status}: {response.text[:500]}"
        )
        assert response.headers.get("content-type", "").startswith("application/json"), (
            f"{where}: content-type {response.headers.get('content-type')!r}"
        )
        body = response.json()
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            problems = "\n".join(
                f"  {'.'.join(str(p) for p in error['loc']) or '<answer>'}: {error['msg']}"
                f" (got {json.dumps(error['input'], default=str)[:200]})"
                for error in exc.errors()
            )
            raise AssertionError(
                f"{where} does not match {model.__name__}:\n{problems}\n"
                f"answer: {json.dumps(body, default=str)[:1500]}"
            ) from None

    def call(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        """One signed API call (JSON body unless ``data=`` is given)."""
        return self.api.call(path, body, **kwargs)

    def ok(self, path: str, body: Any = None) -> dict[str, Any]:
        """A set-up call that must succeed (its answer is checked by its own case)."""
        return self.api.ok(path, body)

    # ------------------------------------------------------------------------ set-ups

    def project(self, language: str = "Py", name: str = "Conformance") -> int:
        """A new project; a Python one gets :data:`PY_MAIN` as ``main.py``."""
        pid: int = self.api.create_project(name, language)["projectId"]
        if language == "Py":
            self.api.put_file(pid, "main.py", PY_MAIN)
        return pid

    def compiled(self, pid: int) -> str:
        """A finished, successful compile of the project."""
        read = self.api.compile(pid)
        assert read["state"] == "BuildSuccess", read
        compile_id: str = read["compileId"]
        return compile_id

    def backtest(self, pid: int, compile_id: str, name: str = "bt", **extra: Any) -> str:
        """A new backtest's id."""
        backtest_id: str = self.api.backtest(pid, compile_id, name, **extra)["backtestId"]
        return backtest_id

    def ready(self, language: str = "Py") -> tuple[int, str]:
        """A project with a successful compile, and backtests that run :data:`LONG` seconds."""
        self.jobs(backtest_seconds=LONG)
        pid = self.project(language)
        return pid, self.compiled(pid)

    def started(self, language: str = "Py", **extra: Any) -> tuple[int, str]:
        """A project and one backtest of it, just created."""
        pid, compile_id = self.ready(language)
        return pid, self.backtest(pid, compile_id, **extra)

    def settled(self) -> tuple[int, str]:
        """A project and one backtest of it, completed with every result in."""
        pid, backtest_id = self.started()
        self.advance(LONG + 60)
        return pid, backtest_id

    def read(self, pid: int, backtest_id: str) -> requests.Response:
        return self.call("/backtests/read", {"projectId": pid, "backtestId": backtest_id})

    def advance(self, seconds: float) -> None:
        """Move the emulator's job clock (``POST /_emulator/clock/advance``)."""
        response = requests.post(
            f"{self.server.control_url}/clock/advance", json={"seconds": seconds}, timeout=5
        )
        assert response.status_code == 200, response.text

    def jobs(self, **settings: Any) -> None:
        """Change job settings (``PUT /_emulator/jobs``)."""
        response = requests.put(f"{self.server.control_url}/jobs", json=settings, timeout=5)
        assert response.status_code == 200, response.text

    def close(self) -> None:
        self.api.close()


@pytest.fixture
def world(qc_emulator: Any) -> Iterator[World]:
    """A :class:`World` on the freshly reset session emulator."""
    created = World(qc_emulator)
    yield created
    created.close()
