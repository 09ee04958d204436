"""The valuation of a first `gains` call (issue 14, round 6): `value_event_list` over the chunks the every-year
pass hands it, replayed with a fresh pricer, CPU seconds (`time.process_time`), best of --runs.

The chunks are captured from a real `gains` call on a copy of the ledger (with a throwaway TAXREPORT_HOME, so the
call computes every year, as a first call does), with `taxreport.gains.value_event_list` wrapped to keep its
arguments; the ledger given is never written. Reading the ledger and the rest of the call are not timed.

Usage (the 1M ledger of `bench_e2e.py 1000000 --seven-only`, or any SQLite ledger with its rates):

    .venv/bin/python benchmarks/bench_valuation.py /tmp/p1m/both.sqlite3 uk 2021-22 --runs 3
    .venv/bin/python benchmarks/bench_valuation.py /tmp/p1m/both.sqlite3 us 2022 --runs 3 -- --timezone UTC

Prints the capture's chunk sizes, each run's CPU seconds, the best, the load average, and the pricer's notes
(the same on every run: the route counts of the valuation).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import sys
import tempfile
import time
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ledger", help="a SQLite ledger file (copied, never written)")
    ap.add_argument("jurisdiction")
    ap.add_argument("year")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("extra", nargs="*", help="more gains flags, after --")
    args = ap.parse_args()

    import taxreport.gains as gains
    from taxreport.cli.main import root
    from taxreport.lots.valuation import SwapStats, value_event_list
    from taxreport.prices.rates import Pricer

    captured: dict[str, Any] = {"chunks": []}

    def capture(items: list, pricer: Pricer, swap_cost: Any, swaps: Any) -> list:
        if "options" not in captured:
            captured["options"] = (pricer.table, pricer.currency, pricer.via, dict(pricer.peg), pricer.lookback_days,
                                   swap_cost)
        captured["chunks"].append(list(items))
        return value_event_list(items, pricer, swap_cost, swaps)

    with tempfile.TemporaryDirectory(prefix="bench-valuation-") as work:
        db = os.path.join(work, "ledger.sqlite3")
        shutil.copyfile(args.ledger, db)
        os.environ["TAXREPORT_HOME"] = os.path.join(work, "home")
        gains.value_event_list = capture  # type: ignore[assignment]
        argv = ["--db", db, "gains", "-j", args.jurisdiction, "-y", args.year, "--format", "json", *args.extra]
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):  # the document is not kept
            try:
                root.main(argv, prog_name="taxreport", standalone_mode=False)
            finally:
                gains.value_event_list = value_event_list  # type: ignore[assignment]
    table, currency, via, peg, lookback, swap_cost = captured["options"]
    chunks = captured["chunks"]
    print(f"captured {len(chunks)} chunk(s): {[len(c) for c in chunks]} events; currency {currency}")
    gc.collect()
    gc.disable()  # as the one pass values them
    best = None
    notes: list[str] = []
    for run in range(args.runs):
        pricer = Pricer(table, currency, via=via, peg=peg, lookback_days=lookback)
        swaps = SwapStats()
        movements: list = []
        start = time.process_time()
        for chunk in chunks:
            movements.extend(value_event_list(chunk, pricer, swap_cost, swaps))
            pricer.state()
        took = time.process_time() - start
        best = took if best is None else min(best, took)
        notes = pricer.notes()
        print(f"run {run + 1}: {took:.3f} s CPU, {len(movements)} movements")
        del movements
    print(f"best of {args.runs}: {best:.3f} s CPU; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for note in notes:
        print(f"  {note}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
