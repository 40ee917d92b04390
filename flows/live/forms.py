"""The forms of the live flows: ``deploy-live`` (what to put live, on which brokerage, and the
guards before it), ``monitor-live`` (what to watch, the limits, what to do on an alarm) and
``stop-live`` (what to stop, guarded like the bulk update).

Paper trading is the default. Real money needs **two** things: ``confirm_real_money: true`` in
the form and the brokerage's credentials in a Prefect ``Secret`` block named by
``brokerage_secret_block`` (never a parameter: flow parameters are stored in Prefect's
database and shown in its UI). A form that names a real brokerage without both is refused
before the run makes a single request.

Example:
    >>> DeployLiveOptions().is_paper
    True
    >>> try:
    ...     DeployLiveOptions(brokerage="InteractiveBrokersBrokerage")
    ... except ValueError as error:
    ...     print("needs confirm_real_money" in str(error))
    True
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flows.backtests.forms import Parameters, StrategyChoice
from flows.backtests.gate import GateOptions, Threshold
from flows.common.options import FiniteFloat, RetryOptions
from flows.common.selection import matches_every_name
from quantconnect_client.models.live import PAPER_BROKERAGE, PAPER_NAMES


class DeployLiveOptions(BaseModel):
    """Form of the ``deploy-live`` flow."""

    model_config = ConfigDict(extra="forbid")

    strategy: StrategyChoice = Field(
        default_factory=StrategyChoice,
        description="What to put live: a folder of the checkout (uploaded to the project named "
        "by live_project_name, created if missing and never deleted) or an existing project.",
    )
    live_project_name: str | None = Field(
        default=None, max_length=200, pattern=r"^[^\x00-\x1f]*$",
        description="For a strategy folder: the project it goes live in (default: "
        "Live/<folder name>). It is kept: a live algorithm lives in its project.",
    )
    brokerage: str = Field(
        default=PAPER_BROKERAGE, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9\-_]+$",
        description="QuantConnectBrokerage = paper trading (no real money). Any other id "
        "trades REAL MONEY and needs confirm_real_money and brokerage_secret_block.",
    )
    confirm_real_money: bool = Field(
        default=False,
        description="I confirm this deploy trades real money (needed for any brokerage but "
        "the paper one).",
    )
    brokerage_secret_block: str | None = Field(
        default=None, max_length=200, pattern=r"^[a-z0-9-]+$",
        description="Name of a Prefect Secret block whose value is a JSON object of the "
        "brokerage's keys (e.g. ib-user-name, ib-password). Never put credentials in a field.",
    )
    node_id: str | None = Field(
        default=None, max_length=100,
        description="The live node (default: the first free one).",
    )
    parameters: Parameters = Field(
        default_factory=dict,
        description="Parameters of the gate's backtest and of the live algorithm.",
    )
    gate_backtest: bool = Field(
        default=True,
        description="Backtest first and deploy only if it completes and passes the gate.",
    )
    gate: GateOptions = Field(
        default_factory=lambda: GateOptions(thresholds={"Total Orders": Threshold(min=1)}),
        description="The regression gate on that backtest; it needs a rule (thresholds or "
        "compare_to_baseline). Default: the backtest placed at least one order.")
    replace: bool = Field(
        default=False,
        description="If the project already has a live algorithm, stop it (after the gate "
        "passed) and deploy this one; without it the run refuses.",
    )
    liquidate_replaced: bool = Field(
        default=False,
        description="When replacing: liquidate the old algorithm's holdings instead of only "
        "stopping it.",
    )
    automatic_redeploy: bool = Field(default=False,
                                     description="Restart the algorithm after a runtime error.")
    compile_timeout_seconds: FiniteFloat = Field(default=300, gt=0, le=3600,
                                                 description="Seconds to wait for the compile.")
    backtest_timeout_minutes: FiniteFloat = Field(
        default=30, gt=0, le=24 * 60, description="Minutes to wait for the gate's backtest.")
    deploy_timeout_minutes: FiniteFloat = Field(
        default=10, gt=0, le=120,
        description="Minutes to wait for the live algorithm to run; a deploy that fails or "
        "is still not running then fails the run, with its logs.",
    )
    lost_answer_seconds: FiniteFloat = Field(
        default=30, gt=0, le=600,
        description="When a deploy's (or liquidation's) answer is lost: seconds to look for "
        "its outcome; it is never sent again, and the run fails if it does not show up.",
    )
    artifact_key: str = Field(default="quantconnect-live-deploy", pattern=r"^[a-z0-9-]+$",
                              max_length=100, description="Key of the report artifact.")
    retries: RetryOptions = Field(default_factory=RetryOptions, description="Task retries.")

    @property
    def is_paper(self) -> bool:
        """Whether the brokerage is paper trading."""
        return self.brokerage.strip().lower() in PAPER_NAMES

    @model_validator(mode="after")
    def _real_money_asked_twice(self) -> DeployLiveOptions:
        if not self.is_paper and not (self.confirm_real_money and self.brokerage_secret_block):
            raise ValueError(
                f"brokerage {self.brokerage!r} trades REAL MONEY: it needs confirm_real_money: "
                "true and brokerage_secret_block (the name of a Secret block holding its "
                "credentials)"
            )
        if self.gate_backtest and not (self.gate.thresholds or self.gate.compare_to_baseline):
            # A gate without a rule passes any completed backtest: it would guard nothing.
            raise ValueError(
                "the gate has no rule, so it would pass any backtest: set gate.thresholds "
                '(e.g. {"Sharpe Ratio": {"min": 0.5}}) or gate.compare_to_baseline: true, or '
                "gate_backtest: false to deploy without a gate"
            )
        if self.liquidate_replaced and not self.replace:
            raise ValueError("liquidate_replaced needs replace: true")
        return self


#: What a form with no project ids and a pattern matching every name must confirm.
EVERY_ALGORITHM_NEEDS_CONFIRMATION = (
    "this selects every live algorithm of the account: set all_algorithms: true to confirm "
    "(or give project_ids, or a name_pattern that leaves some projects out)"
)


class LiveSelection(BaseModel):
    """Which live algorithms a run looks at: by project ids, a name pattern, or all.

    Both given: a project must be in ``project_ids`` **and** match ``name_pattern``.

    Example:
        >>> LiveSelection().selects_everything()
        True
        >>> LiveSelection(project_ids=[3]).selects_everything()
        False
        >>> live = LiveSelection(name_pattern="Live/*")
        >>> live.wants(7, "Live/sma"), live.wants(7, "Other")
        (True, False)
    """

    model_config = ConfigDict(extra="forbid")

    project_ids: list[Annotated[int, Field(gt=0)]] = Field(
        default_factory=list, max_length=1000,
        description="Only these projects (empty: every project the pattern matches).",
    )
    name_pattern: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="Shell-style pattern on the project's full name, e.g. Live/* (empty: any).",
    )

    def selects_everything(self) -> bool:
        """Whether the selection, as written, leaves no project out."""
        return not self.project_ids and (self.name_pattern is None
                                         or matches_every_name(self.name_pattern))

    def wants(self, project_id: int, name: str | None) -> bool:
        """Whether the project is selected (an unknown name never matches a pattern)."""
        if self.project_ids and project_id not in self.project_ids:
            return False
        if self.name_pattern is None:
            return True
        return name is not None and fnmatchcase(name, self.name_pattern)


class MonitorLiveOptions(LiveSelection):
    """Form of the ``monitor-live`` flow. Every limit left empty is not checked.

    Example:
        >>> MonitorLiveOptions().on_alarm
        'none'
        >>> MonitorLiveOptions(max_drawdown_percent=5).max_drawdown_percent
        5.0
    """

    stale_minutes: FiniteFloat | None = Field(
        default=30, gt=0, le=7 * 24 * 60,
        description="Alarm when a running algorithm has written no log line, or no equity "
        "point, for this many minutes.",
    )
    max_drawdown_percent: FiniteFloat | None = Field(
        default=None, gt=0, le=100,
        description="Alarm when equity is this many percent below its peak.",
    )
    max_daily_loss_percent: FiniteFloat | None = Field(
        default=None, gt=0, le=100,
        description="Alarm when today's loss (UTC day) exceeds this percent of the day's "
        "starting equity.",
    )
    max_daily_loss: FiniteFloat | None = Field(
        default=None, gt=0,
        description="Alarm when today's loss (UTC day) exceeds this amount of account "
        "currency.",
    )
    ended_alarm_minutes: FiniteFloat = Field(
        default=10, gt=0, le=7 * 24 * 60,
        description="An algorithm that stopped or failed within this many minutes raises an "
        "alarm (and is shown); one that ended earlier is left out unless named in "
        "project_ids. Keep it above the schedule's interval so no ending is missed.",
    )
    on_alarm: Literal["none", "stop", "liquidate"] = Field(
        default="none",
        description="What to do with a running algorithm that raised an alarm: none (only "
        "report and emit events), stop, or liquidate (sell everything, then stop). Acts only "
        "on the selected algorithms, never on an unknown reading.",
    )
    max_concurrent_reads: int = Field(
        default=8, ge=1, le=32,
        description="Algorithms read at once (their chart and logs). More finish a large "
        "account sooner; fewer keep the monitor far from QuantConnect's rate limit.",
    )
    artifact_key: str = Field(default="quantconnect-live-monitor", pattern=r"^[a-z0-9-]+$",
                              max_length=100, description="Key of the table artifact.")
    retries: RetryOptions = Field(default_factory=RetryOptions, description="Task retries.")


class StopLiveOptions(LiveSelection):
    """Form of the ``stop-live`` flow.

    Example:
        >>> try:
        ...     StopLiveOptions()
        ... except ValueError as error:
        ...     print("all_algorithms" in str(error))
        True
        >>> StopLiveOptions(project_ids=[12]).liquidate, StopLiveOptions(dry_run=True).dry_run
        (False, True)
    """

    liquidate: bool = Field(default=False,
                            description="Sell every holding before stopping.")
    all_algorithms: bool = Field(
        default=False,
        description="Confirm a selection of every live algorithm (no project ids, and no "
        "pattern or one that matches every name).",
    )
    dry_run: bool = Field(default=False,
                          description="Only list what would be stopped; stop nothing.")
    artifact_key: str = Field(default="quantconnect-live-stop", pattern=r"^[a-z0-9-]+$",
                              max_length=100, description="Key of the table artifact.")
    retries: RetryOptions = Field(default_factory=RetryOptions, description="Task retries.")

    @model_validator(mode="after")
    def _everything_is_confirmed(self) -> StopLiveOptions:
        # A dry run stops nothing, so listing everything needs no confirmation.
        if self.selects_everything() and not (self.all_algorithms or self.dry_run):
            raise ValueError(EVERY_ALGORITHM_NEEDS_CONFIRMATION)
        return self
