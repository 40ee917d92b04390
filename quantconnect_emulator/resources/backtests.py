"""Backtests: ``/backtests/*`` — simulated, deterministic, labelled, on the account's nodes.

A backtest is a job on the account's backtest nodes (a :class:`JobBoard` with
``backtest_nodes`` slots). In ``queue`` mode a backtest without a free node
waits (``In Queue...``, progress 0) and starts when one frees; in ``reject``
mode its create answers ``success:false`` (:data:`NO_NODE`). The create answer
itself always says ``In Queue...`` (a just-created backtest, as the service's
live tests see it); reads show the job's stage. Once started it runs
``backtest_seconds`` on the emulator's clock (``Running: NN%``), then shows
``completed: true`` without its statistics for ``results_lag_seconds`` (off by
default: the stage the ``lean`` CLI guards against), then ``Completed.`` with
its statistics, and ``totalPerformance`` fills in
``total_performance_lag_seconds`` later (the service's results settle in
stages). Nothing uploaded is executed: the results come from
:mod:`quantconnect_emulator.simulate`, and a ``raise`` in ``initialize`` found by
the parse ends the backtest the way the service ends one that fails during
initialization. Deleting a backtest stops it and frees its node; deleting or
purging its project removes its backtests.

The ``Backtest`` and ``BacktestSummary`` JSON is written here, beside the
model; the results its reads show (``totalPerformance``, charts, orders, insights) in
:mod:`quantconnect_emulator.resources.backtest_results`.

Choices where the service is unconfirmed (each can be changed by config or
control): the running status text ``Running: NN%``; the no-node message; a
compile that ended in ``BuildError`` is refused with its own message (an
unknown or unfinished one gets the service's ``Compile id not found``); list
entries without ``includeStatistics`` omit the statistics keys; a project's
first delete (to the Recycle Bin) already removes its backtests, and no compile or
backtest starts on a project in the Recycle Bin.

Example:
    >>> from quantconnect_emulator.account import Account, ManualClock
    >>> from quantconnect_emulator.config import EmulatorConfig, JobsConfig
    >>> from quantconnect_emulator.resources.compiles import Compiles
    >>> from quantconnect_emulator.resources.projects import Projects
    >>> jobs = JobsConfig(compile_seconds=0, backtest_seconds=10, backtest_nodes=1)
    >>> account = Account(EmulatorConfig(seed=1, jobs=jobs), clock=ManualClock())
    >>> project = Projects.of(account).create("Demo", "Py")
    >>> build = Compiles.of(account).create(project.project_id)
    >>> backtests = Backtests.of(account)
    >>> first = backtests.create(project.project_id, build.compile_id, "one", {})
    >>> second = backtests.create(project.project_id, build.compile_id, "two", {})
    >>> backtests.status(first), backtests.status(second)
    ('Running: 0%', 'In Queue...')
    >>> account.clock.advance(10)
    >>> backtests.status(first), backtests.status(second)
    ('Completed.', 'Running: 0%')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from quantconnect_emulator.jobs import Job, JobBoard, JobBoards, NoFreeSlotError, Stage
from quantconnect_emulator.params import ParamError, decode_json
from quantconnect_emulator.registry import ApiError, Resource, action
from quantconnect_emulator.resources.backtest_results import (
    chart,
    insights,
    orders,
    total_performance,
)
from quantconnect_emulator.resources.compiles import (
    BUILD_ERROR,
    BUILD_SUCCESS,
    COMPILE_NOT_FOUND,
    Compiles,
)
from quantconnect_emulator.resources.projects import Projects
from quantconnect_emulator.simulate import CHART_NAMES as SIM_CHARTS
from quantconnect_emulator.simulate import (
    SIMULATED_NOTE,
    Simulation,
    placeholder_statistics,
    simulate,
)
from quantconnect_emulator.stages import (
    COMPLETED,
    DONE,
    ERROR,
    FINISHING,
    QUEUED,
    RUNNING,
    SETTLED,
    STATISTICS_IN,
    STATUS_COMPLETED,
    STATUS_ERROR,
    STATUS_QUEUED,
)
from quantconnect_emulator.wire import datetime_plain, empty_map

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.params import Params

NO_NODE = (
    "No spare nodes available: all {nodes} backtest node(s) of the organization are busy. "
    "Wait for a backtest to finish or delete one, then try again."
)
INIT_ERROR_PREFIX = "During the algorithm initialization, the following exception has occurred:"
BACKTEST_NOT_FOUND = "Backtest not found. BacktestId: {backtest_id}"
#: Longest backtest name or note accepted (unconfirmed upstream).
MAX_TEXT = 1_000
#: Widest ``/backtests/orders/read`` page: ``0..100`` is accepted live (LEAN's default),
#: ``0..200`` refused.
MAX_ORDERS_PAGE = 100
#: Widest ``/backtests/read/insights`` page: ``0..100`` accepted live, ``0..200`` refused.
MAX_INSIGHTS_PAGE = 100
#: Fraction of the run an initialization failure takes before it ends the backtest.
INIT_FRACTION = 0.05


@dataclass
class Failure:
    """How a backtest ends in ``Runtime Error``: text, trace, when, and if in initialize."""

    error: str
    stacktrace: str
    at_progress: float
    during_initialization: bool


@dataclass
class Backtest:
    """One backtest: what it runs, its simulated results, and its failure if any."""

    backtest_id: str
    project_id: int
    compile_id: str
    name: str
    note: str
    created: datetime
    parameters: dict[str, Any]
    simulation: Simulation
    failure: Failure | None = None
    chart_reads: dict[str, float] = field(default_factory=dict)
    #: The algorithm's own charts (from its ``plot`` calls): name -> series names.
    charts: dict[str, list[str]] = field(default_factory=dict)


class Backtests(Resource):
    """The backtests of one account (``Backtests.of(account)``)."""

    def __init__(self, account: Account) -> None:
        super().__init__(account)
        self.by_id: dict[str, Backtest] = {}
        self.forced_failures: dict[int, Failure] = {}
        self.jobs_changed()

    @property
    def board(self) -> JobBoard:
        """The backtest jobs on the account's nodes."""
        return JobBoards.of(self.account).board("backtest")

    def jobs_changed(self) -> None:
        """Give the board the nodes and the node mode now in force."""
        config = self.account.jobs_config
        self.board.configure(
            slots=config.backtest_nodes, reject_when_busy=config.node_mode == "reject"
        )

    # ------------------------------------------------------------ operations

    def create(
        self, project_id: int, compile_id: str, name: str, parameters: dict[str, Any]
    ) -> Backtest:
        """Start (or queue) a backtest of a finished, successful compile."""
        account = self.account
        _check_text("backtestName", name, required=True)
        with account.lock:
            Projects.of(account).require_live(project_id)
            compiles = Compiles.of(account)
            build = compiles.by_id.get(compile_id)
            if build is None or build.project_id != project_id:
                raise ApiError(COMPILE_NOT_FOUND)
            state = compiles.state(build)
            if state == BUILD_ERROR:
                raise ApiError(
                    f"Compile {compile_id} ended in BuildError; fix it and compile again"
                )
            if state != BUILD_SUCCESS or self._compile_not_visible_yet(build.compile_id):
                raise ApiError(COMPILE_NOT_FOUND)
            simulation = simulate(build.language, build.files, parameters, build.report)
            failure = self.forced_failures.pop(project_id, None) or _initialize_failure(build)
            backtest = Backtest(
                backtest_id=account.ids.hex32(),
                project_id=project_id,
                compile_id=compile_id,
                name=name,
                note="",
                created=account.now(),
                parameters=dict(parameters),
                simulation=simulation,
                failure=failure,
                charts={name: list(series) for name, series in build.report.charts.items()},
            )
            try:
                self.board.submit(backtest.backtest_id, self._schedule(failure), waiting=QUEUED)
            except NoFreeSlotError:
                account.count("backtests_refused_no_node")
                raise ApiError(NO_NODE.format(nodes=self.board.slots)) from None
            self.by_id[backtest.backtest_id] = backtest
            account.count("backtests_created")
            return backtest

    def _compile_not_visible_yet(self, compile_id: str) -> bool:
        lag = self.account.jobs_config.compile_not_found_seconds
        if lag <= 0:
            return False
        job = Compiles.of(self.account).board.get(compile_id)
        done = job.entered_at(1) if job is not None else None
        return done is not None and self.account.clock.time() < done + lag

    def _schedule(self, failure: Failure | None) -> list[Stage]:
        config = self.account.jobs_config
        seconds = config.backtest_seconds
        if failure is not None:
            return [Stage(RUNNING, seconds * failure.at_progress), Stage(ERROR, 0, False)]
        return [
            Stage(RUNNING, seconds),
            Stage(FINISHING, config.results_lag_seconds, False),
            Stage(COMPLETED, config.total_performance_lag_seconds, False),
            Stage(SETTLED, 0, False),
        ]

    def require(self, project_id: int, backtest_id: str) -> Backtest:
        """The backtest of this project, or the not-found error."""
        Projects.of(self.account).require(project_id)
        backtest = self.by_id.get(backtest_id)
        if backtest is None or backtest.project_id != project_id:
            raise ApiError(BACKTEST_NOT_FOUND.format(backtest_id=backtest_id[:64]))
        return backtest

    def job(self, backtest: Backtest) -> Job:
        """The backtest's job, settled to now."""
        job = self.board.get(backtest.backtest_id)
        assert job is not None
        return job

    def stage(self, backtest: Backtest) -> str:
        """``queued``, ``running``, ``finishing``, ``completed``, ``settled`` or ``error``."""
        return self.board.state(backtest.backtest_id)

    def progress(self, backtest: Backtest) -> float:
        """0..1; frozen where a failure stopped it."""
        stage = self.stage(backtest)
        if stage == QUEUED:
            return 0.0
        if backtest.failure is not None:
            if stage == ERROR:
                return backtest.failure.at_progress
            seconds = self.account.jobs_config.backtest_seconds
            job = self.job(backtest)
            elapsed = job.elapsed(self.account.clock.time()) or 0.0
            return min(backtest.failure.at_progress, elapsed / seconds if seconds else 1.0)
        return self.board.progress(backtest.backtest_id)

    def status(self, backtest: Backtest) -> str:
        """The service's status text."""
        stage = self.stage(backtest)
        if stage == QUEUED:
            return STATUS_QUEUED
        if stage == RUNNING:
            return f"Running: {int(self.progress(backtest) * 100)}%"
        if stage == ERROR:
            return STATUS_ERROR
        return STATUS_COMPLETED

    def for_project(self, project_id: int) -> list[Backtest]:
        """The project's backtests, oldest first."""
        with self.account.lock:
            return [b for b in self.by_id.values() if b.project_id == project_id]

    def update(self, project_id: int, backtest_id: str, name: str | None, note: str | None) -> None:
        """Rename and/or annotate (works while running)."""
        if name is not None:
            _check_text("name", name, required=True)
        if note is not None:
            _check_text("note", note, required=False)
        with self.account.lock:
            backtest = self.require(project_id, backtest_id)
            if name is not None:
                backtest.name = name
            if note is not None:
                backtest.note = note

    def delete(self, project_id: int, backtest_id: str) -> None:
        """Delete; a running backtest stops and its node frees."""
        with self.account.lock:
            self.require(project_id, backtest_id)
            self._drop(backtest_id)

    def _drop(self, backtest_id: str) -> None:
        self.board.remove(backtest_id)
        del self.by_id[backtest_id]
        self.account.count("backtests_deleted")

    def force_runtime_error(
        self,
        project_id: int,
        *,
        backtest_id: str | None = None,
        message: str | None = None,
        during_initialization: bool = False,
        at_progress: float = 0.5,
    ) -> None:
        """Fail a running backtest now, or the project's next backtest (for tests)."""
        with self.account.lock:
            Projects.of(self.account).require(project_id)
            text = message or "Exception : forced runtime error (emulator control)"
            if during_initialization:
                at_progress = 0.0
                text = f"{INIT_ERROR_PREFIX} {text}"
            trace = f"  at OnData\n    {text}\n in main.py: line 1\n"
            if backtest_id is None:
                self.forced_failures[project_id] = Failure(
                    text, trace, max(0.0, min(at_progress, 1.0)), during_initialization
                )
                return
            backtest = self.require(project_id, backtest_id)
            if self.stage(backtest) in (*DONE, ERROR):
                raise ApiError(f"Backtest {backtest_id} has already finished")
            progress = self.progress(backtest)
            backtest.failure = Failure(text, trace, progress, during_initialization)
            self.board.stop(backtest_id, ERROR)

    def project_removed(self, project_id: int) -> None:
        """Stop and forget every backtest of a removed project (their nodes free)."""
        for backtest in self.for_project(project_id):
            self._drop(backtest.backtest_id)
        self.forced_failures.pop(project_id, None)

    def snapshot(self) -> list[dict[str, Any]]:
        """Every backtest: ids, name, status, stage, progress, parameters and its moments.

        ``started_at``, ``finished_at`` (``completed: true``), ``completed_at``
        (``Completed.`` with statistics), ``settled_at`` (``totalPerformance`` in)
        and ``failed_at`` are Unix seconds on the job clock (wall time plus every
        ``advance``), known ahead for a running job and ``None`` when they do not
        apply: a benchmark compares them with when its caller had the results.
        ``simulated`` says the results are the emulator's, not LEAN's.
        """
        with self.account.lock:
            result = []
            for b in self.by_id.values():
                job = self.job(b)
                failed = b.failure is not None
                result.append(
                    {
                        "backtestId": b.backtest_id,
                        "projectId": b.project_id,
                        "name": b.name,
                        "status": self.status(b),
                        "stage": self.stage(b),
                        "progress": round(self.progress(b), 4),
                        "parameters": dict(b.parameters),
                        "started_at": job.started_at,
                        "finished_at": None if failed else job.entered_at(1),
                        "completed_at": None if failed else job.entered_at(2),
                        "settled_at": None if failed else job.entered_at(3),
                        "failed_at": job.entered_at(1) if failed else None,
                        "simulated": SIMULATED_NOTE,
                    }
                )
            return result

    def stats(self) -> dict[str, Any]:
        """Figures for ``stats()``: running now, waiting, and the peak of running."""
        with self.account.lock:
            board = self.board
            stages = [self.stage(b) for b in self.by_id.values()]
            return {
                "running_backtests": board.holding(),
                "queued_backtests": stages.count(QUEUED),
                "peak_running_backtests": board.peak_holding,
                "backtest_nodes": board.slots,
            }


def _initialize_failure(build: Any) -> Failure | None:
    found = build.report.initialize_failure
    if found is None:
        return None
    method = "initialize" if build.language == "Py" else "Initialize"
    error = (
        f"{INIT_ERROR_PREFIX} {found.exception}: {found.message}\n"
        f"  at {method}\n    {found.source_line}\n in {found.file}: line {found.line}\n"
    )
    trace = f"  at {method}\n    {found.source_line}\n in {found.file}: line {found.line}\n"
    return Failure(error, trace, INIT_FRACTION, True)


def _check_text(key: str, value: str, *, required: bool) -> None:
    if required and not value.strip():
        raise ParamError(f"Parameter '{key}' cannot be empty")
    if len(value) > MAX_TEXT:
        raise ParamError(f"Parameter '{key}' is too long: the maximum is {MAX_TEXT} characters")


def parse_parameters(raw: Any) -> dict[str, Any]:
    """``parameters``: an object of name -> string or number (JSON text accepted).

    Example:
        >>> parse_parameters({"fast": 10, "ratio": 0.5, "mode": "a"})
        {'fast': 10, 'ratio': 0.5, 'mode': 'a'}
        >>> parse_parameters({"grid": {"a": 1}})
        Traceback (most recent call last):
        ...
        quantconnect_emulator.params.ParamError: Parameter 'grid' must be a string or a number
    """
    if raw is None or raw == "" or raw == []:
        return {}
    if isinstance(raw, str):
        raw = decode_json(raw, "Parameter 'parameters'", where="parameters")
    if not isinstance(raw, dict):
        raise ParamError("Parameter 'parameters' must be an object of name to value")
    if len(raw) > 200:
        raise ParamError("Too many parameters: the maximum is 200")
    result: dict[str, Any] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ParamError("Parameter names must be non-empty strings")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ParamError(f"Parameter '{name[:100]}' must be a string or a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise ParamError(f"Parameter '{name[:100]}' must be a finite number")
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise ParamError(f"Parameter '{name[:100]}' is too long")
        result[name] = value
    return result


# ---------------------------------------------------------------------- JSON


def _server_statistics(account: Account) -> dict[str, str]:
    # The simulated label lives here (and in the report, and in the emulator's own listing):
    # never in a field the user writes, such as the note or the tags.
    return {
        "Note": SIMULATED_NOTE,
        "Total Time (s)": f"{account.jobs_config.backtest_seconds:g}",
        "Server": "quantconnect_emulator",
    }


def chart_names(model: Backtest) -> list[str]:
    """The charts a backtest lists: LEAN's defaults, then the algorithm's own (``plot``)."""
    own = [name for name in model.charts if name not in SIM_CHARTS]
    return [*SIM_CHARTS, *own]


def _statistics_fields(
    account: Account, model: Backtest, stage: str, progress: float, created: bool
) -> dict[str, Any]:
    """``statistics`` and ``runtimeStatistics`` as the stage shows them (contract §7)."""
    jobs = account.jobs_config
    sim = model.simulation
    fields: dict[str, Any] = {}
    if created or stage == QUEUED:
        # Before it runs: no runtime statistics (null, never []); statistics [] on reads if so
        # configured, and never [] on the create answer (a map or absent there).
        if not created and jobs.queued_statistics == "list":
            fields["statistics"] = []
        fields["runtimeStatistics"] = None
    elif stage in (RUNNING, ERROR):
        placeholders = jobs.running_statistics == "placeholders" or stage == ERROR
        fields["statistics"] = placeholder_statistics(sim.cash) if placeholders else []
        fields["runtimeStatistics"] = sim.runtime_statistics(progress)
    elif stage == FINISHING:
        missing = jobs.results_lag_missing
        both = missing == "both"
        fields["statistics"] = [] if both or missing == "statistics" else dict(sim.statistics)
        fields["runtimeStatistics"] = (
            None if both or missing == "runtime_statistics" else sim.runtime_statistics(1.0)
        )
    else:
        fields["statistics"] = dict(sim.statistics)
        fields["runtimeStatistics"] = sim.runtime_statistics(progress)
    return fields


def backtest_json(
    account: Account, model: Backtest, backtests: Backtests, *, created: bool = False
) -> dict[str, Any]:
    """A ``Backtest`` as ``/backtests/read`` answers it, or ``/backtests/create`` (``created``:
    a just-created backtest answers ``In Queue...``, whether or not a node was free)."""
    stage = backtests.stage(model)
    progress = 0.0 if created else backtests.progress(model)
    sim = model.simulation
    failure = model.failure if stage == ERROR and not created else None
    started = stage != QUEUED and not created
    finished = stage in DONE and not created
    return {
        "backtestId": model.backtest_id,
        "projectId": model.project_id,
        "organizationId": account.organization_id,
        "name": model.name,
        "note": model.note,
        "status": STATUS_QUEUED if created else backtests.status(model),
        "completed": finished or failure is not None,
        "progress": round(progress, 4),
        "error": failure.error if failure else None,
        "stacktrace": failure.stacktrace if failure else None,
        "hasInitializeError": bool(failure and failure.during_initialization),
        "created": datetime_plain(model.created),
        "backtestStart": datetime_plain(_midnight(sim.start)),
        "backtestEnd": datetime_plain(_midnight(sim.end)),
        "tradeableDates": sim.days,
        "parameterSet": empty_map(dict(model.parameters)),
        **_statistics_fields(account, model, stage, progress, created),
        "totalPerformance": total_performance(sim) if stage == SETTLED and started else None,
        "charts": {name: {"name": name} for name in chart_names(model)} if started else {},
        "rollingWindow": {},  # a map: LEAN's ReadBacktest refuses a list here
        "nodeName": "Emulated B2-8 node" if started else None,
        "optimizationId": None,
        "snapshotId": 0,
        "researchGuide": {"minutes": 0, "backtestCount": 1, "parameters": len(model.parameters)},
        "outOfSampleMaxEndDate": None,
        "outOfSampleDays": 0,
        "analysis": [],
        "serverStatistics": _server_statistics(account),
    }


def summary_json(
    model: Backtest, backtests: Backtests, with_statistics: bool
) -> dict[str, Any]:
    """A ``BacktestSummary`` of ``/backtests/list`` (numbers only ``with_statistics``)."""
    stage = backtests.stage(model)
    summary: dict[str, Any] = {
        "backtestId": model.backtest_id,
        "status": backtests.status(model),
        "name": model.name,
        "created": datetime_plain(model.created),
        "progress": round(backtests.progress(model), 4),
        "optimizationId": None,
        "tradeableDates": model.simulation.days,
        "parameterSet": empty_map(dict(model.parameters)),
        "snapshotId": 0,
        "tags": [],  # the user's; a new backtest has none
    }
    if with_statistics:
        # Numbers only once the statistics are in.
        summary.update(summary_statistics(model.simulation, len(model.parameters),
                                          done=stage in STATISTICS_IN))
    return summary


def summary_statistics(simulation: Simulation, parameters: int, *, done: bool
                       ) -> dict[str, Any]:
    """The statistics of a ``BacktestSummary`` (``includeStatistics``): None until ``done``."""
    p = simulation.portfolio
    trades = len(simulation.trades)

    def number(key: str) -> float | None:
        return round(p[key], 6) if done else None

    return {
        "sharpeRatio": number("sharpeRatio"),
        "alpha": number("alpha"),
        "beta": number("beta"),
        "compoundingAnnualReturn": number("compoundingAnnualReturn"),
        "drawdown": number("drawdown"),
        "lossRate": number("lossRate"),
        "netProfit": number("totalNetProfit"),
        "parameters": parameters,
        "psr": number("probabilisticSharpeRatio"),
        "securityTypes": "Equity",
        "sortinoRatio": number("sortinoRatio"),
        "treynorRatio": number("treynorRatio"),
        "trades": 2 * trades if done else None,
        "winRate": number("winRate"),
    }


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)




# ------------------------------------------------------------------ handlers


def _one(account: Account, backtest: Backtest, *, created: bool = False) -> dict[str, Any]:
    answer = backtest_json(account, backtest, Backtests.of(account), created=created)
    return {"backtest": answer, "debugging": False}


@action("/backtests/create")
def _create(account: Account, params: Params) -> dict[str, Any]:
    backtest = Backtests.of(account).create(
        params.require_int("projectId"),
        params.require_str("compileId"),
        params.require_str("backtestName"),
        parse_parameters(params.get_raw("parameters")),
    )
    return _one(account, backtest, created=True)


@action("/backtests/read")
def _read(account: Account, params: Params) -> dict[str, Any]:
    backtests = Backtests.of(account)
    backtest = backtests.require(params.require_int("projectId"), params.require_str("backtestId"))
    return _one(account, backtest)


@action("/backtests/list")
def _list(account: Account, params: Params) -> dict[str, Any]:
    backtests = Backtests.of(account)
    project_id = params.require_int("projectId")
    Projects.of(account).require(project_id)
    with_statistics = params.get_bool("includeStatistics")
    found = backtests.for_project(project_id)
    summaries = [summary_json(b, backtests, with_statistics) for b in found]
    # An optimization's backtests are listed too, with their optimizationId (the contract).
    summaries += account.listed_backtests(project_id, with_statistics)
    return {"backtests": summaries, "count": len(summaries)}


@action("/backtests/update")
def _update(account: Account, params: Params) -> dict[str, Any]:
    Backtests.of(account).update(
        params.require_int("projectId"),
        params.require_str("backtestId"),
        params.get_str("name"),
        params.get_str("note"),
    )
    return {}


@action("/backtests/delete")
def _delete(account: Account, params: Params) -> dict[str, Any]:
    Backtests.of(account).delete(params.require_int("projectId"), params.require_str("backtestId"))
    return {}


@action("/backtests/chart/read")
def _chart(account: Account, params: Params) -> dict[str, Any]:
    backtests = Backtests.of(account)
    backtest = backtests.require(params.require_int("projectId"), params.require_str("backtestId"))
    name = params.require_str("name")
    if name not in chart_names(backtest):
        raise ApiError(f"Chart '{name[:100]}' not found in backtest {backtest.backtest_id}")
    count = params.get_int("count")
    start, end = params.get_int("start"), params.get_int("end")
    if count is not None and count < 1:
        raise ParamError("Parameter 'count' must be at least 1")
    if start is not None and end is not None and start > end:
        raise ParamError(f"Invalid range: start ({start}) must not be after end ({end})")
    stage = backtests.stage(backtest)
    now = account.clock.time()
    first = backtest.chart_reads.setdefault(name, now)
    loading = account.jobs_config.chart_loading_seconds
    if stage == QUEUED or now - first < loading:
        progress = 0.0 if stage == QUEUED else min(0.99, (now - first) / loading)
        return {"status": "loading", "progress": round(progress, 2)}
    upto = backtest.simulation.index_at(backtests.progress(backtest))
    found = chart(backtest.simulation, name, upto, count, start, end, backtest.charts)
    return {"chart": found}


@action("/backtests/orders/read")
def _orders(account: Account, params: Params) -> dict[str, Any]:
    backtests = Backtests.of(account)
    backtest = backtests.require(params.require_int("projectId"), params.require_str("backtestId"))
    start, end = params.require_int("start"), params.require_int("end")
    if start < 0 or end <= start:
        raise ParamError("start must be zero or positive and less than end")
    if end - start > MAX_ORDERS_PAGE:
        raise ParamError(
            f"The requested range is too large: end - start must be at most {MAX_ORDERS_PAGE}"
        )
    upto = backtest.simulation.index_at(backtests.progress(backtest))
    page = orders(backtest.simulation, upto)[start:end]
    return {"orders": page, "length": len(page)}  # OpenAPI: the number of orders returned


# The OpenAPI path, and the one LEAN's client posts (its live tests pass): both are served.
@action("/backtests/read/insights")
@action("/backtests/insights/read")
def _insights(account: Account, params: Params) -> dict[str, Any]:
    backtests = Backtests.of(account)
    backtest = backtests.require(params.require_int("projectId"), params.require_str("backtestId"))
    start, end = params.require_int("start"), params.require_int("end")
    if start < 0 or end <= start:
        raise ParamError("start must be zero or positive and less than end")
    if end - start > MAX_INSIGHTS_PAGE:
        raise ParamError(
            f"The requested range is too large: end - start must be at most {MAX_INSIGHTS_PAGE}"
        )
    upto = backtest.simulation.index_at(backtests.progress(backtest))
    page = insights(backtest.simulation, upto)[start:end]
    return {"insights": page, "length": len(page)}  # OpenAPI: the number returned


# -------------------------------------------------------------- test controls

control = APIRouter()


class ForceRuntimeError(BaseModel):
    """Body of ``POST /_emulator/backtests/force-error``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    project_id: int = Field(alias="projectId")
    backtest_id: str | None = Field(default=None, alias="backtestId", max_length=64)
    message: str | None = Field(default=None, max_length=1_000)
    during_initialization: bool = Field(default=False, alias="duringInitialization")
    at_progress: float = Field(default=0.5, ge=0, le=1, alias="atProgress")


@control.post("/backtests/force-error")
async def _force_runtime_error(request: Request, body: ForceRuntimeError) -> dict[str, Any]:
    """Fail a running backtest now, or the project's next one."""
    account = request.app.state.emulator.account
    try:
        Backtests.of(account).force_runtime_error(
            body.project_id,
            backtest_id=body.backtest_id,
            message=body.message,
            during_initialization=body.during_initialization,
            at_progress=body.at_progress,
        )
    except ApiError as exc:
        return {"status": "refused", "error": exc.message}
    return {"status": "armed"}


@control.get("/backtests")
async def _snapshot(request: Request) -> dict[str, Any]:
    """Every backtest with its status, and the node figures."""
    account = request.app.state.emulator.account
    backtests = Backtests.of(account)
    return {"backtests": backtests.snapshot(), **backtests.stats()}
