"""The PDF's charts are readable: the value chart's date labels never overlap (issue #13: the UK value
chart's labels did), over a day, nine days, a UK tax year and three years; amounts keep cents when small."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from taxreport.reports import charts

START = datetime(2024, 4, 6, tzinfo=timezone.utc)  # a UK tax year starts on 6 April


def _series(days: float, step: float) -> list[tuple[datetime, Decimal]]:
    n = int(days / step) + 1
    return [(START + timedelta(days=i * step), Decimal(10000 + (i * 37) % 900)) for i in range(n)]


@pytest.mark.parametrize("days,step", [(1, 1 / 24), (9, 1), (365, 1), (3 * 365, 7), (0, 1)])
def test_value_chart_date_labels_do_not_overlap(days, step):
    with charts.value_figure(_series(days, step), "USDT") as (fig, ax):  # drawn in the charts' style
        fig.tight_layout()
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        labels = [t for t in ax.get_xticklabels() if t.get_text() and t.get_visible()]
        assert 1 <= len(labels) <= 8
        assert all(t.get_fontsize() == 8 for t in labels)  # the style's size, as in the saved PNG
        boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
        for left, right in zip(boxes, boxes[1:]):
            assert left.x1 <= right.x0, [t.get_text() for t in labels]
        inside = fig.bbox
        assert all(b.x0 >= inside.x0 and b.x1 <= inside.x1 for b in boxes)  # none cut off at the edges


def test_small_amounts_keep_their_cents():
    assert charts._amounts([0.4, -1.2])(0.5, 0) == "0.50"
    assert charts._amounts([12_345.6])(12_000, 0) == "12,000"


def test_charts_are_png():
    assert charts.value_chart(_series(9, 1), "USDT")[:8] == b"\x89PNG\r\n\x1a\n"
    png = charts.gains_chart([("BTC", Decimal("12345.6")), ("ETH", Decimal("-2345.6"))], "GBP")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
