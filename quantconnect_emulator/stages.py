"""The stages of an emulated backtest job, and the ``status`` texts the service shows.

Kept apart from :mod:`quantconnect_emulator.resources.backtests` (which schedules them and
answers by them) so that any other resource reading a backtest's stage spells it the same.

Example:
    >>> COMPLETED in DONE, RUNNING in DONE
    (True, False)
"""

from __future__ import annotations

RUNNING, COMPLETED, SETTLED, ERROR, QUEUED = "running", "completed", "settled", "error", "queued"
#: ``completed: true`` while the statistics are not in yet (``results_lag_seconds``).
FINISHING = "finishing"
#: The stages in which ``completed`` is true and the run is over.
DONE = (FINISHING, COMPLETED, SETTLED)
#: The stages with the final statistics in.
STATISTICS_IN = (COMPLETED, SETTLED)
STATUS_QUEUED, STATUS_COMPLETED, STATUS_ERROR = "In Queue...", "Completed.", "Runtime Error"
