"""Helpers for the emulator tests: hand-signed HTTP requests over loopback.

The ``qc_emulator`` / ``qc_emulator_server`` fixtures come from the package's
pytest plugin (``quantconnect_emulator.pytest_plugin``). Requests are built and
signed here by hand, from the contract, without the project's API client.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests


def wait_held(emulator: Any, count: int, timeout: float = 10.0) -> None:
    """Wait until the emulator holds at least ``count`` ``slow_response`` answers."""
    deadline = time.monotonic() + timeout
    while emulator.emulator.faults.holding < count:
        assert time.monotonic() < deadline, f"{count} answer(s) were never held"
        time.sleep(0.02)


def sign(user_id: int | str, token: str, ts: str | int | None = None) -> dict[str, str]:
    """QuantConnect auth headers: ``Authorization: Basic b64(uid:sha256(token:ts))``."""
    timestamp = str(int(time.time())) if ts is None else str(ts)
    digest = hashlib.sha256(f"{token}:{timestamp}".encode()).hexdigest()
    credentials = base64.b64encode(f"{user_id}:{digest}".encode()).decode("ascii")
    return {"Authorization": f"Basic {credentials}", "Timestamp": timestamp}


class Api:
    """A tiny hand-written caller of the emulated API (fresh signature per call)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.session = requests.Session()

    def headers(self, **kwargs: Any) -> dict[str, str]:
        user_id = kwargs.pop("user_id", self.server.user_id)
        token = kwargs.pop("token", self.server.api_token)
        return sign(user_id, token, kwargs.pop("ts", None))

    def call(
        self,
        path: str,
        json: Any = None,
        *,
        method: str = "POST",
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
        **kwargs: Any,
    ) -> requests.Response:
        url = f"{self.server.base_url}{path}"
        return self.session.request(
            method,
            url,
            json=json,
            headers=self.headers() if headers is None else headers,
            timeout=timeout,
            **kwargs,
        )

    def ok(self, path: str, json: Any = None, **kwargs: Any) -> dict[str, Any]:
        response = self.call(path, json, **kwargs)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["success"] is True, body
        assert body.get("errors", []) == []  # `/authenticate` answers `{"success": true}` only
        return body

    def fail(self, path: str, json: Any = None, **kwargs: Any) -> str:
        """Assert a business error (HTTP 200, success false); return errors[0]."""
        response = self.call(path, json, **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is False, body
        assert isinstance(body["errors"], list) and body["errors"], body
        assert all(isinstance(e, str) and e for e in body["errors"])
        message: str = body["errors"][0]
        return message

    def create_project(self, name: str = "Test Project", language: str = "Py") -> dict[str, Any]:
        body = self.ok("/projects/create", {"name": name, "language": language})
        project: dict[str, Any] = body["projects"][0]
        return project

    def put_file(self, project_id: int, name: str, content: str) -> None:
        """Create or overwrite a file."""
        body = {"projectId": project_id, "name": name, "content": content}
        if not self.call("/files/update", body).json()["success"]:
            self.ok("/files/create", body)

    def compile(self, project_id: int, *, finish: bool = True) -> dict[str, Any]:
        """Create a compile; with ``finish``, move the clock past it and return the read."""
        created: dict[str, Any] = self.ok("/compile/create", {"projectId": project_id})
        if not finish:
            return created
        self.server.advance(self.server.emulator.account.jobs_config.compile_seconds + 0.01)
        read: dict[str, Any] = self.ok(
            "/compile/read", {"projectId": project_id, "compileId": created["compileId"]}
        )
        return read

    def backtest(
        self, project_id: int, compile_id: str, name: str = "bt", **extra: Any
    ) -> dict[str, Any]:
        """Create a backtest; return the ``backtest`` object."""
        body = {"projectId": project_id, "compileId": compile_id, "backtestName": name, **extra}
        backtest: dict[str, Any] = self.ok("/backtests/create", body)["backtest"]
        return backtest

    def read_backtest(self, project_id: int, backtest_id: str) -> dict[str, Any]:
        """The ``backtest`` object of ``/backtests/read``."""
        body = {"projectId": project_id, "backtestId": backtest_id}
        backtest: dict[str, Any] = self.ok("/backtests/read", body)["backtest"]
        return backtest

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def api(qc_emulator: Any) -> Iterator[Api]:
    """An :class:`Api` bound to the freshly reset session emulator."""
    caller = Api(qc_emulator)
    yield caller
    caller.close()


@pytest.fixture
def make_api() -> Callable[[Any], Api]:
    """Build an :class:`Api` for a dedicated server."""
    return Api


@pytest.fixture
def signer() -> Callable[..., dict[str, str]]:
    """The header-signing function."""
    return sign
