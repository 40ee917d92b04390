"""Helpers shared by the pipeline flow tests."""

from __future__ import annotations

from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from tasks.credentials import QuantConnectCredentials

#: Task-level retries without waiting, so fault tests stay fast.
FAST = {"task_retries": 2, "retry_delay_seconds": 0}


def running(emulator: Any) -> list[dict[str, Any]]:
    """The emulator's backtests that have not finished."""
    return [b for b in emulator.backtests()
            if not str(b.get("status", "")).startswith(("Completed", "Runtime Error"))]


async def artifacts_of(flow_run_id: str) -> list[Any]:
    """Every artifact of a flow run."""
    async with get_client() as client:
        return list(await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        ))


async def artifact_markdown(flow_run_id: str, key: str = "quantconnect-backtest-report") -> str:
    """The run's markdown artifact of this key."""
    [artifact] = [a for a in await artifacts_of(flow_run_id) if a.key == key]
    return str(artifact.data)


def strategy_folder(tmp_path: Any, main: str, name: str = "my_strategy") -> str:
    """A strategy folder holding only this main.py."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "main.py").write_text(main)
    return str(folder)


INIT_RAISES = '''
from AlgorithmImports import QCAlgorithm


class Broken(QCAlgorithm):
    def initialize(self):
        self.set_cash(100000)
        raise ValueError("no data for this symbol")
'''


def paths(emulator: Any, *wanted: str) -> list[str]:
    """The API paths called, in order, keeping only those asked about."""
    return [r["path"].split("/api/v2")[-1] for r in emulator.requests_log()
            if r["path"].endswith(wanted)]


async def existing_project(emulator: Any, credentials: QuantConnectCredentials) -> int:
    """A project of the user's own, holding the Python example."""
    from flows.backtests.strategy_folder import load_strategy

    client = credentials.get_client()
    project = client.projects.create("My strategies/SMA", "Py")
    main = load_strategy("strategies/sma_crossover_py").files[0]
    client.files.update(project.project_id, main.name, main.content)
    return int(project.project_id)
