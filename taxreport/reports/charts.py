"""Charts for the PDF summary (matplotlib figures on the Agg canvas, PNG bytes; no pyplot, no global
matplotlib state changed: see ``STYLE``). matplotlib is imported inside the functions only, so importing this
module costs nothing.

* :func:`allocation_chart`: current weight vs target weight per asset at the last rebalance of the
  period (from the ``rebalance.plan`` record: weights before that rebalance traded).
* :func:`value_chart`: the basket's total value at each rebalance of the period, in the basket's quote.
* :func:`gains_chart`: the net gain or loss per asset of the period, in the tax currency.

Values are converted to float here only, for drawing; no figure in the report text comes from a chart.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any, Sequence

INK = "#1f2a44"
TARGET = "#9aa5b8"
ACCENT = "#2f6db5"
LOSS = "#a4262c"


# The charts' own style, applied with ``matplotlib.rc_context`` around making AND saving each figure: nothing
# global changes (no backend switched, no rcParams left set), so taxreport used as a library (a notebook) keeps
# its user's matplotlib settings. The figures are ``matplotlib.figure.Figure`` on the Agg canvas, outside pyplot.
STYLE: Any = {"font.family": "DejaVu Sans", "font.size": 8, "axes.edgecolor": "#888888", "axes.linewidth": 0.6,
              "svg.hashsalt": "taxreport", "pdf.fonttype": 42}


@contextmanager
def _figure(width: float, height: float) -> Iterator[tuple[Any, Any]]:
    """``(fig, ax)`` in the charts' style, which holds until the ``with`` block ends (save the figure in it)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), dpi=200)
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.spines["top"].set_visible(False)
        ax.spines["right"].set_visible(False)
        yield fig, ax


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _amounts(values: Sequence[float]):  # noqa: ANN202 - a matplotlib formatter
    """Tick labels with thousands separators, and cents when the amounts are small (a range of a few
    units labelled "-1, -1, -0, 0" says nothing)."""
    from matplotlib.ticker import StrMethodFormatter

    span = max((abs(v) for v in values), default=0.0)
    return StrMethodFormatter("{x:,.0f}" if span >= 100 else "{x:,.2f}")


def allocation_chart(allocation: Sequence[tuple[str, Decimal, Decimal]]) -> bytes:
    """Grouped bars: actual weight vs target weight (percent) per asset."""
    with _figure(6.4, 2.6) as (fig, ax):
        return _allocation(fig, ax, allocation)


def _allocation(fig: Any, ax: Any, allocation: Sequence[tuple[str, Decimal, Decimal]]) -> bytes:
    assets = [a for a, _, _ in allocation]
    xs = range(len(assets))
    actual = [float(w) for _, w, _ in allocation]
    target = [float(t) for _, _, t in allocation]
    width = 0.36
    bars = ax.bar([x - width / 2 for x in xs], actual, width, label="actual", color=ACCENT)
    ax.bar([x + width / 2 for x in xs], target, width, label="target", color=TARGET)
    for bar, value in zip(bars, actual):
        ax.annotate(f"{value:.1f}%", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                    va="bottom", fontsize=7, color=INK, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(list(xs), assets)
    ax.set_ylabel("weight (%)")
    ax.set_ylim(0, max(actual + target + [1]) * 1.2)
    ax.legend(frameon=False, ncols=2, loc="upper right")
    ax.grid(axis="y", color="#e4e4e4", linewidth=0.5)
    ax.set_axisbelow(True)
    return _png(fig)


@contextmanager
def value_figure(values: Sequence[tuple[datetime, Decimal]], currency: str) -> Iterator[tuple[Any, Any]]:
    """The value chart's ``(fig, ax)``, not yet saved, in the charts' style until the ``with`` block ends
    (tests measure its tick labels)."""
    with _figure(6.4, 2.6) as (fig, ax):
        _values(ax, values, currency)
        yield fig, ax


def _values(ax: Any, values: Sequence[tuple[datetime, Decimal]], currency: str) -> None:
    import matplotlib.dates as mdates

    xs = [t for t, _ in values]
    ys = [float(v) for _, v in values]
    ax.plot(xs, ys, color=ACCENT, linewidth=1.4, marker="o" if len(xs) < 40 else None, markersize=3)
    ax.fill_between(xs, ys, min(ys) if ys else 0, color=ACCENT, alpha=0.08)
    ax.set_ylabel(f"value ({currency})" if currency else "value")
    # At most ~7 date ticks whatever the span (a tax year that crosses two calendar years, like the UK's,
    # gave full dates that overlapped); the concise formatter writes the year once, then months.
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.yaxis.set_major_formatter(_amounts(ys))
    ax.grid(axis="y", color="#e4e4e4", linewidth=0.5)
    ax.set_axisbelow(True)


def value_chart(values: Sequence[tuple[datetime, Decimal]], currency: str) -> bytes:
    """Line of the basket's total value at each rebalance."""
    with value_figure(values, currency) as (fig, _ax):
        return _png(fig)


def gains_chart(per_asset: Sequence[tuple[str, Decimal]], currency: str) -> bytes:
    """Horizontal bars: net gain (blue) or loss (red) per asset, the largest amounts first (at most 15
    assets drawn, the rest summed as "other")."""
    items = sorted(per_asset, key=lambda x: abs(x[1]), reverse=True)
    if len(items) > 15:
        items = items[:14] + [("other", sum((g for _, g in items[14:]), Decimal(0)))]
    items.reverse()  # largest at the top
    with _figure(6.4, 0.6 + 0.28 * max(len(items), 2)) as (fig, ax):
        return _gains(fig, ax, items, currency)


def _gains(fig: Any, ax: Any, items: Sequence[tuple[str, Decimal]], currency: str) -> bytes:
    values = [float(g) for _, g in items]
    ax.barh([a for a, _ in items], values, color=[ACCENT if v >= 0 else LOSS for v in values], height=0.6)
    ax.axvline(0, color="#888888", linewidth=0.6)
    ax.set_xlabel(f"net gain / loss ({currency})" if currency else "net gain / loss")
    ax.xaxis.set_major_formatter(_amounts(values))
    ax.grid(axis="x", color="#e4e4e4", linewidth=0.5)
    ax.set_axisbelow(True)
    return _png(fig)
