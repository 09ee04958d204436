"""SYNTHETIC OKX exports from a ledger, for demos and tests: the rebalancer's fills written as an
OKX T4 "Trading history" file and its deposits/withdrawals/income as an F2 "Funding history" file,
in the real layouts (``/shared/REFERENCE.md`` §3), optionally with deliberate differences so that a
reconcile shows every kind of finding:

* ``drop``: leave one fill out (reconcile: "only in the ledger");
* ``extra``: add a manual trade the bot never made ("only in OKX");
* ``fee_bump``: charge one fill a higher fee ("mismatched fee").

Nothing here is real OKX data. Bill ids are sequential; OKX order ids are the ``exchange_order_id``
the rebalancer recorded, else a number derived from the client order id.
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Sequence

from taxreport.importers.okx.known import rebalancer_index
from taxreport.model.events import Deposit, Event, Income, Trade, Withdrawal
from taxreport.model.legs import effective_events

T4_HEADER = ("id,Order id,Time,Trade Type,Symbol,Action,Amount,Trading Unit,Filled Price,PnL,Fee,Fee Unit,"
             "Position Change,Position Balance,Balance Change,Balance,Balance Unit").split(",")
F2_HEADER = "id,Time,Type,Amount,Before Balance,After Balance,Symbol".split(",")
FIRST_BILL = 3000000000000000000
FIRST_FUNDING_BILL = 10000000000


@dataclass
class Injections:
    drop: int | None = None  # index (in time order) of the fill to leave out
    extra: Trade | None = None  # a manual trade to add (its order id is made up)
    fee_bump: tuple[int, Decimal] | None = None  # (fill index, extra fee in the fill's fee asset)
    notes: list[str] = field(default_factory=list)


def _num(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def ledger_activity(ledger, account: str) -> tuple[list[Trade], list[Event]]:  # noqa: ANN001
    """The account's effective trades, and its deposits/withdrawals/income, in time order."""
    rows = list(ledger.rows(account=account)) + list(ledger.rows(kinds=["reversal"]))
    events = sorted(effective_events([r.event for r in rows]), key=lambda e: e.time)
    trades = [e for e in events if isinstance(e, Trade)]
    funding = [e for e in events if isinstance(e, (Deposit, Withdrawal, Income))]
    return trades, funding


def okx_order_ids(ledger, account: str) -> dict[str, str]:  # noqa: ANN001
    """client order id -> OKX order id, from the rebalancer's ``order.update`` records."""
    return {cid: oid for oid, cid in rebalancer_index(ledger, account).order_ids.items() if cid}


def _made_up_order_id(text: str) -> str:
    return str(int(hashlib.sha256(text.encode()).hexdigest()[:15], 16))


def write_t4(path: str | Path, trades: Sequence[Trade], order_ids: dict[str, str], *, hours: int = 8,
             transfers_in: Sequence[Event] = ()) -> int:
    """Write ``trades`` as a T4 file whose Time column is UTC+``hours``; returns the rows written.

    ``transfers_in`` (deposits of the funding account) appear as ``Transfer`` rows one second after
    the deposit, as when the user moves deposited coins to the trading account."""
    zone = timezone(timedelta(hours=hours))
    balance: dict[str, Decimal] = defaultdict(Decimal)
    out = []
    bill = FIRST_BILL
    moves = [(e.time + timedelta(seconds=1), e) for e in transfers_in if isinstance(e, Deposit)]
    items = sorted([(t.time, t) for t in trades] + moves, key=lambda p: p[0])
    for when_utc, t in items:
        if isinstance(t, Deposit):
            balance[t.asset] += t.quantity
            out.append([str(bill), "", when_utc.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), "Transfer",
                        t.asset, "Transfer in", _num(t.quantity), t.asset, "0", "0", "0", t.asset, "0", "0",
                        _num(t.quantity), _num(balance[t.asset]), t.asset])
            bill += 1
            continue
        if t.fee and t.fee_asset not in (t.base, t.quote):
            raise ValueError(f"{t.natural_key}: OKX charges spot fees in the traded assets, not {t.fee_asset}")
        oid = order_ids.get(t.order_id or "", None) or _made_up_order_id(t.order_id or t.natural_key)
        when = t.time.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        symbol = f"{t.base}-{t.quote}"
        cost = t.quantity * t.price
        legs = []
        for asset, amount, receives in ((t.base, t.quantity, t.side == "buy"), (t.quote, cost, t.side == "sell")):
            fee = t.fee if t.fee_asset == asset else Decimal(0)
            change = (amount if receives else -amount) - fee
            balance[asset] += change
            legs.append([str(bill), oid, when, "Spot", symbol, "Buy" if receives else "Sell", _num(amount),
                         t.quote if asset == t.base else t.base,  # Trading Unit: wrong on purpose, as OKX's
                         _num(t.price), "0", _num(-fee), asset, "0", "0", _num(change), _num(balance[asset]), asset])
            bill += 1
        out += legs
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(f"UID:000000 (SYNTHETIC),Account Type:Main,Time Zone:UTC{hours:+d}\n")
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(T4_HEADER)
        writer.writerows(reversed(out))  # OKX lists the newest first
    return len(out)


def write_f2(path: str | Path, events: Sequence[Event], *, hours: int = 8) -> int:
    zone = timezone(timedelta(hours=hours))
    balance: dict[str, Decimal] = defaultdict(Decimal)
    out = []
    for i, e in enumerate(events):
        if isinstance(e, Withdrawal):
            kind, amount = "Withdrawal", -(e.quantity + e.fee)
        elif isinstance(e, Income):
            kind, amount = ("Fee rebate" if e.income_type == "rebate" else "Staking Yield"), e.quantity
        else:
            kind, amount = "Deposit", e.quantity
        rows = [(e.time, kind, amount)]
        if isinstance(e, Deposit):  # moved on to the trading account (see write_t4's transfers_in)
            rows.append((e.time + timedelta(seconds=1), "To unified trading account", -e.quantity))
        for j, (when, kind, amount) in enumerate(rows):
            before = balance[e.asset]
            balance[e.asset] += amount
            out.append([str(FIRST_FUNDING_BILL + 2 * i + j), when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                        kind, _num(amount), _num(before), _num(balance[e.asset]), e.asset])
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(f"UID:000000 (SYNTHETIC),Account Type:Main,Time Zone:UTC{hours:+d}\n")
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(F2_HEADER)
        writer.writerows(reversed(out))
    return len(out)


def inject(trades: list[Trade], inj: Injections) -> list[Trade]:
    """The trades with the injected differences applied; ``inj.notes`` says what was changed."""
    out = list(trades)
    if inj.fee_bump is not None:
        i, extra = inj.fee_bump
        t = out[i]
        asset = t.fee_asset or (t.base if t.side == "buy" else t.quote)
        out[i] = replace(t, fee=t.fee + extra, fee_asset=asset)
        inj.notes.append(f"fee of fill {t.external_id} ({t.time:%Y-%m-%d %H:%M:%S}Z {t.side} {t.base}) "
                         f"raised by {_num(extra)} {asset}")
    if inj.drop is not None:
        t = out.pop(inj.drop)
        inj.notes.append(f"fill {t.external_id} ({t.time:%Y-%m-%d %H:%M:%S}Z {t.side} {_num(t.quantity)} "
                         f"{t.base}) left out")
    if inj.extra is not None:
        out.append(inj.extra)
        out.sort(key=lambda t: t.time)
        e = inj.extra
        inj.notes.append(f"manual trade added: {e.time:%Y-%m-%d %H:%M:%S}Z {e.side} {_num(e.quantity)} {e.base} "
                         f"@ {_num(e.price)} {e.quote}")
    return out
