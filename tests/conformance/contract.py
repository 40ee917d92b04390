"""Strict response models of the QuantConnect API v2, written from the contract.

The sources are the contract documents (`quantconnect-api.md`, `quantconnect-api-backtests.md`
with its §7 corrections) and the models they cite: the OpenAPI description as generated into
``QuantConnect/mcp-server`` ``src/models.py`` [OAS], LEAN's ``Common/Api/*.cs`` [LEAN] and the
``lean`` CLI's ``lean/models/api.py`` [CLI]. They are deliberately *not* derived from the
emulator's code: both sides are written from the contract, so a field misread on one side cannot
hide by being misread the same way on the other.

How strict, and why:

- every object forbids keys the contract does not name (``extra="forbid"``), except the few the
  contract calls open (a chart ``Series``, an ``Order`` and its ``properties``, the maps of
  statistics whose keys are data);
- types are exact (``strict=True``): a list where a map belongs fails, ``true`` is no number,
  ``"1"`` is no integer; a field the contract lists is required;
- dates are text in the contract's formats, checked to be real dates;
- one model per *stage* where the contract says a stage changes the shape (a backtest just
  created, queued, running, completed before or after its statistics arrive, failed).

The client's own models (``quantconnect_client``) stay lenient, as a client must be; these live
only in the tests.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# ----------------------------------------------------------------------------- scalars


def _plain_date(text: str) -> str:
    try:
        datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ValueError("not a date in the form yyyy-MM-dd HH:mm:ss") from None
    return text


_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z")


def _any_date(text: str) -> str:
    try:
        if _ISO.fullmatch(text):
            datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
        else:
            datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ValueError("not yyyy-MM-ddTHH:mm:ss[.fff]Z nor yyyy-MM-dd HH:mm:ss") from None
    return text


#: ``yyyy-MM-dd HH:mm:ss`` (UTC): what the live service sends for project and LEAN version dates
#: (backtests §7, from mcp-server issue 11).
PlainDate = Annotated[str, AfterValidator(_plain_date)]
#: Either datetime form the contract admits (backtests §1): ``yyyy-MM-ddTHH:mm:ss[.fff]Z`` or
#: ``yyyy-MM-dd HH:mm:ss``.
AnyDate = Annotated[str, AfterValidator(_any_date)]

Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
#: ``compileId``: two 32-hex hashes joined by ``-`` (backtests §1).
CompileId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}-[0-9a-f]{32}$")]
OptimizationId = Annotated[str, Field(pattern=r"^O-[0-9a-f]{32}$")]
NonEmptyText = Annotated[str, Field(min_length=1)]
#: LEAN writes some decimals as numeric strings; the contract says to accept both forms.
NumericText = Annotated[str, Field(pattern=r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")]
Number = float | NumericText
Fraction = Annotated[float, Field(ge=0, le=1)]


def _exactly(expected: bool) -> AfterValidator:
    # `TrueValue` would also take `1`: a strict bool, then the value.
    def check(value: bool) -> bool:
        if value is not expected:
            raise ValueError(f"should be {str(expected).lower()}")
        return value

    return AfterValidator(check)


TrueValue = Annotated[bool, _exactly(True)]
FalseValue = Annotated[bool, _exactly(False)]
Bit = Annotated[int, Field(ge=0, le=1)]

#: An empty JSON list: the service's form of some empty maps (``parameterSet``, early
#: ``statistics``), allowed only where the contract names it.
EmptyList = Annotated[list[Any], Field(max_length=0)]


class Strict(BaseModel):
    """A closed object: exact types, no key the contract does not name."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Open(BaseModel):
    """An object the contract leaves open: the named keys are typed, others are allowed."""

    model_config = ConfigDict(extra="allow", strict=True)


# ---------------------------------------------------------------------------- envelopes


class Ok(Strict):
    """A success envelope without payload: ``{"success": true, "errors": []}``."""

    success: TrueValue
    errors: EmptyList = Field(default_factory=list)


class AuthenticateOk(Strict):
    """``/authenticate``: exactly ``{"success": true}`` (contract §2)."""

    success: TrueValue


class Failure(Strict):
    """A business error or refused signature: ``success: false`` and a non-empty list of
    non-empty messages (contract §3)."""

    success: FalseValue
    errors: Annotated[list[NonEmptyText], Field(min_length=1)]


# ----------------------------------------------------------------------------- projects


class Collaborator(Strict):
    """[OAS] ``Collaborator`` (contract §4)."""

    uid: int
    liveControl: bool
    permission: Literal["read", "write"]
    publicId: str
    profileImage: str
    email: str
    name: str
    bio: str
    owner: bool


class Library(Strict):
    """[OAS] ``Library``."""

    projectId: int
    libraryName: str
    ownerName: str
    access: bool


class GridChart(Strict):
    """[OAS] ``GridChart``."""

    chartName: str | None = None
    width: int | None = None
    height: int | None = None
    row: int | None = None
    column: int | None = None
    sort: int | None = None


class Grid(Strict):
    """[OAS] ``Grid``: chart layouts by screen size."""

    xs: list[GridChart] | None = None
    sm: list[GridChart] | None = None
    md: list[GridChart] | None = None
    lg: list[GridChart] | None = None
    xl: list[GridChart] | None = None


class EncryptionKey(Strict):
    """[OAS] ``EncryptionKey``."""

    id: str
    name: str


class ProjectParameter(Open):
    """One entry of the list form of ``parameters`` (``{key|name, value, ...}``, contract §4)."""

    value: str | int | float


class Project(Strict):
    """The project model (contract §4; [OAS] ``Project``).

    Required: ``projectId``, ``organizationId``, ``name``, ``modified``, ``created``,
    ``ownerId`` (non-zero), ``language``. The optional keys may be absent or null.
    """

    projectId: int
    organizationId: Hex32
    name: NonEmptyText
    modified: PlainDate
    created: PlainDate
    ownerId: Annotated[int, Field(gt=0)]
    language: Literal["Py", "C#"]
    collaborators: list[Collaborator] | None = None
    leanVersionId: int | None = None
    leanPinnedToMaster: bool | None = None
    owner: bool | None = None
    description: str | None = None
    channelId: str | None = None
    # Three shapes seen (contract §4): `[]`, a list of `{key|name, value}`, a `{name: value}` map.
    parameters: list[ProjectParameter] | dict[str, str | int | float] | None = None
    libraries: list[Library] | None = None
    grid: Grid | None = None
    liveGrid: Grid | None = None
    paperEquity: float | None = None
    lastLiveDeployment: PlainDate | None = None
    liveForm: dict[str, Any] | None = None
    encrypted: bool | None = None
    codeRunning: bool | None = None
    leanEnvironment: int | None = None
    encryptionKey: EncryptionKey | None = None


class LeanVersion(Strict):
    """``LeanVersion``: ``id, created, description, leanHash, leanCloudHash, name, ref, public``
    (contract §4); ``public`` is a boolean in [OAS]; ``created`` in the service's plain form
    (backtests §7)."""

    id: int
    created: PlainDate
    description: str
    leanHash: str
    leanCloudHash: str
    name: str
    ref: str
    public: bool


class ProjectList(Strict):
    """``/projects/create`` and ``/projects/read``: ``projects``, ``versions``."""

    projects: list[Project]
    versions: list[LeanVersion]
    success: TrueValue
    errors: EmptyList = Field(default_factory=list)


class LeanVersions(Strict):
    """``/lean/versions/read``: ``versions`` (backtests §5)."""

    versions: Annotated[list[LeanVersion], Field(min_length=1)]
    success: TrueValue
    errors: EmptyList = Field(default_factory=list)


# -------------------------------------------------------------------------------- files


class ProjectFile(Strict):
    """``ProjectFile``: ``id`` (nullable int), ``projectId``, ``name``, ``content``,
    ``modified``, ``open``, ``isLibrary`` (contract §5)."""

    id: int | None
    projectId: int
    name: NonEmptyText
    content: str
    modified: AnyDate
    open: bool
    isLibrary: bool


class Files(Strict):
    """``/files/create``, ``/files/read`` and a content ``/files/update``: ``files``."""

    files: list[ProjectFile]
    success: TrueValue
    errors: EmptyList = Field(default_factory=list)


# ------------------------------------------------------------------------------ compile


class ParameterDetail(Strict):
    """``{line, type}`` inside FileParameters (backtests §2)."""

    line: int
    type: str


class FileParameters(Strict):
    """``FileParameters``: ``{file, parameters: [{line, type}]}`` (backtests §2)."""

    file: str
    parameters: list[ParameterDetail]


class CompileCreated(Strict):
    """``/compile/create``: ``compileId``, ``state: "InQueue"`` (always, at once),
    ``projectId``, ``signature``, ``signatureOrder``, ``parameters`` (backtests §2)."""

    compileId: CompileId
    state: Literal["InQueue"]
    projectId: int
    signature: str
    signatureOrder: list[str]
    parameters: list[FileParameters]
    success: TrueValue
    errors: EmptyList = Field(default_factory=list)


class CompileRead(Strict):
    """``/compile/read``: ``compileId``, ``state``, ``logs``, and in practice ``projectId``,
    ``signature``, ``signatureOrder`` (backtests §2; [OAS] ``ReadCompileResponse``)."""

    compileId: CompileId
    state: Literal["InQueue", "BuildSuccess", "BuildError"]
    logs: list[str]
    projectId: int | None = None
    signature: str | None = None
    signatureOrder: list[str] | None = None
    success: TrueValue  # a build error is still success:true
    errors: EmptyList = Field(default_factory=list)


class CompileInQueue(CompileRead):
    """A compile still waiting."""

    state: Literal["InQueue"]


class CompileDone(CompileRead):
    """A finished compile: ``logs`` non-empty once done (backtests §2)."""

    state: Literal["BuildSuccess", "BuildError"]
    logs: Annotated[list[str], Field(min_length=1)]


class BuildSuccess(CompileDone):
    state: Literal["BuildSuccess"]


class BuildError(CompileDone):
    state: Literal["BuildError"]


# ------------------------------------------------------------------------ backtest parts

#: The 27 keys of ``statistics`` (backtests §3).
STATISTICS_KEYS = frozenset({
    "Total Orders", "Average Win", "Average Loss", "Compounding Annual Return", "Drawdown",
    "Expectancy", "Start Equity", "End Equity", "Net Profit", "Sharpe Ratio", "Sortino Ratio",
    "Probabilistic Sharpe Ratio", "Loss Rate", "Win Rate", "Profit-Loss Ratio", "Alpha", "Beta",
    "Annual Standard Deviation", "Annual Variance", "Information Ratio", "Tracking Error",
    "Treynor Ratio", "Total Fees", "Estimated Strategy Capacity", "Lowest Capacity Asset",
    "Portfolio Turnover", "Drawdown Recovery",
})  # fmt: skip
#: The 8 keys ``runtimeStatistics`` always holds (the algorithm may add more; backtests §3).
RUNTIME_KEYS = frozenset({
    "Equity", "Fees", "Holdings", "Net Profit", "Probabilistic Sharpe Ratio", "Return",
    "Unrealized", "Volume",
})  # fmt: skip


# Value formats of the two tables (backtests §3). LEAN drops trailing zeros of the ratios and
# writes the account's currency symbol, so the patterns take any number of decimals and any
# non-digit symbol; zero may be written without its `%`.
_NUMBER = r"-?\d+(\.\d+)?"
_PERCENT = _NUMBER + "%?"
_MONEY = r"[^\d\s.,-]{1,3}" + _NUMBER
_GROUPED = r"[^\d\s.,-]{1,3}-?\d{1,3}(,\d{3})*\.\d\d"
STATISTICS_FORMATS: dict[str, str] = {
    "Total Orders": r"\d+", "Average Win": _PERCENT, "Average Loss": _PERCENT,
    "Compounding Annual Return": _PERCENT, "Drawdown": _PERCENT, "Expectancy": _NUMBER,
    "Start Equity": _NUMBER, "End Equity": _NUMBER, "Net Profit": _PERCENT,
    "Sharpe Ratio": _NUMBER, "Sortino Ratio": _NUMBER, "Probabilistic Sharpe Ratio": _PERCENT,
    "Loss Rate": _PERCENT, "Win Rate": _PERCENT, "Profit-Loss Ratio": _NUMBER, "Alpha": _NUMBER,
    "Beta": _NUMBER, "Annual Standard Deviation": _NUMBER, "Annual Variance": _NUMBER,
    "Information Ratio": _NUMBER, "Tracking Error": _NUMBER, "Treynor Ratio": _NUMBER,
    "Total Fees": _MONEY, "Estimated Strategy Capacity": _MONEY,
    "Lowest Capacity Asset": r"(\S+ \S+)?", "Portfolio Turnover": _PERCENT,
    "Drawdown Recovery": r"\d+",
}  # fmt: skip
RUNTIME_FORMATS: dict[str, str] = {
    "Equity": _GROUPED, "Fees": "-" + _GROUPED, "Holdings": _GROUPED, "Net Profit": _GROUPED,
    "Probabilistic Sharpe Ratio": _PERCENT, "Return": _NUMBER + " %", "Unrealized": _GROUPED,
    "Volume": _GROUPED,
}  # fmt: skip


def _formatted(value: dict[str, str], formats: dict[str, str], what: str) -> dict[str, str]:
    wrong = {k: v for k, v in value.items() if k in formats and not re.fullmatch(formats[k], v)}
    if wrong:
        raise ValueError(f"{what} values not in LEAN's format: {wrong}")
    return value


def _statistics(value: dict[str, str]) -> dict[str, str]:
    if set(value) != STATISTICS_KEYS:
        missing, extra = sorted(STATISTICS_KEYS - set(value)), sorted(set(value) - STATISTICS_KEYS)
        raise ValueError(f"statistics keys differ: missing {missing}, extra {extra}")
    return _formatted(value, STATISTICS_FORMATS, "statistics")


def _runtime(value: dict[str, str]) -> dict[str, str]:
    missing = RUNTIME_KEYS - set(value)
    if missing:
        raise ValueError(f"runtimeStatistics lacks {sorted(missing)}")
    return _formatted(value, RUNTIME_FORMATS, "runtimeStatistics")


#: ``statistics`` once completed: 27 string keys, values in LEAN's formats.
StatisticsMap = Annotated[dict[str, str], AfterValidator(_statistics)]
#: ``runtimeStatistics`` once completed: the 8 keys (plus any the algorithm sets), LEAN's formats.
RuntimeMap = Annotated[dict[str, str], AfterValidator(_runtime)]


class Symbol(Strict):
    """``symbol {value, id, permtick}`` of trades and orders."""

    value: str
    id: str
    permtick: str


class Trade(Strict):
    """``closedTrades[]`` (backtests §3): ``direction`` 0 long, 1 short ([OAS] also writes
    ``Long``/``Short``)."""

    symbol: Symbol
    entryTime: AnyDate
    entryPrice: Number
    direction: Bit | Literal["Long", "Short"]
    quantity: Number
    exitTime: AnyDate
    exitPrice: Number
    profitLoss: Number
    totalFees: Number
    mae: Number
    mfe: Number
    duration: str
    endTradeDrawdown: Number


class PortfolioStatistics(Strict):
    """``portfolioStatistics``: fractions, not percents (backtests §3)."""

    averageWinRate: Number
    averageLossRate: Number
    profitLossRatio: Number
    winRate: Number
    lossRate: Number
    expectancy: Number
    startEquity: Number
    endEquity: Number
    compoundingAnnualReturn: Number
    drawdown: Number
    totalNetProfit: Number
    sharpeRatio: Number
    probabilisticSharpeRatio: Number
    sortinoRatio: Number
    alpha: Number
    beta: Number
    annualStandardDeviation: Number
    annualVariance: Number
    informationRatio: Number
    trackingError: Number
    treynorRatio: Number
    portfolioTurnover: Number
    valueAtRisk99: Number
    valueAtRisk95: Number
    drawdownRecovery: Number | None = None  # newer LEAN only


class TradeStatistics(Strict):
    """``tradeStatistics``: 41 fields, durations as text ([OAS] ``TradeStatistics``)."""

    startDateTime: AnyDate | None
    endDateTime: AnyDate | None
    totalNumberOfTrades: int
    numberOfWinningTrades: int
    numberOfLosingTrades: int
    totalProfitLoss: Number
    totalProfit: Number
    totalLoss: Number
    largestProfit: Number
    largestLoss: Number
    averageProfitLoss: Number
    averageProfit: Number
    averageLoss: Number
    averageTradeDuration: str
    averageWinningTradeDuration: str
    averageLosingTradeDuration: str
    medianTradeDuration: str
    medianWinningTradeDuration: str
    medianLosingTradeDuration: str
    maxConsecutiveWinningTrades: int
    maxConsecutiveLosingTrades: int
    profitLossRatio: Number
    winLossRatio: Number
    winRate: Number
    lossRate: Number
    averageMAE: Number
    averageMFE: Number
    largestMAE: Number
    largestMFE: Number
    maximumClosedTradeDrawdown: Number
    maximumIntraTradeDrawdown: Number
    profitLossStandardDeviation: Number
    profitLossDownsideDeviation: Number
    profitFactor: Number
    sharpeRatio: Number
    sortinoRatio: Number
    profitToMaxDrawdownRatio: Number
    maximumEndTradeDrawdown: Number
    averageEndTradeDrawdown: Number
    maximumDrawdownDuration: str
    totalFees: Number


class AlgorithmPerformance(Strict):
    """``totalPerformance`` and the values of ``rollingWindow``:
    ``{tradeStatistics, portfolioStatistics, closedTrades}`` (backtests §3)."""

    tradeStatistics: TradeStatistics
    portfolioStatistics: PortfolioStatistics
    closedTrades: list[Trade]


class ChartSummary(Strict):
    """A value of the backtest's ``charts`` map: ``{name}`` (names only, backtests §3)."""

    name: NonEmptyText


class ResearchGuide(Strict):
    """``researchGuide {minutes, backtestCount, parameters}`` (backtests §3)."""

    minutes: int
    backtestCount: int
    parameters: int


#: ``parameterSet``: ``[]`` when no parameters were given, else the map name -> value.
ParameterSet = EmptyList | Annotated[dict[str, str | int | float], Field(min_length=1)]
RunningStatus = Annotated[str, Field(pattern=r"^Running")]
BacktestStatus = Literal["In Queue...", "Completed.", "Runtime Error"] | RunningStatus


class Backtest(Strict):
    """The Backtest object of ``/backtests/create`` and ``/backtests/read`` (backtests §3, §7).

    Every field the contract lists is required; ``analysis`` and ``serverStatistics`` are the
    newer, optional ones. The stage models below narrow what each stage may send.
    """

    backtestId: Hex32
    projectId: int
    organizationId: Hex32
    name: str
    note: str | None
    status: BacktestStatus
    completed: bool
    progress: Fraction
    error: str | None
    stacktrace: str | None
    hasInitializeError: bool
    created: AnyDate
    backtestStart: AnyDate | None
    backtestEnd: AnyDate | None
    tradeableDates: int
    parameterSet: ParameterSet
    # Before completion any string map (placeholders), `[]`, or absent (LEAN omits a null
    # map); the stages below require the full key sets once results are in.
    statistics: dict[str, str] | EmptyList | None = None
    runtimeStatistics: dict[str, str] | None  # a map or null, never [] (§7)
    totalPerformance: AlgorithmPerformance | None
    charts: dict[str, ChartSummary]  # a map, {} when empty (§7)
    rollingWindow: dict[str, AlgorithmPerformance]  # a map, {} when empty (§7)
    nodeName: str | None
    optimizationId: OptimizationId | None
    snapshotId: int | None
    researchGuide: ResearchGuide
    outOfSampleMaxEndDate: AnyDate | None
    outOfSampleDays: int | None
    analysis: list[Any] | None = None  # LEAN: IReadOnlyList<Analysis>
    serverStatistics: dict[str, str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _absent_not_null(cls, data: Any) -> Any:
        if isinstance(data, dict) and "statistics" in data and data["statistics"] is None:
            raise ValueError("statistics is null: send a map, [] where allowed, or omit it")
        return data

    @model_validator(mode="after")
    def _user_fields_are_the_users(self) -> Backtest:
        # §7: a simulated label belongs in serverStatistics, never in a user field.
        if self.note and "simulated" in self.note.lower():
            raise ValueError(f"note carries a label the user did not write: {self.note!r}")
        return self


class BacktestCreated(Backtest):
    """The create answer: ``In Queue...`` (§7), not completed, ``statistics`` a map or absent
    (never ``[]``), ``runtimeStatistics`` a map or null."""

    status: Literal["In Queue..."]
    completed: FalseValue
    statistics: dict[str, str] | None = None  # type: ignore[assignment]


class BacktestQueued(Backtest):
    """Waiting for a node: ``In Queue...``, progress 0 (backtests §4)."""

    status: Literal["In Queue..."]
    completed: FalseValue
    progress: Annotated[float, Field(ge=0, le=0)]  # type: ignore[assignment]


class BacktestRunning(Backtest):
    """Running: a status starting ``Running``, not completed, no results yet."""

    status: RunningStatus
    completed: FalseValue
    totalPerformance: None  # type: ignore[assignment]


class BacktestCompleted(Backtest):
    """Completed, results in: statistics and runtimeStatistics are maps, no error."""

    status: Literal["Completed."]
    completed: TrueValue
    progress: Annotated[float, Field(ge=1, le=1)]  # type: ignore[assignment]
    statistics: StatisticsMap  # type: ignore[assignment]
    runtimeStatistics: RuntimeMap  # type: ignore[assignment]
    error: None  # type: ignore[assignment]
    stacktrace: None  # type: ignore[assignment]


class BacktestSettled(BacktestCompleted):
    """Completed and settled: ``totalPerformance`` filled in."""

    totalPerformance: AlgorithmPerformance  # type: ignore[assignment]


class BacktestCompletedStatisticsPending(Backtest):
    """The stage the ``lean`` CLI guards against (§7): ``completed: true`` while ``statistics``
    is still ``[]`` or ``runtimeStatistics`` still null."""

    completed: TrueValue

    @model_validator(mode="after")
    def _pending(self) -> BacktestCompletedStatisticsPending:
        if isinstance(self.statistics, dict) and self.runtimeStatistics is not None:
            raise ValueError("statistics and runtimeStatistics are both in: not the pending stage")
        return self


class BacktestRuntimeError(Backtest):
    """Failed: ``Runtime Error`` with the error text."""

    status: Literal["Runtime Error"]
    error: NonEmptyText  # type: ignore[assignment]


INITIALIZE_PREFIX = "During the algorithm initialization, the following exception has occurred:"


class BacktestInitializeError(BacktestRuntimeError):
    """Failed in ``initialize``: ``hasInitializeError`` and the service's prefix on ``error``."""

    hasInitializeError: TrueValue
    error: Annotated[str, Field(pattern="^" + re.escape(INITIALIZE_PREFIX))]  # type: ignore[assignment]


def backtest_answer(stage: type[Backtest]) -> type[BaseModel]:
    """The ``{backtest, debugging}`` envelope around a backtest of ``stage``."""

    class Answer(Strict):
        backtest: stage  # type: ignore[valid-type]
        debugging: bool
        success: TrueValue
        errors: EmptyList = Field(default_factory=list)

    Answer.__name__ = Answer.__qualname__ = f"Answer[{stage.__name__}]"
    return Answer


# ------------------------------------------------------------------------- backtest list


class BacktestSummary(Strict):
    """``BacktestSummary`` (backtests §3; [OAS] ``BacktestSummaryResult``; [LEAN]
    ``BacktestSummary``). The statistics keys are null or absent without ``includeStatistics``
    (unconfirmed which)."""

    backtestId: Hex32
    status: BacktestStatus  # lists must accept `Runtime Error` too
    name: str
    created: AnyDate
    progress: Fraction
    optimizationId: OptimizationId | None
    tradeableDates: int
    parameterSet: ParameterSet
    snapshotId: int | None
    tags: list[str]
    sharpeRatio: float | None = None
    alpha: float | None = None
    beta: float | None = None
    compoundingAnnualReturn: float | None = None
    drawdown: float | None = None
    lossRate: float | None = None
    netProfit: float | None = None
    parameters: int | None = None
    psr: float | None = None
    securityTypes: str | int | None = None  # a string in LEAN, an integer in OpenAPI (§7)
    sortinoRatio: float | None = None
    treynorRatio: float | None = None
    trades: int | None = None
    winRate: float | None = None


SUMMARY_STATISTICS = (
    "sharpeRatio", "alpha", "beta", "compoundingAnnualReturn", "drawdown", "lossRate",
    "netProfit", "parameters", "psr", "securityTypes", "sortinoRatio", "treynorRatio", "trades",
    "winRate",
)  # fmt: skip


class BacktestSummaryWithStatistics(BacktestSummary):
    """With ``includeStatistics``: every statistics key present (a number or null)."""

    @model_validator(mode="before")
    @classmethod
    def _all_present(cls, data: Any) -> Any:
        if isinstance(data, dict):
            missing = [key for key in SUMMARY_STATISTICS if key not in data]
            if missing:
                raise ValueError(f"includeStatistics answer lacks {missing}")
        return data


def backtest_list(summary: type[BacktestSummary]) -> type[BaseModel]:
    """``/backtests/list``: ``{backtests: [summary], count}``, ``count`` = the number listed."""

    class BacktestList(Strict):
        backtests: list[summary]  # type: ignore[valid-type]
        count: int
        success: TrueValue
        errors: EmptyList = Field(default_factory=list)

        @model_validator(mode="after")
        def _count(self) -> BacktestList:
            if self.count != len(self.backtests):
                raise ValueError(f"count {self.count} != {len(self.backtests)} listed")
            return self

    BacktestList.__name__ = BacktestList.__qualname__ = f"BacktestList[{summary.__name__}]"
    return BacktestList


# ------------------------------------------------------------------------ charts, orders

Point = Annotated[list[float], Field(min_length=2, max_length=5)]


class XYPoint(Strict):
    """The ``{x, y}`` point form readers also accept (backtests §3)."""

    x: int | float | str
    y: float | None


class Series(Open):
    """A chart series: ``name, unit, index, seriesType, values, color, ...`` — the contract's
    ``...`` leaves it open (backtests §3)."""

    name: str
    unit: str
    index: int
    seriesType: int  # an open enum: keep unknown values readable
    values: list[Point | XYPoint]
    color: str | None = None
    scatterMarkerSymbol: str | None = None


class Chart(Strict):
    """``Chart``: ``name``, ``chartType`` (0 overlay, 1 stacked), ``series`` {name: Series}."""

    name: NonEmptyText
    chartType: int
    series: dict[str, Series]


class ChartAnswer(Strict):
    """``/backtests/chart/read`` once built: ``{chart}``."""

    chart: Chart
    success: TrueValue
    errors: EmptyList = Field(default_factory=list)


class ChartLoading(Strict):
    """``/backtests/chart/read`` while being built: exactly ``{"status": "loading",
    "progress": n, "success": true}`` (backtests §3; [OAS] ``LoadingResponse``)."""

    status: Literal["loading"]
    progress: float
    success: TrueValue
    errors: EmptyList = Field(default_factory=list)


class OrderSubmissionData(Strict):
    """[OAS] ``OrderSubmissionData``."""

    bidPrice: float
    askPrice: float
    lastPrice: float


class OrderEvent(Open):
    """[OAS] ``OrderEvent`` (typed where named)."""

    orderId: int | None = None
    id: str | None = None
    status: str | int | None = None
    fillPrice: float | None = None
    fillQuantity: float | None = None
    time: int | None = None


class Order(Open):
    """[OAS] ``Order``. The contract gives no closed key list for orders, and LEAN's ``Order``
    carries more than [OAS] names, so the object is open; the named keys are typed, enums kept
    open as integers (contract: numeric enums stay open)."""

    id: int
    contingentId: int
    brokerId: list[str]
    symbol: Symbol
    price: float
    priceCurrency: str
    time: AnyDate
    createdTime: AnyDate
    lastFillTime: AnyDate | None = None
    lastUpdateTime: AnyDate | None = None
    canceledTime: AnyDate | None = None
    limitPrice: float | None = None
    stopPrice: float | None = None
    stopTriggered: bool | None = None
    quantity: float
    type: int
    status: int
    tag: str
    securityType: int
    direction: int
    value: float
    orderSubmissionData: OrderSubmissionData | None = None
    isMarketable: bool | None = None
    properties: dict[str, Any] | None = None
    events: list[OrderEvent] | None = None
    trailingAmount: float | None = None
    trailingPercentage: bool | None = None
    triggerPrice: float | None = None
    triggerTouched: bool | None = None


class Orders(Strict):
    """``/backtests/orders/read``: ``{orders, length}``, ``length`` = the number returned (§7)."""

    orders: list[Order]
    length: int
    success: TrueValue
    errors: EmptyList = Field(default_factory=list)

    @model_validator(mode="after")
    def _length(self) -> Orders:
        if self.length != len(self.orders):
            raise ValueError(f"length {self.length} != {len(self.orders)} orders returned")
        return self


class Insight(Open):
    """[OAS] ``Insight`` (more §4.1): open, as LEAN's insight carries more than [OAS] names;
    ``type`` and ``direction`` kept as open strings."""

    id: Hex32
    groupId: str | None = None
    sourceModel: str
    generatedTime: float
    closeTime: float
    symbol: NonEmptyText  # the symbol id, e.g. "SPY R735QTJ8XC9X"
    ticker: str | None = None
    type: str
    direction: str
    period: float
    magnitude: float | None = None
    confidence: float | None = None
    weight: float | None = None
    reference: float | None = None
    referenceFinal: float | None = None
    scoreFinal: bool | None = None
    scoreDirection: float | None = None
    scoreMagnitude: float | None = None
    estimatedValue: float | None = None
    tag: str | None = None


class Insights(Strict):
    """``/backtests/read/insights``: ``{insights, length}``, ``length`` = the number returned."""

    insights: list[Insight]
    length: int
    success: TrueValue
    errors: EmptyList = Field(default_factory=list)

    @model_validator(mode="after")
    def _length(self) -> Insights:
        if self.length != len(self.insights):
            raise ValueError(f"length {self.length} != {len(self.insights)} insights returned")
        return self


# --------------------------------------------------------------------------------- nodes


class NodePrice(Strict):
    """``price {monthly, yearly}`` (USD, integers in [OAS] and [CLI])."""

    monthly: int
    yearly: int


class Node(Strict):
    """``Node`` (backtests §4)."""

    id: NonEmptyText
    name: str
    sku: NonEmptyText
    description: str
    speed: float
    cpu: int
    ram: float
    hasGpu: Bit
    price: NodePrice
    assets: int
    host: str | None
    busy: bool
    usedBy: str
    userProfile: str
    projectName: str
    projectId: int | None
    active: bool


class NodeSets(Strict):
    """``{backtest: [Node], research: [Node], live: [Node]}``."""

    backtest: list[Node]
    research: list[Node]
    live: list[Node]


class ProjectNodes(Strict):
    """``/projects/nodes/read`` and ``/update``: ``nodes``, ``autoSelectNode`` (backtests §4)."""

    nodes: NodeSets
    autoSelectNode: bool
    success: TrueValue
    errors: EmptyList = Field(default_factory=list)


class OrganizationNodes(NodeSets):
    """``/nodes/read`` (organization level): the lists at the top level, as the ``lean`` CLI
    reads them into ``QCNodeList`` (backtests §7; lean-cli ``node_client.py``)."""

    success: TrueValue
    errors: EmptyList = Field(default_factory=list)


# ------------------------------------------------------------------------------- account


class Card(Strict):
    """``card {brand, expiration "mm/yy", last4}``; ``last4`` is text in [OAS] and a number in
    [LEAN] (§7)."""

    brand: NonEmptyText
    expiration: Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])/\d\d$")]
    last4: Annotated[str, Field(pattern=r"^\d{4}$")] | Annotated[int, Field(ge=0, le=9999)]


class Account(Strict):
    """``/account/read``: ``organizationId``, ``creditBalance``, ``card`` (``null`` for an
    account without a card, §7)."""

    organizationId: Hex32
    creditBalance: float
    card: Card | None
    success: TrueValue
    errors: EmptyList = Field(default_factory=list)


class CreditMovement(Strict):
    """[CLI] ``QCOrganizationCreditMovement``."""

    date: str
    description: str
    type: str
    subtype: str
    amount: float
    balance: float


class Credit(Strict):
    """[CLI] ``QCOrganizationCredit``."""

    movements: list[CreditMovement]
    balance: float


class ProductItem(Strict):
    """[CLI] ``QCOrganizationProductItem``."""

    productId: int
    name: str
    quantity: int
    unitPrice: float
    total: float


class Product(Strict):
    """[CLI] ``QCOrganizationProduct``."""

    name: str
    items: list[ProductItem]


class OrganizationData(Strict):
    """[CLI] ``QCOrganizationData``."""

    signedTime: int | None
    current: bool


class Member(Strict):
    """[CLI] ``QCOrganizationMember``."""

    id: int
    name: str
    isAdmin: bool
    email: str


class Organization(Strict):
    """[CLI] ``QCFullOrganization``: what ``/organizations/read`` answers under
    ``organization`` (contract §6 names the path; the ``lean`` CLI's model gives the keys)."""

    id: Hex32
    name: str
    seats: int
    type: str
    credit: Credit
    products: list[Product]
    data: OrganizationData
    members: list[Member]


class OrganizationAnswer(Strict):
    """``/organizations/read``: ``{organization}``."""

    organization: Organization
    success: TrueValue
    errors: EmptyList = Field(default_factory=list)
