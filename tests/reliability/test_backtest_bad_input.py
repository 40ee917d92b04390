"""Bad input to the backtest pipelines: each gets a specific error; what can be checked locally is
refused before any request; whatever reached the service leaves no temporary project and no
running backtest. The matrix (input, error, message, requests, what was left) is printed at the
end, and so is the deadline: a backtest still running when the run's time is up is deleted, and
the run says so."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.exceptions import ParameterTypeError

from flows.backtests.forms import MAX_GRID_SETS, GridOptions
from flows.backtests.grid import backtest_grid
from flows.backtests.pipeline import BacktestDeadlineError
from flows.backtests.strategy import backtest_strategy
from flows.backtests.strategy_folder import (
    MAX_SOURCE_FILE_BYTES,
    MAX_SOURCE_FILES,
    StrategyFolderError,
)
from quantconnect_client.errors import BacktestRuntimeError, BuildError
from tests.flows.backtests.helpers import artifact_markdown
from tests.helpers import credentials_for
from tests.reliability.backtest_soak import quick_jobs, running_backtests
from tests.reliability.conftest import report_figures, table

pytestmark = pytest.mark.anyio

PREFIX = "btbad-tmp-"
ROWS: list[tuple[str, str, str, int, str]] = []
FAST = {"task_retries": 1, "retry_delay_seconds": 0}
INIT_RAISES = """from AlgorithmImports import *


class Broken(QCAlgorithm):
    def initialize(self):
        self.set_cash(100000)
        raise ValueError("no data for this symbol")
"""
PYTHON_EXAMPLE = Path(__file__).resolve().parents[2] / "strategies" / "sma_crossover_py"


@pytest.fixture(scope="module", autouse=True)
def matrix() -> Iterator[None]:
    yield
    if not ROWS:
        return
    report_figures(
        "backtest pipelines: bad input (requests = what the service received)",
        table(("input", "error", "message", "requests", "left"), ROWS),
    )


@pytest.fixture
def emulator(qc_emulator: Any) -> Any:
    quick_jobs(qc_emulator)
    return qc_emulator


def left(emulator: Any) -> str:
    """What the run left: temporary projects and running backtests."""
    temporary = [p for p in emulator.projects(include_deleted=True)
                 if PREFIX in p["name"]]
    return f"{len(temporary)} tmp projects, {len(running_backtests(emulator))} running"


def record(label: str, error: BaseException, emulator: Any) -> None:
    # For a folder, its problems (its temporary path says nothing to the reader).
    problems = getattr(error, "problems", None)
    message = " ".join(("; ".join(problems) if problems else str(error)).split())
    ROWS.append((label, type(error).__name__, message[:70] + ("…" if len(message) > 70 else ""),
                 len(emulator.requests_log()), left(emulator)))


async def failed_run(flow: Any, **kwargs: Any) -> tuple[BaseException, str]:
    """Run a flow expecting it to fail; its exception and its flow run id."""
    state = await flow(return_state=True, **kwargs)
    assert state.is_failed(), state
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, BaseException)
    return error, str(state.state_details.flow_run_id)


async def failed(flow: Any, **kwargs: Any) -> BaseException:
    """Run a flow expecting it to fail; its exception."""
    return (await failed_run(flow, **kwargs))[0]


def _folder(tmp_path: Path, files: dict[str, bytes]) -> str:
    folder = tmp_path / "strategy"
    folder.mkdir()
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return str(folder)


MAIN = (PYTHON_EXAMPLE / "main.py").read_bytes()


def _linked_main(tmp: Path) -> str:
    """The example's main.py as a link to a copy inside the folder: left out of the upload, it
    would leave the project's template to be backtested."""
    folder = _folder(tmp, {"algorithm/sma.txt": MAIN})
    (Path(folder) / "main.py").symlink_to(Path(folder) / "algorithm" / "sma.txt")
    return folder
FOLDERS: list[tuple[str, Callable[[Path], str], str]] = [
    ("folder missing", lambda tmp: str(tmp / "nowhere"), "it does not exist"),
    ("folder empty", lambda tmp: _folder(tmp, {}), "it is empty"),
    ("no algorithm file", lambda tmp: _folder(tmp, {"algo.py": MAIN}), "no algorithm file"),
    ("file name refused (signal?s.py)",
     lambda tmp: _folder(tmp, {"main.py": MAIN, "signal?s.py": b"X = 1\n"}),
     r"unsupported special character \(\?\)"),
    ("non-UTF-8 file",
     lambda tmp: _folder(tmp, {"main.py": MAIN, "util.py": b"# caf\xe9\n"}), "not UTF-8"),
    ("file over the size limit",
     lambda tmp: _folder(tmp, {"main.py": MAIN,
                               "data.py": b"#" * (MAX_SOURCE_FILE_BYTES + 1)}),
     f"over the {MAX_SOURCE_FILE_BYTES}-byte limit"),
    ("algorithm file is a symbolic link", _linked_main,
     "main.py, the algorithm file, is a symbolic link"),
    (f"{MAX_SOURCE_FILES + 1} source files", lambda tmp: _folder(
        tmp, {"main.py": MAIN, **{f"lib/m{i}.py": b"X = 1\n" for i in range(MAX_SOURCE_FILES)}}),
     f"{MAX_SOURCE_FILES + 1} source files, more than the {MAX_SOURCE_FILES} allowed"),
]


@pytest.mark.parametrize(("label", "make", "match"), FOLDERS, ids=[f[0] for f in FOLDERS])
async def test_a_bad_strategy_folder_is_refused_before_any_request(
    emulator, prefect_server, tmp_path: Path, label: str, make: Callable[[Path], str], match: str
) -> None:
    options = {"strategy": {"strategy_folder": make(tmp_path), "name_prefix": PREFIX}}
    error = await failed(backtest_strategy, options=options, credentials=credentials_for(emulator))
    assert isinstance(error, StrategyFolderError)
    assert re.search(match, str(error)), str(error)
    record(label, error, emulator)
    assert emulator.requests_log() == []


BAD_OPTIONS: list[tuple[str, Any, dict[str, Any], str]] = [
    ("parameter is a nested object", backtest_strategy,
     {"parameters": {"fast": {"value": 5}}}, r"options\.parameters\.fast"),
    ("parameter is a list", backtest_strategy, {"parameters": {"fast": [5]}},
     r"options\.parameters\.fast"),
    ("grid empty", backtest_grid, {"grid": {}}, "at least 1 item"),
    ("grid parameter with no values", backtest_grid, {"grid": {"fast": []}},
     "at least 1 item"),
    ("grid over max_sets (60 > 50)", backtest_grid,
     {"grid": {"fast": list(range(6)), "slow": list(range(10))}}, "more than max_sets=50"),
    (f"max_sets over the form's cap ({MAX_GRID_SETS + 1})", backtest_grid,
     {"grid": {"fast": [5]}, "max_sets": MAX_GRID_SETS + 1}, "max_sets"),
    ("threshold on an unknown statistic", backtest_strategy,
     {"gate": {"thresholds": {"Sharpe Ratoi": {"min": 0.5}}}}, "Sharpe Ratoi"),
    ("threshold NaN", backtest_strategy,
     {"gate": {"thresholds": {"Drawdown": {"max": "NaN"}}}}, "finite number"),
    ("parameter NaN", backtest_strategy, {"parameters": {"fast": float("nan")}},
     "finite number"),
    ("parameter inf", backtest_strategy, {"parameters": {"fast": float("inf")}},
     "finite number"),
    ("parameter of 10,000 characters", backtest_strategy, {"parameters": {"fast": "x" * 10_000}},
     "at most 1000 characters"),
    ("parameter 10**30", backtest_strategy, {"parameters": {"fast": 10**30}},
     "less than or equal to 9223372036854775807"),
    ("10,000 parameters", backtest_strategy,
     {"parameters": {f"p{i}": 1 for i in range(10_000)}}, "at most 200 items"),
    ("backtest name with a newline", backtest_strategy, {"backtest_name": "nightly\nrun"},
     "should match pattern"),
    ("grid value 10**30", backtest_grid, {"grid": {"fast": [5, 10**30]}},
     "less than or equal to 9223372036854775807"),
    ("grid set of 201 parameters with the fixed ones", backtest_grid,
     {"grid": {"fast": [5]}, "fixed": {f"p{i}": 1 for i in range(200)}},
     "has 201 parameters; the maximum is 200"),
]


@pytest.mark.parametrize(("label", "flow", "options", "match"), BAD_OPTIONS,
                         ids=[o[0] for o in BAD_OPTIONS])
async def test_bad_options_are_refused_before_any_request(
    emulator, prefect_server, label: str, flow: Any, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(ParameterTypeError, match=match) as raised:
        await flow(options=options, credentials=credentials_for(emulator))
    record(label, raised.value, emulator)
    assert emulator.requests_log() == []


async def test_a_build_error_names_the_file_and_leaves_nothing(
    emulator, prefect_server, tmp_path: Path
) -> None:
    folder = _folder(tmp_path, {"main.py": b"def initialize(self:\n    pass\n"})
    options = {"strategy": {"strategy_folder": folder, "name_prefix": PREFIX}, "retries": FAST}
    error = await failed(backtest_strategy, options=options, credentials=credentials_for(emulator))
    assert isinstance(error, BuildError) and "main.py" in str(error)
    record("build error (syntax)", error, emulator)
    assert emulator.projects(include_deleted=True) == []
    assert emulator.stats()["store"].get("backtests_created", 0) == 0


async def test_a_runtime_error_in_initialize_leaves_nothing(
    emulator, prefect_server, tmp_path: Path
) -> None:
    folder = _folder(tmp_path, {"main.py": INIT_RAISES.encode()})
    options = {"strategy": {"strategy_folder": folder, "name_prefix": PREFIX}, "retries": FAST}
    error = await failed(backtest_strategy, options=options, credentials=credentials_for(emulator))
    assert isinstance(error, BacktestRuntimeError) and error.during_initialization
    record("runtime error in initialize", error, emulator)
    assert emulator.projects(include_deleted=True) == []
    assert emulator.stats()["running_backtests"] == 0


async def test_a_runtime_error_after_initialize_in_a_grid_fails_that_set_only(
    emulator, prefect_server
) -> None:
    """Half-way through the first set's backtest the algorithm fails: that row reports it, the
    other sets complete, the run completes, nothing is left."""
    credentials = credentials_for(emulator)
    armed: list[int] = []

    from quantconnect_emulator.resources.compiles import Compiles

    compiles = Compiles.of(emulator.emulator.account)
    original = compiles.create

    def create_then_arm(project_id: int, *args: Any, **kwargs: Any) -> Any:
        # The temporary project's id is known only once the run made it: arm its first
        # backtest to fail half-way as the compile is asked for.
        if not armed:
            armed.append(project_id)
            emulator.force_runtime_error(project_id, message="Division by zero in on_data",
                                         at_progress=0.5)
        return original(project_id, *args, **kwargs)

    compiles.create = create_then_arm  # type: ignore[method-assign]
    options = {"strategy": {"name_prefix": PREFIX}, "grid": {"fast": [5, 10], "slow": [30]},
               "retries": FAST}
    report = await backtest_grid(options=GridOptions.model_validate(options),
                                 credentials=credentials)
    failures = [row for row in report.rows if row.outcome != "completed"]
    assert len(failures) == 1 and "Division by zero in on_data" in str(failures[0].error)
    ROWS.append(("runtime error after initialize (grid set)", "BacktestRuntimeError",
                 f"row {failures[0].index}: " + str(failures[0].error)[:58] + "…",
                 len(emulator.requests_log()), left(emulator)))
    assert emulator.projects(include_deleted=True) == [] and running_backtests(emulator) == []


@pytest.mark.parametrize("which", ["backtest-strategy", "backtest-grid"])
async def test_a_backtest_running_at_the_deadline_is_deleted_and_the_run_says_so(
    emulator, prefect_server, which: str
) -> None:
    emulator.set_jobs(backtest_seconds=3600)  # on the job clock: never done by the deadline
    credentials = credentials_for(emulator)
    base = {"strategy": {"name_prefix": PREFIX}, "retries": FAST,
            "limits": {"backtest_timeout_minutes": 0.02}}
    if which == "backtest-strategy":
        error, _ = await failed_run(backtest_strategy, options=base, credentials=credentials)
        assert isinstance(error, BacktestDeadlineError)
        said = str(error)
        assert "did not finish within 0.02 min; it was deleted" in said
    else:
        error, run_id = await failed_run(
            backtest_grid, options={**base, "grid": {"fast": [5, 10]}}, credentials=credentials
        )
        assert "none of the 2 parameter sets completed" in str(error)
        # Each row says why: the deadline.
        summary = await artifact_markdown(run_id, "quantconnect-backtest-grid-summary")
        assert summary.count("no final results by the deadline") >= 2, summary
        said = f"{error}; each row: 'no final results by the deadline'"
    removals = [e["path"].rsplit("/", 2)[-2] for e in emulator.requests_log()
                if e["path"].endswith(("/backtests/delete", "/projects/delete"))]
    deletes = removals.count("backtests")
    # Deleted by the run at the deadline, before its project went (not only with it).
    assert removals[:deletes] == ["backtests"] * deletes and deletes >= 1
    assert emulator.stats()["running_backtests"] == 0
    assert emulator.projects(include_deleted=True) == []
    report_figures(
        f"backtest deadline (0.02 min; backtests of 1 h on the job clock), {which}",
        [f"run failed: {type(error).__name__}: {said[:110]}",
         f"backtests/delete requests {deletes}, all before the project's delete; "
         f"left: {left(emulator)}, 0 projects"],
    )
