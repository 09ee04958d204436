"""Backtest charts (matplotlib, PNG and SVG): value over time per strategy, and allocation drift.

The files are plain images in the ``--charts`` folder so the PDF report can embed them:
``backtest_value.png|svg`` and ``backtest_drift.png|svg``. matplotlib is imported only here, inside
the functions (CLI start-up stays fast). Floats are used for drawing only, never for a figure shown
as a number.
"""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path
from typing import Sequence

from taxreport.rebalance.backtest import PriceGrid, StrategyRun

MAX_POINTS = 2000


def _sample(n: int) -> list[int]:
    if n <= MAX_POINTS:
        return list(range(n))
    step = n / MAX_POINTS
    idx = sorted({int(k * step) for k in range(MAX_POINTS)} | {n - 1})
    return idx


def drift_series(run: StrategyRun, grid: PriceGrid, bars: Sequence[int]) -> dict[str, list[float]]:
    """Weight minus target (percentage points) per member at the given bars (for plotting)."""
    basket = run.strategy.basket
    assets = [s.split("/")[0] for s in grid.symbols]
    starts = [p[0] for p in run.positions]
    out: dict[str, list[float]] = {a: [] for a in basket.weights}
    for i in bars:
        k = bisect_right(starts, i) - 1
        _, qty, cash = run.positions[max(k, 0)]
        values = {a: q * c for a, q, c in zip(assets, qty, grid.closes[i])}
        if basket.quote in basket.weights:
            values[basket.quote] = cash
        total = sum(values.values())
        for asset, target in basket.weights.items():
            weight = float(values.get(asset, 0) / total * 100) if total else 0.0
            out[asset].append(weight - float(target))
    return out


def write_charts(runs: Sequence[StrategyRun], grid: PriceGrid, folder: str | Path, *, title: str = "") -> list[Path]:
    """Write the two charts as PNG and SVG; returns the paths written. The figures are
    ``matplotlib.figure.Figure`` on the Agg canvas, outside pyplot: no backend is switched and no rcParams
    are changed (taxreport used as a library keeps its user's matplotlib state)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bars = _sample(len(grid.times))
    times = [grid.close_time(i) for i in bars]
    quote = runs[0].strategy.basket.quote if runs else ""
    written: list[Path] = []

    fig = _new_figure(figsize=(10, 5))
    ax = fig.subplots()
    styles = ("-", "--", "-.", ":")
    for n, run in enumerate(runs):  # line styles vary so identical strategies stay visible
        ax.plot(times, [float(run.values[i]) for i in bars], label=run.label, linewidth=1.2,
                linestyle=styles[n % len(styles)])
    ax.set_title(f"Portfolio value by strategy{' — ' + title if title else ''}")
    ax.set_ylabel(f"value ({quote})")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    written.extend(_save(fig, folder, "backtest_value"))

    fig = _new_figure(figsize=(10, 2.2 * max(len(runs), 1) + 1))
    axes = fig.subplots(len(runs), 1, sharex=True, squeeze=False)
    for ax, run in zip(axes[:, 0], runs):
        for asset, series in drift_series(run, grid, bars).items():
            ax.plot(times, series, label=asset, linewidth=0.9)
        basket = run.strategy.basket
        if basket.mode in ("threshold", "hybrid") and run.strategy.rebalances and basket.band == "absolute":
            for y in (float(basket.threshold), -float(basket.threshold)):
                ax.axhline(y, color="grey", linestyle="--", linewidth=0.8)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title(run.label, fontsize=9, loc="left")
        ax.set_ylabel("pp from target", fontsize=8)
        ax.grid(True, alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=min(len(runs[0].strategy.basket.weights), 10) if runs else 1, loc="upper right")
    fig.suptitle(f"Allocation drift (weight minus target){' — ' + title if title else ''}")
    fig.autofmt_xdate()
    fig.tight_layout()
    written.extend(_save(fig, folder, "backtest_drift"))
    return written


def _new_figure(figsize: tuple[float, float]):  # noqa: ANN202 - a matplotlib Figure
    """A figure on the Agg canvas (what ``matplotlib.use("Agg")`` + pyplot gave, without pyplot's global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, folder: Path, stem: str) -> list[Path]:  # noqa: ANN001 - a matplotlib Figure
    """Write ``fig`` as ``stem.png`` and ``stem.svg`` in ``folder``.

    The same figure gives the same bytes (:func:`taxreport.clock.generation_time`): the SVG's ``<dc:date>``
    is the generation time (``SOURCE_DATE_EPOCH`` when set) and its clip-path and marker ids are hashed
    with a fixed salt (matplotlib's ``svg.hashsalt``, matplotlibrc: "If not None, use this string as hash
    salt instead of uuid4", a random salt per file); the PNG carries no
    ``Software`` (matplotlib version) entry, as the report's charts (:mod:`taxreport.reports.charts`)."""
    import matplotlib

    from taxreport.clock import generation_time

    metadata = {"png": {"Software": None}, "svg": {"Date": generation_time().isoformat()}}
    paths = [folder / f"{stem}.{ext}" for ext in ("png", "svg")]
    with matplotlib.rc_context({"svg.hashsalt": "taxreport"}):
        for path, ext in zip(paths, ("png", "svg")):
            fig.savefig(path, dpi=120, metadata=metadata[ext])
    return paths
