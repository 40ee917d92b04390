"""Parameter forms of the backtest flows (``backtest-strategy``, ``backtest-grid``, the gate).

As the other flows' models: the Prefect UI renders them as forms with help text and drop-downs,
and their JSON schema refuses bad values (an unknown statistic name, a bool as a backtest
parameter, a grid over the cap) before a run is created.

Example:
    >>> grid = GridOptions(grid={"fast": [5, 10], "slow": [30, 60]})
    >>> grid.sets()[:2]
    [{'fast': 5, 'slow': 30}, {'fast': 5, 'slow': 60}]
"""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)

from flows.backtests.gate import GateOptions, NumericStatistic
from flows.common.options import DEFAULT_TEMPORARY_PREFIX, RetryOptions, TemporaryPrefix
from flows.objectstore.forms import DEFAULT_SYNC_MAX_BYTES, SyncOptions
from quantconnect_client.parameters import parameter_key
from quantconnect_client.validation import (
    MAX_PARAMETER_NUMBER,
    MAX_PARAMETER_TEXT_LENGTH,
    MAX_PARAMETERS,
    MIN_PARAMETER_NUMBER,
    NO_CONTROL_CHARACTERS,
    validate_backtest_name,
    validate_parameters,
)

#: A backtest parameter's value: what ``backtests/create`` takes (no bools, lists or objects),
#: within the client's limits (``quantconnect_client.validation.validate_parameters`` owns
#: them; the bounds here put them in the JSON schema, so a form refuses them before a run).
ParameterValue = (
    Annotated[str, Strict(), Field(max_length=MAX_PARAMETER_TEXT_LENGTH)]
    | Annotated[int, Strict(), Field(ge=MIN_PARAMETER_NUMBER, le=MAX_PARAMETER_NUMBER)]
    | Annotated[
        float,
        Strict(),
        Field(allow_inf_nan=False, ge=MIN_PARAMETER_NUMBER, le=MAX_PARAMETER_NUMBER),
    ]
)
ParameterName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_][\w\-.]*$")]
Parameters = Annotated[
    dict[ParameterName, ParameterValue],
    Field(max_length=MAX_PARAMETERS),
    AfterValidator(validate_parameters),
]


def _check_label(label: str | None) -> str | None:
    # A blank label is no label; any other is checked as the backtest name it becomes part of.
    if label is None or not label.strip():
        return None
    return validate_backtest_name(label)


#: The label of a backtest name: the client's rule (no control characters: a newline would be
#: refused only by the start, after the upload and the compile), in the JSON schema too.
BacktestLabel = Annotated[
    str | None,
    Field(max_length=100, pattern=NO_CONTROL_CHARACTERS),
    AfterValidator(_check_label),
]
DEFAULT_STRATEGY = "strategies/sma_crossover_py"
#: The most parameter sets one grid run may backtest (each one costs a node for its duration).
MAX_GRID_SETS = 500


class StrategyChoice(BaseModel):
    """Which strategy: a folder of the checkout (uploaded to a temporary project) or an existing
    cloud project."""

    model_config = ConfigDict(extra="forbid")

    strategy_folder: str | None = Field(
        default=DEFAULT_STRATEGY,
        max_length=500,
        description="Folder with main.py or Main.cs, relative to the checkout (or absolute). "
        "Leave empty to use project_id.",
    )
    project_id: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="An existing QuantConnect project to backtest as it is (never deleted).",
    )
    name_prefix: TemporaryPrefix = Field(
        default=DEFAULT_TEMPORARY_PREFIX,
        description="Prefix of the temporary project's name; the flow run id follows it.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> StrategyChoice:
        folder = (self.strategy_folder or "").strip() or None
        if (folder is None) == (self.project_id is None):
            raise ValueError("give exactly one of strategy_folder and project_id")
        self.strategy_folder = folder
        return self


class JobLimits(BaseModel):
    """How long the service's jobs may take."""

    model_config = ConfigDict(extra="forbid")

    compile_timeout_seconds: float = Field(
        default=300, gt=0, le=3600,
        description="Seconds to wait for a compile; one still queued then fails the run, "
        "naming this timeout (it is not started again).",
    )
    backtest_timeout_minutes: float = Field(
        default=60,
        gt=0,
        le=12 * 60,
        description="The run's deadline for the backtest (QuantConnect stops one at 12 h); "
        "when reached, the backtest is deleted and the run fails saying so.",
    )


class ReportOptions(BaseModel):
    """What the report artifact shows."""

    model_config = ConfigDict(extra="forbid")

    chart: bool = Field(default=True, description="Draw the equity curve.")
    drawdown: bool = Field(default=True, description="Add the drawdown panel to the chart.")
    max_chart_points: int = Field(
        default=400, ge=20, le=5000, description="Longer series are downsampled to this."
    )
    artifact_key: str = Field(
        default="quantconnect-backtest-report",
        pattern=r"^[a-z0-9-]+$",
        max_length=100,
        description="Key of the report artifact (its versions make a history).",
    )


class StrategyData(BaseModel):
    """A local folder published under an Object Store key prefix before the backtest starts,
    so a strategy and the data it reads go together (the ``sync-object-store`` flow's rules:
    unchanged files are not sent again; keys the folder lacks are kept unless
    ``delete_missing``).

    Example:
        >>> StrategyData(folder="data/models", prefix="models/v1").sync_options().prefix
        'models/v1'
    """

    model_config = ConfigDict(extra="forbid")

    folder: str = Field(
        min_length=1,
        max_length=1000,
        description="The local folder (relative: inside the checkout); each file goes to "
        "<prefix>/<its path inside the folder>.",
    )
    prefix: str = Field(
        min_length=1,
        max_length=500,
        description="The key prefix the algorithm reads, e.g. 'models/v1'.",
    )
    delete_missing: bool = Field(
        default=False,
        description="Also delete the keys under the prefix that the folder no longer has.",
    )
    all_keys: bool = Field(
        default=False,
        description="Confirm delete_missing with a match-all prefix ('/', '.'): the whole store.",
    )
    organization_id: str | None = Field(
        default=None, max_length=100, description="The organization (default: the credentials')."
    )
    max_bytes: int = Field(
        default=DEFAULT_SYNC_MAX_BYTES,
        ge=1,
        le=100 * 1024**3,
        description="The largest file published (a larger one refuses the run).",
    )

    @model_validator(mode="after")
    def _valid_sync(self) -> StrategyData:
        self.sync_options()  # the sync form's checks (prefix, delete guard) as field errors
        return self

    def sync_options(self, retries: RetryOptions | None = None) -> SyncOptions:
        """The ``sync-object-store`` form this data's sync runs with."""
        return SyncOptions(
            folder=self.folder, prefix=self.prefix, delete_missing=self.delete_missing,
            all_keys=self.all_keys, organization_id=self.organization_id,
            max_bytes=self.max_bytes, retries=retries or RetryOptions(),
        )


class BacktestOptions(BaseModel):
    """Form of the ``backtest-strategy`` flow."""

    model_config = ConfigDict(extra="forbid")

    strategy: StrategyChoice = Field(default_factory=StrategyChoice, description="What to run.")
    parameters: Parameters = Field(
        default_factory=dict,
        description='Backtest parameters read by get_parameter, e.g. {"fast": 10, "slow": 30}.',
    )
    backtest_name: BacktestLabel = Field(
        default=None,
        description="A label for the backtest; its name always starts with 'prefect <flow run "
        "id>' (how a retried start and the clean-up find it).",
    )
    limits: JobLimits = Field(default_factory=JobLimits, description="Time limits.")
    object_store: StrategyData | None = Field(
        default=None,
        description="A local folder synced to an Object Store key prefix before the backtest "
        "(none: nothing synced). Never deletes unless asked.",
    )
    gate: GateOptions | None = Field(
        default=None, description="Regression gate on the results (none: no gate)."
    )
    delete_backtest: bool = Field(
        default=False,
        description="For an existing project: delete the finished backtest afterwards too "
        "(a temporary project goes with its backtests anyway).",
    )
    report: ReportOptions = Field(default_factory=ReportOptions, description="The artifact.")
    retries: RetryOptions = Field(default_factory=RetryOptions, description="Task retries.")


class GateRunOptions(BaseModel):
    """Form of the ``regression-gate`` flow: gate a backtest that already ran."""

    model_config = ConfigDict(extra="forbid")

    project_id: int = Field(ge=1, le=2**31 - 1, description="The backtest's project.")
    backtest_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$", description="The backtest."
    )
    strategy_key: str = Field(
        min_length=1,
        max_length=100,
        description="Whose baseline: the strategy folder's name (as backtest-strategy uses it) "
        "or any name.",
    )
    gate: GateOptions = Field(description="The rules, and whether to accept a new baseline.")
    artifact_key: str = Field(
        default="quantconnect-regression-gate",
        pattern=r"^[a-z0-9-]+$",
        max_length=100,
        description="Key of the verdict artifact.",
    )
    retries: RetryOptions = Field(default_factory=RetryOptions, description="Task retries.")

    @model_validator(mode="after")
    def _gate_does_something(self) -> GateRunOptions:
        if not self.gate.active:
            raise ValueError("the gate has nothing to do: give thresholds, compare_to_baseline "
                             "or accept_baseline")
        return self


class GridOptions(BaseModel):
    """Form of the ``backtest-grid`` flow: one compile, many parameter sets."""

    model_config = ConfigDict(extra="forbid")

    strategy: StrategyChoice = Field(default_factory=StrategyChoice, description="What to run.")
    # min_length is in the JSON schema, so a server with enforce_parameter_schema refuses an empty
    # value list before a run exists (a model validator only runs once the run has started).
    grid: dict[ParameterName, Annotated[list[ParameterValue], Field(min_length=1)]] | None = Field(
        default=None,
        min_length=1,
        description='Every combination of these values, e.g. {"fast": [5, 10], "slow": [30, 60]}. '
        "LEAN reads parameters as text: values equal as text (10, 10.0 and \"10\") are one "
        "value, and sets equal as text run once.",
    )
    parameter_sets: list[Parameters] | None = Field(
        default=None,
        min_length=1,
        description="Or an explicit list of parameter sets. Sets equal as LEAN reads them (as "
        'text) run once: {"fast": 10}, {"fast": 10.0} and {"fast": "10"} are one set.',
    )
    fixed: Parameters = Field(
        default_factory=dict, description="Parameters added to every set (a set's own win)."
    )
    max_sets: int = Field(
        default=50, ge=1, le=MAX_GRID_SETS, description="Refuse a grid with more sets than this."
    )
    max_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Backtests at once, at most; the account's backtest nodes bound it too.",
    )
    rank_by: NumericStatistic = Field(
        default="Sharpe Ratio", description="Statistic the result table is ranked by."
    )
    order: Literal["best first", "highest first", "lowest first"] = Field(
        default="best first",
        description="Ranking order; 'best first' knows which way is better for each statistic.",
    )
    limits: JobLimits = Field(default_factory=JobLimits, description="Time limits.")
    no_node_wait_seconds: float = Field(
        default=15,
        gt=0,
        le=600,
        description="When the service refuses for lack of a free node: wait at most this long "
        "before submitting again, sooner when one of the run's backtests frees a node (never "
        "counted as the set's failure).",
    )
    retries: RetryOptions = Field(default_factory=RetryOptions, description="Task retries.")

    @model_validator(mode="after")
    def _sets(self) -> GridOptions:
        if (self.grid is None) == (self.parameter_sets is None):
            raise ValueError("give exactly one of grid and parameter_sets")
        count = self.set_count()
        if count > self.max_sets:
            raise ValueError(f"{count} parameter sets, more than max_sets={self.max_sets}")
        return self

    @model_validator(mode="after")
    def _set_sizes(self) -> GridOptions:
        # Each set is sent with the fixed parameters: together they are one backtest's.
        names = [set(self.grid or {})] if self.grid is not None else [
            set(own) for own in self.parameter_sets or []
        ]
        for own in names:
            count = len(own | set(self.fixed))
            if count > MAX_PARAMETERS:
                raise ValueError(
                    f"a parameter set with the fixed parameters has {count} parameters; the "
                    f"maximum is {MAX_PARAMETERS}"
                )
        return self

    def set_count(self) -> int:
        """How many parameter sets this grid makes (without building them)."""
        if self.grid is not None:
            count = 1
            for values in self.grid.values():
                count *= len(values)
            return count if self.grid else 0
        return len(self.parameter_sets or [])

    def sets(self) -> list[dict[str, str | int | float]]:
        """The parameter sets to run, in a stable order (the grid's: last name fastest), each
        over the fixed parameters, duplicates dropped: sets that LEAN sees as equal (it reads
        parameters as text, so ``10``, ``10.0`` and ``"10"`` are one value) run once, with the
        values of their first appearance.

        Example:
            >>> GridOptions(parameter_sets=[{"fast": 10}, {"fast": 10.0}, {"fast": "10"}]).sets()
            [{'fast': 10}]
        """
        if self.grid is not None:
            names = list(self.grid)
            combos = itertools.product(*self.grid.values())
            raw = [dict(zip(names, combo, strict=True)) for combo in combos]
        else:
            raw = [dict(s) for s in self.parameter_sets or []]
        seen: set[tuple[tuple[str, str], ...]] = set()
        result: list[dict[str, str | int | float]] = []
        for own in raw:
            merged: dict[str, str | int | float] = {**self.fixed, **own}
            # LEAN reads parameters as text: sets equal as text run the same backtest.
            key = parameter_key(merged)
            if key not in seen:
                seen.add(key)
                result.append(merged)
        return result
