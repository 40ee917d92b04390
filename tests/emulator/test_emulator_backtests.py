"""``/backtests/*`` over HTTP (contract §3): lifecycle, results' shape, nodes, errors, faults."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from quantconnect_emulator import FaultKind

BACKTEST_ID = re.compile(r"^[0-9a-f]{32}$")
STATISTICS = {
    # key -> LEAN's format (contract §3 table)
    "Total Orders": r"\d+",
    "Average Win": r"-?\d+\.\d{2}%",
    "Average Loss": r"-?\d+\.\d{2}%",
    "Compounding Annual Return": r"-?\d+\.\d{3}%",
    "Drawdown": r"\d+\.\d{3}%",
    "Expectancy": r"-?\d+(\.\d{1,3})?",
    "Start Equity": r"\d+(\.\d{1,2})?",
    "End Equity": r"\d+(\.\d{1,2})?",
    "Net Profit": r"-?\d+\.\d{3}%",
    "Sharpe Ratio": r"-?\d+(\.\d{1,3})?",
    "Sortino Ratio": r"-?\d+(\.\d{1,3})?",
    "Probabilistic Sharpe Ratio": r"\d+\.\d{3}%",
    "Loss Rate": r"\d+%",
    "Win Rate": r"\d+%",
    "Profit-Loss Ratio": r"\d+(\.\d{1,2})?",
    "Alpha": r"-?\d+(\.\d{1,3})?",
    "Beta": r"-?\d+(\.\d{1,3})?",
    "Annual Standard Deviation": r"\d+(\.\d{1,3})?",
    "Annual Variance": r"\d+(\.\d{1,3})?",
    "Information Ratio": r"-?\d+(\.\d{1,3})?",
    "Tracking Error": r"\d+(\.\d{1,3})?",
    "Treynor Ratio": r"-?\d+(\.\d{1,3})?",
    "Total Fees": r"\$\d+\.\d{2}",
    "Estimated Strategy Capacity": r"\$\d+\.\d{2}",
    "Lowest Capacity Asset": r"(SPY R735QTJ8XC9X)?",
    "Portfolio Turnover": r"\d+\.\d{2}%",
    "Drawdown Recovery": r"\d+",
}
MONEY = r"\$-?\d{1,3}(,\d{3})*\.\d{2}"
RUNTIME = {
    "Equity": MONEY,
    "Fees": r"-\$\d{1,3}(,\d{3})*\.\d{2}",
    "Holdings": MONEY,
    "Net Profit": MONEY,
    "Probabilistic Sharpe Ratio": r"\d+\.\d{3}%",
    "Return": r"-?\d+\.\d{2} %",
    "Unrealized": MONEY,
    "Volume": MONEY,
}
BACKTEST_KEYS = {
    "backtestId", "projectId", "organizationId", "name", "note", "status", "completed",
    "progress", "error", "stacktrace", "hasInitializeError", "created", "backtestStart",
    "backtestEnd", "tradeableDates", "parameterSet", "statistics", "runtimeStatistics",
    "totalPerformance", "charts", "rollingWindow", "nodeName", "optimizationId", "snapshotId",
    "researchGuide", "outOfSampleMaxEndDate", "outOfSampleDays", "serverStatistics",
}  # fmt: skip
PORTFOLIO_KEYS = {
    "averageWinRate", "averageLossRate", "profitLossRatio", "winRate", "lossRate", "expectancy",
    "startEquity", "endEquity", "compoundingAnnualReturn", "drawdown", "totalNetProfit",
    "sharpeRatio", "probabilisticSharpeRatio", "sortinoRatio", "alpha", "beta",
    "annualStandardDeviation", "annualVariance", "informationRatio", "trackingError",
    "treynorRatio", "portfolioTurnover", "valueAtRisk99", "valueAtRisk95", "drawdownRecovery",
}  # fmt: skip
LONG = 1_000.0  # seconds: long enough that the wall clock never moves a test's backtest on


def _ready(api, language: str = "Py", name: str = "Strategy") -> tuple[int, str]:
    pid = api.create_project(name, language)["projectId"]
    return pid, api.compile(pid)["compileId"]


def _ids(api, pid: int) -> list[str]:
    listed = api.ok("/backtests/list", {"projectId": pid})
    return [b["backtestId"] for b in listed["backtests"]]


def _matches(patterns: dict[str, str], values: dict[str, Any]) -> list[str]:
    return [k for k, p in patterns.items() if not re.fullmatch(p, values[k])]


# ------------------------------------------------------------------- life cycle


@pytest.mark.parametrize("language", ["Py", "C#"])
def test_a_backtest_runs_completes_and_settles_in_stages(api, qc_emulator, language):
    qc_emulator.set_jobs(backtest_seconds=LONG, total_performance_lag_seconds=30)
    pid, compile_id = _ready(api, language)
    created = api.ok(
        "/backtests/create", {"projectId": pid, "compileId": compile_id, "backtestName": "first"}
    )
    assert created["debugging"] is False
    backtest = created["backtest"]
    # The create answer: a just-created backtest, queued; a map or nothing where maps belong.
    assert set(backtest) >= BACKTEST_KEYS - {"statistics"} and "statistics" not in backtest
    assert BACKTEST_ID.match(backtest["backtestId"])
    assert (backtest["status"], backtest["progress"], backtest["completed"]) == (
        "In Queue...", 0, False
    )
    assert backtest["runtimeStatistics"] is None
    assert backtest["charts"] == {} and backtest["rollingWindow"] == {}
    assert (backtest["projectId"], backtest["name"]) == (pid, "first")
    assert backtest["organizationId"] == qc_emulator.organization_id
    assert backtest["parameterSet"] == []  # the service's empty map
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", backtest["created"])  # the plain form
    assert _ids(api, pid) == [backtest["backtestId"]]  # listed at once

    qc_emulator.advance(LONG * 0.42)
    running = api.read_backtest(pid, backtest["backtestId"])
    assert re.fullmatch(r"Running: \d{1,2}%", running["status"])
    assert 0.4 <= running["progress"] < 0.5 and running["completed"] is False
    assert running["statistics"]["Total Orders"] == "0"  # placeholders while running
    assert set(running["statistics"]) == set(STATISTICS)
    assert running["rollingWindow"] == {} and "Portfolio Margin" in running["charts"]
    assert running["totalPerformance"] is None and running["error"] is None

    qc_emulator.advance(LONG * 0.6)  # completed 20 s ago: totalPerformance not yet in
    done = api.read_backtest(pid, backtest["backtestId"])
    assert (done["status"], done["completed"], done["progress"]) == ("Completed.", True, 1)
    assert list(done["statistics"]) == list(STATISTICS)
    assert _matches(STATISTICS, done["statistics"]) == []
    assert list(done["runtimeStatistics"]) == sorted(RUNTIME)
    assert _matches(RUNTIME, done["runtimeStatistics"]) == []
    assert done["totalPerformance"] is None  # settles a configurable moment later
    assert done["rollingWindow"] == {}

    qc_emulator.advance(11)
    settled = api.read_backtest(pid, backtest["backtestId"])
    performance = settled["totalPerformance"]
    assert set(performance) == {"tradeStatistics", "portfolioStatistics", "closedTrades"}
    assert len(performance["tradeStatistics"]) == 41
    assert {"startDateTime", "totalNumberOfTrades", "profitFactor", "totalFees"} <= set(
        performance["tradeStatistics"]
    )
    portfolio = performance["portfolioStatistics"]
    assert set(portfolio) == PORTFOLIO_KEYS
    assert portfolio["startEquity"] == 100000 and 0 <= portfolio["drawdown"] < 1
    trade = performance["closedTrades"][0]
    assert {"symbol", "entryTime", "entryPrice", "direction", "quantity", "exitTime",
            "exitPrice", "profitLoss", "totalFees", "mae", "mfe", "duration",
            "endTradeDrawdown"} == set(trade)  # fmt: skip
    assert int(settled["statistics"]["Total Orders"]) == 2 * len(performance["closedTrades"])


# ------------------------------------------- shapes before, during and after a run (§7)


def test_a_just_created_backtest_answers_in_queue_even_on_a_free_node(api, qc_emulator):
    qc_emulator.set_jobs(backtest_nodes=2, backtest_seconds=LONG)
    pid, compile_id = _ready(api)
    created = api.backtest(pid, compile_id)
    assert (created["status"], created["progress"], created["nodeName"]) == ("In Queue...", 0, None)
    (snapshot,) = qc_emulator.backtests()
    assert snapshot["started_at"] is not None  # it has its node: reads show it running
    read = api.read_backtest(pid, created["backtestId"])
    assert read["status"] == "Running: 0%" and isinstance(read["runtimeStatistics"], dict)


@pytest.mark.parametrize("queued_statistics", ["list", "absent"])
def test_a_backtest_waiting_for_a_node_has_maps_or_nothing(api, qc_emulator, queued_statistics):
    qc_emulator.set_jobs(backtest_nodes=1, backtest_seconds=LONG,
                         queued_statistics=queued_statistics)  # fmt: skip
    pid, compile_id = _ready(api)
    api.backtest(pid, compile_id, "holds the node")
    created = api.backtest(pid, compile_id, "waits")
    assert "statistics" not in created  # never [] on the create answer
    for read in (created, api.read_backtest(pid, created["backtestId"])):
        assert (read["status"], read["progress"], read["completed"]) == ("In Queue...", 0, False)
        assert read["runtimeStatistics"] is None  # null before it runs, never []
        assert read["charts"] == {} and read["rollingWindow"] == {}
    if queued_statistics == "list":
        assert read["statistics"] == []  # seen on the service while queued
    else:
        assert "statistics" not in read


def test_running_statistics_may_be_an_empty_list(api, qc_emulator):
    qc_emulator.set_jobs(backtest_seconds=LONG, running_statistics="list")
    pid, compile_id = _ready(api)
    created = api.backtest(pid, compile_id)
    qc_emulator.advance(LONG / 2)
    running = api.read_backtest(pid, created["backtestId"])
    assert running["status"].startswith("Running") and running["statistics"] == []
    assert set(running["runtimeStatistics"]) == set(RUNTIME)
    qc_emulator.advance(LONG)
    assert set(api.read_backtest(pid, created["backtestId"])["statistics"]) == set(STATISTICS)


@pytest.mark.parametrize("missing", ["both", "statistics", "runtime_statistics"])
def test_completed_before_its_statistics_are_in(api, qc_emulator, missing):
    qc_emulator.set_jobs(backtest_seconds=10, results_lag_seconds=30, results_lag_missing=missing,
                         total_performance_lag_seconds=5)  # fmt: skip
    pid, compile_id = _ready(api)
    backtest_id = api.backtest(pid, compile_id)["backtestId"]
    qc_emulator.advance(11)
    early = api.read_backtest(pid, backtest_id)
    assert (early["completed"], early["status"], early["progress"]) == (True, "Completed.", 1)
    if missing in ("both", "statistics"):
        assert early["statistics"] == []
    else:
        assert set(early["statistics"]) == set(STATISTICS)
    if missing in ("both", "runtime_statistics"):
        assert early["runtimeStatistics"] is None
    else:
        assert set(early["runtimeStatistics"]) == set(RUNTIME)
    assert early["totalPerformance"] is None and early["rollingWindow"] == {}
    qc_emulator.advance(30)
    late = api.read_backtest(pid, backtest_id)
    assert set(late["statistics"]) == set(STATISTICS) and set(late["runtimeStatistics"]) == set(
        RUNTIME
    )
    assert late["totalPerformance"] is None  # and then the configured lag for it
    qc_emulator.advance(5)
    assert api.read_backtest(pid, backtest_id)["totalPerformance"] is not None
    (snapshot,) = qc_emulator.backtests()
    assert snapshot["finished_at"] == pytest.approx(snapshot["started_at"] + 10)
    assert snapshot["completed_at"] == pytest.approx(snapshot["finished_at"] + 30)
    assert snapshot["settled_at"] == pytest.approx(snapshot["completed_at"] + 5)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_form_encoded_parameters_are_bound(api, qc_emulator):
    pid, compile_id = _ready(api)
    form = (f"projectId={pid}&compileId={compile_id}&backtestName=form"
            "&parameters[fast]=10&parameters[slow]=30")  # fmt: skip
    answer = api.call("/backtests/create", data=form, headers={**api.headers(), **FORM}).json()
    assert answer["success"] is True, answer
    assert answer["backtest"]["parameterSet"] == {"fast": "10", "slow": "30"}
    as_json = api.backtest(pid, compile_id, "json", parameters={"fast": 10, "slow": 30})
    qc_emulator.advance(60)
    by_form = api.read_backtest(pid, answer["backtest"]["backtestId"])
    by_json = api.read_backtest(pid, as_json["backtestId"])
    assert by_form["statistics"] == by_json["statistics"]  # the same text as LEAN sees it


@pytest.mark.parametrize(
    "fields",
    ["parameters[]=1", "parameters[a][b]=1", "parameters=%7B%22a%22%3A1%7D&parameters[b]=2"],
    ids=["no-name", "nested", "both-ways"],
)
def test_form_parameters_that_cannot_be_bound_are_refused(api, qc_emulator, fields):
    pid, compile_id = _ready(api)
    form = f"projectId={pid}&compileId={compile_id}&backtestName=form&{fields}"
    answer = api.call("/backtests/create", data=form, headers={**api.headers(), **FORM}).json()
    assert answer["success"] is False and "arameter" in answer["errors"][0]
    assert _ids(api, pid) == []  # refused, not run without them


LABEL = "simulated by quantconnect_emulator; not LEAN results"


def test_results_are_labelled_simulated_outside_the_users_fields(api, qc_emulator):
    pid, compile_id = _ready(api)
    backtest = api.backtest(pid, compile_id)
    assert backtest["serverStatistics"]["Note"] == LABEL
    assert backtest["note"] == ""  # the user's note: empty until the user writes one
    qc_emulator.advance(60)
    read = api.read_backtest(pid, backtest["backtestId"])
    assert (read["note"], read["serverStatistics"]["Note"]) == ("", LABEL)
    (listed,) = api.ok("/backtests/list", {"projectId": pid})["backtests"]
    assert listed["tags"] == []  # a new backtest carries no tags
    assert "note" not in listed  # a summary has none (OpenAPI BacktestSummaryResult)
    (snapshot,) = qc_emulator.backtests()  # the emulator's own listing says it
    assert snapshot["simulated"] == LABEL
    ids = {"projectId": pid, "backtestId": backtest["backtestId"]}
    orders = api.ok("/backtests/orders/read", {**ids, "start": 0, "end": 100})["orders"]
    assert {order["tag"] for order in orders} == {""}  # the algorithm's tag: none was set
    api.ok("/backtests/update", {**ids, "note": "mine"})
    assert api.read_backtest(pid, backtest["backtestId"])["note"] == "mine"
    api.ok("/backtests/update", {**ids, "note": ""})
    assert api.read_backtest(pid, backtest["backtestId"])["note"] == ""  # empty reads back empty


def test_results_are_a_function_of_files_and_parameters(api, qc_emulator):
    pid, compile_id = _ready(api)
    runs = [
        api.backtest(pid, compile_id, "a", parameters={"fast": 10, "ratio": 0.5, "mode": "x"}),
        api.backtest(pid, compile_id, "b", parameters={"fast": 10, "ratio": 0.5, "mode": "x"}),
        api.backtest(pid, compile_id, "c", parameters={"fast": 11, "ratio": 0.5, "mode": "x"}),
    ]
    qc_emulator.advance(60)
    stats = [api.read_backtest(pid, r["backtestId"])["statistics"] for r in runs]
    assert stats[0] == stats[1] and stats[0] != stats[2]
    assert api.read_backtest(pid, runs[0]["backtestId"])["parameterSet"] == {
        "fast": 10, "ratio": 0.5, "mode": "x"
    }  # fmt: skip
    main = api.ok("/files/read", {"projectId": pid, "name": "main.py"})["files"][0]["content"]
    api.put_file(pid, "main.py", main + "\n# a change\n")
    other = api.backtest(pid, api.compile(pid)["compileId"], "d",
                         parameters={"fast": 10, "ratio": 0.5, "mode": "x"})  # fmt: skip
    qc_emulator.advance(60)
    assert api.read_backtest(pid, other["backtestId"])["statistics"] != stats[0]


def test_literal_dates_and_cash_set_the_simulated_period(api, qc_emulator):
    pid = api.create_project("Period")["projectId"]
    main = api.ok("/files/read", {"projectId": pid, "name": "main.py"})["files"][0]["content"]
    main = main.replace("self.set_cash(100000)", "self.set_cash(25000)\n        "
                        "self.set_end_date(2024, 3, 29)")  # fmt: skip
    api.put_file(pid, "main.py", main)
    backtest = api.backtest(pid, api.compile(pid)["compileId"])
    assert backtest["backtestStart"].startswith("2024-01-01")
    assert backtest["backtestEnd"].startswith("2024-03-29")
    assert backtest["tradeableDates"] == 65  # weekdays from Jan 1 to Mar 29, 2024
    qc_emulator.advance(60)
    assert api.read_backtest(pid, backtest["backtestId"])["statistics"]["Start Equity"] == "25000"


def _every_read_answers(api, pid: int, backtest_id: str) -> dict[str, Any]:
    """Read the backtest through every path (none may answer HTTP 500); return the read."""
    ids = {"projectId": pid, "backtestId": backtest_id}
    api.ok("/backtests/list", {"projectId": pid, "includeStatistics": True})
    api.ok("/backtests/orders/read", {**ids, "start": 0, "end": 100})
    api.ok("/backtests/chart/read", {**ids, "name": "Strategy Equity", "count": 100})
    read: dict[str, Any] = api.read_backtest(pid, backtest_id)
    return read


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("self.set_start_date(99999999999999999999, 1, 1)",
         "TypeError: No method matches given arguments for SetStartDate"),
        ("self.set_cash(1e400)",
         "OverflowException: Value was either too large or too small for a Decimal."),
        ("self.set_cash(10 ** 40 if False else 100000000000000000000000000000000000)",
         None),  # not a literal call argument: nothing is known before running it
        ("self.set_cash(" + "-" * 2000 + "1)",
         None),  # valid Python (an even number of minus signs): cash 1, no recursion error
        ("self.set_end_date(9999, 12, 31)",
         "ArgumentException: Date Invalid: The added or subtracted value results in an "
         "un-representable DateTime."),
        ("self.set_start_date(9999, 12, 31)",
         "ArgumentException: Date Invalid: Please select start date less than today"),
        ("self.set_start_date(1899, 12, 31)",
         "ArgumentException: Date Invalid: Please select a start date after January 1st, 1900."),
        ("self.set_start_date(2024, 2, 30)",
         "ArgumentException: Date Invalid: Year, Month, and Day parameters describe an "
         "un-representable DateTime."),
    ],
    ids=["year-overflow", "cash-1e400", "cash-expression", "cash-2000-minus", "end-9999-12-31",
         "start-future",
         "start-1899", "start-feb-30"],
)  # fmt: skip
def test_literals_lean_refuses_fail_initialization_not_the_emulator(api, qc_emulator, line, error):
    pid = api.create_project("Overflow")["projectId"]
    main = api.ok("/files/read", {"projectId": pid, "name": "main.py"})["files"][0]["content"]
    api.put_file(pid, "main.py", main.replace("self.set_cash(100000)", line))
    built = api.compile(pid)
    assert built["state"] == "BuildSuccess"  # it parses: LEAN refuses it when it runs
    backtest = api.backtest(pid, built["compileId"])
    qc_emulator.advance(60)
    read = _every_read_answers(api, pid, backtest["backtestId"])
    if error is None:
        assert read["status"] == "Completed." and read["error"] is None
        return
    assert read["status"] == "Runtime Error" and read["hasInitializeError"] is True
    prefix = "During the algorithm initialization, the following exception has occurred: "
    assert read["error"].startswith(prefix + error), read["error"]
    assert "in main.py: line 10" in read["stacktrace"]  # the replaced set_cash line


def test_an_end_date_after_yesterday_is_moved_to_yesterday(api, qc_emulator):
    pid = api.create_project("Far End")["projectId"]
    main = api.ok("/files/read", {"projectId": pid, "name": "main.py"})["files"][0]["content"]
    far = main.replace("self.set_cash(100000)", "self.set_end_date(9999, 12, 30)")
    api.put_file(pid, "main.py", far)
    backtest = api.backtest(pid, api.compile(pid)["compileId"])
    qc_emulator.advance(60)
    read = _every_read_answers(api, pid, backtest["backtestId"])
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")
    assert read["status"] == "Completed." and read["backtestEnd"].startswith(yesterday)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("SetStartDate(2024, 1, 1);", "SetStartDate(99999999999999999999, 1, 1);",
         "Line 15 Column 26 - Integral constant is too large"),
        ("SetCash(100000);", "SetCash(1e400);",
         "Line 16 Column 21 - Floating-point constant is outside the range of type 'double'"),
        ("SetCash(100000);", "SetCash(1e40m);",
         "Floating-point constant is outside the range of type 'decimal'"),
        ("SetStartDate(2024, 1, 1);", "SetStartDate(3000000000, 1, 1);",
         "Line 15 Column 1 - Argument 1: cannot convert from 'long' to 'int'"),
    ],
    ids=["int-overflow", "double-overflow", "decimal-overflow", "long-for-int"],
)  # fmt: skip
def test_csharp_literals_that_do_not_fit_are_build_errors(api, qc_emulator, old, new, message):
    pid = api.create_project("Sharp Overflow", "C#")["projectId"]
    main = api.ok("/files/read", {"projectId": pid, "name": "Main.cs"})["files"][0]["content"]
    api.put_file(pid, "Main.cs", main.replace(old, new))
    built = api.compile(pid)
    assert built["state"] == "BuildError"
    (log,) = built["logs"]
    assert log.startswith("error: Main.cs Line ") and log.endswith(message), log


@pytest.mark.parametrize(
    ("cash", "error"),
    [
        ("79228162514264337593543950335m", None),  # exactly decimal.MaxValue: valid C#
        ("1e300", "OverflowException: Value was either too large or too small for a Decimal."),
        ("2.5e5", None),
    ],
    ids=["decimal-max", "double-beyond-decimal", "double-in-range"],
)
def test_csharp_cash_literals_as_lean_converts_them(api, qc_emulator, cash, error):
    pid = api.create_project("Sharp Cash", "C#")["projectId"]
    main = api.ok("/files/read", {"projectId": pid, "name": "Main.cs"})["files"][0]["content"]
    api.put_file(pid, "Main.cs", main.replace("SetCash(100000);", f"SetCash({cash});"))
    built = api.compile(pid)
    assert built["state"] == "BuildSuccess", built["logs"]
    backtest = api.backtest(pid, built["compileId"])
    qc_emulator.advance(60)
    read = _every_read_answers(api, pid, backtest["backtestId"])
    if error is None:
        assert read["status"] == "Completed." and read["error"] is None
        if cash == "2.5e5":
            assert read["statistics"]["Start Equity"] == "250000"
        return
    assert read["status"] == "Runtime Error" and read["hasInitializeError"] is True
    assert error in read["error"], read["error"]


def test_csharp_end_date_9999_12_31_fails_initialization(api, qc_emulator):
    pid = api.create_project("Sharp End", "C#")["projectId"]
    main = api.ok("/files/read", {"projectId": pid, "name": "Main.cs"})["files"][0]["content"]
    api.put_file(pid, "Main.cs", main.replace("SetCash(100000);", "SetEndDate(9999, 12, 31);"))
    built = api.compile(pid)
    assert built["state"] == "BuildSuccess"
    backtest = api.backtest(pid, built["compileId"])
    qc_emulator.advance(60)
    read = _every_read_answers(api, pid, backtest["backtestId"])
    assert read["hasInitializeError"] is True and "Date Invalid: The added" in read["error"]


def test_parameters_count_as_the_text_lean_sees(api, qc_emulator):
    pid, compile_id = _ready(api)

    def statistics(value: Any) -> dict[str, str]:
        made = api.backtest(pid, compile_id, f"fast={value!r}", parameters={"fast": value})
        qc_emulator.advance(60)
        read = api.read_backtest(pid, made["backtestId"])
        assert read["parameterSet"] == {"fast": value}  # as given
        return dict(read["statistics"])

    ten = statistics(10)
    assert statistics(10.0) == ten and statistics("10") == ten  # LEAN reads "10" each time
    assert statistics("10.0") != ten  # other text
    assert statistics(0.5) == statistics("0.5") != ten


@pytest.mark.parametrize(
    "parameters",
    [{"nested": {"a": 1}}, {"list": [1, 2]}, {"flag": True}, ["fast", 1], "not json"],
    ids=["nested", "list", "bool", "not-an-object", "text"],
)
def test_parameters_other_than_strings_and_numbers_are_refused(api, qc_emulator, parameters):
    pid, compile_id = _ready(api)
    body = {"projectId": pid, "compileId": compile_id, "backtestName": "x",
            "parameters": parameters}  # fmt: skip
    assert "arameter" in api.fail("/backtests/create", body)
    assert _ids(api, pid) == []


def test_create_needs_a_finished_successful_compile(api, qc_emulator):
    pid = api.create_project("Early")["projectId"]
    queued = api.compile(pid, finish=False)["compileId"]
    body = {"projectId": pid, "compileId": queued, "backtestName": "x"}
    assert api.fail("/backtests/create", body) == "Compile id not found"
    body["compileId"] = "0" * 32 + "-" + "0" * 32
    assert api.fail("/backtests/create", body) == "Compile id not found"
    qc_emulator.force_build_error(pid)
    broken = api.compile(pid)["compileId"]
    body["compileId"] = broken
    assert "BuildError" in api.fail("/backtests/create", body)
    body["backtestName"] = " "
    assert "backtestName" in api.fail("/backtests/create", body)
    assert _ids(api, pid) == []


def test_a_finished_compile_can_stay_unknown_for_a_configured_moment(api, qc_emulator):
    qc_emulator.set_jobs(compile_not_found_seconds=5)
    pid, compile_id = _ready(api)
    body = {"projectId": pid, "compileId": compile_id, "backtestName": "early"}
    assert api.fail("/backtests/create", body) == "Compile id not found"
    qc_emulator.advance(5)
    assert api.ok("/backtests/create", body)["backtest"]["name"] == "early"


# ------------------------------------------------------------------ runtime errors


@pytest.mark.parametrize(
    ("language", "file", "old", "new"),
    [
        ("Py", "main.py", "self.set_cash(100000)",
         "self.set_cash(100000)\n        raise ValueError('no data for SPY')"),
        ("C#", "Main.cs", "SetCash(100000);",
         'SetCash(100000);\n            throw new ArgumentException("no data for SPY");'),
    ],
    ids=["python-raise", "csharp-throw"],
)  # fmt: skip
def test_a_raise_in_initialize_fails_as_an_initialization_error(
    api, qc_emulator, language, file, old, new
):
    pid = api.create_project("Init", language)["projectId"]
    text = api.ok("/files/read", {"projectId": pid, "name": file})["files"][0]["content"]
    api.put_file(pid, file, text.replace(old, new))
    compile_read = api.compile(pid)
    assert compile_read["state"] == "BuildSuccess"  # it parses; it fails when "run"
    backtest = api.backtest(pid, compile_read["compileId"])
    qc_emulator.advance(60)
    failed = api.read_backtest(pid, backtest["backtestId"])
    assert failed["status"] == "Runtime Error" and failed["hasInitializeError"] is True
    assert failed["error"].startswith(
        "During the algorithm initialization, the following exception has occurred:"
    )
    assert "no data for SPY" in failed["error"] and f"in {file}: line" in failed["stacktrace"]
    assert failed["totalPerformance"] is None
    (snap,) = qc_emulator.backtests()
    assert snap["failed_at"] is not None and snap["completed_at"] is None
    listed = api.ok("/backtests/list", {"projectId": pid})["backtests"]
    assert listed[0]["status"] == "Runtime Error"


def test_a_forced_runtime_error_stops_a_running_backtest_and_frees_its_node(api, qc_emulator):
    qc_emulator.set_jobs(backtest_nodes=1, backtest_seconds=LONG)
    pid, compile_id = _ready(api)
    first = api.backtest(pid, compile_id, "first")
    second = api.backtest(pid, compile_id, "second")
    assert api.read_backtest(pid, second["backtestId"])["status"] == "In Queue..."
    qc_emulator.advance(LONG / 4)
    qc_emulator.force_runtime_error(pid, first["backtestId"], message="Boom: division by zero")
    failed = api.read_backtest(pid, first["backtestId"])
    assert (failed["status"], failed["error"]) == ("Runtime Error", "Boom: division by zero")
    assert failed["hasInitializeError"] is False and 0.2 <= failed["progress"] <= 0.3
    assert api.read_backtest(pid, second["backtestId"])["status"].startswith("Running")


def test_a_forced_runtime_error_on_the_next_backtest_over_http(api, qc_emulator):
    pid, compile_id = _ready(api)
    answer = requests.post(
        f"{qc_emulator.control_url}/backtests/force-error",
        json={"projectId": pid, "duringInitialization": True, "message": "Setup failed"},
        timeout=5,
    ).json()
    assert answer["status"] == "armed"
    backtest = api.backtest(pid, compile_id)
    qc_emulator.advance(60)
    failed = api.read_backtest(pid, backtest["backtestId"])
    assert failed["hasInitializeError"] is True and failed["error"].endswith("Setup failed")


# ------------------------------------------------------------------------ nodes


def test_queue_mode_waits_for_a_free_node(api, qc_emulator):
    qc_emulator.set_jobs(backtest_nodes=2, node_mode="queue", backtest_seconds=100)
    pid, compile_id = _ready(api)
    runs = [api.backtest(pid, compile_id, f"b{i}")["backtestId"] for i in range(5)]
    assert _ids(api, pid) == runs  # each listed at once, queued or not
    statuses = [api.read_backtest(pid, b)["status"] for b in runs]
    assert [s.startswith("Running") for s in statuses] == [True, True, False, False, False]
    queued = api.read_backtest(pid, runs[2])
    assert (queued["status"], queued["progress"]) == ("In Queue...", 0)
    assert qc_emulator.stats()["running_backtests"] == 2
    qc_emulator.advance(150)  # b0, b1 finish at 100; b2, b3 run 100..200
    statuses = [api.read_backtest(pid, b)["status"] for b in runs]
    assert statuses[:2] == ["Completed.", "Completed."]
    assert statuses[2].startswith("Running") and statuses[4] == "In Queue..."
    qc_emulator.advance(1_000)
    assert {api.read_backtest(pid, b)["status"] for b in runs} == {"Completed."}
    assert qc_emulator.stats()["peak_running_backtests"] == 2


def test_reject_mode_refuses_when_no_node_is_free(api, qc_emulator):
    qc_emulator.set_jobs(backtest_nodes=2, node_mode="reject", backtest_seconds=100)
    pid, compile_id = _ready(api)
    api.backtest(pid, compile_id, "one")
    api.backtest(pid, compile_id, "two")
    body = {"projectId": pid, "compileId": compile_id, "backtestName": "three"}
    message = api.fail("/backtests/create", body)
    assert message.startswith("No spare nodes available") and "2 backtest node" in message
    assert len(_ids(api, pid)) == 2
    qc_emulator.advance(101)
    api.backtest(pid, compile_id, "three")
    assert qc_emulator.stats()["peak_running_backtests"] == 2


def test_deleting_a_running_backtest_stops_it_and_frees_its_node(api, qc_emulator):
    qc_emulator.set_jobs(backtest_nodes=1, backtest_seconds=LONG)
    pid, compile_id = _ready(api)
    first = api.backtest(pid, compile_id, "first")["backtestId"]
    second = api.backtest(pid, compile_id, "second")["backtestId"]
    api.ok("/backtests/delete", {"projectId": pid, "backtestId": first})
    assert "not found" in api.fail("/backtests/read", {"projectId": pid, "backtestId": first})
    assert api.read_backtest(pid, second)["status"].startswith("Running")
    assert _ids(api, pid) == [second]


@pytest.mark.parametrize("purge", [False, True], ids=["delete", "purge"])
def test_deleting_a_project_removes_its_backtests_and_frees_nodes(api, qc_emulator, purge):
    qc_emulator.set_jobs(backtest_nodes=1, backtest_seconds=LONG)
    pid, compile_id = _ready(api, name="Doomed")
    api.backtest(pid, compile_id, "holding")
    other, other_compile = _ready(api, name="Waiting")
    waiting = api.backtest(other, other_compile, "waiting")["backtestId"]
    assert api.read_backtest(other, waiting)["status"] == "In Queue..."
    api.ok("/projects/delete", {"projectId": pid})
    if purge:
        api.ok("/projects/delete", {"projectId": pid})
    assert qc_emulator.backtests()[0]["backtestId"] == waiting
    assert api.read_backtest(other, waiting)["status"].startswith("Running")
    if not purge:  # nothing new starts in the Recycle Bin
        body = {"projectId": pid, "compileId": compile_id, "backtestName": "late"}
        assert "Recycle Bin" in api.fail("/backtests/create", body)
        assert "Recycle Bin" in api.fail("/compile/create", {"projectId": pid})


def test_update_renames_and_annotates_while_running(api, qc_emulator):
    qc_emulator.set_jobs(backtest_seconds=LONG)
    pid, compile_id = _ready(api)
    backtest_id = api.backtest(pid, compile_id, "old")["backtestId"]
    body = {"projectId": pid, "backtestId": backtest_id, "name": "new", "note": "looks good"}
    api.ok("/backtests/update", body)
    read = api.read_backtest(pid, backtest_id)
    assert (read["name"], read["note"]) == ("new", "looks good")
    assert read["status"].startswith("Running")


def test_list_with_and_without_statistics(api, qc_emulator):
    pid, compile_id = _ready(api)
    api.backtest(pid, compile_id, "one", parameters={"fast": 3})
    qc_emulator.advance(60)
    plain = api.ok("/backtests/list", {"projectId": pid})
    assert plain["count"] == 1
    summary = plain["backtests"][0]
    assert {"backtestId", "status", "name", "created", "progress", "tradeableDates",
            "parameterSet", "tags"} <= set(summary)  # fmt: skip
    assert "sharpeRatio" not in summary  # unconfirmed upstream: absent without statistics
    rich = api.ok("/backtests/list", {"projectId": pid, "includeStatistics": True})["backtests"][0]
    assert isinstance(rich["sharpeRatio"], float) and isinstance(rich["trades"], int)
    assert rich["parameterSet"] == {"fast": 3}


# ------------------------------------------------------------------ charts, orders


def test_charts_are_readable_series(api, qc_emulator):
    pid, compile_id = _ready(api)
    backtest = api.backtest(pid, compile_id)
    qc_emulator.advance(60)
    read = api.read_backtest(pid, backtest["backtestId"])
    assert {"Strategy Equity", "Benchmark", "Drawdown"} <= set(read["charts"])
    body = {"projectId": pid, "backtestId": backtest["backtestId"], "name": "Strategy Equity"}
    chart = api.ok("/backtests/chart/read", body)["chart"]
    equity, returns = chart["series"]["Equity"], chart["series"]["Return"]
    assert (equity["seriesType"], equity["unit"], returns["unit"]) == (2, "$", "%")
    assert len(equity["values"]) == read["tradeableDates"]
    assert all(len(point) == 5 for point in equity["values"])
    assert equity["values"][-1][4] == pytest.approx(
        float(read["statistics"]["End Equity"]), abs=0.01
    )
    thinned = api.ok("/backtests/chart/read", {**body, "count": 10})["chart"]
    assert len(thinned["series"]["Equity"]["values"]) == 10
    first_time = equity["values"][0][0]
    window = api.ok("/backtests/chart/read", {**body, "start": first_time, "end": first_time})
    assert len(window["chart"]["series"]["Equity"]["values"]) == 1
    for name, series in (("Drawdown", "Equity Drawdown"), ("Benchmark", "Benchmark")):
        other = api.ok("/backtests/chart/read", {**body, "name": name})["chart"]
        assert other["series"][series]["values"] and len(other["series"][series]["values"][0]) == 2
    assert "not found" in api.fail("/backtests/chart/read", {**body, "name": "Nope"})


DEFAULT_CHARTS = [
    "Strategy Equity", "Benchmark", "Drawdown", "Capacity", "Exposure", "Assets Sales Volume",
    "Portfolio Turnover", "Portfolio Margin",
]  # fmt: skip
PLOTS = {
    "Py": ("main.py", 'self.debug("Purchased Stock")',
           'self.debug("Purchased Stock")\n            self.plot("SMA", "fast", 1.5)\n'
           '            self.plot("SMA", "slow", self.portfolio.total_portfolio_value)\n'
           '            self.plot("Signals", "buy", 1)\n            self.plot("Extra", 2)'),
    "C#": ("Main.cs", 'Debug("Purchased Stock");',
           'Debug("Purchased Stock");\n                Plot("SMA", "fast", 1.5m);\n'
           '                Plot("SMA", "slow", Portfolio.TotalPortfolioValue);\n'
           '                Plot("Signals", "buy", 1);\n                Plot("Extra", 2);'),
}  # fmt: skip


@pytest.mark.parametrize("language", ["Py", "C#"])
def test_charts_include_portfolio_margin_and_the_algorithms_own(api, qc_emulator, language):
    file, old, new = PLOTS[language]
    pid = api.create_project("Plots", language)["projectId"]
    text = api.ok("/files/read", {"projectId": pid, "name": file})["files"][0]["content"]
    api.put_file(pid, file, text.replace(old, new))
    backtest = api.backtest(pid, api.compile(pid)["compileId"])
    qc_emulator.advance(60)
    read = api.read_backtest(pid, backtest["backtestId"])
    # plot(series, value) draws on Strategy Equity: no chart of its own.
    assert list(read["charts"]) == [*DEFAULT_CHARTS, "SMA", "Signals"]
    assert all(read["charts"][name] == {"name": name} for name in read["charts"])
    body = {"projectId": pid, "backtestId": backtest["backtestId"], "count": 100}
    sma = api.ok("/backtests/chart/read", {**body, "name": "SMA"})["chart"]
    assert sma["name"] == "SMA" and list(sma["series"]) == ["fast", "slow"]
    assert all(len(s["values"]) == 100 and len(s["values"][0]) == 2
               for s in sma["series"].values())  # fmt: skip
    margin = api.ok("/backtests/chart/read", {**body, "name": "Portfolio Margin"})["chart"]
    assert margin["series"] and all(s["unit"] == "%" for s in margin["series"].values())
    assert "not found" in api.fail("/backtests/chart/read", {**body, "name": "Extra"})


@pytest.mark.parametrize(("language", "ticker"), [("Py", "QQQ"), ("C#", "QQQ"), ("Py", None)])
def test_the_simulation_names_the_symbol_the_algorithm_adds(api, qc_emulator, language, ticker):
    file = "main.py" if language == "Py" else "Main.cs"
    pid = api.create_project(f"Symbol {language.strip('#')} {ticker}", language)["projectId"]
    if ticker is not None:
        text = api.ok("/files/read", {"projectId": pid, "name": file})["files"][0]["content"]
        api.put_file(pid, file, text.replace('"SPY"', f'"{ticker}"'))
    expected = ticker or "SPY"
    backtest = api.backtest(pid, api.compile(pid)["compileId"])
    qc_emulator.advance(60)
    read = api.read_backtest(pid, backtest["backtestId"])
    body = {"projectId": pid, "backtestId": backtest["backtestId"], "count": 100}
    for chart in ("Portfolio Margin", "Assets Sales Volume"):
        named = api.ok("/backtests/chart/read", {**body, "name": chart})["chart"]
        assert list(named["series"]) == [expected], chart
        assert all(s["name"] == expected for s in named["series"].values())
    orders = api.ok(
        "/backtests/orders/read",
        {"projectId": pid, "backtestId": backtest["backtestId"], "start": 0, "end": 100},
    )["orders"]
    assert orders and {o["symbol"]["value"] for o in orders} == {expected}
    assert read["statistics"]["Lowest Capacity Asset"].split()[0] == expected


def test_chart_names_beyond_the_bound_are_not_recorded(api, qc_emulator):
    from quantconnect_emulator.codecheck import MAX_CHART_NAME

    long_name, at_bound = "C" * 5_000, "B" * MAX_CHART_NAME
    pid = api.create_project("Long Plot")["projectId"]
    text = api.ok("/files/read", {"projectId": pid, "name": "main.py"})["files"][0]["content"]
    plots = (
        f'self.debug("Purchased Stock")\n            self.plot("{long_name}", "s", 1)\n'
        f'            self.plot("{at_bound}", "s", 1)\n'
        f'            self.plot("Short", "{long_name}", 1)'
    )
    api.put_file(pid, "main.py", text.replace('self.debug("Purchased Stock")', plots))
    backtest = api.backtest(pid, api.compile(pid)["compileId"])
    qc_emulator.advance(60)
    read = api.read_backtest(pid, backtest["backtestId"])
    assert list(read["charts"]) == [*DEFAULT_CHARTS, at_bound]


def test_chart_read_refuses_start_after_end(api, qc_emulator):
    pid, compile_id = _ready(api)
    backtest = api.backtest(pid, compile_id)
    qc_emulator.advance(60)
    body = {"projectId": pid, "backtestId": backtest["backtestId"], "name": "Benchmark",
            "count": 100}  # fmt: skip
    first = api.ok("/backtests/chart/read", body)["chart"]["series"]["Benchmark"]["values"][0][0]
    assert "must not be after end" in api.fail(
        "/backtests/chart/read", {**body, "start": first + 1, "end": first}
    )
    same = api.ok("/backtests/chart/read", {**body, "start": first, "end": first})["chart"]
    assert len(same["series"]["Benchmark"]["values"]) == 1


def test_chart_read_answers_loading_while_the_chart_is_built(api, qc_emulator):
    qc_emulator.set_jobs(chart_loading_seconds=10)
    pid, compile_id = _ready(api)
    backtest = api.backtest(pid, compile_id)
    qc_emulator.advance(60)
    body = {"projectId": pid, "backtestId": backtest["backtestId"], "name": "Drawdown"}
    loading = api.call("/backtests/chart/read", body).json()
    assert loading["status"] == "loading" and loading["success"] is True
    assert 0 <= loading["progress"] < 1
    qc_emulator.advance(11)
    assert api.ok("/backtests/chart/read", body)["chart"]["name"] == "Drawdown"


def test_orders_are_read_in_pages_of_up_to_100(api, qc_emulator):
    pid, compile_id = _ready(api)
    backtest = api.backtest(pid, compile_id)
    qc_emulator.advance(60)
    body = {"projectId": pid, "backtestId": backtest["backtestId"]}
    first = api.ok("/backtests/orders/read", {**body, "start": 0, "end": 100})  # LEAN's default
    read = api.read_backtest(pid, backtest["backtestId"])
    total = int(read["statistics"]["Total Orders"])
    assert 0 < total < 100 and first["length"] == len(first["orders"]) == total
    order = first["orders"][0]
    assert {"id", "symbol", "price", "time", "quantity", "type", "status", "direction",
            "value"} <= set(order)  # fmt: skip
    page = api.ok("/backtests/orders/read", {**body, "start": 2, "end": 4})
    assert [o["id"] for o in page["orders"]] == [3, 4]
    assert page["length"] == 2  # the number of orders returned (OpenAPI), not the total
    assert "at most 100" in api.fail("/backtests/orders/read", {**body, "start": 0, "end": 200})
    assert "at most 100" in api.fail("/backtests/orders/read", {**body, "start": 0, "end": 101})
    assert api.fail("/backtests/orders/read", {**body, "start": 5, "end": 5})
    assert "'start'" in api.fail("/backtests/orders/read", {**body, "end": 5})


# ------------------------------------------------------------ errors and faults

PATHS = ["read", "update", "delete", "chart/read", "orders/read"]


@pytest.mark.parametrize("path", PATHS)
def test_unknown_project_or_backtest_fails_on_every_path(api, qc_emulator, path):
    pid, compile_id = _ready(api)
    backtest_id = api.backtest(pid, compile_id)["backtestId"]
    extra = {"name": "Strategy Equity", "start": 0, "end": 10}
    assert api.fail(f"/backtests/{path}", {"projectId": -1, "backtestId": backtest_id, **extra})
    assert api.fail(f"/backtests/{path}", {"projectId": pid, "backtestId": " ", **extra})
    assert api.fail("/backtests/list", {"projectId": -1})


def test_faults_apply_and_an_ambiguous_create_still_starts_one_backtest(api, qc_emulator):
    pid, compile_id = _ready(api)
    qc_emulator.inject(FaultKind.AMBIGUOUS_WRITE, path="/backtests/create")
    body = {"projectId": pid, "compileId": compile_id, "backtestName": "lost answer"}
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.call("/backtests/create", body).json()
    assert len(_ids(api, pid)) == 1  # the write happened; only its answer was lost
    qc_emulator.inject(FaultKind.HTTP_502_HTML, path="/compile/create")
    assert api.call("/compile/create", {"projectId": pid}).status_code == 502
    qc_emulator.inject(FaultKind.HTTP_429, path="/backtests/read")
    assert api.call("/backtests/read", {"projectId": pid, "backtestId": "x"}).status_code == 429
    faults = qc_emulator.stats()["faults_injected"]
    assert (faults["ambiguous_write"], faults["http_502_html"], faults["http_429"]) == (1, 1, 1)
    assert qc_emulator.stats()["store"]["compiles_created"] == 1  # the 502 was not processed


def test_backtests_snapshot_and_jobs_control(api, qc_emulator):
    qc_emulator.set_jobs(backtest_seconds=LONG)
    pid, compile_id = _ready(api)
    backtest_id = api.backtest(pid, compile_id, "snap", parameters={"x": 1})["backtestId"]
    (snap,) = qc_emulator.backtests()
    assert (snap["backtestId"], snap["stage"], snap["parameters"]) == (backtest_id, "running",
                                                                       {"x": 1})  # fmt: skip
    lag = qc_emulator.emulator.account.jobs_config.total_performance_lag_seconds
    assert snap["completed_at"] == pytest.approx(snap["started_at"] + LONG)
    assert snap["settled_at"] == pytest.approx(snap["completed_at"] + lag)
    assert snap["failed_at"] is None
    over_http = requests.get(f"{qc_emulator.control_url}/backtests", timeout=5).json()
    assert over_http["backtests"][0]["status"].startswith("Running")
    assert over_http["running_backtests"] == 1
    kinds = {j["kind"] for j in requests.get(f"{qc_emulator.control_url}/jobs", timeout=5)
             .json()["jobs"]}  # fmt: skip
    assert kinds == {"compile", "backtest"}
    finished = requests.post(f"{qc_emulator.control_url}/jobs/{backtest_id}/advance", timeout=5)
    assert finished.json()["state"] == "completed"
    assert api.read_backtest(pid, backtest_id)["status"] == "Completed."
    (after,) = qc_emulator.backtests()
    assert snap["started_at"] < after["completed_at"] <= qc_emulator.emulator.account.clock.time()
