"""The end-to-end harness finds its tools where a minimal ``PATH`` would not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.deployments.stack import runuser_path


def test_runuser_is_found_without_sbin_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = [p for p in ("/usr/sbin/runuser", "/sbin/runuser") if Path(p).exists()]
    if not installed:
        pytest.skip("runuser is not installed on this machine")
    monkeypatch.setenv("PATH", "/nonexistent")
    found = runuser_path()
    assert found is not None
    assert os.path.realpath(found) in {os.path.realpath(p) for p in installed}
