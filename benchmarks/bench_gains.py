"""Benchmark: N seeded synthetic trades -> full US FIFO (tax year 2024) and UK (2024-25) gains.

    .venv/bin/python benchmarks/bench_gains.py 100000 [--assets 10] [--seed 1] [--jurisdictions us,uk]

Trades: 3-20 assets (``--assets``), USD-quoted, two accounts, 2023-01-01 to 2025-12-31, buys and
sells that never sell more than is held, USD fees. Rates: one synthetic USD->GBP rate per UTC day.
Timed separately: generating the events (not part of the target), then each jurisdiction's full
:func:`taxreport.gains.compute_gains_from_events` (legs, valuation, matching, rules, summary).
Peak memory is the process's maximum RSS (includes the generated events).
Target (issue 3): 1,000,000 trades in under 30 s and under 2 GB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from taxreport.gains import compute_gains_from_events  # noqa: E402
from taxreport.model.events import Trade  # noqa: E402
from taxreport.prices.rates import RateTable  # noqa: E402

START = datetime(2023, 1, 1, tzinfo=timezone.utc)
SPAN = 3 * 365 * 86400


def generate(n: int, assets: int, seed: int) -> list[Trade]:
    rng = random.Random(seed)
    names = [f"A{i:02d}" for i in range(assets)]
    prices = {a: Decimal(rng.randint(1, 50000)) for a in names}
    held: dict[tuple[str, str], Decimal] = {}
    accounts = ("bench:one", "bench:two")
    step = SPAN / n
    out: list[Trade] = []
    for i in range(n):
        t = START + timedelta(seconds=int(i * step))
        a = names[rng.randrange(assets)]
        acct = accounts[rng.randrange(2)]
        # mean-reverting around the asset's base price (a random walk would drift to 0 over 1M steps)
        price = (prices[a] * Decimal(rng.randint(600, 1400)) / Decimal(1000)).quantize(Decimal("0.01"))
        have = held.get((acct, a), Decimal(0))
        if have > 0 and rng.random() < 0.45:
            qty = (have * Decimal(rng.randint(1, 100)) / 100).quantize(Decimal("0.00000001")) or have
            side = "sell"
            held[(acct, a)] = have - qty
        else:
            qty = Decimal(rng.randint(1, 10**6)) / Decimal(10**5)
            side = "buy"
            held[(acct, a)] = have + qty
        fee = (qty * price / 1000).quantize(Decimal("0.01"))
        out.append(Trade(time=t, source="bench", external_id=str(i), account=acct, side=side, base=a, quote="USD",
                         quantity=qty, price=price, fee=fee, fee_asset="USD" if fee else None))
    return out


def usd_gbp_rates() -> RateTable:
    rows = []
    day = START - timedelta(days=1)
    i = 0
    while day < START + timedelta(days=3 * 366):
        rows.append(("USD", "GBP", day, Decimal("0.78") + Decimal(i % 40) / Decimal(1000), "synthetic"))
        day += timedelta(days=1)
        i += 1
    return RateTable.from_rows(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("--assets", type=int, default=10, help="3-20")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jurisdictions", default="us,uk")
    args = ap.parse_args()
    if not 3 <= args.assets <= 20:
        ap.error("--assets must be 3-20")
    t0 = time.perf_counter()
    events = generate(args.n, args.assets, args.seed)
    gen = time.perf_counter() - t0
    print(f"{args.n} trades, {args.assets} assets, seed {args.seed}: generated in {gen:.1f} s (not timed)")
    rates = usd_gbp_rates()
    total = total_cpu = 0.0
    for code in args.jurisdictions.split(","):
        year = {"us": "2024", "de": "2024", "uk": "2024-25", "au": "2024-25", "ca": "2024"}[code]
        options = {"peg": {"USD": "EUR"}} if code == "de" else None  # synthetic: DE needs a EUR value
        t1 = time.perf_counter()
        c1 = time.process_time()
        try:
            s = compute_gains_from_events(events, rates, jurisdiction=code, year=year, options=options)
        except Exception as exc:  # noqa: BLE001 - report and go on with the next jurisdiction
            print(f"  {code} {year}: FAILED {type(exc).__name__}: {str(exc)[:200]}")
            continue
        took = time.perf_counter() - t1
        cpu = time.process_time() - c1
        total += took
        total_cpu += cpu
        print(f"  {code} {year} ({s.method}): {len(s.disposals)} disposal rows, net gain {s.gain:.2f} "
              f"{s.currency} in {took:.2f} s wall, {cpu:.2f} s CPU")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total gains time {total:.2f} s wall, {total_cpu:.2f} s CPU; peak RSS {peak:.0f} MB; "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
