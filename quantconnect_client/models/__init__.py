"""Typed, lenient models of what the QuantConnect API returns: one module per resource.

Wire keys are camelCase (``projectId``); Python attributes are snake_case (``project_id``).
Unknown keys are ignored and every field but the ids is optional, because a strict model breaks
the day the service adds a field (:mod:`.base` holds the base class and the lenient helpers).
Datetimes are accepted as ``2021-11-26T15:18:27.693Z`` or ``2020-09-30 10:30:00`` and always
come out timezone-aware (UTC). The answers' envelopes (``ProjectList``, ``BacktestEnvelope``,
...) live in their resource's module and are not re-exported: only the operations read them.

Example:
    >>> Project.model_validate({"projectId": 7, "created": "2020-09-30 10:30:00"}).created
    datetime.datetime(2020, 9, 30, 10, 30, tzinfo=datetime.timezone.utc)
"""

from .account import Account, Card, LeanVersion
from .backtests import (
    Backtest,
    BacktestSummary,
    Chart,
    Insight,
    Order,
    OrderSymbol,
    Series,
    TotalPerformance,
)
from .base import WireModel
from .compiles import BUILD_ERROR, BUILD_SUCCESS, IN_QUEUE, Compile, FileParameters
from .files import ProjectFile
from .live import (
    PAPER_BROKERAGE,
    Brokerage,
    CashEntry,
    Holding,
    LiveAlgorithm,
    LiveAlgorithmSummary,
    LiveChart,
    LiveInsights,
    LiveLogs,
    LiveOrders,
    Portfolio,
)
from .nodes import Node, NodeGroups, NodePrice, ProjectNodes
from .projects import (
    RECYCLE_BIN_PREFIX,
    Collaborator,
    EncryptionKey,
    LibraryReference,
    Project,
)
from .statistics import Statistics, parse_number

__all__ = [
    "BUILD_ERROR",
    "BUILD_SUCCESS",
    "IN_QUEUE",
    "PAPER_BROKERAGE",
    "RECYCLE_BIN_PREFIX",
    "Account",
    "Backtest",
    "BacktestSummary",
    "Brokerage",
    "Card",
    "CashEntry",
    "Chart",
    "Collaborator",
    "Compile",
    "EncryptionKey",
    "FileParameters",
    "Holding",
    "Insight",
    "LeanVersion",
    "LibraryReference",
    "LiveAlgorithm",
    "LiveAlgorithmSummary",
    "LiveChart",
    "LiveInsights",
    "LiveLogs",
    "LiveOrders",
    "Node",
    "NodeGroups",
    "NodePrice",
    "Order",
    "OrderSymbol",
    "Portfolio",
    "Project",
    "ProjectFile",
    "ProjectNodes",
    "Series",
    "Statistics",
    "TotalPerformance",
    "WireModel",
    "parse_number",
]
