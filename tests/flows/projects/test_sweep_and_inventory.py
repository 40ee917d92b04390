"""The sweeper and the inventory flows on real Prefect against the emulator."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from prefect.exceptions import ParameterTypeError

from flows.projects.forms import InventoryOptions, SweepOptions
from flows.projects.inventory import project_inventory
from flows.projects.lifecycle import temporary_project_lifecycle
from flows.projects.reports import LifecycleReport
from flows.projects.sweep import sweep_temporary_projects
from tests.helpers import credentials_for
from tests.reliability.conftest import report_figures

pytestmark = pytest.mark.anyio


TTL_MINUTES = 3 / 60  # seconds, not minutes, to keep the test short


def temporary(prefix: str = "prefect-tmp-") -> str:
    """A name as a temporary flow makes it, for a run Prefect does not know."""
    return f"{prefix}{uuid.uuid4()}"


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
    old = seed(credentials, [temporary() for _ in range(5)])
    renamed = seed(credentials, [temporary() + "-renamed"])
    # Not names a temporary flow makes: another prefix, or no run id where it goes.
    keeper = seed(credentials, ["Strategies/Momentum", "prefect-tmp-not-a-run-id",
                                temporary("prefect-tmp-other-")])
    [binned] = seed(credentials, [temporary()]).values()
    credentials.get_client().projects.delete(binned)
    time.sleep(6.2)  # past the TTL for the projects made so far
    [young_name] = seed(credentials, [temporary()])
    young_made = time.monotonic()

    report = await sweep_temporary_projects(
        SweepOptions(ttl_minutes=TTL_MINUTES, max_concurrency=3), credentials=credentials
    )
    assert report.matched == report.deleted == 6
    assert {item.project_id for item in report.items} == {*old.values(), *renamed.values()}
    live = {p["name"] for p in qc_emulator.projects() if not p["name"].startswith("Recycle Bin/")}
    assert live == {*keeper, young_name}
    assert qc_emulator.stats()["peak_in_flight"] <= 3

    # With the recycle bin included, leftovers there go for good. (A TTL 4 s longer than the
    # young project's age keeps it out however long the first sweep took, and however late a
    # loaded machine starts the second; the others are 6.2 s older, 5.2 s at least once the
    # service's whole-second times have rounded it.)
    young_age = time.monotonic() - young_made
    sent = len(qc_emulator.requests_log())
    report = await sweep_temporary_projects(
        SweepOptions(ttl_minutes=(young_age + 4) / 60, include_recycle_bin=True),
        credentials=credentials,
    )
    assert report.deleted == 7  # six just deleted + the one binned before
    # Listed in the bin, each takes one delete out of it (and the read that shows it gone).
    deletes = [r for r in qc_emulator.requests_log()[sent:] if r["path"] == "/projects/delete"]
    assert len(deletes) == 7
    names = {p["name"] for p in qc_emulator.projects()}
    assert names == {*keeper, young_name}
    artifact = await latest_artifact("quantconnect-sweep")
    assert "purged" in str(artifact.data)


async def test_sweeper_dry_run_changes_nothing(qc_emulator, credentials):
    seed(credentials, [temporary(), temporary()])
    before = qc_emulator.projects()
    report = await sweep_temporary_projects(
        SweepOptions(ttl_minutes=0, dry_run=True), credentials=credentials
    )
    assert report.matched == 2 and report.deleted == 0
    assert {item.action for item in report.items} == {"would delete"}
    assert qc_emulator.projects() == before


async def test_a_ttl_zero_sweep_spares_the_projects_of_running_lifecycles(qc_emulator):
    # Six lifecycles are held right after their creates; a sweep with TTL 0 runs meanwhile.
    # The holds end when the sweep is done (released), so no run moves on before the sweep
    # looks, however far apart the runs' starts are on a busy machine.
    credentials = credentials_for(qc_emulator, read_timeout=120)
    qc_emulator.set_faults(slow_response_seconds=90)
    qc_emulator.inject("slow_response", path="/projects/read", count=6)
    runs = [asyncio.ensure_future(temporary_project_lifecycle(credentials=credentials))
            for _ in range(6)]
    try:
        deadline = time.monotonic() + 60
        while qc_emulator.emulator.faults.holding < 6:  # every run is held now
            assert time.monotonic() < deadline, "the runs did not reach their held reads"
            await asyncio.sleep(0.1)
        # The client's notion of the service's time comes from `Date` headers (whole seconds):
        # let every project be a little older than that, so that TTL 0 selects all six.
        await asyncio.sleep(1.5)
        report = await sweep_temporary_projects(
            SweepOptions(ttl_minutes=0, purge=True, include_recycle_bin=True),
            credentials=credentials,
        )
    finally:
        released = qc_emulator.release_held()
        # Never left running into the next test, whatever failed above.
        ended = await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), 120)
    reports = [r for r in ended if isinstance(r, LifecycleReport)]
    assert len(reports) == 6, [r for r in ended if not isinstance(r, LifecycleReport)]

    assert released == 6  # every run was still held when the sweep had finished
    assert (report.matched, report.deleted, report.spared) == (0, 0, 6)
    assert {item.run_state for item in report.items} == {"Running"}
    assert [r.outcome for r in reports] == ["completed"] * 6
    assert qc_emulator.projects() == []  # each run removed its own
    report_figures(
        "sweeper against running runs (6 lifecycles held after their creates, TTL 0, purge)",
        [f"matched {report.matched}, removed {report.deleted}, spared {report.spared} "
         f"(runs {', '.join(sorted({str(i.run_state) for i in report.items}))}); "
         f"lifecycles completed {sum(r.outcome == 'completed' for r in reports)}/6; "
         f"projects left {len(qc_emulator.projects())}"],
    )


async def test_a_one_letter_prefix_cannot_reach_a_users_projects(qc_emulator, credentials):
    [kept] = seed(credentials, ["production-live-strategy"]).values()
    with pytest.raises(ParameterTypeError, match="name_prefix"):
        await sweep_temporary_projects(
            options={"name_prefix": "p", "ttl_minutes": 0, "purge": True},  # type: ignore[call-overload]
            credentials=credentials,
        )
    # A prefix that is a marker still matches only `<prefix><run id>` names.
    report = await sweep_temporary_projects(
        SweepOptions(name_prefix="production-", ttl_minutes=0, purge=True),
        credentials=credentials,
    )
    assert report.matched == 0
    assert [p["projectId"] for p in qc_emulator.projects()] == [kept]
    assert not [r for r in qc_emulator.requests_log() if r["path"] == "/projects/delete"]
    report_figures(
        "sweeper against a one-letter prefix (production-live-strategy in the account)",
        ["prefix 'p': refused before the run (ParameterTypeError); prefix 'production-': "
         f"matched {report.matched}; deletes sent 0; projects left "
         f"{[p['name'] for p in qc_emulator.projects()]}"],
    )


async def test_the_sweeper_deletes_an_orphans_running_backtest_before_the_project(
    qc_emulator, credentials
):
    # What a backtest flow killed outright leaves: its temporary project with a backtest that
    # still holds a node.
    qc_emulator.set_jobs(compile_seconds=0, backtest_seconds=3600)
    client = credentials.get_client()
    [project_id] = seed(credentials, [temporary()]).values()
    compile_id = client.compiles.wait(project_id, client.compiles.create(project_id).compile_id)
    client.backtests.create(project_id, compile_id.compile_id, "left running")
    assert qc_emulator.stats()["running_backtests"] == 1

    report = await sweep_temporary_projects(
        SweepOptions(ttl_minutes=0, purge=True), credentials=credentials
    )
    assert (report.deleted, report.backtests_stopped) == (1, 1)
    assert report.items[0].backtests_stopped == 1
    assert qc_emulator.stats()["running_backtests"] == 0
    assert qc_emulator.projects() == []
    paths = [r["path"] for r in qc_emulator.requests_log()]
    assert paths.index("/backtests/delete") < paths.index("/projects/delete")


async def test_inventory_filters_and_publishes_a_table(qc_emulator, credentials):
    seed(credentials, ["Strategies/Alpha", "Strategies/Beta", "Research/Gamma"])
    rows = await project_inventory(
        InventoryOptions(folder="Strategies", name_pattern="*a"), credentials=credentials
    )
    assert [row["name"] for row in rows] == ["Strategies/Alpha", "Strategies/Beta"]
    artifact = await latest_artifact("quantconnect-inventory")
    assert "Strategies/Alpha" in str(artifact.data)
    assert "Research/Gamma" not in str(artifact.data)


async def test_the_sweeper_aborts_an_orphans_running_optimization_before_the_project(
    qc_emulator, credentials
):
    # What an optimizer flow killed outright leaves: its temporary project with an optimization
    # that bills while it runs.
    qc_emulator.set_jobs(compile_seconds=0, backtest_seconds=3600)
    client = credentials.get_client()
    [project_id] = seed(credentials, [temporary()]).values()
    compile_id = client.compiles.wait(project_id, client.compiles.create(project_id).compile_id)
    started = client.optimizations.create(
        project_id, compile_id.compile_id, "left running",
        [{"name": "fast", "min": 5, "max": 10, "step": 5}], parallel_nodes=2,
    )
    assert not client.optimizations.read(started.optimization_id).finished

    report = await sweep_temporary_projects(
        SweepOptions(ttl_minutes=0, purge=True), credentials=credentials
    )
    assert (report.deleted, report.optimizations_aborted) == (1, 1)
    assert report.items[0].optimizations_aborted == 1
    assert qc_emulator.projects() == []
    paths = [r["path"] for r in qc_emulator.requests_log()]
    assert paths.index("/optimizations/abort") < paths.index("/projects/delete")


async def test_a_project_whose_optimizations_cannot_be_checked_is_kept_for_the_next_sweep(
    qc_emulator, credentials
):
    # Removing the project would leave nothing to find its optimization by: it stays, failed.
    qc_emulator.set_jobs(compile_seconds=0, backtest_seconds=3600)
    client = credentials.get_client()
    kept, other = seed(credentials, [temporary(), temporary()]).values()
    compile_id = client.compiles.wait(kept, client.compiles.create(kept).compile_id)
    client.optimizations.create(kept, compile_id.compile_id, "left running",
                                [{"name": "fast", "min": 5, "max": 10, "step": 5}],
                                parallel_nodes=2)
    qc_emulator.inject("http_500_empty", path="/optimizations/list", count=50)
    state = await sweep_temporary_projects(
        SweepOptions(ttl_minutes=0, purge=True, max_concurrency=1,
                     retries={"task_retries": 0, "retry_delay_seconds": 0}),
        credentials=credentials, return_state=True,
    )
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, RuntimeError) and "deletes failed" in str(error)
    assert {p["projectId"] for p in qc_emulator.projects()} == {kept, other}
    assert not [r for r in qc_emulator.requests_log() if r["path"] == "/projects/delete"]
