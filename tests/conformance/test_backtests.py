"""Every stage of a backtest against the strict contract models (backtests §3, §4, §7).

Stages: just created, waiting for a node, running, completed before its statistics are in,
completed before ``totalPerformance`` is in, settled, failed at run time, failed in
``initialize``. Each stage is reached on the emulator's job clock, never by waiting.
"""

from __future__ import annotations

import pytest

from tests.conformance.conftest import LONG
from tests.conformance.contract import (
    BacktestCompleted,
    BacktestCompletedStatisticsPending,
    BacktestCreated,
    BacktestInitializeError,
    BacktestQueued,
    BacktestRunning,
    BacktestRuntimeError,
    BacktestSettled,
    Failure,
    backtest_answer,
)


@pytest.mark.parametrize(
    "parameters", [None, {"fast": 12, "label": "a"}], ids=["no-parameters", "parameters"]
)
@pytest.mark.parametrize("language", ["Py", "C#"])
def test_backtests_create(world, language, parameters):
    pid, compile_id = world.ready(language)
    body = {"projectId": pid, "compileId": compile_id, "backtestName": "created"}
    if parameters is not None:
        body["parameters"] = parameters
    answer = world.expect(world.call("/backtests/create", body), backtest_answer(BacktestCreated))
    expected = parameters if parameters is not None else []
    assert answer.backtest.parameterSet == expected
    assert answer.backtest.note in ("", None)  # §7: an unset note reads back empty


def test_backtests_create_with_form_encoded_parameters_binds_or_refuses_them(world):
    """§7: ``parameters[name]=value`` (form) is bound or refused, never dropped with success."""
    pid, compile_id = world.ready()
    form = {
        "projectId": str(pid),
        "compileId": compile_id,
        "backtestName": "form",
        "parameters[fast]": "12",
    }
    response = world.call("/backtests/create", data=form)
    if response.json().get("success") is False:
        world.expect(response, Failure)
        return
    # The point of this case first, so that a shape defect elsewhere cannot hide it.
    parameter_set = response.json()["backtest"]["parameterSet"]
    assert parameter_set not in ([], {}), "parameters[fast] was dropped, yet success:true"
    assert parameter_set == {"fast": "12"} or parameter_set == {"fast": 12}, parameter_set
    world.expect(response, backtest_answer(BacktestCreated))


@pytest.mark.parametrize("statistics", ["list", "absent"])
def test_backtests_read_in_queue(world, statistics):
    """Reads while queued may send ``statistics: []`` (configurable, §7)."""
    world.jobs(backtest_nodes=1, node_mode="queue", queued_statistics=statistics)
    pid, compile_id = world.ready()
    world.backtest(pid, compile_id, "holds the node")
    waiting = world.backtest(pid, compile_id, "waits")
    world.advance(LONG * 0.3)
    world.expect(world.read(pid, waiting), backtest_answer(BacktestQueued))


@pytest.mark.parametrize("statistics", ["placeholders", "list"])
def test_backtests_read_running(world, statistics):
    world.jobs(running_statistics=statistics)
    pid, backtest_id = world.started()
    world.advance(LONG * 0.4)
    world.expect(world.read(pid, backtest_id), backtest_answer(BacktestRunning))


@pytest.mark.parametrize("missing", ["both", "statistics", "runtime_statistics"])
def test_backtests_read_completed_before_its_statistics_are_in(world, missing):
    """§7: the stage the ``lean`` CLI guards against (``completed`` with ``statistics`` ``[]``
    or ``runtimeStatistics`` null), offered by the emulator as a configurable stage."""
    world.jobs(results_lag_seconds=30, results_lag_missing=missing)
    pid, backtest_id = world.started()
    world.advance(LONG + 10)
    world.expect(world.read(pid, backtest_id), backtest_answer(BacktestCompletedStatisticsPending))


def test_backtests_read_completed_before_total_performance_is_in(world):
    world.jobs(total_performance_lag_seconds=30)
    pid, backtest_id = world.started()
    world.advance(LONG + 10)
    answer = world.expect(world.read(pid, backtest_id), backtest_answer(BacktestCompleted))
    assert answer.backtest.totalPerformance is None


@pytest.mark.parametrize("language", ["Py", "C#"])
def test_backtests_read_settled(world, language):
    pid, backtest_id = world.started(language)
    world.advance(LONG + 60)
    world.expect(world.read(pid, backtest_id), backtest_answer(BacktestSettled))


def test_backtests_read_runtime_error(world, qc_emulator):
    pid, backtest_id = world.started()
    world.advance(LONG * 0.2)
    qc_emulator.force_runtime_error(pid, backtest_id, message="Boom: division by zero")
    world.expect(world.read(pid, backtest_id), backtest_answer(BacktestRuntimeError))


def test_backtests_read_initialize_error(world):
    pid = world.project()
    text = world.ok("/files/read", {"projectId": pid, "name": "main.py"})["files"][0]["content"]
    broken = text.replace(
        "self.set_cash(100000)", "self.set_cash(100000)\n        raise ValueError('no data')"
    )
    world.ok("/files/update", {"projectId": pid, "name": "main.py", "content": broken})
    world.jobs(backtest_seconds=LONG)
    backtest_id = world.backtest(pid, world.compiled(pid))
    world.advance(60)
    world.expect(world.read(pid, backtest_id), backtest_answer(BacktestInitializeError))
