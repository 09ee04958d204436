"""Neutral transaction rows: every ledger event as "sent / received / fee" rows, the shape both the
Koinly universal CSV (:mod:`.koinly`) and the CoinTracker CSV (:mod:`.cointracker`) use.

**Built from legs**: what an event moves (which asset, how much, in or out of which account, which fee)
is decided once, by :func:`taxreport.model.legs.legs_of` (the documented fee table); this module only
lays those legs out as rows. From the event itself it takes labels only: its note, its id (TxHash), the
pair as written (``buy BTC with USDT``), an income's type and a withdrawal's stated value.

Sources for the row semantics: Koinly "How to create a custom CSV file with your data"
(https://support.koinly.io/en/articles/9489976-how-to-create-a-custom-csv-file-with-your-data) and
CoinTracker "Convert your transaction history to CoinTracker CSV"
(https://support.cointracker.io/hc/en-us/articles/4413071299729): a trade fills both sides, a deposit or
income only *received*, a withdrawal only *sent*; the fee has its own columns and is **not** part of
the sent amount (it is deducted on top).

Conventions (so that, per currency, ``received - sent - fee`` equals the ledger's balance change, i.e.
the legs' signed sum):

* **Trade** (its ``trade`` legs, one given and one received): sent = the given leg's quantity, received =
  the received leg's quantity, each *before* a fee paid in its own asset (``Leg.own_fee``), which goes to
  the fee columns. A fee in a third asset (e.g. OKB) is the trade's ``fee`` leg: the fee columns. A
  *negative* fee (maker rebate) cannot be written (amounts are positive): in the base or quote it stays
  folded into that side's amount; in a third asset (a ``rebate`` leg) it becomes its own ``fee-refund``
  receive row.
* **Deposit** / **income** / **gift received**: received only. Income carries its value (Net Worth)
  when the source stated it. A deposit's or gift's known cost basis (its leg's consideration and
  original date) is written into the description (neither format has a cost-basis column).
* **Withdrawal**: sent = quantity, its ``fee`` leg in the fee columns; the purpose (own wallet, spend,
  gift, donation, lost) is kept for the tag.
* **Transfer between own accounts**: two rows, a ``transfer-out`` (sent = the moved quantity, the fee
  leg in the fee columns) on the source account and a ``transfer-in`` (received = the moved quantity)
  on the destination account, both with the same TxHash (the transfer's external id, else its ledger
  key) so the tools pair them as one transfer.
* Reversed events and their reversals are left out (by ``legs_of``); audit records, declarations, links
  and basis supplements move nothing and produce no row.
* **Simulated accounts** (exports run with ``--include-simulated``): every row of a simulated account
  has ``simulated=True``; the Koinly description starts with ``SIMULATED:``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterable, Sequence

from itertools import groupby
from operator import attrgetter

from taxreport.errors import InputError
from taxreport.model.events import Event, Income, Side, Trade, Withdrawal
from taxreport.model.legs import Leg, LegKind, legs_of
from taxreport.model.money import decimal_str

ZERO = Decimal(0)


@dataclass(frozen=True)
class TxRow:
    time: datetime
    account: str
    kind: str  # trade | deposit | gift-in | withdrawal | income | transfer-out | transfer-in | fee-refund
    sent_amount: Decimal | None = None
    sent_asset: str | None = None
    received_amount: Decimal | None = None
    received_asset: str | None = None
    fee_amount: Decimal | None = None
    fee_asset: str | None = None
    value: Decimal | None = None  # market value of the row when the source stated it
    value_currency: str | None = None
    income_type: str | None = None  # Income.income_type
    purpose: str | None = None  # Withdrawal.purpose
    txhash: str = ""
    description: str = ""
    event_key: str = ""
    simulated: bool = False  # the account holds simulated money (only with --include-simulated)


def tx_rows(events: Iterable[Event], *, start: datetime | None = None, end: datetime | None = None,
            accounts: Sequence[str] | None = None) -> list[TxRow]:
    """The rows of ``events`` (reversals applied) with ``start <= time < end``, for ``accounts``
    (all when ``None``), sorted by time (stable: ledger order within the same time)."""
    from taxreport.simulated import simulated_accounts

    items = events if isinstance(events, list) else list(events)
    by_key = {e.natural_key: e for e in items}
    simulated = set(simulated_accounts(items))
    wanted = set(accounts) if accounts else None
    out: list[TxRow] = []
    for key, group in groupby(legs_of(items), key=attrgetter("event_key")):
        legs = list(group)
        when = legs[0].time
        if (start is not None and when < start) or (end is not None and when >= end):
            continue
        for row in rows_of(by_key[key], legs, simulated):
            if wanted is None or row.account in wanted:
                out.append(row)
    out.sort(key=lambda r: r.time)
    return out


def event_rows(event: Event) -> list[TxRow]:
    """The rows of one event (no reversal handling here)."""
    from taxreport.model.legs import event_legs

    legs = event_legs(event)
    return rows_of(event, legs, set()) if legs else []


def rows_of(event: Event, legs: list[Leg], simulated: set[str]) -> list[TxRow]:
    """The rows of one event from its legs (see the module docstring for the layout)."""
    roles = {leg.role for leg in legs}
    fee = next((leg for leg in legs if leg.role == "fee"), None)
    if "trade" in roles:
        return _trade_rows(event, legs, simulated)
    if "transfer" in roles:
        out_leg = next(leg for leg in legs if leg.kind is LegKind.MOVE_OUT)
        in_leg = next(leg for leg in legs if leg.kind is LegKind.MOVE_IN)
        txhash = event.external_id or event.natural_key
        return [_row(event, out_leg.account, "transfer-out", simulated, sent=(out_leg.quantity, out_leg.asset),
                     fee=(fee.quantity, fee.asset) if fee else None, txhash=txhash,
                     what=f"transfer to own account {in_leg.account}"),
                _row(event, in_leg.account, "transfer-in", simulated, received=(in_leg.quantity, in_leg.asset),
                     txhash=txhash, what=f"transfer from own account {out_leg.account}")]
    main = legs[0]
    if main.role == "deposit":
        return [_row(event, main.account, "deposit", simulated, received=(main.quantity, main.asset),
                     what="deposit", detail=_basis_detail(main))]
    if main.role == "gift-in":
        return [_row(event, main.account, "gift-in", simulated, received=(main.quantity, main.asset),
                     what="gift received", detail=_basis_detail(main))]
    if main.role == "income":
        assert isinstance(event, Income)
        return [_row(event, main.account, "income", simulated, received=(main.quantity, main.asset),
                     value=_stated(main), income_type=event.income_type, what=f"income ({event.income_type})")]
    if isinstance(event, Withdrawal):  # role withdrawal (own wallet) or the purpose: spend, gift, donation, lost
        value = (event.value, event.value_currency) if event.value is not None else None  # as the source stated
        what = "withdrawal to own wallet" if event.purpose == "own-wallet" else f"withdrawal ({event.purpose})"
        return [_row(event, main.account, "withdrawal", simulated, sent=(main.quantity, main.asset),
                     fee=(fee.quantity, fee.asset) if fee else None, value=value, purpose=event.purpose, what=what)]
    raise TypeError(f"no export rows defined for {type(event).__name__} (legs: {sorted(roles)})")


def _stated(leg: Leg) -> tuple[Decimal, str | None] | None:
    return (leg.value_quantity, leg.value_asset) if leg.value_quantity is not None else None


def _basis_detail(leg: Leg) -> str:
    """`` (cost basis X CCY[, acquired YYYY-MM-DD])`` for a deposit or gift whose leg carries a basis
    (read back by :mod:`taxreport.importers.koinly`), else ``""``."""
    if leg.kind is not LegKind.MOVE_IN or leg.value_quantity is None:
        return ""
    detail = f" (cost basis {decimal_str(leg.value_quantity)} {leg.value_asset}"
    if leg.acquired_at is not None:
        detail += f", acquired {leg.acquired_at:%Y-%m-%d}"
    return detail + ")"


def _row(event: Event, account: str, kind: str, simulated: set[str], *, sent: tuple[Decimal, str] | None = None,
         received: tuple[Decimal, str] | None = None, fee: tuple[Decimal, str] | None = None,
         value: tuple[Decimal, str | None] | None = None, income_type: str | None = None,
         purpose: str | None = None, txhash: str = "", what: str, detail: str = "") -> TxRow:
    note = " ".join(event.note.split())  # one line: CSV rows stay one line each
    is_simulated = account in simulated
    description = ("SIMULATED: " if is_simulated else "") + f"{what} on {account}{detail}" + (f": {note}" if note else "")
    return TxRow(
        time=event.time, account=account, kind=kind,
        sent_amount=sent[0] if sent else None, sent_asset=sent[1] if sent else None,
        received_amount=received[0] if received else None, received_asset=received[1] if received else None,
        fee_amount=fee[0] if fee else None, fee_asset=fee[1] if fee else None,
        value=value[0] if value else None, value_currency=value[1] if value else None,
        income_type=income_type, purpose=purpose, txhash=txhash, description=description,
        event_key=event.natural_key, simulated=is_simulated,
    )


def _trade_rows(event: Event, legs: list[Leg], simulated: set[str]) -> list[TxRow]:
    """One row from the two ``trade`` legs; amounts before a fee in their own asset (a positive own fee
    goes to the fee columns, a rebate stays folded); a third-asset fee leg fills the fee columns, a
    third-asset rebate leg is its own ``fee-refund`` row."""
    given = next(leg for leg in legs if leg.role == "trade" and leg.kind is LegKind.DISPOSE)
    got = next(leg for leg in legs if leg.role == "trade" and leg.kind is LegKind.ACQUIRE)
    sent_q = given.quantity - given.own_fee if given.own_fee > 0 else given.quantity
    got_q = got.quantity + got.own_fee if got.own_fee > 0 else got.quantity
    fee: tuple[Decimal, str] | None = None
    if given.own_fee > 0:
        fee = (given.own_fee, given.asset)
    elif got.own_fee > 0:
        fee = (got.own_fee, got.asset)
    third = next((leg for leg in legs if leg.role == "fee"), None)
    if third is not None:
        fee = (third.quantity, third.asset)
    if sent_q <= 0:
        raise InputError(f"trade {event.natural_key}: the amount given after the rebate is {sent_q}", field="fee")
    assert isinstance(event, Trade)
    what = (f"buy {event.base} with {event.quote}" if event.side is Side.BUY
            else f"sell {event.base} for {event.quote}")  # the pair as the record wrote it
    rows = [_row(event, given.account, "trade", simulated, sent=(sent_q, given.asset), received=(got_q, got.asset),
                 fee=fee, what=what)]
    rebate = next((leg for leg in legs if leg.role == "rebate"), None)
    if rebate is not None:
        rows.append(_row(event, rebate.account, "fee-refund", simulated, received=(rebate.quantity, rebate.asset),
                         what=f"fee rebate of trade {event.external_id or event.natural_key}"))
    return rows


def simulated_note(rows: Sequence[TxRow], fmt: str) -> str:
    """A one-line warning when ``rows`` include simulated accounts (``""`` otherwise). ``fmt`` names the
    export; CoinTracker's CSV has no free-text column, so its rows cannot carry the marker themselves."""
    accounts = sorted({r.account for r in rows if r.simulated})
    if not accounts:
        return ""
    where = {"koinly": "their Description starts with SIMULATED:",
             "cointracker": "the CSV has no column to mark them"}.get(
        fmt, "in the Koinly CSV their Description starts with SIMULATED:, CoinTracker's CSV has no column to mark them")
    return (f"note: {sum(r.simulated for r in rows)} rows are from simulated accounts ({', '.join(accounts)}): not real "
            f"money, do not file them; {where}")
