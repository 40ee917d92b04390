"""An equity curve as a small SVG, and that SVG as a markdown image the Prefect UI shows.

The Prefect UI strips inline ``<svg>`` from markdown artifacts but renders an image whose source
is a ``data:image/svg+xml;base64,...`` URI, so the chart travels as one. The output is a pure
function of the input (fixed number formatting, UTC dates, no random ids), and its size is bounded:
a long series is downsampled to at most ``max_points`` buckets, each keeping its lowest and
highest point so that the worst drawdown and the peak survive.

Example:
    >>> day = 86_400
    >>> points = [(1_577_836_800 + i * day, 100_000 + 500 * i) for i in range(30)]
    >>> svg = equity_svg(points, title="Equity")
    >>> svg.startswith("<svg") and "2020-01-01" in svg and "$114,500" in svg
    True
    >>> svg_markdown_image(svg, "equity").startswith("![equity](data:image/svg+xml;base64,")
    True
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape

#: One chart point: unix seconds and a value (``Series.points()`` of the client gives them, a
#: candle as its close).
Point = tuple[float, float]

DEFAULT_MAX_POINTS = 400
WIDTH = 720
EQUITY_HEIGHT = 240
DRAWDOWN_HEIGHT = 90
_MARGIN_LEFT = 84
_MARGIN_RIGHT = 16
_MARGIN_TOP = 28
_GAP = 26
_AXIS = "#6b7280"
_LINE = "#2563eb"
_DRAWDOWN = "#dc2626"
_FONT = "font-family='sans-serif' font-size='11'"


def downsample(points: Sequence[Point], max_points: int = DEFAULT_MAX_POINTS) -> list[Point]:
    """At most ``max_points`` points: equal-count buckets, each keeping its minimum and maximum
    (in time order), plus the first and last point.

    Example:
        >>> downsample([(float(i), float(i % 7)) for i in range(1000)], 50)[:3]
        [(0.0, 0.0), (6.0, 6.0), (7.0, 0.0)]
        >>> len(downsample([(float(i), float(i)) for i in range(1000)], 50)) <= 50
        True
    """
    if max_points < 4:
        raise ValueError("max_points must be at least 4")
    if len(points) <= max_points:
        return list(points)
    inner = points[1:-1]
    buckets = (max_points - 2) // 2
    kept: list[Point] = [points[0]]
    for index in range(buckets):
        bucket = inner[index * len(inner) // buckets : (index + 1) * len(inner) // buckets]
        if not bucket:
            continue
        low = min(bucket, key=lambda p: p[1])
        high = max(bucket, key=lambda p: p[1])
        kept.extend(sorted({low, high}))
    kept.append(points[-1])
    return kept


def drawdown_of(points: Sequence[Point]) -> list[Point]:
    """The drawdown from the running peak, as a non-positive fraction, at each point.

    Example:
        >>> drawdown_of([(0, 100.0), (1, 120.0), (2, 90.0), (3, 130.0)])
        [(0, 0.0), (1, 0.0), (2, -0.25), (3, 0.0)]
    """
    peak = float("-inf")
    result: list[Point] = []
    for t, y in points:
        peak = max(peak, y)
        result.append((t, (y - peak) / peak if peak > 0 else 0.0))
    return result


def _money(value: float) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.0f}"


def _date(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d")


def _polyline(
    points: Sequence[Point], x_of: dict[str, float], top: float, height: float, lo: float,
    hi: float,
) -> str:
    span_t = (x_of["t1"] - x_of["t0"]) or 1.0
    span_y = (hi - lo) or 1.0
    coords = []
    for t, y in points:
        x = x_of["left"] + (t - x_of["t0"]) / span_t * x_of["width"]
        y_px = top + (hi - y) / span_y * height
        coords.append(f"{x:.1f},{y_px:.1f}")
    return " ".join(coords)


def equity_svg(
    points: Sequence[Point],
    *,
    title: str = "Strategy equity",
    drawdown: bool = True,
    max_points: int = DEFAULT_MAX_POINTS,
) -> str:
    """An SVG line chart of an equity series, with an optional drawdown panel beneath.

    Args:
        points: ``(unix seconds, equity)`` points.
        title: Shown above the chart.
        drawdown: Add a panel with the drawdown from the running peak, computed from the
            full series before downsampling.
        max_points: Bound on the points drawn per line.

    Returns:
        The SVG document (a few tens of kB at most).

    Raises:
        ValueError: For fewer than two points.
    """
    ordered = sorted(points)
    if len(ordered) < 2:
        raise ValueError("an equity chart needs at least two points")
    t0, t1 = ordered[0][0], ordered[-1][0]
    plot_width = WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT
    axis = {"left": float(_MARGIN_LEFT), "width": float(plot_width), "t0": t0, "t1": t1}
    shown = downsample(ordered, max_points)
    lo = min(y for _, y in ordered)
    hi = max(y for _, y in ordered)
    bottom = _MARGIN_TOP + EQUITY_HEIGHT
    # Room under the last panel for its lowest label's descenders.
    total_height = bottom + 36 + ((_GAP + DRAWDOWN_HEIGHT + 12) if drawdown else 0)
    right = _MARGIN_LEFT + plot_width
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{total_height}' "
        f"viewBox='0 0 {WIDTH} {total_height}'>",
        f"<rect width='{WIDTH}' height='{total_height}' fill='#ffffff'/>",
        f"<text x='{_MARGIN_LEFT}' y='18' font-family='sans-serif' font-size='13' "
        "font-weight='bold'>"
        f"{escape(title)}</text>",
        # Axes: left and bottom of the equity panel.
        f"<polyline points='{_MARGIN_LEFT},{_MARGIN_TOP} {_MARGIN_LEFT},{bottom} {right},{bottom}'"
        f" fill='none' stroke='{_AXIS}'/>",
        f"<text x='{_MARGIN_LEFT - 6}' y='{_MARGIN_TOP + 4}' {_FONT} text-anchor='end'>"
        f"{_money(hi)}</text>",
        f"<text x='{_MARGIN_LEFT - 6}' y='{bottom}' {_FONT} text-anchor='end'>{_money(lo)}</text>",
        f"<polyline points='{_polyline(shown, axis, _MARGIN_TOP, EQUITY_HEIGHT, lo, hi)}' "
        f"fill='none' stroke='{_LINE}' stroke-width='1.5'/>",
    ]
    for fraction in (0.0, 0.5, 1.0):
        x = _MARGIN_LEFT + fraction * plot_width
        anchor = {0.0: "start", 0.5: "middle", 1.0: "end"}[fraction]
        parts.append(
            f"<text x='{x:.1f}' y='{bottom + 16}' {_FONT} text-anchor='{anchor}'>"
            f"{_date(t0 + fraction * (t1 - t0))}</text>"
        )
    if drawdown:
        full = drawdown_of(ordered)
        worst = min(y for _, y in full)
        top = bottom + 36 + _GAP
        dd_bottom = top + DRAWDOWN_HEIGHT
        line = _polyline(downsample(full, max_points), axis, top, DRAWDOWN_HEIGHT, worst, 0.0)
        parts += [
            f"<text x='{_MARGIN_LEFT}' y='{top - 8}' {_FONT}>Drawdown</text>",
            f"<polyline points='{_MARGIN_LEFT},{top} {_MARGIN_LEFT},{dd_bottom} "
            f"{right},{dd_bottom}' fill='none' stroke='{_AXIS}'/>",
            f"<text x='{_MARGIN_LEFT - 6}' y='{top + 4}' {_FONT} text-anchor='end'>0%</text>",
            f"<text x='{_MARGIN_LEFT - 6}' y='{dd_bottom}' {_FONT} text-anchor='end'>"
            f"{worst:.1%}</text>",
            f"<polygon points='{_MARGIN_LEFT},{top} {line} {right},{top}' fill='{_DRAWDOWN}' "
            f"fill-opacity='0.25' stroke='{_DRAWDOWN}' stroke-width='1'/>",
        ]
    parts.append("</svg>")
    return "".join(parts)


def svg_markdown_image(svg: str, alt: str) -> str:
    """The SVG as a markdown image with a base64 ``data:`` URI (what the Prefect UI renders)."""
    encoded = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    label = alt.replace("[", "").replace("]", "")
    return f"![{label}](data:image/svg+xml;base64,{encoded})"
