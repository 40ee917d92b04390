"""Reliability figures: what tests hand over to be printed at the end of the run.

A test calls :func:`report_figures` (re-exported by ``tests/reliability/conftest.py``). The
figures travel on the test's report (``user_properties``), so they reach the terminal summary of
the process that prints it even when the tests run in pytest-xdist workers; ``tests/conftest.py``
collects and prints them under "reliability figures".
"""

from __future__ import annotations

import json
from collections.abc import Sequence

#: The report property that carries one figures block (a JSON ``[title, lines]``).
PROPERTY = "reliability_figures"

#: Figures reported in this process and not yet attached to a test report.
_pending: list[tuple[str, list[str]]] = []


def report_figures(title: str, lines: Sequence[str]) -> None:
    """Keep figures for the terminal summary (and print them, for ``-s`` runs)."""
    _pending.append((title, list(lines)))
    print(f"\n== {title} ==", *lines, sep="\n")


def take_pending() -> list[tuple[str, str]]:
    """The figures reported since the last call, as report properties."""
    taken = [(PROPERTY, json.dumps([title, lines])) for title, lines in _pending]
    _pending.clear()
    return taken


def decode(value: object) -> tuple[str, list[str]]:
    """One figures block back from its report property."""
    title, lines = json.loads(str(value))
    return str(title), [str(line) for line in lines]
