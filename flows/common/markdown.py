"""Service and algorithm text in markdown artifacts: always data, never markup.

A runtime error, a build log line, a statistic's value or a Variable edited by hand is text from
outside: rendered as it is, three backticks would close a code block and whatever follows would
render as markdown (a forged heading, a remote image fetched when the artifact opens). A block
gets a fence longer than any run of backticks inside it; text inside a line or a table cell has
the characters that start markup escaped and its line breaks made spaces.

Example:
    >>> inline("![x](https://example.com/i.png) | **ok**")
    '!\\\\[x\\\\](https://example.com/i.png) \\\\| \\\\*\\\\*ok\\\\*\\\\*'
    >>> fenced("a ``` b")
    ['````', 'a ``` b', '````']
"""

from __future__ import annotations

import re

#: Characters that open markup inside a line: emphasis, code spans, links and images
#: (``[``/``]``), raw HTML and autolinks (``<``), table cells (``|``), and the escape itself.
_MARKUP = re.compile(r"([\\`*\[\]<>|])")
_BACKTICKS = re.compile(r"`+")


def inline(text: object) -> str:
    """``text`` as plain text inside a markdown line or table cell."""
    flat = " ".join(str(text).splitlines())
    return _MARKUP.sub(r"\\\1", flat)


def fenced(text: str, info: str = "") -> list[str]:
    """``text`` as the lines of a fenced code block that nothing inside it can close."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *text.splitlines(), fence]
