"""The SVG equity chart: well-formed, labelled, deterministic, bounded in size."""

from __future__ import annotations

import base64
import math
import xml.etree.ElementTree as ET

import pytest

from flows.backtests.charts import downsample, drawdown_of, equity_svg, svg_markdown_image

DAY = 86_400
START = 1_577_836_800  # 2020-01-01 00:00 UTC
SVG = "{http://www.w3.org/2000/svg}"


def wave(n: int) -> list[tuple[float, float]]:
    return [(START + i * DAY, 100_000 * (1 + 0.0004 * i + 0.05 * math.sin(i / 40))) for i in
            range(n)]


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_the_svg_is_well_formed_xml_with_axes_labels_and_dates():
    svg = equity_svg([(START, 100_000.0), (START + 30 * DAY, 90_000.0),
                      (START + 60 * DAY, 120_000.0)], title="SMA <crossover>")
    labels = texts(svg)  # parses: a malformed attribute would raise here
    assert "SMA <crossover>" in labels  # escaped in the document, the title as given
    assert {"$120,000", "$90,000", "2020-01-01", "2020-03-01", "0%", "-10.0%"} <= set(labels)


def test_without_drawdown_there_is_no_drawdown_panel():
    svg = equity_svg(wave(50), drawdown=False)
    assert "Drawdown" not in texts(svg)
    assert len(list(ET.fromstring(svg).iter(f"{SVG}polygon"))) == 0


def test_the_same_input_gives_the_same_bytes():
    assert equity_svg(wave(500)) == equity_svg(wave(500))


def test_a_long_series_is_downsampled_and_keeps_its_extremes():
    points = wave(20_000)
    short = equity_svg(points, max_points=400)
    assert len(short) < 40_000
    assert len(short) < len(equity_svg(points, max_points=4000)) / 5
    kept = downsample(points, 400)
    assert len(kept) <= 400
    assert min(kept, key=lambda p: p[1]) == min(points, key=lambda p: p[1])
    assert max(kept, key=lambda p: p[1]) == max(points, key=lambda p: p[1])
    assert (kept[0], kept[-1]) == (points[0], points[-1])


def test_the_drawdown_is_taken_from_the_full_series_not_the_downsampled_one():
    points = wave(3000)
    worst = min(y for _, y in drawdown_of(points))
    assert f"{worst:.1%}" in texts(equity_svg(points, max_points=40))


def test_one_point_is_not_a_chart():
    with pytest.raises(ValueError, match="at least two points"):
        equity_svg([(START, 1.0)])


def test_the_markdown_image_carries_the_svg_as_a_base64_data_uri():
    svg = equity_svg(wave(10))
    image = svg_markdown_image(svg, "equity [sim]")
    prefix = "![equity sim](data:image/svg+xml;base64,"
    assert image.startswith(prefix) and image.endswith(")")
    assert base64.b64decode(image[len(prefix):-1]).decode() == svg
    assert "<svg" not in image  # the UI strips inline SVG: only the URI may carry it


def test_a_flat_series_still_draws():
    svg = equity_svg([(START, 100_000.0), (START + DAY, 100_000.0)])
    assert {"$100,000", "0%", "0.0%"} <= set(texts(svg))
