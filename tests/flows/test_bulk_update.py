"""The bulk-update flow on real Prefect against the emulator."""

from __future__ import annotations

import pydantic
import pytest

from flows.bulk_update import bulk_update_projects
from flows.parameters import BulkUpdateOptions

pytestmark = pytest.mark.anyio


async def test_bulk_update_dry_run_then_apply(qc_emulator, credentials):
    client = credentials.get_client()
    ids = {
        name: client.projects.create(name, "Py").project_id
        for name in ("Strategies/Alpha", "Strategies/Beta", "Research/Gamma")
    }
    options = BulkUpdateOptions(
        folder="Strategies", description="Reviewed", file_name="main.py", file_content="# v2\n"
    )
    planned = await bulk_update_projects(options, credentials=credentials)
    assert [item.name for item in planned] == ["Strategies/Alpha", "Strategies/Beta"]
    assert all(item.action.startswith("would set") for item in planned)
    assert client.projects.read(ids["Strategies/Alpha"]).description in (None, "")

    applied = await bulk_update_projects(
        options.model_copy(update={"dry_run": False, "max_concurrency": 2}),
        credentials=credentials,
    )
    assert [item.action for item in applied] == ["set description, file main.py"] * 2
    for name in ("Strategies/Alpha", "Strategies/Beta"):
        assert client.projects.read(ids[name]).description == "Reviewed"
        assert client.files.read(ids[name], "main.py").content == "# v2\n"
    assert client.projects.read(ids["Research/Gamma"]).description != "Reviewed"
    assert qc_emulator.stats()["peak_in_flight"] <= 2


def test_bulk_update_needs_a_change():
    with pytest.raises(pydantic.ValidationError, match="nothing to change"):
        BulkUpdateOptions(folder="Strategies")
    with pytest.raises(pydantic.ValidationError, match="go together"):
        BulkUpdateOptions(file_name="main.py")
