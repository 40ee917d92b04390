"""Flows that backtest a strategy: one backtest with its report and regression gate
(:mod:`.strategy`), a parameter grid (:mod:`.grid`); :mod:`.pipeline` holds what they share."""
