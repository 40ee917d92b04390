"""An optimization's points as a small SVG: a heatmap when two parameters vary, a line for one.

The Prefect UI renders these as markdown images (:func:`flows.backtests.charts.svg_markdown_image`).
Like the equity chart, the output is a pure function of its input: fixed number formatting, the
cells in the order of their parameter values, no random ids. A point without a value (a failed
backtest, or one a constraint filtered out) is drawn as an empty, hatched-grey cell or a gap in
the line, never as a zero.

Example:
    >>> points = {(5.0, 30.0): 0.4, (5.0, 60.0): 0.9, (10.0, 30.0): None, (10.0, 60.0): 1.2}
    >>> svg = heatmap_svg(points, x_name="fast", y_name="slow", target="Sharpe Ratio")
    >>> svg.startswith("<svg") and ">1.2<" in svg and ">n/a<" in svg
    True
    >>> line = line_svg({5.0: 0.4, 10.0: 1.2, 20.0: None}, x_name="fast", target="Sharpe Ratio")
    >>> line.count("<circle") == 2
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

_FONT = "font-family='sans-serif' font-size='11'"
_AXIS = "#6b7280"
_LINE = "#2563eb"
_EMPTY = "#e5e7eb"
_CELL_WIDTH = 64
_CELL_HEIGHT = 28
_MARGIN_LEFT = 90
_MARGIN_TOP = 46
_MAX_WIDTH = 960
#: Lowest to highest: a light to a dark blue (a colour-blind-safe single hue ramp).
_RAMP = ((239, 246, 255), (30, 64, 175))


def number(value: float) -> str:
    """A parameter or target value as a short label.

    Example:
        >>> number(10.0), number(0.125), number(1234567.0), number(-0.0004)
        ('10', '0.125', '1.235e+06', '-0.0004')
    """
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.4g}"


def _colour(value: float, lo: float, hi: float, higher_is_better: bool) -> str:
    share = 0.5 if hi == lo else (value - lo) / (hi - lo)
    if not higher_is_better:
        share = 1.0 - share
    rgb = [round(a + (b - a) * share) for a, b in zip(*_RAMP, strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _ink(value: float, lo: float, hi: float, higher_is_better: bool) -> str:
    share = 0.5 if hi == lo else (value - lo) / (hi - lo)
    if not higher_is_better:
        share = 1.0 - share
    return "#ffffff" if share > 0.55 else "#111827"


def heatmap_svg(
    points: Mapping[tuple[float, float], float | None],
    *,
    x_name: str,
    y_name: str,
    target: str,
    higher_is_better: bool = True,
    best: tuple[float, float] | None = None,
) -> str:
    """A heatmap of the target over two parameters: one column per value of ``x_name``, one row
    per value of ``y_name``; darker is better (for a minimised target too).

    Args:
        points: ``(x value, y value) -> target value`` (``None``: no value for that point).
        x_name: The parameter across.
        y_name: The parameter down.
        target: The target's name, for the title.
        higher_is_better: Whether the optimization maximises the target.
        best: The chosen point, outlined.

    Raises:
        ValueError: For no points.
    """
    if not points:
        raise ValueError("a heatmap needs at least one point")
    xs = sorted({x for x, _ in points})
    ys = sorted({y for _, y in points})
    values = [v for v in points.values() if v is not None]
    lo, hi = (min(values), max(values)) if values else (0.0, 0.0)
    # Wide grids get narrower cells rather than an image wider than the artifact pane.
    cell_w = max(28, min(_CELL_WIDTH, (_MAX_WIDTH - _MARGIN_LEFT - 20) // len(xs)))
    # Room for the title and the legend line however few the columns.
    width = max(480, _MARGIN_LEFT + cell_w * len(xs) + 20)
    height = _MARGIN_TOP + _CELL_HEIGHT * len(ys) + 44
    direction = "higher" if higher_is_better else "lower"
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}'>",
        f"<rect width='{width}' height='{height}' fill='#ffffff'/>",
        f"<text x='{_MARGIN_LEFT}' y='18' font-family='sans-serif' font-size='13' "
        f"font-weight='bold'>{escape(target)} by {escape(x_name)} and {escape(y_name)}</text>",
        f"<text x='{_MARGIN_LEFT}' y='34' {_FONT} fill='{_AXIS}'>darker is better "
        f"({direction} {escape(target)}); n/a: no result</text>",
        f"<text x='12' y='{_MARGIN_TOP - 8}' {_FONT} font-weight='bold'>{escape(y_name)}</text>",
    ]
    for row, y in enumerate(reversed(ys)):  # the highest value on top, as on a chart's axis
        top = _MARGIN_TOP + row * _CELL_HEIGHT
        parts.append(f"<text x='{_MARGIN_LEFT - 6}' y='{top + _CELL_HEIGHT / 2 + 4:.0f}' "
                     f"{_FONT} text-anchor='end'>{number(y)}</text>")
        for column, x in enumerate(xs):
            left = _MARGIN_LEFT + column * cell_w
            value = points.get((x, y))
            fill = _EMPTY if value is None else _colour(value, lo, hi, higher_is_better)
            ink = _AXIS if value is None else _ink(value, lo, hi, higher_is_better)
            label = "n/a" if value is None else number(round(value, 3))
            outline = (" stroke='#f59e0b' stroke-width='3'" if best == (x, y)
                       else " stroke='#ffffff' stroke-width='1'")
            parts += [
                f"<rect x='{left}' y='{top}' width='{cell_w}' height='{_CELL_HEIGHT}' "
                f"fill='{fill}'{outline}/>",
                f"<text x='{left + cell_w / 2:.0f}' y='{top + _CELL_HEIGHT / 2 + 4:.0f}' {_FONT} "
                f"text-anchor='middle' fill='{ink}'>{label}</text>",
            ]
    bottom = _MARGIN_TOP + _CELL_HEIGHT * len(ys)
    for column, x in enumerate(xs):
        parts.append(f"<text x='{_MARGIN_LEFT + column * cell_w + cell_w / 2:.0f}' "
                     f"y='{bottom + 16}' {_FONT} text-anchor='middle'>{number(x)}</text>")
    parts.append(f"<text x='{_MARGIN_LEFT + cell_w * len(xs) / 2:.0f}' y='{bottom + 34}' "
                 f"{_FONT} text-anchor='middle' font-weight='bold'>{escape(x_name)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def line_svg(
    points: Mapping[float, float | None],
    *,
    x_name: str,
    target: str,
    best: float | None = None,
) -> str:
    """The target over one parameter: a line through the points that have a value, a dot on
    each, the chosen one outlined.

    Raises:
        ValueError: For no points.
    """
    if not points:
        raise ValueError("a line chart needs at least one point")
    width, plot_h, left, top = 720, 200, 70, 44
    plot_w = width - left - 20
    xs = sorted(points)
    known = [(x, v) for x in xs if (v := points[x]) is not None]
    lo = min((v for _, v in known), default=0.0)
    hi = max((v for _, v in known), default=0.0)
    span_x = (xs[-1] - xs[0]) or 1.0
    span_y = (hi - lo) or 1.0

    def at(x: float, y: float) -> tuple[float, float]:
        return (left + (x - xs[0]) / span_x * plot_w if len(xs) > 1 else left + plot_w / 2,
                top + (hi - y) / span_y * plot_h)

    bottom = top + plot_h
    height = bottom + 44
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}'>",
        f"<rect width='{width}' height='{height}' fill='#ffffff'/>",
        f"<text x='{left}' y='18' font-family='sans-serif' font-size='13' font-weight='bold'>"
        f"{escape(target)} by {escape(x_name)}</text>",
        f"<text x='{left}' y='32' {_FONT} fill='{_AXIS}'>a gap: no result at that value</text>",
        f"<polyline points='{left},{top} {left},{bottom} {left + plot_w},{bottom}' fill='none' "
        f"stroke='{_AXIS}'/>",
        f"<text x='{left - 6}' y='{top + 4}' {_FONT} text-anchor='end'>{number(hi)}</text>",
        f"<text x='{left - 6}' y='{bottom}' {_FONT} text-anchor='end'>{number(lo)}</text>",
    ]
    # A gap where a point has no value: each run of known neighbours is its own line.
    run: list[str] = []
    for x in [*xs, None]:
        value = None if x is None else points[x]
        if x is not None and value is not None:
            px, py = at(x, value)
            run.append(f"{px:.1f},{py:.1f}")
            continue
        if len(run) > 1:
            parts.append(f"<polyline points='{' '.join(run)}' fill='none' stroke='{_LINE}' "
                         "stroke-width='1.5'/>")
        run = []
    for x, value in known:
        px, py = at(x, value)
        ring = " stroke='#f59e0b' stroke-width='3'" if best == x else ""
        parts.append(f"<circle cx='{px:.1f}' cy='{py:.1f}' r='4' fill='{_LINE}'{ring}/>")
    for x in xs:
        px, _ = at(x, lo)
        parts.append(f"<text x='{px:.1f}' y='{bottom + 16}' {_FONT} text-anchor='middle'>"
                     f"{number(x)}</text>")
    parts.append(f"<text x='{left + plot_w / 2:.0f}' y='{bottom + 34}' {_FONT} "
                 f"text-anchor='middle' font-weight='bold'>{escape(x_name)}</text>")
    parts.append("</svg>")
    return "".join(parts)
