"""A backtest's statistics: the service's strings, kept as they are, and numbers parsed from them.

LEAN formats every statistic as text (``"8.443%"``, ``"$1,234.50"``, ``"$-45,915.85"``,
``"8.46 %"``, ``"-"``); a pipeline comparing results needs numbers. :class:`Statistics` keeps the
raw strings (what a person should see) and parses on demand: a percentage becomes a fraction,
currency symbols and thousands separators go, and anything that is not a number is ``None``.

Example:
    >>> stats = Statistics.model_validate({"Sharpe Ratio": "0.19", "Drawdown": "38.900%"})
    >>> stats.number("Sharpe Ratio"), stats.number("Drawdown"), stats.number("Missing")
    (0.19, 0.389, None)
    >>> parse_number("$-45,915.85"), parse_number("8.46 %"), parse_number("-")
    (-45915.85, 0.0846, None)
"""

from __future__ import annotations

import math
import re
from collections.abc import ItemsView, Iterator, KeysView, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

#: Leading currency marks LEAN may write (the account's currency symbol, or a code).
_CURRENCY = re.compile(r"^(?:[$€£¥₹]|[A-Z]{3}\s?)")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def parse_number(text: object) -> float | None:
    """The number a LEAN statistic's text stands for, or None if it is not one.

    Percentages become fractions (``"8.443%"`` → 0.08443); ``$``, thousands separators and
    surrounding spaces are ignored; a minus may come before or after the currency symbol.

    Example:
        >>> parse_number("8.443%"), parse_number("$1,234.50"), parse_number("-$110.30")
        (0.08443, 1234.5, -110.3)
        >>> parse_number("MDB WOU3US9M42N9") is None, parse_number(68)
        (True, 68.0)
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return float(text) if math.isfinite(text) else None
    if not isinstance(text, str):
        return None
    value = text.strip().replace(",", "")
    sign = ""
    if value[:1] in "+-" and value[1:2] and not value[1:2].isdigit():
        sign, value = value[0], value[1:]  # "-$110.30"
    value = _CURRENCY.sub("", value).strip()
    percent = value.endswith("%")
    if percent:
        value = value[:-1].rstrip()
    value = sign + value
    if not _NUMBER.match(value):
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return round(number / 100, 12) if percent else number


class Statistics(BaseModel):
    """Named statistics as the service wrote them, with parsed numbers on demand.

    Built from the wire's ``{name: text}`` map (or ``[]``, the service's empty map). It reads
    like a mapping of the raw strings: ``stats["Sharpe Ratio"]``, ``"Drawdown" in stats``,
    ``len(stats)``, iteration over the names.

    Attributes:
        raw: The service's strings, verbatim.
    """

    model_config = ConfigDict(frozen=True)

    raw: dict[str, str] = {}

    @model_validator(mode="before")
    @classmethod
    def _from_wire(cls, value: Any) -> Any:
        if isinstance(value, Statistics):
            return value
        if isinstance(value, dict) and set(value) == {"raw"} and isinstance(value["raw"], dict):
            value = value["raw"]
        if value is None or value == []:
            return {"raw": {}}
        if isinstance(value, Mapping):
            return {"raw": {str(k): "" if v is None else str(v) for k, v in value.items()}}
        raise ValueError(f"statistics must be a map of name to text, not {type(value).__name__}")

    def number(self, name: str) -> float | None:
        """The statistic ``name`` as a number (percent as a fraction), or None if it is absent
        or not a number."""
        return parse_number(self.raw.get(name))

    def numbers(self) -> dict[str, float | None]:
        """Every statistic parsed (None where the text is not a number)."""
        return {name: parse_number(text) for name, text in self.raw.items()}

    def __getitem__(self, name: str) -> str:
        return self.raw[name]

    def __contains__(self, name: object) -> bool:
        return name in self.raw

    def __len__(self) -> int:
        return len(self.raw)

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        return iter(self.raw)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The raw text of ``name``, or ``default``."""
        return self.raw.get(name, default)

    def items(self) -> ItemsView[str, str]:
        """(name, raw text) pairs."""
        return self.raw.items()

    def keys(self) -> KeysView[str]:
        """The statistics' names."""
        return self.raw.keys()
