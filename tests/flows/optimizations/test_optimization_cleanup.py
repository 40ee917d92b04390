"""The optimizer's temporary-project clean-up step, over HTTP to the emulator."""

from __future__ import annotations

import pytest

from flows.common.temporary import KeepProjectError, remove_projects
from flows.optimizations.optimize import _before_removal
from tests.helpers import credentials_for


def test_a_project_whose_optimizations_cannot_be_checked_is_kept(qc_emulator):
    client = credentials_for(qc_emulator, max_attempts=1).get_client()
    project_id = client.projects.create("opt-keep-tmp", "Py").project_id
    qc_emulator.inject("http_500_empty", path="/optimizations/list", count=1)
    with pytest.raises(KeepProjectError, match="could not be aborted"):
        remove_projects(client, [project_id], [_before_removal])
    # Kept for the hook and the sweeper: its optimizations may still bill.
    assert [p["projectId"] for p in qc_emulator.projects()] == [project_id]
    # Once they can be checked, it goes.
    assert remove_projects(client, [project_id], [_before_removal]) == [project_id]
    assert qc_emulator.projects(include_deleted=False) == []
