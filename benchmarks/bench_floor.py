#!/usr/bin/env python3
"""The plain-Python floor (issue 14): how far taxreport is from the least work that gives the same answer.

    .venv/bin/python benchmarks/bench_floor.py 100000 [--runs 3] [--year 2023] [--work /tmp/taxreport-floor]

The floor is :func:`floor_gain`: one pass over the canonical trade CSV of the bench history
(:mod:`history`, the same file ``bench_e2e.py`` imports) with ``csv``, ``Decimal`` and a FIFO ``deque`` of
lots per asset, giving the US FIFO proceeds, cost and gain of one calendar year (UTC). It knows only what
this history holds (one account, fiat-quoted spot trades, fees in the fiat), none of what taxreport checks
or records. Against it, taxreport as a user runs it, two CLI calls on a fresh SQLite ledger:
``taxreport import csv`` then ``taxreport gains -j us -y YEAR --timezone UTC --format json``.

Each run times, in alternating order, the floor (its own process, so interpreter start-up counts on both
sides) and taxreport's two calls; reported are the medians, the peak RSS of each process, and the ratio
(target: within 5x). The proceeds, cost and gain must agree to the cent or the script fails.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
from collections import defaultdict, deque
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CENT = Decimal("0.01")


def floor_gain(path: Path, year: str) -> tuple[Decimal, Decimal, Decimal]:
    """US FIFO (proceeds, cost, gain) of the sales of ``year`` in a canonical trade CSV (see the docstring)."""
    lots: dict[str, deque[list[Decimal]]] = defaultdict(deque)  # asset -> [quantity, cost] oldest first
    proceeds = cost = Decimal(0)
    with path.open(newline="") as fh:
        rows = csv.reader(fh)
        next(rows)
        for when, _account, side, base, _quote, qty, price, fee, _fee_asset, _id in rows:
            quantity = Decimal(qty)
            gross = quantity * Decimal(price)
            charge = Decimal(fee) if fee else Decimal(0)
            if side == "buy":
                lots[base].append([quantity, gross + charge])  # the fee is part of the cost
                continue
            matched = Decimal(0)
            queue = lots[base]
            while quantity:
                lot = queue[0]
                take = min(quantity, lot[0])
                share = lot[1] if take == lot[0] else (lot[1] * take / lot[0]).quantize(Decimal("1e-20"))
                matched += share
                lot[0] -= take
                lot[1] -= share
                quantity -= take
                if not lot[0]:
                    queue.popleft()
            if when.startswith(year):
                proceeds += gross - charge  # the fee reduces what was received
                cost += matched
    return tuple(v.quantize(CENT, rounding=ROUND_HALF_UP) for v in (proceeds, cost, proceeds - cost))  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, help="trades in the history")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--year", default="2023")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/taxreport-floor"))
    ap.add_argument("--floor-only", type=Path, help=argparse.SUPPRESS)  # the timed floor process
    args = ap.parse_args()
    if args.floor_only:
        print(json.dumps([str(v) for v in floor_gain(args.floor_only, args.year)]))
        return

    from bench_importers import run as timed_run
    from history import generate, write_taxreport_csv

    args.work.mkdir(parents=True, exist_ok=True)
    history = args.work / f"us-{args.n}-{args.seed}.csv"
    if not history.exists():
        write_taxreport_csv(generate(args.n, args.seed), history, "USD")
    taxreport = Path(sys.executable).with_name("taxreport")
    if not taxreport.exists():
        raise SystemExit(f"{taxreport} not found: run with the project's .venv/bin/python")
    floor_times: list[float] = []
    import_times: list[float] = []
    gains_times: list[float] = []
    peaks = {"floor": 0.0, "import": 0.0, "gains": 0.0}
    floor_answer = mine = None
    for run in range(args.runs):
        order = ("floor", "taxreport") if run % 2 == 0 else ("taxreport", "floor")
        for job in order:
            if job == "floor":
                seconds, peak, out = timed_run([sys.executable, __file__, str(args.n), "--year", args.year,
                                           "--floor-only", str(history)], args.work)
                floor_times.append(seconds)
                peaks["floor"] = max(peaks["floor"], peak)
                floor_answer = [Decimal(v) for v in json.loads(out)]
                continue
            db = args.work / "floor-ledger.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            seconds, peak, _ = timed_run([str(taxreport), "--db", str(db), "import", "csv", str(history)], args.work)
            import_times.append(seconds)
            peaks["import"] = max(peaks["import"], peak)
            seconds, peak, out = timed_run([str(taxreport), "--db", str(db), "gains", "-j", "us", "-y", args.year,
                                       "--timezone", "UTC", "--format", "json"], args.work)
            gains_times.append(seconds)
            peaks["gains"] = max(peaks["gains"], peak)
            summary = json.loads(out)
            mine = [Decimal(summary[k]) for k in ("proceeds", "cost", "gain")]
    assert floor_answer is not None and mine is not None
    floor_s = statistics.median(floor_times)
    import_s, gains_s = statistics.median(import_times), statistics.median(gains_times)
    total = import_s + gains_s
    load = os.getloadavg()
    print(f"{args.n:,} trades, US FIFO {args.year} (UTC); median of {args.runs} alternating run(s); "
          f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"  floor (csv + Decimal + a FIFO deque per asset): {floor_s:.2f} s, {peaks['floor']:.0f} MB")
    print(f"  taxreport import csv:  {import_s:.2f} s, {peaks['import']:.0f} MB")
    print(f"  taxreport gains:       {gains_s:.2f} s, {peaks['gains']:.0f} MB")
    print(f"  taxreport import + gains: {total:.2f} s = {total / floor_s:.1f}x the floor (target: within 5x)")
    print(f"  proceeds / cost / gain: floor {' / '.join(map(str, floor_answer))}; "
          f"taxreport {' / '.join(map(str, mine))}")
    if floor_answer != mine:
        raise SystemExit("the floor and taxreport disagree (see above)")
    print("  equal to the cent")


if __name__ == "__main__":
    main()
