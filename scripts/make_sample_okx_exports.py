#!/usr/bin/env python3
"""Write SYNTHETIC OKX exports (T4 trading history + F2 funding history, the real 2025 layouts) from
the trades, deposits and withdrawals a ledger holds for one account, with deliberate differences so
that ``taxreport reconcile okx`` shows every kind of finding:

* one fill left out            -> "only in the ledger" (and a balance divergence)
* one manual trade added       -> "only in OKX"        (made outside the bot)
* one fill's fee raised        -> "mismatched" fee

Usage (after a paper run, e.g. ``taxreport rebalance run --paper``):

    .venv/bin/python scripts/make_sample_okx_exports.py --db "$TAXREPORT_DB" --account okx:main \\
        --out sample_exports/okx

Without a paper run yet, ``--seed`` first writes a small synthetic rebalancer history (orders,
fills, one multi-fill order, a deposit) into the ledger; the committed sample_exports/okx files were
made that way into a throwaway ledger:

    .venv/bin/python scripts/make_sample_okx_exports.py --db /tmp/okx-sample.sqlite3 --seed \\
        --out sample_exports/okx

``--clean`` writes the exports without any difference (reconcile then passes).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from taxreport.config import database_url  # noqa: E402
from taxreport.exchanges.base import Fill, Market, Order  # noqa: E402
from taxreport.ledger import Ledger  # noqa: E402
from taxreport.model.events import Deposit, Trade  # noqa: E402
from taxreport.reconcile.synthetic import (  # noqa: E402
    Injections,
    inject,
    ledger_activity,
    okx_order_ids,
    write_f2,
    write_t4,
)

D = Decimal
START = datetime(2025, 11, 3, 8, 0, tzinfo=timezone.utc)
# (hours after START, symbol, side, [(amount, price), ...] fills, fee rate) — fees in the received asset
SEED_ORDERS = [
    (1, "BTC/USDT", "buy", [("0.0263", "95000"), ("0.0263", "95010")], "0.001"),
    (1, "ETH/USDT", "buy", [("0.909", "3300")], "0.001"),
    (1, "SOL/USDT", "buy", [("13.33", "150")], "0.001"),
    (25, "BTC/USDT", "sell", [("0.0021", "97500")], "0.0008"),
    (25, "SOL/USDT", "buy", [("1.3", "143.5")], "0.0008"),
    (49, "ETH/USDT", "sell", [("0.05", "3420")], "0.0008"),
    (49, "BTC/USDT", "buy", [("0.0008", "96200")], "0.0008"),
    (73, "SOL/USDT", "sell", [("0.9", "156.2")], "0.0008"),
    (73, "ETH/USDT", "buy", [("0.04", "3380")], "0.0008"),
]


def seed(ledger: Ledger, account: str) -> None:
    """A small synthetic rebalancer history in ``account`` (idempotent: natural keys)."""
    from taxreport.rebalance.journal import Journal

    have = ledger.existing_keys(["deposit:okx:seed-deposit-1"])
    if not have:
        ledger.append([Deposit(time=START, source="okx", external_id="seed-deposit-1", account=account,
                               asset="USDT", quantity=D("10000"))], actor="manual:sample", reason="synthetic sample")
    journal = Journal(ledger, "demo", account, "okx")
    for i, (hours, symbol, side, fills, rate) in enumerate(SEED_ORDERS):
        base, quote = symbol.split("/")
        market = Market(symbol, base, quote, D("0.0001"), D("0.1"), None, None, D("0.0008"), D("0.001"))
        cid, oid = f"demo{i:02d}r1l0a0", str(2968046098831663104 + 1000 * i)
        when = START + timedelta(hours=hours, milliseconds=137 * (i + 1))
        total = sum(D(a) for a, _ in fills)
        journal.update(cid, "accepted", Order(oid, cid, symbol, side, "limit", total, D(fills[0][1]), total,
                                              "closed", when))
        out = []
        for j, (amount, price) in enumerate(fills):
            got_base = side == "buy"
            fee = D(amount) * D(rate) if got_base else D(amount) * D(price) * D(rate)
            out.append(Fill(f"{oid[:-3]}{j + 1:03d}7", oid, cid, symbol, side, D(amount), D(price), fee,
                            base if got_base else quote, when + timedelta(milliseconds=40 * j)))
        journal.fills(out, {symbol: market})


def differences(trades: list[Trade]) -> Injections:
    if len(trades) < 3:
        raise SystemExit("need at least 3 trades in the ledger to inject the differences")
    last = trades[-1]
    manual = Trade(time=last.time.replace(microsecond=0) + timedelta(hours=2, minutes=17), source="okx",
                   account=last.account, side="sell", base=last.base, quote=last.quote,
                   quantity=(last.quantity / 4).quantize(D("0.0001")) or D("0.0001"), price=last.price,
                   fee=D("0"), fee_asset=None)
    bumped = 1
    extra_fee = (trades[bumped].fee or trades[bumped].quantity * D("0.001")) / 2
    return Injections(drop=len(trades) // 2, extra=manual, fee_bump=(bumped, extra_fee))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=None, help="ledger URL or path (default: $TAXREPORT_DB / the user ledger)")
    ap.add_argument("--account", default=None, help="ledger account (default: the basket's, else okx:main)")
    ap.add_argument("--basket", default=None, help="basket name or .toml: use its account")
    ap.add_argument("--out", default="sample_exports/okx")
    ap.add_argument("--hours", type=int, default=8, help="time zone of the files, UTC+HOURS (default 8)")
    ap.add_argument("--seed", action="store_true", help="first write a synthetic rebalancer history")
    ap.add_argument("--seed-if-empty", action="store_true",
                    help="--seed only when the account has no trades yet (e.g. no paper run)")
    ap.add_argument("--clean", action="store_true", help="no injected differences")
    args = ap.parse_args(argv)
    if args.basket:
        from taxreport.rebalance.basket import resolve_basket

        args.account = args.account or resolve_basket(args.basket)[0].account
    args.account = args.account or "okx:main"
    ledger = Ledger(database_url(args.db))
    if args.seed or args.seed_if_empty and not ledger_activity(ledger, args.account)[0]:
        print(f"seeding a SYNTHETIC rebalancer history into {args.account}")
        seed(ledger, args.account)
    trades, funding = ledger_activity(ledger, args.account)
    if not trades:
        print(f"no trades in {args.account}: run the paper demo first, or pass --seed", file=sys.stderr)
        return 1
    inj = Injections() if args.clean else differences(trades)
    trades = inject(trades, inj)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n = write_t4(out / "okx-trading-history.csv", trades, okx_order_ids(ledger, args.account), hours=args.hours,
                 transfers_in=funding)
    m = write_f2(out / "okx-funding-history.csv", funding, hours=args.hours)
    notes = "\n".join(f"- {n_}" for n_ in inj.notes) or "- none (--clean)"
    (out / "DIFFERENCES.md").write_text(
        "# Deliberate differences in these SYNTHETIC exports\n\n"
        f"Made by scripts/make_sample_okx_exports.py from the ledger account {args.account}.\n\n{notes}\n")
    print(f"wrote {out}/okx-trading-history.csv ({n} rows), {out}/okx-funding-history.csv ({m} rows)")
    for note in inj.notes:
        print(f"  difference: {note}")
    ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
