"""The engine part of a multi-year `gains` (issue 14): preparation, valuation, matching, each disposal's
results and the summaries, for every tax year of a ledger, in one pass (`taxreport.gains.compute_request_years`)
and, for comparison, one year at a time (`compute_request`, what each year cost before). Reading the ledger and
writing JSON are not timed (their own benchmarks: bench_e2e.py).

Usage (a ledger made by `bench_e2e.py`, which leaves its inputs in its --work directory):

    .venv/bin/python benchmarks/bench_engine_years.py /tmp/taxreport-bench/100000/us.sqlite3 us 2022,2023,2024
    .venv/bin/python benchmarks/bench_engine_years.py /tmp/taxreport-bench/100000/uk.sqlite3 uk \\
        2021-22,2022-23,2023-24,2024-25 --runs 3

Prints the wall and CPU seconds of each run (the CPU time is the steadier figure on a shared machine), the
load average, and checks that both ways give the same `gains --format json` document for every year.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ledger", help="a SQLite ledger file")
    ap.add_argument("jurisdiction")
    ap.add_argument("years", help="comma-separated tax years, e.g. 2022,2023,2024")
    ap.add_argument("--method", default=None)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--no-compare", action="store_true", help="time only the one-pass computation")
    args = ap.parse_args()

    from taxreport.cli.common import json_text
    from taxreport.cli.gains_cmd import summary_json
    from taxreport.gains import GainsRequest, compute_request, compute_request_years, load_events
    from taxreport.ledger import Ledger
    from taxreport.prices.store import load_table

    years = args.years.split(",")
    with Ledger(f"sqlite:///{os.path.abspath(args.ledger)}") as ledger:
        events = load_events(ledger)
        table = load_table(ledger)
    request = GainsRequest(args.jurisdiction, years[0], method=args.method)
    print(f"{len(events):,} events, {args.jurisdiction.upper()} {', '.join(years)}")
    for run in range(1, args.runs + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        many = compute_request_years(events, table, request, years)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"  run {run}: every year in one pass  {wall:6.2f} s wall, {cpu:6.2f} s CPU; "
              f"load average {os.getloadavg()[0]:.1f}")
        if args.no_compare:
            continue
        wall, cpu = time.perf_counter(), time.process_time()
        alone = {y: compute_request(events, table, replace(request, year=y)) for y in years}
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"  run {run}: one year at a time      {wall:6.2f} s wall, {cpu:6.2f} s CPU; "
              f"load average {os.getloadavg()[0]:.1f}")
        for y in years:
            one = many[y]
            assert not isinstance(one, Exception), one
            assert json_text(summary_json(one)) == json_text(summary_json(alone[y])), y
        print("  every year's JSON document is the same both ways")


if __name__ == "__main__":
    main()
