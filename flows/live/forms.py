"""The form of ``deploy-live``: what to put live, on which brokerage, and the guards before it.

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

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flows.backtests.forms import Parameters, StrategyChoice
from flows.backtests.gate import GateOptions, Threshold
from flows.common.options import FiniteFloat, RetryOptions
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
