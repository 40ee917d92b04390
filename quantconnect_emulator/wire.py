"""The formats every resource's JSON shares (each resource renders its own payloads).

A resource module (:mod:`quantconnect_emulator.resources`) writes the keys of
its answers beside its model; what must read the same in every answer is here:
the service's two datetime forms, C#'s ``TimeSpan`` text, and the ``[]`` it
sends for an empty map. Datetimes go out in ``yyyy-MM-dd HH:mm:ss`` (UTC) where
the live service sends that form (projects, files, LEAN versions, backtests),
and in ISO-8601 with milliseconds inside results (orders, trades).

Example:
    >>> from datetime import datetime, timezone
    >>> moment = datetime(2021, 11, 26, 15, 18, 27, 693000, tzinfo=timezone.utc)
    >>> datetime_plain(moment), datetime_iso(moment)
    ('2021-11-26 15:18:27', '2021-11-26T15:18:27.693Z')
    >>> timespan(93_784), empty_map({})
    ('1.02:03:04', [])
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def datetime_iso(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, e.g. ``2021-11-26T15:18:27.693Z``."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def datetime_plain(value: datetime) -> str:
    """The service's other datetime form, ``yyyy-MM-dd HH:mm:ss`` (UTC)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def timespan(seconds: float) -> str:
    """A C# ``TimeSpan`` string: ``d.hh:mm:ss`` (``hh:mm:ss`` under a day)."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}.{clock}" if days else clock


def empty_map(value: dict[str, Any]) -> dict[str, Any] | list[Any]:
    """A map the service sends as ``[]`` when empty (``parameterSet``; other maps are ``{}``)."""
    return value if value else []
