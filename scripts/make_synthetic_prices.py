#!/usr/bin/env python3
"""Write the SEEDED SYNTHETIC daily OHLCV price set used by the backtest demo and tests.

THESE ARE NOT MARKET PRICES. They are a random walk with a common "market" factor, generated from a
fixed seed so that the file is identical on every run (the repo cannot download real data).

    .venv/bin/python scripts/make_synthetic_prices.py            # writes sample_exports/prices/...
    .venv/bin/python scripts/make_synthetic_prices.py --out x.csv --days 30 --seed 7

Model (per day): z_i = 0.6*m + 0.8*e_i with m, e_i ~ N(0, 1) from ``random.Random(seed)``;
return r_i = drift_i + vol_i * z_i, rounded to 6 decimals as text before it enters Decimal
arithmetic, so the output does not depend on float formatting. close = open * (1 + r) on the
market's price tick (BTC 0.1, ETH 0.01, SOL 0.01 USDT, as OKX spot); the next day opens at the previous close;
high/low widen the open-close range by a random fraction of the daily volatility.
"""

from __future__ import annotations

import argparse
import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

# symbol: (start price, daily drift, daily volatility, price tick, volume scale)
ASSETS = {
    "BTC/USDT": (Decimal("20000"), Decimal("0.0012"), Decimal("0.030"), Decimal("0.1"), Decimal("25000")),
    "ETH/USDT": (Decimal("1500"), Decimal("0.0009"), Decimal("0.038"), Decimal("0.01"), Decimal("300000")),
    "SOL/USDT": (Decimal("20"), Decimal("0.0020"), Decimal("0.055"), Decimal("0.01"), Decimal("9000000")),
}
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "sample_exports" / "prices" / "synthetic_ohlcv_1d.csv"


def _d6(x: float) -> Decimal:
    return Decimal(f"{x:.6f}")


def generate(seed: int = 20240101, start: date = date(2023, 1, 1), days: int = 731) -> list[str]:
    rng = random.Random(seed)
    state = {s: a[0].quantize(a[3]) for s, a in ASSETS.items()}
    lines = ["timestamp,symbol,open,high,low,close,volume"]
    for n in range(days):
        day = start + timedelta(days=n)
        market = rng.gauss(0.0, 1.0)
        for symbol, (_, drift, vol, tick, volume_scale) in ASSETS.items():
            z = _d6(0.6 * market + 0.8 * rng.gauss(0.0, 1.0))
            up, down, vfac = _d6(abs(rng.gauss(0.0, 0.5))), _d6(abs(rng.gauss(0.0, 0.5))), _d6(rng.uniform(0.5, 1.5))
            r = drift + vol * z
            r = max(r, Decimal("-0.5"))  # a synthetic day never loses more than half
            o = state[symbol]
            c = max((o * (1 + r)).quantize(tick, rounding=ROUND_HALF_UP), tick)
            h = (max(o, c) * (1 + vol * up)).quantize(tick, rounding=ROUND_HALF_UP)
            lo = max((min(o, c) * (1 - vol * down)).quantize(tick, rounding=ROUND_HALF_UP), tick)
            v = (volume_scale * vfac).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
            lines.append(f"{day.isoformat()}T00:00:00Z,{symbol},{o},{h},{lo},{c},{v}")
            state[symbol] = c
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=20240101)
    ap.add_argument("--start", type=date.fromisoformat, default=date(2023, 1, 1))
    ap.add_argument("--days", type=int, default=731)
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(generate(args.seed, args.start, args.days)) + "\n", encoding="utf-8")
    print(f"wrote {args.out} (SYNTHETIC, seed {args.seed}, {args.days} days x {len(ASSETS)} symbols)")


if __name__ == "__main__":
    main()
