"""A seeded synthetic trading history for the end-to-end benchmarks (issue 14), written in the input
format of each tool compared: taxreport's canonical trade CSV, RP2's ODS input and BittyTax's CSV.

The history: ``n`` spot trades of three assets (BTC, ETH, SOL) against one fiat currency, spread evenly
over 2022-01-01..2024-12-31 (UTC), one account, buys and sells that never sell more than is held, prices
mean-reverting around a base price with two decimals, quantities with 8 decimals, and a fee in the fiat
currency on every trade (a typical exchange CSV). The same seed gives the same trades; the fiat
currency is only a label: USD for the US comparison with RP2, GBP for the UK comparison with BittyTax.

    python benchmarks/history.py 10000 --fiat USD --out /tmp/h.csv
"""

from __future__ import annotations

import argparse
import csv
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterator

START = datetime(2022, 1, 1, tzinfo=timezone.utc)
SPAN_SECONDS = 3 * 365 * 86400 + 86400  # 2022..2024 (2024 is a leap year)
ASSETS = {"BTC": 30000, "ETH": 2000, "SOL": 60}
CENT = Decimal("0.01")
SATOSHI = Decimal("0.00000001")


@dataclass(frozen=True, slots=True)
class Row:
    index: int
    time: datetime
    side: str  # buy / sell
    asset: str
    quantity: Decimal  # 8 decimals
    price: Decimal  # fiat per unit, 2 decimals
    fee: Decimal  # fiat, 2 decimals

    @property
    def gross(self) -> Decimal:
        """Fiat paid (buy, before the fee) or received (sell, before the fee)."""
        return self.quantity * self.price


def generate(n: int, seed: int = 1) -> Iterator[Row]:
    """``n`` trades in time order (one per ``SPAN_SECONDS / n`` seconds; whole seconds)."""
    rng = random.Random(seed)
    names = list(ASSETS)
    held = {a: Decimal(0) for a in names}
    step = SPAN_SECONDS / n
    for i in range(n):
        t = START + timedelta(seconds=int(i * step))
        a = names[rng.randrange(len(names))]
        price = (Decimal(ASSETS[a]) * Decimal(rng.randint(600, 1400)) / Decimal(1000)).quantize(CENT)
        have = held[a]
        if have > 0 and rng.random() < 0.45:
            qty = (have * Decimal(rng.randint(1, 100)) / 100).quantize(SATOSHI)
            if qty <= 0 or qty > have:
                qty = have
            side = "sell"
            held[a] = have - qty
        else:
            qty = (Decimal(rng.randint(1, 10**6)) / Decimal(ASSETS[a]) / 100).quantize(SATOSHI) or SATOSHI
            side = "buy"
            held[a] = have + qty
        fee = (qty * price / 1000).quantize(CENT)
        yield Row(i, t, side, a, qty, price, fee)


def write_taxreport_csv(rows: Iterator[Row], path: Path, fiat: str, account: str = "bench:main") -> int:
    count = 0
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["timestamp", "account", "side", "base", "quote", "quantity", "price", "fee", "fee_asset", "id"])
        for r in rows:
            w.writerow([r.time.strftime("%Y-%m-%dT%H:%M:%SZ"), account, r.side, r.asset, fiat, r.quantity, r.price,
                        r.fee if r.fee else "", fiat if r.fee else "", r.index])
            count += 1
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fiat", default="USD")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    print(write_taxreport_csv(generate(args.n, args.seed), args.out, args.fiat), "rows written to", args.out)


if __name__ == "__main__":
    main()
