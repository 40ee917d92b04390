"""``/backtests/read/insights`` (and LEAN's ``/backtests/insights/read``) against the strict
contract models (more §4.1): the answer's shape, page widths, and the refusals."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.contract import Failure, Insights

PATHS = ["/backtests/read/insights", "/backtests/insights/read"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("start", "end"), [(0, 100), (0, 3), (2, 50)])
def test_backtests_read_insights(world, path, start, end):
    """A page may be 100 wide; ``length`` is the number of insights returned."""
    pid, backtest_id = world.settled()
    body = {"projectId": pid, "backtestId": backtest_id, "start": start, "end": end}
    answer = world.expect(world.call(path, body), Insights)
    assert len(answer.insights) <= end - start
    assert answer.insights, "a settled emulator backtest has simulated insights"


#: What each refused request changes in a valid one (more §4.1: ``0..200`` and unknown ids).
REFUSALS: dict[str, dict[str, Any]] = {
    "page of 200": {"end": 200},
    "unknown backtest": {"backtestId": " "},
    "unknown project": {"projectId": -1},
    "end before start": {"start": 10, "end": 5},
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_backtests_read_insights_refusals(world, case):
    pid, backtest_id = world.settled()
    body = {"projectId": pid, "backtestId": backtest_id, "start": 0, "end": 100, **REFUSALS[case]}
    world.expect(world.call("/backtests/read/insights", body), Failure)
