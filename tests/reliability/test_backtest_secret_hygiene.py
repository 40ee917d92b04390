"""Secret hygiene of the backtest pipelines: after backtest-strategy and backtest-grid runs with a
distinctive token (completed, build error, runtime error, regression, a fault, a subprocess run
with DEBUG logging), the token is nowhere: not in logs, artifacts (the reports, the grid tables,
the progress artifacts), flow or task run parameters, results, exception texts, a subprocess's
output, nor the bytes of the Prefect database and Prefect home.

The scan is the project-management one (:mod:`tests.reliability.test_secret_hygiene`), imported.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import prefect.settings
import pytest

from flows.backtests.forms import BacktestOptions, GridOptions, StrategyChoice
from flows.backtests.grid import backtest_grid
from flows.backtests.strategy import backtest_strategy
from flows.common.options import RetryOptions
from quantconnect_emulator import EmulatorServer
from tests.helpers import credentials_for
from tests.reliability.backtest_soak import quick_jobs
from tests.reliability.conftest import report_figures, start_python, subprocess_env
from tests.reliability.test_secret_hygiene import (
    _all_api_records,
    _database_path,
    _exception_texts,
    _files_under,
    leaks,
)

pytestmark = pytest.mark.anyio

TOKEN = f"qc-BTSECRET-{uuid.uuid4().hex}"
BLOCK = "reliability-backtest-secret"
PREFIX = "btsecret-tmp-"
BUILD_ERROR = "def initialize(self:\n    pass\n"
INIT_RAISES = (
    "from AlgorithmImports import *\n\n\nclass Broken(QCAlgorithm):\n"
    "    def initialize(self):\n        raise ValueError('no data')\n"
)
SUBPROCESS_RUN = f"""
import asyncio
from flows.backtests.strategy import backtest_strategy
from flows.backtests.forms import BacktestOptions, StrategyChoice
report = asyncio.run(backtest_strategy(
    BacktestOptions(strategy=StrategyChoice(name_prefix="{PREFIX}")), credentials_block="{BLOCK}"))
print(report.model_dump_json())
"""


async def test_the_token_appears_nowhere_after_backtest_runs(prefect_server,
                                                            tmp_path: Path) -> None:
    outcomes: dict[str, Any] = {}
    texts: dict[str, bytes] = {}
    fast = RetryOptions(task_retries=1, retry_delay_seconds=0)
    choice = StrategyChoice(name_prefix=PREFIX)

    def folder(name: str, main: str) -> StrategyChoice:
        path = tmp_path / name
        path.mkdir()
        (path / "main.py").write_text(main)
        return StrategyChoice(strategy_folder=str(path), name_prefix=PREFIX)

    with EmulatorServer(seed=16, api_token=TOKEN) as emulator:
        quick_jobs(emulator)
        saved = credentials_for(emulator)
        await saved.asave(BLOCK, overwrite=True)
        unsaved = credentials_for(emulator)

        outcomes["backtest, saved block"] = await backtest_strategy(
            BacktestOptions(strategy=choice, parameters={"fast": 5}, retries=fast),
            credentials_block=BLOCK, return_state=True,
        )
        emulator.inject("http_502_html", path="/backtests/read", count=1)
        outcomes["backtest, block parameter, a 502 while waiting"] = await backtest_strategy(
            BacktestOptions(strategy=choice, retries=fast), credentials=unsaved,
            return_state=True,
        )
        outcomes["backtest, build error"] = await backtest_strategy(
            BacktestOptions(strategy=folder("broken_build", BUILD_ERROR), retries=fast),
            credentials=unsaved, return_state=True,
        )
        outcomes["backtest, runtime error"] = await backtest_strategy(
            BacktestOptions(strategy=folder("broken_init", INIT_RAISES), retries=fast),
            credentials=unsaved, return_state=True,
        )
        outcomes["backtest, regression"] = await backtest_strategy(
            BacktestOptions.model_validate({
                "strategy": choice.model_dump(), "retries": fast.model_dump(),
                "gate": {"thresholds": {"Sharpe Ratio": {"min": 1000}}},
            }),
            credentials=unsaved, return_state=True,
        )
        emulator.set_jobs(node_mode="reject", backtest_nodes=1)
        outcomes["grid, refusing node"] = await backtest_grid(
            GridOptions(strategy=choice, grid={"fast": [5, 10], "slow": [30]},
                        no_node_wait_seconds=0.2, retries=fast),
            credentials_block=BLOCK, return_state=True,
        )
        emulator.set_jobs(node_mode="queue", backtest_nodes=2)

        log = tmp_path / "subprocess.log"
        process = start_python(
            SUBPROCESS_RUN, subprocess_env(prefect_server, PREFECT_LOGGING_LEVEL="DEBUG"), log
        )
        assert process.wait(timeout=120) == 0, log.read_text()[-3000:]
        texts["subprocess output"] = log.read_bytes()
        assert emulator.projects(include_deleted=True) == []
        texts["emulator request log"] = json.dumps(emulator.requests_log()).encode()

    assert [name for name, state in outcomes.items() if not state.is_completed()] == [
        "backtest, build error", "backtest, runtime error", "backtest, regression",
    ]
    for name, state in outcomes.items():
        result = await state.aresult(raise_on_failure=False)
        if isinstance(result, BaseException):
            texts[f"exception: {name}"] = _exception_texts(result).encode()
        else:
            texts[f"result: {name}"] = result.model_dump_json().encode()
        texts[f"state: {name}"] = f"{state!r} {state.message}".encode()

    records = await _all_api_records()
    # The progress artifacts are among the artifacts scanned.
    assert b'"type":"progress"' in records["artifacts"].replace(b" ", b"")
    texts.update(records)
    database = _database_path()
    home = Path(str(prefect.settings.PREFECT_HOME.value()))
    files = _files_under(database.parent, home)
    database_bytes = b"".join(v for k, v in files.items() if k.startswith(str(database)))
    assert PREFIX.encode() in database_bytes, "the scan does not see these runs in the database"
    texts.update(files)

    found = {where: hits for where, blob in texts.items() if (hits := leaks(blob, TOKEN))}
    scanned = sum(len(blob) for blob in texts.values())
    report_figures(
        "backtest pipelines: secret hygiene (token searched in clear, hex, SHA-256, base64 at "
        "3 alignments)",
        [
            f"runs: {len(outcomes) + 1} ({', '.join(outcomes)}, subprocess backtest with DEBUG "
            "logging)",
            f"places scanned: {len(texts)} ({len(files)} files in the Prefect database "
            f"directory and PREFECT_HOME), {scanned / 1e6:.1f} MB",
            f"places holding the token: {len(found)}",
        ],
    )
    assert found == {}
    # The check can see the token when it is there.
    assert leaks(b"x" + TOKEN.encode(), TOKEN)
