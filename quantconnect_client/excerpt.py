"""Bounded excerpts of service text, for messages, logs and reports.

An algorithm's runtime error, its stack trace and a build log are the service's (and the
algorithm's) text, of any size: a 3 MB error must not become a 3 MB exception message, and so a
3 MB Prefect state message, log line and artifact. What is shown is the text's start, with a note
of how much was cut and where the whole text is; the typed error keeps the whole text.

Example:
    >>> excerpt("x" * 10, 4, whole="BuildError.logs")
    'xxxx… [6 more characters cut; the whole text: BuildError.logs]'
    >>> excerpt_lines(["a", "b", "c"], 2, whole="BuildError.logs")
    ['a', 'b', '… [1 more line cut; the whole log: BuildError.logs]']
"""

from __future__ import annotations

from collections.abc import Sequence

#: Characters of one piece of service text shown in a message, a log line or a report.
MAX_EXCERPT_CHARACTERS = 2_000
#: Characters of service text inside an exception's message: with the message's own words and
#: the note, the message stays within :data:`MAX_EXCERPT_CHARACTERS`, so a report showing it
#: keeps the note saying where the whole text is.
MAX_MESSAGE_EXCERPT_CHARACTERS = 1_000
#: Lines of a log shown (logged one by one, or rendered).
MAX_EXCERPT_LINES = 50


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def excerpt(text: str, limit: int = MAX_EXCERPT_CHARACTERS, *, whole: str) -> str:
    """``text`` itself when it has at most ``limit`` characters; else its first ``limit``, then
    how many more were cut and where the whole text is (``whole``).

    Args:
        text: The service's text.
        limit: The most characters kept.
        whole: Where a reader finds the whole text, e.g. ``"BacktestRuntimeError.error"``.
    """
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return f"{text[:limit]}… [{_plural(cut, 'more character')} cut; the whole text: {whole}]"


def excerpt_lines(
    lines: Sequence[str],
    limit: int = MAX_EXCERPT_LINES,
    *,
    whole: str,
    line_limit: int = MAX_EXCERPT_CHARACTERS,
) -> list[str]:
    """The first ``limit`` lines, each an :func:`excerpt` of at most ``line_limit`` characters,
    then (when lines were left out) one more saying how many and where the whole log is."""
    shown = [excerpt(line, line_limit, whole=whole) for line in lines[:limit]]
    if len(lines) > limit:
        cut = len(lines) - limit
        shown.append(f"… [{_plural(cut, 'more line')} cut; the whole log: {whole}]")
    return shown


__all__ = [
    "MAX_EXCERPT_CHARACTERS",
    "MAX_EXCERPT_LINES",
    "MAX_MESSAGE_EXCERPT_CHARACTERS",
    "excerpt",
    "excerpt_lines",
]
