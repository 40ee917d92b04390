"""Live algorithms: ``/live/*`` — paper trading on the job clock, simulated.

No algorithm runs and no brokerage is reached. A deployment is a record on the
``live`` job board: it reads ``InQueue`` for ``live_queue_seconds``, then
``Initializing`` for ``live_initializing_seconds``, then ``Running`` until a
stop (``Stopped``), a liquidation (``Liquidated``), a forced error
(``RuntimeError``, test control) or the project's delete (``Deleted``). Every
``live_day_seconds`` of ``Running`` is one simulated trading day: the day's
log line is appended, the equity chart gains a point, and the portfolio and
the orders move on. The days are those of
:func:`quantconnect_emulator.simulate.simulate` for the compile's files and
the deploy's parameters — the very simulation a backtest of the same code
shows — and every place a person reads them says they are simulated.

Rules the contract leaves open, chosen here (``docs/quantconnect-api.md`` §18):

- one live algorithm per project: a deploy while one has not ended is refused;
- the account has ``live_nodes`` live nodes; a deploy names a free one
  (``/projects/nodes/read`` shows them, ``busy`` while a deployment holds one);
  a busy or unknown node is refused; an ended deployment frees its node;
- only the paper brokerage (``QuantConnectBrokerage``, read back as
  ``PaperBrokerage``) is accepted, unless ``live_brokerages`` lists another id;
  nothing of a brokerage object but its id is kept (credentials are never
  stored, echoed or logged);
- ``live_list_lag_seconds`` hides a new deployment from lists and reads for a while (a lagging
  list, so clients can be tested against it);
- stop and liquidate are accepted until the deployment ends, refused after;
- a command needs a ``Running`` deployment; it is recorded and logged;
- log lines are numbered within the deployment (``startLine`` 0 is its first
  line); ``length`` counts the project's lines over every deployment and
  ``deploymentOffset`` those before this one; ranges over 250 lines are refused;
- insights are always empty; ``automaticRedeploy`` is stored, not acted on.

Example:
    >>> from quantconnect_emulator.account import Account, ManualClock
    >>> from quantconnect_emulator.config import EmulatorConfig, JobsConfig
    >>> from quantconnect_emulator.resources.compiles import Compiles
    >>> from quantconnect_emulator.resources.projects import Projects
    >>> jobs = JobsConfig(compile_seconds=0, live_queue_seconds=2, live_initializing_seconds=3,
    ...                   live_day_seconds=10)
    >>> account = Account(EmulatorConfig(seed=1, jobs=jobs), clock=ManualClock())
    >>> project = Projects.of(account).create("Demo", "Py")
    >>> build = Compiles.of(account).create(project.project_id)
    >>> live = Live.of(account)
    >>> node = live.node_ids()[0]
    >>> deployment = live.create(project.project_id, build.compile_id, node,
    ...                          {"id": PAPER}, {})
    >>> live.status(deployment)
    'InQueue'
    >>> account.clock.advance(5); live.status(deployment), live.day(deployment)
    ('Running', 0)
    >>> account.clock.advance(25); live.day(deployment)
    2
    >>> _ = live.stop(project.project_id); live.status(deployment), live.busy_nodes()
    ('Stopped', {})
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from quantconnect_emulator.jobs import JobBoard, JobBoards, Stage
from quantconnect_emulator.params import ParamError, decode_json
from quantconnect_emulator.registry import ApiError, Resource, action
from quantconnect_emulator.resources.backtest_results import chart, orders
from quantconnect_emulator.resources.compiles import (
    BUILD_ERROR,
    BUILD_SUCCESS,
    COMPILE_NOT_FOUND,
    Compile,
    Compiles,
)
from quantconnect_emulator.resources.projects import Projects
from quantconnect_emulator.simulate import SIMULATED_NOTE, Simulation, simulate
from quantconnect_emulator.wire import datetime_plain

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.params import Params

#: The paper brokerage's id, and the name the service reads it back as.
PAPER = "QuantConnectBrokerage"
PAPER_NAME = "PaperBrokerage"
IN_QUEUE, INITIALIZING, RUNNING = "InQueue", "Initializing", "Running"
STOPPED, LIQUIDATED, RUNTIME_ERROR, DELETED = "Stopped", "Liquidated", "RuntimeError", "Deleted"
#: The states a deployment ends in (it frees its node, refuses stop and liquidate).
ENDED = frozenset({STOPPED, LIQUIDATED, RUNTIME_ERROR, DELETED, "Completed", "DeployError"})
#: ``/live/list``'s ``status`` filter values.
LIST_FILTERS = (RUNNING, STOPPED, RUNTIME_ERROR, LIQUIDATED)
#: The charts a live algorithm has (LEAN's live defaults).
LIVE_CHARTS = ("Strategy Equity", "Drawdown", "Benchmark", "Exposure", "Assets Sales Volume",
               "Portfolio Turnover", "Portfolio Margin")
MAX_LOG_LINES = 250
MAX_ORDER_RANGE = 1_000
NO_DEPLOYMENT = "No live deployment found for project {project_id}"
DEFAULT_CASH = 100_000.0


@dataclass
class Deployment:
    """One live algorithm: what was deployed, where, and what happened to it since."""

    deploy_id: str
    project_id: int
    project_name: str
    compile_id: str
    node_id: str
    brokerage_id: str
    version_id: str
    launched: datetime
    simulation: Simulation = field(repr=False)
    #: Log rows of the project's earlier deployments (``deploymentOffset``).
    offset: int
    parameters: dict[str, str] = field(default_factory=dict)
    automatic_redeploy: bool = False
    seeded_holdings: list[dict[str, Any]] = field(default_factory=list)
    seeded_cash: dict[str, float] = field(default_factory=dict)
    #: (clock time, text) of every event logged besides the simulated days.
    events: list[tuple[float, str]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    stopped: datetime | None = None
    liquidated_at_day: int | None = None
    #: Clock time from which reads and lists show it (``live_list_lag_seconds``).
    visible_at: float = 0.0


def _brokerage(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        raw = decode_json(raw, "Parameter 'brokerage'", where="brokerage")
    if not isinstance(raw, dict):
        raise ParamError("Missing required parameter 'brokerage' (an object with its 'id')")
    brokerage_id = raw.get("id")
    if not isinstance(brokerage_id, str) or not brokerage_id.strip():
        raise ParamError("Parameter 'brokerage' needs an 'id'")
    return raw


def _object(raw: Any, key: str) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        raw = decode_json(raw, f"Parameter '{key}'", where=key)
    if not isinstance(raw, dict):
        raise ParamError(f"Parameter '{key}' must be an object")
    return raw


def _seeds(brokerage: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """The paper portfolio's seed: ``holdings`` and ``cash`` of the brokerage object."""
    holdings: list[dict[str, Any]] = []
    for item in brokerage.get("holdings") or []:
        if not isinstance(item, dict):
            raise ParamError("Each of brokerage 'holdings' must be an object")
        try:
            holdings.append({
                "symbolId": str(item.get("symbolId") or item.get("symbol") or ""),
                "symbol": str(item.get("symbol") or item.get("symbolId") or ""),
                "quantity": float(item.get("quantity") or 0),
                "averagePrice": float(item.get("averagePrice") or 0),
            })
        except (TypeError, ValueError):
            raise ParamError("Brokerage 'holdings' need numeric quantity and averagePrice") \
                from None
    cash: dict[str, float] = {}
    for item in brokerage.get("cash") or []:
        if not isinstance(item, dict) or not isinstance(item.get("currency"), str):
            raise ParamError("Each of brokerage 'cash' needs a currency and an amount")
        try:
            cash[item["currency"].upper()] = float(item.get("amount") or 0)
        except (TypeError, ValueError):
            raise ParamError("Brokerage 'cash' amounts must be numbers") from None
    for holding in holdings:
        if not holding["symbolId"] or not all(
            math.isfinite(holding[k]) for k in ("quantity", "averagePrice")
        ):
            raise ParamError("Brokerage 'holdings' need a symbolId and finite numbers")
    return holdings, cash


class Live(Resource):
    """The live algorithms of one account (``Live.of(account)``)."""

    def __init__(self, account: Account) -> None:
        super().__init__(account)
        self.by_id: dict[str, Deployment] = {}
        #: Project -> its deployments, oldest first.
        self.by_project: dict[int, list[Deployment]] = {}

    @property
    def board(self) -> JobBoard:
        """The live jobs (no slots: the live nodes are counted here, per deployment)."""
        return JobBoards.of(self.account).board("live")

    # ------------------------------------------------------------------ nodes

    def node_ids(self) -> list[str]:
        """The account's live node ids."""
        # The contract's form, ``LN-`` and 32 hex; stable per organization and index.
        organization = self.account.organization_id
        return ["LN-" + hashlib.md5(f"{organization}/live/{index}".encode()).hexdigest()
                for index in range(1, self.account.jobs_config.live_nodes + 1)]

    def busy_nodes(self) -> dict[str, Deployment]:
        """Live node id -> the deployment holding it (one that has not ended)."""
        return {d.node_id: d for d in self.by_id.values() if self.status(d) not in ENDED}

    # ------------------------------------------------------------- operations

    def create(
        self,
        project_id: int,
        compile_id: str,
        node_id: str,
        brokerage: dict[str, Any],
        parameters: dict[str, str],
        *,
        version_id: str = "-1",
        automatic_redeploy: bool = False,
    ) -> Deployment:
        """Deploy a successful compile of the project on a free live node."""
        account = self.account
        with account.lock:
            project = Projects.of(account).require_live(project_id)
            build = self._build(project_id, compile_id)
            brokerage_id = str(brokerage["id"]).strip()
            if brokerage_id != PAPER and brokerage_id not in account.jobs_config.live_brokerages:
                raise ApiError(
                    f"Brokerage '{brokerage_id[:64]}' is not available: the emulator holds no "
                    f"brokerage accounts and deploys to paper trading ({PAPER}) only"
                )
            current = self.latest(project_id)
            if current is not None and self.status(current) not in ENDED:
                raise ApiError(
                    f"Project {project_id} already has a live algorithm ({current.deploy_id}, "
                    f"{self.status(current)}); stop it before deploying again"
                )
            if node_id not in self.node_ids():
                raise ApiError(f"Live node not found: {node_id[:64]}")
            if node_id in self.busy_nodes():
                raise ApiError(f"Live node {node_id} is busy; stop its live algorithm or use "
                               "another live node")
            holdings, cash = _seeds(brokerage)
            config = account.jobs_config
            earlier = self.by_project.get(project_id, [])
            deployment = Deployment(
                deploy_id="L-" + account.ids.hex32(),
                project_id=project_id,
                project_name=project.name,
                compile_id=build.compile_id,
                node_id=node_id,
                brokerage_id=brokerage_id,
                version_id=version_id,
                launched=account.now(),
                simulation=simulate(build.language, build.files, parameters, build.report),
                offset=sum(self.line_count(d) for d in earlier),
                parameters=dict(parameters),
                automatic_redeploy=automatic_redeploy,
                seeded_holdings=holdings,
                seeded_cash=cash,
            )
            now = account.clock.time()
            deployment.visible_at = now + config.live_list_lag_seconds
            deployment.events.append((now, f"Launching live algorithm {deployment.deploy_id} "
                                           f"on {node_id} ({SIMULATED_NOTE})"))
            self.board.submit(
                deployment.deploy_id,
                [Stage(IN_QUEUE, config.live_queue_seconds, False),
                 Stage(INITIALIZING, config.live_initializing_seconds, False),
                 Stage(RUNNING, 0, False)],
                waiting=IN_QUEUE,
                day_seconds=config.live_day_seconds,
            )
            self.by_id[deployment.deploy_id] = deployment
            self.by_project.setdefault(project_id, []).append(deployment)
            account.count("live_deployed")
            return deployment

    def _build(self, project_id: int, compile_id: str) -> Compile:
        compiles = Compiles.of(self.account)
        build = compiles.require(project_id, compile_id)
        state = compiles.state(build)
        if state == BUILD_ERROR:
            raise ApiError(f"Compile {build.compile_id} ended in BuildError; fix it and compile "
                           "again")
        if state != BUILD_SUCCESS:
            raise ApiError(COMPILE_NOT_FOUND)
        return build

    def latest(self, project_id: int) -> Deployment | None:
        """The project's newest deployment."""
        found = self.by_project.get(project_id)
        return found[-1] if found else None

    def require(self, project_id: int, deploy_id: str | None = None) -> Deployment:
        """The project's deployment (``deploy_id``) or newest one, or the not-found error."""
        Projects.of(self.account).require(project_id)
        if deploy_id:
            found = self.by_id.get(deploy_id)
            if found is None or found.project_id != project_id or not self.visible(found):
                raise ApiError(f"{NO_DEPLOYMENT.format(project_id=project_id)} with id "
                               f"{deploy_id[:64]}")
            return found
        shown = [d for d in self.by_project.get(project_id, []) if self.visible(d)]
        if not shown:
            raise ApiError(NO_DEPLOYMENT.format(project_id=project_id))
        return shown[-1]

    def visible(self, deployment: Deployment) -> bool:
        """Whether reads and lists show it yet (a lagging list hides a new one a while)."""
        return self.account.clock.time() >= deployment.visible_at

    def status(self, deployment: Deployment) -> str:
        """The deployment's status now."""
        return self.board.state(deployment.deploy_id)

    def running_since(self, deployment: Deployment) -> float | None:
        """Clock time it entered ``Running`` (None: not yet, or ended before)."""
        job = self.board.get(deployment.deploy_id)
        assert job is not None
        since = job.entered_at(2)  # the planned moment, even when still ahead
        return since if since is not None and since <= self.running_until(deployment) else None

    def running_until(self, deployment: Deployment) -> float:
        """Clock time its simulated days stop at (its end, or now)."""
        job = self.board.get(deployment.deploy_id)
        assert job is not None
        return job.stopped_at if job.stopped_at is not None else self.account.clock.time()

    def day_seconds(self, deployment: Deployment) -> float:
        """Seconds per simulated day, as set when it was deployed."""
        job = self.board.get(deployment.deploy_id)
        assert job is not None
        return float(job.data["day_seconds"])

    def days_reached(self, deployment: Deployment) -> int:
        """How many simulated days have begun (0 before ``Running``)."""
        since = self.running_since(deployment)
        if since is None:
            return 0
        elapsed = max(0.0, self.running_until(deployment) - since)
        return int(elapsed // self.day_seconds(deployment)) + 1

    def day(self, deployment: Deployment) -> int | None:
        """The simulation's day index now (None before ``Running``); the last day once the
        simulated period is used up (the equity then stays where it ended)."""
        reached = self.days_reached(deployment)
        if reached == 0:
            return None
        return min(reached, deployment.simulation.days) - 1

    def wall(self, moment: float) -> float:
        """A job-clock moment as the wall time the service stamps it with: its log lines and
        chart points are read against the ``Date`` the client learns its clock from (as the
        account's ``now()`` stamps are), however far ``advance`` moved the jobs."""
        return moment - (self.account.clock.time() - self.account.now().timestamp())

    def day_time(self, deployment: Deployment, index: int) -> float:
        """The clock time simulated day ``index`` began."""
        since = self.running_since(deployment)
        assert since is not None
        return since + index * self.day_seconds(deployment)

    def _end(self, project_id: int, state: str, verb: str) -> Deployment:
        deployment = self.require(project_id)
        status = self.status(deployment)
        if status in ENDED:
            raise ApiError(f"Live algorithm {deployment.deploy_id} of project {project_id} has "
                           f"already ended ({status}); there is nothing to {verb}")
        if state == LIQUIDATED:
            deployment.liquidated_at_day = self.day(deployment)
        self.board.stop(deployment.deploy_id, state)
        deployment.stopped = self.account.now()
        deployment.events.append((self.account.clock.time(),
                                   f"Algorithm {deployment.deploy_id} {state.lower()} "
                                   f"on request ({SIMULATED_NOTE})"))
        self.account.count(f"live_{verb}")
        return deployment

    def stop(self, project_id: int) -> Deployment:
        """Stop the project's live algorithm (holdings stay)."""
        with self.account.lock:
            return self._end(project_id, STOPPED, "stop")

    def liquidate(self, project_id: int) -> Deployment:
        """Sell everything, then stop."""
        with self.account.lock:
            return self._end(project_id, LIQUIDATED, "liquidate")

    def force_end(self, project_id: int, state: str, message: str) -> Deployment:
        """End the project's live algorithm as a test asks (a runtime error, a stop)."""
        with self.account.lock:
            deployment = self.require(project_id)
            status = self.status(deployment)
            if status in ENDED:
                raise ApiError(f"Live algorithm {deployment.deploy_id} has already ended "
                               f"({status})")
            self.board.stop(deployment.deploy_id, state)
            deployment.stopped = self.account.now()
            deployment.message = message
            deployment.events.append((self.account.clock.time(),
                                      f"{state}: {message} ({SIMULATED_NOTE})"))
            return deployment

    def command(self, deployment: Deployment, command: dict[str, Any], how: str) -> None:
        """Record a command to a running deployment and log it."""
        status = self.status(deployment)
        if status != RUNNING:
            raise ApiError(f"Live algorithm {deployment.deploy_id} is not running ({status}); "
                           "the command was not delivered")
        kind = command.get("$type") or "generic command"
        deployment.commands.append({"command": command, "how": how,
                                    "at": self.account.clock.time()})
        deployment.events.append((self.account.clock.time(),
                                  f"Command received ({how}): {str(kind)[:100]} "
                                  f"{json.dumps(command, sort_keys=True)[:200]}"))
        self.account.count("live_commands")

    def running(self) -> list[Deployment]:
        """Every deployment reading ``Running`` now."""
        return [d for d in self.by_id.values() if self.status(d) == RUNNING]

    # ------------------------------------------------------------------ reads

    def lines(self, deployment: Deployment) -> list[str]:
        """Every log line of the deployment so far, in time order."""
        events = list(deployment.events)
        since = self.running_since(deployment)
        if since is not None:
            events.append((since, f"Algorithm {deployment.deploy_id} is running "
                                  f"({SIMULATED_NOTE})"))
            sim = deployment.simulation
            for index in range(self.days_reached(deployment)):
                day = min(index, sim.days - 1)
                events.append((self.day_time(deployment, index) + 1e-6,
                               f"Simulated day {index + 1}: equity {sim.equity[day]:,.2f} USD "
                               f"({SIMULATED_NOTE})"))
        events.sort(key=lambda event: event[0])
        return [f"{datetime_plain(datetime.fromtimestamp(self.wall(t), tz=timezone.utc))} {text}"
                for t, text in events]

    def line_count(self, deployment: Deployment) -> int:
        """How many log lines the deployment has now."""
        return len(self.lines(deployment))

    def equity(self, deployment: Deployment) -> float:
        """The simulated equity now (the starting cash before ``Running``)."""
        day = self.day(deployment)
        sim = deployment.simulation
        return sim.cash if day is None else sim.equity[day]

    def portfolio(self, deployment: Deployment) -> dict[str, Any]:
        """``{holdings, cash}``: the seed, the simulation's open position, the cash left."""
        sim = deployment.simulation
        day = self.day(deployment)
        start_cash = dict(deployment.seeded_cash) or {"USD": sim.cash}
        if deployment.liquidated_at_day is not None or (
            self.status(deployment) == LIQUIDATED
        ):
            usd = start_cash.get("USD", 0.0) + (self.equity(deployment) - sim.cash)
            usd += sum(h["quantity"] * h["averagePrice"] for h in deployment.seeded_holdings)
            cash = dict(start_cash, USD=usd)
            return {"holdings": {}, "cash": {c: _cash(c, a) for c, a in cash.items()}}
        holdings: dict[str, dict[str, Any]] = {}
        for seed in deployment.seeded_holdings:
            holdings[seed["symbolId"]] = _holding(seed["quantity"], seed["averagePrice"],
                                                  seed["averagePrice"])
        usd = start_cash.get("USD", 0.0)
        if day is not None:
            realized = sum(t.profit_loss - t.fees for t in sim.trades if t.exit_index <= day)
            usd += realized
            for trade in sim.trades:
                if trade.entry_index <= day < trade.exit_index:
                    sign = 1 if trade.direction == 0 else -1
                    price = sim.benchmark[day]
                    holdings[sim.symbol["id"]] = _holding(sign * trade.quantity,
                                                          trade.entry_price, price)
                    usd -= sign * trade.quantity * trade.entry_price
        cash = dict(start_cash, USD=usd)
        return {"holdings": holdings, "cash": {c: _cash(c, a) for c, a in cash.items()}}

    def orders(self, deployment: Deployment) -> list[dict[str, Any]]:
        """The simulation's filled orders up to now (none before ``Running``)."""
        day = self.day(deployment)
        return [] if day is None else orders(deployment.simulation, day)

    def chart(self, deployment: Deployment, name: str, count: int, start: int,
              end: int) -> dict[str, Any]:
        """A chart of the simulated days so far, timed on the live clock."""
        if name not in LIVE_CHARTS:
            raise ApiError(f"Chart '{name[:64]}' not found in live algorithm "
                           f"{deployment.deploy_id}")
        day = self.day(deployment)
        found = chart(deployment.simulation, name, upto=max(day or 0, 0))
        sim = deployment.simulation
        live_time = ({sim.times[i]: int(self.wall(self.day_time(deployment, i)))
                      for i in range(day + 1)}
                     if day is not None else {})
        for series in found["series"].values():
            values = [[live_time[v[0]], *v[1:]] for v in series["values"] if v[0] in live_time]
            if start or end:
                values = [v for v in values if start <= v[0] <= end]
            if count and len(values) > count:
                step = len(values) / count
                values = [values[int(i * step)] for i in range(count - 1)] + [values[-1]]
            series["values"] = values
        return found

    # ----------------------------------------------------------------- events

    def project_removed(self, project_id: int) -> None:
        """A removed project's running live algorithm ends ``Deleted`` (records stay)."""
        for deployment in self.by_project.get(project_id, []):
            if self.status(deployment) not in ENDED:
                self.board.stop(deployment.deploy_id, DELETED)
                deployment.stopped = self.account.now()

    def stats(self) -> dict[str, Any]:
        """How many live algorithms run, and the busy live nodes."""
        return {"live_running": len(self.running()), "live_nodes_busy": len(self.busy_nodes())}


def _holding(quantity: float, average: float, price: float) -> dict[str, Any]:
    """A Holding with the short keys; zero values are left out, as LEAN sends them."""
    value = quantity * price
    unrealized = quantity * (price - average)
    cost = abs(quantity * average)
    full = {"a": round(average, 4), "q": quantity, "p": round(price, 4), "v": round(value, 2),
            "u": round(unrealized, 2), "up": round(unrealized / cost * 100, 4) if cost else 0}
    return {key: number for key, number in full.items() if number}


def _cash(currency: str, amount: float) -> dict[str, Any]:
    return {"symbol": currency, "amount": round(amount, 2), "conversionRate": 1.0,
            "currencySymbol": "$" if currency == "USD" else "", "valueInAccountCurrency":
            round(amount, 2), "securitySymbols": []}


# -------------------------------------------------------------------- rendering


def _time(value: datetime | None) -> str | None:
    return None if value is None else datetime_plain(value)


def _brokerage_name(deployment: Deployment) -> str:
    return PAPER_NAME if deployment.brokerage_id == PAPER else deployment.brokerage_id


def render_algorithm(live: Live, deployment: Deployment) -> dict[str, Any]:
    """A deployment as ``/live/read`` answers it (flat: the envelope's keys beside these)."""
    status = live.status(deployment)
    sim = deployment.simulation
    day = live.day(deployment)
    statistics = sim.runtime_statistics((day + 1) / sim.days) if day is not None else {}
    if status == LIQUIDATED:
        statistics = dict(statistics, Holdings="$0.00", Unrealized="$0.00")
    project = Projects.of(live.account).by_id.get(deployment.project_id)
    return {
        "deployId": deployment.deploy_id,
        "status": status,
        "message": deployment.message,
        "cloneId": deployment.project_id,
        "launched": _time(deployment.launched),
        "stopped": _time(deployment.stopped),
        "brokerage": _brokerage_name(deployment),
        "securityTypes": "Equity",
        "projectName": deployment.project_name,
        "datacenter": "EMULATOR",
        "public": False,
        "isPublicStreaming": False,
        "files": [{"id": None, "projectId": deployment.project_id, "name": name,
                   "content": content, "modified": _time(deployment.launched), "open": False,
                   "isLibrary": False}
                  for name, content in sorted(live_files(live, deployment).items())]
        if project is not None else [],
        "runtimeStatistics": statistics,
        "charts": {name: {"name": name} for name in LIVE_CHARTS},
        "description": f"Paper trading, {SIMULATED_NOTE}",
        "deploymentDetails": {"node": deployment.node_id, "note": SIMULATED_NOTE},
    }


def live_files(live: Live, deployment: Deployment) -> dict[str, str]:
    """The deployed compile's files."""
    build = Compiles.of(live.account).by_id.get(deployment.compile_id)
    return dict(build.files) if build is not None else {}


def render_summary(live: Live, deployment: Deployment) -> dict[str, Any]:
    """A deployment as ``/live/list`` lists it."""
    status = live.status(deployment)
    return {
        "projectId": deployment.project_id,
        "deployId": deployment.deploy_id,
        "status": status,
        "launched": _time(deployment.launched),
        "stopped": _time(deployment.stopped),
        "brokerage": _brokerage_name(deployment),
        "subscription": "Emulator live node",
        "equity": round(max(0.0, live.equity(deployment)), 2),
        "environment": "paper" if deployment.brokerage_id == PAPER else "live",
        "description": SIMULATED_NOTE,
        "error": deployment.message if status == RUNTIME_ERROR else "",
        "leagues": [],
    }


# --------------------------------------------------------------------- handlers


def _project(params: Params) -> int:
    project_id = params.require_int("projectId")
    if project_id < 1:
        raise ParamError(f"Invalid projectId {project_id}")
    return project_id


def _required_text(params: Params, key: str) -> str:
    value = params.require_str(key)
    if not value.strip():
        raise ParamError(f"Parameter '{key}' must not be blank")
    return value.strip()


@action("/live/create")
def _create(account: Account, params: Params) -> dict[str, Any]:
    project_id = _project(params)
    compile_id = _required_text(params, "compileId")
    node_id = _required_text(params, "nodeId")
    version_id = _required_text(params, "versionId")
    brokerage = _brokerage(params.get_raw("brokerage"))
    _object(params.get_raw("dataProviders"), "dataProviders")
    _object(params.get_raw("notification"), "notification")
    raw = _object(params.get_raw("parameters"), "parameters")
    parameters = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    live = Live.of(account)
    deployment = live.create(project_id, compile_id, node_id, brokerage, parameters,
                             version_id=version_id,
                             automatic_redeploy=params.get_bool("automaticRedeploy"))
    return {
        "projectId": project_id,
        "deployId": deployment.deploy_id,
        "versionId": 17_000 if version_id == "-1" else int(version_id)
        if version_id.isdigit() else 17_000,
        "source": "api-v2",
        "responseCode": "OK",
        "live": render_summary(live, deployment),
    }


@action("/live/read")
def _read(account: Account, params: Params) -> dict[str, Any]:
    live = Live.of(account)
    deployment = live.require(_project(params), params.get_str("deployId"))
    return render_algorithm(live, deployment)


@action("/live/list")
def _list(account: Account, params: Params) -> dict[str, Any]:
    live = Live.of(account)
    project_id = params.get_int("projectId")
    status = params.get_str("status")
    if status and status not in LIST_FILTERS:
        raise ParamError(f"Parameter 'status' must be one of {', '.join(LIST_FILTERS)}")
    found = [d for d in live.by_id.values()
             if (project_id is None or d.project_id == project_id)
             and (not status or live.status(d) == status) and live.visible(d)]
    return {"live": [render_summary(live, d) for d in found]}


@action("/live/update/stop")
def _stop(account: Account, params: Params) -> dict[str, Any]:
    Live.of(account).stop(_project(params))
    return {}


@action("/live/update/liquidate")
def _liquidate(account: Account, params: Params) -> dict[str, Any]:
    Live.of(account).liquidate(_project(params))
    return {}


@action("/live/portfolio/read")
def _portfolio(account: Account, params: Params) -> dict[str, Any]:
    live = Live.of(account)
    return {"portfolio": live.portfolio(live.require(_project(params)))}


def _range(params: Params, low: str, high: str, most: int | None) -> tuple[int, int]:
    start = params.get_int(low) or 0
    end = params.require_int(high)
    if start < 0 or end < start:
        raise ParamError(f"Parameters '{low}' and '{high}' must satisfy 0 <= {low} <= {high}")
    if most is not None and end - start > most:
        raise ParamError(f"'{high}' - '{low}' must be at most {most}, got {end - start}")
    return start, end


@action("/live/orders/read")
def _orders(account: Account, params: Params) -> dict[str, Any]:
    live = Live.of(account)
    deployment = live.require(_project(params))
    params.require_int("start")
    start, end = _range(params, "start", "end", MAX_ORDER_RANGE)
    found = live.orders(deployment)
    page = found[start:end]
    # ``length`` is the number returned, as for backtest orders (backtests §7).
    return {"orders": page, "length": len(page)}


@action("/live/insights/read")
def _insights(account: Account, params: Params) -> dict[str, Any]:
    live = Live.of(account)
    live.require(_project(params))
    _range(params, "start", "end", None)
    return {"insights": [], "length": 0}


@action("/live/logs/read")
def _logs(account: Account, params: Params) -> dict[str, Any]:
    live = Live.of(account)
    project_id = _project(params)
    deployment = live.require(project_id, _required_text(params, "algorithmId"))
    params.require_int("startLine")
    start, end = _range(params, "startLine", "endLine", MAX_LOG_LINES)
    lines = live.lines(deployment)
    total = sum(live.line_count(d) for d in live.by_project.get(project_id, []))
    return {"logs": lines[start:end], "length": total, "deploymentOffset": deployment.offset}


@action("/live/chart/read")
def _chart(account: Account, params: Params) -> dict[str, Any]:
    live = Live.of(account)
    deployment = live.require(_project(params))
    name = _required_text(params, "name")
    count = params.require_int("count")
    start, end = params.require_int("start"), params.require_int("end")
    if start > end:
        raise ParamError("Parameter 'start' must not be after 'end'")
    if count < 1:
        raise ParamError("Parameter 'count' must be at least 1")
    return {"chart": live.chart(deployment, name, count, start, end)}


def _command(params: Params) -> dict[str, Any]:
    raw = params.get_raw("command")
    if raw is None:
        raise ParamError("Missing required parameter 'command'")
    command = _object(raw, "command")
    return command


@action("/live/commands/create")
def _command_create(account: Account, params: Params) -> dict[str, Any]:
    live = Live.of(account)
    project_id = _project(params)
    command = _command(params)
    live.command(live.require(project_id), command, "command")
    return {}


@action("/live/commands/broadcast")
def _broadcast(account: Account, params: Params) -> dict[str, Any]:
    organization_id = _required_text(params, "organizationId")
    if organization_id != account.organization_id:
        raise ApiError(f"Organization not found or not accessible: {organization_id[:64]}")
    command = _command(params)
    excluded = params.get_int("excludeProjectId")
    live = Live.of(account)
    for deployment in live.running():
        if deployment.project_id != excluded:
            live.command(deployment, command, "broadcast")
    return {}


# ----------------------------------------------------------------- test controls

control = APIRouter()


class ForceEnd(BaseModel):
    """Body of ``POST /_emulator/live/force-error`` and ``/_emulator/live/force-stop``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    project_id: int = Field(alias="projectId")
    message: str = Field(default="Simulated runtime error", max_length=1_000)


@control.post("/live/force-error")
async def _force_error(request: Request, body: ForceEnd) -> dict[str, Any]:
    """End the project's live algorithm in ``RuntimeError`` now, with ``message``."""
    return _force(request, body, RUNTIME_ERROR)


@control.post("/live/force-stop")
async def _force_stop(request: Request, body: ForceEnd) -> dict[str, Any]:
    """End the project's live algorithm in ``Stopped`` now, as if stopped from elsewhere."""
    return _force(request, body, STOPPED)


def _force(request: Request, body: ForceEnd, state: str) -> dict[str, Any]:
    account = request.app.state.emulator.account
    try:
        deployment = Live.of(account).force_end(body.project_id, state, body.message)
    except ApiError as exc:
        return {"status": "refused", "error": exc.message}
    return {"status": state, "deployId": deployment.deploy_id}


@control.get("/live")
async def _inspect(request: Request) -> dict[str, Any]:
    """Every deployment with its status, node, brokerage and the commands it received."""
    account = request.app.state.emulator.account
    live = Live.of(account)
    with account.lock:
        return {
            "deployments": [
                {"deployId": d.deploy_id, "projectId": d.project_id, "status": live.status(d),
                 "nodeId": d.node_id, "brokerage": d.brokerage_id, "commands": d.commands,
                 "logLines": live.line_count(d)}
                for d in live.by_id.values()
            ],
            "nodes": {node: (live.busy_nodes().get(node).deploy_id  # type: ignore[union-attr]
                             if node in live.busy_nodes() else None)
                      for node in live.node_ids()},
        }
