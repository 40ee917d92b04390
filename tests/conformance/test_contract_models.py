"""The strict models themselves: they must refuse what the contract refuses.

Samples here are written by hand from the contract (backtests §3 and the tables it cites), not
taken from the emulator, so these tests show that a conformance case *can* fail and on what.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conformance.contract import (
    STATISTICS_KEYS,
    Account,
    BacktestCompletedStatisticsPending,
    BacktestCreated,
    BacktestSettled,
    BacktestSummary,
    ChartAnswer,
    Failure,
    LeanVersion,
    Ok,
    Orders,
    ProjectFile,
    backtest_list,
)

PERFORMANCE: dict[str, Any] = {
    "tradeStatistics": {
        "startDateTime": "2024-01-02T14:31:00Z", "endDateTime": "2024-06-28 20:00:00",
        "totalNumberOfTrades": 2, "numberOfWinningTrades": 1, "numberOfLosingTrades": 1,
        "totalProfitLoss": "12.5", "totalProfit": 20, "totalLoss": -7.5, "largestProfit": 20,
        "largestLoss": -7.5, "averageProfitLoss": 6.25, "averageProfit": 20, "averageLoss": -7.5,
        "averageTradeDuration": "3.00:00:00", "averageWinningTradeDuration": "1.00:00:00",
        "averageLosingTradeDuration": "5.00:00:00", "medianTradeDuration": "3.00:00:00",
        "medianWinningTradeDuration": "1.00:00:00", "medianLosingTradeDuration": "5.00:00:00",
        "maxConsecutiveWinningTrades": 1, "maxConsecutiveLosingTrades": 1,
        "profitLossRatio": 2.67, "winLossRatio": 1, "winRate": 0.5, "lossRate": 0.5,
        "averageMAE": -3, "averageMFE": 9, "largestMAE": -5, "largestMFE": 21,
        "maximumClosedTradeDrawdown": -7.5, "maximumIntraTradeDrawdown": -9,
        "profitLossStandardDeviation": 13.8, "profitLossDownsideDeviation": 5.3,
        "profitFactor": 2.67, "sharpeRatio": 0.45, "sortinoRatio": 1.2,
        "profitToMaxDrawdownRatio": 1.67, "maximumEndTradeDrawdown": -1,
        "averageEndTradeDrawdown": -0.5, "maximumDrawdownDuration": "10.00:00:00",
        "totalFees": 2,
    },
    "portfolioStatistics": {
        key: 0.1 for key in (
            "averageWinRate", "averageLossRate", "profitLossRatio", "winRate", "lossRate",
            "expectancy", "startEquity", "endEquity", "compoundingAnnualReturn", "drawdown",
            "totalNetProfit", "sharpeRatio", "probabilisticSharpeRatio", "sortinoRatio", "alpha",
            "beta", "annualStandardDeviation", "annualVariance", "informationRatio",
            "trackingError", "treynorRatio", "portfolioTurnover", "valueAtRisk99",
            "valueAtRisk95",
        )
    },
    "closedTrades": [
        {
            "symbol": {"value": "SPY", "id": "SPY R735QTJ8XC9X", "permtick": "SPY"},
            "entryTime": "2024-01-03T14:31:00Z", "entryPrice": 470.5, "direction": 0,
            "quantity": 10, "exitTime": "2024-01-04 20:00:00", "exitPrice": 472.5,
            "profitLoss": 20, "totalFees": 1, "mae": -3, "mfe": 21, "duration": "1.05:29:00",
            "endTradeDrawdown": -1,
        }
    ],
}  # fmt: skip

SETTLED: dict[str, Any] = {
    "backtestId": "26c7bb06b8487cff1c7b3c44652b30f1",
    "projectId": 23456789,
    "organizationId": "5cad178b20a1d52567b534553413b691",
    "name": "bt",
    "note": "",
    "status": "Completed.",
    "completed": True,
    "progress": 1,
    "error": None,
    "stacktrace": None,
    "hasInitializeError": False,
    "created": "2024-07-01 10:30:00",
    "backtestStart": "2024-01-02 00:00:00",
    "backtestEnd": "2024-06-28 00:00:00",
    "tradeableDates": 124,
    "parameterSet": [],
    "statistics": {
        **dict.fromkeys(STATISTICS_KEYS, "0"), "Compounding Annual Return": "8.443%",
        "Total Fees": "$110.30", "Estimated Strategy Capacity": "€1600000.00",
        "Lowest Capacity Asset": "MDB WOU3US9M42N9", "Sharpe Ratio": "0.19",
    },
    "runtimeStatistics": {
        "Equity": "$100,012.50", "Fees": "-$2.00", "Holdings": "$0.00", "Net Profit": "$-12.50",
        "Probabilistic Sharpe Ratio": "20.477%", "Return": "0.01 %", "Unrealized": "$0.00",
        "Volume": "$9,450.00",
    },
    "totalPerformance": PERFORMANCE,
    "charts": {"Strategy Equity": {"name": "Strategy Equity"}},
    "rollingWindow": {},
    "nodeName": "B2-8 node",
    "optimizationId": None,
    "snapshotId": 0,
    "researchGuide": {"minutes": 0, "backtestCount": 1, "parameters": 0},
    "outOfSampleMaxEndDate": None,
    "outOfSampleDays": 0,
}  # fmt: skip


SETTLED_RUNTIME: dict[str, str] = SETTLED["runtimeStatistics"]


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    sample = copy.deepcopy(base)
    for key, value in changes.items():
        if value is KeyError:
            sample.pop(key)
        else:
            sample[key] = value
    return sample


def test_the_hand_written_settled_backtest_is_valid():
    assert BacktestSettled.model_validate(SETTLED).backtestId == SETTLED["backtestId"]
    BacktestSettled.model_validate(_with(SETTLED, rollingWindow={"M1": PERFORMANCE}))


@pytest.mark.parametrize(
    "changes",
    [
        {"rollingWindow": []},  # a list where a map belongs (§7)
        {"charts": []},
        {"runtimeStatistics": []},
        {"statistics": []},  # completed and settled: a map
        {"statistics": KeyError},
        {"parameterSet": {}},  # `[]` when no parameters were given
        {"backtestId": KeyError},  # a required field missing
        {"progress": "1"},  # types exact
        {"completed": 1},
        {"created": "2024-07-01T10:30:00+02:00"},  # not one of the two date forms
        {"created": "2024-13-01 10:30:00"},  # not a date
        {"compileId": "a" * 32 + "-" + "b" * 32},  # a key the contract does not name
        {"note": "simulated by an emulator"},  # §7: no label in a user field
        {"statistics": dict.fromkeys(list(STATISTICS_KEYS)[:26], "0")},  # a key missing
        {"runtimeStatistics": {"Equity": "$1.00"}},  # completed: the 8 keys
        {"statistics": {**dict.fromkeys(STATISTICS_KEYS, "0"), "Total Fees": "110.30"}},
        {"runtimeStatistics": {**SETTLED_RUNTIME, "Return": "0.01%"}},  # .NET `P`: a space
    ],
    ids=lambda changes: ",".join(changes),
)
def test_a_backtest_off_the_contract_is_refused(changes):
    with pytest.raises(ValidationError):
        BacktestSettled.model_validate(_with(SETTLED, **changes))


def test_the_create_answer_stage():
    created = _with(
        SETTLED,
        status="In Queue...",
        completed=False,
        progress=0,
        statistics=KeyError,
        runtimeStatistics=None,
        totalPerformance=None,
        charts={},
    )
    BacktestCreated.model_validate(created)
    wrongs: list[dict[str, Any]] = [
        {"statistics": []},
        {"statistics": None},
        {"status": "Running: 0%"},
        {"runtimeStatistics": []},
    ]
    for wrong in wrongs:
        with pytest.raises(ValidationError):
            BacktestCreated.model_validate(_with(created, **wrong))


def test_the_statistics_pending_stage_needs_one_of_them_missing():
    BacktestCompletedStatisticsPending.model_validate(_with(SETTLED, statistics=[]))
    BacktestCompletedStatisticsPending.model_validate(_with(SETTLED, runtimeStatistics=None))
    with pytest.raises(ValidationError):
        BacktestCompletedStatisticsPending.model_validate(SETTLED)


def test_dates_follow_the_contract_per_field():
    version = {
        "id": 17109, "created": "2025-03-11 19:42:07", "description": "", "leanHash": "a",
        "leanCloudHash": "b", "name": "master", "ref": "refs/heads/master", "public": True,
    }  # fmt: skip
    LeanVersion.model_validate(version)
    with pytest.raises(ValidationError):  # §7: the plain form for LEAN version dates
        LeanVersion.model_validate(_with(version, created="2025-03-11T19:42:07.000Z"))
    with pytest.raises(ValidationError):  # [OAS]: a boolean, not 0/1
        LeanVersion.model_validate(_with(version, public=1))
    file = {
        "id": None, "projectId": 1, "name": "main.py", "content": "", "open": True,
        "isLibrary": False,
    }  # fmt: skip
    for modified in ("2024-01-02T03:04:05.678Z", "2024-01-02 03:04:05"):
        ProjectFile.model_validate(_with(file, modified=modified))


def test_envelopes():
    Ok.model_validate({"success": True, "errors": []})
    Failure.model_validate({"success": False, "errors": ["Project not found"]})
    for wrong in (
        {"success": True, "errors": ["x"]},
        {"success": False, "errors": []},
        {"success": False, "errors": [""]},
        {"success": False, "messages": ["x"]},
    ):
        with pytest.raises(ValidationError):
            (Ok if wrong["success"] else Failure).model_validate(wrong)


def test_counts_must_match_what_is_returned():
    with pytest.raises(ValidationError, match="length 74"):
        Orders.model_validate({"orders": [], "length": 74, "success": True})
    with pytest.raises(ValidationError, match="count 2"):
        backtest_list(BacktestSummary).model_validate(
            {"backtests": [], "count": 2, "success": True}
        )


def test_account_card_is_null_or_a_real_card():
    base = {"organizationId": "5cad178b20a1d52567b534553413b691", "creditBalance": 0}
    Account.model_validate({**base, "card": None, "success": True})
    real = {"brand": "Visa", "expiration": "12/27", "last4": "4242"}
    Account.model_validate({**base, "card": real, "success": True})
    Account.model_validate({**base, "card": {**real, "last4": 4242}, "success": True})
    with pytest.raises(ValidationError):  # §7: an account without a card has `card: null`
        Account.model_validate(
            {**base, "card": {"brand": "", "expiration": "12/99", "last4": ""}, "success": True}
        )


def test_a_series_is_open_a_chart_is_not():
    series = {"name": "Equity", "unit": "$", "index": 0, "seriesType": 2, "values": [[1, 2]]}
    chart = {"name": "Strategy Equity", "chartType": 1, "series": {"Equity": series}}
    ChartAnswer.model_validate({"chart": chart, "success": True})
    ChartAnswer.model_validate(
        {"chart": {**chart, "series": {"Equity": {**series, "zIndex": 0}}}, "success": True}
    )
    with pytest.raises(ValidationError):
        ChartAnswer.model_validate({"chart": {**chart, "legend": True}, "success": True})
