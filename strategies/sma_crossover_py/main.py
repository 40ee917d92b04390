"""SMA crossover, the project's Python example strategy (our own code, written for this repo).

Holds the chosen equity while its fast simple moving average is above the slow one and stays
in cash otherwise. Parameters (QuantConnect backtest parameters, read with ``get_parameter``):
``fast`` (days, default 10), ``slow`` (days, default 30), ``symbol`` (default ``SPY``) and
``allocation`` (fraction of the portfolio while invested, default 1.0).

Backtest it from Prefect with the ``backtest-strategy`` flow
(``strategy_folder: strategies/sma_crossover_py``), or sweep ``fast``/``slow`` with
``backtest-grid``. It runs only inside LEAN (``AlgorithmImports`` is LEAN's module).
"""

from AlgorithmImports import QCAlgorithm, Resolution, Slice


class SmaCrossover(QCAlgorithm):  # type: ignore[misc]  # LEAN's class, untyped here
    """Long the symbol while SMA(fast) > SMA(slow), flat otherwise."""

    def initialize(self) -> None:
        """Dates, cash, the symbol and both averages (a warm-up fills the slow one)."""
        self.set_start_date(2020, 1, 1)
        self.set_end_date(2023, 12, 31)
        self.set_cash(100_000)
        fast = int(self.get_parameter("fast", 10))
        slow = int(self.get_parameter("slow", 30))
        # Swapped rather than refused: a grid may well try fast > slow, and the mirrored pair is
        # the meaningful one. (A raise here would fail the backtest during initialization.)
        fast, slow = min(fast, slow), max(fast, slow)
        self._allocation = float(self.get_parameter("allocation", 1.0))
        self._symbol = self.add_equity(self.get_parameter("symbol", "SPY"), Resolution.DAILY).symbol
        self._fast = self.sma(self._symbol, fast, Resolution.DAILY)
        self._slow = self.sma(self._symbol, slow, Resolution.DAILY)
        self.set_warm_up(slow, Resolution.DAILY)

    def on_data(self, data: Slice) -> None:
        """Enter on a cross up, leave on a cross down."""
        if self.is_warming_up or not self._slow.is_ready:
            return
        invested = self.portfolio[self._symbol].invested
        above = self._fast.current.value > self._slow.current.value
        if above and not invested:
            self.set_holdings(self._symbol, self._allocation)
        elif not above and invested:
            self.liquidate(self._symbol)
