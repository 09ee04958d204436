#!/usr/bin/env python3
"""Benchmark: backtest 20 assets on hourly bars over 5 years (43 800 bars), weekly + threshold:5.

Target: the replay of both strategies (planner + paper exchange, Decimal throughout) in < 5 s on a
2-core machine. The seeded synthetic price grid is built first and timed separately; the tax engine
over the resulting fills is timed separately too (``--tax us`` to include it).

    .venv/bin/python benchmarks/bench_backtest.py
    .venv/bin/python benchmarks/bench_backtest.py --profile      # cProfile of the replay
    .venv/bin/python benchmarks/bench_backtest.py --tax us
    .venv/bin/python benchmarks/bench_backtest.py --tax-aware us --assets 3 --years 3   # per-check tax step by age

``--tax-aware CODE`` replays ``weekly+tax-aware`` (every policy of that country; ``--fx`` 0.8 for a non-USD one)
and prints the tax step's time per rebalance (preview + policies + lot identification) by the run's age:
flat means the last rebalances cost about what the first ones do (issue #14). ``--full`` turns off the resumed
tax engine (:mod:`taxreport.rebalance.tax_resume`) to compare.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from taxreport.exchanges.paper import default_markets  # noqa: E402
from taxreport.rebalance.backtest import PriceGrid, Settings, run_backtest  # noqa: E402
from taxreport.rebalance.strategies import parse_strategies  # noqa: E402
from taxreport.rebalance.types import Basket  # noqa: E402

ASSETS = 20
HOURS = 5 * 365 * 24
TICK = Decimal("0.0001")


def synthetic_grid(assets: int = ASSETS, bars: int = HOURS, seed: int = 7,
                   start: datetime = datetime(2020, 1, 1, tzinfo=timezone.utc)) -> tuple[Basket, PriceGrid]:
    rng = random.Random(seed)
    names = [f"A{i:02d}" for i in range(assets)]
    weights = {n: Decimal(100) / assets for n in names}
    basket = Basket(name="bench", exchange="paper", account="paper:bench", quote="USDT", weights=weights)
    prices = [10.0 + 50 * i for i in range(assets)]
    times, closes = [], []
    for t in range(bars):
        market = rng.gauss(0.0, 1.0)
        row = []
        for i in range(assets):
            prices[i] *= 1.0 + 0.006 * (0.6 * market + 0.8 * rng.gauss(0.0, 1.0))
            row.append(Decimal(f"{prices[i]:.4f}").quantize(TICK, rounding=ROUND_HALF_UP))
        times.append(start + timedelta(hours=t))
        closes.append(tuple(row))
    grid = PriceGrid("1h", tuple(f"{n}/USDT" for n in names), tuple(times), tuple(closes))
    return basket, grid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--tax", default=None, help="also run the tax engine for this jurisdiction")
    ap.add_argument("--compare", default="weekly,threshold:5")
    ap.add_argument("--gate", default=None, help="override the basket's 3pp gate (0: weekly always trades)")
    ap.add_argument("--tax-aware", default=None, metavar="CODE",
                    help="replay weekly+tax-aware for this country and time its tax step per rebalance by age")
    ap.add_argument("--full", action="store_true", help="with --tax-aware: no resumed tax engine")
    ap.add_argument("--assets", type=int, default=ASSETS)
    ap.add_argument("--years", type=int, default=5)
    args = ap.parse_args()
    if args.tax_aware:
        tax_aware(args)
        return

    t0 = time.perf_counter()
    basket, grid = synthetic_grid()
    t1 = time.perf_counter()
    markets = default_markets(list(basket.weights), "USDT")
    strategies = parse_strategies(args.compare, basket, gate=Decimal(args.gate) if args.gate else None)
    settings = Settings(initial=Decimal(100000), fee_rate=Decimal("0.001"))
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    t2 = time.perf_counter()
    runs = run_backtest(strategies, grid, markets, settings)
    t3 = time.perf_counter()
    if profiler:
        profiler.disable()
    print(f"grid: {ASSETS} assets x {len(grid.times)} hourly bars built in {t1 - t0:.2f} s (not part of the target)")
    for r in runs:
        print(f"  {r.label:12s} final {r.values[-1]:.2f}  rebalances {r.rebalances}  fills {len(r.trades)}  "
              f"checks {r.checks}  fees {r.fees:.2f}")
    print(f"REPLAY {', '.join(s.label for s in strategies)}: {t3 - t2:.2f} s (target < 5 s)")
    if args.tax:
        from taxreport.rebalance.backtest_tax import estimate

        t4 = time.perf_counter()
        for r in runs:
            e = estimate(r, grid, args.tax)
            print(f"  tax {args.tax} {r.label}: realised {e.realised_gain:.2f} disposals {e.disposals} "
                  f"{'error: ' + e.error if e.error else ''}")
        print(f"TAX ENGINE: {time.perf_counter() - t4:.2f} s")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def tax_aware(args: argparse.Namespace) -> None:
    """The tax step's time per rebalance of a weekly+tax-aware replay, by the run's age (module doc)."""
    from taxreport.jurisdictions.base import get
    from taxreport.rebalance import backtest, tax_resume
    from taxreport.rebalance.backtest import TaxReplay

    if args.full:
        tax_resume.resumable = lambda code, request: False  # type: ignore[assignment]
    start = datetime(2022, 4, 11, tzinfo=timezone.utc)  # the UK allowance table runs to 2025-26
    basket, grid = synthetic_grid(args.assets, args.years * 365 * 24, start=start)
    markets = default_markets(list(basket.weights), "USDT")
    strategies = parse_strategies("weekly+tax-aware", basket, gate=Decimal(0))
    currency = get(args.tax_aware).currency
    fx = {} if currency == "USD" else {currency: Decimal("0.8")}
    times: list[float] = []
    real_adjusted, real_identify = backtest._Replay._tax_adjusted, backtest._Replay._identify

    def timed(real):  # noqa: ANN001, ANN202
        def call(self, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
            t = time.perf_counter()
            try:
                return real(self, *a, **k)
            finally:
                if real is real_adjusted or not times:  # the entry's identification: a rebalance of its own
                    times.append(time.perf_counter() - t)
                else:
                    times[-1] += time.perf_counter() - t
        return call

    backtest._Replay._tax_adjusted = timed(real_adjusted)  # type: ignore[method-assign]
    backtest._Replay._identify = timed(real_identify)  # type: ignore[method-assign]
    t0 = time.perf_counter()
    run = run_backtest(strategies, grid, markets, Settings(initial=Decimal(100000), fee_rate=Decimal("0.001")),
                       tax=[TaxReplay(args.tax_aware, fx)])[0]
    total = time.perf_counter() - t0
    print(f"weekly+tax-aware {args.tax_aware}{' (full)' if args.full else ''}: {args.assets} assets, "
          f"{args.years} years of hourly bars, {run.rebalances} rebalances, {len(run.trades)} fills, "
          f"{len(run.records)} records in {total:.1f} s")
    n = len(times)
    step = max(n // 6, 1)
    print(f"{'rebalances':>12} {'tax step per rebalance (ms, median)':>36}")
    for lo in range(0, n, step):
        part = sorted(times[lo:lo + step])
        if part:
            print(f"{lo + 1:>5}-{lo + len(part):<6} {part[len(part) // 2] * 1000:>36.1f}")


if __name__ == "__main__":
    main()
