"""Per-check cost of the basket bot against the basket's age (issue #11: "the bot gets slower every
day"). A paper basket (gate 0, so every weekly check trades) runs N simulated weeks in one ledger;
every ``--every`` weeks we time one complete scheduled check (recover + sync the basket's book +
plan from its own holdings + trade) in a fresh process-like state: a new Executor and Journal that
start from the book checkpoint, like a cron ``rebalance run --if-due``.

Usage: ``.venv/bin/python benchmarks/bench_basket_age.py [WEEKS] [--every K] [--tax us|uk|de|au|ca] [--full|--cron]``
(default 104, 13). ``--tax`` makes the basket tax-aware (every policy of that country; a non-USD country gets
a stored daily USD rate to its currency and ``--fx``); ``--full`` turns off the resumed tax engine
(:mod:`taxreport.rebalance.tax_resume`) to compare with the computation over the whole ledger at every check; ``--cron`` runs every check as a new
process does (cron ``rebalance run --if-due``, a systemd timer): a new Ledger object and no engine state or
verified events in memory, only the engine state the previous check saved on disk (``tax_resume.save_states``).
Two figures: the whole check including its trades (dominated by the ledger's appends, one transaction
per order intent, update and fill), and the bot's own part (book sync from the checkpoint, recovery,
balances, plan). Flat means the last figure is about the first one, not ten times it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal

D = Decimal


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("weeks", type=int, nargs="?", default=104)
    ap.add_argument("--every", type=int, default=13)
    ap.add_argument("--tax", metavar="JURISDICTION", default=None,
                    help="a tax-aware basket (issue #15): [tax] with every policy of that country on; adds the "
                         "tax step's own time (preview + policies) as a column")
    ap.add_argument("--full", action="store_true", help="no resumed tax engine: the whole ledger at every check")
    ap.add_argument("--cron", action="store_true", help="every check as in a new process: nothing kept in memory "
                    "between checks (the engine state the previous check saved on disk is read back)")
    ap.add_argument("--start", default="2026-01-05", help="the first week (UTC date); the UK's allowance table "
                    "ends with 2025-26, so --tax uk needs e.g. --start 2023-04-10 for 157 weeks")
    args = ap.parse_args()
    if args.full:
        from taxreport.rebalance import tax_resume

        tax_resume.resumable = lambda code, request: False  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as home:
        os.environ["TAXREPORT_HOME"] = home
        from taxreport.exchanges.paper import PaperExchange, default_markets
        from taxreport.ledger import Ledger
        from taxreport.model.events import Deposit
        from taxreport.rebalance.executor import ExecConfig, Executor
        from taxreport.rebalance.journal import Journal
        from taxreport.rebalance.runner import RunnerState, check_if_due, look, plan_for
        from taxreport.rebalance.types import Basket

        basket = Basket(name="bench", exchange="paper", account="paper:main", quote="USDT",
                        weights={"BTC": D(50), "ETH": D(30), "SOL": D(20)}, mode="weekly", gate=D(0))
        if args.tax:
            from dataclasses import replace

            from taxreport.rebalance.tax_policy import tax_aware_defaults

            basket = replace(basket, tax=tax_aware_defaults(args.tax))
        led = Ledger(f"sqlite:///{home}/ledger.sqlite3")
        start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
        ex = PaperExchange(markets=default_markets(["BTC", "ETH", "SOL"]), now=start, id_prefix="bench")
        fx: dict[str, Decimal] | None = None
        if args.tax:
            from datetime import timedelta

            from taxreport.jurisdictions.base import get
            from taxreport.prices.store import RateRow, write_rates

            currency = get(args.tax).currency
            if currency != "USD":  # a daily USD rate to the country's currency, and the same as --fx
                fx = {currency: D("0.8")}
                write_rates(led, [RateRow("USD", currency, start + timedelta(days=k), fx[currency], "bench")
                                  for k in range(-1, args.weeks * 7 + 2)])
        for asset, price in (("BTC", D(60000)), ("ETH", D(3000)), ("SOL", D(150))):
            ex.set_price(asset, price)
        ex.deposit("USDT", D(10000), ref="bench:fund")
        led.append([Deposit(time=ex.now, source="paper", external_id="bench:fund", account="paper:main",
                            asset="USDT", quantity=D(10000), cost=D(10000), cost_currency="USD")],
                   actor="manual", reason="bench")
        Journal(led, "bench", "paper:main", "paper", ex.clock).record(
            "basket.invest", "bench:invest", {"amount": D(10000), "quote": "USDT"})
        state = RunnerState()
        print(f"{'week':>5} {'ledger rows':>12} {'check+trade (ms)':>17} {'bot part (ms)':>14}"
              + (f" {'tax step (ms)':>14}" if args.tax else ""))
        url = str(led.url)

        def new_process() -> None:  # what a new process starts without: the in-memory states and reads
            nonlocal led
            if args.cron:
                from taxreport.rebalance import tax_resume, tax_run

                tax_resume.forget()
                tax_run._VERIFIED.clear()
                led.close()
                led = Ledger(url)

        for week in range(args.weeks):
            ex.set_price("BTC", ex.prices["BTC/USDT"] * (D(1) + (D(3) if week % 2 else D(-3)) / 100))
            new_process()
            engine = Executor(led, ex, basket, account="paper:main", sleep=ex.advance, clock=ex.clock,
                              config=ExecConfig(fill_timeout=10, poll_interval=5))
            engine.tax_fx = fx
            t0 = time.perf_counter()
            check_if_due(engine, state, venue="paper", log=lambda _line: None)
            took = time.perf_counter() - t0
            if week % args.every == 0 or week == args.weeks - 1:
                # the bot's own part of a check, as a new process does it: load the book checkpoint and
                # read the rows since, recover, fetch balances/tickers, plan from the basket's holdings
                new_process()
                fresh = Executor(led, ex, basket, account="paper:main", sleep=ex.advance, clock=ex.clock)
                fresh.tax_fx = fx
                t0 = time.perf_counter()
                fresh.recover()
                view = look(fresh)
                planned = plan_for(fresh, view, scheduled=True)
                own = time.perf_counter() - t0
                tax = ""
                if args.tax:  # the tax-aware step of the same check: preview + policies (rebalance/tax_run.py)
                    from taxreport.rebalance.tax_run import adjust_check

                    t0 = time.perf_counter()
                    adjust_check(fresh, view, planned,
                                 replan=lambda b, fresh=fresh, view=view: plan_for(fresh, view, basket=b))
                    tax = f" {(time.perf_counter() - t0) * 1000:>14.1f}"
                print(f"{week + 1:>5} {led.count():>12} {took * 1000:>17.1f} {own * 1000:>14.1f}{tax}")
            ex.advance(7 * 86400)
        led.close()


if __name__ == "__main__":
    sys.exit(main())
