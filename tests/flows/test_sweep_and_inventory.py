"""The sweeper and the inventory flows on real Prefect against the emulator."""

from __future__ import annotations

import time

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from flows.inventory import project_inventory
from flows.parameters import InventoryOptions, SweepOptions
from flows.sweep import sweep_temporary_projects

pytestmark = pytest.mark.anyio


TTL_MINUTES = 3 / 60  # seconds, not minutes, to keep the test short


def seed(credentials, names):
    client = credentials.get_client()
    return {name: client.projects.create(name, "Py").project_id for name in names}


async def latest_artifact(key: str):
    async with get_client() as client:
        [artifact] = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    return artifact


async def test_sweeper_removes_old_orphans_and_spares_the_rest(qc_emulator, credentials):
    old = seed(credentials, [f"prefect-tmp-old-{i}" for i in range(5)])
    keeper = seed(credentials, ["Strategies/Momentum"])
    binned = seed(credentials, ["prefect-tmp-old-binned"])
    credentials.get_client().projects.delete(binned["prefect-tmp-old-binned"])
    time.sleep(4.2)  # past the TTL for the projects made so far
    young = seed(credentials, ["prefect-tmp-young"])

    report = await sweep_temporary_projects(
        SweepOptions(ttl_minutes=TTL_MINUTES, max_concurrency=3), credentials=credentials
    )
    assert report.matched == report.deleted == 5
    assert {item.project_id for item in report.items} == set(old.values())
    live = {p["name"] for p in qc_emulator.projects() if not p["name"].startswith("Recycle Bin/")}
    assert live == {"Strategies/Momentum", "prefect-tmp-young"}
    assert keeper and young
    assert qc_emulator.stats()["peak_in_flight"] <= 3

    # With the recycle bin included, leftovers there go for good. (The narrower prefix keeps
    # the young project out of it however long the first sweep took.)
    report = await sweep_temporary_projects(
        SweepOptions(
            name_prefix="prefect-tmp-old-", ttl_minutes=TTL_MINUTES, include_recycle_bin=True
        ),
        credentials=credentials,
    )
    assert report.deleted == 6  # five just deleted + the one binned before
    names = {p["name"] for p in qc_emulator.projects()}
    assert names == {"Strategies/Momentum", "prefect-tmp-young"}
    artifact = await latest_artifact("quantconnect-sweep")
    assert "purged" in str(artifact.data)


async def test_sweeper_dry_run_changes_nothing(qc_emulator, credentials):
    seed(credentials, ["prefect-tmp-a", "prefect-tmp-b"])
    before = qc_emulator.projects()
    report = await sweep_temporary_projects(
        SweepOptions(ttl_minutes=0, dry_run=True), credentials=credentials
    )
    assert report.matched == 2 and report.deleted == 0
    assert {item.action for item in report.items} == {"would delete"}
    assert qc_emulator.projects() == before


async def test_inventory_filters_and_publishes_a_table(qc_emulator, credentials):
    seed(credentials, ["Strategies/Alpha", "Strategies/Beta", "Research/Gamma"])
    rows = await project_inventory(
        InventoryOptions(folder="Strategies", name_pattern="*a"), credentials=credentials
    )
    assert [row["name"] for row in rows] == ["Strategies/Alpha", "Strategies/Beta"]
    artifact = await latest_artifact("quantconnect-inventory")
    assert "Strategies/Alpha" in str(artifact.data)
    assert "Research/Gamma" not in str(artifact.data)
