"""Neutral transaction rows: every ledger event as "sent / received / fee" rows, the shape both the
Koinly universal CSV (:mod:`.koinly`) and the CoinTracker CSV (:mod:`.cointracker`) use.

Sources for the row semantics: Koinly "How to create a custom CSV file with your data"
(https://support.koinly.io/en/articles/9489976-how-to-create-a-custom-csv-file-with-your-data) and
CoinTracker "Convert your transaction history to CoinTracker CSV"
(https://support.cointracker.io/hc/en-us/articles/4413071299729): a trade fills both sides, a deposit or
income only *received*, a withdrawal only *sent*; the fee has its own columns and is **not** part of
the sent amount (it is deducted on top).

Conventions (so that, per currency, ``received - sent - fee`` equals the ledger's balance change):

* **Trade**: sent = what was given (the quote ``quantity * price`` for a buy, the base ``quantity``
  for a sell), received = what was got; a positive fee in any asset (base, quote or a third asset
  such as OKB) is in the fee columns. A *negative* fee (maker rebate) in the base or quote is folded
  into that side's amount; a rebate in a third asset becomes its own ``fee-refund`` receive row.
* **Deposit** / **income**: received only. Income carries its value (Net Worth) when the source
  stated it. A deposit's known cost basis is written into the description (neither format has a
  cost-basis column for deposits).
* **Withdrawal**: sent = quantity, fee (same asset) in the fee columns; the purpose (own wallet,
  spend, gift, donation, lost) is kept for the tag.
* **Transfer between own accounts**: two rows, a ``transfer-out`` (sent = quantity - fee, fee in the
  fee columns) on the source account and a ``transfer-in`` (received = quantity - fee) on the
  destination account, both with the same TxHash (the transfer's external id, else its ledger key)
  so the tools pair them as one transfer.
* Reversed events and their reversals are left out (:func:`taxreport.model.legs.effective_events`);
  audit records (rebalance plans, order states) move no money and produce no row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterable, Sequence

from taxreport.errors import InputError
from taxreport.model.events import (
    Deposit,
    Event,
    GiftIn,
    Income,
    Record,
    Side,
    Trade,
    Transfer,
    Withdrawal,
)
from taxreport.model.legs import effective_events
from taxreport.model.money import decimal_str

ZERO = Decimal(0)


@dataclass(frozen=True)
class TxRow:
    time: datetime
    account: str
    kind: str  # trade | deposit | withdrawal | income | transfer-out | transfer-in | fee-refund
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


def tx_rows(events: Iterable[Event], *, start: datetime | None = None, end: datetime | None = None,
            accounts: Sequence[str] | None = None) -> list[TxRow]:
    """The rows of ``events`` (reversals applied) with ``start <= time < end``, for ``accounts``
    (all when ``None``), sorted by time (stable: ledger order within the same time)."""
    wanted = set(accounts) if accounts else None
    out: list[TxRow] = []
    for event in effective_events(events):
        if start is not None and event.time < start:
            continue
        if end is not None and event.time >= end:
            continue
        for row in event_rows(event):
            if wanted is None or row.account in wanted:
                out.append(row)
    out.sort(key=lambda r: r.time)
    return out


def event_rows(event: Event) -> list[TxRow]:
    """The rows of one event (no reversal handling here)."""
    if isinstance(event, Trade):
        return _trade_rows(event)
    if isinstance(event, Transfer):
        return _transfer_rows(event)
    if isinstance(event, Deposit):
        return [_row(event, event.account, "deposit", received=(event.quantity, event.asset),
                     what="deposit", detail=_basis_detail(event))]
    if isinstance(event, Withdrawal):
        fee = (event.fee, event.asset) if event.fee else None
        value = (event.value, event.value_currency) if event.value is not None else None
        what = "withdrawal to own wallet" if event.purpose == "own-wallet" else f"withdrawal ({event.purpose})"
        return [_row(event, event.account, "withdrawal", sent=(event.quantity, event.asset), fee=fee,
                     value=value, purpose=event.purpose, what=what)]
    if isinstance(event, Income):
        value = (event.value, event.value_currency) if event.value is not None else None
        return [_row(event, event.account, "income", received=(event.quantity, event.asset), value=value,
                     income_type=event.income_type, what=f"income ({event.income_type})")]
    if isinstance(event, Record):
        return []
    # --- events helper (issue #12): a gift received is a receive row; declarations, links and basis
    # supplements move no money (a supplied basis is applied to its deposit before rows are made) ---
    from taxreport.model.events import AccountDeclaration, BasisSupplement, TransferLink

    if isinstance(event, GiftIn):
        return [_row(event, event.account, "deposit", received=(event.quantity, event.asset),
                     what="gift received", detail=_basis_detail(event))]
    if isinstance(event, (AccountDeclaration, BasisSupplement, TransferLink)):
        return []
    # --- end events helper ---
    raise TypeError(f"no export rows defined for {type(event).__name__}")


def _basis_detail(event: Deposit | GiftIn) -> str:
    """`` (cost basis X CCY[, acquired YYYY-MM-DD])`` for a deposit or gift with a known basis (read
    back by :mod:`taxreport.importers.koinly`), else ``""``."""
    if event.cost is None:
        return ""
    detail = f" (cost basis {decimal_str(event.cost)} {event.cost_currency}"
    if event.acquired_at is not None:
        detail += f", acquired {event.acquired_at:%Y-%m-%d}"
    return detail + ")"


def _row(event: Event, account: str, kind: str, *, sent: tuple[Decimal, str] | None = None,
         received: tuple[Decimal, str] | None = None, fee: tuple[Decimal, str] | None = None,
         value: tuple[Decimal, str | None] | None = None, income_type: str | None = None,
         purpose: str | None = None, txhash: str = "", what: str, detail: str = "") -> TxRow:
    note = " ".join(event.note.split())  # one line: CSV rows stay one line each
    description = f"{what} on {account}{detail}" + (f": {note}" if note else "")
    return TxRow(
        time=event.time, account=account, kind=kind,
        sent_amount=sent[0] if sent else None, sent_asset=sent[1] if sent else None,
        received_amount=received[0] if received else None, received_asset=received[1] if received else None,
        fee_amount=fee[0] if fee else None, fee_asset=fee[1] if fee else None,
        value=value[0] if value else None, value_currency=value[1] if value else None,
        income_type=income_type, purpose=purpose, txhash=txhash, description=description,
        event_key=event.natural_key,
    )


def _trade_rows(t: Trade) -> list[TxRow]:
    gross = t.quantity * t.price
    if t.side is Side.BUY:
        given_q, given_a, got_q, got_a = gross, t.quote, t.quantity, t.base
        what = f"buy {t.base} with {t.quote}"
    else:
        given_q, given_a, got_q, got_a = t.quantity, t.base, gross, t.quote
        what = f"sell {t.base} for {t.quote}"
    fee: tuple[Decimal, str] | None = None
    extra: list[TxRow] = []
    if t.fee > 0:
        assert t.fee_asset is not None
        fee = (t.fee, t.fee_asset)
    elif t.fee < 0:
        rebate = -t.fee
        if t.fee_asset == given_a:
            given_q -= rebate
        elif t.fee_asset == got_a:
            got_q += rebate
        else:
            assert t.fee_asset is not None
            extra.append(_row(t, t.account, "fee-refund", received=(rebate, t.fee_asset),
                              what=f"fee rebate of trade {t.external_id or t.natural_key}"))
    if given_q <= 0:
        raise InputError(f"trade {t.natural_key}: the amount given after the rebate is {given_q}",
                         field="fee")
    main = _row(t, t.account, "trade", sent=(given_q, given_a), received=(got_q, got_a), fee=fee, what=what)
    return [main, *extra]


def _transfer_rows(t: Transfer) -> list[TxRow]:
    moved = t.quantity - t.fee
    txhash = t.external_id or t.natural_key
    fee = (t.fee, t.asset) if t.fee else None
    out = _row(t, t.from_account, "transfer-out", sent=(moved, t.asset), fee=fee, txhash=txhash,
               what=f"transfer to own account {t.to_account}")
    into = _row(t, t.to_account, "transfer-in", received=(moved, t.asset), txhash=txhash,
                what=f"transfer from own account {t.from_account}")
    return [out, into]

