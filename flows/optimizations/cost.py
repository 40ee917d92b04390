"""What an optimization would cost, worked out before anything starts.

QuantConnect's estimate answers an id, a time in seconds and the organization's QCC balance, but
no cost: the caller computes it. The formula is the ``lean`` CLI's (``lean cloud optimize``):
30 s of deployment plus 1.5 times the estimate's time per backtest, summed over the backtests and
rounded up to a hundredth of an hour (at least 0.1 h), billed at the node type's price per
node-hour. Whether the estimate's ``time`` is one backtest's or the whole job's is unconfirmed
(``docs/quantconnect-api.md``); reading it as one backtest's, as the CLI does, gives the larger
figure, which is the safe side for a guard.

Example:
    >>> cost = estimate_cost(time_seconds=20, backtests=24, node_type="O2-8", parallel_nodes=4)
    >>> cost.node_hours, cost.wall_hours, cost.dollars
    (0.4, 0.1, 0.06)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Dollars per node-hour of each optimization node type (the ``lean`` CLI's copy of the web
#: IDE's table; QuantConnect's current prices may differ).
NODE_PRICES = {"O2-8": 0.15, "O4-12": 0.30, "O8-16": 0.60}
#: Seconds of deployment the CLI adds per backtest, and its CPU factor on the backtest's time.
DEPLOY_SECONDS = 30.0
CPU_FACTOR = 1.5
#: 100 QCC make one dollar.
QCC_PER_DOLLAR = 100


@dataclass(frozen=True)
class CostEstimate:
    """An optimization's cost, as the guard weighs it."""

    backtests: int
    node_type: str
    parallel_nodes: int
    #: The estimate's ``time`` (seconds), read as one backtest's.
    seconds_per_backtest: float
    #: Billed compute: node-hours over every backtest.
    node_hours: float
    #: How long the job takes with ``parallel_nodes`` at once.
    wall_hours: float
    dollars: float
    #: The organization's QCC balance, as the estimate gave it.
    balance_qcc: float | None = None

    def over(self, max_node_hours: float, max_dollars: float) -> list[str]:
        """What breaks a bound, in words (empty: within both).

        Example:
            >>> for reason in estimate_cost(60, 500, "O8-16", 6).over(2, 5):
            ...     print(reason)
            16.67 node-hours is more than the bound of 2
            $10.01 is more than the bound of $5.00
        """
        reasons = []
        if self.node_hours > max_node_hours:
            reasons.append(f"{self.node_hours:g} node-hours is more than the bound of "
                           f"{max_node_hours:g}")
        if self.dollars > max_dollars:
            reasons.append(f"${self.dollars:.2f} is more than the bound of ${max_dollars:.2f}")
        return reasons


def _up(value: float) -> float:
    """Up to the next hundredth (the CLI's rounding), without float noise."""
    return math.ceil(round(value * 100, 6)) / 100


def estimate_cost(
    time_seconds: float, backtests: int, node_type: str, parallel_nodes: int,
    balance_qcc: float | None = None,
) -> CostEstimate:
    """The cost of ``backtests`` backtests of ``time_seconds`` each on ``parallel_nodes`` nodes.

    Raises:
        ValueError: An unknown node type, or counts below one.
    """
    if node_type not in NODE_PRICES:
        raise ValueError(f"unknown optimization node type {node_type!r}; one of "
                         f"{', '.join(NODE_PRICES)}")
    if backtests < 1 or parallel_nodes < 1:
        raise ValueError("an optimization has at least one backtest and one node")
    seconds = max(0.0, float(time_seconds))
    node_hours = max(0.1, _up((DEPLOY_SECONDS + CPU_FACTOR * seconds) * backtests / 3600))
    return CostEstimate(
        backtests=backtests,
        node_type=node_type,
        parallel_nodes=parallel_nodes,
        seconds_per_backtest=seconds,
        node_hours=node_hours,
        wall_hours=_up(node_hours / parallel_nodes),
        dollars=max(0.01, _up(NODE_PRICES[node_type] * node_hours)),
        balance_qcc=balance_qcc,
    )
