"""The regression gate: thresholds on named statistics and a comparison with the last accepted
baseline of the same strategy, giving a table of what got worse and by how much.

Numbers are the statistics as the client parses them: percentages as fractions (``"38.900%"`` is
0.389, so "drawdown at most 25 %" is ``{"Drawdown": {"max": 0.25}}``), money as plain numbers. A
statistic name the service does not report is refused when the options are built (so a flow's
form refuses it before a run exists), with the list of valid names.

Where the baseline lives: a **Prefect Variable** per strategy (``qc-baseline-<strategy>``). Every
worker reads it with one API call and without knowing which run wrote it; it holds a small JSON
document (the numbers fit well under Prefect's 5,000-character limit); a person can see, edit or
delete it on the UI's Variables page to reset a baseline. An artifact by key would keep a
history, but it is meant for display: reading its latest version back means parsing what was
rendered, and it belongs to a run. The gate's verdict is published as an artifact for people;
the variable is the state.

Example:
    >>> options = GateOptions(thresholds={"Sharpe Ratio": {"min": 0.5}, "Drawdown": {"max": 0.25}})
    >>> result = evaluate_gate({"Sharpe Ratio": 0.4, "Drawdown": 0.2}, options)
    >>> result.passed, [(f.statistic, round(f.by, 3)) for f in result.findings]
    (False, [('Sharpe Ratio', 0.1)])
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, get_args

from prefect.variables import Variable
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic import ValidationError as ModelValidationError

from flows.common.markdown import inline
from flows.common.options import FiniteFloat
from quantconnect_client.parameters import parameter_key

#: The numeric keys of a backtest's ``statistics`` (LEAN's names, as the service sends them).
NumericStatistic = Literal[
    "Total Orders",
    "Average Win",
    "Average Loss",
    "Compounding Annual Return",
    "Drawdown",
    "Expectancy",
    "Start Equity",
    "End Equity",
    "Net Profit",
    "Sharpe Ratio",
    "Sortino Ratio",
    "Probabilistic Sharpe Ratio",
    "Loss Rate",
    "Win Rate",
    "Profit-Loss Ratio",
    "Alpha",
    "Beta",
    "Annual Standard Deviation",
    "Annual Variance",
    "Information Ratio",
    "Tracking Error",
    "Treynor Ratio",
    "Total Fees",
    "Estimated Strategy Capacity",
    "Portfolio Turnover",
    "Drawdown Recovery",
]
NUMERIC_STATISTICS: tuple[str, ...] = get_args(NumericStatistic)
#: All 27 keys: the numeric ones and the one symbol.
STATISTIC_NAMES: tuple[str, ...] = (*NUMERIC_STATISTICS, "Lowest Capacity Asset")
#: Where "worse" has a direction. Others (orders, beta, turnover, equity at the start...) are
#: descriptions, not quality: a threshold on them is allowed, a baseline comparison skips them.
HIGHER_IS_BETTER = frozenset(
    {
        "Average Win",
        "Average Loss",  # negative: closer to zero is better
        "Compounding Annual Return",
        "Expectancy",
        "End Equity",
        "Net Profit",
        "Sharpe Ratio",
        "Sortino Ratio",
        "Probabilistic Sharpe Ratio",
        "Win Rate",
        "Profit-Loss Ratio",
        "Alpha",
        "Information Ratio",
        "Treynor Ratio",
        "Estimated Strategy Capacity",
    }
)
LOWER_IS_BETTER = frozenset(
    {
        "Drawdown",
        "Loss Rate",
        "Annual Standard Deviation",
        "Annual Variance",
        "Total Fees",
        "Drawdown Recovery",
    }
)
#: What a baseline comparison looks at unless told otherwise: the report's headline figures.
DEFAULT_COMPARED: tuple[NumericStatistic, ...] = (
    "Sharpe Ratio",
    "Compounding Annual Return",
    "Drawdown",
    "Net Profit",
    "Probabilistic Sharpe Ratio",
    "Win Rate",
)
BASELINE_PREFIX = "qc-baseline-"


class Threshold(BaseModel):
    """Bounds on one statistic (either or both)."""

    model_config = ConfigDict(extra="forbid")

    min: FiniteFloat | None = Field(
        default=None, description="The statistic must be at least this."
    )
    max: FiniteFloat | None = Field(
        default=None, description="The statistic must be at most this."
    )

    @model_validator(mode="after")
    def _some_bound(self) -> Threshold:
        if self.min is None and self.max is None:
            raise ValueError("a threshold needs min and/or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class GateOptions(BaseModel):
    """What the regression gate checks (percentages as fractions: 25 % is 0.25)."""

    model_config = ConfigDict(extra="forbid")

    thresholds: dict[NumericStatistic, Threshold] = Field(
        default_factory=dict,
        description='Bounds per statistic, e.g. {"Sharpe Ratio": {"min": 0.5}, '
        '"Drawdown": {"max": 0.25}}.',
    )
    compare_to_baseline: bool = Field(
        default=False,
        description="Also compare with the last accepted result of this strategy.",
    )
    compared_statistics: list[NumericStatistic] = Field(
        default_factory=lambda: list(DEFAULT_COMPARED),
        description="Statistics compared with the baseline (only those with a better "
        "direction count).",
    )
    relative_tolerance: FiniteFloat = Field(
        default=0.05,
        ge=0,
        le=10,
        description="Allowed worsening as a fraction of the baseline's magnitude.",
    )
    absolute_tolerance: FiniteFloat = Field(
        default=0.01,
        ge=0,
        description="Allowed worsening in the statistic's own unit, whichever is larger.",
    )
    accept_baseline: Literal["never", "if passed", "always"] = Field(
        default="never",
        description="Store this result as the strategy's new baseline: never, only when the "
        "gate passed, or always (to reset after an intended change).",
    )
    baseline_key: str | None = Field(
        default=None,
        max_length=200,
        pattern=r"^[a-z0-9_\-]+$",
        description="Prefect Variable holding the baseline (default: qc-baseline-<strategy>).",
    )
    fail_run: bool = Field(
        default=True, description="Fail the flow run when the gate finds a regression."
    )
    other_parameters: Literal["warn", "fail"] = Field(
        default="warn",
        description="When the baseline was accepted with other backtest parameters than this "
        "run's (the baseline is kept per strategy, not per parameter set): warn in the "
        "verdict, or fail the comparison. A baseline_key of its own keeps one per set.",
    )

    @model_validator(mode="after")
    def _something_to_compare(self) -> GateOptions:
        if self.compare_to_baseline and not any(
            name in HIGHER_IS_BETTER or name in LOWER_IS_BETTER
            for name in self.compared_statistics
        ):
            raise ValueError(
                "compare_to_baseline needs compared_statistics with a better direction "
                f"(e.g. {', '.join(DEFAULT_COMPARED[:3])}); none of "
                f"{self.compared_statistics} has one"
            )
        return self

    @property
    def active(self) -> bool:
        """Whether there is anything to check or store."""
        return bool(self.thresholds) or self.compare_to_baseline or self.accept_baseline != "never"


class Finding(BaseModel):
    """One statistic that failed a rule."""

    statistic: str
    rule: str = Field(description="e.g. 'min 0.5' or 'baseline 1.2 (higher is better)'.")
    expected: float | None
    actual: float | None
    by: float = Field(description="How much worse, in the statistic's unit (inf if missing).")


#: The largest magnitude a baseline statistic may have. A finite but huge value (hand-edited
#: into the Variable) would make ``relative_tolerance * |baseline|`` overflow to infinity and
#: so allow anything; no LEAN statistic comes near this.
BASELINE_LIMIT = 1e15


def _no_bool(value: Any) -> Any:
    # pydantic reads True as 1.0: a hand-edited `true` is not a statistic.
    if isinstance(value, bool):
        raise ValueError("a baseline statistic must be a number, not a boolean")
    return value


def _bounded(value: float) -> float:
    if abs(value) > BASELINE_LIMIT:
        raise ValueError(f"a baseline statistic must be within ±{BASELINE_LIMIT:g}")
    return value


#: A baseline statistic: a finite number of sensible magnitude, never a boolean.
BaselineNumber = Annotated[FiniteFloat, BeforeValidator(_no_bool), AfterValidator(_bounded)]


def _storable(value: float | None) -> bool:
    return value is None or (math.isfinite(value) and abs(value) <= BASELINE_LIMIT)


class Baseline(BaseModel):
    """The accepted result a later run is compared with."""

    strategy: str
    #: Finite numbers only: a NaN or an infinity (hand-edited into the Variable, say) would
    #: make every comparison with it false, so pass; a huge one would overflow the tolerance.
    statistics: dict[str, BaselineNumber | None]
    accepted_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    flow_run_id: str | None = None
    backtest_id: str | None = None
    parameters: dict[str, str | int | float] = Field(default_factory=dict)


class GateResult(BaseModel):
    """The gate's verdict."""

    passed: bool
    findings: list[Finding] = Field(default_factory=list)
    checked: list[str] = Field(default_factory=list, description="Rules checked, for the report.")
    notes: list[str] = Field(default_factory=list)
    baseline: Baseline | None = None
    accepted: bool = False

    def to_markdown(self) -> str:
        """The verdict and, if anything got worse, a table of it."""
        verdict = "passed ✅" if self.passed else "REGRESSION ❌"
        if self.passed and not self.checked:
            verdict += " (0 rules checked)"  # a first run without a baseline, say: visibly
        lines = [f"### Regression gate: {verdict}", ""]
        if self.baseline is not None:
            # The baseline is a Variable anyone may edit: its text is data, not markdown.
            lines.append(
                f"- Baseline: accepted {self.baseline.accepted_at:%Y-%m-%d %H:%M} UTC"
                f" (backtest {inline(self.baseline.backtest_id or '-')}, parameters "
                f"{inline(_parameters_text(self.baseline.parameters))})"
            )
        lines += [f"- {inline(note)}" for note in self.notes]
        if self.checked:
            lines.append(f"- Checked: {inline('; '.join(self.checked))}")
        if self.findings:
            lines += ["", "| statistic | rule | expected | actual | worse by |",
                      "| --- | --- | ---: | ---: | ---: |"]
            for f in self.findings:
                lines.append(
                    f"| {inline(f.statistic)} | {inline(f.rule)} | {_number(f.expected)} "
                    f"| {_number(f.actual)} | {_number(f.by)} |"
                )
        return "\n".join(lines)


class RegressionError(AssertionError):
    """The gate found a regression; the message holds the table.

    Attributes:
        result: The verdict.
        report: The run's whole report (a ``BacktestReport``: statistics, chart data, what was
            cleaned up), when a flow raised it; ``None`` from :func:`evaluate_gate` users.
    """

    def __init__(self, result: GateResult, report: Any = None) -> None:
        super().__init__(result.to_markdown())
        self.result = result
        self.report = report


def _parameters_text(parameters: Mapping[str, str | int | float]) -> str:
    """Parameters as LEAN reads them, sorted: ``fast=10, slow=30`` (``none`` when empty).

    Example:
        >>> _parameters_text({"slow": 30.0, "fast": "10"}), _parameters_text({})
        ('fast=10, slow=30', 'none')
    """
    pairs = parameter_key(parameters)
    return ", ".join(f"{name}={value}" for name, value in pairs) if pairs else "none"


def _number(value: float | None) -> str:
    if value is None:
        return "missing"
    if math.isinf(value):
        return "∞"
    return f"{value:.6g}"


def baseline_key(strategy: str, simulated: bool = False) -> str:
    """The Prefect Variable name for a strategy's baseline (lowercase, ``-`` for the rest).

    Simulated results (the emulator's) get their own key: they must never become the baseline
    LEAN's results are compared with, nor the other way round.

    Example:
        >>> baseline_key("sma_crossover_py")
        'qc-baseline-sma_crossover_py'
        >>> baseline_key("Project 123 / SMA", simulated=True)
        'qc-baseline-simulated-project-123-sma'
    """
    slug = re.sub(r"[^a-z0-9_]+", "-", strategy.lower()).strip("-") or "strategy"
    return (BASELINE_PREFIX + ("simulated-" if simulated else "") + slug)[:200]


def _shortfall(
    name: str, rule: str, expected: float | None, actual: float | None, worse: float | None,
    allowed: float = 0.0,
) -> Finding | None:
    """The finding for one rule, or None when it holds.

    Only a finite amount within ``allowed`` passes: a missing statistic, a non-finite one, or a
    comparison whose result is not a finite number (NaN compares false with everything) is a
    finding, worse by infinity.
    """
    if (actual is None or worse is None or not math.isfinite(actual) or not math.isfinite(worse)
            or not math.isfinite(allowed)):  # an overflowed tolerance would allow anything
        shown = None if actual is None or math.isnan(actual) else actual
        return Finding(statistic=name, rule=rule, expected=expected, actual=shown, by=math.inf)
    if worse > allowed:
        return Finding(statistic=name, rule=rule, expected=expected, actual=actual, by=worse)
    return None


def _check_thresholds(
    numbers: Mapping[str, float | None], options: GateOptions, result: GateResult
) -> None:
    for name, threshold in options.thresholds.items():
        actual = numbers.get(name)
        for bound, limit in (("min", threshold.min), ("max", threshold.max)):
            if limit is None:
                continue
            rule = f"{bound} {limit:g}"
            result.checked.append(f"{name} {rule}")
            worse = None if actual is None else (
                limit - actual if bound == "min" else actual - limit
            )
            finding = _shortfall(name, rule, limit, actual, worse)
            if finding is not None:
                result.findings.append(finding)


def _same_parameters(
    parameters: Mapping[str, str | int | float],
    baseline: Baseline,
    options: GateOptions,
    result: GateResult,
) -> None:
    """Name a baseline accepted with other parameters than the run's (compared as LEAN reads
    them: ``10`` and ``"10"`` are the same)."""
    if parameter_key(parameters) == parameter_key(baseline.parameters):
        return
    why = (f"the baseline was accepted with other parameters "
           f"({_parameters_text(baseline.parameters)}) than this run's "
           f"({_parameters_text(parameters)})")
    if options.other_parameters == "fail":
        result.findings.append(Finding(statistic="baseline", rule=f"same parameters: {why}",
                                       expected=None, actual=None, by=math.inf))
    else:
        result.notes.append(f"warning: {why}; compared all the same")


def _compare(
    numbers: Mapping[str, float | None],
    baseline: Baseline,
    options: GateOptions,
    result: GateResult,
) -> None:
    compared = 0
    for name in options.compared_statistics:
        if name in HIGHER_IS_BETTER:
            sign, direction = 1.0, "higher is better"
        elif name in LOWER_IS_BETTER:
            sign, direction = -1.0, "lower is better"
        else:
            result.notes.append(f"{name} has no better direction: not compared")
            continue
        before = baseline.statistics.get(name)
        if before is None:
            result.notes.append(f"{name} missing in the baseline: not compared")
            continue
        compared += 1
        actual = numbers.get(name)
        rule = f"baseline {before:.6g} ({direction})"
        result.checked.append(f"{name} vs baseline")
        allowed = max(options.absolute_tolerance, options.relative_tolerance * abs(before))
        worse = None if actual is None else sign * (before - actual)
        finding = _shortfall(name, rule, before, actual, worse, allowed)
        if finding is not None:
            result.findings.append(finding)
    if not compared:
        # Asked to compare and compared nothing (a baseline edited down to `{}`, or holding
        # none of these statistics): that is no evidence of "no regression", so it fails.
        result.findings.append(
            Finding(statistic="baseline", rule="compared 0 statistics: the baseline holds "
                    f"none of {', '.join(options.compared_statistics)}",
                    expected=None, actual=None, by=math.inf)
        )


def evaluate_gate(
    numbers: Mapping[str, float | None],
    options: GateOptions,
    baseline: Baseline | None = None,
    parameters: Mapping[str, str | int | float] | None = None,
) -> GateResult:
    """Check a backtest's numbers against the thresholds and, if asked, the baseline.

    Args:
        numbers: Statistic name → number (None when the service sent ``-`` or nothing).
        options: The rules.
        baseline: The last accepted result, if there is one.
        parameters: The run's backtest parameters: a baseline accepted with others is named
            in the verdict (``options.other_parameters``: a warning, or a finding).

    Returns:
        The verdict; ``findings`` lists what got worse. A missing statistic fails its rule, and
        so does one that is not a finite number. With no baseline yet, the comparison passes
        with a note saying so; a baseline holding none of the compared statistics fails (0
        statistics compared is no evidence of no regression).
    """
    result = GateResult(passed=True, baseline=baseline)
    _check_thresholds(numbers, options, result)
    if options.compare_to_baseline:
        if baseline is None:
            result.notes.append("no baseline yet: nothing to compare with")
        else:
            if parameters is not None:
                _same_parameters(parameters, baseline, options, result)
            _compare(numbers, baseline, options, result)
    result.passed = not result.findings
    return result


def should_accept(options: GateOptions, result: GateResult) -> bool:
    """Whether this result becomes the new baseline (only ever on explicit request)."""
    return options.accept_baseline == "always" or (
        options.accept_baseline == "if passed" and result.passed
    )


async def load_baseline(key: str) -> Baseline | None:
    """The baseline stored under ``key``, or None when there is none yet.

    Raises:
        ValueError: The variable holds something that is not a baseline (edited by hand?),
            such as a statistic that is not a finite number; the message names the variable
            and what is wrong with it.
    """
    value: Any = await Variable.aget(key, default=None)  # type: ignore[func-returns-value]
    if value is None:
        return None
    try:
        return Baseline.model_validate(value)
    except ModelValidationError as error:
        wrong = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'the value'}: {e['msg']}"
            for e in error.errors()[:5]
        )
        raise ValueError(
            f"Prefect Variable {key!r} does not hold a valid baseline ({wrong}); fix it on the "
            "UI's Variables page or delete it to start afresh"
        ) from error


def _key(options: GateOptions, strategy: str, simulated: bool) -> str:
    return options.baseline_key or baseline_key(strategy, simulated)


async def check_baseline(options: GateOptions, strategy: str, simulated: bool = False) -> None:
    """Read the baseline the gate will compare with, so that a Variable edited into something
    that is no baseline fails a run before its backtest takes a node, not after.

    Raises:
        ValueError: As :func:`load_baseline`, naming the Variable.
    """
    if options.compare_to_baseline:
        await load_baseline(_key(options, strategy, simulated))


async def save_baseline(key: str, baseline: Baseline) -> None:
    """Store ``baseline`` under ``key``, replacing the previous one."""
    await Variable.aset(key, baseline.model_dump(mode="json"), overwrite=True,
                        tags=["quantconnect"])


async def run_gate(
    numbers: Mapping[str, float | None],
    options: GateOptions,
    strategy: str,
    *,
    flow_run_id: str | None = None,
    backtest_id: str | None = None,
    parameters: Mapping[str, str | int | float] | None = None,
    simulated: bool = False,
) -> GateResult:
    """Evaluate the gate against the stored baseline and, if asked, store the new one.

    Does not raise on a regression: the caller decides (``options.fail_run``) and raises
    :class:`RegressionError` after publishing its report.

    Args:
        numbers: The backtest's statistics as numbers.
        options: The rules.
        strategy: Whose baseline (see :func:`baseline_key`; ``options.baseline_key`` wins).
        flow_run_id: Recorded with a new baseline.
        backtest_id: Recorded with a new baseline.
        parameters: Recorded with a new baseline.
        simulated: The results are the emulator's (a baseline of their own).
    """
    key = _key(options, strategy, simulated)
    baseline = await load_baseline(key) if options.compare_to_baseline else None
    result = evaluate_gate(numbers, options, baseline, dict(parameters or {}))
    if should_accept(options, result):
        await save_baseline(
            key,
            Baseline(
                strategy=strategy,
                # Only finite numbers within BASELINE_LIMIT (a baseline holds no others): a
                # NaN, infinity or huge value of this run is left out, compared as missing.
                statistics={k: v for k, v in numbers.items() if _storable(v)},
                flow_run_id=flow_run_id,
                backtest_id=backtest_id,
                parameters=dict(parameters or {}),
            ),
        )
        result.accepted = True
        result.notes.append(f"accepted as the new baseline (Prefect Variable {key!r})")
    return result
