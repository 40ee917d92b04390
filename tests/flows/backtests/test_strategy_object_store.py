"""backtest-strategy's ``object_store`` option on real Prefect against the emulator: the data
folder is in the store before the backtest is created, the report says what was synced, nothing
is deleted unless asked, and a bad folder is refused before any request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError as FormError

from flows.backtests.forms import BacktestOptions, StrategyData
from flows.backtests.strategy import backtest_strategy
from flows.objectstore.folder import SyncFolderError
from quantconnect_client import ValidationError
from tests.flows.backtests.helpers import FAST, artifact_markdown, paths
from tests.helpers import credentials_for

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_server")]


@pytest.fixture
def store_credentials(emulator: Any) -> Any:
    return credentials_for(emulator, organization_id=emulator.organization_id)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "prices").mkdir(parents=True)
    (root / "weights.json").write_text('{"w": [0.5, 0.5]}')
    (root / "prices" / "spy.csv").write_text("date,close\n2024-01-02,470.1\n")
    return root


def options(data: Path, **extra: Any) -> BacktestOptions:
    return BacktestOptions(object_store=StrategyData(folder=str(data), prefix="sma/v1", **extra),
                           report={"chart": False}, retries=FAST)


async def test_the_data_is_in_the_store_before_the_backtest_is_created(
    emulator: Any, qc_object_store: Any, store_credentials: Any, data: Path
) -> None:
    qc_object_store.seed("sma/v1/old.csv", b"kept", organization_id=emulator.organization_id)
    report = await backtest_strategy(options=options(data), credentials=store_credentials)
    assert report.outcome == "completed"
    stored = qc_object_store.snapshot(emulator.organization_id)
    assert sorted(stored) == ["sma/v1/old.csv", "sma/v1/prices/spy.csv", "sma/v1/weights.json"]
    assert qc_object_store.content("sma/v1/weights.json", emulator.organization_id) == (
        data / "weights.json").read_bytes()
    called = paths(emulator, "/object/set", "/backtests/create", "/projects/create")
    assert called.count("/object/set") == 2
    last_upload = max(i for i, p in enumerate(called) if p == "/object/set")
    assert last_upload < called.index("/projects/create") < called.index("/backtests/create")
    assert report.object_store == "sma/v1: 2 uploaded, 0 unchanged, 0 deleted, 0 failed"
    assert report.object_store_changes == ["uploaded sma/v1/prices/spy.csv (new)",
                                           "uploaded sma/v1/weights.json (new)"]
    markdown = await artifact_markdown(str(report.flow_run_id))
    assert "## Object Store" in markdown and "- uploaded sma/v1/weights.json (new)" in markdown

    again = await backtest_strategy(options=options(data), credentials=store_credentials)
    assert again.object_store == "sma/v1: 0 uploaded, 2 unchanged, 0 deleted, 0 failed"
    assert again.object_store_changes == []
    assert paths(emulator, "/object/set").count("/object/set") == 2  # nothing sent twice


async def test_delete_missing_only_when_asked(
    emulator: Any, qc_object_store: Any, store_credentials: Any, data: Path
) -> None:
    qc_object_store.seed("sma/v1/old.csv", b"gone", organization_id=emulator.organization_id)
    report = await backtest_strategy(options=options(data, delete_missing=True),
                                     credentials=store_credentials)
    assert "sma/v1/old.csv" not in qc_object_store.snapshot(emulator.organization_id)
    assert "deleted sma/v1/old.csv (not in the folder)" in report.object_store_changes


async def test_a_bad_data_folder_makes_no_request(
    emulator: Any, store_credentials: Any, tmp_path: Path, data: Path
) -> None:
    with pytest.raises(SyncFolderError, match="does not exist or is not a folder"):
        await backtest_strategy(options=options(tmp_path / "missing"),
                                credentials=store_credentials)
    (data / "link").symlink_to("/etc/passwd")
    with pytest.raises(SyncFolderError, match="symbolic link"):
        await backtest_strategy(options=options(data), credentials=store_credentials)
    with pytest.raises(ValidationError, match="organization id"):
        await backtest_strategy(options=options(tmp_path / "data" / "prices"),
                                credentials=credentials_for(emulator))
    assert emulator.requests_log() == []
    assert emulator.projects() == []


def test_the_form_refuses_a_whole_store_delete_and_an_empty_prefix() -> None:
    with pytest.raises(FormError, match="all_keys"):
        StrategyData(folder="data", prefix="/", delete_missing=True)
    with pytest.raises(FormError):
        StrategyData(folder="data", prefix="")
    assert BacktestOptions().object_store is None
