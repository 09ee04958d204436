"""The ledger's read path for a gains computation, stage by stage (issue 14): what one `gains` call spends
before valuation. On an existing ledger (e.g. the one `bench_e2e.py` leaves in ``--work``):

    python benchmarks/bench_read.py /tmp/taxreport-bench/100000/us.sqlite3 --jurisdiction us --year 2022

Stages, each timed on its own (best of ``--runs``), in the order a `gains` call runs them:

* ``verified read``: rows fetched, the hash chain checked, payloads decoded into typed events
  (:meth:`Ledger.verified_events`, a fresh ``Ledger`` each run so nothing is cached);
* ``review check``: :func:`taxreport.review.refuse_blocking` (the year's blocking items);
* ``recorded lots``: :func:`taxreport.rebalance.lot_identification.recorded_selections`;
* ``prepare``: :func:`taxreport.prepare.prepare_events` (reversals, simulated accounts, bases, transfers);
* ``legs``: :func:`taxreport.model.legs.event_legs` of every prepared event (what valuation consumes), with the
  cyclic GC paused as :func:`taxreport.gains.compute_gains_from_events` pauses it.

The last line is the sum: read to legs for one year. Peak RSS of the process is printed too (the events
held, once).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import time
from itertools import chain
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")


def best(runs: int, fn: Callable[[], T]) -> tuple[tuple[float, float], T]:
    """The best wall-clock and the best CPU time of ``runs`` calls (CPU time is what a shared machine's load
    disturbs least), and the last call's result."""
    walls, cpus, out = [], [], None
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return (min(walls), min(cpus)), out  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db", type=Path)
    ap.add_argument("--jurisdiction", "-j", default="us")
    ap.add_argument("--year", "-y", default="2022")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from taxreport.gains import year_cutoff
    from taxreport.jurisdictions.base import get
    from taxreport.ledger.store import Ledger
    from taxreport.model.legs import event_legs
    from taxreport.prepare import prepare_events
    from taxreport.rebalance.lot_identification import recorded_selections
    from taxreport.review import refuse_blocking

    url = f"sqlite:///{args.db}"

    def read() -> list:
        with Ledger(url, readonly=True) as led:
            result, events = led.verified_events()
        assert result.ok, result.problem
        return events

    j = get(args.jurisdiction)
    figures: list[tuple[str, tuple[float, float]]] = []
    seconds, events = best(args.runs, read)
    figures.append(("verified read", seconds))
    with Ledger(url, readonly=True) as led:
        seconds, _ = best(args.runs, lambda: refuse_blocking(led, events, jurisdiction=j.code, year=args.year,
                                                             verify=False))
    figures.append(("review check", seconds))
    cutoff = year_cutoff(j, args.year)
    seconds, _ = best(args.runs, lambda: recorded_selections(events, until=cutoff))
    figures.append(("recorded lots", seconds))
    seconds, prepared = best(args.runs, lambda: prepare_events(events))
    figures.append(("prepare", seconds))
    gc.disable()
    seconds, legs = best(args.runs, lambda: list(chain.from_iterable(map(event_legs, prepared.events))))
    gc.enable()
    figures.append(("legs", seconds))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{len(events):,} events, {len(legs):,} legs; best of {args.runs}; load average "
          f"{os.getloadavg()[0]:.2f}; peak RSS {peak:.0f} MB")
    print(f"  {'stage':<14} {'wall':>8} {'cpu':>8}")
    for name, (wall, cpu) in figures:
        print(f"  {name:<14} {wall:7.3f}s {cpu:7.3f}s")
    print(f"  {'read to legs':<14} {sum(w for _, (w, _) in figures):7.3f}s {sum(c for _, (_, c) in figures):7.3f}s")


if __name__ == "__main__":
    main()
